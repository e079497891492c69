//! A registry (distribution v2 API) as an image source: `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`.
//!
//! Pulling writes the manifest(s), config and layer blobs into a temporary OCI layout, each
//! streamed to disk through a hash check, so memory stays flat whatever the image size, and the
//! rest of lucid reads a pulled image exactly like an `oci:` one (go-containerregistry's
//! `remote` -> `layout` shape).
//!
//! Authentication follows the registry's own `WWW-Authenticate` challenge, and credentials stay
//! with the registry they are for:
//!
//! - every request goes out anonymous first; credentials are looked up only after the registry
//!   answers 401, and only for that registry's `host[:port]`: the explicit ones
//!   ([`RegistryAuth::host`] names the registry they belong to; bound to no host, they go
//!   nowhere), else the Docker CLI's per-host entry (`credHelpers`, `credsStore`, `auths`);
//! - an `Authorization` header is attached only to URLs on the registry's own origin (scheme,
//!   host and port): redirects elsewhere (a blob on a storage backend) are followed without it
//!   (reqwest drops it on any change of origin), a push whose upload `Location` names another
//!   origin is refused ([`Registry::upload_url`]); a redirect from https to plain http is
//!   refused, and writes (PUT, PATCH, POST) follow no redirect at all;
//! - a bearer challenge's token realm may be on another host (Docker Hub's is), as the protocol
//!   has it, but only over https; a plain-http realm is accepted only when the registry itself is
//!   plain http (loopback, or `--insecure-registry`), never after an https registry (no
//!   https-to-http step), and it gets credentials only on the registry's own origin.
//!
//! There is no default registry host: the reference must name one.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::blocking::{Client, RequestBuilder, Response};

use super::image::{Descriptor, Index, Manifest};
use super::{
    ANNOTATION_REF_NAME, HashWriter, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST, digest_hex, digest_of,
};
use crate::fetch::redact_url;

/// Manifests and indexes are small; anything larger is refused rather than buffered.
const MAX_MANIFEST_BYTES: u64 = 8 << 20;
/// What we ask for: OCI and Docker manifests and indexes.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json, \
                      application/vnd.docker.distribution.manifest.v2+json";

pub use super::reference::RegistryRef;

/// The environment variable lucid reads registry credentials (`USER:PASSWORD`) from.
pub const CREDS_ENV: &str = "LUCID_REGISTRY_CREDS";
/// The environment variable lucid reads a registry bearer token from.
pub const TOKEN_ENV: &str = "LUCID_REGISTRY_TOKEN";

/// A password or token: usable, never shown (`{:?}` prints `<redacted>`), so no debug print or
/// error of a struct holding one can leak it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to reach registries, and which credentials belong to which.
#[derive(Clone, Debug, Default)]
pub struct RegistryAuth {
    /// The registry (`host[:port]`) that `credentials` and `token` are for; with none they are
    /// sent nowhere.
    pub host: Option<String>,
    /// `user:password`, sent to that registry's token realm or as HTTP basic when it asks.
    pub credentials: Option<Secret>,
    /// A ready bearer token for that registry (sent as is when it asks, no exchange).
    pub token: Option<Secret>,
    /// Ask the Docker CLI configuration (`$DOCKER_CONFIG` or `~/.docker/config.json`) for the
    /// credentials of a registry that asks for some and has none given here.
    pub docker_config: bool,
    /// Allow plain HTTP (always allowed on loopback hosts).
    pub insecure: bool,
}

/// A registry wants credentials that lucid has none of for it, or refused the ones it has: a
/// usage or configuration problem (the CLI's exit 3), not an unreadable image. Found by
/// downcasting anywhere in an error's chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CredentialsNeeded(pub String);

/// What a registry gets once it asks: a user and password, or a ready token.
#[derive(Clone, Debug)]
enum Credential {
    Basic(String, Secret),
    Token(Secret),
}

