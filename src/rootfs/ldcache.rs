//! `/etc/ld.so.cache`, made from the tree as Debian 12's `ldconfig -X` (glibc 2.36) would make it.
//!
//! Why an image needs one: `ldconfig -p` prints the cache, and Python's
//! `ctypes.util.find_library('ssl')` parses that output, so without a cache it returns `None`;
//! `dlopen("libssl.so.3")` and ld.so's own lookups use it before searching default directories,
//! and a directory named only in `/etc/ld.so.conf.d` is found through it alone. No `ldconfig`
//! runs at build time: the builder runs no maintainer script, and an amd64 host cannot run an
//! arm64 `ldconfig`. So this module does what it does, over the in-memory tree:
//!
//! - directories: those `/etc/ld.so.conf` names (with its `include` globs), then the trusted ones
//!   Debian's `ldconfig` adds (`/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`, `/usr/lib`); one
//!   reached twice (through a link) is scanned once, under its first name;
//! - in each, the files and links named like a library (`lib*.so*`, `ld-*.so*`, `ld.so.*`,
//!   `ld64.so.*`) that are 64-bit little-endian ELF shared objects for the target machine with a
//!   readable dynamic section. A library is listed under its `DT_SONAME` (its file name without
//!   one), a link named after that soname or a development link (`libz.so`) under its own name,
//!   one entry per name and directory, at `<directory>/<name>`;
//! - sorted as `ldconfig` sorts them, since ld.so binary-searches the table and takes the first
//!   match: descending by glibc's `_dl_cache_libcmp` (digit runs compare as numbers, other bytes as
//!   the target's `char`: signed on x86-64, unsigned on AArch64), and among equal names in the
//!   order the directories were scanned, which gives the first directory precedence;
//! - written in the format glibc >= 2.32 writes by default: the new format alone
//!   (`glibc-ld.so.cache1.1`), little-endian, each string once and suffixes shared as glibc's
//!   `stringtable.c` lays them out. `ldconfig` adds an extension section holding its own version
//!   string, which neither ld.so nor `ldconfig -p` needs: these bytes are `ldconfig`'s up to where
//!   that section begins, with its offset 0.
//!
//! Left out, because no Debian 12 package needs them: `glibc-hwcaps` and legacy hwcap
//! subdirectories, 32-bit and a.out libraries, directories named by a relative path, ELF files
//! without section headers (this reads the dynamic section through them, `ldconfig` through the
//! program headers), and making a soname link that is missing (`ldconfig` would make it; here the
//! entry is skipped, since it would name nothing). Whatever is skipped comes back with its reason;
//! links are followed inside the tree only, and nothing here panics on a hostile tree.

use std::collections::{BTreeMap, BTreeSet};

use globset::GlobBuilder;

use super::tree::{Node, Tree};
use crate::formats::elf;
use crate::limits::MAX_PATH_BYTES;
use crate::platform::Platform;

/// Where the cache goes.
pub const PATH: &str = "etc/ld.so.cache";

/// The magic and version of glibc's new cache format.
const MAGIC: &[u8; 20] = b"glibc-ld.so.cache1.1";
/// `sizeof (struct cache_file_new)` and `sizeof (struct file_entry_new)`.
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;
/// Where the header keeps the offset of the extension section.
const EXTENSION_OFFSET_AT: usize = 32;
/// `cache_file_new_flags_endian_little`.
const LITTLE_ENDIAN: u8 = 2;
/// `FLAG_ELF_LIBC6`, `FLAG_X8664_LIB64`, `FLAG_AARCH64_LIB64`.
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_X8664_LIB64: i32 = 0x0300;
const FLAG_AARCH64_LIB64: i32 = 0x0a00;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const ET_DYN: u16 = 3;
/// `sizeof (Elf64_Ehdr)`: `ldconfig` does not look at a smaller file.
const ELF64_HEADER_LEN: usize = 64;
/// How deep `include` lines may nest (`ldconfig` has no limit and recurses until it runs out of
/// file descriptors on a loop, having added the same directories as this does).
const MAX_INCLUDE_DEPTH: usize = 8;
/// Entries at most: sorting is ldconfig's insertion sort, quadratic; Debian systems have hundreds.
const MAX_ENTRIES: usize = 10_000;

/// What `ldconfig` compiles in for one architecture.
struct Abi {
    triplet: String,
    machine: u16,
    flags: i32,
    signed_char: bool,
}

impl Abi {
    fn of(platform: &Platform) -> Abi {
        let machine = platform.machine();
        let (em, flag, signed_char) = match machine {
            "aarch64" => (EM_AARCH64, FLAG_AARCH64_LIB64, false),
            _ => (EM_X86_64, FLAG_X8664_LIB64, true),
        };
        Abi { triplet: format!("{machine}-linux-gnu"), machine: em, flags: FLAG_ELF_LIBC6 | flag, signed_char }
    }
}

