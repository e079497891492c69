//! `lucid lint`: Dockerfile -> syntax tree -> rules -> findings -> renderers.
//!
//! The rules encode what a distroless multi-stage build needs (see `finding::RULES`): two stages
//! named as the spec names them, a numeric non-root USER in the runtime stage, no shell where the
//! base has none, pinned bases, no secrets in ARG/ENV, a context that leaves out .git and secrets.

pub mod finding;
pub mod parse;
pub mod render;
pub mod rules;
pub mod stages;

use std::path::Path;

pub use finding::{Finding, RULES, Rule, Severity};
pub use parse::{Dockerfile, parse};
pub use render::{Format, Report, render};
pub use rules::{LintOptions, check};

/// Read, parse and check one file. The context directory defaults to the Dockerfile's own
/// directory (the seed builds with `infrastructure/containers/base` as context).
pub fn lint_file(path: &Path, opts: &LintOptions) -> std::io::Result<Vec<Finding>> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut o = opts.clone();
    if o.context.is_none() {
        o.context = Some(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf());
    }
    Ok(check(&parse(&text), &path.display().to_string(), &o))
}

/// Lint source text directly (no .dockerignore check unless `opts.context` is set).
pub fn lint_str(src: &str, file: &str, opts: &LintOptions) -> Vec<Finding> {
    check(&parse(src), file, opts)
}
