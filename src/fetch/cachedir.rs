//! The cache directory itself: private to its owner, and marked as lucid's.
//!
//! What the cache holds ends up executed on the build host (decoded `.deb` data holds the
//! `python3.11` and `libc` that compile byte code, a jlink runtime holds the JVM that dumps the
//! class-data-sharing archive) and shipped in images. Blobs are checked against their names and
//! memos against the digests they record, but a memo can name any blob, so whoever can write the
//! cache decides what a build uses. The cache therefore belongs to the user who builds:
//!
//! - a new cache is created `0700`, whatever the umask;
//! - an existing one owned by another user, or writable by its group or by everyone, is refused
//!   ([`UnsafeCache`], a configuration error) rather than trusted or silently repaired: somebody
//!   else may already have written into it;
//! - an existing one of ours that others may read or enter is narrowed to `0700`;
//! - it carries a `CACHEDIR.TAG` (the standard signature, so backup tools skip it). `lucid cache
//!   prune --all` empties only a directory with that tag, so a mistyped `LUCID_CACHE=$HOME` never
//!   deletes anything. A cache made by an earlier version has no tag: one whose entries are all
//!   lucid's own directories gets the tag on first use; any other directory without it is refused.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The cache directory tag's file name and required first line (bford.info/cachedir).
pub const TAG_FILE: &str = "CACHEDIR.TAG";
const TAG_SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";

/// The directories lucid makes at the top of its cache (blobs, download locks, memos). A directory
/// without a tag holding only these (or nothing) is a cache an earlier version made.
pub const KNOWN_ENTRIES: &[&str] = &["sha256", "locks", "deb-data", "pyc", "layers", "jlink", "releases", "images"];

