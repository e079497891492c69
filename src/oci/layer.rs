//! Deterministic layer tarballs from the in-memory [`Tree`].
//!
//! The bytes of a layer depend only on the tree and the mtime: entries come in the tree's sorted
//! order, owners are numeric (no user or group names, which differ between build hosts), every
//! mtime is the same, long names use GNU long-name entries (no PAX headers, whose extra records
//! some writers fill with access times), and gzip carries no file name and mtime 0. The gzip level
//! and backend (zlib-rs, pinned in Cargo.toml/Cargo.lock) are fixed because either one changes the
//! compressed bytes and so the layer digest.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};

use super::HashWriter;
use crate::rootfs::{Entry, Node, Tree};

/// gzip level 6 (zlib's default): within a few percent of level 9 on Debian rootfs content at
/// about half the time. Changing it changes every layer digest.
pub const GZIP_LEVEL: u32 = 6;
/// The gzip header's OS byte: 255 ("unknown"), as Go's compress/gzip writes it, so it does not
/// depend on the build host.
const GZIP_OS_UNKNOWN: u8 = 255;

/// A layer blob written to disk, with the two digests an image needs: `digest` names the
/// compressed blob (manifest, registry), `diff_id` the uncompressed tar (config `rootfs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerBlob {
    /// `sha256:<hex>` of the gzip blob.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of the gzip blob.
    pub size: u64,
    /// Bytes of the uncompressed tar.
    pub uncompressed_size: u64,
    /// Where the `.tar.gz` blob was written (`<dir>/<hex>.tar.gz`).
    pub path: PathBuf,
}

/// Writes `tree` as a gzip-compressed layer into `dir` and returns its digests.
///
/// The tar is made in memory (the tree is in memory already) and hashed, then compressed in one
/// call, because the compressed bytes depend on how the input is chunked (measured: streaming
/// the tar's writes into gzip gave other bytes), straight into a temporary file in `dir` that is
/// renamed to `<dir>/<hex>.tar.gz` only when complete: the gzip is never held in memory too (a
/// JDK's layer is hundreds of megabytes). The same tree and `mtime` always give the same bytes.
pub fn write_layer(tree: &Tree, mtime: i64, dir: &Path) -> Result<LayerBlob> {
    write_layer_with(tree, mtime, dir, None)
}

/// [`write_layer`], remembering the gzip blob in `cache` under the digest of the uncompressed tar
/// (the `diff_id`): compression is most of the time of a warm build, and gzip at a fixed level
/// and backend is a pure function of the tar. The tar itself is always made afresh from the
/// tree, so the cache can never put stale content into an image; a remembered blob is checked
/// against its digest before it is used.
pub fn write_layer_cached(tree: &Tree, mtime: i64, dir: &Path, cache: &crate::fetch::Cache) -> Result<LayerBlob> {
    write_layer_with(tree, mtime, dir, Some(cache))
}

fn write_layer_with(tree: &Tree, mtime: i64, dir: &Path, cache: Option<&crate::fetch::Cache>) -> Result<LayerBlob> {
    let mtime = u64::try_from(mtime).map_err(|_| anyhow!("layer mtime {mtime} is before 1970"))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut builder = tar::Builder::new(HashWriter::new(Vec::new()));
    for (key, entry) in tree.iter() {
        append_entry(&mut builder, key, entry, mtime).with_context(|| format!("cannot add {key:?} to the layer"))?;
    }
    let (tar, diff_id, uncompressed_size) = builder.into_inner().context("cannot finish the layer tar")?.finish();
    let memo = match cache {
        Some(c) => Some(c.derived_dir("layers")?.join(super::digest_hex(&diff_id)?)),
        None => None,
    };
    if let (Some(c), Some(m)) = (cache, &memo)
        && let Some(blob) = remembered(c, m, dir)
    {
        return Ok(LayerBlob { diff_id, uncompressed_size, ..blob });
    }
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-layer-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let out = HashWriter::new(std::io::BufWriter::with_capacity(1 << 20, tmp.as_file()));
    let mut gz = GzBuilder::new().mtime(0).operating_system(GZIP_OS_UNKNOWN).write(out, Compression::new(GZIP_LEVEL));
    gz.write_all(&tar).context("cannot compress the layer")?;
    drop(tar);
    let (buffered, digest, size) = gz.finish().context("cannot compress the layer")?.finish();
    buffered.into_inner().map_err(|e| e.into_error()).context("cannot write the layer")?;
    tmp.as_file().sync_all().ok();
    let path = dir.join(format!("{}.tar.gz", super::digest_hex(&digest)?));
    tmp.persist(&path).with_context(|| format!("cannot write the layer {}", path.display()))?;
    if let (Some(c), Some(m)) = (cache, &memo) {
        let hex = super::digest_hex(&digest)?;
        c.adopt(hex, &path)?;
        crate::fetch::write_atomic(m, hex.as_bytes())?;
    }
    Ok(LayerBlob { digest, diff_id, size, uncompressed_size, path })
}

