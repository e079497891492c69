//! Installing a wheel into the in-memory tree, as pip would install it into a prefix.
//!
//! A wheel is a zip whose `RECORD` lists every file with its hash. The download is already
//! verified against the pinned SHA-256, but RECORD is checked too: a file in the zip that RECORD
//! does not vouch for, or whose bytes differ, means a broken or doctored wheel, and installing
//! it would put unverified code into every image built from this base. Paths are normalized and
//! anything escaping its scheme directory is refused. Nothing touches the host filesystem.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::index::parse_wheel_name;
use crate::rootfs::tree::normalize;
use crate::rootfs::{Entry, Node, Origin, Tree};

/// The interpreter written into `#!python` script shebangs (Debian's `python3` link).
pub const SHEBANG: &[u8] = b"#!/usr/bin/python3";

/// Upper bound on one member's uncompressed size: a zip bomb stops here instead of exhausting
/// memory (the largest real wheels are a few hundred MB in total).
const MAX_MEMBER: u64 = 1 << 30;

/// Installs `wheel` (the bytes of `filename`) into `site_packages` of `tree` (for example
/// `usr/local/lib/python3.11/dist-packages`, which is on Debian's `sys.path`). Scripts go to
/// `<prefix>/bin`, `.data/data` to `<prefix>`, headers to `<prefix>/include/python3.11/<name>`,
/// where the prefix is `site_packages` without `lib/pythonX.Y/...` (`usr/local`).
///
/// Files are root-owned, 0644 (0755 when the zip marks them executable, and for scripts),
/// with `Origin::Wheel(name)`. The `.dist-info` keeps RECORD, rewritten for the installed paths
/// as pip does, and gets `INSTALLER` = `lucid`. A file another wheel already installed is an
/// error (pip would silently overwrite one with the other).
pub fn install(wheel: &[u8], filename: &str, site_packages: &str, tree: &mut Tree) -> Result<()> {
    install_inner(wheel, filename, site_packages, tree).with_context(|| format!("cannot install {filename}"))
}

