//! OCI image config, manifest and index.
//!
//! These are our own serde structs rather than oci-spec's types because oci-spec keeps labels and
//! annotations in a `HashMap`, whose iteration order (and so the JSON bytes and the digest)
//! changes from run to run. Here every map is a `BTreeMap` and field order is fixed by the struct,
//! so the same input always serializes to the same bytes. The structs also deserialize, leniently,
//! so [`super::read`] can use them for images other tools wrote.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::interface::{Image, Layer, Location};
use super::{
    ANNOTATION_REF_NAME, LayerBlob, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST,
    digest_hex, digest_of,
};

/// What the build says about an image, before any JSON exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageConfig {
    /// What the image is built for: the config's `os`, `architecture` and `variant`.
    pub platform: crate::platform::Platform,
    /// `65532` or `65532:65532` (numeric, so it works without /etc/passwd lookups).
    pub user: String,
    /// `KEY=value`.
    pub env: Vec<String>,
    /// Empty: no Entrypoint in the config (the field is left out).
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    /// Unix seconds, written as RFC 3339 UTC (normally `SOURCE_DATE_EPOCH`).
    pub created: i64,
    /// The `created_by` text of each layer, in layer order. Empty: a generic text per layer.
    pub history: Vec<String>,
}

/// An image ready for output: its config and manifest bytes (exactly what gets written and
/// hashed) and its layers on disk.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub config: ImageConfig,
    /// `config_json` parsed (what [`Image::config_file`] gives every reader).
    pub config_file: ConfigFile,
    pub config_json: Vec<u8>,
    pub config_digest: String,
    pub manifest_json: Vec<u8>,
    pub manifest_digest: String,
    pub layers: Vec<LayerBlob>,
}

impl BuiltImage {
    /// The descriptor that points at this image's manifest, with its platform.
    pub fn manifest_descriptor(&self) -> Descriptor {
        Image::manifest_descriptor(self).expect("a built image has a manifest")
    }
}

impl Image for BuiltImage {
    fn config_json(&self) -> &[u8] {
        &self.config_json
    }
    fn config_digest(&self) -> &str {
        &self.config_digest
    }
    fn config_file(&self) -> &ConfigFile {
        &self.config_file
    }
    fn manifest(&self) -> Option<(&[u8], &str)> {
        Some((&self.manifest_json, &self.manifest_digest))
    }
    fn layers(&self) -> Vec<Layer> {
        self.layers
            .iter()
            .map(|l| Layer {
                digest: Some(l.digest.clone()),
                diff_id: l.diff_id.clone(),
                size: l.size,
                media_type: MEDIA_TYPE_LAYER_GZIP.to_string(),
                uncompressed_size: Some(l.uncompressed_size),
                location: Location::File(l.path.clone()),
            })
            .collect()
    }
    /// What the build says the image is for (an index lists it under this platform).
    fn platform(&self) -> crate::platform::Platform {
        self.config.platform.clone()
    }
    fn created(&self) -> i64 {
        self.config.created
    }
}

/// The OCI image config (`application/vnd.oci.image.config.v1+json`), also what Docker reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub config: ContainerConfig,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

impl ConfigFile {
    /// Parses an image's config; `what` names it in errors. The platform fields are checked to
    /// be plain names (`[a-z0-9._-]`, 64 at most): they are printed in every report and used to
    /// name host files (the binfmt entry of an emulated architecture), so an image cannot put
    /// terminal escapes or `../` there.
    pub fn parse(json: &[u8], what: &str) -> anyhow::Result<ConfigFile> {
        use anyhow::Context;
        let config: ConfigFile = serde_json::from_slice(json).with_context(|| format!("malformed config {what}"))?;
        let plain = |s: &str| {
            s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        for (field, value) in [
            ("os", config.os.as_str()),
            ("architecture", config.architecture.as_str()),
            ("variant", config.variant.as_deref().unwrap_or("")),
        ] {
            if !plain(value) {
                anyhow::bail!(
                    "config {what}: {field} {:?} is not a platform name ([a-z0-9._-], at most 64)",
                    value.escape_debug().to_string()
                );
            }
        }
        Ok(config)
    }
}

/// The `config` object: how a container of this image starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub entrypoint: Vec<String>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub cmd: Vec<String>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(
        rename = "Labels",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub labels: BTreeMap<String, String>,
}

/// Docker writes `null` for absent lists and maps; treat it as empty.
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs { kind: "layers".to_string(), diff_ids: Vec::new() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// A content descriptor: what a manifest or index points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A descriptor's platform as the OCI JSON spells it: only the serialization of
/// [`crate::platform::Platform`], converted here, at the edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl From<&crate::platform::Platform> for Platform {
    fn from(p: &crate::platform::Platform) -> Self {
        Platform { architecture: p.arch.clone(), os: p.os.clone(), variant: p.variant.clone() }
    }
}

