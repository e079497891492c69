//! The lock file (`build-args.lock`, JSON, beside the spec): every Debian package and every wheel
//! an image is made of, with the SHA-256 that pins it.
//!
//! Building from a lock needs no package index at all: the `.deb` files are named by suite and
//! pool path (the mirror comes from the host at build time, so no host name is ever committed)
//! and checked against the recorded digests. `inputs` is a digest of everything in the spec that
//! decides what gets resolved; when it no longer matches, the lock has drifted.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub mod updates;

use crate::fetch::{sha256_hex, write_atomic};

pub const LOCK_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    /// SHA-256 over the resolution inputs (see [`inputs_digest`]).
    pub inputs: String,
    /// Default `SOURCE_DATE_EPOCH`: the newest `Date` among the signed Release files used.
    pub source_date_epoch: i64,
    /// Per suite: the signed Release the lock was made from (its `Date` and signer). A later
    /// resolution refuses an older Release of the suite (see `debian::replay`). Absent in locks
    /// written before lucid recorded it; such a lock sets no floor.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub releases: BTreeMap<String, LockedRelease>,
    /// Per image, per platform (`linux/amd64`): what goes in.
    pub images: BTreeMap<String, BTreeMap<String, ImageLock>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImageLock {
    /// The image's own packages (its parent's are in the parent's entry), sorted by name.
    pub packages: Vec<LockedPackage>,
    /// The image's own wheels, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wheels: Vec<LockedWheel>,
    /// Build tools, not image content: the closure of the image's JDK package for this
    /// platform's architecture, whose `jlink` and jmods make a `jlink` runtime. Sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<LockedPackage>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The suite it was found in, which names the archive to fetch it from.
    pub suite: String,
    /// Pool path relative to the archive root.
    pub filename: String,
    pub size: u64,
    pub sha256: String,
}

/// The signed Release of one suite, as the lock was made from it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockedRelease {
    /// `Date`, seconds since the epoch.
    pub date: i64,
    /// The same Date in RFC 3339, for people reading the lock (not read back).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub date_utc: String,
    /// Fingerprint of the certificate whose key signed the `InRelease`.
    pub signer: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct LockedWheel {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub sha256: String,
}

impl Lock {
    pub fn read(path: &Path) -> Result<Option<Lock>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read the lock file {}", path.display())),
        };
        let lock: Lock = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}:{}:{}: malformed lock file: {e}", path.display(), e.line(), e.column()))?;
        if lock.version != LOCK_VERSION {
            bail!(
                "{}: lock version {} is not supported (expected {LOCK_VERSION}); run `lucid lock`",
                path.display(),
                lock.version
            );
        }
        Ok(Some(lock))
    }

    /// Writes the lock atomically, pretty-printed with a trailing newline so diffs review well.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        write_atomic(path, &text)
    }

    /// Keeps `old`'s `source_date_epoch` and `releases` when nothing else changed: the signed
    /// Release files are re-dated every few hours, and a re-lock that picks the same packages
    /// must not change every image digest (nor the lock). The cache still records the newest
    /// Release seen, so the replay floor rises anyway. A lock from before `releases` was recorded
    /// gains them.
    pub fn settle(mut self, old: Option<&Lock>) -> Lock {
        if let Some(old) = old
            && old.inputs == self.inputs
            && old.images == self.images
        {
            self.source_date_epoch = old.source_date_epoch;
            if !old.releases.is_empty() {
                self.releases = old.releases.clone();
            }
        }
        self
    }

    /// The replay floors this lock sets: per suite, the Date of the Release it was made from.
    pub fn floors(&self, path: &Path) -> crate::debian::replay::Floors {
        crate::debian::replay::Floors {
            lock: self.releases.iter().map(|(suite, r)| (suite.clone(), r.date)).collect(),
            lock_path: path.to_path_buf(),
        }
    }

    pub fn image(&self, image: &str, platform: &str) -> Option<&ImageLock> {
        self.images.get(image).and_then(|m| m.get(platform))
    }
}

/// What differs from `old` to `new`, one line each, for `lucid lock --check`: `-` for what only
/// `old` has, `+` for what only `new` has (packages, tools and wheels per image and platform, with
/// their SHA-256), then the recorded Releases and the spec's inputs.
pub fn differences(old: &Lock, new: &Lock) -> Vec<String> {
    fn entries(lock: &Lock) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for (image, platforms) in &lock.images {
            for (platform, l) in platforms {
                for (kind, list) in [("package", &l.packages), ("tool", &l.tools)] {
                    for p in list {
                        out.insert(format!(
                            "{image} ({platform}): {kind} {} {} sha256:{}",
                            p.name, p.version, p.sha256
                        ));
                    }
                }
                for w in &l.wheels {
                    out.insert(format!(
                        "{image} ({platform}): wheel {} sha256:{}",
                        w.filename.escape_debug(),
                        w.sha256
                    ));
                }
            }
        }
        for (suite, r) in &lock.releases {
            out.insert(format!("release of {suite}: dated {} signed by {}", r.date, r.signer));
        }
        out
    }
    let (a, b) = (entries(old), entries(new));
    let mut lines: Vec<String> = a.difference(&b).map(|e| format!("- {e}")).collect();
    lines.extend(b.difference(&a).map(|e| format!("+ {e}")));
    if old.inputs != new.inputs {
        lines.push("the spec's resolution inputs changed (packages, suites, platforms or requirements)".into());
    }
    lines
}

