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

/// The config and layer digests of every platform image of an OCI layout's index (each blob a
/// push must get into a registry once).
fn layout_blobs(layout: &Path) -> Vec<String> {
    let json = |digest: &str| -> serde_json::Value {
        let blob = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap()
    };
    let mut blobs = Vec::new();
    for m in json(&index_digest(layout))["manifests"].as_array().unwrap() {
        let manifest = json(m["digest"].as_str().unwrap());
        blobs.push(manifest["config"]["digest"].as_str().unwrap().to_string());
        blobs.extend(manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()));
    }
    blobs.sort();
    blobs.dedup();
    blobs
}

/// The digest of what `reference` names in a registry (skopeo, raw: the index itself).
fn registry_digest(reference: &str) -> String {
    let raw = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", reference]).output().unwrap();
    assert!(raw.status.success(), "{reference}: {}", String::from_utf8_lossy(&raw.stderr));
    lucid::oci::digest_of(&raw.stdout)
}

/// `docker buildx build --push -t HOST:PORT/REPO:TAG` habits: the registry is the tag's host,
/// tags repeat and may name several registries. The arm64 image of the pushed index is pulled
/// by the Docker engine and runs under qemu. The build reuses the shared build's cache, so it
/// costs a push, not a build.
#[test]
fn buildx_style_push_tags_name_their_registries() {
    require_docker();
    require_tool("skopeo");
    support::spec_build(); // a warm cache: the build below assembles nothing anew
    let (one, two) = (LocalRegistry::start(None), LocalRegistry::start(None));
    let out = tempfile::tempdir().unwrap();
    let tags = [
        format!("{}/lucid-python-base:latest", one.host()),
        format!("{}/lucid-python-base:buildx", one.host()),
        format!("{}/team/python:3.11", two.host()),
    ];
    let started = std::time::Instant::now();
    let o = lucid()
        .current_dir(repo_root())
        .args(["build", "lucid-python-base", "--platform", "linux/amd64,linux/arm64", "--push"])
        .args(tags.iter().flat_map(|t| ["-t", t.as_str()]))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    eprintln!("build --push to two registries: {:.1}s", started.elapsed().as_secs_f64());
    let layout = out.path().join("lucid-python-base");
    let want = index_digest(&layout);
    for t in &tags {
        assert_eq!(registry_digest(&format!("docker://{t}")), want, "{t}: the registry holds another index");
    }
    // Each blob once per registry: the second tag of the same repository sends nothing more.
    let blobs = layout_blobs(&layout).len();
    assert_eq!(uploaded(&o), 2 * blobs, "{blobs} blobs, two registries: {err}");
    // The layout is tagged once per distinct tag.
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    let names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["latest", "buildx", "3.11"]);

    // The engine pulls the arm64 image of the index from each registry and runs it under qemu.
    for pulled in [&tags[0], &tags[2]] {
        docker(&["pull", "-q", "--platform", "linux/arm64", pulled]);
        let machine = docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--platform",
            "linux/arm64",
            pulled,
            "python",
            "-c",
            "import platform; print(platform.machine())",
        ]);
        assert_eq!(machine.trim(), "aarch64", "{pulled}");
        docker(&["rmi", "-f", pulled]);
    }
}

