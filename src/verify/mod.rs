//! `lucid verify`: prove an image distroless, non-root, within budget and working.
//!
//! `image source -> image view (config + merged tree + per-layer provenance) -> checks -> findings`.
//! Any transport ([`crate::oci::source`]) gives the same views, so the verdicts do not depend on
//! where an image came from. Static checks ([`checks`]) need no daemon; runtime checks
//! ([`runtime`]) and container-structure-test command tests ([`cst`]) run through the Docker
//! Engine API and are skipped, with the reason, when no engine answers.
//!
//! The entry point for other commands (`lucid build --verify`) is [`verify_image`].

pub mod app;
pub mod catalogue;
pub mod checks;
pub mod cst;
pub mod dockerfile;
pub mod runtime;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::analyze::java_modules::{self, JavaRuntime};
use crate::oci::read::{EntryKind, ImageView};
use crate::oci::source::{self, SourceImage, SourceOptions};
use crate::report::{Finding, Report, Severity, Status};
use crate::spec::{Spec, Stage, parse_size};
use view::MergedView;

/// The label lucid writes to say which stage an image serves.
pub const STAGE_LABEL: &str = "dev.lucid.stage";
/// An optional label carrying the image's size budget (`100MB`), for images verified without
/// their spec.
pub const BUDGET_LABEL: &str = "dev.lucid.budget";
/// The UID every Lucid image runs as (distroless's `nonroot`).
pub const DEFAULT_UID: u32 = 65532;
/// Labels expected on every image unless `--require-label` says otherwise.
pub const DEFAULT_LABELS: &[&str] =
    &["org.opencontainers.image.title", "org.opencontainers.image.description", "org.opencontainers.image.licenses"];

/// Whether runtime checks run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuntimeMode {
    /// Run them when an engine answers, else skip them with the reason.
    #[default]
    Auto,
    /// Never run them (static checks only).
    Off,
    /// Fail them when no engine answers.
    Require,
}

/// What to check and against which limits.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Overrides the stage label.
    pub stage: Option<Stage>,
    /// Overrides the spec's and the label's budget.
    pub max_size: Option<u64>,
    /// The UID the image must run as; `None` accepts any non-root UID.
    pub uid: Option<u32>,
    pub required_labels: Vec<String>,
    /// The spec whose budgets apply to images named like its images (by title label).
    pub spec: Option<Spec>,
    pub runtime: RuntimeMode,
    /// container-structure-test files.
    pub structure_tests: Vec<PathBuf>,
    pub source: SourceOptions,
    /// The application to check against each image (`--app`), read once for all of them.
    pub app: Option<Arc<app::App>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            stage: None,
            max_size: None,
            uid: Some(DEFAULT_UID),
            required_labels: DEFAULT_LABELS.iter().map(|s| s.to_string()).collect(),
            spec: None,
            runtime: RuntimeMode::Auto,
            structure_tests: Vec::new(),
            source: SourceOptions::default(),
            app: None,
        }
    }
}

/// One image (one platform of a reference) with everything checks read.
pub struct Subject<'a> {
    /// `oci:out/lucid-python-base:latest (linux/amd64)`: names the image in findings.
    pub name: String,
    pub image: &'a SourceImage,
    pub fs: &'a MergedView,
    pub raw_config: serde_json::Value,
    pub stage: Stage,
    /// Where the stage came from (`label dev.lucid.stage`, `--stage`, `default`).
    pub stage_source: String,
    /// Budget in bytes and where it came from.
    pub budget: Option<(u64, String)>,
    pub expected_uid: Option<u32>,
    pub required_labels: Vec<String>,
    /// The Java runtimes in the image, from their `release` files.
    pub java: Vec<JavaRuntime>,
}

/// The files the static checks read.
const SYSTEM_FILES: &[&str] = &["etc/passwd", "etc/group", "etc/shadow"];

