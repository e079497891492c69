//! HTTP downloads: rustls (ring) with the platform trust store, retries with backoff.
//!
//! The platform trust store matters: HTTPS here may pass through an intercepting proxy whose CA
//! only the host trusts. Nothing of the host's trust store ever goes into an image.

use std::io::Read;
use std::sync::Once;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// How many times a transient failure (connection error, 5xx, 429, truncated body) is retried.
const RETRIES: u32 = 4;

static PROVIDER: Once = Once::new();

/// A blocking HTTP client shared by every download of a run.
#[derive(Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
}

/// The outcome of one attempt: either final (a 404 is not going to change) or worth retrying.
enum Attempt {
    Fatal(anyhow::Error),
    Retry(anyhow::Error),
}

impl Http {
    pub fn new() -> Result<Http> {
        PROVIDER.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(600))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Http { client })
    }

    /// GETs `url` and returns the whole body. `on_bytes` is called as the body arrives (for
    /// progress bars). `accept` sets the Accept header when given.
    pub fn get(&self, url: &str, accept: Option<&str>, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>> {
        let mut last = anyhow!("no attempt made");
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 * 2u64.pow(attempt - 1)));
            }
            match self.try_get(url, accept, on_bytes) {
                Ok(body) => return Ok(body),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(e)) => last = e,
            }
        }
        Err(last.context(format!("GET {url} failed after {} attempts", RETRIES + 1)))
    }

    fn try_get(&self, url: &str, accept: Option<&str>, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, Attempt> {
        let mut req = self.client.get(url);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        let mut resp = req.send().map_err(|e| Attempt::Retry(anyhow!("GET {url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let err = anyhow!("GET {url}: HTTP {status}");
            return Err(if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                Attempt::Retry(err)
            } else {
                Attempt::Fatal(err)
            });
        }
        let expected = resp.content_length();
        let mut body = Vec::with_capacity(expected.unwrap_or(0).min(512 << 20) as usize);
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = resp.read(&mut buf).map_err(|e| Attempt::Retry(anyhow!("GET {url}: reading the body: {e}")))?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
            on_bytes(n as u64);
        }
        if let Some(len) = expected
            && body.len() as u64 != len
        {
            return Err(Attempt::Retry(anyhow!("GET {url}: body truncated at {} of {len} bytes", body.len())));
        }
        Ok(body)
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
        bail!("unsupported URL {url:?}: only http:// and https:// are fetched")
    }
}
