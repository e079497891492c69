//! A registry as the shared build cache of many runners (`lucid build --cache-to` and
//! `--cache-from type=registry,ref=...`), against Debian's `docker-registry` on 127.0.0.1, with
//! and without authentication: two writers at once, a runner with an empty cache and no mirror,
//! and a tampered blob.

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{assert_no_secret, keypair, lucid, repo_root, spec_build};

const USER: &str = "runner";
const PASSWORD: &str = "lucid-test-secret-cache";

/// An http URL on loopback where nothing listens: the "mirror" and "package index" of a runner
/// that has none.
fn nowhere(path: &str) -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}/{path}")
}

/// `lucid build ARGS` from the repository root, with an empty cache at `cache` and the Debian
/// mirror and the package index unreachable.
fn offline_build(cache: &Path, args: &[&str]) -> Output {
    lucid()
        .current_dir(repo_root())
        .env("LUCID_CACHE", cache)
        .env("LUCID_DEBIAN_MIRROR", nowhere("debian"))
        .env("LUCID_DEBIAN_SECURITY_MIRROR", nowhere("debian-security"))
        .env("LUCID_INDEX_URL", nowhere("simple"))
        .env("LUCID_HTTP_BACKOFF_MS", "20")
        .arg("build")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Every image layout of `out` (a directory with an `index.json`), with that index's bytes.
fn indexes(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| {
            let path: PathBuf = e.unwrap().path();
            let index = std::fs::read(path.join("index.json")).ok()?;
            Some((path.file_name()?.to_string_lossy().into_owned(), index))
        })
        .collect();
    found.sort();
    found
}

/// Two runners write one cache at once: the Debian 12 images with a key (their signed records
/// and layers too) and the Debian 13 ones without (their inputs only). Then a runner with an
/// empty cache, no mirror and no package index builds every image from it, taking the Debian 12
/// images whole and assembling the Debian 13 ones from their inputs, and gets the digests the
/// shared build made from the mirror. The registry asks for credentials.
#[test]
fn an_empty_runner_builds_every_image_from_a_cache_two_runners_wrote_at_once() {
    let (shared, _) = spec_build();
    let reg = registry::Registry::start_with_auth(USER, PASSWORD);
    let cache = format!("type=registry,ref={}/lucid/cache:ci", reg.addr);
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keypair(keys.path(), "runner");
    let signed = format!("{cache},key={}", key.display());
    let creds = format!("{USER}:{PASSWORD}");
    let writers: Vec<(tempfile::TempDir, std::process::Child)> =
        [(&[][..], &signed), (&["--distribution", "debian13"][..], &cache)]
            .iter()
            .map(|(selection, to)| {
                let out = tempfile::tempdir().unwrap();
                let child = lucid()
                    .current_dir(repo_root())
                    .args(["build", "--locked", "--cache-to", to, "--creds", &creds, "-o"])
                    .arg(out.path())
                    .args(*selection)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                (out, child)
            })
            .collect();
    for (_, child) in writers {
        let o = child.wait_with_output().unwrap();
        let t = assert_no_secret(&o);
        assert!(o.status.success(), "a writer failed:\n{t}");
        assert!(t.contains("Cached") && t.contains("docker://"), "the writer says what it exported:\n{t}");
    }

    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    // The control: without the cache, this runner has nowhere to get the packages from.
    let control = offline_build(empty.path(), &["lucid-python-base", "--locked", "-o", out_arg]);
    assert_eq!(control.status.code(), Some(2), "the mirror is unreachable, so this fails:\n{}", text(&control));

    let trusted = format!("{cache},key={}", public.display());
    let o =
        offline_build(empty.path(), &["--all", "--locked", "--cache-from", &trusted, "--creds", &creds, "-o", out_arg]);
    let t = assert_no_secret(&o);
    assert!(o.status.success(), "the build from the registry cache failed:\n{t}");
    assert!(t.contains("signed image records"), "it says what the cache holds:\n{t}");
    let whole = t.lines().filter(|l| l.contains("layers from docker://")).count();
    assert!(whole >= 8, "the Debian 12 images came whole, from their signed records ({whole}):\n{t}");
    let assembled: Vec<&str> = t.lines().filter(|l| l.trim_start().starts_with("Assembling")).collect();
    assert!(!assembled.is_empty(), "the Debian 13 images were assembled from their inputs:\n{t}");
    assert!(
        assembled.iter().all(|l| l.contains("debian13")),
        "only Debian 13 images were assembled:\n{}",
        assembled.join("\n")
    );
    let (want, got) = (indexes(&shared), indexes(out.path()));
    assert!(want.len() >= 8, "the shared build has every image: {:?}", want.iter().map(|w| &w.0).collect::<Vec<_>>());
    assert_eq!(
        want.iter().map(|w| &w.0).collect::<Vec<_>>(),
        got.iter().map(|g| &g.0).collect::<Vec<_>>(),
        "the same images"
    );
    for ((name, a), (_, b)) in want.iter().zip(&got) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{name}: built from the registry cache, it differs from the build from the mirror"
        );
    }
}

