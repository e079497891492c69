//! `lucid sign`: sigstore-format signatures on images in a registry, and the `--sign` of
//! `lucid build --push`.

use anyhow::{Context, Result};

use lucid::oci::RegistryRef;
use lucid::oci::push::Pusher;
use lucid::progress::Reporter;
use lucid::sign::{KeyRef, PrivateKey, Target};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out lucid.key
  openssl ec -in lucid.key -pubout -out lucid.pub
  lucid sign docker://127.0.0.1:5000/lucid/python-base:latest --key lucid.key
  LUCID_SIGNING_KEY=\"$(cat lucid.key)\" lucid sign docker://127.0.0.1:5000/lucid/python-base:latest --key env://LUCID_SIGNING_KEY
  lucid verify docker://127.0.0.1:5000/lucid/python-base:latest --key lucid.pub

The signature is cosign's: a simple-signing payload naming the manifest digest and the
repository (HOST/REPO, no tag), signed with ECDSA P-256 and stored under the tag
sha256-<hex>.sig in the same repository. An index is signed, and so is every platform's
manifest. skopeo, podman and CRI-O check it with a policy.json entry
{\"type\": \"sigstoreSigned\", \"keyPath\": \"lucid.pub\", \"signedIdentity\": {\"type\": \"matchRepository\"}}
and `use-sigstore-attachments: true` for the registry in registries.d (docs/supply-chain.md).
Signing is deterministic: signing the same image with the same key again adds nothing.")]
pub struct Args {
    /// Images to sign, in a registry: docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST].
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    #[command(flatten)]
    pub key: SignKeyArgs,
    #[command(flatten)]
    pub registry: super::RegistryArgs,
}

/// The private key, shared by `lucid sign` and `lucid build --push --sign`.
#[derive(clap::Args, Debug, Clone)]
pub struct SignKeyArgs {
    /// The ECDSA P-256 private key: a PEM file (PKCS#8 or SEC1, unencrypted) or env://NAME, the
    /// PEM text in environment variable NAME (keeps it out of files and shell history).
    #[arg(long = "key", value_name = "FILE|env://NAME", value_parser = KeyRef::parse)]
    pub key: KeyRef,
}

/// Loads the key: a key that cannot be used is a configuration error, found before any push.
pub fn load_key(key: &KeyRef) -> Result<PrivateKey> {
    PrivateKey::load(key).map_err(lucid::exit::usage)
}

pub fn run(args: Args, reporter: &Reporter) -> Result<i32> {
    let key = load_key(&args.key.key)?;
    let mut refs = Vec::new();
    for image in &args.images {
        let r = RegistryRef::parse_url(image)
            .with_context(|| {
                format!(
                    "{:?}: signatures live in a registry: give docker://HOST/REPO[:TAG]",
                    lucid::oci::reference::shown(image)
                )
            })
            .map_err(lucid::exit::usage)?;
        refs.push((image, r));
    }
    // Explicit credentials belong to one registry: --registry's, or the one host the images name.
    let hosts = refs.iter().map(|(_, r)| r.host.clone()).collect();
    args.registry.credentials.bound_to(args.registry.registry.as_deref(), hosts, "the images are on")?;
    let mut codes = Vec::new();
    for (image, r) in refs {
        let mut pusher = Pusher::new(args.registry.auth_for_push(&r.host));
        if let Err(e) = sign_one(&mut pusher, &r, &key, reporter).with_context(|| format!("cannot sign {image}")) {
            super::print_error(&e);
            codes.push(super::exit_code(&e));
        }
    }
    Ok(lucid::exit::worst(codes))
}

/// Signs what `r` resolves to; says each digest signed (stdout: `REPO@DIGEST`, one per line).
pub fn sign_one(pusher: &mut Pusher, r: &RegistryRef, key: &PrivateKey, reporter: &Reporter) -> Result<Vec<Target>> {
    let task = reporter.task(format!("{}/{}", r.host, r.repository));
    let signed = lucid::sign::sign(pusher, r, key, &task)?;
    drop(task);
    let mut out = Vec::new();
    for (target, new) in signed {
        let how = if new { "Signed" } else { "Signed (already)" };
        reporter.status(how, format!("{}@{} ({})", lucid::sign::identity(r), target.digest, target.what));
        println!("{}@{}", lucid::sign::identity(r), target.digest);
        out.push(target);
    }
    Ok(out)
}

/// What `lucid build --push --sign` signs with and says about the build.
pub struct Signing<'a> {
    pub key: &'a PrivateKey,
    pub spec: &'a lucid::spec::Spec,
    pub lock: &'a lucid::lock::Lock,
    pub source_date_epoch: i64,
    /// When the build started and finished (Unix seconds).
    pub started: i64,
    pub finished: i64,
}

/// Signs the image `image` just pushed to `r` (by digest), built for `platforms`, then attaches
/// its signed SLSA provenance to every manifest and its SPDX and CycloneDX documents, made from
/// `layout` (the pushed layout, `oci:DIR:TAG`), to each platform's manifest.
pub fn sign_built(
    pusher: &mut Pusher,
    r: &RegistryRef,
    image: &str,
    platforms: &[String],
    layout: &str,
    signing: &Signing<'_>,
    reporter: &Reporter,
) -> Result<()> {
    use lucid::sign::dsse::Subject;
    use lucid::sign::{PREDICATE_CYCLONEDX, PREDICATE_SLSA_PROVENANCE, PREDICATE_SPDX, attest};
    let targets = sign_one(pusher, r, signing.key, reporter)?;
    let name = lucid::sign::identity(r);
    let predicate = lucid::build::provenance::predicate(
        signing.spec,
        signing.lock,
        image,
        platforms,
        signing.source_date_epoch,
        signing.started,
        signing.finished,
    )?;
    let subjects: Vec<Subject> =
        targets.iter().map(|t| Subject { name: name.clone(), digest: t.digest.clone() }).collect();
    let digests: Vec<String> = targets.iter().map(|t| t.digest.clone()).collect();
    let task = reporter.task(&name);
    attest(pusher, r, &digests, &subjects, PREDICATE_SLSA_PROVENANCE, predicate, signing.key, &task)?;
    let analyses = lucid::analyze::analyze_reference(layout, &lucid::analyze::Options::default())
        .with_context(|| format!("cannot read {layout} for its SBOMs"))?;
    for a in &analyses {
        let digest = a.digest.clone().with_context(|| format!("{layout} ({}) has no manifest digest", a.platform))?;
        let subject = [Subject { name: name.clone(), digest: digest.clone() }];
        for (format, predicate_type) in [
            (lucid::analyze::sbom::SbomFormat::Spdx, PREDICATE_SPDX),
            (lucid::analyze::sbom::SbomFormat::Cyclonedx, PREDICATE_CYCLONEDX),
        ] {
            let document: serde_json::Value = serde_json::from_str(&lucid::analyze::sbom::render(a, format)?)?;
            attest(pusher, r, std::slice::from_ref(&digest), &subject, predicate_type, document, signing.key, &task)?;
        }
    }
    drop(task);
    reporter.status(
        "Attested",
        format!(
            "{name}: SLSA provenance on {} manifest(s), SPDX and CycloneDX on {} platform(s)",
            digests.len(),
            analyses.len()
        ),
    );
    Ok(())
}