fn install_inner(wheel: &[u8], filename: &str, site_packages: &str, tree: &mut Tree) -> Result<()> {
    let wn = parse_wheel_name(filename)?;
    let site = normalize(site_packages)?;
    let prefix = prefix_of(&site);
    let origin = Origin::Wheel(Arc::from(wn.name.as_str()));
    let mut zip = zip::ZipArchive::new(Cursor::new(wheel)).context("not a valid zip archive")?;

    // Read every member once: names normalized, bytes in memory, executable bit noted.
    let mut members: BTreeMap<String, (Vec<u8>, bool)> = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).with_context(|| format!("cannot read member #{i}"))?;
        let raw = String::from_utf8_lossy(f.name_raw()).into_owned();
        if raw.starts_with('/') || raw.contains('\\') || raw.contains(':') && raw.len() > 1 && raw.as_bytes()[1] == b':'
        {
            bail!("unsafe path {raw:?} in the wheel: absolute");
        }
        let name = normalize(&raw).with_context(|| format!("unsafe path {raw:?} in the wheel"))?;
        if f.is_dir() {
            continue;
        }
        let mode = f.unix_mode().unwrap_or(0o644);
        if mode & 0o170000 == 0o120000 {
            bail!("{raw:?} is a symbolic link; wheels cannot carry links");
        }
        if f.size() > MAX_MEMBER {
            bail!("{raw:?} is {} bytes uncompressed, over the limit", f.size());
        }
        // The header's size is not trusted for the allocation: a lying header costs nothing.
        let mut data = Vec::with_capacity(f.size().min(16 << 20) as usize);
        (&mut f).take(MAX_MEMBER + 1).read_to_end(&mut data).with_context(|| format!("cannot inflate {raw:?}"))?;
        if data.len() as u64 > MAX_MEMBER {
            bail!("{raw:?} inflates past the size limit");
        }
        if members.insert(name.clone(), (data, mode & 0o111 != 0)).is_some() {
            bail!("{raw:?} appears twice in the wheel");
        }
    }

    // The .dist-info directory: exactly one at the top level, for this project.
    let dist_infos: BTreeSet<&str> = members
        .keys()
        .filter_map(|k| k.split_once('/').map(|(d, _)| d))
        .filter(|d| d.ends_with(".dist-info"))
        .collect();
    let dist_info = match dist_infos.iter().collect::<Vec<_>>().as_slice() {
        [one] => one.to_string(),
        [] => bail!("no .dist-info directory"),
        many => bail!("several .dist-info directories: {many:?}"),
    };
    let di_name = dist_info.trim_end_matches(".dist-info");
    let di_project = di_name.rsplit_once('-').map_or(di_name, |(n, _)| n);
    if crate::formats::wheel::normalize_name(di_project) != wn.name {
        bail!("{dist_info} does not belong to {}", wn.name);
    }
    let data_dir = format!("{di_name}.data");

    let wheel_meta = members.get(&format!("{dist_info}/WHEEL")).context("no WHEEL file in .dist-info")?;
    let wheel_meta = String::from_utf8_lossy(&wheel_meta.0);
    let wv = wheel_meta.lines().find_map(|l| l.strip_prefix("Wheel-Version:")).map(str::trim).unwrap_or("");
    if !wv.starts_with("1.") {
        bail!("Wheel-Version {wv:?} is not supported (1.x only)");
    }

    let record_key = format!("{dist_info}/RECORD");
    let record = members.get(&record_key).context("no RECORD in .dist-info")?;
    let record = parse_record(&String::from_utf8_lossy(&record.0)).context("cannot parse RECORD")?;

    // Every member is vouched for by RECORD (except RECORD and its signatures) and matches it.
    for (name, (data, _)) in &members {
        if *name == record_key || name.starts_with(&format!("{dist_info}/RECORD.")) {
            continue;
        }
        let Some((hash, size)) = record.get(name) else { bail!("{name} is in the wheel but not in RECORD") };
        let Some(hash) = hash else { bail!("RECORD has no hash for {name}") };
        check_hash(name, data, hash)?;
        if let Some(size) = size
            && *size != data.len() as u64
        {
            bail!("{name}: RECORD says {size} bytes, the wheel has {}", data.len());
        }
    }
    for name in record.keys() {
        if !members.contains_key(name) {
            bail!("RECORD lists {name}, which the wheel does not contain");
        }
    }

    // Place the files.
    let mut installed: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, (data, exec)) in members {
        if name == record_key {
            continue;
        }
        let (dest, data, mode) = if let Some(rest) = name.strip_prefix(&format!("{data_dir}/")) {
            let (scheme, path) = rest.split_once('/').with_context(|| format!("{name}: a file directly in .data"))?;
            match scheme {
                "purelib" | "platlib" => (format!("{site}/{path}"), data, mode_for(exec)),
                "scripts" => (format!("{prefix}/bin/{path}"), rewrite_shebang(data), 0o755),
                "data" => (format!("{prefix}/{path}"), data, mode_for(exec)),
                "headers" => (format!("{prefix}/include/{}/{}/{path}", interpreter_dir(&site), wn.name), data, 0o644),
                other => bail!("{name}: unknown .data scheme {other:?}"),
            }
        } else {
            (format!("{site}/{name}"), data, mode_for(exec))
        };
        let dest = normalize(&dest).with_context(|| format!("{name} would install outside its prefix"))?;
        place(tree, &dest, data.clone(), mode, &origin)?;
        installed.push((dest, data));
    }

    // Console-script wrappers, as pip generates them from entry_points.txt.
    if let Some((ep, _)) = installed.iter().find(|(d, _)| *d == format!("{site}/{dist_info}/entry_points.txt")) {
        let text =
            String::from_utf8_lossy(&installed.iter().find(|(d, _)| d == ep).map(|x| x.1.clone()).unwrap_or_default())
                .into_owned();
        for (script, module, func) in console_scripts(&text)? {
            let dest = normalize(&format!("{prefix}/bin/{script}"))?;
            let body = wrapper(&module, &func);
            place(tree, &dest, body.clone(), 0o755, &origin)?;
            installed.push((dest, body));
        }
    }

    let installer = b"lucid\n".to_vec();
    let inst_key = format!("{site}/{dist_info}/INSTALLER");
    place(tree, &inst_key, installer.clone(), 0o644, &origin)?;
    installed.push((inst_key, installer));

    // RECORD for the installed layout: paths relative to site-packages, fresh hashes.
    let rec_key = format!("{site}/{dist_info}/RECORD");
    let mut lines: Vec<String> = installed
        .iter()
        .map(|(dest, data)| format!("{},sha256={},{}", csv_field(&relative(&site, dest)), b64_sha256(data), data.len()))
        .collect();
    lines.push(format!("{},,", csv_field(&relative(&site, &rec_key))));
    lines.sort();
    place(tree, &rec_key, (lines.join("\n") + "\n").into_bytes(), 0o644, &origin)?;
    Ok(())
}

