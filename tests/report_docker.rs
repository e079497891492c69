//! `lucid report` on an image that `docker build` made from the seed's Dockerfile.python-base
//! (on lucid's own images, nothing pulled): its layers come out as `docker history` rows, its
//! waste is measured, and the report's size is the engine's own figure.
//!
//! Needs a Docker engine, the Debian mirror and package index (for `lucid build`).

#[path = "support/seed_context.rs"]
mod seed_context;
mod support;

use serde_json::Value;
use support::{docker, lucid, repo_root};

#[test]
fn report_on_the_seed_dockerfile_built_by_docker() {
    support::require_docker();
    let out = support::spec_images(&["lucid-python-base", "lucid-python-build"]);
    let ctx = seed_context::python_context();
    seed_context::docker_build(
        ctx.path(),
        &[
            "-f",
            "Dockerfile.python-base",
            "--build-arg",
            "PYTHON_BUILD_IMAGE=lucid-python-build:latest",
            "--build-arg",
            "PYTHON_BASE_IMAGE=lucid-python-base:latest",
            "--build-arg",
            "PIP_OFFLINE=1",
            "--target",
            "runtime-stage",
            "-t",
            "lucid-report-seed:docker",
        ],
    );
    let image = "docker-daemon:lucid-report-seed:docker";
    let rep = lucid().current_dir(repo_root()).args(["report", image, "--format", "json"]).output().unwrap();
    assert!(rep.status.success(), "{}", String::from_utf8_lossy(&rep.stderr));
    let v: Value = serde_json::from_slice(&rep.stdout).unwrap();
    let a = &v[0];
    // The engine counts every layer's content, including what a later layer hides, and a symlink
    // as the length of its target (overlay2 sizes by lstat): the report's final-filesystem size
    // plus its hidden bytes, plus at most a path's length per symlink.
    let engine: u64 =
        docker(&["image", "inspect", "--format", "{{.Size}}", "lucid-report-seed:docker"]).trim().parse().unwrap();
    let (size, hidden) = (a["size"].as_u64().unwrap(), a["efficiency"]["hidden_bytes"].as_u64().unwrap());
    let symlinks = a["symlinks"].as_u64().unwrap();
    let extra = engine.checked_sub(size + hidden).expect("the engine counts at least content + hidden");
    assert!(extra <= symlinks * 256, "{extra} bytes beyond content + hidden for {symlinks} symlinks");
    eprintln!("engine {engine} = size {size} + hidden {hidden} + {extra} bytes of {symlinks} symlink targets");
    // Layers: lucid's two, then what the Dockerfile added, with their Dockerfile commands.
    let layers: Vec<&Value> = a["history"].as_array().unwrap().iter().filter(|h| h["index"].is_number()).collect();
    assert!(layers.len() >= 3, "{}", a["history"]);
    let created: Vec<&str> =
        a["history"].as_array().unwrap().iter().map(|h| h["created_by"].as_str().unwrap()).collect();
    assert!(created.iter().any(|c| c.contains("COPY")), "{created:?}");
    assert!(created.iter().any(|c| c.starts_with("lucid:")), "{created:?}");
    // Waste: the runtime stage copies site-packages again over the one lucid's image has.
    let e = &a["efficiency"];
    assert!(e["dive_score"].as_f64().unwrap() < 1.0, "{e}");
    assert!(e["dive_wasted_bytes"].as_u64().unwrap() > 1_000_000, "{e}");
    assert!(e["hidden_bytes"].as_u64().unwrap() > 1_000_000, "{e}");
    let text = lucid().current_dir(repo_root()).args(["report", image]).output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&text.stdout));
    // The engine exports plain tars: their size is no compressed size, so the report says it
    // does not know one (it said "compressed 48.0MB" of a 46.2 MB image), for the image and for
    // every layer row; the layout lucid wrote has gzip blobs, whose size it does know.
    assert!(a["compressed"].is_null(), "an engine image's compressed size is unknown: {}", a["compressed"]);
    assert!(layers.iter().all(|h| h["compressed"].is_null()), "{}", a["history"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("compressed unknown (layers stored uncompressed)"), "{text}");
    let daemon = report_json("docker-daemon:lucid-python-base:latest");
    assert!(daemon["compressed"].is_null(), "{}", daemon["compressed"]);
    let layout = report_json(&format!("oci:{}:latest", out.join("lucid-python-base").display()));
    let (compressed, size) = (layout["compressed"].as_u64().unwrap(), layout["size"].as_u64().unwrap());
    assert!(compressed < size, "gzip layers: {compressed} compressed bytes of {size}");
    assert_eq!(daemon["size"], layout["size"], "the same image through the engine and the layout");
}

