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

pub use cache::{Cache, file_sha256, sha256_hex, write_atomic};
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

/// Another place that may hold a blob, asked after the local cache and before the origin (the
/// mirror, the package index): a shared build cache (`oci::buildcache`: a registry). Its blobs
/// are trusted with nothing: whatever it returns is checked by the [`Fetcher`] against the
/// SHA-256 (and size) the lock, a signed index or a signed image record promised, exactly as a
/// download is, and a mismatch is an error, never a blob. Its image records are trusted only
/// through a signature by a key the build was given ([`Remote::image_record`]).
pub trait Remote: Send + Sync {
    /// Where it is, for messages (`docker://HOST/REPO:TAG`).
    fn name(&self) -> String;
    /// The bytes held under `sha256` (about `size` of them when known: the fetcher checks the
    /// size and digest), or `None` when it holds no such blob or could not give it (the origin
    /// is asked then). An error stops the build.
    fn get(&self, sha256: &str, size: Option<u64>) -> Result<Option<Vec<u8>>>;
    /// The record of a whole image (`build::memo`) filed under `key`, the key of its inputs,
    /// once a signature by a key this build trusts has vouched for it: nothing in the lock could
    /// check a record or its layers (the layers are then checked against the record's digests).
    /// `None` when the remote holds none or was given no key to check them with; an error (a
    /// record no trusted key signed) stops the build.
    fn image_record(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let _ = key;
        Ok(None)
    }
}

#[derive(Clone)]
pub struct Fetcher {
    pub cache: Cache,
    pub http: Http,
    /// Shared build caches asked, in order, before the origin (`lucid build --cache-from`).
    pub remotes: Vec<Arc<dyn Remote>>,
}

/// Parallel downloads: the mirror and the index serve many small files, so a few connections
/// at once hide the latency without hammering anyone.
const PARALLEL: usize = 6;

impl Fetcher {
    pub fn new(cache: Cache) -> Result<Fetcher> {
        Ok(Fetcher { cache, http: Http::new()?, remotes: Vec::new() })
    }

    /// Checks `data`, which `from` gave for `want`, against the size and SHA-256 it must have.
    fn check(want: &Want, data: &[u8], from: &str) -> Result<()> {
        if let Some(size) = want.size
            && data.len() as u64 != size
        {
            bail!("{}: {from} gave {} bytes, expected {size}", want.label, data.len());
        }
        let actual = sha256_hex(data);
        if actual != want.sha256 {
            bail!("{}: SHA-256 mismatch for {from}: expected {}, got {actual}", want.label, want.sha256);
        }
        Ok(())
    }

    /// The blob `want` names from the local cache, else from the first remote that holds it
    /// (checked, then kept in the local cache); `None` when neither has it. A remote that gives
    /// other bytes than promised is an error naming it: a poisoned shared cache stops the build
    /// rather than being skipped quietly.
    pub fn stored(&self, want: &Want) -> Result<Option<Vec<u8>>> {
        if let Some(data) = self.cache.get(&want.sha256)? {
            return Ok(Some(data));
        }
        for remote in &self.remotes {
            let name = remote.name();
            let got = remote.get(&want.sha256, want.size).with_context(|| {
                format!("{}: cannot read sha256:{} from the build cache {name}", want.label, want.sha256)
            })?;
            if let Some(data) = got {
                Self::check(want, &data, &format!("the build cache {name}")).context(
                    "a blob of the build cache does not match the digest the lock (or a signed image record) gives \
                     it: refused (the cache entry was tampered with or damaged; nothing is built from it)",
                )?;
                self.cache.put(&want.sha256, &data)?;
                return Ok(Some(data));
            }
        }
        Ok(None)
    }

    /// The bytes of `want`, from the cache when it holds them intact, else downloaded, checked
    /// against the expected SHA-256 (and size), and cached.
    pub fn fetch(&self, want: &Want, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>> {
        let cached = || -> Result<Option<Vec<u8>>> {
            let data = self.stored(want)?;
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
        let data = self.http.get_sized(&want.url, None, want.size, on_bytes).map_err(|e| {
            if e.downcast_ref::<http::Gone>().is_some() {
                // Debian's mirrors drop a security update once a newer one supersedes it: an
                // older lock then builds only from a cache that kept the file.
                e.context(format!(
                    "cannot download {}: its source no longer serves it; a cache that holds it can still \
                         build this lock (LUCID_CACHE, or --cache-from type=registry,ref=HOST/REPO; see \
                         docs/supply-chain.md)",
                    want.label
                ))
            } else {
                e.context(format!("cannot download {}", want.label))
            }
        })?;
        Self::check(want, &data, &redact_url(&want.url))?;
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
        in_parallel(wants, PARALLEL, |want| self.fetch(want, &|n| bytes.add(n)).map(Arc::new))
    }

    /// Makes sure every one of `wants` is in the local cache, taking it from a shared build cache
    /// where it is not ([`Self::stored`]; never from the origin), `threads` at a time (each blob is
    /// held in memory while it is checked), counting bytes on `progress`'s line as `WHAT`: whether
    /// every one was found. A remote that gives other bytes than promised is an error, which stops
    /// the rest; a blob not found does not.
    pub fn stored_all(&self, what: &str, wants: &[Want], threads: usize, progress: &Task) -> Result<bool> {
        let total: u64 = wants.iter().filter_map(|w| w.size).sum();
        let bytes = progress.bytes(what, total);
        let found = in_parallel(wants, threads, |want| {
            Ok(self.stored(want)?.map(|data| bytes.add(data.len() as u64)).is_some())
        })?;
        Ok(found.into_iter().all(|f| f))
    }
}

/// `each` of `wants` on up to `threads` threads, the results in the same order. The first error
/// stops the rest (no new item is started) and is returned.
fn in_parallel<T: Send>(wants: &[Want], threads: usize, each: impl Fn(&Want) -> Result<T> + Sync) -> Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(std::iter::repeat_with(|| None).take(wants.len()).collect());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.min(wants.len()) {
            s.spawn(|| {
                loop {
                    if failure.lock().unwrap().is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(want) = wants.get(i) else { return };
                    match each(want) {
                        Ok(r) => results.lock().unwrap()[i] = Some(r),
                        Err(e) => {
                            failure.lock().unwrap().get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap().into_iter().map(|r| r.expect("every item done")).collect())
}