/// Blobs of the cache changed in the registry's storage (the registry serves them under their
/// old digests) are refused with their digests named: nothing is built from them, nothing of
/// them is kept. The writer signed its image record: a runner without a key builds from the
/// inputs and meets a tampered `.deb`; one with another key refuses the record; one with the
/// writer's key takes the record and meets a tampered layer.
#[test]
fn a_tampered_cache_blob_is_refused() {
    let reg = registry::Registry::start();
    let cache = format!("type=registry,ref={}/lucid/cache:tampered", reg.addr);
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keypair(keys.path(), "writer");
    let (_, other) = keypair(keys.path(), "other");
    let out = tempfile::tempdir().unwrap();
    let o = lucid()
        .current_dir(repo_root())
        .args(["build", "lucid-python-base", "--platform", "linux/amd64", "--locked", "--cache-to"])
        .arg(format!("{cache},key={}", key.display()))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/lucid/cache:tampered", reg.addr)])
        .output()
        .expect("skopeo runs");
    assert!(raw.status.success(), "skopeo reads the cache manifest: {}", String::from_utf8_lossy(&raw.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.lucid.build-cache.v1");
    let layers = manifest["layers"].as_array().unwrap();
    assert!(layers.len() > 20, "the cache names every .deb of the image: {}", layers.len());
    let title =
        |l: &serde_json::Value| l["annotations"]["org.opencontainers.image.title"].as_str().unwrap_or("").to_string();
    let records = layers.iter().filter(|l| l["annotations"]["dev.lucid.build-cache.image-key"].is_string()).count();
    assert_eq!(records, 1, "one signed image record");
    // The largest .deb (an input the image cannot do without) and the largest layer.
    let largest = |layer: bool| {
        let victim = layers
            .iter()
            .filter(|l| title(l).starts_with("a layer of") == layer && !title(l).ends_with("image record"))
            .max_by_key(|l| l["size"].as_u64().unwrap())
            .unwrap_or_else(|| panic!("no {} in {layers:?}", if layer { "layer" } else { "input" }));
        let hex = victim["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
        let data = reg.blob_data(&hex);
        let mut bytes = std::fs::read(&data).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&data, &bytes).unwrap();
        hex
    };
    let (deb, layer) = (largest(false), largest(true));

    for (trust, says) in
        [(None, deb.clone()), (Some(&other), "no trusted key vouches".to_string()), (Some(&public), layer.clone())]
    {
        let empty = tempfile::tempdir().unwrap();
        let out2 = tempfile::tempdir().unwrap();
        let from = match trust {
            Some(k) => format!("{cache},key={}", k.display()),
            None => cache.clone(),
        };
        let o = offline_build(
            empty.path(),
            &[
                "lucid-python-base",
                "--platform",
                "linux/amd64",
                "--locked",
                "--cache-from",
                &from,
                "-o",
                out2.path().to_str().unwrap(),
            ],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "a poisoned cache entry is an error ({trust:?}):\n{t}");
        assert!(t.contains(&says), "the error says {says:?}:\n{t}");
        assert!(t.contains("build cache"), "the error names the cache:\n{t}");
        assert!(!out2.path().join("lucid-python-base").exists(), "no image was written");
        for hex in [&deb, &layer] {
            assert!(!empty.path().join("sha256").join(hex).exists(), "the tampered blob was not kept");
        }
    }
}

/// Cache references are checked before anything is built: another cache type, a missing ref, and
/// credentials with no single registry to go to are usage errors (exit 3).
#[test]
fn bad_cache_references_are_usage_errors() {
    for (args, says) in [
        (&["--cache-to", "type=local,dest=/tmp/x"][..], "type=local"),
        (&["--cache-from", "type=registry"][..], "no ref="),
        (
            &["--cache-from", "127.0.0.1:1/a", "--cache-to", "127.0.0.2:1/b", "--creds", "u:lucid-test-secret-x"][..],
            "--registry HOST",
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let o = lucid().current_dir(repo_root()).arg("build").args(args).arg("-o").arg(out.path()).output().unwrap();
        let t = assert_no_secret(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}:\n{t}");
        assert!(t.contains(says), "{args:?} says {says:?}:\n{t}");
        assert!(std::fs::read_dir(out.path()).unwrap().next().is_none(), "nothing was built");
    }
}
