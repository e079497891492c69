//! Who owns which file: Debian packages (distroless `status.d`, or a full dpkg database), wheels
//! (`*.dist-info/RECORD`) and a Java runtime (`release`), read from the image itself; licences
//! from Debian copyright files and wheel metadata.
//!
//! Debian's own status paragraphs do not list files. An image says which files a package owns
//! with `var/lib/dpkg/status.d/<pkg>.md5sums` (Debian's md5sums format, what distroless writes and
//! syft reads) or `<pkg>.list` (one path per line), or `var/lib/dpkg/info/<pkg>.list` in a full
//! dpkg database. For images without either, [`lists_from_lock`] takes the lists from the `.deb`
//! files a lucid lock names, out of the verified download cache.

use std::collections::{BTreeMap, BTreeSet};

use crate::debian::control;

pub use crate::findings::figures::{ListSource, Owner, OwnerKind};

/// Whether `path` is metadata this module reads (the collector keeps the content of these).
pub fn wanted(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("var/lib/dpkg/") {
        return rest == "status"
            || (rest.starts_with("status.d/") && !rest[9..].contains('/'))
            || (rest.starts_with("info/") && rest.ends_with(".list"));
    }
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        return rest.split('/').count() == 2 && rest.ends_with("/copyright");
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    let parent = path.rsplit('/').nth(1).unwrap_or("");
    (parent.ends_with(".dist-info") && matches!(base, "METADATA" | "RECORD" | "entry_points.txt"))
        || super::java_modules::is_release_path(path)
}

/// Reads every owner declared by the metadata files in `meta` (path -> content).
pub fn read_owners(meta: &BTreeMap<String, Vec<u8>>) -> Vec<Owner> {
    let text = |p: &str| meta.get(p).map(|b| String::from_utf8_lossy(b).into_owned());
    let mut owners = Vec::new();
    // Debian: distroless status.d (one paragraph per file) and/or dpkg's status database.
    for (path, data) in meta.range("var/lib/dpkg/".to_string()..).take_while(|(k, _)| k.starts_with("var/lib/dpkg/")) {
        let Some(name) = path.strip_prefix("var/lib/dpkg/status.d/").or((path == "var/lib/dpkg/status").then_some(""))
        else {
            continue;
        };
        if name.ends_with(".md5sums") || name.ends_with(".list") {
            continue;
        }
        let Ok(paras) = control::parse(&String::from_utf8_lossy(data)) else { continue };
        for p in paras {
            let (Some(pkg), Some(version)) = (p.get("Package"), p.get("Version")) else { continue };
            // A dpkg database also remembers removed packages.
            if p.get("Status").is_some_and(|s| !s.ends_with(" installed")) {
                continue;
            }
            let arch = p.get("Architecture").unwrap_or("").to_string();
            let lists = [
                format!("var/lib/dpkg/status.d/{pkg}.md5sums"),
                format!("var/lib/dpkg/status.d/{pkg}.list"),
                format!("var/lib/dpkg/info/{pkg}.list"),
                format!("var/lib/dpkg/info/{pkg}:{arch}.list"),
            ];
            let files = lists.iter().find_map(|l| text(l)).map(|t| parse_file_list(&t)).unwrap_or_default();
            let copyright = format!("usr/share/doc/{pkg}/copyright");
            let licenses = text(&copyright).map(|t| debian_licenses(&t)).unwrap_or_default();
            owners.push(Owner {
                kind: OwnerKind::Deb,
                name: pkg.to_string(),
                version: version.to_string(),
                arch,
                source: p.get("Source").map(|s| s.split_whitespace().next().unwrap_or(s).to_string()),
                license_file: meta.contains_key(&copyright).then_some(copyright),
                licenses,
                homepage: p.get("Homepage").map(str::to_string),
                declared_in: path.clone(),
                files,
            });
        }
    }
    // Wheels: METADATA names it, RECORD lists its files relative to the directory holding the
    // .dist-info.
    for (path, data) in meta.iter().filter(|(k, _)| k.ends_with(".dist-info/METADATA")) {
        let dist_info = path.trim_end_matches("/METADATA");
        let site = dist_info.rsplit_once('/').map_or("", |(d, _)| d);
        let m = wheel_metadata(&String::from_utf8_lossy(data));
        let Some(name) = m.get("Name").and_then(|v| v.first()) else { continue };
        let record = text(&format!("{dist_info}/RECORD")).unwrap_or_default();
        let mut files: Vec<String> = record
            .lines()
            .filter_map(record_path)
            .filter_map(|p| crate::rootfs::tree::normalize(&format!("{site}/{p}")).ok())
            .collect();
        // Console scripts are written by the installer; pip lists them in RECORD, not every
        // installer does. They live in the `bin` beside the `lib` that holds site-packages.
        if let (Some(eps), Some((prefix, _))) =
            (text(&format!("{dist_info}/entry_points.txt")), site.split_once("/lib/"))
        {
            files.extend(console_scripts(&eps).into_iter().map(|n| format!("{prefix}/bin/{n}")));
        }
        let mut licenses: Vec<String> = m.get("License-Expression").cloned().unwrap_or_default();
        if licenses.is_empty() {
            licenses.extend(
                m.get("Classifier")
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.strip_prefix("License :: OSI Approved :: ").map(str::to_string)),
            );
        }
        if licenses.is_empty() {
            licenses.extend(m.get("License").and_then(|v| v.first()).filter(|l| l.len() < 80).cloned());
        }
        owners.push(Owner {
            kind: OwnerKind::Wheel,
            name: name.clone(),
            version: m.get("Version").and_then(|v| v.first()).cloned().unwrap_or_default(),
            arch: String::new(),
            source: None,
            licenses,
            license_file: None,
            homepage: m.get("Home-page").and_then(|v| v.first()).cloned(),
            declared_in: path.clone(),
            files,
        });
    }
    // A Java runtime (jlink image or JDK): its `release` file.
    for (path, data) in meta.iter().filter(|(k, _)| k.ends_with("/release") || *k == "release") {
        let t = String::from_utf8_lossy(data);
        let field = |k: &str| {
            t.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=')).map(|v| v.trim_matches('"').to_string())
        };
        let Some(version) = field("JAVA_VERSION") else { continue };
        let home = path.trim_end_matches("release").trim_end_matches('/');
        owners.push(Owner {
            kind: OwnerKind::Java,
            name: field("IMPLEMENTOR").map_or_else(|| "java-runtime".into(), |i| format!("{i} Java runtime")),
            version: field("JAVA_RUNTIME_VERSION").unwrap_or(version),
            arch: field("OS_ARCH").unwrap_or_default(),
            source: field("MODULES"),
            licenses: vec!["GPL-2.0-only WITH Classpath-exception-2.0".into()],
            license_file: None,
            homepage: None,
            declared_in: path.clone(),
            files: vec![format!("{home}/")],
        });
    }
    owners
}

