//! The never-arrows of docs/architecture.md, checked in the code: which top-level module of the
//! library may name which other. A module's imports are every `crate::NAME` path in its files
//! (`use` lines, `crate::{a, b}` groups and paths written inline), comments left out; `super::`
//! never leaves a top-level module, which the test checks too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of `text` without comments (line comments and doc comments; block comments are not
/// used in this crate, and a `/*` would fail [`no_block_comments`]).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find("//") {
            // A `//` inside a string (a URL) is rare in paths that matter; a comment start at the
            // line's first non-blank is the common case.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The paths after `prefix` (`crate::`, or `lucid::` in the binary) in `code`, each as its segments (`crate::debian::control::x` gives
/// `["debian", "control", "x"]`), with `crate::{a::b, c}` groups expanded one level deep.
fn crate_paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find(prefix) {
        let start = at + i;
        at = start + prefix.len();
        // `lucid::crate::` does not exist; skip identifiers that merely end in `crate`.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        if code[at..].starts_with('{') {
            // The group's items at brace depth one: `crate::{a::{x, y}, b}` gives `a` and `b`.
            let (mut depth, mut item_start) = (0, at + 1);
            for (k, c) in code[at..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        let segs = segments(code[item_start..at + k].trim());
                        if !segs.is_empty() {
                            out.push(segs);
                        }
                        item_start = at + k + 1;
                        if c == '}' {
                            at += k;
                            break;
                        }
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
        } else {
            out.push(segments(&code[at..]));
        }
    }
    out
}

fn segments(text: &str) -> Vec<String> {
    let mut segs = Vec::new();
    let mut rest = text;
    loop {
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        segs.push(rest[..len].to_string());
        rest = &rest[len..];
        match rest.strip_prefix("::") {
            Some(r) if !r.starts_with('{') => rest = r,
            _ => break,
        }
    }
    segs
}

/// Top-level module of a file under `src/`: `src/verify/app/java.rs` is `verify`, `src/lock.rs`
/// is `lock`, `src/main.rs` is `main`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

struct Crate {
    /// Per top-level module, each file's code.
    files: BTreeMap<String, Vec<(PathBuf, String)>>,
}

impl Crate {
    fn read() -> Crate {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        paths.sort();
        let mut files: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
        for p in paths {
            let text = fs::read_to_string(&p).unwrap();
            files.entry(module_of(&src, &p)).or_default().push((p.clone(), code(&text)));
        }
        Crate { files }
    }

    /// `(file, path)` for every `crate::` path module `from` writes.
    fn imports(&self, from: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for (file, code) in self.files.get(from).map(Vec::as_slice).unwrap_or_default() {
            // The binary (src/main.rs, src/cli/) names the library by its crate name.
            let prefix = if from == "cli" || from == "main" { "lucid::" } else { "crate::" };
            for p in crate_paths(code, prefix) {
                out.push((file.display().to_string(), p));
            }
        }
        out
    }
}

/// The modules `from` may not name; `except` lists `module::sub` paths that are allowed anyway.
fn forbid(krate: &Crate, from: &str, targets: &[&str], except: &[&str], broken: &mut Vec<String>) {
    assert!(krate.files.contains_key(from), "no module {from} under src/: update this test with the code");
    for (file, path) in krate.imports(from) {
        let Some(target) = path.first() else { continue };
        if !targets.contains(&target.as_str()) {
            continue;
        }
        let two = path.iter().take(2).cloned().collect::<Vec<_>>().join("::");
        if except.contains(&two.as_str()) {
            continue;
        }
        broken.push(format!("{file}: {from} names crate::{}", path.join("::")));
    }
}

/// Every top-level module except `allowed` (and `from` itself).
fn all_but<'a>(krate: &'a Crate, from: &str, allowed: &[&str]) -> Vec<&'a str> {
    krate.files.keys().map(String::as_str).filter(|m| *m != from && !allowed.contains(m)).collect()
}

