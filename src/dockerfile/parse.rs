//! A Dockerfile parser that keeps positions and never fails.
//!
//! Why our own and not a crate: the linter needs the exact `line:column` of every flag and argument
//! (through line continuations and heredocs), must keep going after a malformed line so one typo
//! does not hide every other finding, and must never panic on hostile input. The grammar is small
//! (BuildKit's `parser` package): parser directives at the top, `#` comments, an escape character
//! (`\` or `` ` ``) that continues lines, heredocs (`<<EOF`, `<<-EOF`, quoted), leading `--flags`,
//! and JSON (exec) form. Everything is done on `char`s, so no slicing can split a UTF-8 sequence.

use std::fmt;

/// A 1-based line and column (in characters) in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A parser directive (`# syntax=...`, `# escape=...`, `# check=...`) from the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: String,
    pub pos: Pos,
}

/// A `#` comment line, kept so that inline `# lucid ignore=ID` can be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    pub pos: Pos,
}

/// A leading `--name[=value]` option of an instruction (`FROM --platform=`, `COPY --from= --chown=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
    pub pos: Pos,
}

/// One `RUN --mount=type=...,target=...` (BuildKit's syntax: comma-separated `key=value`, `type`
/// defaults to `bind`, `target` may be spelled `dst` or `destination`). Rules need it because what
/// a RUN writes below a cache, tmpfs, bind or secret mount's target is not part of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `bind`, `cache`, `tmpfs`, `secret` or `ssh`.
    pub kind: String,
    /// The mount point, without a trailing slash; `None` when the option names none (a secret or
    /// ssh mount then goes to /run/secrets or an agent socket, which are never layer content).
    pub target: Option<String>,
}

impl Mount {
    pub fn parse(value: &str) -> Mount {
        let mut kind = "bind".to_string();
        let mut target = None;
        for field in value.split(',') {
            let (k, v) = field.split_once('=').unwrap_or((field, ""));
            let v = unquote(v);
            match k.trim().to_ascii_lowercase().as_str() {
                "type" => kind = v.to_ascii_lowercase(),
                "target" | "dst" | "destination" => {
                    let t = v.trim_end_matches('/');
                    target = Some(if t.is_empty() { "/".to_string() } else { t.to_string() });
                }
                _ => {}
            }
        }
        Mount { kind, target }
    }

    /// Whether files the RUN writes at `path` (absolute) stay out of the layer: the path is at or
    /// below this mount's target. Every mount type qualifies: cache and tmpfs contents live
    /// outside the image, and BuildKit discards writes to bind mounts (even `rw`) and secrets.
    pub fn keeps_out(&self, path: &str) -> bool {
        let Some(t) = &self.target else { return false };
        let path = path.trim_end_matches('/');
        t == "/" || path == t || path.strip_prefix(t.as_str()).is_some_and(|rest| rest.starts_with('/'))
    }
}

/// A heredoc body attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub body: String,
    /// `<<-`: leading tabs are stripped from the body and the terminator.
    pub strip_tabs: bool,
    /// Unquoted delimiters expand variables in the body.
    pub expand: bool,
    pub pos: Pos,
}

/// The argument of an instruction after its flags: JSON (exec) form or the raw shell-form text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Exec(Vec<String>),
    Shell(String),
}

impl Args {
    pub fn is_exec(&self) -> bool {
        matches!(self, Args::Exec(_))
    }
    /// The text as a shell would see it (exec form joined with spaces), for rules that grep commands.
    pub fn text(&self) -> String {
        match self {
            Args::Exec(v) => v.join(" "),
            Args::Shell(s) => s.clone(),
        }
    }
}

