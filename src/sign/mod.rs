//! Image signatures in the sigstore (cosign) format, made and checked by lucid, read by
//! containers/image (`skopeo`, `podman`, CRI-O) with a `sigstoreSigned` policy.
//!
//! A signature is an ECDSA P-256 signature ([`key`]) over a simple-signing payload
//! ([`payload`]) that names a manifest digest and the repository it was signed for; it is stored
//! as an attachment ([`crate::oci::attach`]) under the tag `sha256-<hex>.sig` of that manifest:
//! the payload is the layer, the base64 signature its `dev.cosignproject.cosign/signature`
//! annotation. A multi-platform image gets a signature on its index and on every platform's
//! manifest (cosign's `--recursive`), so a client that resolves a platform first finds one too.
//!
//! Attestations ([`dsse`]: an in-toto Statement in a DSSE envelope signed with the same key) go
//! under `sha256-<hex>.att` as cosign puts them, one layer each with its `predicateType`
//! annotation: SLSA provenance on every manifest a build pushed, SPDX and CycloneDX documents on
//! each platform's manifest. The same envelopes sign the image records runners share through a
//! registry build cache ([`record`]).
//!
//! The payload names the repository without a tag (cosign's convention): a policy's
//! `signedIdentity` is then `matchRepository`, and re-tagging a signed image needs no new
//! signature. Signing is deterministic (RFC 6979, no timestamp): signing again adds nothing.

pub mod dsse;
pub mod key;
pub mod payload;
pub mod record;

use anyhow::{Context, Result};
use base64::Engine as _;

use crate::oci::attach::{self, Attachment};
use crate::oci::image::Index;
use crate::oci::push::Pusher;
use crate::oci::registry::{Registry, RegistryAuth, RegistryRef};
use crate::oci::{MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_INDEX};
use crate::progress::Task;
pub use key::{KeyRef, PrivateKey, PublicKey};
use payload::Claim;

/// The attachment kind of signatures.
pub const KIND: &str = "sig";
/// The media type of a signature's payload layer.
pub const MEDIA_TYPE_PAYLOAD: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation that holds the base64 signature.
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";

/// At most this many manifests under one index are signed or checked (each costs registry
/// round trips; lucid's images have two).
pub const MAX_PLATFORMS: usize = 64;

/// One manifest a reference resolves to: the index or image itself, or a platform's manifest
/// under an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub digest: String,
    /// `index`, `image`, or the platform (`linux/arm64`).
    pub what: String,
}

/// What `r` resolves to: its manifest, and for an index every platform manifest it lists.
pub fn targets(reg: &mut Registry) -> Result<Vec<Target>> {
    let reference = reg.reference().reference.clone();
    let (bytes, media_type, digest) = reg.manifest(&reference)?;
    if media_type != MEDIA_TYPE_INDEX && media_type != MEDIA_TYPE_DOCKER_LIST {
        return Ok(vec![Target { digest, what: "image".into() }]);
    }
    let index: Index = serde_json::from_slice(&bytes).with_context(|| format!("the index {digest} is malformed"))?;
    if index.manifests.len() > MAX_PLATFORMS {
        anyhow::bail!(
            "the index {digest} lists {} manifests, more than the {MAX_PLATFORMS} lucid signs or checks",
            index.manifests.len()
        );
    }
    let mut out = vec![Target { digest, what: "index".into() }];
    for m in index.manifests {
        let what =
            m.platform.as_ref().map_or_else(|| "manifest".to_string(), |p| format!("{}/{}", p.os, p.architecture));
        out.push(Target { digest: m.digest, what });
    }
    Ok(out)
}

/// The repository a signature names: `HOST/REPO` as the image is pulled.
pub fn identity(r: &RegistryRef) -> String {
    format!("{}/{}", r.host, r.repository)
}

