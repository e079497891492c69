//! Hermetic `lucid build` runs against a tiny signed Debian repository served on 127.0.0.1:
//! the happy path, and every kind of bad input ending in a clear error with no image written.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use lucid::oci::Image;
use support::debrepo::{Hostile, TestRepo, pkg};
use support::lucid;

/// A repository with a two-package closure: `hello` needs `libfoo`.
fn repo(hostile: Hostile) -> TestRepo {
    TestRepo::build(
        &[(
            "bookworm",
            vec![
                pkg("hello", "1.0-1").depends("libfoo (>= 1.2)").file("usr/bin/hello", b"#!hello\n", 0o755),
                pkg("libfoo", "1.2-3").file("usr/lib/x86_64-linux-gnu/libfoo.so.1", b"foo", 0o644).file(
                    "usr/share/doc/libfoo/copyright",
                    b"MIT",
                    0o644,
                ),
            ],
        )],
        hostile,
    )
}

struct Project {
    dir: tempfile::TempDir,
    cache: PathBuf,
}

impl Project {
    fn new(repo: &TestRepo, packages: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let spec = format!(
            "version: 1\n\
             debian:\n  suites: [bookworm]\n  keyring: {keyring}\n\
             platforms: [linux/amd64]\n\
             tags: [latest]\n\
             user: {{name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}}\n\
             prune:\n  remove: [\"usr/share/doc/**\"]\n  keep: [\"usr/share/doc/*/copyright\"]\n\
             images:\n  tiny:\n    stage: runtime-stage\n    budget: 1MB\n    packages: [{packages}]\n    cmd: [/usr/bin/hello]\n",
            keyring = repo.keyring.display()
        );
        std::fs::write(dir.path().join("build-args.yml"), spec).unwrap();
        let cache = dir.path().join("cache");
        Project { dir, cache }
    }

    fn spec(&self) -> PathBuf {
        self.dir.path().join("build-args.yml")
    }

