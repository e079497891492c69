//! Real applications on lucid-python-base (Python 3.11, Debian 12) and its Debian 13 variant
//! (Python 3.13): the most downloaded packages of the Python package
//! index that ship compiled code, installed the way the seed's Dockerfile.python-base installs
//! (a build stage on lucid-python-build runs pip into a target directory, the runtime stage copies
//! it onto lucid-python-base), then each given a real job as UID 65532, with no network and a
//! read-only root filesystem, in a real Docker engine; a subset again on arm64 under qemu.
//!
//! The packages, their pinned versions, the extension modules that must load and the jobs are in
//! tests/compat/jobs.py (the one list this test, scripts/compat-report and docs/base-images.md
//! share); the Dockerfile is tests/compat/Dockerfile. Containers cannot reach the package index:
//! the wheels, dependencies included, are downloaded on the host into a cache under the target
//! directory (`$CARGO_TARGET_TMPDIR/compat-wheels/<arch>`) and reused while they resolve the
//! requirements without the index.
//!
//! arm64 is a cross build: the build stage runs on the host's (amd64) lucid-python-build and pip
//! installs the arm64 wheels by their platform tags, the runtime stage is the arm64
//! lucid-python-base, and only the jobs run under qemu. Running pip and compileall in the arm64
//! build stage under qemu also works, but took 2 min 43 s against 40 s, and gave the same
//! site-packages to the byte (byte code does not depend on the platform).
//!
//! Every image gets a tag of its own (`lucid-compat/...:<arch>-<pid>`), copied from lucid's OCI
//! layout with skopeo: `docker load` of the arm64 archive would retag the shared
//! `lucid-python-base:latest`. The tags and the build stages are removed at the end.
//!
//! With LUCID_COMPAT_LOG_DIR set, the job logs are written there as amd64.log and arm64.log
//! (scripts/compat-report turns them into the docs table).
//!
//! Needs a Docker engine, qemu-user-static with binfmt, skopeo, python3 with pip on the host, the
//! Debian mirror and the package index.

#[path = "support/seed_context.rs"]
mod seed_context;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::{docker, repo_root};

