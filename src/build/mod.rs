//! The build pipeline: spec -> resolve -> lock -> fetch -> assemble -> prune -> layers -> outputs
//! -> (load).
//!
//! [`resolve`] turns the spec into a [`Lock`] (network: signed indices, package index). Everything
//! after it reads only the lock, the verified cache and the spec (a [`Context`]; one image on one
//! platform is a [`Target`]), so a build from a lock is the same bit for bit wherever it runs.
//! Progress goes to the [`Reporter`] the caller hands in, one task per image and platform.

mod assemble;
pub mod changelog;
mod context;
pub mod interpreters;
mod layering;
mod load;
mod lockcheck;
mod memo;
mod outputs;
pub mod provenance;

/// The modification time of every entry of every layer, and the date of the Java trust store's
/// entries: a fixed date (2000-01-01 00:00 UTC), not `SOURCE_DATE_EPOCH`, so that a layer's bytes
/// depend on its content alone. A re-lock moves the epoch to the newest Release file's date; were
/// it in the layers, every layer of every image would change with it, and a node would pull all
/// of them again for a one-package update (see build::layering). The epoch still dates the image
/// (config `created`, the created label, `{date}` tags). Not 0: zip files cannot hold dates
/// before 1980, so tools that zip an image's files would fail on them.
pub const FILE_MTIME: i64 = 946_684_800;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::debian;
use crate::fetch::Fetcher;
use crate::lock::{ImageLock, Lock, LockedPackage, LockedWheel, inputs_digest};
use crate::progress::Reporter;
use crate::python;
use crate::spec::{Platform, Spec, Stage};

pub use assemble::{Assembled, assemble_image};
pub use context::{Context, Target, scope};
pub use load::{NoEngine, load};
pub use memo::CacheRecord;
pub use outputs::{BuiltOutput, PlatformImage, archive_path, image_for, write_outputs};

/// What `lucid build` was asked for.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Images to build; empty means the spec's own images (filtered by `target`).
    pub images: Vec<String>,
    /// Every image, variants included (with no `images`).
    pub all: bool,
    /// The images of this distribution, variants included (with no `images`).
    pub distribution: Option<String>,
    pub target: Option<Stage>,
    /// Overrides the spec's platforms.
    pub platforms: Option<Vec<Platform>>,
    /// `-t NAME[:TAG]`: replaces the spec's tags (and, with one image, its name).
    pub tags: Vec<String>,
    pub output: PathBuf,
    /// The caller loads the outputs afterwards ([`load`]): the host's platform must be built.
    pub load: bool,
    /// Refuse to build when the lock is missing or no longer matches the spec.
    pub locked: bool,
    /// `SOURCE_DATE_EPOCH`; `None` takes the lock's.
    pub source_date_epoch: Option<i64>,
}

/// The requirements text of every image that declares some, keyed by image name.
pub fn requirements_texts(spec: &Spec) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for img in &spec.images {
        if let Some(req) = img.python.as_ref().and_then(|p| p.requirements.as_ref()) {
            let path = spec.dir().join(req);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {} (images.{}.python.requirements)", path.display(), img.name))?;
            out.insert(img.name.clone(), text);
        }
    }
    Ok(out)
}

/// Current time in Unix seconds (for signature and Valid-Until checks).
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The Debian sources of every distribution of the spec (each suite belongs to one).
pub fn sources(spec: &Spec) -> Result<Vec<debian::Source>> {
    let mut out = Vec::new();
    for d in &spec.distributions {
        if spec.images.iter().any(|i| i.distribution == d.name) {
            out.extend(debian::mirror::discover(&d.suites, d.mirror.as_deref())?);
        }
    }
    Ok(out)
}

