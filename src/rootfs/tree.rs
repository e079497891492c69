//! The in-memory root filesystem that every build assembles before it becomes a layer.
//!
//! Nothing a package ships is ever written onto the host: `.deb` data, wheels and the files the
//! builder makes all land here first, so pruning, accounting and layer writing see one consistent
//! view and a failed build leaves nothing behind. Paths are kept relative (`usr/bin/python3`), in a
//! `BTreeMap`, so iteration is sorted and parents always come before their children.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Result, bail};

/// What a path is. Hard links from packages are stored as a second [`Node::File`] sharing the same
/// bytes (cheap: the data is reference-counted), which keeps pruning simple: removing one name can
/// never leave another dangling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Arc<Vec<u8>>),
    Symlink(String),
}

/// Where an entry came from: a Debian package, a wheel, the Java runtime, or the builder itself.
/// Reports use it to count bytes per package; the layer writer ignores it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Origin {
    #[default]
    Builder,
    Deb(Arc<str>),
    Wheel(Arc<str>),
    Java(Arc<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub node: Node,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask), without the file type.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub origin: Origin,
}

impl Entry {
    pub fn dir(mode: u32) -> Entry {
        Entry { node: Node::Dir, mode, uid: 0, gid: 0, origin: Origin::Builder }
    }
    pub fn file(data: impl Into<Vec<u8>>, mode: u32) -> Entry {
        Entry { node: Node::File(Arc::new(data.into())), mode, uid: 0, gid: 0, origin: Origin::Builder }
    }
    pub fn symlink(target: impl Into<String>) -> Entry {
        Entry { node: Node::Symlink(target.into()), mode: 0o777, uid: 0, gid: 0, origin: Origin::Builder }
    }
    pub fn owned(mut self, uid: u32, gid: u32) -> Entry {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn from_origin(mut self, origin: Origin) -> Entry {
        self.origin = origin;
        self
    }
    /// Bytes of file content (0 for directories and links).
    pub fn size(&self) -> u64 {
        match &self.node {
            Node::File(d) => d.len() as u64,
            _ => 0,
        }
    }
}

/// Turns a path as found in an archive (`./usr/bin/x`, `/usr/bin/x`, `usr//bin/x/`) into the
/// canonical key `usr/bin/x`. Rejects `..` components and empty results, so a hostile archive can
/// never name anything outside the root.
pub fn normalize(path: &str) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => bail!("unsafe path {path:?}: contains '..'"),
            p if p.contains('\0') => bail!("unsafe path {path:?}: contains NUL"),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        bail!("empty path {path:?}");
    }
    Ok(parts.join("/"))
}

/// Parent key of a canonical key (`usr/bin/x` -> `usr/bin`), `None` at the top.
pub fn parent(key: &str) -> Option<&str> {
    key.rfind('/').map(|i| &key[..i])
}

#[derive(Clone, Debug, Default)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