/// One instruction (one logical line plus its heredocs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-cased keyword (`RUN`, `FROM`, ...), whatever case the file used.
    pub keyword: String,
    /// Position of the keyword.
    pub pos: Pos,
    /// Last physical line of the instruction, heredoc bodies included.
    pub end_line: u32,
    pub flags: Vec<Flag>,
    pub args: Args,
    /// Position of the first character of the arguments (after the flags).
    pub args_pos: Pos,
    pub heredocs: Vec<Heredoc>,
    /// Whitespace-separated words of the shell-form arguments with their positions (quotes kept).
    pub words: Vec<(String, Pos)>,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }
    /// The `--mount` options of a RUN, in order.
    pub fn mounts(&self) -> Vec<Mount> {
        self.flags
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case("mount"))
            .map(|f| Mount::parse(f.value.as_deref().unwrap_or("")))
            .collect()
    }
    /// The command text including heredoc bodies, for rules that look at what a RUN executes.
    pub fn script(&self) -> String {
        let mut s = self.args.text();
        for h in &self.heredocs {
            s.push('\n');
            s.push_str(&h.body);
        }
        s
    }
}

/// A recoverable syntax problem; parsing continues after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dockerfile {
    pub directives: Vec<Directive>,
    pub comments: Vec<Comment>,
    pub instructions: Vec<Instruction>,
    pub errors: Vec<ParseError>,
    pub escape: char,
}

/// Instructions Docker knows; anything else is a parse error (BuildKit refuses it too).
pub const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Instructions that take heredocs (BuildKit's list).
const HEREDOC_KEYWORDS: &[&str] = &["RUN", "COPY", "ADD"];
/// Instructions whose arguments may be a JSON array.
const JSON_KEYWORDS: &[&str] = &["RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "ADD", "COPY", "HEALTHCHECK"];

/// Characters of the logical line with the source position each came from.
type Located = Vec<(char, Pos)>;

/// Parse a Dockerfile. Never fails and never panics: problems are collected in `errors`.
pub fn parse(src: &str) -> Dockerfile {
    // BuildKit drops a UTF-8 byte-order mark before the first line (editors on Windows write one).
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines: Vec<Vec<char>> = src.split('\n').map(|l| l.trim_end_matches('\r').chars().collect()).collect();
    let mut df = Dockerfile { escape: '\\', ..Default::default() };
    let mut i = 0usize;

    // Parser directives: `# key=value` lines at the very top; anything else ends them.
    while i < lines.len() {
        let line: String = lines[i].iter().collect();
        match directive(&line) {
            Some((name, value)) if !df.directives.iter().any(|d| d.name == name) => {
                let pos = Pos { line: i as u32 + 1, col: 1 };
                if name == "escape" {
                    match value.as_str() {
                        "\\" => df.escape = '\\',
                        "`" => df.escape = '`',
                        _ => df.errors.push(ParseError {
                            pos,
                            message: format!("invalid escape directive {value:?}: must be ` or \\"),
                        }),
                    }
                }
                df.directives.push(Directive { name, value, pos });
                i += 1;
            }
            _ => break,
        }
    }

    while i < lines.len() {
        let lineno = i as u32 + 1;
        let line = &lines[i];
        let first = line.iter().position(|c| !c.is_whitespace());
        let Some(first) = first else {
            i += 1;
            continue;
        };
        if line[first] == '#' {
            df.comments.push(Comment {
                text: line[first..].iter().collect(),
                pos: Pos { line: lineno, col: first as u32 + 1 },
            });
            i += 1;
            continue;
        }
        // Assemble the logical line: continuation lines are joined, comment lines inside are dropped.
        let mut logical: Located = Vec::new();
        let mut j = i;
        loop {
            let l = &lines[j];
            let ln = j as u32 + 1;
            let start = if j == i { first } else { 0 };
            let (content_end, continues) = continuation(l, df.escape);
            for (k, &c) in l.iter().enumerate().take(content_end).skip(start) {
                logical.push((c, Pos { line: ln, col: k as u32 + 1 }));
            }
            j += 1;
            if !continues {
                break;
            }
            // Skip comment lines and empty lines inside a continuation (Docker does the same).
            while j < lines.len() {
                let t = lines[j].iter().position(|c| !c.is_whitespace());
                match t {
                    Some(t) if lines[j][t] == '#' => {
                        df.comments.push(Comment {
                            text: lines[j][t..].iter().collect(),
                            pos: Pos { line: j as u32 + 1, col: t as u32 + 1 },
                        });
                        j += 1;
                    }
                    None => j += 1,
                    _ => break,
                }
            }
            if j >= lines.len() {
                break;
            }
        }
        let mut end_line = j as u32;
        let ins = instruction(&logical, &lines, &mut j, &mut end_line, df.escape, &mut df.errors);
        if let Some(mut ins) = ins {
            ins.end_line = end_line.max(ins.pos.line);
            df.instructions.push(ins);
        }
        i = j;
    }
    if df.instructions.is_empty() {
        df.errors.push(ParseError { pos: Pos { line: 1, col: 1 }, message: "the file has no instructions".into() });
    }
    df
}

/// `# name=value` when `name` is a known directive (unknown ones are ordinary comments, as in BuildKit).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (k, v) = rest.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if !matches!(k.as_str(), "syntax" | "escape" | "check") {
        return None;
    }
    Some((k, v.trim().to_string()))
}