/// One platform of the test: lucid's name for it, the wheel tags pip selects with, and whether
/// only the arm64 subset of jobs runs.
struct Platform {
    arch: &'static str,
    wheel_tags: [&'static str; 2],
    subset: bool,
}

const AMD64: Platform =
    Platform { arch: "amd64", wheel_tags: ["manylinux2014_x86_64", "manylinux_2_28_x86_64"], subset: false };
const ARM64: Platform =
    Platform { arch: "arm64", wheel_tags: ["manylinux2014_aarch64", "manylinux_2_28_aarch64"], subset: true };

/// One Python of the spec: its interpreter and the images (as `lucid build` names them) of its
/// runtime and build stages.
struct Python {
    version: &'static str,
    base: &'static str,
    build: &'static str,
    /// The runtime image's budget in the spec, MB.
    budget: u32,
}

const PY311: Python = Python { version: "3.11", base: "lucid-python-base", build: "lucid-python-build", budget: 100 };
const PY313: Python = Python {
    version: "3.13",
    base: "lucid-python-base:3.13-debian13",
    build: "lucid-python-build:3.13-debian13",
    budget: 55,
};

impl Python {
    /// `cp313`.
    fn abi(&self) -> String {
        format!("cp{}", self.version.replace('.', ""))
    }
}

/// An arbitrary UID in the root group, as OpenShift runs containers.
const ARBITRARY_USER: &str = "1000650000:0";

fn jobs_py() -> PathBuf {
    repo_root().join("tests/compat/jobs.py")
}

/// `python3 tests/compat/jobs.py ARGS [--arm64]` on the host; its stdout.
fn jobs_list(command: &str, platform: &Platform) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(jobs_py()).arg(command);
    if platform.subset {
        cmd.arg("--arm64");
    }
    let out = cmd.output().expect("python3 runs");
    assert!(out.status.success(), "jobs.py {command}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Where `pip download` resolves the requirements from.
enum Source<'a> {
    /// The wheel cache alone (no index), copying the wheels it picks into this directory.
    Cache(&'a Path),
    /// The package index, saving into the cache.
    Index,
}

/// `pip download` of `requirements` for `platform`, with `cache` as the wheel cache. Returns
/// pip's output on failure.
fn pip_download(
    py: &Python,
    platform: &Platform,
    requirements: &Path,
    cache: &Path,
    source: Source,
) -> Result<(), String> {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:"]);
    for tag in platform.wheel_tags {
        cmd.args(["--platform", tag]);
    }
    cmd.args(["--python-version", py.version, "--implementation", "cp", "--abi", &py.abi(), "-r"]).arg(requirements);
    match source {
        Source::Cache(dest) => cmd.args(["--no-index", "--find-links"]).arg(cache).arg("-d").arg(dest),
        Source::Index => cmd.arg("-d").arg(cache),
    };
    let out = cmd.output().expect("python3 runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// The build context for `platform` in a new directory under the target dir: the Dockerfile,
/// jobs.py, requirements.txt and wheels/ with exactly the wheels that resolve the requirements
/// (copied from the cache, which is filled from the package index only when it falls short).
fn context(py: &Python, platform: &Platform) -> tempfile::TempDir {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let cache = tmp.join("compat-wheels").join(format!("{}-{}", platform.arch, py.abi()));
    std::fs::create_dir_all(&cache).unwrap();
    let ctx = tempfile::Builder::new().prefix("compat-ctx").tempdir_in(tmp).unwrap();
    for f in ["Dockerfile", "jobs.py"] {
        std::fs::copy(repo_root().join("tests/compat").join(f), ctx.path().join(f)).unwrap();
    }
    let requirements = ctx.path().join("requirements.txt");
    std::fs::write(&requirements, jobs_list("requirements", platform)).unwrap();
    let wheels = ctx.path().join("wheels");
    if pip_download(py, platform, &requirements, &cache, Source::Cache(&wheels)).is_err() {
        // What the failed attempt copied may be stale: the second attempt starts empty.
        let _ = std::fs::remove_dir_all(&wheels);
        let started = Instant::now();
        if let Err(log) = pip_download(py, platform, &requirements, &cache, Source::Index) {
            panic!("pip download of the {} wheels from the package index failed:\n{log}", platform.arch);
        }
        eprintln!("{}: wheels downloaded into {} in {:.0?}", platform.arch, cache.display(), started.elapsed());
        if let Err(log) = pip_download(py, platform, &requirements, &cache, Source::Cache(&wheels)) {
            panic!("the downloaded {} wheels do not resolve the requirements:\n{log}", platform.arch);
        }
    }
    let n = std::fs::read_dir(&wheels).unwrap().count();
    assert!(n >= 10, "{}: only {n} wheels resolved", platform.arch);
    ctx
}

/// Image tags and build-stage images this test made, removed when it ends (passed or not).
#[derive(Default)]
struct Made(Vec<String>);

impl Drop for Made {
    fn drop(&mut self) {
        for image in self.0.iter().rev() {
            // Untags an image that other tags share (lucid's own), removes one only this test had.
            let _ = Command::new("docker").args(["image", "rm", image]).output();
        }
    }
}

/// Copies `image` for `platform` from lucid's OCI layout in `out` into the engine under a tag of
/// this run's own.
fn load(out: &Path, image: &str, platform: &Platform, made: &mut Made) -> String {
    support::require_tool("skopeo");
    let (repo, layout_tag) = support::repo_tag(image);
    let name = repo.strip_prefix("lucid-").unwrap();
    let tag = format!("lucid-compat/{name}:{layout_tag}-{}-{}", platform.arch, std::process::id());
    let src = format!("oci:{}:{layout_tag}", out.join(support::out_name(image)).display());
    let run = Command::new("skopeo")
        .args(["copy", "--quiet", "--override-arch", platform.arch, &src])
        .arg(format!("docker-daemon:{tag}"))
        .output()
        .unwrap();
    assert!(run.status.success(), "skopeo copy {src} -> {tag}: {}", String::from_utf8_lossy(&run.stderr));
    made.0.push(tag.clone());
    tag
}

/// The id of the last image of the stage before `FROM ... as runtime-stage` in a legacy build log.
fn build_stage_id(log: &str) -> String {
    let at = log.find("as runtime-stage").unwrap_or_else(|| panic!("no runtime stage in the build log:\n{log}"));
    log[..at]
        .lines()
        .rev()
        .find_map(|l| {
            l.trim().strip_prefix("---> ").filter(|id| id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .unwrap_or_else(|| panic!("no build-stage image id in the build log:\n{log}"))
        .to_string()
}

/// Builds tests/compat/Dockerfile for `platform`: the build stage on `build_image`, the runtime
/// stage on `base_image`. Returns the runtime image's tag.
fn build(py: &Python, platform: &Platform, build_image: &str, base_image: &str, made: &mut Made) -> String {
    let ctx = context(py, platform);
    let tag = format!("lucid-compat/apps:{}-{}-{}", py.abi(), platform.arch, std::process::id());
    let mut args = vec![
        "--build-arg".to_string(),
        format!("PYTHON_VERSION={}", py.version),
        "--build-arg".to_string(),
        format!("PYTHON_BUILD_IMAGE={build_image}"),
        "--build-arg".to_string(),
        format!("PYTHON_BASE_IMAGE={base_image}"),
        "-t".to_string(),
        tag.clone(),
    ];
    if platform.subset {
        args.extend(["--build-arg".to_string(), format!("WHEEL_PLATFORMS={}", platform.wheel_tags.join(" "))]);
    }
    let started = Instant::now();
    let log = seed_context::docker_build(ctx.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    made.0.push(build_stage_id(&log));
    made.0.push(tag.clone());
    assert!(!log.contains("Pulling"), "something was pulled:\n{log}");
    let arch = docker(&["image", "inspect", "--format", "{{.Architecture}}", &tag]);
    assert_eq!(arch.trim(), platform.arch, "{tag}");
    let size: u64 = docker(&["image", "inspect", "--format", "{{.Size}}", &tag]).trim().parse().unwrap();
    eprintln!("{tag}: built in {:.0?}, {:.0} MB", started.elapsed(), size as f64 / 1e6);
    tag
}

/// Runs the jobs in `image` as `user`, no network, read-only root; asserts that every expected
/// job printed its `ok` line and the run exited 0. Returns the log.
fn run_jobs(image: &str, user: &str, platform: &Platform) -> String {
    let mut args =
        vec!["run", "--rm", "--user", user, "--network", "none", "--read-only", image, "python", "/app/jobs.py"];
    if platform.subset {
        args.push("--arm64");
    }
    let started = Instant::now();
    let out = Command::new("docker").args(&args).output().expect("docker runs");
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let context = format!("docker {}:\n{log}{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    let expected: Vec<String> =
        jobs_list("expect", platform).lines().filter_map(|l| l.split(' ').next()).map(str::to_string).collect();
    let missing: Vec<&String> =
        expected.iter().filter(|name| !log.lines().any(|l| l.starts_with(&format!("ok {name} ")))).collect();
    assert!(missing.is_empty(), "no `ok` line for {missing:?}:\n{context}");
    assert!(log.contains(&format!("jobs: {} ok, 0 failed", expected.len())), "{context}");
    assert!(out.status.success(), "{context}");
    eprintln!("{image} as {user}: {} jobs passed in {:.0?}", expected.len(), started.elapsed());
    log
}

fn save_log(py: &Python, platform: &Platform, log: &str) {
    if let Some(dir) = std::env::var_os("LUCID_COMPAT_LOG_DIR") {
        let name = if py.version == PY311.version {
            platform.arch.to_string()
        } else {
            format!("{}-{}", platform.arch, py.abi())
        };
        let path = Path::new(&dir).join(format!("{name}.log"));
        std::fs::write(&path, log).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Builds the jobs' image on `py`'s images for each platform and runs the jobs as 65532 (and, with
/// `arbitrary_uid`, on amd64 as OpenShift's arbitrary UID as well).
fn run_everything(py: &Python, arbitrary_uid: bool) {
    support::require_docker();
    support::require_tool("python3");
    let started = Instant::now();

    // At least 20 distinct packages from the package index whose jobs need their compiled code.
    let expected = jobs_list("expect", &AMD64);
    let compiled = expected.lines().filter(|l| l.ends_with(" wheel")).count();
    assert!(compiled >= 20, "only {compiled} packages:\n{expected}");

    let (out, _) = support::build_and_load(&[py.base, py.build], &[], py.base, py.budget);
    let mut made = Made::default();
    let build_image = load(out.path(), py.build, &AMD64, &mut made);
    for platform in [&AMD64, &ARM64] {
        let base = load(out.path(), py.base, platform, &mut made);
        let image = build(py, platform, &build_image, &base, &mut made);
        let log = run_jobs(&image, "65532:65532", platform);
        save_log(py, platform, &log);
        // OpenShift's arbitrary UID: no passwd entry, group 0, HOME=/.
        if arbitrary_uid && !platform.subset {
            run_jobs(&image, ARBITRARY_USER, platform);
        }
    }
    eprintln!("compat_apps {}: {:.0?} in all", py.version, started.elapsed());
}

#[test]
fn most_downloaded_compiled_packages_run_on_lucid_python_base() {
    run_everything(&PY311, true);
}

/// The same packages, at the same versions, from their cp313 wheels on Debian 13's Python 3.13.
#[test]
fn most_downloaded_compiled_packages_run_on_python_3_13_debian13() {
    run_everything(&PY313, false);
}
