//! Layer and size analysis: where an image's bytes are, what wastes them and what to do about it.
//!
//! `image source -> merged view (one streaming pass, shared with lucid verify) -> analysis ->
//! renderers`. The analysis is plain figures ([`crate::findings::figures`], re-exported here),
//! which `report` renders. The pass is [`crate::oci::view::merge_observed`]: while it merges layers, the
//! [`collect`] observer hashes every file (duplicates, dive's per-path accounting), reads ELF
//! headers (unstripped binaries, what links to what) and keeps the package metadata files. Memory
//! grows with the number of files, never with their size.
//!
//! Sizes: `size` is the bytes of file content in the final filesystem (what `docker images`
//! shows and budgets are checked against); `tar_bytes` the uncompressed layer tars (content plus
//! 512-byte headers, padding to 512 bytes and the end-of-archive blocks: the stated overhead);
//! `compressed` the stored layer blobs (what a registry stores and a pull moves), when they are
//! compressed: an engine export and `docker save` hold plain tars, whose size is no compressed
//! size, so there it is unknown (`None`) rather than a wrong figure.
//!
//! `lucid report --app` also shows what `lucid verify --app` finds: those checks are verify's,
//! so the caller passes them in ([`AppCheck`]) and they see the image, merged view and
//! [`libraries::Libraries`] of the same pass; nothing here depends on `verify`.

mod collect;
pub mod diff;
pub mod jars;
pub mod java_modules;
pub mod jdeps;
pub mod jimage;
pub mod libraries;
pub mod owners;
pub mod pull_cost;
pub mod recommend;
pub mod sbom;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, Result, bail};

use crate::findings::Finding;
pub(crate) use crate::findings::figures::FileInfo;
pub use crate::findings::figures::{
    Budget, DirNode, DuplicateGroup, Efficiency, ElfRow, FileRow, ImageAnalysis, JavaModule, LayerRow, OwnerRow,
    PathWaste,
};
use crate::oci::labels::{BUDGET_LABEL, STAGE_LABEL, TITLE_LABEL};
use crate::oci::read::{EntryKind, ImageView};
use crate::oci::source::{self, SourceOptions};
use crate::oci::view::{LayerStats, MergedView};
use crate::oci::{Image, ImageRef};
use crate::spec::Spec;
use libraries::{Libraries, LibraryScan};
pub use owners::{ListSource, Owner, OwnerKind};
pub use recommend::Recommendation;

/// How many rows the "largest" lists keep.
const TOP: usize = 25;

/// Where the file lists of an image's Debian packages come from when the image keeps none: given
/// `(name, version, architecture)` triples, the paths of each package it knows, by name.
/// Packages it does not know are left out of the map. `lucid report` reads them from the lock's
/// `.deb` files (`lock::package_files`); analysis itself reads only the image.
pub trait PackageFiles: std::fmt::Debug + Send + Sync {
    fn files(&self, packages: &[(String, String, String)]) -> Result<BTreeMap<String, Vec<String>>>;
}

/// What to analyse against.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Budget override (`--max-size`).
    pub max_size: Option<u64>,
    /// The spec whose budgets apply to images named like its images.
    pub spec: Option<Spec>,
    /// Lists the files of Debian packages for images that do not list them themselves (the
    /// builder keeps no `md5sums`); the CLI reads them from a lock's `.deb` files.
    pub package_files: Option<std::sync::Arc<dyn PackageFiles>>,
    pub source: SourceOptions,
    /// Application jars (`--app`) and the modules they need, checked against the image's Java
    /// runtime.
    pub app: Option<jdeps::AppModules>,
}

/// One image as the application checks of `--app` see it, from the analysis's own pass.
pub struct AppSubject<'a> {
    /// `oci:out/x:latest (linux/amd64)`: names the image in findings.
    pub name: String,
    pub image: &'a dyn Image,
    pub fs: &'a MergedView,
    pub libs: &'a Libraries,
}

/// The checks `lucid report --app` runs on each image (verify's, passed in by the command):
/// their findings go into [`ImageAnalysis::app_findings`].
pub type AppCheck<'a> = dyn FnMut(&AppSubject<'_>) -> Result<Vec<Finding>> + 'a;

/// Analyses every image `reference` names (one per platform).
pub fn analyze_reference(reference: &str, opts: &Options) -> Result<Vec<ImageAnalysis>> {
    analyze_reference_with(reference, opts, None)
}