/// The gzip blob `memo` names in `cache`, checked against its digest and linked (or copied) into
/// `dir`; `None` when there is none or it is damaged (the layer is compressed again).
fn remembered(cache: &crate::fetch::Cache, memo: &Path, dir: &Path) -> Option<LayerBlob> {
    let digest = format!("sha256:{}", fs::read_to_string(memo).ok()?.trim());
    let size = fs::metadata(cache.blob_file(super::digest_hex(&digest).ok()?).ok()?).ok()?.len();
    let path = place_cached(cache, &digest, size, dir).ok()?;
    Some(LayerBlob { digest, diff_id: String::new(), size, uncompressed_size: 0, path })
}

/// The layer blob `digest` (`size` bytes) of `cache`, checked against its digest, placed in
/// `dir` as `<hex>.tar.gz` where [`write_layer`] puts a layer it compresses: linked, not copied
/// (copied only where a link cannot be made), since the cache's blob is on disk already.
pub(crate) fn place_cached(cache: &crate::fetch::Cache, digest: &str, size: u64, dir: &Path) -> Result<PathBuf> {
    let hex = super::digest_hex(digest)?;
    let src = cache.blob_file(hex)?;
    super::check_blob_file(&src, digest, size)?;
    let path = dir.join(format!("{hex}.tar.gz"));
    if !path.exists() && fs::hard_link(&src, &path).is_err() {
        fs::copy(&src, &path).with_context(|| format!("cannot copy {} to {}", src.display(), path.display()))?;
    }
    Ok(path)
}

