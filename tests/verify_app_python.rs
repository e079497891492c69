//! `lucid verify --app` and `lucid report --app` on Python applications, end to end: real wheels
//! from the package index (downloaded on the host with pip into target/tmp/test-wheels, reused
//! across runs), a real site-packages (`pip install --target`), lucid-python-base built from the
//! repository's spec, and the same image built from a copy of the spec without libstdc++6.
//!
//! Needs the Debian mirror and the package index (like tests/build_python.rs), python3 with pip,
//! and a Docker engine (support::build_and_load loads the image).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{lucid, repo_root};

/// Wheels that must fit lucid-python-base on both platforms: C, C++ (numpy, pandas, grpcio),
/// Fortran and OpenBLAS bundled by auditwheel (numpy), abi3 on manylinux_2_28 (cryptography).
const FITS: &[&str] =
    &["numpy==2.2.6", "pandas==2.3.2", "grpcio==1.85.3", "markupsafe==3.0.2", "pyyaml==6.0.2", "cryptography==44.0.3"];

/// Where downloaded wheels are kept between runs.
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-wheels")
}

/// Runs pip once per argument list in `runs`, each followed by one fresh directory (after `-d`
/// or `--target`), then moves that directory to `cache()/name` (a directory that exists is
/// reused: the pins make its content fixed). Fails the test with pip's output.
fn pip_into(name: &str, runs: &[Vec<&str>]) -> PathBuf {
    let dir = cache().join(name);
    if dir.is_dir() {
        return dir;
    }
    std::fs::create_dir_all(cache()).unwrap();
    let tmp = tempfile::tempdir_in(cache()).unwrap();
    for args in runs {
        let out = Command::new("python3")
            .args(["-m", "pip", "--disable-pip-version-check", "-q"])
            .args(args)
            .arg(tmp.path())
            .output()
            .expect("python3 runs (bash .ci/run installs it)");
        assert!(
            out.status.success(),
            "pip {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Another test may have made it meanwhile: then keep theirs.
    let kept = tmp.keep();
    if std::fs::rename(&kept, &dir).is_err() {
        std::fs::remove_dir_all(&kept).unwrap();
    }
    dir
}

/// `pip download` of `pins` (no dependencies, binary wheels only) for CPython `python` on each
/// of `platforms` (one pip run each: pip picks one wheel per project), all into one directory.
fn wheels(name: &str, python: &str, platforms: &[&str], pins: &[&str]) -> PathBuf {
    let runs: Vec<Vec<&str>> = platforms
        .iter()
        .map(|p| {
            let mut args = vec!["download", "--only-binary=:all:", "--no-deps", "--implementation", "cp"];
            args.extend(["--python-version", python]);
            // pip accepts a platform list: the policy's newer tags first, then the 2014 baseline.
            for tag in p.split(',') {
                args.extend(["--platform", tag]);
            }
            args.extend(pins);
            args.push("-d");
            args
        })
        .collect();
    pip_into(name, &runs)
}

/// The wheelhouse that fits lucid-python-base on amd64 and arm64.
fn fitting() -> PathBuf {
    wheels(
        "fits",
        "3.11",
        &["manylinux_2_28_x86_64,manylinux2014_x86_64", "manylinux_2_28_aarch64,manylinux2014_aarch64"],
        FITS,
    )
}

/// The one file in `dir` whose name starts with `prefix` and contains `part`.
fn file(dir: &Path, prefix: &str, part: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_lowercase();
            n.starts_with(prefix) && n.contains(part)
        })
        .collect();
    assert_eq!(found.len(), 1, "{prefix}*{part}* in {}: {found:?}", dir.display());
    found[0].clone()
}

fn run(args: &[&str], apps: &[&Path]) -> Output {
    let mut cmd = lucid();
    cmd.current_dir(repo_root()).args(args);
    for a in apps {
        cmd.arg("--app").arg(a);
    }
    cmd.output().unwrap()
}

/// `lucid verify IMAGE --app ... --no-runtime --format json`: (exit code, findings, stderr).
fn verify(image: &str, apps: &[&Path]) -> (i32, Vec<Value>, String) {
    let out = run(&["verify", image, "--no-runtime", "--format", "json"], apps);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap();
    if code > 1 {
        return (code, Vec::new(), stderr);
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (code, v["findings"].as_array().unwrap().clone(), stderr)
}

/// The findings with `id` about the `platform` image (`linux/amd64`; `linux/arm64` matches the
/// `linux/arm64/v8` a config names).
fn of<'a>(findings: &'a [Value], id: &str, platform: &str) -> Vec<&'a Value> {
    let want = [format!("({platform})"), format!("({platform}/")];
    findings
        .iter()
        .filter(|f| f["id"] == id && want.iter().any(|w| f["subject"].as_str().unwrap().contains(w.as_str())))
        .collect()
}

