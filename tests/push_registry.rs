//! `lucid build --push` and `lucid push` against Debian's `docker-registry` on 127.0.0.1, with
//! and without authentication, pulled back by skopeo and by a real Docker engine.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use support::{assert_no_secret, docker, lucid, repo_root, require_docker, require_tool};

/// A registry process on a free loopback port, stopped when dropped.
struct LocalRegistry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    fn start(htpasswd: Option<&Path>) -> LocalRegistry {
        require_tool("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some(h) = htpasswd {
            config.push_str(&format!("auth:\n  htpasswd:\n    realm: lucid-test\n    path: {}\n", h.display()));
        }
        let path = dir.path().join("config.yml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return LocalRegistry { child, port, _dir: dir };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("docker-registry did not start on 127.0.0.1:{port}");
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's spec (both platforms by default) and its lock.
fn multiarch_spec() -> PathBuf {
    let spec = repo_root().join("infrastructure/containers/base/build-args.yml");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("platforms: [linux/amd64, linux/arm64]"), "the spec should build both platforms");
    spec
}

fn uploaded(o: &Output) -> usize {
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err.lines().find(|l| l.trim_start().starts_with("Registry ")).unwrap_or_else(|| panic!("{err}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn index_digest(layout: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    v["manifests"][0]["digest"].as_str().unwrap().to_string()
}

#[test]
fn multiarch_push_pull_back_and_skip_what_is_there() {
    require_docker();
    require_tool("skopeo");
    let registry = LocalRegistry::start(None);
    let spec = multiarch_spec();
    let out = tempfile::tempdir().unwrap();
    let push = |extra: &[&str]| {
        let o = lucid()
            .arg("build")
            .arg("-f")
            .arg(&spec)
            .arg("-o")
            .arg(out.path())
            .args(["--push", "--registry", &format!("{}/lucid", registry.host())])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    let first = push(&[]);
    let n = uploaded(&first);
    assert!(n >= 16, "expected every layer and config of the four images on two platforms, got {n}");
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(
        !err.contains(" 0 mounted"),
        "lucid-python-build's layers shared with lucid-python-base should be mounted: {err}"
    );
    // A second push sends no blob again.
    assert_eq!(uploaded(&push(&[])), 0);

    for image in ["lucid-python-base", "lucid-python-build", "lucid-java-base", "lucid-java-build"] {
        let want = index_digest(&out.path().join(image));
        let reference = format!("docker://{}/lucid/{image}:latest", registry.host());
        let raw = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &reference]).output().unwrap();
        assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
        assert_eq!(lucid::oci::digest_of(&raw.stdout), want, "{image}: the registry holds another index");
        let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
        let archs: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["platform"]["architecture"].as_str().unwrap())
            .collect();
        assert_eq!(archs, ["amd64", "arm64"]);
        // skopeo copies it back out, every platform.
        let copy = tempfile::tempdir().unwrap();
        let dest = format!("oci:{}:copied", copy.path().display());
        let o = Command::new("skopeo")
            .args(["copy", "--all", "--src-tls-verify=false", &reference, &dest])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // And a real Docker engine pulls it, by the same digest.
        let pulled = format!("{}/lucid/{image}:latest", registry.host());
        docker(&["pull", "-q", &pulled]);
        let digests = docker(&["inspect", "--format", "{{json .RepoDigests}}", &pulled]);
        assert!(digests.contains(&want), "docker pulled {digests}, expected {want}");
        docker(&["rmi", "-f", &pulled]);
    }
}

#[test]
fn push_with_basic_auth_from_flags_and_docker_config() {
    require_tool("htpasswd");
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    const PASSWORD: &str = "lucid-test-secret-push-password";
    let o = Command::new("htpasswd").args(["-Bbn", "alice", PASSWORD]).output().unwrap();
    std::fs::write(&htpasswd, &o.stdout).unwrap();
    let registry = LocalRegistry::start(Some(&htpasswd));

    // Something small to push: lucid-python-base from the repository's own spec.
    let out = support::spec_images(&[]);
    let source = format!("oci:{}:latest", out.join("lucid-python-base").display());
    let dest = format!("docker://{}/lucid/base:latest", registry.host());
    let empty_config = tempfile::tempdir().unwrap();

    let anonymous = lucid().env("DOCKER_CONFIG", empty_config.path()).args(["push", &source, &dest]).output().unwrap();
    assert!(!anonymous.status.success());
    let err = assert_no_secret(&anonymous);
    assert!(err.contains("--creds"), "{err}");

    let wrong = lucid()
        .env("DOCKER_CONFIG", empty_config.path())
        .args(["push", "--creds", "alice:lucid-test-secret-wrong", &source, &dest])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert_no_secret(&wrong);

    let flags = lucid()
        .env("DOCKER_CONFIG", empty_config.path())
        .args(["push", "--creds", &format!("alice:{PASSWORD}"), &source, &dest])
        .output()
        .unwrap();
    assert!(flags.status.success(), "{}", String::from_utf8_lossy(&flags.stderr));
    assert_no_secret(&flags);
    let digest = String::from_utf8_lossy(&flags.stdout).trim().to_string();
    assert_eq!(digest, index_digest(&out.join("lucid-python-base")));

    // What `docker login` would have stored: auths.<host>.auth = base64("alice:PASSWORD").
    let config = tempfile::tempdir().unwrap();
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"))
    };
    std::fs::write(
        config.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host()),
    )
    .unwrap();
    let stored = lucid()
        .env("DOCKER_CONFIG", config.path())
        .args(["push", &source, &format!("docker://{}/lucid/base2:latest", registry.host())])
        .output()
        .unwrap();
    assert!(stored.status.success(), "{}", String::from_utf8_lossy(&stored.stderr));
    assert_no_secret(&stored);
}

#[test]
fn push_takes_any_source_a_docker_archive_and_the_engines_image() {
    require_docker();
    require_tool("skopeo");
    let registry = LocalRegistry::start(None);
    let out = support::spec_images(&["lucid-python-base"]);
    let archive = out.join("lucid-python-base.tar");
    let engine_id = docker(&["inspect", "--format", "{{.Id}}", "lucid-python-base:latest"]).trim().to_string();
    let archive_config = lucid::oci::read::open_docker_archive(&archive).unwrap().config_digest;
    for (source, repo, config) in [
        (format!("docker-archive:{}", archive.display()), "from-archive", &archive_config),
        ("docker-daemon:lucid-python-base:latest".to_string(), "from-engine", &engine_id),
    ] {
        let dest = format!("{}/lucid/{repo}:latest", registry.host());
        let o = lucid().args(["push", &source, &format!("docker://{dest}")]).output().unwrap();
        assert!(o.status.success(), "{source}: {}", String::from_utf8_lossy(&o.stderr));
        let reference = format!("docker://{dest}");
        let raw = Command::new("skopeo")
            .args(["inspect", "--config", "--raw", "--tls-verify=false", &reference])
            .output()
            .unwrap();
        assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
        assert_eq!(&lucid::oci::digest_of(&raw.stdout), config, "{source}: the registry holds another config");
        // The manifest lucid made for an image that had none: the digest it printed, and a real
        // engine pulls the image by it, as the image it was.
        let digest = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let manifest =
            Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &reference]).output().unwrap();
        assert_eq!(lucid::oci::digest_of(&manifest.stdout), digest, "{source}");
        docker(&["pull", "-q", &dest]);
        assert_eq!(docker(&["inspect", "--format", "{{.Id}}", &dest]).trim(), config.as_str(), "{source}");
        docker(&["rmi", &dest]);
    }
}
