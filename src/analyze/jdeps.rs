//! Which Java modules an application needs, asked of the JDK's own `jdeps`.
//!
//! `jdeps -summary` over the application's jars ([`super::jars::AppJars::jdeps_inputs`]) names,
//! per jar, the JDK modules its classes reference; `jdeps -verbose:class --require M` names the
//! classes behind one module (the finding's "which class needs java.desktop"). Both run with
//! `--ignore-missing-deps`, because real jars reference optional libraries the application does
//! not ship (H2 names Lucene, Log4j names Kafka), and with `--multi-release N` for the runtime's
//! feature release, so multi-release jars are read as that JVM reads them. `lucid report` also
//! wants the `requires` closure of those modules (what jlink would add, so what counts as used),
//! which one JVM resolves (`--show-module-resolution`).
//!
//! jdeps and java come from a JDK on this machine (`$JAVA_HOME/bin`, else `PATH`): the image under
//! examination may have no JDK at all. Without one, [`NoJdk`] (a configuration error, exit 3).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::jars::{AppJars, Jar};
use super::java_modules;

/// No JDK tool on this machine: `--app` cannot be analysed (a configuration error).
#[derive(Debug, thiserror::Error)]
#[error(
    "--app needs {tool} from a JDK on this machine ($JAVA_HOME/bin or PATH): install one \
     (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
)]
pub struct NoJdk {
    pub tool: String,
}

/// The JDK tool `name` (`jdeps`, `java`): `$JAVA_HOME/bin/NAME`, else the first on `PATH`.
pub fn tool(name: &str) -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let p = Path::new(&home).join("bin").join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| NoJdk { tool: name.into() }.into())
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_module_name(m: &str) -> bool {
    !m.is_empty() && m.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// The jar index of a jdeps input name (`7.jar` -> 7).
fn input_index(name: &str) -> Option<usize> {
    name.strip_suffix(".jar")?.parse().ok()
}

/// `--multi-release` for a runtime of Java `feature` (jdeps takes 9 and up, or `base`).
fn multi_release(feature: u32) -> String {
    if feature >= 9 { feature.to_string() } else { "base".into() }
}

/// Parses `jdeps -summary` over inputs `0.jar`..: per input, the JDK modules it references
/// (`3.jar -> java.sql`); references to other inputs and `not found` are left out.
pub fn parse_summary(out: &str, inputs: usize) -> Vec<BTreeSet<String>> {
    let mut per = vec![BTreeSet::new(); inputs];
    for line in out.lines() {
        let Some((from, to)) = line.trim().split_once(" -> ") else { continue };
        let (Some(i), to) = (input_index(from.trim()), to.trim()) else { continue };
        if i < inputs && is_module_name(to) && !to.ends_with(".jar") && !to.contains('/') {
            per[i].insert(to.to_string());
        }
    }
    per
}

/// One class-level reference jdeps found: `class` (of the application) uses `target` (of the JDK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    pub class: String,
    pub target: String,
}

/// Parses `jdeps -verbose:class` output: per input, the class references listed below its
/// `N.jar -> module` header.
pub fn parse_verbose(out: &str) -> BTreeMap<usize, Vec<Use>> {
    let mut per: BTreeMap<usize, Vec<Use>> = BTreeMap::new();
    let mut current = None;
    for line in out.lines() {
        if !line.starts_with(' ') {
            current = line.split_once(" -> ").and_then(|(from, _)| input_index(from.trim()));
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let (Some(i), [class, "->", target, ..]) = (current, words.as_slice()) {
            per.entry(i).or_default().push(Use { class: class.to_string(), target: target.to_string() });
        }
    }
    per
}

/// Parses `java --show-module-resolution`: every module resolved (`root M ...`, `A requires M ...`)
/// with the modules it requires.
pub fn parse_resolution(out: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in out.lines() {
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["root", m, ..] if is_module_name(m) => {
                graph.entry(m.to_string()).or_default();
            }
            [a, "requires", b, ..] if is_module_name(a) && is_module_name(b) => {
                graph.entry(a.to_string()).or_default().insert(b.to_string());
                graph.entry(b.to_string()).or_default();
            }
            _ => {}
        }
    }
    graph
}

