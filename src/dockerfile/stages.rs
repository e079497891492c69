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
    /// The first stage of its chain (itself when it has no parent): whose base image it runs on.
    pub root: usize,
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
                let root = parent.map(|p| stages[p].root).unwrap_or(stages.len());
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    name_pos,
                    from: ins,
                    base_raw,
                    base,
                    parent,
                    root,
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
    /// ENVs of the stages it is built on, then its own ARGs and ENVs in order (see [`Scope`]).
    /// Walks the whole chain: the rules carry a [`Scope`] along instead, so lint stays linear.
    pub fn vars_before(&self, index: usize, upto: usize) -> BTreeMap<String, String> {
        let mut scope = Scope::default();
        for i in self.chain(index) {
            scope = scope.inherited();
            let s = &self.stages[i];
            let take = if i == index { upto } else { s.instructions.len() };
            for ins in s.instructions.iter().take(take) {
                scope.apply(ins, self);
            }
        }
        scope.vars
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

/// What the instructions of a stage so far have set, carried from one instruction to the next
/// (and from a stage to those built `FROM` it) so each instruction is expanded once.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The variables the next instruction sees. An ARG takes its `--build-arg` or automatic
    /// value, else its default, else the global ARG of that name, as BuildKit does; one with no
    /// value is absent.
    pub vars: BTreeMap<String, String>,
    /// The names set by ENV: only they reach a child stage (they are in the image config).
    env_names: BTreeSet<String>,
    /// Whether an absolute `WORKDIR` (after expansion) was set here or in a stage this one is
    /// built on: a relative WORKDIR after one is relative to a known place.
    pub absolute_workdir: bool,
}

impl Scope {
    /// The scope a stage built `FROM` this one starts with: the ENVs and the working directory;
    /// ARGs do not cross a `FROM`.
    pub fn inherited(mut self) -> Scope {
        let names = &self.env_names;
        self.vars.retain(|k, _| names.contains(k));
        self
    }

