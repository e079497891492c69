//! `lucid verify` on a corpus of images written with lucid's own writer: the good image passes
//! every static check; each bad one fails exactly the check that should catch it and no other;
//! broken archives end in a clear error (exit 2) that names what is broken; a bad reference or
//! structure-test file is a usage error (exit 3).

#[path = "support/registry.rs"]
mod registry;
mod support;
#[path = "support/verify_images.rs"]
mod verify_images;

use std::collections::BTreeSet;
use std::path::Path;

use support::lucid;
use verify_images::{corpus, good_config, good_tree, raw_layer, raw_tar, write};

/// Runs `lucid verify REF --no-runtime --format json` (plus `extra`) and returns the exit code
/// and the IDs of failed checks.
fn verify(reference: &str, extra: &[&str]) -> (i32, BTreeSet<String>, String) {
    let mut cmd = lucid();
    // Run away from the repository so its spec and .lucidignore do not apply.
    cmd.current_dir(std::env::temp_dir()).args(["verify", reference, "--no-runtime", "--format", "json"]);
    if !extra.contains(&"--ignore-file") {
        cmd.args(["--ignore-file", "/nonexistent/.lucidignore"]);
    }
    let out = cmd.args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    if code >= 2 {
        return (code, BTreeSet::new(), stderr);
    }
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let failed = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    (code, failed, stdout)
}

fn layout_ref(dir: &Path) -> String {
    format!("oci:{}:latest", dir.join("layout").display())
}

#[test]
fn the_good_image_passes_every_static_check_from_both_sources() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &good_tree(), None, good_config());
    for r in [layout_ref(dir.path()), format!("docker-archive:{}", dir.path().join("image.tar").display())] {
        let (code, failed, out) = verify(&r, &["--fail-on", "info"]);
        assert_eq!((code, failed.len()), (0, 0), "{r}: {failed:?}\n{out}");
        // The default table says so too.
        let text = lucid().args(["verify", &r, "--no-runtime"]).output().unwrap();
        let shown = String::from_utf8_lossy(&text.stdout);
        assert!(text.status.success() && shown.contains(" 0 failed"), "{shown}");
    }
}

#[test]
fn each_bad_image_fails_exactly_its_check() {
    let mut wrong = Vec::new();
    for bad in corpus() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &bad.tree, bad.upper.as_ref(), bad.config.clone());
        let expect: BTreeSet<String> = [bad.expect.to_string()].into();
        for r in [layout_ref(dir.path()), format!("docker-archive:{}", dir.path().join("image.tar").display())] {
            let (code, failed, _) = verify(&r, &["--fail-on", "info"]);
            if code != 1 || failed != expect {
                wrong.push(format!(
                    "{} via {}: exit {code}, failed {failed:?}, expected {expect:?}",
                    bad.name,
                    &r[..4]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn stage_ignores_and_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let bad = corpus().into_iter().find(|b| b.name == "shell").unwrap();
    write(dir.path(), &bad.tree, None, bad.config.clone());
    let r = layout_ref(dir.path());
    // A build-stage image may have a shell.
    let (code, failed, _) = verify(&r, &["--stage", "build-stage"]);
    assert_eq!((code, failed.len()), (0, 0), "{failed:?}");
    // Ignored: shown, not counted.
    let (code, failed, out) = verify(&r, &["--ignore", "LUCID-SHELL-001"]);
    assert_eq!(code, 0, "{out}");
    assert!(failed.contains("LUCID-SHELL-001") && out.contains("\"ignored\": true"), "{out}");
    // A .lucidignore does the same.
    let ignore = dir.path().join(".lucidignore");
    std::fs::write(&ignore, "# accepted for this test\nLUCID-SHELL-001\n").unwrap();
    let (code, _, _) = verify(&r, &["--ignore-file", ignore.to_str().unwrap()]);
    assert_eq!(code, 0);
    // A warning fails only with --fail-on warning.
    let mut cfg = good_config();
    cfg.labels.remove("org.opencontainers.image.licenses");
    let d2 = tempfile::tempdir().unwrap();
    write(d2.path(), &good_tree(), None, cfg);
    let r2 = layout_ref(d2.path());
    assert_eq!(verify(&r2, &[]).0, 0);
    let (code, failed, _) = verify(&r2, &["--fail-on", "warning"]);
    assert_eq!((code, failed), (1, ["LUCID-META-001".to_string()].into()));
    // --max-size overrides the label's budget.
    let (code, failed, _) = verify(&r2, &["--max-size", "100B"]);
    assert_eq!((code, failed), (1, ["LUCID-META-001".to_string(), "LUCID-SIZE-001".to_string()].into()));
}

#[test]
fn broken_images_end_in_clear_errors() {
    // A hostile tar entry `../x`.
    let dir = tempfile::tempdir().unwrap();
    let evil = raw_layer(&dir.path().join("blobs-src"), &raw_tar("../x", b"escape"));
    let img = lucid::oci::assemble(good_config(), vec![evil]).unwrap();
    lucid::oci::layout::write_layout(&dir.path().join("layout"), &[(&img, vec!["latest".into()])]).unwrap();
    let (code, _, err) = verify(&layout_ref(dir.path()), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"../x\"") && err.contains("layer 1") && err.contains("sha256:"), "{err}");

    // A corrupt gzip layer (its digest updated, so the damage is found by decompression).
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs-src");
    let mut layer = lucid::oci::write_layer(&good_tree(), 0, &blobs).unwrap();
    let mut data = std::fs::read(&layer.path).unwrap();
    let mid = data.len() / 2;
    for b in &mut data[mid..mid + 16] {
        *b ^= 0x5a;
    }
    std::fs::remove_file(&layer.path).unwrap();
    layer.digest = lucid::oci::digest_of(&data);
    layer.size = data.len() as u64;
    layer.path = blobs.join("corrupt.tar.gz");
    std::fs::write(&layer.path, &data).unwrap();
    let img = lucid::oci::assemble(good_config(), vec![layer.clone()]).unwrap();
    lucid::oci::layout::write_layout(&dir.path().join("layout"), &[(&img, vec!["latest".into()])]).unwrap();
    let (code, _, err) = verify(&layout_ref(dir.path()), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&layer.digest) && err.contains("layer 1"), "{err}");

    // A truncated docker-archive.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &good_tree(), None, good_config());
    let tar = dir.path().join("image.tar");
    let len = std::fs::metadata(&tar).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&tar).unwrap();
    f.set_len(len * 2 / 3).unwrap();
    let (code, _, err) = verify(&format!("docker-archive:{}", tar.display()), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&tar.display().to_string()), "{err}");

    // Missing things are named.
    let (code, _, err) = verify("oci:/nonexistent/layout:latest", &[]);
    assert!(code == 2 && err.contains("/nonexistent/layout/index.json"), "{err}");
    let (code, _, err) = verify("docker://python:3.11", &[]);
    // A reference that names no registry host is a usage error, not an unreadable image.
    assert!(code == 3 && err.contains("not a registry host"), "{err}");
}