/// Resolves every image of the spec for every platform against the signed Debian indices of its
/// distribution and the package index: the network half of a build, whose result is the lock.
/// `old` is the current lock, whose Release Dates a replayed (older) Release may not go below.
pub fn resolve(spec: &Spec, fetcher: &Fetcher, old: Option<&Lock>, reporter: &Reporter) -> Result<Lock> {
    let requirements = requirements_texts(spec)?;
    let floors = old.map(|l| l.floors(&spec.lock_path())).unwrap_or_default();
    let mut releases: BTreeMap<String, crate::lock::LockedRelease> = BTreeMap::new();
    let mut images: BTreeMap<String, BTreeMap<String, ImageLock>> = BTreeMap::new();
    let mut epoch = 0i64;
    let mut wheel_cache: BTreeMap<(String, String), Vec<LockedWheel>> = BTreeMap::new();
    for dist in &spec.distributions {
        let members: Vec<&crate::spec::Image> = spec.images.iter().filter(|i| i.distribution == dist.name).collect();
        if members.is_empty() {
            continue;
        }
        let trust =
            debian::Trust { keyring: spec.keyring(dist), signers: dist.signers.clone(), floors: floors.clone() };
        let sources = debian::mirror::discover(&dist.suites, dist.mirror.as_deref())?;
        for platform in &spec.platforms {
            reporter.status("Resolving", format!("{} for {platform} from {}", dist.name, dist.suites.join(", ")));
            let progress = reporter.task(format!("{} ({platform})", dist.name));
            let universe = debian::repo::load(fetcher, &sources, platform.debian_arch(), &trust, now(), &progress)
                .with_context(|| format!("cannot load the Debian indices of {} for {platform}", dist.name))?;
            epoch = universe.releases.iter().map(|(_, r)| r.date).fold(epoch, i64::max);
            for (source, r) in &universe.releases {
                let keep = releases.get(&source.suite).is_some_and(|l| l.date >= r.date);
                if !keep {
                    releases.insert(
                        source.suite.clone(),
                        crate::lock::LockedRelease {
                            date: r.date,
                            date_utc: debian::release::fmt_time(r.date),
                            signer: r.signer.clone(),
                        },
                    );
                }
            }
            let mut closures: BTreeMap<String, Vec<debian::packages::Package>> = BTreeMap::new();
            for img in &members {
                let chain = spec.chain(&img.name)?;
                let roots: Vec<String> = chain.iter().flat_map(|i| i.packages.clone()).collect();
                let closure = debian::resolver::resolve(&universe, &roots, &img.exclude)
                    .with_context(|| format!("cannot resolve the packages of {} for {platform}", img.name))?;
                let inherited: BTreeSet<&str> = img
                    .extends
                    .as_ref()
                    .and_then(|p| closures.get(p))
                    .map(|c| c.iter().map(|p| p.name.as_str()).collect())
                    .unwrap_or_default();
                let mut own: Vec<LockedPackage> =
                    closure.iter().filter(|p| !inherited.contains(p.name.as_str())).map(locked_package).collect();
                own.sort();
                // A jlink runtime is made from the JDK package's closure: build tools, locked per
                // platform so the lock does not depend on the machine that made it.
                let mut tools = Vec::new();
                if let Some(java) = spec.makes_jlink_runtime(img) {
                    let found = debian::resolver::resolve(&universe, std::slice::from_ref(&java.jdk), &img.exclude)
                        .with_context(|| {
                            format!("cannot resolve the JDK {} (images.{}.java.jdk) for {platform}", java.jdk, img.name)
                        })?;
                    tools = found.iter().map(locked_package).collect();
                    tools.sort();
                }
                let mut wheels = Vec::new();
                if let Some(text) = requirements.get(&img.name) {
                    let parent_declares = img.extends.as_ref().and_then(|p| spec.image(p).ok()).is_some_and(|p| {
                        p.python.as_ref().and_then(|x| x.requirements.as_ref())
                            == img.python.as_ref().and_then(|x| x.requirements.as_ref())
                    });
                    if !parent_declares {
                        let key = (img.name.clone(), platform.machine().to_string());
                        if !wheel_cache.contains_key(&key) {
                            let installed = closure.iter().map(|p| (p.name.as_str(), p.version.as_str()));
                            let picked = pick_wheels(spec, img, text, platform, installed, fetcher)?;
                            wheel_cache.insert(key.clone(), picked);
                        }
                        wheels = wheel_cache[&key].clone();
                    }
                }
                closures.insert(img.name.clone(), closure);
                images
                    .entry(img.name.clone())
                    .or_default()
                    .insert(platform.to_string(), ImageLock { packages: own, wheels, tools });
            }
        }
    }
    Ok(Lock {
        version: crate::lock::LOCK_VERSION,
        inputs: inputs_digest(spec, &requirements),
        source_date_epoch: epoch,
        releases,
        images,
    })
}

