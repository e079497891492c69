//! `lucid diff --pull-cost OLD NEW`: the bytes a node that holds the images OLD must pull to run
//! the images NEW.
//!
//! A node (an engine, containerd) keeps blobs by digest: pulling an image fetches its manifest,
//! its config and every layer whose compressed blob it does not hold yet, whichever image brought
//! it. So the cost is the sum of the compressed sizes of NEW's distinct layer digests that no
//! image of OLD has, plus NEW's configs and manifests that OLD does not have. It is counted per
//! platform, since a node runs one. Only sources with manifests (OCI layouts, registries) can
//! answer: a docker-archive or an engine's export holds tars, not the blobs a registry serves.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};

use crate::findings::figures::{PullCost, PulledLayer};
use crate::oci::Image;

/// One image of a set, as the user named it.
pub struct Named<'a> {
    pub reference: &'a str,
    pub image: &'a dyn Image,
}

/// What one image costs: its layers (digest, compressed size, history text) and its metadata
/// blobs (config and manifest: digest, size).
struct Blobs {
    layers: Vec<(String, u64, String)>,
    metadata: Vec<(String, u64)>,
}

fn blobs(named: &Named) -> Result<Blobs> {
    let image = named.image;
    let history: Vec<String> = image
        .config_file()
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .map(|h| h.created_by.clone().unwrap_or_default())
        .collect();
    // Without a manifest (a docker-archive, an engine's export) the blobs a registry would serve
    // are not known: the stored tars are not them.
    let Some((manifest, manifest_digest)) = image.manifest() else {
        return Err(crate::exit::Usage::msg(format!(
            "{}: no image manifest (a docker-archive or an engine's export), so the blobs a registry \
             would serve are not known: give an oci: layout or a docker:// reference",
            named.reference
        )));
    };
    let mut layers = Vec::new();
    for (i, layer) in image.layers().into_iter().enumerate() {
        let Some(digest) = layer.digest.clone() else {
            bail!("{}: layer {} has no digest in the manifest", named.reference, i + 1);
        };
        layers.push((digest, layer.size, history.get(i).cloned().unwrap_or_default()));
    }
    let metadata = vec![
        (image.config_digest().to_string(), image.config_json().len() as u64),
        (manifest_digest.to_string(), manifest.len() as u64),
    ];
    Ok(Blobs { layers, metadata })
}

/// The platform a node runs, as one key: arm64 without a variant is arm64/v8, as
/// [`crate::platform::selects`] has it.
fn platform_key(image: &dyn Image) -> String {
    let mut p = image.platform();
    if p.arch == "arm64" && p.variant.is_none() {
        p.variant = Some("v8".into());
    }
    p.qualified()
}

/// The pull cost of `wanted` for a node holding `held`, one figure per platform of `wanted`
/// (sorted by platform); `held` images of other platforms count for nothing.
pub fn pull_cost(held: &[Named], wanted: &[Named]) -> Result<Vec<PullCost>> {
    let mut platforms: BTreeMap<String, (Vec<&Named>, Vec<&Named>)> = BTreeMap::new();
    for n in wanted {
        platforms.entry(platform_key(n.image)).or_default().1.push(n);
    }
    for n in held {
        if let Some(p) = platforms.get_mut(&platform_key(n.image)) {
            p.0.push(n);
        }
    }
    let mut out = Vec::new();
    for (platform, (old, new)) in platforms {
        let mut have: BTreeSet<String> = BTreeSet::new();
        for n in &old {
            let b = blobs(n)?;
            have.extend(b.layers.into_iter().map(|l| l.0));
            have.extend(b.metadata.into_iter().map(|m| m.0));
        }
        let mut layers: BTreeMap<String, PulledLayer> = BTreeMap::new();
        let mut metadata: BTreeMap<String, u64> = BTreeMap::new();
        let mut total_bytes = 0u64;
        let mut held_bytes = 0u64;
        let mut held_layers = 0;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for n in &new {
            let b = blobs(n)?;
            for (digest, size, created_by) in b.layers {
                if seen.insert(digest.clone()) {
                    total_bytes = total_bytes.saturating_add(size);
                    if have.contains(&digest) {
                        held_bytes = held_bytes.saturating_add(size);
                        held_layers += 1;
                    }
                }
                if !have.contains(&digest) {
                    let l = layers.entry(digest.clone()).or_insert_with(|| PulledLayer {
                        digest,
                        bytes: size,
                        created_by,
                        images: Vec::new(),
                    });
                    if !l.images.iter().any(|r| r == n.reference) {
                        l.images.push(n.reference.to_string());
                    }
                }
            }
            for (digest, size) in b.metadata {
                if !have.contains(&digest) {
                    metadata.insert(digest, size);
                }
            }
        }
        let mut layers: Vec<PulledLayer> = layers.into_values().collect();
        layers.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.digest.cmp(&b.digest)));
        // Sizes come from manifests, which may be hostile: saturate rather than overflow.
        let layer_bytes = layers.iter().fold(0u64, |n, l| n.saturating_add(l.bytes));
        let metadata_bytes = metadata.values().fold(0u64, |n, b| n.saturating_add(*b));
        out.push(PullCost {
            platform,
            held: old.iter().map(|n| n.reference.to_string()).collect(),
            wanted: new.iter().map(|n| n.reference.to_string()).collect(),
            pull_bytes: layer_bytes.saturating_add(metadata_bytes),
            layer_bytes,
            metadata_bytes,
            held_bytes,
            held_layers,
            total_bytes,
            layers,
        });
    }
    Ok(out)
}
