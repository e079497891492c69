//! `lucid verify`: prove an image distroless, non-root, within budget and working.
//!
//! `image source -> image view (config + merged tree + per-layer provenance) -> checks -> findings`.
//! Any transport ([`crate::oci::source`]) gives the same [`crate::oci::Image`], flattened by
//! [`crate::oci::view`], so the verdicts do not depend on where an image came from. Static checks ([`checks`]) need no daemon; runtime checks
//! ([`runtime`]) and container-structure-test command tests ([`cst`]) run through the Docker
//! Engine API and are skipped, with the reason, when no engine answers.
//!
//! Findings are the tool's one model ([`crate::findings`]); verify never formats them (the CLI
//! renders its [`crate::findings::Report`] through `report`).
//!
//! The entry point for other commands (`lucid build --verify`) is [`verify_all`].

pub mod app;
pub mod catalogue;
pub mod checks;
pub mod cst;
pub mod runtime;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::analyze::budget_for;
use crate::analyze::libraries::LibraryScan;
use crate::findings::{Finding, Report, Severity, Status};
use crate::oci::Image;
use crate::oci::labels::STAGE_LABEL;
use crate::oci::read::{EntryKind, ImageView};
use crate::oci::source::{self, SourceOptions};
use crate::oci::view::{self, MergedView};
use crate::spec::{Spec, Stage};
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
    /// How long one runtime-check container may run before it is removed and fails its check.
    pub runtime_timeout: std::time::Duration,
    /// container-structure-test files.
    pub structure_tests: Vec<PathBuf>,
    /// Applications that must fit every image (`--app`: jars, wheels, site-packages).
    pub apps: Vec<PathBuf>,
    pub source: SourceOptions,
    /// `--key`: every image (a `docker://` reference) must carry a signature by this key.
    pub signature_key: Option<crate::sign::PublicKey>,
    /// `--require-attestations`: and signed SLSA provenance (every manifest) and SPDX and
    /// CycloneDX attestations (every platform's manifest) by that key, about its own digest.
    pub require_attestations: bool,
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
            runtime_timeout: runtime::RUN_TIMEOUT,
            structure_tests: Vec::new(),
            apps: Vec::new(),
            source: SourceOptions::default(),
            signature_key: None,
            require_attestations: false,
        }
    }
}

/// One image (one platform of a reference) with everything checks read.
pub struct Subject<'a> {
    /// `oci:out/lucid-python-base:latest (linux/amd64)`: names the image in findings.
    pub name: String,
    pub image: &'a ImageView,
    pub fs: &'a MergedView,
    pub raw_config: serde_json::Value,
    pub stage: Stage,
    /// Where the stage came from (`label dev.lucid.stage`, `--stage`, `default`).
    pub stage_source: String,
    /// Budget in bytes and where it came from.
    /// The budget and where it comes from; `Err` says why the image's budget label is no size
    /// (a finding about the image, not an unreadable image).
    pub budget: Result<Option<(u64, String)>, String>,
    pub expected_uid: Option<u32>,
    pub required_labels: Vec<String>,
    /// The image says it is a debug image (label `dev.lucid.debug=true`) and `--stage` did not
    /// overrule it: its busybox under `/busybox` is allowed, nothing else changes.
    pub debug: bool,
}

/// The files the static checks read.
const SYSTEM_FILES: &[&str] = &["etc/passwd", "etc/group", "etc/shadow"];

