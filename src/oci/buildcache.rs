//! A registry as the shared build cache of many runners: `lucid build --cache-to` and
//! `--cache-from type=registry,ref=HOST[:PORT]/REPO[:TAG]`, in docker buildx's syntax.
//!
//! The cache is one OCI artifact under the tag: an image manifest whose `artifactType` is
//! [`ARTIFACT_TYPE`], with the empty config and one "layer" per cached blob. The blobs are the
//! build's verified inputs (`.deb` files and wheels) exactly as the archive and the package index
//! serve them, so a blob's registry digest *is* the SHA-256 the lock records for it: a runner
//! asks the registry for the lock's digest, and checks what comes back against it as it would
//! check a download from the mirror (`fetch::Remote`). A tampered blob is refused with its
//! digest named, never used.
//!
//! Derived work is cached as whole images: a writer given a private key (`key=` on `--cache-to`)
//! also pushes each built image's layer blobs and its record (`build::memo`: the layers, what
//! the config took from the assembly, the manifest digest), signed, under the key of its inputs
//! (the entry's [`ANNOTATION_IMAGE_KEY`]). Nothing in the lock could check a layer, so the
//! signature is what a reader trusts: a runner given the public key (`key=` on `--cache-from`)
//! takes a record only when it verifies ([`RecordOpener`], which the caller supplies: signing
//! is `sign`'s), then each layer against the digest the record names. A record no trusted key
//! signed is an error, never an image; a reader given no key ignores records and builds from
//! the inputs.
//!
//! Many runners may write the same cache at once. A writer pushes its blobs first, then merges
//! its entries with the manifest it finds under the tag, puts the union, and reads the tag back,
//! and once more after a pause: when another writer's manifest replaced its own meanwhile, it
//! merges again (a few times). Every manifest put names only blobs already pushed, so whichever
//! lands last is a cache that verifies. A registry has no compare-and-swap for tags, so the
//! merge makes every writer's entries likely, not certain, to survive a collision; a lost entry
//! costs the next runner one download, and the next export adds it back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::image::Descriptor;
use super::push::{Blob, Pusher};
use super::registry::{Registry, RegistryAuth, RegistryRef};
use super::{MEDIA_TYPE_MANIFEST, digest_hex, digest_of};
use crate::progress::Task;

/// The `artifactType` of a lucid build cache manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.lucid.build-cache.v1";
/// The media type of each cached blob (the bytes of a `.deb` or a wheel).
pub const MEDIA_TYPE_ENTRY: &str = "application/vnd.lucid.build-cache.blob.v1";
/// The OCI empty descriptor's type and content: the config of an artifact with none.
const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const EMPTY: &[u8] = b"{}";
/// The annotation naming an entry for people (`libc6 2.36-9+deb12u13 (amd64)`).
const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// The annotation of a signed image record: the key of the image's inputs (`build::memo`).
pub const ANNOTATION_IMAGE_KEY: &str = "dev.lucid.build-cache.image-key";
/// At most this many records of one image key are tried (writers with other keys may add theirs).
const MAX_RECORDS_PER_KEY: usize = 4;
/// No signed record is larger (one names a few dozen layers).
const MAX_RECORD_BYTES: u64 = 1 << 20;
/// At most this many entries: the inputs of every image of a spec are a few thousand.
const MAX_ENTRIES: usize = 100_000;
/// No cached input is larger (the largest `.deb` of a JDK is about 100 MB, the largest wheels
/// about 1 GB); a wheel, whose size the lock does not record, is read up to this bound.
const MAX_ENTRY_BYTES: u64 = 2 << 30;
/// How often a writer looks at the manifest (and merges again when another writer's replaced
/// its own).
const MERGE_ATTEMPTS: u32 = 8;
/// How long a writer waits before it looks at a manifest that names its entries once more.
const SETTLE: Duration = Duration::from_millis(1000);
/// At most this many entries in a manifest a writer puts (about 230 bytes each: well within the
/// 4 MiB many registries take for a manifest); the oldest others' go first.
const MAX_WRITE_ENTRIES: usize = 12_000;

/// A `--cache-from` or `--cache-to` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheRef {
    pub registry: RegistryRef,
    /// `ignore-error=true`: a failed export is a warning, not a failed build.
    pub ignore_error: bool,
    /// `key=FILE|env://NAME`: on `--cache-to` the private key that signs image records, on
    /// `--cache-from` the public key a record must verify with (the caller loads it).
    pub key: Option<String>,
}