    /// Takes in instruction `ins` of a stage of `st` (ARG, ENV, WORKDIR; others change nothing).
    pub fn apply(&mut self, ins: &Instruction, st: &Stages) {
        match ins.keyword.as_str() {
            "ARG" => {
                for (k, v, _) in key_values(ins) {
                    let value = st
                        .given
                        .get(&k)
                        .cloned()
                        .or_else(|| v.and_then(|v| expand(&v, &self.vars)))
                        .or_else(|| st.global_args.get(&k).cloned().flatten());
                    match value {
                        Some(v) => self.vars.insert(k, v),
                        None => self.vars.remove(&k),
                    };
                }
            }
            "ENV" => {
                for (k, v, _) in key_values(ins) {
                    if let Some(v) = v.and_then(|v| expand(&v, &self.vars)) {
                        self.env_names.insert(k.clone());
                        self.vars.insert(k, v);
                    }
                }
            }
            "WORKDIR" => {
                self.absolute_workdir |=
                    expand(&unquote(ins.args.text().trim()), &self.vars).is_some_and(|p| is_absolute(&p));
            }
            _ => {}
        }
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

/// Levels of `${A:-${B:-...}}` nesting [`expand`] follows; past it the value is unknown. Real files
/// nest two or three deep; a hostile one nests thousands deep to exhaust the stack.
pub const MAX_EXPAND_DEPTH: usize = 32;

/// Bytes one expansion may produce; a longer result is unknown (`ENV A=$A$A` repeated doubles a
/// value per line). Real references, paths and users are far shorter.
pub const MAX_EXPANDED_BYTES: usize = 64 << 10;

/// Characters of a value (and of a pattern) that `${v#p}`, `${v%%p}` trim; longer ones are
/// unknown, so matching stays within a few million steps per expansion.
pub const MAX_TRIM_CHARS: usize = 4096;

/// Expand `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
/// `${VAR#p}`, `${VAR##p}`, `${VAR%p}`, `${VAR%%p}`. Returns `None` when a referenced variable has
/// no value and no default (Docker would then produce an empty or invalid reference), and when
/// the text is beyond what lint follows: nesting deeper than [`MAX_EXPAND_DEPTH`], a result longer
/// than [`MAX_EXPANDED_BYTES`], a trimmed value longer than [`MAX_TRIM_CHARS`].
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    // One pass decides what the recursion would find only after re-reading the text per level.
    if brace_depth(s) > MAX_EXPAND_DEPTH {
        return None;
    }
    expand_at(s, vars, 0)
}

/// The deepest nesting of `{` in `s` (over-counting literal braces errs towards "unknown").
fn brace_depth(s: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                max = max.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn expand_at(s: &str, vars: &BTreeMap<String, String>, depth: usize) -> Option<String> {
    if depth > MAX_EXPAND_DEPTH {
        return None;
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if out.len() > MAX_EXPANDED_BYTES {
            return None;
        }
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
            let mut level = 0usize;
            let close = chars[i + 2..].iter().position(|&c| {
                match c {
                    '{' => level += 1,
                    '}' if level == 0 => return true,
                    '}' => level -= 1,
                    _ => {}
                }
                false
            })? + i
                + 2;
            let inner: String = chars[i + 2..close].iter().collect();
            out.push_str(&braced(&inner, vars, depth)?);
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
    (out.len() <= MAX_EXPANDED_BYTES).then_some(out)
}

/// The value of one `${...}` whose text between the braces is `inner`, at nesting `depth`.
fn braced(inner: &str, vars: &BTreeMap<String, String>, depth: usize) -> Option<String> {
    let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_end);
    let val = vars.get(name).cloned();
    // An operand is a word: expanded, its quotes removed (`${A:-"x"}` is `x`).
    let word = |w: &str| expand_at(&unquote(w), vars, depth + 1);
    let trim = |p: &str, prefix: bool, longest: bool| match val.as_deref() {
        Some(v) => trim_match(v, &word(p).unwrap_or_default(), prefix, longest),
        None => None,
    };
    if let Some(d) = op.strip_prefix(":-") {
        val.filter(|v| !v.is_empty()).or_else(|| word(d))
    } else if let Some(d) = op.strip_prefix('-') {
        val.or_else(|| word(d))
    } else if let Some(a) = op.strip_prefix(":+") {
        Some(if val.is_some_and(|v| !v.is_empty()) { word(a)? } else { String::new() })
    } else if let Some(a) = op.strip_prefix('+') {
        Some(if val.is_some() { word(a)? } else { String::new() })
    } else if let Some(p) = op.strip_prefix("##") {
        trim(p, true, true)
    } else if let Some(p) = op.strip_prefix('#') {
        trim(p, true, false)
    } else if let Some(p) = op.strip_prefix("%%") {
        trim(p, false, true)
    } else if let Some(p) = op.strip_prefix('%') {
        trim(p, false, false)
    } else {
        val
    }
}

/// `${v#p}` (prefix, shortest), `${v##p}` (longest), `${v%p}`, `${v%%p}` (suffix): removes the
/// part of `v` that the glob `p` (`*`, `?`) matches, as BuildKit's shell lexer does. `None` (not
/// known) when `v` or `p` is longer than [`MAX_TRIM_CHARS`].
fn trim_match(v: &str, pattern: &str, prefix: bool, longest: bool) -> Option<String> {
    let mut chars: Vec<char> = v.chars().collect();
    let mut pat: Vec<char> = pattern.chars().collect();
    if chars.len() > MAX_TRIM_CHARS || pat.len() > MAX_TRIM_CHARS {
        return None;
    }
    // A suffix of `v` matches `p` exactly when the reversed suffix matches the reversed pattern.
    if !prefix {
        chars.reverse();
        pat.reverse();
    }
    let ends = glob_prefixes(&pat, &chars);
    let cut = if longest { ends.iter().rposition(|&m| m) } else { ends.iter().position(|&m| m) };
    let Some(k) = cut else { return Some(v.to_string()) };
    let mut rest: Vec<char> = chars[k..].to_vec();
    if !prefix {
        rest.reverse();
    }
    Some(rest.into_iter().collect())
}

/// For every `k` in `0..=text.len()`, whether the `*`/`?` glob `pat` matches `text[..k]`: one pass
/// over `text` carrying the set of pattern positions reached, so O(pattern x text) for all
/// prefixes together.
fn glob_prefixes(pat: &[char], text: &[char]) -> Vec<bool> {
    let close = |states: &mut Vec<bool>| {
        for i in 0..pat.len() {
            if states[i] && pat[i] == '*' {
                states[i + 1] = true;
            }
        }
    };
    let mut states = vec![false; pat.len() + 1];
    states[0] = true;
    close(&mut states);
    let mut ends = Vec::with_capacity(text.len() + 1);
    ends.push(states[pat.len()]);
    for &c in text {
        let mut next = vec![false; pat.len() + 1];
        for i in 0..pat.len() {
            if !states[i] {
                continue;
            }
            match pat[i] {
                '*' => next[i] = true,
                '?' => next[i + 1] = true,
                p if p == c => next[i + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        if !next.iter().any(|&s| s) {
            ends.resize(text.len() + 1, false);
            return ends;
        }
        states = next;
        ends.push(states[pat.len()]);
    }
    ends
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
