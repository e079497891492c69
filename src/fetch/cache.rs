//! A content-addressed download cache: `<root>/sha256/<hex>`.
//!
//! Every blob is named by its SHA-256 and checked again when read, so a corrupted or tampered
//! cache entry is never used: it is deleted and fetched anew. Writes go to a temporary file in
//! the same directory and are renamed into place, so concurrent builds sharing one cache and a
//! build killed mid-write never leave a partial blob under a real name.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of the file at `path`, read in a stream; `None` when it cannot be read.
pub fn file_sha256(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf).ok()? {
            0 => return Some(hex::encode(h.finalize())),
            n => h.update(&buf[..n]),
        }
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache named by `$LUCID_CACHE`, else `$XDG_CACHE_HOME/lucid`, else `~/.cache/lucid`.
    pub fn from_env() -> Result<Cache> {
        let root = if let Some(dir) = std::env::var_os("LUCID_CACHE").filter(|v| !v.is_empty()) {
            PathBuf::from(dir)
        } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            PathBuf::from(dir).join("lucid")
        } else if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            PathBuf::from(home).join(".cache").join("lucid")
        } else {
            bail!("no cache directory: set LUCID_CACHE or HOME");
        };
        Cache::open(root)
    }

    /// Opens (or creates) the cache at `root`, which must be private to this user and tagged as
    /// lucid's (see [`super::cachedir`]: an unfit directory is an [`super::cachedir::UnsafeCache`]).
    pub fn open(root: impl Into<PathBuf>) -> Result<Cache> {
        let root = root.into();
        super::cachedir::prepare(&root)?;
        fs::create_dir_all(root.join("sha256"))
            .with_context(|| format!("cannot create the cache directory {}", root.display()))?;
        Ok(Cache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, sha256: &str) -> Result<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            bail!("not a SHA-256 digest: {sha256:?}");
        }
        Ok(self.root.join("sha256").join(sha256))
    }

    /// The blob with this digest, if cached and intact. A blob whose content no longer matches
    /// its name is removed and reported as absent.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let path = self.blob_path(sha256)?;
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read cache blob {}", path.display()));
            }
        };
        if sha256_hex(&data) != sha256 {
            let _ = fs::remove_file(&path);
            return Ok(None);
        }
        Ok(Some(data))
    }

    /// Stores `data`, which must hash to `sha256`; returns an error naming both digests if not.
    pub fn put(&self, sha256: &str, data: &[u8]) -> Result<()> {
        let actual = sha256_hex(data);
        if actual != sha256 {
            bail!("SHA-256 mismatch: expected {sha256}, got {actual}");
        }
        let path = self.blob_path(sha256)?;
        if path.exists() {
            return Ok(());
        }
        write_atomic(&path, data)
    }

    /// Waits for and takes this machine's exclusive right to download the blob `sha256` into this
    /// cache, held until the returned file is closed (the kernel drops it if the process dies).
    /// Concurrent builds that miss the same blob then download it once: the others wait, and find
    /// it cached when they get the lock. Lock files are empty, live in `locks/`, and are never
    /// read; `lucid cache prune` removes them.
    pub fn lock_download(&self, sha256: &str) -> Result<fs::File> {
        self.blob_path(sha256)?;
        let dir = self.root.join("locks");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(sha256);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the download lock {}", path.display()))?;
        file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }

    /// Where the blob `sha256` is kept (whether or not it is there): for streaming a large blob
    /// elsewhere, checked against its digest on the way (the registry build cache's upload).
    pub fn blob_file(&self, sha256: &str) -> Result<PathBuf> {
        self.blob_path(sha256)
    }

    /// Stores the file at `path`, which the caller has just written and hashed to `sha256`, by
    /// linking it into the cache, never by reading it into memory. A blob already cached is kept
    /// when it still hashes to its name, and replaced otherwise. The link is made under a
    /// temporary name and renamed into place (copied where a link cannot be made). A link shares
    /// its bytes: a later change to either file damages both, which every reader of the cache
    /// detects (the entry is then replaced by the next writer of the same blob).
    pub fn adopt(&self, sha256: &str, path: &Path) -> Result<()> {
        let dest = self.blob_path(sha256)?;
        if dest.exists() && file_sha256(&dest).is_some_and(|d| d == sha256) {
            return Ok(());
        }
        let dir = self.root.join("sha256");
        // Unique per call: two threads may adopt the same blob at once (a layer both platforms share).
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-adopt-{sha256}-{}-{call}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        if fs::hard_link(path, &tmp).is_err() {
            fs::copy(path, &tmp).with_context(|| format!("cannot copy {} into the cache", path.display()))?;
        }
        fs::rename(&tmp, &dest).with_context(|| format!("cannot write {}", dest.display()))
    }

    /// Stores `data` under its own digest and returns it.
    pub fn put_any(&self, data: &[u8]) -> Result<String> {
        let digest = sha256_hex(data);
        self.put(&digest, data)?;
        Ok(digest)
    }

    /// A directory for derived artefacts (for example a jlink runtime keyed by its inputs).
    pub fn derived_dir(&self, kind: &str) -> Result<PathBuf> {
        let dir = self.root.join(kind);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }
}

pub use crate::files::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let digest = cache.put_any(b"hello").unwrap();
        assert_eq!(cache.get(&digest).unwrap().as_deref(), Some(&b"hello"[..]));
        fs::write(dir.path().join("sha256").join(&digest), b"tampered").unwrap();
        assert_eq!(cache.get(&digest).unwrap(), None);
        assert!(cache.put(&digest, b"other").is_err());
        assert!(cache.get("../../etc/passwd").is_err());
    }

    #[test]
    fn adopt_links_a_file_and_replaces_a_damaged_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("c")).unwrap();
        let file = dir.path().join("layer");
        fs::write(&file, b"layer bytes").unwrap();
        let digest = sha256_hex(b"layer bytes");
        cache.adopt(&digest, &file).unwrap();
        assert_eq!(cache.get(&digest).unwrap().as_deref(), Some(&b"layer bytes"[..]));
        // Damaged in place (a link shares its bytes): the next adopt puts it right.
        fs::write(cache.blob_file(&digest).unwrap(), b"layer bytez").unwrap();
        fs::write(&file, b"layer bytes").unwrap();
        cache.adopt(&digest, &file).unwrap();
        assert_eq!(cache.get(&digest).unwrap().as_deref(), Some(&b"layer bytes"[..]));
        let left: Vec<_> = fs::read_dir(dir.path().join("c/sha256")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }
}
