//! Does the image's Java runtime run this application? The runtime's `release` file against
//! the application's jars:
//!
//! - LUCID-JAVA-002, on every image with a Java runtime, `--app` or not ([`runtime_modules`]):
//!   it has the minimum module set of [`java_modules::MINIMUM`];
//! - LUCID-APP-101: every JDK module the jars reference (jdeps, per jar) or declare (service
//!   providers of JDK interfaces, `Add-Opens`/`Add-Exports`, agents) is in the runtime; a missing
//!   one is named with the jars and a class that needs it, and the `modules:` fix;
//! - LUCID-APP-102: no class is compiled for a newer Java than the runtime's (class file major
//!   version; a multi-release jar's `META-INF/versions/N/` counts only for N up to the runtime's);
//! - LUCID-APP-103 (information): what this cannot see, said plainly.
//!
//! [`check`] runs once per image and platform with the same PATH; what the jars and jdeps said is
//! kept for the process ([`Known`], shared with `lucid report --app`'s module advice), so the
//! platforms of an index cost one read of the jars and one jdeps run per feature release.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};

use super::Host;
use crate::analyze::jars::Jar;
use crate::analyze::java_modules::{self, JavaRuntime};
use crate::analyze::jdeps::{Known, Use, UsesPerJar, with_known};
use crate::findings::{Finding, Location, Status};
use crate::verify::checks::finding;

/// Jars named in one finding before "and N more".
const SHOWN: usize = 4;

/// Reads the application at `path` before any image is, so a missing JDK ([`jdeps::NoJdk`]) or
/// an unreadable jar is said at once.
pub fn preflight(path: &Path) -> Result<()> {
    with_known(path, |_| Ok(()))
}

/// The runtime `java` starts: the one at the config's `JAVA_HOME`, else the first found.
fn main_runtime(host: &Host, runtimes: &[JavaRuntime]) -> Option<JavaRuntime> {
    let home = host.env.iter().find_map(|v| v.strip_prefix("JAVA_HOME=")).map(|h| h.trim_matches('/'));
    home.and_then(|h| runtimes.iter().find(|r| r.home == h)).or(runtimes.first()).cloned()
}

/// LUCID-JAVA-002 for every Java runtime in the image: it has the modules of
/// [`java_modules::MINIMUM`]. Images without one get a skip.
pub fn runtime_modules(host: &Host) -> Vec<Finding> {
    const ID: &str = "LUCID-JAVA-002";
    let runtimes = host.java_runtimes();
    if runtimes.is_empty() {
        return vec![finding(ID, &host.name, Status::Skip, "no Java runtime (no release file with JAVA_VERSION)")];
    }
    runtimes
        .iter()
        .map(|rt| {
            let at = format!("the Java {} runtime at /{}", rt.version, rt.home);
            let Some(modules) = &rt.modules else {
                let msg = format!("{at} does not list its modules (no MODULES in release)");
                return finding(ID, &host.name, Status::Skip, msg);
            };
            let missing = java_modules::missing_minimum(rt);
            if missing.is_empty() {
                let n = java_modules::MINIMUM.len();
                let msg = format!("{at} has the {n} modules of the minimum set ({} in all)", modules.len());
                return finding(ID, &host.name, Status::Pass, msg);
            }
            let names: Vec<String> = missing.iter().map(|(m, why)| format!("{m} ({why})")).collect();
            let mut f = finding(
                ID,
                &host.name,
                Status::Fail,
                format!(
                    "{at} lacks {} of the minimum set: {}; add {} to java.modules (modules:) in build-args.yml",
                    missing.len(),
                    names.join("; "),
                    missing.iter().map(|m| m.0).collect::<Vec<_>>().join(", ")
                ),
            );
            let release = format!("{}/release", rt.home);
            f.locations =
                vec![Location { path: format!("/{release}"), layer: host.fs.layer_of(&release), ..Default::default() }];
            f
        })
        .collect()
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
    jars.take(10).map(|j| Location { path: j.name.clone(), ..Default::default() }).collect()
}

