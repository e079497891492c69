//! A hermetic multi-image project for the hardening tests (crash safety, concurrency, network
//! faults): a signed test repository with a shared base package and one package per image, each
//! big enough (a few MB that gzip cannot shrink but xz can) that downloading, unpacking and
//! writing layers take a measurable time, and a spec with four images over it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::debrepo::{Hostile, TestPackage, TestRepo, pkg};

/// The file that marks a directory as lucid's output directory (the one hidden entry a build
/// leaves there on purpose).
pub const OUTPUT_MARKER: &str = ".lucid-output";

/// The images of [`spec_text`], one per payload package.
pub const IMAGES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];

/// `len` bytes that repeat a 64 KiB block of noise: gzip's 32 KiB window sees noise, xz's
/// dictionary sees repeats. So the test repository is quick to make and layers are slow enough
/// to write that a kill can land in the middle.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let block: Vec<u8> = (0..65536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    block.iter().copied().cycle().take(len).collect()
}

/// The packages: `base` (needed by every image) and `pkg-<image>` with `size` bytes of payload.
pub fn packages(size: usize) -> Vec<TestPackage> {
    let mut out = vec![
        pkg("base", "1.0-1")
            .file("usr/lib/x86_64-linux-gnu/libbase.so.1", &payload(99, size / 2), 0o644)
            .file("usr/share/doc/base/copyright", b"MIT", 0o644)
            .symlink("usr/lib/x86_64-linux-gnu/libbase.so", "libbase.so.1"),
    ];
    for (i, name) in IMAGES.iter().enumerate() {
        out.push(
            pkg(&format!("pkg-{name}"), "2.0-1")
                .depends("base (>= 1.0)")
                .file(&format!("usr/bin/{name}"), format!("#!{name}\n").as_bytes(), 0o755)
                .file(&format!("usr/share/{name}/data.bin"), &payload(i as u64 + 1, size), 0o644),
        );
    }
    out
}

pub fn repo(size: usize) -> TestRepo {
    TestRepo::build(&[("bookworm", packages(size))], Hostile::default())
}

/// A spec with the four images of [`IMAGES`] (one layer each, no budget trouble).
pub fn spec_text(keyring: &Path) -> String {
    let mut s = format!(
        "version: 1\n\
         debian:\n  suites: [bookworm]\n  keyring: {}\n\
         platforms: [linux/amd64]\n\
         tags: [latest]\n\
         user: {{name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}}\n\
         images:\n",
        keyring.display()
    );
    for name in IMAGES {
        s.push_str(&format!(
            "  {name}:\n    stage: runtime-stage\n    packages: [pkg-{name}]\n    cmd: [/usr/bin/{name}]\n"
        ));
    }
    s
}

/// A project directory holding the spec; builds run with their own cache unless told otherwise.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub keyring: PathBuf,
}

impl Project {
    pub fn new(repo: &TestRepo) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("build-args.yml"), spec_text(&repo.keyring)).unwrap();
        Project { dir, keyring: repo.keyring.clone() }
    }

    pub fn spec(&self) -> PathBuf {
        self.dir.path().join("build-args.yml")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `lucid build -f SPEC -o out IMAGES...` against `mirror`, sharing `cache`.
    pub fn build_cmd(&self, mirror: &str, cache: &Path, out: &Path, images: &[&str]) -> Command {
        let mut c = super::lucid();
        c.env("LUCID_DEBIAN_MIRROR", mirror)
            .env("LUCID_CACHE", cache)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("LUCID_HTTP_BACKOFF_MS", "20")
            .arg("build")
            .arg("-f")
            .arg(self.spec())
            .arg("-o")
            .arg(out)
            .args(images);
        c
    }

    pub fn build(&self, mirror: &str, cache: &Path, out: &Path, images: &[&str]) -> Output {
        self.build_cmd(mirror, cache, out, images).output().unwrap()
    }
}

/// The manifest digest of the OCI layout `out/image`.
pub fn manifest_digest(out: &Path, image: &str) -> String {
    let index = std::fs::read_to_string(out.join(image).join("index.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&index).unwrap();
    v["manifests"][0]["digest"].as_str().unwrap().to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `lucid cache verify` on `cache`: (exit success, output).
pub fn cache_verify(cache: &Path) -> (bool, String) {
    let o = super::lucid().env("LUCID_CACHE", cache).args(["cache", "verify"]).output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o)))
}

/// Names of the blobs in a cache (not temporary files).
pub fn cache_blobs(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache.join("sha256"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| !n.starts_with('.'));
    names.sort();
    names
}
