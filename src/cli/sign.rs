//! `lucid sign`: sigstore-format signatures on images in a registry, and the `--sign` of
//! `lucid build --push`.

use anyhow::{Context, Result};

use lucid::oci::RegistryRef;
use lucid::oci::push::Pusher;
use lucid::progress::Reporter;
use lucid::sign::{KeyRef, PrivateKey};

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
pub fn sign_one(pusher: &mut Pusher, r: &RegistryRef, key: &PrivateKey, reporter: &Reporter) -> Result<()> {
    let task = reporter.task(format!("{}/{}", r.host, r.repository));
    let signed = lucid::sign::sign(pusher, r, key, &task)?;
    drop(task);
    for (target, new) in signed {
        let how = if new { "Signed" } else { "Signed (already)" };
        reporter.status(how, format!("{}@{} ({})", lucid::sign::identity(r), target.digest, target.what));
        println!("{}@{}", lucid::sign::identity(r), target.digest);
    }
    Ok(())
}
