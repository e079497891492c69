//! Where packages come from: `LUCID_DEBIAN_MIRROR`, the spec, or the host's apt sources.
//!
//! No archive host is ever written into lucid itself: a build names its mirror, or borrows the
//! host's, or fails with a message saying how to name one.

use std::path::Path;

use anyhow::{Result, bail};

use super::control;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Archive base URL (the directory holding `dists/` and `pool/`), without a trailing slash.
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
}

/// An apt source as read from the host: one URI, its suites and components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
}

/// Precedence: env `LUCID_DEBIAN_MIRROR` (base URL of the main archive; for suites ending in
/// `-security`, env `LUCID_DEBIAN_SECURITY_MIRROR`, else the host's apt source for that suite,
/// else `<mirror>-security` by the standard layout), then `spec_mirror` (same rules), then the
/// host's apt sources (`/etc/apt/sources.list`, `/etc/apt/sources.list.d/*.list` and
/// `*.sources`). Components are always `["main"]`: the images are built from main only.
pub fn discover(suites: &[String], spec_mirror: Option<&str>) -> Result<Vec<Source>> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    discover_with(suites, spec_mirror, &env, Path::new("/etc/apt"))
}

/// [`discover`] with the environment and the apt directory passed in, for tests.
pub fn discover_with(
    suites: &[String],
    spec_mirror: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    apt_dir: &Path,
) -> Result<Vec<Source>> {
    let host = read_apt_sources(apt_dir);
    // A suite the host does not list (trixie on a bookworm host) is served by the same archive
    // as the host's other suites of its kind: the main archive, or the security archive.
    // Only a Debian archive (its URI ending in /debian, or /debian-security for the security
    // suites) is taken this way: a third-party repository of the host serves none of them.
    let host_uri = |suite: &str| {
        let security = |s: &str| s.ends_with("-security") || s.ends_with("/updates");
        let archive = if security(suite) { "/debian-security" } else { "/debian" };
        host.iter()
            .find(|s| s.suites.iter().any(|x| x == suite))
            .or_else(|| {
                host.iter().find(|s| {
                    s.uri.trim_end_matches('/').ends_with(archive)
                        && s.suites.iter().any(|x| security(x) == security(suite))
                })
            })
            .map(|s| s.uri.clone())
    };
    let mirror = env("LUCID_DEBIAN_MIRROR").or_else(|| spec_mirror.map(str::to_string));
    let mut out = Vec::new();
    for suite in suites {
        let uri = match &mirror {
            Some(m) if suite.ends_with("-security") => env("LUCID_DEBIAN_SECURITY_MIRROR")
                .or_else(|| host_uri(suite))
                .unwrap_or_else(|| format!("{}-security", m.trim_end_matches('/'))),
            Some(m) => m.clone(),
            None => match host_uri(suite) {
                Some(u) => u,
                None => bail!(
                    "no Debian mirror for suite {suite:?}: set LUCID_DEBIAN_MIRROR to the base URL of a Debian archive \
                     (the directory holding dists/ and pool/), set debian.mirror in the spec, or add the suite to the \
                     host's apt sources ({})",
                    apt_dir.join("sources.list.d").display()
                ),
            },
        };
        crate::fetch::http::check_scheme(&uri)?;
        out.push(Source {
            uri: uri.trim_end_matches('/').to_string(),
            suite: suite.clone(),
            components: vec!["main".to_string()],
        });
    }
    Ok(out)
}

/// Every `deb` (binary) source of the host over http(s), in apt's reading order:
/// `sources.list`, then `sources.list.d/` sorted by name. Unreadable or malformed files are
/// skipped: they are the host's business, and a suite found nowhere is reported anyway.
pub fn read_apt_sources(apt_dir: &Path) -> Vec<AptSource> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(apt_dir.join("sources.list")) {
        out.extend(parse_one_line(&text));
    }
    let mut files: Vec<_> = std::fs::read_dir(apt_dir.join("sources.list.d"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        if name.ends_with(".list") {
            out.extend(parse_one_line(&text));
        } else if name.ends_with(".sources") {
            out.extend(parse_deb822(&text));
        }
    }
    out
}