/// A path left out of the cache, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: &'static str,
}

/// The cache of one tree: its entries in table order, and what was left out.
#[derive(Clone, Debug)]
pub struct LdCache {
    /// `(name, path)`: `("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6")`.
    pub entries: Vec<(String, String)>,
    /// Sorted by path.
    pub skipped: Vec<Skipped>,
    flags: i32,
}

/// Scans `tree` as `ldconfig` would for `platform` (see the module documentation).
pub fn build(tree: &Tree, platform: &Platform) -> LdCache {
    let mut scan = Scan { tree, abi: Abi::of(platform), skipped: BTreeSet::new() };
    let mut entries: Vec<(String, String)> = Vec::new();
    for (dir, key) in scan.directories() {
        for entry in scan.libraries(&dir, &key) {
            if entries.len() == MAX_ENTRIES {
                scan.skip(&entry.1, "more libraries than the cache takes");
                continue;
            }
            // ldconfig's add_to_cache: before the first entry whose name sorts after this one.
            let at = entries
                .iter()
                .position(|(name, _)| libcmp(entry.0.as_bytes(), name.as_bytes(), scan.abi.signed_char) > 0)
                .unwrap_or(entries.len());
            entries.insert(at, entry);
        }
    }
    let skipped = scan.skipped.into_iter().map(|(path, reason)| Skipped { path, reason }).collect();
    LdCache { entries, skipped, flags: scan.abi.flags }
}

impl LdCache {
    /// The file: header, entries, string table, as glibc's `save_cache` writes them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let strings: BTreeSet<&str> = self.entries.iter().flat_map(|(n, p)| [n.as_str(), p.as_str()]).collect();
        let (table, offsets) = string_table(&strings);
        // String indices count from the header's start, where ld.so's string table begins.
        let base = HEADER_LEN + ENTRY_LEN * self.entries.len();
        let index = |s: &str| u32_of(base + offsets[s]);
        let mut out = Vec::with_capacity(base + table.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&u32_of(self.entries.len()).to_le_bytes());
        out.extend_from_slice(&u32_of(table.len()).to_le_bytes());
        out.extend_from_slice(&[LITTLE_ENDIAN, 0, 0, 0]);
        // The extension offset (none), then three unused words.
        out.extend_from_slice(&[0; 16]);
        for (name, path) in &self.entries {
            out.extend_from_slice(&self.flags.to_le_bytes());
            out.extend_from_slice(&index(name).to_le_bytes());
            out.extend_from_slice(&index(path).to_le_bytes());
            // osversion (unused) and hwcap.
            out.extend_from_slice(&[0; 12]);
        }
        out.extend_from_slice(&table);
        out
    }
}

/// A cache `ldconfig` wrote, without its extension section (the version string of the
/// `ldconfig` that wrote it): the bytes [`LdCache::to_bytes`] gives for the same directories.
/// `None` when `cache` is not a new-format cache. Tests compare the two through this.
pub fn without_extension(cache: &[u8]) -> Option<Vec<u8>> {
    let word = |at: usize| cache.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    if !cache.starts_with(MAGIC) {
        return None;
    }
    let end = HEADER_LEN.checked_add(ENTRY_LEN.checked_mul(word(20)?)?)?.checked_add(word(24)?)?;
    let mut out = cache.get(..end)?.to_vec();
    out[EXTENSION_OFFSET_AT..EXTENSION_OFFSET_AT + 4].fill(0);
    Some(out)
}

/// A size that [`MAX_ENTRIES`] and [`MAX_PATH_BYTES`] (for directories and sonames) keep below
/// 200 MB.
fn u32_of(n: usize) -> u32 {
    u32::try_from(n).expect("cache offsets are bounded by MAX_ENTRIES and MAX_PATH_BYTES")
}

struct Scan<'a> {
    tree: &'a Tree,
    abi: Abi,
    /// Once each, though an include loop meets the same line many times.
    skipped: BTreeSet<(String, &'static str)>,
}