impl CacheRef {
    /// Parses buildx's form: `type=registry,ref=HOST[:PORT]/REPO[:TAG]` (`mode=min|max`,
    /// `ignore-error=true|false` and lucid's `key=FILE|env://NAME` accepted), or a bare `HOST[:PORT]/REPO[:TAG]`, which buildx
    /// reads as `type=registry,ref=...`. Other types and keys are refused, naming what is known.
    pub fn parse(value: &str) -> Result<CacheRef> {
        let mut reference = None;
        let mut ignore_error = false;
        let mut record_key = None;
        if !value.contains('=') {
            reference = Some(value.to_string());
        } else {
            for field in value.split(',') {
                let (key, v) = field.split_once('=').with_context(|| {
                    let shown = field.split(':').next().unwrap_or("");
                    format!("{shown:?}... is not KEY=VALUE (type=registry,ref=HOST/REPO:TAG)")
                })?;
                match key.trim() {
                    "type" if v == "registry" => {}
                    "type" => bail!(
                        "type={v} is not supported: lucid's shared build cache is a registry \
                         (type=registry,ref=HOST[:PORT]/REPO[:TAG]); its local cache is $LUCID_CACHE"
                    ),
                    "ref" => reference = Some(v.to_string()),
                    // lucid always caches every input it can check: both modes mean the same.
                    "mode" if v == "min" || v == "max" => {}
                    "ignore-error" => {
                        ignore_error = match v {
                            "true" => true,
                            "false" => false,
                            _ => bail!("ignore-error is true or false, not {v:?}"),
                        }
                    }
                    "key" if !v.is_empty() => record_key = Some(v.to_string()),
                    "key" => bail!("key= is empty: give a PEM file or env://NAME"),
                    other => bail!(
                        "unknown key {other:?} (lucid knows type=registry, ref=, mode=min|max, \
                         ignore-error=true|false, key=FILE|env://NAME)"
                    ),
                }
            }
        }
        let reference = reference.context("no ref= (type=registry,ref=HOST/REPO:TAG)")?;
        // The value is not repeated in errors: a mistyped one may hold a password.
        let registry = RegistryRef::parse(reference.strip_prefix("docker://").unwrap_or(&reference))
            .context("ref= is not HOST[:PORT]/REPO[:TAG]")?;
        Ok(CacheRef { registry, ignore_error, key: record_key })
    }
}

/// The manifest of a build cache, as far as lucid reads and writes it.
#[derive(Debug, Serialize, Deserialize)]
struct CacheManifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: String,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// One blob a cache names.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    size: u64,
    title: String,
    /// For a signed image record: the key of the image's inputs.
    image_key: Option<String>,
}

/// What a cache holds: each entry by its hex SHA-256.
type Entries = BTreeMap<String, Entry>;

/// The entries of the cache under `r`'s tag; `None` when the tag does not exist. Anything else
/// under the tag (an image, another tool's artifact) is an error: lucid neither reads nor
/// overwrites it.
fn read_entries(reg: &mut Registry, r: &RegistryRef) -> Result<Option<Entries>> {
    let Some((bytes, media_type, _)) = reg.manifest_if_any(&r.reference)? else { return Ok(None) };
    let not_ours = || format!("docker://{r} is not a lucid build cache (artifactType {ARTIFACT_TYPE})");
    if media_type != MEDIA_TYPE_MANIFEST {
        bail!("{}: it is a {media_type}", not_ours());
    }
    let manifest: CacheManifest = serde_json::from_slice(&bytes).with_context(not_ours)?;
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        bail!("{}: its artifactType is {:?}", not_ours(), manifest.artifact_type.unwrap_or_default());
    }
    if manifest.layers.len() > MAX_ENTRIES {
        bail!(
            "docker://{r}: the build cache names {} blobs, more than the {MAX_ENTRIES} lucid reads",
            manifest.layers.len()
        );
    }
    let mut out = Entries::new();
    for d in manifest.layers {
        let hex = digest_hex(&d.digest).with_context(|| format!("docker://{r}: an entry"))?.to_string();
        let title = d.annotations.get(ANNOTATION_TITLE).cloned().unwrap_or_default();
        // A key that is not a SHA-256 could never be asked for: such an entry is a plain blob.
        let image_key = d.annotations.get(ANNOTATION_IMAGE_KEY).filter(|k| is_hex_sha256(k)).cloned();
        out.insert(hex, Entry { size: d.size.min(MAX_ENTRY_BYTES), title, image_key });
    }
    Ok(Some(out))
}

