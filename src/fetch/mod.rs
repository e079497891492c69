//! Verified downloads: every artefact is named by the SHA-256 that a signed index (or the lock)
//! promised for it, fetched once into the content-addressed [`Cache`], and checked on every read.

pub mod cache;
pub mod cachedir;
pub mod http;
pub mod maintain;
pub mod treememo;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

use crate::progress::Task;

pub use cache::{Cache, sha256_hex, write_atomic};
pub use http::{Http, join_url, redact_url};

/// One artefact to fetch: where from, what it must hash to, and a name for messages.
#[derive(Clone, Debug)]
pub struct Want {
    pub url: String,
    pub sha256: String,
    pub size: Option<u64>,
    /// What the user knows this as (`python3.11-minimal 3.11.2-6+deb12u6`, `requests-2.32.3-py3-none-any.whl`).
    pub label: String,
}

#[derive(Clone)]
pub struct Fetcher {
    pub cache: Cache,
    pub http: Http,
}

/// Parallel downloads: the mirror and the index serve many small files, so a few connections
/// at once hide the latency without hammering anyone.
const PARALLEL: usize = 6;

impl Fetcher {
    pub fn new(cache: Cache) -> Result<Fetcher> {
        Ok(Fetcher { cache, http: Http::new()? })
    }

    /// The bytes of `want`, from the cache when it holds them intact, else downloaded, checked
    /// against the expected SHA-256 (and size), and cached.
    pub fn fetch(&self, want: &Want, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>> {
        let cached = || -> Result<Option<Vec<u8>>> {
            let data = self.cache.get(&want.sha256)?;
            if let Some(d) = &data {
                on_bytes(d.len() as u64);
            }
            Ok(data)
        };
        if let Some(data) = cached()? {
            return Ok(data);
        }
        http::check_scheme(&want.url)?;
        // Another build may be downloading it right now: wait for it, then look again.
        let _downloading = self.cache.lock_download(&want.sha256)?;
        if let Some(data) = cached()? {
            return Ok(data);
        }
        let data = self
            .http
            .get_sized(&want.url, None, want.size, on_bytes)
            .with_context(|| format!("cannot download {}", want.label))?;
        if let Some(size) = want.size
            && data.len() as u64 != size
        {
            bail!("{}: {} is {} bytes, the index says {size}", want.label, redact_url(&want.url), data.len());
        }
        let actual = sha256_hex(&data);
        if actual != want.sha256 {
            bail!(
                "{}: SHA-256 mismatch for {}: expected {}, got {actual}",
                want.label,
                redact_url(&want.url),
                want.sha256
            );
        }
        self.cache.put(&want.sha256, &data)?;
        Ok(data)
    }

    /// Fetches all of `wants` with a few parallel connections, counting bytes on `progress`'s
    /// line as `Fetching WHAT`, and returns the bytes in the same order. The first failure stops
    /// the rest and is returned.
    pub fn fetch_all(&self, what: &str, wants: &[Want], progress: &Task) -> Result<Vec<Arc<Vec<u8>>>> {
        if wants.is_empty() {
            return Ok(Vec::new());
        }
        let total: u64 = wants.iter().filter_map(|w| w.size).sum();
        let bytes = progress.bytes(what, total);
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Arc<Vec<u8>>>>> = Mutex::new(vec![None; wants.len()]);
        let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..PARALLEL.min(wants.len()) {
                s.spawn(|| {
                    loop {
                        if failure.lock().unwrap().is_some() {
                            return;
                        }
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(want) = wants.get(i) else { return };
                        match self.fetch(want, &|n| bytes.add(n)) {
                            Ok(data) => results.lock().unwrap()[i] = Some(Arc::new(data)),
                            Err(e) => {
                                failure.lock().unwrap().get_or_insert(e);
                                return;
                            }
                        }
                    }
                });
            }
        });
        drop(bytes);
        if let Some(e) = failure.into_inner().unwrap() {
            return Err(e);
        }
        Ok(results.into_inner().unwrap().into_iter().map(|r| r.expect("every item fetched")).collect())
    }
}
