//! Every image transport behind one call: a skopeo-style reference becomes the [`ImageView`]s
//! it names (one per platform), whatever it came from.
//!
//! | reference | read how |
//! | --- | --- |
//! | `oci:DIR[:TAG]` | the layout in place; an index gives every platform |
//! | `docker-archive:FILE` | the tar in place (layers are byte ranges of it) |
//! | `docker-daemon:NAME:TAG` | exported through the Engine API into a temporary docker-archive |
//! | `docker://HOST/REPO:TAG` | pulled into a temporary OCI layout ([`super::registry`]) |
//!
//! Exported and pulled images live on disk, never in memory, and the temporary directory lives
//! as long as the [`Source`].

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;

use super::image::Platform;
use super::read::{ImageView, layout_manifests, open_docker_archive, open_layout_manifest};
use super::registry::{RegistryAuth, RegistryRef, pull_to_layout};

/// One image of a source, with the platform its index declares for it (if any).
#[derive(Clone, Debug)]
pub struct SourceImage {
    pub view: ImageView,
    /// The platform the index says this manifest is for (`None` for a lone image).
    pub declared: Option<Platform>,
}

impl SourceImage {
    /// `linux/amd64`, `linux/arm64/v8`, from the config.
    pub fn platform(&self) -> String {
        let c = &self.view.config;
        match &c.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", c.os, c.architecture),
            _ => format!("{}/{}", c.os, c.architecture),
        }
    }
}

/// The transport a reference names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Oci,
    DockerArchive,
    DockerDaemon,
    Registry,
}

/// An opened reference: its images, and the temporary files that back them.
pub struct Source {
    pub reference: String,
    pub transport: Transport,
    pub images: Vec<SourceImage>,
    /// For `docker-daemon:`, the engine's name of the image (runtime checks run it as is).
    pub engine_name: Option<String>,
    _temp: Option<tempfile::TempDir>,
}

/// Options for sources that need them (registries).
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    pub registry: RegistryAuth,
}

/// Opens `reference` (`oci:DIR[:TAG]`, `docker-archive:FILE`, `docker-daemon:NAME:TAG`,
/// `docker://HOST/REPO:TAG`).
pub fn open(reference: &str, opts: &SourceOptions) -> Result<Source> {
    let source = |transport, images, engine_name, temp| Source {
        reference: reference.to_string(),
        transport,
        images,
        engine_name,
        _temp: temp,
    };
    if let Some(rest) = reference.strip_prefix("oci:") {
        let (dir, tag) = match rest.rsplit_once(':') {
            Some((d, t)) if !t.is_empty() && !t.contains('/') => (d, Some(t)),
            Some((d, _)) if rest.ends_with(':') => (d, None),
            _ => (rest, None),
        };
        Ok(source(Transport::Oci, open_layout_all(Path::new(dir), tag)?, None, None))
    } else if let Some(file) = reference.strip_prefix("docker-archive:") {
        let file = file.split_once(':').map_or(file, |(f, _)| f);
        let view = open_docker_archive(Path::new(file))?;
        Ok(source(Transport::DockerArchive, vec![SourceImage { view, declared: None }], None, None))
    } else if let Some(name) = reference.strip_prefix("docker-daemon:") {
        if name.is_empty() {
            bail!("docker-daemon: needs an image name (docker-daemon:NAME:TAG)");
        }
        let temp = tempdir()?;
        let file = temp.path().join("image.tar");
        export(&super::engine::engine_host(), name, &file)?;
        let view = open_docker_archive(&file).with_context(|| format!("in the image {name} exported by the engine"))?;
        let images = vec![SourceImage { view, declared: None }];
        Ok(source(Transport::DockerDaemon, images, Some(name.to_string()), Some(temp)))
    } else if let Some(rest) = reference.strip_prefix("docker://") {
        let r = RegistryRef::parse(rest)?;
        let temp = tempdir()?;
        let tag =
            pull_to_layout(&r, &opts.registry, temp.path()).with_context(|| format!("cannot pull {reference}"))?;
        let images = open_layout_all(temp.path(), Some(&tag))?;
        Ok(source(Transport::Registry, images, None, Some(temp)))
    } else {
        bail!(
            "unsupported image reference {reference:?}: use oci:DIR[:TAG], docker-archive:FILE, \
             docker-daemon:NAME:TAG or docker://HOST/REPO:TAG"
        )
    }
}

fn tempdir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("lucid-image-").tempdir().context("cannot create a temporary directory")
}

/// Every platform image that `tag` reaches in the layout `dir`.
pub fn open_layout_all(dir: &Path, tag: Option<&str>) -> Result<Vec<SourceImage>> {
    layout_manifests(dir, tag)?
        .into_iter()
        .map(|desc| {
            let view = open_layout_manifest(dir, &desc, tag)?;
            Ok(SourceImage { view, declared: desc.platform.clone() })
        })
        .collect()
}

/// Exports image `name` from the engine at `host` (`GET /images/NAME/get`, what `docker save`
/// does) into the docker-archive `file`, streaming.
pub fn export(host: &str, name: &str, file: &Path) -> Result<()> {
    let run = || -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime for the Docker API")?;
        rt.block_on(async {
            let docker = super::engine::connect(host).await?;
            docker
                .inspect_image(name)
                .await
                .with_context(|| format!("the Docker engine at {host} has no image {name:?}"))?;
            let mut out = std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?,
            );
            let mut stream = docker.export_image(name);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.with_context(|| format!("the Docker engine at {host} failed to export {name}"))?;
                out.write_all(&chunk).with_context(|| format!("cannot write {}", file.display()))?;
            }
            out.flush().with_context(|| format!("cannot write {}", file.display()))
        })
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(run).join().map_err(|_| anyhow!("the Docker export thread panicked"))?)
    } else {
        run()
    }
}
