//! Hash-pinned `requirements.txt`, in pip's own syntax.
//!
//! Only the fully pinned subset that `pip install --require-hashes` accepts is allowed: every
//! requirement is `name==version` with at least one `--hash=sha256:...`. Anything that would let
//! the resolved set drift between two builds (ranges, URLs, editable installs, nested files, an
//! index named inside the file) is refused with the file and line, because the image must be a
//! function of the lock, not of the day it was built.
//!
//! Environment markers are evaluated for the one interpreter the images ship: CPython 3.11 on
//! Linux. A marker that depends on the machine (`platform_machine`) needs the target, so
//! [`parse`] refuses it and [`parse_for`] takes the machine explicitly.

use std::collections::BTreeMap;

use crate::formats::wheel::normalize_name;
use anyhow::{Result, bail};

/// One pinned requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// PEP 503 normalized project name (`charset-normalizer`).
    pub name: String,
    /// The version after `==`, as written.
    pub version: String,
    /// Lower-case hex SHA-256 digests that the chosen file must match (any one of them).
    pub hashes: Vec<String>,
    /// 1-based line where the requirement starts.
    pub line: usize,
}

/// The values environment markers are evaluated against.
#[derive(Clone, Debug)]
pub struct MarkerEnv {
    pub python_version: String,
    pub python_full_version: String,
    /// `x86_64` or `aarch64`; `None` makes a marker that reads it an error.
    pub platform_machine: Option<String>,
}

impl MarkerEnv {
    /// Debian 12's CPython 3.11 on Linux, on `machine` when known.
    pub fn cpython311_linux(machine: Option<&str>) -> MarkerEnv {
        MarkerEnv::cpython_linux("3.11", "3.11.2", machine)
    }

    /// CPython `version` (`3.13`, full: `3.13.5`) on Linux, on `machine` when known.
    pub fn cpython_linux(version: &str, full: &str, machine: Option<&str>) -> MarkerEnv {
        MarkerEnv {
            python_version: version.into(),
            python_full_version: full.into(),
            platform_machine: machine.map(str::to_string),
        }
    }

    fn var(&self, name: &str) -> Result<Option<String>, String> {
        Ok(Some(match name {
            "python_version" => self.python_version.clone(),
            "python_full_version" => self.python_full_version.clone(),
            "implementation_version" => self.python_full_version.clone(),
            "os_name" => "posix".into(),
            "sys_platform" => "linux".into(),
            "platform_system" => "Linux".into(),
            "platform_python_implementation" => "CPython".into(),
            "implementation_name" => "cpython".into(),
            // No extras are ever requested: `extra == "x"` is false.
            "extra" => return Ok(None),
            "platform_machine" => match &self.platform_machine {
                Some(m) => m.clone(),
                None => return Err("the marker depends on platform_machine; parse it for a target".into()),
            },
            "platform_release" | "platform_version" => {
                return Err(format!("the marker depends on {name}, which is not fixed for an image"));
            }
            other => return Err(format!("unknown marker variable {other:?}")),
        }))
    }
}

/// Parses `text` (the content of `file`) for CPython 3.11 on Linux. A marker reading
/// `platform_machine` is an error here; use [`parse_for`] with the target machine.
pub fn parse(text: &str, file: &str) -> Result<Vec<Requirement>> {
    parse_for(text, file, &MarkerEnv::cpython311_linux(None))
}

/// Parses `text` (the content of `file`), evaluating markers in `env`. Requirements whose marker
/// is false are left out. Errors name `file:line`.
pub fn parse_for(text: &str, file: &str, env: &MarkerEnv) -> Result<Vec<Requirement>> {
    let mut out: Vec<Requirement> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, logical) in logical_lines(text) {
        let content = strip_comment(&logical);
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        let req = match parse_line(content, env) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(msg) => bail!("{file}:{line}: {msg}"),
        };
        if let Some(first) = seen.get(&req.0) {
            bail!("{file}:{line}: {} is required twice (first on line {first})", req.0);
        }
        seen.insert(req.0.clone(), line);
        out.push(Requirement { name: req.0, version: req.1, hashes: req.2, line });
    }
    Ok(out)
}

