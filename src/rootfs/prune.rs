//! Pruning: drop what an image does not need (docs, man pages, test suites...) by the glob rules
//! of the spec, keeping what the `keep` rules name (every copyright file, for licence compliance).

use anyhow::{Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};

use super::tree::{Node, Tree};
use crate::spec::Prune;

/// What a prune pass removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneStats {
    pub entries: usize,
    pub bytes: u64,
}

/// The patterns of a spec's path list (prune rules, `compile_skip`), matched against tree keys.
pub fn globset(patterns: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p.trim_start_matches('/')).with_context(|| format!("bad path pattern {p:?}"))?);
    }
    Ok(b.build()?)
}

/// Removes every entry matching a `remove` pattern unless it matches a `keep` pattern. A
/// directory matched by `remove` keeps whatever is kept below it (and itself, then). Only
/// entries for which `consider` is true are candidates, so an image extending another can prune
/// what it added without touching what it inherited.
pub fn prune(tree: &mut Tree, rules: &Prune, consider: impl Fn(&str) -> bool) -> Result<PruneStats> {
    let remove = globset(&rules.remove)?;
    let keep = globset(&rules.keep)?;
    let kept: Vec<String> = tree.iter().filter(|(k, _)| keep.is_match(k.as_str())).map(|(k, _)| k.clone()).collect();
    let mut doomed: Vec<String> = Vec::new();
    for (k, e) in tree.iter() {
        if !consider(k) || !remove.is_match(k.as_str()) || keep.is_match(k.as_str()) {
            continue;
        }
        let prefix = format!("{k}/");
        if matches!(e.node, Node::Dir) && kept.iter().any(|x| x.starts_with(&prefix)) {
            continue;
        }
        doomed.push(k.clone());
    }
    let mut stats = PruneStats::default();
    for k in doomed {
        if let Some(e) = tree.get(&k) {
            stats.bytes += e.size() + tree.iter_under(&k).map(|(_, e)| e.size()).sum::<u64>();
            stats.entries += tree.remove(&k);
        }
    }
    // Dangling symlinks left by pruning (for example a doc link into a removed directory).
    let dangling: Vec<String> = tree
        .iter()
        .filter(|(k, e)| consider(k) && matches!(e.node, Node::Symlink(_)) && remove.is_match(k.as_str()))
        .map(|(k, _)| k.clone())
        .filter(|k| tree.resolve(k).is_none())
        .collect();
    for k in dangling {
        stats.entries += tree.remove(&k);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::Entry;

    #[test]
    fn keeps_copyright() {
        let mut t = Tree::new();
        t.insert("usr/share/doc/a/copyright", Entry::file("c", 0o644)).unwrap();
        t.insert("usr/share/doc/a/changelog.gz", Entry::file("xxxx", 0o644)).unwrap();
        t.insert("usr/share/doc/b/README", Entry::file("rr", 0o644)).unwrap();
        t.insert("usr/share/man/man1/x.1.gz", Entry::file("m", 0o644)).unwrap();
        t.insert("usr/lib/python3.11/test/t.py", Entry::file("t", 0o644)).unwrap();
        let rules = Prune {
            remove: vec!["usr/share/doc/**".into(), "usr/share/man".into(), "usr/lib/python3.11/test".into()],
            keep: vec!["usr/share/doc/*/copyright".into()],
        };
        let s = prune(&mut t, &rules, |k| !k.starts_with("usr/lib")).unwrap();
        assert_eq!(s.bytes, 7);
        let keys: Vec<_> = t.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"usr/share/doc/a/copyright"));
        assert!(!keys.contains(&"usr/share/doc/b"));
        assert!(!keys.contains(&"usr/share/man"));
        assert!(keys.contains(&"usr/lib/python3.11/test/t.py"));
    }
}
