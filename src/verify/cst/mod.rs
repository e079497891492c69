//! container-structure-test files (schemaVersion 2.0.0), read as container-structure-test reads
//! them and run as it runs them: every field of its schema ([`schema`]), with its verdicts.
//!
//! - commandTests (with `setup`, `teardown`, `globalEnvVars` and `containerRunOptions`) in
//!   containers through the engine, confined like every runtime check ([`commands`]);
//! - fileExistenceTests, fileContentTests and licenseTests against the image's merged filesystem
//!   ([`files`]), and metadataTest against its config ([`metadata`]): they need no container, so
//!   they run without an engine too, and read what the engine would show a container.
//!
//! One finding per test, through the one findings model. A file lucid cannot use (not YAML,
//! another schema version, an unknown key) is a configuration error naming the file, the test and
//! the line; what container-structure-test reports as a failed test (a test without a name, a
//! regular expression that does not compile) fails that test here too.

pub mod commands;
pub mod files;
pub mod golang;
pub mod metadata;
pub mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::de::DeserializeOwned;

pub use schema::Schema;

use super::Subject;
use super::checks::finding;
use super::runtime::Session;
use crate::findings::{Finding, Location, Status};

/// A test file as read, and where it came from.
#[derive(Clone, Debug)]
pub struct Suite {
    pub schema: Schema,
    pub path: PathBuf,
}

/// Reads and checks a test file.
pub fn load(path: &Path) -> Result<Suite> {
    let data = crate::limits::read_capped(path, crate::limits::MAX_YAML_BYTES, "the structure-test file")?;
    let text = String::from_utf8(data).with_context(|| format!("{} is not UTF-8", path.display()))?;
    parse(&text, path)
}

/// Parses test-file text; `path` names it in errors and, as for container-structure-test, says
/// how to read it: `.yaml` and `.yml` (and `.json`, which YAML reads too) only. Split from
/// [`load`] so the fuzzer (and tests) can feed text without a file.
pub fn parse(text: &str, path: &Path) -> Result<Suite> {
    let file = path.display();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "yaml" | "yml" | "json") {
        bail!("{file}: a structure-test file is .yaml, .yml or .json (as container-structure-test requires)");
    }
    // The version first, as container-structure-test does: a file of another schema is refused
    // for its version, not for the keys that schema has and this one lacks.
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(rename = "schemaVersion", default, deserialize_with = "schema::nullable")]
        version: serde_json::Value,
    }
    let v: Version = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    match &v.version {
        serde_json::Value::Null => bail!("{file}: no schemaVersion (container-structure-test files say 2.0.0)"),
        serde_json::Value::String(s) if s == "2.0.0" => {}
        other => bail!("{file}: schemaVersion {other} is not supported (lucid reads schema 2.0.0)"),
    }
    let schema: Schema = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("{file}: {}{e}", culprit(text)))?;
    Ok(Suite { schema, path: path.to_path_buf() })
}

/// Which test of `text` does not parse, as `commandTests[2] "name": ` (empty when the problem is
/// outside the test lists). serde reports the line; this adds the test, so that a long file's
/// error says which entry to fix.
fn culprit(text: &str) -> String {
    let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(text) else { return String::new() };
    fn first_bad<T: DeserializeOwned>(doc: &serde_json::Value, key: &str) -> Option<String> {
        let list = doc.get(key)?.as_array()?;
        list.iter().enumerate().find_map(|(i, t)| {
            let yaml = serde_saphyr::to_string(t).ok()?;
            serde_saphyr::from_str::<T>(&yaml).err()?;
            let name = t.get("name").and_then(|n| n.as_str()).map(|n| format!(" {n:?}")).unwrap_or_default();
            Some(format!("{key}[{i}]{name}: "))
        })
    }
    first_bad::<schema::CommandTest>(&doc, "commandTests")
        .or_else(|| first_bad::<schema::FileExistenceTest>(&doc, "fileExistenceTests"))
        .or_else(|| first_bad::<schema::FileContentTest>(&doc, "fileContentTests"))
        .or_else(|| first_bad::<schema::LicenseTest>(&doc, "licenseTests"))
        .or_else(|| first_bad::<schema::EnvVar>(&doc, "globalEnvVars"))
        .or_else(|| {
            let m = doc.get("metadataTest")?;
            serde_saphyr::from_str::<schema::MetadataTest>(&serde_saphyr::to_string(m).ok()?).err()?;
            Some("metadataTest: ".to_string())
        })
        .or_else(|| {
            let o = doc.get("containerRunOptions")?;
            serde_saphyr::from_str::<schema::ContainerRunOptions>(&serde_saphyr::to_string(o).ok()?).err()?;
            Some("containerRunOptions: ".to_string())
        })
        .unwrap_or_default()
}

