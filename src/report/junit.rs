//! JUnit XML, written by hand (the format is small and a crate for it would be most of a parser):
//! one `<testsuite>` per subject, one `<testcase>` per finding, so CI systems show every check.

use super::xml_escape as x;
use crate::findings::{Report, Status};

pub fn render(report: &Report) -> String {
    let total = report.findings.len();
    let failures = report.findings.iter().filter(|f| f.status == Status::Fail && !f.ignored).count();
    let skipped = report.findings.iter().filter(|f| f.status == Status::Skip || f.ignored).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{total}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        x(&report.tool)
    ));
    for subject in &report.subjects {
        let own: Vec<_> = report.findings.iter().filter(|f| &f.subject == subject).collect();
        let fails = own.iter().filter(|f| f.status == Status::Fail && !f.ignored).count();
        let skips = own.iter().filter(|f| f.status == Status::Skip || f.ignored).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"{skips}\">\n",
            x(subject),
            own.len()
        ));
        for f in own {
            out.push_str(&format!("    <testcase classname=\"{}\" name=\"{}: {}\"", x(&f.id), x(&f.id), x(&f.title)));
            let paths: Vec<String> = f.locations.iter().map(ToString::to_string).collect();
            match (f.ignored, f.status) {
                (false, Status::Pass) => out.push_str("/>\n"),
                (true, _) | (false, Status::Skip) => {
                    let why = if f.ignored { "ignored" } else { f.message.as_str() };
                    out.push_str(&format!(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", x(why)));
                }
                (false, Status::Fail) => out.push_str(&format!(
                    ">\n      <failure type=\"{}\" message=\"{}\">{}\n{}\nfix: {}</failure>\n    </testcase>\n",
                    f.severity.as_str(),
                    x(&f.message),
                    x(&f.message),
                    x(&paths.join("\n")),
                    x(&f.remediation)
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
