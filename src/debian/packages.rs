//! Binary package records from a `Packages` index.

use anyhow::{Context, Result, bail};

use super::control::{self, Paragraph};
use super::relation::{Relation, parse_provides, parse_relations};
use super::version::Version;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub multi_arch: Option<String>,
    pub depends: Vec<Vec<Relation>>,
    pub pre_depends: Vec<Vec<Relation>>,
    pub provides: Vec<Relation>,
    /// Path of the `.deb` below the archive base URL (`pool/main/p/python3.11/...deb`).
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// The `Source` field verbatim (`name` or `name (version)`); see [`Package::source_name`].
    pub source: Option<String>,
    pub installed_size: Option<u64>,
    /// Archive base URL the package came from.
    pub uri: String,
    pub suite: String,
    pub essential: bool,
    pub priority: Option<String>,
    pub section: Option<String>,
}

impl Package {
    /// Where the `.deb` is downloaded from.
    pub fn url(&self) -> String {
        crate::fetch::join_url(&self.uri, &self.filename)
    }

    /// The source package name (the binary's own name when `Source` is absent).
    pub fn source_name(&self) -> &str {
        self.source.as_deref().and_then(|s| s.split_whitespace().next()).unwrap_or(&self.name)
    }

    /// The source package version (`Source: name (version)`, else the binary's version).
    pub fn source_version(&self) -> &str {
        self.source
            .as_deref()
            .and_then(|s| s.split_once('(').and_then(|(_, v)| v.split_once(')')).map(|(v, _)| v.trim()))
            .unwrap_or(&self.version)
    }

    /// `name version` for messages and download labels.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// Builds a package from one `Packages` paragraph. Every field the builder relies on is
    /// checked here: a `Filename` that could climb out of the archive, a digest that is not
    /// one, or an unparsable relation is an error naming the package.
    pub fn from_paragraph(p: &Paragraph, uri: &str, suite: &str) -> Result<Package> {
        let name = p.get("Package").filter(|n| !n.is_empty());
        let Some(name) = name else { bail!("paragraph at line {} has no Package field", p.line) };
        let what = || format!("package {name} (line {})", p.line);
        let req = |field: &str| p.get(field).with_context(|| format!("{}: missing {field}", what()));
        let version = req("Version")?.to_string();
        Version::parse(&version).with_context(what)?;
        let filename = req("Filename")?.to_string();
        if filename.starts_with('/')
            || filename.split('/').any(|c| c == ".." || c.is_empty())
            || filename.contains('\\')
        {
            bail!("{}: unsafe Filename {filename:?}", what());
        }
        let sha256 = req("SHA256")?.to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{}: SHA256 {sha256:?} is not a SHA-256 digest", what());
        }
        let size = req("Size")?.parse::<u64>().with_context(|| format!("{}: invalid Size", what()))?;
        let rel = |field: &str| -> Result<Vec<Vec<Relation>>> {
            match p.get(field) {
                Some(v) => parse_relations(v).with_context(|| format!("{}: invalid {field}", what())),
                None => Ok(Vec::new()),
            }
        };
        let provides = match p.get("Provides") {
            Some(v) => parse_provides(v).with_context(|| format!("{}: invalid Provides", what()))?,
            None => Vec::new(),
        };
        Ok(Package {
            name: name.to_string(),
            version,
            architecture: req("Architecture")?.to_string(),
            multi_arch: p.get("Multi-Arch").map(str::to_string),
            depends: rel("Depends")?,
            pre_depends: rel("Pre-Depends")?,
            provides,
            filename,
            size,
            sha256,
            source: p.get("Source").map(str::to_string),
            installed_size: p.get("Installed-Size").and_then(|s| s.parse().ok()),
            uri: uri.to_string(),
            suite: suite.to_string(),
            essential: p.get("Essential").is_some_and(|e| e.eq_ignore_ascii_case("yes")),
            priority: p.get("Priority").map(str::to_string),
            section: p.get("Section").map(str::to_string),
        })
    }
}

/// Parses a whole `Packages` index. `label` (the index URL) names it in errors.
pub fn parse_packages(text: &str, uri: &str, suite: &str, label: &str) -> Result<Vec<Package>> {
    let paragraphs = control::parse(text).with_context(|| format!("cannot parse {label}"))?;
    paragraphs.iter().map(|p| Package::from_paragraph(p, uri, suite).with_context(|| format!("in {label}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_a_paragraph() {
        let text = format!(
            "Package: libfoo1\nSource: foo (1.2-3)\nVersion: 1.2-3+b1\nArchitecture: amd64\nMulti-Arch: same\n\
             Pre-Depends: libc6 (>= 2.34)\nDepends: libbar | libbaz (>= 2), zlib1g\nProvides: libfoo (= 1.2)\n\
             Filename: pool/main/f/foo/libfoo1_1.2-3+b1_amd64.deb\nSize: 1234\nSHA256: {SHA}\nInstalled-Size: 40\n"
        );
        let p = parse_packages(&text, "http://m.example/debian", "bookworm", "Packages").unwrap().remove(0);
        assert_eq!(p.name, "libfoo1");
        assert_eq!(p.source_name(), "foo");
        assert_eq!(p.source_version(), "1.2-3");
        assert_eq!(p.depends.len(), 2);
        assert_eq!(p.pre_depends[0][0].name, "libc6");
        assert_eq!(p.provides[0].name, "libfoo");
        assert_eq!(p.url(), "http://m.example/debian/pool/main/f/foo/libfoo1_1.2-3+b1_amd64.deb");
        assert_eq!(p.installed_size, Some(40));
    }

    #[test]
    fn refuses_unsafe_fields() {
        let base = |filename: &str, sha: &str| {
            format!("Package: x\nVersion: 1\nArchitecture: all\nFilename: {filename}\nSize: 1\nSHA256: {sha}\n")
        };
        let e = parse_packages(&base("pool/../../etc/passwd", SHA), "u", "s", "P").unwrap_err();
        assert!(format!("{e:#}").contains("unsafe Filename"), "{e:#}");
        let e = parse_packages(&base("pool/x.deb", "abc"), "u", "s", "P").unwrap_err();
        assert!(format!("{e:#}").contains("package x"), "{e:#}");
        let e = parse_packages("Package: y\nVersion: 1\n", "u", "s", "P").unwrap_err();
        assert!(format!("{e:#}").contains("missing Filename"), "{e:#}");
    }
}
