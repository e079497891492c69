//! Which Java modules an application needs (`lucid report --app JAR`), so the report can say
//! which modules of an image's runtime it could leave out, and which it lacks.
//!
//! The question is the JDK's own: `jdeps --print-module-deps` gives the modules a set of jars
//! uses directly, and the runtime must hold their `requires` closure (what jlink would add).
//! Both come from a JDK 17 on this machine (`$JAVA_HOME/bin`, else `PATH`): the image under
//! report may have no JDK at all. The closure is read with `java --describe-module`, one call per
//! module reached.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The JDK tool `name` (`jdeps`, `java`): `$JAVA_HOME/bin/NAME`, else the first on `PATH`.
fn tool(name: &str) -> Result<PathBuf> {
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
        .with_context(|| {
            format!("--app needs {name} from a JDK 17: install one (openjdk-17-jdk-headless) or set JAVA_HOME")
        })
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Parses `jdeps --print-module-deps` output: its last line, `java.base,java.logging` (warning
/// lines may come first). A last line that is not such a list gives nothing, never a guess.
pub fn parse_module_deps(out: &str) -> BTreeSet<String> {
    let line = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let names: Vec<&str> = line.split(',').map(str::trim).collect();
    if !names.iter().all(|m| is_module_name(m)) {
        return BTreeSet::new();
    }
    names.into_iter().map(str::to_string).collect()
}

fn is_module_name(m: &str) -> bool {
    !m.is_empty() && m.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Parses `java --describe-module M`: the modules M `requires` (any modifier).
pub fn parse_requires(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("requires "))
        .filter_map(|r| r.split_whitespace().next())
        .filter(|m| is_module_name(m))
        .map(str::to_string)
        .collect()
}

/// The jars of `--app` and the modules they need: found once per run (jdeps and a JVM per module
/// take seconds), then held against every image and platform analysed.
#[derive(Clone, Debug)]
pub struct AppModules {
    pub jars: Vec<PathBuf>,
    pub needed: BTreeSet<String>,
}

impl AppModules {
    pub fn of(jars: &[PathBuf]) -> Result<AppModules> {
        Ok(AppModules { jars: jars.to_vec(), needed: needed_modules(jars)? })
    }
}

/// The modules the jars `apps` need, closed over `requires`: what a runtime for them must hold.
pub fn needed_modules(apps: &[PathBuf]) -> Result<BTreeSet<String>> {
    let jdeps = tool("jdeps")?;
    let java = tool("java")?;
    for app in apps {
        if !app.is_file() {
            bail!("--app {}: no such file", app.display());
        }
    }
    let out = run(
        Command::new(&jdeps).args(["--ignore-missing-deps", "--multi-release", "17", "--print-module-deps"]).args(apps),
        &format!("jdeps on {}", apps.iter().map(|a| a.display().to_string()).collect::<Vec<_>>().join(" ")),
    )?;
    let mut todo: Vec<String> = parse_module_deps(&out).into_iter().collect();
    if todo.is_empty() {
        bail!("jdeps named no modules for {}: are they jars of Java classes?", apps[0].display());
    }
    let mut requires: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some(m) = todo.pop() {
        if requires.contains_key(&m) {
            continue;
        }
        let described =
            run(Command::new(&java).args(["--describe-module", &m]), &format!("java --describe-module {m}"))?;
        let req = parse_requires(&described);
        todo.extend(req.iter().filter(|r| !requires.contains_key(*r)).cloned());
        requires.insert(m, req);
    }
    Ok(requires.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdeps_and_describe_module_output_parse() {
        let deps = parse_module_deps("Warning: split package\njava.base,java.logging,java.sql\n");
        assert_eq!(deps.into_iter().collect::<Vec<_>>(), ["java.base", "java.logging", "java.sql"]);
        assert!(parse_module_deps("").is_empty());
        assert!(parse_module_deps("not, a list!").is_empty());
        let req = parse_requires(
            "java.sql@17.0.15\nexports java.sql\nrequires java.base mandated\nrequires java.xml transitive\nuses java.sql.Driver\n",
        );
        assert_eq!(req, ["java.base", "java.xml"]);
    }
}
