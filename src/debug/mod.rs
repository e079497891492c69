//! `lucid debug`: a way into images that have no shell, through the Docker Engine API.
//!
//! - A **running container**: a toolbox container (`lucid-toolbox`, built from the spec like
//!   every image) joins the target's PID and network namespaces (and its IPC namespace when the
//!   target shares it) and runs as the target's UID and GID. Same UID, no added capability: it
//!   can read the target's files through `/proc/1/root`, trace its processes (strace, py-spy)
//!   and attach to its JVM (jattach), as the application's own user could, and nothing more.
//! - An **image**: a container of that image with the toolbox's `/bin` (its static busybox)
//!   mounted read-only at `/busybox` and busybox's shell as the entrypoint.
//!
//! Nothing is written into a target container by lucid. Two things appear there by the nature
//! of what is asked: a JVM creates its attach socket (`/tmp/.java_pid<N>`) when a tool attaches,
//! and jattach leaves its trigger file (`.attach_pid<N>`) when it fails. lucid compares the
//! target's filesystem changes (what `docker diff` shows) before and after the session, removes
//! those two kinds of file when the session added them in `/tmp` (Java 17 makes the socket
//! again at the next attach), and says on stderr whatever else changed meanwhile, by the
//! application or by the commands run in the toolbox. Every container and volume lucid makes is removed afterwards, interrupts included
//! ([`crate::oci::containers`]).

pub mod kubectl;
mod terminal;

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{AttachContainerOptions, DownloadFromContainerOptions};
use futures_util::StreamExt;

use crate::exit::Usage;
use crate::oci::containers::{Container, Volume};
use crate::oci::engine;

/// The toolbox image used when `--toolbox` is not given: what `lucid build lucid-toolbox --load`
/// puts into the engine.
pub const DEFAULT_TOOLBOX: &str = "lucid-toolbox:latest";

/// Where an image target gets the toolbox's static busybox.
pub const BUSYBOX_MOUNT: &str = "/busybox";

/// The label on every container and volume of a session, valued with the target as given: what
/// an operator (and the tests) filter on.
pub const TARGET_LABEL: &str = "dev.lucid.debug-target";

/// What `lucid debug` was asked for.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A container (name or ID) or an image the engine has.
    pub target: String,
    /// The toolbox image (default [`DEFAULT_TOOLBOX`]).
    pub toolbox: String,
    /// `UID:GID` (numbers) to run as instead of the target's.
    pub user: Option<String>,
    /// The command to run; empty: an interactive shell.
    pub command: Vec<String>,
}

/// The user a process runs as, numerically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

impl std::fmt::Display for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// The engine a session talks to, and the target as the user named it (the value of
/// [`TARGET_LABEL`] on everything the session creates).
struct Engine<'a> {
    rt: &'a tokio::runtime::Runtime,
    docker: &'a Docker,
    host: &'a str,
    target: &'a str,
}

impl Engine<'_> {
    /// Creates the container `body`, labelled with the target.
    fn create(&self, mut body: ContainerCreateBody) -> Result<Container<'_>> {
        body.labels.get_or_insert_with(HashMap::new).insert(TARGET_LABEL.to_string(), self.target.to_string());
        Container::create(self.rt, self.docker, self.host, body)
    }
}

/// Runs the session `opts` asks for against the engine at `host` and returns the exit status of
/// the command (or shell) it ran.
pub fn run(host: &str, opts: &Options) -> Result<i64> {
    let rt = engine::runtime()?;
    let docker = rt.block_on(engine::connect(host)).map_err(|e| Usage::msg(format!("{e:#}")))?;
    let e = Engine { rt: &rt, docker: &docker, host, target: &opts.target };
    let interactive = opts.command.is_empty();
    if interactive && !terminal::is_terminal() {
        return Err(Usage::msg(
            "no terminal for an interactive shell: give the command to run after `--` (lucid debug TARGET -- ps)",
        ));
    }
    let toolbox = if opts.toolbox.is_empty() { DEFAULT_TOOLBOX } else { opts.toolbox.as_str() };
    match rt.block_on(docker.inspect_image(toolbox)) {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
            return Err(Usage::msg(format!(
                "the engine at {host} has no toolbox image {toolbox}: build and load it with `lucid build \
                 lucid-toolbox --platform linux/amd64 --load` (or your platform), or name another with --toolbox"
            )));
        }
        Err(err) => return Err(anyhow!(err).context(format!("the engine at {host} cannot inspect {toolbox}"))),
    }
    match rt.block_on(docker.inspect_container(&opts.target, None)) {
        Ok(c) => debug_container(&e, opts, toolbox, c, interactive),
        Err(_) => match rt.block_on(docker.inspect_image(&opts.target)) {
            Ok(_) => debug_image(&e, opts, toolbox, interactive),
            Err(_) => Err(Usage::msg(format!(
                "the engine at {host} has no container or image {:?} (a running container's name or ID, or an image)",
                opts.target
            ))),
        },
    }
}

