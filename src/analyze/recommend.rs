//! Recommendations computed from the content, each with the bytes it would save and the paths
//! that make it up, so a person can check it before acting on it.
//!
//! Every recommendation has a stable `LUCID-REC-NNN` ID, listed in [`catalogue`] as a
//! [`Check`] (severity info, its `how` as the fix) beside verify's checks and lint's rules;
//! no ID means two things across the tool (`tests/check_ids.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{DuplicateGroup, FileInfo, Owner, OwnerKind};
use crate::findings::{Check, Severity};

pub use crate::findings::figures::Recommendation;

pub(super) struct Input<'a> {
    pub files: &'a [FileInfo],
    pub owners: &'a [Owner],
    pub hidden_bytes: u64,
    pub duplicates: &'a [DuplicateGroup],
}

/// The seed action every recommendation serves.
const SEED: &str = "Size optimization strategies";

/// A recommendation's catalogue entry: informational, its `how` as the fix.
const fn rec(id: &'static str, title: &'static str, how: &'static str) -> Check {
    Check { id, title, severity: Severity::Info, seed_action: SEED, remediation: how }
}

/// A rule that removes whole files matched by path.
struct PathRule {
    rec: Check,
    matches: fn(&str) -> bool,
}

fn under_any(path: &str, dirs: &[&str]) -> bool {
    dirs.iter().any(|d| path.starts_with(d) && path.as_bytes().get(d.len()) == Some(&b'/'))
}

fn is_doc(p: &str) -> bool {
    under_any(p, &["usr/share/doc", "usr/share/doc-base", "usr/share/gtk-doc", "usr/share/help"])
        && !p.ends_with("/copyright")
}
fn is_man(p: &str) -> bool {
    under_any(p, &["usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/linda"])
}
fn is_locale(p: &str) -> bool {
    (under_any(p, &["usr/share/locale", "usr/share/i18n"]) && !p.ends_with("locale.alias"))
        || (under_any(p, &["usr/lib/locale"]) && !p.starts_with("usr/lib/locale/C.utf8/"))
}
fn is_gconv(p: &str) -> bool {
    p.starts_with("usr/lib/") && p.contains("/gconv/")
}
fn is_test(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    let python = p.contains("/python3") || p.contains("site-packages/") || p.contains("dist-packages/");
    python && parts.iter().rev().skip(1).any(|c| matches!(*c, "test" | "tests" | "idle_test" | "testing"))
}
fn is_cache(p: &str) -> bool {
    under_any(p, &["var/cache", "var/lib/apt/lists", "root/.cache", "tmp", "var/tmp"])
        || p.split('/').any(|c| c == ".cache")
        || p.ends_with(".pyc") && !p.contains("__pycache__/")
}

const PATH_RULES: &[PathRule] = &[
    PathRule {
        rec: rec(
            "LUCID-REC-001",
            "Documentation (every copyright file kept)",
            "prune usr/share/doc/** except */copyright (lucid: images.NAME.prune; Dockerfile: delete in the same RUN)",
        ),
        matches: is_doc,
    },
    PathRule {
        rec: rec(
            "LUCID-REC-002",
            "Man pages, info pages, lintian overrides",
            "prune usr/share/man, usr/share/info, usr/share/lintian",
        ),
        matches: is_man,
    },
    PathRule {
        rec: rec(
            "LUCID-REC-003",
            "Translations and locale data (C.UTF-8 kept)",
            "prune usr/share/locale and usr/lib/locale except C.utf8; set LANG=C.UTF-8",
        ),
        matches: is_locale,
    },
    PathRule {
        rec: rec(
            "LUCID-REC-004",
            "glibc iconv modules (gconv)",
            "prune usr/lib/*/gconv unless the application calls iconv for non-UTF encodings (Python's codecs do not)",
        ),
        matches: is_gconv,
    },
    PathRule {
        rec: rec(
            "LUCID-REC-005",
            "Test suites shipped with Python packages",
            "prune **/test/**, **/tests/** under the Python library directories",
        ),
        matches: is_test,
    },
    PathRule {
        rec: rec(
            "LUCID-REC-006",
            "Caches and leftovers (apt lists, pip cache, tmp, stray .pyc)",
            "clean caches in the same layer that fills them (pip --no-cache-dir, rm -rf /var/lib/apt/lists/*)",
        ),
        matches: is_cache,
    },
];