/// [`analyze_reference`], running `app_check` on every image (`lucid report --app`).
pub fn analyze_reference_with(
    reference: &str,
    opts: &Options,
    mut app_check: Option<&mut AppCheck<'_>>,
) -> Result<Vec<ImageAnalysis>> {
    let src = source::open(reference, &opts.source)
        .with_context(|| format!("cannot read {}", crate::oci::reference::shown(reference)))?;
    src.images
        .iter()
        .map(|img| {
            analyze(&src.reference, reference, img, opts, app_check.as_deref_mut())
                .with_context(|| format!("cannot analyse {reference} ({})", img.platform().qualified()))
        })
        .collect()
}

/// Analyses one image of `parsed` (`reference` as the user wrote it).
fn analyze(
    parsed: &ImageRef,
    reference: &str,
    image: &ImageView,
    opts: &Options,
    app_check: Option<&mut AppCheck<'_>>,
) -> Result<ImageAnalysis> {
    let mut scan = LibraryScan::default();
    let (fs, facts) = collect::run(image, app_check.is_some().then_some(&mut scan))?;
    let labels = image.config.config.labels.clone();
    let app_findings = match app_check {
        Some(check) => {
            let libs = scan.finish(&fs);
            let name = format!("{reference} ({})", image.platform().qualified());
            check(&AppSubject { name, image, fs: &fs, libs: &libs })?
        }
        None => Vec::new(),
    };
    let mut owners = owners::read_owners(&facts.meta);
    let mut package_lists = ListSource::None;
    let debs: Vec<&Owner> = owners.iter().filter(|o| o.kind == OwnerKind::Deb).collect();
    if !debs.is_empty() && debs.iter().any(|o| !o.files.is_empty()) {
        package_lists = ListSource::Image;
    } else if !debs.is_empty()
        && let Some(lister) = &opts.package_files
    {
        let want: Vec<(String, String, String)> =
            debs.iter().map(|o| (o.name.clone(), o.version.clone(), o.arch.clone())).collect();
        let lists = lister.files(&want)?;
        if !lists.is_empty() {
            package_lists = ListSource::Lock;
            for o in owners.iter_mut().filter(|o| o.kind == OwnerKind::Deb) {
                if let Some(l) = lists.get(&o.name) {
                    o.files = l.clone();
                }
            }
        }
    }
    let (java_modules, java_recs) = java_modules(&owners, &facts, opts)?;
    let mut files = final_files(&fs, &facts);
    attribute(&mut files, &owners);

    let size = fs.content_size();
    // A compressed size only when every layer is stored compressed (see the module doc).
    let compressed = fs.layers.iter().all(|l| l.compressed).then(|| fs.layers.iter().map(|l| l.stored).sum());
    let tar_bytes: u64 = fs.layers.iter().map(|l| l.tar_bytes).sum();
    let layer_content: u64 = fs.layers.iter().map(|l| l.content_bytes).sum();
    let count = |k: EntryKind| fs.entries.values().filter(|e| e.kind == k).count() as u64;

    let mut owner_rows: Vec<OwnerRow> =
        owners.iter().map(|o| OwnerRow { owner: o.clone(), bytes: 0, files: 0, bytecode_bytes: 0 }).collect();
    let (mut unowned_bytes, mut unowned_files) = (0, 0);
    for f in &files {
        match f.owner {
            Some(i) => {
                let row = &mut owner_rows[i];
                row.bytes += f.size;
                row.files += 1;
                if f.bytecode {
                    row.bytecode_bytes += f.size;
                }
            }
            None => {
                unowned_bytes += f.size;
                unowned_files += 1;
            }
        }
    }
    owner_rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.owner.name.cmp(&b.owner.name)));
    let owner_name = |f: &FileInfo| f.owner.map(|i| owners[i].name.clone());
    let row =
        |f: &FileInfo| FileRow { path: format!("/{}", f.path), bytes: f.size, owner: owner_name(f), layer: f.layer };

    let mut by_size: Vec<&FileInfo> = files.iter().collect();
    by_size.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    let largest_files = by_size.iter().take(TOP).map(|f| row(f)).collect();
    let unowned = by_size.iter().filter(|f| f.owner.is_none()).take(TOP).map(|f| row(f)).collect();

    let mut unstripped: Vec<ElfRow> = files
        .iter()
        .filter_map(|f| {
            let e = f.elf.as_ref()?;
            (e.has_symtab && !f.hardlink).then(|| ElfRow {
                path: format!("/{}", f.path),
                bytes: f.size,
                strippable: e.strippable,
                owner: owner_name(f),
            })
        })
        .collect();
    unstripped.sort_by(|a, b| b.strippable.cmp(&a.strippable).then_with(|| a.path.cmp(&b.path)));

    let duplicates = duplicate_groups(&files);
    let duplicate_bytes = duplicates.iter().map(|g| g.bytes * (g.paths.len() as u64 - 1)).sum();

    let site_packages = site_packages(&files);
    let recommendations = recommend::compute(&recommend::Input {
        files: &files,
        owners: &owners,
        hidden_bytes: fs.wasted_bytes,
        duplicates: &duplicates,
    });
    let mut reclaimable_bytes = recommend::reclaimable(&files, &owners, &recommendations, fs.wasted_bytes);
    reclaimable_bytes += java_recs.iter().map(|r| r.saves).sum::<u64>();
    let mut recommendations = recommendations;
    recommendations.extend(java_recs);
    recommendations.sort_by(|a, b| b.saves.cmp(&a.saves).then_with(|| a.id.cmp(&b.id)));
    let shipped = size + fs.wasted_bytes;
    let efficiency = Efficiency {
        dive_score: facts.dive.score,
        dive_wasted_bytes: facts.dive.wasted,
        dive_user_wasted_percent: {
            let user: u64 = fs.layers.iter().skip(1).map(|l| l.content_bytes).sum();
            if user == 0 { 0.0 } else { 100.0 * facts.dive.wasted as f64 / user as f64 }
        },
        hidden_bytes: fs.wasted_bytes,
        duplicate_bytes,
        reclaimable_bytes,
        lean_score: if shipped == 0 { 1.0 } else { 1.0 - reclaimable_bytes as f64 / shipped as f64 },
        inefficient: facts.dive.inefficient.clone(),
    };

    let (repository, tag) = repo_and_tag(parsed, image);
    Ok(ImageAnalysis {
        reference: reference.to_string(),
        repository,
        tag,
        platform: image.platform().qualified(),
        digest: image.manifest().map(|(_, d)| d.to_string()),
        config_digest: image.config_digest.clone(),
        created: image.config.created.clone(),
        stage: labels.get(STAGE_LABEL).cloned(),
        budget: budget(opts, &labels, size),
        labels,
        size,
        compressed,
        tar_bytes,
        tar_overhead: tar_bytes.saturating_sub(layer_content),
        files: count(EntryKind::File) + count(EntryKind::Hardlink),
        dirs: count(EntryKind::Dir),
        symlinks: count(EntryKind::Symlink),
        history: history(image, &fs),
        efficiency,
        tree: tree(&files, size),
        largest_files,
        package_lists,
        owners: owner_rows,
        unowned_bytes,
        unowned_files,
        unowned,
        site_packages,
        unstripped,
        duplicates,
        recommendations,
        java_note: opts.app.as_ref().filter(|_| !java_modules.is_empty()).map(|a| {
            format!(
                "jdeps read {} jars of {}; {}",
                a.jars,
                a.apps.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                java_modules::NOT_SEEN
            )
        }),
        metadata_note: (facts.meta_dropped.0 > 0).then(|| {
            format!(
                "{} package metadata files ({}) were not read: the image's metadata passed the limit of {} \
                 that report keeps per image, so package and wheel figures may be incomplete",
                facts.meta_dropped.0,
                crate::spec::format_size(facts.meta_dropped.1),
                crate::spec::format_size(collect::META_TOTAL_LIMIT)
            )
        }),
        java_modules,
        app_findings,
        contents: files,
        owner_list: owners,
    })
}