/// Per jar of `app`, the JDK modules its classes reference, as a JVM of Java `feature` reads them.
pub fn modules_per_jar(app: &AppJars, feature: u32) -> Result<Vec<BTreeSet<String>>> {
    let jdeps = tool("jdeps")?;
    let inputs = app.jdeps_inputs()?;
    let out = run(
        Command::new(&jdeps)
            .args(["--ignore-missing-deps", "--multi-release", &multi_release(feature), "-summary"])
            .args(&inputs),
        &format!("jdeps on the {} jars of {}", inputs.len(), app.root.display()),
    )?;
    let per = parse_summary(&out, inputs.len());
    if per.iter().all(BTreeSet::is_empty) {
        bail!("jdeps named no modules for {}: are these jars of Java classes?", app.root.display());
    }
    Ok(per)
}

/// The classes of the jars `which` (indices into `app.jars`) that reference `module`, per jar.
pub fn uses_of(app: &AppJars, which: &[usize], module: &str, feature: u32) -> Result<BTreeMap<usize, Vec<Use>>> {
    let jdeps = tool("jdeps")?;
    let inputs = app.jdeps_inputs()?;
    let out = run(
        Command::new(&jdeps)
            .args(["--ignore-missing-deps", "--multi-release", &multi_release(feature), "-verbose:class"])
            .args(["--require", module])
            .args(which.iter().filter_map(|&i| inputs.get(i))),
        &format!("jdeps --require {module} on {}", app.root.display()),
    )?;
    Ok(parse_verbose(&out))
}

/// `modules` closed over `requires`, as the host JDK's module system resolves them, with each
/// module's `requires`: one JVM, whose observable modules `--limit-modules` makes exactly that
/// closure (and `--add-modules` makes them all roots, so each is listed).
pub fn closure(modules: &BTreeSet<String>) -> Result<BTreeMap<String, BTreeSet<String>>> {
    if modules.is_empty() {
        return Ok(BTreeMap::new());
    }
    let java = tool("java")?;
    let list = modules.iter().cloned().collect::<Vec<_>>().join(",");
    let out = run(
        Command::new(&java).args([
            "--limit-modules",
            &list,
            "--add-modules",
            &list,
            "--show-module-resolution",
            "-version",
        ]),
        &format!("java --show-module-resolution for {list}"),
    )?;
    Ok(parse_resolution(&out))
}

/// The modules of the host JDK (`java --list-modules`: `java.base@17.0.15`).
fn host_modules() -> Result<BTreeSet<String>> {
    let out = run(Command::new(tool("java")?).arg("--list-modules"), "java --list-modules")?;
    Ok(out.lines().filter_map(|l| l.split('@').next()).filter(|m| is_module_name(m)).map(String::from).collect())
}

/// Per jar (index), the classes jdeps found using one module.
pub type UsesPerJar = BTreeMap<usize, Vec<Use>>;

/// What one application's jars and jdeps said, kept for the process.
pub struct Known {
    /// The application's path, as given.
    pub root: PathBuf,
    /// The jars' facts (their `path`s are not kept valid: see [`Known::files`]).
    pub jars: Vec<Jar>,
    /// jdeps' modules per jar, per feature release asked.
    modules: BTreeMap<u32, Vec<BTreeSet<String>>>,
    /// jdeps' classes per jar that use a module, per feature release and module asked.
    uses: BTreeMap<(u32, String), UsesPerJar>,
    /// The jars on disk for jdeps, during one call.
    files: Option<AppJars>,
}

impl Known {
    /// The jars on disk, read again after an earlier call let them go (same order, same jars).
    fn files(&mut self) -> Result<&AppJars> {
        if self.files.is_none() {
            self.files = Some(AppJars::open(&self.root)?);
        }
        Ok(self.files.as_ref().expect("just set"))
    }

    /// jdeps' modules per jar for `feature`, run once per application and feature release.
    pub fn modules_per_jar(&mut self, feature: u32) -> Result<Vec<BTreeSet<String>>> {
        if !self.modules.contains_key(&feature) {
            let m = modules_per_jar(self.files()?, feature)?;
            self.modules.insert(feature, m);
        }
        Ok(self.modules[&feature].clone())
    }

    /// The classes of the jars `which` that use `module` (jdeps -verbose:class), run once each.
    pub fn uses_of(&mut self, which: &[usize], module: &str, feature: u32) -> Result<UsesPerJar> {
        let key = (feature, module.to_string());
        if !self.uses.contains_key(&key) {
            let u = uses_of(self.files()?, which, module, feature)?;
            self.uses.insert(key.clone(), u);
        }
        Ok(self.uses[&key].clone())
    }
}

