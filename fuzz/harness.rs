//! The bodies of the fuzz targets, shared by the libFuzzer binaries (fuzz_targets/*.rs) and by
//! the root crate's `tests/harden_fuzz_seeds.rs`, which replays every seed and every past crash
//! through them on each `cargo test`: the cheap CI smoke of the fuzzers.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Read;

use lucid::debian::{control, packages, relation, release, version};
use lucid::oci::archive;
use lucid::oci::image::{ConfigFile, Index, Manifest};
use lucid::oci::read::{self, ImageView};
use lucid::oci::{Image, Layer, Location};
use sha2::{Digest, Sha256};

/// A target body: takes any bytes, must never panic.
pub type Target = fn(&[u8]);

/// Every target by name, for the replay test.
pub const TARGETS: &[(&str, Target)] = &[
    ("archive", archive),
    ("binaries", binaries),
    ("control", control),
    ("cst", cst),
    ("deb", deb),
    ("decompress", decompress),
    ("dockerfile", dockerfile),
    ("layer", layer),
    ("oci_json", oci_json),
    ("release", release),
    ("requirements", requirements),
    ("spec", spec),
    ("view", view),
    ("wheel", wheel),
];

fn path() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path()
}

/// docker-archive: manifest.json alone, and whole archives opened and verified from a file.
pub fn archive(data: &[u8]) {
    let _ = archive::parse_manifest(data);
    let file = path().join("image.tar");
    std::fs::write(&file, data).expect("write archive");
    if let Ok(view) = read::open_docker_archive(&file) {
        let _ = view.verify();
        for i in 0..view.layers.len().min(4) {
            if let Ok(tar) = view.layer_tar(i) {
                let _ = read::layer_entries(tar);
            }
        }
    }
}

/// deb822 paragraphs (Packages, control), their relation fields and versions.
pub fn control(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = packages::parse_packages(text, "http://127.0.0.1/debian", "bookworm", "fuzz/Packages");
    let Ok(paras) = control::parse(text) else { return };
    for p in &paras {
        for field in ["Depends", "Pre-Depends", "Recommends", "Breaks"] {
            if let Some(v) = p.get(field) {
                let _ = relation::parse_relations(v);
            }
        }
        if let Some(v) = p.get("Provides") {
            let _ = relation::parse_provides(v);
        }
        if let Some(v) = p.get("Version") {
            let _ = version::Version::parse(v);
            let _ = version::compare(v, "1:2.3-4~bpo1");
        }
    }
}

/// container-structure-test YAML (schema 2.0.0) as `lucid verify --config` reads it.
pub fn cst(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(suite) = lucid::verify::cst::parse(text, std::path::Path::new("/fuzz/structure.yaml")) {
        let _ = suite.content_paths();
    }
    // The Go behaviours lucid reproduces take the file's text too: `$VAR` expansion of commands,
    // paths and global variables, and the dotenv syntax of `envFile`.
    let _ = lucid::verify::cst::golang::expand(text, &|k: &str| (k.len() < 4).then(|| k.to_string()));
    let _ = lucid::verify::cst::golang::dotenv(text);
}

/// The .deb container: ar members, control.tar.*, data.tar.* into the in-memory tree.
pub fn deb(data: &[u8]) {
    let mut tree = lucid::rootfs::Tree::new();
    let _ = lucid::debian::deb::extract(data, "fuzz", &mut tree);
}

/// The index and data.tar decompressors (xz, gzip, zstd), chosen by the first byte.
pub fn decompress(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let name = ["Packages.xz", "Packages.gz", "data.tar.zst", "Packages"][pick as usize % 4];
    let _ = lucid::debian::repo::decompress(rest, name);
}

/// Dockerfiles through the parser and every lint rule.
pub fn dockerfile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let opts = lucid::dockerfile::LintOptions::new();
    let _ = lucid::dockerfile::lint_str(text, "Dockerfile", &opts);
}

/// One layer blob (gzip or plain tar) through the reader every image source uses.
pub fn layer(data: &[u8]) {
    if let Ok(tar) = read::decompressed(data) {
        let _ = read::layer_entries(tar);
    }
    if let Ok(tar) = read::decompressed(data) {
        let _ = read::layer_tree(tar);
    }
}

fn dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(d.path().join("blobs/sha256")).expect("blobs");
        std::fs::write(d.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
        d
    })
    .path()
}

/// OCI index, manifest and config JSON, and an OCI layout whose index.json is the input.
pub fn oci_json(data: &[u8]) {
    let _ = serde_json::from_slice::<Index>(data);
    let _ = serde_json::from_slice::<Manifest>(data);
    let _ = serde_json::from_slice::<ConfigFile>(data);
    // A signature's simple-signing payload (read only after its signature verified, but a
    // parser of outside bytes all the same).
    let _ = lucid::sign::payload::decode(data);
    // The same bytes as index.json and as the blob every digest could name.
    std::fs::write(dir().join("index.json"), data).expect("index.json");
    let digest = lucid::oci::digest_of(data);
    std::fs::write(dir().join("blobs/sha256").join(&digest[7..]), data).expect("blob");
    let _ = read::open_layout(dir(), None);
    let _ = read::layout_manifests(dir(), Some("latest"));
    let _ = std::fs::remove_file(dir().join("blobs/sha256").join(&digest[7..]));
}

