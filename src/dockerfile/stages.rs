//! Build stages: which instructions belong to which `FROM`, with the base image reference
//! expanded from the global `ARG`s the way Docker does it (defaults, then `--build-arg`s).

use std::collections::BTreeMap;

use super::parse::{Dockerfile, Instruction, Pos, key_values};

/// One `FROM ... [AS name]` and the instructions up to the next `FROM`.
#[derive(Debug, Clone)]
pub struct Stage<'a> {
    pub index: usize,
    pub name: Option<String>,
    pub name_pos: Option<Pos>,
    pub from: &'a Instruction,
    /// The image reference as written (`${PYTHON_BASE_IMAGE}`).
    pub base_raw: String,
    /// The reference with global ARGs expanded; `None` when a variable has no value.
    pub base: Option<String>,
    /// The earlier stage this one builds on (`FROM build-stage AS test`), if any.
    pub parent: Option<usize>,
    pub platform: Option<String>,
    pub instructions: Vec<&'a Instruction>,
}

/// Global ARGs (before the first FROM), stages, and the overrides used to expand them.
#[derive(Debug, Clone)]
pub struct Stages<'a> {
    pub global_args: BTreeMap<String, Option<String>>,
    pub stages: Vec<Stage<'a>>,
}

impl<'a> Stages<'a> {
    pub fn new(df: &'a Dockerfile, build_args: &BTreeMap<String, String>) -> Self {
        let mut global_args: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut stages: Vec<Stage<'a>> = Vec::new();
        for ins in &df.instructions {
            if ins.keyword == "FROM" {
                let vars = effective(&global_args, build_args);
                let words: Vec<&(String, Pos)> = ins.words.iter().collect();
                let base_raw = words.first().map(|w| w.0.clone()).unwrap_or_default();
                let (name, name_pos) = match (words.get(1), words.get(2)) {
                    (Some(a), Some(n)) if a.0.eq_ignore_ascii_case("as") => (Some(n.0.to_ascii_lowercase()), Some(n.1)),
                    _ => (None, None),
                };
                let base = expand(&base_raw, &vars);
                let parent = base.as_deref().and_then(|b| {
                    let b = b.to_ascii_lowercase();
                    stages.iter().rposition(|s| s.name.as_deref() == Some(b.as_str()))
                });
                let platform = ins.flag("platform").and_then(|f| f.value.clone());
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    name_pos,
                    from: ins,
                    base_raw,
                    base,
                    parent,
                    platform,
                    instructions: Vec::new(),
                });
            } else if let Some(s) = stages.last_mut() {
                s.instructions.push(ins);
            } else if ins.keyword == "ARG" {
                // A default may use earlier ARGs (`ARG BASE=${REG}/img:${TAG}`); Docker expands it here.
                for (k, v, _) in key_values(ins) {
                    let vars = effective(&global_args, build_args);
                    global_args.insert(k, v.and_then(|v| expand(&v, &vars)));
                }
            }
        }
        Stages { global_args, stages }
    }

    /// The stage a `--target` would pick by default for the runtime image: the one named
    /// `runtime-stage`, else the last.
    pub fn runtime(&self) -> Option<&Stage<'a>> {
        self.stages.iter().find(|s| s.name.as_deref() == Some("runtime-stage")).or(self.stages.last())
    }

    /// Index of the stage called `name` (or numbered `name`) if it comes before `before`.
    pub fn lookup(&self, name: &str) -> Option<usize> {
        if let Ok(n) = name.parse::<usize>() {
            return (n < self.stages.len()).then_some(n);
        }
        let lower = name.to_ascii_lowercase();
        self.stages.iter().position(|s| s.name.as_deref() == Some(lower.as_str()))
    }
}

/// Declared global ARGs with their values: a `--build-arg` wins over the default.
fn effective(
    args: &BTreeMap<String, Option<String>>,
    build_args: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    args.iter().filter_map(|(k, v)| build_args.get(k).cloned().or_else(|| v.clone()).map(|v| (k.clone(), v))).collect()
}

/// Expand `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`.
/// Returns `None` when a referenced variable has no value and no default (Docker would then
/// produce an empty or invalid reference).
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && chars[i + 1] == '$' {
            out.push('$');
            i += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        if i + 1 < chars.len() && chars[i + 1] == '{' {
            let close = chars[i + 2..].iter().position(|&c| c == '}')? + i + 2;
            let inner: String = chars[i + 2..close].iter().collect();
            let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_end);
            let val = vars.get(name).cloned();
            let v = if let Some(d) = op.strip_prefix(":-") {
                val.filter(|v| !v.is_empty()).or_else(|| expand(d, vars))
            } else if let Some(d) = op.strip_prefix('-') {
                val.or_else(|| expand(d, vars))
            } else if let Some(a) = op.strip_prefix(":+") {
                Some(if val.is_some_and(|v| !v.is_empty()) { expand(a, vars)? } else { String::new() })
            } else if let Some(a) = op.strip_prefix('+') {
                Some(if val.is_some() { expand(a, vars)? } else { String::new() })
            } else {
                val
            };
            out.push_str(&v?);
            i = close + 1;
        } else {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j == i + 1 {
                out.push('$');
                i += 1;
                continue;
            }
            let name: String = chars[i + 1..j].iter().collect();
            out.push_str(vars.get(&name)?);
            i = j;
        }
    }
    Some(out)
}

/// An image reference split into repository, tag and digest (`name[:tag][@digest]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> ImageRef {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (s, None),
        };
        // A colon after the last slash is a tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(c) => (rest[..last_slash + c].to_string(), Some(rest[last_slash + c + 1..].to_string())),
            None => (rest.to_string(), None),
        };
        ImageRef { repository, tag, digest }
    }

    /// Last path component of the repository (`lucid-python-base` of `org/lucid-python-base`).
    pub fn short_name(&self) -> &str {
        self.repository.rsplit('/').next().unwrap_or(&self.repository)
    }
}