#[test]
fn every_format_is_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let bad = corpus().into_iter().find(|b| b.name == "setuid").unwrap();
    write(dir.path(), &bad.tree, None, bad.config);
    let r = layout_ref(dir.path());
    for (fmt, needle) in [
        ("text", "LUCID-FILE-001"),
        ("json", "\"LUCID-FILE-001\""),
        ("junit", "<failure"),
        ("sarif", "\"ruleId\": \"LUCID-FILE-001\""),
        ("markdown", "| ❌ | LUCID-FILE-001"),
    ] {
        let out = dir.path().join(format!("report.{fmt}"));
        let run = lucid().args(["verify", &r, "--no-runtime", "--format", fmt, "-o"]).arg(&out).output().unwrap();
        assert_eq!(run.status.code(), Some(1), "{fmt}: {}", String::from_utf8_lossy(&run.stderr));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(needle), "{fmt}: {text}");
        assert!(text.contains("/usr/bin/su"), "{fmt}: {text}");
    }
    let list = lucid().args(["verify", "--list-checks"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for c in lucid::verify::catalogue::CHECKS {
        assert!(list.contains(c.id), "{}", c.id);
    }
}

/// A multi-arch layout: amd64 and arm64 images of the good tree under one index tag.
fn multiarch(dir: &Path, arm_arch_in_config: &str) -> String {
    let blobs = dir.join("blobs-src");
    let amd =
        lucid::oci::assemble(good_config(), vec![lucid::oci::write_layer(&good_tree(), 0, &blobs).unwrap()]).unwrap();
    let mut arm_cfg = good_config();
    arm_cfg.platform = lucid::platform::Platform::parse("linux/arm64").unwrap();
    let mut arm = lucid::oci::assemble(arm_cfg, amd.layers.clone()).unwrap();
    if arm_arch_in_config != "arm64" {
        // The index says arm64; the config it points at says otherwise.
        let mut cfg = arm.config.clone();
        cfg.platform.arch = arm_arch_in_config.into();
        let lying = lucid::oci::assemble(cfg, amd.layers.clone()).unwrap();
        arm = lucid::oci::BuiltImage { config: arm.config.clone(), ..lying };
    }
    lucid::oci::layout::write_multiarch_layout(&dir.join("layout"), &[&amd, &arm], &["latest".into()]).unwrap();
    layout_ref(dir)
}

#[test]
fn every_platform_of_an_index_is_checked_from_a_layout_and_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let r = multiarch(dir.path(), "arm64");
    let (code, failed, out) = verify(&r, &["--fail-on", "info"]);
    assert_eq!((code, failed.len()), (0, 0), "{out}");
    for p in ["(linux/amd64)", "(linux/arm64/v8)"] {
        assert!(out.contains(p), "{p} not checked: {out}");
    }
    // The same through a loopback registry (skopeo copy --all keeps the index).
    support::require_tool("skopeo");
    let reg = registry::Registry::start();
    let pushed = reg.push(&r, "corpus/multi:latest");
    let (code, failed, out) = verify(&pushed, &["--fail-on", "info"]);
    assert_eq!((code, failed.len()), (0, 0), "{out}");
    assert!(out.contains("(linux/arm64/v8)") && out.contains("(linux/amd64)"), "{out}");

    // An index entry whose config names another architecture.
    let dir = tempfile::tempdir().unwrap();
    let r = multiarch(dir.path(), "s390x");
    let (code, failed, out) = verify(&r, &[]);
    assert_eq!((code, failed), (1, ["LUCID-META-003".to_string()].into()), "{out}");
}

