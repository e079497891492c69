//! A small but real test image for the oci interop and reproducibility tests: a statically
//! linked C program (compiled here with `gcc -static`, so the image needs no libc) plus the
//! accounts a distroless image has, in two layers.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use lucid::oci::{BuiltImage, ImageConfig, assemble, write_layer};
use lucid::platform::Platform;
use lucid::rootfs::{Entry, Tree};

pub const MTIME: i64 = 1_700_000_000;
pub const GREETING: &str = "hello from a lucid image";

const HELLO_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("hello from a lucid image: uid=%d gid=%d args=%d\n", (int)getuid(), (int)getgid(), argc - 1);
    return 0;
}
"#;

/// The static test binary, compiled once per test process.
pub fn hello_binary() -> &'static [u8] {
    static BIN: OnceLock<Vec<u8>> = OnceLock::new();
    BIN.get_or_init(|| compile_static(HELLO_C))
}

/// `source` (C) compiled with `gcc -static`: a program that runs in an image with no libc.
pub fn compile_static(source: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("program.c");
    std::fs::write(&src, source).expect("write the C source");
    let out = dir.path().join("program");
    let status = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc is required for the oci tests (apt-get install gcc libc6-dev)");
    assert!(status.success(), "gcc -static failed: is glibc's libc.a (libc6-dev) installed?");
    std::fs::read(&out).expect("read compiled binary")
}

/// The GOARCH name of this machine: the test image runs natively.
pub fn host_arch() -> String {
    Platform::host().arch
}

pub fn base_tree() -> Tree {
    let mut t = Tree::new();
    let passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
    let group = "root:x:0:\nnonroot:x:65532:\n";
    t.insert("etc/passwd", Entry::file(passwd.as_bytes().to_vec(), 0o644)).unwrap();
    t.insert("etc/group", Entry::file(group.as_bytes().to_vec(), 0o644)).unwrap();
    t.insert("tmp", Entry::dir(0o1777)).unwrap();
    t.insert("root", Entry::dir(0o700)).unwrap();
    t.insert("home/nonroot", Entry::dir(0o700).owned(65532, 65532)).unwrap();
    let mut long = String::from("usr/share/lucid");
    while long.len() < 150 {
        long.push_str("/a-rather-long-directory-name");
    }
    t.insert(&format!("{long}/README"), Entry::file(b"long path\n".to_vec(), 0o644)).unwrap();
    t
}

pub fn app_tree() -> Tree {
    let mut t = Tree::new();
    t.insert("usr/bin/hello", Entry::file(hello_binary().to_vec(), 0o755)).unwrap();
    t.insert("bin", Entry::symlink("usr/bin")).unwrap();
    t
}

pub fn config() -> ImageConfig {
    let mut labels = BTreeMap::new();
    labels.insert("org.opencontainers.image.title".to_string(), "lucid-oci-test".to_string());
    labels.insert("org.opencontainers.image.description".to_string(), "oci module interop test".to_string());
    ImageConfig {
        platform: Platform::host(),
        user: "65532:65532".to_string(),
        env: vec!["PATH=/usr/bin:/bin".to_string()],
        entrypoint: vec!["/usr/bin/hello".to_string()],
        cmd: vec![],
        working_dir: "/home/nonroot".to_string(),
        labels,
        created: MTIME,
        history: vec!["accounts and directories".to_string(), "the hello binary".to_string()],
    }
}

/// Builds the test image with its layer blobs in `dir`.
pub fn build(dir: &Path) -> BuiltImage {
    let base = write_layer(&base_tree(), MTIME, dir).expect("base layer");
    let app = write_layer(&app_tree(), MTIME, dir).expect("app layer");
    assemble(config(), vec![base, app]).expect("assemble")
}

/// Fails the test, with the install hint, if `tool` is missing: CI installs it, and a test that
/// silently passes without its tool proves nothing.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(tool)).find(|p| p.is_file()));
    found.unwrap_or_else(|| panic!("{tool} is required for this test and is not on PATH: apt-get install -y {package}"))
}

/// Fails the test unless a Docker engine answers.
pub fn require_docker_engine() {
    require_tool("docker", "docker.io");
    let out =
        Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output().expect("run docker info");
    assert!(
        out.status.success(),
        "no Docker engine answers (start one: `dockerd &`, or set DOCKER_HOST): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command, failing the test with its output if it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
