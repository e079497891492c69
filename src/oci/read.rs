//! Reading images back: an OCI layout or a docker-archive becomes one [`ImageView`] (config,
//! manifest when there is one, layers with their media type), an [`Image`] like the built one;
//! and a layer becomes its tar entries.
//!
//! This is the source side of the `oci` module ([`super::source`] puts every transport behind
//! it); callers never need to know which transport an image came from. Everything read is checked: config and
//! manifest against their digests on open, layers on [`ImageView::verify`], and tar entry names
//! through the same normalisation the rootfs uses, so a hostile archive cannot name `..`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::archive::{ArchiveManifest, parse_manifest};
use super::image::{ConfigFile, Descriptor, Index, Manifest};
use super::interface::{Image, Layer, Location};
use super::reference::ImageRef;
use super::{
    ANNOTATION_REF_NAME, HashReader, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_INDEX, MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST, digest_hex, digest_of,
};
use crate::limits::{
    Bounded, Counting, EntryCounter, MAX_JSON_BYTES, check_path_len, open_regular, read_regular_capped,
};
use crate::platform::Platform;
use crate::rootfs::{Entry, Node, Tree, tree::normalize};

/// An image read from any transport: an OCI layout's manifest, a docker-archive's first image,
/// an engine export or a registry pull. Implements [`Image`].
#[derive(Clone, Debug)]
pub struct ImageView {
    pub config_json: Vec<u8>,
    pub config_digest: String,
    pub config: ConfigFile,
    /// The manifest (bytes, parsed, digest), if the source has one (an OCI layout does; a
    /// docker-archive has only `manifest.json`).
    pub manifest: Option<(Vec<u8>, Manifest, String)>,
    /// `RepoTags` of a docker-archive, or the tag an OCI layout was opened with.
    pub tags: Vec<String>,
    pub layers: Vec<Layer>,
    /// The platform the index says this manifest is for (`None` for a lone image).
    pub declared: Option<Platform>,
}

impl Image for ImageView {
    fn config_json(&self) -> &[u8] {
        &self.config_json
    }
    fn config_digest(&self) -> &str {
        &self.config_digest
    }
    fn config_file(&self) -> &ConfigFile {
        &self.config
    }
    fn manifest(&self) -> Option<(&[u8], &str)> {
        self.manifest.as_ref().map(|(json, _, digest)| (json.as_slice(), digest.as_str()))
    }
    fn layers(&self) -> Vec<Layer> {
        self.layers.clone()
    }
    /// The manifest keeps the media type it was stored with (a registry's Docker manifest is no
    /// OCI one), and the platform its index declared.
    fn manifest_descriptor(&self) -> Option<Descriptor> {
        let (json, manifest, digest) = self.manifest.as_ref()?;
        Some(Descriptor {
            media_type: manifest.media_type.clone().unwrap_or_else(|| MEDIA_TYPE_MANIFEST.to_string()),
            digest: digest.clone(),
            size: json.len() as u64,
            platform: Some((&self.declared.clone().unwrap_or_else(|| self.platform())).into()),
            annotations: Default::default(),
        })
    }
}

/// Opens a reference to a local image: `oci:DIR[:TAG]` or `docker-archive:FILE` (tests; the
/// commands open every transport through [`super::source::open`]).
pub fn open(reference: &str) -> Result<ImageView> {
    match ImageRef::parse(reference).map_err(crate::exit::usage)? {
        ImageRef::Oci { dir, tag } => open_layout(&dir, tag.as_deref()),
        ImageRef::DockerArchive { file, .. } => open_docker_archive(&file),
        other => bail!(
            "unsupported image reference {reference:?} here: {} images open through source::open",
            other.transport()
        ),
    }
}

pub(crate) fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>> {
    let path = dir.join("blobs/sha256").join(digest_hex(digest)?);
    let data = read_regular_capped(&path, MAX_JSON_BYTES, &format!("blob {digest} at"))?;
    if digest_of(&data) != digest {
        bail!("blob {} does not match its digest {digest}", path.display());
    }
    Ok(data)
}

