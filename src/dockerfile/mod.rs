//! `lucid lint`: Dockerfile -> syntax tree -> rules -> findings -> renderers.
//!
//! The rules encode what a distroless multi-stage build needs (see `catalogue::RULES`): two
//! stages named as the spec names them, a numeric non-root USER in the runtime stage, no shell
//! where the base has none, pinned bases, no secrets in ARG/ENV, a context that leaves out .git
//! and secrets. The rules say where they fire ([`Hit`]); [`findings_of`] turns that into the
//! tool's one findings model, so `lucid lint` and `lucid verify --dockerfile` report the same
//! checks through the same renderers (the `report` module).

pub mod catalogue;
pub mod config;
pub mod parse;
pub mod rules;
pub mod stages;

use std::path::Path;

use anyhow::Result;

use crate::findings::{Finding, Location, Status};

pub use catalogue::{Profile, RULES, rule};
pub use parse::{Dockerfile, parse};
pub use rules::{Hit, LintOptions, check};

/// Bytes of a Dockerfile `lucid lint` reads. The largest real ones are tens of kilobytes; a
/// bigger file is refused naming it, before any of it is read (the rules' cost grows with it).
pub const MAX_DOCKERFILE_BYTES: u64 = 4 << 20;

/// Read, parse and check one file. The context directory defaults to the Dockerfile's own
/// directory (the seed builds with `infrastructure/containers/base` as context); the profile, when
/// `opts` names none, is the nearest `.lucid.yml`'s (see [`config`]), else the default. An
/// unreadable file is an error naming it; a bad `.lucid.yml` or a `--target` that names no stage
/// of the file is a usage error (exit 3).
pub fn lint_file(path: &Path, opts: &LintOptions) -> Result<Vec<Hit>> {
    lint_resolved(path, opts).map(|(hits, _)| hits)
}

/// [`lint_file`], with the profile it ran under (resolved once, from `opts` or `.lucid.yml`). A
/// file over [`MAX_DOCKERFILE_BYTES`] is unreadable input (exit 2), refused before it is read.
fn lint_resolved(path: &Path, opts: &LintOptions) -> Result<(Vec<Hit>, Profile)> {
    let bytes = crate::limits::read_capped(path, MAX_DOCKERFILE_BYTES, "the Dockerfile")?;
    let text = String::from_utf8_lossy(&bytes);
    let mut o = opts.clone();
    if o.context.is_none() {
        o.context = Some(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf());
    }
    let profile = match o.profile {
        Some(p) => p,
        None => config::profile_for(path)?.map(|(_, p)| p).unwrap_or_default(),
    };
    o.profile = Some(profile);
    let df = parse(&text);
    if let Some(t) = &o.target {
        let names = stages::stage_names(&df);
        if !names.iter().any(|n| n.eq_ignore_ascii_case(t)) {
            return Err(crate::exit::Usage::msg(format!(
                "{}: --target {t}: no stage of that name (stages: {})",
                path.display(),
                if names.is_empty() { "none named".to_string() } else { names.join(", ") }
            )));
        }
    }
    Ok((check(&df, &path.display().to_string(), &o), profile))
}

/// Lint source text directly (no .dockerignore check unless `opts.context` is set).
pub fn lint_str(src: &str, file: &str, opts: &LintOptions) -> Vec<Hit> {
    check(&parse(src), file, opts)
}

/// Lints the Dockerfile at `path` into findings: see [`findings_of`]. An unreadable file is an
/// error naming it.
pub fn findings(path: &Path, opts: &LintOptions) -> Result<Vec<Finding>> {
    let (hits, profile) = lint_resolved(path, opts)?;
    Ok(findings_of(&path.display().to_string(), &hits, profile))
}

/// One finding per rule of the catalogue about the Dockerfile `subject`: failed once per place
/// the rule fired (with file, line and column), or passed once when it did not, as verify lists
/// its image checks; a house-style rule the profile leaves out is skipped, saying how to turn it
/// on.
pub fn findings_of(subject: &str, hits: &[Hit], profile: Profile) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in RULES {
        let mine: Vec<&Hit> = hits.iter().filter(|h| h.rule == rule.id).collect();
        if !profile.includes(rule.id) {
            out.push(rule.finding(subject, Status::Skip, "house-style rule: runs with --profile lucid"));
            continue;
        }
        if mine.is_empty() {
            out.push(rule.finding(subject, Status::Pass, "no finding"));
        }
        for hit in mine {
            let mut f = rule.finding(subject, Status::Fail, hit.message.clone());
            f.locations =
                vec![Location { path: hit.file.clone(), line: Some(hit.line), column: Some(hit.column), layer: None }];
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_reported_once_per_hit_or_passed() {
        let dir = tempfile::tempdir().unwrap();
        let df = dir.path().join("Dockerfile");
        std::fs::write(&df, "FROM debian:12\nRUN apt-get update\nUSER root\nCMD python app.py\n").unwrap();
        let all = findings(&df, &LintOptions { profile: Some(Profile::Lucid), ..LintOptions::new() }).unwrap();
        let failed: Vec<_> = all.iter().filter(|f| f.status == Status::Fail).collect();
        assert!(!failed.is_empty());
        assert!(failed.iter().all(|f| f.locations[0].line.is_some() && f.locations[0].column.is_some()));
        for rule in RULES {
            let n = all.iter().filter(|f| f.id == rule.id).count();
            let fails = failed.iter().filter(|f| f.id == rule.id).count();
            assert!(n >= 1 && (fails == 0 || fails == n), "{}: {n} findings, {fails} failed", rule.id);
        }
        let missing = findings(&dir.path().join("missing"), &LintOptions::new()).unwrap_err();
        assert!(missing.to_string().contains("missing"));
    }
}
