//! Working names in an output directory, and sweeping the ones that dead runs left behind.
//!
//! Every writer in an output directory works under a hidden name (`.lucid-staging-*`,
//! `.NAME.tmp-*`, `.NAME.old-*`, `.docker-archive-*.tmp`) and renames into place when done, so a
//! killed run leaves only hidden leftovers. The next run must remove those without ever touching
//! a live run's work. Two signals say "my writer is alive":
//!
//! - an exclusive lock held by the writer (on `DIR/.lucid-owner` for a directory, on the file
//!   itself for an archive), which the kernel drops when the process dies, even by SIGKILL;
//! - the writer's identity in the name itself (`@PID.START@`, START being the process's start time
//!   in clock ticks since boot), for the instants before the lock exists: a directory cannot be
//!   created and locked in one step, and a kill between the two used to leave an unowned directory
//!   that was only swept after [`UNOWNED_GRACE`]. A name whose process is gone, or whose PID now
//!   belongs to a process started at another time, is dead at once.
//!
//! Names without an identity (made by older versions) fall back to the lock and the grace period.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};

/// The file in a staging directory whose exclusive lock says "my writer is alive".
pub const OWNER_FILE: &str = ".lucid-owner";

/// The file that marks a directory as a lucid output directory (`lucid build -o DIR`): only in a
/// directory that carries it does [`sweep_stale`] delete anything, so `-o $HOME` can never remove
/// a user's `.bashrc.old-1` that happens to look like a leftover.
pub const OUTPUT_MARKER: &str = ".lucid-output";

/// An `--output` directory that holds other things than lucid's outputs and has no
/// [`OUTPUT_MARKER`]: a usage error (exit 3), since the fix is to name another directory.
#[derive(Debug)]
pub struct ForeignOutput {
    pub path: std::path::PathBuf,
    /// Some of the entries that are not lucid's.
    pub foreign: Vec<String>,
}

impl std::fmt::Display for ForeignOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refusing to write into {}: it holds files that are not lucid's outputs ({}) and no {OUTPUT_MARKER} \
             marker, and a build replaces and sweeps what it writes there; name a new or empty directory with -o",
            self.path.display(),
            self.foreign.join(", ")
        )
    }
}

impl std::error::Error for ForeignOutput {}

/// Makes `dir` a lucid output directory: creates it with the [`OUTPUT_MARKER`], or checks that an
/// existing one has it. An existing directory without it (made by an earlier lucid) gets it when
/// everything in it is lucid's: OCI layouts, `.tar` archives and working names; any other
/// directory is refused ([`ForeignOutput`]) and left untouched.
pub fn claim_output_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let marker = dir.join(OUTPUT_MARKER);
    if marker.is_file() {
        return Ok(());
    }
    let mut foreign = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().with_context(|| format!("cannot inspect {}", entry.path().display()))?;
        // The marker itself: a concurrent build may have made it between the check above and here.
        let ours = name == OUTPUT_MARKER
            || is_staging_name(&name)
            || (kind.is_dir() && entry.path().join("oci-layout").is_file())
            || (kind.is_file() && name.ends_with(".tar"));
        if !ours {
            foreign.push(name);
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        foreign.truncate(5);
        return Err(ForeignOutput { path: dir.to_path_buf(), foreign }.into());
    }
    // Created in place, not through a temporary name: a concurrent build making the same new
    // directory must never see a stray temporary file there (an empty marker still marks).
    match fs::OpenOptions::new().write(true).create_new(true).open(&marker) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(b"This directory holds images built by lucid; lucid may replace and sweep its entries.\n")
                .with_context(|| format!("cannot write {}", marker.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", marker.display())),
    }
}

/// Leftovers that carry neither an owner lock nor a writer identity are removed only when older
/// than this: young ones may be a live run's first instants.
pub const UNOWNED_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// A hidden working name for `what` in an output directory: `.{what}-@PID.START@-`, to which
/// tempfile appends its random suffix. `what` says what the entry is (`lucid-staging`,
/// `NAME.tmp`, `NAME.old`, `docker-archive`).
pub fn work_prefix(what: &str) -> String {
    format!(".{what}-{}-", identity())
}

/// This process's identity as written into working names.
fn identity() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let pid = std::process::id();
        format!("@{pid}.{}@", start_time(pid).unwrap_or(0))
    })
}

/// The start time of process `pid` in clock ticks since boot (field 22 of `/proc/PID/stat`,
/// read after the command name, which may itself hold spaces and parentheses).
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the writer named in a working name is alive: `Some(false)` when its process is gone
/// or its PID was reused, `Some(true)` when it runs, `None` when the name carries no identity or
/// this system has no `/proc` to ask.
fn writer_alive(name: &str) -> Option<bool> {
    let (_, rest) = name.split_once('@')?;
    let (id, _) = rest.split_once('@')?;
    let (pid, start) = id.split_once('.')?;
    let (pid, start): (u32, u64) = (pid.parse().ok()?, start.parse().ok()?);
    if !Path::new("/proc/self/stat").exists() || start == 0 {
        return None;
    }
    Some(start_time(pid) == Some(start))
}

