//! Wheels made in the test (real zip files with WHEEL, METADATA and a RECORD that vouches for
//! every file) and a PEP 503 package index serving them from 127.0.0.1.

use std::io::Write;

use sha2::{Digest, Sha256};

/// URL-safe base64 without padding, the encoding RECORD uses.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = c.iter().enumerate().fold(0u32, |a, (i, &b)| a | (b as u32) << (16 - 8 * i));
        for i in 0..=c.len() {
            s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}

/// A pure-Python wheel of `name` `version` (with a build tag when `build` is given) holding
/// `files` (paths relative to the wheel root: `pkg/__init__.py`, `name-1.0.data/scripts/x`).
/// Returns the file name and the bytes.
pub fn wheel(name: &str, version: &str, build: Option<&str>, files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let di = format!("{name}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    let wheel_meta = "Wheel-Version: 1.0\nGenerator: lucid-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let mut all: Vec<(String, Vec<u8>)> = files.iter().map(|(p, d)| (p.to_string(), d.to_vec())).collect();
    all.push((format!("{di}/METADATA"), metadata.into_bytes()));
    all.push((format!("{di}/WHEEL"), wheel_meta.as_bytes().to_vec()));
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    let mut record = String::new();
    for (p, d) in &all {
        record.push_str(&format!("{p},sha256={},{}\n", b64(&Sha256::digest(d)), d.len()));
        let mode = if p.contains(".data/scripts/") { 0o755 } else { 0o644 };
        w.start_file(p.as_str(), zip::write::SimpleFileOptions::default().unix_permissions(mode)).unwrap();
        w.write_all(d).unwrap();
    }
    record.push_str(&format!("{di}/RECORD,,\n"));
    w.start_file(format!("{di}/RECORD"), zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(record.as_bytes()).unwrap();
    w.finish().unwrap();
    let tag = build.map(|b| format!("-{b}")).unwrap_or_default();
    (format!("{name}-{version}{tag}-py3-none-any.whl"), buf.into_inner())
}

/// A package index serving `wheels` (project name, file name, bytes) at `<url>/simple/<project>/`.
pub struct Index {
    /// The index URL to hand to `LUCID_INDEX_URL`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Index {
    pub fn serve(wheels: &[(&str, &str, &[u8])]) -> Index {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        let mut pages: std::collections::BTreeMap<&str, String> = Default::default();
        for (project, file, data) in wheels {
            std::fs::write(files.join(file), data).unwrap();
            let sha = hex::encode(Sha256::digest(data));
            pages
                .entry(project)
                .or_default()
                .push_str(&format!("<a href=\"../../files/{file}#sha256={sha}\">{file}</a>\n"));
        }
        for (project, links) in pages {
            let page = dir.path().join("simple").join(project);
            std::fs::create_dir_all(&page).unwrap();
            std::fs::write(page.join("index.html"), format!("<html><body>\n{links}</body></html>\n")).unwrap();
        }
        let url = format!("{}/simple", super::debrepo::serve(dir.path().to_path_buf()));
        Index { url, _dir: dir }
    }
}

/// The hex SHA-256 of `data`, as requirements pin it.
pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
