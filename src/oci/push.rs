//! Pushing images to a registry (distribution v2 API): any [`Image`], whatever source it was
//! read from (an OCI layout, a docker-archive, the engine, another registry) or the build.
//!
//! One image goes up as its manifest; the images of every platform go up as their manifests
//! and an index over them ([`super::index`], so the images of a layout lucid wrote give the
//! same index, byte for byte, as the layout's own). An image without a manifest (a
//! docker-archive's, the engine's) gets one here, naming its config and its layers as stored.
//!
//! Blobs go first, each only if the registry lacks it: a `HEAD` says whether it is there, a
//! cross-repository mount borrows it from another repository of the same registry that this
//! session already pushed it to, and only then are the bytes sent: in one `PUT` for small blobs,
//! in `PATCH` chunks for large ones, read from the image's layer reader and checked against the
//! digest on the way. Manifests follow (platform images before the index that names them), each
//! by digest and then under every tag. Transient failures (connection errors, 5xx, 429) are
//! retried with backoff; anything else is a clear error naming the blob or tag. The bytes go
//! onto the caller's [`Task`], so a terminal shows the push's progress.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::StatusCode;
use reqwest::blocking::Response;

use super::interface::{Image, Layer, layer_blobs, manifest_of};
use super::registry::{Registry, RegistryAuth, RegistryRef};
use super::{HashReader, MEDIA_TYPE_INDEX};
use crate::progress::{Bytes, Task};

/// Blobs above this size are sent in chunks of this size.
pub const CHUNK: u64 = 8 << 20;
/// Attempts per request before a transient failure becomes an error.
const ATTEMPTS: u32 = 4;

/// What a push sends under one reference.
pub enum Payload<'a> {
    /// One image: its manifest goes under the tags.
    Image(&'a dyn Image),
    /// One image per platform: their manifests by digest, then an index over them under the tags.
    Index(Vec<&'a dyn Image>),
}

impl<'a> Payload<'a> {
    /// One image as itself, several (the platforms a source gave) as an index: what an
    /// `oci:` layout holds under a tag, a lone manifest or an index, is pushed as it is.
    pub fn of<I: Image>(images: &'a [I]) -> Result<Payload<'a>> {
        match images {
            [] => bail!("nothing to push: the source holds no image"),
            [one] => Ok(Payload::Image(one)),
            many => Ok(Payload::Index(many.iter().map(|i| i as &dyn Image).collect())),
        }
    }

    fn images(&self) -> Vec<&'a dyn Image> {
        match self {
            Payload::Image(i) => vec![*i],
            Payload::Index(v) => v.clone(),
        }
    }
}

/// What a push did, blob by blob.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Blobs whose bytes were sent, and how many bytes.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Blobs the registry already had in the repository.
    pub existing: usize,
    /// Blobs borrowed from another repository of the registry.
    pub mounted: usize,
    /// Manifests and indexes put (once per tag).
    pub manifests: usize,
}

/// One push session: remembers which repository of each registry holds which blob, so a later
/// image sharing layers with an earlier one mounts them instead of sending them again.
#[derive(Default)]
pub struct Pusher {
    pub auth: RegistryAuth,
    known: BTreeMap<String, String>,
    pub stats: PushStats,
}

/// A blob to make sure of: bytes in memory (a config, an attachment), a layer (read through its reader), or a file
/// (a shared build cache's entry, read from the local cache).
pub(super) enum Blob<'a> {
    Memory { digest: &'a str, data: &'a [u8] },
    Layer { digest: &'a str, layer: &'a Layer },
    File { digest: &'a str, size: u64, path: &'a Path },
}

impl Blob<'_> {
    fn digest(&self) -> &str {
        match self {
            Blob::Memory { digest, .. } => digest,
            Blob::Layer { digest, .. } => digest,
            Blob::File { digest, .. } => digest,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Blob::Memory { data, .. } => data.len() as u64,
            Blob::Layer { layer, .. } => layer.size,
            Blob::File { size, .. } => *size,
        }
    }

    fn reader(&self) -> Result<Box<dyn Read + '_>> {
        Ok(match self {
            Blob::Memory { data, .. } => Box::new(*data),
            Blob::Layer { layer, .. } => layer.blob()?,
            Blob::File { path, .. } => {
                Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
            }
        })
    }
}

/// Whether a response is worth another attempt.
fn transient(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
}

