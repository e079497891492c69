//! `lucid push`: any image lucid reads (an OCI layout's image or multi-platform index, a
//! docker-archive, an engine's image, another registry's) to a registry.

use std::path::PathBuf;

use anyhow::{Context, Result};

use lucid::build::BuiltOutput;
use lucid::oci::push::{Payload, PushStats, Pusher};
use lucid::oci::source::{self, SourceOptions};
use lucid::oci::{ImageRef, RegistryRef, TagRef};
use lucid::progress::{Reporter, Task};
use lucid::spec::format_size;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid push oci:out/lucid-python-base:latest docker://127.0.0.1:5000/lucid/python-base:latest
  lucid push oci:out/lucid-python-base:latest docker://registry.internal:5000/lucid/python-base:latest -t 20261125
  lucid push docker-archive:out/lucid-python-base.tar docker://127.0.0.1:5000/lucid/python-base:latest
  lucid push docker-daemon:lucid-python-base:latest docker://127.0.0.1:5000/lucid/python-base:latest

Credentials: --creds USER:PASSWORD (or --registry-token) are for the destination's registry, or
for the one --registry names; no other host ever gets them (a docker:// source elsewhere is read
anonymously or with its own `docker login` entry). Without them, what `docker login` stored in
~/.docker/config.json (auths, credsStore, credHelpers) for that one host. Nothing is sent before
the registry asks (401); an upload Location on another origin is refused. Plain HTTP is used for
loopback registries or --insecure-registry.")]
pub struct Args {
    /// The image to push: oci:DIR[:TAG] (an image or a multi-platform index, pushed as such),
    /// docker-archive:FILE, docker-daemon:NAME[:TAG] or docker://HOST/REPO[:TAG].
    pub source: String,
    /// Where to: docker://HOST[:PORT]/REPO[:TAG].
    pub destination: String,
    /// More tags for the same image (repeatable).
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub registry: super::RegistryArgs,
}

fn summary(stats: &PushStats) -> String {
    format!(
        "{} blob(s) uploaded ({}), {} already there, {} mounted, {} manifest(s)",
        stats.uploaded,
        format_size(stats.uploaded_bytes),
        stats.existing,
        stats.mounted,
        stats.manifests
    )
}

pub fn run(args: Args, reporter: &Reporter) -> Result<i32> {
    let reference = ImageRef::parse(&args.source)
        .with_context(|| format!("push source {:?}", lucid::oci::reference::shown(&args.source)))
        .map_err(lucid::exit::usage)?;
    for t in &args.tags {
        lucid::oci::reference::check_tag(t).with_context(|| format!("-t {t:?}")).map_err(lucid::exit::usage)?;
    }
    let dest = RegistryRef::parse_url(&args.destination)
        .with_context(|| format!("push destination {:?}", lucid::oci::reference::shown(&args.destination)))
        .map_err(lucid::exit::usage)?;
    // One binding for both ends: a docker:// source on another host gets none of them.
    let auth = args.registry.auth_for_push(&dest.host);
    let opts = SourceOptions { registry: auth.clone() };
    let mut pusher = Pusher::new(auth);
    let task = reporter.task(&args.destination);
    let digest = push_source(&mut pusher, reference, &opts, &dest, &args.tags, &task)
        .with_context(|| format!("cannot push {} to {}", args.source, args.destination))?;
    drop(task);
    reporter.status("Pushed", format!("{} {digest}: {}", args.destination, summary(&pusher.stats)));
    println!("{digest}");
    Ok(0)
}

/// Where `lucid build --push` sends each built image, decided before the build: the registry
/// each `-t HOST[:PORT]/REPO:TAG` names, as `docker buildx build --push` does, and `--registry
/// HOST[:PORT][/PREFIX]` for the tags that name none (the spec's own tags, `-t NAME:TAG`,
/// `-t :TAG`).
pub struct Destinations {
    /// `--registry`, without `docker://` or a trailing `/`.
    prefix: Option<String>,
    /// The explicit credentials, bound to one registry host (or to none).
    auth: lucid::oci::registry::RegistryAuth,
}

