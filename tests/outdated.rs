//! `lucid outdated` and `lucid lock --upgrade` against a signed repository served on loopback:
//! a point release alone is listed and exits 0; a security update of a locked package is marked
//! and exits 1 (the weekly job's signal); after `lock --upgrade` nothing is pending.

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::path::Path;
use std::process::Output;

use support::debrepo::{Hostile, TestPackage, TestRepo, pkg};
use support::lucid;

fn hello(version: &str) -> TestPackage {
    pkg("hello", version).depends("libfoo (>= 1.2)").file("usr/bin/hello", b"#!hello\n", 0o755)
}

fn libfoo(version: &str) -> TestPackage {
    pkg("libfoo", version).file("usr/lib/x86_64-linux-gnu/libfoo.so.1", version.as_bytes(), 0o644)
}

fn run(repo: &TestRepo, dir: &Path, args: &[&str]) -> Output {
    lucid()
        .env("LUCID_DEBIAN_MIRROR", &repo.url)
        .env("LUCID_DEBIAN_SECURITY_MIRROR", &repo.url)
        .env("LUCID_CACHE", dir.join("cache"))
        .args(args)
        .arg("-f")
        .arg(dir.join("build-args.yml"))
        .output()
        .unwrap()
}

/// A spec of one image, `tiny` (`hello` and its library), from `repo`'s two suites.
fn write_spec(repo: &TestRepo, dir: &Path) {
    let spec = format!(
        "version: 1\n\
         debian:\n  suites: [bookworm, bookworm-security]\n  keyring: {}\n\
         platforms: [linux/amd64]\n\
         tags: [latest]\n\
         user: {{name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}}\n\
         images:\n  tiny:\n    stage: runtime-stage\n    budget: 1MB\n    packages: [hello]\n    cmd: [/usr/bin/hello]\n",
        repo.keyring.display()
    );
    std::fs::write(dir.join("build-args.yml"), spec).unwrap();
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn security_updates_are_named_and_fail_until_the_lock_takes_them() {
    let mut repo = TestRepo::build(
        &[("bookworm", vec![hello("1.0-1"), libfoo("1.2-3")]), ("bookworm-security", vec![pkg("unrelated", "1")])],
        Hostile::default(),
    );
    let dir = tempfile::tempdir().unwrap();
    write_spec(&repo, dir.path());

    // No lock yet: nothing to compare, a configuration error.
    let o = run(&repo, dir.path(), &["outdated"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("lucid lock"), "{}", text(&o));

    let o = run(&repo, dir.path(), &["lock"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&repo, dir.path(), &["outdated"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("the lock is current"), "{}", text(&o));

    // A point release of hello: listed, not a security update, exit 0 (1 with --fail-on any).
    repo.publish("bookworm", &[hello("1.0-2"), libfoo("1.2-3")]);
    let o = run(&repo, dir.path(), &["outdated"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let line = String::from_utf8_lossy(&o.stdout).lines().find(|l| l.starts_with("hello")).map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("hello not listed:\n{}", text(&o)));
    assert!(line.contains("1.0-1") && line.contains("1.0-2") && line.contains("tiny (linux/amd64)"), "{line}");
    let o = run(&repo, dir.path(), &["outdated", "--fail-on", "any"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // A security update of libfoo: marked, exit 1; JSON and Markdown say the same.
    repo.publish("bookworm-security", &[pkg("unrelated", "1"), libfoo("1.2-3+deb12u1")]);
    let o = run(&repo, dir.path(), &["outdated", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let updates = v["updates"].as_array().unwrap();
    let foo = updates.iter().find(|u| u["package"] == "libfoo").unwrap_or_else(|| panic!("{v}"));
    assert_eq!(foo["old"], "1.2-3");
    assert_eq!(foo["new"], "1.2-3+deb12u1");
    assert_eq!(foo["suite"], "bookworm-security");
    assert_eq!(foo["security"], true);
    assert_eq!(foo["affected"][0], "tiny (linux/amd64)");
    let hello = updates.iter().find(|u| u["package"] == "hello").unwrap();
    assert_eq!(hello["security"], false);
    let o = run(&repo, dir.path(), &["outdated", "--format", "markdown"]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("| `libfoo` | 1.2-3 | 1.2-3+deb12u1 | bookworm-security | **yes** |"),
        "{}",
        text(&o)
    );

    // The lock is untouched by outdated; lock --upgrade applies both and prints them.
    let lock = std::fs::read_to_string(dir.path().join("build-args.lock")).unwrap();
    assert!(lock.contains("\"1.2-3\"") && !lock.contains("deb12u1"), "outdated changed the lock");
    let o = run(&repo, dir.path(), &["lock", "--upgrade"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(table.contains("libfoo") && table.contains("1.2-3+deb12u1") && table.contains("yes"), "{table}");
    assert!(std::fs::read_to_string(dir.path().join("build-args.lock")).unwrap().contains("1.2-3+deb12u1"));
    let o = run(&repo, dir.path(), &["outdated", "--fail-on", "any"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A build writes what changed since the previous build into the same output directory beside
/// its outputs, and `--push` attaches it to the pushed manifest.
#[test]
fn a_build_says_what_changed_since_the_previous_one() {
    let mut repo = TestRepo::build(
        &[("bookworm", vec![hello("1.0-1"), libfoo("1.2-3")]), ("bookworm-security", vec![pkg("unrelated", "1")])],
        Hostile::default(),
    );
    let dir = tempfile::tempdir().unwrap();
    write_spec(&repo, dir.path());
    let out = dir.path().join("out");
    let build = |repo: &TestRepo, extra: &[&str]| {
        let mut args = vec!["build", "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = run(repo, dir.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("tiny.changes.json")).unwrap()).unwrap();
        let md = std::fs::read_to_string(out.join("tiny.changes.md")).unwrap();
        (json, md, text(&o))
    };
    let (first, md, _) = build(&repo, &[]);
    assert!(first["previous"].is_null() && first["updates"].as_array().unwrap().is_empty(), "{first}");
    assert!(md.contains("first build"), "{md}");

    // Nothing changed: the same digest, no updates.
    let (same, md, _) = build(&repo, &[]);
    assert_eq!(same["digest"], first["digest"]);
    assert_eq!(same["previous"], first["digest"]);
    assert!(md.contains("no package or wheel changed"), "{md}");

    // A security update taken into the lock: the next build names it, marked, with both versions.
    repo.publish("bookworm-security", &[pkg("unrelated", "1"), libfoo("1.2-3+deb12u1")]);
    let o = run(&repo, dir.path(), &["lock", "--upgrade"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reg = registry::Registry::start();
    let tag = format!("{}/lucid/tiny:latest", reg.addr);
    let (changed, md, said) = build(&repo, &["--push", "-t", &tag]);
    assert_ne!(changed["digest"], first["digest"]);
    assert_eq!(changed["previous"], first["digest"]);
    let updates = changed["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1, "{changed}");
    assert_eq!(updates[0]["package"], "libfoo");
    assert_eq!(updates[0]["old"], "1.2-3");
    assert_eq!(updates[0]["new"], "1.2-3+deb12u1");
    assert_eq!(updates[0]["security"], true);
    assert!(md.contains("| deb | `libfoo` | 1.2-3 | 1.2-3+deb12u1 | bookworm-security | **yes** |"), "{md}");
    assert!(said.contains("1 security update(s) since the previous build"), "{said}");

    // In the registry: the changelog is attached to the pushed manifest's digest.
    let digest = changed["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let copy = dir.path().join("changelog");
    let o = std::process::Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(format!("docker://{}/lucid/tiny:sha256-{digest}.changelog", reg.addr))
        .arg(format!("oci:{}:changelog", copy.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "no changelog attached: {}", text(&o));
    let blobs: Vec<String> = std::fs::read_dir(copy.join("blobs/sha256"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(blobs.iter().any(|b| b.contains("1.2-3+deb12u1") && b.contains("\"security\": true")), "{blobs:?}");
}

/// Rebuilding the past (docs/supply-chain.md): a lock taken from an earlier git commit builds the
/// digest that commit's build recorded, after the mirror has dropped the superseded security
/// update that lock names. Without the packages the build fails naming the missing package and
/// the way out; with the registry cache the first build wrote, it builds the same digest.
#[test]
fn an_earlier_lock_from_git_rebuilds_its_recorded_digest() {
    let mut repo = TestRepo::build(
        &[("bookworm", vec![hello("1.0-1"), libfoo("1.2-3")]), ("bookworm-security", vec![libfoo("1.2-3+deb12u1")])],
        Hostile::default(),
    );
    let dir = tempfile::tempdir().unwrap();
    write_spec(&repo, dir.path());
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
            .args(["-c", "user.name=lucid-test", "-c", "user.email=test@invalid", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let reg = registry::Registry::start();
    let cache = format!("type=registry,ref={}/lucid/cache", reg.addr);
    let digest_in = |out: &Path| -> String {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("tiny.changes.json")).unwrap()).unwrap();
        json["digest"].as_str().unwrap().to_string()
    };

    // This week's build: lock, build (writing the registry cache), commit the lock.
    let o = run(&repo, dir.path(), &["lock"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(std::fs::read_to_string(dir.path().join("build-args.lock")).unwrap().contains("1.2-3+deb12u1"));
    let out1 = dir.path().join("out1");
    let o = run(&repo, dir.path(), &["build", "--locked", "--cache-to", &cache, "-o", out1.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let old_digest = digest_in(&out1);
    git(&["init", "-q"]);
    git(&["add", "build-args.yml", "build-args.lock"]);
    git(&["commit", "-q", "-m", "week 1"]);
    let week1 = git(&["rev-parse", "HEAD"]);

    // Next week: a new security update replaces the old one on the mirror (Debian's security
    // suite keeps only the newest version); the lock takes it and the image changes.
    repo.publish("bookworm-security", &[libfoo("1.2-3+deb12u2")]);
    repo.remove(&libfoo("1.2-3+deb12u1"));
    let o = run(&repo, dir.path(), &["lock", "--upgrade"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out2 = dir.path().join("out2");
    let o = run(&repo, dir.path(), &["build", "--locked", "-o", out2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_ne!(digest_in(&out2), old_digest);
    git(&["commit", "-q", "-am", "week 2"]);

    // Roll back: week 1's lock, on a runner with an empty cache.
    git(&["checkout", "-q", &week1, "--", "build-args.lock"]);
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    let out3 = dir.path().join("out3");
    let o = run(&repo, dir.path(), &["build", "--locked", "-o", out3.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("libfoo 1.2-3+deb12u1") && said.contains("--cache-from"), "{said}");
    assert!(!out3.join("tiny.changes.json").exists(), "a failed build left outputs");

    let o = run(&repo, dir.path(), &["build", "--locked", "--cache-from", &cache, "-o", out3.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(digest_in(&out3), old_digest, "week 1's lock did not rebuild week 1's image");
}