/// The descriptor `tag` names in the OCI layout `dir` (or its only image when `tag` is none: a
/// layout whose tags all name the same digest, as `latest` and the date tag of a lucid build do,
/// holds one image), before any index is expanded.
fn layout_entry(dir: &Path, tag: Option<&str>) -> Result<Descriptor> {
    let index_path = dir.join("index.json");
    let data = read_regular_capped(&index_path, MAX_JSON_BYTES, "the index")?;
    let index: Index = serde_json::from_slice(&data).with_context(|| format!("malformed {}", index_path.display()))?;
    let chosen: Vec<&Descriptor> = match tag {
        Some(t) => {
            index.manifests.iter().filter(|d| d.annotations.get(ANNOTATION_REF_NAME).is_some_and(|n| n == t)).collect()
        }
        None => index.manifests.iter().collect(),
    };
    match chosen.as_slice() {
        [] => bail!("{} has no image tagged {:?}", dir.display(), tag.unwrap_or("")),
        [first, rest @ ..] if rest.iter().all(|d| d.digest == first.digest) => Ok((*first).clone()),
        _ => {
            let digests: std::collections::BTreeSet<&str> = chosen.iter().map(|d| d.digest.as_str()).collect();
            bail!("{} holds {} different images; name one with a tag", dir.display(), digests.len())
        }
    }
}

/// How deep image indexes may nest before we call the layout malformed.
const MAX_INDEX_DEPTH: usize = 4;

/// Opens the image tagged `tag` in the OCI layout `dir` (or its only image when `tag` is none).
/// A tag naming an index resolves to the host's platform, else the index's first image.
pub fn open_layout(dir: &Path, tag: Option<&str>) -> Result<ImageView> {
    let mut desc = layout_entry(dir, tag)?;
    let host = Platform::host();
    for _ in 0..MAX_INDEX_DEPTH {
        if desc.media_type != MEDIA_TYPE_INDEX {
            break;
        }
        let nested: Index = serde_json::from_slice(&read_blob(dir, &desc.digest)?)
            .with_context(|| format!("malformed image index {}", desc.digest))?;
        let pick = nested
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.architecture == host.arch))
            .or_else(|| nested.manifests.first())
            .with_context(|| format!("image index {} is empty", desc.digest))?;
        desc = pick.clone();
    }
    open_layout_manifest(dir, &desc, tag)
}

/// Every image manifest that `tag` reaches in the OCI layout `dir`: the image itself, or every
/// platform of a (nested) index, each with the platform its index declares. Entries that are not
/// runnable images (attestations: platform `unknown/unknown`) are left out.
pub fn layout_manifests(dir: &Path, tag: Option<&str>) -> Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    let mut todo = vec![(layout_entry(dir, tag)?, 0usize)];
    while let Some((desc, depth)) = todo.pop() {
        if desc.media_type != MEDIA_TYPE_INDEX && desc.media_type != MEDIA_TYPE_DOCKER_LIST {
            if desc.platform.as_ref().is_none_or(|p| p.os != "unknown") {
                out.push(desc);
            }
            continue;
        }
        if depth >= MAX_INDEX_DEPTH {
            bail!("{}: image indexes nest deeper than {MAX_INDEX_DEPTH} levels at {}", dir.display(), desc.digest);
        }
        let nested: Index = serde_json::from_slice(&read_blob(dir, &desc.digest)?)
            .with_context(|| format!("malformed image index {} in {}", desc.digest, dir.display()))?;
        if nested.manifests.is_empty() {
            bail!("image index {} in {} is empty", desc.digest, dir.display());
        }
        todo.extend(nested.manifests.into_iter().rev().map(|d| (d, depth + 1)));
    }
    Ok(out)
}

/// Opens the image whose manifest `desc` names in the OCI layout `dir`.
pub fn open_layout_manifest(dir: &Path, desc: &Descriptor, tag: Option<&str>) -> Result<ImageView> {
    let manifest_json = read_blob(dir, &desc.digest)?;
    let manifest: Manifest = serde_json::from_slice(&manifest_json)
        .with_context(|| format!("malformed manifest {} in {}", desc.digest, dir.display()))?;
    let config_json = read_blob(dir, &manifest.config.digest)?;
    let config = ConfigFile::parse(&config_json, &format!("{} in {}", manifest.config.digest, dir.display()))?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        bail!(
            "image {} has {} layers but its config lists {} diff_ids",
            desc.digest,
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    let layers = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(l, diff_id)| {
            Ok(Layer {
                digest: Some(l.digest.clone()),
                diff_id: diff_id.clone(),
                size: l.size,
                media_type: l.media_type.clone(),
                uncompressed_size: None,
                location: Location::File(dir.join("blobs/sha256").join(digest_hex(&l.digest)?)),
            })
        })
        .collect::<Result<_>>()?;
    Ok(ImageView {
        config_digest: manifest.config.digest.clone(),
        config_json,
        config,
        manifest: Some((manifest_json, manifest, desc.digest.clone())),
        tags: tag.map(|t| vec![t.to_string()]).unwrap_or_default(),
        layers,
        declared: desc.platform.as_ref().map(Into::into),
    })
}

