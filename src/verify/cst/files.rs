//! fileExistenceTests, fileContentTests and licenseTests, read from the image's merged
//! filesystem: the same entries, modes and owners the engine's archive API gives
//! container-structure-test's docker driver, without starting a container.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use anyhow::{Context, Result};

use super::{Suite, golang, match_all, verdict};
use crate::findings::Finding;
use crate::oci::read::{EntryKind, LayerEntry};
use crate::oci::view::FsEntry;
use crate::verify::Subject;

/// Where Debian keeps each package's documentation, and the file every package must have there.
const DOC_ROOT: &str = "usr/share/doc";
/// Packages container-structure-test's license test lets pass without a copyright file.
const LICENSE_ALLOWED: &[&str] = &["libgnutls30"];
/// Words that fail a license file (container-structure-test's list, compared in upper case).
const LICENSE_BANNED: &[&str] = &["AGPL", "WTFPL"];
/// A copyright file is read up to this size; a larger one fails as unreadable.
const COPYRIGHT_LIMIT: u64 = 4 << 20;

/// The entry at `path` as `lstat` sees it (and the engine's archive API, which
/// container-structure-test stats through): links on the way are followed, a link at the end is
/// the link itself. `/` is the root directory.
fn lstat(s: &Subject, path: &str) -> Option<(String, FsEntry)> {
    let path = path.trim_end_matches('/');
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    let key = if matches!(name, "" | "." | "..") {
        // The directory a path ends in: nothing of its own to keep unfollowed.
        s.fs.resolve(path)?
    } else {
        let dir = s.fs.resolve(parent)?;
        if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
    };
    if key.is_empty() {
        return Some((key, root_entry(s)));
    }
    let e = s.fs.entries.get(&key)?;
    // A hard link is, to the engine, the file it shares an inode with.
    let e = match (e.kind, e.link.as_deref()) {
        (EntryKind::Hardlink, Some(t)) => s.fs.entries.get(t.trim_start_matches('/')).unwrap_or(e),
        _ => e,
    };
    Some((key, e.clone()))
}

/// `/`: the image's own root entry when a layer wrote one, else a root-owned 0755 directory (what
/// the engine shows).
fn root_entry(s: &Subject) -> FsEntry {
    s.fs.entries.get("").cloned().unwrap_or(FsEntry {
        kind: EntryKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        layer: 0,
        size: 0,
        link: None,
    })
}

/// What the file tests' `Validate` refuses: a test without a name or a path fails unrun.
fn unnamed(name: &str, path: &str, what: &str) -> Vec<String> {
    let mut p = Vec::new();
    if name.is_empty() {
        p.push("a test needs a name".to_string());
    }
    if path.is_empty() {
        p.push(format!("{what} needs a path"));
    }
    p
}

/// fileExistenceTests, as `FileExistenceTest.Run` judges them: the path (with `$VAR` expanded
/// against the image's environment and `globalEnvVars`) exists or not; then, when it should,
/// the Go mode string, the executable bit for `isExecutableBy`, and the numeric owner.
pub fn existence(suite: &Suite, s: &Subject) -> Vec<Finding> {
    let env = super::env_after_globals(suite, s);
    let lookup = |k: &str| env.get(k).cloned();
    let mut out = Vec::new();
    for t in &suite.schema.file_existence_tests {
        let mut p = unnamed(&t.name, &t.path, "a file existence test");
        let path = golang::expand(&t.path, &lookup);
        let found = if p.is_empty() { lstat(s, &path) } else { None };
        match (&found, t.should_exist) {
            _ if !p.is_empty() => {}
            (None, true) => p.push(format!("{path} does not exist")),
            (Some(_), false) => p.push(format!("{path} exists and should not")),
            (None, false) => {}
            (Some((_, e)), true) => p.extend(attributes(t, &path, e)),
        }
        let ok = if t.should_exist { format!("{path} exists as expected") } else { format!("{path} is absent") };
        out.push(verdict(s, suite, "LUCID-CST-002", &t.name, p, ok));
    }
    out
}

