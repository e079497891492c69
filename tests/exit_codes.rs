//! One exit-code table for every subcommand (src/exit.rs): 0 passed, 1 findings, 2 an input
//! could not be read, 3 usage or configuration. Each row is checked on real images written by
//! lucid's own writer, and a multi-image run reports every readable image before exiting with
//! the worst code.

mod support;
#[path = "support/verify_images.rs"]
mod verify_images;

use std::path::Path;
use std::process::Output;

use support::lucid;
use verify_images::{corpus, good_config, good_tree, write};

/// Runs lucid away from the repository (so its spec and ignore file do not apply).
fn run(args: &[&str]) -> Output {
    lucid().current_dir(std::env::temp_dir()).args(args).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn said(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn layout(dir: &Path) -> String {
    format!("oci:{}:latest", dir.join("layout").display())
}

#[test]
fn usage_errors_are_3_and_help_teaches_the_table() {
    for args in [
        &["--no-such-flag"][..],
        &["verify"],
        &["verify", "oci:x", "--format", "yaml"],
        &["build", "--target", "nowhere"],
        &["report"],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 3, "lucid {args:?}: {}", said(&o));
    }
    for args in [&["--help"][..], &["verify", "--help"], &["report", "--help"], &["push", "--help"], &["--version"]] {
        let o = run(args);
        assert_eq!(code(&o), 0, "lucid {args:?}: {}", said(&o));
    }
    for sub in ["verify", "report", "build", "lint", "cache", "diff", "sbom", "lock", "push", "sign", "outdated"] {
        let o = run(&[sub, "--help"]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("Exit codes (every subcommand): 0 passed; 1 findings"), "lucid {sub} --help:\n{text}");
    }
    // A subcommand's own help stays, with the table after it.
    let push = String::from_utf8_lossy(&run(&["push", "--help"]).stdout).into_owned();
    assert!(push.find("Credentials").unwrap() < push.find("Exit codes").unwrap(), "{push}");
}

#[test]
fn verify_codes_for_each_kind_of_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    write(&good, &good_tree(), None, good_config());
    let bad = corpus().into_iter().next().expect("the corpus has a bad image");
    let bad_dir = dir.path().join("bad");
    write(&bad_dir, &bad.tree, None, bad.config);
    let (good, bad) = (layout(&good), layout(&bad_dir));
    let ignore = ["--ignore-file", "/nonexistent/.lucidignore", "--no-runtime"];
    let verify = |refs: &[&str], extra: &[&str]| {
        let mut args = vec!["verify"];
        args.extend_from_slice(refs);
        args.extend_from_slice(&ignore);
        args.extend_from_slice(extra);
        run(&args)
    };
    assert_eq!(code(&verify(&[&good], &[])), 0);
    assert_eq!(code(&verify(&[&bad], &[])), 1, "{bad}");
    let missing = verify(&["oci:/nonexistent/layout:latest"], &[]);
    assert_eq!(code(&missing), 2, "{}", said(&missing));
    // Configuration: a reference naming no host, an unknown check ID, a bad --uid, a
    // structure-test file that is not one.
    let cst = dir.path().join("cst.yaml");
    std::fs::write(&cst, "schemaVersion: 1.0.0\n").unwrap();
    for (refs, extra) in [
        (vec!["docker://python:3.11"], vec![]),
        (vec![good.as_str()], vec!["--ignore", "not an id"]),
        (vec![good.as_str()], vec!["--uid", "nobody"]),
        (vec![good.as_str()], vec!["--config", cst.to_str().unwrap()]),
        (vec![good.as_str()], vec!["--file", "/nonexistent/build-args.yml"]),
    ] {
        let o = verify(&refs, &extra);
        assert_eq!(code(&o), 3, "{refs:?} {extra:?}: {}", said(&o));
        assert!(o.stdout.is_empty(), "no report on a configuration error: {}", said(&o));
    }
}

#[test]
fn several_images_are_all_reported_and_the_worst_code_wins() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    write(&good, &good_tree(), None, good_config());
    let bad = corpus().into_iter().next().unwrap();
    let bad_dir = dir.path().join("bad");
    write(&bad_dir, &bad.tree, None, bad.config);
    let (good, bad) = (layout(&good), layout(&bad_dir));
    let missing = "oci:/nonexistent/layout:latest";
    let verify = |refs: &[&str]| {
        let mut args = vec!["verify", "--no-runtime", "--ignore-file", "/nonexistent/.lucidignore", "--format", "json"];
        args.extend_from_slice(refs);
        run(&args)
    };
    // The unreadable image comes first: the readable one after it is still checked.
    let o = verify(&[missing, &good]);
    assert_eq!(code(&o), 2, "{}", said(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", said(&o)));
    let subjects = report["subjects"].to_string();
    assert!(subjects.contains(&good.replace("oci:", "")), "the readable image is reported: {subjects}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/layout"), "{}", said(&o));
    // Findings and an unreadable image: 2 is worse than 1. Findings and a pass: 1.
    assert_eq!(code(&verify(&[&bad, missing])), 2);
    let o = verify(&[&good, &bad]);
    assert_eq!(code(&o), 1, "{}", said(&o));

    // report does the same.
    let o = run(&["report", missing, &good, "--format", "json"]);
    assert_eq!(code(&o), 2, "{}", said(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("layout"), "the readable image is reported: {}", said(&o));
}

#[test]
fn a_malformed_budget_label_is_a_finding_not_an_unreadable_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = good_config();
    config.labels.insert("dev.lucid.budget".into(), "lots".into());
    write(dir.path(), &good_tree(), None, config);
    let r = layout(dir.path());
    let o = run(&["verify", &r, "--no-runtime", "--ignore-file", "/nonexistent/.lucidignore", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", said(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let size = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "LUCID-SIZE-001").unwrap();
    assert_eq!(size["status"], "fail", "{size}");
    assert!(size["message"].as_str().unwrap().contains("\"lots\""), "{size}");
    let o = run(&["report", &r]);
    assert_eq!(code(&o), 1, "{}", said(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("BAD LABEL"), "{}", said(&o));
}

#[test]
fn other_subcommands_follow_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    write(&good, &good_tree(), None, good_config());
    let good = layout(&good);
    // diff and sbom: an unreadable side is 2.
    assert_eq!(code(&run(&["diff", &good, "oci:/nonexistent/x:latest"])), 2);
    assert_eq!(code(&run(&["sbom", "oci:/nonexistent/x:latest"])), 2);
    assert_eq!(code(&run(&["sbom", &good, "--platform", "linux/s390x"])), 3);
    // lint: a missing Dockerfile is 2, a bad --build-arg 3.
    let o = run(&["lint", "/nonexistent/Dockerfile"]);
    assert_eq!(code(&o), 2, "{}", said(&o));
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, "FROM scratch\nUSER 65532\n").unwrap();
    let o = run(&["lint", dockerfile.to_str().unwrap(), "--build-arg", "NOEQUALS"]);
    assert_eq!(code(&o), 3, "{}", said(&o));
    // build and lock: a spec that is not one is a configuration error, before any download.
    let spec = dir.path().join("build-args.yml");
    std::fs::write(&spec, "images: [unclosed\n").unwrap();
    for sub in ["build", "lock"] {
        let o = run(&[sub, "--file", spec.to_str().unwrap()]);
        assert_eq!(code(&o), 3, "{sub}: {}", said(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("build-args.yml"), "{sub}: {}", said(&o));
    }
    let o = lucid()
        .current_dir(support::repo_root())
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args(["build", "lucid-python-base", "-o"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", said(&o));
}