impl Scan<'_> {
    fn skip(&mut self, path: &str, reason: &'static str) {
        self.skipped.insert((path.to_string(), reason));
    }

    /// The directories to scan in order, each as named (`/lib/x86_64-linux-gnu`) and as the tree
    /// key it resolves to.
    fn directories(&mut self) -> Vec<(String, String)> {
        let mut dirs = Vec::new();
        self.read_conf("/etc/ld.so.conf", 0, &mut dirs);
        let t = self.abi.triplet.clone();
        for dir in [format!("/lib/{t}"), format!("/usr/lib/{t}"), "/lib".into(), "/usr/lib".into()] {
            self.add_dir(&dir, &mut dirs);
        }
        dirs
    }

    /// One configuration file, as `ldconfig`'s `parse_conf` reads it: `#` starts a comment,
    /// `include PATTERN...` reads more files, `hwcap` lines are ignored, any other line names a
    /// directory. A missing file is no error (`ldconfig` says nothing either).
    fn read_conf(&mut self, path: &str, depth: usize, dirs: &mut Vec<(String, String)>) {
        if depth > MAX_INCLUDE_DEPTH {
            return self.skip(path, "included more than 8 levels deep (an include loop?)");
        }
        let Some(data) = self.tree.read(path).cloned() else { return };
        for raw in data.split(|&b| b == b'\n') {
            let end = raw.iter().position(|&b| b == b'#' || b == 0).unwrap_or(raw.len());
            let line = raw[..end].trim_ascii_start();
            let blank_at = |i: usize| matches!(line.get(i), Some(b' ' | b'\t'));
            if line.is_empty() || (line.len() > 5 && line[..5].eq_ignore_ascii_case(b"hwcap") && blank_at(5)) {
                continue;
            }
            if line.starts_with(b"include") && blank_at(7) {
                for word in line[8..].split(|&b| b == b' ' || b == b'\t').filter(|w| !w.is_empty()) {
                    let word = String::from_utf8_lossy(word);
                    let pattern = match word.strip_prefix('/') {
                        Some(_) => word.into_owned(),
                        None => format!("{}/{word}", path.rsplit_once('/').map_or("", |(d, _)| d)),
                    };
                    for conf in self.glob(&pattern) {
                        self.read_conf(&conf, depth + 1, dirs);
                    }
                }
            } else {
                self.add_dir(&String::from_utf8_lossy(line), dirs);
            }
        }
    }

    /// `ldconfig`'s `add_dir`: a `=TYPE` suffix and trailing blanks and slashes go, a directory
    /// already listed under another name is not listed again.
    fn add_dir(&mut self, line: &str, dirs: &mut Vec<(String, String)>) {
        let path = line.split('=').next().unwrap_or_default().trim_end().trim_end_matches('/');
        if path.is_empty() {
            return;
        }
        if !path.starts_with('/') {
            return self.skip(path, "a relative directory in ld.so.conf");
        }
        if path.len() > MAX_PATH_BYTES {
            return self.skip(&path[..path.floor_char_boundary(64)], "a directory name longer than PATH_MAX");
        }
        if let Some(key) = self.tree.resolve(path)
            && matches!(self.tree.get(&key).map(|e| &e.node), Some(Node::Dir))
            && !dirs.iter().any(|(_, k)| *k == key)
        {
            dirs.push((path.to_string(), key));
        }
    }

    /// The existing paths `pattern` (absolute) matches, sorted, as glob(3) finds them: a
    /// wildcard matches within one component and not a leading dot.
    fn glob(&self, pattern: &str) -> Vec<String> {
        let mut found = vec![String::new()];
        for part in pattern.split('/').filter(|p| !p.is_empty()) {
            if !part.contains(['*', '?', '[']) {
                found.iter_mut().for_each(|f| *f = format!("{f}/{part}"));
                continue;
            }
            let Ok(glob) = GlobBuilder::new(part).literal_separator(true).build() else { return Vec::new() };
            let matcher = glob.compile_matcher();
            let mut next = Vec::new();
            for base in &found {
                let Some(dir) = self.tree.resolve(if base.is_empty() { "/" } else { base }) else { continue };
                for (name, _) in children(self.tree, &dir) {
                    if (part.starts_with('.') || !name.starts_with('.')) && matcher.is_match(name) {
                        next.push(format!("{base}/{name}"));
                    }
                }
            }
            found = next;
        }
        found.retain(|f| !f.is_empty() && self.tree.resolve(f).is_some());
        found.sort();
        found
    }

    /// `ldconfig`'s `search_dir` for the directory named `dir` (tree key `key`): its entries as
    /// `(name, path)`, sorted by name.
    fn libraries(&mut self, dir: &str, key: &str) -> Vec<(String, String)> {
        let tree = self.tree;
        let mut names = BTreeSet::new();
        for (name, node) in children(tree, key) {
            let path = format!("{dir}/{name}");
            if name == "glibc-hwcaps" && matches!(node, Node::Dir) {
                self.skip(&path, "glibc-hwcaps subdirectories are not cached");
                continue;
            }
            if !is_dso(name) || name.ends_with(".#prelink#") || name.contains(".#prelink#.") {
                continue;
            }
            let data = match node {
                Node::Dir => continue,
                Node::File(data) => data,
                Node::Symlink(_) => match tree.read(&path) {
                    Some(data) => data,
                    None if tree.resolve(&path).is_some() => {
                        self.skip(&path, "a link to something other than a file");
                        continue;
                    }
                    None => {
                        self.skip(&path, "a dangling or looping link");
                        continue;
                    }
                },
            };
            let soname = match self.soname(data) {
                Ok(Some(soname)) if soname.contains('/') || soname.len() > MAX_PATH_BYTES => {
                    self.skip(&path, "a soname that is a path, or longer than PATH_MAX");
                    continue;
                }
                Ok(soname) => soname.unwrap_or_else(|| name.to_string()),
                Err(reason) => {
                    self.skip(&path, reason);
                    continue;
                }
            };
            // A link named after the soname, or a development link (`libz.so` to a library
            // whose soname starts so), is listed under its own name; any other name stands for
            // the library's soname.
            let own_name = matches!(node, Node::Symlink(_))
                && (name == soname || (name.ends_with(".so") && soname.starts_with(name)));
            names.insert(if own_name { name.to_string() } else { soname });
        }
        let mut entries = Vec::new();
        for name in names {
            let path = format!("{dir}/{name}");
            if self.tree.read(&path).is_some() {
                entries.push((name, path));
            } else {
                self.skip(&path, "no file or link has the library's soname (ldconfig would make the link)");
            }
        }
        entries
    }

    /// The library's `DT_SONAME` (`None`: it has none), or why `ldconfig` would not list it.
    fn soname(&self, data: &[u8]) -> Result<Option<String>, &'static str> {
        if data.len() < ELF64_HEADER_LEN {
            return Err("too small to be a shared library");
        }
        if !elf::is_elf(data) {
            return Err("not an ELF file");
        }
        let info = elf::parse(data).ok_or("unreadable ELF headers")?;
        // EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian).
        if data[4] != 2 || data[5] != 1 || info.machine != self.abi.machine {
            return Err("an ELF file for another machine");
        }
        if info.kind != ET_DYN {
            return Err("not an ELF shared object");
        }
        if !info.dynamic {
            return Err("no readable dynamic section (truncated?)");
        }
        Ok(info.soname)
    }
}

