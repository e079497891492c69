//! Against the real package index (whatever `index_url()` finds on this host): pick, fetch and
//! install a hash-pinned set, for both image architectures.

use lucid::fetch::{Cache, Fetcher, Http};
use lucid::progress::Task;
use lucid::python::index::fetch_wheels;
use lucid::python::{Target, index_url, install, parse, pick_wheels};
use lucid::rootfs::{Origin, Tree};

/// Hashes as `pip download` + `pip hash` give them (every wheel we may pick, plus one sdist and a
/// musllinux wheel that must never be chosen).
const REQUIREMENTS: &str = "\
# requests and its dependencies, pinned with hashes
certifi==2024.8.30 \\
    --hash=sha256:922820b53db7a7257ffbda3f597266d435245903d80737e34f8a45ff3e3230d8 \\
    --hash=sha256:bec941d2aa8195e248a60b31ff9f0558284cf01a52591ceda73ea9afffd69fd9
charset-normalizer==3.4.0 \\
    --hash=sha256:3710a9751938947e6327ea9f3ea6332a09bf0ba0c09cae9cb1f250bd1f1549bc \\
    --hash=sha256:bf4475b82be41b07cc5e5ff94810e6a01f276e37c2d55571e3fe175e467a1a1c \\
    --hash=sha256:bcb4f8ea87d03bc51ad04add8ceaf9b0f085ac045ab4d74e73bbc2dc033f0236 \\
    --hash=sha256:fe9f97feb71aa9896b81973a7bbada8c49501dc73e58a10fcef6663af95e5079 \\
    --hash=sha256:223217c3d4f82c3ac5e29032b3f1c2eb0fb591b72161f86d93f5719079dae93e
idna==3.10 \\
    --hash=sha256:946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3
requests==2.32.3 \\
    --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6
urllib3==2.2.3 ; python_version >= \"3.8\" \\
    --hash=sha256:ca899ca043dcb1bafa3e262d73aa25c465bfb49e0bd9dd5d59f1d0acba2f8fac
";

const SITE: &str = "usr/local/lib/python3.11/dist-packages";

#[test]
fn pick_fetch_install_real_wheels() {
    let index = index_url().expect("an index is configured on this host");
    let http = Http::new().unwrap();
    let reqs = parse(REQUIREMENTS, "requirements.txt").unwrap();
    assert_eq!(reqs.len(), 5);

    let amd = pick_wheels(&http, &index, &reqs, &Target::debian12("amd64").unwrap()).unwrap();
    let arm = pick_wheels(&http, &index, &reqs, &Target::debian12("arm64").unwrap()).unwrap();
    let cn_amd = amd.iter().find(|p| p.name == "charset-normalizer").unwrap();
    let cn_arm = arm.iter().find(|p| p.name == "charset-normalizer").unwrap();
    assert_eq!(cn_amd.filename, "charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
    assert_eq!(
        cn_arm.filename,
        "charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
    );
    assert!(amd.iter().filter(|p| p.name != "charset-normalizer").all(|p| p.filename.ends_with("py3-none-any.whl")));

    let cache_dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::open(cache_dir.path()).unwrap()).unwrap();
    // ELF e_machine: 62 = x86-64, 183 = AArch64.
    for (pins, expected) in [(&amd, 62u16), (&arm, 183u16)] {
        let blobs = fetch_wheels(&fetcher, pins, &Task::silent()).unwrap();
        let mut tree = Tree::new();
        for (pin, data) in pins.iter().zip(&blobs) {
            install(data, &pin.filename, SITE, &mut tree).unwrap();
        }
        let installer = tree.read(&format!("{SITE}/requests-2.32.3.dist-info/INSTALLER")).unwrap();
        assert_eq!(installer.as_slice(), b"lucid\n");
        assert!(tree.contains(&format!("{SITE}/requests-2.32.3.dist-info/RECORD")));
        let init = tree.get(&format!("{SITE}/requests/__init__.py")).unwrap();
        assert_eq!((init.mode, init.uid, &init.origin), (0o644, 0, &Origin::Wheel("requests".into())));
        assert!(tree.contains(&format!("{SITE}/certifi/cacert.pem")));
        // charset-normalizer ships a console script and a compiled extension for the target.
        let script = tree.get("usr/local/bin/normalizer").unwrap();
        assert_eq!(script.mode, 0o755);
        assert!(tree.read("usr/local/bin/normalizer").unwrap().starts_with(b"#!/usr/bin/python3\n"));
        let ext = tree
            .iter_under(&format!("{SITE}/charset_normalizer"))
            .find(|(k, _)| k.ends_with(".so"))
            .map(|(k, _)| k.clone())
            .expect("a compiled extension");
        let elf = tree.read(&ext).unwrap();
        let machine = u16::from_le_bytes([elf[18], elf[19]]);
        assert_eq!(machine, expected, "{ext} is for the wrong machine");
    }
    // Cached: a second fetch does not need the network and gives the same bytes.
    let again = fetch_wheels(&fetcher, &amd, &Task::silent()).unwrap();
    assert_eq!(lucid::fetch::sha256_hex(&again[0]), amd[0].sha256);
}

#[test]
fn sdist_only_pin_is_refused_with_the_package_name() {
    let index = index_url().unwrap();
    let http = Http::new().unwrap();
    let text = "idna==3.10 --hash=sha256:12f65c9b470abda6dc35cf8e63cc574b1c52b11df2c86030af0ac09b01b13ea9\n";
    let reqs = parse(text, "r.txt").unwrap();
    let e = pick_wheels(&http, &index, &reqs, &Target::debian12("amd64").unwrap()).unwrap_err().to_string();
    assert!(e.contains("idna") && e.contains("only wheels"), "{e}");
}

/// The PEP 503 HTML page (the fallback for indexes without PEP 691) lists the same files and
/// hashes as the JSON one.
#[test]
fn html_fallback_agrees_with_json() {
    use lucid::python::index::{list_files, parse_html_page};
    let index = index_url().unwrap();
    let http = Http::new().unwrap();
    let json = list_files(&http, &index, "idna").unwrap();
    let page = format!("{index}/idna/");
    let html = http.get(&page, Some("text/html"), &|_| {}).unwrap();
    let html = parse_html_page(&String::from_utf8_lossy(&html), &page);
    let find = |files: &[lucid::python::index::IndexFile]| {
        files.iter().find(|f| f.filename == "idna-3.10-py3-none-any.whl").cloned().expect("idna 3.10 wheel listed")
    };
    let (j, h) = (find(&json), find(&html));
    assert_eq!(j.sha256.as_deref(), Some("946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3"));
    assert_eq!((j.sha256, j.url.split('#').next().map(str::to_string)), (h.sha256, Some(h.url)));
}
