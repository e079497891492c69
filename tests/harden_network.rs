//! Network faults: a loopback mirror that drops connections, stalls, answers 500, cuts bodies
//! short, trickles, or sends too much. Transient faults are retried with back-off (a cut body is
//! resumed with a Range request where the server allows it); persistent ones end in one clear
//! error naming the URL, the number of attempts and what went wrong, with no image written.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use lucid::fetch::Http;
use support::faulty::{Fault, FaultyServer};
use support::hermetic::{self, Project, stderr};

const DEB: &str = "pool/main/p/pkg-alpha/pkg-alpha_2.0-1_amd64.deb";

fn setup() -> (support::debrepo::TestRepo, FaultyServer, Project) {
    let repo = hermetic::repo(1 << 20);
    let server = FaultyServer::start(repo.root.clone());
    let project = Project::new(&repo);
    (repo, server, project)
}

fn http(stall_ms: u64, retries: u32) -> Http {
    Http::with_policy(Duration::from_millis(stall_ms), retries, Duration::from_millis(20)).unwrap()
}

fn served(repo_root: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(repo_root.join(rel)).unwrap()
}

#[test]
fn transient_faults_on_every_kind_of_file_are_retried_and_the_build_succeeds() {
    let (_repo, server, p) = setup();
    server
        .fail("InRelease", Fault::Drop, 2)
        .fail("Packages.xz", Fault::Status(500), 2)
        .fail("Packages.xz", Fault::Status(503), 1)
        .fail("pkg-alpha", Fault::Truncate, 2)
        .fail("base_", Fault::Status(429), 1);
    let cache = p.path("cache");
    let out = p.path("out");
    let o = p.build(&server.url, &cache, &out, &["alpha"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.hits_for("InRelease").len(), 3);
    assert_eq!(server.hits_for("Packages.xz").len(), 4);
    // The cut .deb was resumed from where it broke off, not fetched again from the start.
    let deb_hits = server.hits_for("pkg-alpha");
    assert_eq!(deb_hits.len(), 3, "{deb_hits:?}");
    assert!(deb_hits[1].range.as_deref().is_some_and(|r| r.starts_with("bytes=")), "{deb_hits:?}");
    let (clean, report) = hermetic::cache_verify(&cache);
    assert!(clean, "{report}");

    // The same image as a build that never saw a fault.
    let calm = FaultyServer::start(_repo.root.clone());
    let q = Project::new(&_repo);
    let o = q.build(&calm.url, &q.path("cache"), &q.path("out"), &["alpha"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(hermetic::manifest_digest(&out, "alpha"), hermetic::manifest_digest(&q.path("out"), "alpha"));
}

#[test]
fn persistent_500_ends_in_a_clear_error_after_the_retry_limit() {
    let (_repo, server, p) = setup();
    server.always("Packages.xz", Fault::Status(500));
    let out = p.path("out");
    let started = Instant::now();
    let o = p.build(&server.url, &p.path("cache"), &out, &["alpha"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("Packages.xz") && err.contains("failed after 5 attempts"), "{err}");
    assert!(err.contains("HTTP 500") && err.contains("x5"), "{err}");
    assert_eq!(server.hits_for("Packages.xz").len(), 5);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(!out.join("alpha").exists());
}

#[test]
fn not_found_is_final_at_once() {
    let (_repo, server, p) = setup();
    server.always("pkg-alpha", Fault::Status(404));
    let o = p.build(&server.url, &p.path("cache"), &p.path("out"), &["alpha"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("pkg-alpha") && err.contains("404"), "{err}");
    assert_eq!(server.hits_for("pkg-alpha").len(), 1, "a 404 is not retried");
}

#[test]
fn a_stalled_mirror_times_out_and_is_retried() {
    let (repo, server, p) = setup();
    server.fail(DEB, Fault::Stall(Duration::from_secs(60)), 1);
    let started = Instant::now();
    let o = p
        .build_cmd(&server.url, &p.path("cache"), &p.path("out"), &["alpha"])
        .env("LUCID_HTTP_TIMEOUT", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(15), "the stall was waited out: {:?}", started.elapsed());
    let hits = server.hits_for(DEB);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits[1].range.is_some(), "the second attempt resumes the stalled body: {hits:?}");
    drop(repo);

    // Stalled every time: a clear error that says so.
    let (_repo, server, p) = setup();
    server.always(DEB, Fault::Stall(Duration::from_secs(60)));
    let o = p
        .build_cmd(&server.url, &p.path("cache"), &p.path("out"), &["alpha"])
        .env("LUCID_HTTP_TIMEOUT", "1")
        .env("LUCID_HTTP_RETRIES", "2")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("pkg-alpha") && err.contains("failed after 3 attempts") && err.contains("stalled"), "{err}");
}

#[test]
fn resume_uses_ranges_when_offered_and_restarts_when_not() {
    let (repo, server, _p) = setup();
    let url = format!("{}/{DEB}", server.url);
    let want = served(&repo.root, DEB);
    server.fail(DEB, Fault::Truncate, 1);
    let got = http(2000, 3).get_sized(&url, None, Some(want.len() as u64), &|_| {}).unwrap();
    assert_eq!(got, want);
    let hits = server.hits_for(DEB);
    assert_eq!(hits[1].range.as_deref(), Some(format!("bytes={}-", want.len() / 2).as_str()));

    let plain = FaultyServer::start(repo.root.clone());
    plain.without_ranges().fail(DEB, Fault::Truncate, 2);
    let url = format!("{}/{DEB}", plain.url);
    let got = http(2000, 3).get_sized(&url, None, Some(want.len() as u64), &|_| {}).unwrap();
    assert_eq!(got, want, "a 200 answer to a range request restarts the body");
    assert_eq!(plain.hits_for(DEB).len(), 3);
}

#[test]
fn a_slow_but_live_mirror_is_not_cut_off() {
    let (repo, server, _p) = setup();
    let want = served(&repo.root, "dists/bookworm/InRelease");
    server.always("InRelease", Fault::Trickle { chunk: want.len() / 6, pause: Duration::from_millis(300) });
    // Each read waits at most 800 ms; the whole body takes about two seconds.
    let got = http(800, 0).get(&format!("{}/dists/bookworm/InRelease", server.url), None, &|_| {}).unwrap();
    assert_eq!(got, want);
}

#[test]
fn a_body_larger_than_promised_is_refused_without_reading_it() {
    let (repo, server, _p) = setup();
    let want = served(&repo.root, DEB);
    server.always(DEB, Fault::Oversize);
    let url = format!("{}/{DEB}", server.url);
    let err = format!("{:#}", http(2000, 3).get_sized(&url, None, Some(want.len() as u64), &|_| {}).unwrap_err());
    assert!(err.contains("more than the") && err.contains(&want.len().to_string()), "{err}");
    assert_eq!(server.hits_for(DEB).len(), 1, "too much is final, not retried");
}

#[test]
fn connection_refused_is_retried_then_named() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/dists/bookworm/InRelease");
    let started = Instant::now();
    let err = format!("{:#}", http(1000, 2).get(&url, None, &|_| {}).unwrap_err());
    assert!(err.contains(&url) && err.contains("failed after 3 attempts"), "{err}");
    assert!(err.contains("connection failed") || err.to_lowercase().contains("refused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
