//! The package index: where it is, what files a project has, and which wheel fits the image.
//!
//! The index is never named in code: it comes from the environment or from the host's own pip, so
//! a mirror or a private index is used exactly as pip on this host would use it. Only files whose
//! SHA-256 the requirements file lists are considered, so the index can offer nothing we did not
//! pin; among those, the wheel whose tag is most specific for CPython 3.11 on Debian 12 wins, in
//! the order `packaging.tags.sys_tags()` gives.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::requirements::Requirement;
use crate::fetch::{Fetcher, Http, Want};
pub use crate::formats::wheel::{Target, WheelName, parse_wheel_name};

/// The PEP 503 "simple" root of the package index.
///
/// Precedence: `LUCID_INDEX_URL`, `PIP_INDEX_URL`, the host's `pip config get global.index-url`,
/// then pip's own built-in default as the host's pip reports it. Asking pip keeps lucid from
/// carrying an index host of its own and makes it follow the host's configuration.
pub fn index_url() -> Result<String> {
    for var in ["LUCID_INDEX_URL", "PIP_INDEX_URL"] {
        if let Ok(v) = std::env::var(var) {
            let v = v.trim();
            if !v.is_empty() {
                crate::fetch::http::check_scheme(v).with_context(|| format!("{var} is not a usable index URL"))?;
                return Ok(v.trim_end_matches('/').to_string());
            }
        }
    }
    let pip_config: [&[&str]; 3] = [
        &["pip3", "config", "get", "global.index-url"],
        &["pip", "config", "get", "global.index-url"],
        &["python3", "-m", "pip", "config", "get", "global.index-url"],
    ];
    for argv in pip_config {
        if let Some(url) = run_for_url(argv) {
            return Ok(url);
        }
    }
    let builtin: [&[&str]; 1] =
        [&["python3", "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"]];
    for argv in builtin {
        if let Some(url) = run_for_url(argv) {
            return Ok(url);
        }
    }
    bail!(
        "no Python package index configured: set LUCID_INDEX_URL to the index's simple root \
         (or PIP_INDEX_URL, or configure pip's global.index-url)"
    )
}

/// Runs `argv` and returns its output if it is one http(s) URL.
fn run_for_url(argv: &[&str]) -> Option<String> {
    let out = Command::new(argv[0]).args(&argv[1..]).stdin(std::process::Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let url = text.trim();
    (!url.contains(char::is_whitespace) && crate::fetch::http::check_scheme(url).is_ok())
        .then(|| url.trim_end_matches('/').to_string())
}

/// A wheel chosen for a requirement: what to fetch and what it must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelPin {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub url: String,
    pub sha256: String,
}

/// One file of a project as the index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    /// Absolute URL (resolved against the project page).
    pub url: String,
    pub sha256: Option<String>,
}

/// For each requirement, the most specific wheel for `target` among the files whose SHA-256 it
/// pins. Errors name the package: no wheel at all (sdists are never built), or pinned wheels
/// that do not fit the target.
pub fn pick_wheels(http: &Http, index: &str, reqs: &[Requirement], target: &Target) -> Result<Vec<WheelPin>> {
    let mut out = Vec::with_capacity(reqs.len());
    for req in reqs {
        let files = list_files(http, index, &req.name)?;
        out.push(pick(req, &files, target)?);
    }
    Ok(out)
}

/// The project's files from `{index}/{name}/`: PEP 691 JSON when the index speaks it, else the
/// PEP 503 HTML page.
pub fn list_files(http: &Http, index: &str, name: &str) -> Result<Vec<IndexFile>> {
    let page = format!("{}/{}/", index.trim_end_matches('/'), name);
    let body = http
        .get(&page, Some("application/vnd.pypi.simple.v1+json, text/html;q=0.1"), &|_| {})
        .with_context(|| format!("cannot list the files of {name} on the package index"))?;
    let text = String::from_utf8_lossy(&body);
    if text.trim_start().starts_with('{') {
        parse_json_page(&text, &page)
            .with_context(|| format!("bad index page for {name} ({})", crate::fetch::redact_url(&page)))
    } else {
        Ok(parse_html_page(&text, &page))
    }
}

/// PEP 691 JSON project page.
pub fn parse_json_page(text: &str, page: &str) -> Result<Vec<IndexFile>> {
    let v: serde_json::Value = serde_json::from_str(text).context("not valid JSON")?;
    let files = v.get("files").and_then(|f| f.as_array()).context("no \"files\" array")?;
    let mut out = Vec::new();
    for f in files {
        let (Some(filename), Some(url)) =
            (f.get("filename").and_then(|x| x.as_str()), f.get("url").and_then(|x| x.as_str()))
        else {
            continue;
        };
        let sha256 =
            f.get("hashes").and_then(|h| h.get("sha256")).and_then(|h| h.as_str()).map(str::to_ascii_lowercase);
        out.push(IndexFile { filename: filename.to_string(), url: resolve_url(page, url), sha256 });
    }
    Ok(out)
}