fn mode_for(exec: bool) -> u32 {
    if exec { 0o755 } else { 0o644 }
}

/// The `pythonX.Y` of a site-packages path (`usr/local/lib/python3.13/site-packages` ->
/// `python3.13`), where pip puts a wheel's headers; `python3` when the path names no version.
fn interpreter_dir(site: &str) -> &str {
    site.split('/')
        .find(|c| c.strip_prefix("python3.").is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit())))
        .unwrap_or("python3")
}

/// `usr/local/lib/python3.11/site-packages` -> `usr/local` (the install scheme's prefix).
fn prefix_of(site: &str) -> String {
    match site.find("/lib/python") {
        Some(i) if i > 0 => site[..i].to_string(),
        _ => "usr/local".to_string(),
    }
}

/// Puts one file of the wheel at `dest`. A wheel adds files; it never replaces one it did not
/// install itself: not another wheel's, not a Debian package's (`usr/bin/python3.11` through a
/// `.data/scripts` entry, a standard-library module), not one lucid made. Nor does it write
/// through a link the image already has, which would land the file somewhere else.
fn place(tree: &mut Tree, dest: &str, data: Vec<u8>, mode: u32, origin: &Origin) -> Result<()> {
    let wheel = origin_name(origin).unwrap_or_else(|| Arc::from("?"));
    let mut ancestor = crate::rootfs::tree::parent(dest);
    while let Some(dir) = ancestor {
        if let Some(e) = tree.get(dir)
            && matches!(e.node, Node::Symlink(_))
        {
            bail!("the wheel {wheel} would write {dest} through /{dir}, a link {} made", owner(&e.origin));
        }
        ancestor = crate::rootfs::tree::parent(dir);
    }
    if let Some(old) = tree.get(dest) {
        match (&old.node, &old.origin) {
            (Node::Dir, _) => bail!("{dest} is a directory in the image"),
            (_, Origin::Wheel(other)) if *other == wheel => {}
            (_, o) => bail!(
                "the wheel {wheel} would replace /{dest}, which {} installed; a wheel never replaces a file it \
                 does not own (remove the requirement, or exclude the package)",
                owner(o)
            ),
        }
    }
    tree.insert(dest, Entry::file(data, mode).from_origin(origin.clone()))
        .with_context(|| format!("cannot place {dest}"))
}

/// Who put an entry into the image, for messages.
fn owner(o: &Origin) -> String {
    match o {
        Origin::Deb(p) => format!("the Debian package {p}"),
        Origin::Wheel(w) => format!("the wheel {w}"),
        Origin::Java(j) => format!("the Java runtime ({j})"),
        Origin::Builder => "lucid itself".to_string(),
    }
}

fn origin_name(o: &Origin) -> Option<Arc<str>> {
    match o {
        Origin::Wheel(n) => Some(n.clone()),
        _ => None,
    }
}

/// `#!python` / `#!pythonw` (the wheel spec's placeholders) become Debian's interpreter.
fn rewrite_shebang(data: Vec<u8>) -> Vec<u8> {
    for ph in [&b"#!pythonw"[..], b"#!python"] {
        if let Some(rest) = data.strip_prefix(ph)
            && rest.first().is_none_or(|c| c.is_ascii_whitespace())
        {
            {
                let mut out = SHEBANG.to_vec();
                out.extend_from_slice(rest);
                return out;
            }
        }
    }
    data
}

type Record = BTreeMap<String, (Option<String>, Option<u64>)>;

/// RECORD is CSV: `path,algo=urlsafe-b64-digest,size`, fields quoted when they contain commas.
fn parse_record(text: &str) -> Result<Record> {
    let mut out = Record::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields = csv_split(line).with_context(|| format!("line {}: bad CSV", i + 1))?;
        let path = fields.first().map(String::as_str).unwrap_or("");
        let key = normalize(path).with_context(|| format!("RECORD line {}: unsafe path {path:?}", i + 1))?;
        let hash = fields.get(1).filter(|h| !h.is_empty()).cloned();
        let size = match fields.get(2).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(s) => Some(s.parse::<u64>().with_context(|| format!("RECORD line {}: bad size {s:?}", i + 1))?),
            None => None,
        };
        out.insert(key, (hash, size));
    }
    Ok(out)
}

