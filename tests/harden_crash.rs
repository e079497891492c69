//! Crash safety: `lucid build` is killed with SIGKILL at random moments (while the index and the
//! packages download, while they unpack, while layers and the layout are written), 50 times over
//! one cache and one output directory. After every kill the cache verifies clean and the output
//! directory holds only complete images (or none); at the end a build succeeds with the digests of
//! an undisturbed build.
//!
//! `LUCID_CRASH_ITERATIONS` changes the number of kills; `LUCID_CRASH_SEED` replays a run.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use support::faulty::{Fault, FaultyServer};
use support::hermetic::{self, Project, stderr};

const BUILT: [&str; 2] = ["alpha", "bravo"];

/// Asserts that everything visible in `out` is a complete, verifiable image of ours.
fn assert_only_complete_images(out: &Path) {
    let Ok(rd) = std::fs::read_dir(out) else { return };
    for entry in rd {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // staging of a killed run: hidden, never read
        }
        let path = out.join(&name);
        // The changelog and the record of the build: whole JSON or Markdown, never half a file.
        if let Some(image) = name.strip_suffix(".changes.json").or_else(|| name.strip_suffix(".lock.json")) {
            assert!(BUILT.contains(&image), "unexpected file {name} in {}", out.display());
            let bytes = std::fs::read(&path).unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|e| panic!("half-written {name}: {e}"));
            continue;
        }
        if let Some(image) = name.strip_suffix(".changes.md") {
            assert!(BUILT.contains(&image), "unexpected file {name} in {}", out.display());
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("# ") && text.ends_with('\n'), "half-written {name}: {text:?}");
            continue;
        }
        if let Some(image) = name.strip_suffix(".tar") {
            assert!(BUILT.contains(&image), "unexpected file {name} in {}", out.display());
            let view = lucid::oci::read::open_docker_archive(&path)
                .unwrap_or_else(|e| panic!("half-written archive {name}: {e:#}"));
            view.verify().unwrap_or_else(|e| panic!("archive {name} does not verify: {e:#}"));
        } else {
            assert!(BUILT.contains(&name.as_str()), "unexpected entry {name} in {}", out.display());
            let view = lucid::oci::read::open(&format!("oci:{}", path.display()))
                .unwrap_or_else(|e| panic!("half-written layout {name}: {e:#}"));
            view.verify().unwrap_or_else(|e| panic!("layout {name} does not verify: {e:#}"));
        }
    }
}

/// The last status line lucid printed before it died: which phase the kill hit.
fn phase(log: &str) -> String {
    log.lines()
        .rev()
        .find_map(|l| l.split_whitespace().next().filter(|w| w.chars().all(|c| c.is_ascii_alphabetic())))
        .unwrap_or("(start-up)")
        .to_string()
}

