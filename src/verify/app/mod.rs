//! `lucid verify --app PATH`: hold each image against the application it is meant to run.
//!
//! Plumbing to be unified with pyapp at merge: this dispatch (a `.jar`, a `.war` or a folder of
//! jars goes to [`java`]) and the `--app` option are the minimum that runs the Java checks end to
//! end; the Java logic itself is in [`java`] and in [`crate::analyze`].

pub mod java;

use std::path::Path;

use anyhow::{Result, bail};

use super::Subject;
use crate::report::Finding;

/// An application, read once and checked against every image of a run.
#[derive(Debug)]
pub enum App {
    Java(java::App),
}

impl App {
    /// Reads the application at `path`, choosing its kind from what is there.
    pub fn open(path: &Path) -> Result<App> {
        if crate::analyze::jars::is_jar_app(path) {
            return Ok(App::Java(java::App::open(path)?));
        }
        bail!("--app {}: not a jar, a war or a folder of jars", path.display())
    }
}

/// The application checks of `app` on the image `s`.
pub fn check(app: &App, s: &Subject) -> Result<Vec<Finding>> {
    match app {
        App::Java(j) => java::check(j, s),
    }
}
