//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod debrepo;
pub mod faulty;
pub mod hermetic;
pub mod stub_http;
pub mod wheels;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The `lucid` binary under test.
pub fn lucid() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lucid"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the repository's spec in `dir`, its lock and requirements beside it, with `edit`
/// applied to the spec's text: a test's variant of the images. Returns the copy's path.
pub fn spec_copy(dir: &std::path::Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let base = copy_spec_files(dir);
    let spec = std::fs::read_to_string(base.join("build-args.yml")).unwrap();
    let path = dir.join("build-args.yml");
    std::fs::write(&path, edit(spec)).unwrap();
    path
}

/// Copies what the repository's spec reads beside it (its lock, requirements and archive keys)
/// into `dir`; returns the repository's spec directory.
pub fn copy_spec_files(dir: &std::path::Path) -> PathBuf {
    let base = repo_root().join("infrastructure/containers/base");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for f in ["build-args.lock", "requirements.txt", "toolbox-requirements.txt", "keys/debian-archive-keys.pgp"] {
        std::fs::copy(base.join(f), dir.join(f)).unwrap();
    }
    base
}

/// Fails the test (never skips it) when a tool it needs is missing: CI installs them all.
pub fn require_tool(tool: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map(|o| o.status.success());
    assert!(found.unwrap_or(false), "{tool} is not installed (bash .ci/run installs it)");
}

/// Fails the test when no Docker engine answers.
pub fn require_docker() {
    require_tool("docker");
    let ok = Command::new("docker").arg("info").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "no Docker engine answers `docker info` (bash .ci/run starts dockerd)");
}

/// Runs docker with `args`, asserts success, returns stdout + stderr (`java -version` prints to stderr).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "docker {} failed: {text}", args.join(" "));
    text
}

/// Whether `docker args` succeeds.
pub fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker").args(args).output().map(|o| o.status.success()).unwrap_or(false)
}

/// The four images of the repository's spec (Debian 12, the seed's).
pub const SPEC_IMAGES: [&str; 4] = ["lucid-python-base", "lucid-python-build", "lucid-java-base", "lucid-java-build"];

/// The debugging toolbox of the repository's spec (`lucid debug`).
pub const TOOLBOX: &str = "lucid-toolbox";

/// The Debian 13 variants of the repository's spec, as `lucid build` names them (IMAGE:VARIANT).
pub const VARIANT_IMAGES: [&str; 6] = [
    "lucid-python-base:3.13-debian13",
    "lucid-python-build:3.13-debian13",
    "lucid-java-base:21-debian13",
    "lucid-java-build:21-debian13",
    "lucid-java-base:25-debian13",
    "lucid-java-build:25-debian13",
];

/// An image of the spec as a file name in the output directory (`lucid-java-base-21-debian13`).
pub fn out_name(image: &str) -> String {
    image.replace(':', "-")
}

/// The repository and tag `lucid build` gives `image`: a seed image's `latest`, a variant's
/// variant tag (`lucid-java-base`, `21-debian13`).
pub fn repo_tag(image: &str) -> (&str, &str) {
    image.split_once(':').unwrap_or((image, "latest"))
}

/// The output directory of a build: shared by every test of the run (read it; write your own
/// files elsewhere) or the test's own.
pub struct Built {
    path: PathBuf,
    _own: Option<tempfile::TempDir>,
}

impl Built {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `lucid build IMAGES... --load -o DIR` from the repository's spec (plus `extra` arguments),
/// asserting success, that the size table shows `runtime` within `budget_mb` ("NNNMB ok") and
/// names every image, and that each image has its OCI layout and docker-archive. Returns the
/// output directory and the table.
///
/// With no `extra`, the images come from [`spec_build`]: built and loaded once for the whole test
/// run instead of once per test, and loaded again only when the engine holds something else under
/// their names.
pub fn build_and_load(images: &[&str], extra: &[&str], runtime: &str, budget_mb: u32) -> (Built, String) {
    let (built, stdout) = if extra.is_empty()
        && images.iter().all(|i| SPEC_IMAGES.contains(i) || VARIANT_IMAGES.contains(i) || *i == TOOLBOX)
    {
        let path = spec_images(images);
        (Built { path, _own: None }, spec_build().1)
    } else {
        let out = tempfile::tempdir().unwrap();
        let stdout = build_loaded(images, extra, out.path());
        (Built { path: out.path().to_path_buf(), _own: Some(out) }, stdout)
    };
    let (repo, tag) = repo_tag(runtime);
    let row = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{repo} ")) && l.contains(&format!(" {tag} ")))
        .unwrap_or_else(|| panic!("no row for {runtime}:\n{stdout}"));
    assert!(
        row.contains(&format!(" {budget_mb}MB ok")) || row.contains(&format!(" {budget_mb}.0MB ok")),
        "runtime image over budget or no budget shown: {row}"
    );
    let size_mb: f64 = row.split_whitespace().nth(2).unwrap().trim_end_matches("MB").parse().expect(row);
    assert!(size_mb < f64::from(budget_mb), "{row}");
    for img in images {
        let (repo, tag) = repo_tag(img);
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{repo} ")) && l.contains(&format!(" {tag} "))),
            "{stdout}"
        );
        assert!(built.path().join(out_name(img)).join("index.json").is_file(), "{img}: no OCI layout");
        assert!(built.path().join(format!("{}.tar", out_name(img))).is_file(), "{img}: no docker-archive");
    }
    (built, stdout)
}