fn is_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a signed image record (the envelope's bytes) against the trusted key for the image key
/// it is filed under, and returns the record it vouches for; an error says why not.
pub type RecordOpener = Arc<dyn Fn(&[u8], &str) -> Result<Vec<u8>> + Send + Sync>;

/// A build cache opened for reading (`--cache-from`): the entries its manifest names, fetched
/// on demand by the lock's digests, and the signed image records it holds.
pub struct RegistryCache {
    r: RegistryRef,
    auth: RegistryAuth,
    entries: Entries,
    /// Each image key's records (hex digests of their envelopes).
    records: BTreeMap<String, Vec<String>>,
    /// How a record is trusted; `None`: records are not read.
    opener: Option<RecordOpener>,
    /// Sessions not in use: the fetcher asks from several threads, each takes one (and its
    /// token) and puts it back.
    idle: Mutex<Vec<Registry>>,
    /// Blobs named but not served, with why.
    missed: Mutex<Vec<String>>,
}

impl RegistryCache {
    /// Reads the cache's manifest. A tag that does not exist is an empty cache (the first run
    /// of a new cache); an unreachable registry, refused credentials or something that is not a
    /// lucid cache under the tag are errors for the caller to report.
    /// With `opener`, the cache's signed image records are read too (see the module's doc).
    pub fn open(r: &RegistryRef, auth: &RegistryAuth, opener: Option<RecordOpener>) -> Result<RegistryCache> {
        let mut reg = Registry::new(r, auth)?;
        let entries = read_entries(&mut reg, r)?.unwrap_or_default();
        let mut records: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (hex, e) in &entries {
            if let Some(key) = &e.image_key {
                records.entry(key.clone()).or_default().push(hex.clone());
            }
        }
        Ok(RegistryCache {
            r: r.clone(),
            auth: auth.clone(),
            entries,
            records,
            opener,
            idle: Mutex::new(vec![reg]),
            missed: Mutex::default(),
        })
    }

    /// How many blobs the cache names, and their bytes; how many of them are image records.
    pub fn held(&self) -> (usize, u64, usize) {
        let records = self.records.values().map(Vec::len).sum();
        (self.entries.len(), self.entries.values().map(|e| e.size).sum(), records)
    }

    /// Whether image records are read (a key to check them was given).
    pub fn reads_records(&self) -> bool {
        self.opener.is_some()
    }

    /// Blob `hex` from a session of the pool, at most `bound` bytes (one more is read, so that a
    /// longer blob fails the caller's check).
    fn blob(&self, hex: &str, bound: u64) -> Result<Vec<u8>> {
        let session = self.idle.lock().map_err(|_| anyhow::anyhow!("a fetch thread panicked"))?.pop();
        let mut reg = match session {
            Some(reg) => reg,
            None => Registry::new(&self.r, &self.auth)?,
        };
        let data = reg.blob_raw(&format!("sha256:{hex}"), bound)?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(reg);
        }
        Ok(data)
    }
}

impl crate::fetch::Remote for RegistryCache {
    fn name(&self) -> String {
        format!("docker://{}", self.r)
    }

    fn get(&self, sha256: &str, size: Option<u64>) -> Result<Option<Vec<u8>>> {
        let Some(listed) = self.entries.get(sha256) else { return Ok(None) };
        // The lock's size bounds the download when it has one; the manifest's otherwise.
        match self.blob(sha256, size.unwrap_or(listed.size)) {
            Ok(data) => Ok(Some(data)),
            // Not getting a blob is a miss (the origin serves it); getting other bytes than the
            // lock's is the fetcher's error.
            Err(e) => {
                if let Ok(mut missed) = self.missed.lock() {
                    missed.push(format!("sha256:{sha256}: {e:#}"));
                }
                Ok(None)
            }
        }
    }

    fn image_record(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let (Some(open), Some(found)) = (&self.opener, self.records.get(key)) else { return Ok(None) };
        let mut refused = Vec::new();
        for hex in found.iter().take(MAX_RECORDS_PER_KEY) {
            let envelope = match self.blob(hex, MAX_RECORD_BYTES) {
                Ok(data) => data,
                // Not served: a miss, as for any blob (the image is built from its inputs).
                Err(e) => {
                    if let Ok(mut missed) = self.missed.lock() {
                        missed.push(format!("sha256:{hex}: {e:#}"));
                    }
                    continue;
                }
            };
            if crate::fetch::sha256_hex(&envelope) != *hex {
                refused.push(format!("sha256:{hex}: the registry served other bytes under its digest"));
                continue;
            }
            match open(&envelope, key) {
                Ok(record) => return Ok(Some(record)),
                Err(e) => refused.push(format!("sha256:{hex}: {e:#}")),
            }
        }
        if refused.is_empty() {
            return Ok(None);
        }
        bail!(
            "the build cache {} holds a record of image inputs {key} that no trusted key vouches for: refused \
             (nothing is built from it): {}",
            self.name(),
            refused.join("; ")
        )
    }
}