/// The toolbox beside the running container `c`.
fn debug_container(
    e: &Engine,
    opts: &Options,
    toolbox: &str,
    c: bollard::models::ContainerInspectResponse,
    interactive: bool,
) -> Result<i64> {
    let id = c.id.clone().unwrap_or_default();
    let name = c.name.as_deref().unwrap_or(&id).trim_start_matches('/').to_string();
    let state = c.state.as_ref();
    if !state.and_then(|s| s.running).unwrap_or(false) {
        let status = state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_else(|| "unknown".into());
        return Err(Usage::msg(format!(
            "container {name} is not running (status: {status}): start it, or look at its image with `lucid debug \
             IMAGE`"
        )));
    }
    let host_config = c.host_config.clone().unwrap_or_default();
    // Only a PID namespace of its own: with `--pid host` or `--pid container:X` the toolbox's
    // PID 1 (and /proc/1/root) would be the host's or X's, not the target's.
    if let Some(mode) = host_config.pid_mode.as_deref().filter(|m| !m.is_empty() && *m != "private") {
        return Err(Usage::msg(format!(
            "container {name} does not have a PID namespace of its own (--pid {}): the toolbox would see other \
             processes than the target's; lucid refuses",
            mode.escape_debug()
        )));
    }
    let ids = match &opts.user {
        Some(u) => parse_user_flag(u).map_err(Usage::msg)?,
        None => {
            let user = c.config.as_ref().and_then(|c| c.user.clone()).unwrap_or_default();
            let (passwd, unread) = match read_file(e, &id, "/etc/passwd") {
                Ok(text) => (text, String::new()),
                Err(err) => (String::new(), format!(" (its /etc/passwd cannot be read: {err:#})")),
            };
            parse_ids(&user, |name| passwd_entry(&passwd, name)).map_err(|why| {
                Usage::msg(format!("container {name}: {why}{unread}; give the UID and GID with --user UID:GID"))
            })?
        }
    };
    let joins_ipc = host_config.ipc_mode.as_deref() == Some("shareable");
    if !joins_ipc {
        eprintln!(
            "lucid: container {name}'s IPC namespace is not shareable (--ipc {}; run it with --ipc shareable to \
             share it): the toolbox joins its PID and network namespaces only",
            host_config.ipc_mode.as_deref().unwrap_or("private").escape_debug()
        );
    }
    // The target's changes before the session; an engine that cannot list them (another storage
    // driver) costs the comparison afterwards, not the session.
    let before = changes(e, &id)
        .map_err(|err| eprintln!("lucid: warning: {err:#}: the target's filesystem will not be compared afterwards"))
        .ok();
    let target = format!("container:{id}");
    let body = ContainerCreateBody {
        image: Some(toolbox.to_string()),
        entrypoint: Some(Vec::new()),
        cmd: (!opts.command.is_empty()).then(|| through_busybox("/bin/busybox", &opts.command)),
        user: Some(ids.to_string()),
        tty: Some(interactive),
        open_stdin: Some(interactive),
        attach_stdin: Some(interactive),
        stdin_once: Some(interactive),
        host_config: Some(HostConfig {
            pid_mode: Some(target.clone()),
            network_mode: Some(target.clone()),
            ipc_mode: joins_ipc.then(|| target.clone()),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([("/tmp".to_string(), "rw,nosuid,nodev,size=64m".to_string())])),
            ..confinement(&host_config)
        }),
        ..Default::default()
    };
    eprintln!("lucid: toolbox {toolbox} in container {name}'s PID and network namespaces, as {ids}");
    let status =
        session(e, body, interactive).with_context(|| format!("the toolbox session beside container {name}"))?;
    if let Some(before) = before {
        // The command ran: what follows are warnings, never its exit status lost.
        if let Err(err) = tidy_up(e, &id, &name, toolbox, ids, &host_config, &before) {
            eprintln!("lucid: warning: after the session: {err:#}");
        }
    }
    Ok(status)
}

