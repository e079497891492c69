//! The manylinux policy's system libraries (PEP 600; auditwheel's `lib_whitelist`, the same list
//! from manylinux_2_17 to manylinux_2_39 but for `libmvec.so.1`, added in manylinux_2_24): what
//! every manylinux wheel may link without bundling it. A Python image that lacks one of them
//! breaks wheels at import time, whatever the application: LUCID-APP-001 checks them on every
//! image with a Python interpreter, no `--app` needed.
//!
//! Also the Debian package that ships a library, so a finding can say what to add.

use crate::findings::{Finding, Status};
use crate::verify::checks::finding;

use super::host::{Host, Lookup};

/// One library: its soname, the Debian 12 package that ships it, the Debian 13 name where the
/// 64-bit time_t transition renamed it, and whether a headless service image may leave it out
/// (and why).
struct Lib {
    soname: &'static str,
    package: &'static str,
    trixie: Option<&'static str>,
    optional: Option<&'static str>,
}

const fn lib(soname: &'static str, package: &'static str) -> Lib {
    Lib { soname, package, trixie: None, optional: None }
}

const fn optional(soname: &'static str, package: &'static str, why: &'static str) -> Lib {
    Lib { soname, package, trixie: None, optional: Some(why) }
}

/// A library Debian 13 ships under a renamed (`t64`) package.
const fn t64(soname: &'static str, package: &'static str, trixie: &'static str, optional: Option<&'static str>) -> Lib {
    Lib { soname, package, trixie: Some(trixie), optional }
}

const GUI: &str = "desktop (X11, OpenGL, GLib): a headless service does not load it";

/// The policy's libraries, in the order findings list them.
const POLICY: &[Lib] = &[
    lib("libc.so.6", "libc6"),
    lib("libm.so.6", "libc6"),
    lib("libdl.so.2", "libc6"),
    lib("libpthread.so.0", "libc6"),
    lib("librt.so.1", "libc6"),
    lib("libutil.so.1", "libc6"),
    lib("libresolv.so.2", "libc6"),
    lib("libanl.so.1", "libc6"),
    // Still in libc6 in Debian 12 (glibc 2.36) and 13 (2.41), though deprecated upstream.
    lib("libnsl.so.1", "libc6"),
    lib("libgcc_s.so.1", "libgcc-s1"),
    lib("libstdc++.so.6", "libstdc++6"),
    lib("libz.so.1", "zlib1g"),
    lib("libexpat.so.1", "libexpat1"),
    optional(
        "libmvec.so.1",
        "libc6",
        "glibc's vector math (policy since manylinux_2_24): few wheels link it, and --app fails one that does",
    ),
    optional("libatomic.so.1", "libatomic1", "few wheels link it (wide atomics), and --app fails one that does"),
    optional("libX11.so.6", "libx11-6", GUI),
    optional("libXext.so.6", "libxext6", GUI),
    optional("libXrender.so.1", "libxrender1", GUI),
    optional("libICE.so.6", "libice6", GUI),
    optional("libSM.so.6", "libsm6", GUI),
    optional("libGL.so.1", "libgl1", GUI),
    t64("libglib-2.0.so.0", "libglib2.0-0", "libglib2.0-0t64", Some(GUI)),
    t64("libgobject-2.0.so.0", "libglib2.0-0", "libglib2.0-0t64", Some(GUI)),
    t64("libgthread-2.0.so.0", "libglib2.0-0", "libglib2.0-0t64", Some(GUI)),
];

