//! What the steps of a build read, as two values instead of long parameter lists: the
//! [`Context`] every image of a run shares, and the [`Target`] of one image on one platform.

use anyhow::{Context as _, Result};

use crate::debian::mirror::Source;
use crate::fetch::Fetcher;
use crate::lock::{ImageLock, Lock};
use crate::progress::{Reporter, Task};
use crate::spec::{Image, Platform, Spec};

/// Everything a build run shares: after resolution a build reads only these, so the same
/// context gives the same bytes wherever it runs.
pub struct Context<'a> {
    pub spec: &'a Spec,
    pub lock: &'a Lock,
    /// `SOURCE_DATE_EPOCH`: every timestamp in the images.
    pub epoch: i64,
    /// The Debian sources serving the spec's suites (where locked packages are fetched).
    pub sources: &'a [Source],
    /// The verified cache and the HTTP client.
    pub fetcher: &'a Fetcher,
    /// Where lines about the whole run go.
    pub reporter: &'a Reporter,
}

/// One image on one platform: what assembling and writing it read.
pub struct Target<'a> {
    pub ctx: &'a Context<'a>,
    pub image: &'a Image,
    pub platform: &'a Platform,
    /// Its line of progress, named `IMAGE (PLATFORM)`.
    pub progress: &'a Task,
}

impl Target<'_> {
    /// What the lock holds for this image on this platform.
    pub fn locked(&self) -> Result<&ImageLock> {
        let plat = self.platform.to_string();
        self.ctx.lock.image(&self.image.name, &plat).with_context(|| {
            format!(
                "the lock {} has no entry for {} on {plat}; run `lucid lock`",
                self.ctx.spec.lock_path().display(),
                self.image.name
            )
        })
    }
}

/// How a [`Target`]'s progress is named: `lucid-java-base (linux/amd64)`.
pub fn scope(image: &str, platform: &Platform) -> String {
    format!("{image} ({platform})")
}