/// Opens the (first) image of a docker-archive, as written by us, `docker save` or skopeo.
pub fn open_docker_archive(path: &Path) -> Result<ImageView> {
    let file = open_regular(path, true).with_context(|| format!("cannot open {}", path.display()))?;
    let mut members: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut ar = tar::Archive::new(file);
    let mut count = EntryCounter::default();
    for entry in ar.entries().with_context(|| format!("cannot read {} as tar", path.display()))? {
        let entry = entry.with_context(|| format!("corrupt tar entry in {}", path.display()))?;
        count.bump().with_context(|| format!("{}", path.display()))?;
        check_path_len(&entry.path_bytes(), "a member name").with_context(|| format!("{}", path.display()))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if entry.header().entry_type().is_file() {
            let key = normalize(&name).with_context(|| format!("in {}", path.display()))?;
            members.insert(key, (entry.raw_file_position(), entry.size()));
        }
    }
    let read_member = |name: &str| -> Result<Vec<u8>> {
        let key = normalize(name).with_context(|| format!("in {}", path.display()))?;
        let (offset, size) =
            *members.get(&key).with_context(|| format!("{} has no member {name:?}", path.display()))?;
        if size > MAX_JSON_BYTES {
            bail!(
                "{}: {name} is {size} bytes, more than the limit of {MAX_JSON_BYTES} for a JSON file",
                path.display()
            );
        }
        let mut f = open_regular(path, true).with_context(|| format!("cannot open {}", path.display()))?;
        f.seek(SeekFrom::Start(offset))?;
        let mut data = Vec::new();
        f.take(size).read_to_end(&mut data).with_context(|| format!("cannot read {name} in {}", path.display()))?;
        Ok(data)
    };
    let manifests = parse_manifest(&read_member("manifest.json")?).with_context(|| format!("in {}", path.display()))?;
    let Some(ArchiveManifest { config: config_name, repo_tags, layers: layer_names }) = manifests.into_iter().next()
    else {
        bail!("{}: manifest.json lists no image", path.display());
    };
    let config_json = read_member(&config_name)?;
    let config = ConfigFile::parse(&config_json, &format!("{config_name} in {}", path.display()))?;
    if config.rootfs.diff_ids.len() != layer_names.len() {
        bail!(
            "{}: manifest.json lists {} layers but the config lists {} diff_ids",
            path.display(),
            layer_names.len(),
            config.rootfs.diff_ids.len()
        );
    }
    let layers = layer_names
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(name, diff_id)| {
            let key = normalize(name).with_context(|| format!("in {}", path.display()))?;
            let (offset, size) =
                *members.get(&key).with_context(|| format!("{} has no layer member {name:?}", path.display()))?;
            let location = Location::Member { archive: path.to_path_buf(), offset, size };
            // `docker save` (and an engine export) writes plain tars, lucid gzip blobs: which one
            // decides whether the stored size is a compressed size. A plain tar is its own blob,
            // so its digest is the diff_id (checked when the layer is read).
            let mut head = [0u8; 2];
            let n = layer_head(&location, &mut head).with_context(|| format!("layer {name} in {}", path.display()))?;
            let gzip = head[..n] == [0x1f, 0x8b];
            Ok(Layer {
                digest: (!gzip).then(|| diff_id.clone()),
                diff_id: diff_id.clone(),
                size,
                media_type: if gzip { MEDIA_TYPE_LAYER_GZIP } else { MEDIA_TYPE_LAYER_TAR }.to_string(),
                uncompressed_size: (!gzip).then_some(size),
                location,
            })
        })
        .collect::<Result<_>>()?;
    Ok(ImageView {
        config_digest: digest_of(&config_json),
        config_json,
        config,
        manifest: None,
        tags: repo_tags,
        layers,
        declared: None,
    })
}

