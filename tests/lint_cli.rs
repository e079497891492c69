//! `lucid lint` from the command line: formats, exit codes, ignores.

mod support;

use support::{lucid, repo_root};

fn corpus(name: &str) -> String {
    repo_root().join("tests/dockerfiles").join(name).display().to_string()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = lucid().current_dir(repo_root()).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn seed_files_are_clean_by_default() {
    let (code, out) = run(&["lint"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 subject(s): 0 error(s), 0 warning(s), 0 info"), "{out}");
}

#[test]
fn exit_codes_follow_fail_on() {
    let f = corpus("05-user-root.Dockerfile"); // an error
    let w = corpus("07-user-name.Dockerfile"); // a warning
    assert_eq!(run(&["lint", &f]).0, 1);
    assert_eq!(run(&["lint", &w]).0, 0);
    assert_eq!(run(&["lint", "--fail-on", "warning", &w]).0, 1);
    assert_eq!(run(&["lint", "--fail-on", "none", &f]).0, 0);
    assert_eq!(run(&["lint", "--ignore", "LUCID-DF-004", &f]).0, 0);
    assert_eq!(run(&["lint", "/nonexistent/Dockerfile"]).0, 2);
    let (code, out) = run(&["lint", &f]);
    assert_eq!(code, 1);
    assert!(out.contains("05-user-root.Dockerfile:11:6: error[LUCID-DF-004]"), "{out}");
}

#[test]
fn every_format_renders() {
    let f = corpus("11-run-in-shellless-runtime.Dockerfile");
    let (_, json) = run(&["lint", "-f", "json", &f]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"]["errors"], 1);
    let failed: Vec<&serde_json::Value> =
        v["findings"].as_array().unwrap().iter().filter(|f| f["status"] == "fail").collect();
    assert_eq!(failed[0]["locations"][0]["line"], 11);
    let (_, sarif) = run(&["lint", "-f", "sarif", &f]);
    let v: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 11);
    let (_, junit) = run(&["lint", "-f", "junit", &f]);
    assert!(
        junit.starts_with("<?xml") && junit.contains("<failure type=\"error\"") && junit.ends_with("</testsuites>\n")
    );
    let (_, md) = run(&["lint", "-f", "markdown", &f]);
    assert!(md.contains("| ID | Severity |") && md.contains("LUCID-DF-007"), "{md}");
    let (code, rules) = run(&["lint", "--list-rules"]);
    assert_eq!(code, 0);
    assert!(rules.contains("LUCID-DF-027"));
}

#[test]
fn build_arg_changes_what_from_means() {
    let f = corpus("19-from-arg-no-default.Dockerfile");
    assert!(run(&["lint", "--fail-on", "none", &f]).1.contains("LUCID-DF-012"));
    let (_, out) = run(&["lint", "--fail-on", "none", "--build-arg", "BASE_IMAGE=lucid-python-base:latest", &f]);
    assert!(!out.contains("LUCID-DF-012") && out.contains("LUCID-DF-011"), "{out}");
}

/// `lucid verify --dockerfile`: the same rules, one check each, in verify's report and exit codes.
#[test]
fn verify_folds_the_dockerfile_rules_into_its_report() {
    let seed = "infrastructure/containers/base/Dockerfile.python-base";
    let (code, out) =
        run(&["verify", "--dockerfile", seed, "--dockerfile", "infrastructure/containers/base/Dockerfile.java-base"]);
    assert_eq!(code, 0, "{out}");
    let rules = lucid::dockerfile::RULES.len();
    assert!(out.contains(&format!("{} passed, 0 failed", 2 * rules)), "{out}");

    let f = corpus("05-user-root.Dockerfile");
    let (code, out) = run(&["verify", "--dockerfile", &f, "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let failed: Vec<&serde_json::Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["status"] == "fail").collect();
    let user = failed.iter().find(|f| f["id"] == "LUCID-DF-004").expect("LUCID-DF-004 fails");
    assert_eq!(user["locations"][0]["line"], 11, "{user}");
    assert!(user["subject"].as_str().unwrap().ends_with("05-user-root.Dockerfile"));
    assert_eq!(run(&["verify", "--dockerfile", &f, "--ignore", "LUCID-DF-004"]).0, 0);
    assert_eq!(run(&["verify", "--dockerfile", "/nonexistent/Dockerfile"]).0, 2);
}
