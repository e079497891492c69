//! HTTP downloads: rustls (ring) with the platform trust store, retries with backoff.
//!
//! The platform trust store matters: HTTPS here may pass through an intercepting proxy whose CA
//! only the host trusts. Nothing of the host's trust store ever goes into an image.

use std::io::Read;
use std::sync::Once;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// How many times a transient failure (connection error, 5xx, 429, stall, truncated body) is
/// retried by default (`LUCID_HTTP_RETRIES` overrides it).
const RETRIES: u32 = 4;

/// How long one read may wait for the server before the attempt counts as stalled: a mirror that
/// accepts the connection and then sends nothing must not hang a build. `LUCID_HTTP_TIMEOUT`
/// (seconds) overrides it. A slow but moving download is never cut: the clock restarts with every
/// read.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest body fetched when the caller does not know the size (an `InRelease`, a simple
/// index page): far above any real one, low enough that a hostile server cannot fill memory.
pub const MAX_UNSIZED_BODY: u64 = 256 << 20;

static PROVIDER: Once = Once::new();

/// A blocking HTTP client shared by every download of a run.
#[derive(Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
    retries: u32,
    /// First back-off pause; doubled after every failed attempt.
    backoff: Duration,
}

/// The server says the file is not there (HTTP 404 or 410): a source that dropped what a lock
/// names, which waiting will not bring back, unlike a server error.
#[derive(Debug)]
pub struct Gone(String);

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Gone {}

/// The outcome of one attempt: either final (a 404 is not going to change) or worth retrying.
enum Attempt {
    Fatal(anyhow::Error),
    Retry(anyhow::Error),
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            Ok(Some(v.trim().parse::<u64>().with_context(|| format!("{name}={v:?} is not a whole number"))?))
        }
        _ => Ok(None),
    }
}

impl Http {
    pub fn new() -> Result<Http> {
        PROVIDER.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let stall = env_number("LUCID_HTTP_TIMEOUT")?.map_or(STALL_TIMEOUT, Duration::from_secs);
        let retries = env_number("LUCID_HTTP_RETRIES")?.map_or(RETRIES, |n| n.min(20) as u32);
        let backoff = env_number("LUCID_HTTP_BACKOFF_MS")?.map_or(Duration::from_millis(250), Duration::from_millis);
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20).min(stall.max(Duration::from_secs(1))))
            // In the blocking client this bounds sending the request and each read of the body.
            .timeout(stall)
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Http { client, retries, backoff })
    }

    /// A client with an explicit policy instead of the environment's: `stall` per read, `retries`
    /// after the first attempt, `backoff` before the first retry (doubling after).
    pub fn with_policy(stall: Duration, retries: u32, backoff: Duration) -> Result<Http> {
        let mut http = Http::new()?;
        http.client = reqwest::blocking::Client::builder()
            .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(stall)
            .timeout(stall)
            .build()
            .context("cannot set up the HTTP client")?;
        http.retries = retries;
        http.backoff = backoff;
        Ok(http)
    }

    /// GETs `url` and returns the whole body (at most [`MAX_UNSIZED_BODY`] bytes). `on_bytes` is
    /// called as the body arrives (for progress bars). `accept` sets the Accept header when given.
    pub fn get(&self, url: &str, accept: Option<&str>, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>> {
        self.get_sized(url, accept, None, on_bytes)
    }

    /// [`Http::get`] for a body whose size is known (`size`, from a signed index): a server that
    /// announces or sends more is cut off at once instead of being read to the end.
    ///
    /// Transient failures are retried with exponential back-off. When an attempt breaks off after
    /// part of the body arrived, the next one asks for the rest only (`Range: bytes=N-`); a server
    /// that ignores ranges (200 instead of 206) simply sends the whole body again. The caller
    /// checks the SHA-256 of the result, so a resumed body that mixes two versions of a file is
    /// caught there.
    pub fn get_sized(
        &self,
        url: &str,
        accept: Option<&str>,
        size: Option<u64>,
        on_bytes: &dyn Fn(u64),
    ) -> Result<Vec<u8>> {
        let max = size.unwrap_or(MAX_UNSIZED_BODY);
        let mut body = Vec::new();
        let mut last = anyhow!("no attempt made");
        let mut failures = Vec::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(self.backoff * 2u32.saturating_pow(attempt - 1).min(64));
            }
            match self.try_get(url, accept, max, &mut body, on_bytes) {
                Ok(()) => return Ok(body),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(e)) => {
                    failures.push(format!("{e:#}"));
                    last = e;
                }
            }
        }
        let tried = failures.len();
        let url = redact_url(url);
        Err(last.context(format!("GET {url} failed after {tried} attempts ({})", summarize(&failures))))
    }

    /// One attempt: appends to `body` what arrives (resuming when `body` already holds a part).
    fn try_get(
        &self,
        url: &str,
        accept: Option<&str>,
        max: u64,
        body: &mut Vec<u8>,
        on_bytes: &dyn Fn(u64),
    ) -> Result<(), Attempt> {
        let mut req = self.client.get(url);
        // Messages name the URL without its userinfo (reqwest sends that as basic auth).
        let url = &redact_url(url);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        let resume_from = body.len() as u64;
        if resume_from > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={resume_from}-"));
        }
        let mut resp = req.send().map_err(|e| Attempt::Retry(anyhow!("GET {url}: {}", cause(e))))?;
        let status = resp.status();
        if !status.is_success() {
            if matches!(status.as_u16(), 404 | 410) {
                return Err(Attempt::Fatal(Gone(format!("GET {url}: HTTP {status}")).into()));
            }
            let err = anyhow!("GET {url}: HTTP {status}");
            return Err(if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                Attempt::Retry(err)
            } else {
                Attempt::Fatal(err)
            });
        }
        // 206 continues what we have, but only from exactly where we stopped; anything else
        // (200, or a range we did not ask for) starts over.
        let resumed = status.as_u16() == 206
            && resume_from > 0
            && resp
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok())
                == Some(resume_from);
        if !resumed {
            if status.as_u16() == 206 {
                return Err(Attempt::Retry(anyhow!("GET {url}: the server sent a range that was not asked for")));
            }
            body.clear();
        }
        let expected = resp.content_length().map(|n| n + body.len() as u64);
        if let Some(len) = expected
            && len > max
        {
            return Err(Attempt::Fatal(anyhow!(
                "GET {url}: the server announces {len} bytes, more than the {max} expected"
            )));
        }
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = match resp.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let timed_out = e.kind() == std::io::ErrorKind::TimedOut
                        || e.get_ref().and_then(|i| i.downcast_ref::<reqwest::Error>()).is_some_and(|r| r.is_timeout())
                        || chain(&e).contains("timed out");
                    let what = if timed_out { "stalled (no data within the timeout)".to_string() } else { chain(&e) };
                    return Err(Attempt::Retry(anyhow!("GET {url}: reading the body at byte {}: {what}", body.len())));
                }
            };
            if n == 0 {
                break;
            }
            if body.len() as u64 + n as u64 > max {
                return Err(Attempt::Fatal(anyhow!("GET {url}: the body runs past the {max} bytes expected")));
            }
            body.extend_from_slice(&buf[..n]);
            on_bytes(n as u64);
        }
        if let Some(len) = expected
            && body.len() as u64 != len
        {
            return Err(Attempt::Retry(anyhow!("GET {url}: body truncated at {} of {len} bytes", body.len())));
        }
        Ok(())
    }
}

