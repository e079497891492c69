//! Runtime checks: start containers of the image through the Docker Engine API and prove what
//! metadata cannot: the interpreter starts, the UID inside, `/bin/sh` fails, CAs load.
//!
//! The seed runs `id`, `whoami` and `/bin/sh -c` inside images that have neither a shell nor
//! coreutils; here the same facts come from the image's own interpreter. Images not already in
//! the engine are loaded under a temporary tag (removed afterwards). Containers run without a
//! network and are always removed. With no engine, every check is skipped with the reason (or
//! failed under `--require-runtime`).

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{LogsOptions, RemoveContainerOptions, RemoveImageOptions};
use futures_util::StreamExt;

use super::checks::{finding, resolve_user};
use super::{RuntimeMode, Subject};
use crate::findings::{Finding, Status};
use crate::oci::read::ImageView;
use crate::oci::source::Source;
use crate::oci::{Image, ImageRef, engine};
use crate::spec::Stage;

/// No container of a smoke test should take longer (a JVM start is about a second).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to the engine, or why there is none.
pub struct Engine {
    mode: RuntimeMode,
    host: String,
    conn: std::result::Result<(tokio::runtime::Runtime, Docker), String>,
}

impl Engine {
    /// Connects (once per run) unless runtime checks are off.
    pub fn for_policy(mode: RuntimeMode) -> Engine {
        let host = engine::engine_host();
        let conn = if mode == RuntimeMode::Off {
            Err("runtime checks are off (--no-runtime)".to_string())
        } else {
            connect(&host).map_err(|e| format!("{e:#}"))
        };
        Engine { mode, host, conn }
    }

    /// A session for one image of `src` (loads it on first use).
    pub fn session<'a>(&'a self, src: &'a Source, image: &'a ImageView) -> Session<'a> {
        Session { engine: self, src, image, image_ref: None, cleanup: None }
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

/// Containers of one image.
pub struct Session<'a> {
    engine: &'a Engine,
    src: &'a Source,
    image: &'a ImageView,
    image_ref: Option<std::result::Result<String, String>>,
    cleanup: Option<String>,
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

impl Session<'_> {
    /// Why containers cannot run, if they cannot.
    pub fn unavailable(&mut self) -> Option<String> {
        self.image_ref().err()
    }

    /// Whether runtime checks must fail (not skip) when unavailable.
    pub fn required(&self) -> bool {
        self.engine.mode == RuntimeMode::Require
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
        let loaded = match &self.src.reference {
            // Already there: run it by the name the engine knows.
            ImageRef::DockerDaemon { name } => return Ok(name.clone()),
            ImageRef::DockerArchive { file, .. } => {
                engine::load_at(&self.engine.host, file).map_err(|e| format!("{e:#}"))?;
                // The engine's image ID is the config digest.
                return Ok(self.image.config_digest.clone());
            }
            ImageRef::Oci { .. } | ImageRef::Registry(_) => {
                // Loaded under a temporary tag, removed by [`Session::finish`].
                let tag = match crate::oci::digest_hex(&self.image.config_digest) {
                    Ok(hex) => format!("lucid-verify:{}", &hex[..12]),
                    Err(e) => return Err(format!("{e:#}")),
                };
                engine::load_image(&self.engine.host, self.image, &tag).map(|_| tag)
            }
        };
        let tag = loaded.map_err(|e| format!("cannot load the image into the engine: {e:#}"))?;
        self.cleanup = Some(tag.clone());
        Ok(tag)
    }

    /// Runs `entrypoint` + `cmd` in a new container of the image (its own User, no network).
    pub fn run(&mut self, entrypoint: &[&str], cmd: &[&str], env: &[String]) -> std::result::Result<RunResult, String> {
        let image = self.image_ref()?;
        let (rt, docker) = self.engine.conn.as_ref().map_err(Clone::clone)?;
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            entrypoint: Some(entrypoint.iter().map(|s| s.to_string()).collect()),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            env: (!env.is_empty()).then(|| env.to_vec()),
            network_disabled: Some(true),
            host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
            ..Default::default()
        };
        let fut = run_container(docker, body);
        rt.block_on(async { tokio::time::timeout(RUN_TIMEOUT, fut).await })
            .map_err(|_| format!("{entrypoint:?} {cmd:?} did not finish within {}s", RUN_TIMEOUT.as_secs()))?
            .map_err(|e| format!("{e:#}"))
    }

    /// Removes the temporary tag, if this session loaded the image.
    pub fn finish(self) {
        if let (Some(tag), Ok((rt, docker))) = (&self.cleanup, &self.engine.conn) {
            let opts = RemoveImageOptions { force: false, noprune: false, ..Default::default() };
            let _ = rt.block_on(docker.remove_image(tag, Some(opts), None));
        }
    }
}

async fn run_container(docker: &Docker, body: ContainerCreateBody) -> Result<RunResult> {
    let created = docker.create_container(None, body).await.context("the engine cannot create the container")?;
    let id = created.id;
    let result = async {
        if let Err(e) = docker.start_container(&id, None).await {
            // The engine's message ends in runc's reason (`exec: "/bin/sh": stat /bin/sh: no such file`).
            let text = e.to_string();
            let reason = text.find("exec: ").map_or(text.as_str(), |i| &text[i..]).trim_end_matches(": unknown");
            return Ok(RunResult {
                started: false,
                exit_code: -1,
                error: Some(reason.to_string()),
                ..Default::default()
            });
        }
        let exit_code = match docker.wait_container(&id, None).next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(anyhow!(e).context("waiting for the container")),
            None => -1,
        };
        let mut out = RunResult { started: true, exit_code, ..Default::default() };
        let opts = LogsOptions { stdout: true, stderr: true, tail: "all".into(), ..Default::default() };
        let mut logs = docker.logs(&id, Some(opts));
        while let Some(chunk) = logs.next().await {
            match chunk.context("reading the container's output")? {
                LogOutput::StdOut { message } => out.stdout.push_str(&String::from_utf8_lossy(&message)),
                LogOutput::StdErr { message } => out.stderr.push_str(&String::from_utf8_lossy(&message)),
                _ => {}
            }
        }
        Ok(out)
    }
    .await;
    let rm = RemoveContainerOptions { force: true, v: true, ..Default::default() };
    let _ = docker.remove_container(&id, Some(rm)).await;
    result
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

/// Standard-library modules not imported by the check: those that exist only on Windows or
/// macOS (never expected on Linux), and the jokes whose import acts (`antigravity` opens a web
/// browser, `this` and `__phello__` print).
pub const PYTHON_OTHER_PLATFORMS: &[&str] = &[
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
    let first_line = |t: &str| t.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
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