fn status(f: &Value) -> &str {
    f["status"].as_str().unwrap()
}

fn text(f: &Value) -> String {
    format!("{} | fix: {} | at: {}", f["message"], f["remediation"], f["locations"])
}

#[test]
fn python_base_fits_real_applications() {
    let (out, _) = support::build_and_load(&["lucid-python-base"], &[], "lucid-python-base", 100);
    let image = format!("oci:{}:latest", out.path().join("lucid-python-base").display());
    let fits = fitting();
    wheelhouse_fits_both_platforms(&image, &fits);
    tags_that_do_not_fit(&image);
    site_packages(&image, &format!("docker-archive:{}", out.path().join("lucid-python-base.tar").display()));
    report_app(&image, &fits);
    hostile_apps(&image, &fits);
}

fn wheelhouse_fits_both_platforms(image: &str, fits: &Path) {
    let (code, findings, stderr) = verify(image, &[fits]);
    let fails: Vec<String> = findings.iter().filter(|f| status(f) == "fail").map(text).collect();
    assert_eq!(code, 0, "{fails:#?}\n{stderr}");
    for platform in ["linux/amd64", "linux/arm64"] {
        let policy = of(&findings, "LUCID-APP-001", platform);
        assert!(policy.len() == 1 && status(policy[0]) == "pass", "{policy:?}");
        assert!(policy[0]["message"].as_str().unwrap().contains("Python 3.11"), "{policy:?}");
        for id in ["LUCID-APP-002", "LUCID-APP-003", "LUCID-APP-004"] {
            let f = of(&findings, id, platform);
            assert!(f.len() == 1 && status(f[0]) == "pass", "{id} on {platform}: {f:?}");
        }
        let libs = text(of(&findings, "LUCID-APP-002", platform)[0]);
        assert!(libs.contains("libgfortran") && libs.contains("bundled"), "numpy's bundled libraries: {libs}");
        let versions = text(of(&findings, "LUCID-APP-003", platform)[0]);
        assert!(versions.contains("GLIBCXX_3.4") && versions.contains("GLIBC_2."), "{versions}");
        let tags = text(of(&findings, "LUCID-APP-004", platform)[0]);
        assert!(tags.contains(&format!("{} distribution(s) fit CPython 3.11", FITS.len())), "{tags}");
        assert!(tags.contains("glibc 2.36"), "{tags}");
        // The other architecture's wheels are reported, not failed.
        let other = of(&findings, "LUCID-APP-005", platform);
        let other_arch = if platform == "linux/amd64" { "aarch64" } else { "x86_64" };
        assert!(other.len() == 1 && status(other[0]) == "pass", "{other:?}");
        assert!(text(other[0]).contains(&format!("{} not applicable here", FITS.len())), "{other:?}");
        assert!(text(other[0]).contains(&format!("built for {other_arch}")), "{other:?}");
    }
}

fn tags_that_do_not_fit(image: &str) {
    let musl = wheels("musllinux", "3.11", &["musllinux_1_2_x86_64"], &["markupsafe==3.0.2"]);
    let cp312 = wheels("cp312", "3.12", &["manylinux2014_x86_64"], &["markupsafe==3.0.2"]);
    let glibc239 = wheels("manylinux_2_39", "3.11", &["manylinux_2_39_aarch64"], &["pyqt6==6.12.0"]);
    let cases: [(&Path, &str, &str); 3] = [
        (&musl, "linux/amd64", "musllinux_1_2_x86_64 is for musl libc: it never fits a glibc image"),
        (&cp312, "linux/amd64", "built for CPython 3.12 (cp312-cp312), the image has CPython 3.11"),
        (&glibc239, "linux/arm64", "needs glibc 2.39, the image has glibc 2.36"),
    ];
    for (dir, platform, why) in cases {
        let whl = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
        let (code, findings, stderr) = verify(image, &[&whl]);
        assert_eq!(code, 1, "{}: {stderr}", whl.display());
        let f = of(&findings, "LUCID-APP-004", platform);
        assert!(f.len() == 1 && status(f[0]) == "fail", "{}: {f:?}", whl.display());
        let t = text(f[0]);
        let name = whl.file_name().unwrap().to_string_lossy().into_owned();
        assert!(t.contains(why) && t.contains(&name) && t.contains("pip download"), "{t}");
        // What does not fit is never installed: its ELF files are not checked.
        let elf = of(&findings, "LUCID-APP-002", platform);
        assert!(elf.len() == 1 && status(elf[0]) == "pass" && text(elf[0]).contains("no ELF files"), "{elf:?}");
    }
}

