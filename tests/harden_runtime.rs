//! Runtime checks against hostile images (issue 14, points 3 and 4), each attack performed for
//! real on the Docker engine: an archive whose manifest retags `debian:12` and the user's own
//! image, an image that sleeps forever, a fork bomb, a gigabyte of output, and Ctrl-C while a
//! container runs. Each ends in a clear finding within its time limit, with no container and no
//! temporary image left behind.
//!
//! The hostile images are made with lucid's own writer: a static C program (gcc -static) as
//! `/usr/bin/python3`, which verify's runtime checks start, behaving as `/etc/hostile` says.

#[path = "support/oci_image.rs"]
mod oci_image;
mod support;
#[path = "support/verify_images.rs"]
mod verify_images;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lucid::oci::Image;
use lucid::platform::Platform;
use lucid::rootfs::{Entry, Tree};

/// What the fake `python3` does, by the word in `/etc/hostile`. The fork bomb stops at 4096
/// children so that running this test on a lucid without a pids limit harms no shared machine.
const HOSTILE_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    char mode[32] = {0};
    FILE *f = fopen("/etc/hostile", "r");
    if (f) { fgets(mode, sizeof mode, f); fclose(f); }
    if (!strncmp(mode, "forkbomb", 8)) {
        int n = 0;
        for (int i = 0; i < 4096; i++) {
            pid_t p = fork();
            if (p == 0) { for (;;) pause(); }
            if (p < 0) break;
            n++;
        }
        printf("Python 3 forked %d processes\n", n);
        fflush(stdout);
    }
    if (!strncmp(mode, "logs", 4)) {
        static char line[1 << 16];
        memset(line, 'A', sizeof line);
        line[sizeof line - 1] = '\n';
        for (long i = 0; i < (1L << 30) / (long)sizeof line; i++) {
            if (write(1, line, sizeof line) < 0) return 1;
        }
        return 0;
    }
    for (;;) pause();
}
"#;

fn hostile_binary() -> &'static [u8] {
    static BIN: OnceLock<Vec<u8>> = OnceLock::new();
    BIN.get_or_init(|| oci_image::compile_static(HOSTILE_C))
}

/// An OCI layout of a runtime-stage image whose `python3` does `mode`; returns the reference and
/// the config digest (the engine's image ID). `test` makes the image the test's own, so that tests
/// running side by side never see each other's containers.
fn hostile_image(dir: &Path, mode: &str, test: &str) -> (String, String) {
    let mut tree = verify_images::good_tree();
    tree.insert("etc/test", Entry::file(format!("{test} {}\n", std::process::id()).into_bytes(), 0o644)).unwrap();
    tree.insert("usr/bin/python3", Entry::file(hostile_binary().to_vec(), 0o755)).unwrap();
    tree.insert("etc/hostile", Entry::file(format!("{mode}\n").into_bytes(), 0o644)).unwrap();
    let mut config = verify_images::good_config();
    config.platform = Platform::host();
    let image = verify_images::write(dir, &tree, None, config);
    (format!("oci:{}:latest", dir.join("layout").display()), image.config_digest().to_string())
}

/// The containers of image `id` and the temporary images lucid made of it: both must be none.
fn leftovers(id: &str) -> String {
    let hex = &id.trim_start_matches("sha256:")[..12];
    let containers = support::docker(&["ps", "-a", "-q", "--filter", &format!("ancestor={id}")]);
    let images = support::docker(&["images", "-q", &format!("lucid-verify-tmp/{hex}")]);
    format!("{}{}", containers.trim(), images.trim())
}

/// Removes whatever a failed run left (so a failing test does not leak into the next).
fn remove_leftovers(id: &str) {
    let ids = support::docker(&["ps", "-a", "-q", "--filter", &format!("ancestor={id}")]);
    for c in ids.split_whitespace() {
        let _ = support::docker_ok(&["rm", "-f", c]);
    }
}

/// `lucid verify REFERENCE --require-runtime --runtime-timeout SECS --format json`, killed (and
/// the test failed) past `deadline`; returns the exit code, the JSON report and stderr.
fn verify_within(reference: &str, timeout_secs: u64, deadline: Duration) -> (i32, serde_json::Value, String) {
    let out = support::output_within(
        support::lucid()
            .args(["verify", reference, "--require-runtime", "--format", "json", "--runtime-timeout"])
            .arg(timeout_secs.to_string()),
        deadline,
    );
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr).into_owned());
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// The message of finding `id`, which must have failed.
fn failed_message(report: &serde_json::Value, id: &str) -> String {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"));
    assert_eq!(f["status"], "fail", "{id}: {f}");
    f["message"].as_str().unwrap().to_string()
}

/// Runs verify on the hostile image `mode` with a 5 s limit per container; checks that it ends
/// within 90 s, exits 1 with RUNTIME-001 failed, and leaves nothing. Returns RUNTIME-001's message.
fn attack(mode: &str) -> String {
    support::require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (reference, id) = hostile_image(dir.path(), mode, mode);
    let started = Instant::now();
    let (code, report, stderr) = verify_within(&reference, 5, Duration::from_secs(90));
    let left = leftovers(&id);
    remove_leftovers(&id);
    assert_eq!(code, 1, "{mode}: {report}\n{stderr}");
    assert!(left.is_empty(), "{mode}: left behind in the engine: {left}");
    eprintln!("{mode}: {:?}", started.elapsed());
    failed_message(&report, "LUCID-RUNTIME-001")
}