/// `--push` refuses, before building anything, what buildx would refuse or lucid cannot do: a
/// tag that names no registry (there is no default one), a malformed tag, credentials with two
/// registries to choose from. Each is a usage error (exit 3) that shows the form to use.
#[test]
fn buildx_style_push_refuses_tags_it_cannot_push() {
    let out = tempfile::tempdir().unwrap();
    let build = |args: &[&str]| {
        let o = lucid()
            .current_dir(repo_root())
            .args(["build", "lucid-python-base", "--push", "-o"])
            .arg(out.path().join("out"))
            .args(args)
            .env_remove("LUCID_REGISTRY_CREDS")
            .env_remove("LUCID_REGISTRY_TOKEN")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(!out.path().join("out").exists(), "{args:?}: built before refusing");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    for no_registry in [&["-t", "lucid-python-base:latest"][..], &["-t", "team/python:1"], &[]] {
        let err = build(no_registry);
        assert!(err.contains("no registry") && err.contains("-t HOST[:PORT]/REPO:TAG"), "{err}");
        assert!(err.contains("--registry"), "{err}");
    }
    // A hosted tag beside one without a host: the one without is named.
    let err = build(&["-t", "127.0.0.1:5000/x:1", "-t", "plain:2"]);
    assert!(err.contains("-t plain:2 names no registry"), "{err}");
    for (bad, says) in [
        ("127.0.0.1:5000/Lucid-Python:latest", "invalid repository name"),
        ("127.0.0.1:5000/x:bad,tag", "invalid tag"),
        ("127.0.0.1:99999/x:1", "not a registry host"),
        ("127.0.0.1:5000/x@sha256:00", "holds no `@`"),
    ] {
        let err = build(&["-t", bad]);
        assert!(err.contains(says) && err.contains("HOST[:PORT]/REPO[:TAG]"), "{bad}: {err}");
    }
    // A --registry prefix the repository grammar refuses is refused before the build, as a tag is.
    let err = build(&["--registry", "127.0.0.1:5000/Team"]);
    assert!(err.contains("--registry \"127.0.0.1:5000/Team\"") && err.contains("invalid repository name"), "{err}");
    let err =
        build(&["-t", "127.0.0.1:5000/x:1", "-t", "127.0.0.1:5001/x:1", "--creds", "alice:lucid-test-secret-two"]);
    assert!(err.contains("--creds") && err.contains("127.0.0.1:5000, 127.0.0.1:5001"), "{err}");
    assert!(!err.contains(support::SECRET_PREFIX), "{err}");
    // `lucid push -t` holds its tags to the same grammar, before anything is read or sent.
    let o = lucid()
        .args(["push", "oci:/nonexistent/layout:latest", "docker://127.0.0.1:5000/x:1", "-t", "bad,tag"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("invalid tag \"bad,tag\""), "{err}");
}

/// With several registries in one `--push`, each gets only its own credentials: `--creds` go to
/// the `--registry` host, the other registry gets its `docker login` entry (read for that host
/// only). Each registry knows one user, so credentials sent to the wrong one would be refused.
#[test]
fn buildx_style_push_sends_each_registry_its_own_credentials() {
    require_tool("htpasswd");
    support::spec_build(); // a warm cache: the build below assembles nothing anew
    let dir = tempfile::tempdir().unwrap();
    let users = [("alice", "lucid-test-secret-one"), ("bob", "lucid-test-secret-two")];
    let registries: Vec<LocalRegistry> = users
        .iter()
        .enumerate()
        .map(|(i, (user, password))| {
            let htpasswd = dir.path().join(format!("htpasswd{i}"));
            let o = Command::new("htpasswd").args(["-Bbn", user, password]).output().unwrap();
            std::fs::write(&htpasswd, &o.stdout).unwrap();
            LocalRegistry::start(Some(&htpasswd))
        })
        .collect();
    let (one, two) = (registries[0].host(), registries[1].host());
    // What `docker login` stores for the second registry only.
    let config = tempfile::tempdir().unwrap();
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("bob:{}", users[1].1))
    };
    let with_login = config.path().join("with");
    std::fs::create_dir(&with_login).unwrap();
    std::fs::write(with_login.join("config.json"), format!(r#"{{"auths":{{"{two}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    let without_login = config.path().join("without");
    std::fs::create_dir(&without_login).unwrap();
    let out = tempfile::tempdir().unwrap();
    let push = |docker_config: &Path| {
        lucid()
            .current_dir(repo_root())
            .env("DOCKER_CONFIG", docker_config)
            .env_remove("LUCID_REGISTRY")
            .args(["build", "lucid-python-base", "--platform", "linux/amd64", "--push"])
            .args(["--registry", &one, "--creds", &format!("alice:{}", users[0].1)])
            .args(["-t", &format!("{one}/lucid/base:1"), "-t", &format!("{two}/lucid/base:1")])
            .arg("-o")
            .arg(out.path())
            .output()
            .unwrap()
    };
    let o = push(&with_login);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_no_secret(&o);
    // Without the second registry's login, --creds (bound to the first) do not go there: it
    // refuses, and lucid says whose credentials are missing (exit 3).
    let o = push(&without_login);
    let err = assert_no_secret(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&two), "{err}");
}

/// One registry down does not keep the others from their images: the push to the dead address
/// (named first, so a stop at the first failure would push nothing) is reported, the live
/// registry gets the index, and the exit code is the failure's (2, src/exit.rs), not 0.
#[test]
fn a_registry_that_is_down_fails_the_push_and_the_others_still_get_the_image() {
    require_docker();
    require_tool("skopeo");
    support::spec_build();
    let live = LocalRegistry::start(None);
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = tempfile::tempdir().unwrap();
    let (down, up) =
        (format!("127.0.0.1:{dead}/lucid-python-base:latest"), format!("{}/lucid-python-base:latest", live.host()));
    let o = lucid()
        .current_dir(repo_root())
        .args(["build", "lucid-python-base", "--platform", "linux/amd64", "--push", "-t", &down, "-t", &up, "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("cannot push lucid-python-base to 127.0.0.1:{dead}/lucid-python-base")), "{err}");
    assert!(err.contains("1 push(es) failed"), "{err}");
    let want = index_digest(&out.path().join("lucid-python-base"));
    assert_eq!(registry_digest(&format!("docker://{up}")), want, "the live registry did not get the image: {err}");
}
