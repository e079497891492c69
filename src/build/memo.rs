//! Whole images remembered by their inputs, so that a build of images that did not change costs
//! reading their layers back, not assembling them again.
//!
//! The key of an image on a platform is a SHA-256 over everything its bytes depend on: this
//! lucid executable (its own SHA-256: another build of lucid may make other bytes), the spec
//! file, the CA files it adds (`trust:`), the requirements of the spec's images, the
//! lock's entries of that chain on that platform and, for a foreign platform, on the host's
//! (packages, JDK tools, wheels: the host's JDK and Python take part in a foreign build), the
//! Release records (a label names them), the epoch, the platform and the host's. The record under the key
//! (`images/<key>` in the cache) names the layers' gzip blobs, which the layer writer already
//! keeps in the verified cache, and what the image config takes from the assembly
//! (`JAVA_HOME`...). A recalled image links each blob from the cache, after checking it against
//! its digest, and is made again from them with the same config code as a built one; its
//! manifest must have the digest recorded, or the image is built again. Anything missing or
//! unreadable is a miss, never an error: the memo only saves work. The record's other fields
//! (`diff_id`s, sizes, environment) are taken as written: the cache is private to its owner
//! (`fetch::cachedir`), as for every memo in it.
//!
//! A record missing here may come from a shared build cache ([`pull`]): only through
//! `fetch::Remote::image_record`, which gives a record once a trusted key's signature vouched for
//! it, and with every layer checked against the digest the record names on its way into the
//! local cache. [`exported`] gives a record and its layers for a writer to sign and push.
//!
//! The docker-archives a build writes are remembered too ([`archive_current`]): one that a
//! previous build wrote for the same image and tags, and that nobody touched since (its change
//! time says so), is not written again (rewriting every archive was most of a warm build of many images).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::context::Context;
use crate::oci::LayerBlob;
use crate::oci::image::BuiltImage;
use crate::spec::{Image, Platform};

/// Bump when what a record means changes.
const VERSION: &str = "lucid-image-memo-1";
/// At most this many layers in a record taken from a shared cache (an image has a few dozen).
const MAX_LAYERS: usize = 512;
/// Layers of a pulled record downloaded at once (each is held in memory while it is checked).
const PULL_THREADS: usize = 3;

/// What `lucid build` reports of an image besides its blobs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// Bytes of file content (what budgets are checked against).
    pub size: u64,
    pub packages: usize,
    pub wheels: usize,
}

/// What the image config takes from an assembly, and the layers it was made of.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Made {
    pub env: BTreeMap<String, String>,
    pub history: Vec<String>,
    pub summary: Summary,
}

#[derive(Serialize, Deserialize)]
struct Record {
    made: Made,
    layers: Vec<RecordedLayer>,
    manifest_digest: String,
}

#[derive(Serialize, Deserialize)]
struct RecordedLayer {
    digest: String,
    diff_id: String,
    size: u64,
    uncompressed_size: u64,
}

/// The SHA-256 of the running executable, once per process.
fn executable_digest() -> Result<&'static str> {
    static DIGEST: OnceLock<String> = OnceLock::new();
    if let Some(d) = DIGEST.get() {
        return Ok(d);
    }
    let exe = std::env::current_exe().context("cannot find the lucid executable")?;
    let digest = crate::fetch::file_sha256(&exe)
        .map(|hex| format!("sha256:{hex}"))
        .with_context(|| format!("cannot read {}", exe.display()))?;
    Ok(DIGEST.get_or_init(|| digest))
}

/// The keys of one build: what every image's key shares (the executable, the spec, its CA files
/// and requirements, the Release records, the epoch, the host), read and hashed once.
pub struct Keys {
    shared: Vec<u8>,
}

/// Adds `v` to `h` under the name `k`, with its length, so no two inputs run together.
fn line(h: &mut Sha256, k: &str, v: &[u8]) {
    h.update(k.as_bytes());
    h.update((v.len() as u64).to_le_bytes());
    h.update(v);
}

impl Keys {
    pub fn new(ctx: &Context) -> Result<Keys> {
        let spec = ctx.spec;
        let mut h = Sha256::new();
        line(&mut h, "version", VERSION.as_bytes());
        line(&mut h, "executable", executable_digest()?.as_bytes());
        line(
            &mut h,
            "spec",
            &std::fs::read(&spec.path).with_context(|| format!("cannot read {}", spec.path.display()))?,
        );
        // The platform team's CA files go into every image; one that cannot be read fails the
        // assembly, so it can only be a miss here.
        for file in &spec.trust {
            let path = spec.dir().join(file);
            line(&mut h, "trust", &std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?);
        }
        for (image, text) in super::requirements_texts(spec)? {
            line(&mut h, "requirements", format!("{image}\n{text}").as_bytes());
        }
        line(&mut h, "releases", &serde_json::to_vec(&ctx.lock.releases)?);
        line(&mut h, "epoch", &ctx.epoch.to_le_bytes());
        line(&mut h, "host", Platform::host().to_string().as_bytes());
        Ok(Keys { shared: h.finalize().to_vec() })
    }

