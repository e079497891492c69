//! Memos for directory trees kept in the cache (jlink runtimes): what the tree's digest was when
//! lucid made it, checked before every use.
//!
//! A blob is named by its digest, so reading it checks it. A directory cannot be: it is made by a
//! program (jlink, the JVM's CDS dump) before its digest is known, and is found by the digest of
//! its inputs. So each such directory `D` has a sibling memo `D.tree` holding the
//! [`Tree::digest`] of `D` as read right after it was made (a canonical walk: path, kind, mode,
//! owner, size, SHA-256 of content or link target). Before use, `D` is read again and its digest
//! compared: the tree that is checked is the very tree that is used, so nothing can change
//! between the check and the use. A directory whose memo is missing (an earlier lucid made it) or
//! differs is not used: the caller makes it again.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::rootfs::{Origin, Tree, from_disk};

/// The memo of the cached directory `dir`: `dir` with `.tree` appended.
pub fn memo_path(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".tree");
    PathBuf::from(name)
}

/// Records `tree` (just read from `dir`) as what `dir` must hold.
pub fn record(dir: &Path, tree: &Tree) -> Result<()> {
    super::write_atomic(&memo_path(dir), format!("{}\n", tree.digest()))
}

/// The tree in `dir` (entries from `origin`) if it still has the digest its memo records;
/// otherwise why not, for the message of the caller that makes it again.
pub fn check(dir: &Path, origin: &Origin) -> Result<std::result::Result<Tree, String>> {
    let Ok(text) = std::fs::read_to_string(memo_path(dir)) else {
        return Ok(Err("it has no recorded digest (an earlier lucid made it)".into()));
    };
    let recorded = text.trim();
    let tree = match from_disk::read_dir(dir, origin) {
        Ok(t) => t,
        Err(e) => return Ok(Err(format!("it cannot be read: {e:#}"))),
    };
    let actual = tree.digest();
    if actual != recorded {
        return Ok(Err(format!(
            "its files changed since lucid made it (tree digest {} recorded, {} now)",
            short(recorded),
            short(&actual)
        )));
    }
    Ok(Ok(tree))
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// Moves the distrusted `dir` and its memo out of the way (to a hidden name that `lucid cache
/// prune` clears if the removal is interrupted) and removes them.
pub fn discard(dir: &Path) -> Result<()> {
    use anyhow::Context;
    let _ = std::fs::remove_file(memo_path(dir));
    let parent = dir.parent().unwrap_or(Path::new("."));
    let aside = tempfile::Builder::new()
        .prefix(".tmp-distrusted-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a temporary directory in {}", parent.display()))?;
    std::fs::rename(dir, aside.path().join("old")).with_context(|| format!("cannot move {} aside", dir.display()))?;
    drop(aside);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_or_unrecorded_tree_is_not_trusted() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("runtime");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/java"), b"elf").unwrap();
        assert!(check(&dir, &Origin::Builder).unwrap().unwrap_err().contains("no recorded digest"));
        let tree = from_disk::read_dir(&dir, &Origin::Builder).unwrap();
        record(&dir, &tree).unwrap();
        assert_eq!(check(&dir, &Origin::Builder).unwrap().unwrap().digest(), tree.digest());
        std::os::unix::fs::symlink("/etc/passwd", dir.join("bin/evil")).unwrap();
        assert!(check(&dir, &Origin::Builder).unwrap().unwrap_err().contains("changed"));
        discard(&dir).unwrap();
        assert!(!dir.exists() && !memo_path(&dir).exists());
    }
}