/// Joins `\`-continued physical lines (as pip does), returning each logical line with the number
/// of the physical line where it starts.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let (start, mut acc) = cur.take().unwrap_or((i + 1, String::new()));
        if let Some(body) = raw.strip_suffix('\\') {
            acc.push_str(body);
            acc.push(' ');
            cur = Some((start, acc));
        } else {
            acc.push_str(raw);
            out.push((start, acc));
        }
    }
    if let Some(last) = cur {
        out.push(last);
    }
    out
}

/// Drops a `#` comment that starts the line or follows whitespace (pip's rule: `a#b` is not one).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

type Parsed = (String, String, Vec<String>);

/// One logical line without comments: options, or a requirement with its options.
fn parse_line(content: &str, env: &MarkerEnv) -> Result<Option<Parsed>, String> {
    if content.starts_with('-') {
        return global_option(content).map(|()| None);
    }
    // Split requirement text from its per-requirement options (` --hash=...`).
    let (spec, opts) = match find_option_start(content) {
        Some(i) => (content[..i].trim(), &content[i..]),
        None => (content, ""),
    };
    let hashes = parse_hashes(opts)?;
    let (spec, marker) = match spec.find(';') {
        Some(i) => (spec[..i].trim(), Some(spec[i + 1..].trim())),
        None => (spec, None),
    };
    if spec.contains("://") || spec.contains(" @ ") || spec.contains('@') {
        return Err(format!("{spec:?} is a URL or direct reference; only name==version from the index is allowed"));
    }
    if spec.starts_with('.') || spec.starts_with('/') || spec.ends_with(".whl") || spec.ends_with(".tar.gz") {
        return Err(format!("{spec:?} is a local path; only name==version from the index is allowed"));
    }
    let name_end =
        spec.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(spec.len());
    let raw_name = &spec[..name_end];
    if !valid_name(raw_name) {
        return Err(format!("{spec:?} does not start with a valid project name"));
    }
    let mut rest = spec[name_end..].trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        let Some(close) = after.find(']') else { return Err(format!("{spec:?}: unclosed extras bracket")) };
        for extra in after[..close].split(',') {
            if !valid_name(extra.trim()) {
                return Err(format!("{spec:?}: invalid extra {:?}", extra.trim()));
            }
        }
        rest = after[close + 1..].trim_start();
    }
    let rest = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).unwrap_or(rest).trim();
    if rest.is_empty() {
        return Err(format!("{raw_name} is not pinned: write {raw_name}==VERSION"));
    }
    let version = match rest.strip_prefix("==") {
        Some(v) if !v.starts_with('=') => v.trim(),
        _ => return Err(format!("{raw_name}: {rest:?} is not an exact pin; only == is allowed")),
    };
    if version.is_empty()
        || version.contains(['*', ',', ' '])
        || !version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-' | '_'))
    {
        return Err(format!("{raw_name}: {version:?} is not one exact version; only name==VERSION is allowed"));
    }
    if let Some(m) = marker
        && !eval_marker(m, env)?
    {
        return Ok(None);
    }
    if hashes.is_empty() {
        return Err(format!("{raw_name}=={version} has no --hash=sha256:...; every requirement must be hash-pinned"));
    }
    Ok(Some((normalize_name(raw_name), version.to_string(), hashes)))
}

/// Position of the first ` -` / ` --` option after the requirement text.
fn find_option_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (1..b.len()).find(|&i| b[i] == b'-' && b[i - 1].is_ascii_whitespace() && b.get(i + 1) == Some(&b'-'))
}

fn parse_hashes(opts: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut words = opts.split_whitespace();
    while let Some(w) = words.next() {
        let value = if let Some(v) = w.strip_prefix("--hash=") {
            v.to_string()
        } else if w == "--hash" {
            words.next().ok_or("--hash without a value")?.to_string()
        } else {
            return Err(format!("option {w:?} is not allowed after a requirement (only --hash)"));
        };
        let Some((alg, hex)) = value.split_once(':') else {
            return Err(format!("--hash={value}: expected sha256:<64 hex digits>"));
        };
        if alg != "sha256" {
            return Err(format!("--hash={value}: only sha256 hashes are supported"));
        }
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("--hash={value}: not a SHA-256 digest (64 hex digits)"));
        }
        let hex = hex.to_ascii_lowercase();
        if !out.contains(&hex) {
            out.push(hex);
        }
    }
    Ok(out)
}

