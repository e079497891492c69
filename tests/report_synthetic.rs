//! `lucid report` and `lucid diff` on small images made with lucid's own writer, where every
//! figure is known in advance: sizes and tar overhead, dive's score and waste (an overwritten and
//! a deleted file), identical files, bytes per package from status.d file lists and per wheel
//! from RECORD, recommendations, and the same answer from the OCI layout and the docker-archive.

mod support;
#[path = "support/verify_images.rs"]
mod verify_images;

use lucid::rootfs::{Entry, Tree};
use serde_json::Value;
use support::lucid;
use verify_images::{good_config, good_tree, write};

const SITE: &str = "usr/local/lib/python3.11/site-packages";

fn file(t: &mut Tree, path: &str, bytes: usize, fill: u8) {
    t.insert(path, Entry::file(vec![fill; bytes], 0o644)).unwrap();
}

/// Layer 1: a Debian package with a status.d file list and docs, a wheel, two identical files,
/// a file the next layer overwrites and one it deletes.
fn lower() -> Tree {
    let mut t = good_tree();
    t.insert(
        "var/lib/dpkg/status.d/libfoo1",
        Entry::file(b"Package: libfoo1\nVersion: 1.0-1\nArchitecture: amd64\n".to_vec(), 0o644),
    )
    .unwrap();
    let list = "0123456789abcdef0123456789abcdef  usr/lib/libfoo.so.1\n\
                0123456789abcdef0123456789abcdef  usr/share/doc/libfoo1/changelog.gz\n\
                0123456789abcdef0123456789abcdef  usr/share/doc/libfoo1/copyright\n";
    t.insert("var/lib/dpkg/status.d/libfoo1.md5sums", Entry::file(list.as_bytes().to_vec(), 0o644)).unwrap();
    file(&mut t, "usr/lib/libfoo.so.1", 7000, 1);
    file(&mut t, "usr/share/doc/libfoo1/changelog.gz", 1000, 2);
    let copyright =
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Expat\n";
    t.insert("usr/share/doc/libfoo1/copyright", Entry::file(copyright.as_bytes().to_vec(), 0o644)).unwrap();
    let meta = "Metadata-Version: 2.1\nName: demo\nVersion: 2.0\nLicense-Expression: MIT\n";
    t.insert(&format!("{SITE}/demo-2.0.dist-info/METADATA"), Entry::file(meta.as_bytes().to_vec(), 0o644)).unwrap();
    let record = "demo/__init__.py,sha256=x,300\ndemo-2.0.dist-info/METADATA,,\ndemo-2.0.dist-info/RECORD,,\n";
    t.insert(&format!("{SITE}/demo-2.0.dist-info/RECORD"), Entry::file(record.as_bytes().to_vec(), 0o644)).unwrap();
    file(&mut t, &format!("{SITE}/demo/__init__.py"), 300, 3);
    file(&mut t, &format!("{SITE}/demo/__pycache__/__init__.cpython-311.pyc"), 200, 4);
    file(&mut t, "opt/a.bin", 5000, 5);
    file(&mut t, "opt/b.bin", 5000, 5);
    file(&mut t, "opt/big", 20_000, 6);
    file(&mut t, "opt/over", 3000, 7);
    t
}

fn upper() -> Tree {
    let mut t = Tree::new();
    t.insert("opt/.wh.big", Entry::file(Vec::new(), 0o644)).unwrap();
    file(&mut t, "opt/over", 1000, 8);
    t
}

