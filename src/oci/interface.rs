//! The one image interface: what every image is, wherever it came from or goes.
//!
//! go-containerregistry's `v1.Image`, cut to what lucid's consumers read: the config (bytes and
//! parsed), the manifest when there is one, the platform, and the layers (digest, diff_id, size,
//! media type, and a reader of the stored or uncompressed bytes). The built image
//! ([`super::BuiltImage`]) and every source ([`super::read::ImageView`]: OCI layout,
//! docker-archive, engine export, registry pull) implement it; the sinks (docker-archive, OCI
//! layout, engine load, registry push) and the readers (the merged view, verify, report) take
//! `&dyn Image`, so
//! an image read from anywhere can be written anywhere without being converted by hand.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::image::{ConfigFile, Descriptor, Manifest};
use super::{HashReader, MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, read::decompressed};
use crate::limits::open_regular;

/// Where a layer's stored bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A whole file (an OCI layout blob, a built layer).
    File(PathBuf),
    /// A member of a tar file (a docker-archive), as byte range.
    Member { archive: PathBuf, offset: u64, size: u64 },
}

/// One layer of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:` of the blob as stored, when known: a manifest names it; an uncompressed layer's
    /// blob is its tar, so it is the diff_id. `None` only for a compressed layer of an archive
    /// with no manifest.
    pub digest: Option<String>,
    /// `sha256:` of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
    /// Bytes as stored.
    pub size: u64,
    /// How it is stored: gzip (`...tar+gzip`, `...tar.gzip`) or a plain tar.
    pub media_type: String,
    /// Bytes of the uncompressed tar, when known without reading it.
    pub uncompressed_size: Option<u64>,
    pub location: Location,
}

impl Layer {
    /// Whether the stored bytes are compressed: only then is [`Layer::size`] a compressed size
    /// (an engine exports, and `docker save` writes, plain tars).
    pub fn compressed(&self) -> bool {
        let m = self.media_type.as_str();
        m.ends_with("gzip") || m.ends_with("zstd")
    }

    /// The stored bytes (compressed or not, as stored).
    pub fn blob(&self) -> Result<Box<dyn Read>> {
        self.location.open()
    }

    /// The uncompressed tar stream.
    pub fn tar(&self) -> Result<Box<dyn Read>> {
        decompressed(self.blob()?)
    }
}

impl Location {
    /// A reader of the bytes stored here.
    pub fn open(&self) -> Result<Box<dyn Read>> {
        Ok(match self {
            // An image's files are whatever its maker put there: a FIFO or a link is refused.
            Location::File(p) => {
                Box::new(open_regular(p, false).with_context(|| format!("cannot open layer {}", p.display()))?)
            }
            Location::Member { archive, offset, size } => {
                let mut f =
                    open_regular(archive, true).with_context(|| format!("cannot open {}", archive.display()))?;
                f.seek(SeekFrom::Start(*offset)).with_context(|| format!("cannot seek in {}", archive.display()))?;
                Box::new(f.take(*size))
            }
        })
    }
}

/// An image: config, manifest, platform, layers.
pub trait Image {
    /// The config exactly as stored (what its digest is of).
    fn config_json(&self) -> &[u8];
    fn config_digest(&self) -> &str;
    /// The config, parsed.
    fn config_file(&self) -> &ConfigFile;
    /// The manifest bytes and digest, when the image has one (a docker-archive has only
    /// `manifest.json`, which is no image manifest).
    fn manifest(&self) -> Option<(&[u8], &str)>;
    /// The layers, bottom first.
    fn layers(&self) -> Vec<Layer>;

    /// The platform the config names (for a built image, what it was built for); its
    /// [`qualified`](crate::platform::Platform::qualified) name (`linux/arm64/v8`) is how verify
    /// and report name the image.
    fn platform(&self) -> crate::platform::Platform {
        let c = self.config_file();
        crate::platform::Platform {
            os: c.os.clone(),
            arch: c.architecture.clone(),
            variant: c.variant.clone().filter(|v| !v.is_empty()),
        }
    }

    /// The config's `created` as Unix seconds (0 when absent or unreadable): the mtime of the
    /// entries of an archive written from the image.
    fn created(&self) -> i64 {
        self.config_file()
            .created
            .as_deref()
            .and_then(|c| time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).ok())
            .map_or(0, |t| t.unix_timestamp())
    }

    /// The descriptor that points at the manifest, with the platform, when there is a manifest.
    fn manifest_descriptor(&self) -> Option<Descriptor> {
        let (json, digest) = self.manifest()?;
        Some(Descriptor {
            media_type: MEDIA_TYPE_MANIFEST.to_string(),
            digest: digest.to_string(),
            size: json.len() as u64,
            platform: Some((&self.platform()).into()),
            annotations: Default::default(),
        })
    }

    /// The stored bytes of layer `i`.
    fn layer_blob(&self, i: usize) -> Result<Box<dyn Read>> {
        self.layers().get(i).with_context(|| format!("the image has no layer {i}"))?.blob()
    }

    /// Layer `i` as an uncompressed tar stream.
    fn layer_tar(&self, i: usize) -> Result<Box<dyn Read>> {
        decompressed(self.layer_blob(i)?)
    }
}

/// The stored layers of `image`, each with its blob digest: the manifest's, else (a compressed
/// layer of an archive without one) hashed from the bytes.
pub(crate) fn layer_blobs(image: &dyn Image) -> Result<Vec<(String, Layer)>> {
    image
        .layers()
        .into_iter()
        .map(|layer| {
            let digest = match &layer.digest {
                Some(d) => d.clone(),
                None => {
                    let mut r = HashReader::new(layer.blob()?);
                    std::io::copy(&mut r, &mut std::io::sink())
                        .with_context(|| format!("cannot read layer {}", layer.diff_id))?;
                    r.finish().0
                }
            };
            Ok((digest, layer))
        })
        .collect()
}

/// The manifest of `image` (bytes, digest, media type): its own, or, for an image that has none,
/// an OCI manifest naming its config and `layers` as stored.
pub(crate) fn manifest_of(image: &dyn Image, layers: &[(String, Layer)]) -> Result<(Vec<u8>, String, String)> {
    if let (Some((json, digest)), Some(desc)) = (image.manifest(), image.manifest_descriptor()) {
        return Ok((json.to_vec(), digest.to_string(), desc.media_type));
    }
    let descriptor = |media_type: &str, digest: &str, size: u64| Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        platform: None,
        annotations: BTreeMap::new(),
    };
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.to_string()),
        config: descriptor(MEDIA_TYPE_CONFIG, image.config_digest(), image.config_json().len() as u64),
        layers: layers.iter().map(|(digest, l)| descriptor(&l.media_type, digest, l.size)).collect(),
        annotations: BTreeMap::new(),
    };
    let json = serde_json::to_vec(&manifest).context("cannot serialize the image manifest")?;
    let digest = super::digest_of(&json);
    Ok((json, digest, MEDIA_TYPE_MANIFEST.to_string()))
}
