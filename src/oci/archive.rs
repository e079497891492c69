//! docker-archive: the tarball `docker save` writes and `docker load` / `skopeo copy
//! docker-archive:FILE` read.
//!
//! Laid out as Docker 25+ writes it: `manifest.json` (`[{Config, RepoTags, Layers}]`, what every
//! Docker and skopeo reads) with the blobs under `blobs/sha256/`, plus `oci-layout` and
//! `index.json`, so the same file is also a valid `oci-archive:`. Layers stay gzip-compressed:
//! `docker load` and skopeo decompress them and check the config's diff_ids, and the blobs keep
//! the digests the OCI manifest names. Entries have fixed metadata, so the archive is
//! reproducible too.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::image::{Descriptor, Index, check_ref_name};
use super::interface::{Image, Layer, layer_blobs, manifest_of};
use super::{ANNOTATION_REF_NAME, HashReader, digest_hex};

/// One element of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Where a blob lives inside the archive.
pub fn blob_name(digest: &str) -> Result<String> {
    Ok(format!("blobs/sha256/{}", digest_hex(digest)?))
}

/// Writes `image` (built, or read from any source) as a docker-archive at `path`, tagged
/// `repo_tags` (`lucid-python-base:latest`). The file appears complete or not at all (temporary
/// file in the same directory, then rename). Every layer is copied through a digest check.
pub fn write_docker_archive(path: &Path, image: &dyn Image, repo_tags: &[String]) -> Result<()> {
    for tag in repo_tags {
        check_repo_tag(tag)?;
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&super::stale::work_prefix("docker-archive"))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // Locked while written, so another run's sweep of the output directory leaves it alone.
    tmp.as_file().lock().with_context(|| format!("cannot lock {}", tmp.path().display()))?;

    // An image read from a docker-archive has no manifest and may not know its compressed
    // layers' digests: they are hashed and a manifest made, as a push does.
    let blobs = layer_blobs(image)?;
    let (manifest_json, manifest_digest, media_type) = manifest_of(image, &blobs)?;
    let descriptor = image.manifest_descriptor().unwrap_or_else(|| Descriptor {
        media_type,
        digest: manifest_digest.clone(),
        size: manifest_json.len() as u64,
        platform: Some((&image.platform()).into()),
        annotations: Default::default(),
    });
    let (digests, layers): (Vec<&str>, Vec<&Layer>) = blobs.iter().map(|(d, l)| (d.as_str(), l)).unzip();
    let manifest = vec![ArchiveManifest {
        config: blob_name(image.config_digest())?,
        repo_tags: repo_tags.to_vec(),
        layers: digests.iter().map(|d| blob_name(d)).collect::<Result<_>>()?,
    }];
    let refs = if repo_tags.is_empty() {
        vec![descriptor]
    } else {
        repo_tags
            .iter()
            .map(|t| {
                let mut d = descriptor.clone();
                d.annotations.insert(ANNOTATION_REF_NAME.to_string(), t.clone());
                d
            })
            .collect()
    };
    let mtime = u64::try_from(image.created()).unwrap_or(0);
    let werr = |e: std::io::Error| anyhow!(e).context(format!("cannot write {}", path.display()));

    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, tmp.as_file()));
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = header(0, mtime);
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        tar.append_data(&mut h, dir, std::io::empty()).map_err(werr)?;
    }

    let mut seen = std::collections::BTreeSet::new();
    for (l, want) in layers.iter().zip(&digests) {
        if !seen.insert(*want) {
            continue;
        }
        let at = || format!("{want} at {:?}", l.location);
        // A layer file this process already found to be its blob (and that has not changed since)
        // is only counted; any other is hashed on the way.
        let known = matches!(&l.location, super::Location::File(p) if super::is_verified(p, want));
        let blob = l.blob().with_context(|| format!("cannot open layer {}", at()))?;
        let mut reader = if known { HashReader::counting(blob) } else { HashReader::new(blob) };
        tar.append_data(&mut header(l.size, mtime), blob_name(want)?, &mut reader)
            .map_err(|e| anyhow!(e).context(format!("cannot copy layer {}", at())))?;
        let (digest, n) = reader.finish();
        if (!known && digest != *want) || n != l.size {
            bail!("layer {} changed since it was written: found {digest} ({n} bytes)", at());
        }
    }
    let blobs =
        [(blob_name(image.config_digest())?, image.config_json()), (blob_name(&manifest_digest)?, &manifest_json[..])];
    for (name, data) in &blobs {
        tar.append_data(&mut header(data.len() as u64, mtime), name, *data).map_err(werr)?;
    }
    let index = serde_json::to_vec(&Index::new(refs)).context("cannot serialize index.json")?;
    let manifest_json = serde_json::to_vec(&manifest).context("cannot serialize manifest.json")?;
    for (name, data) in [
        ("index.json", index.as_slice()),
        ("manifest.json", manifest_json.as_slice()),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.as_slice()),
    ] {
        tar.append_data(&mut header(data.len() as u64, mtime), name, data).map_err(werr)?;
    }
    let mut buf = tar.into_inner().map_err(werr)?;
    buf.flush().map_err(werr)?;
    drop(buf);
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot rename into {}", path.display()))?;
    Ok(())
}

fn header(size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

/// `[host[:port]/]name:tag` as Docker accepts it in RepoTags: a lower-case repository and a tag.
fn check_repo_tag(tag: &str) -> Result<()> {
    // The `-t` grammar, so a name with a registry host and port (`127.0.0.1:5000/x:1`, what
    // `lucid build --push --load -t` gives) is as good here as for the push.
    let parsed = super::TagRef::parse(tag)?;
    if parsed.repository.is_none() || !tag.ends_with(&format!(":{}", parsed.tag)) {
        bail!("repo tag {tag:?} needs the form [HOST[:PORT]/]NAME:TAG (for example lucid-python-base:latest)");
    }
    check_ref_name(tag)
}

/// The docker-archive's `manifest.json` entries, for readers.
pub fn parse_manifest(data: &[u8]) -> Result<Vec<ArchiveManifest>> {
    serde_json::from_slice(data).context("malformed manifest.json in docker-archive")
}
