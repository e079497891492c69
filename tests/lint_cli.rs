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

/// `--target`, `--profile` and `.lucid.yml`: what they change, and the usage errors (exit 3).
#[test]
fn target_profile_and_config_file() {
    let public = corpus("public/distroless/examples_go_Dockerfile");
    let (code, out) = run(&["lint", "--fail-on", "none", &public]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("LUCID-DF-002") && out.contains("examples_go_Dockerfile:12:1: error[LUCID-DF-003]"), "{out}");
    let (_, out) = run(&["lint", "--fail-on", "none", "--profile", "lucid", &public]);
    assert!(out.contains("LUCID-DF-002"), "{out}");
    // The build stage as target: the distroless stage does not ship, and the build stage names
    // no command, so no missing USER is reported.
    let (_, out) = run(&["lint", "--fail-on", "none", "--target", "build", &public]);
    assert!(!out.contains("LUCID-DF-003"), "{out}");

    let out = lucid().current_dir(repo_root()).args(["lint", "--target", "nope", &public]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("examples_go_Dockerfile") && err.contains("--target nope"), "{err}");
    assert_eq!(run(&["lint", "--profile", "strict", &public]).0, 3);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let df = dir.path().join("Dockerfile");
    std::fs::write(&df, "FROM alpine:3.20\nRUN apk add curl\nUSER 1000\n").unwrap();
    let df = df.display().to_string();
    assert_eq!(run(&["lint", "--fail-on", "error", &df]).0, 0);
    std::fs::write(dir.path().join(".lucid.yml"), "lint:\n  profile: lucid\n").unwrap();
    let (code, out) = run(&["lint", &df]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("LUCID-DF-001"), "{out}");
    std::fs::write(dir.path().join(".lucid.yml"), "lint:\n  profle: lucid\n").unwrap();
    let out = lucid().current_dir(repo_root()).args(["lint", &df]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".lucid.yml"));
}
