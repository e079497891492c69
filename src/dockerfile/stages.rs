//! Build stages: which instructions belong to which `FROM`, with the base image reference
//! expanded from the global `ARG`s the way Docker does it (defaults, then `--build-arg`s, and
//! BuildKit's automatic platform ARGs), which stages a `--target` ships, and the variables an
//! instruction inside a stage sees.

use std::collections::{BTreeMap, BTreeSet};

use super::parse::{Dockerfile, Instruction, Pos, key_values, unquote};

/// What the build is asked for besides the Dockerfile: `--build-arg`s, the target platform (the
/// automatic ARGs' values) and `--target`.
#[derive(Debug, Clone)]
pub struct Build<'o> {
    pub build_args: &'o BTreeMap<String, String>,
    /// `os/arch[/variant]`, as `docker build --platform`; also taken as the build platform.
    pub platform: &'o str,
    pub target: Option<&'o str>,
}

/// ARGs BuildKit defines without a declaration, with no value unless passed as `--build-arg`:
/// the proxy variables and the frontend's own switches. Declaring one (`ARG HTTP_PROXY`) without
/// a default is normal, and using one is never "undefined".
const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "SOURCE_DATE_EPOCH",
];

/// Whether `name` is one of BuildKit's predefined ARGs (automatic platform ARGs, proxies,
/// `BUILDKIT_*` switches).
pub fn is_predefined(name: &str) -> bool {
    PREDEFINED_ARGS.contains(&name)
        || name.starts_with("BUILDKIT_")
        || automatic_args("linux/amd64", None).contains_key(name)
}

/// BuildKit's automatic ARGs for a build of `platform` (`linux/arm64/v8`) and `target`: defined in
/// the global scope, so `FROM stage-${TARGETARCH}` works without any ARG line, and inside a stage
/// once it says `ARG TARGETARCH`. The build platform is taken to be the target platform (lint
/// cannot know the builder's).
pub fn automatic_args(platform: &str, target: Option<&str>) -> BTreeMap<String, String> {
    let mut parts = platform.split('/');
    let os = parts.next().unwrap_or("linux").to_string();
    let arch = parts.next().unwrap_or("amd64").to_string();
    let variant = parts.next().unwrap_or("").to_string();
    let mut m = BTreeMap::new();
    for side in ["TARGET", "BUILD"] {
        m.insert(format!("{side}PLATFORM"), platform.to_string());
        m.insert(format!("{side}OS"), os.clone());
        m.insert(format!("{side}OSVERSION"), String::new());
        m.insert(format!("{side}ARCH"), arch.clone());
        m.insert(format!("{side}VARIANT"), variant.clone());
    }
    m.insert("TARGETSTAGE".into(), target.unwrap_or("default").to_string());
    m
}

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
    /// `--build-arg`s over BuildKit's automatic ARGs: the values an ARG without default takes.
    pub given: BTreeMap<String, String>,
}

impl<'a> Stages<'a> {
    /// Stages of a build for linux/amd64 with no `--target`.
    pub fn new(df: &'a Dockerfile, build_args: &BTreeMap<String, String>) -> Self {
        Self::for_build(df, &Build { build_args, platform: "linux/amd64", target: None })
    }

