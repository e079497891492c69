//! Findings as plain data: what every check of the tool says, whoever ran it.
//!
//! `lucid verify` (images, applications, Dockerfiles) and `lucid lint` (Dockerfiles) both produce
//! a [`Report`]: the subjects examined and one [`Finding`] per check and subject, passed or not.
//! A check's static facts (stable ID, title, severity, seed action, fix) are a [`Check`]; the
//! three catalogues of the tool (verify's checks, lint's rules, report's recommendations) use
//! IDs that never collide (`tests/check_ids.rs`). [`figures`] holds the measurements `lucid
//! report` and `lucid diff` show. Nothing here formats: the `report` module is the only code that
//! turns findings and figures into text, JSON, JUnit, SARIF, Markdown or HTML.
//!
//! This module imports nothing else of the crate, so the analysers that fill it and the
//! renderers that print it both depend on it and never on each other.

pub mod figures;
mod ignore;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

pub use ignore::{is_check_id, read_ignore_file};

/// How bad a failed check is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// The names `--fail-on` takes.
    pub const NAMES: &'static [&'static str] = &["info", "warning", "error"];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// `info` (or SARIF's `note`), `warn`/`warning`, `error`/`fatal`, in any case.
    pub fn parse(s: &str) -> Result<Severity> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "info" | "note" => Severity::Info,
            "warn" | "warning" => Severity::Warning,
            "error" | "fatal" => Severity::Error,
            _ => bail!("unknown severity {s:?}: use info, warning or error"),
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Severity::parse(s)
    }
}

/// The fact key of a sentence shown as an information line of its own (what an analysis could
/// not see), not in the facts line.
pub const NOTE: &str = "note";

/// What became of a check on one subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not applicable, or could not run (the message says why: no engine, build-stage image...).
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// Where a finding points: a file in an image (with the layer that put it there) or a line
/// and column of a Dockerfile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// `/usr/bin/sh`, or `Dockerfile`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column on `line` (lint points at the word that fired the rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// Digest (or diff_id) of the layer that holds `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// `path`, `path:line` or `path:line:column`: the form editors and CI annotations jump to.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

/// The result of one check on one subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable ID: `LUCID-SHELL-001`.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    /// What was examined: `oci:out/lucid-python-base:latest (linux/amd64)`, `Dockerfile`.
    pub subject: String,
    /// What was found, in one or two sentences.
    pub message: String,
    /// Up to a handful of places; the message gives the count when there are more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    pub remediation: String,
    /// The seed action this check serves (`4. Ensure Non-Root User (UID 65532)`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub seed_action: String,
    /// Set by `--ignore` / `.lucidignore`: shown, never counted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
}

impl Finding {
    /// A failed, not ignored finding at or above `level`.
    pub fn fails_at(&self, level: Severity) -> bool {
        self.status == Status::Fail && !self.ignored && self.severity >= level
    }
}

/// A check's static facts, as a catalogue lists them. IDs never change meaning once released;
/// a retired check keeps its number unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The action of the seed (step 23) this check serves.
    pub seed_action: &'static str,
    pub remediation: &'static str,
}

impl Check {
    /// A finding of this check about `subject`, with its title, severity and remediation.
    pub fn finding(&self, subject: &str, status: Status, message: impl Into<String>) -> Finding {
        Finding {
            id: self.id.to_string(),
            title: self.title.to_string(),
            severity: self.severity,
            status,
            subject: subject.to_string(),
            message: message.into(),
            locations: Vec::new(),
            remediation: self.remediation.to_string(),
            seed_action: self.seed_action.to_string(),
            ignored: false,
        }
    }
}

/// Everything one run examined and found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `lucid verify`, `lucid lint`.
    pub tool: String,
    pub subjects: Vec<String>,
    pub findings: Vec<Finding>,
    /// Facts worth showing beside the findings (sizes, layers), per subject: `(subject, key, value)`.
    /// Those keyed [`NOTE`] are sentences for the reader, each shown on its own line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<(String, String, String)>,
}

/// Counts of a report's findings, as the summaries of every format show them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub ignored: usize,
    /// Of the failed (not ignored): how many at each severity.
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
}

impl Report {
    /// Counts of (passed, failed, skipped, ignored).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let c = self.tally();
        (c.passed, c.failed, c.skipped, c.ignored)
    }

    /// Every count, failures also by severity.
    pub fn tally(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.findings {
            if f.ignored {
                c.ignored += 1;
                continue;
            }
            match f.status {
                Status::Pass => c.passed += 1,
                Status::Skip => c.skipped += 1,
                Status::Fail => {
                    c.failed += 1;
                    match f.severity {
                        Severity::Error => c.errors += 1,
                        Severity::Warning => c.warnings += 1,
                        Severity::Info => c.info += 1,
                    }
                }
            }
        }
        c
    }

    /// The exit code of a CI gate, as dockle's `--exit-level` and dive's `--ci`: 1 when any
    /// finding at or above `fail_on` failed, else 0.
    pub fn exit_code(&self, fail_on: Severity) -> i32 {
        i32::from(self.findings.iter().any(|f| f.fails_at(fail_on)))
    }

    /// Marks findings whose ID is in `ignored` (shown, not counted).
    pub fn apply_ignores(&mut self, ignored: &BTreeSet<String>) {
        for f in &mut self.findings {
            if ignored.contains(&f.id) {
                f.ignored = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_exit_codes_and_ignores() {
        let check =
            Check { id: "LUCID-X-001", title: "t", severity: Severity::Warning, seed_action: "s", remediation: "r" };
        let mut r = Report {
            tool: "lucid verify".into(),
            subjects: vec!["a".into()],
            findings: vec![
                check.finding("a", Status::Fail, "bad"),
                check.finding("a", Status::Pass, "good"),
                Check { id: "LUCID-X-002", severity: Severity::Error, ..check }.finding("a", Status::Skip, "no engine"),
            ],
            facts: vec![],
        };
        assert_eq!(r.exit_code(Severity::Error), 0);
        assert_eq!(r.exit_code(Severity::Warning), 1);
        assert_eq!(r.tally(), Counts { passed: 1, failed: 1, skipped: 1, warnings: 1, ..Counts::default() });
        r.apply_ignores(&["LUCID-X-001".to_string()].into());
        assert_eq!(r.exit_code(Severity::Info), 0);
        assert_eq!(r.counts(), (0, 0, 1, 2));
        assert_eq!("WARN".parse::<Severity>().unwrap(), Severity::Warning);
        assert!("bad".parse::<Severity>().is_err());
        let at = Location { path: "Dockerfile".into(), line: Some(11), column: Some(6), layer: None };
        assert_eq!(at.to_string(), "Dockerfile:11:6");
    }
}
