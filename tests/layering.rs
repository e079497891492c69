//! Layering for updates (build::layering) and `lucid diff --pull-cost`, measured on real builds:
//! a hermetic repository whose four images share one package, updated between two builds, and
//! the spec's own images.

mod support;

use std::path::Path;

use serde_json::Value;
use support::debrepo::{Hostile, TestRepo, pkg, serve};
use support::hermetic::{self, Project, stderr};
use support::lucid;

/// `lucid diff --pull-cost --format json OLD NEW` (comma-separated sides), parsed.
fn pull_cost(old: &str, new: &str, extra: &[&str]) -> Vec<Value> {
    let o =
        lucid().args(["diff", "-q", "--pull-cost", "--format", "json"]).args(extra).args([old, new]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn refs(out: &Path) -> String {
    hermetic::IMAGES.iter().map(|i| format!("oci:{}/{i}:latest", out.display())).collect::<Vec<_>>().join(",")
}

/// The hermetic packages, with `base` at `version` holding a library made from `seed`.
fn repo_with_base(version: &str, seed: u64) -> TestRepo {
    let mut packages = hermetic::packages(256 << 10);
    packages[0] = pkg("base", version)
        .file("usr/lib/x86_64-linux-gnu/libbase.so.1", &hermetic::payload(seed, 512 << 10), 0o644)
        .file("usr/share/doc/base/copyright", b"MIT", 0o644)
        .symlink("usr/lib/x86_64-linux-gnu/libbase.so", "libbase.so.1");
    TestRepo::build(&[("bookworm", packages)], Hostile::default())
}

/// Builds the four hermetic images with `layers` against `repo` into `out` (a fresh lock each),
/// dated by the lock as a user's build is (no SOURCE_DATE_EPOCH); returns the lock's epoch.
fn build(p: &Project, repo: &TestRepo, layers: usize, out: &Path) -> i64 {
    std::fs::write(p.spec(), format!("layers: {layers}\n{}", hermetic::spec_text(&repo.keyring))).unwrap();
    let _ = std::fs::remove_file(p.path("build-args.lock"));
    let o = p
        .build_cmd(&serve(repo.root.clone()), &p.path("cache"), out, &hermetic::IMAGES)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lock: Value = serde_json::from_slice(&std::fs::read(p.path("build-args.lock")).unwrap()).unwrap();
    lock["source_date_epoch"].as_i64().unwrap()
}

/// One package updated under four images, re-locked as a user would (the lock's epoch moves):
/// with layering the node pulls that package's one layer (shared by the four) and the new configs
/// and manifests; with one system layer per image it pulls four layers, each holding the package.
#[test]
fn a_package_update_pulls_one_shared_layer() {
    let before = repo_with_base("1.0-1", 7);
    // The update's Release file is dated later, so the re-lock moves the epoch, as a real one
    // does: the layers must not change with it (build::FILE_MTIME).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let after = repo_with_base("1.0-2", 8);
    let p = Project::new(&before);
    for layers in [24, 1] {
        let (old, new) = (p.path(&format!("old-{layers}")), p.path(&format!("new-{layers}")));
        let epochs = (build(&p, &before, layers, &old), build(&p, &after, layers, &new));
        assert!(epochs.0 < epochs.1, "the update's lock is not dated later: {epochs:?}");
        let costs = pull_cost(&refs(&old), &refs(&new), &[]);
        assert_eq!(costs.len(), 1, "one platform: {costs:?}");
        let c = &costs[0];
        let pulled = c["layers"].as_array().unwrap();
        assert_eq!(c["wanted"].as_array().unwrap().len(), 4);
        assert!(c["metadata_bytes"].as_u64().unwrap() > 0, "new configs and manifests: {c}");
        let layer_bytes = c["layer_bytes"].as_u64().unwrap();
        if layers == 24 {
            assert_eq!(pulled.len(), 1, "only the updated package's layer: {c:#}");
            assert!(pulled[0]["created_by"].as_str().unwrap().contains("Debian package base 1.0-2"), "{c:#}");
            assert_eq!(pulled[0]["images"].as_array().unwrap().len(), 4, "one blob for the four images: {c:#}");
            // Noise does not compress: the library alone is most of what is pulled.
            assert!(layer_bytes > 512 << 10 && layer_bytes < 600 << 10, "{c:#}");
            assert_eq!(c["held_layers"].as_u64().unwrap(), 5, "4 payload packages and the builder's files: {c:#}");
        } else {
            assert_eq!(pulled.len(), 4, "each image's system layer: {c:#}");
            assert!(layer_bytes > 4 * (512 << 10), "{c:#}");
        }
        // Nothing changed, nothing to pull.
        let same = pull_cost(&refs(&new), &refs(&new), &[]);
        assert_eq!(same[0]["pull_bytes"], 0, "{:#}", same[0]);
        // A new node pulls every distinct layer once: with layering, the shared package once.
        let fresh = pull_cost("scratch", &refs(&new), &[]);
        let expect = if layers == 24 { 4 + 1 + 1 } else { 4 };
        assert_eq!(fresh[0]["layers"].as_array().unwrap().len(), expect, "{:#}", fresh[0]);
    }
}

/// The spec's own images: libc6, tzdata, libstdc++6 and ca-certificates are one blob for all four
/// images of a platform, and a node holding lucid-python-base pulls only what lucid-python-build
/// adds.
#[test]
fn the_spec_images_share_their_common_packages() {
    let (out, _) = support::spec_build();
    let all = support::SPEC_IMAGES
        .iter()
        .map(|i| format!("oci:{}/{}:latest", out.display(), support::out_name(i)))
        .collect::<Vec<_>>()
        .join(",");
    let costs = pull_cost("scratch", &all, &[]);
    assert_eq!(costs.len(), 2, "both platforms: {costs:?}");
    for c in &costs {
        for package in [
            "Debian package libc6 ",
            "Debian package tzdata ",
            "Debian package libstdc++6 ",
            "Debian package ca-certificates ",
        ] {
            let layers: Vec<&Value> = c["layers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["created_by"].as_str().unwrap().contains(package))
                .collect();
            assert_eq!(layers.len(), 1, "{package} in one layer on {}: {layers:?}", c["platform"]);
            assert_eq!(layers[0]["images"].as_array().unwrap().len(), 4, "{layers:?}");
        }
    }
    let base = format!("oci:{}/lucid-python-base:latest", out.display());
    let build = format!("oci:{}/lucid-python-build:latest", out.display());
    let c = &pull_cost(&base, &build, &["--platform", "linux/amd64"])[0];
    assert_eq!(c["platform"], "linux/amd64");
    assert!(c["held_layers"].as_u64().unwrap() >= 10, "{c:#}");
    assert!(c["pull_bytes"].as_u64().unwrap() < c["total_bytes"].as_u64().unwrap() / 2, "{c:#}");
    // A docker-archive has no manifest, so not the blobs a registry serves: refused.
    let o = lucid()
        .args([
            "diff",
            "--pull-cost",
            "scratch",
            &format!("docker-archive:{}", out.join("lucid-python-base.tar").display()),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no image manifest"), "{}", stderr(&o));
}
