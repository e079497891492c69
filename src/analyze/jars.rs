//! An application's jars, read as the untrusted zip files they are: which jars it ships, the
//! newest class file version each holds, and what each declares that no static reference shows.
//!
//! `--app PATH` is a jar or a folder of jars (searched a few levels deep). The jars inside a jar
//! are the application too: a Spring Boot fat jar keeps its libraries in `BOOT-INF/lib/`, a war in
//! `WEB-INF/lib/`; they are extracted (one level, never deeper) into a temporary directory this
//! process owns, each under a name it makes up (`nested/7.jar`), never under its entry name, so no
//! entry can write outside it.
//!
//! Bounds (see [`crate::limits`]): at most [`MAX_APP_JARS`] jars and [`max_entries`] entries per
//! jar; of a class, only its 8-byte header is read; manifests and service files are read whole up
//! to [`MAX_JAR_TEXT_BYTES`]; extraction stops at [`max_unpacked`] bytes in all and refuses a
//! nested jar that expands like a decompression bomb.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use super::java_modules::MBEAN_FRAMEWORKS;
use crate::limits::{Bounded, MAX_APP_JARS, MAX_JAR_TEXT_BYTES, max_entries, max_unpacked};

/// Where fat jars and wars keep the jars they ship.
const NESTED_DIRS: &[&str] = &["BOOT-INF/lib/", "WEB-INF/lib/"];
/// Where they keep their own classes (stripped to name a class).
const CLASS_DIRS: &[&str] = &["BOOT-INF/classes/", "WEB-INF/classes/"];
/// Levels of folders searched for jars below `--app DIR`.
const MAX_DEPTH: usize = 8;
/// File names of native libraries a jar may carry for JNI.
const NATIVE_SUFFIXES: &[&str] = &[".so", ".dll", ".dylib", ".jnilib"];

/// A class and its class file major version (61 is Java 17).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassVersion {
    pub major: u32,
    /// `com.example.Main`, or `META-INF/versions/21/com.example.Main` for a versioned class.
    pub class: String,
}

/// What a jar's main manifest section says about the modules it needs.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// `Multi-Release: true`: the JVM loads `META-INF/versions/N/` classes for N up to its own.
    pub multi_release: bool,
    /// `Add-Opens` and `Add-Exports`: `module/package` each.
    pub add_opens: Vec<String>,
    pub add_exports: Vec<String>,
    /// `Launcher-Agent-Class`, `Premain-Class` or `Agent-Class`: the jar is a Java agent.
    pub agent: Option<String>,
}

/// One jar of the application.
#[derive(Clone, Debug, Default)]
pub struct Jar {
    /// How findings name it: its path below `--app`, or `outer.jar!/BOOT-INF/lib/x.jar`.
    pub name: String,
    /// A file with its bytes: the jar itself or its extracted copy.
    pub path: PathBuf,
    /// The newest class outside `META-INF/versions/`.
    pub newest: Option<ClassVersion>,
    /// The newest class under each `META-INF/versions/N/` (only for multi-release jars).
    pub versioned: BTreeMap<u32, ClassVersion>,
    pub classes: u64,
    /// `META-INF/services/<interface>` files: the interface and the providers named.
    pub services: Vec<(String, Vec<String>)>,
    pub manifest: Manifest,
    /// It has a `module-info.class` (at its root or under `META-INF/versions/`).
    pub modular: bool,
    /// Native libraries inside it (loaded through JNI, invisible to jdeps).
    pub native: Vec<String>,
    /// A framework it carries that registers MBeans at start-up ([`MBEAN_FRAMEWORKS`]).
    pub mbean_framework: Option<&'static str>,
}

impl Jar {
    /// The newest class a JVM of Java `feature` would load from this jar: its base classes and,
    /// in a multi-release jar, those of `META-INF/versions/N/` for N up to `feature`.
    pub fn newest_for(&self, feature: u32) -> Option<&ClassVersion> {
        let versioned = self.versioned.range(..=feature).map(|(_, c)| c);
        self.newest.iter().chain(versioned).max_by_key(|c| c.major)
    }
}

