//! Runtime checks: start containers of the image through the Docker Engine API and prove what
//! metadata cannot: the interpreter starts, the UID inside, `/bin/sh` fails, CAs load.
//!
//! The seed runs `id`, `whoami` and `/bin/sh -c` inside images that have neither a shell nor
//! coreutils; here the same facts come from the image's own interpreter. With no engine, every
//! check is skipped with the reason (or failed under `--require-runtime`).
//!
//! The image is untrusted, so its containers are confined (see [`confined`]): no capabilities,
//! no new privileges, a read-only root with a 64 MB tmpfs `/tmp` (for the command tests of a
//! structure test with setup or teardown, an unbounded volume instead: [`Session::shared_tmp`]),
//! pid, memory and CPU limits, no network, never root (a root image runs as 65534, nobody), bounded output, a time limit. Every
//! container and temporary image is removed on every path, interrupts included
//! ([`super::containers`]). An image not already in the engine is never loaded as the user gave
//! it: a docker-archive may name several images and any tags (`debian:12`, the user's own);
//! what is loaded is the one image lucid parsed, written anew by lucid's archive writer under a
//! name of lucid's own, and removed afterwards.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, anyhow};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountBindOptions, MountType};
use bollard::query_parameters::AttachContainerOptions;
use futures_util::StreamExt;

use super::checks::{finding, resolve_user};
use super::{RuntimeMode, Subject};
use crate::findings::{Finding, Status};
use crate::oci::containers::{self, Container};
use crate::oci::read::ImageView;
use crate::oci::source::Source;
use crate::oci::{Image, ImageRef, engine};
use crate::spec::Stage;

/// No container of a smoke test should take longer (a JVM start is about a second); `--runtime-timeout`.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Output kept per container (stdout and stderr together); past it, reading stops.
pub const OUTPUT_LIMIT: usize = 1 << 20;
/// Processes and threads per container (a JVM starts about 30; a fork bomb stops here).
const PIDS_LIMIT: i64 = 256;
/// Memory per container, swap included (a JVM sizes its heap from it: 128 MiB by default).
const MEMORY_LIMIT: i64 = 512 << 20;
/// One CPU.
const NANO_CPUS: i64 = 1_000_000_000;
/// The writable `/tmp` on the read-only root (the JVM keeps its perf data there).
const TMPFS_OPTIONS: &str = "rw,nosuid,nodev,size=64m";
/// Who a root image's containers run as instead (Debian's `nobody`).
pub const UNPRIVILEGED_USER: &str = "65534:65534";

/// A connection to the engine, or why there is none.
pub struct Engine {
    mode: RuntimeMode,
    host: String,
    timeout: Duration,
    conn: std::result::Result<(tokio::runtime::Runtime, Docker), String>,
}

impl Engine {
    /// Connects (once per run) unless runtime checks are off. Each container gets `timeout`.
    pub fn for_policy(mode: RuntimeMode, timeout: Duration) -> Engine {
        let host = engine::engine_host();
        let conn = if mode == RuntimeMode::Off {
            Err("runtime checks are off (--no-runtime)".to_string())
        } else {
            connect(&host).map_err(|e| format!("{e:#}"))
        };
        Engine { mode, host, timeout, conn }
    }

    /// A session for one image of `src` (loads it on first use). `user`: the image's own user as
    /// numbers (`uid` or `uid:gid`), resolved by lucid from the image's files; `None` when it is
    /// root or does not resolve, and then its containers run as [`UNPRIVILEGED_USER`]. The engine
    /// is never left to resolve a user name itself: it would follow links in the image's
    /// `/etc/passwd` that lucid's reading does not.
    pub fn session<'a>(&'a self, src: &'a Source, image: &'a ImageView, user: Option<String>) -> Session<'a> {
        Session { engine: self, src, image, image_ref: None, cleanup: None, user, stopped: None }
    }
}

fn connect(host: &str) -> Result<(tokio::runtime::Runtime, Docker)> {
    let rt = engine::runtime()?;
    let docker = rt.block_on(engine::connect(host))?;
    Ok((rt, docker))
}

/// What a container did.
#[derive(Clone, Debug, Default)]
pub struct RunResult {
    /// False when the engine could not start the process (no such executable).
    pub started: bool,
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
    /// The engine's error when it did not start.
    pub error: Option<String>,
}