fn locked_package(p: &debian::packages::Package) -> LockedPackage {
    LockedPackage {
        name: p.name.clone(),
        version: p.version.clone(),
        architecture: p.architecture.clone(),
        suite: p.suite.clone(),
        filename: p.filename.clone(),
        size: p.size,
        sha256: p.sha256.clone(),
    }
}

/// What the wheels of a Python image must fit, read from the Debian packages it installs
/// (`installed`: name and version): its interpreter (`pythonX.Y-minimal`: markers, the `cpXY`
/// tag) and its glibc (`libc6`: the newest `manylinux_2_NN` tag; none without libc6).
pub fn wheel_target<'a>(
    py: &crate::spec::Python,
    platform: &Platform,
    mut installed: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<(python::requirements::MarkerEnv, python::index::Target)> {
    let minimal = format!("{}-minimal", py.program());
    let full = installed
        .clone()
        .find(|(n, _)| *n == minimal)
        .map(|(_, v)| crate::spec::upstream_version(v))
        .unwrap_or_else(|| format!("{}.0", py.version));
    // An image without glibc runs no manylinux wheel: (0, 0) lets only pure wheels fit.
    let glibc = match installed.find(|(n, _)| *n == "libc6") {
        None => (0, 0),
        Some((_, libc)) => {
            let v = crate::spec::upstream_version(libc);
            v.split_once('.')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.split('.').next()?.parse().ok()?)))
                .with_context(|| format!("libc6 {libc} does not name a glibc version"))?
        }
    };
    let env = python::requirements::MarkerEnv::cpython_linux(&py.version, &full, Some(platform.machine()));
    let python = py.major_minor().with_context(|| format!("python.version {:?} is not MAJOR.MINOR", py.version))?;
    let target = python::index::Target::new(python, platform.debian_arch(), glibc)?;
    Ok((env, target))
}

fn pick_wheels<'a>(
    spec: &Spec,
    img: &crate::spec::Image,
    text: &str,
    platform: &Platform,
    installed: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    fetcher: &Fetcher,
) -> Result<Vec<LockedWheel>> {
    let Some(py) = img.python.as_ref() else { return Ok(Vec::new()) };
    let req_path = py.requirements.as_ref().map(|p| spec.dir().join(p).display().to_string()).unwrap_or_default();
    let (env, target) = wheel_target(py, platform, installed).with_context(|| format!("{} ({platform})", img.name))?;
    let reqs = python::requirements::parse_for(text, &req_path, &env)?;
    if reqs.is_empty() {
        return Ok(Vec::new());
    }
    let index = python::index::index_url()?;
    let pins = python::index::pick_wheels(&fetcher.http, &index, &reqs, &target)
        .with_context(|| format!("cannot pick the wheels of {req_path} for {} ({platform})", img.name))?;
    let mut out: Vec<LockedWheel> = pins
        .into_iter()
        .map(|p| LockedWheel { name: p.name, version: p.version, filename: p.filename, sha256: p.sha256 })
        .collect();
    out.sort();
    Ok(out)
}

