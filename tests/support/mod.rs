//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod debrepo;
pub mod faulty;
pub mod hermetic;

use std::path::PathBuf;
use std::process::Command;

/// The `lucid` binary under test.
pub fn lucid() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lucid"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the repository's spec in `dir`, its lock and requirements beside it, with `edit`
/// applied to the spec's text: a test's variant of the images. Returns the copy's path.
pub fn spec_copy(dir: &std::path::Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let base = repo_root().join("infrastructure/containers/base");
    for f in ["build-args.lock", "requirements.txt"] {
        std::fs::copy(base.join(f), dir.join(f)).unwrap();
    }
    let spec = std::fs::read_to_string(base.join("build-args.yml")).unwrap();
    let path = dir.join("build-args.yml");
    std::fs::write(&path, edit(spec)).unwrap();
    path
}

/// Fails the test (never skips it) when a tool it needs is missing: CI installs them all.
pub fn require_tool(tool: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map(|o| o.status.success());
    assert!(found.unwrap_or(false), "{tool} is not installed (bash .ci/run installs it)");
}

/// Fails the test when no Docker engine answers.
pub fn require_docker() {
    require_tool("docker");
    let ok = Command::new("docker").arg("info").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "no Docker engine answers `docker info` (bash .ci/run starts dockerd)");
}

/// Runs docker with `args`, asserts success, returns stdout + stderr (`java -version` prints to stderr).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "docker {} failed: {text}", args.join(" "));
    text
}

/// Whether `docker args` succeeds.
pub fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker").args(args).output().map(|o| o.status.success()).unwrap_or(false)
}

/// `lucid build IMAGES... --load -o TMP` from the repository's spec (plus `extra` arguments),
/// asserting success, that the size table shows `runtime` within `budget_mb` ("NNNMB ok") and
/// names every image, and that each image has its OCI layout and docker-archive. Returns the
/// output directory and the table.
pub fn build_and_load(images: &[&str], extra: &[&str], runtime: &str, budget_mb: u32) -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let run = lucid()
        .current_dir(repo_root())
        .arg("build")
        .args(images)
        .args(extra)
        .args(["--load", "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "lucid build failed:\n{stdout}\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{runtime} ")) && l.contains(" latest "))
        .unwrap_or_else(|| panic!("no row for {runtime}:\n{stdout}"));
    assert!(row.contains(&format!("{budget_mb}MB ok")), "runtime image over budget or no budget shown: {row}");
    let size_mb: f64 = row.split_whitespace().nth(2).unwrap().trim_end_matches("MB").parse().expect(row);
    assert!(size_mb < f64::from(budget_mb), "{row}");
    for img in images {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("{img} "))), "{stdout}");
        assert!(out.path().join(img).join("index.json").is_file(), "{img}: no OCI layout");
        assert!(out.path().join(format!("{img}.tar")).is_file(), "{img}: no docker-archive");
    }
    (out, stdout)
}
