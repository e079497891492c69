//! The confinement of programs run out of a build tree ([`super::exec`]): bubblewrap's
//! namespaces, the file system a program sees, and its resource limits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::Result;

/// What a sandboxed program may see besides the tree itself: host paths bound at the same path,
/// read-only or writable. Every writable path must exist; the first is the working directory.
#[derive(Clone, Debug, Default)]
pub struct Sandbox {
    pub read_only: Vec<PathBuf>,
    pub writable: Vec<PathBuf>,
    /// The host's programs and libraries (`/usr` and its `/bin`, `/lib`... links), read-only.
    pub host_programs: bool,
}

impl Sandbox {
    /// Only the tree, read-only.
    pub fn new() -> Sandbox {
        Sandbox::default()
    }

    /// Also `path`, read-only (input files the caller wrote).
    pub fn read_only(mut self, path: impl Into<PathBuf>) -> Sandbox {
        self.read_only.push(path.into());
        self
    }

    /// Also the host's `/usr` (with `/bin`, `/sbin`, `/lib`, `/lib64`), read-only: for a program
    /// that runs a host tool (jlink's `--strip-debug` runs the host's `objcopy`). Programs and
    /// libraries only: the host's `/etc`, `/root`, homes and cache stay out of sight.
    pub fn host_programs(mut self) -> Sandbox {
        self.host_programs = true;
        self
    }

    /// Also `path`, writable: where the program must write its output. Bound after the
    /// read-only paths, so it may lie inside one of them.
    pub fn writable(mut self, path: impl Into<PathBuf>) -> Sandbox {
        self.writable.push(path.into());
        self
    }
}

/// How long a program run out of the tree may take, by the clock: CPU time is limited too, but a
/// program that sleeps or waits uses none. Generous: compiling the standard library under
/// emulation, the slowest step, takes minutes.
pub const WALL_CLOCK_LIMIT: std::time::Duration = std::time::Duration::from_secs(1800);

/// Runs a sandboxed command to the end, like `Command::output`, but kills it (and with it, through
/// `--die-with-parent` and its PID namespace, everything it started) once it has run
/// [`WALL_CLOCK_LIMIT`].
pub fn output(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    output_within(cmd, WALL_CLOCK_LIMIT)
}

fn output_within(cmd: &mut Command, limit: std::time::Duration) -> std::io::Result<std::process::Output> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = pipe(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = pipe(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("it ran longer than {} s and was killed", limit.as_secs()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Ok(std::process::Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
}

/// Reads a file a sandboxed program wrote under `dir` (which lucid made), at `rel`, without
/// following any link: the program could have left a link in place of its output (or of a
/// directory on the way) pointing at a host file (`/root/.docker/config.json`), which lucid,
/// unconfined and often root, would otherwise read into the image. Every component must be a
/// real directory and the last a regular file. Called once the program has exited (bubblewrap
/// ends its whole PID namespace with it), so nothing can swap a component meanwhile.
pub fn read_output(dir: &Path, rel: &Path) -> Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Read;
    let mut at = dir.to_path_buf();
    let not_dir = |p: &Path| {
        anyhow::anyhow!(
            "{}: not a directory (a sandboxed program's output is read without following links)",
            p.display()
        )
    };
    if !std::fs::symlink_metadata(&at).with_context(|| format!("cannot stat {}", at.display()))?.is_dir() {
        return Err(not_dir(&at));
    }
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let std::path::Component::Normal(name) = part else {
            anyhow::bail!("{}: not a plain relative path", rel.display());
        };
        at.push(name);
        if i + 1 < parts.len()
            && !std::fs::symlink_metadata(&at).with_context(|| format!("cannot stat {}", at.display()))?.is_dir()
        {
            return Err(not_dir(&at));
        }
    }
    let mut file = crate::limits::open_regular(&at, false).with_context(|| format!("cannot read {}", at.display()))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).with_context(|| format!("cannot read {}", at.display()))?;
    Ok(data)
}

/// bubblewrap's options before the binds: every namespace new (user, mount, PID, network, IPC,
/// UTS, cgroup), no nested user namespaces, no capabilities, a new session (the program cannot
/// reach lucid's terminal), killed when lucid dies; a private `/tmp`, `/proc` and `/dev`.
pub const CONFINEMENT: &[&str] = &[
    "--unshare-all",
    "--unshare-user",
    "--disable-userns",
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
];

/// bubblewrap's options that show the host's `/usr` and its top-level companions as they are on
/// this host (links on a merged-`/usr` system such as Debian 12, directories elsewhere).
pub fn host_program_binds() -> Vec<String> {
    let mut args = vec!["--ro-bind".to_string(), "/usr".into(), "/usr".into()];
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64"] {
        match std::fs::symlink_metadata(top) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(top) {
                    args.extend(["--symlink".into(), target.to_string_lossy().into_owned(), top.into()]);
                }
            }
            Ok(m) if m.is_dir() => args.extend(["--ro-bind".into(), top.into(), top.into()]),
            _ => {}
        }
    }
    args
}

/// Resource limits of a sandboxed program (soft and hard). Address space: the JVM that runs
/// jlink reserves a few GB (it sizes its heap below this limit); CPU time: the slowest real step
/// (a cold byte-code compile of every wheel, jlink plus up to nine CDS dumps) takes well under a
/// minute; a file: the largest output is a CDS archive of some 15 MB.
const ADDRESS_SPACE: u64 = 8 << 30;
const CPU_SECONDS: u64 = 900;
const FILE_SIZE: u64 = 2 << 30;
const OPEN_FILES: u64 = 4096;
/// Processes and threads: RLIMIT_NPROC counts every task of the user, so the limit is what the
/// user runs already plus this many (the JVM starts a few dozen threads).
const EXTRA_TASKS: u64 = 1024;

