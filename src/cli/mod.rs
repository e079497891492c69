//! Subcommands: each parses nothing itself (clap did), calls the library and renders the result.

pub mod build;
pub mod cache;
pub mod diff;
pub mod lint;
pub mod lock;
pub mod push;
pub mod report;
pub mod sbom;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::Result;

use lucid::fetch::{Cache, Fetcher};
use lucid::spec::Spec;

/// The spec used when `--file` is not given, relative to the current directory.
pub const DEFAULT_SPEC: &str = "infrastructure/containers/base/build-args.yml";

pub fn load_spec(path: &Option<PathBuf>) -> Result<Spec> {
    let p = path.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC));
    if path.is_none() && !Path::new(&p).exists() {
        anyhow::bail!(
            "no spec at {DEFAULT_SPEC}: run lucid from the repository root or pass --file PATH/build-args.yml"
        );
    }
    Spec::load(&p)
}

/// Progress bars only when a person is watching: stderr is a terminal and CI is not set.
pub fn fetcher() -> Result<Fetcher> {
    use std::io::IsTerminal;
    let progress = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() && !lucid::status::is_quiet();
    Fetcher::new(Cache::from_env()?, progress)
}