/// The modules of the image's Java runtime (its `release` file's MODULES) with their bytes from
/// the `lib/modules` index, and, with `--app`, the recommendations about them: modules the
/// application does not use and nothing keeps (LUCID-REC-011; see [`java_modules::kept`]) and
/// modules it needs that are missing (LUCID-JAVA-001).
fn java_modules(
    owners: &[Owner],
    facts: &collect::Facts,
    opts: &Options,
) -> Result<(Vec<JavaModule>, Vec<Recommendation>)> {
    let Some(runtime) = owners.iter().find(|o| o.kind == OwnerKind::Java) else {
        if let Some(app) = opts.app.as_ref().and_then(|a| a.apps.first()) {
            bail!("--app {}: the image has no Java runtime (no release file with JAVA_VERSION)", app.display());
        }
        return Ok((Vec::new(), Vec::new()));
    };
    let home = runtime.declared_in.trim_end_matches("release").trim_end_matches('/');
    let index = facts.meta.get(&format!("{home}/lib/modules"));
    let sizes = index.and_then(|i| jimage::module_sizes(i).ok()).unwrap_or_default();
    let present: BTreeSet<&str> = runtime.source.as_deref().unwrap_or("").split_whitespace().collect();
    let kept = opts.app.as_ref().map(|a| java_modules::kept_in(&a.kept, &a.requires, &present)).unwrap_or_default();
    let mut modules: Vec<JavaModule> = present
        .iter()
        .map(|&m| {
            let used = opts.app.as_ref().map(|a| a.needed.contains(m));
            JavaModule {
                name: m.to_string(),
                bytes: sizes.get(m).copied().unwrap_or(0),
                used,
                kept: kept.get(m).filter(|_| used == Some(false)).cloned(),
            }
        })
        .collect();
    modules.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    let mut recs = Vec::new();
    if let Some(app) = &opts.app {
        let needed = &app.needed;
        let apps = app.apps.iter().map(|a| a.display().to_string()).collect::<Vec<_>>().join(", ");
        let unused: Vec<&JavaModule> = modules.iter().filter(|m| m.used == Some(false) && m.kept.is_none()).collect();
        if !unused.is_empty() {
            recs.push(Recommendation {
                id: recommend::UNUSED_JAVA_MODULES.id.into(),
                title: format!("Java modules {apps} does not use"),
                saves: unused.iter().map(|m| m.bytes).sum(),
                count: unused.len() as u64,
                examples: unused
                    .iter()
                    .map(|m| format!("{} ({})", m.name, crate::spec::format_size(m.bytes)))
                    .collect(),
                how: "leave them out of java.modules of a runtime made for this application (jlink \
                      --add-modules) once it has run in the image: service providers, reflection targets and what \
                      the jars declare are kept, what it loads by name is not seen; a base image keeps the minimum \
                      set (LUCID-JAVA-002, docs/java-modules.md)"
                    .into(),
            });
        }
        let missing: Vec<String> = needed.iter().filter(|m| !present.contains(m.as_str())).cloned().collect();
        if !missing.is_empty() {
            recs.push(Recommendation {
                id: "LUCID-JAVA-001".into(),
                title: format!("Java modules {apps} needs that the runtime lacks"),
                saves: 0,
                count: missing.len() as u64,
                examples: missing,
                how: "add them to java.modules in the spec (jlink --add-modules): without them the application \
                      fails with NoClassDefFoundError"
                    .into(),
            });
        }
    }
    Ok((modules, recs))
}