/// No `bwrap` on this host, or it cannot make namespaces: a configuration error (exit 3), fixed by
/// installing bubblewrap or enabling user namespaces, never by running programs unconfined.
#[derive(Debug)]
pub struct SandboxUnavailable {
    pub reason: String,
}

impl std::fmt::Display for SandboxUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot confine the programs a build runs out of the image's packages (Python's byte-code \
             compiler, jlink, the JVM): {}",
            self.reason
        )
    }
}

impl std::error::Error for SandboxUnavailable {}

/// The `bwrap` on `PATH`, once checked to work here (it makes every namespace lucid asks for).
pub fn bwrap() -> Result<PathBuf> {
    static FOUND: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| probe(&std::env::var_os("PATH").unwrap_or_default()));
    found.clone().map_err(|reason| SandboxUnavailable { reason }.into())
}

/// The first `bwrap` in the directories of `path` (a `PATH` value), if it works here.
fn probe(path: &std::ffi::OsStr) -> std::result::Result<PathBuf, String> {
    let Some(bwrap) = std::env::split_paths(path).map(|d| d.join("bwrap")).find(|p| is_executable(p)) else {
        return Err("bubblewrap (`bwrap`) is not installed; install it (Debian and Ubuntu: \
                    `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`)"
            .into());
    };
    let out = Command::new(&bwrap)
        .args(CONFINEMENT)
        .args(["--ro-bind", "/", "/", "--", "/bin/true"])
        .env_clear()
        .output()
        .map_err(|e| format!("cannot start {}: {e}", bwrap.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} cannot create namespaces here ({}): {}; user namespaces may be disabled \
             (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or a container \
             without them)",
            bwrap.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(bwrap)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The tasks (processes and threads) of this process's real user now, for RLIMIT_NPROC.
fn tasks_of_user() -> u64 {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    let Ok(procs) = std::fs::read_dir("/proc") else { return 0 };
    procs
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == me))
        .map(|e| std::fs::read_dir(e.path().join("task")).map_or(1, |t| t.count() as u64))
        .sum()
}

/// Sets the limits in the child between `fork` and `exec` (bwrap and the program inherit them).
pub fn limit_resources(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let tasks = tasks_of_user() + EXTRA_TASKS;
    let limits = [
        (libc::RLIMIT_AS, ADDRESS_SPACE),
        (libc::RLIMIT_CPU, CPU_SECONDS),
        (libc::RLIMIT_FSIZE, FILE_SIZE),
        (libc::RLIMIT_NOFILE, OPEN_FILES),
        (libc::RLIMIT_NPROC, tasks),
        (libc::RLIMIT_CORE, 0),
    ];
    // SAFETY: the closure runs between fork and exec and only calls the async-signal-safe
    // setrlimit on stack values.
    unsafe {
        cmd.pre_exec(move || {
            for (resource, value) in limits {
                let lim = libc::rlimit { rlim_cur: value, rlim_max: value };
                if libc::setrlimit(resource, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_outlives_its_limit_is_killed() {
        let started = std::time::Instant::now();
        let e = output_within(Command::new("sleep").arg("30"), std::time::Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let o = output_within(Command::new("echo").arg("hi"), std::time::Duration::from_secs(30)).unwrap();
        assert_eq!(o.stdout, b"hi\n");
    }

    #[test]
    fn outputs_are_read_without_following_links_to_host_files() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("host-secret");
        std::fs::write(&host, "lucid-test-secret-host-file").unwrap();
        let out = d.path().join("out");
        std::fs::create_dir_all(out.join("a/__pycache__")).unwrap();
        std::fs::write(out.join("a/__pycache__/ok.pyc"), b"pyc").unwrap();
        assert_eq!(read_output(&out, Path::new("a/__pycache__/ok.pyc")).unwrap(), b"pyc");
        // The output itself a link to a host file.
        std::os::unix::fs::symlink(&host, out.join("a/__pycache__/x.pyc")).unwrap();
        let e = read_output(&out, Path::new("a/__pycache__/x.pyc")).unwrap_err();
        assert!(format!("{e:#}").contains("not a regular file"), "{e:#}");
        // A directory on the way a link to a host directory.
        std::os::unix::fs::symlink(d.path(), out.join("b")).unwrap();
        let e = read_output(&out, Path::new("b/host-secret")).unwrap_err();
        assert!(format!("{e:#}").contains("not a directory"), "{e:#}");
        // The output directory itself a link.
        std::os::unix::fs::symlink(d.path(), d.path().join("out2")).unwrap();
        assert!(read_output(&d.path().join("out2"), Path::new("host-secret")).is_err());
        assert!(read_output(&out, Path::new("../host-secret")).is_err());
    }

    #[test]
    fn without_bwrap_nothing_runs_and_the_error_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = probe(dir.path().as_os_str()).unwrap_err();
        assert!(e.contains("apt-get install bubblewrap"), "{e}");
        let shown = SandboxUnavailable { reason: e }.to_string();
        assert!(shown.contains("jlink") && shown.contains("bwrap"), "{shown}");
    }
}
