//! The seed's Dockerfiles, built by a real Docker engine on images that lucid built and loaded
//! (no registry, nothing pulled), then the seed's validation commands (sections 1 to 5).
//!
//! How each seed command maps to what runs here (also in docs/lint.md):
//! - `docker buildx build -f F -t NAME .` -> `DOCKER_BUILDKIT=0 docker build -f F -t NAME:docker CTX`:
//!   Debian's engine (20.10) has no buildx plugin here; the legacy builder needs nothing pulled.
//!   The context is `infrastructure/containers/base` (where the seed's .dockerignore lives), copied
//!   to a temporary directory with the wheels (from lucid's verified cache, named by the lock) so
//!   the build needs no package index (`--build-arg PIP_OFFLINE=1`). Tags get `:docker` so lucid's
//!   own `NAME:latest` stays what `lucid build` made and both can be compared.
//! - `docker run --rm IMG /bin/sh -c ...`, `id`, `whoami`: must fail (no shell, no coreutils); the
//!   same facts are proved with the image's own Python.
//! - `pip --version`: fails in the runtime image, works in the build-stage image.
//! - Java commands: `Dockerfile.java-base` built the same way on the Java images lucid built and
//!   loaded; `java -version` works in both, `javac -version` only in the build-stage image.

#[path = "support/seed_context.rs"]
mod seed_context;
mod support;

use std::path::PathBuf;
use std::process::Command;

use seed_context::{docker_build, python_context};
use support::{docker, docker_ok, lucid, repo_root};

const BASE_DIR: &str = "infrastructure/containers/base";

/// The dated tag (`YYYYMMDD`) that `lucid build --load` gave `image`.
fn date_tag(image: &str) -> String {
    let tags = docker(&["image", "inspect", "--format", "{{join .RepoTags \" \"}}", &format!("{image}:latest")]);
    tags.split_whitespace()
        .filter_map(|t| t.strip_prefix(&format!("{image}:")))
        .find(|t| t.len() == 8 && t.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("{image} has no dated tag: {tags}"))
        .to_string()
}

/// Bytes of an image as the engine reports them.
fn size(image: &str) -> u64 {
    docker(&["image", "inspect", "--format", "{{.Size}}", image]).trim().parse().unwrap()
}

fn fails(args: &[&str]) -> bool {
    !docker_ok(args)
}