/// The package of a class name (`java.beans.Introspector` -> `java.beans`).
fn package(class: &str) -> &str {
    class.rsplit_once('.').map_or(class, |(p, _)| p)
}

/// LUCID-APP-101, LUCID-APP-102 and LUCID-APP-103 of the application at `path` (a jar, a war,
/// a folder of them) on the image `host`.
pub fn check(host: &Host, path: &Path) -> Result<Vec<Finding>> {
    let runtimes = host.java_runtimes();
    with_known(path, |app| {
        let Some(rt) = main_runtime(host, &runtimes) else {
            let msg = format!(
                "the image has no Java runtime (no release file with JAVA_VERSION) to run the {} jars of {}",
                app.jars.len(),
                app.root.display()
            );
            return Ok(vec![
                finding("LUCID-APP-101", &host.name, Status::Fail, msg),
                finding("LUCID-APP-102", &host.name, Status::Skip, "no Java runtime"),
            ]);
        };
        let modules = modules(app, host, &rt).with_context(|| format!("--app {}", path.display()))?;
        Ok(vec![modules, class_versions(app, host, &rt), not_seen(app, host)])
    })
}

/// LUCID-APP-101: the modules the jars need are in the runtime.
fn modules(app: &mut Known, host: &Host, rt: &JavaRuntime) -> Result<Finding> {
    const ID: &str = "LUCID-APP-101";
    let at = format!("the Java {} runtime at /{}", rt.version, rt.home);
    let Some(have) = &rt.modules else {
        return Ok(finding(
            ID,
            &host.name,
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
    let declared = java_modules::declared(&app.jars);
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    let mut culprits: BTreeSet<usize> = BTreeSet::new();
    for (m, which) in users.iter().filter(|(m, _)| !have.contains(**m)) {
        let uses = app.uses_of(which, m, rt.feature)?;
        parts.push(format!("{m} {}", describe_uses(&app.jars, which, &uses)));
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
            &host.name,
            Status::Pass,
            format!(
                "{at} has the {} modules the {} jars of {} reference (jdeps): {}",
                needed.len(),
                app.jars.len(),
                app.root.display(),
                needed.join(", ")
            ),
        ));
    }
    let mut f = finding(
        ID,
        &host.name,
        Status::Fail,
        format!(
            "{at} lacks {} module(s) the application needs: {}; add {} to java.modules (modules:) in build-args.yml",
            missing.len(),
            parts.join("; "),
            missing.join(", ")
        ),
    );
    f.locations = jar_locations(culprits.iter().map(|&i| &app.jars[i]));
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
fn class_versions(app: &Known, host: &Host, rt: &JavaRuntime) -> Finding {
    const ID: &str = "LUCID-APP-102";
    let jars = &app.jars;
    let limit = rt.class_major();
    let newest: Vec<(&Jar, u32, &str)> =
        jars.iter().filter_map(|j| j.newest_for(rt.feature).map(|c| (j, c.major, c.class.as_str()))).collect();
    let too_new: Vec<&(&Jar, u32, &str)> = newest.iter().filter(|(_, major, _)| *major > limit).collect();
    if too_new.is_empty() {
        return match newest.iter().max_by_key(|n| n.1) {
            Some((jar, major, class)) => finding(
                ID,
                &host.name,
                Status::Pass,
                format!(
                    "the newest class is {}: {class} in {}; the runtime ({}) runs up to {}",
                    java_of(*major),
                    jar.name,
                    rt.version,
                    java_of(limit)
                ),
            ),
            None => finding(ID, &host.name, Status::Skip, "the jars hold no class files"),
        };
    }
    let named: Vec<String> =
        too_new.iter().map(|(jar, major, class)| format!("{}: {class} is {}", jar.name, java_of(*major))).collect();
    let mut f = finding(
        ID,
        &host.name,
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
fn not_seen(app: &Known, host: &Host) -> Finding {
    let jars = &app.jars;
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
    finding("LUCID-APP-103", &host.name, Status::Pass, msg)
}
