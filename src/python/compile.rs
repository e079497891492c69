//! Deterministic byte-code compilation with the image's own Python.
//!
//! Precompiled `.pyc` cut the start-up of the image's Python by about 4x (measured: 467 ms -> 102
//! ms), but only help if they are exactly what the image's interpreter would write and if two
//! builds produce the same bytes. So:
//! - the compiler is Debian's python3.11 from `python_tree`, started through the tree's own
//!   dynamic loader and libraries: the host's Python (another version, another magic number)
//!   never touches the output;
//! - `.pyc` are `UNCHECKED_HASH` (no source mtime inside, never rewritten at run time, which a
//!   read-only, non-root image could not do anyway), with `PYTHONHASHSEED=0`, files in sorted
//!   order in one process;
//! - the file name embedded in each code object is the in-image path (`/usr/lib/python3.11/os.py`),
//!   not the scratch directory, so tracebacks read right.
//!
//! The compiler runs on the host, so it must run only what the archive signed: it is started
//! from the Debian part of `python_tree` alone (every entry a wheel installed is left out, see
//! [`signed_part`]), with `-S -s -P` (no `site`, so no `.pth` file or `sitecustomize`; no user
//! site; not even the driver's own directory on `sys.path`). A wheel's files are compiled as
//! data, never imported: a wheel that drops `usr/lib/python3.11/py_compile/__init__.py` (a
//! package wins over the module of the same name) or a `sitecustomize.py` runs nothing here.
//!
//! The `.pyc` format does not depend on the CPU, so one compile serves every architecture.
//! To run the interpreter, the needed part of `python_tree` ([`crate::rootfs::exec`]) and the sources are written into a
//! private temporary directory that is removed afterwards; nothing is installed on the host.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::fetch::Cache;
use crate::rootfs::exec::{self, Program, write_file};
use crate::rootfs::sandbox::Sandbox;
use crate::rootfs::{Entry, Node, Tree};

/// What [`compile`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    pub compiled: usize,
    /// Sources the compiler rejected (Python 2 syntax in test data, templates), with the path.
    pub skipped: Vec<String>,
    /// Bytes of `.pyc` added to the tree.
    pub bytes_added: u64,
    pub millis: u128,
}

/// The `.pyc` tag of CPython `version` (`3.13` -> `cpython-313`).
pub fn cache_tag(version: &str) -> String {
    format!("cpython-{}", version.replace('.', ""))
}

/// The compile driver, run by the tree's interpreter with `-S -s -P -B`: reads `(source on disk,
/// in-image path, output on disk)` triples, one per line, tab-separated, and reports per file.
const DRIVER: &str = r#"
import sys, py_compile
if sys.implementation.cache_tag != sys.argv[2]:
    print("TAG\t" + str(sys.implementation.cache_tag), flush=True)
    sys.exit(3)
with open(sys.argv[1], encoding="utf-8", errors="surrogateescape") as f:
    jobs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
for src, dfile, cfile in jobs:
    try:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        print("OK\t" + dfile, flush=False)
    except Exception as e:
        msg = str(e).replace("\n", " ").replace("\t", " ")[:300]
        print("SKIP\t" + dfile + "\t" + msg, flush=False)
"#;

/// Compiles every `.py` file under `dirs` of `tree` into `__pycache__/<stem>.cpython-XY.pyc`
/// next to it (0644, with the source's origin), using the Python `version` (`3.11`) of
/// `python_tree`.
pub fn compile(tree: &mut Tree, dirs: &[&str], version: &str, python_tree: &Tree) -> Result<CompileStats> {
    compile_cached(tree, dirs, &[], version, python_tree, None)
}

/// Where a file's byte code is remembered: a key over the compiler (the interpreter binary),
/// the in-image path (embedded in the code object) and the source, naming the SHA-256 of the
/// `.pyc` in the content-addressed cache. A `.pyc` is a pure function of those three, so a warm
/// build starts no interpreter at all.
fn memo_key(compiler: &str, key: &str, source: &[u8]) -> String {
    let mut input = Vec::with_capacity(source.len() + key.len() + 100);
    input.extend_from_slice(b"lucid-pyc-v1\0");
    input.extend_from_slice(compiler.as_bytes());
    input.push(0);
    input.extend_from_slice(key.as_bytes());
    input.push(0);
    input.extend_from_slice(source);
    crate::fetch::sha256_hex(&input)
}