/// Runs `op` until it answers with a non-transient status, at most [`ATTEMPTS`] times.
fn retrying(what: &str, mut op: impl FnMut() -> Result<Response>) -> Result<Response> {
    let mut last = anyhow!("{what}: no attempt made");
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(250 * 2u64.pow(attempt - 1)));
        }
        match op() {
            Ok(resp) if transient(resp.status()) => last = anyhow!("{what}: the registry answered {}", resp.status()),
            Ok(resp) => return Ok(resp),
            // Only the network is worth retrying; a refused credential will be refused again.
            Err(e) if e.chain().any(|c| c.downcast_ref::<reqwest::Error>().is_some()) => {
                last = e.context(what.to_string())
            }
            Err(e) => return Err(e.context(what.to_string())),
        }
    }
    Err(last.context(format!("gave up after {ATTEMPTS} attempts")))
}

fn location(resp: &Response, what: &str) -> Result<String> {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .with_context(|| format!("{what}: the registry sent no upload Location"))
}

/// Appends `digest=` (or another query pair) to an upload URL that may already have a query.
fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={value}")
}

impl Pusher {
    pub fn new(auth: RegistryAuth) -> Pusher {
        Pusher { auth, ..Pusher::default() }
    }

    /// Pushes `what` to `dest` (its reference is the first tag), then tags it with every one of
    /// `tags`. The blobs' bytes go onto `task`. Returns the digest of what was pushed: the
    /// image's manifest, or the index.
    pub fn push(&mut self, what: &Payload<'_>, dest: &RegistryRef, tags: &[String], task: &Task) -> Result<String> {
        let mut reg = Registry::new(dest, &self.auth)?;
        let images = what.images();
        let mut blobs = Vec::new();
        for image in &images {
            blobs.push(layer_blobs(*image)?);
        }
        let total: u64 = images
            .iter()
            .zip(&blobs)
            .map(|(i, layers)| i.config_json().len() as u64 + layers.iter().map(|(_, l)| l.size).sum::<u64>())
            .sum();
        let layers: usize = blobs.iter().map(Vec::len).sum();
        task.step("Pushing", format!("{} image(s), {layers} layer(s) to {dest}", images.len()));
        let bytes = task.transfer("Pushing", &dest.to_string(), total);
        let mut manifests = Vec::new();
        for (image, layers) in images.iter().zip(&blobs) {
            self.push_blob(
                &mut reg,
                &Blob::Memory { digest: image.config_digest(), data: image.config_json() },
                &bytes,
            )?;
            for (digest, layer) in layers {
                self.push_blob(&mut reg, &Blob::Layer { digest, layer }, &bytes)?;
            }
            manifests.push(manifest_of(*image, layers)?);
        }
        drop(bytes);
        let (top_bytes, top_digest, top_type) = match what {
            Payload::Image(_) => manifests.pop().context("a push of one image has its manifest")?,
            Payload::Index(images) => {
                for (json, digest, media_type) in &manifests {
                    self.put_manifest(&mut reg, json, media_type, digest)?;
                }
                let (json, digest) = super::index(images)?;
                (json, digest, MEDIA_TYPE_INDEX.to_string())
            }
        };
        let mut all_tags: Vec<String> = vec![dest.reference.clone()];
        all_tags.extend(tags.iter().filter(|t| **t != dest.reference).cloned());
        for t in &all_tags {
            self.put_manifest(&mut reg, &top_bytes, &top_type, t)?;
        }
        Ok(top_digest)
    }

