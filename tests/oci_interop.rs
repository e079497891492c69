//! The oci module against the real tools: skopeo reads our OCI layout and docker-archive, Docker
//! loads our docker-archive (CLI and Engine API) and runs the image as UID 65532.
//!
//! These tests need `skopeo`, `docker` and a running engine; they fail (not skip) without them.

#[path = "support/oci_image.rs"]
mod oci_image;

use std::process::Command;

use lucid::oci::{Image, archive, engine, layout, read};
use oci_image::{GREETING, build, require_docker_engine, require_tool, run};

/// Removes a Docker image tag when a test ends, passed or not.
struct DockerTag(String);

impl Drop for DockerTag {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "--force", &self.0]).output();
    }
}

#[test]
fn skopeo_inspects_our_layout() {
    require_tool("skopeo", "skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let image = build(&tmp.path().join("layers"));
    let dir = tmp.path().join("layout");
    layout::write_layout(&dir, &[(&image, vec!["latest".into(), "20231114".into()])]).unwrap();

    for tag in ["latest", "20231114"] {
        let out = run(Command::new("skopeo").arg("inspect").arg(format!("oci:{}:{tag}", dir.display())));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Digest"], image.manifest_digest, "{out}");
        assert_eq!(v["Architecture"], oci_image::host_arch());
        assert_eq!(v["Os"], "linux");
        let layers: Vec<&str> = v["Layers"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let ours: Vec<&str> = image.layers.iter().map(|l| l.digest.as_str()).collect();
        assert_eq!(layers, ours);
        assert_eq!(v["Labels"]["org.opencontainers.image.title"], "lucid-oci-test");
    }
    let raw =
        run(Command::new("skopeo").args(["inspect", "--config", "--raw"]).arg(format!("oci:{}:latest", dir.display())));
    assert_eq!(raw.as_bytes(), image.config_json.as_slice(), "skopeo sees our exact config bytes");

    // An unknown tag is an error, not some other image.
    let out = Command::new("skopeo").arg("inspect").arg(format!("oci:{}:nope", dir.display())).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn skopeo_resolves_a_multiarch_layout_to_the_host_platform() {
    require_tool("skopeo", "skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let host = build(&tmp.path().join("layers"));
    // The other platform's image (its content does not matter to inspect).
    let other_arch = if oci_image::host_arch() == "amd64" { "arm64" } else { "amd64" };
    let mut cfg = oci_image::config();
    cfg.platform = lucid::platform::Platform::parse(&format!("linux/{other_arch}")).unwrap();
    let other = lucid::oci::assemble(cfg, host.layers.clone()).unwrap();
    let dir = tmp.path().join("multi");
    let index_digest = layout::write_multiarch_layout(&dir, &[&host, &other], &["latest".into()]).unwrap();

    let raw = run(Command::new("skopeo").args(["inspect", "--raw"]).arg(format!("oci:{}:latest", dir.display())));
    assert_eq!(lucid::oci::digest_of(raw.as_bytes()), index_digest, "the tag names our index");
    let out = run(Command::new("skopeo").arg("inspect").arg(format!("oci:{}:latest", dir.display())));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Architecture"], oci_image::host_arch(), "{out}");
    let out = run(Command::new("skopeo")
        .args(["--override-arch", other_arch, "inspect"])
        .arg(format!("oci:{}:latest", dir.display())));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Architecture"], other_arch, "{out}");
}

#[test]
fn skopeo_copies_our_layout_to_a_docker_archive_we_can_read() {
    require_tool("skopeo", "skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let image = build(&tmp.path().join("layers"));
    let dir = tmp.path().join("layout");
    layout::write_layout(&dir, &[(&image, vec!["latest".into()])]).unwrap();
    let file = tmp.path().join("skopeo.tar");
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:latest", dir.display()))
        .arg(format!("docker-archive:{}:lucid-oci-test:skopeo", file.display())));

    // Our reader understands what skopeo wrote, and the content is our content.
    let view = read::open_docker_archive(&file).unwrap();
    // skopeo qualifies the name with its default registry; the repository and tag are ours.
    assert!(view.tags.len() == 1 && view.tags[0].ends_with("/lucid-oci-test:skopeo"), "{:?}", view.tags);
    let diff_ids: Vec<&str> = image.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(view.config.rootfs.diff_ids, diff_ids);
    view.verify().unwrap();
    let entries = read::layer_entries(view.layer_tar(1).unwrap()).unwrap();
    let hello = entries.iter().find(|e| e.path == "usr/bin/hello").expect("usr/bin/hello in layer 2");
    assert_eq!((hello.mode, hello.uid, hello.mtime), (0o755, 0, oci_image::MTIME as u64));
}

#[test]
fn skopeo_reads_our_docker_archive() {
    require_tool("skopeo", "skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let image = build(&tmp.path().join("layers"));
    let file = tmp.path().join("ours.tar");
    archive::write_docker_archive(&file, &image, &["lucid-oci-test:ours".into()]).unwrap();
    let raw = run(Command::new("skopeo")
        .args(["inspect", "--config", "--raw"])
        .arg(format!("docker-archive:{}", file.display())));
    assert_eq!(raw.as_bytes(), image.config_json.as_slice());
    // A full copy makes skopeo read and check every layer against the config's diff_ids.
    let out = tmp.path().join("copied");
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("docker-archive:{}", file.display()))
        .arg(format!("oci:{}:copied", out.display())));
    let view = read::open_layout(&out, Some("copied")).unwrap();
    view.verify().unwrap();
    assert_eq!(view.config_digest, image.config_digest);

    // Our own reader agrees, and the archive is also an OCI layout (index.json, oci-layout).
    let ours = read::open_docker_archive(&file).unwrap();
    ours.verify().unwrap();
    assert_eq!(ours.config_json, image.config_json);
    assert_eq!(ours.tags, ["lucid-oci-test:ours"]);
}

#[test]
fn docker_loads_and_runs_our_archive() {
    require_docker_engine();
    let tmp = tempfile::tempdir().unwrap();
    let image = build(&tmp.path().join("layers"));
    let file = tmp.path().join("image.tar");
    let tag = DockerTag("lucid-oci-test:cli".into());
    archive::write_docker_archive(&file, &image, std::slice::from_ref(&tag.0)).unwrap();

    let loaded = run(Command::new("docker").arg("load").arg("-i").arg(&file));
    assert!(loaded.contains("lucid-oci-test:cli"), "{loaded}");
    let id = run(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", &tag.0]));
    assert_eq!(id.trim(), image.config_digest, "Docker's image ID is our config digest");

    // The config's user (65532:65532) and entrypoint apply; --user 65532 gets its group from our /etc/passwd.
    let out = run(Command::new("docker").args(["run", "--rm", "--network", "none", &tag.0]));
    assert!(out.contains(&format!("{GREETING}: uid=65532 gid=65532 args=0")), "{out}");
    let out = run(Command::new("docker").args(["run", "--rm", "--network", "none", "--user", "65532", &tag.0, "x"]));
    assert!(out.contains(&format!("{GREETING}: uid=65532 gid=65532 args=1")), "{out}");
    // No shell in the image: overriding the entrypoint with /bin/sh must fail.
    let sh = Command::new("docker")
        .args(["run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", &tag.0, "-c", "true"])
        .output()
        .unwrap();
    assert!(!sh.status.success(), "the test image has no shell");
}

#[test]
fn engine_api_loads_our_archive() {
    require_docker_engine();
    let tmp = tempfile::tempdir().unwrap();
    let image = build(&tmp.path().join("layers"));
    let file = tmp.path().join("image.tar");
    let tag = DockerTag("lucid-oci-test:api".into());
    archive::write_docker_archive(&file, &image, std::slice::from_ref(&tag.0)).unwrap();

    let lines = engine::load_at(&engine::engine_host(), &file).unwrap();
    assert!(lines.iter().any(|l| l.contains("lucid-oci-test:api")), "{lines:?}");
    let out = run(Command::new("docker").args(["run", "--rm", "--network", "none", "--user", "65532", &tag.0]));
    assert!(out.contains(&format!("{GREETING}: uid=65532 gid=65532")), "{out}");

    let missing = engine::load_at(&engine::engine_host(), &tmp.path().join("absent.tar")).unwrap_err();
    assert!(format!("{missing:#}").contains("absent.tar"), "{missing:#}");
}

#[test]
fn engine_api_error_names_the_host_when_nothing_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("image.tar");
    let image = build(&tmp.path().join("layers"));
    archive::write_docker_archive(&file, &image, &["lucid-oci-test:none".into()]).unwrap();
    let host = format!("unix://{}", tmp.path().join("nobody.sock").display());
    let err = format!("{:#}", engine::load_at(&host, &file).unwrap_err());
    assert!(err.contains("no Docker engine answers") && err.contains("nobody.sock"), "{err}");
}