/// PEP 503 HTML project page: every `<a href="...#sha256=...">filename</a>`.
pub fn parse_html_page(text: &str, page: &str) -> Vec<IndexFile> {
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(off) = lower[pos..].find("<a ") {
        let start = pos + off;
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else { break };
        let Some(close) = lower[tag_end..].find("</a>").map(|i| tag_end + i) else { break };
        pos = close + 4;
        let tag = &text[start..tag_end];
        let Some(href) = attr(tag, "href") else { continue };
        let href = unescape_html(&href);
        let (url, frag) = match href.split_once('#') {
            Some((u, f)) => (u.to_string(), Some(f.to_string())),
            None => (href.clone(), None),
        };
        let sha256 = frag.and_then(|f| f.strip_prefix("sha256=").map(str::to_ascii_lowercase));
        let mut filename = unescape_html(text[tag_end + 1..close].trim());
        if filename.is_empty() {
            filename = url.rsplit('/').next().unwrap_or("").to_string();
        }
        out.push(IndexFile { filename, url: resolve_url(page, &url), sha256 });
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| from + i) {
        from = i + name.len();
        let before_ok = i == 0 || lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        let quote = rest.chars().next()?;
        if quote == '"' || quote == '\'' {
            let end = rest[1..].find(quote)?;
            return Some(rest[1..1 + end].to_string());
        }
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        return Some(rest[..end].to_string());
    }
    None
}

fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// Resolves `href` against the page URL (absolute, scheme-relative, host-relative or relative).
pub fn resolve_url(page: &str, href: &str) -> String {
    if href.starts_with("http://") || href.starts_with("https://") {
        return href.to_string();
    }
    let (scheme, rest) = page.split_once("://").unwrap_or(("https", page));
    if let Some(r) = href.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let host_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..host_end]);
    if href.starts_with('/') {
        return format!("{origin}{href}");
    }
    let path = &rest[host_end..];
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let mut segs: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for s in href.split('/') {
        match s {
            ".." => {
                segs.pop();
            }
            "." => {}
            s => segs.push(s),
        }
    }
    format!("{origin}/{}", segs.join("/"))
}

/// Compares versions the way `==` does for these purposes: case-insensitive, trailing `.0`s of
/// the release ignored (`2.31 == 2.31.0`).
fn same_version(a: &str, b: &str) -> bool {
    fn canon(v: &str) -> String {
        let v = v.trim().to_ascii_lowercase();
        let v = v.strip_prefix('v').unwrap_or(&v).to_string();
        let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
        let (rel, rest) = v.split_at(split);
        let mut parts: Vec<&str> = rel.trim_end_matches('.').split('.').collect();
        while parts.len() > 1 && parts.last().is_some_and(|p| p.chars().all(|c| c == '0')) {
            parts.pop();
        }
        let parts: Vec<String> = parts
            .iter()
            .map(|p| p.trim_start_matches('0').to_string())
            .map(|p| if p.is_empty() { "0".into() } else { p })
            .collect();
        format!("{}{}", parts.join("."), rest.replace('_', "."))
    }
    canon(a) == canon(b)
}

/// Whether `filename` is one plain file name: no path separator, no `..`, no leading dot, no
/// control character. Index pages and lock files are outside input; a name like
/// `../../x.whl` must never reach a path or a message unexamined.
fn is_plain_file_name(filename: &str) -> bool {
    !filename.is_empty()
        && !filename.starts_with('.')
        && !filename.contains(['/', '\\'])
        && !filename.contains("..")
        && !filename.chars().any(char::is_control)
}

/// Checks a wheel file name as lucid checks the ones it picks from the index: a plain file name
/// ([`is_plain_file_name`]) and a valid wheel name of project `name` at `version`.
pub fn check_wheel_file(filename: &str, name: &str, version: &str) -> Result<WheelName> {
    if !is_plain_file_name(filename) {
        bail!("{filename:?} is not a plain wheel file name (path separators, `..` and control characters are refused)");
    }
    let w = parse_wheel_name(filename)?;
    if w.name != crate::formats::wheel::normalize_name(name) || !same_version(&w.version, version) {
        bail!("{filename:?} is not a wheel of {name} {version} (its name says {} {})", w.name, w.version);
    }
    Ok(w)
}