    pub(super) fn put_manifest(
        &mut self,
        reg: &mut Registry,
        bytes: &[u8],
        media_type: &str,
        reference: &str,
    ) -> Result<()> {
        let url = reg.url("manifests", reference);
        let what = format!("PUT manifest {reference} to {url}");
        let body = bytes.to_vec();
        let resp = retrying(&what, || {
            reg.send(&url, &|c| {
                c.put(&url).header(reqwest::header::CONTENT_TYPE, media_type.to_string()).body(body.clone())
            })
        })?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().unwrap_or_default();
            bail!("{what}: the registry answered {status}: {}", text.trim());
        }
        self.stats.manifests += 1;
        Ok(())
    }

    /// Makes sure the registry's repository has `blob`: already there, mounted, or uploaded
    /// (its bytes counted on `progress` either way).
    pub(super) fn push_blob(&mut self, reg: &mut Registry, blob: &Blob<'_>, progress: &Bytes) -> Result<()> {
        let (digest, size) = (blob.digest(), blob.size());
        let repo = reg.reference().repository.clone();
        let host = reg.reference().host.clone();
        let key = format!("{host}/{digest}");
        let url = reg.url("blobs", digest);
        let head = retrying(&format!("HEAD {url}"), || reg.send(&url, &|c| c.head(&url)))?;
        if head.status().is_success() {
            self.stats.existing += 1;
            self.known.insert(key, repo);
            progress.add(size);
            return Ok(());
        }
        let uploads = format!("{}/", reg.url("blobs", "uploads"));
        let from = self.known.get(&key).filter(|r| **r != repo).cloned();
        let start_url = match &from {
            Some(other) => with_query(&with_query(&uploads, "mount", digest), "from", other),
            None => uploads.clone(),
        };
        let what = format!("upload of blob {digest} to {host}/{repo}");
        let start = retrying(&what, || reg.send(&start_url, &|c| c.post(&start_url)))?;
        if start.status() == StatusCode::CREATED && from.is_some() {
            self.stats.mounted += 1;
            self.known.insert(key, repo);
            progress.add(size);
            return Ok(());
        }
        if start.status() != StatusCode::ACCEPTED {
            bail!("{what}: the registry answered {} to the upload request", start.status());
        }
        let mut upload = reg.upload_url(&location(&start, &what)?).with_context(|| what.clone())?;
        // The bytes are hashed as they are read, so a blob that changed since the image was
        // read fails here, naming it, before the upload is closed.
        let mut reader = HashReader::new(blob.reader().with_context(|| format!("cannot read blob {digest}"))?);
        let mut offset = 0u64;
        // A small blob goes in the closing PUT; a large one in PATCH chunks before it.
        let mut last = Vec::new();
        while offset < size {
            let mut chunk = vec![0u8; CHUNK.min(size - offset) as usize];
            reader.read_exact(&mut chunk).with_context(|| format!("cannot read blob {digest} at byte {offset}"))?;
            if size <= CHUNK {
                last = chunk;
                break;
            }
            let range = format!("{offset}-{}", offset + chunk.len() as u64 - 1);
            let target = upload.clone();
            let resp = retrying(&what, || {
                reg.send(&target, &|c| {
                    c.patch(&target)
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .header(reqwest::header::CONTENT_RANGE, range.clone())
                        .body(chunk.clone())
                })
            })?;
            if resp.status() != StatusCode::ACCEPTED {
                bail!("{what}: the registry answered {} to the chunk at {range}", resp.status());
            }
            upload = reg.upload_url(&location(&resp, &what)?).with_context(|| what.clone())?;
            offset += chunk.len() as u64;
            progress.add(chunk.len() as u64);
        }
        let trailing = reader.read(&mut [0u8; 1]).with_context(|| format!("cannot read blob {digest}"))?;
        let (actual, n) = reader.finish();
        if actual != digest || trailing != 0 {
            bail!(
                "blob {digest} ({size} bytes) reads as {actual} ({} bytes): it changed since the image was read",
                n + trailing as u64
            );
        }
        let done = with_query(&upload, "digest", digest);
        let sent = last.len() as u64;
        let resp = retrying(&what, || {
            reg.send(&done, &|c| {
                c.put(&done).header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(last.clone())
            })
        })?;
        if resp.status() != StatusCode::CREATED {
            bail!("{what}: the registry answered {} when the upload was closed", resp.status());
        }
        progress.add(sent);
        self.stats.uploaded += 1;
        self.stats.uploaded_bytes += size;
        self.known.insert(key, repo);
        Ok(())
    }
}

/// Credentials for `host` the way the Docker CLI stores them: `credHelpers`/`credsStore` in
/// `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`) name a `docker-credential-*`
/// helper to ask; otherwise `auths.<host>.auth` holds base64 `user:password`. Only the entry for
/// `host` is ever read: the registry that asks gets its own credentials or none.
pub fn docker_config_credentials(host: &str) -> Result<Option<String>> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    match dir {
        // A config that cannot be used (not JSON, a helper that fails) is the job's configuration.
        Some(dir) => credentials_in(&dir, host).map_err(crate::exit::usage),
        None => Ok(None),
    }
}

/// The registry a Docker config key names: `host[:port]`, also when `docker login` wrote it as
/// a URL (`https://host/v1/`).
fn config_key_host(key: &str) -> &str {
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// [`docker_config_credentials`] with the Docker config directory given.
pub fn credentials_in(dir: &Path, host: &str) -> Result<Option<String>> {
    let path = dir.join("config.json");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let config: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let entry = |section: &str| {
        config
            .get(section)
            .and_then(|s| s.as_object())
            .and_then(|m| m.iter().find(|(k, _)| config_key_host(k).eq_ignore_ascii_case(host)).map(|(_, v)| v))
    };
    let helper = entry("credHelpers").or_else(|| config.get("credsStore")).and_then(|h| h.as_str());
    if let Some(helper) = helper {
        return credential_helper(helper, host);
    }
    let auth = entry("auths").and_then(|e| e.get("auth")).and_then(|a| a.as_str());
    match auth {
        None => Ok(None),
        Some(encoded) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .with_context(|| format!("{}: auths.{host}.auth is not base64", path.display()))?;
            let creds = String::from_utf8(bytes).with_context(|| format!("{}: auths.{host}.auth", path.display()))?;
            if !creds.contains(':') {
                bail!("{}: auths.{host}.auth is not user:password", path.display());
            }
            Ok(Some(creds))
        }
    }
}

