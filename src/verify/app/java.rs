//! Java applications (`--app` jars): built on another branch, which replaces this file.

use std::path::Path;

use anyhow::{Result, bail};

use crate::report::Finding;

use super::host::Host;

/// The findings of the Java application at `path` on `host` (LUCID-APP-101..199).
pub fn check(_host: &Host, path: &Path) -> Result<Vec<Finding>> {
    bail!("--app {}: Java applications: not built yet", path.display())
}