/// `lucid report --format json IMAGE`, the first image's analysis.
fn report_json(image: &str) -> Value {
    let rep = lucid().current_dir(repo_root()).args(["report", image, "--format", "json"]).output().unwrap();
    assert!(rep.status.success(), "{image}: {}", String::from_utf8_lossy(&rep.stderr));
    let v: Value = serde_json::from_slice(&rep.stdout).unwrap();
    v[0].clone()
}

/// `lucid report IMAGE --format FORMAT` (stdout), asserting success.
fn report(image: &str, format: &str) -> String {
    let rep = lucid().current_dir(repo_root()).args(["report", image, "--format", format]).output().unwrap();
    assert!(rep.status.success(), "{image} {format}: {}", String::from_utf8_lossy(&rep.stderr));
    String::from_utf8(rep.stdout).unwrap()
}

/// The sum of the layer blob sizes of `arch`'s manifest in the OCI layout `layout` (under its
/// first tag): the compressed size a registry would store, read without lucid.
fn manifest_layer_bytes(layout: &std::path::Path, arch: &str) -> u64 {
    let json = |digest: &str| -> Value {
        let blob = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap()
    };
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let top = json(index["manifests"][0]["digest"].as_str().unwrap());
    let entry = top["manifests"].as_array().unwrap().iter().find(|m| m["platform"]["architecture"] == arch).unwrap();
    let manifest = json(entry["digest"].as_str().unwrap());
    manifest["layers"].as_array().unwrap().iter().map(|l| l["size"].as_u64().unwrap()).sum()
}

/// A compressed size only where lucid knows one, and every renderer says the same: the engine's
/// export and a `docker save` archive hold plain tars, so text, JSON, Markdown and HTML all say
/// it is unknown (it was "compressed 48.0MB" of a 46.2 MB image); the same image read from its
/// OCI layout has gzip blobs, whose sum (the manifest's layer sizes) all four show, below the
/// image's size.
#[test]
fn compressed_sizes_only_where_known_and_alike_in_every_renderer() {
    support::require_docker();
    let out = support::spec_images(&["lucid-python-base"]);
    let host = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let unknown = "compressed unknown (layers stored uncompressed)";

    // The engine's export, and what `docker save` writes: plain layer tars both.
    let saved = tempfile::tempdir().unwrap();
    let archive = saved.path().join("saved.tar");
    docker(&["save", "-o", archive.to_str().unwrap(), "lucid-python-base:latest"]);
    let mut size = 0;
    for image in ["docker-daemon:lucid-python-base:latest".to_string(), format!("docker-archive:{}", archive.display())]
    {
        let json: Value = serde_json::from_str(&report(&image, "json")).unwrap();
        assert!(json[0]["compressed"].is_null(), "{image}: {}", json[0]["compressed"]);
        let history = json[0]["history"].as_array().unwrap();
        assert!(history.iter().all(|h| h["compressed"].is_null()), "{image}: {history:?}");
        size = json[0]["size"].as_u64().unwrap();
        let text = report(&image, "text");
        let row = text.lines().find(|l| l.starts_with("lucid-python-base ")).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(row.split_whitespace().nth(3), Some("unknown"), "{image}: COMPRESSED column: {row}");
        for (format, said) in
            [("text", text.clone()), ("markdown", report(&image, "markdown")), ("html", report(&image, "html"))]
        {
            assert!(said.contains(unknown), "{image} {format}: {said}");
        }
    }

    let layout_dir = out.join("lucid-python-base");
    let layout = format!("oci:{}:latest", layout_dir.display());
    let json: Value = serde_json::from_str(&report(&layout, "json")).unwrap();
    let a = json.as_array().unwrap().iter().find(|a| a["platform"].as_str().unwrap().contains(host)).unwrap();
    let compressed = a["compressed"].as_u64().expect("a layout's gzip layers have a compressed size");
    assert_eq!(compressed, manifest_layer_bytes(&layout_dir, host), "the manifest's layer sizes");
    assert!(compressed < a["size"].as_u64().unwrap(), "{compressed} of {}", a["size"]);
    assert_eq!(a["size"].as_u64(), Some(size), "the same image through the engine and its layout");
    let shown = format!("compressed {}", lucid::units::format_size(compressed));
    for format in ["text", "markdown", "html"] {
        let said = report(&layout, format);
        assert!(said.contains(&shown), "{format} lacks {shown:?}: {said}");
        assert!(!said.contains(unknown), "{format}");
    }
}
