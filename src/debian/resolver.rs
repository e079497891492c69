//! Dependency closure over `Pre-Depends` and `Depends`.
//!
//! This is not apt's solver: it is a deterministic breadth-first closure, good for the small
//! closed sets base images need, that explains itself when it fails. Rules:
//! - an alternative group is satisfied if any alternative is excluded (or could only be met by
//!   an excluded package), else if a package already chosen meets it (directly or through a
//!   versioned `Provides`), else by the first alternative that has a candidate;
//! - among candidates, a real package beats a provider, and the newest version wins across all
//!   suites; providers are ordered by name, then newest version;
//! - one version per package name: a later relation that the chosen version cannot meet is
//!   an error naming both sides (no backtracking).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use anyhow::{Context, Result, bail};

use super::packages::Package;
use super::relation::{Op, Relation, parse_relations};
use super::repo::Universe;
use super::version;

/// Resolves the closure of `roots` (package names, `name (>= v)` relations or `name=version`
/// pins), leaving out `exclude` (counted as satisfied). Sorted by name.
pub fn resolve(u: &Universe, roots: &[String], exclude: &[String]) -> Result<Vec<Package>> {
    let mut r = Resolver {
        u,
        exclude: exclude.iter().map(String::as_str).collect(),
        chosen: BTreeMap::new(),
        needed_by: BTreeMap::new(),
        queue: VecDeque::new(),
    };
    for root in roots {
        let rel = parse_root(root)?;
        if r.exclude.contains(rel.name.as_str()) {
            continue;
        }
        if r.satisfied_by_chosen(&rel) {
            continue;
        }
        let cands = r.candidates(&rel);
        let Some(p) = cands.into_iter().find(|p| !r.chosen.contains_key(&p.name)) else {
            bail!("unknown package {rel}: {}", r.why_none(&rel));
        };
        r.choose(p, None);
    }
    while let Some(name) = r.queue.pop_front() {
        let pkg = r.chosen[&name];
        for group in pkg.pre_depends.iter().chain(&pkg.depends) {
            r.satisfy(group, pkg)?;
        }
    }
    Ok(r.chosen.into_values().cloned().collect())
}

/// `name`, `name (>= 1)`, or `name=1.2-3` (an exact pin, as apt-get accepts).
fn parse_root(root: &str) -> Result<Relation> {
    if let Some((name, ver)) = root.split_once('=').filter(|(n, _)| !n.contains(['(', ' '])) {
        let mut rel = parse_one_name(name.trim(), root)?;
        version::Version::parse(ver.trim()).with_context(|| format!("invalid version in {root:?}"))?;
        rel.version = Some((Op::Eq, ver.trim().to_string()));
        return Ok(rel);
    }
    parse_one_name(root, root)
}

fn parse_one_name(text: &str, root: &str) -> Result<Relation> {
    let groups = parse_relations(text).with_context(|| format!("invalid package request {root:?}"))?;
    match &groups[..] {
        [group] if group.len() == 1 => Ok(group[0].clone()),
        _ => bail!("invalid package request {root:?}: name one package"),
    }
}

struct Resolver<'a> {
    u: &'a Universe,
    exclude: BTreeSet<&'a str>,
    chosen: BTreeMap<String, &'a Package>,
    /// Who first needed each chosen package (absent for roots).
    needed_by: BTreeMap<String, String>,
    queue: VecDeque<String>,
}

impl<'a> Resolver<'a> {
    fn choose(&mut self, p: &'a Package, by: Option<&Package>) {
        self.chosen.insert(p.name.clone(), p);
        if let Some(by) = by {
            self.needed_by.insert(p.name.clone(), by.name.clone());
        }
        self.queue.push_back(p.name.clone());
    }

