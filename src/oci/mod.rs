//! OCI images: one image interface, its sources and sinks, and the flattened filesystem.
//!
//! The shape follows go-containerregistry's `pkg/v1`: [`Image`] ([`interface`]) is the one
//! interface (config, manifest, platform, layers with digest, diff_id, size, media type and a
//! reader). The built image ([`image::BuiltImage`]: config and manifest bytes plus layer blobs
//! on disk) and every source ([`read::ImageView`], opened from an [`ImageRef`] by [`source`]:
//! OCI layout, docker-archive, engine export, registry pull) implement it. The outputs
//! ([`layout`], [`archive`], [`engine`]'s load, [`push`] to a registry) are only sinks, so the
//! build never cares where an image goes and an image read from anywhere can be written
//! anywhere. [`view`] flattens an image's layers into its final filesystem (go-containerregistry's
//! `mutate.Extract`), for `lucid verify` and `lucid report`.
//!
//! This module reads nothing from the commands above it (verify, analyze, report, cli) nor from
//! the build's sources (debian, python, java).
//!
//! Everything written here is reproducible: the same tree, mtime and config give the same bytes,
//! hence the same digests, and every output is written to a temporary path and renamed, so a
//! failed or killed run never leaves a half image behind.

pub mod archive;
pub mod attach;
pub mod buildcache;
pub mod containers;
pub mod engine;
pub mod image;
pub mod interface;
pub mod labels;
pub mod layer;
pub mod layout;
pub mod push;
pub mod read;
pub mod reference;
pub mod registry;
pub mod source;
pub mod stale;
pub mod view;

pub use image::{BuiltImage, ImageConfig, assemble, index};
pub use interface::{Image, Layer, Location};
pub use layer::{LayerBlob, write_layer};
pub use reference::{ImageRef, RegistryRef, TagRef};

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Media types we write (OCI, not Docker v2 schema 2: skopeo, Docker >= 20.10, containerd and
/// every registry accept them, and one set of types keeps digests identical across outputs).
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// An uncompressed layer (what `docker save` and an engine export hold): read, never written.
pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Docker's own manifest types, which registries and `docker push` still serve: read, never
/// written.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_TYPE_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The annotation that names a tag in an OCI layout's `index.json` (what `oci:DIR:TAG` looks up).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `"sha256:<hex>"` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The hex part of a `sha256:<hex>` digest, checked, so it can safely become a file name.
pub fn digest_hex(digest: &str) -> Result<&str> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        bail!("unsupported digest {digest:?}: only sha256 is used");
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        bail!("malformed digest {digest:?}");
    }
    Ok(hex)
}

/// A writer that hashes and counts what passes through it, so one streaming pass yields both
/// a blob and its digest.
pub(crate) struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashWriter { inner, hasher: Sha256::new(), count: 0 }
    }
    /// The inner writer, the `sha256:<hex>` digest and the byte count.
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, format!("sha256:{}", hex::encode(self.hasher.finalize())), self.count)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what is read through it.
pub(crate) struct HashReader<R> {
    inner: R,
    /// None when only counting: the stream is known to be another, already hashed, stream.
    hasher: Option<Sha256>,
    count: u64,
}

impl<R: Read> HashReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashReader { inner, hasher: Some(Sha256::new()), count: 0 }
    }
    /// Counts bytes without hashing them ([`HashReader::finish`] then gives no digest).
    pub(crate) fn counting(inner: R) -> Self {
        HashReader { inner, hasher: None, count: 0 }
    }
    pub(crate) fn finish(self) -> (String, u64) {
        let digest = self.hasher.map(|h| format!("sha256:{}", hex::encode(h.finalize())));
        (digest.unwrap_or_default(), self.count)
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// Checks that the file at `path` is the blob `digest` of `size` bytes. Outputs call this before
/// they publish a blob, so a layer file changed or truncated since it was written fails the
/// run instead of producing an image whose digests lie.
pub(crate) fn check_blob_file(path: &Path, digest: &str, size: u64) -> Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open blob {digest} at {}", path.display()))?;
    // Taken before the bytes are read: a write while they are hashed changes the file's mtime,
    // so what is remembered never stands for bytes that were not the ones hashed.
    let identity = FileIdentity::of(&file);
    if identity.as_ref().is_some_and(|id| id.size == size && verified().contains(&(id.clone(), digest.to_string()))) {
        return Ok(());
    }
    let mut reader = HashReader::new(file);
    io::copy(&mut reader, &mut io::sink()).with_context(|| format!("cannot read blob {}", path.display()))?;
    let (actual, n) = reader.finish();
    if actual != digest || n != size {
        bail!(
            "blob {} changed since it was written: expected {digest} ({size} bytes), found {actual} ({n} bytes)",
            path.display()
        );
    }
    if let Some(id) = identity {
        verified().insert((id, digest.to_string()));
    }
    Ok(())
}

/// Whether this process found the file at `path`, as it is now, to be blob `digest` (see
/// [`check_blob_file`]); a reader of such a file need not hash it again.
pub(crate) fn is_verified(path: &Path, digest: &str) -> bool {
    File::open(path)
        .ok()
        .and_then(|f| FileIdentity::of(&f))
        .is_some_and(|id| verified().contains(&(id, digest.to_string())))
}

/// What identifies a file's content without reading it: device, inode, size and modification
/// time. A write or truncation changes them (from one tick of the kernel's clock to the next), so
/// a build that reads one layer file three times (recalled from the cache, linked into the
/// layout, copied into the docker-archive) hashes it once. The status-change time is left out on
/// purpose: each hard link of the file (the layout's, the staging area's) changes it. What goes
/// unseen is a rewrite within the same clock tick, or one that sets the modification time back
/// on purpose: a writer able to do that can as well replace the file between any check and its
/// use, and the cache refuses to be writable by others (`fetch::cachedir`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

impl FileIdentity {
    fn of(file: &File) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().ok()?;
        Some(FileIdentity { dev: m.dev(), ino: m.ino(), size: m.size(), mtime: (m.mtime(), m.mtime_nsec()) })
    }
}

/// The files [`check_blob_file`] hashed in this process, with the digest they matched.
fn verified() -> std::sync::MutexGuard<'static, std::collections::HashSet<(FileIdentity, String)>> {
    static SET: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<(FileIdentity, String)>>> =
        std::sync::OnceLock::new();
    SET.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_hashed_once_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"layer bytes").unwrap();
        let digest = digest_of(b"layer bytes");
        assert!(!is_verified(&path, &digest), "nothing is known before a check");
        check_blob_file(&path, &digest, 11).unwrap();
        assert!(is_verified(&path, &digest));
        assert!(!is_verified(&path, &digest_of(b"other")), "known only as the blob it was checked as");
        // Rewritten with other bytes of the same size, a tick later (file times are as fine as
        // the kernel's clock tick): checked again, and refused.
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::write(&path, b"LAYER BYTES").unwrap();
        assert!(!is_verified(&path, &digest));
        let err = check_blob_file(&path, &digest, 11).unwrap_err().to_string();
        assert!(err.contains("changed since it was written"), "{err}");
    }
}
