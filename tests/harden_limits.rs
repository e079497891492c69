//! Resource bounds: hostile inputs built to exhaust memory or time end in a clear error, fast,
//! with flat memory. The image cases run the real `lucid` binary under `/usr/bin/time -v` and
//! check wall time (< 1 s) and peak memory (< 100 MB).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Runs `lucid args` under GNU time: (exit success, stderr, seconds, peak RSS in MB).
fn timed(args: &[&str], env: &[(&str, &str)]) -> (bool, String, f64, f64) {
    support::require_tool("/usr/bin/time");
    let mut c = Command::new("/usr/bin/time");
    c.arg("-v").arg(env!("CARGO_BIN_EXE_lucid")).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let field = |name: &str| -> f64 {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
            .parse()
            .unwrap_or(-1.0)
    };
    let rss_mb = field("Maximum resident set size (kbytes):") / 1024.0;
    let wall = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Elapsed (wall clock) time (h:mm:ss or m:ss):"))
        .map(|v| v.trim().split(':').fold(0.0, |acc, p| acc * 60.0 + p.parse::<f64>().unwrap_or(0.0)))
        .unwrap_or(-1.0);
    (o.status.success(), err, wall, rss_mb)
}

fn assert_refused_fast(what: &str, r: &(bool, String, f64, f64), needle: &str) {
    let (ok, err, wall, rss) = r;
    eprintln!("{what}: {wall:.2}s, {rss:.1} MB peak");
    assert!(!ok, "{what} was accepted: {err}");
    assert!(err.contains(needle), "{what}: the error does not say {needle:?}:\n{err}");
    assert!(*wall >= 0.0 && *wall < 1.0, "{what} took {wall}s");
    assert!(*rss > 0.0 && *rss < 100.0, "{what} peaked at {rss} MB");
}

fn tar_header(name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h
}

/// Writes an OCI layout at `dir` whose one layer is `layer` (stored as given), tagged latest.
fn layout_with_layer(dir: &Path, layer: &[u8], diff_id: &str) {
    layout_with_layers(dir, &[(layer, diff_id)]);
}

/// Writes an OCI layout at `dir` whose layers are `layers` (each stored as given, with the
/// diff_id the config claims for it), tagged latest.
fn layout_with_layers(dir: &Path, layers: &[(&[u8], &str)]) {
    let diff_ids: Vec<&str> = layers.iter().map(|(_, d)| *d).collect();
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "config": {"User": "65532:65532"}, "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let config = serde_json::to_vec(&config).unwrap();
    let descriptors: Vec<serde_json::Value> = layers
        .iter()
        .map(|(l, _)| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": lucid::oci::digest_of(l), "size": l.len()})
        })
        .collect();
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": lucid::oci::digest_of(&config), "size": config.len()},
        "layers": descriptors});
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let mut blobs: Vec<&[u8]> = layers.iter().map(|(l, _)| *l).collect();
    blobs.push(&config);
    write_layout(dir, &blobs, &manifest);
}

fn write_layout(dir: &Path, blobs: &[&[u8]], manifest: &[u8]) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    for b in blobs.iter().chain([&manifest]) {
        std::fs::write(dir.join("blobs/sha256").join(&lucid::oci::digest_of(b)[7..]), b).unwrap();
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": lucid::oci::digest_of(manifest), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn verify(dir: &Path) -> (bool, String, f64, f64) {
    timed(&["verify", "--no-runtime", &format!("oci:{}:latest", dir.display())], &[])
}

