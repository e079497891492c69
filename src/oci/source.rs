//! Every image transport behind one call: an [`ImageRef`] becomes the images it names (one
//! [`ImageView`] per platform), whatever it came from.
//!
//! | reference | read how |
//! | --- | --- |
//! | `oci:DIR[:TAG]` | the layout in place; an index gives every platform |
//! | `docker-archive:FILE` | the tar in place (layers are byte ranges of it) |
//! | `docker-daemon:NAME[:TAG]` | exported through the Engine API into a temporary docker-archive |
//! | `docker://HOST/REPO[:TAG]` | pulled into a temporary OCI layout ([`super::registry`]) |
//!
//! Exported and pulled images live on disk, never in memory, and the temporary directory lives
//! as long as the [`Source`].

use std::path::Path;

use anyhow::{Context, Result};

use super::read::{ImageView, layout_manifests, open_docker_archive, open_layout_manifest};
use super::reference::ImageRef;
use super::registry::{RegistryAuth, pull_to_layout};

/// An opened reference: its images, and the temporary files that back them.
pub struct Source {
    pub reference: ImageRef,
    pub images: Vec<ImageView>,
    _temp: Option<tempfile::TempDir>,
}

/// Options for sources that need them (registries).
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    pub registry: RegistryAuth,
}

/// Parses and opens `reference` (see [`ImageRef`] for the forms).
pub fn open(reference: &str, opts: &SourceOptions) -> Result<Source> {
    open_ref(ImageRef::parse(reference).map_err(crate::exit::usage)?, opts)
}

/// Opens a parsed reference.
pub fn open_ref(reference: ImageRef, opts: &SourceOptions) -> Result<Source> {
    let (images, temp) = match &reference {
        ImageRef::Oci { dir, tag } => (open_layout_all(dir, tag.as_deref())?, None),
        ImageRef::DockerArchive { file, .. } => (vec![open_docker_archive(file)?], None),
        ImageRef::DockerDaemon { name } => {
            let temp = tempdir()?;
            let file = temp.path().join("image.tar");
            super::engine::export(&super::engine::engine_host(), name, &file)?;
            let view =
                open_docker_archive(&file).with_context(|| format!("in the image {name} exported by the engine"))?;
            (vec![view], Some(temp))
        }
        ImageRef::Registry(r) => {
            let temp = tempdir()?;
            let tag =
                pull_to_layout(r, &opts.registry, temp.path()).with_context(|| format!("cannot pull {reference}"))?;
            (open_layout_all(temp.path(), Some(&tag))?, Some(temp))
        }
    };
    Ok(Source { reference, images, _temp: temp })
}

fn tempdir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("lucid-image-").tempdir().context("cannot create a temporary directory")
}

/// Every platform image that `tag` reaches in the layout `dir`.
pub fn open_layout_all(dir: &Path, tag: Option<&str>) -> Result<Vec<ImageView>> {
    layout_manifests(dir, tag)?.into_iter().map(|desc| open_layout_manifest(dir, &desc, tag)).collect()
}
