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
    if !out.status.success() {
        // The whole log goes to a file; the message keeps the failing step and what it printed
        // last, so a CI log cut in the middle still shows why.
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("docker-build-{}.log", std::process::id()));
        let saved = match std::fs::write(&path, &text) {
            Ok(()) => format!("the whole log is {}", path.display()),
            Err(e) => format!("the whole log could not be saved to {}: {e}", path.display()),
        };
        let lines: Vec<&str> = text.lines().collect();
        let step = lines.iter().rposition(|l| l.starts_with("Step ")).unwrap_or(0);
        let tail = &lines[step.max(lines.len().saturating_sub(40))..];
        let header =
            if step < lines.len().saturating_sub(40) { format!("{}\n[...]\n", lines[step]) } else { String::new() };
        panic!(
            "docker build {} failed ({}); {saved}; its last lines:\n{header}{}\n{}",
            args.join(" "),
            out.status,
            tail.join("\n"),
            disk_note()
        );
    }
    text
}

/// Free space where Docker keeps its images and where the tests write, for a failure message
/// (a full disk fails a build with a message that the log may not show).
fn disk_note() -> String {
    let df = Command::new("df").args(["-h", "/var/lib/docker", env!("CARGO_TARGET_TMPDIR")]).output();
    match df {
        Ok(o) => format!("disk:\n{}", String::from_utf8_lossy(&o.stdout)),
        Err(e) => format!("df: {e}"),
    }
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