impl RunResult {
    pub fn ok(&self) -> bool {
        self.started && self.exit_code == 0
    }
    /// stdout and stderr together (`java -version` prints to stderr).
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// What a structure-test file adds to a container: a user (numeric, resolved by lucid, never
/// root), a terminal, read-only bind mounts (`(host path, container path)`), and a `/tmp` volume
/// shared between containers, in place of the 64 MB tmpfs and without its size limit (see
/// [`Session::shared_tmp`]).
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub user: Option<String>,
    pub tty: bool,
    pub binds: Vec<(String, String)>,
    pub shared_tmp: Option<String>,
}

/// Containers of one image. Dropping it removes the temporary image it loaded.
pub struct Session<'a> {
    engine: &'a Engine,
    src: &'a Source,
    image: &'a ImageView,
    image_ref: Option<std::result::Result<String, String>>,
    cleanup: Option<String>,
    user: Option<String>,
    /// Set when a container overran the time limit: the image's other containers are not started
    /// (each would hang as long), and every later check says why.
    stopped: Option<String>,
}

/// Whether the kernel runs `arch` binaries through an enabled binfmt_misc handler (qemu-user-static),
/// so the engine can start a foreign platform's containers.
fn emulated(arch: &str) -> bool {
    let machine = match arch {
        "arm64" => "aarch64",
        "amd64" => "x86_64",
        other => other,
    };
    std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/qemu-{machine}"))
        .is_ok_and(|s| s.lines().next() == Some("enabled"))
}

