//! The supply chain under attack, for real: a loopback mirror replaying an older, validly signed
//! Release; a keyring swapped at its host path; a lock edited to install another wheel; a wheel
//! that overwrites a file a Debian package owns. Each ends in a clear error and no image.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::debrepo::{Hostile, TestRepo, keyring_of, pkg};
use support::hermetic::stderr;
use support::wheels::{Index, sha256, wheel};

/// A project directory: a spec over a test repository, its cache, its outputs.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// `extra_debian` goes into the spec's `debian:` block; `python` (a flow mapping) makes the
    /// image a Python image with `requirements` written beside the spec.
    fn new(keyring: &Path, extra_debian: &str, python: Option<(&str, &str)>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = format!(
            "version: 1\n\
             debian:\n  suites: [bookworm]\n  keyring: {}\n{extra_debian}\
             platforms: [linux/amd64]\n\
             tags: [latest]\n\
             user: {{name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}}\n\
             images:\n  app:\n    stage: runtime-stage\n    packages: [victim]\n    cmd: [/usr/bin/victim]\n",
            keyring.display()
        );
        if let Some((python, requirements)) = python {
            spec.push_str(&format!("    python: {python}\n"));
            std::fs::write(dir.path().join("requirements.txt"), requirements).unwrap();
        }
        std::fs::write(dir.path().join("build-args.yml"), spec).unwrap();
        Project { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn lucid(&self, mirror: &str, cache: &Path, index: Option<&str>) -> Command {
        let mut c = support::lucid();
        c.env("LUCID_DEBIAN_MIRROR", mirror).env("LUCID_CACHE", cache).env("LUCID_HTTP_BACKOFF_MS", "20");
        if let Some(index) = index {
            c.env("LUCID_INDEX_URL", index);
        }
        c
    }

    fn lock(&self, mirror: &str, cache: &Path, index: Option<&str>, extra: &[&str]) -> Output {
        self.lucid(mirror, cache, index)
            .arg("lock")
            .arg("-f")
            .arg(self.path("build-args.yml"))
            .args(extra)
            .output()
            .unwrap()
    }

    fn build(&self, mirror: &str, cache: &Path, index: Option<&str>, extra: &[&str]) -> Output {
        self.lucid(mirror, cache, index)
            .arg("build")
            .arg("-f")
            .arg(self.path("build-args.yml"))
            .arg("-o")
            .arg(self.path("out"))
            .args(extra)
            .arg("app")
            .output()
            .unwrap()
    }

    fn lock_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("build-args.lock")).unwrap()).unwrap()
    }

    fn write_lock(&self, v: &serde_json::Value) {
        std::fs::write(self.path("build-args.lock"), serde_json::to_string_pretty(v).unwrap()).unwrap();
    }
}

/// The package every image here installs: a program and a Python module Debian owns.
fn repo(hostile: Hostile) -> TestRepo {
    TestRepo::build(
        &[(
            "bookworm",
            vec![pkg("victim", "1.0-1").file("usr/bin/victim", b"#!/bin/sh\necho debian\n", 0o755).file(
                "usr/lib/python3/dist-packages/victim.py",
                b"ORIGIN = 'debian'\n",
                0o644,
            )],
        )],
        hostile,
    )
}

fn rfc3339(t: i64) -> String {
    lucid::debian::release::fmt_time(t)
}