/// Asks `docker-credential-<helper> get` for `host`, as the Docker CLI does.
fn credential_helper(helper: &str, host: &str) -> Result<Option<String>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let program = format!("docker-credential-{helper}");
    let mut cmd = Command::new(&program);
    // The helper gets the environment it may need (a keyring's socket, its own settings), but
    // not a private key handed to lucid in a variable (`--sign env://NAME`).
    for (name, value) in std::env::vars_os() {
        if value.to_string_lossy().contains("PRIVATE KEY-----") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run the credential helper {program}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(host.as_bytes())
        .with_context(|| format!("cannot talk to {program}"))?;
    let out = child.wait_with_output().with_context(|| format!("{program} failed"))?;
    if !out.status.success() {
        // Helpers say "credentials not found" with a non-zero exit: anonymous, then.
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).with_context(|| format!("{program} sent malformed JSON"))?;
    let user = v.get("Username").and_then(|u| u.as_str()).unwrap_or_default();
    let secret = v.get("Secret").and_then(|s| s.as_str()).unwrap_or_default();
    Ok(if user.is_empty() && secret.is_empty() { None } else { Some(format!("{user}:{secret}")) })
}

#[cfg(test)]
mod tests {
    use super::super::image::Manifest;
    use super::*;

    #[test]
    fn upload_queries() {
        assert_eq!(
            with_query("http://h/v2/r/blobs/uploads/", "digest", "sha256:x"),
            "http://h/v2/r/blobs/uploads/?digest=sha256:x"
        );
        assert_eq!(with_query("http://h/u?_state=abc", "digest", "d"), "http://h/u?_state=abc&digest=d");
    }

    #[test]
    fn an_image_without_a_manifest_gets_one_naming_its_blobs_as_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let built = crate::oci::layout::tests::image(&tmp.path().join("layers"), "amd64");
        let file = tmp.path().join("image.tar");
        crate::oci::archive::write_docker_archive(&file, &built, &["x:latest".into()]).unwrap();
        let view = crate::oci::read::open_docker_archive(&file).unwrap();
        assert!(view.manifest.is_none());
        let layers = layer_blobs(&view).unwrap();
        let (json, digest, media_type) = manifest_of(&view, &layers).unwrap();
        assert_eq!((digest, media_type.as_str()), (super::super::digest_of(&json), super::super::MEDIA_TYPE_MANIFEST));
        let m: Manifest = serde_json::from_slice(&json).unwrap();
        assert_eq!(m.config.digest, built.config_digest);
        // The archive's gzip layer has no digest of its own: hashed, it is the built blob's.
        let stored: Vec<&str> = m.layers.iter().map(|l| l.digest.as_str()).collect();
        assert_eq!(stored, built.layers.iter().map(|l| l.digest.as_str()).collect::<Vec<_>>());
        // A built image keeps its own manifest.
        let own = manifest_of(&built, &layer_blobs(&built).unwrap()).unwrap();
        assert_eq!((own.0, own.1), (built.manifest_json.clone(), built.manifest_digest.clone()));
    }

    #[test]
    fn docker_config_auths() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("config.json"), r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYXNz"}}}"#).unwrap();
        assert_eq!(credentials_in(dir.path(), "127.0.0.1:5000").unwrap().as_deref(), Some("user:pass"));
        assert_eq!(credentials_in(dir.path(), "elsewhere:1").unwrap(), None);
        assert_eq!(credentials_in(dir.path(), "127.0.0.1").unwrap(), None, "a port is part of the registry");
        // `docker login` may key an entry by URL; it is still that one host's.
        fs::write(dir.path().join("config.json"), r#"{"auths":{"https://reg.example/v1/":{"auth":"dXNlcjpwYXNz"}}}"#)
            .unwrap();
        assert_eq!(credentials_in(dir.path(), "reg.example").unwrap().as_deref(), Some("user:pass"));
        assert_eq!(credentials_in(dir.path(), "other.example").unwrap(), None);
        fs::write(dir.path().join("config.json"), r#"{"auths":{"h:1":{"auth":"bm9jb2xvbg=="}}}"#).unwrap();
        assert!(credentials_in(dir.path(), "h:1").is_err());
    }
}
