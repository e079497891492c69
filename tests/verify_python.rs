//! End to end: the four Lucid images `lucid build` makes pass `lucid verify` with the default
//! policy, with the same verdicts from all four sources: the OCI layout, the docker-archive, the
//! Docker engine (after --load) and a loopback registry. Runtime checks and the shipped
//! container-structure-test files run for real.
//!
//! Needs the Debian mirror and package index (like tests/build_python.rs), a Docker engine,
//! skopeo and Debian's docker-registry.

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::collections::BTreeSet;

use support::{lucid, repo_root};

/// A report's verdicts: `(id, title, status)` per finding.
type Verdicts = BTreeSet<(String, String, String)>;

/// `(id, title, status)` of every finding of a JSON report (structure tests share an ID; their
/// titles name the test).
fn verdicts(json: &str) -> Verdicts {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_string();
            (s("id"), s("title"), s("status"))
        })
        .collect()
}

#[test]
fn python_images_pass_from_every_source() {
    support::require_docker();
    support::require_tool("skopeo");
    let out = support::spec_images(&support::SPEC_IMAGES);
    let reg = registry::Registry::start();
    for image in ["lucid-python-base", "lucid-python-build", "lucid-java-base", "lucid-java-build"] {
        let layout = format!("oci:{}:latest", out.join(image).display());
        let pushed = reg.push(&layout, &format!("lucid/{image}:latest"));
        let sources = [
            layout.clone(),
            format!("docker-archive:{}", out.join(format!("{image}.tar")).display()),
            format!("docker-daemon:{image}:latest"),
            pushed,
        ];
        let config = repo_root().join(format!("tests/structure/{image}.yaml"));
        let mut seen: Vec<(String, Verdicts)> = Vec::new();
        for src in &sources {
            let run = lucid()
                .current_dir(repo_root())
                .args(["verify", src, "--require-runtime", "--format", "json", "--config"])
                .arg(&config)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&run.stdout);
            assert!(
                run.status.success(),
                "{src}: exit {:?}\n{stdout}\n{}",
                run.status,
                String::from_utf8_lossy(&run.stderr)
            );
            let v = verdicts(&stdout);
            assert!(!v.iter().any(|(_, _, s)| s == "fail"), "{src}: {stdout}");
            // Runtime checks ran (none skipped for want of an engine).
            assert!(v.iter().any(|(id, _, s)| id == "LUCID-RUNTIME-001" && s == "pass"), "{src}: {stdout}");
            assert!(v.iter().filter(|(id, _, s)| id.starts_with("LUCID-CST") && s == "pass").count() >= 8, "{stdout}");
            seen.push((src.clone(), v));
        }
        for (src, v) in &seen[1..] {
            assert_eq!(v, &seen[0].1, "{src} and {} disagree", seen[0].0);
        }
    }
}