/// Options on a line of their own. Those that only restate what we always do are accepted;
/// those that would change where or what is installed are refused.
fn global_option(line: &str) -> Result<(), String> {
    let word = line.split([' ', '=', '\t']).next().unwrap_or(line);
    match word {
        "--require-hashes" | "--only-binary" | "--prefer-binary" | "--pre" | "--no-deps" => Ok(()),
        "-e" | "--editable" => Err("editable requirements (-e) are not allowed".into()),
        "-r" | "--requirement" | "-c" | "--constraint" => {
            Err(format!("{word}: nested requirement or constraint files are not allowed; list every pin here"))
        }
        "-i" | "--index-url" | "--extra-index-url" | "-f" | "--find-links" | "--trusted-host" | "--no-index" => {
            Err(format!("{word}: the index is not chosen in requirements files; set LUCID_INDEX_URL"))
        }
        "--no-binary" => Err("--no-binary: only wheels are installed".into()),
        "--hash" => Err("--hash without a requirement before it".into()),
        _ => Err(format!("unsupported option {word:?}")),
    }
}

// ---- environment markers (PEP 508) ----

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Var(String),
    Str(String),
    Op(String),
    And,
    Or,
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..].iter().position(|&d| d == c).ok_or("unterminated string in marker")?;
            out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if "<>=!~".contains(c) {
            let mut j = i;
            while j < chars.len() && "<>=!~".contains(chars[j]) {
                j += 1;
            }
            out.push(Tok::Op(chars[i..j].iter().collect()));
            i = j;
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == '.') {
                j += 1;
            }
            let w: String = chars[i..j].iter().collect();
            out.push(match w.as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "in" => Tok::Op("in".into()),
                "not" => Tok::Op("not".into()),
                _ => Tok::Var(w),
            });
            i = j;
        } else {
            return Err(format!("unexpected {c:?} in marker"));
        }
    }
    // `not in` is one operator.
    let mut merged = Vec::with_capacity(out.len());
    let mut it = out.into_iter().peekable();
    while let Some(t) = it.next() {
        if t == Tok::Op("not".into()) {
            if it.peek() == Some(&Tok::Op("in".into())) {
                it.next();
                merged.push(Tok::Op("not in".into()));
            } else {
                return Err("`not` must be followed by `in` in a marker".into());
            }
        } else {
            merged.push(t);
        }
    }
    Ok(merged)
}

/// Evaluates a PEP 508 marker in `env`.
pub fn eval_marker(marker: &str, env: &MarkerEnv) -> Result<bool, String> {
    let toks = tokenize(marker).map_err(|e| format!("marker {marker:?}: {e}"))?;
    let mut p = MarkerParser { toks: &toks, pos: 0, env, depth: 0 };
    let v = p.or_expr().map_err(|e| format!("marker {marker:?}: {e}"))?;
    if p.pos != toks.len() {
        return Err(format!("marker {marker:?}: unexpected trailing text"));
    }
    Ok(v)
}

struct MarkerParser<'a> {
    toks: &'a [Tok],
    pos: usize,
    env: &'a MarkerEnv,
    depth: usize,
}

