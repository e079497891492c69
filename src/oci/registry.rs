//! A registry (distribution v2 API) as an image source: `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`.
//!
//! Pulling writes the manifest(s), config and layer blobs into a temporary OCI layout, each
//! streamed to disk through a hash check, so memory stays flat whatever the image size, and the
//! rest of lucid reads a pulled image exactly like an `oci:` one (go-containerregistry's
//! `remote` -> `layout` shape).
//!
//! Authentication follows the registry's own `WWW-Authenticate` challenge: anonymous first, then
//! a bearer token from the named realm (with credentials when given), or HTTP basic. There is no
//! default registry host: the reference must name one.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};

use super::image::{Descriptor, Index, Manifest};
use super::{
    ANNOTATION_REF_NAME, HashWriter, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST, digest_hex, digest_of,
};

/// Manifests and indexes are small; anything larger is refused rather than buffered.
const MAX_MANIFEST_BYTES: u64 = 8 << 20;
/// What we ask for: OCI and Docker manifests and indexes.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json, \
                      application/vnd.docker.distribution.manifest.v2+json";

pub use super::reference::RegistryRef;

/// How to reach a registry.
#[derive(Clone, Debug, Default)]
pub struct RegistryAuth {
    /// `user:password`, sent to a token realm or as HTTP basic when the registry asks.
    pub credentials: Option<String>,
    /// A ready bearer token (sent as is, no exchange).
    pub token: Option<String>,
    /// Allow plain HTTP (always allowed on loopback hosts).
    pub insecure: bool,
}

/// A pull session against one repository: remembers the token the registry handed out.
pub struct Registry {
    client: Client,
    base: String,
    r: RegistryRef,
    auth: RegistryAuth,
    bearer: Option<String>,
}

impl Registry {
    pub fn new(r: &RegistryRef, auth: &RegistryAuth) -> Result<Registry> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(1800))
            .build()
            .context("cannot set up the HTTP client")?;
        let scheme = if auth.insecure || r.is_loopback() { "http" } else { "https" };
        Ok(Registry {
            client,
            base: format!("{scheme}://{}", r.host),
            r: r.clone(),
            bearer: auth.token.clone(),
            auth: auth.clone(),
        })
    }

    pub(crate) fn url(&self, kind: &str, reference: &str) -> String {
        format!("{}/v2/{}/{kind}/{reference}", self.base, self.r.repository)
    }

    /// The repository this session talks to.
    pub fn reference(&self) -> &RegistryRef {
        &self.r
    }

    /// An absolute URL for a `Location` header, which registries may send relative to the host.
    pub(crate) fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}/{}", self.base, location.trim_start_matches('/'))
        }
    }

    /// GET with our credentials; on a 401, answers the challenge once and retries.
    fn get(&mut self, url: &str, accept: Option<&str>) -> Result<Response> {
        self.send(url, &|c: &Client| {
            let req = c.get(url);
            match accept {
                Some(a) => req.header(reqwest::header::ACCEPT, a),
                None => req,
            }
        })
    }

    /// Sends the request `make` builds, with our credentials; on a 401 answers the registry's
    /// challenge (bearer token or basic) once and sends it again. `make` is called per attempt
    /// so a body can be sent twice.
    pub(crate) fn send(&mut self, url: &str, make: &dyn Fn(&Client) -> RequestBuilder) -> Result<Response> {
        let build = |s: &Registry| -> RequestBuilder {
            let req = make(&s.client);
            if let Some(t) = &s.bearer {
                req.bearer_auth(t)
            } else if let Some((u, p)) = s.basic() {
                req.basic_auth(u, Some(p))
            } else {
                req
            }
        };
        let resp = build(self).send().with_context(|| format!("cannot reach the registry at {url}"))?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        self.answer(&challenge).with_context(|| format!("{url}: the registry asks for authentication"))?;
        build(self).send().with_context(|| format!("cannot reach the registry at {url}"))
    }

    fn basic(&self) -> Option<(&str, &str)> {
        self.auth.credentials.as_deref().and_then(|c| c.split_once(':'))
    }

    /// Handles a `WWW-Authenticate` challenge: fetches a bearer token, or checks that basic
    /// credentials exist.
    fn answer(&mut self, challenge: &str) -> Result<()> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            if self.basic().is_none() {
                bail!("it wants a user and password (--creds USER:PASSWORD or LUCID_REGISTRY_CREDS)");
            }
            if self.bearer.is_none() {
                return Ok(());
            }
            bail!("the credentials were refused");
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            bail!("unsupported authentication challenge {challenge:?}");
        }
        let params = parse_challenge(params);
        let realm = params.get("realm").with_context(|| format!("bearer challenge without a realm: {challenge:?}"))?;
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(service) = params.get("service") {
            query.push(("service", service.clone()));
        }
        query.push(("scope", params.get("scope").cloned().unwrap_or(format!("repository:{}:pull", self.r.repository))));
        let url = reqwest::Url::parse_with_params(realm, &query)
            .with_context(|| format!("the token realm {realm:?} is not a URL"))?;
        let mut req = self.client.get(url);
        if let Some((u, p)) = self.basic() {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().with_context(|| format!("cannot reach the token service {realm}"))?;
        if !resp.status().is_success() {
            bail!("the token service {realm} answered {}", resp.status());
        }
        let mut text = Vec::new();
        resp.take(MAX_MANIFEST_BYTES).read_to_end(&mut text).with_context(|| format!("cannot read from {realm}"))?;
        let body: serde_json::Value =
            serde_json::from_slice(&text).with_context(|| format!("the token service {realm} sent malformed JSON"))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .with_context(|| format!("the token service {realm} sent no token"))?;
        self.bearer = Some(token.to_string());
        Ok(())
    }

    /// Fetches a manifest or index by tag or digest; returns its bytes, media type and digest.
    pub fn manifest(&mut self, reference: &str) -> Result<(Vec<u8>, String, String)> {
        let url = self.url("manifests", reference);
        let resp = self.get(&url, Some(ACCEPT))?;
        let status = resp.status();
        if !status.is_success() {
            let what = if status == StatusCode::NOT_FOUND { " (no such repository or tag)" } else { "" };
            bail!("{url}: the registry answered {status}{what}");
        }
        let header_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or("").trim().to_string());
        let mut body = Vec::new();
        resp.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut body).with_context(|| format!("cannot read {url}"))?;
        if body.len() as u64 > MAX_MANIFEST_BYTES {
            bail!("{url}: manifest larger than {MAX_MANIFEST_BYTES} bytes");
        }
        let digest = digest_of(&body);
        if reference.starts_with("sha256:") && digest != reference {
            bail!("{url}: the registry sent a manifest whose digest is {digest}");
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).with_context(|| format!("{url}: the manifest is not JSON"))?;
        let media_type = value
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(String::from)
            .or(header_type)
            .unwrap_or_else(|| MEDIA_TYPE_MANIFEST.to_string());
        Ok((body, media_type, digest))
    }

    /// Streams blob `digest` into `path` through a hash check; a mismatch leaves no file.
    pub fn blob_to(&mut self, digest: &str, path: &Path) -> Result<u64> {
        digest_hex(digest)?;
        let url = self.url("blobs", digest);
        let mut resp = self.get(&url, None)?;
        if !resp.status().is_success() {
            bail!("{url}: the registry answered {}", resp.status());
        }
        let dir = path.parent().with_context(|| format!("{} has no parent", path.display()))?;
        let tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
        let mut out = HashWriter::new(BufWriter::with_capacity(1 << 20, tmp.as_file()));
        std::io::copy(&mut resp, &mut out).with_context(|| format!("cannot download blob {digest} from {url}"))?;
        let (buf, actual, n) = out.finish();
        buf.into_inner().map_err(|e| anyhow!(e.into_error())).with_context(|| format!("cannot write blob {digest}"))?;
        if actual != digest {
            bail!("{url}: the registry sent {n} bytes whose digest is {actual}, not {digest}");
        }
        tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot store blob {digest}"))?;
        Ok(n)
    }
}

