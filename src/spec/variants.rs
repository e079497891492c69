//! Variants and variables: one image definition, several builds of it.
//!
//! An image of the spec is written once, with `vars` (`python: "3.11"`) used as `{python}` in its
//! package names, paths and patterns. Its `variants` (`3.13-debian13`) change what differs — the
//! distribution, the variables, a package list — and inherit the rest, so the Debian 12 and
//! Debian 13 images share their user, prune rules, env, labels and budgets without a copy. A
//! variant is an image of its own, named `IMAGE:VARIANT` (`lucid-python-base:3.13-debian13`);
//! an image that `extends` another has the same variants as its parent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{Java, Prune, Python};

/// What a variant changes; everything it leaves out comes from the image it varies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    #[serde(default)]
    pub distribution: Option<Spanned<String>>,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub budget: Option<Spanned<String>>,
    /// Replaces the image's own packages.
    #[serde(default)]
    pub packages: Option<Vec<String>>,
    /// Replaces the image's own excludes (the distribution's still apply).
    #[serde(default)]
    pub exclude: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Added to the image's own prune rules.
    #[serde(default)]
    pub prune: Prune,
    #[serde(default)]
    pub python: Option<Python>,
    #[serde(default)]
    pub java: Option<Java>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
}

/// Whether `s` may be a variant's tag: the registry tag grammar (letters, digits, `_ . -`, not
/// starting with `.` or `-`, at most 128 characters), since it becomes one.
pub(super) fn is_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(['.', '-'])
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Replaces every `{NAME}` of `s` whose NAME is an identifier by the variable's value; an
/// identifier that is not a variable is an error (a typo never reaches a package name). Braces
/// around anything else — a glob's `{a,b}` — stay as they are.
pub(super) fn subst(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_identifier(&after[..close]) => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        let known: Vec<&str> = vars.keys().map(String::as_str).collect();
                        return Err(format!(
                            "{s:?} uses {{{name}}}, which is not one of the image's vars ({})",
                            if known.is_empty() { "it has none".to_string() } else { known.join(", ") }
                        ));
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// [`subst`] over a list.
pub(super) fn subst_all(list: &[String], vars: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    list.iter().map(|s| subst(s, vars)).collect()
}

impl Prune {
    pub(super) fn subst(&self, vars: &BTreeMap<String, String>) -> Result<Prune, String> {
        Ok(Prune { remove: subst_all(&self.remove, vars)?, keep: subst_all(&self.keep, vars)? })
    }
}

impl Python {
    pub(super) fn subst(&self, vars: &BTreeMap<String, String>) -> Result<Python, String> {
        Ok(Python {
            version: subst(&self.version, vars)?,
            requirements: match &self.requirements {
                Some(r) => Some(subst(&r.to_string_lossy(), vars)?.into()),
                None => None,
            },
            site_packages: subst(&self.site_packages, vars)?,
            compile: self.compile,
            compile_skip: subst_all(&self.compile_skip, vars)?,
        })
    }
}

impl Java {
    pub(super) fn subst(&self, vars: &BTreeMap<String, String>) -> Result<Java, String> {
        Ok(Java {
            jdk: subst(&self.jdk, vars)?,
            runtime: self.runtime,
            modules: self.modules.as_deref().map(|m| subst_all(m, vars)).transpose()?,
            cds: self.cds,
            home: self.home.as_deref().map(|h| subst(h, vars)).transpose()?,
        })
    }
}

/// The upstream part of a Debian version, for tags that pin what an image runs:
/// `3.11.2-6+deb12u6` -> `3.11.2`, `17.0.17+10-1~deb12u1` -> `17.0.17`, `1:2.3-4` -> `2.3`.
pub fn upstream_version(debian: &str) -> String {
    let v = debian.split_once(':').map_or(debian, |(_, v)| v);
    let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
    let v = v.split(['+', '~']).next().unwrap_or(v);
    v.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_replace_identifiers_only() {
        let vars: BTreeMap<String, String> = [("python".to_string(), "3.13".to_string())].into();
        assert_eq!(subst("usr/lib/python{python}/test/**", &vars).unwrap(), "usr/lib/python3.13/test/**");
        assert_eq!(subst("usr/{lib,lib64}/x", &vars).unwrap(), "usr/{lib,lib64}/x");
        assert_eq!(subst("a{b", &vars).unwrap(), "a{b");
        let e = subst("openjdk-{java}-jre", &vars).unwrap_err();
        assert!(e.contains("{java}") && e.contains("python"), "{e}");
    }

    #[test]
    fn upstream_versions() {
        assert_eq!(upstream_version("3.11.2-6+deb12u6"), "3.11.2");
        assert_eq!(upstream_version("17.0.17+10-1~deb12u1"), "17.0.17");
        assert_eq!(upstream_version("25.0.1+8-1"), "25.0.1");
        assert_eq!(upstream_version("1:2.3-4"), "2.3");
        assert_eq!(upstream_version("3.13.5"), "3.13.5");
        assert!(is_tag("3.13-debian13") && !is_tag("-x") && !is_tag("a:b") && !is_tag(""));
    }
}