fn csv_split(line: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    if quoted {
        bail!("unterminated quote");
    }
    out.push(cur);
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Checks `data` against a RECORD hash (`sha256=...`; sha384/sha512 accepted, weaker refused).
fn check_hash(name: &str, data: &[u8], hash: &str) -> Result<()> {
    let Some((algo, want)) = hash.split_once('=') else { bail!("{name}: malformed RECORD hash {hash:?}") };
    let got = match algo {
        "sha256" => b64(&Sha256::digest(data)),
        "sha384" => b64(&Sha384::digest(data)),
        "sha512" => b64(&Sha512::digest(data)),
        other => bail!("{name}: RECORD hash algorithm {other:?} is not accepted (sha256 or stronger)"),
    };
    if got != want.trim_end_matches('=') {
        bail!("{name}: hash mismatch with RECORD (expected {algo}={want}, got {algo}={got})");
    }
    Ok(())
}

fn b64_sha256(data: &[u8]) -> String {
    b64(&Sha256::digest(data))
}

/// URL-safe base64 without padding, the encoding RECORD uses.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// `a/b/c` relative to `a/x` -> `../b/c`; inside it -> the tail.
fn relative(base: &str, path: &str) -> String {
    if let Some(rest) = path.strip_prefix(&format!("{base}/")) {
        return rest.to_string();
    }
    let b: Vec<&str> = base.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    let common = b.iter().zip(&p).take_while(|(x, y)| x == y).count();
    let mut out: Vec<&str> = vec![".."; b.len() - common];
    out.extend(&p[common..]);
    out.join("/")
}

/// `[console_scripts]` and `[gui_scripts]` entries (`name = module:func`), for which pip writes
/// wrapper scripts.
fn console_scripts(text: &str) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[console_scripts]" || line == "[gui_scripts]";
            continue;
        }
        if !in_section || line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((name, target)) = line.split_once('=') else { bail!("entry_points.txt: bad line {line:?}") };
        let name = name.trim();
        let target = target.split('[').next().unwrap_or("").trim();
        let Some((module, func)) = target.split_once(':') else {
            bail!("entry_points.txt: {name}: no module:function")
        };
        let ident = |s: &str| {
            !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        };
        if name.is_empty()
            || name.contains(['/', '\\'])
            || name.starts_with('.')
            || !ident(module.trim())
            || !ident(func.trim())
        {
            bail!("entry_points.txt: refusing the console script {line:?}");
        }
        out.push((name.to_string(), module.trim().to_string(), func.trim().to_string()));
    }
    Ok(out)
}