#[test]
fn an_image_that_sleeps_forever_fails_within_the_time_limit() {
    let msg = attack("sleep");
    assert!(msg.contains("did not finish within 5s (container removed)"), "{msg}");
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    let msg = attack("forkbomb");
    assert!(msg.contains("did not finish within 5s"), "{msg}");
    let n: u32 = msg
        .split("forked ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no process count in {msg}"));
    assert!(n < 256, "the fork bomb started {n} processes: no pids limit");
}

#[test]
fn a_gigabyte_of_output_is_cut_at_one_mebibyte() {
    let msg = attack("logs");
    assert!(msg.contains("printed more than 1.05MB of output"), "{msg}");
    assert!(msg.contains("stopped reading and removed the container"), "{msg}");
}

#[test]
fn ctrl_c_removes_the_running_container() {
    support::require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (reference, id) = hostile_image(dir.path(), "sleep", "ctrl-c");
    let mut child = support::lucid()
        .args(["verify", &reference, "--require-runtime", "--runtime-timeout", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let running = loop {
        let ps = support::docker(&["ps", "-q", "--filter", &format!("ancestor={id}")]);
        if !ps.trim().is_empty() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !running {
        let _ = child.kill();
        remove_leftovers(&id);
        panic!("no container of the sleeping image ever ran");
    }
    // SAFETY: kill(2) on the child's own process ID.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let interrupted = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if interrupted.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            remove_leftovers(&id);
            panic!("lucid verify did not end within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let left = leftovers(&id);
    remove_leftovers(&id);
    assert!(left.is_empty(), "left behind after SIGINT: {left}\n{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted; removing 1 container(s)"), "{stderr}");
}

/// `docker images` lines (`REPO:TAG ID DIGEST`) of the repositories in `repos`: the engine's tags
/// that a hostile archive could change.
fn tags_of(repos: &[&str]) -> String {
    let all = support::docker(&[
        "images",
        "--digests",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}}",
    ]);
    let mut lines: Vec<&str> = all.lines().filter(|l| repos.iter().any(|r| l.starts_with(&format!("{r}:")))).collect();
    lines.sort();
    lines.join("\n")
}

/// The members of the tar `file`, by name.
fn members(file: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut ar = tar::Archive::new(std::fs::File::open(file).unwrap());
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.insert(name, data);
        }
    }
    out
}

/// A small image with `marker` in it (so its config digest is its own) as a docker-archive.
fn small_archive(dir: &Path, marker: &str, tags: &[String]) -> (std::path::PathBuf, String) {
    let mut tree: Tree = verify_images::good_tree();
    tree.insert("etc/marker", Entry::file(marker.as_bytes().to_vec(), 0o644)).unwrap();
    let mut config = verify_images::good_config();
    config.platform = Platform::host();
    let image = verify_images::write(dir, &tree, None, config);
    let file = dir.join("tagged.tar");
    lucid::oci::archive::write_docker_archive(&file, &image, tags).unwrap();
    (file, image.config_digest().to_string())
}

#[test]
fn a_hostile_archive_changes_no_tag_in_the_engine() {
    support::require_docker();
    let tmp = tempfile::tempdir().unwrap();
    let nonce = format!("{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    let user_repo = format!("lucid-test-user-{nonce}");
    let user_tag = format!("{user_repo}:v1");
    // The user's own image, tagged in the engine before the attack.
    let (user_archive, user_id) =
        small_archive(&tmp.path().join("user"), &format!("user {nonce}"), std::slice::from_ref(&user_tag));
    support::docker(&["load", "-i", user_archive.to_str().unwrap()]);
    // The hostile archive: two images, both claiming debian:12 and the user's tag.
    let claimed = vec!["debian:12".to_string(), user_tag.clone()];
    let (first, first_id) = small_archive(&tmp.path().join("a"), &format!("first {nonce}"), &claimed);
    let (second, _) = small_archive(&tmp.path().join("b"), &format!("second {nonce}"), &claimed);
    let mut all = members(&first);
    let second_members = members(&second);
    let mut manifest: Vec<serde_json::Value> = serde_json::from_slice(&all["manifest.json"]).unwrap();
    manifest.extend(serde_json::from_slice::<Vec<serde_json::Value>>(&second_members["manifest.json"]).unwrap());
    for (name, data) in second_members {
        all.entry(name).or_insert(data);
    }
    all.insert("manifest.json".into(), serde_json::to_vec(&manifest).unwrap());
    let hostile = tmp.path().join("hostile.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&hostile).unwrap());
    for (name, data) in &all {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    tar.finish().unwrap();
    drop(tar);

    let repos = ["debian", user_repo.as_str()];
    let before = tags_of(&repos);
    assert!(before.contains(&user_id), "the user's tag is not in the engine: {before}");
    let debian_before = before.lines().any(|l| l.starts_with("debian:12 "));
    let (code, report, stderr) =
        verify_within(&format!("docker-archive:{}", hostile.display()), 60, Duration::from_secs(120));
    let after = tags_of(&repos);
    let left = leftovers(&first_id);
    // Undo what an unfixed lucid would have done, then judge.
    let _ = support::docker_ok(&["rmi", &user_tag]);
    if !debian_before {
        let _ = support::docker_ok(&["rmi", "debian:12"]);
    }
    remove_leftovers(&first_id);
    assert_eq!(after, before, "verify of a hostile archive changed the engine's tags\n{stderr}");
    assert!(left.is_empty(), "left behind: {left}");
    // The runtime checks did run (on lucid's own copy of the first image).
    let sh = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "LUCID-RUNTIME-003").unwrap();
    assert_eq!(sh["status"], "pass", "{sh}\n{stderr}");
    assert!(code == 0 || code == 1, "exit {code}: {report}\n{stderr}");
}