    pub fn for_build(df: &'a Dockerfile, build: &Build) -> Self {
        let mut given = automatic_args(build.platform, build.target);
        given.extend(build.build_args.iter().map(|(k, v)| (k.clone(), v.clone())));
        let build_args = &given;
        // The automatic ARGs are global without a declaration; the predefined ones are empty.
        let mut global_args: BTreeMap<String, Option<String>> =
            automatic_args(build.platform, build.target).into_iter().map(|(k, v)| (k, Some(v))).collect();
        global_args.extend(PREDEFINED_ARGS.iter().map(|k| (k.to_string(), Some(String::new()))));
        let mut stages: Vec<Stage<'a>> = Vec::new();
        for ins in &df.instructions {
            if ins.keyword == "FROM" {
                let vars = effective(&global_args, build_args);
                let words: Vec<&(String, Pos)> = ins.words.iter().collect();
                let base_raw = words.first().map(|w| w.0.clone()).unwrap_or_default();
                let (name, name_pos) = stage_name(ins).unzip();
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
                    // `ARG TARGETARCH` (no default) keeps the automatic value.
                    let value = match v {
                        Some(v) => expand(&v, &vars),
                        None => global_args.get(&k).cloned().flatten(),
                    };
                    global_args.insert(k, value);
                }
            }
        }
        Stages { global_args, stages, given }
    }

    /// The stage that ships: `target` (as `docker build --target`), else the last one.
    pub fn runtime_for(&self, target: Option<&str>) -> Option<&Stage<'a>> {
        match target {
            Some(t) => self.lookup(t).and_then(|i| self.stages.get(i)),
            None => self.stages.last(),
        }
    }

    /// The stages whose layers end up in the image of stage `index`: it and the stages it is built
    /// `FROM`, transitively. Stages it only copies from are not among them (their layers stay
    /// behind).
    pub fn shipped(&self, index: usize) -> BTreeSet<usize> {
        self.chain(index).into_iter().collect()
    }

    /// Stage `index` and the stages it is built on, the first base first. Iterative, as every
    /// walk here: a hostile file may chain thousands of stages.
    pub fn chain(&self, index: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = (index < self.stages.len()).then_some(index);
        while let Some(i) = cur {
            out.push(i);
            // A parent is always an earlier stage, so this ends.
            cur = self.stages[i].parent.filter(|p| *p < i);
        }
        out.reverse();
        out
    }

    /// The variables instruction `upto` of stage `index` sees (the instructions before it): the
    /// ENVs of the stages it is built on, then its own ARGs and ENVs in order. An ARG takes its
    /// `--build-arg` or automatic value, else its default, else the global ARG of that name, as
    /// BuildKit does; one with no value is absent.
    pub fn vars_before(&self, index: usize, upto: usize) -> BTreeMap<String, String> {
        self.scan(index, upto).0
    }

    /// Whether stage `index` has an absolute working directory before instruction `upto`: an
    /// absolute `WORKDIR` (after expansion) in it, or in a stage it is built `FROM`. A relative
    /// WORKDIR after one is relative to a known place.
    pub fn has_absolute_workdir(&self, index: usize, upto: usize) -> bool {
        self.scan(index, upto).1
    }

    /// One pass down the chain of stage `index` to its instruction `upto`: the variables, and
    /// whether an absolute WORKDIR was set.
    fn scan(&self, index: usize, upto: usize) -> (BTreeMap<String, String>, bool) {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        let mut env_names: BTreeSet<String> = BTreeSet::new();
        let mut absolute = false;
        for i in self.chain(index) {
            // Only ENV reaches a child stage (it is in the image config); ARGs do not.
            vars.retain(|k, _| env_names.contains(k));
            let s = &self.stages[i];
            let take = if i == index { upto } else { s.instructions.len() };
            for ins in s.instructions.iter().take(take) {
                match ins.keyword.as_str() {
                    "ARG" => {
                        for (k, v, _) in key_values(ins) {
                            let value = self
                                .given
                                .get(&k)
                                .cloned()
                                .or_else(|| v.and_then(|v| expand(&v, &vars)))
                                .or_else(|| self.global_args.get(&k).cloned().flatten());
                            match value {
                                Some(v) => vars.insert(k, v),
                                None => vars.remove(&k),
                            };
                        }
                    }
                    "ENV" => {
                        for (k, v, _) in key_values(ins) {
                            if let Some(v) = v.and_then(|v| expand(&v, &vars)) {
                                env_names.insert(k.clone());
                                vars.insert(k, v);
                            }
                        }
                    }
                    "WORKDIR" => {
                        absolute |= expand(&unquote(ins.args.text().trim()), &vars).is_some_and(|p| is_absolute(&p));
                    }
                    _ => {}
                }
            }
        }
        (vars, absolute)
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

/// The names of a Dockerfile's stages (`FROM ... AS name`), in order, lower-cased.
pub fn stage_names(df: &Dockerfile) -> Vec<String> {
    df.instructions.iter().filter(|i| i.keyword == "FROM").filter_map(|i| stage_name(i).map(|n| n.0)).collect()
}

/// `FROM image AS name`: the name, lower-cased (Docker's stage names are case-insensitive).
fn stage_name(from: &Instruction) -> Option<(String, Pos)> {
    match (from.words.get(1), from.words.get(2)) {
        (Some(a), Some(n)) if a.0.eq_ignore_ascii_case("as") => Some((n.0.to_ascii_lowercase(), n.1)),
        _ => None,
    }
}

/// An absolute path on Linux (`/src`) or Windows (`C:\src`, `c:/src`, `\src`).
pub fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/') || path.starts_with('\\') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
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
            // The matching `}` (operands may nest: `${A:-${B}}`).
            let mut depth = 0usize;
            let close = chars[i + 2..].iter().position(|&c| {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => return true,
                    '}' => depth -= 1,
                    _ => {}
                }
                false
            })? + i
                + 2;
            let inner: String = chars[i + 2..close].iter().collect();
            let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_end);
            let val = vars.get(name).cloned();
            // An operand is a word: expanded, its quotes removed (`${A:-"x"}` is `x`).
            let word = |w: &str| expand(&unquote(w), vars);
            let v = if let Some(d) = op.strip_prefix(":-") {
                val.filter(|v| !v.is_empty()).or_else(|| word(d))
            } else if let Some(d) = op.strip_prefix('-') {
                val.or_else(|| word(d))
            } else if let Some(a) = op.strip_prefix(":+") {
                Some(if val.is_some_and(|v| !v.is_empty()) { word(a)? } else { String::new() })
            } else if let Some(a) = op.strip_prefix('+') {
                Some(if val.is_some() { word(a)? } else { String::new() })
            } else if let Some(p) = op.strip_prefix("##") {
                val.map(|v| trim_match(&v, &word(p).unwrap_or_default(), true, true))
            } else if let Some(p) = op.strip_prefix('#') {
                val.map(|v| trim_match(&v, &word(p).unwrap_or_default(), true, false))
            } else if let Some(p) = op.strip_prefix("%%") {
                val.map(|v| trim_match(&v, &word(p).unwrap_or_default(), false, true))
            } else if let Some(p) = op.strip_prefix('%') {
                val.map(|v| trim_match(&v, &word(p).unwrap_or_default(), false, false))
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

/// `${v#p}` (prefix, shortest), `${v##p}` (longest), `${v%p}`, `${v%%p}` (suffix): removes the
/// part of `v` that the glob `p` (`*`, `?`) matches, as BuildKit's shell lexer does.
fn trim_match(v: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let chars: Vec<char> = v.chars().collect();
    let pat: Vec<char> = pattern.chars().collect();
    let n = chars.len();
    let mut cuts: Vec<usize> = (0..=n).collect();
    if longest == prefix {
        cuts.reverse();
    }
    for k in cuts {
        let (part, rest) = if prefix { (&chars[..k], &chars[k..]) } else { (&chars[k..], &chars[..k]) };
        if glob(&pat, part) {
            return rest.iter().collect();
        }
    }
    v.to_string()
}

/// `*` and `?` glob over characters (iterative, with one backtracking point: linear-ish, never
/// exponential on hostile patterns).
fn glob(pat: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == '?' || pat[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|c| *c == '*')
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
