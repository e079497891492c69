//! The CI smoke of the fuzzers, with no libFuzzer needed: every committed seed
//! (`fuzz/seeds/TARGET/*`) and every input that once crashed a target (`fuzz/regressions/TARGET/*`)
//! goes through the same target bodies the fuzzers run (`fuzz/harness.rs`), and so do a few
//! hundred cheap deterministic mutations of each seed (bit flips, truncations, splices). Any panic
//! fails the test and names the target and input.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| (e.path().display().to_string(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

/// Deterministic mutations of `seed`: what a fuzzer tries first, enough to shake out shallow bugs.
fn mutations(seed: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D ^ seed.len() as u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    for i in 0..n {
        let mut m = seed.to_vec();
        if m.is_empty() {
            m.push(next() as u8);
        }
        match i % 4 {
            0 => {
                for _ in 0..1 + next() % 8 {
                    let at = (next() as usize) % m.len();
                    m[at] ^= 1 << (next() % 8);
                }
            }
            1 => m.truncate((next() as usize) % m.len()),
            2 => {
                let at = (next() as usize) % m.len();
                let interesting: &[&[u8]] = &[b"\xff\xff\xff\xff", b"0", b"..", b"/", b"\n \n", b"LUCIDLAYER", b"\0"];
                let ins = interesting[(next() as usize) % interesting.len()];
                m.splice(at..at, ins.iter().copied());
            }
            _ => {
                let (a, b) = ((next() as usize) % m.len(), (next() as usize) % m.len());
                let (a, b) = (a.min(b), a.max(b));
                let chunk = m[a..b].to_vec();
                m.splice(a..a, chunk);
            }
        }
        out.push(m);
    }
    out
}

#[test]
fn seeds_regressions_and_mutations_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let per_seed: usize = std::env::var("LUCID_FUZZ_SMOKE_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let mut ran = 0;
    for (target, run) in harness::TARGETS {
        let seeds = inputs(&root.join("seeds").join(target));
        assert!(!seeds.is_empty(), "fuzz/seeds/{target} has no seed");
        for (name, data) in seeds.iter().chain(&inputs(&root.join("regressions").join(target))) {
            let r = std::panic::catch_unwind(|| run(data));
            assert!(r.is_ok(), "fuzz target {target} panicked on {name}");
            ran += 1;
        }
        for (name, data) in &seeds {
            // Big seeds (real .debs) get fewer mutations: each costs a full decode.
            let n = if data.len() > 16 << 10 { per_seed / 8 } else { per_seed };
            for (i, m) in mutations(data, n).into_iter().enumerate() {
                let r = std::panic::catch_unwind(|| run(&m));
                assert!(r.is_ok(), "fuzz target {target} panicked on mutation {i} of {name}");
                ran += 1;
            }
        }
    }
    eprintln!("{ran} inputs through {} fuzz targets", harness::TARGETS.len());
}
