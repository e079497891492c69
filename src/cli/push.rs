//! `lucid push`: any image lucid reads (an OCI layout's image or multi-platform index, a
//! docker-archive, an engine's image, another registry's) to a registry.

use std::path::PathBuf;

use anyhow::{Context, Result};

use lucid::build::BuiltOutput;
use lucid::oci::push::{Payload, PushStats, Pusher};
use lucid::oci::source::{self, SourceOptions};
use lucid::oci::{ImageRef, RegistryRef};
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

/// `lucid build --push --registry HOST[:PORT]/PREFIX`: every built image to
/// `PREFIX/IMAGE:TAG` under each of its tags, sharing one session so common layers are mounted.
pub fn push_built(
    results: &[BuiltOutput],
    registry: &str,
    opts: &super::CredentialArgs,
    reporter: &Reporter,
) -> Result<PushStats> {
    let prefix = registry.trim_start_matches("docker://").trim_end_matches('/');
    let host = prefix.split('/').next().unwrap_or(prefix);
    lucid::oci::reference::check_host(host).with_context(|| format!("--registry {registry:?}"))?;
    let mut pusher = Pusher::new(opts.auth(Some(host)));
    let mut seen: Vec<&PathBuf> = Vec::new();
    for r in results {
        if seen.contains(&&r.layout) {
            continue; // one layout holds every platform of an image
        }
        seen.push(&r.layout);
        let tags: Vec<String> =
            r.references.iter().filter_map(|t| t.rsplit_once(':').map(|(_, tag)| tag.to_string())).collect();
        let first = tags.first().cloned().unwrap_or_else(|| "latest".into());
        let dest = RegistryRef::parse(&format!("{prefix}/{}:{first}", r.image))?;
        let layout = ImageRef::Oci { dir: r.layout.clone(), tag: Some(first.clone()) };
        let task = reporter.task(&r.image);
        let digest = push_source(&mut pusher, layout, &SourceOptions::default(), &dest, &tags, &task)
            .with_context(|| format!("cannot push {} to {prefix}", r.image))?;
        drop(task);
        reporter.status("Pushed", format!("{prefix}/{}:{{{}}} {digest}", r.image, tags.join(",")));
    }
    reporter.status("Registry", summary(&pusher.stats));
    Ok(pusher.stats)
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