/// A container of the image `opts.target` with the toolbox's busybox at [`BUSYBOX_MOUNT`].
fn debug_image(e: &Engine, opts: &Options, toolbox: &str, interactive: bool) -> Result<i64> {
    // The engine fills an empty volume from the image's directory when a container that mounts
    // it is created: so the toolbox's /bin lands in the volume without running anything.
    let volume = Volume::create(e.rt, e.docker, e.host, &[(TARGET_LABEL, &opts.target)])?;
    let filler = ContainerCreateBody {
        image: Some(toolbox.to_string()),
        host_config: Some(HostConfig {
            mounts: Some(vec![volume_mount(&volume.name, "/bin", false)]),
            ..Default::default()
        }),
        ..Default::default()
    };
    drop(e.create(filler)?);
    let busybox = format!("{BUSYBOX_MOUNT}/busybox");
    let command = through_busybox(&busybox, &opts.command);
    let body = ContainerCreateBody {
        image: Some(opts.target.clone()),
        entrypoint: Some(command),
        cmd: Some(Vec::new()),
        user: opts.user.as_deref().map(parse_user_flag).transpose().map_err(Usage::msg)?.map(|i| i.to_string()),
        tty: Some(interactive),
        open_stdin: Some(interactive),
        attach_stdin: Some(interactive),
        stdin_once: Some(interactive),
        host_config: Some(HostConfig {
            mounts: Some(vec![volume_mount(&volume.name, BUSYBOX_MOUNT, true)]),
            network_mode: Some("none".into()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    eprintln!("lucid: image {} with the toolbox's busybox at {BUSYBOX_MOUNT} (read-only), no network", opts.target);
    session(e, body, interactive).with_context(|| format!("the shell in image {}", opts.target))
}

/// What a toolbox container takes from the target's settings: its user namespace (the two must
/// share one) and the capabilities it dropped (the toolbox never has more than the target), with
/// `no-new-privileges`.
fn confinement(target: &HostConfig) -> HostConfig {
    HostConfig {
        userns_mode: target.userns_mode.clone().filter(|m| !m.is_empty()),
        cap_drop: target.cap_drop.clone(),
        security_opt: Some(vec!["no-new-privileges".into()]),
        ..Default::default()
    }
}

/// `--user UID:GID`, both numeric: the identity is given, not looked up.
pub fn parse_user_flag(user: &str) -> std::result::Result<Ids, String> {
    let parsed = user.split_once(':').and_then(|(u, g)| Some(Ids { uid: u.parse().ok()?, gid: g.parse().ok()? }));
    parsed.ok_or_else(|| format!("--user {:?}: give UID:GID, both numbers (65532:65532)", user))
}

fn volume_mount(name: &str, target: &str, read_only: bool) -> Mount {
    Mount {
        source: Some(name.to_string()),
        target: Some(target.to_string()),
        typ: Some(MountType::VOLUME),
        read_only: Some(read_only),
        ..Default::default()
    }
}

/// Creates the container `body`, runs it to its end with its output on ours (and our terminal
/// as its terminal when `interactive`), removes it and returns its exit status.
fn session(e: &Engine, body: ContainerCreateBody, interactive: bool) -> Result<i64> {
    let (rt, docker) = (e.rt, e.docker);
    let container = e.create(body)?;
    let id = container.id.clone();
    rt.block_on(async {
        // Detach keys nobody types: the engine's default (Ctrl-P Ctrl-Q) would swallow Ctrl-P,
        // the shell's history key, and detaching would leave lucid waiting.
        let opts = AttachContainerOptions {
            stdin: interactive,
            stdout: true,
            stderr: true,
            stream: true,
            detach_keys: Some("ctrl-@,ctrl-@,ctrl-@".into()),
            ..Default::default()
        };
        let attached = docker.attach_container(&id, Some(opts)).await.context("cannot attach to the container")?;
        docker.start_container(&id, None).await.map_err(|e| anyhow!("the engine cannot start the container: {e}"))?;
        let raw = if interactive { Some(terminal::Raw::enter()?) } else { None };
        if interactive {
            if let Some((h, w)) = terminal::size() {
                let size = bollard::query_parameters::ResizeContainerTTYOptions { h, w };
                let _ = docker.resize_container_tty(&id, size).await;
            }
            let mut input = attached.input;
            // Our stdin to the container's, on a thread of its own (a blocking read); it ends
            // with the process, which is fine: the session is over by then.
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut stdin = std::io::stdin().lock();
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                while let Some(bytes) = rx.recv().await {
                    if input.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
            });
        }
        let mut output = attached.output;
        while let Some(chunk) = output.next().await {
            use bollard::container::LogOutput;
            match chunk {
                Ok(LogOutput::StdErr { message }) => {
                    let _ = std::io::stderr().write_all(&message);
                }
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(&message);
                    let _ = out.flush();
                }
                Ok(_) => {}
                Err(e) => bail!("reading the container's output: {e}"),
            }
        }
        drop(raw);
        engine::exit_status(docker, &id).await
    })
}

/// After a session beside container `id`: removes the JVM attach files the session added in the
/// target's `/tmp` (with the toolbox, as the same user, through `/proc/1/root`), then says what
/// else changed. Errors are the caller's warnings: the session is over.
fn tidy_up(
    e: &Engine,
    id: &str,
    name: &str,
    toolbox: &str,
    ids: Ids,
    target: &HostConfig,
    before: &BTreeSet<String>,
) -> Result<()> {
    let (rt, docker) = (e.rt, e.docker);
    let mut after = changes(e, id)?;
    let attach: Vec<String> = after
        .difference(before)
        .filter_map(|c| attach_file(c))
        .take(MAX_ATTACH_FILES)
        .map(|p| format!("/proc/1/root{p}"))
        .collect();
    if !attach.is_empty() {
        let mut cmd = vec!["/bin/busybox".to_string(), "rm".into(), "-f".into(), "--".into()];
        cmd.extend(attach);
        let body = ContainerCreateBody {
            image: Some(toolbox.to_string()),
            entrypoint: Some(Vec::new()),
            cmd: Some(cmd),
            user: Some(ids.to_string()),
            host_config: Some(HostConfig {
                pid_mode: Some(format!("container:{id}")),
                network_mode: Some("none".into()),
                readonly_rootfs: Some(true),
                ..confinement(target)
            }),
            ..Default::default()
        };
        let container = e.create(body)?;
        let status = rt.block_on(async {
            docker.start_container(&container.id, None).await?;
            engine::exit_status(docker, &container.id).await
        });
        match status {
            Ok(0) => {}
            Ok(code) => eprintln!("lucid: warning: removing the JVM's attach socket exited with status {code}"),
            Err(err) => eprintln!("lucid: warning: cannot remove the JVM's attach socket: {err:#}"),
        }
        // What the removal left: read again only when something was removed.
        after = changes(e, id)?;
    }
    let changed: Vec<&String> = after.symmetric_difference(before).collect();
    if changed.is_empty() {
        eprintln!("lucid: container {name}'s filesystem is as it was before the session");
    } else {
        // The paths are the target's: shown escaped (a file name cannot drive the terminal), and
        // only the first few.
        let shown: Vec<String> = changed.iter().take(SHOWN_CHANGES).map(|c| c.escape_debug().to_string()).collect();
        let more = changed.len().saturating_sub(SHOWN_CHANGES);
        eprintln!(
            "lucid: container {name}'s filesystem changed during the session (by the application, or by commands run \
             in the toolbox; lucid itself writes nothing there): {}{}",
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        );
    }
    Ok(())
}

/// At most this many attach files are removed (a session makes one per JVM it attaches to).
const MAX_ATTACH_FILES: usize = 16;
/// At most this many changed paths are named after a session.
const SHOWN_CHANGES: usize = 20;

/// The path of a JVM attach file the session may have made (`A /tmp/.java_pid7`,
/// `A /tmp/.attach_pid7`) in one line of [`changes`], if it is one: only in `/tmp`, where
/// HotSpot puts its socket and jattach its trigger file.
fn attach_file(change: &str) -> Option<&str> {
    let path = change.strip_prefix("A ")?;
    let file = path.strip_prefix("/tmp/")?;
    let digits = file.strip_prefix(".java_pid").or_else(|| file.strip_prefix(".attach_pid"))?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(path)
}

/// The container's filesystem changes as `docker diff` prints them (`A /tmp/x`, `C /tmp`).
fn changes(e: &Engine, id: &str) -> Result<BTreeSet<String>> {
    let list =
        e.rt.block_on(e.docker.container_changes(id)).context("cannot read the container's filesystem changes")?;
    Ok(list
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let kind = match c.kind as i32 {
                0 => 'C',
                1 => 'A',
                _ => 'D',
            };
            format!("{kind} {}", c.path)
        })
        .collect())
}