impl RegistryAuth {
    /// Whether `host` is the registry the explicit credentials are bound to (names compared
    /// without case; a port is part of the registry: `h:5000` is not `h`).
    pub fn is_for(&self, host: &str) -> bool {
        self.host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(host))
    }

    /// The credentials `host` may receive: the explicit ones if they are bound to it, else the
    /// Docker CLI's entry for it.
    fn credential_for(&self, host: &str) -> Result<Option<Credential>> {
        if self.is_for(host) {
            if let Some(t) = &self.token {
                return Ok(Some(Credential::Token(t.clone())));
            }
            if let Some(c) = &self.credentials {
                return basic(c.expose()).map(Some);
            }
        }
        if self.docker_config
            && let Some(c) = super::push::docker_config_credentials(host)?
        {
            return basic(&c).map(Some);
        }
        Ok(None)
    }

    /// Why a registry that asked got nothing, for the error.
    fn missing_hint(&self, host: &str) -> String {
        match &self.host {
            _ if self.credentials.is_none() && self.token.is_none() => format!(
                "give --creds USER:PASSWORD (or LUCID_REGISTRY_CREDS) with --registry {host}, or `docker login {host}`"
            ),
            None => format!(
                "the credentials given (--creds, LUCID_REGISTRY_CREDS, --registry-token) are bound to no registry: \
                 name it with --registry {host} (LUCID_REGISTRY)"
            ),
            Some(other) => format!(
                "the credentials given are for {other}, and lucid sends them to no other registry \
                 (--registry {host} if they are for this one)"
            ),
        }
    }
}

/// `user:password` as a credential.
fn basic(c: &str) -> Result<Credential> {
    match c.split_once(':') {
        Some((u, p)) => Ok(Credential::Basic(u.to_string(), Secret::new(p))),
        None => bail!("registry credentials must be USER:PASSWORD"),
    }
}

/// Whether two URLs share an origin: scheme, host and port.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether a token realm at `realm` may be used by the registry at `registry`, and with the
/// credentials: https anywhere (the registry named it, as the protocol has it); plain http only
/// when the registry itself is plain http (loopback or `--insecure-registry`: never an
/// https-to-http step), and with credentials only on the registry's own origin.
fn realm_gets_credentials(registry: &Url, realm: &Url) -> Result<bool> {
    match realm.scheme() {
        "https" => Ok(true),
        "http" if registry.scheme() == "http" => Ok(same_origin(registry, realm)),
        "http" => bail!(
            "the registry at {} names a plain-http token realm {}: refused (no https-to-http step)",
            registry.origin().ascii_serialization(),
            redact_url(realm.as_str())
        ),
        other => bail!("the token realm {} has the unsupported scheme {other:?}", redact_url(realm.as_str())),
    }
}

/// A pull or push session against one repository: remembers what the registry asked for.
pub struct Registry {
    /// GET and HEAD: redirects followed (see [`Registry::new`]).
    client: Client,
    /// Every other method: no redirect followed.
    writer: Client,
    base: Url,
    r: RegistryRef,
    auth: RegistryAuth,
    /// What this registry gets, looked up after its first challenge.
    credential: Option<Credential>,
    /// The `Authorization` header value the registry accepted or handed out, sent to its origin.
    authorization: Option<Secret>,
}