/// Appends one tree entry. The tar crate emits a GNU `././@LongLink` entry (type `L` or `K`,
/// mtime 0, root) before a header whose name or link target does not fit in 100 bytes.
fn append_entry<W: Write>(builder: &mut tar::Builder<W>, key: &str, entry: &Entry, mtime: u64) -> Result<()> {
    let mut header = Header::new_gnu();
    header.set_mode(entry.mode & 0o7777);
    header.set_uid(u64::from(entry.uid));
    header.set_gid(u64::from(entry.gid));
    header.set_mtime(mtime);
    match &entry.node {
        Node::Dir => {
            header.set_entry_type(EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, format!("{key}/"), std::io::empty())?;
        }
        Node::File(data) => {
            header.set_entry_type(EntryType::Regular);
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, key, data.as_slice())?;
        }
        Node::Symlink(target) => {
            if target.is_empty() || target.contains('\0') {
                anyhow::bail!("symbolic link {key:?} has an invalid target {target:?}");
            }
            header.set_entry_type(EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, key, target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::read;
    use std::io::Read;

    fn sample() -> Tree {
        let mut t = Tree::new();
        t.insert("etc/passwd", Entry::file(b"root:x:0:0:root:/root:/sbin/nologin\n".to_vec(), 0o644)).unwrap();
        t.insert("usr/bin/su", Entry::file(b"elf".to_vec(), 0o4755)).unwrap();
        t.insert("usr/bin/wall", Entry::file(b"elf".to_vec(), 0o2755).owned(0, 5)).unwrap();
        t.insert("tmp", Entry::dir(0o1777)).unwrap();
        t.insert("home/nonroot", Entry::dir(0o750).owned(65532, 65532)).unwrap();
        t.insert("bin", Entry::symlink("usr/bin")).unwrap();
        t
    }

    fn long_name() -> String {
        let mut p = String::from("usr/lib/python3/dist-packages");
        while p.len() < 180 {
            p.push_str("/very-long-directory-name");
        }
        p
    }

    #[test]
    fn same_tree_same_bytes_and_mtime_matters() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_layer(&sample(), 1_700_000_000, &dir.path().join("a")).unwrap();
        let b = write_layer(&sample(), 1_700_000_000, &dir.path().join("b")).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.diff_id, b.diff_id);
        assert_eq!(fs::read(&a.path).unwrap(), fs::read(&b.path).unwrap());
        let c = write_layer(&sample(), 1_700_000_001, &dir.path().join("a")).unwrap();
        assert_ne!(a.digest, c.digest);
        assert_ne!(a.diff_id, c.diff_id);
        // Digests are what they claim to be.
        let blob = fs::read(&a.path).unwrap();
        assert_eq!(super::super::digest_of(&blob), a.digest);
        assert_eq!(blob.len() as u64, a.size);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(blob.as_slice()).read_to_end(&mut tar).unwrap();
        assert_eq!(super::super::digest_of(&tar), a.diff_id);
        assert_eq!(tar.len() as u64, a.uncompressed_size);
        assert_eq!(a.path.file_name().unwrap().to_str().unwrap(), format!("{}.tar.gz", &a.digest[7..]));
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("a")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn gzip_header_has_no_name_and_no_time() {
        let dir = tempfile::tempdir().unwrap();
        let l = write_layer(&sample(), 1_700_000_000, dir.path()).unwrap();
        let blob = fs::read(&l.path).unwrap();
        assert_eq!(&blob[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(blob[3], 0, "FLG: no FNAME, FCOMMENT, FEXTRA or FHCRC");
        assert_eq!(&blob[4..8], &[0, 0, 0, 0], "MTIME is 0");
        assert_eq!(blob[9], 255, "OS unknown");
    }

    #[test]
    fn metadata_survives_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = sample();
        let long = long_name();
        let long_target = format!("../../{}", long_name());
        t.insert(&format!("{long}/module.py"), Entry::file(b"x = 1\n".to_vec(), 0o644)).unwrap();
        t.insert("usr/lib/longlink", Entry::symlink(long_target.clone())).unwrap();
        let l = write_layer(&t, 1_234_567_890, dir.path()).unwrap();
        let entries = read::layer_entries(read::open_layer_blob(&l.path).unwrap()).unwrap();

        let get = |p: &str| entries.iter().find(|e| e.path == p).unwrap_or_else(|| panic!("{p} missing"));
        assert_eq!(get("usr/bin/su").mode, 0o4755);
        assert_eq!(get("usr/bin/wall").mode, 0o2755);
        assert_eq!(get("usr/bin/wall").gid, 5);
        assert_eq!(get("tmp").mode, 0o1777);
        assert_eq!(get("tmp").kind, read::EntryKind::Dir);
        assert_eq!((get("home/nonroot").uid, get("home/nonroot").gid), (65532, 65532));
        assert_eq!(get("bin").kind, read::EntryKind::Symlink);
        assert_eq!(get("bin").link.as_deref(), Some("usr/bin"));
        assert_eq!(get(&format!("{long}/module.py")).size, 6);
        assert_eq!(get("usr/lib/longlink").link.as_deref(), Some(long_target.as_str()));
        for e in &entries {
            assert_eq!(e.mtime, 1_234_567_890, "{}", e.path);
            assert_eq!((e.uname.as_str(), e.gname.as_str()), ("", ""), "{}", e.path);
        }
        // Same order as the tree, and nothing else (no PAX records).
        let keys: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
        let got: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(got, keys);

        // The tree read back equals the tree written (origins aside).
        let back = read::layer_tree(read::open_layer_blob(&l.path).unwrap()).unwrap();
        let a: Vec<_> = t.iter().map(|(k, e)| (k.clone(), e.node.clone(), e.mode, e.uid, e.gid)).collect();
        let b: Vec<_> = back.iter().map(|(k, e)| (k.clone(), e.node.clone(), e.mode, e.uid, e.gid)).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn raw_tar_uses_gnu_long_names_not_pax() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tree::new();
        t.insert(&format!("{}/f", long_name()), Entry::file(b"".to_vec(), 0o644)).unwrap();
        let l = write_layer(&t, 0, dir.path()).unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(fs::File::open(&l.path).unwrap()).read_to_end(&mut tar).unwrap();
        let types: Vec<u8> = tar.chunks(512).filter(|h| h[257..263] == *b"ustar ").map(|h| h[156]).collect();
        assert!(types.contains(&b'L'), "{types:?}");
        assert!(!types.contains(&b'x') && !types.contains(&b'g'), "{types:?}");
    }

    #[test]
    fn negative_mtime_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_layer(&sample(), -1, dir.path()).unwrap_err();
        assert!(err.to_string().contains("before 1970"), "{err}");
    }
}