/// The bytes of the regular file `path` in container `id` (at most 1 MiB), through the engine's
/// archive endpoint: a read, which changes nothing.
fn read_file(e: &Engine, id: &str, path: &str) -> Result<String> {
    const MAX: usize = 1 << 20;
    let tar = e.rt.block_on(async {
        let mut stream = e.docker.download_from_container(id, Some(DownloadFromContainerOptions { path: path.into() }));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            tar.extend_from_slice(&chunk?);
            if tar.len() > MAX + 4096 {
                bail!("{path} is larger than {MAX} bytes");
            }
        }
        Ok(tar)
    })?;
    let mut archive = tar::Archive::new(tar.as_slice());
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            entry.by_ref().take(MAX as u64).read_to_end(&mut bytes)?;
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    bail!("{path} is not a regular file")
}

/// The UID and GID of the `/etc/passwd` entry named `name` or numbered `name`.
fn passwd_entry(passwd: &str, name: &str) -> Option<Ids> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || (f[0] != name && f[2] != name) {
            return None;
        }
        Some(Ids { uid: f[2].parse().ok()?, gid: f[3].parse().ok()? })
    })
}

/// A container's `User` (`""`, `NAME`, `UID`, `UID:GID`, `NAME:GROUP`) as numbers, the way the
/// engine resolves it: names and a missing GID through the target's `/etc/passwd` (`lookup`);
/// a numeric UID no entry names gets GID 0; empty is root.
pub fn parse_ids(user: &str, lookup: impl Fn(&str) -> Option<Ids>) -> std::result::Result<Ids, String> {
    let user = user.trim();
    if user.is_empty() {
        return Ok(Ids { uid: 0, gid: 0 });
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(u)
            .map(|i| i.uid)
            .ok_or_else(|| format!("its user {u:?} is not numeric and its /etc/passwd does not name it"))?,
    };
    let gid = match g {
        Some(g) => g.parse::<u32>().map_err(|_| format!("its group {g:?} is not numeric"))?,
        None => lookup(u).map_or(0, |i| i.gid),
    };
    Ok(Ids { uid, gid })
}