/// The one-line format: `deb [options] uri suite [component...]`.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let Some(rest) = line.strip_prefix("deb ").or_else(|| line.strip_prefix("deb\t")) else { continue };
        let mut rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('[') {
            let Some((_, after)) = r.split_once(']') else { continue };
            rest = after;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let [uri, suite, ref comps @ ..] = words[..]
            && (uri.starts_with("http://") || uri.starts_with("https://"))
        {
            out.push(AptSource {
                uri: uri.trim_end_matches('/').to_string(),
                suites: vec![suite.to_string()],
                components: comps.iter().map(|c| c.to_string()).collect(),
            });
        }
    }
    out
}

/// The deb822 format of `*.sources`: `Types`, `URIs`, `Suites`, `Components`, `Enabled`.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let Ok(paragraphs) = control::parse(text) else { return Vec::new() };
    let mut out = Vec::new();
    for p in paragraphs {
        let words = |f: &str| p.get(f).unwrap_or_default().split_whitespace().map(str::to_string).collect::<Vec<_>>();
        if !words("Types").iter().any(|t| t == "deb") || p.get("Enabled").is_some_and(|e| e.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        for uri in words("URIs") {
            if uri.starts_with("http://") || uri.starts_with("https://") {
                out.push(AptSource {
                    uri: uri.trim_end_matches('/').to_string(),
                    suites: words("Suites"),
                    components: words("Components"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suites(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn apt_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("sources.list.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("debian.sources"),
            "Types: deb\n# comment\nURIs: http://main.example/debian/\nSuites: bookworm bookworm-updates\n\
             Components: main\nSigned-By: /k.gpg\n\nTypes: deb deb-src\nURIs: http://sec.example/debian-security\n\
             Suites: bookworm-security\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/d\n\
             Suites: trixie\n",
        )
        .unwrap();
        std::fs::write(d.join("other.list"), "# x\ndeb [arch=amd64 signed-by=/x] http://list.example/d sid main\n")
            .unwrap();
        std::fs::write(d.join("ignored.list.disabled"), "deb http://bad.example/d experimental main\n").unwrap();
        dir
    }

    #[test]
    fn host_sources_deb822_and_one_line() {
        let dir = apt_dir();
        let none = |_: &str| None;
        let s = discover_with(&suites(&["bookworm", "bookworm-security", "sid"]), None, &none, dir.path()).unwrap();
        assert_eq!(s[0].uri, "http://main.example/debian");
        assert_eq!(s[1].uri, "http://sec.example/debian-security");
        assert_eq!(s[2].uri, "http://list.example/d");
        assert_eq!(s[0].components, ["main"]);
        // A release the host does not list comes from the archive serving its other suites.
        let s = discover_with(&suites(&["trixie", "trixie-security"]), None, &none, dir.path()).unwrap();
        assert_eq!(
            (s[0].uri.as_str(), s[1].uri.as_str()),
            ("http://main.example/debian", "http://sec.example/debian-security")
        );
        let empty = tempfile::tempdir().unwrap();
        let e = discover_with(&suites(&["trixie"]), None, &none, empty.path()).unwrap_err().to_string();
        assert!(e.contains("LUCID_DEBIAN_MIRROR") && e.contains("trixie"), "{e}");
    }

    #[test]
    fn env_then_spec_then_host() {
        let dir = apt_dir();
        let env = |k: &str| (k == "LUCID_DEBIAN_MIRROR").then(|| "http://env.example/debian/".to_string());
        let s =
            discover_with(&suites(&["bookworm", "bookworm-security"]), Some("http://spec.example/x"), &env, dir.path())
                .unwrap();
        assert_eq!(s[0].uri, "http://env.example/debian");
        // The security suite comes from the host's apt source for it.
        assert_eq!(s[1].uri, "http://sec.example/debian-security");
        let empty = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let s = discover_with(
            &suites(&["bookworm", "bookworm-security"]),
            Some("http://spec.example/x"),
            &none,
            empty.path(),
        )
        .unwrap();
        assert_eq!(s[0].uri, "http://spec.example/x");
        assert_eq!(s[1].uri, "http://spec.example/x-security");
        let env2 = |k: &str| match k {
            "LUCID_DEBIAN_MIRROR" => Some("http://env.example/debian".to_string()),
            "LUCID_DEBIAN_SECURITY_MIRROR" => Some("http://envsec.example/s".to_string()),
            _ => None,
        };
        let s = discover_with(&suites(&["bookworm-security"]), None, &env2, dir.path()).unwrap();
        assert_eq!(s[0].uri, "http://envsec.example/s");
        assert!(discover_with(&suites(&["x"]), Some("ftp://h/x"), &none, empty.path()).is_err());
    }
}
