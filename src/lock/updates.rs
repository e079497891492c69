//! What a fresh resolution would change in a lock, package by package: `lucid outdated` and
//! `lucid lock --upgrade` print it, and the build's changelog is made from it.
//!
//! Debian ships security fixes in its `-security` suites (`bookworm-security`), point-release
//! fixes in the release itself and `-updates`: an update is marked a security update when the
//! suite of its new version is a security suite. Packages the fresh resolution no longer needs,
//! or newly needs (a dependency that changed), are listed too.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Lock, LockedPackage};

/// One package version change, with every image and platform it affects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Update {
    /// `deb` (a Debian package or build tool) or `wheel`.
    pub kind: &'static str,
    pub package: String,
    /// The locked version; `None` when only the new resolution has the package.
    pub old: Option<String>,
    /// The version a fresh resolution picks; `None` when it no longer needs the package.
    pub new: Option<String>,
    /// The suite of the new version (of the old one, when the package goes).
    pub suite: String,
    /// The new version comes from a security suite.
    pub security: bool,
    /// `IMAGE (PLATFORM)`, sorted; `(tool)` marks a build tool (a JDK that makes the runtime).
    pub affected: Vec<String>,
}

/// Whether `suite` is one of Debian's security suites (`bookworm-security`, `trixie-security`).
pub fn is_security_suite(suite: &str) -> bool {
    suite.ends_with("-security") || suite == "security"
}

/// Every package whose version differs between `old` and `new`, by package name, then versions.
pub fn updates(old: &Lock, new: &Lock) -> Vec<Update> {
    type Key = (&'static str, String, Option<String>, Option<String>);
    let mut found: BTreeMap<Key, (String, Vec<String>)> = BTreeMap::new();
    let images: std::collections::BTreeSet<(&String, &String)> = old
        .images
        .iter()
        .chain(&new.images)
        .flat_map(|(image, platforms)| platforms.keys().map(move |p| (image, p)))
        .collect();
    for (image, platform) in images {
        let lists = |lock: &Lock| -> [(bool, BTreeMap<String, LockedPackage>); 2] {
            let l = lock.images.get(image).and_then(|m| m.get(platform));
            let by_name = |v: Option<&Vec<LockedPackage>>| {
                v.map(|v| v.iter().map(|p| (p.name.clone(), p.clone())).collect()).unwrap_or_default()
            };
            [(false, by_name(l.map(|l| &l.packages))), (true, by_name(l.map(|l| &l.tools)))]
        };
        for ((tool, a), (_, b)) in lists(old).into_iter().zip(lists(new)) {
            let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for name in names {
                let (was, now) = (a.get(name), b.get(name));
                if was.map(|p| &p.version) == now.map(|p| &p.version) {
                    continue;
                }
                let suite = now.or(was).map(|p| p.suite.clone()).unwrap_or_default();
                let key = ("deb", name.clone(), was.map(|p| p.version.clone()), now.map(|p| p.version.clone()));
                let entry = found.entry(key).or_insert_with(|| (suite, Vec::new()));
                let tag = if tool { " (tool)" } else { "" };
                entry.1.push(format!("{image} ({platform}){tag}"));
            }
        }
        // Wheels are pinned by requirements.txt's hashes: they change with it, never by themselves.
        let wheels = |lock: &Lock| -> BTreeMap<String, String> {
            lock.images
                .get(image)
                .and_then(|m| m.get(platform))
                .map(|l| l.wheels.iter().map(|w| (w.name.clone(), w.version.clone())).collect())
                .unwrap_or_default()
        };
        let (a, b) = (wheels(old), wheels(new));
        for name in a.keys().chain(b.keys()).collect::<std::collections::BTreeSet<_>>() {
            let (was, now) = (a.get(name), b.get(name));
            if was != now {
                let key = ("wheel", name.clone(), was.cloned(), now.cloned());
                found
                    .entry(key)
                    .or_insert_with(|| ("pypi".to_string(), Vec::new()))
                    .1
                    .push(format!("{image} ({platform})"));
            }
        }
    }
    found
        .into_iter()
        .map(|((kind, package, old, new), (suite, mut affected))| {
            affected.sort();
            affected.dedup();
            let security = kind == "deb" && new.is_some() && is_security_suite(&suite);
            Update { kind, package, old, new, suite, security, affected }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::ImageLock;

    fn pkg(name: &str, version: &str, suite: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            suite: suite.into(),
            filename: format!("pool/{name}_{version}.deb"),
            size: 1,
            sha256: "0".repeat(64),
        }
    }

    fn lock(images: &[(&str, &str, Vec<LockedPackage>)]) -> Lock {
        let mut l = Lock {
            version: 1,
            inputs: String::new(),
            source_date_epoch: 0,
            releases: BTreeMap::new(),
            images: BTreeMap::new(),
        };
        for (image, platform, packages) in images {
            l.images
                .entry(image.to_string())
                .or_default()
                .insert(platform.to_string(), ImageLock { packages: packages.clone(), ..Default::default() });
        }
        l
    }

    #[test]
    fn security_updates_upgrades_and_dependency_changes() {
        let old = lock(&[
            ("base", "linux/amd64", vec![pkg("libssl3", "3.0.1-1", "bookworm"), pkg("tzdata", "2024a-0", "bookworm")]),
            ("base", "linux/arm64", vec![pkg("libssl3", "3.0.1-1", "bookworm"), pkg("tzdata", "2024a-0", "bookworm")]),
        ]);
        let new = lock(&[
            (
                "base",
                "linux/amd64",
                vec![
                    pkg("libssl3", "3.0.1-1+deb12u1", "bookworm-security"),
                    pkg("tzdata", "2024b-0", "bookworm-updates"),
                    pkg("libnew", "1", "bookworm"),
                ],
            ),
            (
                "base",
                "linux/arm64",
                vec![pkg("libssl3", "3.0.1-1+deb12u1", "bookworm-security"), pkg("tzdata", "2024a-0", "bookworm")],
            ),
        ]);
        let u = updates(&old, &new);
        assert_eq!(u.len(), 3, "{u:#?}");
        let ssl = u.iter().find(|x| x.package == "libssl3").unwrap();
        assert!(ssl.security);
        assert_eq!(ssl.affected, ["base (linux/amd64)", "base (linux/arm64)"]);
        let tz = u.iter().find(|x| x.package == "tzdata").unwrap();
        assert!(!tz.security && tz.affected == ["base (linux/amd64)"]);
        let added = u.iter().find(|x| x.package == "libnew").unwrap();
        assert!(added.old.is_none() && added.new.as_deref() == Some("1"));
        assert!(updates(&old, &old).is_empty());
        assert!(is_security_suite("trixie-security") && !is_security_suite("trixie-updates"));
    }
}