/// `lucid build IMAGES... EXTRA... --load -o OUT`, asserting success; returns the size table.
fn build_loaded(images: &[&str], extra: &[&str], out: &Path) -> String {
    let run = lucid()
        .current_dir(repo_root())
        .arg("build")
        .args(images)
        .args(extra)
        .args(["--load", "-o"])
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "lucid build failed:\n{stdout}\n{stderr}");
    stdout
}

/// Every image of the spec, the four seed images and their Debian 13 variants, both platforms,
/// built with `lucid build --all --load` once per test run and shared by every test and test binary that only reads them (CI time: each of them
/// otherwise built and loaded the same images again). Kept under CARGO_TARGET_TMPDIR with the
/// size table, and reused while the lucid binary under test, the spec, its lock and requirements
/// and SOURCE_DATE_EPOCH are what they were built from; a file lock keeps two runs apart.
pub fn spec_build() -> (PathBuf, String) {
    static BUILT: OnceLock<(PathBuf, String)> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("spec-images");
            std::fs::create_dir_all(&root).unwrap();
            let lock = std::fs::File::create(root.join("lock")).unwrap();
            lock.lock().unwrap();
            let (out, table, key_file) = (root.join("out"), root.join("table.txt"), root.join("key"));
            let key = spec_key();
            if std::fs::read_to_string(&key_file).is_ok_and(|k| k == key) {
                return (out, std::fs::read_to_string(&table).unwrap());
            }
            let _ = std::fs::remove_file(&key_file);
            let stdout = build_loaded(&[], &["--all"], &out);
            std::fs::write(&table, &stdout).unwrap();
            std::fs::write(&key_file, key).unwrap();
            (out, stdout)
        })
        .clone()
}

/// The output directory of [`spec_build`], with `loaded` in the engine as `lucid build --load`
/// leaves them (both tags). Tests read it and write their own files elsewhere.
pub fn spec_images(loaded: &[&str]) -> PathBuf {
    let (out, _) = spec_build();
    for image in loaded {
        load_unless_there(&out, image);
    }
    out
}

/// What the shared build depends on: the binary under test (size and time) and the inputs.
fn spec_key() -> String {
    let bin = std::fs::metadata(env!("CARGO_BIN_EXE_lucid")).unwrap();
    let mut h = Sha256::new();
    h.update(format!("{} {:?}\n", bin.len(), bin.modified().unwrap()));
    for f in ["build-args.yml", "build-args.lock", "requirements.txt", "toolbox-requirements.txt"] {
        h.update(std::fs::read(repo_root().join("infrastructure/containers/base").join(f)).unwrap());
    }
    h.update(std::env::var("SOURCE_DATE_EPOCH").unwrap_or_default());
    hex::encode(h.finalize())
}

/// Loads `out/IMAGE.tar` (the host's platform, tagged as `lucid build --load` tags it) unless the
/// engine's `IMAGE:latest` (a variant's `REPO:VARIANT`) is already that image (its config digest).
fn load_unless_there(out: &Path, image: &str) {
    let (repo, tag) = repo_tag(image);
    let dir = out.join(out_name(image));
    let json = |p: PathBuf| -> serde_json::Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let blob = |digest: &str| dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let index = json(dir.join("index.json"));
    let mut manifest = json(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    if let Some(platforms) = manifest["manifests"].as_array() {
        let host = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
        let entry = platforms.iter().find(|m| m["platform"]["architecture"] == host).expect("the host's platform");
        manifest = json(blob(entry["digest"].as_str().unwrap()));
    }
    let want = manifest["config"]["digest"].as_str().unwrap().to_string();
    let have = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &format!("{repo}:{tag}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if have != want {
        docker(&["load", "-i", out.join(format!("{}.tar", out_name(image))).to_str().unwrap()]);
    }
}

/// Every secret a test hands lucid starts with this, so one search proves none is shown.
pub const SECRET_PREFIX: &str = "lucid-test-secret-";

/// Fails when any test secret shows in `o`'s stdout or stderr; returns both, for more checks.
pub fn assert_no_secret(o: &std::process::Output) -> String {
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!all.contains(SECRET_PREFIX), "a secret was printed:\n{all}");
    all
}

/// Runs `cmd` to completion, or kills it and fails the test once it has run for `deadline`: a
/// hostile input that makes lucid hang fails its test instead of hanging the suite.
pub fn output_within(cmd: &mut Command, deadline: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(deadline) {
        Ok(out) => out.expect("the command's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{cmd:?} ran longer than {deadline:?}");
        }
    }
}

/// An ECDSA P-256 key pair made by openssl: (private PKCS#8 PEM, public PEM).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    let sh = format!(
        "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out {k} && openssl ec -in {k} -pubout -out {p}",
        k = key.display(),
        p = public.display()
    );
    let o = Command::new("sh").arg("-c").arg(sh).output().unwrap();
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
    (key, public)
}
