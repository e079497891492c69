//! `lucid verify --dockerfile F`: the multi-stage structure checks of `lucid lint`, folded into
//! verify's report so one run (one JUnit or SARIF file in CI) proves both the images and the
//! Dockerfiles that build on them.
//!
//! Each lint rule becomes a check of the Dockerfile: one failed finding per place the rule fires
//! (with file and line), or one passed finding when it does not, as verify lists its image checks.

use std::path::Path;

use anyhow::{Context, Result};

use crate::dockerfile::{self, LintOptions, RULES};
use crate::report::{Finding, Location, Severity, Status};

fn severity(s: dockerfile::Severity) -> Severity {
    match s {
        dockerfile::Severity::Info => Severity::Info,
        dockerfile::Severity::Warning => Severity::Warning,
        dockerfile::Severity::Error => Severity::Error,
    }
}

/// Lints the Dockerfile at `path` (its directory is the build context whose .dockerignore is
/// checked) and returns a finding per rule: failed where it fired, passed where it did not.
pub fn check(path: &Path) -> Result<Vec<Finding>> {
    let raised = dockerfile::lint_file(path, &LintOptions::new())
        .with_context(|| format!("cannot read the Dockerfile {}", path.display()))?;
    let subject = path.display().to_string();
    let mut out = Vec::new();
    for rule in RULES {
        let base = Finding {
            id: rule.id.to_string(),
            title: rule.title.to_string(),
            severity: severity(rule.severity),
            status: Status::Pass,
            subject: subject.clone(),
            message: "no finding".to_string(),
            locations: Vec::new(),
            remediation: rule.remediation.to_string(),
            seed_action: rule.seed_action.to_string(),
            ignored: false,
        };
        let hits: Vec<_> = raised.iter().filter(|f| f.rule == rule.id).collect();
        if hits.is_empty() {
            out.push(base);
            continue;
        }
        for hit in hits {
            out.push(Finding {
                severity: severity(hit.severity),
                status: Status::Fail,
                message: format!("line {}, column {}: {}", hit.line, hit.column, hit.message),
                locations: vec![Location { path: hit.file.clone(), line: Some(hit.line), layer: None }],
                ..base.clone()
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_reported_once_per_hit_or_passed() {
        let dir = tempfile::tempdir().unwrap();
        let df = dir.path().join("Dockerfile");
        std::fs::write(&df, "FROM debian:12\nRUN apt-get update\nUSER root\nCMD python app.py\n").unwrap();
        let findings = check(&df).unwrap();
        let failed: Vec<_> = findings.iter().filter(|f| f.status == Status::Fail).collect();
        assert!(!failed.is_empty());
        assert!(failed.iter().all(|f| f.locations[0].line.is_some() && f.message.starts_with("line ")));
        for rule in RULES {
            let n = findings.iter().filter(|f| f.id == rule.id).count();
            let fails = failed.iter().filter(|f| f.id == rule.id).count();
            assert!(n >= 1 && (fails == 0 || fails == n), "{}: {n} findings, {fails} failed", rule.id);
        }
        assert!(check(&dir.path().join("missing")).unwrap_err().to_string().contains("missing"));
    }
}