/// Applications by path and the time their root last changed.
type Cache = BTreeMap<(PathBuf, Option<SystemTime>), Known>;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Runs `f` on what is known of the application at `path`, reading its jars first if need be;
/// the files made for jdeps (nested jars extracted, modular jars without their descriptor) are
/// removed when `f` returns. `lucid verify --app` and `lucid report --app` share it, so a run
/// reads the jars and runs jdeps once per application and feature release.
pub fn with_known<T>(path: &Path, f: impl FnOnce(&mut Known) -> Result<T>) -> Result<T> {
    tool("jdeps")?;
    let changed = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    let known = match cache.entry((path.to_path_buf(), changed)) {
        std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
        std::collections::btree_map::Entry::Vacant(v) => {
            let files = AppJars::open(path)?;
            v.insert(Known {
                root: path.to_path_buf(),
                jars: files.jars.clone(),
                modules: BTreeMap::new(),
                uses: BTreeMap::new(),
                files: Some(files),
            })
        }
    };
    let out = f(known);
    known.files = None;
    out
}

/// `lucid report --app`: the applications' jars and what the runtime must keep for them. Found
/// once per run (jdeps and the JVMs take seconds), then held against every image and platform
/// analysed.
#[derive(Clone, Debug)]
pub struct AppModules {
    /// `--app` as given.
    pub apps: Vec<PathBuf>,
    /// How many jars they hold (nested ones included).
    pub jars: usize,
    /// The modules the jars reference, closed over `requires`.
    pub needed: BTreeSet<String>,
    /// Modules to keep whatever jdeps says, with why ([`java_modules::kept`]).
    pub kept: BTreeMap<String, String>,
    /// The host JDK's `requires` graph around the kept modules, to close them over it within
    /// each runtime ([`java_modules::kept_in`]).
    pub requires: BTreeMap<String, BTreeSet<String>>,
}

impl AppModules {
    /// Reads the jars or folders `apps` and asks jdeps (for Java 17, the runtime lucid builds).
    pub fn of(apps: &[PathBuf]) -> Result<AppModules> {
        tool("jdeps")?;
        let mut direct = BTreeSet::new();
        let mut kept = BTreeMap::new();
        let mut jars = 0;
        for path in apps {
            let (needed, app_kept, n) = with_known(path, |app| {
                let needed: BTreeSet<String> = app.modules_per_jar(17)?.into_iter().flatten().collect();
                Ok((needed.clone(), java_modules::kept(&app.jars, &needed), app.jars.len()))
            })?;
            for (m, why) in app_kept {
                kept.entry(m).or_insert(why);
            }
            direct.extend(needed);
            jars += n;
        }
        let host = host_modules()?;
        let roots: BTreeSet<String> = kept.keys().filter(|m| host.contains(*m)).cloned().collect();
        let requires = closure(&roots)?;
        Ok(AppModules { apps: apps.to_vec(), jars, needed: closure(&direct)?.into_keys().collect(), kept, requires })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdeps_and_module_resolution_output_parse() {
        let per = parse_summary(
            "0.jar -> java.base\n0.jar -> not found\n1.jar -> /tmp/x/jdeps/0.jar\n1.jar -> java.desktop\n\
             1.jar -> 0.jar\n9.jar -> java.sql\nWarning: split package\n",
            2,
        );
        assert_eq!(per[0].iter().collect::<Vec<_>>(), ["java.base"]);
        assert_eq!(per[1].iter().collect::<Vec<_>>(), ["java.desktop"]);
        let uses = parse_verbose(
            "3.jar -> java.desktop\n   com.x.Bean      -> java.beans.Introspector      java.desktop\n\
             4.jar -> java.desktop\n   org.h2.Gui      -> java.awt.Frame     java.desktop\n",
        );
        assert_eq!(uses[&3], [Use { class: "com.x.Bean".into(), target: "java.beans.Introspector".into() }]);
        assert_eq!(uses[&4][0].target, "java.awt.Frame");
        let graph = parse_resolution(
            "root java.sql jrt:/java.sql\nroot jdk.naming.dns jrt:/jdk.naming.dns\n\
             jdk.naming.dns requires java.naming jrt:/java.naming\njava.base binds java.naming jrt:/java.naming\n\
             openjdk version \"17.0.15\" 2025-04-15\n",
        );
        assert_eq!(graph.keys().collect::<Vec<_>>(), ["java.naming", "java.sql", "jdk.naming.dns"]);
        assert_eq!(graph["jdk.naming.dns"].iter().collect::<Vec<_>>(), ["java.naming"]);
        assert_eq!(multi_release(8), "base");
    }
}