/// Digest of what decides a resolution: each distribution's suites, and per image its
/// distribution, parent, packages, excludes, platforms, the requirements file's content, its
/// Python version and the Java settings (the JDK package decides the
/// locked tools; the rest decides the runtime made from them). Pruning, env, labels and the like
/// are not inputs: changing them needs no new resolution.
pub fn inputs_digest(spec: &crate::spec::Spec, requirements: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    for d in &spec.distributions {
        if spec.distributions.len() == 1 {
            s.push_str(&format!("suites={:?}\n", d.suites));
        } else {
            s.push_str(&format!("distribution={} suites={:?}\n", d.name, d.suites));
        }
    }
    s.push_str(&format!("platforms={:?}\n", spec.platforms.iter().map(|p| p.to_string()).collect::<Vec<_>>()));
    for img in &spec.images {
        s.push_str(&format!(
            "image={} extends={:?} packages={:?} exclude={:?}\n",
            img.name, img.extends, img.packages, img.exclude
        ));
        if let Some(req) = requirements.get(&img.name) {
            s.push_str(&format!("requirements={}\n", sha256_hex(req.as_bytes())));
        }
        // The interpreter decides which wheels fit; the distribution which indices resolve.
        if spec.distributions.len() > 1 {
            s.push_str(&format!("distribution={}\n", img.distribution));
        }
        if let Some(py) = img.python.as_ref().filter(|p| p.version != "3.11") {
            s.push_str(&format!("python={}\n", py.version));
        }
        if let Some(j) = &img.java {
            s.push_str(&format!(
                "java jdk={} runtime={} modules={:?} cds={} home={:?}\n",
                j.jdk,
                j.runtime.as_str(),
                j.modules,
                j.cds,
                j.home
            ));
        }
    }
    sha256_hex(s.as_bytes())
}

/// The file lists of Debian `packages` (name, version, architecture), read from the `.deb` files
/// this lock pins in `cache`: for `lucid report` on images that keep no `md5sums` (the builder's
/// own), so bytes can still be put on packages. Packages the lock or cache does not have are left
/// out; a `.deb` that cannot be decoded is an error naming it.
pub fn package_files(
    lock: &Lock,
    cache: &crate::fetch::Cache,
    packages: &[(String, String, String)],
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut sha: BTreeMap<(&str, &str, &str), &str> = BTreeMap::new();
    for platforms in lock.images.values() {
        for img in platforms.values() {
            for p in &img.packages {
                sha.insert((&p.name, &p.version, &p.architecture), &p.sha256);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (name, version, arch) in packages {
        let Some(digest) = sha.get(&(name.as_str(), version.as_str(), arch.as_str())) else { continue };
        let what = || format!("cannot list the files of {name} {version} (.deb {digest})");
        let decoded = match crate::debian::deb::remembered(cache, digest) {
            Some(d) => d,
            None => {
                let Some(deb) = cache.get(digest)? else { continue };
                crate::debian::deb::decode_and_remember(&deb, digest, name, cache).with_context(what)?
            }
        };
        let mut scratch = crate::rootfs::Tree::new();
        let contents = crate::debian::deb::unpack_decoded(&decoded, name, &mut scratch).with_context(what)?;
        out.insert(name.clone(), contents.paths);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build-args.lock");
        assert_eq!(Lock::read(&path).unwrap(), None);
        let mut lock = Lock {
            version: 1,
            inputs: "x".into(),
            source_date_epoch: 5,
            releases: BTreeMap::new(),
            images: BTreeMap::new(),
        };
        lock.images.entry("a".into()).or_default().insert(
            "linux/amd64".into(),
            ImageLock {
                packages: vec![LockedPackage {
                    name: "libc6".into(),
                    version: "2.36-9+deb12u13".into(),
                    architecture: "amd64".into(),
                    suite: "bookworm".into(),
                    filename: "pool/main/g/glibc/libc6_2.36-9+deb12u13_amd64.deb".into(),
                    size: 1,
                    sha256: "00".repeat(32),
                }],
                wheels: vec![],
                tools: vec![],
            },
        );
        lock.write(&path).unwrap();
        assert_eq!(Lock::read(&path).unwrap(), Some(lock));
        std::fs::write(&path, "{\n  \"version\": 1,\n  \"bogus\": 2\n}").unwrap();
        let e = Lock::read(&path).unwrap_err().to_string();
        assert!(e.contains("build-args.lock:3:") && e.contains("bogus"), "{e}");
    }
}