#[test]
fn never_arrows_hold() {
    let krate = Crate::read();
    let mut broken = Vec::new();
    // oci: images, layers, references, sources and sinks; it knows nothing of what reads them.
    forbid(&krate, "oci", &["verify", "analyze", "report", "debian", "python", "java", "cli"], &[], &mut broken);
    // verify and analyze read images, never the build side; an image's status.d is Debian's
    // control format, so that one parser is shared.
    for from in ["verify", "analyze"] {
        forbid(
            &krate,
            from,
            &["python", "java", "lock", "fetch", "cli", "debian", "build"],
            &["debian::control"],
            &mut broken,
        );
    }
    // analyze does not call back into verify (verify builds on analyze).
    forbid(&krate, "analyze", &["verify"], &[], &mut broken);
    // report formats findings and figures, nothing else (sizes and enum names are foundations).
    let report_may = ["findings", "units", "names", "limits"];
    let others = all_but(&krate, "report", &report_may);
    forbid(&krate, "report", &others, &[], &mut broken);
    // The findings model is plain data: it names only foundations and the parsers whose facts it
    // carries (an ELF file's, in the report's figures).
    let findings_may = ["formats", "units", "names", "limits"];
    let others = all_but(&krate, "findings", &findings_may);
    forbid(&krate, "findings", &others, &[], &mut broken);
    // Foundations and format parsers are leaves: both the builder and the checkers stand on them.
    for leaf in ["formats", "limits", "files", "units", "names", "platform"] {
        let others = all_but(&krate, leaf, &["limits"]);
        forbid(&krate, leaf, &others, &[], &mut broken);
    }
    assert!(broken.is_empty(), "imports against docs/architecture.md:\n{}", broken.join("\n"));
}

#[test]
fn clap_only_in_the_command_line() {
    let krate = Crate::read();
    let mut found = Vec::new();
    for (module, files) in &krate.files {
        if module == "cli" || module == "main" {
            continue;
        }
        for (file, code) in files {
            if code.contains("clap::") || code.contains("use clap") {
                found.push(file.display().to_string());
            }
        }
    }
    assert!(found.is_empty(), "clap belongs in src/cli and src/main.rs only, found in: {found:?}");
}

#[test]
fn super_never_leaves_a_top_level_module() {
    let krate = Crate::read();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for files in krate.files.values() {
        for (file, code) in files {
            let rel = file.strip_prefix(&src).unwrap();
            // A file at depth d (src/a/b.rs has d = 2; src/a/mod.rs, d = 1) reaches the crate
            // root with d `super::`s (mod.rs counts one less).
            let mut depth = rel.components().count();
            if rel.file_name().is_some_and(|n| n == "mod.rs") {
                depth -= 1;
            }
            // `#[cfg(test)] mod tests` adds one level that `super::` first climbs out of.
            let limit = depth.saturating_sub(1) + usize::from(code.contains("mod tests"));
            let supers = "super::".repeat(limit + 1);
            if code.contains(&supers) {
                found.push(file.display().to_string());
            }
        }
    }
    assert!(found.is_empty(), "super:: climbs to the crate root (name the module with crate:: instead): {found:?}");
}

#[test]
fn the_reader_sees_every_form() {
    let code = code("use crate::{debian::control, oci::{a, b}};\nlet x = crate::java::run(); // crate::cli::x\n");
    let paths = crate_paths(&code, "crate::");
    let firsts: BTreeSet<&str> = paths.iter().map(|p| p[0].as_str()).collect();
    assert_eq!(firsts, BTreeSet::from(["debian", "oci", "java"]), "{paths:?}");
    assert_eq!(paths[0], ["debian", "control"]);
}

/// The block of docs/architecture.md between these markers lists each module's imports as the code
/// has them; this test fails, printing the block to paste, when the code and the picture differ.
const GRAPH_START: &str = "<!-- module imports: checked by tests/architecture.rs -->";
const GRAPH_END: &str = "<!-- end of module imports -->";

#[test]
fn the_documented_picture_is_the_code() {
    let krate = Crate::read();
    let mut lines = vec![GRAPH_START.to_string(), "```".to_string()];
    let width = krate.files.keys().map(String::len).max().unwrap_or(0);
    for module in krate.files.keys().filter(|m| *m != "lib") {
        let names: BTreeSet<String> = krate
            .imports(module)
            .into_iter()
            .filter_map(|(_, p)| p.into_iter().next())
            .filter(|t| t != module && krate.files.contains_key(t))
            .collect();
        let names: Vec<String> = names.into_iter().collect();
        lines.push(format!("{module:<width$} -> {}", names.join(", ")).trim_end().to_string());
    }
    lines.push("```".to_string());
    lines.push(GRAPH_END.to_string());
    let want = lines.join("\n");
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let doc = fs::read_to_string(&doc_path).unwrap();
    let have = match (doc.find(GRAPH_START), doc.find(GRAPH_END)) {
        (Some(a), Some(b)) if a < b => &doc[a..b + GRAPH_END.len()],
        _ => panic!("{} has no module-imports block; add:\n{want}", doc_path.display()),
    };
    assert_eq!(
        have, want,
        "docs/architecture.md's module imports differ from the code; the block should read:\n{want}"
    );
}