    /// The key of `img` on `platform` (see the module's doc).
    pub fn of(&self, ctx: &Context, img: &Image, platform: &Platform) -> Result<String> {
        let mut h = Sha256::new();
        line(&mut h, "shared", &self.shared);
        let host = Platform::host();
        for link in ctx.spec.chain(&img.name)? {
            line(&mut h, "image", link.name.as_bytes());
            line(&mut h, "lock", &serde_json::to_vec(&ctx.lock.image(&link.name, &platform.to_string()))?);
            // A foreign platform's image is also made by the host's: its JDK links the runtime,
            // its Python compiles the byte code.
            if *platform != host {
                line(&mut h, "host lock", &serde_json::to_vec(&ctx.lock.image(&link.name, &host.to_string()))?);
            }
        }
        line(&mut h, "platform", platform.to_string().as_bytes());
        Ok(hex::encode(h.finalize()))
    }
}

fn record_path(cache: &crate::fetch::Cache, key: &str) -> Result<std::path::PathBuf> {
    Ok(cache.derived_dir("images")?.join(key))
}

/// Remembers `built`, made as `made`, under `key`. Its layer blobs are in the cache already (the
/// layer writer keeps them by `diff_id`).
pub fn remember(ctx: &Context, key: &str, built: &BuiltImage, made: &Made) -> Result<()> {
    let record = Record {
        made: made.clone(),
        layers: built
            .layers
            .iter()
            .map(|l| RecordedLayer {
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
                size: l.size,
                uncompressed_size: l.uncompressed_size,
            })
            .collect(),
        manifest_digest: built.manifest_digest.clone(),
    };
    crate::fetch::write_atomic(&record_path(&ctx.fetcher.cache, key)?, &serde_json::to_vec(&record)?)
}

/// The image remembered under `key`, its layer blobs read back through the cache and written to
/// `staging`, and what it was made with; `None` when there is no usable record.
pub fn recall(ctx: &Context, key: &str, staging: &Path) -> Option<(Vec<LayerBlob>, Made, String)> {
    let text = std::fs::read(record_path(&ctx.fetcher.cache, key).ok()?).ok()?;
    let record: Record = serde_json::from_slice(&text).ok()?;
    let mut blobs = Vec::new();
    for l in record.layers {
        let path = crate::oci::layer::place_cached(&ctx.fetcher.cache, &l.digest, l.size, staging).ok()?;
        blobs.push(LayerBlob {
            digest: l.digest,
            diff_id: l.diff_id,
            size: l.size,
            uncompressed_size: l.uncompressed_size,
            path,
        });
    }
    Some((blobs, record.made, record.manifest_digest))
}

/// Whether a record is kept here under `key` (usable or not: [`recall`] says).
pub fn recorded(ctx: &Context, key: &str) -> bool {
    record_path(&ctx.fetcher.cache, key).is_ok_and(|p| p.exists())
}