    fn build(&self, repo: &TestRepo, out: &Path, extra: &[&str]) -> Output {
        lucid()
            .env("LUCID_DEBIAN_MIRROR", &repo.url)
            .env("LUCID_CACHE", &self.cache)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .arg("build")
            .arg("-f")
            .arg(self.spec())
            .arg("-o")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn manifest_digest(out: &Path) -> String {
    let index = std::fs::read_to_string(out.join("tiny/index.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&index).unwrap();
    v["manifests"][0]["digest"].as_str().unwrap().to_string()
}

/// Asserts a failed build: non-zero exit, an error containing every `needle`, and no image.
fn assert_fails_cleanly(o: &Output, out: &Path, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "the build succeeded: {err}");
    assert!(err.contains("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "the error does not mention {n:?}:\n{err}");
    }
    assert!(!out.join("tiny").exists() && !out.join("tiny.tar").exists(), "an image was written despite: {err}");
    if out.exists() {
        // The marker that makes it a lucid output directory is written before any work, by design.
        let leftovers: Vec<_> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != lucid::oci::stale::OUTPUT_MARKER)
            .collect();
        assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    }
}

#[test]
fn builds_locks_and_rebuilds_identically() {
    let repo = repo(Hostile::default());
    let p = Project::new(&repo, "hello");
    let out = p.dir.path().join("out");
    let o = p.build(&repo, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.lines().any(|l| l.starts_with("tiny ") && l.contains("latest") && l.contains("1.00MB ok")),
        "{table}"
    );
    let lock = std::fs::read_to_string(p.dir.path().join("build-args.lock")).unwrap();
    assert!(lock.contains("\"hello\"") && lock.contains("\"libfoo\""), "{lock}");
    assert!(!lock.contains("127.0.0.1"), "the lock names a host: {lock}");
    let first = manifest_digest(&out);

    // The image holds the packages, their status files and the builder's files, pruned.
    let view = lucid::oci::read::open(&format!("oci:{}:latest", out.join("tiny").display())).unwrap();
    let mut paths = Vec::new();
    for i in 0..view.layers.len() {
        let tree = lucid::oci::read::layer_tree(view.layer_tar(i).unwrap()).unwrap();
        paths.extend(tree.iter().map(|(k, _)| k.clone()));
    }
    for want in ["usr/bin/hello", "var/lib/dpkg/status.d/hello", "etc/passwd", "tmp", "usr/share/doc/libfoo/copyright"]
    {
        assert!(paths.iter().any(|p| p == want), "{want} missing from {paths:?}");
    }

    // From the lock, offline from the index's point of view, the same digest.
    let again = p.dir.path().join("again");
    let o = p.build(&repo, &again, &["--locked"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(manifest_digest(&again), first);
}

#[test]
fn tampered_deb_is_refused_and_the_previous_image_survives() {
    let good = repo(Hostile::default());
    let p = Project::new(&good, "hello");
    let out = p.dir.path().join("out");
    assert!(p.build(&good, &out, &[]).status.success());
    let before = manifest_digest(&out);

    let evil = repo(Hostile { tamper_deb: Some("libfoo".into()), ..Hostile::default() });
    let q = Project::new(&evil, "hello");
    let out2 = q.dir.path().join("out");
    let o = q.build(&evil, &out2, &[]);
    assert_fails_cleanly(&o, &out2, &["libfoo 1.2-3", "SHA-256 mismatch", "libfoo_1.2-3_amd64.deb"]);

    // Into the directory of the good image: the failure leaves it as it was.
    let o = q.build(&evil, &out, &[]);
    assert!(!o.status.success());
    assert_eq!(manifest_digest(&out), before);
}

#[test]
fn bad_signature_is_refused() {
    let evil = repo(Hostile { foreign_signer: true, ..Hostile::default() });
    let p = Project::new(&evil, "hello");
    let out = p.dir.path().join("out");
    assert_fails_cleanly(&p.build(&evil, &out, &[]), &out, &["dists/bookworm/InRelease", "signature"]);
}

#[test]
fn wrong_packages_hash_is_refused() {
    let evil = repo(Hostile { wrong_packages_digest: true, ..Hostile::default() });
    let p = Project::new(&evil, "hello");
    let out = p.dir.path().join("out");
    assert_fails_cleanly(&p.build(&evil, &out, &[]), &out, &["main/binary-amd64/Packages", "SHA-256 mismatch"]);
}

#[test]
fn unknown_package_is_named() {
    let r = repo(Hostile::default());
    let p = Project::new(&r, "hello, no-such-package");
    let out = p.dir.path().join("out");
    assert_fails_cleanly(&p.build(&r, &out, &[]), &out, &["no-such-package"]);
}

#[test]
fn malformed_spec_names_file_line_and_key() {
    let r = repo(Hostile::default());
    let p = Project::new(&r, "hello");
    let spec = std::fs::read_to_string(p.spec()).unwrap();
    let line = spec.lines().position(|l| l.contains("budget:")).unwrap() + 1;
    std::fs::write(p.spec(), spec.replace("budget: 1MB", "budget: lots")).unwrap();
    let out = p.dir.path().join("out");
    let want = format!("build-args.yml:{line}:");
    assert_fails_cleanly(&p.build(&r, &out, &[]), &out, &[&want, "images.tiny.budget", "lots"]);

    std::fs::write(p.spec(), spec.replace("stage: runtime-stage", "stage: runtime-stage\n    colour: blue")).unwrap();
    assert_fails_cleanly(&p.build(&r, &out, &[]), &out, &["build-args.yml:", "colour"]);
}

#[test]
fn locked_refuses_a_missing_or_drifted_lock() {
    let r = repo(Hostile::default());
    let p = Project::new(&r, "hello");
    let out = p.dir.path().join("out");
    assert_fails_cleanly(&p.build(&r, &out, &["--locked"]), &out, &["--locked", "build-args.lock", "lucid lock"]);
    assert!(p.build(&r, &out, &[]).status.success());
    std::fs::remove_dir_all(&out).unwrap();
    let spec = std::fs::read_to_string(p.spec()).unwrap();
    std::fs::write(p.spec(), spec.replace("packages: [hello]", "packages: [hello, libfoo]")).unwrap();
    assert_fails_cleanly(&p.build(&r, &out, &["--locked"]), &out, &["no longer matches", "lucid lock"]);
}

#[test]
fn over_budget_fails_after_saying_so() {
    let r = TestRepo::build(
        &[("bookworm", vec![pkg("big", "1").file("usr/share/big.bin", &vec![7u8; 1_500_000], 0o644)])],
        Hostile::default(),
    );
    let p = Project::new(&r, "big");
    let out = p.dir.path().join("out");
    let o = p.build(&r, &out, &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("1.00MB OVER"), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(stderr(&o).contains("over its budget of 1.00MB"), "{}", stderr(&o));
}

/// `--load` on a machine with no Docker engine (one socket path that does not exist, one loopback
/// port where nothing listens): every image is still built and written, both its OCI layout and
/// its docker-archive, then lucid says that nothing was loaded, why, and how to start an engine,
/// and exits 3 (usage or configuration). Progress lines name their image and platform.
#[test]
fn load_without_an_engine_writes_every_image_then_says_nothing_was_loaded() {
    use support::hermetic::{self, IMAGES};
    let repo = hermetic::repo(256 << 10);
    let p = hermetic::Project::new(&repo);
    let cache = p.path("cache");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let missing_socket = format!("unix://{}", p.path("no-engine/docker.sock").display());
    for (i, host) in [missing_socket, format!("tcp://127.0.0.1:{closed_port}")].iter().enumerate() {
        let out = p.path(&format!("out-{i}"));
        let o = p.build_cmd(&repo.url, &cache, &out, &[]).arg("--load").env("DOCKER_HOST", host).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "DOCKER_HOST={host}: {err}");
        for image in IMAGES {
            assert!(out.join(image).join("index.json").is_file(), "{image}: no OCI layout in {}: {err}", out.display());
            assert!(out.join(format!("{image}.tar")).is_file(), "{image}: no docker-archive: {err}");
            // The second run finds the images unchanged (build::memo) and says so, per image too.
            let verb = if i == 0 { "Assembling" } else { "Unchanged" };
            assert!(err.contains(&format!("  {verb} {image} (linux/amd64)")), "{image} unattributed: {err}");
        }
        let table = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            table.lines().filter(|l| IMAGES.iter().any(|i| l.starts_with(&format!("{i} ")))).count(),
            4,
            "{table}"
        );
        for needle in [
            "error: nothing was loaded into Docker",
            &format!("no engine answers at {host}"),
            "dockerd",
            "systemctl start docker",
            "DOCKER_HOST",
            &format!("written to {}", out.display()),
        ] {
            assert!(err.contains(needle), "DOCKER_HOST={host}: the message does not say {needle:?}:\n{err}");
        }
        assert!(!err.contains("Loaded"), "{err}");
    }
}
