//! Concurrency: four `lucid build` processes, each building a different image of one spec into
//! one output directory, share one `LUCID_CACHE` from an empty start. All succeed, each image has
//! the digest a serial build gives it, and the cache holds exactly the blobs a serial build leaves
//! (one file per digest, no temporary leftovers) and verifies clean. Each package is downloaded
//! once, whichever build needs it first.

mod support;

use std::time::Instant;

use support::faulty::FaultyServer;
use support::hermetic::{self, IMAGES, Project, stderr};

#[test]
fn four_concurrent_builds_share_one_cache() {
    let repo = hermetic::repo(2 << 20);
    let server = FaultyServer::start(repo.root.clone());

    let serial = Project::new(&repo);
    let serial_cache = serial.path("cache");
    let started = Instant::now();
    for image in IMAGES {
        let o = serial.build(&server.url, &serial_cache, &serial.path("out"), &[image]);
        assert!(o.status.success(), "{image}: {}", stderr(&o));
    }
    let serial_time = started.elapsed();
    let want: Vec<String> = IMAGES.iter().map(|i| hermetic::manifest_digest(&serial.path("out"), i)).collect();
    let want_blobs = hermetic::cache_blobs(&serial_cache);

    for round in 0..2 {
        let p = Project::new(&repo);
        let cache = p.path("cache");
        let out = p.path("out");
        let before = server.hits().len();
        let started = Instant::now();
        let children: Vec<_> = IMAGES
            .iter()
            .map(|image| {
                p.build_cmd(&server.url, &cache, &out, &[image])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (image, child) in IMAGES.iter().zip(children) {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}, {image}: {}", stderr(&o));
        }
        eprintln!(
            "round {round}: 4 concurrent builds in {:.2}s (serial: {:.2}s)",
            started.elapsed().as_secs_f64(),
            serial_time.as_secs_f64()
        );
        // Builds that miss the same package wait for the one downloading it: one GET per .deb.
        let mut gets: std::collections::BTreeMap<String, usize> = Default::default();
        for hit in &server.hits()[before..] {
            if hit.path.contains("pool/") {
                *gets.entry(hit.path.clone()).or_default() += 1;
            }
        }
        assert!(!gets.is_empty() && gets.values().all(|&n| n == 1), "round {round}: downloads per .deb: {gets:?}");
        let got: Vec<String> = IMAGES.iter().map(|i| hermetic::manifest_digest(&out, i)).collect();
        assert_eq!(got, want, "round {round}: concurrent digests differ from serial ones");
        assert_eq!(hermetic::cache_blobs(&cache), want_blobs, "round {round}: the cache holds other blobs");
        let (clean, report) = hermetic::cache_verify(&cache);
        assert!(clean && report.contains(" 0 leftover"), "round {round}: {report}");
        for image in IMAGES {
            let view = lucid::oci::read::open(&format!("oci:{}:latest", out.join(image).display())).unwrap();
            view.verify().unwrap();
        }
        let hidden: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') && n != hermetic::OUTPUT_MARKER)
            .collect();
        assert!(hidden.is_empty(), "round {round}: left in the output directory: {hidden:?}");
    }
}