impl MarkerParser<'_> {
    fn or_expr(&mut self) -> Result<bool, String> {
        let mut v = self.and_expr()?;
        while self.toks.get(self.pos) == Some(&Tok::Or) {
            self.pos += 1;
            let r = self.and_expr()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and_expr(&mut self) -> Result<bool, String> {
        let mut v = self.atom()?;
        while self.toks.get(self.pos) == Some(&Tok::And) {
            self.pos += 1;
            let r = self.atom()?;
            v = v && r;
        }
        Ok(v)
    }

    fn atom(&mut self) -> Result<bool, String> {
        if self.toks.get(self.pos) == Some(&Tok::Open) {
            self.depth += 1;
            if self.depth > 64 {
                return Err("too deeply nested".into());
            }
            self.pos += 1;
            let v = self.or_expr()?;
            if self.toks.get(self.pos) != Some(&Tok::Close) {
                return Err("missing )".into());
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(v);
        }
        let lhs = self.value()?;
        let op = match self.toks.get(self.pos) {
            Some(Tok::Op(o)) => o.clone(),
            _ => return Err("expected a comparison operator".into()),
        };
        self.pos += 1;
        let rhs = self.value()?;
        compare(&lhs, &op, &rhs)
    }

    /// A variable's value (`None` for `extra`) or a string literal, tagged by whether it is a
    /// version-like variable (compared as versions).
    fn value(&mut self) -> Result<(Option<String>, bool), String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok((Some(s), false))
            }
            Some(Tok::Var(v)) => {
                self.pos += 1;
                let versioned =
                    matches!(v.as_str(), "python_version" | "python_full_version" | "implementation_version");
                Ok((self.env.var(&v)?, versioned))
            }
            _ => Err("expected a variable or a quoted string".into()),
        }
    }
}

fn compare(lhs: &(Option<String>, bool), op: &str, rhs: &(Option<String>, bool)) -> Result<bool, String> {
    let (Some(l), Some(r)) = (&lhs.0, &rhs.0) else {
        // `extra` is never set: any comparison with it is false.
        return Ok(false);
    };
    match op {
        "in" => return Ok(r.contains(l.as_str())),
        "not in" => return Ok(!r.contains(l.as_str())),
        "===" => return Ok(l == r),
        _ => {}
    }
    if (lhs.1 || rhs.1)
        && let (Some(a), Some(b)) = (release(l), release(r))
    {
        {
            let ord = cmp_release(&a, &b);
            return match op {
                "==" => Ok(ord.is_eq()),
                "!=" => Ok(!ord.is_eq()),
                "<" => Ok(ord.is_lt()),
                "<=" => Ok(ord.is_le()),
                ">" => Ok(ord.is_gt()),
                ">=" => Ok(ord.is_ge()),
                "~=" => {
                    let (v, spec) = if lhs.1 { (&a, &b) } else { (&b, &a) };
                    if spec.len() < 2 {
                        return Err("~= needs at least two version components".into());
                    }
                    let prefix = &spec[..spec.len() - 1];
                    Ok(cmp_release(v, spec).is_ge() && v.len() >= prefix.len() && &v[..prefix.len()] == prefix)
                }
                _ => Err(format!("unknown operator {op:?}")),
            };
        }
    }
    match op {
        "==" => Ok(l == r),
        "!=" => Ok(l != r),
        _ => Err(format!("operator {op:?} needs versions on both sides, got {l:?} and {r:?}")),
    }
}

fn release(v: &str) -> Option<Vec<u64>> {
    let v = v.strip_suffix(".*").unwrap_or(v);
    v.split('.').map(|p| p.parse::<u64>().ok()).collect()
}

