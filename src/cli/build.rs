//! `lucid build`: the Lucid base images from Debian packages, without a Docker daemon.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use lucid::build::{self, BuildOptions, BuiltOutput};
use lucid::fetch::{Fetcher, Remote};
use lucid::oci::buildcache::{self, CacheRef, ExportBlob, RecordOpener, RegistryCache};
use lucid::oci::registry::RegistryAuth;
use lucid::oci::{ImageRef, TagRef};
use lucid::progress::Reporter;
use lucid::sign::{KeyRef, PrivateKey, PublicKey};
use lucid::spec::{Platform, Stage, format_size};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid build                                  the spec's own images (not their variants), for its platforms
  lucid build --all                            every image and variant of the spec
  lucid build --distribution debian13          every image made from Debian 13
  lucid build lucid-python-base:3.13-debian13  one variant (IMAGE:VARIANT, as `lucid images` lists them)
  lucid build lucid-python-base --load         one image, then load it into the Docker engine
  lucid build --target build-stage             only the build-stage images
  lucid build --locked                         refuse to build if the lock no longer matches the spec
  SOURCE_DATE_EPOCH=1700000000 lucid build     pin every timestamp (default: the lock's)
  lucid build lucid-python-base -t :20261206   tag it 20261206 (-t replaces the spec's tags)
  lucid build lucid-python-base --platform linux/amd64,linux/arm64 --push \\
      -t 127.0.0.1:5000/lucid-python-base:latest -t 127.0.0.1:5001/lucid/python:3.11
                                               push the index to two registries, as buildx does
  lucid build --push --registry 127.0.0.1:5000/lucid -t :20261206
                                               every image to 127.0.0.1:5000/lucid/IMAGE:20261206
  lucid build --all --locked --cache-from type=registry,ref=127.0.0.1:5000/lucid/cache \
      --cache-to type=registry,ref=127.0.0.1:5000/lucid/cache
                                               share the build's inputs between CI runners

Outputs: OUTPUT/IMAGE is an OCI image layout (skopeo inspect oci:out/lucid-python-base:latest),
OUTPUT/IMAGE.tar a docker-archive (docker load -i out/lucid-python-base.tar). A variant's files
are named IMAGE-VARIANT (out/lucid-python-base-3.13-debian13, tagged 3.13-debian13 and
VERSION-debian13-DATE in the repository lucid-python-base).

Tags (-t, repeatable) replace the spec's. A name belongs to one image, as with buildx (one image
per command): with several images only -t :TAG is taken, each image keeping its own name. A tag
names a registry when its first component has a `.` or `:` or is `localhost` (the Docker CLI's
rule): 127.0.0.1:5000/x:1 and registry.internal/team/x:1 do, team/x:1 does not.

--push: every image that passed its budget (and --verify) goes to the registry of each of its
tags, one index (or manifest) per repository, tagged with every tag for it; each blob is sent at
most once per registry (other repositories of the same registry mount it). A tag that names no
registry goes under --registry HOST[:PORT]/PREFIX; with neither, --push is a usage error (exit 3).
--creds and --registry-token go only to the --registry host (with no --registry: to the one
registry the tags name); every other registry gets its own `docker login` entry, or nothing.

--load: every image is written to OUTPUT first, then the host platform's archive of each goes to
the Docker engine at DOCKER_HOST (default unix:///var/run/docker.sock), under its tags. With no
engine answering, nothing is loaded, every image is still in OUTPUT, and lucid says how to start
one (exit 3).

--cache-from/--cache-to (docker buildx's syntax; type=registry only): the cache is one OCI
artifact under the tag, naming the .deb files and wheels the lock pins, stored under the lock's
own SHA-256. A runner with an empty $LUCID_CACHE takes them from there, checks each against the
lock exactly as a download from the mirror, and refuses (exit 2) a blob that does not match. A
cache that cannot be read, or a blob it names but cannot serve, is a warning, and the build
goes to the mirror for it.

Whole images too, signed: with key=FILE|env://NAME on --cache-to (an ECDSA P-256 private key,
as for --sign), the cache also gets every built image's layers and its record, signed, filed
under the SHA-256 of the image's inputs (this lucid executable, the spec, the lock's entries,
the epoch, the platform). A runner with key=PUBLIC on --cache-from takes such an image whole,
building nothing, when the record verifies with that key; each layer is checked against the
record's digest. A record no trusted key signed, or a tampered layer, stops the build (exit 2):
one cache, one key (a new key, a new cache tag).
Without key= on --cache-from, records are not read and images are built from the inputs.

  lucid build --all --locked --cache-to type=registry,ref=HOST/team/cache,key=env://CACHE_KEY
  lucid build --all --locked --cache-from type=registry,ref=HOST/team/cache,key=cache.pub

Several runners may --cache-to one cache at once: each merges its entries into it (a
registry has no atomic update of a tag, so an entry can still be lost in a collision; the next
export adds it back). --creds and --registry-token go to the --registry host, else to the one
registry the caches (and --push's tags) name; other registries get their `docker login` entry.

Exit codes: 0 built (and loaded, pushed); 1 an image over its budget, a failed --verify, or a
build error; 2 a push that failed (a registry unreachable, or refusing the upload); 3 --load found
no Docker engine, a malformed -t, --push with no registry, or a registry asking for credentials
none are bound to (usage or configuration).")]
pub struct Args {
    /// Images to build: IMAGE or IMAGE:VARIANT (default: the spec's own images, without their
    /// variants).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Build every image of the spec, variants included.
    #[arg(long, conflicts_with = "images")]
    pub all: bool,
    /// Build the images made from this distribution of the spec (debian12, debian13), variants
    /// included.
    #[arg(long, value_name = "NAME", conflicts_with = "images")]
    pub distribution: Option<String>,
    /// The spec.
    #[arg(short = 'f', long = "file", value_name = "build-args.yml")]
    pub file: Option<PathBuf>,
    /// Build only the images of this stage.
    #[arg(long, value_name = "build-stage|runtime-stage")]
    pub target: Option<Stage>,
    /// Platforms to build, comma-separated (default: the spec's).
    #[arg(long, value_name = "linux/amd64,linux/arm64", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// Name and tag the image: NAME[:TAG], :TAG (keep the image's name; the only form with
    /// several images) or HOST[:PORT]/REPO[:TAG] (where --push sends it); repeatable.
    #[arg(short = 't', long = "tag", value_name = "NAME:TAG")]
    pub tag: Vec<String>,
    /// Where the OCI layouts and docker-archives go.
    #[arg(short = 'o', long, default_value = "out", value_name = "DIR")]
    pub output: PathBuf,
    /// Load the built images into the Docker engine (DOCKER_HOST or /var/run/docker.sock), after
    /// every image is written to OUTPUT; exit 3, nothing loaded, when no engine answers.
    #[arg(long)]
    pub load: bool,
    /// Fail if the lock file is missing or no longer matches the spec.
    #[arg(long)]
    pub locked: bool,
    /// Run `lucid verify` (default policy, the spec's budgets) on every image just built; with
    /// `--load`, its runtime checks run in the engine too.
    #[arg(long)]
    pub verify: bool,
    /// Push every built image once it passed, as `docker buildx build --push` does: to the
    /// registry each -t names (-t HOST[:PORT]/REPO:TAG, repeatable, several registries allowed),
    /// or under --registry for tags that name none.
    #[arg(long)]
    pub push: bool,
    /// With --push: sign every pushed image (its index and each platform's manifest, by digest)
    /// with this ECDSA P-256 private key, a PEM file or env://NAME (`lucid sign --help`).
    #[arg(long, value_name = "FILE|env://NAME", requires = "push", value_parser = lucid::sign::KeyRef::parse)]
    pub sign: Option<lucid::sign::KeyRef>,
    /// Where --push sends the tags that name no registry: HOST[:PORT][/PREFIX] (they become
    /// PREFIX/NAME:TAG). --creds and --registry-token are for this HOST[:PORT] only.
    #[arg(long, value_name = "HOST[:PORT]/PREFIX")]
    pub registry: Option<String>,
    /// Read the build's inputs (.deb files, wheels) from a shared build cache in a registry
    /// before the Debian mirror and the package index, each checked against the lock:
    /// type=registry,ref=HOST[:PORT]/REPO[:TAG] (repeatable, asked in order); with
    /// ,key=PUBLIC-KEY, whole images whose signed records verify with it.
    #[arg(long, value_name = "type=registry,ref=HOST/REPO:TAG")]
    pub cache_from: Vec<String>,
    /// After the build, push its inputs to a shared build cache in a registry, merged with what
    /// the cache holds: type=registry,ref=HOST[:PORT]/REPO[:TAG][,ignore-error=true] (repeatable);
    /// with ,key=PRIVATE-KEY, also the built images' layers and their records, signed.
    #[arg(long, value_name = "type=registry,ref=HOST/REPO:TAG")]
    pub cache_to: Vec<String>,
    #[command(flatten)]
    pub registry_opts: super::CredentialArgs,
}

pub fn run(args: Args, reporter: &Reporter) -> Result<i32> {
    let spec = super::load_spec(&args.file)?;
    let platforms = if args.platform.is_empty() {
        None
    } else {
        Some(args.platform.iter().map(|p| Platform::parse(p)).collect::<Result<Vec<_>>>().map_err(lucid::exit::usage)?)
    };
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| lucid::exit::Usage::msg(format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")))?,
        ),
        _ => None,
    };
    // Where --push goes is known before anything is built: a tag with nowhere to go, or
    // credentials with no single registry to belong to, stop the build here.
    let destinations = if args.push {
        Some(super::push::Destinations::new(&args.tag, args.registry.as_deref(), &args.registry_opts)?)
    } else {
        None
    };
    // So is a signing key that cannot be used.
    let key = args.sign.as_ref().map(super::sign::load_key).transpose()?;
    let caches = Caches::new(&args)?;
    let opts = BuildOptions {
        images: args.images,
        all: args.all,
        distribution: args.distribution,
        target: args.target,
        platforms,
        tags: args.tag,
        output: args.output,
        load: args.load,
        locked: args.locked,
        source_date_epoch,
    };
    let mut fetcher = super::fetcher()?;
    let from = caches.open_from(reporter);
    fetcher.remotes = from.iter().map(|c| c.clone() as Arc<dyn Remote>).collect();
    let started = std::time::Instant::now();
    let started_unix = lucid::build::now();
    let mut results = build::build(&spec, &opts, &fetcher, reporter)?;
    // Every output is written before anything is loaded: without an engine, out/ is still whole.
    let loaded = if args.load { build::load(&mut results, &opts.output, reporter) } else { Ok(()) };
    for cache in &from {
        let missed = cache.missed();
        if let Some(first) = missed.first() {
            let text = format!(
                "the build cache {} named {} blob(s) it could not serve; inputs came from the mirror or the \
                 index, images whose layers or records were missing were assembled (first: {first})",
                cache.name(),
                missed.len()
            );
            eprintln!("warning: {}", lucid::report::printable(&text, true));
        }
    }
    let exported = caches.export(&spec, &opts, &results, &fetcher, reporter);
    let records = write_changelogs(&spec, &opts.output, &results, reporter)?;
    reporter.status("Finished", format!("{} image(s) in {:.1}s", results.len(), started.elapsed().as_secs_f64()));
    print!("{}", size_table(&results));
    let over: Vec<&BuiltOutput> = results.iter().filter(|r| r.budget.is_some_and(|b| r.size > b)).collect();
    for r in &over {
        eprintln!(
            "error: {} ({}) is {} uncompressed, over its budget of {}",
            r.image,
            r.platform,
            format_size(r.size),
            format_size(r.budget.unwrap_or(0))
        );
    }
    // Without an engine the outputs are whole; the error (exit 3) comes after the table.
    loaded?;
    let mut verdict = i32::from(!over.is_empty()).max(exported);
    if args.verify && verdict == 0 {
        verdict = verify_built(&spec, &results, args.load, reporter)?;
    }
    // Only what passed its budget (and verification, when asked) reaches a registry.
    if let Some(destinations) = destinations {
        if verdict != 0 {
            eprintln!("error: nothing pushed: the build did not pass");
        } else {
            let signing = match &key {
                Some(key) => {
                    let lock = lucid::lock::Lock::read(&spec.lock_path())?
                        .with_context(|| format!("{} disappeared after the build", spec.lock_path().display()))?;
                    let source_date_epoch = opts.source_date_epoch.unwrap_or(lock.source_date_epoch);
                    Some((key, lock, source_date_epoch))
                }
                None => None,
            };
            let signing = signing.as_ref().map(|(key, lock, source_date_epoch)| super::sign::Signing {
                key,
                spec: &spec,
                lock,
                source_date_epoch: *source_date_epoch,
                started: started_unix,
                finished: lucid::build::now(),
            });
            verdict = super::push::push_built(&results, &destinations, signing.as_ref(), reporter)?;
        }
    }
    // Only a build that passed (and landed, with --push) is the one the next changelog starts from.
    if verdict == 0 {
        for record in &records {
            lucid::build::changelog::keep(&opts.output, &spec, record)?;
        }
    }
    Ok(verdict)
}

/// `out/IMAGE.changes.md` and `.json` for every image built: what changed since the previous
/// build into the same directory (a line each on stderr when something did).
fn write_changelogs(
    spec: &lucid::spec::Spec,
    out: &std::path::Path,
    results: &[BuiltOutput],
    reporter: &Reporter,
) -> Result<Vec<lucid::build::changelog::Record>> {
    let mut records = Vec::new();
    let Some(lock) = lucid::lock::Lock::read(&spec.lock_path())? else { return Ok(records) };
    let mut done: Vec<&str> = Vec::new();
    for r in results {
        if done.contains(&r.image.as_str()) {
            continue;
        }
        done.push(&r.image);
        let digest = r.index_digest.as_deref().unwrap_or(&r.manifest_digest);
        let (c, record) = lucid::build::changelog::write(out, spec, &lock, &r.image, digest)?;
        records.push(record);
        if c.previous.as_deref().is_some_and(|p| p != digest) || !c.updates.is_empty() {
            let security = c.updates.iter().filter(|u| u.security).count();
            reporter.status(
                "Changed",
                format!(
                    "{}: {} package/wheel change(s), {security} security update(s) since the previous build",
                    r.image,
                    c.updates.len()
                ),
            );
        }
    }
    Ok(records)
}

/// `--cache-from` and `--cache-to`, parsed before anything is built, with the credentials that
/// go to their registry and the keys of their image records (`key=`: the public key a record
/// read must verify with, the private key that signs what is written).
struct Caches {
    from: Vec<(CacheRef, Option<Arc<PublicKey>>)>,
    to: Vec<(CacheRef, Option<PrivateKey>)>,
    auth: RegistryAuth,
}

impl Caches {
    /// Parses every cache reference (a malformed one is a usage error now, not after the build).
    /// --creds and --registry-token go to the --registry host, else to the one registry the
    /// caches (and --push's tags) name; with several and no --registry they go nowhere, and
    /// saying so is a usage error, as for --push.
    fn new(args: &Args) -> Result<Caches> {
        let parse = |flag: &str, values: &[String]| -> Result<Vec<CacheRef>> {
            values
                .iter()
                .map(|v| CacheRef::parse(v).with_context(|| format!("--{flag}")).map_err(lucid::exit::usage))
                .collect()
        };
        let (from, to) = (parse("cache-from", &args.cache_from)?, parse("cache-to", &args.cache_to)?);
        // A key that cannot be used stops the build now, as a usage error.
        let key_ref = |flag: &str, c: &CacheRef| -> Result<Option<KeyRef>> {
            c.key
                .as_deref()
                .map(|k| KeyRef::parse(k).with_context(|| format!("--{flag} key=")).map_err(lucid::exit::usage))
                .transpose()
        };
        let from = from
            .into_iter()
            .map(|c| {
                let key = key_ref("cache-from", &c)?
                    .map(|k| PublicKey::load(&k).with_context(|| "--cache-from key=").map_err(lucid::exit::usage))
                    .transpose()?;
                Ok((c, key.map(Arc::new)))
            })
            .collect::<Result<Vec<_>>>()?;
        let to = to
            .into_iter()
            .map(|c| {
                let key = key_ref("cache-to", &c)?.map(|k| super::sign::load_key(&k)).transpose()?;
                Ok((c, key))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut hosts: Vec<String> = from
            .iter()
            .map(|(c, _)| &c.registry)
            .chain(to.iter().map(|(c, _)| &c.registry))
            .map(|r| r.host.clone())
            .collect();
        if args.push {
            hosts.extend(args.tag.iter().filter_map(|t| TagRef::parse(t).ok()?.host));
        }
        let registry_host = args.registry.as_deref().map(|r| {
            let r = r.trim_start_matches("docker://");
            r.split('/').next().unwrap_or(r).to_string()
        });
        let creds = &args.registry_opts;
        // Without caches nothing here uses the credentials (--push's own check speaks for the tags).
        let bound = if from.is_empty() && to.is_empty() {
            None
        } else {
            creds.bound_to(registry_host.as_deref(), hosts, "the caches and tags name")?
        };
        Ok(Caches { from, to, auth: creds.auth(bound.as_deref()) })
    }

    /// The --cache-from caches the fetcher asks before the mirror. One that cannot be read
    /// (unreachable, credentials refused, not a lucid cache) is a warning: the build goes on
    /// without it, as buildx's does.
    fn open_from(&self, reporter: &Reporter) -> Vec<Arc<RegistryCache>> {
        let mut out: Vec<Arc<RegistryCache>> = Vec::new();
        for (c, key) in &self.from {
            let opener = key.clone().map(|key| -> RecordOpener {
                Arc::new(move |envelope: &[u8], inputs: &str| lucid::sign::record::open(envelope, inputs, &key))
            });
            match RegistryCache::open(&c.registry, &self.auth, opener) {
                Ok(cache) => {
                    let (n, bytes, records) = cache.held();
                    let records = match (records, cache.reads_records()) {
                        (0, _) => String::new(),
                        (r, true) => format!(", {r} of them signed image records"),
                        (r, false) => format!(", {r} of them signed image records, not read: no key= to check them"),
                    };
                    reporter.status(
                        "Cache",
                        format!("docker://{} holds {n} blobs ({}){records}", c.registry, format_size(bytes)),
                    );
                    out.push(Arc::new(cache));
                }
                Err(e) => {
                    let e =
                        e.context(format!("cannot read the build cache docker://{}; building without it", c.registry));
                    eprintln!("warning: {}", lucid::report::printable(&format!("{e:#}"), true));
                }
            }
        }
        out
    }

    /// Pushes the build's inputs to every --cache-to cache, and to one with a key= the signed
    /// records of the images built, with their layers; the exit code it adds (2 when an export
    /// failed without ignore-error=true, whose failure is a warning).
    fn export(
        &self,
        spec: &lucid::spec::Spec,
        opts: &BuildOptions,
        results: &[BuiltOutput],
        fetcher: &Fetcher,
        reporter: &Reporter,
    ) -> i32 {
        if self.to.is_empty() {
            return 0;
        }
        // The inputs are the same for every cache: listed (and fetched where missing) once.
        let task = reporter.task("build cache inputs");
        let blobs = build::cache_inputs(spec, opts, fetcher, &task).and_then(|wants| {
            wants
                .iter()
                .map(|w| {
                    let path = fetcher.cache.blob_file(&w.sha256)?;
                    let size = std::fs::metadata(&path)?.len();
                    Ok(ExportBlob { sha256: w.sha256.clone(), size, title: w.label.clone(), path, image_key: None })
                })
                .collect::<Result<Vec<_>>>()
        });
        drop(task);
        let records = if self.to.iter().any(|(_, k)| k.is_some()) {
            let (records, skipped) = build::cache_records(fetcher, results);
            for s in skipped {
                let text = format!("{s:#}; its image record is not exported (its inputs are)");
                eprintln!("warning: {}", lucid::report::printable(&text, true));
            }
            records
        } else {
            Vec::new()
        };
        let mut code = 0;
        for (c, key) in &self.to {
            let task = reporter.task(format!("docker://{}", c.registry));
            let done = match (&blobs, key) {
                (Err(e), _) => Err(anyhow::anyhow!("{e:#}")),
                (Ok(blobs), Some(key)) => signed_records(&records, key, fetcher).and_then(|more| {
                    let all: Vec<ExportBlob> = blobs.iter().cloned().chain(more).collect();
                    buildcache::export(&c.registry, &self.auth, &all, &task)
                }),
                (Ok(blobs), None) => buildcache::export(&c.registry, &self.auth, blobs, &task),
            };
            drop(task);
            match done {
                Ok(s) => reporter.status(
                    "Cached",
                    format!(
                        "docker://{}: {} blob(s) sent ({}), {} already there; it names {} now{}",
                        c.registry,
                        s.uploaded,
                        format_size(s.uploaded_bytes),
                        s.existing,
                        s.entries,
                        if s.merges > 0 {
                            format!(" (merged again {} time(s) after other writers)", s.merges)
                        } else {
                            String::new()
                        }
                    ),
                ),
                Err(e) => {
                    let e = e.context(format!("cannot export the build cache to docker://{}", c.registry));
                    if c.ignore_error {
                        eprintln!("warning: {} (ignore-error=true)", lucid::report::printable(&format!("{e:#}"), true));
                    } else {
                        super::print_error(&e);
                        code = code.max(super::exit_code(&e));
                    }
                }
            }
        }
        code
    }
}

/// The blobs that file `records` in a build cache: each record sealed with `key` (kept in the
/// local cache, where the upload reads it), then every layer they name, each once.
fn signed_records(records: &[build::CacheRecord], key: &PrivateKey, fetcher: &Fetcher) -> Result<Vec<ExportBlob>> {
    let mut out: Vec<ExportBlob> = Vec::new();
    for r in records {
        let envelope = lucid::sign::record::seal(&r.record, &r.key, key)?;
        let sha256 = fetcher.cache.put_any(&envelope)?;
        out.push(ExportBlob {
            path: fetcher.cache.blob_file(&sha256)?,
            sha256,
            size: envelope.len() as u64,
            title: format!("{} image record", r.title),
            image_key: Some(r.key.clone()),
        });
        for (digest, size) in &r.layers {
            let hex = lucid::oci::digest_hex(digest)?;
            if out.iter().any(|b| b.sha256 == hex) {
                continue;
            }
            out.push(ExportBlob {
                sha256: hex.to_string(),
                size: *size,
                title: format!("a layer of {}", r.title),
                path: fetcher.cache.blob_file(hex)?,
                image_key: None,
            });
        }
    }
    Ok(out)
}

/// `--verify`: every built image (all its platforms, through its OCI layout) against the default
/// policy with the spec's budgets. Runtime checks need the image in an engine, so they run only
/// after `--load`.
fn verify_built(spec: &lucid::spec::Spec, results: &[BuiltOutput], loaded: bool, reporter: &Reporter) -> Result<i32> {
    use lucid::findings::Severity;
    use lucid::report::{Format, render};
    use lucid::verify::{Policy, RuntimeMode, verify_all};
    let mut references: Vec<String> = Vec::new();
    for r in results {
        let tag = r.references.first().and_then(|t| t.rsplit_once(':')).map(|(_, t)| t).unwrap_or("latest");
        let reference = ImageRef::Oci { dir: r.layout.clone(), tag: Some(tag.to_string()) }.to_string();
        if !references.contains(&reference) {
            references.push(reference);
        }
    }
    reporter.status("Verifying", format!("{} image(s)", references.len()));
    let policy = Policy {
        spec: Some(spec.clone()),
        runtime: if loaded { RuntimeMode::Auto } else { RuntimeMode::Off },
        ..Policy::default()
    };
    let (report, unreadable) = verify_all(&references, &policy)?;
    print!("{}", render(&report, Format::Text, false)?);
    let codes: Vec<i32> = unreadable.iter().map(super::exit_code).collect();
    for e in &unreadable {
        super::print_error(e);
    }
    Ok(lucid::exit::worst(codes.into_iter().chain([report.exit_code(Severity::Error)])))
}

/// The closing table, in the shape of
/// `docker images --format "table {{.Repository}}\t{{.Tag}}\t{{.Size}}"`, with the budget beside.
pub fn size_table(results: &[BuiltOutput]) -> String {
    let mut rows: Vec<Vec<String>> =
        vec![["REPOSITORY", "TAG", "SIZE", "COMPRESSED", "BUDGET", "PLATFORM", "DIGEST"].map(String::from).to_vec()];
    for r in results {
        let budget = match r.budget {
            Some(b) if r.size > b => format!("{} OVER", format_size(b)),
            Some(b) => format!("{} ok", format_size(b)),
            None => "-".into(),
        };
        for reference in &r.references {
            let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
            rows.push(vec![
                repo.to_string(),
                tag.to_string(),
                format_size(r.size),
                format_size(r.compressed_size),
                budget.clone(),
                r.platform.to_string(),
                r.manifest_digest.chars().take(19).collect(),
            ]);
        }
    }
    lucid::report::table(&rows)
}
