//! The Debian client end to end against the hermetic signed repository (and hostile variants
//! of it), plus one run against the real mirror named by the host's apt sources.

mod support;

use lucid::debian::{self, Package};
use lucid::fetch::{Cache, Fetcher, Want};
use lucid::progress::Task;
use lucid::rootfs::tree::{Node, Origin, Tree};
use support::debrepo::{Hostile, TestPackage, TestRepo, now, pkg};

fn fetcher() -> (tempfile::TempDir, Fetcher) {
    let dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(Cache::open(dir.path()).unwrap()).unwrap();
    (dir, f)
}

fn want(p: &Package) -> Want {
    Want { url: p.url(), sha256: p.sha256.clone(), size: Some(p.size), label: p.label() }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn suites() -> Vec<(&'static str, Vec<TestPackage>)> {
    vec![
        (
            "bookworm",
            vec![
                pkg("hello", "1.0-1")
                    .depends("libc6 (>= 2.36), awk, debconf (>= 0.5) | debconf-2.0")
                    .file("usr/bin/hello", b"#!hello\n", 0o755)
                    .file("usr/bin/hello-suid", b"suid\n", 0o4755)
                    .symlink("usr/bin/hi", "hello"),
                pkg("libc6", "2.36-9").multi_arch("same").file(
                    "usr/lib/x86_64-linux-gnu/libc.so.6",
                    b"old libc",
                    0o644,
                ),
                pkg("mawk", "1.3.4").provides("awk").file("usr/bin/mawk", b"mawk", 0o755),
                pkg("debconf", "1.5.82").arch("all").provides("debconf-2.0"),
                pkg("unrelated", "1").file("usr/bin/unrelated", b"x", 0o755),
            ],
        ),
        (
            "bookworm-updates",
            vec![pkg("libc6", "2.36-9+deb12u10").multi_arch("same").file(
                "usr/lib/x86_64-linux-gnu/libc.so.6",
                b"new libc",
                0o644,
            )],
        ),
    ]
}

fn load(repo: &TestRepo, f: &Fetcher) -> anyhow::Result<debian::Universe> {
    let sources = [repo.source("bookworm"), repo.source("bookworm-updates")];
    debian::load(f, &sources, "amd64", &debian::Trust::keyring(&repo.keyring), now(), &Task::silent())
}

#[test]
fn load_resolve_fetch_extract() {
    let repo = TestRepo::build(&suites(), Hostile::default());
    let (_dir, f) = fetcher();
    let u = load(&repo, &f).unwrap();
    assert_eq!(u.suites, ["bookworm", "bookworm-updates"]);
    assert_eq!(u.releases.len(), 2);
    let closure = debian::resolve(&u, &s(&["hello"]), &s(&["debconf"])).unwrap();
    let names: Vec<String> = closure.iter().map(|p| format!("{} {} {}", p.name, p.version, p.suite)).collect();
    assert_eq!(names, ["hello 1.0-1 bookworm", "libc6 2.36-9+deb12u10 bookworm-updates", "mawk 1.3.4 bookworm"]);

    let wants: Vec<Want> = closure.iter().map(want).collect();
    let debs = f.fetch_all("packages", &wants, &Task::silent()).unwrap();
    let mut tree = Tree::new();
    for (p, deb) in closure.iter().zip(&debs) {
        let c = debian::extract(deb, &p.name, &mut tree).unwrap();
        assert!(c.control.starts_with(&format!("Package: {}\n", p.name)), "{}", c.control);
    }
    assert_eq!(tree.read("usr/lib/x86_64-linux-gnu/libc.so.6").unwrap().as_slice(), b"new libc");
    assert_eq!(tree.get("usr/bin/hello-suid").unwrap().mode, 0o4755);
    assert_eq!(tree.get("usr/bin/hi").unwrap().node, Node::Symlink("hello".into()));
    assert_eq!(tree.get("usr/bin/mawk").unwrap().origin, Origin::Deb("mawk".into()));
    assert!(!tree.contains("usr/bin/unrelated"));

    // A second load is served from the cache for the indices; InRelease is fetched fresh and
    // still verified, so it works the same.
    let again = load(&repo, &f).unwrap();
    assert_eq!(again.len(), u.len());
}

#[test]
fn tampered_deb_is_refused_naming_package_and_digest() {
    let repo = TestRepo::build(&suites(), Hostile { tamper_deb: Some("mawk".into()), ..Hostile::default() });
    let (_dir, f) = fetcher();
    let u = load(&repo, &f).unwrap();
    let closure = debian::resolve(&u, &s(&["hello"]), &s(&["debconf"])).unwrap();
    let mawk = closure.iter().find(|p| p.name == "mawk").unwrap();
    let e = format!("{:#}", f.fetch(&want(mawk), &|_| {}).unwrap_err());
    eprintln!("{e}");
    assert!(e.contains("mawk 1.3.4") && e.contains("SHA-256 mismatch") && e.contains(&mawk.sha256), "{e}");
    let e = format!(
        "{:#}",
        f.fetch_all("packages", &closure.iter().map(want).collect::<Vec<_>>(), &Task::silent()).unwrap_err()
    );
    assert!(e.contains("mawk"), "{e}");
}

#[test]
fn foreign_signature_is_refused() {
    let repo = TestRepo::build(&suites(), Hostile { foreign_signer: true, ..Hostile::default() });
    let (_dir, f) = fetcher();
    let e = format!("{:#}", load(&repo, &f).unwrap_err());
    eprintln!("{e}");
    assert!(e.contains("dists/bookworm/InRelease") && e.contains("no valid signature"), "{e}");
    assert!(e.contains("no such key in the keyring"), "{e}");
}

#[test]
fn wrong_packages_digest_is_refused() {
    let repo = TestRepo::build(&suites(), Hostile { wrong_packages_digest: true, ..Hostile::default() });
    let (_dir, f) = fetcher();
    let e = format!("{:#}", load(&repo, &f).unwrap_err());
    eprintln!("{e}");
    assert!(e.contains("main/binary-amd64/Packages.xz") && e.contains("SHA-256 mismatch"), "{e}");
    assert!(e.contains("bookworm"), "{e}");
}

#[test]
fn expired_release_is_refused() {
    let repo = TestRepo::build(&suites(), Hostile { expired: true, ..Hostile::default() });
    let (_dir, f) = fetcher();
    let e = format!("{:#}", load(&repo, &f).unwrap_err());
    eprintln!("{e}");
    assert!(e.contains("suite bookworm expired") && e.contains("Valid-Until"), "{e}");
}

#[test]
fn modified_inrelease_text_is_refused() {
    let repo = TestRepo::build(&suites(), Hostile::default());
    let path = repo.root.join("dists/bookworm/InRelease");
    let text = std::fs::read_to_string(&path).unwrap();
    // Swap a digest inside the signed text: the signature must no longer verify.
    let forged =
        text.replacen("Suite: bookworm", "Suite: bookworm ", 1).replacen("Origin: Lucid Test", "Origin: Evil", 1);
    repo.overwrite("dists/bookworm/InRelease", forged.as_bytes());
    let (_dir, f) = fetcher();
    let e = format!("{:#}", load(&repo, &f).unwrap_err());
    eprintln!("{e}");
    assert!(e.contains("BAD signature"), "{e}");
}

#[test]
fn unknown_package_and_wrong_suite() {
    let repo = TestRepo::build(&suites(), Hostile::default());
    let (_dir, f) = fetcher();
    let u = load(&repo, &f).unwrap();
    let e = debian::resolve(&u, &s(&["nosuch"]), &[]).unwrap_err().to_string();
    assert!(e.contains("nosuch") && e.contains("bookworm, bookworm-updates"), "{e}");
    // Without excluding debconf it is pulled in through the alternative.
    let with = debian::resolve(&u, &s(&["hello"]), &[]).unwrap();
    assert!(with.iter().any(|p| p.name == "debconf"));
    // A mirror that serves bookworm's signed Release under another suite name is caught.
    std::fs::create_dir_all(repo.root.join("dists/trixie")).unwrap();
    std::fs::copy(repo.root.join("dists/bookworm/InRelease"), repo.root.join("dists/trixie/InRelease")).unwrap();
    let e = format!(
        "{:#}",
        debian::load(
            &f,
            &[repo.source("trixie")],
            "amd64",
            &debian::Trust::keyring(&repo.keyring),
            now(),
            &Task::silent()
        )
        .unwrap_err()
    );
    assert!(e.contains("signed for suite \"bookworm\"") && e.contains("trixie"), "{e}");
}

#[test]
fn signature_policy_sha1_and_primary_without_sign_flag() {
    use pgp::crypto::hash::HashAlgorithm;
    use support::debrepo::{clearsign_with, keygen, keyring_of, release_text};
    let key = keygen("Policy Test <p@example.invalid>");
    let keyring = keyring_of(&key);
    let text = release_text("bookworm");
    let good = clearsign_with(&key, &text, HashAlgorithm::Sha256, false);
    let r = debian::verify_inrelease(good.as_bytes(), &keyring, now(), "good").unwrap();
    assert_eq!(r.suite, "bookworm");
    assert_eq!(r.signed_by, format!("{:X}", pgp::types::KeyDetails::fingerprint(&key.secret_subkeys[0].key)));
    // Ed25519 cannot make SHA-1 signatures at all; RSA (what Debian uses) can.
    let rsa = support::debrepo::keygen_with("RSA <r@example.invalid>", pgp::composed::KeyType::Rsa(2048));
    let sha1 = clearsign_with(&rsa, &text, HashAlgorithm::Sha1, false);
    let e = debian::verify_inrelease(sha1.as_bytes(), &keyring_of(&rsa), now(), "sha1").unwrap_err().to_string();
    assert!(e.contains("sha1:") && e.contains("SHA1, which is refused"), "{e}");
    // The primary key is certification-only: a signature by it is refused even though the
    // mathematics check out.
    let by_primary = clearsign_with(&key, &text, HashAlgorithm::Sha256, true);
    let e = debian::verify_inrelease(by_primary.as_bytes(), &keyring, now(), "primary").unwrap_err().to_string();
    assert!(e.contains("not allowed to sign"), "{e}");
    // Text outside the signed part is not accepted either.
    let mut trailing = good.clone();
    trailing.push_str("Suite: evil\n");
    assert!(debian::verify_inrelease(trailing.as_bytes(), &keyring, now(), "trailing").is_err());
    let leading = format!("Suite: evil\n{good}");
    assert!(debian::verify_inrelease(leading.as_bytes(), &keyring, now(), "leading").is_err());
}

/// Against the real archive from the host's apt sources: the Python base closure.
#[test]
fn real_mirror_python_closure() {
    let suites = s(&["bookworm", "bookworm-updates", "bookworm-security"]);
    let sources = debian::discover(&suites, None).unwrap();
    let (_dir, f) = fetcher();
    let keyring = std::path::Path::new("/usr/share/keyrings/debian-archive-keyring.gpg");
    let u = debian::load(&f, &sources, "amd64", &debian::Trust::keyring(keyring), now(), &Task::silent()).unwrap();
    assert!(u.len() > 50_000, "{} packages", u.len());
    let roots =
        s(&["python3.11-minimal", "libpython3.11-stdlib", "ca-certificates", "tzdata", "netbase", "media-types"]);
    // debianutils is not excluded: nothing in this closure depends on it (only maintainer
    // scripts of other packages would), so excluding it would change nothing here.
    let exclude = s(&[
        "debconf",
        "dpkg",
        "perl-base",
        "mawk",
        "gawk",
        "original-awk",
        "mime-support",
        "readline-common",
        "openssl",
    ]);
    let closure = debian::resolve(&u, &roots, &exclude).unwrap();
    let names: Vec<&str> = closure.iter().map(|p| p.name.as_str()).collect();
    for want in ["python3.11-minimal", "libc6", "libssl3", "libpython3.11-stdlib", "tzdata"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for never in ["dpkg", "debconf", "perl-base", "openssl"] {
        assert!(!names.contains(&never), "{never} in {names:?}");
    }
    eprintln!("closure of {}: {names:?}", closure.len());
    assert!(closure.len() < 60, "{names:?}");

    // Fetch and unpack the whole closure: real .debs exercise xz/zstd members, hard links and
    // long paths.
    let debs = f.fetch_all("packages", &closure.iter().map(want).collect::<Vec<_>>(), &Task::silent()).unwrap();
    let mut tree = Tree::new();
    for (p, deb) in closure.iter().zip(&debs) {
        debian::extract(deb, &p.name, &mut tree).unwrap();
    }
    assert!(tree.read("usr/bin/python3.11").is_some());
    assert!(tree.content_size() > 20_000_000, "{}", tree.content_size());
}

/// The host's Debian mirror over `https://` (its name read from the host's apt sources, the
/// scheme switched), verified against the keyring with the signers the repository's spec pins:
/// the Rust HTTP client trusts the platform's store (an intercepting proxy's CA included), and
/// every suite the images are made from is signed by a pinned key, which the Release records.
#[test]
fn real_mirror_over_https_with_the_pinned_signers() {
    let spec =
        lucid::spec::Spec::load(&support::repo_root().join("infrastructure/containers/base/build-args.yml")).unwrap();
    for dist in &spec.distributions {
        assert!(!dist.signers.is_empty(), "the repository's spec pins no archive signer for {}", dist.name);
        let sources: Vec<debian::Source> = debian::discover(&dist.suites, None)
            .unwrap()
            .into_iter()
            .map(|mut s| {
                if let Some(rest) = s.uri.strip_prefix("http://") {
                    s.uri = format!("https://{rest}");
                }
                s
            })
            .collect();
        let (_dir, f) = fetcher();
        let trust = debian::Trust { keyring: spec.keyring(dist), signers: dist.signers.clone(), ..Default::default() };
        let u = debian::load(&f, &sources, "amd64", &trust, now(), &Task::silent())
            .unwrap_or_else(|e| panic!("the host's mirror over https for {}: {e:#}", dist.name));
        assert_eq!(u.releases.len(), dist.suites.len());
        for (source, release) in &u.releases {
            assert!(source.uri.starts_with("https://"), "{}", source.uri);
            assert!(dist.signers.contains(&release.signer), "{} signed by {}", source.suite, release.signer);
        }
    }
}