/// Verifies every image `reference` names (every platform of an index) and returns the report.
/// Errors are for images that cannot be read at all (missing, corrupt, hostile): they name the
/// file, layer or digest.
fn verify_image(reference: &str, policy: &Policy, suites: &[cst::Suite]) -> Result<Report> {
    let src = source::open(reference, &policy.source)
        .with_context(|| format!("cannot read {}", crate::oci::reference::shown(reference)))?;
    let mut capture: BTreeSet<String> = SYSTEM_FILES.iter().map(|s| s.to_string()).collect();
    for suite in suites {
        capture.extend(suite.content_paths());
    }
    let debian_licenses = suites.iter().any(cst::Suite::wants_debian_licenses);
    if debian_licenses {
        capture.insert(cst::files::STATUS.to_string());
    }
    let mut report = Report { tool: "lucid verify".into(), ..Default::default() };
    if let Some(key) = &policy.signature_key {
        // The signature is the reference's (its index or manifest), a subject of its own.
        report.subjects.push(reference.to_string());
        let verified: BTreeSet<String> =
            src.images.iter().filter_map(|i| i.manifest().map(|(_, d)| d.to_string())).collect();
        report.findings.extend(signature(reference, key, policy, &verified)?);
    }
    let engine = runtime::Engine::for_policy(policy.runtime, policy.runtime_timeout);
    for image in &src.images {
        let name = format!("{reference} ({})", image.platform().qualified());
        // The libraries an application would load are learnt in the same pass as the tree.
        let mut scan = LibraryScan::default();
        // And, for a structure test's licenseTests, what each Debian copyright file holds.
        let mut licenses = cst::files::LicenseScan::default();
        let fs = view::merge_observed(image, &capture, &mut |ev| match ev {
            view::Event::Entry { layer, entry, content }
                if debian_licenses && cst::files::LicenseScan::wants(entry) =>
            {
                licenses.observe(layer, entry, content)
            }
            ev => scan.observe(ev),
        })
        .with_context(|| format!("cannot read {name}"))?;
        // A structure test may name a file through a link (`/usr/lib/ssl/cert.pem`): the file it
        // leads to is known only now, so it is read in a second pass (only then). A target over
        // the capture limit is left out (the merge would refuse the whole image): only its test
        // fails, saying the file is too large.
        let behind_links: Vec<String> = suites
            .iter()
            .flat_map(cst::Suite::content_paths)
            .filter_map(|p| fs.resolve(&p))
            .filter(|k| {
                !fs.captured.contains_key(k)
                    && fs.entries.get(k).is_some_and(|e| e.kind == EntryKind::File && e.size <= view::CAPTURE_LIMIT)
            })
            .collect();
        let mut fs = fs;
        if !behind_links.is_empty() {
            let more: BTreeSet<String> = capture.iter().cloned().chain(behind_links).collect();
            fs.captured = view::merge(image, &more).with_context(|| format!("cannot read {name}"))?.captured;
        }
        let libs = scan.finish(&fs);
        let raw_config: serde_json::Value = serde_json::from_slice(&image.config_json)
            .with_context(|| format!("{name}: config {} is not JSON", image.config_digest))?;
        let labels = &image.config.config.labels;
        let (stage, stage_source) = match (policy.stage, labels.get(STAGE_LABEL).map(String::as_str)) {
            (Some(s), _) => (s, "--stage".to_string()),
            (None, Some("build-stage")) => (Stage::Build, format!("label {STAGE_LABEL}")),
            (None, Some("runtime-stage")) => (Stage::Runtime, format!("label {STAGE_LABEL}")),
            // Without a word from the image, hold it to the strict, distroless standard.
            _ => (Stage::Runtime, "default".to_string()),
        };
        let budget = budget_for(policy.max_size, policy.spec.as_ref(), &image.config.config.labels)
            .map_err(|e| format!("{e:#}"));
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
            // `--stage` is the operator's word: a label cannot relax it.
            debug: policy.stage.is_none() && labels.get(crate::oci::labels::DEBUG_LABEL).is_some_and(|v| v == "true"),
        };
        report.subjects.push(name.clone());
        let fact = |k: &str, v: String| (name.clone(), k.to_string(), v);
        report.facts.push(fact("stage", format!("{} ({stage_source})", stage.as_str())));
        if subject.debug {
            let label = crate::oci::labels::DEBUG_LABEL;
            report.facts.push(fact("debug", format!("a debug image (label {label}): busybox allowed under /busybox")));
        }
        report.facts.push(fact("size", crate::spec::format_size(fs.content_size())));
        report.facts.push(fact("layers", fs.layers.len().to_string()));
        if let Some((_, d)) = image.manifest() {
            report.facts.push(fact("digest", d.to_string()));
        }
        let mut findings: Vec<Finding> = Vec::new();
        findings.extend(checks::size(&subject));
        findings.extend(checks::distroless(&subject));
        findings.extend(checks::user(&subject));
        findings.extend(checks::files(&subject));
        findings.extend(checks::secrets(&subject));
        findings.extend(checks::metadata(&subject));
        let host = app::Host::new(name.clone(), image, &fs, &libs);
        findings.extend(app::policy::check(&host));
        findings.extend(app::java::runtime_modules(&host));
        for path in &policy.apps {
            let found = app::check(&host, path).with_context(|| format!("checking --app on {name}"))?;
            // What the application checks say for information is shown on a line of its own,
            // read without --verbose.
            for f in found.iter().filter(|f| f.severity == Severity::Info && f.status == Status::Pass) {
                report.facts.push(fact(crate::findings::NOTE, format!("{}: {}", f.id, f.message)));
            }
            findings.extend(found);
        }
        // Containers run as the user lucid resolved, in numbers; a root image's (or one whose
        // user does not resolve) as nobody: runtime checks never run hostile code as root.
        let user = match checks::resolve_user(&subject) {
            Ok((0, _)) | Err(_) => None,
            Ok((uid, Some(gid))) => Some(format!("{uid}:{gid}")),
            Ok((uid, None)) => Some(uid.to_string()),
        };
        let mut run = engine.session(&src, image, user);
        findings.extend(runtime::checks(&subject, &mut run));
        for suite in suites {
            findings.extend(cst::run(suite, &subject, &licenses, &mut run));
        }
        run.finish();
        report.findings.extend(findings);
    }
    Ok(report)
}