/// How far [`Tree::resolve`] follows symbolic links before calling it a loop (Linux uses 40).
const MAX_SYMLINK_DEPTH: usize = 40;

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// A SHA-256 over a canonical walk of the tree: for every entry in path order, its path, kind,
    /// mode, owner, size and the SHA-256 of its content (or its link target). Two trees have the
    /// same digest exactly when a layer made from them would hold the same files, so a cache memo
    /// that records it can tell a directory it stored from one somebody changed since.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"lucid-tree-v1\0");
        for (key, e) in &self.entries {
            let (kind, body) = match &e.node {
                Node::Dir => ('d', String::new()),
                Node::File(data) => ('f', hex::encode(Sha256::digest(data.as_slice()))),
                Node::Symlink(target) => ('l', target.clone()),
            };
            // Lengths first, so no path or link target can forge the boundary between entries.
            let line = format!(
                "{}:{key}\0{kind}\0{:o}\0{}\0{}\0{}\0{}:{body}\n",
                key.len(),
                e.mode,
                e.uid,
                e.gid,
                e.size(),
                body.len()
            );
            h.update(line.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// Inserts an entry at `path` (any form [`normalize`] accepts), creating missing parent
    /// directories (0755, root). A directory inserted over an existing directory only updates its
    /// metadata; anything else replaces what was there (a later package wins, as with dpkg
    /// `Replaces`). Replacing a directory with a non-directory drops the directory's contents.
    pub fn insert(&mut self, path: &str, entry: Entry) -> Result<()> {
        let key = normalize(path)?;
        self.ensure_parents(&key)?;
        if let Some(old) = self.entries.get(&key)
            && old.node == Node::Dir
            && entry.node != Node::Dir
        {
            self.remove(&key);
        }
        self.entries.insert(key, entry);
        Ok(())
    }

    /// Inserts a directory only if nothing is at `path` yet (keeps a package's own mode/owner).
    pub fn ensure_dir(&mut self, path: &str, mode: u32, uid: u32, gid: u32) -> Result<()> {
        let key = normalize(path)?;
        if !self.entries.contains_key(&key) {
            self.insert(&key, Entry::dir(mode).owned(uid, gid))?;
        }
        Ok(())
    }

    fn ensure_parents(&mut self, key: &str) -> Result<()> {
        let mut idx = 0;
        while let Some(off) = key[idx..].find('/') {
            let dir = &key[..idx + off];
            match self.entries.get(dir).map(|e| &e.node) {
                None => {
                    self.entries.insert(dir.to_string(), Entry::dir(0o755));
                }
                Some(Node::Dir) => {}
                Some(Node::Symlink(_)) => {
                    bail!("cannot place {key:?}: its parent {dir:?} is a symbolic link")
                }
                Some(Node::File(_)) => bail!("cannot place {key:?}: its parent {dir:?} is a file"),
            }
            idx += off + 1;
        }
        Ok(())
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        normalize(path).ok().and_then(|k| self.entries.get(&k))
    }

    pub fn get_mut(&mut self, path: &str) -> Option<&mut Entry> {
        normalize(path).ok().and_then(move |k| self.entries.get_mut(&k))
    }

    pub fn contains(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// Removes `path` and, for a directory, everything below it. Returns the number of entries
    /// removed.
    pub fn remove(&mut self, path: &str) -> usize {
        let Ok(key) = normalize(path) else { return 0 };
        let prefix = format!("{key}/");
        let below: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        let mut n = below.len();
        for k in below {
            self.entries.remove(&k);
        }
        if self.entries.remove(&key).is_some() {
            n += 1;
        }
        n
    }

    /// Sorted iteration over `(key, entry)`; parents come before children.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Entry)> {
        self.entries.iter_mut()
    }

    /// Entries strictly below the directory `dir` (`""` for the whole tree).
    pub fn iter_under<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let prefix = if dir.is_empty() { String::new() } else { format!("{}/", dir.trim_matches('/')) };
        self.entries.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&prefix))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total bytes of file content.
    pub fn content_size(&self) -> u64 {
        self.entries.values().map(Entry::size).sum()
    }

    /// Keeps only the entries for which `keep` returns true (parents of kept entries are kept
    /// too, since `keep` sees parents first and a removed directory takes its children with it;
    /// callers that want to drop a directory's contents but keep the directory say so per path).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Entry) -> bool) -> usize {
        let before = self.entries.len();
        self.entries.retain(|k, e| keep(k, e));
        // Drop orphans whose parent directory went away.
        let orphans: Vec<String> =
            self.entries.keys().filter(|k| parent(k).is_some_and(|p| !self.entries.contains_key(p))).cloned().collect();
        for k in orphans {
            self.remove(&k);
        }
        before - self.entries.len()
    }

    /// Follows symbolic links (in every component, as the kernel would inside the image) and
    /// returns the canonical key of what `path` finally names, or `None` if it does not exist.
    /// Links are confined to the tree: `..` above the root stays at the root.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> =
            path.split('/').filter(|p| !p.is_empty() && *p != ".").map(str::to_string).collect();
        pending.reverse();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                cur.pop();
                continue;
            }
            cur.push(part);
            let key = cur.join("/");
            match &self.entries.get(&key)?.node {
                Node::Symlink(target) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_DEPTH {
                        return None;
                    }
                    cur.pop();
                    if target.starts_with('/') {
                        cur.clear();
                    }
                    for p in target.split('/').rev().filter(|p| !p.is_empty() && *p != ".") {
                        pending.push(p.to_string());
                    }
                }
                Node::File(_) if !pending.is_empty() => return None,
                _ => {}
            }
        }
        Some(cur.join("/"))
    }

    /// The content of the regular file `path` names after following links.
    pub fn read(&self, path: &str) -> Option<&Arc<Vec<u8>>> {
        let key = self.resolve(path)?;
        match &self.entries.get(&key)?.node {
            Node::File(d) => Some(d),
            _ => None,
        }
    }

    /// Moves every entry of `other` into `self`, later entries replacing earlier ones.
    pub fn merge(&mut self, other: Tree) -> Result<()> {
        for (k, e) in other.entries {
            self.insert(&k, e)?;
        }
        Ok(())
    }

    /// The entries of `self` that are new or different from `base`: what a layer on top of
    /// `base` must carry. Returns an error if `self` lost anything `base` has, since our images
    /// only ever add to the image they extend.
    pub fn delta_from(&self, base: &Tree) -> Result<Tree> {
        if let Some(k) = base.entries.keys().find(|k| !self.entries.contains_key(*k)) {
            bail!("the extending image removed {k:?} that its base image has");
        }
        let mut out = Tree::new();
        for (k, e) in &self.entries {
            if base.entries.get(k) != Some(e) {
                out.entries.insert(k.clone(), e.clone());
            }
        }
        // Keep the parent directories of changed entries so the layer is self-describing.
        let parents: Vec<String> = out.entries.keys().flat_map(|k| ancestors(k)).collect();
        for p in parents {
            if let Some(e) = self.entries.get(&p) {
                out.entries.entry(p).or_insert_with(|| e.clone());
            }
        }
        Ok(out)
    }
}

