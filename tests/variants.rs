//! The Debian 13 variants of the repository's spec (Python 3.13, Java 21 and 25, and their build
//! stages), from the shared `lucid build --all` of the test run, checked the way the Debian 12
//! images are, each test looping over the variants rather than copying a test per image: every
//! default check of `lucid verify` on both platforms and in the engine; the merged-/usr layout
//! and its shell-less runtime images; the seed's commands on amd64 and, under qemu, arm64; a
//! rebuild to the same digests; `lucid diff` from Debian 12 to 13; `report` and `sbom`.
//!
//! Needs: a Docker engine, qemu-user-static with binfmt, skopeo, a JDK 17 (javac), the Debian
//! mirror and the package index.

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{VARIANT_IMAGES, docker, lucid, out_name, repo_root, repo_tag, require_docker, require_tool};

/// The runtime variants and their budgets in MB (the goals, as the spec sets them).
const RUNTIMES: [(&str, u32); 3] =
    [("lucid-python-base:3.13-debian13", 55), ("lucid-java-base:21-debian13", 80), ("lucid-java-base:25-debian13", 85)];

fn said(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The shared build, every variant loaded into the engine under its variant tag.
fn built() -> PathBuf {
    require_docker();
    support::spec_images(&VARIANT_IMAGES)
}

/// `oci:OUT/IMAGE:TAG` of a variant in the shared build.
fn layout(out: &Path, image: &str) -> String {
    format!("oci:{}:{}", out.join(out_name(image)).display(), repo_tag(image).1)
}

/// The engine's name of a variant: `REPO:VARIANT`.
fn engine_name(image: &str) -> String {
    let (repo, tag) = repo_tag(image);
    format!("{repo}:{tag}")
}

#[test]
fn every_variant_is_within_budget_and_tagged_with_its_versions() {
    let (_, table) = support::spec_build();
    for (image, budget) in RUNTIMES {
        let (repo, tag) = repo_tag(image);
        let major = tag.split('-').next().unwrap();
        // This variant's rows: its variant tag, and its fully specified one (MAJOR.x-debian13-DATE).
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with(&format!("{repo} ")))
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|t| t == tag || (t.starts_with(&format!("{major}.")) && t.contains("-debian13-")))
            })
            .collect();
        let own: Vec<&&str> = rows.iter().filter(|l| l.split_whitespace().nth(1) == Some(tag)).collect();
        assert_eq!(own.len(), 2, "{image}: one row per platform:\n{table}");
        for row in own {
            assert!(row.contains(&format!("{budget}.0MB ok")), "{image} over its budget: {row}");
        }
        // The fully specified tag: VERSION-debian13-YYYYMMDD, VERSION being the interpreter's or JDK's.
        let pinned = rows.iter().filter_map(|l| l.split_whitespace().nth(1)).find(|t| *t != tag);
        let pinned = pinned.unwrap_or_else(|| panic!("{image}: no fully specified tag:\n{table}"));
        let (version, rest) = pinned.split_once("-debian13-").unwrap_or_else(|| panic!("{pinned}"));
        assert!(version.starts_with(&format!("{major}.")) && version.len() > major.len() + 1, "{pinned}");
        assert!(rest.len() == 8 && rest.starts_with("20") && rest.bytes().all(|b| b.is_ascii_digit()), "{pinned}");
    }
    // The seed's images keep `latest` and gain their own variant tags.
    for (repo, tag) in [("lucid-python-base", "3.11-debian12"), ("lucid-java-base", "17-debian12")] {
        for t in ["latest", tag] {
            assert!(
                table.lines().any(|l| l.starts_with(&format!("{repo} ")) && l.split_whitespace().nth(1) == Some(t)),
                "{repo}:{t}:\n{table}"
            );
        }
    }
}

/// `lucid verify --format json ARGS`: the report, asserting exit 0 and no failed finding.
fn verify_passes(args: &[String]) -> serde_json::Value {
    let o = lucid().current_dir(repo_root()).arg("verify").args(["--format", "json"]).args(args).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", said(&o)));
    let findings = report["findings"].as_array().unwrap_or_else(|| panic!("{report:#}"));
    let failed: Vec<String> = findings
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| format!("{}: {} {}", f["subject"], f["id"], f["message"]))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    report
}

