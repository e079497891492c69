//! The Docker engine, through its API (no `docker` CLI needed): connect, load an image into it,
//! export an image out of it. Every blocking call goes through [`block_on`].
//!
//! The engine is found as the Docker CLI finds it: `DOCKER_HOST`, else `/var/run/docker.sock`
//! (Podman's compatible socket works through `DOCKER_HOST`). The API version is negotiated
//! because Debian 12's engine speaks API 1.41, older than bollard's default.

use std::future::Future;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use bollard::query_parameters::ImportImageOptions;
use futures_util::StreamExt;

use super::interface::Image;

/// Chunk size for streaming an archive to the engine: large enough to keep the socket busy,
/// small enough that multi-hundred-megabyte images never sit in memory whole.
const CHUNK: usize = 1 << 20;

/// Loads the docker-archive at `archive` into the Docker engine at `host` (`unix:///path`,
/// `tcp://host:port`; [`engine_host`] gives `DOCKER_HOST`'s) with `POST /images/load`, and
/// returns what the engine reported (`Loaded image: NAME:TAG`, or `Loaded image ID: sha256:...`).
///
/// Blocking. Safe to call from inside a tokio runtime too (see [`block_on`]).
pub fn load_at(host: &str, archive: &Path) -> Result<Vec<String>> {
    block_on(|| load_async(host, archive))
}

/// Whether an engine answers at `host`: connects and negotiates the API version, nothing more
/// (so `build --load` can say that nothing was loaded before it tries).
pub fn ping(host: &str) -> Result<()> {
    block_on(|| async { connect(host).await.map(drop) })
}

/// Loads `image`, from wherever it was read, into the engine at `host` under `tag`: written as a
/// docker-archive in a temporary directory (removed afterwards), then loaded.
pub fn load_image(host: &str, image: &dyn Image, tag: &str) -> Result<Vec<String>> {
    let dir =
        tempfile::Builder::new().prefix("lucid-load-").tempdir().context("cannot create a temporary directory")?;
    let file = dir.path().join("image.tar");
    super::archive::write_docker_archive(&file, image, &[tag.to_string()])?;
    load_at(host, &file)
}

/// Exports image `name` from the engine at `host` (`GET /images/NAME/get`, what `docker save`
/// does) into the docker-archive `file`, streaming.
pub fn export(host: &str, name: &str, file: &Path) -> Result<()> {
    block_on(|| async {
        let docker = connect(host).await?;
        docker
            .inspect_image(name)
            .await
            .with_context(|| format!("the Docker engine at {host} has no image {name:?}"))?;
        let mut out = std::io::BufWriter::with_capacity(
            CHUNK,
            std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?,
        );
        let mut stream = docker.export_image(name);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("the Docker engine at {host} failed to export {name}"))?;
            out.write_all(&chunk).with_context(|| format!("cannot write {}", file.display()))?;
        }
        out.flush().with_context(|| format!("cannot write {}", file.display()))
    })
}

/// A single-threaded runtime for the engine's API (callers that keep one for a session).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime for the Docker API")
}

/// Runs the future `make` returns to completion and returns its result. Safe to call from
/// inside a tokio runtime too: the work then runs on its own thread with its own runtime
/// instead of panicking on a nested `block_on`.
pub fn block_on<T, F, Fut>(make: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    let run = move || runtime()?.block_on(make());
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(run).join().map_err(|_| anyhow!("the Docker API thread panicked"))?)
    } else {
        run()
    }
}

/// Where the engine is expected, for messages.
pub fn engine_host() -> String {
    std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "unix:///var/run/docker.sock".into())
}

/// Waits for container `id` to end and returns its exit status (-1 when the engine ends the wait
/// without one). A non-zero exit is a status here, not an error: the engine reports it as a
/// wait error carrying the code.
pub async fn exit_status(docker: &Docker, id: &str) -> Result<i64> {
    match docker.wait_container(id, None).next().await {
        Some(Ok(r)) => Ok(r.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(anyhow!(e).context("waiting for the container")),
        None => Ok(-1),
    }
}

/// Connects to the engine at `host` and negotiates the API version; a clear error if nothing
/// answers.
pub async fn connect(host: &str) -> Result<Docker> {
    let none = || {
        format!("no Docker engine answers at {host} (start dockerd, or set DOCKER_HOST to a Docker or Podman socket)")
    };
    let docker = Docker::connect_with_host(host).with_context(none)?;
    docker.negotiate_version().await.with_context(none)
}

async fn load_async(host: &str, archive: &Path) -> Result<Vec<String>> {
    // Open first: a missing file is reported as such, not as an engine problem.
    let mut file = std::fs::File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let docker = connect(host).await?;
    let shown = archive.display().to_string();
    let chunks = futures_util::stream::poll_fn(move |_| {
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf) {
            Ok(0) => std::task::Poll::Ready(None),
            Ok(n) => {
                buf.truncate(n);
                std::task::Poll::Ready(Some(Ok(buf.into())))
            }
            Err(e) => std::task::Poll::Ready(Some(Err(e))),
        }
    });
    let options = ImportImageOptions { quiet: true, ..Default::default() };
    let mut progress = docker.import_image_stream(options, chunks, None);
    let mut out = Vec::new();
    while let Some(item) = progress.next().await {
        let info = item.with_context(|| format!("the Docker engine at {host} could not load {shown}"))?;
        if let Some(text) = info.stream.as_deref() {
            out.extend(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
        }
    }
    if out.is_empty() {
        bail!("the Docker engine at {host} loaded {shown} but reported no image");
    }
    Ok(out)
}