/// Libraries beyond the policy that wheels often expect or bundle under another name.
const OTHERS: &[Lib] = &[
    lib("ld-linux-x86-64.so.2", "libc6"),
    lib("ld-linux-aarch64.so.1", "libc6"),
    lib("libcrypt.so.1", "libcrypt1"),
    lib("libgfortran.so.5", "libgfortran5"),
    lib("libgomp.so.1", "libgomp1"),
    lib("libquadmath.so.0", "libquadmath0"),
    lib("libffi.so.8", "libffi8"),
    t64("libssl.so.3", "libssl3", "libssl3t64", None),
    t64("libcrypto.so.3", "libssl3", "libssl3t64", None),
    lib("libsqlite3.so.0", "libsqlite3-0"),
    lib("libbz2.so.1.0", "libbz2-1.0"),
    lib("liblzma.so.5", "liblzma5"),
    lib("libzstd.so.1", "libzstd1"),
    lib("libuuid.so.1", "libuuid1"),
    lib("libnsl.so.2", "libnsl2"),
    t64("libtirpc.so.3", "libtirpc3", "libtirpc3t64", None),
    t64("libpng16.so.16", "libpng16-16", "libpng16-16t64", None),
    lib("libjpeg.so.62", "libjpeg62-turbo"),
    lib("libxml2.so.2", "libxml2"),
    lib("libxslt.so.1", "libxslt1.1"),
    lib("libpq.so.5", "libpq5"),
    lib("libpython3.11.so.1.0", "libpython3.11"),
    lib("libpython3.13.so.1.0", "libpython3.13"),
];

/// The Debian package that ships `soname` on `codename` (`bookworm`, `trixie`), when known.
pub fn package_for(soname: &str, codename: Option<&str>) -> Option<&'static str> {
    let l = POLICY.iter().chain(OTHERS).find(|l| l.soname == soname)?;
    Some(match (codename, l.trixie) {
        (Some("trixie"), Some(t)) => t,
        _ => l.package,
    })
}

/// The fix for a library `soname` the image lacks.
pub fn add_package(host: &Host, soname: &str) -> String {
    match package_for(soname, host.codename().as_deref()) {
        Some(p) => format!("add {p} (it ships {soname}) to {}", host.packages_key()),
        None => format!(
            "add the package that ships {soname} to {}, or bundle it into the wheel (auditwheel repair)",
            host.packages_key()
        ),
    }
}

/// LUCID-APP-001 on `host`: skipped without a Python interpreter, failed (one finding per
/// missing library, with its package) when a required policy library is missing.
pub fn check(host: &Host) -> Vec<Finding> {
    let id = "LUCID-APP-001";
    let Some((major, minor)) = host.python() else {
        return vec![finding(id, &host.name, Status::Skip, "no Python interpreter (python3.N) in the image")];
    };
    let mut missing = Vec::new();
    let mut left_out = Vec::new();
    for l in POLICY {
        match host.find(l.soname) {
            Lookup::Found { .. } => {}
            _ if l.optional.is_some() => left_out.push(l.soname),
            Lookup::Uncached { path } => missing.push((l, format!(
                "{} is at /{path}, in a directory only /etc/ld.so.cache makes the loader search, and the image has no cache",
                l.soname
            ))),
            Lookup::Missing => missing.push((l, format!("{} is not on the loader's path ({})", l.soname, host.search_path_shown()))),
        }
    }
    if missing.is_empty() {
        let required = POLICY.iter().filter(|l| l.optional.is_none()).count();
        let note = if left_out.is_empty() {
            String::new()
        } else {
            format!("; left out, as a headless image may: {}", left_out.join(", "))
        };
        return vec![finding(
            id,
            &host.name,
            Status::Pass,
            format!("Python {major}.{minor}: all {required} required libraries of the manylinux policy present{note}"),
        )];
    }
    missing
        .into_iter()
        .map(|(l, why)| {
            let mut f = finding(
                id,
                &host.name,
                Status::Fail,
                format!("Python {major}.{minor}: {why}: manylinux wheels may link it unbundled"),
            );
            f.remediation = add_package(host, l.soname);
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_by_release() {
        assert_eq!(package_for("libstdc++.so.6", Some("bookworm")), Some("libstdc++6"));
        assert_eq!(package_for("libgcc_s.so.1", None), Some("libgcc-s1"));
        assert_eq!(package_for("libz.so.1", None), Some("zlib1g"));
        assert_eq!(package_for("libglib-2.0.so.0", Some("trixie")), Some("libglib2.0-0t64"));
        assert_eq!(package_for("libglib-2.0.so.0", Some("bookworm")), Some("libglib2.0-0"));
        assert_eq!(package_for("libnope.so.9", None), None);
        let mut seen = std::collections::BTreeSet::new();
        assert!(POLICY.iter().chain(OTHERS).all(|l| seen.insert(l.soname)), "a soname twice in the tables");
    }
}
