//! deb822 paragraphs: the format of `Packages`, `Release`, `control` and `*.sources` files.
//!
//! The parser takes untrusted text (a mirror's index before anything else looks at it, a
//! package's `control`) and so never panics: every malformed line is an error naming its line
//! number. Field names compare case-insensitively, as dpkg does.

use anyhow::{Result, bail};

/// One paragraph: fields in file order. A folded or multi-line value keeps its continuation
/// lines joined by `\n`, each with its leading whitespace removed (`" ."` becomes an empty line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paragraph {
    fields: Vec<(String, String)>,
    /// 1-based line number of the paragraph's first field, for messages.
    pub line: usize,
}

impl Paragraph {
    /// The value of `name` (case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All fields in file order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Adds a field (used by tests and by writers of synthetic paragraphs).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields.push((name.into(), value.into()));
    }
}

/// Parses every paragraph of `text`. Blank lines (only whitespace) separate paragraphs, lines
/// starting with `#` are comments, a line starting with a space or tab continues the previous
/// field. A duplicate field in one paragraph is an error, as with dpkg: which value would win
/// is exactly the kind of ambiguity an attacker would use.
pub fn parse(text: &str) -> Result<Vec<Paragraph>> {
    let mut out = Vec::new();
    let mut cur = Paragraph::default();
    for (idx, raw) in text.split('\n').enumerate() {
        let lineno = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = cur.fields.last_mut() else {
                bail!("line {lineno}: continuation line without a field before it: {:?}", clip(line));
            };
            let cont = line.trim();
            value.push('\n');
            if cont != "." {
                value.push_str(cont);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            bail!("line {lineno}: expected `Field: value`, found {:?}", clip(line));
        };
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("line {lineno}: invalid field name {:?}", clip(name));
        }
        if cur.get(name).is_some() {
            bail!("line {lineno}: duplicate field {name:?} in one paragraph");
        }
        if cur.is_empty() {
            cur.line = lineno;
        }
        cur.fields.push((name.to_string(), value.trim().to_string()));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// The first 80 characters of `s`, so an error about a huge line stays readable.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_folding_comments() {
        let text = "# comment\nPackage: a\nDepends: b,\n c (>= 1)\nDescription: short\n long\n .\n more\n\n\n\
                    package: z\r\nVersion: 1\r\n";
        let ps = parse(text).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].get("package"), Some("a"));
        assert_eq!(ps[0].get("Depends"), Some("b,\nc (>= 1)"));
        assert_eq!(ps[0].get("Description"), Some("short\nlong\n\nmore"));
        assert_eq!(ps[0].line, 2);
        assert_eq!(ps[1].get("Package"), Some("z"));
        assert_eq!(ps[1].get("Version"), Some("1"));
        assert_eq!(ps[1].line, 11);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("Package: a\nnot a field\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse(" cont\n").is_err());
        assert!(parse("A: 1\na: 2\n").unwrap_err().to_string().contains("duplicate"));
        assert!(parse(": x\n").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn never_panics_on_junk() {
        // A cheap deterministic fuzz: every prefix and some byte soups of a valid input.
        let base = "Package: a\nDepends: b |\n c\n\n#x\nK:\n \t\n.\n:\n\u{0}: y\n";
        for i in 0..base.len() {
            if base.is_char_boundary(i) {
                let _ = parse(&base[..i]);
            }
        }
        let mut seed = 7u32;
        for _ in 0..2000 {
            let s: String = (0..40)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"ab: \n\t#.\r,|"[(seed >> 16) as usize % 11] as char
                })
                .collect();
            let _ = parse(&s);
        }
    }
}
