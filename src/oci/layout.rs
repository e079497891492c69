//! OCI image layout directories (`oci:DIR:TAG` in skopeo's terms).
//!
//! A layout is built complete in a temporary sibling directory and then renamed over the target,
//! so `DIR` always holds either the previous layout or the whole new one: a failed or killed run
//! leaves at most a hidden `.NAME.tmp-*` sibling, never a half layout under the real name.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::image::{Descriptor, Index, check_ref_name};
use super::interface::{Image, Location};
use super::stale::{OWNER_FILE, claimed_tempdir, sweep_stale, work_prefix};
use super::{ANNOTATION_REF_NAME, HashWriter, MEDIA_TYPE_INDEX, check_blob_file, digest_hex, digest_of};

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Writes an OCI layout at `dir` holding `images`, each under its tags (an `index.json` entry per
/// tag, annotated `org.opencontainers.image.ref.name`; an image with no tags gets one entry
/// without a name). Replaces an existing layout at `dir`; refuses to replace anything else.
pub fn write_layout<I: Image + ?Sized>(dir: &Path, images: &[(&I, Vec<String>)]) -> Result<()> {
    let mut refs = Vec::new();
    let mut staged = Staging::new(dir)?;
    for (image, tags) in images {
        staged.add_image(*image)?;
        let desc = image.manifest_descriptor().context("an image without a manifest cannot go into a layout")?;
        if tags.is_empty() {
            refs.push(desc.clone());
        }
        for tag in tags {
            refs.push(named(desc.clone(), tag)?);
        }
    }
    staged.commit(refs)
}

/// Writes an OCI layout at `dir` whose `tags` name one image index over `images` (one image per
/// platform): what a multi-arch `oci:DIR:TAG` looks like.
pub fn write_multiarch_layout<I: Image + ?Sized>(dir: &Path, images: &[&I], tags: &[String]) -> Result<String> {
    let (json, digest) = super::image::index(images)?;
    let mut staged = Staging::new(dir)?;
    for image in images {
        staged.add_image(*image)?;
    }
    staged.add_bytes(&digest, &json)?;
    let desc = Descriptor {
        media_type: MEDIA_TYPE_INDEX.to_string(),
        digest: digest.clone(),
        size: json.len() as u64,
        platform: None,
        annotations: BTreeMap::new(),
    };
    let refs = if tags.is_empty() {
        vec![desc]
    } else {
        tags.iter().map(|t| named(desc.clone(), t)).collect::<Result<_>>()?
    };
    staged.commit(refs)?;
    Ok(digest)
}

fn named(mut desc: Descriptor, tag: &str) -> Result<Descriptor> {
    check_ref_name(tag)?;
    desc.annotations.insert(ANNOTATION_REF_NAME.to_string(), tag.to_string());
    Ok(desc)
}

/// A layout under construction in a temporary sibling of its final place.
struct Staging {
    dir: PathBuf,
    tmp: tempfile::TempDir,
    /// The lock that keeps other runs' [`sweep_stale`] away from `tmp`.
    claim: fs::File,
}

impl Staging {
    fn new(dir: &Path) -> Result<Staging> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no usable directory name", dir.display()))?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        check_replaceable(dir)?;
        let (tmp, claim) = claimed_tempdir(parent, &format!("{name}.tmp"))?;
        sweep_stale(parent);
        fs::create_dir_all(tmp.path().join("blobs/sha256"))
            .with_context(|| format!("cannot create {}", tmp.path().display()))?;
        Ok(Staging { dir: dir.to_path_buf(), tmp, claim })
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.tmp.path().join("blobs/sha256").join(digest_hex(digest)?))
    }

    fn add_bytes(&mut self, digest: &str, data: &[u8]) -> Result<()> {
        if digest_of(data) != digest {
            bail!("blob {digest} does not match its content");
        }
        let path = self.blob_path(digest)?;
        fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Hard-links the layer (copying across file systems), after checking that the file still
    /// is the blob its name and digest say.
    fn add_file(&mut self, digest: &str, size: u64, src: &Path) -> Result<()> {
        let path = self.blob_path(digest)?;
        if path.exists() {
            return Ok(());
        }
        check_blob_file(src, digest, size)?;
        if fs::hard_link(src, &path).is_err() {
            fs::copy(src, &path).with_context(|| format!("cannot copy {} to {}", src.display(), path.display()))?;
        }
        Ok(())
    }

    /// Streams a blob from `src` into the layout, checking it against `digest` and `size`.
    fn add_stream(&mut self, digest: &str, size: u64, src: &mut dyn std::io::Read) -> Result<()> {
        let path = self.blob_path(digest)?;
        if path.exists() {
            return Ok(());
        }
        let file = fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = HashWriter::new(std::io::BufWriter::new(file));
        std::io::copy(src, &mut w).with_context(|| format!("cannot write {}", path.display()))?;
        let (mut inner, actual, n) = w.finish();
        std::io::Write::flush(&mut inner).with_context(|| format!("cannot write {}", path.display()))?;
        if actual != digest || n != size {
            bail!("blob {digest} ({size} bytes) reads as {actual} ({n} bytes)");
        }
        Ok(())
    }

    fn add_image<I: Image + ?Sized>(&mut self, image: &I) -> Result<()> {
        for l in image.layers() {
            let digest = l.digest.as_deref().with_context(|| format!("layer {} has no blob digest", l.diff_id))?;
            match &l.location {
                Location::File(path) => self.add_file(digest, l.size, path)?,
                Location::Member { .. } => self.add_stream(digest, l.size, &mut l.blob()?)?,
            }
        }
        let (manifest_json, manifest_digest) = image.manifest().context("the image has no manifest")?;
        self.add_bytes(image.config_digest(), image.config_json())?;
        self.add_bytes(manifest_digest, manifest_json)
    }

    fn commit(self, refs: Vec<Descriptor>) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for r in &refs {
            if let Some(name) = r.annotations.get(ANNOTATION_REF_NAME)
                && !seen.insert(name)
            {
                bail!("tag {name:?} given to more than one image in {}", self.dir.display());
            }
        }
        let index = serde_json::to_vec(&Index::new(refs)).context("cannot serialize index.json")?;
        let root = self.tmp.path();
        fs::write(root.join("index.json"), index).with_context(|| format!("cannot write {}", root.display()))?;
        fs::write(root.join("oci-layout"), OCI_LAYOUT).with_context(|| format!("cannot write {}", root.display()))?;
        // The owner file must not ship in the layout; the lock stays held (on the unlinked file)
        // until the rename is done, and a sweeper treats an ownerless young directory as live.
        fs::remove_file(root.join(OWNER_FILE)).with_context(|| format!("cannot finish {}", root.display()))?;
        let done = replace_dir(self.tmp, &self.dir);
        drop(self.claim);
        done
    }
}