/// The lock to build from: the existing one when it still matches the spec, otherwise a fresh
/// resolution written beside the spec (refused with `locked`). Returns the lock and whether it
/// was (re)written.
pub fn lock_for_build(spec: &Spec, fetcher: &Fetcher, locked: bool, reporter: &Reporter) -> Result<(Lock, bool)> {
    let path = spec.lock_path();
    let inputs = inputs_digest(spec, &requirements_texts(spec)?);
    let old = Lock::read(&path)?;
    match old {
        Some(lock) if lock.inputs == inputs => Ok((lock, false)),
        Some(_) if locked => bail!(
            "{} no longer matches {} (packages, excludes, suites, platforms or requirements changed); \
             run `lucid lock` to update it, or build without --locked",
            path.display(),
            spec.path.display()
        ),
        None if locked => bail!("--locked: there is no lock file at {}; run `lucid lock` first", path.display()),
        old => {
            let lock = resolve(spec, fetcher, old.as_ref(), reporter)?;
            lock.write(&path)?;
            reporter.status("Locked", path.display());
            Ok((lock, true))
        }
    }
}

/// Which images to build: those named (or all), filtered by stage, in dependency order.
pub fn select_images(spec: &Spec, opts: &BuildOptions) -> Result<Vec<String>> {
    for name in &opts.images {
        spec.image(name).map_err(crate::exit::usage)?;
    }
    if let Some(d) = &opts.distribution
        && !spec.distributions.iter().any(|x| &x.name == d)
    {
        let known: Vec<&str> = spec.distributions.iter().map(|d| d.name.as_str()).collect();
        return Err(crate::exit::Usage::msg(format!(
            "--distribution {d}: {} has no such distribution (it has {})",
            spec.path.display(),
            known.join(", ")
        )));
    }
    let wanted = |i: &crate::spec::Image| {
        if !opts.images.is_empty() {
            opts.images.contains(&i.name)
        } else if let Some(d) = &opts.distribution {
            &i.distribution == d
        } else {
            opts.all || i.default
        }
    };
    let out: Vec<String> = spec
        .images
        .iter()
        .filter(|i| wanted(i))
        .filter(|i| opts.target.is_none_or(|t| t == i.stage))
        .map(|i| i.name.clone())
        .collect();
    if out.is_empty() {
        bail!(
            "nothing to build: no image of {} matches {}{}",
            spec.path.display(),
            if opts.images.is_empty() { "all images".to_string() } else { opts.images.join(", ") },
            opts.target.map(|t| format!(" with --target {}", t.as_str())).unwrap_or_default()
        );
    }
    Ok(out)
}