/// `usr/lib/x` -> [`usr`, `usr/lib`].
fn ancestors(key: &str) -> Vec<String> {
    key.match_indices('/').map(|(i, _)| key[..i].to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_rejects_escape() {
        assert_eq!(normalize("./usr//bin/x/").unwrap(), "usr/bin/x");
        assert_eq!(normalize("/etc/passwd").unwrap(), "etc/passwd");
        assert!(normalize("../x").is_err());
        assert!(normalize("usr/../../x").is_err());
        assert!(normalize("./").is_err());
    }

    #[test]
    fn insert_makes_parents_and_sorts() {
        let mut t = Tree::new();
        t.insert("usr/bin/python3.11", Entry::file(b"elf".to_vec(), 0o755)).unwrap();
        t.insert("usr/bin-x", Entry::file(b"".to_vec(), 0o644)).unwrap();
        let keys: Vec<_> = t.iter().map(|(k, _)| k.as_str()).collect();
        // Byte order: `-` sorts before `/`, and a parent still precedes its children.
        assert_eq!(keys, ["usr", "usr/bin", "usr/bin-x", "usr/bin/python3.11"]);
    }

    #[test]
    fn parent_symlink_is_refused() {
        let mut t = Tree::new();
        t.insert("lib", Entry::symlink("/etc")).unwrap();
        assert!(t.insert("lib/x", Entry::file(b"".to_vec(), 0o644)).is_err());
    }

    #[test]
    fn resolve_follows_links_inside_root() {
        let mut t = Tree::new();
        t.insert("usr/bin/python3.11", Entry::file(b"elf".to_vec(), 0o755)).unwrap();
        t.insert("usr/bin/python3", Entry::symlink("python3.11")).unwrap();
        t.insert("usr/local/bin/python", Entry::symlink("/usr/bin/python3")).unwrap();
        t.insert("etc/up", Entry::symlink("../../../usr/bin/python3")).unwrap();
        t.insert("loop", Entry::symlink("loop")).unwrap();
        assert_eq!(t.resolve("/usr/local/bin/python").as_deref(), Some("usr/bin/python3.11"));
        assert_eq!(t.resolve("etc/up").as_deref(), Some("usr/bin/python3.11"));
        assert_eq!(t.read("usr/local/bin/python").unwrap().as_slice(), b"elf");
        assert_eq!(t.resolve("loop"), None);
        assert_eq!(t.resolve("usr/bin/nothing"), None);
    }

    #[test]
    fn remove_and_delta() {
        let mut base = Tree::new();
        base.insert("usr/share/doc/a/copyright", Entry::file(b"c".to_vec(), 0o644)).unwrap();
        let mut t = base.clone();
        t.insert("usr/bin/sh", Entry::symlink("dash")).unwrap();
        let d = t.delta_from(&base).unwrap();
        let keys: Vec<_> = d.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["usr", "usr/bin", "usr/bin/sh"]);
        assert_eq!(t.remove("usr/share"), 4);
        assert!(t.delta_from(&base).is_err());
    }
}