/// A path we may replace: nothing, an empty directory, or an OCI layout. Anything else is a
/// user's data that a mistyped `--output` must not destroy.
fn check_replaceable(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", dir.display())),
        Ok(m) if !m.is_dir() => bail!("{} exists and is not a directory; not replacing it", dir.display()),
        Ok(_) => {
            let empty = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?.next().is_none();
            if empty || dir.join("oci-layout").is_file() {
                Ok(())
            } else {
                bail!("{} is a non-empty directory that is not an OCI layout; not replacing it", dir.display())
            }
        }
    }
}

/// Moves the finished `tmp` to `dir`. An existing `dir` is first renamed aside (to a fresh hidden
/// sibling) and deleted only after the new one is in place; if that second rename fails the old
/// one is put back.
fn replace_dir(tmp: tempfile::TempDir, dir: &Path) -> Result<()> {
    check_replaceable(dir)?;
    if fs::symlink_metadata(dir).is_ok() {
        let parent = tmp.path().parent().unwrap_or(Path::new("."));
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("layout");
        let old = tempfile::Builder::new()
            .prefix(&work_prefix(&format!("{name}.old")))
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a temporary directory in {}", parent.display()))?
            .keep();
        fs::rename(dir, &old).with_context(|| format!("cannot move the old {} aside", dir.display()))?;
        if let Err(e) = fs::rename(tmp.path(), dir) {
            let _ = fs::rename(&old, dir);
            return Err(e).with_context(|| format!("cannot rename the new layout to {}", dir.display()));
        }
        let _ = tmp.keep();
        fs::remove_dir_all(&old).with_context(|| format!("cannot remove the old layout at {}", old.display()))?;
    } else {
        fs::rename(tmp.path(), dir).with_context(|| format!("cannot rename the new layout to {}", dir.display()))?;
        let _ = tmp.keep();
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oci::{BuiltImage, ImageConfig, assemble, write_layer};
    use crate::rootfs::{Entry, Tree};

    /// A one-layer image for `linux/ARCH` (other modules' tests use it too).
    pub(crate) fn image(dir: &Path, arch: &str) -> BuiltImage {
        let mut t = Tree::new();
        t.insert("etc/hostname", Entry::file(arch.as_bytes().to_vec(), 0o644)).unwrap();
        let layer = write_layer(&t, 1_700_000_000, dir).unwrap();
        let cfg = ImageConfig {
            platform: crate::platform::Platform::parse(&format!("linux/{arch}")).unwrap(),
            user: "65532".into(),
            env: vec![],
            entrypoint: vec![],
            cmd: vec!["/x".into()],
            working_dir: String::new(),
            labels: BTreeMap::new(),
            created: 1_700_000_000,
            history: vec![],
        };
        assemble(cfg, vec![layer]).unwrap()
    }

    #[test]
    fn layout_is_complete_and_replaced_atomically() {
        let tmp = tempfile::tempdir().unwrap();
        let img = image(&tmp.path().join("layers"), "amd64");
        let out = tmp.path().join("out");
        write_layout(&out, &[(&img, vec!["latest".into(), "20231114".into()])]).unwrap();
        let index: Index = serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
        assert_eq!(index.manifests.len(), 2);
        assert_eq!(index.manifests[0].digest, img.manifest_digest);
        assert_eq!(index.manifests[0].annotations[ANNOTATION_REF_NAME], "latest");
        for d in [&img.manifest_digest, &img.config_digest, &img.layers[0].digest] {
            let p = out.join("blobs/sha256").join(&d[7..]);
            assert_eq!(digest_of(&fs::read(&p).unwrap()), *d);
        }
        // Replacing keeps no stale tags and leaves no temporary siblings.
        write_layout(&out, &[(&img, vec!["v2".into()])]).unwrap();
        let index: Index = serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
        assert_eq!(index.manifests.len(), 1);
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn refuses_to_clobber_other_data_and_fails_closed() {
        let tmp = tempfile::tempdir().unwrap();
        let img = image(&tmp.path().join("layers"), "amd64");
        let precious = tmp.path().join("precious");
        fs::create_dir(&precious).unwrap();
        fs::write(precious.join("thesis.tex"), b"x").unwrap();
        let err = write_layout(&precious, &[(&img, vec!["latest".into()])]).unwrap_err();
        assert!(err.to_string().contains("not an OCI layout"), "{err}");
        assert!(precious.join("thesis.tex").exists());

        // A layer blob that changed on disk fails the write and leaves the old layout intact.
        let out = tmp.path().join("out");
        write_layout(&out, &[(&img, vec!["latest".into()])]).unwrap();
        let before = fs::read(out.join("index.json")).unwrap();
        let mut broken = img.clone();
        let bad = tmp.path().join("bad.tar.gz");
        fs::write(&bad, b"not the layer").unwrap();
        broken.layers[0].path = bad;
        broken.layers[0].digest = digest_of(b"something else");
        assert!(write_layout(&out, &[(&broken, vec!["latest".into()])]).is_err());
        assert_eq!(fs::read(out.join("index.json")).unwrap(), before);
        assert!(write_layout(&out, &[(&img, vec!["bad tag".into()])]).is_err());
        assert!(write_layout(&out, &[(&img, vec!["a".into()]), (&img, vec!["a".into()])]).is_err());
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 4, "no temporary leftovers: {names:?}");
    }

    #[test]
    fn a_layout_whose_tags_name_one_image_opens_without_a_tag() {
        let tmp = tempfile::tempdir().unwrap();
        let amd = image(&tmp.path().join("layers"), "amd64");
        let arm = image(&tmp.path().join("layers"), "arm64");
        let one = tmp.path().join("one");
        write_layout(&one, &[(&amd, vec!["latest".into(), "20261127".into()])]).unwrap();
        let view = crate::oci::read::open(&format!("oci:{}", one.display())).unwrap();
        assert_eq!(view.config_digest, amd.config_digest);
        let two = tmp.path().join("two");
        write_layout(&two, &[(&amd, vec!["a".into()]), (&arm, vec!["b".into()])]).unwrap();
        let err = format!("{:#}", crate::oci::read::open(&format!("oci:{}", two.display())).unwrap_err());
        assert!(err.contains("holds 2 different images; name one with a tag"), "{err}");
    }

    #[test]
    fn multiarch_layout_points_a_tag_at_an_index() {
        let tmp = tempfile::tempdir().unwrap();
        let amd = image(&tmp.path().join("layers"), "amd64");
        let arm = image(&tmp.path().join("layers"), "arm64");
        let out = tmp.path().join("multi");
        let digest = write_multiarch_layout(&out, &[&amd, &arm], &["latest".into()]).unwrap();
        let index: Index = serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
        assert_eq!(index.manifests[0].digest, digest);
        assert_eq!(index.manifests[0].media_type, MEDIA_TYPE_INDEX);
        let nested: Index =
            serde_json::from_slice(&fs::read(out.join("blobs/sha256").join(&digest[7..])).unwrap()).unwrap();
        assert_eq!(nested.manifests.len(), 2);
        assert!(out.join("blobs/sha256").join(&arm.layers[0].digest[7..]).exists());
    }

    /// The sinks take any image: a multi-arch layout read back (every platform) and written out
    /// again as a layout and as docker-archives keeps every digest, with nothing converted by hand.
    #[test]
    fn an_image_read_back_is_written_again_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let amd = image(&tmp.path().join("layers"), "amd64");
        let arm = image(&tmp.path().join("layers"), "arm64");
        let first = tmp.path().join("first");
        let index = write_multiarch_layout(&first, &[&amd, &arm], &["latest".into()]).unwrap();
        let read = crate::oci::source::open_layout_all(&first, Some("latest")).unwrap();
        let views: Vec<&dyn Image> = read.iter().map(|v| v as &dyn Image).collect();
        let again = tmp.path().join("again");
        assert_eq!(write_multiarch_layout(&again, &views, &["latest".into()]).unwrap(), index);
        for (view, built) in read.iter().zip([&amd, &arm]) {
            assert_eq!(view.platform(), built.platform());
            let file = tmp.path().join(format!("{}.tar", built.config.platform.arch));
            crate::oci::archive::write_docker_archive(&file, view, &["x:latest".into()]).unwrap();
            let back = crate::oci::read::open_docker_archive(&file).unwrap();
            assert_eq!(back.config_digest, built.config_digest);
            assert_eq!(back.created(), built.config.created, "the created time survives");
            back.verify().unwrap();
        }
    }
}
