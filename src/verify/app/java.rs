//! Does the image's Java runtime run this application? Three checks of its jars against the
//! runtime's `release` file:
//!
//! - LUCID-APP-101: every JDK module the jars reference (jdeps, per jar) or declare (service
//!   providers of JDK interfaces, `Add-Opens`/`Add-Exports`, agents) is in the runtime; a missing
//!   one is named with the jars and a class that needs it, and the `modules:` fix;
//! - LUCID-APP-102: no class is compiled for a newer Java than the runtime's (class file major
//!   version; a multi-release jar's `META-INF/versions/N/` counts only for N up to the runtime's);
//! - LUCID-APP-103 (information): what this cannot see, said plainly.
//!
//! The jars are read once per run ([`App::open`]); jdeps' answers are kept per feature release,
//! so the platforms of one image (amd64, arm64) cost one jdeps run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Result;

use crate::analyze::jars::{AppJars, Jar};
use crate::analyze::java_modules::{self, JavaRuntime};
use crate::analyze::jdeps::{self, Use};
use crate::report::{Finding, Location, Status};
use crate::verify::Subject;
use crate::verify::checks::finding;

/// Per jar (index), the classes jdeps found using one module.
type UsesPerJar = BTreeMap<usize, Vec<Use>>;

/// Jars named in one finding before "and N more".
const SHOWN: usize = 4;

/// A Java application: its jars and what jdeps said of them.
#[derive(Debug)]
pub struct App {
    pub jars: AppJars,
    /// jdeps' modules per jar, per feature release asked.
    modules: Mutex<BTreeMap<u32, Vec<BTreeSet<String>>>>,
    /// jdeps' classes per jar that use a module, per feature release and module asked.
    uses: Mutex<BTreeMap<(u32, String), UsesPerJar>>,
}

impl App {
    /// Reads the jars at `path` (a jar, a war, a folder of them). Fails first when this machine
    /// has no JDK to run jdeps ([`jdeps::NoJdk`]).
    pub fn open(path: &Path) -> Result<App> {
        jdeps::tool("jdeps")?;
        Ok(App { jars: AppJars::open(path)?, modules: Mutex::default(), uses: Mutex::default() })
    }

    fn modules_per_jar(&self, feature: u32) -> Result<Vec<BTreeSet<String>>> {
        memo(&self.modules, feature, || jdeps::modules_per_jar(&self.jars, feature))
    }

    fn uses_of(&self, which: &[usize], module: &str, feature: u32) -> Result<UsesPerJar> {
        memo(&self.uses, (feature, module.to_string()), || jdeps::uses_of(&self.jars, which, module, feature))
    }
}

/// The answer kept in `cell` for `key`, else `ask()`'s, kept.
fn memo<K: Ord, V: Clone>(cell: &Mutex<BTreeMap<K, V>>, key: K, ask: impl FnOnce() -> Result<V>) -> Result<V> {
    let mut kept = cell.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = kept.get(&key) {
        return Ok(v.clone());
    }
    let v = ask()?;
    kept.insert(key, v.clone());
    Ok(v)
}

/// The runtime `java` starts: the one at the config's `JAVA_HOME`, else the first found.
fn main_runtime<'a>(s: &'a Subject<'_>) -> Option<&'a JavaRuntime> {
    let env = s.raw_config.pointer("/config/Env").and_then(|e| e.as_array());
    let home = env
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str()?.strip_prefix("JAVA_HOME="))
        .map(|h| h.trim_matches('/').to_string())
        .next();
    home.and_then(|h| s.java.iter().find(|r| r.home == h)).or(s.java.first())
}

/// `Java 21 (65)` for a class file major version.
fn java_of(major: u32) -> String {
    format!("Java {} ({major})", major.saturating_sub(44))
}

/// `a, b, c and 4 more`.
fn some(items: &[String]) -> String {
    let shown = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    match items.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

fn jar_locations<'a>(jars: impl Iterator<Item = &'a Jar>) -> Vec<Location> {
    jars.take(10).map(|j| Location { path: j.name.clone(), line: None, layer: None }).collect()
}

/// The package of a class name (`java.beans.Introspector` -> `java.beans`).
fn package(class: &str) -> &str {
    class.rsplit_once('.').map_or(class, |(p, _)| p)
}

/// LUCID-APP-101, LUCID-APP-102 and LUCID-APP-103 of `app` on the image `s`.
pub fn check(app: &App, s: &Subject) -> Result<Vec<Finding>> {
    let jars = &app.jars.jars;
    let Some(rt) = main_runtime(s) else {
        let msg = format!(
            "the image has no Java runtime (no release file with JAVA_VERSION) to run the {} jars of {}",
            jars.len(),
            app.jars.root.display()
        );
        return Ok(vec![
            finding("LUCID-APP-101", &s.name, Status::Fail, msg),
            finding("LUCID-APP-102", &s.name, Status::Skip, "no Java runtime"),
        ]);
    };
    Ok(vec![modules(app, s, rt)?, class_versions(app, s, rt), not_seen(app, s)])
}

