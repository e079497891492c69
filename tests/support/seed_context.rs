//! The seed's Python build context and the legacy `docker build` call, shared by
//! tests/docker_seed.rs (the seed's commands) and tests/report_docker.rs (lucid report on what
//! Docker built).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use crate::support::repo_root;

pub const BASE_DIR: &str = "infrastructure/containers/base";

/// `DOCKER_BUILDKIT=0 docker build ...` in `ctx`; returns the build log, asserts success.
pub fn docker_build(ctx: &Path, args: &[&str]) -> String {
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(ctx)
        .arg("build")
        .args(args)
        .arg(".")
        .output()
        .expect("docker runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "docker build {} failed:\n{text}", args.join(" "));
    text
}

/// A build context: the seed directory's files plus `wheels/` with every wheel the lock names,
/// copied from lucid's cache (each was checked against its SHA-256 when it was cached, and pip
/// checks the hashes in requirements.txt again).
pub fn python_context() -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    let base = repo_root().join(BASE_DIR);
    for f in ["Dockerfile.python-base", "Dockerfile.java-base", "requirements.txt", ".dockerignore"] {
        std::fs::copy(base.join(f), ctx.path().join(f)).unwrap();
    }
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("build-args.lock")).unwrap()).unwrap();
    let cache = lucid::fetch::Cache::from_env().unwrap();
    let wheels = ctx.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    let mut n = 0;
    let mut stack = vec![&lock];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(f), Some(h)) =
                    (m.get("filename").and_then(|x| x.as_str()), m.get("sha256").and_then(|x| x.as_str()))
                    && f.ends_with(".whl")
                {
                    let data =
                        cache.get(h).unwrap().unwrap_or_else(|| panic!("{f} not in the cache: run lucid build first"));
                    std::fs::write(wheels.join(f), data).unwrap();
                    n += 1;
                }
                stack.extend(m.values());
            }
            serde_json::Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    assert!(n > 0, "the lock names no wheels");
    ctx
}
