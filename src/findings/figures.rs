//! The measurements `lucid report` and `lucid diff` show: plain data with serde derives, filled
//! by the `analyze` module (which reads images) and printed by the `report` module (which
//! formats), so neither depends on the other. No logic that reads an image lives here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Finding;
use crate::formats::elf::ElfInfo;

// What `lucid report` knows about one image.

/// One module of a Java runtime in the image.
#[derive(Clone, Debug, Serialize)]
pub struct JavaModule {
    pub name: String,
    /// Bytes of its classes and resources in `lib/modules` (0 when the index could not be read).
    pub bytes: u64,
    /// Whether the `--app` jars need it (directly or through `requires`); absent without `--app`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used: Option<bool>,
    /// Why it stays although jdeps finds no use of it (a service provider, a reflection target,
    /// what the jars declare; see `analyze::java_modules::kept`); absent without `--app` or when used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

/// One row of `docker history`: a layer, or a config-only step (`empty_layer`).
#[derive(Clone, Debug, Serialize)]
pub struct LayerRow {
    /// 1-based layer number; `None` for history entries that made no layer.
    pub index: Option<usize>,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Blob digest (or diff_id when the source has no manifest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Bytes of file content the layer adds (what `docker history` shows as SIZE).
    pub size: u64,
    /// Bytes of the stored blob when it is compressed; `None` for a plain tar (an engine export).
    pub compressed: Option<u64>,
    pub tar_bytes: u64,
    pub entries: u64,
    pub whiteouts: u64,
}

/// dive's efficiency, computed as dive does, and measures that still mean something when an
/// image has a single layer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Efficiency {
    /// dive: sum over paths of the smallest size seen / sum of every size seen (1.0 = no path is
    /// written twice). Always 1.0 for a single layer.
    pub dive_score: f64,
    /// dive: total size of every path written in more than one layer (all copies).
    pub dive_wasted_bytes: u64,
    /// dive's CI metric: wasted bytes / bytes of every layer but the first.
    pub dive_user_wasted_percent: f64,
    /// Bytes that lower layers ship but upper layers delete or overwrite (invisible, yet pulled).
    pub hidden_bytes: u64,
    /// Bytes of files whose exact content is also at another path (every copy but one).
    pub duplicate_bytes: u64,
    /// Bytes the recommendations would save, each file counted once.
    pub reclaimable_bytes: u64,
    /// 1 - reclaimable / (size + hidden): how much of what is shipped is needed, by the
    /// recommendations' reckoning. Meaningful for one layer as for many.
    pub lean_score: f64,
    /// Paths written in more than one layer, biggest first (dive's list).
    pub inefficient: Vec<PathWaste>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PathWaste {
    pub path: String,
    pub copies: u32,
    pub bytes: u64,
}

/// A directory and the bytes below it (treemap node).
#[derive(Clone, Debug, Serialize)]
pub struct DirNode {
    pub name: String,
    pub bytes: u64,
    pub files: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<DirNode>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileRow {
    pub path: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub layer: usize,
}

/// Bytes per package, wheel or runtime.
#[derive(Clone, Debug, Serialize)]
pub struct OwnerRow {
    #[serde(flatten)]
    pub owner: Owner,
    /// Bytes of the files it owns that are in the image.
    pub bytes: u64,
    pub files: u64,
    /// Of which: byte code compiled from its `.py` files (`__pycache__`), counted to it.
    pub bytecode_bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ElfRow {
    pub path: String,
    pub bytes: u64,
    /// What `strip` would remove (symbol tables, debug sections).
    pub strippable: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DuplicateGroup {
    /// Bytes of each copy.
    pub bytes: u64,
    pub paths: Vec<String>,
}

/// The budget an image is held to, and whether it fits.
#[derive(Clone, Debug, Serialize)]
pub struct Budget {
    pub bytes: u64,
    pub source: String,
    pub within: bool,
    /// Why the image's budget label could not be read as a size (then `within` is false: an
    /// image whose budget cannot be checked does not pass it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unusable: Option<String>,
}

/// Everything `lucid report` knows about one image (one platform).
#[derive(Clone, Debug, Serialize)]
pub struct ImageAnalysis {
    /// The reference as given (`oci:out/lucid-python-base:latest`).
    pub reference: String,
    /// `REPOSITORY` and `TAG` as `docker images` would show them.
    pub repository: String,
    pub tag: String,
    pub platform: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub config_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Bytes of file content in the final filesystem (`docker images` SIZE).
    pub size: u64,
    /// Bytes of the stored layer blobs when they are all compressed; `None` when some layer is
    /// stored as a plain tar (an engine export, `docker save`): its size is no compressed size.
    pub compressed: Option<u64>,
    /// Bytes of the uncompressed layer tars.
    pub tar_bytes: u64,
    /// `tar_bytes` less the file content the layers carry: headers, padding, end blocks.
    pub tar_overhead: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    pub history: Vec<LayerRow>,
    pub efficiency: Efficiency,
    /// The directory tree, big directories only (see `analyze::tree`).
    pub tree: DirNode,
    pub largest_files: Vec<FileRow>,
    /// Where the Debian file lists came from.
    pub package_lists: ListSource,
    pub owners: Vec<OwnerRow>,
    /// Bytes and files that no package, wheel or runtime owns (on a lucid image: what the builder
    /// made: accounts, CA bundle, status files...).
    pub unowned_bytes: u64,
    pub unowned_files: u64,
    /// The largest unowned files.
    pub unowned: Vec<FileRow>,
    /// `site-packages` and `dist-packages` directories and their bytes (the seed's `du -sh`).
    pub site_packages: Vec<(String, u64)>,
    pub unstripped: Vec<ElfRow>,
    pub duplicates: Vec<DuplicateGroup>,
    pub recommendations: Vec<Recommendation>,
    /// The modules of the image's Java runtime with their bytes, largest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub java_modules: Vec<JavaModule>,
    /// Whether the `--app` applications fit this image: the findings of `lucid verify --app`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub app_findings: Vec<Finding>,
    /// With `--app`: what the module analysis rests on and what it cannot see, said plainly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub java_note: Option<String>,
    /// Set when the image's package metadata passed what `report` keeps in memory: what was left
    /// out, so the package figures that rest on it are read as incomplete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_note: Option<String>,
    /// Every file with its facts, for `lucid diff` (not serialised: the lists above are).
    #[serde(skip)]
    pub(crate) contents: Vec<FileInfo>,
    /// The owners as found (`FileInfo::owner` indexes this).
    #[serde(skip)]
    pub(crate) owner_list: Vec<Owner>,
}

/// One file of the final filesystem with what the pass learnt about it.
#[derive(Clone, Debug)]
pub(crate) struct FileInfo {
    pub path: String,
    pub size: u64,
    pub layer: usize,
    pub hash: Option<[u8; 16]>,
    pub hardlink: bool,
    pub elf: Option<ElfInfo>,
    pub owner: Option<usize>,
    pub bytecode: bool,
}

// Packages, wheels and runtimes found in an image.

/// What kind of thing owns files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    Deb,
    Wheel,
    Java,
}

/// One package, wheel or runtime found in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
    pub version: String,
    /// Debian architecture (`amd64`, `all`); empty for wheels.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// Debian source package, when it differs from the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Licence names as the package states them (DEP-5 `License:` short names, wheel metadata).
    pub licenses: Vec<String>,
    /// Where the licences were read (`usr/share/doc/libc6/copyright`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// The metadata file that declares it (`var/lib/dpkg/status.d/libc6`).
    pub declared_in: String,
    /// Files it owns (canonical paths), as listed; the report keeps those present.
    #[serde(skip)]
    pub files: Vec<String>,
}

/// Where the Debian file lists came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListSource {
    /// The image lists its packages' files (status.d md5sums/list, or dpkg's info/*.list).
    Image,
    /// The `.deb` files a lucid lock names, from the download cache.
    Lock,
    /// No file lists: package bytes are unknown.
    None,
}

/// One thing to do, and what it saves.
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    /// Stable ID (`LUCID-REC-001`).
    pub id: String,
    pub title: String,
    /// Bytes it would save.
    pub saves: u64,
    /// How many files (or packages, or groups) it concerns.
    pub count: u64,
    /// The biggest examples (paths or package names).
    pub examples: Vec<String>,
    /// How to do it (a lucid prune rule, a Dockerfile change).
    pub how: String,
}

// `lucid diff A B`.

/// How a package or path changed from A to B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Debug, Serialize)]
pub struct PackageChange {
    pub kind: OwnerKind,
    pub name: String,
    pub change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub bytes_from: u64,
    pub bytes_to: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PathChange {
    pub path: String,
    pub change: Change,
    pub bytes_from: u64,
    pub bytes_to: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Two images compared.
#[derive(Clone, Debug, Serialize)]
pub struct ImageDiff {
    pub from: String,
    pub to: String,
    pub size_from: u64,
    pub size_to: u64,
    /// `None` where the image's compressed size is unknown (see [`ImageAnalysis::compressed`]).
    pub compressed_from: Option<u64>,
    pub compressed_to: Option<u64>,
    pub layers_from: usize,
    pub layers_to: usize,
    pub packages: Vec<PackageChange>,
    /// Every path added, removed or changed (content or size), biggest change first.
    pub paths: Vec<PathChange>,
    pub added_bytes: u64,
    pub removed_bytes: u64,
    pub unchanged_files: u64,
}

/// A layer a node must pull (`lucid diff --pull-cost`).
#[derive(Clone, Debug, Serialize)]
pub struct PulledLayer {
    pub digest: String,
    /// Compressed bytes, as a registry serves them.
    pub bytes: u64,
    pub created_by: String,
    /// The wanted images that have it.
    pub images: Vec<String>,
}

/// What a node that holds some images must pull to run others, on one platform.
#[derive(Clone, Debug, Serialize)]
pub struct PullCost {
    pub platform: String,
    /// The images the node holds (of this platform).
    pub held: Vec<String>,
    /// The images it is to run.
    pub wanted: Vec<String>,
    /// Everything to pull: `layer_bytes + metadata_bytes`.
    pub pull_bytes: u64,
    pub layer_bytes: u64,
    /// Configs and manifests not held.
    pub metadata_bytes: u64,
    /// Compressed bytes of the wanted images' distinct layers that the node holds already.
    pub held_bytes: u64,
    pub held_layers: usize,
    /// Compressed bytes of the wanted images' distinct layers: what a node holding nothing pulls
    /// (without metadata).
    pub total_bytes: u64,
    /// The layers to pull, biggest first.
    pub layers: Vec<PulledLayer>,
}