fn cmp_release(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| !o.is_eq())
        .unwrap_or(std::cmp::Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6";
    const H2: &str = "55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760";

    #[test]
    fn continuations_hashes_comments() {
        let text = format!(
            "# generated\n\nRequests==2.32.3 \\\n    --hash=sha256:{H1} \\\n    --hash sha256:{} # sdist\n\
             charset_normalizer==3.4.0 --hash=sha256:{H2}\n--require-hashes\n",
            H2.to_uppercase()
        );
        let reqs = parse(&text, "requirements.txt").unwrap();
        assert_eq!(reqs.len(), 2);
        assert_eq!(
            reqs[0],
            Requirement {
                name: "requests".into(),
                version: "2.32.3".into(),
                hashes: vec![H1.into(), H2.into()],
                line: 3
            }
        );
        assert_eq!(reqs[1].name, "charset-normalizer");
        assert_eq!(reqs[1].line, 6);
    }

    #[test]
    fn markers_for_cpython311_linux() {
        let text = format!(
            "a==1 ; python_version >= \"3.8\" --hash=sha256:{H1}\n\
             b==1 ; python_version < '3.10' --hash=sha256:{H1}\n\
             c==1 ; sys_platform == \"win32\" or (os_name == 'posix' and python_full_version ~= '3.11.0') --hash=sha256:{H1}\n\
             d==1 ; extra == 'socks' --hash=sha256:{H1}\n\
             e==1 ; 'linux' in sys_platform and platform_python_implementation != 'PyPy' --hash=sha256:{H1}\n"
        );
        let names: Vec<_> = parse(&text, "r.txt").unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["a", "c", "e"]);
        let m = format!("f==1 ; platform_machine == 'aarch64' --hash=sha256:{H1}\n");
        let err = parse(&m, "r.txt").unwrap_err().to_string();
        assert!(err.contains("r.txt:1") && err.contains("platform_machine"), "{err}");
        assert_eq!(parse_for(&m, "r.txt", &MarkerEnv::cpython311_linux(Some("aarch64"))).unwrap().len(), 1);
        assert!(parse_for(&m, "r.txt", &MarkerEnv::cpython311_linux(Some("x86_64"))).unwrap().is_empty());
    }

    fn err_of(text: &str) -> String {
        parse(text, "req.txt").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_and_line() {
        let h = format!("--hash=sha256:{H1}");
        for (text, line, needle) in [
            (format!("a==1 {h}\nb>=1 {h}\n"), 2, "exact pin"),
            (format!("\n\nc {h}\n"), 3, "not pinned"),
            ("a==1\n".to_string(), 1, "hash"),
            ("a==1 --hash=md5:abc\n".to_string(), 1, "sha256"),
            ("a==1 --hash=sha256:abc\n".to_string(), 1, "64 hex"),
            (format!("x @ https://example.invalid/x.whl {h}\n"), 1, "URL"),
            ("-e .\n".to_string(), 1, "editable"),
            ("-r other.txt\n".to_string(), 1, "nested"),
            ("--index-url http://example.invalid/simple\n".to_string(), 1, "LUCID_INDEX_URL"),
            (format!("a==1.*  {h}\n"), 1, "exact version"),
            (format!("a==1 {h}\nA==1 {h}\n"), 2, "twice"),
            (format!("a==1 ; python_version >> '3' {h}\n"), 1, "marker"),
            (format!("a==1 --no-deps {h}\n"), 1, "only --hash"),
            (format!("a===1 {h}\n"), 1, "exact pin"),
            (format!("./pkg {h}\n"), 1, "local path"),
        ] {
            let e = err_of(&text);
            assert!(e.contains(&format!("req.txt:{line}:")) && e.contains(needle), "{text:?} -> {e}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "\\",
            "a==\\",
            "a[",
            "a[x",
            "é==1",
            "a==1 ;",
            "a==1 ; (",
            "a==1 ; '",
            "a==1 ; ((((",
            "==1",
            "\u{0}",
            "a==1 --hash",
            "#\\\nx",
        ] {
            let _ = parse(text, "f");
        }
        let deep = format!("a==1 ; {}python_version{} --hash=sha256:{H1}", "(".repeat(500), ")".repeat(500));
        assert!(parse(&deep, "f").is_err());
    }

    /// Random splices of requirement-file fragments never panic (a cheap stand-in for cargo-fuzz).
    #[test]
    fn random_fragments_never_panic() {
        const FRAGS: &[&str] = &[
            "a",
            "Requests",
            "==",
            "===",
            ">=",
            "~=",
            "1.0",
            "*",
            " ",
            "\\\n",
            "\n",
            "#",
            ";",
            "(",
            ")",
            "'",
            "\"",
            "python_version",
            "platform_machine",
            "extra",
            " and ",
            " or ",
            " not in ",
            " in ",
            "--hash=sha256:",
            "--hash",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "[",
            "]",
            ",",
            "@",
            "://",
            "-e",
            "-r",
            "\u{e9}",
            "\u{0}",
            "\t",
            "\r\n",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20000 {
            let n = next() % 24;
            let text: String = (0..n).map(|_| FRAGS[(next() % FRAGS.len() as u64) as usize]).collect();
            let _ = parse(&text, "fuzz.txt");
        }
    }

    #[test]
    fn name_normalization() {
        assert_eq!(normalize_name("Foo.Bar__baz-"), "foo-bar-baz");
        assert_eq!(normalize_name("charset_normalizer"), "charset-normalizer");
    }
}