/// Every default check, runtime checks in the engine included, on both platforms of each
/// variant's layout; then the static checks from the other three sources (docker-archive, the
/// engine, a loopback registry), which read the same images another way.
#[test]
fn every_variant_passes_verify_on_both_platforms_from_every_source() {
    let out = built();
    let layouts: Vec<String> = VARIANT_IMAGES.iter().map(|i| layout(&out, i)).collect();
    let mut args = vec!["--require-runtime".to_string()];
    args.extend(layouts.iter().cloned());
    let report = verify_passes(&args);
    assert_eq!(report["subjects"].as_array().unwrap().len(), VARIANT_IMAGES.len() * 2, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    // The runtime checks ran in the engine on both platforms: the interpreter or JVM started as 65532.
    let ran = findings.iter().filter(|f| f["id"] == "LUCID-RUNTIME-001" && f["status"] == "pass").count();
    assert_eq!(ran, VARIANT_IMAGES.len() * 2, "{report:#}");

    require_tool("skopeo");
    let reg = registry::Registry::start();
    let mut args = vec!["--no-runtime".to_string()];
    for (image, layout) in VARIANT_IMAGES.iter().zip(&layouts) {
        let (repo, tag) = repo_tag(image);
        args.push(format!("docker-archive:{}", out.join(format!("{}.tar", out_name(image))).display()));
        args.push(format!("docker-daemon:{repo}:{tag}"));
        args.push(reg.push(layout, &format!("lucid/{repo}:{tag}")));
    }
    let report = verify_passes(&args);
    // The archive and the engine hold the host's platform; the registry both.
    assert_eq!(report["subjects"].as_array().unwrap().len(), VARIANT_IMAGES.len() * 4, "{report:#}");
}

#[test]
fn variants_are_merged_usr_and_the_runtime_ones_have_no_shell() {
    built();
    for image in VARIANT_IMAGES {
        let name = engine_name(image);
        let runtime = !image.contains("-build:");
        // /bin, /sbin and /lib are links into /usr, as on a Debian 13 system.
        let export = Command::new("docker").args(["create", &name, "x"]).output().unwrap();
        assert!(export.status.success(), "{}", said(&export));
        let id = String::from_utf8_lossy(&export.stdout).trim().to_string();
        let listing = Command::new("sh")
            .arg("-c")
            .arg(format!("docker export {id} | tar -tvf - bin sbin lib 2>/dev/null | cut -c1"))
            .output()
            .unwrap();
        docker(&["rm", &id]);
        let kinds = String::from_utf8_lossy(&listing.stdout);
        assert_eq!(kinds.lines().collect::<Vec<_>>(), ["l", "l", "l"], "{image}: {}", said(&listing));
        let sh = Command::new("docker")
            .args(["run", "--rm", "--entrypoint", "/bin/sh", &name, "-c", "id -u"])
            .output()
            .unwrap();
        if runtime {
            assert!(!sh.status.success(), "{image} runs /bin/sh: {}", said(&sh));
            let usr =
                Command::new("docker").args(["run", "--rm", "--entrypoint", "/usr/bin/sh", &name]).output().unwrap();
            assert!(!usr.status.success(), "{image} has /usr/bin/sh");
        } else {
            assert!(sh.status.success(), "{image}: {}", said(&sh));
            assert_eq!(String::from_utf8_lossy(&sh.stdout).trim(), "65532", "{image}");
        }
    }
}

/// The host's platform image runs in the engine; the arm64 one is copied from the layout under a
/// tag of this test's own (loading its archive would retag the shared name) and runs under qemu.
fn arm64_tag(out: &Path, image: &str) -> String {
    require_tool("skopeo");
    let tag = format!("lucid-test-variant/{}:arm64-{}", out_name(image), std::process::id());
    let run = Command::new("skopeo")
        .args(["copy", "--quiet", "--override-arch", "arm64", &layout(out, image)])
        .arg(format!("docker-daemon:{tag}"))
        .output()
        .unwrap();
    assert!(run.status.success(), "skopeo copy {image}: {}", said(&run));
    tag
}

const PYTHON_JOB: &str = "import sys, ssl, sqlite3, zoneinfo, ctypes.util, platform, psutil, requests, importlib.util\n\
assert sys.version_info[:2] == (3, 13), sys.version\n\
assert str(zoneinfo.ZoneInfo('US/Pacific')) == 'US/Pacific'\n\
assert ctypes.util.find_library('ssl'), 'no libssl'\n\
assert importlib.util.find_spec('distutils') is None\n\
assert ssl.create_default_context().cert_store_stats()['x509_ca'] > 100\n\
sqlite3.connect(':memory:').execute('select 1')\n\
print(platform.machine(), psutil.cpu_count() > 0, sys.flags.dont_write_bytecode)";

#[test]
fn seed_commands_run_on_the_variants_on_both_platforms() {
    require_tool("javac");
    let out = built();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("Hello.java"),
        "public class Hello { public static void main(String[] a) { System.out.println(\"hello \" + \
         Runtime.version().feature() + \" \" + java.time.ZoneId.of(\"US/Pacific\")); } }",
    )
    .unwrap();
    let javac = Command::new("javac")
        .args(["--release", "17", "-d"])
        .arg(work.path())
        .arg(work.path().join("Hello.java"))
        .output()
        .unwrap();
    assert!(javac.status.success(), "{}", said(&javac));
    let mount = format!("{}:/app:ro", work.path().display());
    let mut made = Vec::new();
    for (image, _) in RUNTIMES {
        for arch in ["amd64", "arm64"] {
            let name = if arch == "amd64" { engine_name(image) } else { arm64_tag(&out, image) };
            if arch == "arm64" {
                made.push(name.clone());
            }
            let base = ["run", "--rm", "--network", "none", "--read-only", "--platform", &format!("linux/{arch}")];
            let o = if image.contains("python") {
                Command::new("docker").args(base).args([&name, "python3", "-c", PYTHON_JOB]).output().unwrap()
            } else {
                Command::new("docker")
                    .args(base)
                    .args(["-v", &mount, &name, "java", "-Xshare:auto", "-cp", "/app", "Hello"])
                    .output()
                    .unwrap()
            };
            let text = said(&o);
            assert!(o.status.success(), "{image} ({arch}): {text}");
            if image.contains("python") {
                let machine = if arch == "amd64" { "x86_64" } else { "aarch64" };
                assert!(text.starts_with(&format!("{machine} True")), "{image} ({arch}): {text}");
            } else {
                let feature = repo_tag(image).1.split('-').next().unwrap();
                assert_eq!(text.trim(), format!("hello {feature} US/Pacific"), "{image} ({arch})");
            }
        }
    }
    // The CDS archive the build dumped maps on amd64.
    for image in ["lucid-java-base:21-debian13", "lucid-java-base:25-debian13"] {
        let o = Command::new("docker")
            .args(["run", "--rm", &engine_name(image), "java", "-Xshare:on", "-version"])
            .output()
            .unwrap();
        assert!(o.status.success() && said(&o).contains("sharing"), "{image}: {}", said(&o));
    }
    for tag in made {
        let _ = Command::new("docker").args(["image", "rm", &tag]).output();
    }
}

