//! Outputs: layers, the image config and manifest, the OCI layout, the docker-archive and the
//! Docker engine. Every file is written to a temporary path and renamed, so a failed build
//! leaves the previous output (or none) in place, never half an image.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::BuildOptions;
use super::assemble::Assembled;
use crate::oci;
use crate::spec::{Image, Platform, Spec};

/// What one image build produced.
#[derive(Clone, Debug)]
pub struct BuiltOutput {
    pub image: String,
    pub platform: Platform,
    /// `name:tag` references.
    pub references: Vec<String>,
    pub manifest_digest: String,
    /// Bytes of file content in the image: what `docker images` reports as SIZE, and what
    /// budgets are checked against.
    pub size: u64,
    /// Sum of the uncompressed layer tars (content plus tar headers and padding).
    pub tar_size: u64,
    /// Sum of the compressed layer blobs (what a registry stores and a pull transfers).
    pub compressed_size: u64,
    pub budget: Option<u64>,
    pub layout: PathBuf,
    pub archive: PathBuf,
    pub packages: usize,
    pub wheels: usize,
    pub layers: usize,
    pub loaded: bool,
}

/// The `name:tag` references an image gets: `-t` wins over the spec's tags; a `-t :TAG` keeps the
/// image's name.
pub fn references(spec: &Spec, img: &Image, opts: &BuildOptions, epoch: i64) -> Vec<String> {
    if opts.tags.is_empty() {
        return spec.expanded_tags(epoch).into_iter().map(|t| format!("{}:{t}", img.name)).collect();
    }
    opts.tags
        .iter()
        .map(|t| {
            let (name, tag) = match t.rsplit_once(':') {
                Some((n, tag)) if !tag.contains('/') => (if n.is_empty() { img.name.as_str() } else { n }, tag),
                _ => (t.as_str(), "latest"),
            };
            format!("{name}:{tag}")
        })
        .collect()
}

fn env_list(env: &BTreeMap<String, String>) -> Vec<String> {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Writes the layers and the image, then the OCI layout `<output>/<image>` and the docker-archive
/// `<output>/<image>.tar`, and loads it into the Docker engine when asked.
pub fn write_outputs(
    spec: &Spec,
    img: &Image,
    platform: &Platform,
    assembled: &Assembled,
    opts: &BuildOptions,
    epoch: i64,
) -> Result<BuiltOutput> {
    std::fs::create_dir_all(&opts.output).with_context(|| format!("cannot create {}", opts.output.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".lucid-staging-")
        .tempdir_in(&opts.output)
        .with_context(|| format!("cannot create a staging directory in {}", opts.output.display()))?;
    let mut blobs = Vec::new();
    let mut history = Vec::new();
    for layer in &assembled.layers {
        blobs.push(oci::layer::write_layer(&layer.tree, epoch, staging.path())?);
        history.push(layer.created_by.clone());
    }
    let references = references(spec, img, opts, epoch);
    let mut labels = img.labels.clone();
    labels.insert("org.opencontainers.image.title".into(), img.name.clone());
    if let Some(d) = &img.description {
        labels.insert("org.opencontainers.image.description".into(), d.clone());
    }
    labels.insert("org.opencontainers.image.created".into(), oci::image::rfc3339(epoch)?);
    labels.insert("dev.lucid.stage".into(), img.stage.as_str().into());
    let mut env = assembled.env.clone();
    env.extend(img.env.clone());
    let config = oci::image::ImageConfig {
        architecture: platform.arch.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        user: format!("{}:{}", spec.user.uid, spec.user.gid),
        env: env_list(&env),
        entrypoint: img.entrypoint.clone(),
        cmd: img.cmd.clone(),
        working_dir: spec.user.home.clone(),
        labels,
        created: epoch,
        history,
    };
    let built = oci::image::assemble(config, blobs)?;
    let size = assembled.tree.content_size();
    let tar_size = built.layers.iter().map(|l| l.uncompressed_size).sum();
    let compressed_size = built.layers.iter().map(|l| l.size).sum();
    let tags: Vec<String> = references.iter().filter_map(|r| r.rsplit_once(':').map(|(_, t)| t.to_string())).collect();
    let layout = opts.output.join(&img.name);
    let archive = opts.output.join(format!("{}.tar", img.name));
    oci::layout::write_layout(&layout, &[(&built, tags)])?;
    oci::archive::write_docker_archive(&archive, &built, &references)?;
    let mut loaded = false;
    if opts.load {
        if *platform != Platform::host() {
            bail!(
                "--load hands the host's platform ({}) to the engine; {} was built for {platform}",
                Platform::host(),
                img.name
            );
        }
        oci::engine::load(&archive)
            .with_context(|| format!("cannot load {} into the Docker engine", archive.display()))?;
        loaded = true;
    }
    Ok(BuiltOutput {
        image: img.name.clone(),
        platform: platform.clone(),
        references,
        manifest_digest: built.manifest_digest.clone(),
        size,
        tar_size,
        compressed_size,
        budget: img.budget,
        layout,
        archive,
        packages: assembled.packages.len(),
        wheels: assembled.wheels.len(),
        layers: built.layers.len(),
        loaded,
    })
}