/// Signs everything `dest` resolves to with `key`; returns each target with whether its
/// signature was new (false: the same signature was already there).
pub fn sign(pusher: &mut Pusher, dest: &RegistryRef, key: &PrivateKey, task: &Task) -> Result<Vec<(Target, bool)>> {
    let mut reg = Registry::new(dest, &pusher.auth)?;
    let mut out = Vec::new();
    for target in targets(&mut reg)? {
        let body = payload::encode(&Claim { digest: target.digest.clone(), reference: identity(dest) });
        let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&body));
        let att = Attachment {
            media_type: MEDIA_TYPE_PAYLOAD.to_string(),
            data: body,
            annotations: [(ANNOTATION_SIGNATURE.to_string(), signature)].into(),
        };
        let added = attach::add(pusher, dest, &target.digest, KIND, &[att], &|_| false, task)
            .with_context(|| format!("cannot store the signature of {} ({})", target.digest, target.what))?;
        out.push((target, added > 0));
    }
    Ok(out)
}

/// The attachment kind of attestations.
pub const ATTESTATION_KIND: &str = "att";
/// The annotation naming an attestation's predicate type (cosign's).
pub const ANNOTATION_PREDICATE_TYPE: &str = "predicateType";
/// Predicate types lucid attaches.
pub const PREDICATE_SLSA_PROVENANCE: &str = "https://slsa.dev/provenance/v1";
pub const PREDICATE_SPDX: &str = "https://spdx.dev/Document";
pub const PREDICATE_CYCLONEDX: &str = "https://cyclonedx.org/bom";

/// Signs the statement that `subjects` have `predicate` and attaches it to each of `digests` in
/// `dest`'s repository; returns how many attachments were new.
#[allow(clippy::too_many_arguments)]
pub fn attest(
    pusher: &mut Pusher,
    dest: &RegistryRef,
    digests: &[String],
    subjects: &[dsse::Subject],
    predicate_type: &str,
    predicate: serde_json::Value,
    key: &PrivateKey,
    task: &Task,
) -> Result<usize> {
    let envelope = dsse::envelope(&dsse::statement(subjects, predicate_type, predicate), key);
    let att = Attachment {
        media_type: dsse::MEDIA_TYPE_ENVELOPE.to_string(),
        data: envelope,
        annotations: [(ANNOTATION_PREDICATE_TYPE.to_string(), predicate_type.to_string())].into(),
    };
    // This key's earlier statement of the same type is replaced (a provenance names the build's
    // times, so every rebuild makes a new one); other keys' stay.
    let public = key.public();
    let superseded = |a: &Attachment| {
        a.annotations.get(ANNOTATION_PREDICATE_TYPE).is_some_and(|t| t == predicate_type)
            && dsse::open(&a.data, &public).is_ok()
    };
    let mut added = 0;
    for digest in digests {
        added += attach::add(pusher, dest, digest, ATTESTATION_KIND, std::slice::from_ref(&att), &superseded, task)
            .with_context(|| format!("cannot attach the {predicate_type} attestation to {digest}"))?;
    }
    Ok(added)
}

/// The predicate types of the attestations on `digest` whose envelope verifies with `key` and
/// whose statement names `digest` in repository `name` (an attestation copied from another
/// image or repository does not count).
pub fn attested(reg: &mut Registry, digest: &str, name: &str, key: &PublicKey) -> Result<Vec<String>> {
    let found = attach::read(reg, digest, ATTESTATION_KIND)?;
    let mut types: Vec<String> = found
        .iter()
        .filter(|a| a.media_type == dsse::MEDIA_TYPE_ENVELOPE)
        .filter_map(|a| dsse::open(&a.data, key).ok())
        .filter(|st| dsse::about(st, name, digest))
        .filter_map(|st| st["predicateType"].as_str().map(str::to_string))
        .collect();
    types.sort();
    types.dedup();
    Ok(types)
}

/// The verdict on one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A signature by the key names this digest and repository.
    Signed,
    /// No signature at all.
    Unsigned,
    /// Signatures, none by the key.
    OtherKeys(usize),
    /// A signature by the key, for another manifest or repository (copied from elsewhere).
    Misattributed(Claim),
}