    /// Packages that satisfy `rel`: real packages (newest first), then providers.
    fn candidates(&self, rel: &Relation) -> Vec<&'a Package> {
        let mut out: Vec<&'a Package> =
            self.u.get(&rel.name).into_iter().filter(|p| rel.version_satisfied_by(&p.version)).collect();
        let mut provs: Vec<&'a Package> = self
            .u
            .providers(&rel.name)
            .into_iter()
            .filter(|(_, provided)| match (&rel.version, provided) {
                (None, _) => true,
                // An unversioned Provides never satisfies a versioned relation (Policy 7.5).
                (Some(_), None) => false,
                (Some((op, want)), Some(have)) => op.holds(have, want),
            })
            .map(|(p, _)| p)
            .collect();
        provs.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| version::compare(&b.version, &a.version)));
        out.extend(provs);
        out
    }

    fn satisfied_by_chosen(&self, rel: &Relation) -> bool {
        if self.chosen.get(&rel.name).is_some_and(|p| rel.version_satisfied_by(&p.version)) {
            return true;
        }
        self.candidates(rel).iter().any(|c| self.chosen.get(&c.name).is_some_and(|p| std::ptr::eq(*p, *c)))
    }

    fn excluded(&self, rel: &Relation) -> bool {
        self.exclude.contains(rel.name.as_str())
            || self.candidates(rel).iter().any(|c| self.exclude.contains(c.name.as_str()))
    }

    fn satisfy(&mut self, group: &[Relation], by: &'a Package) -> Result<()> {
        let alts: Vec<&Relation> = group.iter().filter(|r| r.applies_to_arch(&self.u.arch)).collect();
        if alts.is_empty() || alts.iter().any(|r| self.excluded(r)) || alts.iter().any(|r| self.satisfied_by_chosen(r))
        {
            return Ok(());
        }
        for rel in &alts {
            if let Some(p) = self.candidates(rel).into_iter().find(|p| !self.chosen.contains_key(&p.name)) {
                self.choose(p, Some(by));
                return Ok(());
            }
        }
        let wanted = alts.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" | ");
        let why = alts.iter().map(|r| self.why_none(r)).collect::<Vec<_>>().join("; ");
        bail!("{wanted} needed by {}: {why}", self.chain(&by.name))
    }

    /// Why `rel` has no usable candidate: nothing by that name, only other versions, or the
    /// name is taken by a version chosen for someone else.
    fn why_none(&self, rel: &Relation) -> String {
        let suites = self.u.suites.join(", ");
        if let Some(p) = self.chosen.get(&rel.name)
            && !rel.version_satisfied_by(&p.version)
        {
            let by = self.needed_by.get(&p.name).map(|n| self.chain(n)).unwrap_or_else(|| "the request".into());
            return format!("{} {} is already chosen (needed by {by}) and does not satisfy {rel}", p.name, p.version);
        }
        let others: Vec<String> =
            self.u.get(&rel.name).iter().map(|p| format!("{} in {}", p.version, p.suite)).collect();
        if others.is_empty() {
            format!("no candidate for {} in {suites} ({})", rel.name, self.u.arch)
        } else {
            format!("no candidate in {suites} (available: {} {})", rel.name, others.join(", "))
        }
    }

    /// `python3.11-minimal <- python3.11 <- python3`.
    fn chain(&self, name: &str) -> String {
        let mut out = vec![name.to_string()];
        let mut cur = name;
        while let Some(parent) = self.needed_by.get(cur) {
            if out.len() > 64 || out.iter().any(|n| n == parent) {
                break;
            }
            out.push(parent.clone());
            cur = parent;
        }
        out.join(" <- ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::control;

    /// A universe from compact Packages text; fills in the fields the resolver does not read.
    fn universe(suites: &[(&str, &str)]) -> Universe {
        let mut u = Universe::new("amd64");
        for (suite, text) in suites {
            let mut pkgs = Vec::new();
            for p in control::parse(text).unwrap() {
                let mut full = p.clone();
                if p.get("Architecture").is_none() {
                    full.push("Architecture", "amd64");
                }
                full.push("Filename", format!("pool/{}.deb", p.get("Package").unwrap()));
                full.push("Size", "1");
                full.push("SHA256", "0".repeat(64));
                pkgs.push(Package::from_paragraph(&full, "http://m.example", suite).unwrap());
            }
            u.add(suite, pkgs);
        }
        u
    }

    fn names(v: &[Package]) -> Vec<String> {
        v.iter().map(|p| format!("{}={}", p.name, p.version)).collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const BASE: &str = "\
Package: app
Version: 1
Depends: libc6 (>= 2.36), awk, mail-transport-agent | exim4, debconf (>= 0.5) | debconf-2.0
Pre-Depends: libfoo:any

Package: libc6
Version: 2.36-9

Package: mawk
Version: 1.3
Provides: awk

Package: exim4
Version: 4.9
Provides: mail-transport-agent

Package: postfix
Version: 3.7
Provides: mail-transport-agent

Package: libfoo
Version: 1.0
Architecture: all
Depends: libc6

Package: other-arch
Version: 1
Architecture: arm64
";

    #[test]
    fn alternatives_provides_newest_across_suites() {
        let u = universe(&[("bookworm", BASE), ("bookworm-security", "Package: libc6\nVersion: 2.36-9+deb12u10\n")]);
        let got = resolve(&u, &s(&["app"]), &s(&["debconf"])).unwrap();
        assert_eq!(names(&got), ["app=1", "exim4=4.9", "libc6=2.36-9+deb12u10", "libfoo=1.0", "mawk=1.3"]);
        assert_eq!(got[2].suite, "bookworm-security");
        assert!(u.get("other-arch").is_empty());
    }

    #[test]
    fn prefers_an_already_chosen_provider() {
        let u = universe(&[("bookworm", BASE)]);
        let got = resolve(&u, &s(&["postfix", "app"]), &s(&["debconf"])).unwrap();
        assert!(names(&got).contains(&"postfix=3.7".to_string()));
        assert!(!got.iter().any(|p| p.name == "exim4"));
    }

    #[test]
    fn excluded_virtual_and_pins() {
        let u = universe(&[("bookworm", BASE), ("bookworm-security", "Package: libc6\nVersion: 2.36-9+deb12u10\n")]);
        // Excluding mawk satisfies `awk` (its only provider is excluded).
        let got = resolve(&u, &s(&["app", "libc6=2.36-9"]), &s(&["debconf", "mawk"])).unwrap();
        assert!(!got.iter().any(|p| p.name == "mawk"));
        assert!(names(&got).contains(&"libc6=2.36-9".to_string()));
    }

    #[test]
    fn versioned_provides() {
        let u = universe(&[(
            "bookworm",
            "Package: a\nVersion: 1\nDepends: v (>= 2)\n\nPackage: p1\nVersion: 1\nProvides: v\n\n\
             Package: p2\nVersion: 1\nProvides: v (= 3)\n",
        )]);
        assert_eq!(names(&resolve(&u, &s(&["a"]), &[]).unwrap()), ["a=1", "p2=1"]);
    }

    #[test]
    fn unknown_and_unsatisfiable_name_the_chain() {
        let u = universe(&[(
            "bookworm",
            "Package: top\nVersion: 1\nDepends: mid\n\nPackage: mid\nVersion: 1\nDepends: libfoo (>= 2) | libbar\n\n\
             Package: libfoo\nVersion: 1.5\n",
        )]);
        let e = resolve(&u, &s(&["nosuch"]), &[]).unwrap_err().to_string();
        assert!(e.contains("unknown package nosuch") && e.contains("bookworm"), "{e}");
        let e = resolve(&u, &s(&["top"]), &[]).unwrap_err().to_string();
        assert!(e.starts_with("libfoo (>= 2) | libbar needed by mid <- top: "), "{e}");
        assert!(e.contains("available: libfoo 1.5 in bookworm"), "{e}");
        // Excluding the missing one makes it resolvable.
        assert_eq!(names(&resolve(&u, &s(&["top"]), &s(&["libbar"])).unwrap()), ["mid=1", "top=1"]);
    }

    #[test]
    fn version_conflict_is_explained() {
        let u = universe(&[
            (
                "bookworm",
                "Package: a\nVersion: 1\nDepends: c (<< 2)\n\nPackage: b\nVersion: 1\nDepends: c (>= 2)\n\nPackage: c\nVersion: 1\n",
            ),
            ("bookworm-updates", "Package: c\nVersion: 2\n"),
        ]);
        let e = resolve(&u, &s(&["a", "b"]), &[]).unwrap_err().to_string();
        assert!(e.contains("c 1 is already chosen (needed by a)"), "{e}");
    }
}
