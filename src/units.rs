//! Sizes as people write them in budgets (`100MB`, `1.5 GiB`) and as tables print them.
//!
//! A foundation module (it imports nothing of the crate): the spec parses budgets with it and
//! the renderers in `report` print sizes with it, without either depending on the other.

use anyhow::{Result, bail};

/// Parses `100MB`, `95 MiB`, `1.5GB`, `2048` (bytes). Decimal units are powers of 1000 (as
/// `docker images` prints them); binary units (`KiB`, `MiB`, `GiB`) powers of 1024.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 =
        num.parse().map_err(|_| anyhow::anyhow!("bad size {s:?}: expected a number and a unit such as 100MB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        u => bail!("bad size {s:?}: unknown unit {u:?} (use B, KB, MB, GB, KiB, MiB or GiB)"),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || !(0.0..=1e15).contains(&bytes) {
        bail!("bad size {s:?}: out of range");
    }
    Ok(bytes.round() as u64)
}

/// `docker images` style: decimal units, three significant digits (`45.2MB`).
pub fn format_size(bytes: u64) -> String {
    let b = bytes as f64;
    let (v, unit) = if b >= 1e9 {
        (b / 1e9, "GB")
    } else if b >= 1e6 {
        (b / 1e6, "MB")
    } else if b >= 1e3 {
        (b / 1e3, "kB")
    } else {
        return format!("{bytes}B");
    };
    if v >= 100.0 {
        format!("{v:.0}{unit}")
    } else if v >= 10.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.2}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 1_610_612_736);
        assert_eq!(parse_size("2048").unwrap(), 2048);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(format_size(45_234_000), "45.2MB");
        assert_eq!(format_size(150_000_000), "150MB");
        assert_eq!(format_size(999), "999B");
    }
}
