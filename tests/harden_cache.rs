//! Attacks on the cache and on the output directory (issue 14, points 7 and 10): a cache another
//! user owns or may write, a cached jlink runtime changed after lucid made it, and `cache prune
//! --all` or a build's sweeping pointed at a directory holding a user's own files.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;
use std::time::Instant;

use support::debrepo::serve;
use support::hermetic::{self, Project, stderr};
use support::{lucid, repo_root};

fn cache_cmd(cache: &Path, args: &[&str]) -> Output {
    lucid().env("LUCID_CACHE", cache).arg("cache").args(args).output().unwrap()
}

fn require_root(why: &str) {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(uid, 0, "this test must run as root to {why} (CI runs the suite as root)");
}

/// A cache that looks like lucid's (its blob directory), as an earlier version left it.
fn legacy_cache(dir: &Path) -> std::path::PathBuf {
    let cache = dir.join("cache");
    std::fs::create_dir_all(cache.join("sha256")).unwrap();
    cache
}

#[test]
fn a_cache_owned_by_another_user_or_writable_by_others_is_refused() {
    require_root("give the test cache to another user");
    let dir = tempfile::tempdir().unwrap();
    let cache = legacy_cache(dir.path());

    // Owned by nobody: whoever that is could have swapped what the build runs.
    std::os::unix::fs::chown(&cache, Some(65534), Some(65534)).unwrap();
    let o = cache_cmd(&cache, &["verify"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "a cache owned by uid 65534 was used: {err}");
    assert!(err.contains(&cache.display().to_string()) && err.contains("owned by uid 65534"), "{err}");
    assert!(err.contains("LUCID_CACHE"), "the message says what to do: {err}");

    // Ours again, but writable by everyone.
    std::os::unix::fs::chown(&cache, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = cache_cmd(&cache, &["verify"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "a world-writable cache was used: {err}");
    assert!(err.contains("writable by everyone") && err.contains("0777"), "{err}");

    // Fixed as the message says: used, tagged, and narrowed to its owner.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = cache_cmd(&cache, &["verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&cache).unwrap().mode() & 0o777, 0o700);
    assert!(
        std::fs::read_to_string(cache.join("CACHEDIR.TAG"))
            .unwrap()
            .starts_with("Signature: 8a477f597d28d172789f06886806bc55")
    );
}

#[test]
fn a_new_cache_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("new/cache");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" cache verify")
        .arg(env!("CARGO_BIN_EXE_lucid"))
        .env("LUCID_CACHE", &cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = std::fs::metadata(&cache).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700, "the cache was created {mode:04o} under umask 000");
    assert!(cache.join("CACHEDIR.TAG").is_file());
}

#[test]
fn prune_all_never_empties_a_directory_that_is_not_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".config")).unwrap();
    std::fs::write(home.join("keep.txt"), b"a user's file").unwrap();
    let o = cache_cmd(&home, &["prune", "--all"]);
    let err = stderr(&o);
    assert!(home.join("keep.txt").is_file() && home.join(".config").is_dir(), "prune --all deleted a user's files");
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("keep.txt") && err.contains("CACHEDIR.TAG"), "{err}");
    assert!(!home.join("CACHEDIR.TAG").exists(), "a foreign directory was tagged");
}