/// Runs a whole build and returns one result per image and platform, every output written
/// (loading them is [`load`]'s, afterwards).
pub fn build(spec: &Spec, opts: &BuildOptions, fetcher: &Fetcher, reporter: &Reporter) -> Result<Vec<BuiltOutput>> {
    let selected = select_images(spec, opts)?;
    let tags = opts.tags.iter().map(|t| crate::oci::TagRef::parse(t)).collect::<Result<Vec<_>>>();
    let tags = tags.map_err(crate::exit::usage)?;
    // A name belongs to one image (buildx builds one image per command): with several, only
    // `-t :TAG`, which each image takes under its own name.
    if selected.len() > 1
        && let Some(named) = tags.iter().find(|t| t.repository.is_some())
    {
        return Err(crate::exit::Usage::msg(format!(
            "-t {named} names one image, but {} images are selected ({}): name one image, or give \
             -t :TAG to tag each under its own name",
            selected.len(),
            selected.join(", ")
        )));
    }
    // `-t :TAG` tags each image under its repository, which an image shares with its variants.
    if let Some(bare) = tags.iter().find(|t| t.repository.is_none()) {
        let mut repos: BTreeMap<&str, &str> = BTreeMap::new();
        for name in &selected {
            let img = spec.image(name)?;
            if let Some(other) = repos.insert(&img.repository, name) {
                return Err(crate::exit::Usage::msg(format!(
                    "-t {bare}: {other} and {name} are both in the repository {} and would share the tag; build \
                     them one at a time, or name each (-t {}:TAG)",
                    img.repository, img.repository
                )));
            }
        }
    }
    let platforms = opts.platforms.clone().unwrap_or_else(|| spec.platforms.clone());
    let host = Platform::host();
    for p in &platforms {
        if !spec.platforms.contains(p) {
            let listed: Vec<String> = spec.platforms.iter().map(|p| p.to_string()).collect();
            bail!(
                "--platform {p}: {} builds for {} only; add {p} to `platforms:` there and run `lucid lock`",
                spec.path.display(),
                listed.join(", ")
            );
        }
    }
    if opts.load && !platforms.contains(&host) {
        bail!("--load hands the host's platform ({host}) to the engine, and it is not among those built");
    }
    // Byte code is the same on every architecture and is compiled by the host's interpreter: a
    // foreign platform borrows the host platform's tree of the same image, so the host platform
    // is assembled first (even when only a foreign one is wanted).
    let assemble_for = host_first(&platforms);
    if !platforms.contains(&host) && !spec.platforms.contains(&host) {
        bail!(
            "building {} needs the host platform {host} in `platforms:` of {} (its Python compiles the byte code)",
            platforms.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
            spec.path.display()
        );
    }
    // Before any work: a build replaces and sweeps entries of its output directory, so one that
    // holds a user's files is refused at once.
    crate::oci::stale::claim_output_dir(&opts.output)?;
    let (lock, _) = lock_for_build(spec, fetcher, opts.locked, reporter)?;
    lockcheck::check_wheels(spec, &lock, &requirements_texts(spec)?)?;
    let sources = sources(spec)?;
    let ctx = Context {
        spec,
        lock: &lock,
        epoch: opts.source_date_epoch.unwrap_or(lock.source_date_epoch),
        sources: &sources,
        fetcher,
        reporter,
    };
    let (staging, _claim) = crate::oci::stale::claimed_tempdir(&opts.output, "lucid-staging")?;
    // Images whose inputs did not change since they were last built are read back whole
    // (build::memo); the others are assembled, with their parents.
    let mut recalled: BTreeMap<(String, Platform), PlatformImage> = BTreeMap::new();
    // No keys (an input that cannot be read): no memo; the assembly says what is wrong.
    let memo_keys = memo::Keys::new(&ctx).ok();
    let mut keys: BTreeMap<(String, Platform), String> = BTreeMap::new();
    let mut to_assemble: Vec<String> = Vec::new();
    for name in &selected {
        let img = spec.image(name)?;
        let mut all_recalled = true;
        for platform in &platforms {
            let Some(Ok(key)) = memo_keys.as_ref().map(|k| k.of(&ctx, img, platform)) else {
                all_recalled = false;
                continue;
            };
            let progress = reporter.task(scope(name, platform));
            let target = Target { ctx: &ctx, image: img, platform, progress: &progress };
            // Not remembered here: a shared build cache may hold it, signed.
            let pulled = if memo::recorded(&ctx, &key) {
                None
            } else {
                memo::pull(&ctx, &key, &progress).with_context(|| scope(name, platform))?
            };
            let found = memo::recall(&ctx, &key, staging.path()).and_then(|(blobs, made, digest)| {
                let built = outputs::image_of(&target, blobs, &made).ok()?;
                (built.manifest_digest == digest).then_some(PlatformImage {
                    platform: platform.clone(),
                    summary: made.summary,
                    built,
                    memo_key: Some(key.clone()),
                })
            });
            match found {
                Some(image) => {
                    let layers = image.built.layers.len();
                    match &pulled {
                        Some(from) => progress.step("Cached", format!("{layers} layers from {from}")),
                        None => progress.step("Unchanged", format!("{layers} layers from the cache")),
                    }
                    recalled.insert((name.clone(), platform.clone()), image);
                }
                None => all_recalled = false,
            }
            keys.insert((name.clone(), platform.clone()), key);
        }
        if !all_recalled {
            to_assemble.push(name.clone());
        }
    }
    let wanted = |name: &str, platform: &Platform| selected.iter().any(|s| s == name) && platforms.contains(platform);
    let mut made = if to_assemble.is_empty() {
        BTreeMap::new()
    } else {
        assemble_all(&ctx, &to_assemble, &assemble_for, &wanted, staging.path())?
    };
    let mut results = Vec::new();
    for name in &selected {
        let img = spec.image(name)?;
        let mut images = Vec::new();
        for platform in &platforms {
            let at = (name.clone(), platform.clone());
            // Built again (another platform changed): the fresh build wins.
            let image = match made.remove(&at) {
                Some((built, made)) => {
                    // The memo only saves work: an image it cannot record is still built.
                    if let Some(key) = keys.get(&at) {
                        let _ = memo::remember(&ctx, key, &built, &made);
                    }
                    PlatformImage {
                        platform: platform.clone(),
                        summary: made.summary,
                        built,
                        memo_key: keys.get(&at).cloned(),
                    }
                }
                None => recalled.remove(&at).context("an image neither built nor recalled")?,
            };
            images.push(image);
        }
        reporter.status(
            "Writing",
            format!(
                "{name} ({}) to {}",
                platforms.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
                opts.output.display()
            ),
        );
        results.extend(write_outputs(&ctx, img, &images, opts)?);
    }
    Ok(results)
}