/// The files of the final filesystem (regular files and hard links) with their facts.
fn final_files(fs: &MergedView, facts: &collect::Facts) -> Vec<FileInfo> {
    fs.entries
        .iter()
        .filter(|(_, e)| matches!(e.kind, EntryKind::File | EntryKind::Hardlink))
        .map(|(path, e)| {
            let fact = facts.files.get(path).filter(|f| f.layer == e.layer);
            FileInfo {
                path: path.clone(),
                size: e.size,
                layer: e.layer(),
                hash: fact.and_then(|f| f.hash),
                hardlink: e.kind == EntryKind::Hardlink,
                elf: fact.and_then(|f| f.elf.as_deref().cloned()),
                owner: None,
                bytecode: false,
            }
        })
        .collect()
}

/// Sets each file's owner: the package or wheel that lists it; byte code goes to the owner of
/// its source file; a runtime owns everything under its home.
fn attribute(files: &mut [FileInfo], owners: &[Owner]) {
    let mut by_path: HashMap<&str, usize> = HashMap::new();
    let mut prefixes: Vec<(&str, usize)> = Vec::new();
    for (i, o) in owners.iter().enumerate() {
        for f in &o.files {
            if f.ends_with('/') {
                prefixes.push((f, i));
            } else {
                by_path.entry(f.as_str()).or_insert(i);
            }
        }
    }
    for f in files.iter_mut() {
        f.owner = by_path.get(f.path.as_str()).copied();
        if f.owner.is_none()
            && let Some(src) = pyc_source(&f.path)
        {
            f.owner = by_path.get(src.as_str()).copied();
            f.bytecode = f.owner.is_some();
        }
        if f.owner.is_none() {
            f.owner = prefixes.iter().find(|(p, _)| f.path.starts_with(p)).map(|(_, i)| *i);
        }
    }
}

