//! Attachments: artifacts kept beside an image in its own repository, under the tag
//! `sha256-<hex>.<kind>` of the manifest they are about (cosign's convention: `sig` for
//! signatures, `att` for attestations). Every registry serves a tag, so this works where the OCI
//! 1.1 referrers API does not, and containers/image reads signatures from it
//! (`use-sigstore-attachments: true`).
//!
//! The tag holds one image manifest whose layers are the attachments, each with its media type
//! and annotations (a signature's value is an annotation of its payload's layer). Adding keeps
//! what the tag held (other keys' signatures) and adds only what is new, so adding the same
//! attachment twice changes nothing. Two writers adding at the same moment can lose one's
//! addition, as with cosign; the caller reads back to confirm when that matters.
//!
//! Reading is bounded and checked: a hostile registry cannot make lucid hold more than
//! [`MAX_TOTAL_BYTES`] under a tag ([`MAX_ATTACHMENTS`] layers, each read once), and a layer
//! counts only when its bytes match its digest and size.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::image::{Descriptor, Manifest};
use super::push::{Blob, Pusher};
use super::registry::{Registry, RegistryRef};
use super::{MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, digest_of};
use crate::progress::Task;

/// At most this many attachments under one tag are read.
pub const MAX_ATTACHMENTS: usize = 256;
/// At most this many bytes per attachment (a signature payload is under 1 KiB; an SBOM
/// attestation of a large image a few MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 32 << 20;
/// At most this many bytes under one tag, all attachments together.
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// One attachment: its bytes, their media type and the annotations of its layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub media_type: String,
    pub data: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// `sha256:<hex>` and `sig` give `sha256-<hex>.sig`.
pub fn tag_for(digest: &str, kind: &str) -> Result<String> {
    let hex = super::digest_hex(digest)?;
    Ok(format!("sha256-{hex}.{kind}"))
}

/// The attachments of kind `kind` for manifest `digest` in `reg`'s repository (none when the
/// tag does not exist). A layer listed twice is read once; a layer whose bytes do not match its
/// digest and size is left out (it can be no one's valid signature); more layers or bytes than
/// lucid reads is an error, so a flooded tag fails closed.
pub fn read(reg: &mut Registry, digest: &str, kind: &str) -> Result<Vec<Attachment>> {
    let tag = tag_for(digest, kind)?;
    let Some((bytes, _, _)) = reg.manifest_if_any(&tag)? else { return Ok(Vec::new()) };
    let shown = format!("{}:{tag}", reg.reference().repository);
    let manifest: Manifest =
        serde_json::from_slice(&bytes).with_context(|| format!("{shown} is not an OCI image manifest"))?;
    if manifest.layers.len() > MAX_ATTACHMENTS {
        bail!("{shown} lists {} attachments, more than the {MAX_ATTACHMENTS} lucid reads", manifest.layers.len());
    }
    let mut seen = std::collections::BTreeSet::new();
    let layers: Vec<Descriptor> = manifest.layers.into_iter().filter(|l| seen.insert(l.digest.clone())).collect();
    let total: u64 = layers.iter().map(|l| l.size).fold(0, u64::saturating_add);
    if total > MAX_TOTAL_BYTES || layers.iter().any(|l| l.size > MAX_ATTACHMENT_BYTES) {
        bail!("{shown}: its attachments are {total} bytes, more than lucid reads");
    }
    let mut out = Vec::new();
    for layer in layers {
        let data = reg.blob_raw(&layer.digest, layer.size)?;
        if data.len() as u64 != layer.size || digest_of(&data) != layer.digest {
            continue;
        }
        out.push(Attachment { media_type: layer.media_type, data, annotations: layer.annotations });
    }
    Ok(out)
}

/// The config of an attachment manifest, as cosign writes it: no platform, one diff_id per
/// layer (its digest: the blobs are not compressed).
fn config(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let v = json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    serde_json::to_vec(&v).expect("a JSON value serializes")
}

/// Adds `new` to the attachments of kind `kind` for manifest `digest` in `dest`'s repository,
/// dropping those `superseded` says the new ones replace (an older provenance by the same key:
/// without it, every rebuild of a reproducible image would add one more, up to the limit);
/// returns how many were not there yet (0 and nothing dropped: nothing was written).
pub fn add(
    pusher: &mut Pusher,
    dest: &RegistryRef,
    digest: &str,
    kind: &str,
    new: &[Attachment],
    superseded: &dyn Fn(&Attachment) -> bool,
    task: &Task,
) -> Result<usize> {
    let tag = tag_for(digest, kind)?;
    let mut reg = Registry::new(dest, &pusher.auth)?;
    let mut all = read(&mut reg, digest, kind)?;
    let before = all.len();
    all.retain(|a| new.contains(a) || !superseded(a));
    let dropped = before - all.len();
    let kept = all.len();
    for a in new {
        if !all.contains(a) {
            all.push(a.clone());
        }
    }
    let added = all.len() - kept;
    if added == 0 && dropped == 0 {
        return Ok(0);
    }
    let layers: Vec<Descriptor> = all
        .iter()
        .map(|a| Descriptor {
            media_type: a.media_type.clone(),
            digest: digest_of(&a.data),
            size: a.data.len() as u64,
            platform: None,
            annotations: a.annotations.clone(),
        })
        .collect();
    let config = config(&layers);
    let config_digest = digest_of(&config);
    let total = config.len() as u64 + all.iter().map(|a| a.data.len() as u64).sum::<u64>();
    let bytes = task.transfer("Attaching", &format!("{}/{}:{tag}", dest.host, dest.repository), total);
    pusher.push_blob(&mut reg, &Blob::Memory { digest: &config_digest, data: &config }, &bytes)?;
    for (a, l) in all.iter().zip(&layers) {
        pusher.push_blob(&mut reg, &Blob::Memory { digest: &l.digest, data: &a.data }, &bytes)?;
    }
    drop(bytes);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.to_string()),
        config: Descriptor {
            media_type: MEDIA_TYPE_CONFIG.to_string(),
            digest: config_digest,
            size: config.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        },
        layers,
        annotations: BTreeMap::new(),
    };
    pusher.put_manifest(&mut reg, &serde_json::to_vec(&manifest)?, MEDIA_TYPE_MANIFEST, &tag)?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_cosign() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(tag_for(&d, "sig").unwrap(), format!("sha256-{}.sig", "ab".repeat(32)));
        assert!(tag_for("sha256:xyz", "sig").is_err());
        assert!(tag_for("latest", "sig").is_err());
    }
}