fn report(image: &str, extra: &[&str]) -> (Value, i32) {
    let out = lucid().args(["report", image, "--format", "json"]).args(extra).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

#[test]
fn figures_are_exact_from_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let (lo, up) = (lower(), upper());
    write(dir.path(), &lo, Some(&up), good_config());
    let layout = format!("oci:{}:latest", dir.path().join("layout").display());
    let archive = format!("docker-archive:{}", dir.path().join("image.tar").display());
    let (v, code) = report(&layout, &[]);
    assert_eq!(code, 0, "within the 1MB budget label");
    let a = &v[0];
    let final_bytes: u64 = lo.iter().map(|(_, e)| e.size()).sum::<u64>() - 20_000 - 3000 + 1000;
    assert_eq!(a["size"], final_bytes);
    // The tar overhead is what the layer tars hold beyond content: 512-byte headers, padding to
    // 512 bytes and the end-of-archive blocks.
    let content_in_layers: u64 = lo.iter().map(|(_, e)| e.size()).sum::<u64>() + 1000;
    assert_eq!(a["tar_bytes"].as_u64().unwrap() - a["tar_overhead"].as_u64().unwrap(), content_in_layers);
    let entries: u64 = a["history"].as_array().unwrap().iter().map(|h| h["entries"].as_u64().unwrap()).sum();
    assert!(a["tar_overhead"].as_u64().unwrap() <= entries * 1024 + 2 * 10240, "{}", a["tar_overhead"]);
    // dive: opt/big (20000, then a 0-byte whiteout) and opt/over (3000, then 1000) are written twice.
    let e = &a["efficiency"];
    assert_eq!(e["dive_wasted_bytes"], 24_000);
    let cumulative = content_in_layers as f64;
    let min_sum = cumulative - 20_000.0 - 3000.0;
    assert!((e["dive_score"].as_f64().unwrap() - min_sum / cumulative).abs() < 1e-9, "{e}");
    assert!((e["dive_user_wasted_percent"].as_f64().unwrap() - 2400.0).abs() < 1e-6, "24000 over a 1000-byte layer");
    assert_eq!(e["hidden_bytes"], 23_000);
    assert_eq!(e["duplicate_bytes"], 5000);
    // Bytes by owner: the package's files, the wheel's files and its byte code; the rest is unowned.
    let owners = a["owners"].as_array().unwrap();
    let get = |n: &str| owners.iter().find(|o| o["name"] == n).unwrap_or_else(|| panic!("{n}: {owners:?}"));
    let copyright_len = lo.get("usr/share/doc/libfoo1/copyright").unwrap().size();
    assert_eq!(get("libfoo1")["bytes"], 8000 + copyright_len);
    assert_eq!(get("libfoo1")["licenses"][0], "Expat");
    let demo_meta = lo.get(&format!("{SITE}/demo-2.0.dist-info/METADATA")).unwrap().size()
        + lo.get(&format!("{SITE}/demo-2.0.dist-info/RECORD")).unwrap().size();
    assert_eq!(get("demo")["bytes"], 300 + 200 + demo_meta);
    assert_eq!(get("demo")["bytecode_bytes"], 200);
    let owned: u64 = owners.iter().map(|o| o["bytes"].as_u64().unwrap()).sum();
    assert_eq!(owned + a["unowned_bytes"].as_u64().unwrap(), final_bytes);
    assert_eq!(a["package_lists"], "image");
    // Recommendations found from the content.
    let recs: Vec<(&str, u64)> = a["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["saves"].as_u64().unwrap()))
        .collect();
    assert!(recs.contains(&("LUCID-REC-001", 1000)), "{recs:?}");
    assert!(recs.contains(&("LUCID-REC-008", 23_000)), "{recs:?}");
    assert!(recs.contains(&("LUCID-REC-009", 5000)), "{recs:?}");
    // The docker-archive gives the same figures (only the digest column differs).
    let (w, _) = report(&archive, &[]);
    for k in ["size", "tar_bytes", "tar_overhead", "compressed", "efficiency", "owners", "recommendations", "tree"] {
        assert_eq!(a[k], w[0][k], "{k}");
    }
    // Over budget: exit 1.
    assert_eq!(report(&layout, &["--max-size", "10kB"]).1, 1);
}

#[test]
fn text_markdown_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    write(&one, &lower(), None, good_config());
    write(&two, &lower(), Some(&upper()), good_config());
    let a = format!("oci:{}:latest", one.join("layout").display());
    let b = format!("oci:{}:latest", two.join("layout").display());
    let text = lucid().args(["report", &a]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("REPOSITORY"), "{text}");
    assert!(text.contains("corpus") && text.contains("LUCID-REC-009"), "{text}");
    let md = lucid().args(["report", &a, "--format", "markdown"]).output().unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("| REPOSITORY | TAG | SIZE |"), "{md}");
    let diff = lucid().args(["diff", &a, &b, "--format", "json"]).output().unwrap();
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stderr));
    let d: Value = serde_json::from_slice(&diff.stdout).unwrap();
    let paths: Vec<(&str, &str, u64, u64)> = d["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap(),
                p["change"].as_str().unwrap(),
                p["bytes_from"].as_u64().unwrap(),
                p["bytes_to"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(paths, [("/opt/big", "removed", 20_000, 0), ("/opt/over", "changed", 3000, 1000)]);
    assert_eq!(d["removed_bytes"], 22_000);
    assert!(d["packages"].as_array().unwrap().is_empty(), "same packages");
    let t = lucid().args(["diff", &a, &b]).output().unwrap();
    assert!(String::from_utf8_lossy(&t.stdout).contains("/opt/big"));
    // Unreadable images are exit 2 with the path named.
    let bad = lucid().args(["report", "oci:/nonexistent/x:latest"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/x"));
}