/// `pip install --target`: passes on amd64 (a docker-archive holds one platform); against the
/// index, the arm64 image fails it by its tags and by its ELF machine.
fn site_packages(index: &str, amd64_only: &str) {
    let target = pip_into(
        "site-packages-x86_64",
        &[vec![
            "install",
            "--only-binary=:all:",
            "--no-deps",
            "--no-compile",
            "--platform",
            "manylinux2014_x86_64",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "numpy==2.2.6",
            "markupsafe==3.0.2",
            "--target",
        ]],
    );
    let (code, findings, stderr) = verify(amd64_only, &[&target]);
    let fails: Vec<String> = findings.iter().filter(|f| status(f) == "fail").map(text).collect();
    assert_eq!(code, 0, "{fails:#?}\n{stderr}");
    let libs = text(of(&findings, "LUCID-APP-002", "linux/amd64")[0]);
    assert!(libs.contains("bundled") && libs.contains("libstdc++.so.6"), "{libs}");
    let (code, findings, _) = verify(index, &[&target]);
    assert_eq!(code, 1);
    assert!(of(&findings, "LUCID-APP-004", "linux/amd64").iter().all(|f| status(f) == "pass"));
    let tags: Vec<String> = of(&findings, "LUCID-APP-004", "linux/arm64").iter().map(|f| text(f)).collect();
    assert!(tags.len() == 2 && tags.iter().all(|t| t.contains("built for x86_64, the image is aarch64")), "{tags:#?}");
    let elf = of(&findings, "LUCID-APP-002", "linux/arm64");
    assert!(elf.len() == 1 && text(elf[0]).contains("built for x86_64 cannot load on linux/arm64"), "{elf:?}");
}

fn report_app(image: &str, fits: &Path) {
    let out = run(&["report", image, "--format", "json"], &[fits]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    for a in all.as_array().unwrap() {
        let app = a["app_findings"].as_array().expect("app_findings");
        assert!(app.len() >= 4 && app.iter().all(|f| status(f) == "pass"), "{app:?}");
    }
    let musl = std::fs::read_dir(cache().join("musllinux")).unwrap().next().unwrap().unwrap().path();
    let out = run(&["report", image], &[&musl]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("applications (--app): ") && text.contains("LUCID-APP-004") && text.contains("musl"),
        "{text}"
    );
}

/// Untrusted applications: clear errors naming the file, exit 2 (3 for a PATH that is no
/// application), never a panic.
fn hostile_apps(image: &str, fits: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let expect = |apps: &[&Path], code: i32, words: &[&str]| {
        let out = run(&["verify", image, "--no-runtime"], apps);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{apps:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        for w in words {
            assert!(stderr.contains(w), "{w:?} not in: {stderr}");
        }
    };
    // A wheel that is not a zip.
    let not_zip = dir.path().join("evil-1.0-py3-none-any.whl");
    std::fs::write(&not_zip, b"this is not a zip archive").unwrap();
    expect(&[&not_zip], 2, &["evil-1.0-py3-none-any.whl", "not a zip archive"]);
    // A wheel whose member climbs out of it.
    let slip = dir.path().join("slip-1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&slip).unwrap());
    zip.start_file("../../etc/evil.so", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"\x7fELF").unwrap();
    zip.finish().unwrap();
    expect(&[&slip], 2, &["slip-1.0-py3-none-any.whl", "../../etc/evil.so", "climbs out"]);
    // A site-packages with a truncated ELF: the first 4 kB of a real extension module.
    let site = dir.path().join("truncated");
    std::fs::create_dir_all(site.join("markupsafe-3.0.2.dist-info")).unwrap();
    std::fs::create_dir_all(site.join("markupsafe")).unwrap();
    let whl = file(fits, "markupsafe", "x86_64");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&whl).unwrap()).unwrap();
    let name = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .find(|n| n.ends_with(".so"))
        .expect("markupsafe has an extension module");
    let mut so = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(&name).unwrap(), &mut so).unwrap();
    std::fs::write(site.join(&name), &so[..4096]).unwrap();
    expect(&[&site], 2, &[&name, "truncated or corrupt ELF"]);
    // A site-packages with a link out of itself.
    let linked = dir.path().join("linked");
    std::fs::create_dir_all(linked.join("pkg-1.0.dist-info")).unwrap();
    std::fs::create_dir_all(linked.join("pkg")).unwrap();
    std::os::unix::fs::symlink("../../../../etc/passwd", linked.join("pkg/escape")).unwrap();
    expect(&[&linked], 2, &["pkg/escape", "outside"]);
    // Neither Java nor Python, and a PATH that does not exist.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("README"), "nothing here").unwrap();
    expect(&[&empty], 3, &["no .jar, no .whl and no *.dist-info"]);
    expect(&[&dir.path().join("missing")], 2, &["missing", "cannot read it"]);
    // The same errors from lucid report.
    let out = run(&["report", image], &[&not_zip]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["report", image], &[&empty]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The streaming ELF reader (head, dynamic segment, the tables it points to) agrees with reading
/// each file whole, on every ELF file of the real wheels: auditwheel's patchelf moves string
/// tables past the dynamic segment, and aarch64 builds have one text segment from offset 0.
#[test]
fn streamed_elf_reads_agree_with_whole_files() {
    use lucid::formats::elf;
    let (mut files, mut beyond_head) = (0, 0);
    for whl in std::fs::read_dir(fitting()).unwrap() {
        let whl = whl.unwrap().path();
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&whl).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut archive.by_index(i).unwrap(), &mut data).unwrap();
            let Some(whole) = elf::dynamic(&data) else { continue };
            let mut buf = Vec::new();
            let streamed =
                elf::read_streamed(&mut std::io::Cursor::new(&data), data.len() as u64, 64 << 20, &mut buf).unwrap();
            let name = archive.by_index(i).unwrap().name().unwrap().to_string();
            assert_eq!(streamed, elf::Streamed::Dynamic(whole), "{}: {name}", whl.display());
            files += 1;
            beyond_head += usize::from(buf.len() < data.len());
        }
    }
    eprintln!("{files} ELF files, {beyond_head} of them read in parts");
    assert!(files > 100 && beyond_head > 20, "{files} ELF files, {beyond_head} read in parts");
}