/// Chooses among a project's `files` for one requirement.
pub fn pick(req: &Requirement, files: &[IndexFile], target: &Target) -> Result<WheelPin> {
    let pinned: Vec<&IndexFile> =
        files.iter().filter(|f| f.sha256.as_ref().is_some_and(|h| req.hashes.contains(h))).collect();
    let mut best: Option<(usize, i64, &IndexFile, WheelName)> = None;
    let mut unfit = Vec::new();
    for f in &pinned {
        if !is_plain_file_name(&f.filename) {
            bail!(
                "{}=={}: the index names a pinned file {:?}, not a plain file name",
                req.name,
                req.version,
                f.filename
            );
        }
        let Ok(w) = parse_wheel_name(&f.filename) else { continue };
        if w.name != req.name || !same_version(&w.version, &req.version) {
            bail!(
                "{}=={} (line {}): the pinned hash {} belongs to {}, a different project or version",
                req.name,
                req.version,
                req.line,
                f.sha256.as_deref().unwrap_or_default(),
                f.filename
            );
        }
        let Some(rank) = target.rank(&w) else {
            unfit.push(f.filename.clone());
            continue;
        };
        // Among equally specific tags, the higher build number wins (as pip does).
        let build = w
            .build
            .as_deref()
            .and_then(|b| b.split(|c: char| !c.is_ascii_digit()).next()?.parse::<i64>().ok())
            .unwrap_or(-1);
        let better = match &best {
            None => true,
            Some((r, b, bf, _)) => {
                rank < *r || (rank == *r && (build > *b || (build == *b && f.filename < bf.filename)))
            }
        };
        if better {
            best = Some((rank, build, f, w));
        }
    }
    if let Some((_, _, f, w)) = best {
        return Ok(WheelPin {
            name: req.name.clone(),
            version: w.version,
            filename: f.filename.clone(),
            url: f.url.clone(),
            sha256: f.sha256.clone().unwrap_or_default(),
        });
    }
    let what = format!("{}=={} (line {})", req.name, req.version, req.line);
    if !unfit.is_empty() {
        bail!(
            "{what}: none of the pinned wheels fits CPython {}.{} on manylinux {}.{} {}: {}",
            target.python.0,
            target.python.1,
            target.glibc.0,
            target.glibc.1,
            target.machine,
            unfit.join(", ")
        );
    }
    if !pinned.is_empty() {
        bail!(
            "{what}: the pinned hashes match only source distributions ({}); only wheels are installed, \
             pin a wheel's hash (pip download --only-binary=:all:)",
            pinned.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let offered: Vec<String> = files
        .iter()
        .filter(|f| parse_wheel_name(&f.filename).is_ok_and(|w| same_version(&w.version, &req.version)))
        .map(|f| format!("{} sha256:{}", f.filename, f.sha256.as_deref().unwrap_or("(none given)")))
        .collect();
    if offered.is_empty() {
        bail!("{what}: the index has no wheel of this version; only wheels are installed");
    }
    bail!(
        "{what}: no file on the index matches the pinned hashes {:?}; the index offers: {}",
        req.hashes,
        offered.join("; ")
    )
}

/// Downloads the chosen wheels into the verified cache (each checked against its pinned SHA-256)
/// and returns their bytes, in the order of `pins`, counting bytes on `progress`.
pub fn fetch_wheels(
    fetcher: &Fetcher,
    pins: &[WheelPin],
    progress: &crate::progress::Task,
) -> Result<Vec<std::sync::Arc<Vec<u8>>>> {
    let wants: Vec<Want> = pins
        .iter()
        .map(|p| Want { url: p.url.clone(), sha256: p.sha256.clone(), size: None, label: p.filename.clone() })
        .collect();
    fetcher.fetch_all("wheels", &wants, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(hashes: &[&str]) -> Requirement {
        Requirement {
            name: "charset-normalizer".into(),
            version: "3.4.0".into(),
            hashes: hashes.iter().map(|h| h.repeat(64)).collect(),
            line: 7,
        }
    }

    fn file(name: &str, h: &str) -> IndexFile {
        IndexFile { filename: name.into(), url: format!("https://files.invalid/{name}"), sha256: Some(h.repeat(64)) }
    }

    fn files() -> Vec<IndexFile> {
        vec![
            file("charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "a"),
            file("charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "b"),
            file("charset_normalizer-3.4.0-cp311-cp311-musllinux_1_2_x86_64.whl", "c"),
            file("charset_normalizer-3.4.0-py3-none-any.whl", "d"),
            file("charset_normalizer-3.4.0.tar.gz", "e"),
            file("charset_normalizer-3.4.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "f"),
            file("charset_normalizer-3.4.0-cp311-cp311-manylinux_2_39_x86_64.whl", "0"),
            file("charset_normalizer-3.4.0-cp39-abi3-manylinux_2_28_x86_64.whl", "1"),
        ]
    }

    #[test]
    fn tag_compatibility() {
        let amd = Target::debian12("amd64").unwrap();
        let arm = Target::debian12("arm64").unwrap();
        let rank = |t: &Target, f: &str| t.rank(&parse_wheel_name(f).unwrap());
        assert!(rank(&amd, "x-1-py3-none-any.whl").is_some());
        assert!(rank(&amd, "x-1-py2.py3-none-any.whl").is_some());
        assert!(rank(&amd, "x-1-py2-none-any.whl").is_none());
        assert!(rank(&amd, "x-1-cp311-cp311-manylinux_2_36_x86_64.whl").is_some());
        assert!(rank(&amd, "x-1-cp311-cp311-manylinux_2_37_x86_64.whl").is_none());
        assert!(rank(&amd, "x-1-cp311-cp311-manylinux1_x86_64.whl").is_some());
        assert!(rank(&arm, "x-1-cp311-cp311-manylinux1_x86_64.whl").is_none());
        assert!(rank(&arm, "x-1-cp311-cp311-manylinux2014_aarch64.whl").is_some());
        assert!(rank(&amd, "x-1-cp311-cp311-musllinux_1_2_x86_64.whl").is_none());
        assert!(rank(&amd, "x-1-cp312-cp312-manylinux2014_x86_64.whl").is_none());
        assert!(rank(&amd, "x-1-cp310-cp310-manylinux2014_x86_64.whl").is_none());
        assert!(rank(&amd, "x-1-cp38-abi3-manylinux2014_x86_64.whl").is_some());
        assert!(rank(&amd, "x-1-cp311-cp311-win_amd64.whl").is_none());
        assert!(rank(&amd, "x-1-cp311-cp311-macosx_11_0_x86_64.whl").is_none());
        let specific = rank(&amd, "x-1-cp311-cp311-manylinux2014_x86_64.whl").unwrap();
        let abi3 = rank(&amd, "x-1-cp38-abi3-manylinux_2_28_x86_64.whl").unwrap();
        let pure = rank(&amd, "x-1-py3-none-any.whl").unwrap();
        assert!(specific < abi3 && abi3 < pure);
        assert!(parse_wheel_name("x-1-py3-none.whl").is_err());
        assert!(parse_wheel_name("x-1.tar.gz").is_err());
    }

    #[test]
    fn picks_the_most_specific_pinned_wheel() {
        let amd = Target::debian12("amd64").unwrap();
        let arm = Target::debian12("arm64").unwrap();
        let all = req(&["a", "b", "c", "d", "e", "f", "0", "1"]);
        assert!(pick(&all, &files(), &amd).unwrap().filename.contains("cp311-cp311-manylinux_2_17_x86_64"));
        assert!(pick(&all, &files(), &arm).unwrap().filename.contains("aarch64"));
        assert!(pick(&req(&["c", "d", "1"]), &files(), &amd).unwrap().filename.contains("abi3"));
        assert!(pick(&req(&["c", "d"]), &files(), &amd).unwrap().filename.ends_with("py3-none-any.whl"));
        let e = pick(&req(&["e"]), &files(), &amd).unwrap_err().to_string();
        assert!(e.contains("charset-normalizer") && e.contains("only wheels"), "{e}");
        let e = pick(&req(&["c", "f", "0"]), &files(), &amd).unwrap_err().to_string();
        assert!(e.contains("musllinux") && e.contains("line 7"), "{e}");
        let e = pick(&req(&["9"]), &files(), &amd).unwrap_err().to_string();
        assert!(e.contains("no file on the index matches"), "{e}");
    }

    #[test]
    fn html_and_json_pages() {
        let page = "https://idx.invalid/simple/x/";
        let html = "<html><body><a href=\"../../packages/x-1-py3-none-any.whl#sha256=ABCD\" data-requires-python=\"&gt;=3.8\">x-1-py3-none-any.whl</a>\n<A HREF='https://cdn.invalid/x-1.tar.gz#sha256=ef'>x-1.tar.gz</A></body></html>";
        let f = parse_html_page(html, page);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].url, "https://idx.invalid/packages/x-1-py3-none-any.whl");
        assert_eq!(f[0].sha256.as_deref(), Some("abcd"));
        assert_eq!(f[1].filename, "x-1.tar.gz");
        let json = r#"{"meta":{"api-version":"1.1"},"files":[{"filename":"x-1-py3-none-any.whl","url":"/p/x.whl","hashes":{"sha256":"aa"}}]}"#;
        let f = parse_json_page(json, page).unwrap();
        assert_eq!(f[0].url, "https://idx.invalid/p/x.whl");
        assert!(same_version("2.31", "2.31.0") && !same_version("2.31", "2.3.1") && same_version("1.0rc1", "1rc1"));
    }
}