/// The names directly in the directory `key` (`""` is the root), with their nodes.
fn children<'t>(tree: &'t Tree, key: &str) -> Vec<(&'t str, &'t Node)> {
    let skip = if key.is_empty() { 0 } else { key.len() + 1 };
    tree.iter_under(key).map(|(k, e)| (&k[skip..], &e.node)).filter(|(name, _)| !name.contains('/')).collect()
}

/// glibc's `_dl_is_dso`: `lib*.so*`, `ld-*.so*`, `ld.so.*`, `ld64.so.*`.
fn is_dso(name: &str) -> bool {
    ((name.starts_with("lib") || name.starts_with("ld-")) && name.contains(".so"))
        || name.starts_with("ld.so.")
        || name.starts_with("ld64.so.")
}

/// glibc's `_dl_cache_libcmp`, byte for byte: runs of digits compare as (C `int`, wrapping)
/// numbers and sort before any other byte; other bytes compare as the target's `char`.
pub fn libcmp(a: &[u8], b: &[u8], signed_char: bool) -> i32 {
    let at = |s: &[u8], i: usize| -> i32 {
        let c = s.get(i).copied().unwrap_or(0);
        if signed_char { i32::from(c as i8) } else { i32::from(c) }
    };
    let digit = |c: i32| (i32::from(b'0')..=i32::from(b'9')).contains(&c);
    let number = |s: &[u8], i: &mut usize| -> i32 {
        let mut n: i32 = 0;
        while digit(at(s, *i)) {
            n = n.wrapping_mul(10).wrapping_add(at(s, *i) - i32::from(b'0'));
            *i += 1;
        }
        n
    };
    let (mut i, mut j) = (0, 0);
    while at(a, i) != 0 {
        let (c1, c2) = (at(a, i), at(b, j));
        match (digit(c1), digit(c2)) {
            (true, true) => {
                let (n1, n2) = (number(a, &mut i), number(b, &mut j));
                if n1 != n2 {
                    return n1.wrapping_sub(n2);
                }
            }
            (true, false) => return 1,
            (false, true) => return -1,
            _ if c1 != c2 => return c1 - c2,
            _ => {
                i += 1;
                j += 1;
            }
        }
    }
    at(a, i) - at(b, j)
}

/// glibc's `stringtable_finalize`: the strings sorted by their reversed bytes, descending (so a
/// string comes right after the longer ones that end with it), each stored once after the
/// previous one unless it is that one's tail. Returns the table and each string's offset.
fn string_table<'s>(strings: &BTreeSet<&'s str>) -> (Vec<u8>, BTreeMap<&'s str, usize>) {
    let mut order: Vec<&str> = strings.iter().copied().collect();
    order.sort_by(|a, b| b.bytes().rev().cmp(a.bytes().rev()));
    let mut table: Vec<u8> = Vec::new();
    let mut offsets = BTreeMap::new();
    let mut previous: Option<(&str, usize)> = None;
    for s in order {
        let offset = match previous {
            Some((p, at)) if p.ends_with(s) => at + p.len() - s.len(),
            _ => {
                let at = table.len();
                table.extend_from_slice(s.as_bytes());
                table.push(0);
                at
            }
        };
        offsets.insert(s, offset);
        previous = Some((s, offset));
    }
    (table, offsets)
}