/// The platforms a build of `platforms` assembles: the host's first (its Python compiles the byte
/// code of every platform, its JDK links their Java runtimes), then the others.
fn host_first(platforms: &[Platform]) -> Vec<Platform> {
    let host = Platform::host();
    std::iter::once(host.clone()).chain(platforms.iter().filter(|p| **p != host).cloned()).collect()
}

/// Assembles every image `selected` needs (their parents too) for every platform of
/// `assemble_for`, the host's first: one thread per platform (see `interpreters` for how they
/// share the compiler), each reporting as `IMAGE (PLATFORM)`. Each image that is `wanted` has its
/// layers written into `staging` as soon as it is assembled; a tree is kept only while an image
/// still to come extends it, so memory holds a chain of trees per platform, not every image.
fn assemble_all(
    ctx: &Context,
    selected: &[String],
    assemble_for: &[Platform],
    wanted: &(dyn Fn(&str, &Platform) -> bool + Sync),
    staging: &std::path::Path,
) -> Result<BTreeMap<(String, Platform), (crate::oci::image::BuiltImage, memo::Made)>> {
    let spec = ctx.spec;
    let needed: Vec<&crate::spec::Image> = spec
        .images
        .iter()
        .filter(|i| selected.iter().any(|s| spec.chain(s).map(|c| c.iter().any(|c| c.name == i.name)).unwrap_or(false)))
        .collect();
    let interpreters = interpreters::Interpreters::new(assemble_for.len() - 1);
    let host = &assemble_for[0];
    type Made = (String, crate::oci::image::BuiltImage, memo::Made);
    let per_platform: Vec<Result<Vec<Made>>> = std::thread::scope(|s| {
        let threads: Vec<_> = assemble_for
            .iter()
            .map(|platform| {
                let (interpreters, needed) = (&interpreters, &needed);
                s.spawn(move || -> Result<Vec<Made>> {
                    let _close = (platform == host).then(|| interpreters.closer());
                    let mode = if platform == host {
                        interpreters::Interpreter::Own(interpreters)
                    } else {
                        interpreters::Interpreter::Borrow(interpreters)
                    };
                    let mut held: Vec<(String, Assembled)> = Vec::new();
                    let mut done: Vec<Made> = Vec::new();
                    for (i, img) in needed.iter().enumerate() {
                        let parent =
                            img.extends.as_ref().and_then(|p| held.iter().find(|(n, _)| n == p)).map(|(_, a)| a);
                        let progress = ctx.reporter.task(scope(&img.name, platform));
                        progress.step("Assembling", "");
                        let target = Target { ctx, image: img, platform, progress: &progress };
                        let a = assemble_image(&target, parent, mode).with_context(|| scope(&img.name, platform))?;
                        if wanted(&img.name, platform) {
                            let (built, made) =
                                image_for(&target, &a, staging).with_context(|| scope(&img.name, platform))?;
                            done.push((img.name.clone(), built, made));
                        }
                        let later = &needed[i + 1..];
                        let extended = |name: &str| later.iter().any(|l| l.extends.as_deref() == Some(name));
                        held.retain(|(n, _)| extended(n));
                        if extended(&img.name) {
                            held.push((img.name.clone(), a));
                        }
                    }
                    Ok(done)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a build thread panicked"))))
            .collect()
    });
    let mut out = BTreeMap::new();
    for (platform, result) in assemble_for.iter().zip(per_platform) {
        for (name, built, made) in result? {
            out.insert((name, platform.clone()), (built, made));
        }
    }
    Ok(out)
}

/// Every input of a build of `opts` that a shared build cache can hold, because it is checked on
/// the way in: each locked `.deb` (the selected images', their parents', the JDK a jlink runtime
/// is linked from) and wheel, on each selected platform, once. Each is made sure of in the local
/// cache (fetched when missing there), so its bytes are under [`crate::fetch::Cache::blob_file`].
/// Derived work is not among them: nothing in the lock could check it. Whole images go to a
/// cache only signed ([`cache_records`]).
pub fn cache_inputs(
    spec: &Spec,
    opts: &BuildOptions,
    fetcher: &Fetcher,
    progress: &crate::progress::Task,
) -> Result<Vec<crate::fetch::Want>> {
    let lock = Lock::read(&spec.lock_path())?
        .with_context(|| format!("no lock at {} to export the build cache from", spec.lock_path().display()))?;
    let sources = sources(spec)?;
    // The host's platform too: a build assembles it for every other (its JDK links their Java
    // runtimes, its Python compiles their byte code).
    let platforms = host_first(&opts.platforms.clone().unwrap_or_else(|| spec.platforms.clone()));
    let mut names: Vec<String> = Vec::new();
    for selected in select_images(spec, opts)? {
        for img in spec.chain(&selected)? {
            if !names.contains(&img.name) {
                names.push(img.name.clone());
            }
        }
    }
    let mut wants: BTreeMap<String, crate::fetch::Want> = BTreeMap::new();
    for name in &names {
        for platform in &platforms {
            let Some(locked) = lock.image(name, &platform.to_string()) else { continue };
            let packages: Vec<LockedPackage> = locked.packages.iter().chain(&locked.tools).cloned().collect();
            let found = assemble::deb_wants(&sources, &packages)?
                .into_iter()
                .chain(assemble::wheel_wants(fetcher, &locked.wheels)?);
            for w in found {
                wants.entry(w.sha256.clone()).or_insert(w);
            }
        }
    }
    let wants: Vec<crate::fetch::Want> = wants.into_values().collect();
    // One at a time, and only what the local cache lacks: the inputs of every image together are
    // far more than a build holds in memory at once. The upload checks each digest again.
    for w in &wants {
        if !fetcher.cache.blob_file(&w.sha256)?.exists() {
            progress.step("Fetching", &w.label);
            fetcher.fetch(w, &|_| {})?;
        }
    }
    Ok(wants)
}

/// The records of every image of `results` that has one (an image whose inputs could not be
/// read has no key, and is left out), each once; and why each image whose record could not be
/// read is left out (the memo only saves work, so a record may be missing: its image still
/// goes to the cache as inputs).
pub fn cache_records(fetcher: &Fetcher, results: &[BuiltOutput]) -> (Vec<CacheRecord>, Vec<anyhow::Error>) {
    let (mut out, mut skipped): (Vec<CacheRecord>, Vec<anyhow::Error>) = (Vec::new(), Vec::new());
    for r in results {
        let Some(key) = &r.memo_key else { continue };
        if out.iter().any(|c| &c.key == key) {
            continue;
        }
        let title = scope(&r.image, &r.platform);
        match memo::exported(&fetcher.cache, key, &title) {
            Ok(record) => out.push(record),
            Err(e) => skipped.push(e.context(title)),
        }
    }
    (out, skipped)
}
