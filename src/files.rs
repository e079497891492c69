//! Writing files so that readers never see half of one.
//!
//! A foundation module (it imports nothing of the crate): the download cache, the lock, layers
//! and every report `-o FILE` write through [`write_atomic`], so there is one way to do it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `data` to `path` through a temporary file in the same directory (created if missing)
/// and a rename, so readers (a concurrent build sharing the cache, a CI job reading a report) see
/// either the old file or the whole new one, never a part. The temporary name starts with `.tmp`,
/// which `lucid cache` recognises as a leftover when a process was killed mid-write.
pub fn write_atomic(path: &Path, data: impl AsRef<[u8]>) -> Result<()> {
    write_atomic_as(path, data, ".tmp")
}

/// [`write_atomic`] with the temporary file's name starting with `prefix` (random characters
/// follow): for writers whose leftovers another sweep must recognise by name, such as an
/// output directory's (`oci::stale`).
pub fn write_atomic_as(path: &Path, data: impl AsRef<[u8]>, prefix: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(data.as_ref()).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file().sync_all().ok();
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot rename into {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_in_new_and_current_directories() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new/r.json");
        write_atomic(&out, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{}");
        write_atomic(&out, b"[]").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"[]");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("new")).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }
}