fn keyring() -> &'static [u8] {
    static KEYS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| std::fs::read("/usr/share/keyrings/debian-archive-bookworm-stable.gpg").unwrap_or_default())
}

/// InRelease: the clearsigned OpenPGP envelope (against Debian's real keyring when the host has
/// it, else an empty one) and the Release text it carries.
pub fn release(data: &[u8]) {
    let _ = release::verify_inrelease(data, keyring(), 1_700_000_000, "fuzz/InRelease");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = release::parse_release(text, "fuzz/Release");
        let _ = release::parse_date(text);
    }
}

/// What `lucid report` reads inside image files: ELF headers and sections (unstripped, DT_NEEDED,
/// SONAME) and a Java runtime's jimage index (bytes per module).
pub fn binaries(data: &[u8]) {
    let _ = lucid::formats::elf::is_elf(data);
    let _ = lucid::formats::elf::parse(data);
    let _ = lucid::formats::elf::dynamic(data);
    // The stripper rewrites what it reads: its output must parse again.
    if let Ok(Some(stripped)) = lucid::formats::elf_strip::strip(data) {
        assert!(lucid::formats::elf::parse(&stripped).is_some(), "the stripper wrote what the reader refuses");
    }
    let _ = lucid::analyze::jimage::index_size(data);
    let _ = lucid::analyze::jimage::module_sizes(data);
}

/// requirements.txt: pins, extras, environment markers.
pub fn requirements(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = lucid::python::requirements::parse(text, "fuzz/requirements.txt");
    let env = lucid::python::requirements::MarkerEnv::cpython311_linux(Some("aarch64"));
    let _ = lucid::python::requirements::eval_marker(text, &env);
}

/// build-args.yml through the spec model and its validation.
pub fn spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = lucid::spec::Spec::parse(text, std::path::Path::new("/fuzz/build-args.yml")) {
        for img in &spec.images {
            let _ = spec.chain(&img.name);
            let _ = spec.tags_for(img, 1_700_000_000, Some("3.13.5"));
        }
    }
}

fn view_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path()
}

fn split<'a>(mut data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = data.windows(sep.len()).position(|w| w == sep) {
        out.push(&data[..i]);
        data = &data[i + sep.len()..];
    }
    out.push(data);
    out
}

/// verify's merged view over up to four layers (whiteouts, opaque dirs, links, captured files).
/// The input is split on `LUCIDLAYER`; each part is a layer blob. The config's diff_ids are made
/// to match so the merge runs over every layer, not only the first.
pub fn view(data: &[u8]) {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, part) in split(data, b"LUCIDLAYER").into_iter().take(4).enumerate() {
        let path = view_dir().join(format!("layer{i}"));
        std::fs::write(&path, part).expect("write layer");
        let mut hasher = Sha256::new();
        if let Ok(mut r) = read::decompressed(part) {
            let mut buf = vec![0u8; 64 << 10];
            let mut total = 0usize;
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 || total > (64 << 20) {
                    break;
                }
                total += n;
                hasher.update(&buf[..n]);
            }
        }
        let diff_id = format!("sha256:{}", hex::encode(hasher.finalize()));
        diff_ids.push(diff_id.clone());
        layers.push(Layer {
            digest: None,
            diff_id,
            size: part.len() as u64,
            media_type: lucid::oci::MEDIA_TYPE_LAYER_TAR.into(),
            uncompressed_size: None,
            location: Location::File(path),
        });
    }
    let config_json = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .expect("json");
    let config = serde_json::from_slice(&config_json).expect("config");
    let view = ImageView {
        config_digest: lucid::oci::digest_of(&config_json),
        config_json,
        config,
        manifest: None,
        tags: vec![],
        layers,
        declared: None,
    };
    let capture: BTreeSet<String> =
        ["etc/passwd", "etc/group", "etc/os-release"].iter().map(|s| s.to_string()).collect();
    if let Ok(merged) = lucid::oci::view::merge(&view, &capture) {
        for path in merged.entries.keys().take(64) {
            let _ = merged.resolve(path);
        }
        let _ = merged.lookup("usr/bin/python3");
        let _ = merged.content_size();
    }
}

/// Wheels (zip) installed into site-packages in the in-memory tree, and read as `--app` reads them.
pub fn wheel(data: &[u8]) {
    let mut tree = lucid::rootfs::Tree::new();
    let _ =
        lucid::python::wheel::install(data, "fuzz-1.0-py3-none-any.whl", "usr/lib/python3/dist-packages", &mut tree);
    // The same bytes as `lucid verify --app` reads a wheel: its members and their ELF files.
    let file = path().join("fuzz-1.0-py3-none-any.whl");
    std::fs::write(&file, data).expect("write wheel");
    let _ = lucid::verify::app::python::wheel_elfs(&file);
}
