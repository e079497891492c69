//! The default, human renderer: per subject, its facts and a table of findings, then a summary.
//! A failure that points at a line (a Dockerfile's) is written `file:line:col: severity[ID] ...`
//! instead, as compilers write theirs, so editors and CI problem matchers jump to it.

use crate::findings::{Finding, NOTE, Report, Status};

/// The column the first location is shown in; longer lists say how many more.
fn where_(f: &Finding) -> String {
    match f.locations.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
    }
}

fn mark(f: &Finding) -> &'static str {
    match (f.ignored, f.status) {
        (true, _) => "IGNORED",
        (false, Status::Pass) => "PASS",
        (false, Status::Fail) => "FAIL",
        (false, Status::Skip) => "SKIP",
    }
}

/// Rows padded to the widest cell of each column; the last column is never padded. Cells are
/// [`printable`](super::printable): a newline in a name cannot break a row.
pub fn table(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|r| r.iter().map(|c| super::printable(c, false).into_owned()).collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub fn render(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    for subject in &report.subjects {
        out.push_str(&super::printable(subject, false));
        out.push('\n');
        let (notes, facts): (Vec<_>, Vec<_>) =
            report.facts.iter().filter(|(s, _, _)| s == subject).partition(|(_, k, _)| k == NOTE);
        let facts: Vec<String> = facts.iter().map(|(_, k, v)| format!("{k} {}", super::printable(v, false))).collect();
        if !facts.is_empty() {
            out.push_str(&format!("  {}\n", facts.join(", ")));
        }
        for (_, _, note) in notes {
            out.push_str(&format!("  info: {}\n", super::printable(note, false)));
        }
        let mut rows = vec![vec!["".into(), "ID".into(), "SEVERITY".into(), "CHECK".into(), "DETAIL".into()]];
        for f in report.findings.iter().filter(|f| &f.subject == subject) {
            if !verbose && (f.status != Status::Fail || f.ignored) {
                continue;
            }
            if let Some(at) = line_of(f) {
                out.push_str(&format!("{at}: {}[{}] {}: {}\n", f.severity, f.id, f.title, f.message));
                out.push_str(&format!("    fix: {}\n", f.remediation));
                continue;
            }
            let detail = match where_(f) {
                w if w.is_empty() => f.message.clone(),
                w => format!("{}: {w}", f.message),
            };
            rows.push(vec![mark(f).into(), f.id.clone(), f.severity.as_str().into(), f.title.clone(), detail]);
            if f.status == Status::Fail && !f.ignored {
                rows.push(vec!["".into(), "".into(), "".into(), "".into(), format!("fix: {}", f.remediation)]);
            }
        }
        if rows.len() > 1 {
            for line in table(&rows).lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    let c = report.tally();
    out.push_str(&format!(
        "{} subject(s): {} error(s), {} warning(s), {} info\n",
        report.subjects.len(),
        c.errors,
        c.warnings,
        c.info
    ));
    out.push_str(&format!("{} passed, {} failed, {} skipped, {} ignored\n", c.passed, c.failed, c.skipped, c.ignored));
    out
}

/// A failed, counted finding whose first location has a line: shown compiler-style.
fn line_of(f: &Finding) -> Option<&crate::findings::Location> {
    f.locations.first().filter(|l| l.line.is_some() && f.status == Status::Fail && !f.ignored)
}
