//! Check IDs name one thing across the whole tool: verify's checks, lint's Dockerfile rules and
//! report's recommendations share no ID, every ID is well formed, and `lucid verify
//! --list-checks` lists all three catalogues.

mod support;

use std::collections::BTreeMap;

use lucid::findings::{Check, is_check_id};
use support::lucid;

fn catalogues() -> Vec<(&'static str, Vec<Check>)> {
    vec![
        ("verify (src/verify/catalogue.rs)", lucid::verify::catalogue::CHECKS.to_vec()),
        ("lint (src/dockerfile/catalogue.rs)", lucid::dockerfile::RULES.to_vec()),
        ("report (src/analyze/recommend.rs)", lucid::analyze::recommend::catalogue()),
    ]
}

#[test]
fn no_id_means_two_things() {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (owner, checks) in catalogues() {
        assert!(!checks.is_empty(), "{owner}: empty catalogue");
        for c in checks {
            assert!(is_check_id(c.id) && c.id.starts_with("LUCID-"), "{owner}: malformed ID {:?}", c.id);
            assert!(!c.title.is_empty() && !c.remediation.is_empty(), "{owner}: {} has no title or fix", c.id);
            if let Some(first) = seen.insert(c.id, owner) {
                clashes.push(format!("{} is in {first} and in {owner}", c.id));
            }
        }
    }
    assert!(clashes.is_empty(), "check IDs used twice:\n{}", clashes.join("\n"));
}

#[test]
fn list_checks_shows_every_catalogue() {
    let out = lucid().args(["verify", "--list-checks"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let list = String::from_utf8_lossy(&out.stdout);
    for (owner, checks) in catalogues() {
        for c in checks {
            assert!(list.lines().any(|l| l.starts_with(c.id)), "{owner}: {} not listed:\n{list}", c.id);
        }
    }
}
