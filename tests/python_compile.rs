//! Byte-code compilation with Debian's own python3.11, unpacked from the real bookworm `.deb`s
//! (fetched with the host's `apt-get download`; the debian module replaces this in the build).

mod support;

use std::sync::Arc;
use std::time::Instant;

use lucid::python::compile::{materialize_python, pyc_key};
use lucid::python::{compile, install};
use lucid::rootfs::sandbox::Sandbox;
use lucid::rootfs::{Node, Origin, Tree};

#[path = "support/pytree.rs"]
mod pytree;
use pytree::python_tree;

fn pycs(t: &Tree) -> Vec<(String, Arc<Vec<u8>>)> {
    t.iter()
        .filter(|(k, _)| k.ends_with(".pyc"))
        .map(|(k, e)| match &e.node {
            Node::File(d) => (k.clone(), d.clone()),
            _ => unreachable!(),
        })
        .collect()
}

/// A tiny wheel (built here) so the test also covers compiling installed site-packages.
fn demo_wheel() -> Vec<u8> {
    let files: [(&str, &[u8]); 2] =
        [("demo/__init__.py", b"def hello():\n    return 'hi'\n"), ("demo/py2.py", b"print 'python 2'\n")];
    support::wheels::wheel("demo", "1.0", None, &files).1
}

const SITE: &str = "usr/local/lib/python3.11/dist-packages";

#[test]
fn stdlib_and_wheels_compile_deterministically_with_in_image_paths() {
    let py = python_tree();
    // The image tree: the same Debian python (as for amd64), plus a wheel.
    let mut image = py.clone();
    install(&demo_wheel(), "demo-1.0-py3-none-any.whl", SITE, &mut image).unwrap();
    let before = image.content_size();

    let t0 = Instant::now();
    let stats = compile(&mut image, &["usr/lib/python3.11", SITE], "3.11", &py).unwrap();
    let first = t0.elapsed();
    eprintln!(
        "compiled {} files, skipped {}, +{} bytes of .pyc ({} -> {} bytes), {:?}",
        stats.compiled,
        stats.skipped.len(),
        stats.bytes_added,
        before,
        image.content_size(),
        first
    );
    for s in &stats.skipped {
        eprintln!("  skipped {s}");
    }
    assert!(stats.compiled > 500, "{stats:?}");
    assert_eq!(image.content_size() - before, stats.bytes_added);
    assert!(stats.skipped.iter().any(|s| s.contains("/demo/py2.py")), "{:?}", stats.skipped);

    let os_pyc = image.get("usr/lib/python3.11/__pycache__/os.cpython-311.pyc").expect("os.pyc");
    assert_eq!(os_pyc.mode, 0o644);
    assert_eq!(os_pyc.origin, Origin::Deb("libpython3.11-minimal".into()));
    let demo = image.get(&pyc_key(&format!("{SITE}/demo/__init__.py"), "cpython-311")).expect("demo pyc");
    assert_eq!(demo.origin, Origin::Wheel("demo".into()));
    assert!(!image.contains(&pyc_key(&format!("{SITE}/demo/py2.py"), "cpython-311")));

    // Header: magic for 3.11 (3495), flags = 0b01 (hash-based, unchecked).
    let Node::File(bytes) = &os_pyc.node else { panic!() };
    assert_eq!(&bytes[..4], &[0xa7, 0x0d, 0x0d, 0x0a]);
    assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 0b01);

    // Embedded source paths are the in-image ones, never the scratch directory.
    // (The scratch directory is `$TMPDIR/lucid-pyc-*`; some stdlib sources mention "/tmp/" themselves.)
    for (k, d) in pycs(&image) {
        assert!(!String::from_utf8_lossy(&d).contains("lucid-pyc-"), "{k} embeds a scratch path");
    }
    assert!(String::from_utf8_lossy(bytes).contains("/usr/lib/python3.11/os.py"));

    // Deterministic: a second compile from scratch gives identical bytes.
    let mut again = py.clone();
    install(&demo_wheel(), "demo-1.0-py3-none-any.whl", SITE, &mut again).unwrap();
    compile(&mut again, &["usr/lib/python3.11", SITE], "3.11", &py).unwrap();
    let (a, b) = (pycs(&image), pycs(&again));
    assert_eq!(a.len(), b.len());
    let differing: Vec<&String> = a.iter().zip(&b).filter(|(x, y)| x != y).map(|(x, _)| &x.0).collect();
    assert!(differing.is_empty(), "non-deterministic: {differing:?}");

    // The image's python uses the .pyc as they are, and reports the in-image paths.
    let scratch = tempfile::tempdir().unwrap();
    let runner = materialize_python(&image, "3.11", scratch.path()).unwrap();
    let out = runner
        .command(&Sandbox::new())
        .unwrap()
        .args(["-S", "-c", "import json; print(json.__file__, json.__cached__)"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("python reports: {stdout}");
    assert!(stdout.contains("json/__pycache__/__init__.cpython-311.pyc"), "{stdout}");
    // The interpreter takes our .pyc as valid (`-v` says it loaded the code object from it)...
    let verbose =
        runner.command(&Sandbox::new()).unwrap().args(["-S", "-v", "-c", "import json.decoder"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr.contains("code object from") && stderr.contains("json/__pycache__/decoder.cpython-311.pyc"),
        "{stderr}"
    );
    // ...and the code object inside names the in-image source (at import, importlib then rewrites
    // co_filename to wherever the source actually is, which in the image is the same path).
    let pyc = scratch.path().join("usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc");
    let script = format!(
        "import marshal; print(marshal.loads(open({:?}, 'rb').read()[16:]).co_filename)",
        pyc.display().to_string()
    );
    let co = runner.command(&Sandbox::new()).unwrap().args(["-S", "-c", &script]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&co.stdout).trim(), "/usr/lib/python3.11/json/decoder.py");

    // Debian's python3.11 looks in usr/local/lib/python3.11/dist-packages, not site-packages:
    // wheels must be installed there (or in usr/lib/python3/dist-packages) to be importable.
    let path = runner
        .command(&Sandbox::new())
        .unwrap()
        .args(["-c", "import site; print(site.getsitepackages())"])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&path.stdout);
    assert!(path.contains("/usr/local/lib/python3.11/dist-packages'") && !path.contains("site-packages"), "{path}");
}

