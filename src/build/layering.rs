//! Layering: how the Debian packages of an image and the files the builder makes for them are cut
//! into layers, so that a security update of one package changes one small layer, shared by every
//! image that has that package, rather than one system layer per image.
//!
//! A registry and a node hold layers by the digest of their bytes: a layer whose bytes did not
//! change is not pulled again, whatever changed below or above it. So the cut is by what changes
//! together:
//!
//! With a budget of one (`layers: 1` in the spec) everything is one layer, as before layering.
//! Otherwise:
//!
//! - **One layer per package** for the largest packages (by the bytes of their files in the
//!   image), at most `layers - 2` of them: `libc6`, `libssl3`, `tzdata`, a JDK. Such a layer holds
//!   the package's files, the `status.d` files that declare it (which name its version), and the
//!   directories above them, and nothing that depends on the image: the same package pruned by the
//!   same rules gives the same bytes in every image (files dated build::FILE_MTIME, same order),
//!   hence one blob.
//! - **One layer for the smaller packages** (the rest, together: their sum is small, so updating
//!   any of them costs little).
//! - **One layer for what the builder makes**: accounts, `/etc/os-release`, `/etc/ld.so.cache`,
//!   the merged-/usr links, `/tmp`. It is small and depends on the image's set of packages.
//!
//! Files the builder derives from one package go with that package: the CA bundle
//! (`/etc/ssl/certs/ca-certificates.crt` and its OpenSSL links) with `ca-certificates`,
//! `/etc/localtime` and `/etc/timezone` with `tzdata`. Layers are ordered by package name, then
//! the smaller packages, then the builder's: deterministic, and unrelated to sizes that an update
//! may change.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use crate::rootfs::{Entry, Node, Origin, Tree};
use crate::spec::{MAX_LAYERS, MIN_LAYERS};

use super::assemble::Layer;

/// Who a path belongs to, for layering.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Package(String),
    Builder,
}

/// Files the builder makes from one package's content: they change when it does.
fn derived_from(key: &str) -> Option<&'static str> {
    match key {
        "etc/ssl/certs/ca-certificates.crt" | "usr/lib/ssl/cert.pem" | "usr/lib/ssl/certs" => Some("ca-certificates"),
        "etc/localtime" | "etc/timezone" => Some("tzdata"),
        _ => None,
    }
}

fn group_of(key: &str, entry: &Entry) -> Group {
    if let Origin::Deb(p) = &entry.origin {
        return Group::Package(p.to_string());
    }
    if let Some(status) = key.strip_prefix("var/lib/dpkg/status.d/") {
        let name = status.strip_suffix(".md5sums").unwrap_or(status);
        if !name.is_empty() && !name.contains('/') {
            return Group::Package(name.to_string());
        }
    }
    match derived_from(key) {
        Some(p) => Group::Package(p.to_string()),
        None => Group::Builder,
    }
}

