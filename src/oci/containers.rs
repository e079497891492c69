//! What lucid starts in the engine (runtime checks, `lucid debug`), and the guarantee that it
//! leaves nothing: every container, temporary image and volume of this run is recorded here the
//! moment it exists, removed when its guard drops (timeout, error and panic included), and
//! removed by a signal handler when the run is interrupted (Ctrl-C, CI cancellation) before the
//! guards can run.
//!
//! `AutoRemove` is not enough: a process killed between create and start leaves a created
//! container that never auto-removes, and a timed-out future that is dropped never reaches its
//! own clean-up. So removal is synchronous, forced, and owned by a value or by the handler.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, VolumeCreateRequest};
use bollard::query_parameters::{RemoveContainerOptions, RemoveImageOptions, RemoveVolumeOptions};

use super::engine;

/// The label every container and volume of this run carries (runtime checks' and `lucid
/// debug`'s), valued with [`run_id`]: what tests (and an operator) filter on to prove that
/// nothing is left behind.
pub const RUN_LABEL: &str = "dev.lucid.verify-run";

/// The repository of the temporary images runtime checks load (`lucid-verify-tmp/HEX:RUN`).
pub const TEMP_REPOSITORY: &str = "lucid-verify-tmp";

/// What this process has in the engine right now.
struct Live {
    host: String,
    containers: Vec<String>,
    images: Vec<String>,
    volumes: Vec<String>,
}

static LIVE: Mutex<Live> =
    Mutex::new(Live { host: String::new(), containers: Vec::new(), images: Vec::new(), volumes: Vec::new() });

fn live() -> MutexGuard<'static, Live> {
    // A panic elsewhere while holding the lock leaves the lists as they were: still right.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// This run's identity in names and labels: the process ID and the start time, so that two runs
/// (two CI jobs on one engine) never share a temporary name and one never removes the other's.
pub fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        format!("{}-{nanos:09}", std::process::id())
    })
}

/// A name of lucid's own for the image whose config digest is `config_digest`.
pub fn temp_tag(config_digest: &str) -> Result<String> {
    let hex = crate::oci::digest_hex(config_digest)?;
    Ok(format!("{TEMP_REPOSITORY}/{}:{}", &hex[..12], run_id()))
}

/// Records `tag` as an image of this run (before it is loaded, so an interrupt during the load
/// removes it too) on the engine at `host`.
pub fn record_image(host: &str, tag: &str) {
    install_interrupt_handler();
    let mut l = live();
    l.host = host.to_string();
    l.images.push(tag.to_string());
}

/// Removes the temporary image `tag` (untags it when the engine knows the image by other names
/// too) and forgets it.
pub fn remove_image(rt: &tokio::runtime::Runtime, docker: &Docker, tag: &str) {
    let opts = RemoveImageOptions { force: false, noprune: false, ..Default::default() };
    let _ = rt.block_on(docker.remove_image(tag, Some(opts), None));
    live().images.retain(|t| t != tag);
}

/// A created container, removed (forcibly, synchronously) when this drops.
pub struct Container<'a> {
    rt: &'a tokio::runtime::Runtime,
    docker: &'a Docker,
    pub id: String,
}

impl<'a> Container<'a> {
    /// Creates a container of `body`, labelled as this run's, and records it before anything
    /// else can happen: the creation holds the record's lock, so an interrupt handler that runs
    /// meanwhile waits for the ID and removes it.
    pub fn create(
        rt: &'a tokio::runtime::Runtime,
        docker: &'a Docker,
        host: &str,
        mut body: ContainerCreateBody,
    ) -> Result<Container<'a>> {
        install_interrupt_handler();
        body.labels.get_or_insert_with(HashMap::new).insert(RUN_LABEL.to_string(), run_id().to_string());
        let mut l = live();
        l.host = host.to_string();
        let created =
            rt.block_on(docker.create_container(None, body)).context("the engine cannot create the container")?;
        l.containers.push(created.id.clone());
        Ok(Container { rt, docker, id: created.id })
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let rm = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        let _ = self.rt.block_on(self.docker.remove_container(&self.id, Some(rm)));
        live().containers.retain(|c| c != &self.id);
    }
}

/// A volume of this run (a structure test's shared `/tmp`), removed when this drops. It is the
/// engine's local driver on its disk: a tmpfs volume would be mounted afresh, empty, by each
/// container, and what `setup` wrote would be gone before the test runs.
pub struct Volume<'a> {
    rt: &'a tokio::runtime::Runtime,
    docker: &'a Docker,
    pub name: String,
}