impl Registry {
    pub fn new(r: &RegistryRef, auth: &RegistryAuth) -> Result<Registry> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = || {
            Client::builder()
                .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(20))
                .timeout(Duration::from_secs(1800))
        };
        // Reads follow redirects (a blob on a storage backend): reqwest drops Authorization on
        // any change of scheme, host or port, and an https-to-http step is refused outright.
        let client = builder()
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let downgrade = attempt.previous().last().is_some_and(|p| p.scheme() == "https")
                    && attempt.url().scheme() == "http";
                if downgrade {
                    attempt.error("the registry redirects from https to plain http: refused")
                } else if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .context("cannot set up the HTTP client")?;
        // Writes follow none: a redirected PUT or PATCH would carry the image's bytes elsewhere.
        let writer =
            builder().redirect(reqwest::redirect::Policy::none()).build().context("cannot set up the HTTP client")?;
        let scheme = if auth.insecure || r.is_loopback() { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", r.host))
            .with_context(|| format!("docker://{r}: {:?} is not a registry host", r.host))?;
        Ok(Registry { client, writer, base, r: r.clone(), auth: auth.clone(), credential: None, authorization: None })
    }

    pub(crate) fn url(&self, kind: &str, reference: &str) -> String {
        format!("{}v2/{}/{kind}/{reference}", self.base, self.r.repository)
    }

    /// The repository this session talks to.
    pub fn reference(&self) -> &RegistryRef {
        &self.r
    }

    /// The URL an upload continues at: the registry's `Location` header, which may be relative
    /// to the registry. One on another origin (scheme, host or port) is refused: the blob and
    /// the credentials go to the registry being pushed to and nowhere else.
    pub(crate) fn upload_url(&self, location: &str) -> Result<String> {
        let url = self
            .base
            .join(location)
            .with_context(|| format!("the registry's upload Location {:?} is not a URL", redact_url(location)))?;
        if !same_origin(&url, &self.base) {
            bail!(
                "the registry {} sent an upload Location on another origin ({}): refused, lucid sends blobs and \
                 credentials only to the registry it pushes to",
                self.base.origin().ascii_serialization(),
                url.origin().ascii_serialization()
            );
        }
        Ok(url.to_string())
    }

    /// GET; on a 401, answers the challenge once and retries.
    fn get(&mut self, url: &str, accept: Option<&str>) -> Result<Response> {
        self.send(url, &|c: &Client| {
            let req = c.get(url);
            match accept {
                Some(a) => req.header(reqwest::header::ACCEPT, a),
                None => req,
            }
        })
    }

    /// Sends the request `make` builds: anonymous until the registry has asked for
    /// credentials, and with an `Authorization` header only when it goes to the registry's own
    /// origin. On a 401 from that origin, answers the challenge (bearer token or basic) once and
    /// sends it again. `make` is called per attempt so a body can be sent twice.
    pub(crate) fn send(&mut self, url: &str, make: &dyn Fn(&Client) -> RequestBuilder) -> Result<Response> {
        let shown = redact_url(url);
        let build = |s: &Registry| -> Result<reqwest::blocking::Request> {
            let mut req = make(&s.client).build().with_context(|| format!("cannot build a request for {shown}"))?;
            if let Some(value) = &s.authorization
                && same_origin(req.url(), &s.base)
            {
                let mut header = reqwest::header::HeaderValue::from_str(value.expose())
                    .context("the registry credentials hold characters no HTTP header can")?;
                header.set_sensitive(true);
                req.headers_mut().insert(reqwest::header::AUTHORIZATION, header);
            }
            Ok(req)
        };
        let execute = |s: &Registry, req: reqwest::blocking::Request| {
            let reads = matches!(*req.method(), reqwest::Method::GET | reqwest::Method::HEAD);
            (if reads { &s.client } else { &s.writer }).execute(req).map_err(|e| reach(e, &shown))
        };
        let resp = execute(self, build(self)?)?;
        if resp.status() != StatusCode::UNAUTHORIZED || !same_origin(resp.url(), &self.base) {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        self.answer(&challenge).with_context(|| format!("{shown}: the registry asks for authentication"))?;
        let resp = execute(self, build(self)?)?;
        if resp.status() == StatusCode::UNAUTHORIZED && same_origin(resp.url(), &self.base) {
            return Err(CredentialsNeeded(format!("{shown}: the registry refused the credentials it asked for")).into());
        }
        Ok(resp)
    }

    /// Handles a `WWW-Authenticate` challenge: looks up this registry's credentials, then gets
    /// a bearer token (from the realm, or the one given) or settles on basic auth.
    fn answer(&mut self, challenge: &str) -> Result<()> {
        let host = self.r.host.clone();
        if self.credential.is_none() {
            self.credential = self.auth.credential_for(&host)?;
        }
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let Some(Credential::Basic(user, password)) = &self.credential else {
                let hint = self.auth.missing_hint(&host);
                return Err(CredentialsNeeded(format!("it wants a user and password: {hint}")).into());
            };
            if self.authorization.is_some() {
                return Err(CredentialsNeeded("the credentials were refused".into()).into());
            }
            let encoded = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{user}:{}", password.expose()),
            );
            self.authorization = Some(Secret::new(format!("Basic {encoded}")));
            return Ok(());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            bail!("unsupported authentication challenge {challenge:?}");
        }
        if let Some(Credential::Token(t)) = &self.credential {
            if self.authorization.is_some() {
                return Err(CredentialsNeeded("the token was refused".into()).into());
            }
            self.authorization = Some(Secret::new(format!("Bearer {}", t.expose())));
            return Ok(());
        }
        let params = parse_challenge(params);
        let realm = params.get("realm").with_context(|| format!("bearer challenge without a realm: {challenge:?}"))?;
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(service) = params.get("service") {
            query.push(("service", service.clone()));
        }
        query.push(("scope", params.get("scope").cloned().unwrap_or(format!("repository:{}:pull", self.r.repository))));
        let shown = redact_url(realm);
        let url =
            Url::parse_with_params(realm, &query).with_context(|| format!("the token realm {shown:?} is not a URL"))?;
        let with_credentials = realm_gets_credentials(&self.base, &url)?;
        let mut req = self.client.get(url);
        match &self.credential {
            Some(Credential::Basic(user, password)) if with_credentials => {
                req = req.basic_auth(user, Some(password.expose()));
            }
            Some(Credential::Basic(..)) => bail!(
                "the token realm {shown} is plain http on another origin than the registry: lucid sends it no \
                 credentials"
            ),
            _ => {}
        }
        let resp = req.send().map_err(|e| reach(e, &format!("the token service {shown}")))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            // Like a basic challenge: the job's credentials are missing or refused (exit 3).
            let why = match &self.credential {
                None => format!("the token service {shown} answered {status} ({})", self.auth.missing_hint(&host)),
                Some(_) => format!("the token service {shown} refused the credentials ({status})"),
            };
            return Err(CredentialsNeeded(why).into());
        }
        if !status.is_success() {
            bail!("the token service {shown} answered {status}");
        }
        let mut text = Vec::new();
        resp.take(MAX_MANIFEST_BYTES).read_to_end(&mut text).with_context(|| format!("cannot read from {shown}"))?;
        let body: serde_json::Value =
            serde_json::from_slice(&text).with_context(|| format!("the token service {shown} sent malformed JSON"))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .with_context(|| format!("the token service {shown} sent no token"))?;
        self.authorization = Some(Secret::new(format!("Bearer {token}")));
        Ok(())
    }

    /// Fetches a manifest or index by tag or digest; returns its bytes, media type and digest.
    pub fn manifest(&mut self, reference: &str) -> Result<(Vec<u8>, String, String)> {
        match self.manifest_if_any(reference)? {
            Some(found) => Ok(found),
            None => bail!(
                "{}: the registry answered 404 Not Found (no such repository or tag)",
                self.url("manifests", reference)
            ),
        }
    }

    /// [`Registry::manifest`], or `None` when the registry has no such repository or tag.
    pub fn manifest_if_any(&mut self, reference: &str) -> Result<Option<(Vec<u8>, String, String)>> {
        let url = self.url("manifests", reference);
        let resp = self.get(&url, Some(ACCEPT))?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            bail!("{url}: the registry answered {status}");
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
        Ok(Some((body, media_type, digest)))
    }

    /// Streams blob `digest` into `path` through a hash check; a mismatch leaves no file. The
    /// descriptor says the blob is `size` bytes: a registry that announces or sends more is cut
    /// off there, so a hostile one cannot fill the disk.
    pub fn blob_to(&mut self, digest: &str, size: u64, path: &Path) -> Result<u64> {
        let dir = path.parent().with_context(|| format!("{} has no parent", path.display()))?;
        let tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let n = self.blob_into(digest, size, &mut out)?;
        out.into_inner().map_err(|e| anyhow!(e.into_error())).with_context(|| format!("cannot write blob {digest}"))?;
        tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot store blob {digest}"))?;
        Ok(n)
    }

    /// Blob `digest` as the registry sends it, at most `bound` + 1 bytes, unchecked: for a caller
    /// that checks it against digests of its own (the build cache's reader, `fetch::Fetcher`),
    /// so that a mismatch is its error, and only a failure to get the bytes is this one's.
    pub fn blob_raw(&mut self, digest: &str, bound: u64) -> Result<Vec<u8>> {
        digest_hex(digest)?;
        let url = self.url("blobs", digest);
        let resp = self.get(&url, None)?;
        if !resp.status().is_success() {
            bail!("{url}: the registry answered {}", resp.status());
        }
        let mut out = Vec::new();
        resp.take(bound + 1)
            .read_to_end(&mut out)
            .with_context(|| format!("cannot download blob {digest} from {url}"))?;
        Ok(out)
    }

    /// Streams blob `digest` into `out`, at most `size` bytes (more is cut off and an error),
    /// and fails unless what came hashes to `digest`: `out` then holds bytes to throw away.
    fn blob_into(&mut self, digest: &str, size: u64, out: &mut dyn Write) -> Result<u64> {
        digest_hex(digest)?;
        let url = self.url("blobs", digest);
        let resp = self.get(&url, None)?;
        if !resp.status().is_success() {
            bail!("{url}: the registry answered {}", resp.status());
        }
        if let Some(announced) = resp.content_length()
            && announced > size
        {
            bail!("blob {digest}: the registry announces {announced} bytes, more than the {size} its descriptor says");
        }
        let mut out = HashWriter::new(out);
        std::io::copy(&mut resp.take(size + 1), &mut out)
            .with_context(|| format!("cannot download blob {digest} from {url}"))?;
        let (_, actual, n) = out.finish();
        if n > size {
            bail!("blob {digest}: the registry sent more than the {size} bytes its descriptor says; cut off");
        }
        if actual != digest {
            bail!("{url}: the registry sent {n} bytes whose digest is {actual}, not {digest}");
        }
        Ok(n)
    }
}

