//! `--app PATH`: hold each image against the application it is meant to run.
//!
//! Plumbing to be unified with pyapp at merge. That branch owns this dispatch and the image side
//! of it (its `Host`, learnt in the one pass over the layers, and its `check(host, path)`); this
//! file is the minimum with the same shape, so the Java checks ([`java`]) run end to end here:
//! a [`Host`] that knows the image's Java `release` files, and [`check`] for jars alone. What
//! [`java`] needs of the merged `Host`: `name`, `fs`, `env` and [`Host::java_runtimes`] (the
//! `release` files, which pyapp's scan can keep beside its loader configuration texts: their
//! paths are [`java_modules::is_release_path`]); and of `exit_code`, [`jdeps::NoJdk`] as 3.

pub mod java;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::analyze::java_modules::{self, JavaRuntime};
use crate::analyze::jdeps;
use crate::oci::read::EntryKind;
use crate::oci::source::SourceImage;
use crate::report::Finding;
use crate::verify::view::{Event, MergedView};

/// Bytes of a Java `release` file kept (real ones are under 2 KB).
const RELEASE_LIMIT: u64 = 64 << 10;

/// The observer that keeps Java runtimes' `release` files during the merge: their place is not
/// known before the layers are read.
#[derive(Debug, Default)]
pub struct ReleaseScan {
    /// Path -> (layer that wrote it, content); checked against the merged tree at the end.
    files: BTreeMap<String, (usize, Vec<u8>)>,
}

impl ReleaseScan {
    /// The observer for [`crate::verify::view::merge_observed`].
    pub fn observe(&mut self, event: Event<'_>) -> Result<()> {
        if let Event::Entry { layer, entry, content } = event
            && entry.kind == EntryKind::File
            && entry.size <= RELEASE_LIMIT
            && java_modules::is_release_path(&entry.path)
        {
            let mut data = Vec::new();
            content
                .take(RELEASE_LIMIT)
                .read_to_end(&mut data)
                .with_context(|| format!("cannot read {}", entry.path))?;
            self.files.insert(entry.path.clone(), (layer, data));
        }
        Ok(())
    }

    /// What survives in the final filesystem `fs` (a later layer may have deleted or replaced it).
    pub fn finish(self, fs: &MergedView) -> BTreeMap<String, Vec<u8>> {
        let alive = |p: &String, layer: usize| fs.entries.get(p).is_some_and(|e| e.layer() == layer);
        self.files.into_iter().filter(|(p, (l, _))| alive(p, *l)).map(|(p, (_, d))| (p, d)).collect()
    }
}

/// One image (one platform) as the host of an application.
pub struct Host<'a> {
    /// Names the image in findings: `oci:out/lucid-java-base:latest (linux/amd64)`.
    pub name: String,
    pub fs: &'a MergedView,
    /// The config's `Env` (`JAVA_HOME`).
    pub env: &'a [String],
    releases: &'a BTreeMap<String, Vec<u8>>,
}

impl<'a> Host<'a> {
    pub fn new(
        name: String,
        image: &'a SourceImage,
        fs: &'a MergedView,
        releases: &'a BTreeMap<String, Vec<u8>>,
    ) -> Host<'a> {
        Host { name, fs, env: &image.view.config.config.env, releases }
    }

    /// The Java runtimes of the image, from their `release` files.
    pub fn java_runtimes(&self) -> Vec<JavaRuntime> {
        self.releases.iter().filter_map(|(p, d)| java_modules::parse_release(p, d)).collect()
    }
}

/// The findings of application `path` on the image `host`: jars, wars and folders of them.
pub fn check(host: &Host, path: &Path) -> Result<Vec<Finding>> {
    if crate::analyze::jars::is_jar_app(path) {
        return java::check(host, path);
    }
    bail!("--app {}: not a jar, a war or a folder of jars", path.display())
}

/// The exit code for an error of `--app`: 3 when this machine has no JDK for jdeps (a
/// configuration error), else 2 (input that cannot be read).
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<jdeps::NoJdk>()) { 3 } else { 2 }
}