/// What a file existence test says of an existing entry, each problem worded with the values.
fn attributes(t: &super::schema::FileExistenceTest, path: &str, e: &FsEntry) -> Vec<String> {
    let mut p = Vec::new();
    let mode = golang::file_mode(e.kind, e.mode);
    if !t.permissions.is_empty() && mode != t.permissions {
        p.push(format!("{path} has permissions {mode}, expected {}", t.permissions));
    }
    if !t.is_executable_by.is_empty() {
        let bits = match t.is_executable_by.as_str() {
            "any" => Some(0o111),
            "owner" => Some(0o100),
            "group" => Some(0o010),
            "other" => Some(0o001),
            _ => None,
        };
        match bits {
            None => p.push(format!("isExecutableBy {:?} is not one of owner, group, other, any", t.is_executable_by)),
            // The engine reports a link's own mode, 0777 (as in the mode string).
            Some(b) if (if e.kind == EntryKind::Symlink { 0o777 } else { e.mode }) & b == 0 => {
                p.push(format!("{path} is not executable by {} ({mode})", t.is_executable_by))
            }
            Some(_) => {}
        }
    }
    // -1 is container-structure-test's "not given".
    if let Some(uid) = t.uid.filter(|u| *u != -1)
        && uid != i64::from(e.uid)
    {
        p.push(format!("{path} is owned by uid {}, expected {uid}", e.uid));
    }
    if let Some(gid) = t.gid.filter(|g| *g != -1)
        && gid != i64::from(e.gid)
    {
        p.push(format!("{path} has gid {}, expected {gid}", e.gid));
    }
    p
}

/// The content of the file at `path` (links followed), or why there is none.
fn read_content<'a>(s: &'a Subject, path: &str) -> std::result::Result<&'a [u8], String> {
    let key = s.fs.resolve(path.trim_start_matches('/')).ok_or_else(|| format!("{path} does not exist"))?;
    match s.fs.entries.get(&key).map(|e| e.kind) {
        None => Err(format!("{path} does not exist")),
        Some(EntryKind::Dir) => Err(format!("{path} is a directory, not a file")),
        Some(_) => s.fs.captured.get(&key).map(Vec::as_slice).ok_or_else(|| {
            let size = s.fs.entries.get(&key).map_or(0, |e| e.size);
            if size > crate::oci::view::CAPTURE_LIMIT {
                format!(
                    "{path} is too large to read: {size} bytes, over lucid's limit of {} bytes for a file a test reads",
                    crate::oci::view::CAPTURE_LIMIT
                )
            } else {
                format!("{path} is not a regular file lucid could read")
            }
        }),
    }
}

/// fileContentTests: the file's whole text against each expected and excluded pattern.
pub fn content_tests(suite: &Suite, s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in &suite.schema.file_content_tests {
        let mut p = unnamed(&t.name, &t.path, "a file content test");
        if p.is_empty() {
            match read_content(s, &t.path) {
                Err(e) => p.push(e),
                Ok(data) => p.extend(match_all(
                    &t.path,
                    &String::from_utf8_lossy(data),
                    &t.expected_contents,
                    &t.excluded_contents,
                )),
            }
        }
        out.push(verdict(s, suite, "LUCID-CST-003", &t.name, p, format!("{} content as expected", t.path)));
    }
    out
}

/// What the layer pass learnt for license tests: of each `usr/share/doc/PKG/copyright`, the
/// layer that wrote it and the banned word it holds (or why it could not be read); of each
/// distroless-style `var/lib/dpkg/status.d/PKG`, the package's source package. Only the final
/// file counts: the layer is checked against the merged view's.
#[derive(Debug, Default)]
pub struct LicenseScan {
    seen: BTreeMap<String, (usize, Option<String>)>,
    sources: BTreeMap<String, (usize, String)>,
}