/// Claims the staging directory `dir` for this process: an exclusive lock on `dir/.lucid-owner`,
/// held as long as the returned file is open. The lock file is made under a temporary name,
/// locked, then renamed into place, so a sweeper never sees an owner file that is not locked yet.
pub fn claim_dir(dir: &Path) -> Result<fs::File> {
    let tmp = tempfile::Builder::new()
        .prefix(".lucid-claim-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a lock file in {}", dir.display()))?;
    tmp.as_file().lock().with_context(|| format!("cannot lock {}", tmp.path().display()))?;
    let (file, path) = tmp.keep().with_context(|| format!("cannot keep the lock file in {}", dir.display()))?;
    fs::rename(&path, dir.join(OWNER_FILE)).with_context(|| format!("cannot claim {}", dir.display()))?;
    Ok(file)
}

/// A fresh staging directory in `parent` under the working name for `what`, already claimed:
/// the directory and the lock that keeps other runs' [`sweep_stale`] away from it.
pub fn claimed_tempdir(parent: &Path, what: &str) -> Result<(tempfile::TempDir, fs::File)> {
    let dir = tempfile::Builder::new()
        .prefix(&work_prefix(what))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a temporary directory in {}", parent.display()))?;
    let claim = claim_dir(dir.path())?;
    Ok((dir, claim))
}

/// Whether `name` is one of the hidden working names lucid's writers use in an output directory.
fn is_staging_name(name: &str) -> bool {
    name.starts_with(".lucid-staging-")
        || (name.starts_with(".docker-archive-") && name.ends_with(".tmp"))
        || (name.starts_with('.') && (name.contains(".tmp-") || name.contains(".old-")))
}

/// Writes `data` to `path`, a file of an output directory, through a working name of this
/// process (`.NAME.tmp-@PID.START@-*`) and a rename: a kill leaves a hidden entry that the next
/// run's [`sweep_stale`] knows to be dead, never half a file under `path`.
pub fn write_output_file(path: &Path, data: &[u8]) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::files::write_atomic_as(path, data, &work_prefix(&format!("{name}.tmp")))
}

/// Removes what killed runs left in the output directory `parent`: working entries whose writer
/// is known dead (free owner lock, or a named process that is gone), and unowned leftovers
/// without an identity older than [`UNOWNED_GRACE`]. Live runs' entries are never touched, and
/// nothing is in a directory without the [`OUTPUT_MARKER`] (see [`claim_output_dir`]).
/// Returns how many entries were removed; failures to remove are ignored (the next run tries
/// again).
pub fn sweep_stale(parent: &Path) -> usize {
    if !parent.join(OUTPUT_MARKER).is_file() {
        return 0;
    }
    let Ok(rd) = fs::read_dir(parent) else { return 0 };
    let mut removed = 0;
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_staging_name(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else { continue };
        let old = || meta.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > UNOWNED_GRACE);
        let identity = writer_alive(&name);
        let dead = if identity == Some(false) {
            true
        } else if meta.is_dir() {
            match fs::File::open(path.join(OWNER_FILE)) {
                Ok(f) => f.try_lock().is_ok(),
                // No owner file: a live writer's first or last instants, unless it is gone.
                Err(_) => identity.is_none() && old(),
            }
        } else {
            // A docker-archive being written is locked by its writer.
            identity.is_none() && old() && fs::File::open(&path).is_ok_and(|f| f.try_lock().is_ok())
        };
        if dead {
            let gone = if meta.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            removed += usize::from(gone.is_ok());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_identity_is_alive_and_a_dead_one_is_not() {
        let mine = work_prefix("lucid-staging");
        assert!(mine.starts_with(".lucid-staging-@"), "{mine}");
        assert_eq!(writer_alive(&format!("{mine}abc123")), Some(true));
        // The right PID with another start time: a reused PID, so dead.
        let pid = std::process::id();
        let start = start_time(pid).unwrap();
        assert_eq!(writer_alive(&format!(".x.tmp-@{pid}.{}@-q", start + 1)), Some(false));
        // No identity, or garbage where it should be: unknown, so the grace period decides.
        assert_eq!(writer_alive(".x.tmp-abc"), None);
        assert_eq!(writer_alive(".x.tmp-@12x.3@-abc"), None);
        assert_eq!(writer_alive(".x.tmp-@@"), None);
    }

    #[test]
    fn sweep_removes_dead_unowned_entries_at_once_and_spares_live_ones() {
        let parent = tempfile::tempdir().unwrap();
        claim_output_dir(parent.path()).unwrap();
        // A child process that has exited: its identity is dead.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let start = start.unwrap_or(1);
        let dead_dir = parent.path().join(format!(".lucid-staging-@{pid}.{start}@-aaaa"));
        fs::create_dir(&dead_dir).unwrap();
        let dead_file = parent.path().join(format!(".docker-archive-@{pid}.{start}@-bbbb.tmp"));
        fs::write(&dead_file, b"half").unwrap();
        // Ours, claimed and unclaimed (as between mkdir and the lock): both alive.
        let (live, _claim) = claimed_tempdir(parent.path(), "lucid-staging").unwrap();
        let unclaimed = tempfile::Builder::new().prefix(&work_prefix("out.tmp")).tempdir_in(parent.path()).unwrap();
        // A young leftover without identity: kept for the grace period.
        let legacy = parent.path().join(".out.old-zzzz");
        fs::create_dir(&legacy).unwrap();

        assert_eq!(sweep_stale(parent.path()), 2);
        assert!(!dead_dir.exists() && !dead_file.exists());
        assert!(live.path().exists() && unclaimed.path().exists() && legacy.exists());
    }
}