/// [`compile`], leaving out the sources that match a `skip` pattern, remembering every `.pyc` in
/// `cache` and compiling only what it does not hold.
pub fn compile_cached(
    tree: &mut Tree,
    dirs: &[&str],
    skip: &[String],
    version: &str,
    python_tree: &Tree,
    cache: Option<&Cache>,
) -> Result<CompileStats> {
    let started = Instant::now();
    let tag = cache_tag(version);
    let python_tree = signed_part(python_tree);
    let skip = crate::rootfs::prune::globset(skip)?;
    let mut sources: BTreeMap<String, Entry> = BTreeMap::new();
    for dir in dirs {
        let dir = crate::rootfs::tree::normalize(dir)?;
        for (key, e) in tree.iter_under(&dir) {
            if key.ends_with(".py")
                && matches!(e.node, Node::File(_))
                && !key.contains('\t')
                && !key.contains('\n')
                && !skip.is_match(key)
            {
                sources.insert(key.clone(), e.clone());
            }
        }
    }
    let mut stats = CompileStats::default();
    let compiler =
        python_tree.read(&format!("usr/bin/python{version}")).map(|d| crate::fetch::sha256_hex(d)).unwrap_or_default();
    let memo_dir = match cache {
        Some(c) if !compiler.is_empty() => Some((c, c.derived_dir("pyc")?)),
        _ => None,
    };
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    if let Some((cache, dir)) = &memo_dir {
        let mut hits = Vec::new();
        for (key, e) in &sources {
            let Node::File(data) = &e.node else { continue };
            let memo = memo_key(&compiler, key, data);
            let pyc =
                fs::read_to_string(dir.join(&memo)).ok().and_then(|digest| cache.get(digest.trim()).ok().flatten());
            match pyc {
                Some(pyc) => hits.push((key.clone(), pyc)),
                None => {
                    keys.insert(key.clone(), memo);
                }
            }
        }
        for (key, pyc) in hits {
            let origin = sources.remove(&key).map(|e| e.origin).unwrap_or_default();
            stats.bytes_added += place_pyc(tree, &key, &tag, pyc, origin)?;
            stats.compiled += 1;
        }
    }
    let remembered = stats.compiled;
    if sources.is_empty() {
        stats.millis = started.elapsed().as_millis();
        return Ok(stats);
    }

    let scratch =
        tempfile::Builder::new().prefix("lucid-pyc-").tempdir().context("cannot create a scratch directory")?;
    let root = scratch.path().join("root");
    let src_dir = scratch.path().join("src");
    let out_dir = scratch.path().join("out");
    let runner = materialize_python(&python_tree, version, &root)?;

    let mut manifest = String::new();
    for (key, e) in &sources {
        let Node::File(data) = &e.node else { continue };
        let src = src_dir.join(key);
        write_file(&src, data, 0o644)?;
        let cfile = out_dir.join(pyc_key(key, &tag));
        manifest.push_str(&format!("{}\t/{key}\t{}\n", src.display(), cfile.display()));
    }
    let manifest_path = scratch.path().join("jobs.tsv");
    fs::write(&manifest_path, manifest).context("cannot write the compile job list")?;
    let driver_path = scratch.path().join("driver.py");
    fs::write(&driver_path, DRIVER).context("cannot write the compile driver")?;

    // The compiler reads the tree, the sources and its job list, and writes only the byte code.
    fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut cmd = runner.command(&Sandbox::new().read_only(scratch.path()).writable(&out_dir))?;
    cmd.args(["-S", "-s", "-P", "-B"]).arg(&driver_path).arg(&manifest_path).arg(&tag);
    let out = crate::rootfs::sandbox::output(cmd.stdin(Stdio::null()))
        .with_context(|| format!("cannot start the image's python{version} ({})", runner.python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if let Some(found) = stdout.lines().find_map(|l| l.strip_prefix("TAG\t")) {
            bail!("the Python in the build tree writes {found} byte code, not {tag}");
        }
        bail!(
            "the image's python{version} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    for line in stdout.lines() {
        let mut parts = line.splitn(3, '\t');
        match (parts.next(), parts.next()) {
            (Some("OK"), Some(dfile)) => {
                let key = dfile.trim_start_matches('/');
                let Some(src) = sources.get(key) else { bail!("the compiler reported an unknown file {dfile}") };
                let data = crate::rootfs::sandbox::read_output(&out_dir, Path::new(&pyc_key(key, &tag)))
                    .with_context(|| format!("no byte code written for {dfile}"))?;
                if let (Some((cache, dir)), Some(memo)) = (&memo_dir, keys.get(key)) {
                    let digest = cache.put_any(&data)?;
                    crate::fetch::write_atomic(&dir.join(memo), digest.as_bytes())?;
                }
                stats.bytes_added += place_pyc(tree, key, &tag, data, src.origin.clone())?;
                stats.compiled += 1;
            }
            (Some("SKIP"), Some(dfile)) => {
                stats.skipped.push(format!("{dfile}: {}", parts.next().unwrap_or("")));
            }
            _ => {}
        }
    }
    if stats.compiled - remembered + stats.skipped.len() != sources.len() {
        bail!(
            "the compiler reported {} of {} files; stderr: {}",
            stats.compiled + stats.skipped.len(),
            sources.len(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(scratch);
    stats.millis = started.elapsed().as_millis();
    Ok(stats)
}

/// Puts the byte code of the source `key` into the tree; returns the bytes it adds.
fn place_pyc(tree: &mut Tree, key: &str, tag: &str, data: Vec<u8>, origin: crate::rootfs::Origin) -> Result<u64> {
    let pkey = pyc_key(key, tag);
    let dir = crate::rootfs::tree::parent(&pkey).unwrap_or("").to_string();
    if !tree.contains(&dir) {
        tree.insert(&dir, Entry::dir(0o755).from_origin(origin.clone()))?;
    }
    let added = (data.len() as u64).saturating_sub(tree.get(&pkey).map_or(0, Entry::size));
    tree.insert(&pkey, Entry::file(data, 0o644).from_origin(origin))?;
    Ok(added)
}

/// `usr/lib/python3.11/os.py` -> `usr/lib/python3.11/__pycache__/os.cpython-311.pyc` (`tag`:
/// [`cache_tag`]).
pub fn pyc_key(py_key: &str, tag: &str) -> String {
    let (dir, file) = match py_key.rfind('/') {
        Some(i) => (&py_key[..i + 1], &py_key[i + 1..]),
        None => ("", py_key),
    };
    let stem = file.strip_suffix(".py").unwrap_or(file);
    format!("{dir}__pycache__/{stem}.{tag}.pyc")
}

/// `tree` without anything a wheel installed: what the host may execute is what the Debian
/// archive signed (and what lucid itself wrote). The interpreter, its libraries and its standard
/// library all come from packages; a wheel's module, package or `.pth` file can shadow none of
/// them here.
pub fn signed_part(tree: &Tree) -> Tree {
    let mut signed = tree.clone();
    signed.retain(|_, e| !matches!(e.origin, crate::rootfs::Origin::Wheel(_)));
    signed
}

/// How to start the tree's interpreter on this host.
pub struct Runner {
    pub program: Program,
    pub python: PathBuf,
    pub home: PathBuf,
}

impl Runner {
    /// `loader --inhibit-cache --library-path ... python3.11` with a clean environment: only
    /// the tree's libraries, its own standard library (PYTHONHOME), a fixed hash seed; confined
    /// to `sandbox` (see [`crate::rootfs::exec`]).
    pub fn command(&self, sandbox: &Sandbox) -> Result<Command> {
        let mut cmd = self.program.command(sandbox)?;
        cmd.env("PYTHONHOME", &self.home)
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONNOUSERSITE", "1")
            .env("LC_ALL", "C.UTF-8");
        Ok(cmd)
    }
}

/// Writes what the Python `version` (`3.11`) needs from `python_tree` (loader, shared
/// libraries, the binary and its standard library) under `root`.
pub fn materialize_python(python_tree: &Tree, version: &str, root: &Path) -> Result<Runner> {
    let binary = format!("usr/bin/python{version}");
    if python_tree.resolve(&binary).is_none() {
        bail!("the build tree has no {binary} (python{version}-minimal)");
    }
    let stdlib = format!("usr/lib/python{version}");
    let program = exec::materialize(python_tree, root, &binary, |k| {
        exec::under(k, &stdlib) && !k.contains("/dist-packages/") && !k.contains("/site-packages/") || k == "usr/bin"
    })?;
    Ok(Runner { python: program.program.clone(), home: root.join("usr"), program })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyc_paths() {
        let tag = cache_tag("3.11");
        assert_eq!(pyc_key("usr/lib/python3.11/os.py", &tag), "usr/lib/python3.11/__pycache__/os.cpython-311.pyc");
        assert_eq!(pyc_key("a.py", &cache_tag("3.13")), "__pycache__/a.cpython-313.pyc");
    }

    #[test]
    fn missing_python_is_a_clear_error() {
        let mut t = Tree::new();
        t.insert("usr/lib/python3.11/os.py", Entry::file(b"x = 1\n".to_vec(), 0o644)).unwrap();
        let e = compile(&mut t, &["usr/lib/python3.11"], "3.11", &Tree::new()).unwrap_err().to_string();
        assert!(e.contains("python3.11"), "{e}");
    }
}
