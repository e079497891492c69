//! `lucid report`, `lucid sbom` and `lucid diff` on the real Python images that `lucid build`
//! makes: totals against the blobs on disk, bytes per package against the total, the SBOMs
//! through real validators from PyPI (spdx-tools, cyclonedx-python-lib) in a venv under target/,
//! and the HTML page in headless Chromium (no console errors, the treemap drawn, a screenshot).
//!
//! Needs the Debian mirror and package index (like tests/build_python.rs), python3 with venv and
//! pip reaching the package index, and Debian's chromium.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{lucid, repo_root};

/// The images of the spec, built once for the whole test run (these tests only read them; each
/// writes its own outputs to its own temporary directory).
fn images() -> PathBuf {
    support::spec_images(&[])
}

fn lucid_ok(args: &[&str]) -> Vec<u8> {
    let out = lucid().current_dir(repo_root()).args(args).output().unwrap();
    assert!(out.status.success(), "lucid {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Bytes of the gunzipped blob at `path`.
fn gunzipped_len(path: &Path) -> u64 {
    let mut d = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    std::io::copy(&mut d, &mut std::io::sink()).unwrap()
}

#[test]
fn python_base_totals_and_package_bytes() {
    let layout = images().join("lucid-python-base");
    let image = format!("oci:{}:latest", layout.display());
    let v: Value = serde_json::from_slice(&lucid_ok(&["report", &image, "--format", "json"])).unwrap();
    let a = &v[0];
    // Totals against the image's own blobs: compressed = the layer blobs' bytes, tar_bytes = the
    // gunzipped layers' bytes, and tar_bytes = size + the stated tar overhead (no hidden files).
    let manifest_digest = a["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(&manifest_digest)).unwrap()).unwrap();
    let (mut stored, mut tars) = (0, 0);
    for l in manifest["layers"].as_array().unwrap() {
        let blob = layout.join("blobs/sha256").join(l["digest"].as_str().unwrap().trim_start_matches("sha256:"));
        stored += std::fs::metadata(&blob).unwrap().len();
        tars += gunzipped_len(&blob);
    }
    assert_eq!(a["compressed"], stored);
    assert_eq!(a["tar_bytes"], tars);
    let size = a["size"].as_u64().unwrap();
    assert_eq!(a["efficiency"]["hidden_bytes"], 0);
    assert_eq!(size + a["tar_overhead"].as_u64().unwrap(), tars, "content + headers/padding = the tars");
    let entries: u64 = a["history"].as_array().unwrap().iter().map(|h| h["entries"].as_u64().unwrap()).sum();
    let overhead = a["tar_overhead"].as_u64().unwrap();
    assert!(overhead <= entries * 1024 + 2 * 10240, "{overhead} bytes of overhead for {entries} entries");
    assert!(a["budget"]["within"].as_bool().unwrap(), "{}", a["budget"]);

    // Bytes by package add up to the total less what the builder made, and the builder made
    // only small system files (accounts, CA bundle, status files, os-release, the .pth link).
    let owners = a["owners"].as_array().unwrap();
    let owned: u64 = owners.iter().map(|o| o["bytes"].as_u64().unwrap()).sum();
    let unowned = a["unowned_bytes"].as_u64().unwrap();
    assert_eq!(owned + unowned, size);
    assert_ne!(a["package_lists"], "none", "file lists from the image or the lock");
    let debs = owners.iter().filter(|o| o["kind"] == "deb").count();
    let wheels = owners.iter().filter(|o| o["kind"] == "wheel").count();
    assert!(debs >= 15 && wheels >= 5, "{debs} packages, {wheels} wheels");
    assert!(unowned < 1_000_000, "{unowned} bytes owned by nothing: {}", a["unowned"]);
    for f in a["unowned"].as_array().unwrap() {
        let p = f["path"].as_str().unwrap();
        let builder_made = ["/etc/", "/var/lib/dpkg/status.d/", "/usr/lib/ssl/", "/usr/lib/os-release", "/home/"]
            .iter()
            .any(|d| p.starts_with(d))
            || p.ends_with(".pth");
        assert!(builder_made, "{p} is owned by no package and is not one of the builder's files");
    }
    let sp = a["site_packages"].as_array().unwrap();
    assert!(sp.iter().any(|s| s[0].as_str().unwrap().ends_with("site-packages") && s[1].as_u64().unwrap() > 1_000_000));

    // Text and Markdown carry the docker images shape.
    let text = String::from_utf8(lucid_ok(&["report", &image])).unwrap();
    assert!(text.lines().next().unwrap().starts_with("REPOSITORY"), "{text}");
    assert!(text.contains("lucid-python-base"), "{text}");

    // lucid diff base -> build: pip, dash, coreutils arrive.
    let build_img = format!("oci:{}:latest", images().join("lucid-python-build").display());
    let d: Value = serde_json::from_slice(&lucid_ok(&["diff", &image, &build_img, "--format", "json"])).unwrap();
    let added: Vec<&str> = d["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["change"] == "added")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for want in ["dash", "coreutils"] {
        assert!(added.contains(&want), "{want} not added: {added:?}");
    }
    assert!(d["added_bytes"].as_u64().unwrap() > 10_000_000);
}

/// A venv under target/ with the SBOM validators, made once.
fn validators() -> PathBuf {
    let venv = repo_root().join("target/sbom-venv");
    let py = venv.join("bin/python");
    let ready = Command::new(&py).args(["-c", "import spdx_tools, cyclonedx.validation.json, jsonschema"]).status();
    if !ready.is_ok_and(|s| s.success()) {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap();
        assert!(made.success(), "python3 -m venv failed (apt-get install python3-venv)");
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "spdx-tools", "cyclonedx-python-lib[json-validation]"])
            .status()
            .unwrap();
        assert!(pip.success(), "pip install spdx-tools cyclonedx-python-lib failed");
    }
    venv
}

const CDX_CHECK: &str = "
import sys
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if err is not None:
    print(err)
    sys.exit(1)
";

#[test]
fn sboms_pass_real_validators() {
    let out = tempfile::tempdir().unwrap();
    let venv = validators();
    for image in ["lucid-python-base", "lucid-python-build"] {
        let reference = format!("oci:{}:latest", images().join(image).display());
        let spdx = out.path().join(format!("{image}.spdx.json"));
        let cdx = out.path().join(format!("{image}.cdx.json"));
        // The spec builds both platforms: one document per platform, the platform before the
        // SBOM extension (.spdx.json, .cdx.json stay whole for scanners), and no file under the
        // name given.
        lucid_ok(&["sbom", &reference, "--format", "spdx", "-o", spdx.to_str().unwrap()]);
        lucid_ok(&["sbom", &reference, "--format", "cyclonedx", "-o", cdx.to_str().unwrap()]);
        assert!(!spdx.exists() && !cdx.exists(), "one file for two platforms");
        for arch in ["amd64", "arm64"] {
            let spdx = out.path().join(format!("{image}.linux-{arch}.spdx.json"));
            let cdx = out.path().join(format!("{image}.linux-{arch}.cdx.json"));
            let check = Command::new(venv.join("bin/pyspdxtools")).arg("-i").arg(&spdx).output().unwrap();
            let said = format!("{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
            assert!(check.status.success() && !said.contains("ERROR"), "pyspdxtools {}: {said}", spdx.display());
            let check = Command::new(venv.join("bin/python")).args(["-c", CDX_CHECK]).arg(&cdx).output().unwrap();
            assert!(check.status.success(), "CycloneDX 1.6 schema: {}", String::from_utf8_lossy(&check.stdout));
            // Content: purls for every package and wheel, of this platform's architecture,
            // licences from copyright files.
            let doc: Value = serde_json::from_slice(&std::fs::read(&cdx).unwrap()).unwrap();
            let comps = doc["components"].as_array().unwrap();
            let libc = comps.iter().find(|c| c["purl"].as_str().unwrap().starts_with("pkg:deb/debian/libc6@"));
            let libc = libc.expect("libc6 in the SBOM");
            assert!(libc["purl"].as_str().unwrap().contains(&format!("arch={arch}")), "{}: {libc}", cdx.display());
            assert!(comps.iter().any(|c| c["purl"].as_str().unwrap().starts_with("pkg:pypi/requests@")));
            let with_licence = comps.iter().filter(|c| c.get("licenses").is_some()).count();
            assert!(with_licence * 2 > comps.len(), "{with_licence} of {} components have a licence", comps.len());
            // Every Debian package of this document is of this platform (or arch-independent):
            // the arm64 document names arm64 packages, never the amd64 image's.
            let other = if arch == "amd64" { "arm64" } else { "amd64" };
            let debs: Vec<&str> =
                comps.iter().filter_map(|c| c["purl"].as_str()).filter(|p| p.starts_with("pkg:deb/")).collect();
            assert!(debs.iter().all(|p| !p.contains(&format!("arch={other}"))), "{}: {debs:?}", cdx.display());
            let spdx_doc: Value = serde_json::from_slice(&std::fs::read(&spdx).unwrap()).unwrap();
            let spdx_text = spdx_doc.to_string();
            assert!(spdx_text.contains(&format!("arch={arch}")), "{}: no arch={arch} purl", spdx.display());
            assert!(!spdx_text.contains(&format!("arch={other}")), "{}: names {other} packages", spdx.display());
        }
        // Reproducible: the same image gives the same documents.
        let again = out.path().join("again.json");
        lucid_ok(&["sbom", &reference, "--format", "cyclonedx", "-o", again.to_str().unwrap()]);
        for arch in ["amd64", "arm64"] {
            let first = std::fs::read(out.path().join(format!("{image}.linux-{arch}.cdx.json"))).unwrap();
            assert_eq!(std::fs::read(out.path().join(format!("again.linux-{arch}.json"))).unwrap(), first);
        }
        // One platform picked: exactly the file named, the same document. `linux/arm64` picks
        // the index's `linux/arm64/v8`, as docker's --platform does.
        for (platform, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
            let one = out.path().join("one.cdx.json");
            lucid_ok(&[
                "sbom",
                &reference,
                "--format",
                "cyclonedx",
                "--platform",
                platform,
                "-o",
                one.to_str().unwrap(),
            ]);
            assert_eq!(
                std::fs::read(&one).unwrap(),
                std::fs::read(out.path().join(format!("{image}.linux-{arch}.cdx.json"))).unwrap(),
                "--platform {platform}"
            );
            assert!(!out.path().join(format!("one.linux-{arch}.cdx.json")).exists());
        }
        // Two documents and only standard output: a usage error that says what to do, no output.
        let both = lucid().current_dir(repo_root()).args(["sbom", &reference]).output().unwrap();
        let said = String::from_utf8_lossy(&both.stderr);
        assert_eq!(both.status.code(), Some(3), "{said}");
        assert!(both.stdout.is_empty() && said.contains("-o FILE") && said.contains("--platform"), "{said}");
    }
    // The validators do reject a broken document (the checks above are not vacuous).
    let broken = out.path().join("broken.cdx.json");
    std::fs::write(&broken, r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":1}]}"#).unwrap();
    let check = Command::new(venv.join("bin/python")).args(["-c", CDX_CHECK]).arg(&broken).output().unwrap();
    assert!(!check.status.success());
}

/// Opens `page` in headless Chromium; returns (console lines from stderr, the DOM after scripts).
fn chromium(page: &Path, screenshot: &Path) -> (Vec<String>, String) {
    support::require_tool("chromium");
    let profile = tempfile::tempdir().unwrap();
    let common = |c: &mut Command| {
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()));
    };
    let mut shot = Command::new("/usr/bin/chromium");
    common(&mut shot);
    let run = shot
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let console: Vec<String> = String::from_utf8_lossy(&run.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .map(String::from)
        .collect();
    let mut dump = Command::new("/usr/bin/chromium");
    common(&mut dump);
    let dom = dump.arg("--dump-dom").arg(format!("file://{}", page.display())).output().unwrap();
    (console, String::from_utf8_lossy(&dom.stdout).into_owned())
}

#[test]
fn html_page_renders_in_chromium() {
    let out = tempfile::tempdir().unwrap();
    let page = out.path().join("report.html");
    let base = format!("oci:{}:latest", images().join("lucid-python-base").display());
    let bld = format!("oci:{}:latest", images().join("lucid-python-build").display());
    lucid_ok(&["report", &base, &bld, "--format", "html", "-o", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("http://") && !html.contains("src=\""), "self-contained, nothing fetched");
    let shots = repo_root().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (console, dom) = chromium(&page, &shots.join("lucid-python.png"));
    assert!(console.is_empty(), "console output: {console:?}");
    for map in ["map0", "map1"] {
        let at = dom.find(&format!("id=\"{map}\"")).unwrap_or_else(|| panic!("no {map}"));
        assert!(dom[at..].split("class=\"map\"").next().unwrap().matches("style=\"left:").count() >= 3, "{map} empty");
    }
    assert!(std::fs::metadata(shots.join("lucid-python.png")).unwrap().len() > 10_000);
    // The harness sees script errors (so the empty console above means something).
    let bad = out.path().join("bad.html");
    std::fs::write(&bad, "<html><body><script>undefinedFunction()</script></body></html>").unwrap();
    let (console, _) = chromium(&bad, &out.path().join("bad.png"));
    assert!(console.iter().any(|l| l.contains("undefinedFunction")), "{console:?}");
}