/// The innermost cause of a reqwest error ("connection refused", "operation timed out"), which
/// its Display leaves out. Without the URL reqwest would add, userinfo included: the caller names
/// it, redacted.
fn cause(e: reqwest::Error) -> String {
    chain(&e.without_url())
}

/// An error and all its sources, joined by `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

/// "HTTP 500 x3, body truncated x2": what went wrong across the attempts, for the final error.
fn summarize(failures: &[String]) -> String {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for f in failures {
        let kind = if let Some(i) = f.find("HTTP ") {
            f[i..].split(':').next().unwrap_or("HTTP error").to_string()
        } else if f.contains("stalled") || f.contains("timed out") {
            "stalled".to_string()
        } else if f.contains("truncated") {
            "body truncated".to_string()
        } else {
            "connection failed".to_string()
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    kinds.iter().map(|(k, n)| if *n > 1 { format!("{k} x{n}") } else { k.clone() }).collect::<Vec<_>>().join(", ")
}

/// `url` as it may be shown: any `user:token@` before the host becomes `***@`. Every message,
/// error and progress line that names a URL from outside (a mirror, a package index, a registry's
/// `Location` or token realm) goes through this one function, so credentials written into a URL
/// (`LUCID_INDEX_URL=https://user:token@host/simple`) are used but never printed. Works on text
/// that does not parse as a URL too.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    // The authority ends at `/`, `?` or `#`; but a token holding an unencoded `?` or `#`
    // (`u:p#ss@host`) is still userinfo, so without an `@` there, look on to the first `/`.
    let strict = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let loose = rest.find('/').unwrap_or(rest.len());
    match rest[..strict].rfind('@').or_else(|| rest[..loose].rfind('@')) {
        Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_string(),
    }
}

/// Joins a base URL and a relative path with exactly one slash between them.
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Refuses URL schemes we do not speak, with the URL in the message.
pub fn check_scheme(url: &str) -> Result<()> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        bail!("unsupported URL {:?}: only http:// and https:// are fetched", redact_url(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_never_shown() {
        assert_eq!(redact_url("https://u:lucid-test-secret-x@idx.example/simple/"), "https://***@idx.example/simple/");
        assert_eq!(redact_url("http://tok@h:8080?q=a@b"), "http://***@h:8080?q=a@b");
        assert_eq!(redact_url("https://h.example/a@b/c"), "https://h.example/a@b/c", "an @ in the path is no userinfo");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("https://u:p#lucid-test-secret-x@idx.example/s"), "https://***@idx.example/s");
        assert_eq!(redact_url("https://u:p?lucid-test-secret-x@idx.example"), "https://***@idx.example");
        let err = check_scheme("ftp://u:lucid-test-secret-y@h/").unwrap_err().to_string();
        assert!(!err.contains("lucid-test-secret"), "{err}");
    }
}
