//! commandTests, with `globalEnvVars`, `setup`, `teardown` and `containerRunOptions`, run as
//! container-structure-test's docker driver runs them, inside lucid's confinement.
//!
//! What the driver does, and what lucid does for it:
//! - `globalEnvVars`: set in the image (the driver commits a container with them) with each value
//!   expanded against the image's environment; here, added to every container's environment.
//! - the command and its arguments: `$VAR`/`${VAR}` expanded (Go's `os.Expand`) against the
//!   image's environment with the global variables, before the container starts; then run with
//!   the image's entrypoint cleared. The test's own `envVars` are added as given, unexpanded.
//! - `setup`: each command runs in a container of its own, its exit code ignored (only a command
//!   that does not start fails the test), and the driver commits it so the next one and the test
//!   see its changes. lucid's containers have a read-only root, so what carries over is `/tmp`:
//!   the containers of a test with setup or teardown share one volume there (removed after).
//! - `teardown`: the docker driver skips it (each test gets a fresh container); lucid runs it
//!   after the test in the same `/tmp` and notes a failure in the message, without changing the
//!   verdict (container-structure-test only logs one).
//! - `containerRunOptions` ([`options`]): honoured where confinement allows, refused (LUCID-CST-006,
//!   and the command tests not run) where it does not.

use std::path::Path;

use super::{Suite, golang, match_all, verdict};
use crate::findings::{Finding, Status};
use crate::verify::Subject;
use crate::verify::checks::{finding, resolve_user_of};
use crate::verify::runtime::{Extra, RunResult, Session};

/// What `containerRunOptions` asks for, as lucid will run it.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub extra: Extra,
    /// `envFile` then `envVars`, as `KEY=VALUE`.
    pub env: Vec<String>,
    /// What was honoured, for the passing finding.
    pub honoured: Vec<String>,
}

