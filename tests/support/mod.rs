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