#[test]
fn seed_dockerfiles_build_on_lucid_images_and_pass_the_seed_commands() {
    support::require_docker();

    // Lucid builds and loads its images; every base image below is one of them.
    support::spec_images(&["lucid-python-base", "lucid-python-build"]);

    // `lucid lint` passes the seed's Dockerfiles before Docker sees them.
    let lint = lucid().current_dir(repo_root()).args(["lint", "--fail-on", "warning"]).output().unwrap();
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stdout));

    // Section 3: `grep "FROM.*as"`, as written (case-sensitive).
    for f in ["Dockerfile.python-base", "Dockerfile.java-base"] {
        let text = std::fs::read_to_string(repo_root().join(BASE_DIR).join(f)).unwrap();
        let hits: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM") && l.contains(" as ")).collect();
        assert_eq!(hits.len(), 2, "{f}: {hits:?}");
        let grep = Command::new("grep").arg("FROM.*as").arg(repo_root().join(BASE_DIR).join(f)).output().unwrap();
        assert!(grep.status.success(), "{f}");
    }

    let tag = date_tag("lucid-python-base");
    let build_tag = date_tag("lucid-python-build");
    let ctx = python_context();
    let args = |target: &str, name: &str| -> Vec<String> {
        [
            "-f",
            "Dockerfile.python-base",
            "--build-arg",
            &format!("PYTHON_BUILD_IMAGE=lucid-python-build:{build_tag}"),
            "--build-arg",
            &format!("PYTHON_BASE_IMAGE=lucid-python-base:{tag}"),
            "--build-arg",
            "PIP_OFFLINE=1",
            "--target",
            target,
            "-t",
            name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // Sections 1 and 3: the runtime image (the seed's lucid-python-base), the runtime-stage target
    // (lucid-python-runtime) and the build-stage target (lucid-python-build).
    for (target, name) in [
        ("runtime-stage", "lucid-python-base:docker"),
        ("runtime-stage", "lucid-python-runtime:docker"),
        ("build-stage", "lucid-python-build:docker"),
    ] {
        let a = args(target, name);
        let log = docker_build(ctx.path(), &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!log.contains("Pulling"), "something was pulled:\n{log}");
    }
    let img = "lucid-python-base:docker";

    // Section 1: size, and the shell that must not be there.
    let listing = docker(&["images", "lucid-python-base"]);
    assert!(listing.contains("docker") && listing.contains("latest"), "{listing}");
    assert!(fails(&["run", "--rm", img, "/bin/sh", "-c", "echo 'Python base image verification'"]), "/bin/sh ran");
    let (lucid_size, docker_size) = (size("lucid-python-base:latest"), size(img));
    eprintln!(
        "lucid-python-base: lucid build {:.1} MB, docker build {:.1} MB (+{:.1} MB: the requirements layer, \
         already in lucid's image, copied again by the runtime stage)",
        lucid_size as f64 / 1e6,
        docker_size as f64 / 1e6,
        (docker_size as f64 - lucid_size as f64) / 1e6
    );
    assert!(docker_size < 100_000_000, "over the seed's 100 MB target: {docker_size}");
    assert!(docker_size.abs_diff(lucid_size) < 10_000_000, "lucid {lucid_size} vs docker {docker_size}");

    // Section 4: the user, from the metadata and from inside; `id` must fail (no coreutils).
    let inspect = docker(&["inspect", img]);
    let user_lines: Vec<&str> = inspect.lines().filter(|l| l.to_lowercase().contains("user")).collect();
    assert!(user_lines.iter().any(|l| l.contains("\"User\": \"65532:65532\"")), "{user_lines:?}");
    assert!(fails(&["run", "--rm", img, "id"]), "id ran in a distroless image");
    let uid = docker(&["run", "--rm", img, "python", "-c", "import os; print(os.getuid(), os.getgid())"]);
    assert_eq!(uid.trim(), "65532 65532");

    // Section 5: python works; pip only in the build stage.
    let v = docker(&["run", "--rm", img, "python", "--version"]);
    assert!(v.starts_with("Python 3.11"), "{v}");
    assert!(fails(&["run", "--rm", img, "pip", "--version"]), "pip ran in the runtime image");
    let pip = docker(&["run", "--rm", "lucid-python-build:docker", "pip", "--version"]);
    assert!(pip.starts_with("pip "), "{pip}");
    // The requirements Docker installed are the ones Python imports, with deterministic byte code.
    let req = docker(&[
        "run",
        "--rm",
        img,
        "python",
        "-c",
        "import requests; print(requests.__version__, requests.__cached__)",
    ]);
    assert!(req.contains("2.34.2 /usr/local/lib/python3.11/site-packages/requests/__pycache__/"), "{req}");

    // Security validation: `whoami` fails; `/bin/sh -c "apk info"` fails, so the seed's fallback echo runs.
    assert!(fails(&["run", "--rm", img, "whoami"]), "whoami ran");
    assert!(fails(&["run", "--rm", img, "/bin/sh", "-c", "apk info"]));

    // Runtime Optimization: the seed's psutil command, as written.
    let mem = docker(&[
        "run",
        "--rm",
        "lucid-python-base",
        "python",
        "-c",
        "import psutil; print('Memory usage:', psutil.virtual_memory())",
    ]);
    assert!(mem.contains("Memory usage: svmem(total="), "{mem}");
    let mem =
        docker(&["run", "--rm", img, "python", "-c", "import psutil; print('Memory usage:', psutil.virtual_memory())"]);
    assert!(mem.contains("Memory usage: svmem(total="), "{mem}");

    // lucid verify holds what Docker built to the same policy, with the Dockerfile's lint findings
    // in the same report.
    let verify = lucid()
        .current_dir(repo_root())
        .args(["verify", "docker-daemon:lucid-python-base:docker", "--dockerfile"])
        .arg(repo_root().join(BASE_DIR).join("Dockerfile.python-base"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    python_variant_seed(ctx.path());
    java_seed();
}

/// Dockerfile.python-base with its variant arguments: the requirements on Python 3.13 (Debian 13).
fn python_variant_seed(ctx: &std::path::Path) {
    support::spec_images(&["lucid-python-base:3.13-debian13", "lucid-python-build:3.13-debian13"]);
    let img = "lucid-python-base:docker-3.13";
    docker_build(
        ctx,
        &[
            "-f",
            "Dockerfile.python-base",
            "--build-arg",
            "PYTHON_VERSION=3.13",
            "--build-arg",
            "PYTHON_BUILD_IMAGE=lucid-python-build:3.13-debian13",
            "--build-arg",
            "PYTHON_BASE_IMAGE=lucid-python-base:3.13-debian13",
            "--build-arg",
            "PIP_OFFLINE=1",
            "--target",
            "runtime-stage",
            "-t",
            img,
        ],
    );
    let mem =
        docker(&["run", "--rm", img, "python", "-c", "import psutil; print('Memory usage:', psutil.virtual_memory())"]);
    assert!(mem.contains("Memory usage: svmem(total="), "{mem}");
    let req = docker(&["run", "--rm", img, "python", "-c", "import requests; print(requests.__cached__)"]);
    assert!(req.starts_with("/usr/local/lib/python3.13/site-packages/requests/__pycache__/"), "{req}");
    assert!(fails(&["run", "--rm", img, "/bin/sh", "-c", "true"]), "/bin/sh ran");
    let _ = Command::new("docker").args(["image", "rm", img]).output();
}

/// Section 2 and the Java half of section 5.
fn java_seed() {
    support::spec_images(&["lucid-java-base", "lucid-java-build"]);
    let (tag, build_tag) = (date_tag("lucid-java-base"), date_tag("lucid-java-build"));
    let ctx: PathBuf = repo_root().join(BASE_DIR);
    for (target, name) in [("runtime-stage", "lucid-java-base:docker"), ("build-stage", "lucid-java-build:docker")] {
        docker_build(
            &ctx,
            &[
                "-f",
                "Dockerfile.java-base",
                "--build-arg",
                &format!("JAVA_BUILD_IMAGE=lucid-java-build:{build_tag}"),
                "--build-arg",
                &format!("JAVA_BASE_IMAGE=lucid-java-base:{tag}"),
                "--target",
                target,
                "-t",
                name,
            ],
        );
    }
    let img = "lucid-java-base:docker";
    let v = docker(&["run", "--rm", img, "java", "-version"]);
    assert!(v.contains("17."), "{v}");
    assert!(fails(&["run", "--rm", img, "javac", "-version"]), "javac ran in the runtime image");
    assert!(docker(&["run", "--rm", "lucid-java-build:docker", "javac", "-version"]).contains("javac 17"));
    assert!(fails(&["run", "--rm", img, "whoami"]));
    assert!(fails(&["run", "--rm", img, "/bin/sh", "-c", "true"]));
    eprintln!(
        "lucid-java-base: lucid build {} bytes, docker build {} bytes",
        size("lucid-java-base:latest"),
        size(img)
    );
    // JAVA_TAG selects a variant of both images: Java 21 on Debian 13.
    support::spec_images(&["lucid-java-base:21-debian13", "lucid-java-build:21-debian13"]);
    let img = "lucid-java-base:docker-21";
    docker_build(
        &ctx,
        &["-f", "Dockerfile.java-base", "--build-arg", "JAVA_TAG=21-debian13", "--target", "runtime-stage", "-t", img],
    );
    let v = docker(&["run", "--rm", img, "java", "-version"]);
    assert!(v.contains("version \"21."), "{v}");
    assert!(fails(&["run", "--rm", img, "/bin/sh", "-c", "true"]));
    let _ = Command::new("docker").args(["image", "rm", img]).output();
}