/// `containerRunOptions` checked against lucid's confinement: the plan, or every reason it
/// cannot be run. `cwd` is where relative `envFile` and bind paths are read from.
pub fn options(suite: &Suite, s: &Subject, cwd: &Path) -> Result<Plan, Vec<String>> {
    let o = &suite.schema.container_run_options;
    let mut plan = Plan::default();
    let mut refused = Vec::new();
    if o.privileged {
        refused.push(
            "privileged: true is refused: lucid runs an image's code confined (no capabilities, no new privileges, \
             read-only root; docs/hardening.md), and a privileged container can take over the host"
                .to_string(),
        );
    }
    if !o.capabilities.is_empty() {
        refused.push(format!(
            "capabilities {:?} are refused: lucid drops every capability (cap_drop ALL) from the containers of an \
             untrusted image",
            o.capabilities
        ));
    }
    if !o.user.is_empty() {
        match resolve_user_of(s, &o.user) {
            Err(e) => refused.push(format!("user {:?}: {e}", o.user)),
            Ok((0, _)) => refused.push(format!("user {:?} is root: lucid never runs an image's code as root", o.user)),
            // Group 0 reads and writes what root's group may (root-group-writable files, /etc/shadow
            // on some images): as much refused as uid 0.
            Ok((_, Some(0))) => refused.push(format!(
                "user {:?} is in group 0 (root's): lucid never runs an image's code with root's group",
                o.user
            )),
            // With no group given and none in /etc/passwd, the engine would run it in group 0.
            Ok((uid, None)) => refused.push(format!(
                "user {:?} (uid {uid}) has no group in the image's /etc/passwd, so the engine would run it in group 0 \
                 (root's): give UID:GID",
                o.user
            )),
            Ok((uid, Some(gid))) => {
                // Always UID:GID: with an explicit group the engine adds no supplementary groups
                // from /etc/group (which could include group 0).
                let numeric = format!("{uid}:{gid}");
                plan.honoured.push(format!("user {} as {numeric}", o.user));
                plan.extra.user = Some(numeric);
            }
        }
    }
    if o.allocate_tty {
        plan.extra.tty = true;
        plan.honoured.push("a terminal (stdout and stderr as one stream)".into());
    }
    if !o.env_file.is_empty() {
        let path = cwd.join(&o.env_file);
        let read = refuse_proc(&path)
            .and_then(|()| {
                crate::limits::read_capped(&path, crate::limits::MAX_YAML_BYTES, "the envFile")
                    .map_err(|e| format!("{e:#}"))
            })
            .and_then(|d| String::from_utf8(d).map_err(|_| "not UTF-8".to_string()))
            .and_then(|t| golang::dotenv(&t));
        match read {
            Err(e) => refused.push(format!("envFile {}: {e}", path.display())),
            Ok(pairs) => {
                // container-structure-test drops pairs with an empty key or value.
                let pairs: Vec<_> = pairs.into_iter().filter(|(k, v)| !k.is_empty() && !v.is_empty()).collect();
                for (k, _) in pairs.iter().filter(|(k, _)| HOST_SECRETS.contains(&k.as_str())) {
                    refused.push(format!("envFile {}: sets {k}, {}", o.env_file, SECRET_WHY));
                }
                plan.honoured.push(format!("{} variable(s) from {}", pairs.len(), o.env_file));
                plan.env.extend(pairs.into_iter().map(|(k, v)| format!("{k}={v}")));
            }
        }
    }
    for name in o.env_vars.iter().filter(|n| HOST_SECRETS.contains(&n.as_str())) {
        refused.push(format!("envVars {name}: {SECRET_WHY}"));
    }
    for name in o.env_vars.iter().filter(|n| !HOST_SECRETS.contains(&n.as_str())) {
        // As container-structure-test: a variable unset (or empty) here is not passed.
        if let Some(v) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
            plan.env.push(format!("{name}={v}"));
        }
    }
    if !o.env_vars.is_empty() {
        plan.honoured.push(format!("envVars {:?} from lucid's environment", o.env_vars));
    }
    for b in &o.bind_mounts {
        match bind(b, cwd) {
            Ok(m) => {
                plan.honoured.push(format!("{} read-only at {}", m.0, m.1));
                plan.extra.binds.push(m);
            }
            Err(e) => refused.push(format!("bindMounts {b:?}: {e}")),
        }
    }
    if refused.is_empty() { Ok(plan) } else { Err(refused) }
}

/// Variables holding lucid's own credentials (and the Docker CLI's): never handed to the image,
/// whose output lucid copies into its reports.
const HOST_SECRETS: [&str; 3] =
    [crate::oci::registry::CREDS_ENV, crate::oci::registry::TOKEN_ENV, "DOCKER_AUTH_CONFIG"];
const SECRET_WHY: &str = "refused: it holds registry credentials, which lucid never hands to an untrusted image \
                          (its output is copied into the report)";

/// An `envFile` under /proc (another process's `environ` holds its secrets) is refused.
fn refuse_proc(path: &Path) -> Result<(), String> {
    let real = path.canonicalize().map_err(|e| format!("{e}"))?;
    if real.starts_with("/proc") {
        return Err(format!("{} is under /proc, which lucid never reads for an image", real.display()));
    }
    Ok(())
}

/// Host directories a bind mount may not show, even read-only: the root (everything below it),
/// the control sockets of every engine and daemon (/run, /var/run: docker, containerd,
/// buildkit, podman, systemd), and the kernel's views of processes, devices and settings.
const HOST_ONLY: &[&str] = &["/run", "/var/run", "/proc", "/sys", "/dev"];