/// The index digest of a layout's first manifest.
fn index_digest(layout_dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout_dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_string()
}

/// `lucid build --distribution debian13 --locked --push` to a loopback registry: the same digests
/// as the shared build, in the registry under every tag, and nothing of Debian 12 built.
#[test]
fn variants_rebuild_to_the_same_digests_and_push_with_their_tags() {
    let out = built();
    require_tool("skopeo");
    let reg = registry::Registry::start();
    let again = tempfile::tempdir().unwrap();
    let o = lucid()
        .current_dir(repo_root())
        .args(["build", "--distribution", "debian13", "--locked", "--quiet", "--push", "--registry"])
        .arg(format!("{}/lucid", reg.addr))
        .arg("-o")
        .arg(again.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", said(&o));
    assert!(!again.path().join("lucid-python-base").exists(), "a Debian 12 image was built too");
    for image in VARIANT_IMAGES {
        let digest = index_digest(&out.join(out_name(image)));
        assert_eq!(digest, index_digest(&again.path().join(out_name(image))), "{image} rebuilt to another digest");
        let (repo, tag) = repo_tag(image);
        let listed = Command::new("skopeo")
            .args(["list-tags", "--tls-verify=false", &format!("docker://{}/lucid/{repo}", reg.addr)])
            .output()
            .unwrap();
        let tags: serde_json::Value =
            serde_json::from_slice(&listed.stdout).unwrap_or_else(|e| panic!("{e}: {}", said(&listed)));
        let tags: Vec<&str> = tags["Tags"].as_array().unwrap().iter().filter_map(|t| t.as_str()).collect();
        assert!(tags.contains(&tag), "{image}: {tags:?}");
        let major = tag.split('-').next().unwrap();
        assert!(
            tags.iter().any(|t| t.starts_with(&format!("{major}.")) && t.contains("-debian13-")),
            "{image}: {tags:?}"
        );
        let raw = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/lucid/{repo}:{tag}", reg.addr)])
            .output()
            .unwrap();
        assert!(raw.status.success(), "{}", said(&raw));
        assert_eq!(format!("sha256:{}", lucid::fetch::sha256_hex(&raw.stdout)), digest, "{image} in the registry");
    }
}

#[test]
fn diff_report_and_sbom_work_on_the_variants() {
    let out = built();
    let (old, new) = (layout(&out, "lucid-python-base"), layout(&out, "lucid-python-base:3.13-debian13"));
    let old = old.replace(":3.13-debian13", "");
    let d = lucid()
        .current_dir(repo_root())
        .args(["diff", &old, &new, "--format", "json", "--platform", "linux/amd64"])
        .output()
        .unwrap();
    assert!(d.status.code().is_some_and(|c| c <= 1), "{}", said(&d));
    let text = String::from_utf8_lossy(&d.stdout);
    for name in ["python3.11-minimal", "python3.13-minimal", "tzdata-legacy"] {
        assert!(text.contains(name), "lucid diff does not name {name}: {text}");
    }
    for image in ["lucid-python-base:3.13-debian13", "lucid-java-base:25-debian13"] {
        let r = lucid()
            .current_dir(repo_root())
            .args(["report", &layout(&out, image), "--format", "json"])
            .output()
            .unwrap();
        assert!(r.status.success(), "{image}: {}", said(&r));
        let s = lucid()
            .current_dir(repo_root())
            .args(["sbom", &layout(&out, image), "--platform", "linux/arm64"])
            .output()
            .unwrap();
        assert!(s.status.success(), "{image}: {}", said(&s));
        let sbom: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
        let names: Vec<&str> = sbom["packages"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        assert!(names.contains(&"libc6") && names.contains(&"tzdata-legacy"), "{image}: {names:?}");
    }
}