/// Reads the first bytes of a stored layer into `buf`; returns how many there were.
fn layer_head(location: &Location, buf: &mut [u8]) -> Result<usize> {
    let mut blob = location.open()?;
    let mut n = 0;
    while n < buf.len() {
        match blob.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl ImageView {
    /// Checks every layer: the stored blob against its digest (when known) and the
    /// uncompressed tar against the config's diff_id.
    pub fn verify(&self) -> Result<()> {
        for (i, layer) in self.layers.iter().enumerate() {
            let mut blob = HashReader::new(self.layer_blob(i)?);
            let (diff_id, _) = {
                let mut tar = HashReader::new(decompressed(&mut blob)?);
                std::io::copy(&mut tar, &mut std::io::sink()).with_context(|| format!("cannot read layer {i}"))?;
                tar.finish()
            };
            std::io::copy(&mut blob, &mut std::io::sink())?;
            let (digest, size) = blob.finish();
            if let Some(want) = &layer.digest
                && (*want != digest || size != layer.size)
            {
                bail!("layer {i}: blob is {digest} ({size} bytes), the manifest says {want} ({} bytes)", layer.size);
            }
            if diff_id != layer.diff_id {
                bail!("layer {i}: uncompressed tar is {diff_id}, the config says {}", layer.diff_id);
            }
        }
        Ok(())
    }
}

/// Opens a layer blob file (gzip or plain tar) as an uncompressed tar stream.
pub fn open_layer_blob(path: &Path) -> Result<Box<dyn Read>> {
    decompressed(open_regular(path, false).with_context(|| format!("cannot open layer {}", path.display()))?)
}

/// Wraps `r` in a gzip decoder if it starts with the gzip magic, else passes it through. The
/// decoder is [`Bounded`]: a layer that inflates past the size limit or like a bomb is an error.
pub fn decompressed<'a>(r: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    Ok(decompressed_flagged(r)?.0)
}

/// [`decompressed`], also saying whether the stream was compressed: when it was not, the tar is
/// the blob itself and its diff_id is the blob's digest, so a reader hashes it once.
pub fn decompressed_flagged<'a>(r: impl Read + 'a) -> Result<(Box<dyn Read + 'a>, bool)> {
    let (counted, consumed) = Counting::new(r);
    let mut buf = BufReader::new(counted);
    let head = buf.fill_buf().context("cannot read layer")?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((Box::new(Bounded::streaming(flate2::bufread::GzDecoder::new(buf), consumed)), true))
    } else {
        Ok((Box::new(buf), false))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// Devices, FIFOs and anything else, with the raw type byte.
    Other(u8),
}

/// One tar entry's metadata (long names and link targets already resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerEntry {
    /// Canonical path (`usr/bin/x`, no `./`, no trailing `/`).
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits with setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
    pub link: Option<String>,
    pub uname: String,
    pub gname: String,
}

/// Calls `f` with every entry of a layer tar and a reader over its content.
pub fn for_each_entry(tar: impl Read, mut f: impl FnMut(&LayerEntry, &mut dyn Read) -> Result<()>) -> Result<()> {
    let mut ar = tar::Archive::new(tar);
    let mut count = EntryCounter::default();
    for entry in ar.entries().context("cannot read layer tar")? {
        let mut entry = entry.context("corrupt layer tar entry")?;
        count.bump().context("layer tar")?;
        check_path_len(&entry.path_bytes(), "layer entry name")?;
        if let Some(link) = entry.link_name_bytes() {
            check_path_len(&link, "layer link target")?;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // `./` (the root itself, as `tar -C root .` writes it) carries nothing a tree keeps.
        if raw.split('/').all(|p| p.is_empty() || p == ".") {
            continue;
        }
        let path = normalize(&raw).with_context(|| format!("layer entry {raw:?}"))?;
        let h = entry.header();
        let t = h.entry_type();
        let kind = if t.is_file() {
            EntryKind::File
        } else if t.is_dir() {
            EntryKind::Dir
        } else if t.is_symlink() {
            EntryKind::Symlink
        } else if t.is_hard_link() {
            EntryKind::Hardlink
        } else {
            EntryKind::Other(t.as_byte())
        };
        let field =
            |r: std::io::Result<u64>, what: &str| r.with_context(|| format!("layer entry {path:?}: bad {what}"));
        count.declare(&path, entry.size())?;
        let meta = LayerEntry {
            kind,
            mode: h.mode().with_context(|| format!("layer entry {path:?}: bad mode"))? & 0o7777,
            uid: field(h.uid(), "uid")?,
            gid: field(h.gid(), "gid")?,
            mtime: field(h.mtime(), "mtime")?,
            size: entry.size(),
            link: entry.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned()),
            uname: h.username_bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
            gname: h.groupname_bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
            path,
        };
        f(&meta, &mut entry)?;
    }
    Ok(())
}

/// The metadata of every entry of a layer tar, in order.
pub fn layer_entries(tar: impl Read) -> Result<Vec<LayerEntry>> {
    let mut out = Vec::new();
    for_each_entry(tar, |e, _| {
        out.push(e.clone());
        Ok(())
    })?;
    Ok(out)
}

