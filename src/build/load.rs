//! `--load`, as `docker buildx build --load` does it: the host platform's docker-archive of
//! every built image goes to the Docker engine. It runs after every output is written, so a
//! machine without an engine still gets every image in the output directory, and is told
//! plainly that nothing was loaded.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::BuiltOutput;
use crate::oci;
use crate::progress::Reporter;
use crate::spec::Platform;

/// No Docker engine answers: nothing was loaded, and every output is in place. A matter of the
/// machine's configuration, not of the images.
#[derive(Debug, thiserror::Error)]
#[error(
    "nothing was loaded into Docker: no engine answers at {host} ({why}): {cause}\n  \
     Every image was built and written to {output} (`docker load -i {output}/IMAGE.tar` loads one).\n  \
     Start an engine (`sudo dockerd`, or `sudo systemctl start docker`), or set DOCKER_HOST to one \
     (unix:///PATH/docker.sock, tcp://HOST:2375), then build again with --load.",
    why = if *.from_env { "set by DOCKER_HOST" } else { "the default: DOCKER_HOST is not set" },
    output = output.display()
)]
pub struct NoEngine {
    /// Where the engine was looked for.
    pub host: String,
    /// Whether `host` came from `DOCKER_HOST` (else it is the default socket).
    pub from_env: bool,
    /// Why it did not answer (`connection refused`, `Socket not found`).
    pub cause: String,
    /// Where the images were written.
    pub output: PathBuf,
}

/// Loads the host platform's archive of each of `outputs` (written into `output`) into the
/// engine at `DOCKER_HOST` or `/var/run/docker.sock`, marking them loaded. Fails with
/// [`NoEngine`] before loading anything when no engine answers.
pub fn load(outputs: &mut [BuiltOutput], output: &std::path::Path, reporter: &Reporter) -> Result<()> {
    let host = oci::engine::engine_host();
    if let Err(e) = oci::engine::ping(&host) {
        let from_env = std::env::var_os("DOCKER_HOST").is_some_and(|h| !h.is_empty());
        let cause = e.root_cause().to_string();
        return Err(NoEngine { host, from_env, cause, output: output.to_path_buf() }.into());
    }
    for out in outputs.iter_mut().filter(|o| o.platform == Platform::host()) {
        let progress = reporter.task(super::scope(&out.image, &out.platform));
        progress.step("Loading", out.archive.display());
        oci::engine::load_at(&host, &out.archive)
            .with_context(|| format!("cannot load {} into the Docker engine at {host}", out.archive.display()))?;
        out.loaded = true;
        reporter.status("Loaded", format!("{} ({}) into the Docker engine", out.references.join(", "), out.platform));
    }
    Ok(())
}
