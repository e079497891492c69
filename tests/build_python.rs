//! End to end: `lucid build` of the Python images from the real Debian mirror and package index,
//! loaded into a real Docker engine and run there.
//!
//! Needs network access to the Debian mirror (host apt sources) and the Python package index
//! (host pip configuration), and a Docker engine; `.ci/run` starts one.

mod support;

use std::process::Command;

use support::{docker, docker_ok, lucid, repo_root};

#[test]
fn python_images_build_load_and_run() {
    support::require_docker();
    // The size table names both images; the runtime image is within budget; both outputs exist.
    let (_out, _table) =
        support::build_and_load(&["lucid-python-base", "lucid-python-build"], &[], "lucid-python-base", 100);

    // The seed's commands, run against the loaded images.
    let v = docker(&["run", "--rm", "lucid-python-base:latest", "python", "--version"]);
    assert!(v.starts_with("Python 3.11"), "{v}");
    assert_eq!(
        docker(&[
            "run",
            "--rm",
            "lucid-python-base:latest",
            "python",
            "-c",
            "import os; print(os.getuid(), os.getgid())"
        ])
        .trim(),
        "65532 65532"
    );
    let imports = "import ssl, sqlite3, ctypes, uuid, zoneinfo, json, requests, certifi; \
                   print(ssl.create_default_context().cert_store_stats()['x509_ca']); \
                   print(zoneinfo.ZoneInfo('Europe/Paris').key); print(requests.__version__)";
    let out_imports = docker(&["run", "--rm", "lucid-python-base:latest", "python", "-c", imports]);
    let cas: usize = out_imports.lines().next().unwrap().trim().parse().expect(&out_imports);
    assert!(cas > 100, "only {cas} CAs loaded by ssl.create_default_context()");
    // The byte code is precompiled and is what Python loads.
    let cached = docker(&[
        "run",
        "--rm",
        "lucid-python-base:latest",
        "python",
        "-c",
        "import json, requests; print(json.__cached__); print(requests.__cached__)",
    ]);
    for line in cached.lines() {
        let path = line.trim();
        let exists = docker_ok(&[
            "run",
            "--rm",
            "lucid-python-base:latest",
            "python",
            "-c",
            &format!("import os,sys; sys.exit(0 if os.path.exists({path:?}) else 1)"),
        ]);
        assert!(exists, "{path} is not in the image");
    }
    // No shell, no package manager, no pip in the runtime image.
    assert!(
        !docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", "lucid-python-base:latest", "-c", "true"]),
        "/bin/sh ran"
    );
    assert!(
        !docker_ok(&["run", "--rm", "lucid-python-base:latest", "pip", "--version"]),
        "pip ran in the runtime image"
    );
    assert!(
        !docker_ok(&["run", "--rm", "lucid-python-base:latest", "python", "-m", "pip", "--version"]),
        "pip module in runtime"
    );
    let config = docker(&[
        "inspect",
        "--format",
        "{{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Entrypoint}}",
        "lucid-python-base:latest",
    ]);
    assert_eq!(config.trim(), "65532:65532 /home/nonroot null");

    // The build-stage image has pip and a shell.
    let pip = docker(&["run", "--rm", "lucid-python-build:latest", "pip", "--version"]);
    assert!(pip.starts_with("pip ") && pip.contains("python 3.11"), "{pip}");
    assert_eq!(
        docker(&["run", "--rm", "--entrypoint", "/bin/sh", "lucid-python-build:latest", "-c", "echo shell; id -u"])
            .trim(),
        "shell\n65532"
    );
}

#[test]
fn builds_are_reproducible_and_epoch_changes_the_digest() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let digest = |dir: &std::path::Path, epoch: Option<&str>| {
        let mut cmd = lucid();
        cmd.current_dir(repo_root()).args(["build", "lucid-python-base", "--quiet", "-o"]).arg(dir);
        if let Some(e) = epoch {
            cmd.env("SOURCE_DATE_EPOCH", e);
        } else {
            cmd.env_remove("SOURCE_DATE_EPOCH");
        }
        let run = cmd.output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let index = std::fs::read_to_string(dir.join("lucid-python-base/index.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&index).unwrap();
        v["manifests"][0]["digest"].as_str().unwrap().to_string()
    };
    let first = digest(a.path(), None);
    let second = digest(b.path(), None);
    assert_eq!(first, second, "two builds from the same lock differ");
    let third = digest(c.path(), Some("1700000000"));
    assert_ne!(first, third, "SOURCE_DATE_EPOCH did not change the digest");
    // skopeo reads our OCI layout and copies it to a docker-archive.
    support::require_tool("skopeo");
    let layout = format!("oci:{}:latest", a.path().join("lucid-python-base").display());
    let inspect = Command::new("skopeo").args(["inspect", &layout]).output().unwrap();
    assert!(inspect.status.success(), "skopeo inspect: {}", String::from_utf8_lossy(&inspect.stderr));
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v["Digest"].as_str().unwrap(), first);
    let archive = format!("docker-archive:{}:lucid-python-base:copied", a.path().join("copied.tar").display());
    let copy = Command::new("skopeo").args(["copy", &layout, &archive]).output().unwrap();
    assert!(copy.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&copy.stderr));
}