/// pip's console-script wrapper.
fn wrapper(module: &str, func: &str) -> Vec<u8> {
    let (head, _) = func.split_once('.').unwrap_or((func, ""));
    format!(
        "{}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == '__main__':\n    \
         sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit({func}())\n",
        String::from_utf8_lossy(SHEBANG)
    )
    .into_bytes()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// Builds a wheel in memory. `files` are (path, content); RECORD is generated unless one is
    /// given, and `tamper` replaces one file's bytes after RECORD was computed.
    pub(crate) fn build_wheel(files: &[(&str, &[u8])], tamper: Option<(&str, &[u8])>) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        let mut record = String::new();
        for (path, data) in files {
            record.push_str(&format!("{path},sha256={},{}\n", b64_sha256(data), data.len()));
        }
        let di = files.iter().find_map(|(p, _)| p.split_once(".dist-info/").map(|(d, _)| d)).unwrap_or("x-1");
        record.push_str(&format!("{di}.dist-info/RECORD,,\n"));
        for (path, data) in files {
            let data = tamper.filter(|(p, _)| p == path).map_or(*data, |(_, d)| d);
            let mode = if path.contains("/scripts/") || path.ends_with(".so") { 0o755 } else { 0o644 };
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(mode);
            w.start_file(*path, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.start_file(format!("{di}.dist-info/RECORD"), zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(record.as_bytes()).unwrap();
        w.finish().unwrap();
        buf.into_inner()
    }

    const WHEEL: &[u8] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    const SP: &str = "usr/local/lib/python3.11/dist-packages";

    fn demo_files() -> Vec<(&'static str, &'static [u8])> {
        vec![
            ("demo/__init__.py", b"VERSION = '1'\n"),
            ("demo/_speed.so", b"\x7fELF"),
            ("Demo_Pkg-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: Demo-Pkg\nVersion: 1.0\n"),
            ("Demo_Pkg-1.0.dist-info/WHEEL", WHEEL),
            ("Demo_Pkg-1.0.dist-info/entry_points.txt", b"[console_scripts]\ndemo = demo.cli:main\n"),
            ("Demo_Pkg-1.0.data/scripts/demo-tool", b"#!python\nprint('hi')\n"),
            ("Demo_Pkg-1.0.data/platlib/demo_ext.py", b"X = 1\n"),
            ("Demo_Pkg-1.0.data/data/share/demo/readme.txt", b"hello\n"),
        ]
    }

    #[test]
    fn installs_and_rewrites() {
        let whl = build_wheel(&demo_files(), None);
        let mut t = Tree::new();
        install(&whl, "Demo_Pkg-1.0-py3-none-any.whl", SP, &mut t).unwrap();
        let get = |p: &str| t.get(p).unwrap_or_else(|| panic!("{p} missing"));
        assert_eq!(get(&format!("{SP}/demo/__init__.py")).mode, 0o644);
        assert_eq!(get(&format!("{SP}/demo/_speed.so")).mode, 0o755);
        assert_eq!(get(&format!("{SP}/demo_ext.py")).mode, 0o644);
        assert_eq!(get(&format!("{SP}/demo/__init__.py")).origin, Origin::Wheel("demo-pkg".into()));
        let script = get("usr/local/bin/demo-tool");
        assert_eq!(script.mode, 0o755);
        assert_eq!(t.read("usr/local/bin/demo-tool").unwrap().as_slice(), b"#!/usr/bin/python3\nprint('hi')\n");
        let wrapper = String::from_utf8(t.read("usr/local/bin/demo").unwrap().to_vec()).unwrap();
        assert!(wrapper.starts_with("#!/usr/bin/python3\n") && wrapper.contains("from demo.cli import main"));
        assert!(t.contains("usr/local/share/demo/readme.txt"));
        assert_eq!(t.read(&format!("{SP}/Demo_Pkg-1.0.dist-info/INSTALLER")).unwrap().as_slice(), b"lucid\n");
        let record =
            String::from_utf8(t.read(&format!("{SP}/Demo_Pkg-1.0.dist-info/RECORD")).unwrap().to_vec()).unwrap();
        assert!(record.contains("../../../bin/demo-tool,sha256="), "{record}");
        assert!(record.contains("Demo_Pkg-1.0.dist-info/INSTALLER,sha256="), "{record}");
        assert!(record.contains("Demo_Pkg-1.0.dist-info/RECORD,,"), "{record}");
        assert!(t.iter().all(|(_, e)| e.uid == 0 && e.gid == 0));
        // The installed RECORD verifies against the installed files.
        for line in record.lines() {
            let f = csv_split(line).unwrap();
            let full = match f[0].strip_prefix("../../../") {
                Some(rest) => format!("usr/local/{rest}"),
                None => format!("{SP}/{}", f[0]),
            };
            if !f[1].is_empty() {
                check_hash(&f[0], t.read(&full).unwrap(), &f[1]).unwrap();
            }
        }
    }

    #[test]
    fn tampered_record_hash_is_refused() {
        let whl = build_wheel(&demo_files(), Some(("demo/__init__.py", b"import os; os.system('x')\n")));
        let e = format!("{:#}", install(&whl, "Demo_Pkg-1.0-py3-none-any.whl", SP, &mut Tree::new()).unwrap_err());
        assert!(
            e.contains("demo/__init__.py")
                && e.contains("hash mismatch")
                && e.contains("Demo_Pkg-1.0-py3-none-any.whl"),
            "{e}"
        );
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in
            ["../evil.py", "demo/../../evil.py", "/etc/evil.py", "Demo_Pkg-1.0.data/scripts/../../../../../etc/x"]
        {
            let mut files = demo_files();
            files.push((bad, b"x"));
            let whl = build_wheel(&files, None);
            let e = format!("{:#}", install(&whl, "Demo_Pkg-1.0-py3-none-any.whl", SP, &mut Tree::new()).unwrap_err());
            assert!(e.contains("unsafe") || e.contains("outside"), "{bad}: {e}");
        }
    }

    #[test]
    fn unlisted_file_and_foreign_owner_are_refused() {
        let mut whl = build_wheel(&demo_files(), None);
        // A second wheel may not overwrite the first one's files.
        let mut t = Tree::new();
        install(&whl, "Demo_Pkg-1.0-py3-none-any.whl", SP, &mut t).unwrap();
        let other = build_wheel(
            &[
                ("demo/__init__.py", b"hijack\n"),
                ("other-2.dist-info/METADATA", b"Name: other\n"),
                ("other-2.dist-info/WHEEL", WHEEL),
            ],
            None,
        );
        let e = format!("{:#}", install(&other, "other-2-py3-none-any.whl", SP, &mut t).unwrap_err());
        assert!(e.contains("the wheel other would replace") && e.contains("the wheel demo-pkg installed"), "{e}");
        // Garbage is an error, not a panic.
        whl.truncate(whl.len() / 2);
        assert!(install(&whl, "Demo_Pkg-1.0-py3-none-any.whl", SP, &mut Tree::new()).is_err());
        assert!(install(b"", "x-1-py3-none-any.whl", SP, &mut Tree::new()).is_err());
    }

    /// A wheel whose site-packages is under `/usr` (prefix `usr`) reaches Debian's files through
    /// `.data/scripts` and `.data/data`, and through plain entries when site-packages is Debian's
    /// own directory: each is refused, naming the wheel, the path and the package that owns it.
    #[test]
    fn debian_files_and_links_are_never_replaced() {
        let debian = |t: &mut Tree, path: &str| {
            t.insert(path, Entry::file(b"debian".to_vec(), 0o755).from_origin(Origin::Deb("python3.11-minimal".into())))
                .unwrap()
        };
        let site = "usr/lib/python3/dist-packages";
        for (member, target) in [
            ("evil-1.data/scripts/python3.11", "usr/bin/python3.11"),
            ("evil-1.data/data/lib/python3.11/os.py", "usr/lib/python3.11/os.py"),
            ("six.py", "usr/lib/python3/dist-packages/six.py"),
        ] {
            let mut t = Tree::new();
            debian(&mut t, target);
            let whl = build_wheel(
                &[
                    (member, b"import os\n"),
                    ("evil-1.dist-info/METADATA", b"Name: evil\n"),
                    ("evil-1.dist-info/WHEEL", WHEEL),
                ],
                None,
            );
            let e = format!("{:#}", install(&whl, "evil-1-py3-none-any.whl", site, &mut t).unwrap_err());
            assert!(
                e.contains("the wheel evil would replace") && e.contains(target) && e.contains("python3.11-minimal"),
                "{member}: {e}"
            );
            assert_eq!(t.read(target).map(|d| d.as_slice()), Some(&b"debian"[..]), "{member}");
        }
        // Through a link the image has: the file would land where the link points.
        let mut t = Tree::new();
        t.insert(
            "usr/lib/python3/dist-packages/pkg",
            Entry::symlink("/usr/lib/python3.11").from_origin(Origin::Deb("x".into())),
        )
        .unwrap();
        let whl = build_wheel(
            &[
                ("pkg/mod.py", b"x = 1\n"),
                ("evil-1.dist-info/METADATA", b"Name: evil\n"),
                ("evil-1.dist-info/WHEEL", WHEEL),
            ],
            None,
        );
        let e = format!("{:#}", install(&whl, "evil-1-py3-none-any.whl", site, &mut t).unwrap_err());
        assert!(e.contains("through /usr/lib/python3/dist-packages/pkg, a link the Debian package x made"), "{e}");
    }

    /// Random corruption of a valid wheel never panics (the zip reader and our checks both fail
    /// cleanly). A cheap stand-in for cargo-fuzz that runs with the unit tests.
    #[test]
    fn corrupted_wheels_never_panic() {
        let whl = build_wheel(&demo_files(), None);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut w = whl.clone();
            for _ in 0..1 + next() % 8 {
                let i = (next() % w.len() as u64) as usize;
                w[i] = next() as u8;
            }
            if next() % 4 == 0 {
                w.truncate((next() % w.len() as u64) as usize);
            }
            let _ = install(&w, "Demo_Pkg-1.0-py3-none-any.whl", SP, &mut Tree::new());
        }
    }

    #[test]
    fn base64_and_relative() {
        assert_eq!(b64(b""), "");
        assert_eq!(b64(b"f"), "Zg");
        assert_eq!(b64(b"fo"), "Zm8");
        assert_eq!(b64(b"foo"), "Zm9v");
        assert_eq!(b64(&[0xfb, 0xff]), "-_8");
        assert_eq!(relative("usr/local/lib/python3.11/dist-packages", "usr/local/bin/x"), "../../../bin/x");
        assert_eq!(prefix_of("usr/local/lib/python3.11/dist-packages"), "usr/local");
        assert_eq!(prefix_of("opt/venv/lib/python3.11/site-packages"), "opt/venv");
        assert_eq!(interpreter_dir("usr/local/lib/python3.13/site-packages"), "python3.13");
        assert_eq!(interpreter_dir("home/app/site-packages"), "python3");
    }
}