impl RegistryCache {
    /// The blobs the cache named but could not serve (the build fetched them from the origin),
    /// each with why, for a warning after the build.
    pub fn missed(&self) -> Vec<String> {
        self.missed.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// One blob to export: its SHA-256 (hex; an input's is the lock's), its size, a title, where
/// the local cache keeps it, and for a signed image record the key of the image's inputs.
#[derive(Clone, Debug)]
pub struct ExportBlob {
    pub sha256: String,
    pub size: u64,
    pub title: String,
    pub path: PathBuf,
    pub image_key: Option<String>,
}

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Blobs sent, and their bytes; blobs the registry already had.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub existing: usize,
    /// Entries the cache names after the export (this writer's and every other's).
    pub entries: usize,
    /// Times the manifest was merged again because another writer replaced it meanwhile.
    pub merges: u32,
}

/// Pushes `blobs` (each checked against its digest as it is read) to `r`, then makes the cache
/// manifest under `r`'s tag name them along with whatever it named before.
pub fn export(r: &RegistryRef, auth: &RegistryAuth, blobs: &[ExportBlob], task: &Task) -> Result<ExportStats> {
    let mut pusher = Pusher::new(auth.clone());
    let mut reg = Registry::new(r, auth)?;
    let total: u64 = blobs.iter().map(|b| b.size).sum();
    task.step("Exporting", format!("{} blobs", blobs.len()));
    let bytes = task.transfer("Exporting", &format!("docker://{r}"), total);
    let empty = digest_of(EMPTY);
    pusher.push_blob(&mut reg, &Blob::Memory { digest: &empty, data: EMPTY }, &bytes)?;
    // The counts are of the inputs: the empty config is the artifact's, not one of them.
    pusher.stats = Default::default();
    for b in blobs {
        let digest = format!("sha256:{}", b.sha256);
        pusher
            .push_blob(&mut reg, &Blob::File { digest: &digest, size: b.size, path: &b.path }, &bytes)
            .with_context(|| format!("cannot export {} to the build cache docker://{r}", b.title))?;
    }
    drop(bytes);
    let ours: Entries = blobs
        .iter()
        .map(|b| (b.sha256.clone(), Entry { size: b.size, title: b.title.clone(), image_key: b.image_key.clone() }))
        .collect();
    // Named with the same size and, for a record, under the same image key (a blob another
    // writer listed without it would never be found as a record).
    let listed = |found: &Entries| {
        ours.iter().all(|(k, e)| {
            found.get(k).is_some_and(|f| f.size == e.size && (e.image_key.is_none() || f.image_key == e.image_key))
        })
    };
    let mut merges = 0;
    let mut confirmed = false;
    for attempt in 0..MERGE_ATTEMPTS {
        if attempt > 0 {
            // Writers that collided retry at different moments.
            let jitter = u64::from(std::process::id() % 7) * 50;
            std::thread::sleep(Duration::from_millis(200 * u64::from(attempt) + jitter));
        }
        let found = read_entries(&mut reg, r)?.unwrap_or_default();
        if listed(&found) {
            // Already there (put by this writer or another). Once confirmed, looked at once more
            // after a pause: a writer that read the manifest before this one's put may have put
            // its own union since, without these entries; then they are merged again.
            if confirmed {
                return Ok(stats(&pusher, found.len(), merges));
            }
            confirmed = true;
            std::thread::sleep(SETTLE);
            continue;
        }
        if attempt > 0 {
            merges += 1;
        }
        confirmed = false;
        let mut all = found;
        for (k, v) in &ours {
            // This writer's size and title win: it has just checked the blob against the lock.
            all.insert(k.clone(), v.clone());
        }
        let manifest = manifest_json(&keep_within(all, &ours))?;
        pusher.put_manifest(&mut reg, &manifest, MEDIA_TYPE_MANIFEST, &r.reference)?;
    }
    if confirmed {
        return Ok(stats(&pusher, read_entries(&mut reg, r)?.unwrap_or_default().len(), merges));
    }
    bail!(
        "docker://{r}: other writers replaced the build cache manifest {MERGE_ATTEMPTS} times in a row; its blobs \
         are pushed, the manifest does not name all of them yet: run the export again"
    )
}

/// `all` cut to [`MAX_WRITE_ENTRIES`]: every one of `ours`, then the others in digest order. The
/// cache would otherwise only grow, past what registries take as a manifest.
fn keep_within(all: Entries, ours: &Entries) -> Entries {
    if all.len() <= MAX_WRITE_ENTRIES {
        return all;
    }
    let room = MAX_WRITE_ENTRIES.saturating_sub(ours.len());
    let others: Entries = all.into_iter().filter(|(k, _)| !ours.contains_key(k)).take(room).collect();
    others.into_iter().chain(ours.clone()).collect()
}

fn stats(pusher: &Pusher, entries: usize, merges: u32) -> ExportStats {
    ExportStats {
        uploaded: pusher.stats.uploaded,
        uploaded_bytes: pusher.stats.uploaded_bytes,
        existing: pusher.stats.existing,
        entries,
        merges,
    }
}

/// The cache manifest naming `entries` (sorted by digest, so the same entries give the same
/// bytes whichever writer puts them).
fn manifest_json(entries: &Entries) -> Result<Vec<u8>> {
    let layers = entries
        .iter()
        .map(|(hex, e)| Descriptor {
            media_type: MEDIA_TYPE_ENTRY.to_string(),
            digest: format!("sha256:{hex}"),
            size: e.size,
            platform: None,
            annotations: [
                (!e.title.is_empty()).then(|| (ANNOTATION_TITLE.to_string(), e.title.clone())),
                e.image_key.as_ref().map(|k| (ANNOTATION_IMAGE_KEY.to_string(), k.clone())),
            ]
            .into_iter()
            .flatten()
            .collect(),
        })
        .collect();
    let manifest = CacheManifest {
        schema_version: 2,
        media_type: MEDIA_TYPE_MANIFEST.to_string(),
        artifact_type: Some(ARTIFACT_TYPE.to_string()),
        config: Descriptor {
            media_type: MEDIA_TYPE_EMPTY.to_string(),
            digest: digest_of(EMPTY),
            size: EMPTY.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        },
        layers,
    };
    Ok(serde_json::to_vec(&manifest)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buildx_forms() {
        let c = CacheRef::parse("type=registry,ref=127.0.0.1:5000/lucid/cache:ci,mode=max").unwrap();
        assert_eq!(c.registry.host, "127.0.0.1:5000");
        assert_eq!(c.registry.repository, "lucid/cache");
        assert_eq!(c.registry.reference, "ci");
        assert!(!c.ignore_error);
        let bare = CacheRef::parse("registry.internal/team/cache").unwrap();
        assert_eq!(bare.registry.reference, "latest");
        assert!(CacheRef::parse("type=registry,ref=h.io/c,ignore-error=true").unwrap().ignore_error);
        let signed = CacheRef::parse("type=registry,ref=h.io/c,key=env://CACHE_KEY").unwrap();
        assert_eq!(signed.key.as_deref(), Some("env://CACHE_KEY"));
        for bad in [
            "type=local,dest=/tmp/x",
            "type=registry",
            "type=registry,ref=h.io/c,compression=zstd",
            "type=registry,ref=h.io/c,ignore-error=yes",
            "type=registry,ref=cache",
            "type=registry,ref",
            "type=registry,ref=h.io/c,key=",
        ] {
            assert!(CacheRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn manifest_is_sorted_and_round_trips() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let mut e = Entries::new();
        e.insert(b.clone(), Entry { size: 2, title: "two".into(), image_key: Some("c".repeat(64)) });
        e.insert(a.clone(), Entry { size: 1, title: String::new(), image_key: None });
        let json = manifest_json(&e).unwrap();
        let m: CacheManifest = serde_json::from_slice(&json).unwrap();
        assert_eq!(m.artifact_type.as_deref(), Some(ARTIFACT_TYPE));
        assert_eq!(m.layers[0].digest, format!("sha256:{a}"));
        assert!(m.layers[0].annotations.is_empty());
        assert_eq!(m.layers[1].annotations[ANNOTATION_TITLE], "two");
        assert_eq!(m.layers[1].annotations[ANNOTATION_IMAGE_KEY], "c".repeat(64));
    }
}