/// `a/__pycache__/m.cpython-311.opt-1.pyc` -> `a/m.py`.
pub(crate) fn pyc_source(path: &str) -> Option<String> {
    let (dir, file) = path.rsplit_once('/')?;
    let parent = dir.strip_suffix("__pycache__")?;
    let module = file.strip_suffix(".pyc")?.split('.').next()?;
    Some(format!("{parent}{module}.py"))
}

fn duplicate_groups(files: &[FileInfo]) -> Vec<DuplicateGroup> {
    let mut groups: HashMap<([u8; 16], u64), Vec<&str>> = HashMap::new();
    for f in files.iter().filter(|f| f.size > 0 && !f.hardlink) {
        if let Some(h) = f.hash {
            groups.entry((h, f.size)).or_default().push(&f.path);
        }
    }
    let mut out: Vec<DuplicateGroup> = groups
        .into_iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|((_, bytes), mut paths)| {
            paths.sort();
            DuplicateGroup { bytes, paths: paths.into_iter().map(|p| format!("/{p}")).collect() }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.bytes * (b.paths.len() as u64 - 1)).cmp(&(a.bytes * (a.paths.len() as u64 - 1))).then(a.paths.cmp(&b.paths))
    });
    out
}

fn site_packages(files: &[FileInfo]) -> Vec<(String, u64)> {
    let mut dirs: BTreeMap<String, u64> = BTreeMap::new();
    for f in files {
        if let Some(i) = f.path.find("/site-packages/").or_else(|| f.path.find("/dist-packages/")) {
            let end = i + f.path[i + 1..].find('/').unwrap_or(0) + 1;
            *dirs.entry(format!("/{}", &f.path[..end])).or_default() += f.size;
        }
    }
    dirs.into_iter().collect()
}

/// `docker history` rows, newest first, with config-only steps as 0-byte rows.
fn history(image: &ImageView, fs: &MergedView) -> Vec<LayerRow> {
    let mut rows = Vec::new();
    let mut layer = 0;
    let cfg_history = &image.config.history;
    for h in cfg_history {
        if h.empty_layer {
            rows.push(LayerRow {
                index: None,
                created_by: h.created_by.clone().unwrap_or_default(),
                created: h.created.clone(),
                digest: None,
                size: 0,
                compressed: Some(0),
                tar_bytes: 0,
                entries: 0,
                whiteouts: 0,
            });
            continue;
        }
        if let Some(l) = fs.layers.get(layer) {
            rows.push(layer_row(layer, l, h.created_by.clone(), h.created.clone()));
        }
        layer += 1;
    }
    // Layers the history does not describe (it is optional).
    for (i, l) in fs.layers.iter().enumerate().skip(layer) {
        rows.push(layer_row(i, l, None, None));
    }
    rows.reverse();
    rows
}

fn layer_row(i: usize, l: &LayerStats, by: Option<String>, at: Option<String>) -> LayerRow {
    LayerRow {
        index: Some(i + 1),
        created_by: by.unwrap_or_default(),
        created: at,
        digest: Some(l.digest.clone()),
        size: l.content_bytes,
        compressed: l.compressed.then_some(l.stored),
        tar_bytes: l.tar_bytes,
        entries: l.entries,
        whiteouts: l.whiteouts,
    }
}

/// `REPOSITORY` and `TAG` as `docker images` shows them: the archive's or layout's tag, else
/// the title label, else the reference's repository.
fn repo_and_tag(reference: &ImageRef, image: &ImageView) -> (String, String) {
    let tags = &image.tags;
    if let Some(t) = tags.iter().find(|t| t.contains(':')) {
        let (r, t) = t.rsplit_once(':').unwrap_or((t, "latest"));
        if !r.is_empty() && !r.ends_with('/') {
            return (r.to_string(), t.to_string());
        }
    }
    let tag = tags.first().cloned().unwrap_or_else(|| "<none>".into());
    match image.config.config.labels.get(TITLE_LABEL) {
        Some(t) => (t.clone(), tag),
        None => (reference.repository(), tag),
    }
}