/// Cuts `delta` (what an image's packages and builder add over its parent) into at most `budget`
/// layers (see the module comment). `versions` maps package names to versions, for the history.
pub fn split(delta: &Tree, budget: usize, versions: &BTreeMap<String, String>, image: &str) -> Result<Vec<Layer>> {
    let budget = budget.clamp(MIN_LAYERS, MAX_LAYERS);
    if budget == 1 {
        let count = versions.len();
        return Ok(vec![Layer {
            tree: delta.clone(),
            created_by: format!("lucid: {count} Debian packages and the builder's files ({image})"),
        }]);
    }
    // Every entry but directories goes to its group; a directory goes with whatever it holds,
    // and to its own origin's group only when it holds nothing of this delta.
    let mut groups: BTreeMap<Group, Vec<&str>> = BTreeMap::new();
    let mut bytes: BTreeMap<Group, u64> = BTreeMap::new();
    let mut held: BTreeSet<&str> = BTreeSet::new();
    for (key, entry) in delta.iter() {
        if matches!(entry.node, Node::Dir) {
            continue;
        }
        let group = group_of(key, entry);
        if let Node::File(data) = &entry.node {
            *bytes.entry(group.clone()).or_default() += data.len() as u64;
        }
        groups.entry(group).or_default().push(key);
        held.extend(key.match_indices('/').map(|(i, _)| &key[..i]));
    }
    for (key, entry) in delta.iter() {
        if matches!(entry.node, Node::Dir) && !held.contains(key.as_str()) {
            groups.entry(group_of(key, entry)).or_default().push(key);
        }
    }

    // The largest packages get their own layer; with more packages than that, the rest share one.
    let mut packages: Vec<&str> =
        groups.keys().filter_map(|g| if let Group::Package(p) = g { Some(p.as_str()) } else { None }).collect();
    let fits = packages.len() < budget;
    packages.sort_by(|a, b| {
        let size = |p: &str| bytes.get(&Group::Package(p.to_string())).copied().unwrap_or(0);
        size(b).cmp(&size(a)).then_with(|| a.cmp(b))
    });
    // Over budget: one layer goes to the smaller packages, one to the builder's files.
    let own_count = if fits { packages.len() } else { budget - 2 };
    let mut own: Vec<&str> = packages[..own_count].to_vec();
    let rest: Vec<&str> = packages[own_count..].to_vec();
    own.sort();

    let version = |p: &str| versions.get(p).map(|v| format!(" {v}")).unwrap_or_default();
    let mut layers = Vec::new();
    for p in &own {
        let keys = &groups[&Group::Package(p.to_string())];
        layers.push(Layer {
            tree: with_parents(delta, keys.iter().copied())?,
            created_by: format!("lucid: Debian package {p}{}", version(p)),
        });
    }
    if !rest.is_empty() {
        let keys = rest.iter().flat_map(|p| groups[&Group::Package(p.to_string())].iter().copied());
        layers.push(Layer {
            tree: with_parents(delta, keys)?,
            created_by: format!("lucid: {} smaller Debian packages ({})", rest.len(), rest.join(", ")),
        });
    }
    if let Some(keys) = groups.get(&Group::Builder) {
        layers.push(Layer {
            tree: with_parents(delta, keys.iter().copied())?,
            created_by: format!("lucid: accounts, system files and indexes the builder made ({image})"),
        });
    }
    Ok(layers)
}

