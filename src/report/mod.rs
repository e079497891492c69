//! The renderers: the only code that formats findings and figures.
//!
//! `lucid verify` and `lucid lint` both hand a [`Report`] of the findings model
//! ([`crate::findings`]) to [`render`]: text (a table per subject, with located findings as
//! `file:line:col` lines editors jump to), JSON, JUnit XML, SARIF 2.1.0 or Markdown; nothing else
//! formats findings, so every command and every format says the same thing. `lucid report` and
//! `lucid diff` render their figures ([`crate::findings::figures`]) through [`size`] (text,
//! JSON, Markdown) and `html` (the self-contained page), sharing the table and escaping helpers.
//!
//! This module imports only the findings model and the size units: it never reads an image.

mod html;
mod junit;
mod markdown;
mod sarif;
pub mod size;
mod text;

pub use text::table;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::findings::{Check, Counts, Report};

crate::named_enum! {
    "format";
    /// An output format of findings (`lucid verify`, `lucid lint`).
    pub enum Format {
        Text = "text",
        Json = "json",
        Junit = "junit" | "junit-xml",
        Sarif = "sarif",
        Markdown = "markdown" | "md",
    }
}

/// The JSON document: the report as the model serialises it, and the counts every other format
/// shows in its summary.
#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    report: &'a Report,
    summary: Counts,
}

/// Renders `report`. `verbose` (text, markdown) also lists passed and skipped checks.
pub fn render(report: &Report, format: Format, verbose: bool) -> Result<String> {
    Ok(match format {
        Format::Text => printable(&text::render(report, verbose), true).into_owned(),
        Format::Json => {
            serde_json::to_string_pretty(&Json { report, summary: report.tally() }).context("cannot render JSON")?
                + "\n"
        }
        Format::Junit => junit::render(report),
        Format::Sarif => sarif::render(report)?,
        Format::Markdown => printable(&markdown::render(report, verbose), true).into_owned(),
    })
}

/// A catalogue as `--list-checks` and `--list-rules` print it: a line per check (ID, severity,
/// title), then the seed action it serves and its fix.
pub fn catalogue(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!("{:<19} {:<8} {}\n", c.id, c.severity.as_str(), c.title));
        out.push_str(&format!("{:<28} seed: {}\n{:<28} fix:  {}\n", "", c.seed_action, "", c.remediation));
    }
    out
}

/// Text from an image (file names, package names, a container's output) made safe to print:
/// control characters (ESC, CSI, CR, BEL, backspace... which a terminal obeys, so a file named
/// `\x1b]0;pwned\x07` could retitle the window or `\x1b[2J` clear the screen) and the bidi
/// overrides that reorder what is shown are written as visible escapes (`\x1b`, `\u{202e}`).
/// Newlines too (a name must not forge a line of the report), unless `keep_newlines`: the final
/// pass over a whole rendered document, which keeps the renderer's own lines.
pub fn printable(s: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
    let unsafe_char = |c: char| (c.is_control() && !(keep_newlines && c == '\n')) || bidi(c);
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
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
    use crate::findings::{Finding, Location, Severity, Status};

    pub(crate) fn sample() -> Report {
        let f = |id: &str, sev, status, msg: &str| Finding {
            id: id.into(),
            title: format!("title of {id}"),
            severity: sev,
            status,
            subject: "oci:out/x:latest (linux/amd64)".into(),
            message: msg.into(),
            locations: vec![Location {
                path: "/usr/bin/sh".into(),
                layer: Some("sha256:ab".into()),
                ..Location::default()
            }],
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

    /// A lint finding: a Dockerfile line and column.
    fn located() -> Report {
        let mut r = sample();
        r.findings[0].locations =
            vec![Location { path: "Dockerfile".into(), line: Some(11), column: Some(6), layer: None }];
        r
    }

    #[test]
    fn every_format_renders_and_parses() {
        let r = sample();
        for fmt in [Format::Text, Format::Json, Format::Junit, Format::Sarif, Format::Markdown] {
            let out = render(&r, fmt, true).unwrap();
            assert!(out.contains("LUCID-SHELL-001"), "{fmt:?}: {out}");
        }
        let text = render(&r, Format::Text, false).unwrap();
        assert!(
            text.contains("1 subject(s): 1 error(s), 0 warning(s), 1 info\n1 passed, 2 failed, 1 skipped"),
            "{text}"
        );
        let json = render(&r, Format::Json, false).unwrap();
        assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), r);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!((v["summary"]["errors"].as_u64(), v["summary"]["passed"].as_u64()), (Some(1), Some(1)));
        let sarif: serde_json::Value = serde_json::from_str(&render(&r, Format::Sarif, false).unwrap()).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
        let junit = render(&r, Format::Junit, false).unwrap();
        assert!(junit.contains("a shell &lt;sh&gt; &amp; &quot;more&quot;"), "{junit}");
        assert!(junit.contains("tests=\"4\" failures=\"2\" skipped=\"1\""), "{junit}");
        assert!(junit.contains("<failure type=\"error\""), "{junit}");
    }

    #[test]
    fn located_findings_point_at_line_and_column() {
        let r = located();
        let text = render(&r, Format::Text, false).unwrap();
        assert!(text.contains("\nDockerfile:11:6: error[LUCID-SHELL-001] title of LUCID-SHELL-001: a shell"), "{text}");
        assert!(text.contains("\n    fix: remove it\n"), "{text}");
        let sarif: serde_json::Value = serde_json::from_str(&render(&r, Format::Sarif, false).unwrap()).unwrap();
        let region = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
        assert_eq!((region["startLine"].as_u64(), region["startColumn"].as_u64()), (Some(11), Some(6)));
        let uri = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert_eq!(uri, "Dockerfile");
        for fmt in [Format::Junit, Format::Markdown] {
            let out = render(&r, fmt, false).unwrap();
            assert!(out.contains("Dockerfile:11:6"), "{fmt:?}: {out}");
        }
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("usr/bin/\x1b]0;pwned\x07", false), r"usr/bin/\x1b]0;pwned\x07");
        assert_eq!(printable("a\rb\nc\td\u{9b}e\u{202e}f", false), r"a\rb\nc\td\u{9b}e\u{202e}f");
        assert_eq!(printable("line one\nline two\x1b[2J", true), "line one\nline two\\x1b[2J");
        assert!(matches!(printable("plain é", false), std::borrow::Cow::Borrowed(_)));
        let mut r = sample();
        r.findings[0].message = "a \x1b[2J b".into();
        for fmt in [Format::Text, Format::Markdown] {
            let out = render(&r, fmt, true).unwrap();
            assert!(!out.contains('\x1b') && out.contains(r"a \x1b[2J b"), "{fmt:?}: {out}");
        }
    }

    #[test]
    fn formats_have_names() {
        assert_eq!("JUNIT-XML".parse::<Format>().unwrap(), Format::Junit);
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert!("pdf".parse::<Format>().unwrap_err().to_string().contains("text, json, junit, sarif, markdown"));
    }
}
