//! SARIF 2.1.0 (what code-scanning dashboards ingest): one run, a rule per check ID, a result per
//! failed finding. Built with serde_json values: the subset we emit is small and fixed.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::findings::{Report, Severity, Status};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Info => "note",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

pub fn render(report: &Report) -> Result<String> {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    for f in &report.findings {
        rules.entry(&f.id).or_insert_with(|| {
            json!({
                "id": f.id,
                "name": f.id,
                "shortDescription": {"text": f.title},
                "help": {"text": f.remediation},
                "defaultConfiguration": {"level": level(f.severity)},
                "properties": {"seedAction": f.seed_action},
            })
        });
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .map(|f| {
            let locations: Vec<Value> = f
                .locations
                .iter()
                .map(|l| {
                    let mut region = json!({});
                    if let Some(line) = l.line {
                        region = json!({"startLine": line});
                        if let Some(col) = l.column {
                            region["startColumn"] = json!(col);
                        }
                    }
                    // A file in an image is relative to the image's root; a source file (a
                    // Dockerfile: it has a line) keeps the path it was given.
                    let uri = if l.line.is_some() { l.path.as_str() } else { l.path.trim_start_matches('/') };
                    let mut loc = json!({
                        "physicalLocation": {"artifactLocation": {"uri": uri}},
                        "logicalLocations": [{"name": f.subject, "kind": "module"}],
                    });
                    if l.line.is_some() {
                        loc["physicalLocation"]["region"] = region;
                    }
                    if let Some(layer) = &l.layer {
                        loc["properties"] = json!({"layer": layer});
                    }
                    loc
                })
                .collect();
            let mut r = json!({
                "ruleId": f.id,
                "level": level(f.severity),
                "message": {"text": format!("{} ({})", f.message, f.subject)},
                "locations": locations,
            });
            if f.ignored {
                r["suppressions"] = json!([{"kind": "external", "justification": "--ignore or .lucidignore"}]);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "lucid",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    });
    Ok(serde_json::to_string_pretty(&doc).context("cannot render SARIF")? + "\n")
}