impl Suite {
    /// The files whose content the tests read (canonical keys): fileContentTests' paths and
    /// licenseTests' `files`. Debian copyright files are found while the layers stream by
    /// ([`files::LicenseScan`]).
    pub fn content_paths(&self) -> Vec<String> {
        let s = &self.schema;
        let content = s.file_content_tests.iter().map(|t| t.path.as_str());
        let licenses = s.license_tests.iter().flat_map(|t| t.files.iter().map(String::as_str));
        content.chain(licenses).map(|p| p.trim_start_matches('/').to_string()).collect()
    }

    /// Whether a license test asks for the Debian copyright files.
    pub fn wants_debian_licenses(&self) -> bool {
        self.schema.license_tests.iter().any(|t| t.debian)
    }
}

/// Whether `pattern` matches `text`, as container-structure-test's `CompileAndRunRegex` decides:
/// the whole text (a trailing newline included: `$` is its end, `(?m)` makes it a line's), and a
/// pattern that does not compile fails whether it was expected or excluded.
fn matches(pattern: &str, text: &str) -> std::result::Result<bool, String> {
    Regex::new(pattern).map(|r| r.is_match(text)).map_err(|e| format!("bad regular expression {pattern:?}: {e}"))
}

/// Problems with `text` against expected and excluded patterns.
fn match_all(what: &str, text: &str, expected: &[String], excluded: &[String]) -> Vec<String> {
    let shown = || text.chars().take(200).collect::<String>();
    let mut out = Vec::new();
    for p in expected {
        match matches(p, text) {
            Ok(true) => {}
            Ok(false) => out.push(format!("{what} does not match {p:?} (got {:?})", shown())),
            Err(e) => out.push(e),
        }
    }
    for p in excluded {
        match matches(p, text) {
            Ok(false) => {}
            Ok(true) => out.push(format!("{what} matches excluded {p:?}")),
            Err(e) => out.push(e),
        }
    }
    out
}

/// The finding of one test of `suite`: passed with `ok` when `problems` is empty.
fn verdict(s: &Subject, suite: &Suite, id: &str, name: &str, problems: Vec<String>, ok: String) -> Finding {
    let (status, msg) = if problems.is_empty() { (Status::Pass, ok) } else { (Status::Fail, problems.join("; ")) };
    let mut f = finding(id, &s.name, status, format!("{name}: {msg}"));
    f.title = format!("{}: {name}", f.title);
    f.locations.push(Location { path: suite.path.display().to_string(), ..Default::default() });
    f
}

