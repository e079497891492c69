//! `lucid diff --pull-cost OLD NEW`: the bytes a node that holds the images OLD must pull to run
//! the images NEW.
//!
//! A node (an engine, containerd) keeps blobs by digest: pulling an image fetches its manifest,
//! its config and every layer whose compressed blob it does not hold yet, whichever image brought
//! it. So the cost is the sum of the compressed sizes of NEW's distinct layer digests that no
//! image of OLD has, plus NEW's configs and manifests that OLD does not have. It is counted per
//! platform, since a node runs one. Only sources that know the compressed blobs (OCI layouts,
//! registries) can answer: an engine exports plain tars.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

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
    let mut layers = Vec::new();
    for (i, layer) in image.layers().into_iter().enumerate() {
        let digest = match (&layer.digest, layer.compressed()) {
            (Some(d), true) => d.clone(),
            _ => {
                return Err(crate::exit::Usage::msg(format!(
                    "{}: layer {} is stored uncompressed, so the bytes a registry would serve are not known \
                     (an engine exports plain tars): give an oci: layout or a docker:// reference",
                    named.reference,
                    i + 1
                )));
            }
        };
        layers.push((digest, layer.size, history.get(i).cloned().unwrap_or_default()));
    }
    let mut metadata = vec![(image.config_digest().to_string(), image.config_json().len() as u64)];
    if let Some((bytes, digest)) = image.manifest() {
        metadata.push((digest.to_string(), bytes.len() as u64));
    }
    Ok(Blobs { layers, metadata })
}

/// The pull cost of `wanted` for a node holding `held`, one figure per platform of `wanted`
/// (sorted by platform); `held` images of other platforms count for nothing.
pub fn pull_cost(held: &[Named], wanted: &[Named]) -> Result<Vec<PullCost>> {
    let mut platforms: BTreeMap<String, (Vec<&Named>, Vec<&Named>)> = BTreeMap::new();
    for n in wanted {
        platforms.entry(n.image.platform().qualified()).or_default().1.push(n);
    }
    for n in held {
        if let Some(p) = platforms.get_mut(&n.image.platform().qualified()) {
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
        let mut total_bytes = 0;
        let mut held_bytes = 0;
        let mut held_layers = 0;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for n in &new {
            let b = blobs(n)?;
            for (digest, size, created_by) in b.layers {
                if seen.insert(digest.clone()) {
                    total_bytes += size;
                    if have.contains(&digest) {
                        held_bytes += size;
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
        let layer_bytes: u64 = layers.iter().map(|l| l.bytes).sum();
        let metadata_bytes: u64 = metadata.values().sum();
        out.push(PullCost {
            platform,
            held: old.iter().map(|n| n.reference.to_string()).collect(),
            wanted: new.iter().map(|n| n.reference.to_string()).collect(),
            pull_bytes: layer_bytes + metadata_bytes,
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