/// A cache directory lucid will not use: somebody else's, writable by others, or not a cache.
/// A configuration error (exit 3): the fix is the user's, not the input's.
#[derive(Debug)]
pub struct UnsafeCache {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for UnsafeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refusing the cache directory {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for UnsafeCache {}

fn refuse(path: &Path, reason: String) -> anyhow::Error {
    UnsafeCache { path: path.to_path_buf(), reason }.into()
}

/// The user name of `uid` from `/etc/passwd`, for messages.
fn user_name(uid: u32) -> String {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| format!("uid {uid} ({})", f[0]))
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// Whether `root` has a cache directory tag.
pub fn is_tagged(root: &Path) -> bool {
    fs::read_to_string(root.join(TAG_FILE)).is_ok_and(|t| t.starts_with(TAG_SIGNATURE))
}

/// Creates the tag in place (never under a temporary name, which a concurrent lucid opening the
/// same new cache would take for a foreign file); one that exists already is left as it is.
fn write_tag(root: &Path) -> Result<()> {
    use std::io::Write;
    let text = format!(
        "{TAG_SIGNATURE}\n# This file is a cache directory tag created by lucid (its download and build cache).\n\
         # For information about cache directory tags see https://bford.info/cachedir/\n"
    );
    let path = root.join(TAG_FILE);
    match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(mut f) => f.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Creates `root` as a private, tagged cache directory, or checks an existing one (see the
/// module comment); errors are [`UnsafeCache`] when the directory is not fit to be a cache.
pub fn prepare(root: &Path) -> Result<()> {
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(root) {
        Ok(()) => {
            // The umask may have narrowed 0700 further (never widened it); set it exactly.
            fs::set_permissions(root, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot set the mode of {}", root.display()))?;
            return write_tag(root);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create the cache directory {}", root.display())),
    }
    let meta = fs::metadata(root).with_context(|| format!("cannot inspect the cache directory {}", root.display()))?;
    if !meta.is_dir() {
        return Err(refuse(root, "it is not a directory; set LUCID_CACHE to a directory of your own".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(refuse(
            root,
            format!(
                "it is owned by {}, not by you ({}): whoever owns it decides what lucid runs and ships. \
                 Use a cache of your own (set LUCID_CACHE to a new directory), or, if its content is yours, \
                 `chown -R {me} {}`",
                user_name(meta.uid()),
                user_name(me),
                root.display()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(
            root,
            format!(
                "it is writable by {} (mode {mode:04o}): anybody who could write it may have changed what \
                 lucid runs and ships. Use a new directory, or remove this one (`rm -rf {}`) and let lucid \
                 make it again",
                if mode & 0o002 != 0 { "everyone" } else { "its group" },
                root.display()
            ),
        ));
    }
    if !is_tagged(root) {
        let mut foreign = foreign_entries(root)?;
        // A cache an earlier lucid made always has its blobs: a directory of `layers/` or `locks/`
        // alone is somebody's own, not a cache to adopt (and later empty with `prune --all`).
        let empty = fs::read_dir(root)
            .with_context(|| format!("cannot list {}", root.display()))?
            .flatten()
            .all(|e| e.file_name() == TAG_FILE);
        if foreign.is_empty() && !empty && !root.join("sha256").is_dir() {
            foreign.push("no sha256/ of blobs".into());
        }
        // Another lucid may have made the cache meanwhile: it tags a new cache before it makes
        // anything in it, so what was listed is judged only if the tag is still missing now.
        if !foreign.is_empty() && !is_tagged(root) {
            return Err(refuse(
                root,
                format!(
                    "it has no {TAG_FILE} and holds files that are not lucid's ({}); lucid neither uses nor \
                     prunes such a directory. Set LUCID_CACHE to a new or empty directory",
                    foreign.join(", ")
                ),
            ));
        }
        write_tag(root)?;
    }
    if mode & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set the mode of {} to 0700", root.display()))?;
    }
    // The directories inside are held to the same rule, wherever a link takes them: a `jlink/`
    // linked to a world-writable directory would hand its memos and runtimes to anybody.
    for name in KNOWN_ENTRIES {
        let path = root.join(name);
        let Ok(inner) = fs::metadata(&path) else { continue };
        let inner_mode = inner.mode() & 0o7777;
        if !inner.is_dir() || inner.uid() != me || inner_mode & 0o022 != 0 {
            return Err(refuse(
                root,
                format!(
                    "{} is {}: whoever can write it decides what lucid runs and ships. Remove it \
                     (`rm -rf {}`) and let lucid make it again",
                    path.display(),
                    if !inner.is_dir() {
                        "not a directory".to_string()
                    } else if inner.uid() != me {
                        format!("owned by {}", user_name(inner.uid()))
                    } else {
                        format!("writable by others (mode {inner_mode:04o})")
                    },
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The names at the top of `root` that an earlier lucid would not have made (at most five, for
/// the message).
fn foreign_entries(root: &Path) -> Result<Vec<String>> {
    let mut foreign = Vec::new();
    for entry in fs::read_dir(root).with_context(|| format!("cannot list {}", root.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Followed: a cache may share its blobs with another through a link (the tests do).
        let is_dir = fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        if !(is_dir && KNOWN_ENTRIES.contains(&name.as_str())) && name != TAG_FILE {
            foreign.push(name);
        }
    }
    foreign.sort();
    foreign.truncate(5);
    Ok(foreign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_cache_is_private_and_tagged_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/cache");
        // SAFETY: umask only changes this process's file creation mask; restored below.
        let old = unsafe { libc::umask(0) };
        let made = prepare(&root);
        unsafe { libc::umask(old) };
        made.unwrap();
        assert_eq!(fs::metadata(&root).unwrap().mode() & 0o777, 0o700);
        assert!(is_tagged(&root));
        prepare(&root).unwrap();
    }

    #[test]
    fn untagged_directories_are_adopted_only_when_they_look_like_a_cache() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        fs::create_dir_all(old.join("sha256")).unwrap();
        fs::create_dir_all(old.join("jlink")).unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&old).unwrap();
        assert!(is_tagged(&old));
        assert_eq!(fs::metadata(&old).unwrap().mode() & 0o777, 0o700, "narrowed to the owner");

        let home = dir.path().join("home");
        fs::create_dir_all(home.join("sha256")).unwrap();
        fs::write(home.join("keep.txt"), b"mine").unwrap();
        let e = prepare(&home).unwrap_err();
        assert!(e.downcast_ref::<UnsafeCache>().is_some());
        assert!(e.to_string().contains("keep.txt") && e.to_string().contains(TAG_FILE), "{e}");
        assert!(!is_tagged(&home));

        // Only lucid's names, but no blobs: somebody's own `layers/`, not a cache.
        let layers = dir.path().join("layers-only");
        fs::create_dir_all(layers.join("layers")).unwrap();
        let e = prepare(&layers).unwrap_err();
        assert!(e.to_string().contains("no sha256/"), "{e}");
        assert!(!is_tagged(&layers));
    }

    #[test]
    fn a_directory_inside_the_cache_that_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        prepare(&root).unwrap();
        let open = dir.path().join("open");
        fs::create_dir_all(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::symlink(&open, root.join("jlink")).unwrap();
        let e = prepare(&root).unwrap_err();
        assert!(e.downcast_ref::<UnsafeCache>().is_some());
        assert!(e.to_string().contains("jlink") && e.to_string().contains("0777"), "{e}");
    }
}
