//! What changed in an image since its previous build, written beside the outputs so that users
//! who pin digests can read why a new one exists: `out/IMAGE.changes.md` and
//! `out/IMAGE.changes.json` (packages and wheels added, removed, upgraded, with versions, security
//! updates marked), and with `--push` attached to the pushed index in the registry.
//!
//! The previous build is the record the last build into the same output directory that passed
//! (its budgets, `--verify` and `--push`) left, `out/IMAGE.lock.json`: the image's digest and
//! its lock entries (its own and those of the images it extends, per platform). A first build
//! has no record: its changelog says so.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::lock::updates::{Update, updates};
use crate::lock::{ImageLock, Lock};
use crate::spec::Spec;

/// What an output was built from: its digest and its lock entries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub image: String,
    /// The index digest (or the manifest's, for one platform).
    pub digest: String,
    pub lock: Lock,
}

/// The changelog of one build of one image.
#[derive(Clone, Debug, Serialize)]
pub struct Changelog {
    pub image: String,
    pub digest: String,
    /// The previous build's digest; `None` for a first build into this output directory.
    pub previous: Option<String>,
    pub updates: Vec<Update>,
}

/// `image`'s entries of `lock`, each platform's with the entries of the images it extends.
pub fn record(spec: &Spec, lock: &Lock, image: &str, digest: &str) -> Result<Record> {
    let chain: Vec<&str> = spec.chain(image)?.iter().map(|i| i.name.as_str()).collect();
    let mut platforms = std::collections::BTreeMap::new();
    for platform in lock.images.get(image).map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
        let mut merged = ImageLock::default();
        for name in &chain {
            if let Some(l) = lock.image(name, &platform) {
                merged.packages.extend(l.packages.iter().cloned());
                merged.tools.extend(l.tools.iter().cloned());
                merged.wheels.extend(l.wheels.iter().cloned());
            }
        }
        merged.packages.sort();
        merged.tools.sort();
        merged.wheels.sort();
        platforms.insert(platform, merged);
    }
    let mut only = lock.clone();
    only.images = [(image.to_string(), platforms)].into();
    Ok(Record { image: image.to_string(), digest: digest.to_string(), lock: only })
}

/// The changelog as Markdown.
pub fn markdown(c: &Changelog) -> String {
    let mut out = format!("# {}\n\n", c.image);
    match &c.previous {
        None => out.push_str(&format!("`{}`: the first build into this output directory.\n", c.digest)),
        Some(p) if c.updates.is_empty() => {
            out.push_str(&format!("`{}` (was `{p}`): no package or wheel changed.\n", c.digest))
        }
        Some(p) => {
            let security = c.updates.iter().filter(|u| u.security).count();
            out.push_str(&format!(
                "`{}` (was `{p}`): {} change(s), {security} security update(s).\n\n| kind | name | was | now | suite | security | platforms |\n| --- | --- | --- | --- | --- | --- | --- |\n",
                c.digest,
                c.updates.len()
            ));
            for u in &c.updates {
                let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                let platforms: Vec<&str> = u
                    .affected
                    .iter()
                    .filter_map(|a| a.split_once(" (").map(|(_, p)| p.trim_end_matches(')')))
                    .collect();
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} | {} | {} | {} |\n",
                    u.kind,
                    u.package,
                    v(&u.old),
                    v(&u.new),
                    u.suite,
                    if u.security { "**yes**" } else { "" },
                    platforms.join(", ")
                ));
            }
        }
    }
    out
}

/// Compares `image`'s new build (`digest`, from `lock`) with the record in `out`, writes
/// `IMAGE.changes.md` and `IMAGE.changes.json` there (each whole or not at all), and returns the
/// changelog and the new record, which [`keep`] makes the one the next build compares with once
/// this build passed (a failed or unpushed build must not become "the previous build").
pub fn write(out: &Path, spec: &Spec, lock: &Lock, image: &str, digest: &str) -> Result<(Changelog, Record)> {
    let stem = spec.image(image)?.file_stem();
    let record_path = out.join(format!("{stem}.lock.json"));
    let new = record(spec, lock, image, digest)?;
    // A record that cannot be read (another version's, damaged) only loses the comparison.
    let old: Option<Record> = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|r: &Record| r.image == image);
    let changelog = Changelog {
        image: image.to_string(),
        digest: digest.to_string(),
        previous: old.as_ref().map(|r| r.digest.clone()),
        updates: old.as_ref().map(|o| updates(&o.lock, &new.lock)).unwrap_or_default(),
    };
    let json = serde_json::to_string_pretty(&json!(changelog))? + "\n";
    crate::oci::stale::write_output_file(&out.join(format!("{stem}.changes.json")), json.as_bytes())
        .with_context(|| format!("cannot write the changelog of {image}"))?;
    crate::oci::stale::write_output_file(&out.join(format!("{stem}.changes.md")), markdown(&changelog).as_bytes())?;
    Ok((changelog, new))
}

/// Makes `record` the one the next build into `out` compares with.
pub fn keep(out: &Path, spec: &Spec, record: &Record) -> Result<()> {
    let stem = spec.image(&record.image)?.file_stem();
    crate::oci::stale::write_output_file(&out.join(format!("{stem}.lock.json")), &serde_json::to_vec_pretty(record)?)
}