/// A transport error naming `shown` (redacted), not the URL reqwest would print with it.
fn reach(e: reqwest::Error, shown: &str) -> anyhow::Error {
    anyhow::Error::new(e.without_url()).context(format!("cannot reach {shown}"))
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
                reg.blob_to(&blob.digest, blob.size, &path)?;
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

    #[test]
    fn token_realms_https_anywhere_plain_http_only_at_home() {
        let u = |s: &str| Url::parse(s).unwrap();
        let https_reg = u("https://reg.example/");
        let http_reg = u("http://127.0.0.1:5000/");
        // The registry named it: an https realm on another host (Docker Hub's) gets credentials.
        assert!(realm_gets_credentials(&https_reg, &u("https://auth.example/token")).unwrap());
        // Never an https-to-http step, with or without credentials.
        assert!(realm_gets_credentials(&https_reg, &u("http://reg.example/token")).is_err());
        // A plain-http registry (loopback, --insecure-registry): its own origin only.
        assert!(realm_gets_credentials(&http_reg, &u("http://127.0.0.1:5000/token")).unwrap());
        assert!(!realm_gets_credentials(&http_reg, &u("http://127.0.0.1:5001/token")).unwrap());
        assert!(!realm_gets_credentials(&http_reg, &u("http://evil.example:5000/token")).unwrap());
        assert!(realm_gets_credentials(&http_reg, &u("ftp://127.0.0.1:5000/token")).is_err());
        assert!(same_origin(&u("https://h.example/a"), &u("https://h.example:443/b")));
        assert!(!same_origin(&u("https://h.example/a"), &u("http://h.example/a")));
    }

    #[test]
    fn credentials_are_bound_to_one_registry_and_never_shown() {
        let auth = RegistryAuth {
            host: Some("Reg.Example:5000".into()),
            credentials: Some(Secret::new("alice:lucid-test-secret-unit")),
            ..RegistryAuth::default()
        };
        assert!(auth.is_for("reg.example:5000"));
        assert!(!auth.is_for("reg.example"), "a port is part of the registry");
        assert!(matches!(auth.credential_for("reg.example:5000").unwrap(), Some(Credential::Basic(..))));
        assert!(auth.credential_for("evil.example").unwrap().is_none());
        assert!(RegistryAuth { host: None, ..auth.clone() }.credential_for("reg.example:5000").unwrap().is_none());
        assert!(!format!("{auth:?}").contains("lucid-test-secret"), "{auth:?}");
    }
}