/// The entries `keys` of `delta` with the directories above them that `delta` holds.
fn with_parents<'a>(delta: &Tree, keys: impl Iterator<Item = &'a str>) -> Result<Tree> {
    let mut out = Tree::new();
    for key in keys {
        for dir in key.match_indices('/').map(|(i, _)| &key[..i]) {
            if !out.contains(dir)
                && let Some(e) = delta.get(dir)
            {
                out.insert(dir, e.clone())?;
            }
        }
        if let Some(e) = delta.get(key) {
            out.insert(key, e.clone())?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn deb(p: &str, size: usize) -> Entry {
        Entry::file(vec![b'x'; size], 0o644).from_origin(Origin::Deb(Arc::from(p)))
    }

    fn tree(entries: &[(&str, Entry)]) -> Tree {
        let mut t = Tree::new();
        for (k, e) in entries {
            for dir in k.match_indices('/').map(|(i, _)| &k[..i]) {
                if !t.contains(dir) {
                    t.insert(dir, Entry::dir(0o755)).unwrap();
                }
            }
            t.insert(k, e.clone()).unwrap();
        }
        t
    }

    fn keys(t: &Tree) -> Vec<String> {
        t.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn packages_and_what_derives_from_them_share_a_layer_and_the_rest_is_the_builders() {
        let delta = tree(&[
            ("usr/lib/libc.so.6", deb("libc6", 1000)),
            ("usr/share/ca-certificates/a.crt", deb("ca-certificates", 10)),
            ("etc/ssl/certs/ca-certificates.crt", Entry::file("pem", 0o644)),
            ("usr/share/zoneinfo/Etc/UTC", deb("tzdata", 100)),
            ("etc/localtime", Entry::symlink("/usr/share/zoneinfo/Etc/UTC")),
            ("var/lib/dpkg/status.d/libc6", Entry::file("Package: libc6", 0o644)),
            ("var/lib/dpkg/status.d/libc6.md5sums", Entry::file("x", 0o644)),
            ("etc/passwd", Entry::file("root", 0o644)),
            ("tmp", Entry::dir(0o1777)),
        ]);
        let versions = BTreeMap::from([("libc6".to_string(), "2.36".to_string())]);
        let layers = split(&delta, 8, &versions, "img").unwrap();
        let by: Vec<&str> = layers.iter().map(|l| l.created_by.as_str()).collect();
        assert_eq!(
            by,
            [
                "lucid: Debian package ca-certificates",
                "lucid: Debian package libc6 2.36",
                "lucid: Debian package tzdata",
                "lucid: accounts, system files and indexes the builder made (img)"
            ]
        );
        assert_eq!(
            keys(&layers[0].tree),
            [
                "etc",
                "etc/ssl",
                "etc/ssl/certs",
                "etc/ssl/certs/ca-certificates.crt",
                "usr",
                "usr/share",
                "usr/share/ca-certificates",
                "usr/share/ca-certificates/a.crt"
            ]
        );
        assert_eq!(
            keys(&layers[1].tree),
            [
                "usr",
                "usr/lib",
                "usr/lib/libc.so.6",
                "var",
                "var/lib",
                "var/lib/dpkg",
                "var/lib/dpkg/status.d",
                "var/lib/dpkg/status.d/libc6",
                "var/lib/dpkg/status.d/libc6.md5sums"
            ]
        );
        assert_eq!(keys(&layers[3].tree), ["etc", "etc/passwd", "tmp"]);
        // Every entry of the delta is in some layer.
        let all: BTreeSet<String> = layers.iter().flat_map(|l| keys(&l.tree)).collect();
        assert_eq!(all, keys(&delta).into_iter().collect());
    }

    #[test]
    fn over_budget_the_smallest_packages_share_one_layer() {
        let delta = tree(&[
            ("a/big", deb("big", 500)),
            ("a/mid", deb("mid", 300)),
            ("a/small", deb("small", 10)),
            ("a/tiny", deb("tiny", 1)),
            ("etc/passwd", Entry::file("root", 0o644)),
        ]);
        let layers = split(&delta, 4, &BTreeMap::new(), "img").unwrap();
        let by: Vec<&str> = layers.iter().map(|l| l.created_by.as_str()).collect();
        assert_eq!(
            by,
            [
                "lucid: Debian package big",
                "lucid: Debian package mid",
                "lucid: 2 smaller Debian packages (small, tiny)",
                "lucid: accounts, system files and indexes the builder made (img)"
            ]
        );
        assert_eq!(split(&delta, 5, &BTreeMap::new(), "img").unwrap().len(), 5);
        // Two: the packages, then the builder's files; one: everything together.
        assert_eq!(split(&delta, 2, &BTreeMap::new(), "img").unwrap().len(), 2);
        let one = split(&delta, 1, &BTreeMap::new(), "img").unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(keys(&one[0].tree), keys(&delta));
        assert_eq!(split(&delta, 0, &BTreeMap::new(), "img").unwrap().len(), 1);
    }

    #[test]
    fn a_package_layer_does_not_depend_on_the_other_packages() {
        let one = tree(&[("usr/lib/libc.so.6", deb("libc6", 1000)), ("usr/lib/libz.so", deb("zlib1g", 100))]);
        let two = tree(&[("usr/lib/libc.so.6", deb("libc6", 1000)), ("usr/bin/java", deb("jdk", 5000))]);
        let libc = |t: &Tree| {
            split(t, 8, &BTreeMap::new(), "img")
                .unwrap()
                .into_iter()
                .find(|l| l.created_by.ends_with("libc6"))
                .unwrap()
                .tree
                .iter()
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(libc(&one), libc(&two));
    }
}
