//! container-structure-test files (schemaVersion 2.0.0), read as they are and run as
//! container-structure-test would: commandTests in containers (through the engine), and
//! fileExistenceTests, fileContentTests and metadataTest against the image itself, which needs
//! no container (so they run without an engine too).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::Deserialize;

use super::Subject;
use super::checks::finding;
use super::runtime::Session;
use crate::findings::{Finding, Location, Status};
use crate::oci::read::EntryKind;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suite {
    pub schema_version: String,
    #[serde(default)]
    pub command_tests: Vec<CommandTest>,
    #[serde(default)]
    pub file_existence_tests: Vec<FileExistenceTest>,
    #[serde(default)]
    pub file_content_tests: Vec<FileContentTest>,
    #[serde(default)]
    pub metadata_test: Option<MetadataTest>,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub key: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub is_regex: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandTest {
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env_vars: Vec<EnvVar>,
    #[serde(default)]
    pub expected_output: Vec<String>,
    #[serde(default)]
    pub excluded_output: Vec<String>,
    #[serde(default)]
    pub expected_error: Vec<String>,
    #[serde(default)]
    pub excluded_error: Vec<String>,
    #[serde(default)]
    pub exit_code: i64,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileExistenceTest {
    pub name: String,
    pub path: String,
    #[serde(default = "yes")]
    pub should_exist: bool,
    #[serde(default)]
    pub permissions: Option<String>,
    #[serde(default)]
    pub uid: Option<u64>,
    #[serde(default)]
    pub gid: Option<u64>,
    #[serde(default)]
    pub is_executable_by: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileContentTest {
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub expected_contents: Vec<String>,
    #[serde(default)]
    pub excluded_contents: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
/// Every field may be left out (container-structure-test reads absent keys as empty).
#[serde(rename_all = "camelCase", default)]
pub struct MetadataTest {
    pub env_vars: Vec<EnvVar>,
    pub labels: Vec<EnvVar>,
    pub exposed_ports: Vec<String>,
    pub unexposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
}

/// Reads and checks a test file: the schema version, and every regex compiles.
pub fn load(path: &Path) -> Result<Suite> {
    let data = crate::limits::read_capped(path, crate::limits::MAX_YAML_BYTES, "the structure-test file")?;
    let text = String::from_utf8(data).with_context(|| format!("{} is not UTF-8", path.display()))?;
    parse(&text, path)
}

/// Parses and checks test-file text; `path` names it in errors. Split from [`load`] so the fuzzer
/// (and tests) can feed text without a file.
pub fn parse(text: &str, path: &Path) -> Result<Suite> {
    let mut suite: Suite = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if suite.schema_version != "2.0.0" {
        bail!("{}: schemaVersion {:?} is not supported (use 2.0.0)", path.display(), suite.schema_version);
    }
    let mut patterns: Vec<&String> = Vec::new();
    for t in &suite.command_tests {
        patterns.extend(
            t.expected_output.iter().chain(&t.excluded_output).chain(&t.expected_error).chain(&t.excluded_error),
        );
    }
    for t in &suite.file_content_tests {
        patterns.extend(t.expected_contents.iter().chain(&t.excluded_contents));
    }
    for p in patterns {
        Regex::new(p).with_context(|| format!("{}: bad regular expression {p:?}", path.display()))?;
    }
    suite.path = path.to_path_buf();
    Ok(suite)
}

impl Suite {
    /// The files whose content the file content tests read (canonical keys).
    pub fn content_paths(&self) -> Vec<String> {
        self.file_content_tests.iter().map(|t| t.path.trim_start_matches('/').to_string()).collect()
    }
}

fn re(p: &str) -> Regex {
    // Checked in `load`.
    Regex::new(p).unwrap_or_else(|_| Regex::new("$^").expect("static regex"))
}

/// Problems with `text` against expected and excluded patterns. The trailing newline every
/// command prints is dropped first, so `^65532$` means what it says.
fn match_all(what: &str, text: &str, expected: &[String], excluded: &[String]) -> Vec<String> {
    let text = text.trim_end_matches(['\n', '\r']);
    let mut out = Vec::new();
    for p in expected {
        if !re(p).is_match(text) {
            let shown: String = text.chars().take(200).collect();
            out.push(format!("{what} does not match {p:?} (got {shown:?})"));
        }
    }
    for p in excluded {
        if re(p).is_match(text) {
            out.push(format!("{what} matches excluded {p:?}"));
        }
    }
    out
}

/// `-rwxr-xr-x` for an entry, as container-structure-test compares permissions.
fn ls_mode(kind: EntryKind, mode: u32) -> String {
    let t = match kind {
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'L',
        _ => '-',
    };
    let mut s = String::from(t);
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    s
}

/// Runs every test of `suite` on `s`; one finding per test.
pub fn run(suite: &Suite, s: &Subject, session: &mut Session) -> Vec<Finding> {
    let file = suite.path.display().to_string();
    let mut out = Vec::new();
    let push = |out: &mut Vec<Finding>, id: &str, name: &str, problems: Vec<String>, ok: String| {
        let (status, msg) = if problems.is_empty() { (Status::Pass, ok) } else { (Status::Fail, problems.join("; ")) };
        let mut f = finding(id, &s.name, status, format!("{name}: {msg}"));
        f.title = format!("{}: {name}", f.title);
        f.locations.push(Location { path: file.clone(), ..Default::default() });
        out.push(f);
    };
    for t in &suite.command_tests {
        let id = "LUCID-CST-001";
        if let Some(why) = session.unavailable() {
            let mut f = finding(
                id,
                &s.name,
                if session.required() { Status::Fail } else { Status::Skip },
                format!("{}: not run: {why}", t.name),
            );
            f.title = format!("{}: {}", f.title, t.name);
            out.push(f);
            continue;
        }
        let env: Vec<String> = t.env_vars.iter().map(|e| format!("{}={}", e.key, e.value)).collect();
        let args: Vec<&str> = t.args.iter().map(String::as_str).collect();
        let problems = match session.run(&[&t.command], &args, &env) {
            Err(e) => vec![format!("could not run: {e}")],
            Ok(r) => {
                let mut p = Vec::new();
                if !r.started {
                    p.push(format!("did not start: {}", r.error.clone().unwrap_or_default()));
                } else if r.exit_code != t.exit_code {
                    p.push(format!("exit code {}, expected {}", r.exit_code, t.exit_code));
                }
                p.extend(match_all("stdout", &r.stdout, &t.expected_output, &t.excluded_output));
                p.extend(match_all("stderr", &r.stderr, &t.expected_error, &t.excluded_error));
                p
            }
        };
        push(&mut out, id, &t.name, problems, format!("{} {} as expected", t.command, t.args.join(" ")));
    }
    for t in &suite.file_existence_tests {
        let found = s.fs.lookup(&t.path).or_else(|| {
            // A dangling or looping link still exists as a link.
            let key = t.path.trim_start_matches('/');
            s.fs.entries.get(key).map(|e| (key.to_string(), e))
        });
        let mut p = Vec::new();
        match (found, t.should_exist) {
            (None, true) => p.push(format!("{} does not exist", t.path)),
            (Some(_), false) => p.push(format!("{} exists", t.path)),
            (None, false) => {}
            (Some((_, e)), true) => {
                if let Some(want) = &t.permissions {
                    let got = ls_mode(e.kind, e.mode);
                    if &got != want {
                        p.push(format!("permissions {got}, expected {want}"));
                    }
                }
                if t.uid.is_some_and(|u| u != u64::from(e.uid)) {
                    p.push(format!("uid {}, expected {}", e.uid, t.uid.unwrap_or_default()));
                }
                if t.gid.is_some_and(|g| g != u64::from(e.gid)) {
                    p.push(format!("gid {}, expected {}", e.gid, t.gid.unwrap_or_default()));
                }
                if let Some(by) = &t.is_executable_by {
                    let bits = match by.as_str() {
                        "owner" => 0o100,
                        "group" => 0o010,
                        "other" => 0o001,
                        _ => 0o111,
                    };
                    if e.mode & bits == 0 {
                        p.push(format!("not executable by {by}"));
                    }
                }
            }
        }
        let ok = if t.should_exist { format!("{} exists", t.path) } else { format!("{} is absent", t.path) };
        push(&mut out, "LUCID-CST-002", &t.name, p, ok);
    }
    for t in &suite.file_content_tests {
        let key = t.path.trim_start_matches('/');
        let key = s.fs.resolve(key).unwrap_or_else(|| key.to_string());
        let p = match s.fs.captured.get(&key).or_else(|| s.fs.captured.get(t.path.trim_start_matches('/'))) {
            None => vec![format!("{} is not a file in the image", t.path)],
            Some(data) => {
                match_all(&t.path, &String::from_utf8_lossy(data), &t.expected_contents, &t.excluded_contents)
            }
        };
        push(&mut out, "LUCID-CST-003", &t.name, p, format!("{} content as expected", t.path));
    }
    if let Some(m) = &suite.metadata_test {
        push(&mut out, "LUCID-CST-004", "metadataTest", metadata(m, s), "config as expected".into());
    }
    out
}

fn metadata(m: &MetadataTest, s: &Subject) -> Vec<String> {
    let c = &s.image.config.config;
    let mut p = Vec::new();
    let check_kv = |p: &mut Vec<String>, what: &str, want: &EnvVar, got: Option<&str>| match got {
        None => p.push(format!("{what} {} is not set", want.key)),
        Some(v) => {
            let ok = if want.is_regex { re(&want.value).is_match(v) } else { v == want.value };
            if !ok {
                p.push(format!("{what} {}={v:?}, expected {:?}", want.key, want.value));
            }
        }
    };
    for e in &m.env_vars {
        let got = c.env.iter().find_map(|x| x.strip_prefix(&format!("{}=", e.key)));
        check_kv(&mut p, "env", e, got);
    }
    for l in &m.labels {
        check_kv(&mut p, "label", l, c.labels.get(&l.key).map(String::as_str));
    }
    let ports: Vec<String> = s
        .raw_config
        .pointer("/config/ExposedPorts")
        .and_then(|v| v.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let has_port = |port: &str| ports.iter().any(|x| x == port || x.split('/').next() == Some(port));
    p.extend(m.exposed_ports.iter().filter(|x| !has_port(x)).map(|x| format!("port {x} is not exposed")));
    p.extend(m.unexposed_ports.iter().filter(|x| has_port(x)).map(|x| format!("port {x} is exposed")));
    let volumes = s.raw_config.pointer("/config/Volumes").and_then(|v| v.as_object());
    p.extend(
        m.volumes.iter().filter(|v| !volumes.is_some_and(|o| o.contains_key(*v))).map(|v| format!("no volume {v}")),
    );
    if let Some(e) = &m.entrypoint
        && *e != c.entrypoint
    {
        p.push(format!("entrypoint {:?}, expected {e:?}", c.entrypoint));
    }
    if let Some(cmd) = &m.cmd
        && *cmd != c.cmd
    {
        p.push(format!("cmd {:?}, expected {cmd:?}", c.cmd));
    }
    if let Some(w) = &m.workdir
        && *w != c.working_dir
    {
        p.push(format!("workdir {:?}, expected {w:?}", c.working_dir));
    }
    if let Some(u) = &m.user
        && *u != c.user
    {
        p.push(format!("user {:?}, expected {u:?}", c.user));
    }
    p
}