/// The image's environment (`KEY=VALUE` of its config; a later entry wins, as in the engine).
fn image_env(s: &Subject) -> BTreeMap<String, String> {
    s.image.config.config.env.iter().filter_map(|e| e.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
}

/// `globalEnvVars` as container-structure-test sets them: each value expanded (`$VAR`,
/// `${VAR}`) against the image's own environment (not against the other global variables), in
/// order.
fn globals(suite: &Suite, s: &Subject) -> Vec<(String, String)> {
    let env = image_env(s);
    let lookup = |k: &str| env.get(k).cloned();
    suite.schema.global_env_vars.iter().map(|v| (v.key.clone(), golang::expand(&v.value, &lookup))).collect()
}

/// The environment command and file existence tests see: the image's, with `globalEnvVars`
/// over it (container-structure-test commits them into the image it tests).
fn env_after_globals(suite: &Suite, s: &Subject) -> BTreeMap<String, String> {
    let mut env = image_env(s);
    env.extend(globals(suite, s));
    env
}

/// Runs every test of `suite` on `s`, one finding per test, in container-structure-test's order
/// (commands, file contents, file existence, licenses, metadata). `licenses` is what the layer
/// pass learnt of the Debian copyright files.
pub fn run(suite: &Suite, s: &Subject, licenses: &files::LicenseScan, session: &mut Session) -> Vec<Finding> {
    let mut out = commands::run(suite, s, session);
    out.extend(files::content_tests(suite, s));
    out.extend(files::existence(suite, s));
    out.extend(files::licenses(suite, s, licenses));
    out.extend(metadata::run(suite, s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_yaml(text: &str) -> Result<Suite> {
        parse(text, Path::new("/x/t.yaml"))
    }

    #[test]
    fn every_field_parses() {
        let text = r#"
schemaVersion: "2.0.0"
globalEnvVars: [{key: A, value: "$PATH:/x"}]
containerRunOptions:
  user: "65532"
  privileged: false
  allocateTty: false
  envVars: [HOME]
  envFile: e.env
  capabilities: []
  bindMounts: ["/a:/b:ro"]
commandTests:
  - name: c
    setup: [["touch", "/tmp/x"]]
    teardown: [["rm", "/tmp/x"]]
    envVars: [{key: K, value: V}]
    command: ls
    args: [-l]
    exitCode: 2
    expectedOutput: [a]
    excludedOutput: [b]
    expectedError: [c]
    excludedError: [d]
fileExistenceTests:
  - {name: f, path: /tmp, shouldExist: true, permissions: dtrwxrwxrwx, uid: 0, gid: 0, isExecutableBy: any}
fileContentTests:
  - {name: g, path: /etc/passwd, expectedContents: [root], excludedContents: [x]}
licenseTests:
  - {debian: true, files: [/usr/share/doc/libc6/copyright]}
metadataTest:
  envVars: [{key: PATH, value: ".*", isRegex: true}]
  unboundEnvVars: [{key: X}]
  exposedPorts: ["8080"]
  unexposedPorts: ["22"]
  entrypoint: []
  cmd: ["python3"]
  workdir: /
  volumes: [/v]
  unmountedVolumes: [/w]
  labels: [{key: l, value: v, isRegex: false}]
  user: "65532"
"#;
        let s = parse_yaml(text).unwrap().schema;
        assert_eq!(s.command_tests[0].setup, vec![vec!["touch".to_string(), "/tmp/x".to_string()]]);
        assert_eq!(s.file_existence_tests[0].uid, Some(0));
        assert_eq!(s.metadata_test.entrypoint, Some(vec![]));
        assert!(s.container_run_options.is_set() && s.license_tests[0].debian);
        assert_eq!(s.global_env_vars[0].value, "$PATH:/x");
    }

    /// yaml.v2's `UnmarshalStrict`: an unknown key is an error (here a configuration error
    /// naming the file, the test and the line); a duplicate key too.
    #[test]
    fn unknown_keys_are_refused_with_the_test_named() {
        let text = "schemaVersion: 2.0.0\ncommandTests:\n  - name: ok\n    command: a\n  - name: typo\n    command: b\n    expectedOuput: [x]\n";
        let e = format!("{:#}", parse_yaml(text).unwrap_err());
        assert!(
            e.contains("/x/t.yaml") && e.contains("commandTests[1] \"typo\"") && e.contains("expectedOuput"),
            "{e}"
        );
        assert!(e.contains('7'), "the line: {e}");
        let e = format!("{:#}", parse_yaml("schemaVersion: 2.0.0\nmetadataTest:\n  usr: x\n").unwrap_err());
        assert!(e.contains("metadataTest") && e.contains("usr"), "{e}");
        let e = format!("{:#}", parse_yaml("schemaVersion: 2.0.0\nextra: 1\n").unwrap_err());
        assert!(e.contains("extra"), "{e}");
        assert!(parse_yaml("schemaVersion: 2.0.0\nschemaVersion: 2.0.0\n").is_err());
    }

    #[test]
    fn versions_and_extensions() {
        assert!(format!("{:#}", parse_yaml("schemaVersion: 1.0.0\n").unwrap_err()).contains("1.0.0"));
        assert!(format!("{:#}", parse_yaml("commandTests: []\n").unwrap_err()).contains("no schemaVersion"));
        let e = parse("schemaVersion: 2.0.0\n", Path::new("t.txt")).unwrap_err();
        assert!(format!("{e:#}").contains(".yaml"), "{e:#}");
        assert!(parse("{\"schemaVersion\": \"2.0.0\"}", Path::new("t.json")).is_ok());
    }

    /// yaml.v2 reads `null` as the zero value, and `entrypoint: null` as not given.
    #[test]
    fn nulls_are_zero_values() {
        let s = parse_yaml("schemaVersion: 2.0.0\ncommandTests:\nmetadataTest:\n  entrypoint:\n  cmd: []\n").unwrap();
        assert!(s.schema.command_tests.is_empty());
        assert_eq!((s.schema.metadata_test.entrypoint, s.schema.metadata_test.cmd), (None, Some(vec![])));
    }

    /// `CompileAndRunRegex`: the whole text, so `$` is its end and not a line's; a pattern that
    /// does not compile fails both ways.
    #[test]
    fn regexes_as_container_structure_test_applies_them() {
        assert!(match_all("stdout", "65532 65532\n", &["^65532 65532$".into()], &[]).len() == 1);
        assert!(match_all("stdout", "65532 65532\n", &["(?m)^65532 65532$".into()], &[]).is_empty());
        assert!(match_all("stdout", "x", &[], &["(".into()])[0].contains("bad regular expression"));
        assert!(match_all("stdout", "x", &["(".into()], &[])[0].contains("bad regular expression"));
    }
}