#[test]
fn a_replayed_older_release_is_refused_against_the_lock_and_the_cache() {
    let repo = repo(Hostile::default());
    let p = Project::new(&repo.keyring, "", None);
    let cache = p.path("cache");
    let o = p.lock(&repo.url, &cache, None, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = p.lock_json();
    let locked_date = lock["releases"]["bookworm"]["date"].as_i64().expect("the lock records the Release Date");
    assert_eq!(lock["releases"]["bookworm"]["signer"], repo.fingerprint());

    // The mirror now serves the archive's own Release of two days earlier, validly signed and
    // within its Valid-Until: only its Date gives it away.
    let older = locked_date - 2 * 86400;
    repo.redate("bookworm", older);
    let o = p.lock(&repo.url, &p.path("fresh-cache"), None, &[]);
    let e = stderr(&o);
    assert!(!o.status.success(), "a replayed Release was accepted:\n{e}");
    assert!(
        e.contains("replayed Release")
            && e.contains("suite bookworm")
            && e.contains(&rfc3339(older))
            && e.contains(&rfc3339(locked_date))
            && e.contains(&p.path("build-args.lock").display().to_string())
            && e.contains("LUCID_DEBIAN_MIRROR"),
        "{e}"
    );
    assert_eq!(p.lock_json(), lock, "the lock must be left as it was");

    // A project with no lock yet, sharing the cache that saw the newer Release.
    let q = Project::new(&repo.keyring, "", None);
    let o = q.build(&repo.url, &cache, None, &[]);
    let e = stderr(&o);
    assert!(!o.status.success(), "a replayed Release was accepted by a cache that saw a newer one:\n{e}");
    assert!(
        e.contains("replayed Release")
            && e.contains("this cache has already seen")
            && e.contains(&rfc3339(older))
            && e.contains(&rfc3339(locked_date)),
        "{e}"
    );
    assert!(!q.path("build-args.lock").exists() && !q.path("out/app").exists());

    // The archive moves on: a newer Release is accepted again, and the image says which.
    repo.redate("bookworm", locked_date + 60);
    let o = q.build(&repo.url, &cache, None, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        config_label(&q.path("out/app"), "dev.lucid.debian.releases"),
        format!("bookworm {} {}", rfc3339(locked_date + 60), repo.fingerprint())
    );
}

/// A label of the (single) image in the OCI layout `dir`.
fn config_label(dir: &Path, label: &str) -> String {
    let json = |digest: &str| -> serde_json::Value {
        let hex = digest.trim_start_matches("sha256:");
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap()).unwrap()
    };
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest = json(index["manifests"][0]["digest"].as_str().unwrap());
    let config = json(manifest["config"]["digest"].as_str().unwrap());
    config["config"]["Labels"][label].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_keyring_without_the_pinned_signer_is_refused() {
    // The mirror signs with the attacker's key, and the attacker's key is what lies at the
    // keyring's host path: without a pin, every signature checks out.
    let repo = repo(Hostile { foreign_signer: true, ..Hostile::default() });
    let archive_fpr = repo.keyring_fingerprint();
    let swapped = tempfile::tempdir().unwrap();
    let keyring = swapped.path().join("debian-archive-keyring.gpg");
    std::fs::write(&keyring, keyring_of(&repo.signer)).unwrap();
    let p = Project::new(&keyring, &format!("  signers: [\"{archive_fpr}\"]\n"), None);
    let o = p.build(&repo.url, &p.path("cache"), None, &[]);
    let e = stderr(&o);
    assert!(!o.status.success(), "a swapped keyring was accepted:\n{e}");
    assert!(
        e.contains("holds none of the signer keys the spec pins")
            && e.contains(&archive_fpr)
            && e.contains(&repo.fingerprint())
            && e.contains(&keyring.display().to_string()),
        "{e}"
    );
    assert!(!p.path("out/app").exists());

    // The right keyring, pinned (written with spaces and in lower case, as people copy them):
    // the lock records who signed.
    let good = repo_with_pin();
    let (repo, p) = (&good.0, &good.1);
    let o = p.lock(&repo.url, &p.path("cache"), None, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(p.lock_json()["releases"]["bookworm"]["signer"], repo.fingerprint());
}

fn repo_with_pin() -> (TestRepo, Project) {
    let repo = repo(Hostile::default());
    let fpr = repo.fingerprint();
    let spaced: Vec<String> = fpr.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).to_lowercase()).collect();
    let p = Project::new(&repo.keyring, &format!("  signers: [\"{}\"]\n", spaced.join(" ")), None);
    (repo, p)
}