/// Takes the record under `key` from the first shared build cache that holds one vouched for
/// (`fetch::Remote::image_record`), with its layers, each checked against the record's digest
/// and kept in the local cache, then keeps the record here for [`recall`]. `Some(name)` of the
/// cache it came from; `None` when no cache holds it or one could not serve a layer (the image is
/// built from its inputs then). A record that no trusted key signed, or one that is signed but
/// malformed, or a layer that does not match its digest, is an error: nothing is built from it.
pub fn pull(ctx: &Context, key: &str, progress: &crate::progress::Task) -> Result<Option<String>> {
    for remote in &ctx.fetcher.remotes {
        let Some(bytes) = remote.image_record(key)? else { continue };
        let name = remote.name();
        let record: Record = serde_json::from_slice(&bytes)
            .with_context(|| format!("the build cache {name}: the signed record of image inputs {key} is malformed"))?;
        if record.layers.len() > MAX_LAYERS {
            anyhow::bail!(
                "the build cache {name}: the record of image inputs {key} names more than {MAX_LAYERS} layers"
            );
        }
        let wants = record
            .layers
            .iter()
            .map(|l| {
                let hex = crate::oci::digest_hex(&l.digest)
                    .with_context(|| format!("the build cache {name}: the record of image inputs {key}"))?;
                Ok(crate::fetch::Want {
                    url: String::new(),
                    sha256: hex.to_string(),
                    size: Some(l.size),
                    label: format!("layer {} of image inputs {key}", l.digest),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // A layer not served: the image is built from its inputs.
        if !ctx.fetcher.stored_all("Pulling", &wants, PULL_THREADS, progress)? {
            return Ok(None);
        }
        crate::fetch::write_atomic(&record_path(&ctx.fetcher.cache, key)?, &serde_json::to_vec(&record)?)?;
        return Ok(Some(name));
    }
    Ok(None)
}

/// The record of one built image on one platform, for a shared build cache: what
/// `build::cache_records` gives a writer to sign and push beside the inputs.
pub struct CacheRecord {
    /// The key of the image's inputs (`build::memo`).
    pub key: String,
    /// `IMAGE (PLATFORM)`, for people.
    pub title: String,
    /// The record's bytes, as a reader's `build::memo` takes them.
    pub record: Vec<u8>,
    /// Its layers' blobs in the local cache: `sha256:` digest and size.
    pub layers: Vec<(String, u64)>,
}

/// The record kept under `key` (its bytes, as [`pull`] reads them) and its layers' blobs, for a
/// writer to sign and push as `title`; an error when there is none.
pub fn exported(cache: &crate::fetch::Cache, key: &str, title: &str) -> Result<CacheRecord> {
    let path = record_path(cache, key)?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read the image record {}", path.display()))?;
    let record: Record =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not an image record", path.display()))?;
    Ok(CacheRecord {
        key: key.to_string(),
        title: title.to_string(),
        layers: record.layers.iter().map(|l| (l.digest.clone(), l.size)).collect(),
        record: bytes,
    })
}

/// What a docker-archive written for `built` under `references` holds, as a key: the same key
/// means the same bytes (the archive writer is this executable's, and the manifest's digest
/// covers the config, the layers and the dates). `None` when the executable cannot be read.
pub fn archive_key(built: &BuiltImage, references: &[String]) -> Option<String> {
    let mut h = Sha256::new();
    line(&mut h, "version", VERSION.as_bytes());
    line(&mut h, "executable", executable_digest().ok()?.as_bytes());
    line(&mut h, "manifest", built.manifest_digest.as_bytes());
    for r in references {
        line(&mut h, "reference", r.as_bytes());
    }
    Some(hex::encode(h.finalize()))
}

/// A written docker-archive as the cache remembers it: its key, and the file's identity then.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct ArchiveRecord {
    key: String,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    /// The change time, which no one but the kernel sets (a writer can set the modification
    /// time back; any write, `touch` or rename moves this), and the owner.
    ctime_ns: i128,
    uid: u32,
}

fn archive_record(cache: &crate::fetch::Cache, path: &Path, key: &str) -> Option<(std::path::PathBuf, ArchiveRecord)> {
    use std::os::unix::fs::MetadataExt;
    let path = std::path::absolute(path).ok()?;
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    let at = cache.derived_dir("archives").ok()?.join(crate::fetch::sha256_hex(path.as_os_str().as_encoded_bytes()));
    let record = ArchiveRecord {
        key: key.to_string(),
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        uid: meta.uid(),
    };
    Some((at, record))
}

/// Whether the file at `path` is the docker-archive of `key` that this cache saw written there,
/// unchanged since (same device, inode, size, owner, modification and change times; the change
/// time cannot be set back, so an archive edited in place and re-dated is written again):
/// writing it again would give the same bytes, so a warm build leaves it.
pub fn archive_current(cache: &crate::fetch::Cache, path: &Path, key: &str) -> bool {
    let Some((at, now)) = archive_record(cache, path, key) else { return false };
    let Ok(text) = std::fs::read(at) else { return false };
    serde_json::from_slice::<ArchiveRecord>(&text).is_ok_and(|was| was == now)
}

/// Remembers that the file at `path` was just written as the docker-archive of `key`. The memo
/// only saves work: a failure to remember is ignored.
pub fn remember_archive(cache: &crate::fetch::Cache, path: &Path, key: &str) {
    if let Some((at, record)) = archive_record(cache, path, key)
        && let Ok(json) = serde_json::to_vec(&record)
    {
        let _ = crate::fetch::write_atomic(&at, &json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_edited_and_redated_is_not_current() {
        let dir = tempfile::tempdir().unwrap();
        let cache = crate::fetch::Cache::open(dir.path().join("cache")).unwrap();
        let archive = dir.path().join("img.tar");
        std::fs::write(&archive, b"archive one").unwrap();
        remember_archive(&cache, &archive, "k");
        assert!(archive_current(&cache, &archive, "k"));
        assert!(!archive_current(&cache, &archive, "other key"), "another image or other tags");
        // The same size, the modification time set back: the change time still moved.
        let before = std::fs::metadata(&archive).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&archive, b"archive two").unwrap();
        std::fs::File::options().write(true).open(&archive).unwrap().set_modified(before).unwrap();
        assert_eq!(std::fs::metadata(&archive).unwrap().modified().unwrap(), before);
        assert!(!archive_current(&cache, &archive, "k"));
    }
}