/// LUCID-APP-101: the modules the jars need are in the runtime.
fn modules(app: &App, s: &Subject, rt: &JavaRuntime) -> Result<Finding> {
    const ID: &str = "LUCID-APP-101";
    let jars = &app.jars.jars;
    let at = format!("the Java {} runtime at /{}", rt.version, rt.home);
    let Some(have) = &rt.modules else {
        return Ok(finding(
            ID,
            &s.name,
            Status::Skip,
            format!("{at} does not list its modules (no MODULES in release)"),
        ));
    };
    let per_jar = app.modules_per_jar(rt.feature)?;
    let mut users: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, modules) in per_jar.iter().enumerate() {
        for m in modules {
            users.entry(m.as_str()).or_default().push(i);
        }
    }
    let declared = java_modules::declared(jars);
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    let mut culprits: BTreeSet<usize> = BTreeSet::new();
    for (m, which) in users.iter().filter(|(m, _)| !have.contains(**m)) {
        let uses = app.uses_of(which, m, rt.feature)?;
        parts.push(format!("{m} {}", describe_uses(jars, which, &uses)));
        missing.push(m.to_string());
        culprits.extend(which);
    }
    for (m, (jar, why)) in declared.iter().filter(|(m, _)| !have.contains(*m) && !users.contains_key(m.as_str())) {
        parts.push(format!("{m} ({why})"));
        missing.push(m.clone());
        culprits.insert(*jar);
    }
    if missing.is_empty() {
        let needed: Vec<&str> = users.keys().copied().collect();
        return Ok(finding(
            ID,
            &s.name,
            Status::Pass,
            format!(
                "{at} has the {} modules the {} jars of {} reference (jdeps): {}",
                needed.len(),
                jars.len(),
                app.jars.root.display(),
                needed.join(", ")
            ),
        ));
    }
    let mut f = finding(
        ID,
        &s.name,
        Status::Fail,
        format!(
            "{at} lacks {} module(s) the application needs: {}; add {} to java.modules (modules:) in build-args.yml",
            missing.len(),
            parts.join("; "),
            missing.join(", ")
        ),
    );
    f.locations = jar_locations(culprits.iter().map(|&i| &jars[i]));
    Ok(f)
}

/// `(packages java.beans, java.awt) needed by jackson-databind.jar (com.x.Y uses java.beans.Z),
/// h2.jar (...)`: the packages of the module the jars `which` use, most used first, and one class
/// of each jar, using the most used package it uses.
fn describe_uses(jars: &[Jar], which: &[usize], uses: &UsesPerJar) -> String {
    let mut packages: BTreeMap<&str, usize> = BTreeMap::new();
    for u in uses.values().flatten() {
        *packages.entry(package(&u.target)).or_default() += 1;
    }
    let mut by_count: Vec<(&str, usize)> = packages.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let packages: Vec<String> = by_count.iter().map(|(p, _)| p.to_string()).collect();
    let rank = |u: &&Use| packages.iter().position(|p| p == package(&u.target));
    let who: Vec<String> = which
        .iter()
        .map(|i| match uses.get(i).and_then(|u| u.iter().min_by_key(rank)) {
            Some(u) => format!("{} ({} uses {})", jars[*i].name, u.class, u.target),
            None => jars[*i].name.clone(),
        })
        .collect();
    if packages.is_empty() {
        format!("needed by {}", some(&who))
    } else {
        format!("(packages {}) needed by {}", packages.join(", "), some(&who))
    }
}

/// LUCID-APP-102: no class is newer than the runtime runs.
fn class_versions(app: &App, s: &Subject, rt: &JavaRuntime) -> Finding {
    const ID: &str = "LUCID-APP-102";
    let jars = &app.jars.jars;
    let limit = rt.class_major();
    let newest: Vec<(&Jar, u32, &str)> =
        jars.iter().filter_map(|j| j.newest_for(rt.feature).map(|c| (j, c.major, c.class.as_str()))).collect();
    let too_new: Vec<&(&Jar, u32, &str)> = newest.iter().filter(|(_, major, _)| *major > limit).collect();
    if too_new.is_empty() {
        return match newest.iter().max_by_key(|n| n.1) {
            Some((jar, major, class)) => finding(
                ID,
                &s.name,
                Status::Pass,
                format!(
                    "the newest class is {}: {class} in {}; the runtime ({}) runs up to {}",
                    java_of(*major),
                    jar.name,
                    rt.version,
                    java_of(limit)
                ),
            ),
            None => finding(ID, &s.name, Status::Skip, "the jars hold no class files"),
        };
    }
    let named: Vec<String> =
        too_new.iter().map(|(jar, major, class)| format!("{}: {class} is {}", jar.name, java_of(*major))).collect();
    let mut f = finding(
        ID,
        &s.name,
        Status::Fail,
        format!(
            "the runtime ({}) runs classes up to {}; {} jar(s) hold newer ones: {}",
            rt.version,
            java_of(limit),
            too_new.len(),
            some(&named)
        ),
    );
    f.locations = jar_locations(too_new.iter().map(|t| t.0));
    f
}

/// LUCID-APP-103: what the analysis rests on and cannot see (information; always passes).
fn not_seen(app: &App, s: &Subject) -> Finding {
    let jars = &app.jars.jars;
    let nested = jars.iter().filter(|j| j.name.contains(".jar!/") || j.name.contains(".war!/")).count();
    let mut msg = format!(
        "{} jars read ({nested} nested in fat jars or wars), {} classes; {}",
        jars.len(),
        jars.iter().map(|j| j.classes).sum::<u64>(),
        java_modules::NOT_SEEN
    );
    let native: Vec<String> =
        jars.iter().filter(|j| !j.native.is_empty()).map(|j| format!("{} ({})", j.name, j.native[0])).collect();
    if !native.is_empty() {
        msg.push_str(&format!("; native libraries for JNI in {}", some(&native)));
    }
    finding("LUCID-APP-103", &s.name, Status::Pass, msg)
}