/// LUCID-SIGN-001 on `reference`: its manifest (and, for an index, every platform's) carries a
/// signature by `key` that names that digest and the reference's repository. Signatures live in
/// a registry: another source is a configuration error.
fn signature(
    reference: &str,
    key: &crate::sign::PublicKey,
    policy: &Policy,
    verified: &BTreeSet<String>,
) -> Result<Vec<Finding>> {
    use crate::sign::Verdict;
    let crate::oci::ImageRef::Registry(r) = crate::oci::ImageRef::parse(reference)? else {
        return Err(crate::exit::Usage::msg(format!(
            "--key: {} is not in a registry; signatures are checked on docker://HOST/REPO[:TAG] images",
            crate::oci::reference::shown(reference)
        )));
    };
    let check = catalogue::check("LUCID-SIGN-001").context("LUCID-SIGN-001 is in the catalogue")?;
    let verdicts = crate::sign::verify(&r, &policy.source.registry, key, policy.require_attestations)
        .with_context(|| format!("cannot read the signatures of {reference}"))?;
    let mut bad = Vec::new();
    // The tag was resolved twice (for the images the other checks read, and here): both must be
    // the same manifests, or a registry could show the checks one image and the signatures
    // another.
    let signed: BTreeSet<String> =
        verdicts.iter().filter(|c| c.target.what != "index").map(|c| c.target.digest.clone()).collect();
    if &signed != verified {
        bad.push(format!(
            "the registry served other manifests for the signature check ({}) than for the other checks ({})",
            signed.iter().cloned().collect::<Vec<_>>().join(", "),
            verified.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    for crate::sign::Checked { target, verdict, .. } in &verdicts {
        let why = match verdict {
            Verdict::Signed => continue,
            Verdict::Unsigned => "no signature".to_string(),
            Verdict::OtherKeys(n) => format!("{n} signature(s), none by {}", key.source()),
            Verdict::Misattributed(c) => {
                format!("signed by the key for {}@{}, not this image", c.reference, c.digest)
            }
        };
        bad.push(format!("{} {} ({why})", target.what, target.digest));
    }
    let mut out = vec![if bad.is_empty() {
        check.finding(
            reference,
            Status::Pass,
            format!(
                "{} manifest(s) signed by {} for {} (the tag resolved to {})",
                verdicts.len(),
                key.source(),
                crate::sign::identity(&r),
                verdicts.first().map_or("nothing", |c| c.target.digest.as_str())
            ),
        )
    } else {
        check.finding(reference, Status::Fail, format!("not signed by {}: {}", key.source(), bad.join("; ")))
    }];
    if policy.require_attestations {
        use crate::sign::{PREDICATE_CYCLONEDX, PREDICATE_SLSA_PROVENANCE, PREDICATE_SPDX};
        let check = catalogue::check("LUCID-SIGN-002").context("LUCID-SIGN-002 is in the catalogue")?;
        let mut missing = Vec::new();
        for c in &verdicts {
            // The index is the build's output as a whole: provenance; each image has SBOMs too.
            let wanted: &[&str] = if c.target.what == "index" {
                &[PREDICATE_SLSA_PROVENANCE]
            } else {
                &[PREDICATE_SLSA_PROVENANCE, PREDICATE_SPDX, PREDICATE_CYCLONEDX]
            };
            let lacking: Vec<&str> = wanted.iter().copied().filter(|w| !c.attested.iter().any(|a| a == w)).collect();
            if !lacking.is_empty() {
                missing.push(format!("{} {} (no {})", c.target.what, c.target.digest, lacking.join(", ")));
            }
        }
        out.push(if missing.is_empty() {
            check.finding(
                reference,
                Status::Pass,
                format!("provenance and SBOM attestations by {} on every manifest", key.source()),
            )
        } else {
            check.finding(
                reference,
                Status::Fail,
                format!("attestations by {} missing: {}", key.source(), missing.join("; ")),
            )
        });
    }
    Ok(out)
}

/// Verifies every image `references` names into one report. An image that cannot be read does
/// not stop the others: its error comes back beside the report of the rest, so CI sees every
/// readable image's findings and still fails. The error of the whole call is a configuration
/// problem (a `--config` file that cannot be used), found before any image is read.
pub fn verify_all(references: &[String], policy: &Policy) -> Result<(Report, Vec<anyhow::Error>)> {
    let suites =
        policy.structure_tests.iter().map(|p| cst::load(p).map_err(crate::exit::usage)).collect::<Result<Vec<_>>>()?;
    let mut report = Report { tool: "lucid verify".into(), ..Default::default() };
    let mut unreadable = Vec::new();
    for r in references {
        match verify_image(r, policy, &suites) {
            Ok(one) => {
                report.subjects.extend(one.subjects);
                report.findings.extend(one.findings);
                report.facts.extend(one.facts);
            }
            Err(e) => unreadable.push(e),
        }
    }
    Ok((report, unreadable))
}

/// The spec at `path`, if the file exists (a missing default spec is no error: the images may
/// not be Lucid's).
pub fn load_spec_if_present(path: &Path) -> Result<Option<Spec>> {
    if !path.exists() {
        return Ok(None);
    }
    Spec::load(path).map(Some)
}