#[test]
fn whiteouts_shape_the_final_filesystem_seen_by_structure_tests() {
    // Upper layer: an opaque /usr/share/app (hides README from below) with a new file, and a
    // whiteout of /usr/bin/app.
    let mut upper = lucid::rootfs::Tree::new();
    upper.insert("usr/share/app/.wh..wh..opq", lucid::rootfs::Entry::file(Vec::new(), 0o644)).unwrap();
    upper.insert("usr/share/app/NEW", lucid::rootfs::Entry::file(b"new\n".to_vec(), 0o644)).unwrap();
    upper.insert("usr/bin/.wh.app", lucid::rootfs::Entry::file(Vec::new(), 0o644)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = good_config();
    cfg.cmd = vec!["/usr/share/app/NEW".into()];
    write(dir.path(), &good_tree(), Some(&upper), cfg);
    let cst = dir.path().join("cst.yaml");
    // `$` is the end of the file, after its newline, as container-structure-test matches.
    std::fs::write(
        &cst,
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - {name: hidden by opaque, path: /usr/share/app/README, shouldExist: false}\n  - {name: whited out, path: /usr/bin/app, shouldExist: false}\n  - {name: added, path: /usr/share/app/NEW, shouldExist: true, permissions: -rw-r--r--, uid: 0}\nfileContentTests:\n  - {name: new content, path: /usr/share/app/NEW, expectedContents: ['^new\\n$']}\nmetadataTest:\n  user: '65532:65532'\n  cmd: [/usr/share/app/NEW]\n",
    )
    .unwrap();
    let (code, failed, out) =
        verify(&layout_ref(dir.path()), &["--config", cst.to_str().unwrap(), "--fail-on", "info"]);
    assert_eq!((code, failed.len()), (0, 0), "{out}");
    assert_eq!(out.matches("\"LUCID-CST-00").count(), 5, "{out}");
    // A failing structure test is a finding of its own kind.
    std::fs::write(&cst, "schemaVersion: 2.0.0\nfileExistenceTests:\n  - {name: gone, path: /usr/bin/app}\n").unwrap();
    let (code, failed, _) = verify(&layout_ref(dir.path()), &["--config", cst.to_str().unwrap()]);
    assert_eq!((code, failed), (1, ["LUCID-CST-002".to_string()].into()));
    // A malformed file is an error naming it.
    std::fs::write(&cst, "schemaVersion: 1.0.0\n").unwrap();
    let (code, _, err) = verify(&layout_ref(dir.path()), &["--config", cst.to_str().unwrap()]);
    // A structure-test file lucid cannot use is a configuration error.
    assert!(code == 3 && err.contains("cst.yaml") && err.contains("2.0.0"), "{err}");
}

#[test]
fn a_link_over_etc_passwd_cannot_hide_a_root_user() {
    // The lower layer's /etc/passwd makes `toor` uid 65532; the upper layer replaces it with a
    // link to a file where `toor` is uid 0. The engine would follow the link and run as root, so
    // lucid must not judge the user by the file the link replaced.
    use lucid::rootfs::Entry;
    let dir = tempfile::tempdir().unwrap();
    let mut lower = good_tree();
    let harmless = "root:x:0:0:root:/root:/sbin/nologin\ntoor:x:65532:65532::/home/nonroot:/sbin/nologin\n";
    lower.insert("etc/passwd", Entry::file(harmless.as_bytes().to_vec(), 0o644)).unwrap();
    let mut upper = lucid::rootfs::Tree::new();
    let rooted = "root:x:0:0:root:/root:/sbin/nologin\ntoor:x:0:0::/root:/sbin/nologin\n";
    upper.insert("etc/passwd.real", Entry::file(rooted.as_bytes().to_vec(), 0o644)).unwrap();
    upper.insert("etc/passwd", Entry::symlink("passwd.real")).unwrap();
    let mut config = good_config();
    config.user = "toor".into();
    write(dir.path(), &lower, Some(&upper), config);
    let (code, failed, out) = verify(&layout_ref(dir.path()), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(failed.contains("LUCID-USER-001"), "the user check passed on a passwd the image no longer has: {out}");
}