/// Where distroless (and lucid) keep one control paragraph per package.
const STATUS_D: &str = "var/lib/dpkg/status.d/";

impl LicenseScan {
    /// Whether the layer pass should hand `entry` to [`Self::observe`].
    pub fn wants(entry: &LayerEntry) -> bool {
        entry.kind == EntryKind::File && (copyright_path(&entry.path) || status_d_package(&entry.path).is_some())
    }

    /// Reads one copyright file or status paragraph as it streams by.
    pub fn observe(&mut self, layer: usize, entry: &LayerEntry, content: &mut dyn Read) -> Result<()> {
        if entry.size > COPYRIGHT_LIMIT {
            let why = format!("larger than {} (not read)", crate::spec::format_size(COPYRIGHT_LIMIT));
            self.seen.insert(entry.path.clone(), (layer, Some(why)));
            return Ok(());
        }
        let mut text = Vec::new();
        content.read_to_end(&mut text).with_context(|| format!("cannot read {}", entry.path))?;
        match status_d_package(&entry.path) {
            Some(pkg) => {
                let stanza = String::from_utf8_lossy(&text);
                let source = stanza_source(&stanza).unwrap_or(pkg).to_string();
                self.sources.insert(entry.path.clone(), (layer, source));
            }
            None => {
                self.seen.insert(entry.path.clone(), (layer, banned(&text)));
            }
        }
        Ok(())
    }

    /// What is wrong with the copyright file at canonical `key` of the final filesystem, if
    /// anything; `None` when lucid did not see it (not a regular file of its own).
    fn verdict(&self, s: &Subject, key: &str) -> Option<Option<String>> {
        let (layer, problem) = self.seen.get(key)?;
        (s.fs.entries.get(key)?.layer() == *layer).then(|| problem.clone())
    }
}

/// `PKG` of `var/lib/dpkg/status.d/PKG` (not its `.md5sums`).
fn status_d_package(path: &str) -> Option<&str> {
    path.strip_prefix(STATUS_D).filter(|n| !n.is_empty() && !n.contains('/') && !n.ends_with(".md5sums"))
}

/// The source package a control paragraph names (`Source: gcc-12 (12.2.0-14)` is `gcc-12`).
fn stanza_source(stanza: &str) -> Option<&str> {
    stanza.lines().find_map(|l| l.strip_prefix("Source:")).and_then(|v| v.split_whitespace().next())
}

/// `usr/share/doc/PKG/copyright`.
fn copyright_path(path: &str) -> bool {
    path.strip_prefix(DOC_ROOT)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_suffix("/copyright"))
        .is_some_and(|pkg| !pkg.is_empty() && !pkg.contains('/'))
}

/// The banned word `text` holds, as container-structure-test finds it (in upper case).
fn banned(text: &[u8]) -> Option<String> {
    let upper = String::from_utf8_lossy(text).to_uppercase();
    LICENSE_BANNED.iter().find(|w| upper.contains(*w)).map(|w| format!("contains {w}"))
}

/// The packages of the image's dpkg database with their source packages: distroless's
/// `/var/lib/dpkg/status.d/PKG` files (what lucid writes) and the installed stanzas of
/// `/var/lib/dpkg/status`.
fn dpkg_packages(s: &Subject, scan: &LicenseScan) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (path, (layer, source)) in &scan.sources {
        if let Some(pkg) = status_d_package(path)
            && s.fs.entries.get(path).is_some_and(|e| e.layer() == *layer)
        {
            out.insert(pkg.to_string(), source.clone());
        }
    }
    if let Some(status) = s.fs.captured.get(STATUS) {
        for stanza in String::from_utf8_lossy(status).split("\n\n") {
            let field = |name: &str| stanza.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
            if let Some(p) = field("Package:")
                && field("Status:").is_some_and(|st| st.ends_with(" installed"))
            {
                out.insert(p.to_string(), stanza_source(stanza).unwrap_or(p).to_string());
            }
        }
    }
    out
}