/// What an index declares: any os and architecture (not only those lucid builds), an empty
/// variant read as none.
impl From<&Platform> for crate::platform::Platform {
    fn from(p: &Platform) -> Self {
        crate::platform::Platform {
            os: p.os.clone(),
            arch: p.architecture.clone(),
            variant: p.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// The OCI image manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The OCI image index (also the shape of an OCI layout's `index.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    pub fn new(manifests: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.to_string()),
            manifests,
            annotations: BTreeMap::new(),
        }
    }
}

/// `1700000000` -> `2023-11-14T22:13:20Z`.
pub fn rfc3339(unix: i64) -> Result<String> {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).with_context(|| format!("timestamp {unix} out of range"))?;
    t.format(&time::format_description::well_known::Rfc3339).with_context(|| format!("cannot format timestamp {unix}"))
}

/// Builds the config and manifest for `layers` (bottom layer first). The JSON is compact and
/// byte-stable: the same config and layers always give the same digests.
pub fn assemble(config: ImageConfig, layers: Vec<LayerBlob>) -> Result<BuiltImage> {
    let platform = &config.platform;
    if platform.arch.is_empty() || platform.os.is_empty() {
        bail!("image config needs an architecture and an os (got {:?}/{:?})", platform.os, platform.arch);
    }
    if !config.history.is_empty() && config.history.len() != layers.len() {
        bail!("image config has {} history entries for {} layers", config.history.len(), layers.len());
    }
    for l in &layers {
        digest_hex(&l.digest).with_context(|| format!("layer {}", l.path.display()))?;
        digest_hex(&l.diff_id).with_context(|| format!("layer {}", l.path.display()))?;
    }
    let created = rfc3339(config.created)?;
    let history = layers
        .iter()
        .enumerate()
        .map(|(i, _)| History {
            created: Some(created.clone()),
            created_by: Some(config.history.get(i).cloned().unwrap_or_else(|| format!("lucid: layer {}", i + 1))),
            comment: None,
            empty_layer: false,
        })
        .collect();
    let file = ConfigFile {
        created: Some(created),
        architecture: platform.arch.clone(),
        variant: platform.variant.clone(),
        os: platform.os.clone(),
        config: ContainerConfig {
            user: config.user.clone(),
            env: config.env.clone(),
            entrypoint: config.entrypoint.clone(),
            cmd: config.cmd.clone(),
            working_dir: config.working_dir.clone(),
            labels: config.labels.clone(),
        },
        rootfs: RootFs { kind: "layers".to_string(), diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect() },
        history,
    };
    let config_json = serde_json::to_vec(&file).context("cannot serialize the image config")?;
    let config_digest = digest_of(&config_json);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.to_string()),
        config: Descriptor {
            media_type: MEDIA_TYPE_CONFIG.to_string(),
            digest: config_digest.clone(),
            size: config_json.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        },
        layers: layers
            .iter()
            .map(|l| Descriptor {
                media_type: MEDIA_TYPE_LAYER_GZIP.to_string(),
                digest: l.digest.clone(),
                size: l.size,
                platform: None,
                annotations: BTreeMap::new(),
            })
            .collect(),
        annotations: BTreeMap::new(),
    };
    let manifest_json = serde_json::to_vec(&manifest).context("cannot serialize the image manifest")?;
    let manifest_digest = digest_of(&manifest_json);
    Ok(BuiltImage { config, config_file: file, config_json, config_digest, manifest_json, manifest_digest, layers })
}

/// An OCI image index over per-platform images (multi-arch): returns its JSON and digest.
/// Two images for the same platform are an error: a client could not choose between them.
pub fn index<I: Image + ?Sized>(images: &[&I]) -> Result<(Vec<u8>, String)> {
    if images.is_empty() {
        bail!("an image index needs at least one image");
    }
    let mut seen = std::collections::BTreeSet::new();
    for img in images {
        if !seen.insert(img.platform()) {
            bail!("two images for platform {} in one index", img.platform().qualified());
        }
    }
    let manifests = images
        .iter()
        .map(|i| i.manifest_descriptor().context("an image without a manifest cannot go into an index"))
        .collect::<Result<_>>()?;
    let json = serde_json::to_vec(&Index::new(manifests)).context("cannot serialize the image index")?;
    let digest = digest_of(&json);
    Ok((json, digest))
}