#[test]
fn gzip_bomb_layer_is_refused_fast_with_flat_memory() {
    // 4 GiB of zeros in one file, gzip-compressed to about 4 MB.
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(tar_header("bomb", 4 << 30).as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(4 << 10) {
        gz.write_all(&zeros).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    let layer = gz.finish().unwrap();
    layout_with_layer(dir.path(), &layer, &format!("sha256:{}", "0".repeat(64)));
    assert_refused_fast("4 GiB gzip bomb layer", &verify(dir.path()), "decompression bomb");
}

#[test]
fn a_layer_entry_declaring_a_terabyte_is_refused_at_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut layer = tar_header("usr/lib/huge", 1 << 40).as_bytes().to_vec();
    layer.extend_from_slice(&[0u8; 4096]);
    layout_with_layer(dir.path(), &layer, &lucid::oci::digest_of(&layer));
    assert_refused_fast("1 TB declared entry", &verify(dir.path()), "usr/lib/huge");
}

#[test]
fn too_many_entries_and_too_long_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut layer = Vec::new();
    for i in 0..2000 {
        layer.extend_from_slice(tar_header(&format!("f/{i}"), 0).as_bytes());
    }
    layer.extend_from_slice(&[0u8; 1024]);
    layout_with_layer(dir.path(), &layer, &lucid::oci::digest_of(&layer));
    let r = timed(
        &["verify", "--no-runtime", &format!("oci:{}:latest", dir.path().display())],
        &[("LUCID_MAX_ENTRIES", "1000")],
    );
    assert_refused_fast("2000 entries over a limit of 1000", &r, "more than 1000 entries");

    let dir = tempfile::tempdir().unwrap();
    let long = format!("{}/x", "d".repeat(5000));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, &long, std::io::empty()).unwrap();
    let layer = b.into_inner().unwrap();
    layout_with_layer(dir.path(), &layer, &lucid::oci::digest_of(&layer));
    assert_refused_fast("a 5002-byte path", &verify(dir.path()), "longer than the limit of 4096");
}

/// Many layers each under the entry limit still cannot grow the merged filesystem past it.
#[test]
fn many_layers_under_the_limit_cannot_add_up_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let layers: Vec<Vec<u8>> = (0..3)
        .map(|l| {
            let mut layer = Vec::new();
            for i in 0..600 {
                layer.extend_from_slice(tar_header(&format!("l{l}/f{i}"), 0).as_bytes());
            }
            layer.extend_from_slice(&[0u8; 1024]);
            layer
        })
        .collect();
    let digests: Vec<String> = layers.iter().map(|l| lucid::oci::digest_of(l)).collect();
    let with_ids: Vec<(&[u8], &str)> = layers.iter().zip(&digests).map(|(l, d)| (l.as_slice(), d.as_str())).collect();
    layout_with_layers(dir.path(), &with_ids);
    let r = timed(
        &["verify", "--no-runtime", &format!("oci:{}:latest", dir.path().display())],
        &[("LUCID_MAX_ENTRIES", "1000")],
    );
    assert_refused_fast("3 layers of 600 entries over a limit of 1000", &r, "more than 1000 paths");
}

/// The entry limit at its default, not lowered: a layer of one entry too many (200 MB of tar
/// headers) is refused with peak memory under 100 MB, so what verify keeps per path while counting
/// stays small. Time is not asserted here: this test runs the unoptimized binary, and reading
/// 200 MB is the cost of the input, not of the bound; scripts/bench-limits times the release
/// binary.
#[test]
fn entry_limit_at_its_default_holds_the_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let n = lucid::limits::MAX_ENTRIES + 1;
    let mut layer = Vec::with_capacity((n as usize + 2) * 512);
    for i in 0..n {
        layer.extend_from_slice(tar_header(&format!("usr/lib/node_modules/m{}/f{i}.js", i % 1000), 0).as_bytes());
    }
    layer.extend_from_slice(&[0u8; 1024]);
    layout_with_layer(dir.path(), &layer, &lucid::oci::digest_of(&layer));
    drop(layer);
    let (ok, err, wall, rss) = verify(dir.path());
    let build = if cfg!(debug_assertions) { " (unoptimized binary)" } else { "" };
    eprintln!("{n} entries at the default limit: {wall:.2}s, {rss:.1} MB peak{build}");
    assert!(!ok, "accepted: {err}");
    assert!(err.contains(&format!("more than {} entries", n - 1)), "{err}");
    assert!(rss > 0.0 && rss < 100.0, "peaked at {rss} MB");
}