impl<'a> Volume<'a> {
    /// Creates the volume, labelled as this run's and recorded before anything else can happen.
    /// The engine fills it from the image's directory at its first mount (so `/tmp` keeps the
    /// image's mode, 1777).
    /// `labels` are added to the run's own (what a caller filters on).
    pub fn create(
        rt: &'a tokio::runtime::Runtime,
        docker: &'a Docker,
        host: &str,
        labels: &[(&str, &str)],
    ) -> Result<Volume<'a>> {
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        install_interrupt_handler();
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{TEMP_REPOSITORY}-{}-{n}", run_id());
        let request = VolumeCreateRequest {
            name: Some(name.clone()),
            driver: Some("local".into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .chain([(RUN_LABEL.to_string(), run_id().to_string())])
                    .collect(),
            ),
            ..Default::default()
        };
        let mut l = live();
        l.host = host.to_string();
        l.volumes.push(name.clone());
        rt.block_on(docker.create_volume(request)).context("the engine cannot create a volume")?;
        Ok(Volume { rt, docker, name })
    }
}

impl Drop for Volume<'_> {
    fn drop(&mut self) {
        let rm = RemoveVolumeOptions { force: true };
        let _ = self.rt.block_on(self.docker.remove_volume(&self.name, Some(rm)));
        live().volumes.retain(|v| v != &self.name);
    }
}

/// What must happen before an interrupted run exits, besides removing its containers (a terminal
/// in raw mode put back, for `lucid debug`). Set once.
static BEFORE_EXIT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Runs `f` first when an interrupt ends the run (see [`install_interrupt_handler`]).
pub fn before_interrupted_exit(f: fn()) {
    let _ = BEFORE_EXIT.set(f);
}

/// The write end of the pipe the signal handler writes to (-1 until installed).
static WAKE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WAKE.load(std::sync::atomic::Ordering::SeqCst);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Installs (once) handlers for SIGINT, SIGTERM and SIGHUP that hand the signal to a clean-up
/// thread through a pipe (a handler itself may do almost nothing). The thread removes this run's
/// containers and temporary images, then ends the process as the signal would have (128 + its
/// number). Installed only when a runtime check first touches the engine: other commands keep
/// the default behaviour.
fn install_interrupt_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return;
        }
        let read_end = fds[0];
        let spawned = std::thread::Builder::new().name("lucid-interrupt".into()).spawn(move || {
            let mut sig = 0u8;
            // SAFETY: reads one byte into a local; blocks until a handler writes.
            let n = unsafe { libc::read(read_end, (&mut sig as *mut u8).cast(), 1) };
            if n == 1 {
                clean_up_and_exit(i32::from(sig));
            }
        });
        if spawned.is_err() {
            return;
        }
        WAKE.store(fds[1], std::sync::atomic::Ordering::SeqCst);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: the handler only loads an atomic and calls write(2).
            unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
        }
    });
}

/// Removes everything this run has in the engine, then exits with 128 + `sig`. Holds the record's
/// lock to the end, so no new container is created meanwhile.
fn clean_up_and_exit(sig: i32) -> ! {
    if let Some(f) = BEFORE_EXIT.get() {
        f();
    }
    let l = live();
    if !l.containers.is_empty() || !l.images.is_empty() || !l.volumes.is_empty() {
        eprintln!(
            "lucid: interrupted; removing {} container(s), {} temporary image(s) and {} volume(s)",
            l.containers.len(),
            l.images.len(),
            l.volumes.len()
        );
        let (host, containers, images, volumes) =
            (l.host.clone(), l.containers.clone(), l.images.clone(), l.volumes.clone());
        let _ = engine::block_on(|| async move {
            let docker = engine::connect(&host).await?;
            for id in &containers {
                let rm = RemoveContainerOptions { force: true, v: true, ..Default::default() };
                let _ = docker.remove_container(id, Some(rm)).await;
            }
            for tag in &images {
                let _ = docker.remove_image(tag, Some(RemoveImageOptions::default()), None).await;
            }
            for v in &volumes {
                let _ = docker.remove_volume(v, Some(RemoveVolumeOptions { force: true })).await;
            }
            Ok(())
        });
    }
    std::process::exit(128 + sig)
}