/// dpkg's database, read when a license test asks for Debian's copyright files.
pub const STATUS: &str = "var/lib/dpkg/status";

/// licenseTests, as `LicenseTest.Run` judges them, plus what container-structure-test leaves out.
/// With `debian: true`: every directory of `/usr/share/doc` (but `libgnutls30`) has a
/// `copyright` file that reads and holds neither AGPL nor WTFPL; and, beyond
/// container-structure-test, every package of the dpkg database has a copyright file at all, its
/// own or one of a package of the same source (a package whose documentation was pruned away
/// entirely passes there, not here).
/// `files`: each reads and holds no banned word.
pub fn licenses(suite: &Suite, s: &Subject, scan: &LicenseScan) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, t) in suite.schema.license_tests.iter().enumerate() {
        let mut p = Vec::new();
        let mut checked = 0usize;
        if t.debian {
            let dirs: Vec<&str> =
                s.fs.entries
                    .iter()
                    .filter(|(_, e)| e.kind == EntryKind::Dir)
                    .filter_map(|(k, _)| k.strip_prefix(DOC_ROOT)?.strip_prefix('/'))
                    .filter(|pkg| !pkg.contains('/') && !LICENSE_ALLOWED.contains(pkg))
                    .collect();
            if !s.fs.entries.get(DOC_ROOT).is_some_and(|e| e.kind == EntryKind::Dir) {
                p.push(format!("/{DOC_ROOT} is not a directory of the image"));
            }
            for pkg in &dirs {
                checked += 1;
                let path = format!("/{DOC_ROOT}/{pkg}/copyright");
                match s.fs.resolve(&path).filter(|k| s.fs.entries.contains_key(k)) {
                    None => p.push(format!("{pkg}: no {path}")),
                    Some(key) => match scan.verdict(s, &key) {
                        Some(None) => {}
                        Some(Some(why)) => p.push(format!("{path}: {why}")),
                        None => p.push(format!("{path} is not a regular file lucid could read")),
                    },
                }
            }
            // Debian policy 12.5 lets /usr/share/doc/PKG be a link to the directory of another
            // package of the same source; lucid's pruning drops such links, so a package is
            // covered by a copyright file of its own or of a package built from its source.
            // Sets built once: an image of thousands of packages is checked in linear time.
            let packages = dpkg_packages(s, scan);
            let has = |pkg: &str| s.fs.lookup(&format!("/{DOC_ROOT}/{pkg}/copyright")).is_some();
            let documented: HashSet<&str> = dirs.iter().copied().collect();
            let with_copyright: HashSet<&str> = packages.keys().map(String::as_str).filter(|p| has(p)).collect();
            let covered_sources: HashSet<&str> = packages
                .iter()
                .filter(|(p, _)| with_copyright.contains(p.as_str()))
                .map(|(_, src)| src.as_str())
                .collect();
            for (pkg, source) in packages.iter().filter(|(p, _)| !LICENSE_ALLOWED.contains(&p.as_str())) {
                if documented.contains(pkg.as_str()) {
                    continue;
                }
                checked += 1;
                if !with_copyright.contains(pkg.as_str()) && !covered_sources.contains(source.as_str()) {
                    p.push(format!(
                        "package {pkg} (dpkg database) has no /{DOC_ROOT}/{pkg}/copyright, nor has any package of its \
                         source {source}"
                    ));
                }
            }
        }
        for f in &t.files {
            checked += 1;
            match read_content(s, f) {
                Err(e) => p.push(e),
                Ok(data) => p.extend(banned(data).map(|w| format!("{f}: {w}"))),
            }
        }
        let name = format!("licenseTests[{i}]");
        out.push(verdict(
            s,
            suite,
            "LUCID-CST-005",
            &name,
            p,
            format!("{checked} license file(s) present and allowed"),
        ));
    }
    out
}