#[test]
fn fifty_random_kills_leave_nothing_inconsistent() {
    let iterations: usize = std::env::var("LUCID_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let seed: u64 = std::env::var("LUCID_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("LUCID_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let repo = hermetic::repo(3 << 20);
    let server = FaultyServer::start(repo.root.clone());
    // Packages arrive in pieces, so a kill can land in the middle of a download too.
    server.always("pool/", Fault::Trickle { chunk: 256 << 10, pause: Duration::from_millis(15) });

    // The reference: an undisturbed build with its own cache, timed cold and warm.
    let reference = Project::new(&repo);
    let started = Instant::now();
    let o = reference.build(&server.url, &reference.path("cache"), &reference.path("out"), &BUILT);
    assert!(o.status.success(), "{}", stderr(&o));
    let cold = started.elapsed();
    let started = Instant::now();
    let o = reference.build(&server.url, &reference.path("cache"), &reference.path("out2"), &BUILT);
    assert!(o.status.success(), "{}", stderr(&o));
    let warm = started.elapsed();
    let want: Vec<String> = BUILT.iter().map(|i| hermetic::manifest_digest(&reference.path("out"), i)).collect();
    eprintln!("undisturbed build: {:.2}s cold, {:.2}s warm", cold.as_secs_f64(), warm.as_secs_f64());

    let p = Project::new(&repo);
    let cache = p.path("cache");
    let out = p.path("out");
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    let mut finished = 0;
    for i in 0..iterations {
        // Every fifth run starts from an empty cache (and no lock), so kills also land in
        // downloads and unpacking, not only in the (fast) warm path.
        let fresh = i % 5 == 0;
        if fresh {
            let _ = std::fs::remove_dir_all(&cache);
            let _ = std::fs::remove_file(p.path("build-args.lock"));
        }
        let span = if fresh { cold } else { warm };
        // Stratified: run i dies somewhere in the i-th slice of the run's span, so the kills
        // cover the whole timeline (every phase) on every seed, not only on lucky ones.
        let slice = (i as f64 + rng.gen_range(0.0..1.0)) / iterations as f64;
        let delay = span.mul_f64(1.1 * slice);
        let log_path = p.path("build.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = p
            .build_cmd(&server.url, &cache, &out, &BUILT)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap(); // SIGKILL
        }
        let status = child.wait().unwrap();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if killed {
            *phases.entry(phase(&log)).or_default() += 1;
        } else {
            assert!(status.success(), "run {i} failed on its own: {log}");
            finished += 1;
        }

        let (clean, report) = hermetic::cache_verify(&cache);
        assert!(clean, "run {i} (killed after {delay:?} in {}): cache not clean: {report}", phase(&log));
        assert_only_complete_images(&out);
    }
    eprintln!("{iterations} runs: {finished} finished before the kill; kills by phase: {phases:?}");

    // The next build succeeds and gives the same digests as the undisturbed one.
    let o = p.build(&server.url, &cache, &out, &BUILT);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<String> = BUILT.iter().map(|i| hermetic::manifest_digest(&out, i)).collect();
    assert_eq!(got, want);
    assert_only_complete_images(&out);
    let (clean, report) = hermetic::cache_verify(&cache);
    assert!(clean, "{report}");
    let hidden: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != hermetic::OUTPUT_MARKER)
        .collect();
    eprintln!("cache after the kills: {report}");
    eprintln!("hidden staging left in the output directory by killed runs: {hidden:?}");
    // Every working name carries its writer's identity, so the next build sweeps all that dead
    // runs left, even what a kill between creating a directory and locking it left unowned.
    assert!(hidden.is_empty(), "{hidden:?}");
    assert!(iterations < 10 || phases.len() >= 3, "kills landed in too few phases: {phases:?}");
}

/// The config digest (the engine's image ID) of the OCI layout `out/image`.
fn config_digest(out: &Path, image: &str) -> String {
    lucid::oci::read::open(&format!("oci:{}", out.join(image).display())).unwrap().config_digest
}

/// What the engine holds under `reference`: its image ID, or None.
fn engine_id(reference: &str) -> Option<String> {
    let o = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", reference])
        .output()
        .unwrap();
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

#[test]
fn kills_while_loading_into_the_engine_leave_it_consistent() {
    support::require_docker();
    const TAG: &str = ":lucid-crash-load";
    let iterations: usize =
        std::env::var("LUCID_CRASH_LOAD_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let seed: u64 = std::env::var("LUCID_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("LUCID_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let refs: Vec<String> = BUILT.iter().map(|i| format!("{i}{TAG}")).collect();
    let forget = || {
        for r in &refs {
            support::docker_ok(&["rmi", "-f", r]);
        }
    };
    forget();

    let repo = hermetic::repo(3 << 20);
    let server = FaultyServer::start(repo.root.clone());
    let p = Project::new(&repo);
    let (cache, out) = (p.path("cache"), p.path("out"));
    let load = |c: &mut std::process::Command| {
        c.args(["--load", "-t", TAG]);
    };
    // The reference: what a whole warm build with --load loads, and how long it takes.
    let mut c = p.build_cmd(&server.url, &cache, &out, &BUILT);
    load(&mut c);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<String> = BUILT.iter().map(|i| config_digest(&out, i)).collect();
    forget();
    let started = Instant::now();
    let mut c = p.build_cmd(&server.url, &cache, &out, &BUILT);
    load(&mut c);
    assert!(c.output().unwrap().status.success());
    let span = started.elapsed();

    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..iterations {
        forget();
        // Kills land late in the run: the layout write and the load into the engine.
        let delay = Duration::from_secs_f64(rng.gen_range(span.as_secs_f64() * 0.4..span.as_secs_f64() * 1.05));
        let log_path = p.path("build.log");
        let mut c = p.build_cmd(&server.url, &cache, &out, &BUILT);
        load(&mut c);
        let mut child =
            c.stdout(Stdio::null()).stderr(Stdio::from(std::fs::File::create(&log_path).unwrap())).spawn().unwrap();
        std::thread::sleep(delay);
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if killed {
            *phases.entry(phase(&log)).or_default() += 1;
        } else {
            assert!(status.success(), "run {i} failed on its own: {log}");
        }
        // The engine holds each image whole, under the right ID, or not at all.
        for (r, id) in refs.iter().zip(&want) {
            if let Some(got) = engine_id(r) {
                assert_eq!(&got, id, "run {i}: {r} is in the engine under another ID");
            }
        }
        let (clean, report) = hermetic::cache_verify(&cache);
        assert!(clean, "run {i}: cache not clean: {report}");
        assert_only_complete_images(&out);
    }
    eprintln!("{iterations} runs with --load; kills by phase: {phases:?}");

    // The next build loads both images under the undisturbed IDs.
    forget();
    let mut c = p.build_cmd(&server.url, &cache, &out, &BUILT);
    load(&mut c);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (r, id) in refs.iter().zip(&want) {
        assert_eq!(engine_id(r).as_deref(), Some(id.as_str()), "{r}");
    }
    forget();
    // The last line a killed run printed: writing the outputs, loading one (`Loading ... into the
    // Docker engine`), or just after one loaded.
    assert!(
        ["Writing", "Loading", "Loaded"].iter().any(|p| phases.contains_key(*p)),
        "no kill landed near the load: {phases:?}"
    );
}