/// `command` run by the busybox shell at `busybox`, which runs its applets (`sh`, `ls`, `ps`...)
/// without links on `PATH` and finds the rest (jattach, py-spy, strace) there; no command: the
/// interactive shell.
fn through_busybox(busybox: &str, command: &[String]) -> Vec<String> {
    let mut cmd = vec![busybox.to_string(), "sh".to_string()];
    if !command.is_empty() {
        cmd.extend(["-c", r#"exec "$@""#, "sh"].map(String::from));
        cmd.extend(command.iter().cloned());
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n";

    #[test]
    fn users_resolve_as_the_engine_does() {
        let lookup = |n: &str| passwd_entry(PASSWD, n);
        assert_eq!(parse_ids("", lookup), Ok(Ids { uid: 0, gid: 0 }));
        assert_eq!(parse_ids("65532", lookup), Ok(Ids { uid: 65532, gid: 65532 }));
        assert_eq!(parse_ids("nonroot", lookup), Ok(Ids { uid: 65532, gid: 65532 }));
        assert_eq!(parse_ids("1000", lookup), Ok(Ids { uid: 1000, gid: 0 }));
        assert_eq!(parse_ids("1000:1001", lookup), Ok(Ids { uid: 1000, gid: 1001 }));
        assert!(parse_ids("app", lookup).unwrap_err().contains("not numeric"));
        assert!(parse_ids("1000:staff", lookup).unwrap_err().contains("not numeric"));
    }

    #[test]
    fn only_jvm_attach_files_are_tidied() {
        assert_eq!(attach_file("A /tmp/.java_pid1"), Some("/tmp/.java_pid1"));
        assert_eq!(attach_file("A /tmp/.attach_pid42"), Some("/tmp/.attach_pid42"));
        for other in [
            "C /tmp/.java_pid1",
            "A /tmp/.java_pid",
            "A /tmp/.java_pid1x",
            "A /tmp/data",
            "A /app/.attach_pid42",
            "A /tmp/x/.java_pid1",
            "A /tmp/../etc/.java_pid1",
        ] {
            assert_eq!(attach_file(other), None, "{other}");
        }
    }

    #[test]
    fn commands_run_through_the_busybox_shell_unquoted() {
        let c = through_busybox("/bin/busybox", &["ls".into(), "it's".into()]);
        assert_eq!(c, ["/bin/busybox", "sh", "-c", r#"exec "$@""#, "sh", "ls", "it's"]);
        assert_eq!(through_busybox("/busybox/busybox", &[]), ["/busybox/busybox", "sh"]);
    }
}