/// What a target carries: the verdict on its signatures and the predicate types of its
/// attestations by the key.
#[derive(Clone, Debug)]
pub struct Checked {
    pub target: Target,
    pub verdict: Verdict,
    pub attested: Vec<String>,
}

/// Checks the signatures of everything `r` resolves to against `key`, and with `attestations`
/// its attestations too (otherwise [`Checked::attested`] is empty: nothing more is read).
pub fn verify(r: &RegistryRef, auth: &RegistryAuth, key: &PublicKey, attestations: bool) -> Result<Vec<Checked>> {
    let mut reg = Registry::new(r, auth)?;
    let mut out = Vec::new();
    for target in targets(&mut reg)? {
        let found = attach::read(&mut reg, &target.digest, KIND)
            .with_context(|| format!("cannot read the signatures of {} ({})", target.digest, target.what))?;
        let verdict = judge(&found, &target.digest, &identity(r), key);
        let attested = if attestations {
            attested(&mut reg, &target.digest, &identity(r), key)
                .with_context(|| format!("cannot read the attestations of {} ({})", target.digest, target.what))?
        } else {
            Vec::new()
        };
        out.push(Checked { target, verdict, attested });
    }
    Ok(out)
}

/// The verdict of `found` on `digest` signed for `repository`: a payload counts only when its
/// signature verifies with `key`, and only then is what it claims read.
fn judge(found: &[Attachment], digest: &str, repository: &str, key: &PublicKey) -> Verdict {
    let mut misattributed = None;
    let mut candidates = 0;
    for a in found.iter().filter(|a| a.media_type == MEDIA_TYPE_PAYLOAD) {
        candidates += 1;
        let Some(sig) = a.annotations.get(ANNOTATION_SIGNATURE) else { continue };
        let Ok(der) = base64::engine::general_purpose::STANDARD.decode(sig.trim()) else { continue };
        if !key.verifies(&a.data, &der) {
            continue;
        }
        match payload::decode(&a.data) {
            Ok(claim) if claim.digest == digest && claim.reference == repository => return Verdict::Signed,
            Ok(claim) => misattributed = Some(claim),
            Err(_) => {}
        }
    }
    match misattributed {
        Some(claim) => Verdict::Misattributed(claim),
        None if candidates == 0 => Verdict::Unsigned,
        None => Verdict::OtherKeys(candidates),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(seed: u8, dir: &std::path::Path) -> (PrivateKey, PublicKey) {
        let private = key::test_key(seed, dir);
        let public = private.public();
        (private, public)
    }

    fn signature(key: &PrivateKey, digest: &str, repo: &str) -> Attachment {
        let body = payload::encode(&Claim { digest: digest.into(), reference: repo.into() });
        let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&body));
        Attachment {
            media_type: MEDIA_TYPE_PAYLOAD.into(),
            data: body,
            annotations: [(ANNOTATION_SIGNATURE.to_string(), sig)].into(),
        }
    }

    #[test]
    fn judges_by_key_digest_and_repository() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, public) = keypair(1, dir.path());
        let (theirs, _) = keypair(2, dir.path());
        let (d, r) = ("sha256:aa", "h:5000/lucid/base");
        assert_eq!(judge(&[], d, r, &public), Verdict::Unsigned);
        assert_eq!(judge(&[signature(&ours, d, r)], d, r, &public), Verdict::Signed);
        assert_eq!(judge(&[signature(&theirs, d, r)], d, r, &public), Verdict::OtherKeys(1));
        assert_eq!(judge(&[signature(&theirs, d, r), signature(&ours, d, r)], d, r, &public), Verdict::Signed);
        // A valid signature copied from another image, or another repository, does not count.
        assert!(matches!(judge(&[signature(&ours, "sha256:bb", r)], d, r, &public), Verdict::Misattributed(_)));
        assert!(matches!(judge(&[signature(&ours, d, "h:5000/other")], d, r, &public), Verdict::Misattributed(_)));
        // A payload changed after signing fails the key.
        let mut changed = signature(&ours, d, r);
        changed.data.push(b' ');
        assert_eq!(judge(&[changed], d, r, &public), Verdict::OtherKeys(1));
    }
}