#[test]
fn an_edited_lock_cannot_choose_the_wheels() {
    let repo = repo(Hostile::default());
    let (good_name, good) = wheel("demo", "1.0", None, &[("demo/__init__.py", b"ORIGIN = 'reviewed'\n")]);
    // The same project and version with a build tag: the index offers it, nobody pinned it.
    let (evil_name, evil) = wheel("demo", "1.0", Some("1"), &[("demo/__init__.py", b"ORIGIN = 'attacker'\n")]);
    let index = Index::serve(&[("demo", &good_name, &good), ("demo", &evil_name, &evil)]);
    let requirements = format!("demo==1.0 --hash=sha256:{}\n", sha256(&good));
    let p = Project::new(&repo.keyring, "", Some(("{requirements: requirements.txt, compile: false}", &requirements)));
    let cache = p.path("cache");
    let o = p.lock(&repo.url, &cache, Some(&index.url), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = p.lock_json();
    assert_eq!(lock["images"]["app"]["linux/amd64"]["wheels"][0]["filename"], good_name.as_str());

    // The lock now names the unpinned wheel, with its own (correct) digest.
    let mut edited = lock.clone();
    edited["images"]["app"]["linux/amd64"]["wheels"][0]["filename"] = evil_name.clone().into();
    edited["images"]["app"]["linux/amd64"]["wheels"][0]["sha256"] = sha256(&evil).into();
    p.write_lock(&edited);
    let o = p.build(&repo.url, &cache, Some(&index.url), &["--locked"]);
    let e = stderr(&o);
    assert!(!o.status.success(), "the build installed a wheel requirements.txt does not pin:\n{e}");
    assert!(
        e.contains("demo 1.0")
            && e.contains(&evil_name)
            && e.contains(&sha256(&evil))
            && e.contains(&sha256(&good))
            && e.contains("requirements.txt"),
        "{e}"
    );
    assert!(!p.path("out/app").exists());
    // `lucid lock --check` resolves again against the index and the pins, and tells.
    let o = p.lock(&repo.url, &cache, Some(&index.url), &["--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("out of date")
            && e.contains(&format!("- app (linux/amd64): wheel {evil_name} sha256:{}", sha256(&evil)))
            && e.contains(&format!("+ app (linux/amd64): wheel {good_name} sha256:{}", sha256(&good))),
        "{e}"
    );

    // A locked file name that is a path.
    let mut edited = lock.clone();
    edited["images"]["app"]["linux/amd64"]["wheels"][0]["filename"] = "../../x.whl".into();
    p.write_lock(&edited);
    let o = p.build(&repo.url, &cache, Some(&index.url), &["--locked"]);
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    assert!(e.contains("\"../../x.whl\" is not a plain wheel file name") && e.contains("build-args.lock"), "{e}");

    // The lock as made builds.
    p.write_lock(&lock);
    let o = p.build(&repo.url, &cache, Some(&index.url), &["--locked"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_wheel_never_replaces_a_file_a_debian_package_owns() {
    let repo = repo(Hostile::default());
    // With site-packages under /usr, a wheel's scripts land in /usr/bin: this one would replace
    // the Debian package's program.
    let (name, data) =
        wheel("clobber", "1.0", None, &[("clobber-1.0.data/scripts/victim", b"#!python\nprint('wheel')\n")]);
    let index = Index::serve(&[("clobber", &name, &data)]);
    let requirements = format!("clobber==1.0 --hash=sha256:{}\n", sha256(&data));
    let python = "{requirements: requirements.txt, site_packages: /usr/lib/python3/dist-packages, compile: false}";
    let p = Project::new(&repo.keyring, "", Some((python, &requirements)));
    let o = p.build(&repo.url, &p.path("cache"), Some(&index.url), &[]);
    let e = stderr(&o);
    assert!(!o.status.success(), "a wheel replaced /usr/bin/victim:\n{e}");
    assert!(
        e.contains("the wheel clobber would replace /usr/bin/victim, which the Debian package victim installed"),
        "{e}"
    );
    assert!(!p.path("out/app").exists());
}
