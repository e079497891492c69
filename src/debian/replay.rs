//! Refusing a replayed Release: a mirror that serves an older, validly signed `InRelease` than
//! one lucid has already seen for the suite.
//!
//! A signature proves who wrote a Release, not when it was served: without a check, a mirror (or
//! whoever sits between lucid and it) can keep serving last month's Release, signed and valid,
//! and so hide every security update since. `Valid-Until` bounds that where the archive sets it,
//! but Debian's main suite sets none. So a Release must not be older than:
//!
//! - the `Date` of the Release the current lock was made from (`releases` in the lock), and
//! - the newest `Date` this cache has accepted for the suite (a memo per signer and suite under
//!   the cache's `releases/` directory, raised on every newer Release).
//!
//! A deliberate step back (building from a dated snapshot of the archive) is possible, but only
//! by saying so: deleting the lock's entry and the cache's memo, as the error explains.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::release::{Release, fmt_time};
use crate::fetch::{Cache, sha256_hex, write_atomic};

/// The Dates a suite's Release must not go below.
#[derive(Clone, Debug, Default)]
pub struct Floors {
    /// Suite -> the `Date` of the Release the current lock was made from.
    pub lock: BTreeMap<String, i64>,
    /// The lock file those Dates come from, for messages.
    pub lock_path: PathBuf,
}

/// The cache memo holding the newest `Date` seen for `suite` signed by the certificate `signer`.
/// Keyed by the signer too: two archives may both call a suite `bookworm`.
fn memo_path(cache: &Cache, signer: &str, suite: &str) -> Result<PathBuf> {
    let key = sha256_hex(format!("lucid-release-date-v1\0{signer}\0{suite}").as_bytes());
    Ok(cache.derived_dir("releases")?.join(key))
}

/// The newest `Date` recorded at `memo`; `None` when there is none. A memo that is not a number
/// is an error, not a silent reset: a reset is exactly what a replay would need.
fn read_memo(memo: &Path) -> Result<Option<i64>> {
    match std::fs::read_to_string(memo) {
        Ok(text) => text.trim().parse::<i64>().map(Some).with_context(|| {
            format!(
                "{}: not a Release date; delete the file to reset it (replays are then checked anew)",
                memo.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", memo.display())),
    }
}

/// Refuses `release` (of the configured `suite`, downloaded from `label`) when it is older than
/// the lock's or the cache's record; otherwise raises the cache's record to its `Date`.
pub fn check(cache: &Cache, floors: &Floors, suite: &str, release: &Release, label: &str) -> Result<()> {
    let what_to_do = "the mirror is stale or replaying an old signed Release, which would hide every update \
                      since; use an up-to-date mirror (LUCID_DEBIAN_MIRROR or debian.mirror)";
    if let Some(&locked) = floors.lock.get(suite)
        && release.date < locked
    {
        bail!(
            "{label}: replayed Release: suite {suite} is dated {}, older than the Release dated {} that {} was made \
             from; {what_to_do}. To go back to an older archive on purpose, remove suite {suite} from `releases` in \
             {} and run `lucid lock`",
            fmt_time(release.date),
            fmt_time(locked),
            floors.lock_path.display(),
            floors.lock_path.display()
        );
    }
    let memo = memo_path(cache, &release.signer, suite)?;
    let seen = read_memo(&memo)?;
    if let Some(seen) = seen
        && release.date < seen
    {
        bail!(
            "{label}: replayed Release: suite {suite} is dated {}, older than the Release dated {} this cache has \
             already seen for it ({}); {what_to_do}. To go back to an older archive on purpose, delete {}",
            fmt_time(release.date),
            fmt_time(seen),
            memo.display(),
            memo.display()
        );
    }
    if seen.is_none_or(|s| release.date > s) {
        write_atomic(&memo, release.date.to_string().as_bytes())?;
    }
    Ok(())
}