impl Destinations {
    /// Checks `--push`'s tags and registry: every tag must name a registry or have `--registry`
    /// to go to (else a usage error that shows the form to use), and explicit credentials must
    /// belong to exactly one registry: `--registry`'s host, or the one host the tags name.
    pub fn new(tags: &[String], registry: Option<&str>, creds: &super::CredentialArgs) -> Result<Destinations> {
        let prefix = registry.map(|r| r.trim_start_matches("docker://").trim_end_matches('/').to_string());
        let registry_host = prefix.as_deref().map(|p| p.split('/').next().unwrap_or(p).to_string());
        if let Some(host) = &registry_host {
            lucid::oci::reference::check_host(host)
                .with_context(|| format!("--registry {:?}", registry.unwrap_or_default()))
                .map_err(lucid::exit::usage)?;
        }
        let parsed = tags.iter().map(|t| TagRef::parse(t)).collect::<Result<Vec<_>>>().map_err(lucid::exit::usage)?;
        // Every destination the tags can make is checked here, not after a build of minutes: a
        // prefix the registry grammar refuses (`--registry HOST/Team`) is a usage error now.
        if let Some(p) = &prefix {
            RegistryRef::parse(&format!("{p}/image:latest"))
                .with_context(|| format!("--registry {:?}", registry.unwrap_or_default()))
                .map_err(lucid::exit::usage)?;
        }
        if prefix.is_none() {
            let hint = "write the registry into the tag, as docker buildx does \
                        (--push -t HOST[:PORT]/REPO:TAG, e.g. -t 127.0.0.1:5000/lucid-python-base:latest), \
                        or give --registry HOST[:PORT]/PREFIX for tags without one";
            if parsed.is_empty() {
                return Err(lucid::exit::Usage::msg(format!(
                    "--push: the spec's tags (IMAGE:TAG) name no registry to push to: {hint}"
                )));
            }
            if let Some(t) = parsed.iter().find(|t| t.host.is_none()) {
                return Err(lucid::exit::Usage::msg(format!(
                    "--push: -t {t} names no registry (its first component has no `.` or `:` and is \
                     not localhost): {hint}"
                )));
            }
        }
        let hosts = parsed.iter().filter_map(|t| t.host.clone()).collect();
        let bound = creds.bound_to(registry_host.as_deref(), hosts, "the tags name")?;
        Ok(Destinations { prefix, auth: creds.auth(bound.as_deref()) })
    }

    /// The registry repositories `built` goes to, each with its tags (a repository named by
    /// several tags gets one push, tagged with all of them).
    fn of(&self, built: &BuiltOutput) -> Result<Vec<(RegistryRef, Vec<String>)>> {
        let mut out: Vec<(RegistryRef, Vec<String>)> = Vec::new();
        for reference in &built.references {
            let tag = TagRef::parse(reference).map_err(lucid::exit::usage)?;
            let Some(dest) = tag.destination(&built.image, self.prefix.as_deref()).map_err(lucid::exit::usage)? else {
                // Destinations::new refused this before the build.
                anyhow::bail!("--push: {reference} names no registry");
            };
            match out.iter_mut().find(|(d, _)| d.host == dest.host && d.repository == dest.repository) {
                Some((_, tags)) if tags.contains(&dest.reference) => {}
                Some((_, tags)) => tags.push(dest.reference),
                None => out.push((dest.clone(), vec![dest.reference])),
            }
        }
        Ok(out)
    }
}

