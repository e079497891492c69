//! Cache upkeep: `lucid cache verify` and `lucid cache prune`.
//!
//! The cache is safe by construction (blobs are named by their digest and checked on every read,
//! memos point at blobs, cached directory trees carry the digest they were made with, every write
//! is a rename), so a killed build can only leave temporary files behind, which nothing ever reads.
//! `verify` proves that by re-hashing every blob and every cached tree against its memo; `prune`
//! removes what is unreadable, changed, unreferenced or left over.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use super::cache::{Cache, sha256_hex};
use super::{cachedir, treememo};

/// Memo directories whose files name a blob by its digest on their first line.
const MEMO_KINDS: &[&str] = &["pyc", "deb-data", "layers"];

/// Temporary files younger than this may belong to a build that is still running.
const PARTIAL_GRACE: Duration = Duration::from_secs(3600);

/// What [`verify`] found (or [`prune`] removed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheReport {
    /// Intact blobs and their bytes.
    pub blobs: usize,
    pub bytes: u64,
    /// Memo files pointing at an intact blob.
    pub memos: usize,
    /// Blobs whose content does not match their name.
    pub corrupt: Vec<PathBuf>,
    /// Memo files that point at nothing (harmless: the work is redone).
    pub dangling: Vec<PathBuf>,
    /// Cached directory trees (jlink runtimes) that match the digest their memo records.
    pub trees: usize,
    /// Cached directory trees that do not, and why: a build would not use them (it makes them
    /// again), but something changed them.
    pub tampered: Vec<(PathBuf, String)>,
    /// Temporary files a killed run left (never read).
    pub partial: Vec<PathBuf>,
}

impl CacheReport {
    /// Whether everything the cache would hand out is what its name promises.
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.tampered.is_empty()
    }
}

fn is_partial(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".tmp"))
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot list {}", dir.display())),
    }
}

/// Re-hashes every blob and follows every memo.
pub fn verify(cache: &Cache) -> Result<CacheReport> {
    let mut report = CacheReport::default();
    let blobs = cache.root().join("sha256");
    for path in files(&blobs)? {
        if is_partial(&path) {
            report.partial.push(path);
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let data = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if sha256_hex(&data) == name {
            report.blobs += 1;
            report.bytes += data.len() as u64;
        } else {
            report.corrupt.push(path);
        }
    }
    for kind in MEMO_KINDS {
        for path in files(&cache.root().join(kind))? {
            if is_partial(&path) {
                report.partial.push(path);
                continue;
            }
            let text = fs::read_to_string(&path).unwrap_or_default();
            let digest = text.lines().next().unwrap_or("").trim();
            let target = blobs.join(digest);
            let intact = digest.len() == 64 && target.is_file() && !report.corrupt.contains(&target);
            if intact {
                report.memos += 1;
            } else {
                report.dangling.push(path);
            }
        }
    }
    verify_trees(cache, &mut report)?;
    Ok(report)
}

/// Directories of derived trees, each with a `.tree` memo beside it (see [`treememo`]).
const TREE_KINDS: &[&str] = &["jlink"];

/// Reads every cached tree and checks it against the digest its memo records.
fn verify_trees(cache: &Cache, report: &mut CacheReport) -> Result<()> {
    for kind in TREE_KINDS {
        let dir = cache.root().join(kind);
        let entries = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
        };
        let mut trees: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        trees.retain(|p| !is_partial(p) && fs::symlink_metadata(p).is_ok_and(|m| !m.is_file()));
        trees.sort();
        for path in trees {
            match treememo::check(&path, &crate::rootfs::Origin::Builder)? {
                Ok(_) => report.trees += 1,
                Err(reason) => report.tampered.push((path, reason)),
            }
        }
    }
    Ok(())
}

/// Removes corrupt blobs, dangling memos, temporary files older than an hour (younger ones may
/// belong to a running build) and download locks nobody holds; with `all`, empties the cache.
/// Returns what was removed. (A lock removed just as a build opens it only costs a second
/// download of one blob: stores are atomic renames either way.)
pub fn prune(cache: &Cache, all: bool) -> Result<CacheReport> {
    if all {
        // Cache::open refuses an untagged directory; checked again right before deleting, so no
        // other way of reaching here can empty a directory that is not a lucid cache.
        if !cachedir::is_tagged(cache.root()) {
            return Err(cachedir::UnsafeCache {
                path: cache.root().to_path_buf(),
                reason: format!("it has no {}; not emptying it", cachedir::TAG_FILE),
            }
            .into());
        }
        let report = verify(cache)?;
        for entry in fs::read_dir(cache.root()).with_context(|| format!("cannot list {}", cache.root().display()))? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n == cachedir::TAG_FILE) {
                continue;
            }
            if path.is_dir() {
                fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            } else {
                fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        fs::create_dir_all(cache.root().join("sha256"))?;
        return Ok(report);
    }
    let mut report = verify(cache)?;
    let now = SystemTime::now();
    report.partial.retain(|p| {
        let age = fs::metadata(p).and_then(|m| m.modified()).ok().and_then(|t| now.duration_since(t).ok());
        age.is_some_and(|a| a > PARTIAL_GRACE)
    });
    for path in report.corrupt.iter().chain(&report.dangling).chain(&report.partial) {
        fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    for (path, _) in &report.tampered {
        treememo::discard(path)?;
    }
    if let Ok(locks) = fs::read_dir(cache.root().join("locks")) {
        for lock in locks.flatten() {
            let free = fs::File::open(lock.path()).is_ok_and(|f| f.try_lock().is_ok());
            if free {
                let _ = fs::remove_file(lock.path());
            }
        }
    }
    report.blobs = 0;
    report.bytes = 0;
    report.memos = 0;
    report.trees = 0;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_prunes_damage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let good = cache.put_any(b"good").unwrap();
        let bad = cache.put_any(b"bad").unwrap();
        fs::write(dir.path().join("sha256").join(&bad), b"tampered").unwrap();
        let memos = cache.derived_dir("layers").unwrap();
        fs::write(memos.join("a"), &good).unwrap();
        fs::write(memos.join("b"), "0".repeat(64)).unwrap();
        let partial = dir.path().join("sha256").join(".tmpXYZ");
        fs::write(&partial, b"half").unwrap();

        let r = verify(&cache).unwrap();
        assert_eq!((r.blobs, r.memos, r.corrupt.len(), r.dangling.len(), r.partial.len()), (1, 1, 1, 1, 1));
        assert!(!r.is_clean());

        let removed = prune(&cache, false).unwrap();
        assert_eq!((removed.corrupt.len(), removed.dangling.len()), (1, 1));
        assert!(removed.partial.is_empty(), "a fresh temporary file may belong to a running build");
        let r = verify(&cache).unwrap();
        assert!(r.is_clean() && r.dangling.is_empty());
        assert_eq!(cache.get(&good).unwrap().as_deref(), Some(&b"good"[..]));

        prune(&cache, true).unwrap();
        assert_eq!(verify(&cache).unwrap(), CacheReport::default());
    }

    #[test]
    fn prune_removes_free_download_locks_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let (held, free) = (sha256_hex(b"held"), sha256_hex(b"free"));
        let _lock = cache.lock_download(&held).unwrap();
        drop(cache.lock_download(&free).unwrap());
        assert!(cache.lock_download("../escape").is_err(), "lock names are digests");
        prune(&cache, false).unwrap();
        assert!(dir.path().join("locks").join(&held).exists());
        assert!(!dir.path().join("locks").join(&free).exists());
        assert!(verify(&cache).unwrap().is_clean());
    }
}