/// Paths of a file list: md5sums (`<md5>  <path>`) or one path per line, either with or
/// without a leading `/`.
pub fn parse_file_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_end();
            let path = match l.split_once("  ") {
                Some((hash, p)) if hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => p,
                _ => l,
            };
            crate::rootfs::tree::normalize(path).ok()
        })
        .collect()
}

/// The path of a RECORD line (CSV: `path,hash,size`; the path is quoted when it holds a comma).
fn record_path(line: &str) -> Option<String> {
    let line = line.trim_end();
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        return None;
    }
    let (p, _) = line.split_once(',')?;
    (!p.is_empty()).then(|| p.to_string())
}

/// Script names of the `[console_scripts]` and `[gui_scripts]` sections of `entry_points.txt`.
fn console_scripts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut on = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            on = line == "[console_scripts]" || line == "[gui_scripts]";
        } else if on && let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && !name.contains('/') && name != ".." {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Core metadata headers (RFC 822 style, repeated keys kept in order), up to the body.
fn wheel_metadata(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && !line.starts_with([' ', '\t'])
        {
            out.entry(k.trim().to_string()).or_default().push(v.trim().to_string());
        }
    }
    out
}

/// The distinct licence short names of a machine-readable (DEP-5) copyright file, in the order
/// they first appear; empty for free-form files, whose licences cannot be read reliably.
pub fn debian_licenses(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    if !text.starts_with("Format:") && !text.starts_with("Format-Specification:") {
        return out;
    }
    for line in text.lines() {
        let Some(v) = line.strip_prefix("License:") else { continue };
        let v = v.trim();
        if !v.is_empty() && seen.insert(v.to_string()) {
            out.push(v.to_string());
        }
    }
    out
}