/// The jars of one application, and the directory holding what was extracted from them.
#[derive(Debug)]
pub struct AppJars {
    /// `--app` as given.
    pub root: PathBuf,
    pub jars: Vec<Jar>,
    /// Nested jars extracted, and what [`AppJars::jdeps_inputs`] makes; removed on drop.
    pub scratch: TempDir,
}

/// A display form of a name from an archive: control characters shown as `?`.
fn printable(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The class name of a `.class` entry and, for `META-INF/versions/N/...`, N.
fn class_of(entry: &str) -> Option<(Option<u32>, String)> {
    let stem = entry.strip_suffix(".class")?;
    if let Some(rest) = stem.strip_prefix("META-INF/versions/") {
        let (n, class) = rest.split_once('/')?;
        return Some((Some(n.parse().ok()?), class.replace('/', ".")));
    }
    let stem = CLASS_DIRS.iter().find_map(|d| stem.strip_prefix(d)).unwrap_or(stem);
    Some((None, stem.replace('/', ".")))
}

/// The major version of a class file whose first bytes are `head` (`CAFEBABE`, minor, major).
fn major_of(head: &[u8]) -> Option<u32> {
    (head.len() >= 8 && head[..4] == [0xCA, 0xFE, 0xBA, 0xBE])
        .then(|| u32::from(u16::from_be_bytes([head[6], head[7]])))
}

/// The main section of a manifest (continuation lines joined), as attribute -> value.
fn manifest_attributes(text: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(more) = line.strip_prefix(' ') {
            if let Some(v) = last.as_ref().and_then(|k| out.get_mut(k)) {
                v.push_str(more);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.insert(k.trim().to_string(), v.trim().to_string());
            last = Some(k.trim().to_string());
        }
    }
    out
}

fn parse_manifest(text: &str) -> Manifest {
    let attrs = manifest_attributes(text);
    let list = |k: &str| attrs.get(k).map(|v| v.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    Manifest {
        multi_release: attrs.get("Multi-Release").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        add_opens: list("Add-Opens"),
        add_exports: list("Add-Exports"),
        agent: ["Launcher-Agent-Class", "Premain-Class", "Agent-Class"].iter().find_map(|k| attrs.get(*k).cloned()),
    }
}

/// Provider class names of a `META-INF/services` file (comments and blank lines dropped).
fn parse_services(text: &str) -> Vec<String> {
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// Reads a text entry whole, refusing one over [`MAX_JAR_TEXT_BYTES`].
fn read_text(entry: impl Read, what: &str) -> Result<String> {
    let mut buf = Vec::new();
    entry.take(MAX_JAR_TEXT_BYTES + 1).read_to_end(&mut buf).with_context(|| format!("cannot read {what}"))?;
    if buf.len() as u64 > MAX_JAR_TEXT_BYTES {
        bail!("{what} is larger than the limit of {MAX_JAR_TEXT_BYTES} bytes");
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The budget of bytes extraction may still write, shared by every nested jar of the app.
struct Extraction {
    dir: PathBuf,
    left: u64,
    count: usize,
}

/// Reads one jar. With `extract`, jars under [`NESTED_DIRS`] are copied out and returned as
/// `(entry name, file)`.
fn read_jar(name: &str, path: &Path, mut extract: Option<&mut Extraction>) -> Result<(Jar, Vec<(String, PathBuf)>)> {
    let file = File::open(path).with_context(|| format!("cannot read {name}"))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{name} is not a jar (zip archive)"))?;
    let max = max_entries();
    if zip.len() as u64 > max {
        bail!("{name} has {} entries, more than the limit of {max} (LUCID_MAX_ENTRIES raises it)", zip.len());
    }
    let mut jar = Jar { name: name.to_string(), path: path.to_path_buf(), ..Jar::default() };
    let mut nested = Vec::new();
    let mut versioned = Vec::new();
    for i in 0..zip.len() {
        let entry = match zip.name_for_index(i) {
            Some(Ok(n)) => n.into_owned(),
            _ => bail!("{name}: entry {i} has no readable name"),
        };
        let what = || format!("{name}!/{}", printable(&entry));
        if entry.ends_with('/') {
            continue;
        }
        if entry == "module-info.class"
            || (entry.starts_with("META-INF/versions/") && entry.ends_with("/module-info.class"))
        {
            jar.modular = true;
        }
        if jar.mbean_framework.is_none() {
            jar.mbean_framework = MBEAN_FRAMEWORKS.iter().find(|(p, _)| entry.starts_with(p)).map(|(_, f)| *f);
        }
        if NATIVE_SUFFIXES.iter().any(|s| entry.ends_with(s)) {
            jar.native.push(printable(&entry));
        }
        if let Some((version, class)) = class_of(&entry) {
            let mut head = Vec::with_capacity(8);
            let data = zip.by_index(i).with_context(what)?;
            // read_to_end, not one read: a deflate stream may hand out its first bytes in pieces.
            data.take(8).read_to_end(&mut head).with_context(what)?;
            let Some(major) = major_of(&head) else { continue };
            jar.classes += 1;
            let newer = |old: Option<&ClassVersion>| old.is_none_or(|c| major > c.major);
            match version {
                None if newer(jar.newest.as_ref()) => jar.newest = Some(ClassVersion { major, class }),
                None => {}
                Some(v) => versioned.push((v, ClassVersion { major, class: format!("META-INF/versions/{v}/{class}") })),
            }
        } else if entry == "META-INF/MANIFEST.MF" {
            jar.manifest = parse_manifest(&read_text(zip.by_index(i).with_context(what)?, &what())?);
        } else if let Some(interface) = entry.strip_prefix("META-INF/services/").filter(|s| !s.contains('/')) {
            let providers = parse_services(&read_text(zip.by_index(i).with_context(what)?, &what())?);
            jar.services.push((printable(interface), providers));
        } else if let Some(x) = extract.as_deref_mut()
            && entry.ends_with(".jar")
            && NESTED_DIRS.iter().any(|d| entry.starts_with(d))
        {
            if x.count >= MAX_APP_JARS {
                bail!("{name} holds more than {MAX_APP_JARS} jars");
            }
            let out = x.dir.join(format!("{}.jar", x.count));
            x.count += 1;
            let data = zip.by_index(i).with_context(what)?;
            let compressed = data.compressed_size();
            let mut dest = File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let copied = std::io::copy(&mut Bounded::with_limit(data, compressed, x.left), &mut dest)
                .with_context(|| format!("cannot extract {}", what()))?;
            x.left -= copied;
            nested.push((printable(&entry), out));
        }
    }
    // The JVM reads META-INF/versions/ only in a multi-release jar.
    if jar.manifest.multi_release {
        for (v, c) in versioned {
            if jar.versioned.get(&v).is_none_or(|old| c.major > old.major) {
                jar.versioned.insert(v, c);
            }
        }
    }
    Ok((jar, nested))
}

/// The jar files of a folder, `rel`ative names sorted, up to [`MAX_DEPTH`] levels down (links
/// to files followed, links to folders not, so a loop cannot trap the walk).
fn folder_jars(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut todo = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = todo.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot read the folder {}", dir.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("cannot read the folder {}", dir.display()))?;
            let path = e.path();
            let kind = e.file_type().with_context(|| format!("cannot read {}", path.display()))?;
            if kind.is_dir() {
                if depth < MAX_DEPTH {
                    todo.push((path, depth + 1));
                }
            } else if path.extension().is_some_and(|x| x == "jar" || x == "war") && path.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                out.push((rel, path));
                if out.len() > MAX_APP_JARS {
                    bail!("{} holds more than {MAX_APP_JARS} jars", root.display());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `path` looks like a Java application: a `.jar` or `.war` file, or a folder holding
/// one (what [`AppJars::open`] reads).
pub fn is_jar_app(path: &Path) -> bool {
    if path.is_dir() {
        return folder_jars(path).is_ok_and(|j| !j.is_empty());
    }
    path.is_file() && path.extension().is_some_and(|x| x == "jar" || x == "war")
}

impl AppJars {
    /// Reads the application at `root`: a jar (or war) or a folder of them, with their nested jars.
    pub fn open(root: &Path) -> Result<AppJars> {
        let top: Vec<(String, PathBuf)> = if root.is_dir() {
            let jars = folder_jars(root)?;
            if jars.is_empty() {
                bail!("--app {}: the folder holds no jars", root.display());
            }
            jars
        } else if root.is_file() {
            let name = root.file_name().map_or_else(|| root.display().to_string(), |n| n.to_string_lossy().into());
            vec![(name, root.to_path_buf())]
        } else {
            bail!("--app {}: no such jar or folder", root.display());
        };
        let scratch =
            tempfile::Builder::new().prefix("lucid-app-").tempdir().context("cannot create a temporary directory")?;
        let dir = scratch.path().join("nested");
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut x = Extraction { dir, left: max_unpacked(), count: 0 };
        let mut jars = Vec::new();
        for (name, path) in top {
            let (jar, nested) = read_jar(&name, &path, Some(&mut x))?;
            jars.push(jar);
            for (entry, file) in nested {
                jars.push(read_jar(&format!("{name}!/{entry}"), &file, None)?.0);
            }
            if jars.len() > MAX_APP_JARS {
                bail!("--app {}: more than {MAX_APP_JARS} jars", root.display());
            }
        }
        Ok(AppJars { root: root.to_path_buf(), jars, scratch })
    }

    /// Files to give jdeps, one per jar, named `N.jar` for jar N so its output names each jar
    /// without ambiguity: a link to the jar, or, for a modular jar, a copy without its
    /// `module-info.class`. jdeps reads a modular jar as a named module and fails on the first
    /// `requires` it cannot find (Tomcat's `jakarta.annotation`); on the class path, where
    /// applications run it, its descriptor is ignored, and so it is here. Made once.
    pub fn jdeps_inputs(&self) -> Result<Vec<PathBuf>> {
        let dir = self.scratch.path().join("jdeps");
        if dir.is_dir() {
            return Ok((0..self.jars.len()).map(|i| dir.join(format!("{i}.jar"))).collect());
        }
        let tmp = self.scratch.path().join("jdeps.partial");
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        for (i, jar) in self.jars.iter().enumerate() {
            let out = tmp.join(format!("{i}.jar"));
            if jar.modular {
                without_module_info(jar, &out)?;
            } else {
                let target = std::path::absolute(&jar.path).with_context(|| format!("cannot resolve {}", jar.name))?;
                std::os::unix::fs::symlink(&target, &out).with_context(|| format!("cannot link {}", out.display()))?;
            }
        }
        std::fs::rename(&tmp, &dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok((0..self.jars.len()).map(|i| dir.join(format!("{i}.jar"))).collect())
    }
}

/// Copies `jar` to `out` without its module descriptors, entry by entry as stored (nothing is
/// decompressed).
fn without_module_info(jar: &Jar, out: &Path) -> Result<()> {
    let file = File::open(&jar.path).with_context(|| format!("cannot read {}", jar.name))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{} is not a jar (zip archive)", jar.name))?;
    let dest = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = zip::ZipWriter::new(dest);
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).with_context(|| format!("{}: entry {i}", jar.name))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if name == "module-info.class" || name.ends_with("/module-info.class") {
            continue;
        }
        w.raw_copy_file(entry).with_context(|| format!("cannot copy {}!/{}", jar.name, printable(&name)))?;
    }
    w.finish().with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A class file header of major version `major`, then filler.
    fn class(major: u16) -> Vec<u8> {
        let mut c = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0];
        c.extend(major.to_be_bytes());
        c.extend([0u8; 32]);
        c
    }

    fn jar(path: &Path, entries: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn classes_manifests_and_services_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jar");
        let mf = b"Manifest-Version: 1.0\r\nMulti-Release: true\r\nAdd-Opens: java.base/java.lang jdk.unsupp\r\n orted/sun.misc\r\n\r\nName: x\r\nAdd-Exports: no/no\r\n";
        jar(
            &p,
            &[
                ("META-INF/MANIFEST.MF", mf),
                ("com/x/A.class", &class(52)),
                ("com/x/B.class", &class(61)),
                ("META-INF/versions/21/com/x/A.class", &class(65)),
                ("META-INF/versions/11/com/x/A.class", &class(55)),
                ("META-INF/services/java.sql.Driver", b"# driver\ncom.x.Driver\n\n"),
                ("module-info.class", &class(53)),
                ("org/apache/catalina/Server.class", &class(61)),
                ("lib/libx.so", b"\x7fELF"),
                ("com/x/C.class", b"not a class"),
            ],
        );
        let app = AppJars::open(&p).unwrap();
        let j = &app.jars[0];
        assert_eq!(j.newest.as_ref().unwrap().major, 61);
        assert_eq!(j.newest_for(17).unwrap().class, "com.x.B", "the first of the newest");
        assert_eq!(j.newest_for(21).unwrap().class, "META-INF/versions/21/com.x.A");
        assert!(j.manifest.multi_release && j.modular);
        assert_eq!(j.manifest.add_opens, ["java.base/java.lang", "jdk.unsupported/sun.misc"]);
        assert!(j.manifest.add_exports.is_empty(), "only the main section counts");
        assert_eq!(j.services, [("java.sql.Driver".to_string(), vec!["com.x.Driver".to_string()])]);
        assert_eq!(j.mbean_framework, Some("Tomcat"));
        assert_eq!(j.native, ["lib/libx.so"]);
        // The jdeps copy of a modular jar has no descriptor; the rest is as it was.
        let inputs = app.jdeps_inputs().unwrap();
        let copy = zip::ZipArchive::new(File::open(&inputs[0]).unwrap()).unwrap();
        assert!(copy.index_for_name("module-info.class").is_none() && copy.index_for_name("com/x/A.class").is_some());
    }

    #[test]
    fn nested_jars_are_extracted_under_made_up_names() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner.jar");
        jar(&inner, &[("p/New.class", &class(65))]);
        let inner = std::fs::read(&inner).unwrap();
        let fat = dir.path().join("app").join("fat.jar");
        std::fs::create_dir(dir.path().join("app")).unwrap();
        jar(
            &fat,
            &[
                ("BOOT-INF/classes/p/Main.class", &class(61)),
                ("BOOT-INF/lib/../../../../escape.jar", &inner),
                ("BOOT-INF/lib/ok.jar", &inner),
                ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\nLauncher-Agent-Class: p.Agent\n"),
            ],
        );
        let app = AppJars::open(&dir.path().join("app")).unwrap();
        let names: Vec<&str> = app.jars.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["fat.jar", "fat.jar!/BOOT-INF/lib/../../../../escape.jar", "fat.jar!/BOOT-INF/lib/ok.jar"]);
        assert_eq!(app.jars[0].newest.as_ref().unwrap().class, "p.Main");
        assert_eq!(app.jars[0].manifest.agent.as_deref(), Some("p.Agent"));
        assert!(app.jars[1].path.starts_with(app.scratch.path()) && app.jars[2].newest.as_ref().unwrap().major == 65);
        assert!(!dir.path().join("escape.jar").exists() && !app.scratch.path().join("escape.jar").exists());
    }

    #[test]
    fn a_nested_jar_that_expands_like_a_bomb_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fat = dir.path().join("fat.jar");
        let mut w = zip::ZipWriter::new(File::create(&fat).unwrap());
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        w.start_file("BOOT-INF/lib/bomb.jar", deflated).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            w.write_all(&zeros).unwrap();
        }
        w.finish().unwrap();
        let err = format!("{:#}", AppJars::open(&fat).unwrap_err());
        assert!(err.contains("fat.jar!/BOOT-INF/lib/bomb.jar") && err.contains("decompression bomb"), "{err}");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = AppJars::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds no jars"), "{err}");
        std::fs::write(dir.path().join("x.jar"), b"not a zip").unwrap();
        let err = format!("{:#}", AppJars::open(dir.path()).unwrap_err());
        assert!(err.contains("x.jar is not a jar"), "{err}");
        let big = dir.path().join("big.jar");
        jar(&big, &[("META-INF/services/java.sql.Driver", &vec![b'a'; (MAX_JAR_TEXT_BYTES + 1) as usize])]);
        let err = format!("{:#}", AppJars::open(&big).unwrap_err());
        assert!(err.contains("limit of"), "{err}");
    }
}