/// Where a physical line's content ends and whether it continues: an escape followed only by blanks.
fn continuation(line: &[char], escape: char) -> (usize, bool) {
    let mut end = line.len();
    while end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t') {
        end -= 1;
    }
    if end > 0 && line[end - 1] == escape {
        // An escaped escape (`\\` at the end) does not continue.
        let mut n = 0;
        while n < end && line[end - 1 - n] == escape {
            n += 1;
        }
        if n % 2 == 1 {
            return (end - 1, true);
        }
    }
    (line.len(), false)
}

fn instruction(
    logical: &Located,
    lines: &[Vec<char>],
    next: &mut usize,
    end_line: &mut u32,
    escape: char,
    errors: &mut Vec<ParseError>,
) -> Option<Instruction> {
    let pos = logical.first()?.1;
    let mut k = 0;
    while k < logical.len() && !logical[k].0.is_whitespace() {
        k += 1;
    }
    let keyword: String = logical[..k].iter().map(|c| c.0).collect::<String>().to_ascii_uppercase();
    if !KEYWORDS.contains(&keyword.as_str()) {
        errors.push(ParseError { pos, message: format!("unknown instruction {keyword:?}") });
    }
    let rest = skip_ws(logical, k);

    // Leading --flags (ONBUILD's inner instruction keeps its own; we only look at the outer ones).
    let mut flags = Vec::new();
    let mut p = rest;
    let takes_flags = matches!(keyword.as_str(), "FROM" | "COPY" | "ADD" | "RUN" | "HEALTHCHECK");
    while takes_flags && p + 1 < logical.len() && logical[p].0 == '-' && logical[p + 1].0 == '-' {
        let start = p;
        while p < logical.len() && !logical[p].0.is_whitespace() {
            p += 1;
        }
        let word: String = logical[start + 2..p].iter().map(|c| c.0).collect();
        p = skip_ws(logical, p);
        // A bare `--` ends the flags, as in BuildKit.
        if word.is_empty() {
            break;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(unquote(v))),
            None => (word, None),
        };
        flags.push(Flag { name, value, pos: logical[start].1 });
    }
    let args_pos = logical.get(p).map(|c| c.1).unwrap_or(Pos { line: pos.line, col: pos.col + k as u32 });
    let text: String = logical[p.min(logical.len())..].iter().map(|c| c.0).collect();
    let text_trim = text.trim_end();

    let mut args = Args::Shell(text_trim.to_string());
    if JSON_KEYWORDS.contains(&keyword.as_str()) {
        let json_part = if keyword == "HEALTHCHECK" {
            // HEALTHCHECK [flags] CMD <command> | NONE
            text_trim.trim_start().strip_prefix("CMD").or_else(|| text_trim.trim_start().strip_prefix("cmd"))
        } else {
            Some(text_trim)
        };
        if let Some(jp) = json_part {
            let jp = jp.trim();
            if jp.starts_with('[') {
                // Not an array of strings: Docker falls back to shell form, and so do we (the
                // shell-less rules then say why that fails on a distroless base).
                if let Ok(v) = serde_json::from_str::<Vec<String>>(jp) {
                    args = Args::Exec(v);
                }
            }
        }
    }

    // Words of the shell form with positions, respecting quotes and the escape character.
    let mut words = Vec::new();
    let mut q = p;
    while q < logical.len() {
        q = skip_ws(logical, q);
        if q >= logical.len() {
            break;
        }
        let start = q;
        let mut quote: Option<char> = None;
        let mut w = String::new();
        while q < logical.len() {
            let c = logical[q].0;
            match quote {
                Some(qc) if c == qc => quote = None,
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c.is_whitespace() => break,
                _ => {}
            }
            if c == escape && q + 1 < logical.len() && quote != Some('\'') {
                w.push(c);
                q += 1;
                w.push(logical[q].0);
                q += 1;
                continue;
            }
            w.push(c);
            q += 1;
        }
        words.push((w, logical[start].1));
    }

    // Heredocs: every `<<WORD` / `<<-WORD` / `<<"WORD"` in RUN/COPY/ADD consumes lines until WORD.
    let mut heredocs = Vec::new();
    if HEREDOC_KEYWORDS.contains(&keyword.as_str()) {
        for (w, wpos) in &words {
            let Some(spec) = heredoc_spec(w) else { continue };
            let (name, strip_tabs, expand) = spec;
            let mut body = String::new();
            let mut found = false;
            while *next < lines.len() {
                let raw: String = lines[*next].iter().collect();
                *next += 1;
                let cmp = if strip_tabs { raw.trim_start_matches('\t') } else { raw.as_str() };
                if cmp == name {
                    found = true;
                    break;
                }
                body.push_str(if strip_tabs { cmp } else { &raw });
                body.push('\n');
            }
            *end_line = *next as u32;
            if !found {
                errors.push(ParseError { pos: *wpos, message: format!("heredoc <<{name} is not terminated") });
            }
            heredocs.push(Heredoc { name, body, strip_tabs, expand, pos: *wpos });
        }
    }

    if keyword == "ENV" && words.len() == 1 && !words[0].0.contains('=') {
        errors.push(ParseError { pos: words[0].1, message: format!("ENV {} has no value", words[0].0) });
    }
    if matches!(keyword.as_str(), "FROM" | "USER" | "WORKDIR" | "ENV" | "ARG" | "LABEL" | "COPY" | "ADD" | "RUN")
        && words.is_empty()
        && heredocs.is_empty()
    {
        errors.push(ParseError { pos, message: format!("{keyword} needs arguments") });
    }
    Some(Instruction { keyword, pos, end_line: *end_line, flags, args, args_pos, heredocs, words })
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`, also glued to a redirection (`cat <<EOF >file`, `2<<EOF`).
fn heredoc_spec(word: &str) -> Option<(String, bool, bool)> {
    let idx = word.find("<<")?;
    let rest = &word[idx + 2..];
    if rest.starts_with('<') {
        return None; // here-string `<<<`
    }
    let (strip, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let quoted = rest.starts_with('"') || rest.starts_with('\'');
    let name: String = rest
        .chars()
        .filter(|c| *c != '"' && *c != '\'')
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) && name.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((name, strip, !quoted))
}

fn skip_ws(l: &Located, mut i: usize) -> usize {
    while i < l.len() && l[i].0.is_whitespace() {
        i += 1;
    }
    i
}

/// Remove one pair of matching surrounding quotes.
pub fn unquote(s: &str) -> String {
    let t = s.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_string();
        }
    }
    t.to_string()
}

/// `KEY=VALUE` pairs of ENV/ARG/LABEL (and the legacy `ENV KEY VALUE`), with the key's position.
pub fn key_values(ins: &Instruction) -> Vec<(String, Option<String>, Pos)> {
    let words = &ins.words;
    if words.is_empty() {
        return Vec::new();
    }
    if ins.keyword == "ENV" && !words[0].0.contains('=') {
        let value = words[1..].iter().map(|w| w.0.as_str()).collect::<Vec<_>>().join(" ");
        return vec![(words[0].0.clone(), Some(unquote(&value)), words[0].1)];
    }
    words
        .iter()
        .map(|(w, p)| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(unquote(v)), *p),
            None => (w.clone(), None, *p),
        })
        .collect()
}
