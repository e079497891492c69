//! dpkg version ordering: `[epoch:]upstream[-revision]`, compared as dpkg's `verrevcmp` does.
//!
//! Implemented here rather than through the `debversion` crate so that it is small, total (no
//! panics on any input) and checked against dpkg's own rules in the tests below: `~` sorts
//! before everything (even the end of the string), letters before non-letters, and digit runs
//! compare numerically so `1.0` equals `1.00`.

use std::cmp::Ordering;
use std::fmt;

use anyhow::{Result, bail};

#[derive(Clone, Debug)]
pub struct Version {
    pub epoch: u64,
    pub upstream: String,
    pub revision: String,
}

impl Version {
    /// Parses a version as dpkg does: the epoch is what precedes the first `:`, the revision
    /// what follows the last `-`.
    pub fn parse(s: &str) -> Result<Version> {
        let s = s.trim();
        if s.is_empty() {
            bail!("empty version");
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            bail!("version {s:?} contains {c:?}");
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                let Ok(n) = e.parse::<u64>() else { bail!("version {s:?}: epoch {e:?} is not a number") };
                (n, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            bail!("version {s:?} has an empty upstream part");
        }
        if let Some(c) =
            upstream.chars().chain(revision.chars()).find(|c| !(c.is_ascii_alphanumeric() || ".+~-:".contains(*c)))
        {
            bail!("version {s:?} contains the invalid character {c:?}");
        }
        Ok(Version { epoch, upstream: upstream.to_string(), revision: revision.to_string() })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch > 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Compares two version strings. Unparsable versions sort below parsable ones and among
/// themselves by bytes, so ordering stays total and deterministic on hostile input.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// dpkg's character weight: `~` below the end of the string, which is below letters, which
/// are below every other character.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit runs (compared by [`weight`]) and digit runs
/// (compared numerically, leading zeros ignored, without overflow).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_rules() {
        // Cases from dpkg's own test suite (lib/dpkg/t/t-version.c) and Debian Policy 5.6.12.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.00", Equal),
            ("1.0-0", "1.0", Equal),
            ("0:1.0", "1.0", Equal),
            ("1:1.0", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0-1", "1.0-2", Less),
            ("1.0-10", "1.0-9", Greater),
            ("2.36-9+deb12u10", "2.36-9+deb12u9", Greater),
            ("3.11.2-6+deb12u6", "3.11.2-6", Greater),
            ("1:0.1", "0:9.9", Greater),
            ("1.2.3", "1.2.10", Less),
            ("a", "b", Less),
            ("1.0-a", "1.0-~", Greater),
            ("0001", "1", Equal),
            ("99999999999999999999999", "99999999999999999999998", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn parse_parts_and_errors() {
        let v = Version::parse("2:1.2-3-4").unwrap();
        assert_eq!((v.epoch, v.upstream.as_str(), v.revision.as_str()), (2, "1.2-3", "4"));
        assert_eq!(v.to_string(), "2:1.2-3-4");
        assert!(Version::parse("").is_err());
        assert!(Version::parse("x:1").is_err());
        assert!(Version::parse("1 2").is_err());
        assert!(Version::parse("-1").is_err());
        assert!(Version::parse("1.0_1").is_err());
        assert_eq!(compare("junk!", "1"), Less);
    }
}