/// `HOST:CONTAINER[:OPTIONS]` as lucid mounts it: read-only always (a writable host path would
/// let the image change the host), the host path existing (the engine's `-v` would create a
/// missing one) as a directory or a regular file (not a socket: a read-only mount does not stop
/// connecting to one), and never the engine's socket or a directory holding it (the image could
/// drive the engine), nor `/` or anything of [`HOST_ONLY`]. Only with a local engine (a
/// `unix://` socket): a remote one mounts from its own host, which lucid cannot inspect.
fn bind(spec: &str, cwd: &Path) -> Result<(String, String), String> {
    let engine = crate::oci::engine::engine_host();
    let Some(sock) = engine.strip_prefix("unix://") else {
        return Err(format!(
            "the engine is {engine} (DOCKER_HOST), not a local unix:// socket: it would mount the path from its own \
             host, which lucid cannot inspect"
        ));
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err("not HOST:CONTAINER[:OPTIONS]".into()),
    };
    if let Some(o) = opts.split(',').find(|o| !o.is_empty() && *o != "ro") {
        return Err(format!(
            "option {o:?} is refused: lucid mounts host paths read-only, and only \"ro\" may be given"
        ));
    }
    if !dst.starts_with('/') || dst == "/" {
        return Err(format!("{dst:?} is not an absolute path below / in the container"));
    }
    let host = cwd.join(src);
    let real = host.canonicalize().map_err(|e| format!("{}: {e}", host.display()))?;
    let meta = std::fs::metadata(&real).map_err(|e| format!("{}: {e}", real.display()))?;
    if !meta.is_dir() && !meta.is_file() {
        return Err(format!("{} is neither a directory nor a regular file", real.display()));
    }
    if real == Path::new("/") {
        return Err("/ is the whole host (its engine and daemon sockets among it)".into());
    }
    if let Some(d) = HOST_ONLY.iter().find(|d| real.starts_with(d)) {
        return Err(format!(
            "{} is under {d}, refused: it holds the host's control sockets (engine, containerd, buildkit, podman) or \
             the kernel's views of processes and devices",
            real.display()
        ));
    }
    let sock = Path::new(sock).canonicalize().unwrap_or_else(|_| Path::new(sock).to_path_buf());
    if sock.starts_with(&real) {
        return Err(format!("{} holds the engine's socket {}", real.display(), sock.display()));
    }
    Ok((real.display().to_string(), dst.to_string()))
}

/// What `CommandTest.Validate` refuses: the test fails with these, not run.
fn invalid(t: &super::schema::CommandTest) -> Vec<String> {
    let mut p = Vec::new();
    if t.name.is_empty() {
        p.push("a test needs a name".to_string());
    }
    if t.command.is_empty() {
        p.push("a command test needs a command".to_string());
    }
    if t.setup.iter().any(Vec::is_empty) {
        p.push("an empty setup command".to_string());
    }
    if t.teardown.iter().any(Vec::is_empty) {
        p.push("an empty teardown command".to_string());
    }
    if t.env_vars.iter().any(|e| e.key.is_empty() || e.value.is_empty()) {
        p.push("envVars need non-empty keys and values".to_string());
    }
    p
}

/// The `containerRunOptions` finding (when the file has them) and one finding per command test.
pub fn run(suite: &Suite, s: &Subject, session: &mut Session) -> Vec<Finding> {
    let mut out = Vec::new();
    let cwd = std::env::current_dir().unwrap_or_default();
    let plan = options(suite, s, &cwd);
    if suite.schema.container_run_options.is_set() {
        let (p, ok) = match &plan {
            Ok(plan) => (Vec::new(), format!("honoured: {}", plan.honoured.join(", "))),
            Err(why) => (why.clone(), String::new()),
        };
        out.push(verdict(s, suite, "LUCID-CST-006", "containerRunOptions", p, ok));
    }
    let env = super::env_after_globals(suite, s);
    let lookup = |k: &str| env.get(k).cloned();
    let globals: Vec<String> = super::globals(suite, s).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    for t in &suite.schema.command_tests {
        let id = "LUCID-CST-001";
        let mut p = invalid(t);
        if p.is_empty()
            && let Err(_) = &plan
        {
            p.push("not run: containerRunOptions cannot be honoured (see LUCID-CST-006)".into());
        }
        if !p.is_empty() {
            out.push(verdict(s, suite, id, &t.name, p, String::new()));
            continue;
        }
        if let Some(why) = session.unavailable() {
            let status = if session.required() { Status::Fail } else { Status::Skip };
            let mut f = finding(id, &s.name, status, format!("{}: not run: {why}", t.name));
            f.title = format!("{}: {}", f.title, t.name);
            out.push(f);
            continue;
        }
        let plan = plan.as_ref().cloned().unwrap_or_default();
        let command: Vec<String> =
            std::iter::once(&t.command).chain(&t.args).map(|a| golang::expand(a, &lookup)).collect();
        let (problems, note) = run_one(t, session, &plan, &globals, &command, &lookup);
        let shown = command.join(" ");
        out.push(verdict(s, suite, id, &t.name, problems, format!("{shown} as expected{note}")));
    }
    out
}

