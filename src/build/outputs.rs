//! Outputs: layers, the image config and manifest, the OCI layout and the docker-archive (the
//! engine gets them afterwards, see [`super::load`]). Every file is written to a temporary path
//! and renamed, so a failed build leaves the previous output (or none) in place, never half an
//! image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::BuildOptions;
use super::assemble::Assembled;
use super::context::{Context, Target};
use super::memo::{Made, Summary};
use crate::oci;
use crate::oci::image::BuiltImage;
use crate::spec::{Image, Platform, Spec};

/// What one image build produced.
#[derive(Clone, Debug)]
pub struct BuiltOutput {
    pub image: String,
    pub platform: Platform,
    /// `name:tag` references.
    pub references: Vec<String>,
    pub manifest_digest: String,
    /// The image index over every platform, when more than one was built.
    pub index_digest: Option<String>,
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
    /// Handed to the Docker engine ([`super::load`]).
    pub loaded: bool,
    /// The key of its inputs, under which `build::memo` keeps its record (what `--cache-to`
    /// with a key signs and pushes).
    pub memo_key: Option<String>,
}

/// The `name:tag` references an image gets: `-t` wins over the spec's tags; a `-t :TAG` keeps the
/// image's name; a `-t HOST[:PORT]/REPO:TAG` keeps its host (where `--push` sends it, and the
/// name `--load` gives it, as buildx does). The tags were checked by [`super::build`].
pub fn references(spec: &Spec, img: &Image, opts: &BuildOptions, epoch: i64, version: Option<&str>) -> Vec<String> {
    if opts.tags.is_empty() {
        return spec.tags_for(img, epoch, version).into_iter().map(|t| format!("{}:{t}", img.repository)).collect();
    }
    let mut out: Vec<String> = Vec::new();
    for t in &opts.tags {
        let reference = match oci::TagRef::parse(t) {
            Ok(tag @ oci::TagRef { repository: None, .. }) => format!("{}:{}", img.repository, tag.tag),
            Ok(tag) => tag.to_string(),
            Err(_) => continue,
        };
        if !out.contains(&reference) {
            out.push(reference);
        }
    }
    out
}

/// The upstream version of the package the image's fully specified tags name (`version_of`),
/// as locked for `platform` anywhere up its `extends` chain.
fn locked_version(ctx: &Context, img: &Image, platform: &crate::spec::Platform) -> Option<String> {
    let package = img.version_of.as_ref()?;
    let chain = ctx.spec.chain(&img.name).ok()?;
    chain.iter().rev().find_map(|link| {
        let locked = ctx.lock.image(&link.name, &platform.to_string())?;
        let p = locked.packages.iter().chain(&locked.tools).find(|p| &p.name == package)?;
        // A tag cannot start with `.` or `-`: a version with nothing usable names no tag.
        let v = crate::spec::upstream_version(&p.version);
        v.starts_with(|c: char| c.is_ascii_alphanumeric()).then_some(v)
    })
}