/// Checks a tag or reference name for an OCI layout's `org.opencontainers.image.ref.name`
/// (`latest`, `20240101`, `lucid-python-base:latest`): the OCI grammar's characters only, so no
/// tool's parser trips on it.
pub fn check_ref_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:@/+".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        bail!("invalid tag {name:?} for {ANNOTATION_REF_NAME}: use letters, digits and -._:@/+, starting alphanumeric");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn fake_layer(n: u8) -> LayerBlob {
        LayerBlob {
            digest: digest_of(&[n]),
            diff_id: digest_of(&[n, n]),
            size: 10 + u64::from(n),
            uncompressed_size: 100,
            path: PathBuf::from(format!("/nonexistent/{n}")),
        }
    }

    pub(crate) fn config() -> ImageConfig {
        let mut labels = BTreeMap::new();
        for (k, v) in [("org.opencontainers.image.title", "t"), ("b", "2"), ("a", "1"), ("z", "26")] {
            labels.insert(k.to_string(), v.to_string());
        }
        ImageConfig {
            platform: crate::platform::Platform::parse("linux/amd64").unwrap(),
            user: "65532:65532".into(),
            env: vec!["PATH=/usr/bin".into(), "LANG=C.UTF-8".into()],
            entrypoint: vec![],
            cmd: vec!["python3".into()],
            working_dir: "/home/nonroot".into(),
            labels,
            created: 1_700_000_000,
            history: vec!["debian packages".into(), "site-packages".into()],
        }
    }

    #[test]
    fn json_is_stable_and_complete() {
        let a = assemble(config(), vec![fake_layer(1), fake_layer(2)]).unwrap();
        let b = assemble(config(), vec![fake_layer(1), fake_layer(2)]).unwrap();
        assert_eq!(a.config_json, b.config_json);
        assert_eq!(a.manifest_digest, b.manifest_digest);
        let cfg: serde_json::Value = serde_json::from_slice(&a.config_json).unwrap();
        assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
        assert_eq!(cfg["rootfs"]["diff_ids"][1], fake_layer(2).diff_id);
        assert_eq!(cfg["history"][0]["created_by"], "debian packages");
        assert!(cfg["config"].get("Entrypoint").is_none());
        assert_eq!(cfg["config"]["User"], "65532:65532");
        let text = String::from_utf8(a.config_json.clone()).unwrap();
        assert!(text.find("\"a\":\"1\"").unwrap() < text.find("\"z\":\"26\"").unwrap(), "labels sorted");
        let m: serde_json::Value = serde_json::from_slice(&a.manifest_json).unwrap();
        assert_eq!(m["config"]["digest"], a.config_digest);
        assert_eq!(m["layers"][0]["mediaType"], MEDIA_TYPE_LAYER_GZIP);
        assert_eq!(m["layers"][1]["size"], 12);
        // A different layer changes the manifest digest.
        let c = assemble(config(), vec![fake_layer(1), fake_layer(3)]).unwrap();
        assert_ne!(a.manifest_digest, c.manifest_digest);
    }

    #[test]
    fn oci_spec_accepts_our_json() {
        use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
        let a = assemble(config(), vec![fake_layer(1), fake_layer(2)]).unwrap();
        let cfg: ImageConfiguration = serde_json::from_slice(&a.config_json).unwrap();
        assert_eq!(cfg.rootfs().diff_ids().len(), 2);
        let m: ImageManifest = serde_json::from_slice(&a.manifest_json).unwrap();
        assert_eq!(m.layers().len(), 2);
        let mut arm = config();
        arm.platform = crate::platform::Platform::parse("linux/arm64").unwrap();
        let b = assemble(arm, vec![fake_layer(4), fake_layer(5)]).unwrap();
        let (json, digest) = index(&[&a, &b]).unwrap();
        assert_eq!(digest, digest_of(&json));
        let idx: ImageIndex = serde_json::from_slice(&json).unwrap();
        assert_eq!(idx.manifests().len(), 2);
        assert_eq!(idx.manifests()[1].platform().as_ref().unwrap().variant().as_deref(), Some("v8"));
        assert!(index(&[&a, &a]).is_err());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(assemble(config(), vec![fake_layer(1)]).is_err(), "history length");
        let mut c = config();
        c.history.clear();
        let img = assemble(c, vec![fake_layer(1)]).unwrap();
        assert!(String::from_utf8(img.config_json).unwrap().contains("lucid: layer 1"));
        let mut bad = fake_layer(1);
        bad.digest = "md5:abc".into();
        assert!(assemble(ImageConfig { history: vec![], ..config() }, vec![bad]).is_err());
        assert!(assemble(ImageConfig { created: i64::MAX, ..config() }, vec![]).is_err());
        assert!(check_ref_name("latest").is_ok());
        assert!(check_ref_name("lucid-python-base:20240101").is_ok());
        assert!(check_ref_name("").is_err());
        assert!(check_ref_name("bad tag").is_err());
    }

    #[test]
    fn the_platform_serializes_as_oci_and_back() {
        let arm = crate::platform::Platform::parse("linux/arm64").unwrap();
        let json = Platform::from(&arm);
        assert_eq!(
            (json.os.as_str(), json.architecture.as_str(), json.variant.as_deref()),
            ("linux", "arm64", Some("v8"))
        );
        assert_eq!(crate::platform::Platform::from(&json), arm);
        let other = Platform { architecture: "s390x".into(), os: "linux".into(), variant: Some(String::new()) };
        assert_eq!(crate::platform::Platform::from(&other).qualified(), "linux/s390x");
    }
}
