//! Renderers: the only code that formats findings. Text, JSON, JUnit XML, SARIF 2.1.0, Markdown.
//!
//! Written by hand instead of with quick-junit / serde-sarif: each format is a few dozen lines
//! here, and `src/report` (lucid verify) will own the shared versions once both are merged.

use std::fmt::Write as _;
use std::str::FromStr;

use super::finding::{Finding, RULES, Severity, rule};

/// Output formats, named as `--format` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
    Markdown,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "junit" | "junit-xml" => Ok(Format::Junit),
            "sarif" => Ok(Format::Sarif),
            "markdown" | "md" => Ok(Format::Markdown),
            _ => Err(format!("unknown format {s:?} (text, json, junit, sarif, markdown)")),
        }
    }
}

/// The files that were linted (so clean files appear in JUnit and Markdown too) and the findings.
pub struct Report<'a> {
    pub files: &'a [String],
    pub findings: &'a [Finding],
}

pub fn render(format: Format, r: &Report) -> String {
    match format {
        Format::Text => text(r),
        Format::Json => json(r),
        Format::Junit => junit(r),
        Format::Sarif => sarif(r),
        Format::Markdown => markdown(r),
    }
}

fn counts(findings: &[Finding]) -> (usize, usize, usize) {
    let n = |s| findings.iter().filter(|f| f.severity == s).count();
    (n(Severity::Error), n(Severity::Warning), n(Severity::Info))
}

fn text(r: &Report) -> String {
    let mut s = String::new();
    for f in r.findings {
        let _ =
            writeln!(s, "{}:{}:{}: {}[{}] {}: {}", f.file, f.line, f.column, f.severity, f.rule, f.title, f.message);
        let _ = writeln!(s, "    fix: {}", f.remediation);
    }
    let (e, w, i) = counts(r.findings);
    let _ = writeln!(s, "{} file(s): {e} error(s), {w} warning(s), {i} info", r.files.len());
    s
}

fn json(r: &Report) -> String {
    let (e, w, i) = counts(r.findings);
    let v = serde_json::json!({
        "files": r.files,
        "summary": {"errors": e, "warnings": w, "info": i},
        "findings": r.findings,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// Escape text for XML attributes and content.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => o.push(c),
        }
    }
    o
}

/// One test suite per file, one failed test case per finding, one passed case for a clean file.
fn junit(r: &Report) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"lucid lint\" tests=\"{}\" failures=\"{}\">",
        r.findings.len().max(r.files.len()),
        r.findings.len()
    );
    for file in r.files {
        let fs: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| &f.file == file || f.file.starts_with(&format!("{}/", parent(file))))
            .collect();
        let fs: Vec<&Finding> =
            fs.into_iter().filter(|f| &f.file == file || f.file.ends_with(".dockerignore")).collect();
        let _ =
            writeln!(s, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">", xml(file), fs.len().max(1), fs.len());
        if fs.is_empty() {
            let _ = writeln!(s, "    <testcase classname=\"lucid.lint\" name=\"{}\"/>", xml(file));
        }
        for f in fs {
            let _ = writeln!(
                s,
                "    <testcase classname=\"lucid.lint.{}\" name=\"{}:{}:{} {}\">",
                f.rule,
                xml(&f.file),
                f.line,
                f.column,
                xml(f.title)
            );
            let _ = writeln!(
                s,
                "      <failure type=\"{}\" message=\"{}\">{}&#10;fix: {}</failure>",
                f.severity,
                xml(&f.message),
                xml(&f.message),
                xml(f.remediation)
            );
            let _ = writeln!(s, "    </testcase>");
        }
        let _ = writeln!(s, "  </testsuite>");
    }
    s.push_str("</testsuites>\n");
    s
}

fn parent(file: &str) -> &str {
    file.rsplit_once('/').map(|(p, _)| p).unwrap_or(".")
}

fn sarif(r: &Report) -> String {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|ru| {
            serde_json::json!({
                "id": ru.id,
                "name": ru.title,
                "shortDescription": {"text": ru.title},
                "help": {"text": ru.remediation},
                "defaultConfiguration": {"level": level(ru.severity)},
                "properties": {"seedAction": ru.seed_action},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = r
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "ruleId": f.rule,
                "ruleIndex": RULES.iter().position(|x| x.id == f.rule),
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": f.file},
                    "region": {"startLine": f.line, "startColumn": f.column},
                }}],
            })
        })
        .collect();
    let v = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "lucid", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn markdown(r: &Report) -> String {
    let (e, w, i) = counts(r.findings);
    let mut s = format!("## lucid lint\n\n{} file(s): {e} error(s), {w} warning(s), {i} info\n\n", r.files.len());
    if r.findings.is_empty() {
        s.push_str("No findings.\n");
        return s;
    }
    s.push_str("| location | severity | rule | finding | fix |\n| --- | --- | --- | --- | --- |\n");
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
    for f in r.findings {
        let title = rule(f.rule).map(|r| r.title).unwrap_or(f.title);
        let _ = writeln!(
            s,
            "| `{}:{}:{}` | {} | {} | {}: {} | {} |",
            cell(&f.file),
            f.line,
            f.column,
            f.severity,
            f.rule,
            cell(title),
            cell(&f.message),
            cell(f.remediation)
        );
    }
    s
}
