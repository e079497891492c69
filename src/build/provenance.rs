//! The SLSA v1 provenance of a built image: what went in (the spec and lock by digest, every
//! `.deb`, build tool and wheel by SHA-256, the signed Releases they were resolved from), how
//! (`SOURCE_DATE_EPOCH`, platforms, lucid's version) and whether the same lock gives the same
//! bytes again. `lucid build --push --sign` signs it into an in-toto statement about the pushed
//! manifests.
//!
//! Dependencies are named by package URL (`pkg:deb/debian/libc6@VERSION?arch=amd64`,
//! `pkg:pypi/requests@VERSION`), never by a mirror's address: where a package came from is the
//! runner's business, what it is is its digest.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::lock::{Lock, LockedPackage};
use crate::spec::Spec;

/// The build type: how to read `externalParameters` and `internalParameters` below.
pub const BUILD_TYPE: &str = "urn:lucid:build-type:debian-packages:v1";

/// Images whose bytes another machine may not reproduce, and why (stated where the claim is).
fn reproducibility(spec: &Spec, image: &str) -> Result<Value> {
    let img = spec.image(image)?;
    let cds_17 = img.java.as_ref().is_some_and(|j| j.cds && j.jdk.contains("-17-"));
    // What lucid's tests establish for its builds (the same lock and SOURCE_DATE_EPOCH give the
    // same digests), not a check made by this build.
    let basis = "the same lock and SOURCE_DATE_EPOCH give the same image digest (lucid's reproducibility tests)";
    Ok(if cds_17 {
        json!({"expected": false, "basis": basis, "exception": "the CDS archive in the last layer: HotSpot 17 does not dump it identically on every machine (docs/java.md); every other layer is reproducible"})
    } else {
        json!({"expected": true, "basis": basis})
    })
}

fn package(p: &LockedPackage, role: &str) -> Value {
    json!({
        "uri": format!("pkg:deb/debian/{}@{}?arch={}", p.name, p.version, p.architecture),
        "digest": {"sha256": p.sha256},
        "name": p.filename.rsplit('/').next().unwrap_or(&p.filename),
        "annotations": {"suite": p.suite, "size": p.size, "role": role},
    })
}

fn file_digest(path: &std::path::Path) -> Result<String> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(crate::fetch::sha256_hex(&data))
}

/// The provenance predicate of `image` built for `platforms` from `spec` and `lock`, the build
/// having run from `started` to `finished` (Unix seconds).
pub fn predicate(
    spec: &Spec,
    lock: &Lock,
    image: &str,
    platforms: &[String],
    source_date_epoch: i64,
    started: i64,
    finished: i64,
) -> Result<Value> {
    let mut deps = vec![
        json!({"uri": format!("file:{}", spec.path.display()), "digest": {"sha256": file_digest(&spec.path)?}}),
        json!({"uri": format!("file:{}", spec.lock_path().display()), "digest": {"sha256": file_digest(&spec.lock_path())?}}),
    ];
    // The image's own inputs and those of every image it extends.
    let chain: Vec<&str> = spec.chain(image)?.iter().map(|i| i.name.as_str()).collect();
    for platform in platforms {
        for name in &chain {
            let Some(l) = lock.image(name, platform) else { continue };
            deps.extend(l.packages.iter().map(|p| package(p, "content")));
            deps.extend(l.tools.iter().map(|p| package(p, "build tool")));
            deps.extend(l.wheels.iter().map(|w| {
                json!({
                    "uri": format!("pkg:pypi/{}@{}", w.name, w.version),
                    "digest": {"sha256": w.sha256},
                    "name": w.filename,
                })
            }));
        }
    }
    let releases: serde_json::Map<String, Value> =
        lock.releases.iter().map(|(suite, r)| (suite.clone(), json!({"date": r.date, "signer": r.signer}))).collect();
    let rfc3339 = |t: i64| crate::oci::image::rfc3339(t);
    Ok(json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {"spec": spec.path.display().to_string(), "image": image, "platforms": platforms},
            "internalParameters": {
                "SOURCE_DATE_EPOCH": source_date_epoch,
                "releases": releases,
                "reproducibility": reproducibility(spec, image)?,
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": "urn:lucid:builder", "version": {"lucid": env!("CARGO_PKG_VERSION")}},
            "metadata": {"startedOn": rfc3339(started)?, "finishedOn": rfc3339(finished)?},
        },
    }))
}
