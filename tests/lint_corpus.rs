//! The corpora. Every file in tests/dockerfiles/ (written for the rules, in the seed's house style:
//! its .lucid.yml turns the `lucid` profile on) says on its `# expect:` line exactly which rules
//! fire on which lines (`RULE@LINE`, or `none`), and the linter must agree, no more, no less.
//! tests/dockerfiles/public/ holds other projects' Dockerfiles, unmodified (SOURCES names each
//! one's repository, commit, path, licence and SHA-256), linted as any team's would be (default
//! profile); EXPECTED lists their findings, reviewed, with a reason per rule that fires.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lucid::dockerfile::{LintOptions, lint_file};
use sha2::{Digest, Sha256};

fn public_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerfiles/public")
}

/// The rule corpus: tests/dockerfiles/ but the public one.
fn corpus() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerfiles"))
        .into_iter()
        .filter(|p| {
            !p.starts_with(public_dir()) && p.file_name().is_some_and(|n| n.to_string_lossy().contains("Dockerfile"))
        })
        .collect();
    v.sort();
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

/// `local-path sha256` of every line of SOURCES.
fn public_sources() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(public_dir().join("SOURCES")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 6, "SOURCES: local repo commit path licence sha256: {l}");
            (f[0].to_string(), f[5].to_string())
        })
        .collect()
}

/// `RULE@LINE`s per corpus file.
type Expected = BTreeMap<String, Vec<(String, u32)>>;

/// EXPECTED: `reason RULE text` lines, then `local-path RULE@LINE... | none` lines.
fn public_expected() -> (BTreeMap<String, String>, Expected) {
    let text = std::fs::read_to_string(public_dir().join("EXPECTED")).unwrap();
    let (mut reasons, mut files) = (BTreeMap::new(), BTreeMap::new());
    for l in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let mut words = l.split_whitespace();
        let first = words.next().unwrap();
        if first == "reason" {
            let rule = words.next().unwrap_or_else(|| panic!("EXPECTED: {l}"));
            reasons.insert(rule.to_string(), words.collect::<Vec<_>>().join(" "));
            continue;
        }
        let mut hits: Vec<(String, u32)> = words
            .filter(|w| *w != "none")
            .map(|w| {
                let (r, n) = w.split_once('@').unwrap_or_else(|| panic!("EXPECTED: {w} is not RULE@LINE"));
                (r.to_string(), n.parse().unwrap())
            })
            .collect();
        hits.sort();
        files.insert(first.to_string(), hits);
    }
    (reasons, files)
}

/// Other projects' Dockerfiles: no parse error, and exactly the reviewed findings, each rule with
/// a reason why the finding is right. `LUCID_BLESS=1` rewrites the per-file lines of EXPECTED
/// (the reasons stay) for a reviewer to check with `git diff`.
#[test]
fn public_dockerfiles_give_exactly_the_reviewed_findings() {
    let sources = public_sources();
    assert!(sources.len() >= 50, "the public corpus needs at least 50 files, has {}", sources.len());
    let listed: BTreeSet<&str> = sources.iter().map(|s| s.0.as_str()).collect();
    let mut on_disk = Vec::new();
    for entry in walkdir(&public_dir()) {
        let rel = entry.strip_prefix(public_dir()).unwrap().display().to_string();
        if !matches!(rel.as_str(), "SOURCES" | "EXPECTED" | ".lucid.yml") {
            on_disk.push(rel);
        }
    }
    let unlisted: Vec<&String> = on_disk.iter().filter(|f| !listed.contains(f.as_str())).collect();
    assert!(unlisted.is_empty(), "files not in SOURCES: {unlisted:?}");

    let (reasons, expected) = public_expected();
    let mut failures = Vec::new();
    let mut blessed = Vec::new();
    let mut fired = BTreeSet::new();
    for (local, sha) in &sources {
        let path = public_dir().join(local);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{local}: {e}"));
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), sha, "{local} differs from upstream (SOURCES)");
        // No options: the profile comes from public/.lucid.yml, as it would for a user.
        let hits = lint_file(&path, &LintOptions::new()).unwrap();
        let parse_errors: Vec<_> = hits.iter().filter(|h| h.rule == "LUCID-DF-000").collect();
        assert!(parse_errors.is_empty(), "{local}: parse errors {parse_errors:#?}");
        let mut got: Vec<(String, u32)> = hits.iter().map(|h| (h.rule.to_string(), h.line)).collect();
        got.sort();
        fired.extend(got.iter().map(|g| g.0.clone()));
        let words: Vec<String> = got.iter().map(|(r, l)| format!("{r}@{l}")).collect();
        blessed.push(format!("{local} {}", if words.is_empty() { "none".to_string() } else { words.join(" ") }));
        match expected.get(local) {
            Some(want) if *want == got => {}
            want => failures.push(format!("{local}:\n  want {want:?}\n  got  {got:?}\n  {hits:#?}")),
        }
    }
    if std::env::var_os("LUCID_BLESS").is_some() {
        let path = public_dir().join("EXPECTED");
        let text = std::fs::read_to_string(&path).unwrap();
        let keep: Vec<&str> =
            text.lines().filter(|l| l.starts_with('#') || l.starts_with("reason ") || l.trim().is_empty()).collect();
        std::fs::write(&path, format!("{}\n{}\n", keep.join("\n").trim_end(), blessed.join("\n"))).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let unexplained: Vec<&String> = fired.iter().filter(|r| !reasons.contains_key(*r)).collect();
    assert!(unexplained.is_empty(), "EXPECTED gives no reason for {unexplained:?}");
    let stale: Vec<&String> = reasons.keys().filter(|r| !fired.contains(*r)).collect();
    assert!(stale.is_empty(), "EXPECTED gives reasons for rules that never fire: {stale:?}");
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}