/// A layer tar as a [`Tree`] (files, directories, symlinks; hard links become copies, as the
/// tree stores them). Other entry types are an error: our images have none.
pub fn layer_tree(tar: impl Read) -> Result<Tree> {
    let mut tree = Tree::new();
    let mut files: BTreeMap<String, std::sync::Arc<Vec<u8>>> = BTreeMap::new();
    for_each_entry(tar, |e, data| {
        let (uid, gid) = (
            u32::try_from(e.uid).with_context(|| format!("{}: uid too large", e.path))?,
            u32::try_from(e.gid).with_context(|| format!("{}: gid too large", e.path))?,
        );
        let node = match e.kind {
            EntryKind::Dir => Node::Dir,
            EntryKind::File => {
                let mut buf = Vec::with_capacity(e.size.min(1 << 26) as usize);
                data.read_to_end(&mut buf).with_context(|| format!("cannot read {}", e.path))?;
                let buf = std::sync::Arc::new(buf);
                files.insert(e.path.clone(), buf.clone());
                Node::File(buf)
            }
            EntryKind::Symlink => Node::Symlink(e.link.clone().with_context(|| format!("{}: no link target", e.path))?),
            EntryKind::Hardlink => {
                let target = normalize(e.link.as_deref().unwrap_or(""))?;
                Node::File(
                    files.get(&target).with_context(|| format!("{}: hard link to unknown {target}", e.path))?.clone(),
                )
            }
            EntryKind::Other(t) => bail!("{}: unsupported tar entry type {:?}", e.path, t as char),
        };
        tree.insert(&e.path, Entry { node, mode: e.mode, uid, gid, origin: Default::default() })
    })?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw tar with the given (name, type) entries, bypassing the tar crate's path checks so
    /// hostile names can be written.
    fn raw_tar(entries: &[(&str, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(tar::EntryType::new(*kind));
            h.set_mode(0o755);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_size(0);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
        }
        out.extend_from_slice(&[0; 1024]);
        out
    }

    #[test]
    fn root_entry_is_skipped_and_escapes_are_refused() {
        let ok = raw_tar(&[("./", b'5'), ("./usr/", b'5'), ("./usr/x", b'0')]);
        let entries = layer_entries(ok.as_slice()).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["usr", "usr/x"]);
        let evil = raw_tar(&[("usr/../../etc/passwd", b'0')]);
        let err = format!("{:#}", layer_entries(evil.as_slice()).unwrap_err());
        assert!(err.contains("usr/../../etc/passwd"), "{err}");
        let dev = raw_tar(&[("dev/null", b'3')]);
        assert!(layer_tree(dev.as_slice()).is_err(), "device nodes are not part of our images");
    }

    #[test]
    fn references_are_parsed_or_refused() {
        let err = open("docker://somewhere.example/x").unwrap_err().to_string();
        assert!(err.contains("unsupported image reference"), "{err}");
        let err = format!("{:#}", open("oci:/nonexistent/layout:latest").unwrap_err());
        assert!(err.contains("/nonexistent/layout/index.json"), "{err}");
    }

    /// A `docker save` archive holds plain tars: read as such, their size is no compressed size,
    /// their digest is their diff_id, and the merged view says so per layer.
    #[test]
    fn plain_tar_layers_of_a_docker_archive_are_not_called_compressed() {
        let layer = raw_tar(&[("etc/", b'5')]);
        let diff_id = digest_of(&layer);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!([
            {"Config": "config.json", "RepoTags": ["x:latest"], "Layers": ["l/layer.tar"]}
        ]))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saved.tar");
        let mut tar = tar::Builder::new(std::fs::File::create(&path).unwrap());
        for (name, data) in [("config.json", &config), ("l/layer.tar", &layer), ("manifest.json", &manifest)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        tar.finish().unwrap();
        drop(tar);
        let view = open(&format!("docker-archive:{}", path.display())).unwrap();
        let l = &view.layers[0];
        assert!(!l.compressed(), "{}", l.media_type);
        assert_eq!(l.digest.as_deref(), Some(diff_id.as_str()));
        assert_eq!(l.uncompressed_size, Some(layer.len() as u64));
        let merged = super::super::view::merge(&view, &Default::default()).unwrap();
        assert!(!merged.layers[0].compressed);
        assert_eq!(merged.layers[0].stored, layer.len() as u64);
    }
}