/// `realm="https://x/token",service="reg",scope="repository:a:pull"` as a map.
fn parse_challenge(params: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_string());
        rest = tail.trim_start_matches(',').trim();
    }
    out
}

/// Pulls `r` (an image, or every platform of an index) into a new OCI layout at `dir`, tagged
/// with the reference, and returns the tag to open it with.
pub fn pull_to_layout(r: &RegistryRef, auth: &RegistryAuth, dir: &Path) -> Result<String> {
    let mut reg = Registry::new(r, auth)?;
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).with_context(|| format!("cannot create {}", blobs.display()))?;
    let store = |digest: &str, data: &[u8]| -> Result<()> {
        fs::write(blobs.join(digest_hex(digest)?), data).with_context(|| format!("cannot store {digest}"))
    };
    let (top, top_type, top_digest) = reg.manifest(&r.reference)?;
    store(&top_digest, &top)?;
    let mut manifests: Vec<Vec<u8>> = Vec::new();
    if top_type == MEDIA_TYPE_INDEX || top_type == MEDIA_TYPE_DOCKER_LIST {
        let index: Index = serde_json::from_slice(&top).with_context(|| format!("malformed index {top_digest}"))?;
        for d in &index.manifests {
            if d.media_type != MEDIA_TYPE_MANIFEST && d.media_type != MEDIA_TYPE_DOCKER_MANIFEST {
                bail!(
                    "index {top_digest} names {} of type {:?}: nested indexes are not supported",
                    d.digest,
                    d.media_type
                );
            }
            if d.platform.as_ref().is_some_and(|p| p.os == "unknown") {
                continue;
            }
            let (m, _, digest) = reg.manifest(&d.digest)?;
            store(&digest, &m)?;
            manifests.push(m);
        }
    } else {
        manifests.push(top.clone());
    }
    for m in &manifests {
        let manifest: Manifest = serde_json::from_slice(m).context("malformed image manifest")?;
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            let path = blobs.join(digest_hex(&blob.digest)?);
            if !path.exists() {
                reg.blob_to(&blob.digest, &path)?;
            }
        }
    }
    let tag = "pulled";
    let mut annotations = BTreeMap::new();
    annotations.insert(ANNOTATION_REF_NAME.to_string(), tag.to_string());
    // Our reader expects the OCI index media type for nested indexes; a Docker list reads the same.
    let media_type = if top_type == MEDIA_TYPE_DOCKER_LIST { MEDIA_TYPE_INDEX.to_string() } else { top_type };
    let entry = Descriptor { media_type, digest: top_digest, size: top.len() as u64, platform: None, annotations };
    let index = serde_json::to_vec(&Index::new(vec![entry])).context("cannot write index.json")?;
    let mut f = fs::File::create(dir.join("index.json")).context("cannot write index.json")?;
    f.write_all(&index).context("cannot write index.json")?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).context("cannot write oci-layout")?;
    Ok(tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed() {
        let p = parse_challenge(r#"realm="https://auth.example/token",service="reg",scope="repository:a/b:pull""#);
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "reg");
        assert_eq!(p["scope"], "repository:a/b:pull");
        assert!(parse_challenge("").is_empty());
    }
}
