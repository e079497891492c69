//! One-line status messages on stderr, cargo style (`   Resolving ...`), silenced by `--quiet`.
//! Results go to stdout; everything about progress goes here.

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Prints `verb` right-aligned in 12 columns, then `message`.
pub fn status(verb: &str, message: impl std::fmt::Display) {
    if !is_quiet() {
        eprintln!("{verb:>12} {message}");
    }
}