#[test]
fn a_build_never_sweeps_an_output_directory_holding_a_users_files() {
    let repo = hermetic::repo(64 << 10);
    let mirror = serve(repo.root.clone());
    let p = Project::new(&repo);
    let cache = p.path("cache");

    // A home-like directory: a file, and a directory whose name looks like a dead run's leftover
    // (old enough to be swept: no owner lock, no writer identity, older than the grace period).
    let home = p.path("home");
    std::fs::create_dir_all(home.join(".profile.old-1")).unwrap();
    std::fs::write(home.join(".profile.old-1/notes"), b"mine").unwrap();
    std::fs::write(home.join("keep.txt"), b"mine").unwrap();
    let touched =
        std::process::Command::new("touch").args(["-d", "2 hours ago"]).arg(home.join(".profile.old-1")).status();
    assert!(touched.unwrap().success());
    let o = p.build(&mirror, &cache, &home, &["alpha"]);
    let err = stderr(&o);
    assert!(home.join(".profile.old-1/notes").is_file(), "the build swept a user's directory: {err}");
    assert!(home.join("keep.txt").is_file());
    assert_eq!(o.status.code(), Some(3), "a build wrote into a directory holding a user's files: {err}");
    assert!(err.contains("keep.txt") && err.contains(&home.display().to_string()), "{err}");
    assert!(!home.join("alpha").exists() && !home.join(hermetic::OUTPUT_MARKER).exists());

    // A directory lucid made is marked, and later builds into it (which sweep) go on working.
    let out = p.path("out");
    for _ in 0..2 {
        let o = p.build(&mirror, &cache, &out, &["alpha"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(out.join(hermetic::OUTPUT_MARKER).is_file() && out.join("alpha/oci-layout").is_file());
}

/// Decoded `.deb` data is what a build unpacks (for Python images, the `python3.11` and `libc`
/// it then runs). Swapping bytes in the decoded data of a package in the cache: `lucid cache
/// verify` reports it, and the next build decodes the `.deb` again and gives the first digest.
#[test]
fn a_changed_decoded_deb_in_the_cache_is_reported_and_never_used() {
    let repo = hermetic::repo(64 << 10);
    let mirror = serve(repo.root.clone());
    let p = Project::new(&repo);
    let cache = p.path("cache");
    let o = p.build(&mirror, &cache, &p.path("out1"), &["alpha"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = hermetic::manifest_digest(&p.path("out1"), "alpha");

    // Every memo of decoded data names a blob holding a data.tar; change the one with alpha's program.
    let mut changed = 0;
    for memo in std::fs::read_dir(cache.join("deb-data")).unwrap().flatten() {
        let text = std::fs::read_to_string(memo.path()).unwrap();
        let blob = cache.join("sha256").join(text.lines().next().unwrap());
        let mut data = std::fs::read(&blob).unwrap();
        if let Some(at) = data.windows(7).position(|w| w == b"#!alpha") {
            data[at + 2] = b'A';
            std::fs::write(&blob, &data).unwrap();
            changed += 1;
        }
    }
    assert_eq!(changed, 1, "alpha's decoded data in the cache");
    let v = cache_cmd(&cache, &["verify"]);
    assert!(!v.status.success() && String::from_utf8_lossy(&v.stdout).contains("corrupt:"), "{}", stderr(&v));

    // Unchanged inputs would give the whole image back from the image memo (build::memo) without
    // unpacking anything: without it, the build reads the decoded data this test changed.
    std::fs::remove_dir_all(cache.join("images")).unwrap();
    let o = p.build(&mirror, &cache, &p.path("out2"), &["alpha"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(hermetic::manifest_digest(&p.path("out2"), "alpha"), first, "the build used the changed data");
    assert!(cache_cmd(&cache, &["verify"]).status.success());
}

/// The layer digests of `image` in the OCI layout under `out`.
fn layer_digests(out: &Path, image: &str) -> Vec<String> {
    let layout = out.join(image);
    let blob = |digest: &str| {
        let path = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(path).unwrap()).unwrap()
    };
    let manifest = blob(&hermetic::manifest_digest(out, image));
    manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect()
}

/// A cached jlink runtime is executed (the CDS dump) and shipped. Swapping bytes of its `java`
/// launcher after lucid made it: `lucid cache verify` reports it, and the next build does not
/// use it (it says so and links the runtime again, giving the first build's layers).
#[test]
fn a_changed_jlink_runtime_in_the_cache_is_reported_and_never_used() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // The repository's spec without the CDS dump (a JVM race makes that archive vary between
    // links; see docs/java.md), so a runtime linked again must give the same layers, and with
    // java.base only, so each link takes seconds.
    let spec = support::spec_copy(&dir.path().join("spec"), |s| {
        let start = s.find("modules: [java.base,").expect("the java-base modules in the spec");
        let end = start + s[start..].find(']').unwrap() + 1;
        format!("{}modules: [java.base]{}", &s[..start], &s[end..]).replace("cds: true", "cds: false")
    });
    // A private cache that shares only the verified blobs of the default one.
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let shared = match std::env::var_os("LUCID_CACHE").filter(|c| !c.is_empty()) {
        Some(c) => std::path::PathBuf::from(c),
        None => std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/lucid"),
    };
    std::fs::create_dir_all(shared.join("sha256")).unwrap();
    std::os::unix::fs::symlink(shared.join("sha256"), cache.join("sha256")).unwrap();
    let build = |out: &Path| {
        let o = lucid()
            .current_dir(repo_root())
            .env("LUCID_CACHE", &cache)
            .args(["build", "lucid-java-base", "--platform", "linux/amd64", "-f"])
            .arg(&spec)
            .arg("-o")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        (stderr(&o), layer_digests(out, "lucid-java-base"))
    };
    let (_, first) = build(&dir.path().join("out1"));
    assert!(cache_cmd(&cache, &["verify"]).status.success());

    let runtimes: Vec<_> = std::fs::read_dir(cache.join("jlink"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(runtimes.len(), 1, "one runtime linked: {runtimes:?}");
    let java = runtimes[0].join("bin/java");
    let mut bytes = std::fs::read(&java).unwrap();
    let mid = bytes.len() / 2;
    bytes.swap(mid, mid + 1);
    bytes[mid + 2] ^= 0xff;
    std::fs::write(&java, &bytes).unwrap();

    let v = cache_cmd(&cache, &["verify"]);
    let report = String::from_utf8_lossy(&v.stdout).into_owned();
    assert!(!v.status.success(), "cache verify passed a changed runtime: {report}");
    assert!(report.contains("changed:") && report.contains(&runtimes[0].display().to_string()), "{report}");

    // Without the image memo (build::memo), which would give the image back unchanged without
    // touching the runtime, the build comes to the runtime this test changed.
    std::fs::remove_dir_all(cache.join("images")).unwrap();
    let (log, second) = build(&dir.path().join("out2"));
    assert!(log.contains("Distrusted") && log.contains("linked it again"), "{log}");
    assert_eq!(first, second, "the build used the changed runtime");
    assert!(cache_cmd(&cache, &["verify"]).status.success(), "the runtime linked again verifies");
    eprintln!("two builds of lucid-java-base and three cache checks in {:.1}s", started.elapsed().as_secs_f64());
}