#[test]
fn deeply_nested_json_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
    let deep = format!("{{\"schemaVersion\":2,\"manifests\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.path().join("index.json"), deep).unwrap();
    std::fs::write(dir.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    // Typed parsing never follows nesting deeper than the schema (and serde_json stops at 128).
    assert_refused_fast("index.json nested 100,000 deep", &verify(dir.path()), "malformed");

    let huge = dir.path().join("index.json");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(64 << 20).unwrap();
    assert_refused_fast("a 64 MB index.json", &verify(dir.path()), "more than the limit");
}

/// The classic "billion laughs": nine levels of ten aliases each.
fn billion_laughs() -> String {
    let mut s =
        String::from("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        s.push_str(&format!("a{i}: &a{i} [{}]\n", vec![p; 10].join(",")));
    }
    s
}

#[test]
fn billion_laughs_yaml_is_refused_fast() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("build-args.yml");
    // Under a known key, so the schema's unknown-field check does not end it before the aliases.
    let nested = billion_laughs().lines().map(|l| format!("  {l}\n")).collect::<String>();
    std::fs::write(&spec, format!("version: 1\nlabels:\n{nested}")).unwrap();
    let r = timed(&["build", "-f", spec.to_str().unwrap(), "-o", dir.path().join("out").to_str().unwrap()], &[]);
    assert_refused_fast("billion-laughs build-args.yml", &r, "build-args.yml");
    assert!(!dir.path().join("out").exists());

    let cst = dir.path().join("structure.yaml");
    std::fs::write(&cst, format!("schemaVersion: 2.0.0\n{}", billion_laughs())).unwrap();
    let started = std::time::Instant::now();
    let err = format!("{:#}", lucid::verify::cst::load(&cst).unwrap_err());
    assert!(started.elapsed().as_secs_f64() < 1.0, "{:?}", started.elapsed());
    assert!(err.contains("structure.yaml"), "{err}");
    eprintln!("billion-laughs structure test (in process): {:.3}s: {err}", started.elapsed().as_secs_f64());
}

#[test]
fn deb_and_index_bombs_are_refused_in_memory_bounds() {
    // A Packages.gz of 1 GiB of newlines: refused by the ratio guard after 64 MiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let nl = vec![b'\n'; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&nl).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let started = std::time::Instant::now();
    let err = format!("{:#}", lucid::debian::repo::decompress(&bomb, "main/binary-amd64/Packages.gz").unwrap_err());
    assert!(err.contains("decompression bomb"), "{err}");
    assert!(started.elapsed().as_secs_f64() < 1.0, "{:?}", started.elapsed());
    eprintln!("1 GiB Packages.gz bomb (in process): {:.2}s", started.elapsed().as_secs_f64());

    // A .deb whose data.tar.gz is the same bomb.
    let control = {
        let mut b = tar::Builder::new(Vec::new());
        let text = b"Package: bomb\nVersion: 1\n";
        b.append(&tar_header("./control", text.len() as u64), &text[..]).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    };
    let mut ar = ar::Builder::new(Vec::new());
    for (name, body) in [("debian-binary", b"2.0\n".to_vec()), ("control.tar.gz", control), ("data.tar.gz", bomb)] {
        ar.append(&ar::Header::new(name.as_bytes().to_vec(), body.len() as u64), body.as_slice()).unwrap();
    }
    let deb = ar.into_inner().unwrap();
    let started = std::time::Instant::now();
    let err = format!("{:#}", lucid::debian::deb::extract(&deb, "bomb", &mut lucid::rootfs::Tree::new()).unwrap_err());
    assert!(err.contains("bomb") && err.contains("decompression bomb"), "{err}");
    assert!(started.elapsed().as_secs_f64() < 1.0, "{:?}", started.elapsed());
    eprintln!("1 GiB data.tar.gz bomb in a .deb (in process): {:.2}s", started.elapsed().as_secs_f64());
}

