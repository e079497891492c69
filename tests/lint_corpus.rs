//! The corpus: every file in tests/dockerfiles/ says on its `# expect:` line exactly which rules
//! fire on which lines (`RULE@LINE`, or `none`), and the linter must agree, no more, no less.

use std::path::{Path, PathBuf};

use lucid::dockerfile::{LintOptions, lint_file};

fn corpus() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n.to_string_lossy().contains("Dockerfile")) {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerfiles").as_path(), &mut v);
    v
}

fn expected(path: &Path) -> Vec<(String, u32)> {
    let text = std::fs::read_to_string(path).unwrap();
    let line =
        text.lines().find_map(|l| l.strip_prefix("# expect:")).unwrap_or_else(|| panic!("{path:?}: no # expect:"));
    let mut v: Vec<(String, u32)> = line
        .split_whitespace()
        .filter(|w| *w != "none")
        .map(|w| {
            let (r, l) = w.split_once('@').unwrap();
            (r.to_string(), l.parse().unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_corpus_file_triggers_exactly_its_rules() {
    let files = corpus();
    let bad = files.iter().filter(|f| !expected(f).is_empty()).count();
    assert!(bad >= 25, "the corpus needs at least 25 bad Dockerfiles, has {bad}");
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for f in &files {
        let findings = lint_file(f, &LintOptions::new()).unwrap();
        for x in &findings {
            assert!(x.line >= 1 && x.column >= 1, "{x:?}");
            covered.insert(x.rule);
        }
        let mut got: Vec<(String, u32)> = findings.iter().map(|x| (x.rule.to_string(), x.line)).collect();
        got.sort();
        let want = expected(f);
        if got != want {
            failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}\n  {findings:#?}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every rule of the catalogue is exercised by some corpus file.
    let missing: Vec<&str> = lucid::dockerfile::RULES.iter().map(|r| r.id).filter(|id| !covered.contains(id)).collect();
    assert!(missing.is_empty(), "rules without a corpus file: {missing:?}");
}

#[test]
fn seed_dockerfiles_are_clean() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("infrastructure/containers/base");
    for f in ["Dockerfile.python-base", "Dockerfile.java-base"] {
        let findings = lint_file(&base.join(f), &LintOptions::new()).unwrap();
        assert!(findings.is_empty(), "{f}: {findings:#?}");
    }
}
