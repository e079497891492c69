//! Package relationship fields: `Depends`, `Pre-Depends`, `Provides`.
//!
//! Grammar (Debian Policy 7.1): comma-separated groups of `|`-separated alternatives, each
//! `name[:archqual] [(op version)] [[arch ...]] [<profile ...> ...]`. Build profiles only matter
//! for source packages and are parsed and ignored; architecture restrictions are kept so the
//! resolver can drop alternatives that do not apply.

use std::fmt;

use anyhow::{Context, Result, bail};

use super::version;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<<`
    Lt,
    /// `<=` (and the obsolete `<`, which dpkg reads as `<=`)
    Le,
    /// `=`
    Eq,
    /// `>=` (and the obsolete `>`, which dpkg reads as `>=`)
    Ge,
    /// `>>`
    Gt,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<<" => Op::Lt,
            "<=" | "<" => Op::Le,
            "=" => Op::Eq,
            ">=" | ">" => Op::Ge,
            ">>" => Op::Gt,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }

    /// Whether `have` (a package's version) stands in this relation to `want`.
    pub fn holds(self, have: &str, want: &str) -> bool {
        use std::cmp::Ordering::*;
        let ord = version::compare(have, want);
        match self {
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Eq => ord == Equal,
            Op::Ge => ord != Less,
            Op::Gt => ord == Greater,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relation {
    pub name: String,
    /// `any` or `native` (or an architecture name) after a colon.
    pub arch_qualifier: Option<String>,
    pub version: Option<(Op, String)>,
    /// `[amd64 !arm64 linux-any]`; empty means every architecture.
    pub arch_restrictions: Vec<String>,
}

impl Relation {
    pub fn new(name: &str) -> Relation {
        Relation { name: name.to_string(), arch_qualifier: None, version: None, arch_restrictions: Vec::new() }
    }

    /// Whether this relation applies on `arch` given its `[...]` restriction list: a list of
    /// only negations applies everywhere not named, otherwise only where named.
    pub fn applies_to_arch(&self, arch: &str) -> bool {
        if self.arch_restrictions.is_empty() {
            return true;
        }
        let negated = self.arch_restrictions.iter().all(|a| a.starts_with('!'));
        let hit = self.arch_restrictions.iter().any(|a| arch_matches(a.trim_start_matches('!'), arch));
        if negated { !hit } else { hit }
    }

    /// Whether a package's own version satisfies the version part (no version part: always).
    pub fn version_satisfied_by(&self, have: &str) -> bool {
        match &self.version {
            None => true,
            Some((op, want)) => op.holds(have, want),
        }
    }
}

/// Architecture wildcards as dpkg-architecture knows them, for Linux: `any`, `linux-any`,
/// `any-<cpu>`, or the name itself.
fn arch_matches(pattern: &str, arch: &str) -> bool {
    pattern == arch
        || pattern == "any"
        || pattern == "linux-any"
        || pattern.strip_prefix("any-").is_some_and(|cpu| cpu == arch)
        || pattern.strip_prefix("linux-").is_some_and(|cpu| cpu == arch)
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(q) = &self.arch_qualifier {
            write!(f, ":{q}")?;
        }
        if let Some((op, v)) = &self.version {
            write!(f, " ({} {v})", op.as_str())?;
        }
        if !self.arch_restrictions.is_empty() {
            write!(f, " [{}]", self.arch_restrictions.join(" "))?;
        }
        Ok(())
    }
}

/// Parses a `Depends`-style field into groups of alternatives. Empty groups (a trailing comma)
/// are skipped, as dpkg does.
pub fn parse_relations(field: &str) -> Result<Vec<Vec<Relation>>> {
    let mut out = Vec::new();
    for group in field.split(',') {
        if group.trim().is_empty() {
            continue;
        }
        let alts = group
            .split('|')
            .map(|alt| parse_one(alt).with_context(|| format!("in relation {:?}", group.trim())))
            .collect::<Result<Vec<_>>>()?;
        out.push(alts);
    }
    Ok(out)
}

/// Parses a `Provides` field: like `Depends`, but alternatives make no sense there, and only
/// `=` versions are meaningful (others are refused, as dpkg does).
pub fn parse_provides(field: &str) -> Result<Vec<Relation>> {
    let mut out = Vec::new();
    for group in parse_relations(field)? {
        if group.len() != 1 {
            bail!("Provides {field:?}: alternatives `|` are not allowed");
        }
        let rel = group.into_iter().next().expect("one alternative");
        if let Some((op, _)) = &rel.version
            && *op != Op::Eq
        {
            bail!("Provides {field:?}: only `=` versions may be provided, found {rel}");
        }
        out.push(rel);
    }
    Ok(out)
}

/// Parses one alternative.
fn parse_one(text: &str) -> Result<Relation> {
    let s = text.trim();
    let end = s.find(|c: char| c.is_whitespace() || "([<".contains(c)).unwrap_or(s.len());
    let (head, mut rest) = s.split_at(end);
    let (name, qual) = match head.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (head, None),
    };
    if name.is_empty() {
        bail!("missing package name in {s:?}");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c)) {
        bail!("invalid package name {name:?}");
    }
    if qual.is_some_and(|q| q.is_empty() || !q.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')) {
        bail!("invalid architecture qualifier in {head:?}");
    }
    let mut rel = Relation {
        name: name.to_string(),
        arch_qualifier: qual.map(str::to_string),
        version: None,
        arch_restrictions: Vec::new(),
    };
    rest = rest.trim_start();
    if let Some(r) = rest.strip_prefix('(') {
        let Some((inner, after)) = r.split_once(')') else { bail!("unclosed `(` in {s:?}") };
        let inner = inner.trim();
        let op_len = inner.find(|c: char| !"<>=".contains(c)).unwrap_or(inner.len());
        let (op, ver) = inner.split_at(op_len);
        let Some(op) = Op::parse(op) else { bail!("invalid version operator {op:?} in {s:?}") };
        let ver = ver.trim();
        version::Version::parse(ver).with_context(|| format!("invalid version in {s:?}"))?;
        rel.version = Some((op, ver.to_string()));
        rest = after.trim_start();
    }
    if let Some(r) = rest.strip_prefix('[') {
        let Some((inner, after)) = r.split_once(']') else { bail!("unclosed `[` in {s:?}") };
        rel.arch_restrictions = inner.split_whitespace().map(str::to_string).collect();
        if rel.arch_restrictions.is_empty() {
            bail!("empty architecture list in {s:?}");
        }
        rest = after.trim_start();
    }
    while let Some(r) = rest.strip_prefix('<') {
        let Some((_, after)) = r.split_once('>') else { bail!("unclosed `<` in {s:?}") };
        rest = after.trim_start();
    }
    if !rest.is_empty() {
        bail!("unexpected {rest:?} in {s:?}");
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_alternatives_versions() {
        let r = parse_relations("libc6 (>= 2.34), awk | mawk:any (<< 2:0)\n , python3:native, ").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0][0].name, "libc6");
        assert_eq!(r[0][0].version, Some((Op::Ge, "2.34".into())));
        assert_eq!(r[1].len(), 2);
        assert_eq!(r[1][1].arch_qualifier.as_deref(), Some("any"));
        assert_eq!(r[1][1].version, Some((Op::Lt, "2:0".into())));
        assert_eq!(r[2][0].arch_qualifier.as_deref(), Some("native"));
        assert_eq!(r[1][1].to_string(), "mawk:any (<< 2:0)");
    }

    #[test]
    fn arch_and_profile_restrictions() {
        let r = parse_relations("foo [amd64 arm64] <!nocheck> <stage1 cross>, bar [!i386], baz(=1)").unwrap();
        assert!(r[0][0].applies_to_arch("amd64"));
        assert!(!r[0][0].applies_to_arch("riscv64"));
        assert!(r[1][0].applies_to_arch("amd64"));
        assert!(!r[1][0].applies_to_arch("i386"));
        assert_eq!(r[2][0].version, Some((Op::Eq, "1".into())));
        let any = parse_relations("q [linux-any]").unwrap();
        assert!(any[0][0].applies_to_arch("arm64"));
    }

    #[test]
    fn operators() {
        for (op, have, want, holds) in [
            ("<<", "1", "2", true),
            ("<<", "2", "2", false),
            ("<=", "2", "2", true),
            ("<", "2", "2", true),
            ("=", "1.0", "1.00", true),
            (">=", "2~rc1", "2", false),
            (">>", "2+b1", "2", true),
            (">", "2", "2", true),
        ] {
            let r = parse_relations(&format!("x ({op} {want})")).unwrap();
            assert_eq!(r[0][0].version_satisfied_by(have), holds, "{have} {op} {want}");
        }
    }

    #[test]
    fn errors() {
        for bad in ["foo (>= )", "foo (=> 1)", "foo (>= 1", "Foo", "foo bar", "foo [", "| foo", "foo:", "(>= 1)"] {
            assert!(parse_relations(bad).is_err(), "{bad}");
        }
        assert!(parse_provides("a | b").is_err());
        assert!(parse_provides("a (>= 1)").is_err());
        assert_eq!(parse_provides("a (= 1), b").unwrap().len(), 2);
    }
}