/// Writes `data` to the gzip stream and to the hash of the uncompressed tar.
struct GzTee {
    gz: flate2::write::GzEncoder<Vec<u8>>,
    tar: sha2::Sha256,
}

impl Write for GzTee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        self.tar.update(buf);
        self.gz.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.gz.flush()
    }
}

#[test]
fn report_keeps_bounded_metadata_from_a_small_hostile_image() {
    // 128 wheel METADATA files of just under the 8 MiB each-file limit (1 GiB in all), one byte
    // in 512 random so that the layer compresses about 100 times (under the bomb ratio): about
    // 10 MB on disk that an unbounded report would hold whole in memory.
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let mut tee =
        GzTee { gz: flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()), tar: sha2::Sha256::new() };
    let size = (8 << 20) - 4096;
    let mut content = vec![0u8; size];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    {
        let mut tar = tar::Builder::new(&mut tee);
        for i in 0..128 {
            for b in content.iter_mut().step_by(512) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            let name = format!("usr/lib/python3/dist-packages/hostile{i}-1.0.dist-info/METADATA");
            tar.append(&tar_header(&name, size as u64), content.as_slice()).unwrap();
        }
        tar.finish().unwrap();
    }
    let diff_id = format!("sha256:{}", hex::encode(tee.tar.finalize()));
    let layer = tee.gz.finish().unwrap();
    eprintln!("hostile metadata layer: {} MB compressed", layer.len() >> 20);
    layout_with_layer(dir.path(), &layer, &diff_id);
    let reference = format!("oci:{}:latest", dir.path().display());
    let json = dir.path().join("report.json");
    let (ok, err, wall, rss) = timed(&["report", &reference, "--format", "json", "-o", json.to_str().unwrap()], &[]);
    eprintln!("report of 1 GiB of metadata: {wall:.1}s, {rss:.0} MB peak");
    assert!(ok, "{err}");
    assert!(rss > 0.0 && rss < 300.0, "report peaked at {rss} MB: metadata kept without a total limit");
    // And says that it left some out.
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let note = report[0]["metadata_note"].as_str().unwrap_or_else(|| panic!("no metadata_note: {report}"));
    assert!(note.contains("were not read") && note.contains("67.1MB"), "{note}");
}

#[test]
fn a_fifo_or_a_link_among_layout_blobs_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let mut layer = tar_header("etc/hello", 6).as_bytes().to_vec();
    layer.extend_from_slice(b"hello\n");
    layer.resize(512 * 2, 0);
    layer.extend_from_slice(&[0u8; 1024]);
    let diff_id = lucid::oci::digest_of(&layer);
    layout_with_layer(dir.path(), &layer, &diff_id);
    let blob = dir.path().join("blobs/sha256").join(&diff_id[7..]);
    // The layer blob as a FIFO nobody writes to: opening it to read would wait forever.
    std::fs::remove_file(&blob).unwrap();
    let path = std::ffi::CString::new(blob.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path this test owns.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
    // Under a deadline: an unfixed lucid blocks in open(2) for good.
    let reference = format!("oci:{}:latest", dir.path().display());
    let out = support::output_within(
        support::lucid().args(["verify", "--no-runtime", &reference]),
        std::time::Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a FIFO, not a regular file"), "{err}");
    assert!(err.contains(&diff_id[7..]), "the error does not name the blob {diff_id}: {err}");
    // The same bytes behind a symlink (a file outside the layout): refused too.
    std::fs::remove_file(&blob).unwrap();
    let outside = dir.path().join("outside");
    std::fs::write(&outside, &layer).unwrap();
    std::os::unix::fs::symlink(&outside, &blob).unwrap();
    assert_refused_fast("a symlink as the layer blob", &verify(dir.path()), "is a symbolic link, not a regular file");
}