/// The image main had before libstdc++6 was added: numpy's extension modules cannot load, and the
/// always-on check says so without any --app. Built from a copy of the spec under its own name
/// (never loaded into the engine: static checks need none, and other tests use the real name).
#[test]
fn image_without_libstdcxx_fails() {
    let spec_dir = tempfile::tempdir().unwrap();
    let base = support::copy_spec_files(spec_dir.path());
    std::fs::copy(base.join("build-args.yml"), spec_dir.path().join("build-args.yml")).unwrap();
    let spec = spec_dir.path().join("build-args.yml");
    let yml = std::fs::read_to_string(&spec).unwrap();
    let without = yml.replacen("python3-lib2to3, libstdc++6,", "python3-lib2to3,", 1).replacen(
        "exclude: [libnsl2,",
        "exclude: [libstdc++6, libnsl2,",
        1,
    );
    assert!(!without.contains("lib2to3, libstdc++6") && without.contains("[libstdc++6, libnsl2"), "{without}");
    std::fs::write(&spec, without).unwrap();
    let lock = lucid().args(["lock", "--quiet", "-f"]).arg(&spec).output().unwrap();
    assert!(lock.status.success(), "lucid lock: {}", String::from_utf8_lossy(&lock.stderr));
    let out = spec_dir.path().join("out");
    let build = lucid()
        .args(["build", "lucid-python-base", "--quiet", "-t", "lucid-test-nostdcxx:latest", "-f"])
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(build.status.success(), "lucid build: {}", String::from_utf8_lossy(&build.stderr));
    let image = format!("oci:{}:latest", out.join("lucid-python-base").display());

    let (code, findings, stderr) = verify(&image, &[&fitting()]);
    assert_eq!(code, 1, "{stderr}");
    // numpy's C++ extension modules: on aarch64 its _multiarray_umath links no libstdc++.
    let modules = [
        ("linux/amd64", "x86_64", "numpy/_core/_multiarray_umath"),
        ("linux/arm64", "aarch64", "numpy/fft/_pocketfft_umath"),
    ];
    for (platform, arch, module) in modules {
        let missing = of(&findings, "LUCID-APP-002", platform);
        // One finding per wheel: numpy's names its C++ extension modules.
        let stdcxx: Vec<&&Value> = missing
            .iter()
            .filter(|f| status(f) == "fail" && text(f).contains("libstdc++.so.6, needed by numpy/"))
            .collect();
        assert_eq!(stdcxx.len(), 1, "{platform}: {missing:?}");
        let t = text(stdcxx[0]);
        assert!(
            t.contains(&format!("{module}.cpython-311-{arch}-linux-gnu.so"))
                && t.contains("numpy-2.2.6-cp311-cp311-manylinux_2_17_")
                && t.contains("add libstdc++6 (it ships libstdc++.so.6) to images.lucid-python-base.packages"),
            "{t}"
        );
        let policy = of(&findings, "LUCID-APP-001", platform);
        assert!(
            policy.len() == 1 && status(policy[0]) == "fail" && text(policy[0]).contains("libstdc++.so.6 is not on"),
            "{policy:?}"
        );
        assert!(text(policy[0]).contains("add libstdc++6"), "{policy:?}");
    }
    // Without --app, the always-on check alone fails the image.
    let (code, findings, _) = verify(&image, &[]);
    assert_eq!(code, 1);
    let failed: Vec<&str> =
        findings.iter().filter(|f| status(f) == "fail").map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(failed, ["LUCID-APP-001", "LUCID-APP-001"], "{findings:?}");
}