/// Verifies every image `reference` names (every platform of an index) and returns the report.
/// Errors are for images that cannot be read at all (missing, corrupt, hostile): they name the
/// file, layer or digest.
pub fn verify_image(reference: &str, policy: &Policy) -> Result<Report> {
    let src = source::open(reference, &policy.source).with_context(|| format!("cannot read {reference}"))?;
    let suites = policy.structure_tests.iter().map(|p| cst::load(p)).collect::<Result<Vec<_>>>()?;
    let mut capture: BTreeSet<String> = SYSTEM_FILES.iter().map(|s| s.to_string()).collect();
    for suite in &suites {
        capture.extend(suite.content_paths());
    }
    let mut report = Report { tool: "lucid verify".into(), ..Default::default() };
    let engine = runtime::Engine::for_policy(policy.runtime);
    for image in &src.images {
        let name = format!("{reference} ({})", image.platform());
        let (fs, java) = merge_with_java(&image.view, &capture).with_context(|| format!("cannot read {name}"))?;
        let raw_config: serde_json::Value = serde_json::from_slice(&image.view.config_json)
            .with_context(|| format!("{name}: config {} is not JSON", image.view.config_digest))?;
        let labels = &image.view.config.config.labels;
        let (stage, stage_source) = match (policy.stage, labels.get(STAGE_LABEL).map(String::as_str)) {
            (Some(s), _) => (s, "--stage".to_string()),
            (None, Some("build-stage")) => (Stage::Build, format!("label {STAGE_LABEL}")),
            (None, Some("runtime-stage")) => (Stage::Runtime, format!("label {STAGE_LABEL}")),
            // Without a word from the image, hold it to the strict, distroless standard.
            _ => (Stage::Runtime, "default".to_string()),
        };
        let budget = budget_for(policy, image)?;
        let subject = Subject {
            name: name.clone(),
            image,
            fs: &fs,
            raw_config,
            stage,
            stage_source: stage_source.clone(),
            budget: budget.clone(),
            expected_uid: policy.uid,
            required_labels: policy.required_labels.clone(),
            java,
        };
        report.subjects.push(name.clone());
        let fact = |k: &str, v: String| (name.clone(), k.to_string(), v);
        report.facts.push(fact("stage", format!("{} ({stage_source})", stage.as_str())));
        report.facts.push(fact("size", crate::spec::format_size(fs.content_size())));
        report.facts.push(fact("layers", fs.layers.len().to_string()));
        if let Some(d) = image.view.manifest.as_ref().map(|m| m.2.clone()) {
            report.facts.push(fact("digest", d));
        }
        let mut findings: Vec<Finding> = Vec::new();
        findings.extend(checks::size(&subject));
        findings.extend(checks::distroless(&subject));
        findings.extend(checks::user(&subject));
        findings.extend(checks::files(&subject));
        findings.extend(checks::secrets(&subject));
        findings.extend(checks::metadata(&subject));
        findings.extend(checks::java_runtime(&subject));
        if let Some(app) = &policy.app {
            let found = app::check(app, &subject)?;
            // What the application checks say for information is shown beside the facts, so it
            // is read without --verbose (plumbing to be unified with pyapp at merge).
            for f in found.iter().filter(|f| f.severity == Severity::Info && f.status == Status::Pass) {
                report.facts.push(fact(crate::report::NOTE, format!("{}: {}", f.id, f.message)));
            }
            findings.extend(found);
        }
        let mut run = engine.session(&src, image);
        findings.extend(runtime::checks(&subject, &mut run));
        for suite in &suites {
            findings.extend(cst::run(suite, &subject, &mut run));
        }
        run.finish();
        report.findings.extend(findings);
    }
    Ok(report)
}

/// Bytes of a Java `release` file kept (real ones are under 2 KB).
const RELEASE_LIMIT: u64 = 64 << 10;

/// [`view::merge`], also keeping the `release` files of Java runtimes wherever they are: their
/// place is not known before the layers are read.
fn merge_with_java(view: &ImageView, capture: &BTreeSet<String>) -> Result<(MergedView, Vec<JavaRuntime>)> {
    let mut releases: BTreeMap<String, (usize, Vec<u8>)> = BTreeMap::new();
    let fs = view::merge_observed(view, capture, &mut |event| {
        if let view::Event::Entry { layer, entry, content } = event
            && entry.kind == EntryKind::File
            && entry.size <= RELEASE_LIMIT
            && java_modules::is_release_path(&entry.path)
        {
            let mut data = Vec::new();
            content.take(RELEASE_LIMIT).read_to_end(&mut data)?;
            releases.insert(entry.path.clone(), (layer, data));
        }
        Ok(())
    })?;
    let runtimes = releases
        .into_iter()
        .filter(|(path, (layer, _))| {
            fs.entries.get(path).is_some_and(|e| e.layer() == *layer && e.kind == EntryKind::File)
        })
        .filter_map(|(path, (_, data))| java_modules::parse_release(&path, &data))
        .collect();
    Ok((fs, runtimes))
}

/// The budget for `image`: `--max-size`, else the spec's budget for the image its title label
/// names, else the `dev.lucid.budget` label.
fn budget_for(policy: &Policy, image: &SourceImage) -> Result<Option<(u64, String)>> {
    if let Some(b) = policy.max_size {
        return Ok(Some((b, "--max-size".into())));
    }
    let labels = &image.view.config.config.labels;
    if let (Some(spec), Some(title)) = (&policy.spec, labels.get("org.opencontainers.image.title"))
        && let Some(img) = spec.images.iter().find(|i| &i.name == title)
        && let Some(b) = img.budget
    {
        return Ok(Some((b, format!("{} images.{title}.budget", spec.path.display()))));
    }
    if let Some(v) = labels.get(BUDGET_LABEL) {
        let b = parse_size(v).with_context(|| format!("label {BUDGET_LABEL}={v:?}"))?;
        return Ok(Some((b, format!("label {BUDGET_LABEL}"))));
    }
    Ok(None)
}

/// Verifies several references into one report (an unreadable image is an error for all).
pub fn verify_all(references: &[String], policy: &Policy) -> Result<Report> {
    let mut report = Report { tool: "lucid verify".into(), ..Default::default() };
    for r in references {
        let one = verify_image(r, policy)?;
        report.subjects.extend(one.subjects);
        report.findings.extend(one.findings);
        report.facts.extend(one.facts);
    }
    Ok(report)
}

/// The spec at `path`, if the file exists (a missing default spec is no error: the images may
/// not be Lucid's).
pub fn load_spec_if_present(path: &Path) -> Result<Option<Spec>> {
    if !path.exists() {
        return Ok(None);
    }
    Spec::load(path).map(Some)
}