fn env_list(env: &BTreeMap<String, String>) -> Vec<String> {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Writes the layers of one assembled platform image into `staging` and makes its config and
/// manifest; also returns what the image took from the assembly (for [`super::memo`]).
pub fn image_for(t: &Target, assembled: &Assembled, staging: &Path) -> Result<(BuiltImage, Made)> {
    let cache = &t.ctx.fetcher.cache;
    t.progress.step("Compressing", format!("{} layers", assembled.layers.len()));
    let mut blobs = Vec::new();
    let mut history = Vec::new();
    for layer in &assembled.layers {
        blobs.push(oci::layer::write_layer_cached(&layer.tree, super::FILE_MTIME, staging, cache)?);
        history.push(layer.created_by.clone());
    }
    let made = Made {
        env: assembled.env.clone(),
        history,
        summary: Summary {
            size: assembled.tree.content_size(),
            packages: assembled.packages.len(),
            wheels: assembled.wheels.len(),
        },
    };
    Ok((image_of(t, blobs, &made)?, made))
}

/// The image of `blobs` (its layers, in order) as `made`: its config (the spec's labels, user,
/// env and the assembly's) and manifest. A built image and a remembered one are made here alike.
pub fn image_of(t: &Target, blobs: Vec<oci::LayerBlob>, made: &Made) -> Result<BuiltImage> {
    let (spec, img, platform, epoch) = (t.ctx.spec, t.image, t.platform, t.ctx.epoch);
    let mut labels = img.labels.clone();
    labels.insert(oci::labels::TITLE_LABEL.into(), img.name.clone());
    if let Some(d) = &img.description {
        labels.insert(oci::labels::DESCRIPTION_LABEL.into(), d.clone());
    }
    labels.insert(oci::labels::CREATED_LABEL.into(), oci::image::rfc3339(epoch)?);
    labels.insert(oci::labels::STAGE_LABEL.into(), img.stage.as_str().into());
    if img.debug {
        labels.insert(oci::labels::DEBUG_LABEL.into(), "true".into());
    }
    // Which archive keys vouched for the packages, for whoever audits the image without its lock.
    let releases = &t.ctx.lock.releases;
    if !releases.is_empty() {
        let text = releases
            .iter()
            .map(|(suite, r)| Ok(format!("{suite} {} {}", oci::image::rfc3339(r.date)?, r.signer)))
            .collect::<Result<Vec<String>>>()?;
        labels.insert(oci::labels::DEBIAN_RELEASES_LABEL.into(), text.join("; "));
    }
    // The budget travels with the image, so `lucid verify` holds it to it without the spec.
    if let Some(b) = img.budget {
        labels.insert(oci::labels::BUDGET_LABEL.into(), b.to_string());
    }
    // HOME for every UID, not only those /etc/passwd lists: Docker takes HOME from the passwd
    // entry, and an arbitrary UID (OpenShift's restricted policy runs a random UID in group 0)
    // has none, so it would get HOME=/. The home is writable by group 0 (see
    // rootfs::system::add_accounts). The spec's env may still set its own.
    let mut env = BTreeMap::from([("HOME".to_string(), spec.user.home.clone())]);
    env.extend(made.env.clone());
    env.extend(img.env.clone());
    let config = oci::image::ImageConfig {
        platform: platform.clone(),
        user: format!("{}:{}", spec.user.uid, spec.user.gid),
        env: env_list(&env),
        entrypoint: img.entrypoint.clone(),
        cmd: img.cmd.clone(),
        working_dir: spec.user.home.clone(),
        labels,
        created: epoch,
        history: made.history.clone(),
    };
    oci::image::assemble(config, blobs)
}

/// One platform's image, ready to write.
pub struct PlatformImage {
    pub platform: Platform,
    pub summary: Summary,
    pub built: BuiltImage,
    /// The key of its inputs (`build::memo`), when they could be read.
    pub memo_key: Option<String>,
}

/// The docker-archive of one platform: `<image>.tar` for a single-platform build and for the
/// host's platform, `<image>.<os>-<arch>.tar` for the others.
pub fn archive_path(output: &Path, image: &str, platform: &Platform, platforms: usize) -> PathBuf {
    if platforms == 1 || *platform == Platform::host() {
        output.join(format!("{image}.tar"))
    } else {
        output.join(format!("{image}.{}-{}.tar", platform.os, platform.arch))
    }
}

/// Writes the OCI layout `<output>/<image>` (one manifest, or an index over every platform) and
/// a docker-archive per platform (unless the one there is already that, `build::memo`).
pub fn write_outputs(
    ctx: &Context,
    img: &Image,
    images: &[PlatformImage],
    opts: &BuildOptions,
) -> Result<Vec<BuiltOutput>> {
    let version = images.first().and_then(|i| locked_version(ctx, img, &i.platform));
    let references = references(ctx.spec, img, opts, ctx.epoch, version.as_deref());
    // The layout's tags: one per distinct tag (two registries' `:latest` are one `latest`).
    let mut tags: Vec<String> = Vec::new();
    for t in references.iter().filter_map(|r| r.rsplit_once(':').map(|(_, t)| t.to_string())) {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let layout = opts.output.join(img.file_stem());
    let index_digest = if let [only] = images {
        oci::layout::write_layout(&layout, &[(&only.built, tags)])?;
        None
    } else {
        let built: Vec<&BuiltImage> = images.iter().map(|i| &i.built).collect();
        Some(oci::layout::write_multiarch_layout(&layout, &built, &tags)?)
    };
    let mut out = Vec::new();
    for image in images {
        let archive = archive_path(&opts.output, &img.file_stem(), &image.platform, images.len());
        // An archive written for the same image and tags, untouched since, is left as it is.
        let key = super::memo::archive_key(&image.built, &references);
        let cache = &ctx.fetcher.cache;
        if !key.as_deref().is_some_and(|k| super::memo::archive_current(cache, &archive, k)) {
            oci::archive::write_docker_archive(&archive, &image.built, &references)?;
            if let Some(k) = &key {
                super::memo::remember_archive(cache, &archive, k);
            }
        }
        out.push(BuiltOutput {
            image: img.name.clone(),
            platform: image.platform.clone(),
            references: references.clone(),
            manifest_digest: image.built.manifest_digest.clone(),
            index_digest: index_digest.clone(),
            size: image.summary.size,
            tar_size: image.built.layers.iter().map(|l| l.uncompressed_size).sum(),
            compressed_size: image.built.layers.iter().map(|l| l.size).sum(),
            budget: img.budget,
            layout: layout.clone(),
            archive,
            packages: image.summary.packages,
            wheels: image.summary.wheels,
            layers: image.built.layers.len(),
            loaded: false,
            memo_key: image.memo_key.clone(),
        });
    }
    Ok(out)
}