/// The container `entrypoint` + `cmd` of `image` with `env`, as `user`, confined: no
/// capabilities, no privilege gain (setuid binaries stay powerless), read-only root with a
/// small tmpfs `/tmp`, pid, memory (no swap) and CPU limits, no network, and no log driver
/// (output is read from the attached streams, bounded, so a chatty image fills no disk).
pub fn confined(
    image: &str,
    entrypoint: &[&str],
    cmd: &[&str],
    env: &[String],
    user: Option<&str>,
    volumes: &[String],
) -> ContainerCreateBody {
    // An image's VOLUMEs would be anonymous volumes on the host's disk, writable and unbounded
    // despite the read-only root: each gets a small tmpfs instead, so the engine makes none.
    let mut tmpfs = HashMap::from([("/tmp".to_string(), TMPFS_OPTIONS.to_string())]);
    for v in volumes {
        tmpfs.insert(v.clone(), TMPFS_OPTIONS.to_string());
    }
    let host = HostConfig {
        network_mode: Some("none".into()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(tmpfs),
        pids_limit: Some(PIDS_LIMIT),
        memory: Some(MEMORY_LIMIT),
        memory_swap: Some(MEMORY_LIMIT),
        nano_cpus: Some(NANO_CPUS),
        log_config: Some(HostConfigLogConfig { typ: Some("none".into()), config: None }),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(entrypoint.iter().map(|s| s.to_string()).collect()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        env: (!env.is_empty()).then(|| env.to_vec()),
        user: user.map(str::to_string),
        network_disabled: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(host),
        ..Default::default()
    }
}

/// The engine API version from which a bind's read-only flag can be made to cover the mounts
/// below its source (`ReadOnlyForceRecursive`, Docker 25).
const RECURSIVE_READ_ONLY_API: (usize, usize) = (1, 44);

/// A read-only bind of host `src` at `dst`. A plain read-only bind leaves the mounts below `src`
/// writable (Linux makes only the top mount read-only): from API 1.44 the engine is asked to make
/// every one read-only (and fails the container if the kernel cannot); before it (Docker 20.10
/// here, API 1.41), the mounts below are not bound at all (`NonRecursive`): the container sees
/// their empty mount points, nothing writable.
fn read_only_bind(src: &str, dst: &str, api: (usize, usize)) -> Mount {
    let options = if api >= RECURSIVE_READ_ONLY_API {
        MountBindOptions { read_only_force_recursive: Some(true), ..Default::default() }
    } else {
        MountBindOptions { non_recursive: Some(true), ..Default::default() }
    };
    Mount {
        source: Some(src.to_string()),
        target: Some(dst.to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(true),
        bind_options: Some(options),
        ..Default::default()
    }
}

/// The `Volumes` an image config declares (absolute paths only; anything else the engine refuses).
fn volumes_of(config_json: &[u8]) -> Vec<String> {
    let config: serde_json::Value = serde_json::from_slice(config_json).unwrap_or_default();
    match config.pointer("/config/Volumes").and_then(|v| v.as_object()) {
        Some(v) => v.keys().filter(|k| k.starts_with('/') && !k.contains(',')).cloned().collect(),
        None => Vec::new(),
    }
}

impl Session<'_> {
    /// Why containers cannot run, if they cannot.
    pub fn unavailable(&mut self) -> Option<String> {
        self.image_ref().err()
    }

    /// Whether runtime checks must fail (not skip) when unavailable.
    pub fn required(&self) -> bool {
        self.engine.mode == RuntimeMode::Require
    }

    /// Whether the image's own user is root (or unknown), so its containers run as
    /// [`UNPRIVILEGED_USER`].
    pub fn runs_unprivileged(&self) -> bool {
        self.user.is_none()
    }

    fn image_ref(&mut self) -> std::result::Result<String, String> {
        if let Some(r) = &self.image_ref {
            return r.clone();
        }
        let r = self.load();
        self.image_ref = Some(r.clone());
        r
    }

    fn load(&mut self) -> std::result::Result<String, String> {
        self.engine.conn.as_ref().map_err(Clone::clone)?;
        let host_arch = crate::platform::Platform::host().arch;
        let arch = &self.image.config.architecture;
        if *arch != host_arch && !emulated(arch) {
            return Err(format!(
                "{} does not run on this {host_arch} engine (no binfmt_misc handler for it: install qemu-user-static)",
                self.image.platform().qualified()
            ));
        }
        if let ImageRef::DockerDaemon { .. } = &self.src.reference {
            // Already there: run it by its ID, the digest of the config lucid exported and
            // checked, not by its name, which another job could point at another image meanwhile.
            return Ok(self.image.config_digest.clone());
        }
        // Anything else (a docker-archive too) is written anew from what was parsed: one image,
        // one tag of lucid's own, recorded before the load so that an interrupt removes it.
        let tag = containers::temp_tag(&self.image.config_digest).map_err(|e| format!("{e:#}"))?;
        containers::record_image(&self.engine.host, &tag);
        self.cleanup = Some(tag.clone());
        engine::load_image(&self.engine.host, self.image, &tag)
            .map_err(|e| format!("cannot load the image into the engine: {e:#}"))?;
        Ok(tag)
    }

    /// Runs `entrypoint` + `cmd` in a new, [`confined`] container of the image. An error says
    /// why there is no result: the engine failed, the container overran the time limit, or it
    /// printed more than [`OUTPUT_LIMIT`]. The container is gone when this returns.
    pub fn run(&mut self, entrypoint: &[&str], cmd: &[&str], env: &[String]) -> std::result::Result<RunResult, String> {
        let all: Vec<&str> = entrypoint.iter().chain(cmd).copied().collect();
        self.run_with(&Extra::default(), &all, env)
    }

    /// Like [`Self::run`] (the program and its arguments in `command`), with what a
    /// structure-test file adds to the container in `extra`. The user is never root and bind
    /// mounts are read-only. `/tmp` is a 64 MB tmpfs, except with `extra.shared_tmp`: then it is
    /// that volume, on the engine's disk with no size limit (see [`Self::shared_tmp`]).
    pub fn run_with(
        &mut self,
        extra: &Extra,
        command: &[&str],
        env: &[String],
    ) -> std::result::Result<RunResult, String> {
        if let Some(why) = &self.stopped {
            return Err(format!("not run: {why}"));
        }
        let Some((program, args)) = command.split_first() else { return Err("no command".into()) };
        let (entrypoint, cmd) = ([*program], args);
        let image = self.image_ref()?;
        let (rt, docker) = self.engine.conn.as_ref().map_err(Clone::clone)?;
        let user = extra.user.as_deref().or(self.user.as_deref()).unwrap_or(UNPRIVILEGED_USER);
        let mut body = confined(&image, &entrypoint, cmd, env, Some(user), &volumes_of(&self.image.config_json));
        body.tty = Some(extra.tty);
        if let Some(host) = body.host_config.as_mut() {
            let version = docker.client_version();
            let api = (version.major_version, version.minor_version);
            let mut mounts: Vec<Mount> = extra.binds.iter().map(|(src, dst)| read_only_bind(src, dst, api)).collect();
            if let Some(volume) = &extra.shared_tmp {
                if let Some(t) = host.tmpfs.as_mut() {
                    t.remove("/tmp");
                }
                mounts.push(Mount {
                    source: Some(volume.clone()),
                    target: Some("/tmp".into()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                });
            }
            host.mounts = (!mounts.is_empty()).then_some(mounts);
        }
        let container = Container::create(rt, docker, &self.engine.host, body).map_err(|e| format!("{e:#}"))?;
        let mut out = RunResult::default();
        let limit = self.engine.timeout;
        let outcome = rt.block_on(async { tokio::time::timeout(limit, drive(docker, &container.id, &mut out)).await });
        // The container is removed here, whatever happened (the timed-out future is gone with
        // everything it would have done after).
        drop(container);
        match outcome {
            Err(_) => {
                let so_far = first_line(&out.output());
                let why = format!(
                    "{entrypoint:?} {cmd:?} did not finish within {}s (container removed){}",
                    limit.as_secs(),
                    if so_far.is_empty() { String::new() } else { format!("; its output so far: {so_far}") }
                );
                self.stopped =
                    Some(format!("an earlier container of this image did not finish within {}s", limit.as_secs()));
                Err(why)
            }
            Ok(Err(e)) => Err(format!("{e:#}")),
            Ok(Ok(Drive::Truncated)) => Err(format!(
                "{entrypoint:?} {cmd:?} printed more than {} of output: lucid stopped reading and removed the container",
                crate::spec::format_size(OUTPUT_LIMIT as u64)
            )),
            Ok(Ok(Drive::Done)) => Ok(out),
        }
    }

    /// Removes the temporary image, if this session loaded one (dropping the session does too).
    pub fn finish(self) {}
}

impl<'a> Session<'a> {
    /// A volume of lucid's own that the containers of one structure test share as `/tmp`, so
    /// what a `setup` command writes there is what the test command sees. Removed when the guard
    /// drops. Its size is not bounded: it is the engine's local driver on the engine's disk (a
    /// tmpfs volume would be unmounted, emptied, between containers), and a container can write
    /// gigabytes within its time limit (a known gap, docs/hardening.md).
    pub fn shared_tmp(&mut self) -> std::result::Result<containers::Volume<'a>, String> {
        self.image_ref()?;
        let engine: &'a Engine = self.engine;
        let (rt, docker) = engine.conn.as_ref().map_err(Clone::clone)?;
        containers::Volume::create(rt, docker, &engine.host, &[]).map_err(|e| format!("{e:#}"))
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let (Some(tag), Ok((rt, docker))) = (self.cleanup.take(), &self.engine.conn) {
            containers::remove_image(rt, docker, &tag);
        }
    }
}

/// How [`drive`] ended.
enum Drive {
    Done,
    /// The output passed [`OUTPUT_LIMIT`]; the container may still be running.
    Truncated,
}

/// Attaches to the container, starts it, reads its output up to [`OUTPUT_LIMIT`] and waits for
/// its exit, filling `out` as it goes (so a caller that gives up still has the output so far).
async fn drive(docker: &Docker, id: &str, out: &mut RunResult) -> Result<Drive> {
    let opts = AttachContainerOptions { stdout: true, stderr: true, stream: true, ..Default::default() };
    let mut attached = docker.attach_container(id, Some(opts)).await.map_err(|e| anyhow!(e).context("attaching"))?;
    if let Err(e) = docker.start_container(id, None).await {
        // The engine's message ends in runc's reason (`exec: "/bin/sh": stat /bin/sh: no such file`).
        let text = e.to_string();
        let reason = text.find("exec: ").map_or(text.as_str(), |i| &text[i..]).trim_end_matches(": unknown");
        *out = RunResult { started: false, exit_code: -1, error: Some(reason.to_string()), ..Default::default() };
        return Ok(Drive::Done);
    }
    out.started = true;
    let mut seen = 0usize;
    while let Some(chunk) = attached.output.next().await {
        let (to, bytes) = match chunk.map_err(|e| anyhow!(e).context("reading the container's output"))? {
            LogOutput::StdOut { message } => (&mut out.stdout, message),
            LogOutput::StdErr { message } => (&mut out.stderr, message),
            // With a terminal (a structure test's `allocateTty`) both streams come as one.
            LogOutput::Console { message } => (&mut out.stdout, message),
            _ => continue,
        };
        let room = OUTPUT_LIMIT - seen;
        let take = bytes.len().min(room);
        to.push_str(&String::from_utf8_lossy(&bytes[..take]));
        seen += take;
        if take < bytes.len() || seen >= OUTPUT_LIMIT {
            return Ok(Drive::Truncated);
        }
    }
    out.exit_code = engine::exit_status(docker, id).await?;
    Ok(Drive::Done)
}

/// The first non-empty line of `t`, trimmed, at most 200 characters.
fn first_line(t: &str) -> String {
    let line = t.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// What runs the image's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interpreter {
    Python,
    Java,
}

/// Finds python3 or java on the config's PATH (through symlinks).
fn interpreter(s: &Subject) -> Option<(Interpreter, String)> {
    let path = s
        .image
        .config
        .config
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .to_string();
    for (kind, exe) in [(Interpreter::Python, "python3"), (Interpreter::Java, "java")] {
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            let p = format!("{}/{exe}", dir.trim_end_matches('/'));
            if s.fs.lookup(&p).is_some() {
                return Some((kind, p));
            }
        }
    }
    None
}

const PY_UID: &str = "import os; print(os.getuid(), os.getgid())";

/// Standard-library modules not imported by the check: those that exist only on Windows, macOS,
/// iOS or Android (never expected on Linux; 3.13 lists `_ios_support`, `_wmi`,
/// `_android_support`), and the jokes whose import acts (`antigravity` opens a web
/// browser, `this` and `__phello__` print).
pub const PYTHON_OTHER_PLATFORMS: &[&str] = &[
    "_android_support",
    "_ios_support",
    "_wmi",
    "_msi",
    "_overlapped",
    "_scproxy",
    "_winapi",
    "msilib",
    "msvcrt",
    "nt",
    "winreg",
    "winsound",
    "antigravity",
    "this",
    "__phello__",
];

/// Standard-library modules a headless runtime image may leave out, each for a stated reason
/// (docs/base-images.md): desktop GUI (Tk), terminal UI (curses, readline), the pip installer
/// (a runtime image has no pip on purpose), NIS (deprecated, gone in 3.13, pulls Kerberos),
/// Berkeley DB's `dbm.ndbm` (`dbm` falls back to `dbm.gnu` or `dbm.dumb`) and `help()`'s topic
/// texts. The check lists which of them an image lacks, so leaving them out stays visible.
pub const PYTHON_OPTIONAL: &[&str] = &[
    "_curses",
    "_curses_panel",
    "_dbm",
    "_tkinter",
    "curses",
    "ensurepip",
    "idlelib",
    "nis",
    "pydoc_data",
    "readline",
    "tkinter",
    "turtle",
    "turtledemo",
];

/// Imports every module of the interpreter's own list (`sys.stdlib_module_names`) but those of
/// other platforms (argv[1], comma-separated), and prints `missing NAME: ERROR` for each that
/// fails, or `absent NAME` when NAME is one of the optional ones (argv[2]). A package whose files
/// were removed still imports as an empty namespace package, so one without `__file__` that is
/// neither built in nor frozen counts as missing. Prints `checked N` last.
const PY_STDLIB: &str = r#"import sys, importlib, warnings
warnings.simplefilter('ignore')
other, optional = set(sys.argv[1].split(',')), set(sys.argv[2].split(','))
names = sorted(sys.stdlib_module_names - other)
for name in names:
    try:
        m = importlib.import_module(name)
        spec = getattr(m, '__spec__', None)
        if getattr(m, '__file__', None) is None and name not in sys.builtin_module_names and getattr(spec, 'origin', None) != 'frozen':
            raise ImportError('only an empty directory (namespace package) is left')
    except BaseException as e:
        print(f'absent {name}' if name in optional else f'missing {name}: {type(e).__name__}: {e}')
print(f'checked {len(names)}')
"#;
const PY_CAS: &str = "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])";

/// The runtime findings for `s`.
pub fn checks(s: &Subject, run: &mut Session) -> Vec<Finding> {
    const IDS: [&str; 6] = [
        "LUCID-RUNTIME-001",
        "LUCID-RUNTIME-002",
        "LUCID-RUNTIME-003",
        "LUCID-RUNTIME-004",
        "LUCID-RUNTIME-005",
        "LUCID-RUNTIME-006",
    ];
    if let Some(why) = run.unavailable() {
        let status = if run.required() { Status::Fail } else { Status::Skip };
        return IDS.iter().map(|id| finding(id, &s.name, status, format!("not run: {why}"))).collect();
    }
    let interp = interpreter(s);
    let mut out = Vec::new();
    let result =
        |id: &str, r: std::result::Result<RunResult, String>, judge: &dyn Fn(&RunResult) -> (bool, String)| match r {
            Err(e) => finding(id, &s.name, Status::Fail, format!("could not run: {e}")),
            Ok(r) => {
                let (ok, msg) = judge(&r);
                finding(id, &s.name, if ok { Status::Pass } else { Status::Fail }, msg)
            }
        };
    let failed = |r: &RunResult| match &r.error {
        Some(e) => format!("did not start: {e}"),
        None => format!("exit {}: {}", r.exit_code, first_line(&r.output())),
    };
    let none = |id: &str| finding(id, &s.name, Status::Skip, "no python3 or java on the image's PATH");

    // 001: the interpreter starts.
    out.push(match &interp {
        None => none(IDS[0]),
        Some((kind, exe)) => {
            let arg = if *kind == Interpreter::Python { "--version" } else { "-version" };
            result(IDS[0], run.run(&[exe], &[arg], &[]), &|r| {
                let ok = r.ok() && (r.output().contains("Python 3") || r.output().contains("version"));
                (ok, if r.ok() { format!("{exe} {arg}: {}", first_line(&r.output())) } else { failed(r) })
            })
        }
    });
    // 002: the UID inside.
    let want = resolve_user(s).ok();
    out.push(match (&interp, want) {
        (None, _) => none(IDS[1]),
        _ if run.runs_unprivileged() => finding(
            IDS[1],
            &s.name,
            Status::Fail,
            format!(
                "the image runs as root, or its user does not resolve (see LUCID-USER-001); lucid ran its checks as \
                 {UNPRIVILEGED_USER} instead, never as root"
            ),
        ),
        (_, None) => finding(IDS[1], &s.name, Status::Skip, "the config User does not resolve (see LUCID-USER-001)"),
        (Some((Interpreter::Python, exe)), Some((uid, gid))) => {
            result(IDS[1], run.run(&[exe], &["-c", PY_UID], &[]), &|r| {
                let got = r.stdout.trim().to_string();
                let expect = match gid {
                    Some(g) => format!("{uid} {g}"),
                    None => got.split_whitespace().next().map_or(String::new(), |_| format!("{uid} ")),
                };
                let ok = r.ok() && (got == expect || (gid.is_none() && got.starts_with(&expect)));
                (ok, if r.ok() { format!("uid gid inside: {got}") } else { failed(r) })
            })
        }
        (Some((Interpreter::Java, exe)), Some((uid, _))) => {
            result(IDS[1], run.run(&[exe], &["-XshowSettings:properties", "-version"], &[]), &|r| {
                let name = r.output().lines().find_map(|l| l.trim().strip_prefix("user.name = ").map(str::to_string));
                let ok = r.ok() && name.as_deref().is_some_and(|n| n != "root" && n != "?");
                (ok, format!("user.name inside: {} (UID {uid})", name.unwrap_or_else(|| "unknown".into())))
            })
        }
    });
    // 003: /bin/sh must not start in a runtime image.
    out.push(if s.stage == Stage::Build {
        finding(IDS[2], &s.name, Status::Skip, "build-stage image: a shell is expected")
    } else {
        result(IDS[2], run.run(&["/bin/sh"], &["-c", "echo shell"], &[]), &|r| {
            if r.ok() {
                (false, format!("/bin/sh -c ran: {}", first_line(&r.output())))
            } else {
                (true, format!("/bin/sh fails: {}", r.error.clone().unwrap_or_else(|| format!("exit {}", r.exit_code))))
            }
        })
    });
    // 004: CAs in the trust store.
    out.push(match &interp {
        None => none(IDS[3]),
        Some((Interpreter::Python, exe)) => result(IDS[3], run.run(&[exe], &["-c", PY_CAS], &[]), &|r| {
            let n: u64 = r.stdout.trim().parse().unwrap_or(0);
            (r.ok() && n > 0, if r.ok() { format!("ssl loads {n} CA certificates") } else { failed(r) })
        }),
        Some((Interpreter::Java, exe)) => {
            let keytool = exe.trim_end_matches("java").to_string() + "keytool";
            result(IDS[3], run.run(&[&keytool], &["-list", "-cacerts", "-storepass", "changeit"], &[]), &|r| {
                let n = r.stdout.matches("trustedCertEntry").count();
                (r.ok() && n > 0, if r.ok() { format!("keytool lists {n} trusted certificates") } else { failed(r) })
            })
        }
    });
    // 005: build-stage tools.
    out.push(match (&interp, s.stage) {
        (_, Stage::Runtime) => finding(IDS[4], &s.name, Status::Skip, "runtime-stage image: pip/javac must be absent"),
        (None, _) => none(IDS[4]),
        (Some((kind, _)), Stage::Build) => {
            let (tool, arg) = if *kind == Interpreter::Python { ("pip", "--version") } else { ("javac", "-version") };
            result(IDS[4], run.run(&[tool], &[arg], &[]), &|r| {
                (r.ok(), if r.ok() { format!("{tool} {arg}: {}", first_line(&r.output())) } else { failed(r) })
            })
        }
    });
    // 006: the whole standard library imports.
    out.push(match &interp {
        None => none(IDS[5]),
        Some((Interpreter::Java, _)) => finding(IDS[5], &s.name, Status::Skip, "not a Python image"),
        Some((Interpreter::Python, exe)) => {
            let args = ["-c", PY_STDLIB, &PYTHON_OTHER_PLATFORMS.join(","), &PYTHON_OPTIONAL.join(",")];
            result(IDS[5], run.run(&[exe], &args, &[]), &|r| {
                let checked = r.stdout.lines().find_map(|l| l.strip_prefix("checked "));
                let missing: Vec<&str> = r.stdout.lines().filter_map(|l| l.strip_prefix("missing ")).collect();
                let absent: Vec<&str> = r.stdout.lines().filter_map(|l| l.strip_prefix("absent ")).collect();
                match checked {
                    None => (false, failed(r)),
                    Some(_) if !missing.is_empty() => (
                        false,
                        format!("{} standard-library module(s) do not import: {}", missing.len(), missing.join("; ")),
                    ),
                    Some(n) => (
                        true,
                        format!(
                            "{n} standard-library modules checked, all import; left out (optional): {}",
                            if absent.is_empty() { "none".to_string() } else { absent.join(", ") }
                        ),
                    ),
                }
            })
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_confined() {
        let config = br#"{"config":{"Volumes":{"/data":{},"relative":{}}}}"#;
        let body =
            confined("img", &["/usr/bin/python3"], &["--version"], &[], Some(UNPRIVILEGED_USER), &volumes_of(config));
        let h = body.host_config.unwrap();
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!((h.readonly_rootfs, h.pids_limit, h.nano_cpus), (Some(true), Some(PIDS_LIMIT), Some(NANO_CPUS)));
        assert_eq!((h.memory, h.memory_swap), (Some(MEMORY_LIMIT), Some(MEMORY_LIMIT)));
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        let tmpfs = h.tmpfs.unwrap();
        assert!(
            tmpfs.contains_key("/tmp") && tmpfs.contains_key("/data") && !tmpfs.contains_key("relative"),
            "{tmpfs:?}"
        );
        assert_eq!(h.log_config.unwrap().typ.as_deref(), Some("none"));
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
    }

    #[test]
    fn binds_are_read_only_below_too() {
        let new = read_only_bind("/srv/data", "/mnt", (1, 44)).bind_options.unwrap();
        assert_eq!((new.read_only_force_recursive, new.non_recursive), (Some(true), None));
        // Docker 20.10: no recursive read-only, so the mounts below are left out.
        let old = read_only_bind("/srv/data", "/mnt", (1, 41));
        assert_eq!(old.read_only, Some(true));
        let old = old.bind_options.unwrap();
        assert_eq!((old.read_only_force_recursive, old.non_recursive), (None, Some(true)));
    }
}
