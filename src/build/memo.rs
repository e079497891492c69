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

/// `sha256:<hex>` of the file at `path`, read in a stream; `None` when it cannot be read.
fn file_digest(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut h = crate::oci::HashWriter::new(std::io::sink());
    std::io::copy(&mut file, &mut h).ok()?;
    Some(h.finish().1)
}

/// The SHA-256 of the running executable, once per process.
fn executable_digest() -> Result<&'static str> {
    static DIGEST: OnceLock<String> = OnceLock::new();
    if let Some(d) = DIGEST.get() {
        return Ok(d);
    }
    let exe = std::env::current_exe().context("cannot find the lucid executable")?;
    let digest = file_digest(&exe).with_context(|| format!("cannot read {}", exe.display()))?;
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

fn record_path(ctx: &Context, key: &str) -> Result<std::path::PathBuf> {
    Ok(ctx.fetcher.cache.derived_dir("images")?.join(key))
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
    crate::fetch::write_atomic(&record_path(ctx, key)?, &serde_json::to_vec(&record)?)
}

/// The image remembered under `key`, its layer blobs read back through the cache and written to
/// `staging`, and what it was made with; `None` when there is no usable record.
pub fn recall(ctx: &Context, key: &str, staging: &Path) -> Option<(Vec<LayerBlob>, Made, String)> {
    let text = std::fs::read(record_path(ctx, key).ok()?).ok()?;
    let record: Record = serde_json::from_slice(&text).ok()?;
    let mut blobs = Vec::new();
    for l in record.layers {
        let hex = crate::oci::digest_hex(&l.digest).ok()?;
        let src = ctx.fetcher.cache.blob_file(hex).ok()?;
        crate::oci::check_blob_file(&src, &l.digest, l.size).ok()?;
        // Linked, not copied: the cache's blob is on disk already, checked just now.
        let path = staging.join(format!("{hex}.tar.gz"));
        if !path.exists() && std::fs::hard_link(&src, &path).is_err() {
            std::fs::copy(&src, &path).ok()?;
        }
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