/// The SPDX identifier for a Debian or PyPI licence name, when there is an exact equivalent.
pub fn spdx_id(name: &str) -> Option<&'static str> {
    let n = name.trim().trim_end_matches(" License").trim_end_matches(" license");
    Some(match n.to_ascii_lowercase().as_str() {
        "gpl-2" | "gpl-2.0" | "gpl-2.0-only" => "GPL-2.0-only",
        "gpl-2+" | "gpl-2.0+" | "gpl-2.0-or-later" => "GPL-2.0-or-later",
        "gpl-3" | "gpl-3.0" | "gpl-3.0-only" => "GPL-3.0-only",
        "gpl-3+" | "gpl-3.0+" | "gpl-3.0-or-later" => "GPL-3.0-or-later",
        "lgpl-2" | "lgpl-2.0" => "LGPL-2.0-only",
        "lgpl-2+" | "lgpl-2.0+" => "LGPL-2.0-or-later",
        "lgpl-2.1" | "lgpl-2.1-only" => "LGPL-2.1-only",
        "lgpl-2.1+" | "lgpl-2.1-or-later" => "LGPL-2.1-or-later",
        "lgpl-3" | "lgpl-3.0" => "LGPL-3.0-only",
        "lgpl-3+" | "lgpl-3.0+" => "LGPL-3.0-or-later",
        "mit" | "expat" => "MIT",
        "bsd-2-clause" | "bsd 2-clause" => "BSD-2-Clause",
        "bsd-3-clause" | "bsd 3-clause" => "BSD-3-Clause",
        "bsd-4-clause" => "BSD-4-Clause",
        "isc" => "ISC",
        "zlib" => "Zlib",
        "apache-2.0" | "apache-2" | "apache software" | "apache 2.0" => "Apache-2.0",
        "mpl-1.1" => "MPL-1.1",
        "mpl-2.0" | "mozilla public license 2.0 (mpl 2.0)" => "MPL-2.0",
        "psf-2.0" | "python software foundation" | "psf" | "python" => "PSF-2.0",
        "public-domain" | "public domain" => return None,
        "openssl" => "OpenSSL",
        "curl" => "curl",
        "x11" => "X11",
        "unicode-dfs-2016" => "Unicode-DFS-2016",
        "cc0-1.0" | "cc0" => "CC0-1.0",
        "artistic" | "artistic-1.0" => "Artistic-1.0",
        "0bsd" => "0BSD",
        "gfdl-1.3" => "GFDL-1.3-only",
        "gfdl-1.3+" => "GFDL-1.3-or-later",
        "sleepycat" => "Sleepycat",
        "ibm-pibs" => "IBM-pibs",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_debian_and_wheel_metadata() {
        let mut meta = BTreeMap::new();
        meta.insert(
            "var/lib/dpkg/status.d/libfoo1".to_string(),
            b"Package: libfoo1\nVersion: 1.2-3\nArchitecture: amd64\nSource: foo (1.2-3)\n".to_vec(),
        );
        meta.insert(
            "var/lib/dpkg/status.d/libfoo1.md5sums".to_string(),
            b"0123456789abcdef0123456789abcdef  usr/lib/libfoo.so.1\n".to_vec(),
        );
        meta.insert(
            "usr/share/doc/libfoo1/copyright".to_string(),
            b"Format: https://x/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: a\nLicense: Expat\n\nLicense: GPL-2+\n"
                .to_vec(),
        );
        meta.insert(
            "usr/local/lib/python3.11/site-packages/idna-3.7.dist-info/METADATA".to_string(),
            b"Metadata-Version: 2.1\nName: idna\nVersion: 3.7\nClassifier: License :: OSI Approved :: BSD License\n\nbody: x\n".to_vec(),
        );
        meta.insert(
            "usr/local/lib/python3.11/site-packages/idna-3.7.dist-info/RECORD".to_string(),
            b"idna/__init__.py,sha256=x,849\n\"idna/a,b.py\",sha256=y,1\nidna-3.7.dist-info/RECORD,,\n".to_vec(),
        );
        meta.insert(
            "usr/local/lib/python3.11/site-packages/idna-3.7.dist-info/entry_points.txt".to_string(),
            b"[console_scripts]\nidna-cli = idna.cli:main\n\n[other]\nx = y\n".to_vec(),
        );
        let owners = read_owners(&meta);
        assert_eq!(owners.len(), 2);
        let deb = &owners[0];
        assert_eq!((deb.name.as_str(), deb.version.as_str(), deb.source.as_deref()), ("libfoo1", "1.2-3", Some("foo")));
        assert_eq!(deb.files, ["usr/lib/libfoo.so.1"]);
        assert_eq!(deb.licenses, ["GPL-2+", "Expat"]);
        let whl = &owners[1];
        assert_eq!(whl.name, "idna");
        assert_eq!(whl.licenses, ["BSD License"]);
        assert!(whl.files.contains(&"usr/local/lib/python3.11/site-packages/idna/a,b.py".to_string()));
        assert!(whl.files.contains(&"usr/local/bin/idna-cli".to_string()), "{:?}", whl.files);
        assert!(!whl.files.contains(&"usr/local/bin/x".to_string()));
        assert_eq!(spdx_id("GPL-2+"), Some("GPL-2.0-or-later"));
        assert_eq!(spdx_id("BSD License"), None, "ambiguous: which BSD?");
        assert!(wanted("var/lib/dpkg/status.d/libfoo1") && !wanted("var/lib/dpkg/status.d/x/y"));
        assert!(wanted("usr/share/doc/libc6/copyright") && !wanted("usr/share/doc/libc6/x/copyright"));
    }
}
