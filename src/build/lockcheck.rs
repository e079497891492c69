//! The lock is checked against what it claims to be made from before a build trusts it.
//!
//! A build from a lock fetches exactly the files the lock names, each verified against the
//! SHA-256 the lock records: so whoever edits the lock chooses the wheels. The lock is a
//! generated file that reviews wave through; `requirements.txt`, with its `--hash=sha256:` pins,
//! is the file people review. So every locked wheel must be one `requirements.txt` asks for (same
//! project, same version, a pinned hash) and its file name must be one lucid would have picked
//! (a plain file name, a wheel of that project and version, fit for the platform).

use anyhow::{Context, Result, bail};

use crate::lock::{Lock, LockedWheel};
use crate::python::index::{Target, check_wheel_file};
use crate::python::requirements::{Requirement, parse_for};
use crate::spec::Spec;

/// Checks every wheel of `lock` against the requirements of the image it belongs to, for every
/// platform of the spec. `requirements` holds each image's requirements text (see
/// [`super::requirements_texts`]).
pub fn check_wheels(spec: &Spec, lock: &Lock, requirements: &std::collections::BTreeMap<String, String>) -> Result<()> {
    let lock_path = spec.lock_path();
    for img in &spec.images {
        let req_file = img.python.as_ref().and_then(|p| p.requirements.as_ref()).map(|p| spec.dir().join(p));
        for platform in &spec.platforms {
            let Some(locked) = lock.image(&img.name, &platform.to_string()) else { continue };
            if locked.wheels.is_empty() {
                continue;
            }
            let (Some(file), Some(text)) = (&req_file, requirements.get(&img.name)) else {
                bail!(
                    "{}: image {} ({platform}) lists wheels, but the spec gives it no requirements file; run `lucid \
                     lock`",
                    lock_path.display(),
                    img.name
                );
            };
            let py = img.python.as_ref().expect("an image with requirements has python settings");
            // The chain's packages: a build image's libc6 and interpreter come from its parent.
            let mut installed: Vec<(&str, &str)> = Vec::new();
            for link in spec.chain(&img.name)? {
                if let Some(l) = lock.image(&link.name, &platform.to_string()) {
                    installed.extend(l.packages.iter().map(|p| (p.name.as_str(), p.version.as_str())));
                }
            }
            let (env, target) = super::wheel_target(py, platform, installed.iter().copied())
                .with_context(|| format!("{}: image {} ({platform})", lock_path.display(), img.name))?;
            let reqs = parse_for(text, &file.display().to_string(), &env)?;
            for w in &locked.wheels {
                check_wheel(w, &reqs, &target).with_context(|| {
                    format!(
                        "{}: the locked wheel {} of image {} ({platform}) does not match {}",
                        lock_path.display(),
                        w.filename.escape_debug(),
                        img.name,
                        file.display()
                    )
                })?;
            }
        }
    }
    Ok(())
}

fn check_wheel(w: &LockedWheel, reqs: &[Requirement], target: &Target) -> Result<()> {
    let parsed = check_wheel_file(&w.filename, &w.name, &w.version)?;
    if target.rank(&parsed).is_none() {
        bail!(
            "{} does not fit CPython {}.{} with glibc {}.{} on {}",
            w.filename,
            target.python.0,
            target.python.1,
            target.glibc.0,
            target.glibc.1,
            target.machine
        );
    }
    let Some(req) = reqs.iter().find(|r| r.name == parsed.name) else {
        bail!("{} is not listed in the requirements; run `lucid lock`", w.name);
    };
    if check_wheel_file(&w.filename, &req.name, &req.version).is_err() {
        bail!(
            "{}: the lock has version {}, the requirements pin {} (line {}); run `lucid lock`",
            w.name,
            w.version,
            req.version,
            req.line
        );
    }
    if !req.hashes.is_empty() && !req.hashes.iter().any(|h| h.eq_ignore_ascii_case(&w.sha256)) {
        bail!(
            "{} {}: the lock's file {} has sha256:{}, but the requirements (line {}) pin {}. The lock was edited or \
             is stale: run `lucid lock`, and review where the other hash came from",
            w.name,
            w.version,
            w.filename,
            w.sha256,
            req.line,
            req.hashes.iter().map(|h| format!("sha256:{h}")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