/// The budget report shows; a budget label that is no size is shown as such and fails the
/// budget, rather than making the whole image unreadable.
fn budget(opts: &Options, labels: &BTreeMap<String, String>, size: u64) -> Option<Budget> {
    match budget_for(opts.max_size, opts.spec.as_ref(), labels) {
        Ok(found) => found.map(|(bytes, source)| Budget { bytes, source, within: size <= bytes, unusable: None }),
        Err(e) => Some(Budget {
            bytes: 0,
            source: format!("label {BUDGET_LABEL}"),
            within: false,
            unusable: Some(format!("{e:#}")),
        }),
    }
}

/// The size budget an image is held to, and where it comes from: `max_size` (`--max-size`),
/// else the spec's budget for the image its title label names, else the `dev.lucid.budget`
/// label the build writes (so an image verified or reported on without its spec keeps its
/// budget). `lucid verify` and `lucid report` both ask here, so they never disagree.
pub fn budget_for(
    max_size: Option<u64>,
    spec: Option<&Spec>,
    labels: &BTreeMap<String, String>,
) -> Result<Option<(u64, String)>> {
    if let Some(b) = max_size {
        return Ok(Some((b, "--max-size".into())));
    }
    if let (Some(spec), Some(title)) = (spec, labels.get(TITLE_LABEL))
        && let Some(b) = spec.images.iter().find(|i| &i.name == title).and_then(|i| i.budget)
    {
        return Ok(Some((b, format!("{} images.{title}.budget", spec.path.display()))));
    }
    if let Some(v) = labels.get(BUDGET_LABEL) {
        let b = crate::spec::parse_size(v).with_context(|| format!("label {BUDGET_LABEL}={v:?}"))?;
        return Ok(Some((b, format!("label {BUDGET_LABEL}"))));
    }
    Ok(None)
}

/// Children below this share of the image are folded into one "(N smaller)" node, so the tree
/// stays readable and the HTML page small whatever the file count.
const TREE_MIN_SHARE: f64 = 0.002;
const TREE_MAX_DEPTH: usize = 12;

/// The directory tree by bytes, folding small entries.
fn tree(files: &[FileInfo], total: u64) -> DirNode {
    #[derive(Default)]
    struct Build {
        bytes: u64,
        files: u64,
        kids: BTreeMap<String, Build>,
    }
    let mut root = Build::default();
    for f in files {
        let mut node = &mut root;
        node.bytes += f.size;
        node.files += 1;
        for part in f.path.split('/') {
            node = node.kids.entry(part.to_string()).or_default();
            node.bytes += f.size;
            node.files += 1;
        }
    }
    let min = ((total as f64) * TREE_MIN_SHARE) as u64;
    fn fold(name: String, b: Build, min: u64, depth: usize) -> DirNode {
        let mut children = Vec::new();
        let (mut rest_bytes, mut rest_files, mut rest_n) = (0, 0, 0);
        if depth < TREE_MAX_DEPTH {
            for (k, v) in b.kids {
                if v.bytes >= min.max(1) {
                    children.push(fold(k, v, min, depth + 1));
                } else {
                    rest_bytes += v.bytes;
                    rest_files += v.files;
                    rest_n += 1;
                }
            }
        }
        if rest_n > 0 && !children.is_empty() {
            children.push(DirNode {
                name: format!("({rest_n} smaller)"),
                bytes: rest_bytes,
                files: rest_files,
                children: vec![],
            });
        }
        children.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        DirNode { name, bytes: b.bytes, files: b.files, children }
    }
    fold("/".into(), root, min, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_code_belongs_to_its_source() {
        assert_eq!(
            pyc_source("usr/lib/python3.11/__pycache__/os.cpython-311.pyc").unwrap(),
            "usr/lib/python3.11/os.py"
        );
        assert_eq!(pyc_source("a/__pycache__/m.cpython-311.opt-1.pyc").unwrap(), "a/m.py");
        assert!(pyc_source("a/m.pyc").is_none());
    }
}