/// Compiling a subset gives the same bytes for the same file as compiling everything: the build
/// stage image (more files) must not change the base image's layers.
#[test]
fn a_file_compiles_the_same_alone_or_in_a_batch() {
    let py = python_tree();
    let mut all = py.clone();
    compile(&mut all, &["usr/lib/python3.11/json", "usr/lib/python3.11/email"], "3.11", &py).unwrap();
    let mut one = py.clone();
    compile(&mut one, &["usr/lib/python3.11/json"], "3.11", &py).unwrap();
    for (k, d) in pycs(&one) {
        assert_eq!(all.read(&k).unwrap(), &d, "{k} differs when compiled in another batch");
    }
}

/// A wheel's files reach the host-side compiler only as data to compile. This wheel carries a
/// `.pth` file and a `sitecustomize.py` (run by any interpreter that imports `site`) and, through
/// `.data/data` with site-packages under `/usr`, a new package `usr/lib/python3.11/py_compile/`
/// (a package wins over the module of the same name, and the compiler imports `py_compile`),
/// each writing a marker file. The tree with the wheel installed is what assembly hands to the
/// compiler; nothing of the wheel may run, and its `.py` files still get their byte code.
#[test]
fn a_wheel_runs_nothing_while_the_tree_is_compiled() {
    let py = python_tree();
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("marker");
    let payload = format!("open({:?}, 'a').write('ran\\n')\n", marker.display().to_string());
    let pth = format!("import os; {payload}");
    let (name, data) = support::wheels::wheel(
        "evil",
        "1.0",
        None,
        &[
            ("evil.pth", pth.as_bytes()),
            ("sitecustomize.py", payload.as_bytes()),
            ("usercustomize.py", payload.as_bytes()),
            ("evil/__init__.py", b"X = 1\n"),
            ("evil-1.0.data/data/lib/python3.11/py_compile/__init__.py", payload.as_bytes()),
        ],
    );
    let site = "usr/lib/python3/dist-packages";
    let mut image = py.clone();
    install(&data, &name, site, &mut image).unwrap();
    assert!(image.contains("usr/lib/python3.11/py_compile/__init__.py"));
    let with_wheel = image.clone();
    let stats = compile(&mut image, &["usr/lib/python3.11", site], "3.11", &with_wheel).unwrap();
    assert!(!marker.exists(), "the compiler ran the wheel's code: {}", std::fs::read_to_string(&marker).unwrap());
    assert!(stats.compiled > 500, "{stats:?}");
    for source in [format!("{site}/evil/__init__.py"), format!("{site}/sitecustomize.py")] {
        assert!(image.contains(&pyc_key(&source, "cpython-311")), "no byte code for {source}");
    }
}
