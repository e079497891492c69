//! The images scripts/bench-report measures, made with lucid's own writer. Ignored in normal
//! runs; the script runs them with `--ignored` and `LUCID_BENCH_OUT=DIR`.
//!
//! - `bench150`: lucid-python-build (already built into DIR by the script) plus one 70 MB layer of
//!   incompressible data: about 150 MB, so layers really are decompressed and hashed.
//! - `bench1g`: 1 GB in 262,144 files of 4 kB over four layers (many small files: the case where
//!   per-file work, not bytes, decides).

use std::path::PathBuf;

use lucid::oci::{ImageConfig, LayerBlob, assemble, write_layer};
use lucid::rootfs::{Entry, Tree};

const MTIME: i64 = 1_700_000_000;

fn out() -> PathBuf {
    PathBuf::from(std::env::var("LUCID_BENCH_OUT").expect("set LUCID_BENCH_OUT=DIR"))
}

/// Deterministic incompressible bytes (xorshift64*).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

fn config(title: &str, history: Vec<String>) -> ImageConfig {
    ImageConfig {
        platform: lucid::platform::Platform::parse("linux/amd64").unwrap(),
        user: "65532:65532".into(),
        env: vec![],
        entrypoint: vec![],
        cmd: vec![],
        working_dir: "/".into(),
        labels: [("org.opencontainers.image.title".to_string(), title.to_string())].into(),
        created: MTIME,
        history,
    }
}

fn publish(name: &str, image: &lucid::oci::BuiltImage) {
    let dir = out();
    lucid::oci::layout::write_layout(&dir.join(name), &[(image, vec!["latest".into()])]).unwrap();
    let tar = dir.join(format!("{name}.tar"));
    lucid::oci::archive::write_docker_archive(&tar, image, &[format!("{name}:latest")]).unwrap();
}

#[test]
#[ignore = "not a check: writes a benchmark image (up to 1 GB) for scripts/bench-report"]
fn bench150() {
    let dir = out();
    let src = lucid::oci::read::open_layout(&dir.join("lucid-python-build"), Some("latest")).unwrap();
    let mut layers: Vec<LayerBlob> = src
        .layers
        .iter()
        .map(|l| {
            let lucid::oci::Location::File(path) = &l.location else { unreachable!("a layout") };
            LayerBlob {
                digest: l.digest.clone().unwrap(),
                diff_id: l.diff_id.clone(),
                size: l.size,
                // Not read by the outputs; the config's diff_id is what names the tar.
                uncompressed_size: 0,
                path: path.clone(),
            }
        })
        .collect();
    let mut t = Tree::new();
    t.insert("usr/share/bench/padding.bin", Entry::file(noise(7, 70_000_000), 0o644)).unwrap();
    layers.push(write_layer(&t, MTIME, &dir.join("blobs-bench150")).unwrap());
    let mut history: Vec<String> =
        src.config.history.iter().filter(|h| !h.empty_layer).filter_map(|h| h.created_by.clone()).collect();
    history.push("bench padding (70 MB)".into());
    publish("bench150", &assemble(config("bench150", history), layers).unwrap());
}

#[test]
#[ignore = "not a check: writes a benchmark image (up to 1 GB) for scripts/bench-report"]
fn bench1g() {
    let dir = out();
    let mut layers = Vec::new();
    let mut history = Vec::new();
    for layer in 0..4u64 {
        let mut t = Tree::new();
        for i in 0..65_536u64 {
            let path = format!("srv/data/l{layer}/d{:03}/f{:05}.bin", i / 256, i);
            t.insert(&path, Entry::file(noise(layer << 32 | i, 4000), 0o644)).unwrap();
        }
        layers.push(write_layer(&t, MTIME, &dir.join("blobs-bench1g")).unwrap());
        history.push(format!("bench: 65536 files of 4 kB (layer {})", layer + 1));
    }
    publish("bench1g", &assemble(config("bench1g", history), layers).unwrap());
}