/// `lucid build --push`: every built image (its layout: one manifest, or the index over every
/// platform) to each registry repository its tags name, under every tag for it. One session for
/// all, so a blob goes up once per registry: another repository of the same registry mounts it.
/// A push that fails is reported and the others still run (one registry down must not keep the
/// rest from their images); the exit code is the worst of the failures' (src/exit.rs), 0 when
/// every push landed.
pub fn push_built(
    results: &[BuiltOutput],
    destinations: &Destinations,
    signing: Option<&super::sign::Signing<'_>>,
    reporter: &Reporter,
) -> Result<i32> {
    let mut pusher = Pusher::new(destinations.auth.clone());
    let mut seen: Vec<&PathBuf> = Vec::new();
    let mut failed: Vec<i32> = Vec::new();
    for r in results {
        if seen.contains(&&r.layout) {
            continue; // one layout holds every platform of an image
        }
        seen.push(&r.layout);
        let tag = r.references.first().and_then(|t| t.rsplit_once(':')).map_or("latest", |(_, t)| t);
        let layout = ImageRef::Oci { dir: r.layout.clone(), tag: Some(tag.to_string()) };
        let shown = layout.to_string();
        let src =
            source::open_ref(layout, &SourceOptions::default()).with_context(|| format!("cannot read {shown}"))?;
        let payload = Payload::of(&src.images)?;
        let platforms: Vec<String> =
            results.iter().filter(|x| x.layout == r.layout).map(|x| x.platform.to_string()).collect();
        for (dest, tags) in destinations.of(r)? {
            let repo = format!("{}/{}", dest.host, dest.repository);
            let task = reporter.task(&repo);
            let pushed = pusher.push(&payload, &dest, &tags, &task).and_then(|digest| {
                drop(task);
                reporter.status("Pushed", format!("{repo}:{{{}}} {digest}", tags.join(",")));
                // By digest: what was just pushed is signed, whatever the tag says by now.
                let by_digest = RegistryRef { reference: digest, ..dest.clone() };
                attach_changelog(&mut pusher, &by_digest, &r.layout, reporter).with_context(|| {
                    format!("pushed, but cannot attach the changelog to {repo}@{}", by_digest.reference)
                })?;
                match signing {
                    Some(signing) => super::sign::sign_built(
                        &mut pusher,
                        &by_digest,
                        &r.image,
                        &platforms,
                        &shown,
                        signing,
                        reporter,
                    )
                    .with_context(|| format!("pushed, but cannot sign {repo}@{}", by_digest.reference)),
                    None => Ok(()),
                }
            });
            match pushed {
                Ok(()) => {}
                Err(e) => {
                    let e = e.context(format!("cannot push {} to {repo}", r.image));
                    super::print_error(&e);
                    failed.push(super::exit_code(&e));
                }
            }
        }
    }
    reporter.status("Registry", summary(&pusher.stats));
    if !failed.is_empty() {
        eprintln!("error: {} push(es) failed; the others landed (above)", failed.len());
    }
    Ok(lucid::exit::worst(failed))
}

/// Attaches the build's changelog (`LAYOUT.changes.json` and `.md` beside the layout, when the
/// build wrote them and the digest is new since a previous build) to `r`'s manifest under
/// `sha256-<hex>.changelog`, so users who pin digests can read in the registry why a new one
/// exists.
fn attach_changelog(pusher: &mut Pusher, r: &RegistryRef, layout: &std::path::Path, reporter: &Reporter) -> Result<()> {
    use lucid::oci::attach::{self, Attachment};
    let mut found = Vec::new();
    for (ext, media_type) in [("changes.json", "application/json"), ("changes.md", "text/markdown")] {
        let Some(stem) = layout.file_name() else { return Ok(()) };
        let path = layout.with_file_name(format!("{}.{ext}", stem.to_string_lossy()));
        let Ok(data) = std::fs::read(&path) else { continue };
        let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        found.push(Attachment {
            media_type: media_type.to_string(),
            data,
            annotations: [("org.opencontainers.image.title".to_string(), title)].into(),
        });
    }
    // Only news is attached: a first build has no previous one to compare with, and a rebuild
    // that gave the same digest changed nothing (that digest's changelog, if any, stays).
    let news = found
        .first()
        .and_then(|a| serde_json::from_slice::<serde_json::Value>(&a.data).ok())
        .is_some_and(|c| c["previous"].as_str().is_some_and(|p| Some(p) != c["digest"].as_str()));
    if !news {
        return Ok(());
    }
    let task = reporter.task(format!("{}/{}", r.host, r.repository));
    attach::add(pusher, r, &r.reference, "changelog", &found, &|_| false, &task)?;
    Ok(())
}

/// Opens `source` and pushes what it holds (one image, or one per platform under an index) to
/// `dest` under `tags`, with its bytes on `task`'s line; the manifest or index digest.
fn push_source(
    pusher: &mut Pusher,
    source: ImageRef,
    opts: &SourceOptions,
    dest: &RegistryRef,
    tags: &[String],
    task: &Task,
) -> Result<String> {
    let shown = source.to_string();
    let src = source::open_ref(source, opts).with_context(|| format!("cannot read {shown}"))?;
    pusher.push(&Payload::of(&src.images)?, dest, tags, task)
}
