//! Wheel compatibility tags (PEP 425, PEP 600): a wheel's file name, and the tags CPython on a
//! given glibc and architecture accepts, in `packaging.tags` order.
//!
//! Pure rules with no I/O, kept apart from the package index so that `lucid verify --app` can
//! judge wheels against an image with the same rules `lucid build` picks them by.

use anyhow::{Result, bail};

/// The wheel platform spelling (`x86_64`, `aarch64`) of an OCI or Debian architecture.
/// PEP 503 normalization: runs of `-`, `_`, `.` become one `-`, lower case.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

pub fn wheel_machine(arch: &str) -> Result<&'static str> {
    Ok(match arch {
        "amd64" | "x86_64" => "x86_64",
        "arm64" | "aarch64" => "aarch64",
        other => bail!("no wheel platform for the architecture {other:?} (amd64 and arm64 are supported)"),
    })
}

/// The interpreter and platform wheels must fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `(3, 11)`.
    pub python: (u32, u32),
    /// `x86_64` or `aarch64` (wheel platform spelling).
    pub machine: String,
    /// The image's glibc, `(2, 36)` for Debian 12.
    pub glibc: (u32, u32),
}

impl Target {
    /// Debian 12's CPython 3.11 on the Debian architecture `arch` (`amd64`, `arm64`).
    pub fn debian12(arch: &str) -> Result<Target> {
        Target::new((3, 11), arch, (2, 36))
    }

    /// CPython `python` with glibc `glibc` on the Debian architecture `arch`.
    pub fn new(python: (u32, u32), arch: &str, glibc: (u32, u32)) -> Result<Target> {
        Ok(Target { python, machine: wheel_machine(arch)?.into(), glibc })
    }

    /// Supported `(python, abi, platform)` tags, most specific first, as `packaging.tags`
    /// orders them for CPython. `linux_<machine>` comes last: an index may carry such wheels
    /// for a known platform, and the pinned hash already says the user chose it.
    pub fn tags(&self) -> Vec<(String, String, String)> {
        let (major, minor) = self.python;
        let m = &self.machine;
        let mut platforms = Vec::new();
        let floor = if m == "x86_64" || m == "i686" { 5 } else { 17 };
        if self.glibc.0 == 2 {
            for g in (floor..=self.glibc.1).rev() {
                platforms.push(format!("manylinux_2_{g}_{m}"));
                match g {
                    17 => platforms.push(format!("manylinux2014_{m}")),
                    12 if m == "x86_64" || m == "i686" => platforms.push(format!("manylinux2010_{m}")),
                    5 if m == "x86_64" || m == "i686" => platforms.push(format!("manylinux1_{m}")),
                    _ => {}
                }
            }
        }
        platforms.push(format!("linux_{m}"));
        let cp = format!("cp{major}{minor}");
        let mut tags = Vec::new();
        for abi in [cp.clone(), "abi3".into(), "none".into()] {
            for p in &platforms {
                tags.push((cp.clone(), abi.clone(), p.clone()));
            }
        }
        for older in (2..minor).rev() {
            for p in &platforms {
                tags.push((format!("cp{major}{older}"), "abi3".into(), p.clone()));
            }
        }
        let mut py = vec![format!("py{major}{minor}"), format!("py{major}")];
        py.extend((0..minor).rev().map(|o| format!("py{major}{o}")));
        for v in &py {
            for p in &platforms {
                tags.push((v.clone(), "none".into(), p.clone()));
            }
        }
        tags.push((cp, "none".into(), "any".into()));
        for v in &py {
            tags.push((v.clone(), "none".into(), "any".into()));
        }
        tags
    }

    /// The rank of the best tag of `wheel` (lower is more specific), `None` if none fits.
    pub fn rank(&self, wheel: &WheelName) -> Option<usize> {
        let tags = self.tags();
        let mut best = None;
        for py in wheel.python.split('.') {
            for abi in wheel.abi.split('.') {
                for plat in wheel.platform.split('.') {
                    if let Some(i) = tags.iter().position(|(a, b, c)| a == py && b == abi && c == plat) {
                        best = Some(best.map_or(i, |b: usize| b.min(i)));
                    }
                }
            }
        }
        best
    }
}

/// The parts of a wheel file name (`{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelName {
    /// PEP 503 normalized.
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    pub python: String,
    pub abi: String,
    pub platform: String,
}

/// Parses a wheel file name; errors name the file.
pub fn parse_wheel_name(filename: &str) -> Result<WheelName> {
    let Some(stem) = filename.strip_suffix(".whl") else { bail!("{filename:?} is not a wheel (.whl)") };
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, build, py, abi, plat) = match parts.as_slice() {
        [n, v, p, a, pl] => (n, v, None, p, a, pl),
        [n, v, b, p, a, pl] => (n, v, Some(b.to_string()), p, a, pl),
        _ => bail!("{filename:?} is not a valid wheel file name"),
    };
    if [name, version, py, abi, plat].iter().any(|s| s.is_empty()) {
        bail!("{filename:?} is not a valid wheel file name");
    }
    Ok(WheelName {
        name: normalize_name(name),
        version: version.to_string(),
        build,
        python: py.to_string(),
        abi: abi.to_string(),
        platform: plat.to_string(),
    })
}