const UNSTRIPPED: Check = rec(
    "LUCID-REC-007",
    "Unstripped ELF binaries and libraries",
    "strip --strip-unneeded (or install from packages built stripped; keep debug symbols in a separate image)",
);
const HIDDEN: Check = rec(
    "LUCID-REC-008",
    "Files deleted or overwritten by a later layer (still pulled)",
    "delete files in the RUN that creates them, or copy the result into a fresh stage (multi-stage build)",
);
const DUPLICATES: Check =
    rec("LUCID-REC-009", "Identical files at several paths", "make the copies hard links or symlinks, or keep one");
const UNLINKED: Check = rec(
    "LUCID-REC-010",
    "Library packages nothing in the image links to",
    "leave the package out (lucid: debian.exclude) after checking nothing loads it with dlopen",
);
/// With `--app`: the Java modules the application does not use (computed with the module list,
/// in `analyze`; the title there names the application).
pub const UNUSED_JAVA_MODULES: Check = rec(
    "LUCID-REC-011",
    "Java modules the application does not use",
    "leave them out of java.modules of a runtime made for this application (jlink --add-modules)",
);

/// Every recommendation `lucid report` can make, in ID order.
pub fn catalogue() -> Vec<Check> {
    PATH_RULES.iter().map(|r| r.rec).chain([UNSTRIPPED, HIDDEN, DUPLICATES, UNLINKED, UNUSED_JAVA_MODULES]).collect()
}

/// `rec` as advice for one image: what it saves, on how many things, the biggest examples.
fn advise(rec: &Check, saves: u64, count: u64, examples: Vec<String>) -> Recommendation {
    Recommendation { id: rec.id.into(), title: rec.title.into(), saves, count, examples, how: rec.remediation.into() }
}

fn top(mut items: Vec<(String, u64)>) -> Vec<String> {
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    items.into_iter().take(5).map(|(p, b)| format!("{p} ({})", crate::spec::format_size(b))).collect()
}

