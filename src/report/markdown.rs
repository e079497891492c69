//! Markdown: a summary table per subject, for pull-request comments and job summaries.

use crate::findings::{Report, Status};

/// `|` and newlines would break a table cell; control characters are written as escapes
/// ([`printable`](super::printable)).
pub(crate) fn cell(s: &str) -> String {
    super::printable(s, false).replace('|', "\\|")
}

pub fn render(report: &Report, verbose: bool) -> String {
    let (pass, fail, skip, ignored) = report.counts();
    let mut out = format!("## {}\n\n{pass} passed, {fail} failed, {skip} skipped, {ignored} ignored\n\n", report.tool);
    for subject in &report.subjects {
        out.push_str(&format!("### `{}`\n\n", cell(subject)));
        for (_, k, v) in report.facts.iter().filter(|(s, _, _)| s == subject) {
            out.push_str(&format!("- {}: {}\n", cell(k), cell(v)));
        }
        out.push_str("\n| | ID | Severity | Check | Detail | Fix |\n| --- | --- | --- | --- | --- | --- |\n");
        for f in report.findings.iter().filter(|f| &f.subject == subject) {
            if !verbose && f.status != Status::Fail {
                continue;
            }
            let icon = match (f.ignored, f.status) {
                (true, _) => "➖",
                (_, Status::Pass) => "✅",
                (_, Status::Fail) => "❌",
                (_, Status::Skip) => "⏭️",
            };
            let paths: Vec<String> = f.locations.iter().map(|l| format!("`{}`", cell(&l.to_string()))).collect();
            let detail =
                if paths.is_empty() { cell(&f.message) } else { format!("{} {}", cell(&f.message), paths.join(" ")) };
            let fix = if f.status == Status::Fail { cell(&f.remediation) } else { String::new() };
            out.push_str(&format!(
                "| {icon} | {} | {} | {} | {detail} | {fix} |\n",
                f.id,
                f.severity.as_str(),
                cell(&f.title)
            ));
        }
        out.push('\n');
    }
    out
}