/// Runs one valid test (setup, command, teardown): its problems, and a note on its teardown.
fn run_one(
    t: &super::schema::CommandTest,
    session: &mut Session,
    plan: &Plan,
    globals: &[String],
    command: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (Vec<String>, String) {
    let test_env: Vec<String> = t.env_vars.iter().map(|e| format!("{}={}", e.key, e.value)).collect();
    let mut extra = plan.extra.clone();
    let shared = if t.setup.is_empty() && t.teardown.is_empty() {
        None
    } else {
        match session.shared_tmp() {
            Ok(v) => Some(v),
            Err(e) => return (vec![format!("error in setup: no shared /tmp: {e}")], String::new()),
        }
    };
    extra.shared_tmp = shared.as_ref().map(|v| v.name.clone());
    // Setup sees the test's variables expanded (the driver's `processEnvVars`); no terminal.
    let setup_env: Vec<String> = globals
        .iter()
        .cloned()
        .chain(t.env_vars.iter().map(|e| format!("{}={}", e.key, golang::expand(&e.value, lookup))))
        .collect();
    let quiet = Extra { tty: false, ..extra.clone() };
    for cmd in &t.setup {
        let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
        match session.run_with(&quiet, &argv, &setup_env) {
            Ok(r) if r.started => {}
            Ok(r) => return (vec![format!("error in setup {cmd:?}: {}", r.error.unwrap_or_default())], String::new()),
            Err(e) => return (vec![format!("error in setup {cmd:?}: {e}")], String::new()),
        }
    }
    let env: Vec<String> = globals.iter().chain(&plan.env).chain(&test_env).cloned().collect();
    let argv: Vec<&str> = command.iter().map(String::as_str).collect();
    let problems = match session.run_with(&extra, &argv, &env) {
        Err(e) => vec![format!("could not run: {e}")],
        Ok(r) => judge(t, &r),
    };
    let mut note = String::new();
    for cmd in &t.teardown {
        let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
        match session.run_with(&quiet, &argv, &setup_env) {
            Ok(r) if r.ok() => {}
            Ok(r) => note.push_str(&format!("; teardown {cmd:?} failed (exit {})", r.exit_code)),
            Err(e) => note.push_str(&format!("; teardown {cmd:?} failed: {e}")),
        }
    }
    drop(shared);
    (problems, note)
}

/// `CommandTest.CheckOutput`: stderr, then stdout, against their patterns, and the exit code.
fn judge(t: &super::schema::CommandTest, r: &RunResult) -> Vec<String> {
    let mut p = Vec::new();
    if !r.started {
        p.push(format!("did not start: {}", r.error.clone().unwrap_or_default()));
        return p;
    }
    p.extend(match_all("stderr", &r.stderr, &t.expected_error, &t.excluded_error));
    p.extend(match_all("stdout", &r.stdout, &t.expected_output, &t.excluded_output));
    if r.exit_code != t.exit_code {
        p.push(format!("exit code {}, expected {}", r.exit_code, t.exit_code));
    }
    p
}