/// Every recommendation with something to save, biggest first.
pub(super) fn compute(input: &Input) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for rule in PATH_RULES {
        let hits: Vec<(String, u64)> =
            input.files.iter().filter(|f| (rule.matches)(&f.path)).map(|f| (format!("/{}", f.path), f.size)).collect();
        let saves: u64 = hits.iter().map(|h| h.1).sum();
        if saves > 0 {
            out.push(advise(&rule.rec, saves, hits.len() as u64, top(hits)));
        }
    }
    let unstripped: Vec<(String, u64)> = input
        .files
        .iter()
        .filter(|f| !f.hardlink)
        .filter_map(|f| f.elf.as_ref().filter(|e| e.has_symtab).map(|e| (format!("/{}", f.path), e.strippable)))
        .collect();
    let saves: u64 = unstripped.iter().map(|u| u.1).sum();
    if saves > 0 {
        out.push(advise(&UNSTRIPPED, saves, unstripped.len() as u64, top(unstripped)));
    }
    if input.hidden_bytes > 0 {
        out.push(advise(&HIDDEN, input.hidden_bytes, 0, vec![]));
    }
    let dup_saves: u64 = input.duplicates.iter().map(|g| g.bytes * (g.paths.len() as u64 - 1)).sum();
    if dup_saves > 0 {
        let examples = input
            .duplicates
            .iter()
            .take(5)
            .map(|g| {
                format!("{} ({} copies of {})", g.paths.join(", "), g.paths.len(), crate::spec::format_size(g.bytes))
            })
            .collect();
        out.push(advise(&DUPLICATES, dup_saves, input.duplicates.len() as u64, examples));
    }
    let unlinked = unlinked_packages(input);
    if !unlinked.is_empty() {
        out.push(advise(&UNLINKED, unlinked.iter().map(|u| u.1).sum(), unlinked.len() as u64, top(unlinked)));
    }
    out.sort_by(|a, b| b.saves.cmp(&a.saves).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Debian packages whose files include shared libraries, none of which any ELF file of another
/// package (or of no package) needs, and which ship no executables or Python modules.
fn unlinked_packages(input: &Input) -> Vec<(String, u64)> {
    let mut needed: HashMap<&str, BTreeSet<Option<usize>>> = HashMap::new();
    for f in input.files {
        if let Some(e) = &f.elf {
            for n in &e.needed {
                needed.entry(n.as_str()).or_default().insert(f.owner);
            }
        }
    }
    let mut per_owner: BTreeMap<usize, (u64, bool, bool)> = BTreeMap::new(); // bytes, has lib, used or runnable
    for f in input.files {
        let Some(o) = f.owner else { continue };
        if input.owners[o].kind != OwnerKind::Deb {
            continue;
        }
        let e = per_owner.entry(o).or_default();
        e.0 += f.size;
        match &f.elf {
            Some(elf) => match &elf.soname {
                Some(so) => {
                    e.1 = true;
                    if needed.get(so.as_str()).is_some_and(|users| users.iter().any(|u| *u != Some(o))) {
                        e.2 = true;
                    }
                }
                // An executable or a loadable module (Python extension): used by being run.
                None => e.2 = true,
            },
            None if f.path.ends_with(".py") || f.path.starts_with("usr/bin/") || f.path.starts_with("usr/sbin/") => {
                e.2 = true
            }
            None => {}
        }
    }
    per_owner
        .into_iter()
        .filter(|(_, (_, lib, used))| *lib && !*used)
        .map(|(o, (bytes, _, _))| (input.owners[o].name.clone(), bytes))
        .collect()
}

/// Bytes all recommendations save together, each file counted once (at its largest saving),
/// plus the bytes hidden by later layers.
pub(super) fn reclaimable(files: &[FileInfo], owners: &[Owner], recs: &[Recommendation], hidden: u64) -> u64 {
    let unlinked: BTreeSet<&str> = recs
        .iter()
        .filter(|r| r.id == UNLINKED.id)
        .flat_map(|r| r.examples.iter().map(|e| e.split(" (").next().unwrap_or("")))
        .collect();
    let mut dup_seen: HashMap<([u8; 16], u64), bool> = HashMap::new();
    let mut total = hidden;
    for f in files {
        let whole = PATH_RULES.iter().any(|r| (r.matches)(&f.path))
            || f.owner.is_some_and(|o| unlinked.contains(owners[o].name.as_str()));
        let mut save = if whole { f.size } else { 0 };
        if let Some(e) = f.elf.as_ref().filter(|e| e.has_symtab && !f.hardlink) {
            save = save.max(e.strippable);
        }
        if let Some(h) = f.hash.filter(|_| f.size > 0 && !f.hardlink) {
            // Every copy after the first of identical content could go.
            let first = dup_seen.insert((h, f.size), true).is_none();
            if !first {
                save = f.size;
            }
        }
        total += save;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        assert!(is_doc("usr/share/doc/libc6/changelog.Debian.gz") && !is_doc("usr/share/doc/libc6/copyright"));
        assert!(is_locale("usr/share/locale/de/LC_MESSAGES/x.mo") && !is_locale("usr/lib/locale/C.utf8/LC_CTYPE"));
        assert!(is_gconv("usr/lib/x86_64-linux-gnu/gconv/IBM1047.so"));
        assert!(is_test("usr/lib/python3.11/test/test_os.py") && !is_test("usr/lib/python3.11/unittest/case.py"));
        assert!(is_test("usr/local/lib/python3.11/site-packages/idna/tests/a.py"));
        assert!(is_cache("var/lib/apt/lists/x_Packages") && is_cache("root/.cache/pip/x"));
        assert!(!is_cache("usr/lib/python3.11/__pycache__/os.cpython-311.pyc"));
    }
}
