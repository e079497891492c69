//! One exit-code table for every subcommand, so a CI job can tell "the image has problems" from
//! "the image could not be read" from "the job itself is misconfigured" without parsing text.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | passed: no failing finding, within budget, the work done |
//! | 1 | findings: a check failed, an image is over budget, a lock is stale |
//! | 2 | an input could not be read: an image, archive, registry, mirror, index, jar, file |
//! | 3 | usage or configuration: bad flags, a bad spec or `--config` file, no engine for `--load` |
//!
//! The split follows hadolint and container-structure-test (1 for findings) and keeps clap's
//! usage errors apart from unreadable input (clap's own default is 2; lucid maps it to 3). When
//! several images are checked, each readable one is reported and the process exits with the
//! worst code (the highest number).
//!
//! Errors carry their class: any error is "unreadable input" (2) unless it, or an error it
//! wraps, is a [`Usage`]. Code that finds a configuration problem wraps it with [`usage`] or
//! returns [`Usage::msg`]; nothing formats an exit code by hand.

/// Everything passed.
pub const PASSED: i32 = 0;
/// Findings: a failed check, an image over budget, a lock that no longer matches.
pub const FINDINGS: i32 = 1;
/// An input (image, archive, registry, mirror, file) could not be read.
pub const UNREADABLE: i32 = 2;
/// A usage or configuration error: the command line, the spec, a `--config` or ignore file.
pub const USAGE: i32 = 3;

/// The table above, as every `--help` ends.
pub const TABLE: &str = "Exit codes (every subcommand): 0 passed; 1 findings or over budget; 2 an input could \
                         not be read (image, archive, registry, mirror, file); 3 usage or configuration error.";

/// A usage or configuration error. Its text is the whole message of the error it wraps, so
/// marking an error changes its class, never what the user reads.
#[derive(Debug)]
pub struct Usage(anyhow::Error);

impl Usage {
    /// A configuration error with this message.
    pub fn msg(message: impl std::fmt::Display) -> anyhow::Error {
        anyhow::Error::new(Usage(anyhow::anyhow!("{message}")))
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Usage {}

/// Marks `err` as a usage or configuration error (exit 3), keeping its message.
pub fn usage(err: anyhow::Error) -> anyhow::Error {
    if is_usage(&err) { err } else { anyhow::Error::new(Usage(err)) }
}

fn is_usage(err: &anyhow::Error) -> bool {
    // `downcast_ref` looks through every `.context(..)` layer; `chain` through `source()` links.
    err.downcast_ref::<Usage>().is_some() || err.chain().any(|e| e.is::<Usage>())
}

/// The exit code of an error: 3 when it is (or wraps) a [`Usage`], else 2.
pub fn code_of(err: &anyhow::Error) -> i32 {
    if is_usage(err) { USAGE } else { UNREADABLE }
}

/// The worst of several exit codes (the highest; 0 when there are none).
pub fn worst(codes: impl IntoIterator<Item = i32>) -> i32 {
    codes.into_iter().max().unwrap_or(PASSED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn class_survives_context_and_message_is_unchanged() {
        let e = usage(anyhow::anyhow!("inner problem"));
        let e: anyhow::Error = Err::<(), _>(e).context("reading spec x.yml").unwrap_err();
        assert_eq!(code_of(&e), USAGE);
        assert_eq!(format!("{e:#}"), "reading spec x.yml: inner problem");
        let plain: anyhow::Error = Err::<(), _>(anyhow::anyhow!("connection refused")).context("pull").unwrap_err();
        assert_eq!(code_of(&plain), UNREADABLE);
        assert_eq!(code_of(&Usage::msg("bad flag")), USAGE);
        assert_eq!(worst([1, 3, 2]), 3);
        assert_eq!(worst([]), 0);
    }

    #[test]
    fn marking_twice_does_not_nest() {
        let e = usage(usage(anyhow::anyhow!("x")));
        assert_eq!(format!("{e:#}"), "x");
    }
}
