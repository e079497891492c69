//! Findings as plain data, and the renderers that are the only code that formats them.
//!
//! `lucid verify` (images) and `lucid lint` (Dockerfiles) both produce a [`Report`]: a list of
//! subjects (what was examined) and [`Finding`]s (one per check and subject, passed or not).
//! Renderers turn a report into text (a table), JSON, JUnit XML, SARIF 2.1.0 or Markdown;
//! nothing else formats findings, so every format says the same thing. `lucid report` and
//! `lucid diff` render their analyses through [`size`] (text, JSON, Markdown) and `html` (the
//! self-contained page), sharing the table and escaping helpers.

mod html;
mod junit;
mod markdown;
mod sarif;
pub mod size;
mod text;

pub use text::table;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// How bad a failed check is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Result<Severity> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "warn" | "warning" => Severity::Warning,
            "error" | "fatal" => Severity::Error,
            _ => bail!("unknown severity {s:?}: use info, warning or error"),
        })
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

/// Where a finding points: a file in an image (with the layer that put it there) or a line of a
/// Dockerfile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// `/usr/bin/sh`, or `Dockerfile`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Digest (or diff_id) of the layer that holds `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
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

impl Report {
    /// Counts of (passed, failed, skipped, ignored).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for f in &self.findings {
            if f.ignored {
                c.3 += 1;
                continue;
            }
            match f.status {
                Status::Pass => c.0 += 1,
                Status::Fail => c.1 += 1,
                Status::Skip => c.2 += 1,
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

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
    Markdown,
}

/// Renders `report`. `verbose` (text, markdown) also lists passed and skipped checks.
pub fn render(report: &Report, format: Format, verbose: bool) -> Result<String> {
    Ok(match format {
        Format::Text => text::render(report, verbose),
        Format::Json => serde_json::to_string_pretty(report).context("cannot render JSON")? + "\n",
        Format::Junit => junit::render(report),
        Format::Sarif => sarif::render(report)?,
        Format::Markdown => markdown::render(report, verbose),
    })
}

/// Writes `text` to `path` atomically (temporary file in the same directory, then rename), so a
/// CI job never reads half a report.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".lucid-report-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Reads an ignore file: one check ID per line, `#` comments, blank lines allowed. A missing
/// file is an empty set.
pub fn read_ignore_file(path: &Path) -> Result<BTreeSet<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        if !is_check_id(id) {
            bail!("{}:{}: {id:?} is not a check ID (like LUCID-USER-001)", path.display(), n + 1);
        }
        out.insert(id.to_string());
    }
    Ok(out)
}

/// `LUCID-AREA-NNN` (or another tool's upper-case ID: `DL3008`).
pub fn is_check_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// XML text escaping for the JUnit renderer (and anything else that writes markup).
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Report {
        let f = |id: &str, sev, status, msg: &str| Finding {
            id: id.into(),
            title: format!("title of {id}"),
            severity: sev,
            status,
            subject: "oci:out/x:latest (linux/amd64)".into(),
            message: msg.into(),
            locations: vec![Location { path: "/usr/bin/sh".into(), line: None, layer: Some("sha256:ab".into()) }],
            remediation: "remove it".into(),
            seed_action: "Security Validation".into(),
            ignored: false,
        };
        Report {
            tool: "lucid verify".into(),
            subjects: vec!["oci:out/x:latest (linux/amd64)".into()],
            findings: vec![
                f("LUCID-SHELL-001", Severity::Error, Status::Fail, "a shell <sh> & \"more\""),
                f("LUCID-USER-001", Severity::Error, Status::Pass, "runs as 65532"),
                f("LUCID-META-005", Severity::Info, Status::Fail, "no HEALTHCHECK"),
                f("LUCID-RUNTIME-001", Severity::Error, Status::Skip, "no engine"),
            ],
            facts: vec![("oci:out/x:latest (linux/amd64)".into(), "size".into(), "45.2MB".into())],
        }
    }

    #[test]
    fn exit_codes_follow_the_threshold_and_ignores() {
        let mut r = sample();
        assert_eq!(r.exit_code(Severity::Error), 1);
        assert_eq!(r.counts(), (1, 2, 1, 0));
        r.apply_ignores(&["LUCID-SHELL-001".to_string()].into());
        assert_eq!(r.exit_code(Severity::Error), 0);
        assert_eq!(r.exit_code(Severity::Info), 1);
        assert_eq!(r.counts(), (1, 1, 1, 1));
    }

    #[test]
    fn every_format_renders_and_parses() {
        let r = sample();
        for fmt in [Format::Text, Format::Json, Format::Junit, Format::Sarif, Format::Markdown] {
            let out = render(&r, fmt, true).unwrap();
            assert!(out.contains("LUCID-SHELL-001"), "{fmt:?}: {out}");
        }
        let json: Report = serde_json::from_str(&render(&r, Format::Json, false).unwrap()).unwrap();
        assert_eq!(json, r);
        let sarif: serde_json::Value = serde_json::from_str(&render(&r, Format::Sarif, false).unwrap()).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
        let junit = render(&r, Format::Junit, false).unwrap();
        assert!(junit.contains("a shell &lt;sh&gt; &amp; &quot;more&quot;"), "{junit}");
        assert!(junit.contains("tests=\"4\" failures=\"2\" skipped=\"1\""), "{junit}");
    }

    #[test]
    fn ignore_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".lucidignore");
        assert!(read_ignore_file(&p).unwrap().is_empty());
        std::fs::write(&p, "# accepted\nLUCID-META-005  # no healthcheck in base images\n\n").unwrap();
        assert_eq!(read_ignore_file(&p).unwrap().len(), 1);
        std::fs::write(&p, "shell\n").unwrap();
        assert!(format!("{:#}", read_ignore_file(&p).unwrap_err()).contains(":1:"));
        let out = dir.path().join("r.json");
        write_atomic(&out, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{}");
    }
}