#[cfg(test)]
mod tests {
    //! The host's own `ldconfig` (Debian's libc-bin, the same glibc 2.36 as the images) is the
    //! reference: it reads every cache written here (`ldconfig -p -C FILE`), and writes one from
    //! the same directories (`ldconfig -r ROOT -X -i`) to compare against, byte for byte.

    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::rootfs::Entry;

    const LDCONFIG: &str = "/sbin/ldconfig";

    fn host() -> Platform {
        Platform::host()
    }

    fn triplet() -> String {
        format!("{}-linux-gnu", host().machine())
    }

    /// A library of the host, by the name it is linked as (`libz.so.1`): its file name behind
    /// the soname link (`libz.so.1.2.13`) and its bytes.
    fn host_library(soname: &str) -> (String, Vec<u8>) {
        let link = PathBuf::from(format!("/lib/{}/{soname}", triplet()));
        let real = std::fs::canonicalize(&link)
            .unwrap_or_else(|e| panic!("{} is missing on this host ({e}): the test copies it", link.display()));
        let name = real.file_name().unwrap().to_string_lossy().into_owned();
        (name, std::fs::read(&real).unwrap())
    }

    /// The tree of the directory `root`, links as links.
    fn tree_of(root: &Path) -> Tree {
        fn walk(dir: &Path, root: &Path, tree: &mut Tree) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let key = path.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(&path).unwrap();
                    tree.insert(&key, Entry::symlink(target.to_str().unwrap())).unwrap();
                } else if meta.is_dir() {
                    tree.insert(&key, Entry::dir(0o755)).unwrap();
                    walk(&path, root, tree);
                } else {
                    tree.insert(&key, Entry::file(std::fs::read(&path).unwrap(), 0o644)).unwrap();
                }
            }
        }
        let mut tree = Tree::new();
        walk(root, root, &mut tree);
        tree
    }

    fn write(root: &Path, path: &str, data: &[u8]) {
        let at = root.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, data).unwrap();
    }

    fn link(root: &Path, path: &str, target: &str) {
        let at = root.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        symlink(target, at).unwrap();
    }

    /// `ldconfig -p -C file`: the entries as ldconfig prints them (its count line and the
    /// generator line left out), after asserting that it read the file.
    fn printed(file: &Path) -> Vec<String> {
        assert!(Path::new(LDCONFIG).is_file(), "{LDCONFIG} is missing: the test needs libc-bin's ldconfig");
        let out = Command::new(LDCONFIG).arg("-p").arg("-C").arg(file).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "ldconfig -p -C {}: {}{text}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut lines = text.lines();
        assert!(lines.next().is_some_and(|l| l.contains(" libs found in cache ")), "{text}");
        lines.filter(|l| !l.starts_with("Cache generated by: ")).map(|l| l.trim().to_string()).collect()
    }

    /// The cache the host's ldconfig writes for `root` (without making links or reading an
    /// auxiliary cache).
    fn ldconfig_cache(root: &Path) -> Vec<u8> {
        let out = Command::new(LDCONFIG).arg("-r").arg(root).args(["-X", "-i"]).output().unwrap();
        assert!(out.status.success(), "ldconfig -r {}: {}", root.display(), String::from_utf8_lossy(&out.stderr));
        std::fs::read(root.join("etc/ld.so.cache")).unwrap()
    }

    /// Our cache, written to a file next to `root`.
    fn our_cache(root: &Path) -> (LdCache, Vec<u8>, PathBuf) {
        let cache = build(&tree_of(root), &host());
        let bytes = cache.to_bytes();
        let file = root.with_extension("ours");
        std::fs::write(&file, &bytes).unwrap();
        (cache, bytes, file)
    }

    #[test]
    fn the_host_ldconfig_writes_the_same_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let t = triplet();
        let tag = if host().machine() == "aarch64" { "(libc6,AArch64)" } else { "(libc6,x86-64)" };
        // Real libraries under their soname (libc, libm), behind a soname link (libz, libstdc++),
        // a development link; libz again in two more directories, to see which comes first.
        for soname in ["libc.so.6", "libm.so.6"] {
            write(&root, &format!("lib/{t}/{soname}"), &host_library(soname).1);
        }
        let (zfile, z) = host_library("libz.so.1");
        write(&root, &format!("lib/{t}/{zfile}"), &z);
        link(&root, &format!("lib/{t}/libz.so.1"), &zfile);
        link(&root, &format!("lib/{t}/libz.so"), "libz.so.1");
        let (cxxfile, cxx) = host_library("libstdc++.so.6");
        write(&root, &format!("usr/lib/{t}/{cxxfile}"), &cxx);
        link(&root, &format!("usr/lib/{t}/libstdc++.so.6"), &cxxfile);
        write(&root, &format!("usr/lib/{t}/libz.so.1"), &z);
        write(&root, "usr/local/lib/extra/libz.so.1", &z);
        // What ldconfig passes over: a linker script, a loop, a link out of the root (it stays
        // inside, as in a chroot), a truncated library, a directory named like a library.
        write(
            &root,
            &format!("usr/lib/{t}/libc.so"),
            b"/* GNU ld script */\nGROUP ( /lib/libc.so.6 /lib/libc_nonshared.a )\n",
        );
        link(&root, &format!("lib/{t}/libloop.so.1"), "libloop.so.1");
        link(&root, &format!("lib/{t}/libm.so.7"), &format!("../../../../../../../lib/{t}/libm.so.6"));
        write(&root, &format!("lib/{t}/libtrunc.so.1"), &z[..200]);
        std::fs::create_dir_all(root.join(format!("lib/{t}/libdir.so.1"))).unwrap();
        // The configuration lists the multiarch directory first, the extra one twice (once
        // through a link), and ignores a comment and a hwcap line.
        write(&root, "etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\nhwcap 0 nosegneg\n");
        write(&root, "etc/ld.so.conf.d/a.conf", format!("# multiarch\n/lib/{t}/\n").as_bytes());
        write(&root, "etc/ld.so.conf.d/b.conf", b"  /usr/local/lib/extra # ours\n/opt/extra\n");
        link(&root, "opt/extra", "../usr/local/lib/extra");

        let (cache, ours, file) = our_cache(&root);
        let theirs = ldconfig_cache(&root);
        assert!(theirs.len() > ours.len(), "ldconfig's cache has its extension section");
        assert!(without_extension(&theirs) == Some(ours), "our cache is not ldconfig's");
        assert_eq!(printed(&file), printed(&root.join("etc/ld.so.cache")));
        let names: Vec<String> = printed(&file);
        let want = [
            format!("libz.so.1 {tag} => /lib/{t}/libz.so.1"),
            format!("libz.so.1 {tag} => /usr/local/lib/extra/libz.so.1"),
            format!("libz.so.1 {tag} => /usr/lib/{t}/libz.so.1"),
            format!("libz.so {tag} => /lib/{t}/libz.so"),
            format!("libstdc++.so.6 {tag} => /usr/lib/{t}/libstdc++.so.6"),
            format!("libm.so.6 {tag} => /lib/{t}/libm.so.6"),
            format!("libc.so.6 {tag} => /lib/{t}/libc.so.6"),
        ];
        assert_eq!(names, want);
        let reasons: Vec<(&str, &str)> = cache.skipped.iter().map(|s| (s.path.as_str(), s.reason)).collect();
        for (path, reason) in [
            (format!("/usr/lib/{t}/libc.so"), "not an ELF file"),
            (format!("/lib/{t}/libloop.so.1"), "a dangling or looping link"),
            (format!("/lib/{t}/libtrunc.so.1"), "unreadable ELF headers"),
        ] {
            assert!(reasons.contains(&(path.as_str(), reason)), "{path}: {reason} not in {reasons:?}");
        }
    }

    #[test]
    fn hostile_trees_are_skipped_with_a_reason() {
        let t = triplet();
        let (_, z) = host_library("libz.so.1");
        let mut foreign = z.clone();
        foreign[18..20]
            .copy_from_slice(&(if host().machine() == "aarch64" { EM_X86_64 } else { EM_AARCH64 }).to_le_bytes());
        let mut tree = Tree::new();
        let lib = |name: &str| format!("lib/{t}/{name}");
        tree.insert(&lib("libz.so.1"), Entry::file(z.clone(), 0o644)).unwrap();
        tree.insert(&lib("libloop.so.1"), Entry::symlink("libloop2.so.1")).unwrap();
        tree.insert(&lib("libloop2.so.1"), Entry::symlink("/lib/../lib/./libloop.so.1")).unwrap();
        tree.insert(&lib("libescape.so.1"), Entry::symlink("../../../../../../../etc/shadow")).unwrap();
        tree.insert(&lib("libabsolute.so.1"), Entry::symlink("/proc/self/root/lib/libc.so.6")).unwrap();
        tree.insert(&lib("libdir.so.1"), Entry::symlink("/usr")).unwrap();
        tree.insert(
            &lib("libtext.so.1"),
            Entry::file("#!/bin/sh\necho not a library, whatever the name\n".repeat(2), 0o644),
        )
        .unwrap();
        tree.insert(&lib("libtiny.so.1"), Entry::file(&z[..16], 0o644)).unwrap();
        tree.insert(&lib("libhalf.so.1"), Entry::file(&z[..z.len() / 2], 0o644)).unwrap();
        tree.insert(&lib("libforeign.so.1"), Entry::file(foreign, 0o644)).unwrap();
        let mut slash = z.clone();
        let at = z.windows(11).position(|w| w == b"\0libz.so.1\0").unwrap() + 1;
        slash[at..at + 9].copy_from_slice(b"../b.so.1");
        tree.insert(&lib("libslash.so.1"), Entry::file(slash, 0o644)).unwrap();
        tree.insert(&format!("usr/lib/{t}/libz.so.1.2.3"), Entry::file(z.clone(), 0o644)).unwrap();
        tree.insert(
            "etc/ld.so.conf",
            Entry::file(
                format!(
                    "include /etc/ld.so.conf\ninclude ld.so.conf.d/[\n/loop\nrelative/dir\n/usr{}\n",
                    "/.".repeat(3000)
                ),
                0o644,
            ),
        )
        .unwrap();
        tree.insert("loop", Entry::symlink("loop")).unwrap();

        let cache = build(&tree, &host());
        assert_eq!(cache.entries, [("libz.so.1".to_string(), format!("/lib/{t}/libz.so.1"))]);
        let reasons: Vec<(&str, &str)> = cache.skipped.iter().map(|s| (s.path.as_str(), s.reason)).collect();
        let l = |name: &str| format!("/lib/{t}/{name}");
        for (path, reason) in [
            (l("libloop.so.1"), "a dangling or looping link"),
            (l("libloop2.so.1"), "a dangling or looping link"),
            (l("libescape.so.1"), "a dangling or looping link"),
            (l("libabsolute.so.1"), "a dangling or looping link"),
            (l("libdir.so.1"), "a link to something other than a file"),
            (l("libtext.so.1"), "not an ELF file"),
            (l("libtiny.so.1"), "too small to be a shared library"),
            (l("libhalf.so.1"), "unreadable ELF headers"),
            (l("libforeign.so.1"), "an ELF file for another machine"),
            (
                format!("/usr/lib/{t}/libz.so.1"),
                "no file or link has the library's soname (ldconfig would make the link)",
            ),
            ("/etc/ld.so.conf".to_string(), "included more than 8 levels deep (an include loop?)"),
            ("relative/dir".to_string(), "a relative directory in ld.so.conf"),
            (format!("/usr{}", "/.".repeat(30)), "a directory name longer than PATH_MAX"),
            (l("libslash.so.1"), "a soname that is a path, or longer than PATH_MAX"),
        ] {
            assert!(reasons.contains(&(path.as_str(), reason)), "{path}: {reason} not in {reasons:?}");
        }
        // Still a cache ldconfig reads.
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("ld.so.cache");
        std::fs::write(&file, cache.to_bytes()).unwrap();
        assert_eq!(printed(&file).len(), 1);
        // And an empty tree gives an empty cache, still a cache.
        std::fs::write(&file, build(&Tree::new(), &host()).to_bytes()).unwrap();
        assert!(printed(&file).is_empty());
    }

    /// Random trees of libraries (real ones, their soname rewritten), links (soname links,
    /// development links, links across directories, out of the root, in loops), junk and
    /// directory links: the host's ldconfig reads every cache, and lists what its own cache lists
    /// in the same order, but for the entries it records with no file behind them (we skip those).
    #[test]
    fn random_trees_agree_with_the_host_ldconfig() {
        let (_, z) = host_library("libz.so.1");
        let at = z.windows(11).position(|w| w == b"\0libz.so.1\0").expect("libz's soname in its string table") + 1;
        let t = triplet();
        let dirs = [
            format!("lib/{t}"),
            format!("usr/lib/{t}"),
            "lib".into(),
            "usr/lib".into(),
            "opt/a".into(),
            "opt/b".into(),
        ];
        // No '0': a leading zero makes two different names compare equal, and then ldconfig's
        // order among them is the order its directory listing happens to have.
        let pick = |rng: &mut StdRng, from: &[u8]| from[rng.gen_range(0..from.len())] as char;
        // `libX.so` or `libX.so.N`: at most the 9 bytes of `libz.so.1`, whose place it takes.
        let soname = |rng: &mut StdRng| match rng.gen_bool(0.5) {
            true => format!("lib{}.so", pick(rng, b"abz_+19")),
            false => format!("lib{}.so.{}", pick(rng, b"abz_+19"), pick(rng, b"123456789")),
        };
        let mut rng = StdRng::seed_from_u64(0x1d50_cace);
        let (mut listed, mut same_bytes) = (0, 0);
        for round in 0..40 {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("root");
            // Sometimes /usr/lib/<triplet> is /lib/<triplet> under another name.
            let merged = rng.gen_bool(0.3);
            if merged {
                link(&root, &format!("usr/lib/{t}"), &format!("../../lib/{t}"));
            }
            let usable: Vec<&String> = dirs.iter().filter(|d| !(merged && **d == format!("usr/lib/{t}"))).collect();
            let mut placed: Vec<String> = Vec::new();
            for _ in 0..rng.gen_range(1..25) {
                let dir = usable[rng.gen_range(0..usable.len())];
                let name = soname(&mut rng);
                let file = match rng.gen_range(0..3) {
                    0 => name.clone(),
                    1 => format!("{name}.{}", rng.gen_range(1..4)),
                    _ => soname(&mut rng),
                };
                let path = format!("{dir}/{file}");
                if placed.contains(&path) {
                    continue;
                }
                let mut data = z.clone();
                data[at..at + 9].fill(0);
                data[at..at + name.len()].copy_from_slice(name.as_bytes());
                if rng.gen_bool(0.1) {
                    data = b"GROUP ( junk )".repeat(10);
                }
                write(&root, &path, &data);
                placed.push(path);
                // Mostly with its soname link, as packages ship them.
                let soname_link = format!("{dir}/{name}");
                if file != name && rng.gen_bool(0.9) && root.join(&soname_link).symlink_metadata().is_err() {
                    link(&root, &soname_link, &file);
                    placed.push(soname_link);
                }
            }
            for _ in 0..rng.gen_range(0..25) {
                let dir = usable[rng.gen_range(0..usable.len())];
                let name = match rng.gen_range(0..3) {
                    0 => format!("lib{}.so", pick(&mut rng, b"abz_+19")),
                    _ => soname(&mut rng),
                };
                let path = format!("{dir}/{name}");
                if root.join(&path).symlink_metadata().is_ok() {
                    continue;
                }
                let other = &placed[rng.gen_range(0..placed.len())];
                let target = match rng.gen_range(0..5) {
                    0 => format!("/{other}"),
                    1 => other.rsplit('/').next().unwrap().to_string(),
                    2 => format!("../../../../../{other}"),
                    3 => name.clone(),
                    _ => soname(&mut rng),
                };
                link(&root, &path, &target);
                placed.push(path);
            }
            let conf: String = ["/opt/b", "/opt/a", "/lib", "/opt/a/"]
                .iter()
                .filter(|_| rng.gen_bool(0.5))
                .map(|d| format!("{d}\n"))
                .collect();
            write(&root, "etc/ld.so.conf.d/x.conf", conf.as_bytes());
            write(&root, "etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n");

            let tree = tree_of(&root);
            let (_, bytes, file) = our_cache(&root);
            let ours = printed(&file);
            let cache = ldconfig_cache(&root);
            let all = printed(&root.join("etc/ld.so.cache"));
            let theirs: Vec<String> =
                all.iter().filter(|l| tree.read(l.rsplit(" => ").next().unwrap()).is_some()).cloned().collect();
            // Where ldconfig lists nothing without a file, the bytes are the same too.
            if theirs.len() == all.len() {
                assert!(without_extension(&cache) == Some(bytes), "round {round}: same entries, other bytes");
                same_bytes += 1;
            }
            let listing: Vec<String> = tree
                .iter()
                .map(|(k, e)| match &e.node {
                    Node::Symlink(target) => format!("{k} -> {target}"),
                    _ => k.clone(),
                })
                .collect();
            assert_eq!(ours, theirs, "round {round}, tree {listing:#?}");
            listed += ours.len();
        }
        assert!(listed > 200 && same_bytes > 1, "a weak sample: {listed} entries, {same_bytes} rounds byte for byte");
    }

    #[test]
    fn names_compare_as_glibc_compares_them() {
        let cmp = |a: &str, b: &str| libcmp(a.as_bytes(), b.as_bytes(), true).signum();
        assert_eq!(cmp("libc.so.6", "libc.so.10"), -1, "numbers compare as numbers");
        assert_eq!(cmp("libfoo.so.1", "libfoo.so.01"), 0);
        assert_eq!(cmp("lib1", "liba"), 1, "a digit sorts after any other byte");
        assert_eq!(cmp("libz.so", "libz.so.1"), -1);
        assert_eq!(cmp("libz.so.1", "libz.so"), 1);
        // Non-ASCII bytes: negative as x86-64's signed char, large as AArch64's unsigned one.
        assert!(libcmp("libé".as_bytes(), b"liba", true) < 0);
        assert!(libcmp("libé".as_bytes(), b"liba", false) > 0);
        // Digit runs past an int wrap as in C, without a panic.
        let _ = cmp("lib99999999999999999999", "lib1");
    }

    #[test]
    fn strings_share_their_tails() {
        let strings: BTreeSet<&str> = ["libc.so.6", "/lib/x/libc.so.6", "libm.so.6"].into();
        let (table, offsets) = string_table(&strings);
        // Sorted by their last bytes, descending: `m` before `c`, a string after those ending with it.
        assert_eq!(table, b"libm.so.6\0/lib/x/libc.so.6\0");
        assert_eq!((offsets["libm.so.6"], offsets["/lib/x/libc.so.6"], offsets["libc.so.6"]), (0, 10, 17));
    }
}
