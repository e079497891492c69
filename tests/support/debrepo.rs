//! A hermetic, signed Debian repository for tests: real `.deb` files, `Packages(.xz)`, a
//! `Release` and a clearsigned `InRelease` made with a freshly generated OpenPGP key, served
//! over HTTP/1.1 from 127.0.0.1 by a background thread.
//!
//! ```ignore
//! let repo = TestRepo::build(&[("bookworm", vec![pkg("hello", "1.0").depends("libc6").file("usr/bin/hello", b"hi", 0o755)])], Hostile::default());
//! // repo.url, repo.keyring, repo.source("bookworm")
//! ```
//!
//! [`Hostile`] knobs turn it into an attacker's mirror.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
    SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{Password, SigningKey, Timestamp};
use sha2::{Digest, Sha256};

/// A package to build into the repository.
#[derive(Clone, Debug)]
pub struct TestPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub depends: Option<String>,
    pub pre_depends: Option<String>,
    pub provides: Option<String>,
    pub multi_arch: Option<String>,
    /// (path, content, mode)
    pub files: Vec<(String, Vec<u8>, u32)>,
    /// (path, target)
    pub symlinks: Vec<(String, String)>,
}

/// `pkg("hello", "1.0")`: an amd64 package with no files yet.
pub fn pkg(name: &str, version: &str) -> TestPackage {
    TestPackage {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        depends: None,
        pre_depends: None,
        provides: None,
        multi_arch: None,
        files: Vec::new(),
        symlinks: Vec::new(),
    }
}

impl TestPackage {
    pub fn arch(mut self, a: &str) -> Self {
        self.arch = a.into();
        self
    }
    pub fn depends(mut self, d: &str) -> Self {
        self.depends = Some(d.into());
        self
    }
    pub fn pre_depends(mut self, d: &str) -> Self {
        self.pre_depends = Some(d.into());
        self
    }
    pub fn provides(mut self, p: &str) -> Self {
        self.provides = Some(p.into());
        self
    }
    pub fn multi_arch(mut self, m: &str) -> Self {
        self.multi_arch = Some(m.into());
        self
    }
    pub fn file(mut self, path: &str, content: &[u8], mode: u32) -> Self {
        self.files.push((path.into(), content.to_vec(), mode));
        self
    }
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.symlinks.push((path.into(), target.into()));
        self
    }

    fn control(&self) -> String {
        let mut c = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: Test <test@example.invalid>\n",
            self.name, self.version, self.arch
        );
        for (field, v) in [
            ("Multi-Arch", &self.multi_arch),
            ("Pre-Depends", &self.pre_depends),
            ("Depends", &self.depends),
            ("Provides", &self.provides),
        ] {
            if let Some(v) = v {
                c.push_str(&format!("{field}: {v}\n"));
            }
        }
        c.push_str(&format!("Description: test package {}\n", self.name));
        c
    }

    pub fn deb_filename(&self) -> String {
        let first = &self.name[..1];
        format!("pool/main/{first}/{}/{}_{}_{}.deb", self.name, self.name, self.version.replace(':', "%3a"), self.arch)
    }
}

/// Ways to make the repository hostile.
#[derive(Clone, Debug, Default)]
pub struct Hostile {
    /// Replace this package's `.deb` after it was indexed (the Packages digest no longer matches).
    pub tamper_deb: Option<String>,
    /// Sign InRelease with a different key than the one written to the keyring.
    pub foreign_signer: bool,
    /// Put a wrong SHA256 for every Packages index into Release.
    pub wrong_packages_digest: bool,
    /// Set `Valid-Until` one day in the past.
    pub expired: bool,
}

pub struct TestRepo {
    /// Base URL of the archive (holds `dists/` and `pool/`), no trailing slash.
    pub url: String,
    /// Binary OpenPGP keyring with the repository's public key.
    pub keyring: PathBuf,
    /// Where the repository's files are.
    pub root: PathBuf,
    /// The `.deb` bytes as indexed, by package name.
    pub debs: Vec<(String, Vec<u8>)>,
    /// The key that signs the `InRelease` files.
    pub signer: SignedSecretKey,
    _dir: tempfile::TempDir,
}

impl TestRepo {
    /// Builds the repository for `suites` (each a name and its packages) and starts serving it.
    pub fn build(suites: &[(&str, Vec<TestPackage>)], hostile: Hostile) -> TestRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("archive");
        let signer = keygen("Lucid Test Archive <archive@example.invalid>");
        let keyring = dir.path().join("keyring.gpg");
        let public = SignedPublicKey::from(signer.clone());
        std::fs::write(&keyring, public.to_bytes().expect("serialise key")).expect("write keyring");
        let signing = if hostile.foreign_signer { keygen("Mallory <m@example.invalid>") } else { signer.clone() };

        let mut debs = Vec::new();
        for (suite, packages) in suites {
            write_suite(&root, suite, packages, &signing, &hostile, &mut debs);
        }
        let url = serve(root.clone());
        TestRepo { url, keyring, root, debs, signer: signing, _dir: dir }
    }

    /// Re-dates `suite`'s Release to `date` (Unix seconds) and signs it again with the archive's
    /// key: a validly signed Release of another day, as an archive really published one.
    pub fn redate(&self, suite: &str, date: i64) {
        let dists = self.root.join("dists").join(suite);
        let release = std::fs::read_to_string(dists.join("Release")).unwrap();
        let release: String = release
            .lines()
            .map(|l| if l.starts_with("Date:") { format!("Date: {}\n", rfc2822(date)) } else { format!("{l}\n") })
            .collect();
        std::fs::write(dists.join("Release"), &release).unwrap();
        let signed = CleartextSignedMessage::sign(
            rand::thread_rng(),
            &release,
            &self.signer.secret_subkeys[0].key,
            &Password::empty(),
        )
        .expect("sign InRelease");
        std::fs::write(dists.join("InRelease"), signed.to_armored_string(ArmorOptions::default()).unwrap()).unwrap();
    }

    /// The fingerprint (upper-case hex) of the certificate whose key signs the `InRelease`.
    pub fn fingerprint(&self) -> String {
        use pgp::types::KeyDetails;
        format!("{:X}", self.signer.primary_key.fingerprint())
    }

    /// The fingerprint (upper-case hex) of the certificate in [`TestRepo::keyring`].
    pub fn keyring_fingerprint(&self) -> String {
        use pgp::composed::Deserializable;
        use pgp::types::KeyDetails;
        let key = SignedPublicKey::from_bytes(std::fs::read(&self.keyring).unwrap().as_slice()).unwrap();
        format!("{:X}", key.primary_key.fingerprint())
    }

    /// A `lucid::debian::Source` for `suite` (main only).
    pub fn source(&self, suite: &str) -> lucid::debian::Source {
        lucid::debian::Source { uri: self.url.clone(), suite: suite.into(), components: vec!["main".into()] }
    }

    /// Publishes `packages` as `suite`'s new contents, signed by the archive's key: what an
    /// archive does when a point release or a security update lands.
    pub fn publish(&mut self, suite: &str, packages: &[TestPackage]) {
        write_suite(&self.root, suite, packages, &self.signer, &Hostile::default(), &mut self.debs);
    }

    /// Deletes `package`'s `.deb` from the pool: what Debian's mirrors do with a security update
    /// once a newer one supersedes it.
    pub fn remove(&self, package: &TestPackage) {
        std::fs::remove_file(self.root.join(package.deb_filename())).unwrap();
    }

    /// Overwrites a file of the served archive (path relative to the archive root).
    pub fn overwrite(&self, rel: &str, data: &[u8]) {
        std::fs::write(self.root.join(rel), data).unwrap();
    }
}

/// Writes `suite`'s packages, its Packages index and its InRelease signed by `signing` under
/// `root`, replacing what the suite held; adds each `.deb` to `debs`.
fn write_suite(
    root: &Path,
    suite: &str,
    packages: &[TestPackage],
    signing: &SignedSecretKey,
    hostile: &Hostile,
    debs: &mut Vec<(String, Vec<u8>)>,
) {
    let mut index = String::new();
    for p in packages {
        let deb = build_deb(p);
        let filename = p.deb_filename();
        let path = root.join(&filename);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &deb).unwrap();
        index.push_str(&p.control());
        index.push_str(&format!("Filename: {filename}\nSize: {}\nSHA256: {}\n\n", deb.len(), sha256(&deb)));
        if hostile.tamper_deb.as_deref() == Some(p.name.as_str()) {
            let mut evil = deb.clone();
            let n = evil.len();
            evil[n - 1] ^= 0xff;
            std::fs::write(&path, &evil).unwrap();
        }
        debs.push((p.name.clone(), deb));
    }
    let dists = root.join("dists").join(suite);
    let bin = dists.join("main/binary-amd64");
    std::fs::create_dir_all(&bin).unwrap();
    let xz = xz(index.as_bytes());
    std::fs::write(bin.join("Packages"), &index).unwrap();
    std::fs::write(bin.join("Packages.xz"), &xz).unwrap();
    let now = now();
    let mut release = format!(
        "Origin: Lucid Test\nLabel: Lucid Test\nSuite: {suite}\nCodename: {suite}\nDate: {}\nValid-Until: {}\n\
         Architectures: amd64\nComponents: main\nSHA256:\n",
        rfc2822(now - 3600),
        rfc2822(if hostile.expired { now - 86400 } else { now + 7 * 86400 })
    );
    for (name, data) in [("Packages", index.as_bytes()), ("Packages.xz", xz.as_slice())] {
        let digest = if hostile.wrong_packages_digest { sha256(b"not the index") } else { sha256(data) };
        release.push_str(&format!(" {digest} {} main/binary-amd64/{name}\n", data.len()));
    }
    std::fs::write(dists.join("Release"), &release).unwrap();
    let signed =
        CleartextSignedMessage::sign(rand::thread_rng(), &release, &signing.secret_subkeys[0].key, &Password::empty())
            .expect("sign InRelease");
    let armored = signed.to_armored_string(ArmorOptions::default()).expect("armor InRelease");
    std::fs::write(dists.join("InRelease"), armored).unwrap();
}

/// The binary keyring (public certificate) of `key`.
pub fn keyring_of(key: &SignedSecretKey) -> Vec<u8> {
    SignedPublicKey::from(key.clone()).to_bytes().expect("serialise key")
}

/// Clearsigns `text` with the signing subkey (or, with `primary`, the certification-only
/// primary key) using `hash`: lets tests make signatures a real archive must never accept.
pub fn clearsign_with(key: &SignedSecretKey, text: &str, hash: HashAlgorithm, primary: bool) -> String {
    fn sign<K: SigningKey>(k: &K, text: &str, hash: HashAlgorithm) -> CleartextSignedMessage {
        let mut config = SignatureConfig::from_key(rand::thread_rng(), k, SignatureType::Text).unwrap();
        config.hash_alg = hash;
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
            Subpacket::regular(SubpacketData::IssuerFingerprint(k.fingerprint())).unwrap(),
        ];
        CleartextSignedMessage::new(text, config, k, &Password::empty()).expect("sign")
    }
    let msg = if primary { sign(&key.primary_key, text, hash) } else { sign(&key.secret_subkeys[0].key, text, hash) };
    msg.to_armored_string(ArmorOptions::default()).expect("armor")
}

/// A minimal valid Release text for `suite`, dated an hour ago, valid for a week.
pub fn release_text(suite: &str) -> String {
    let now = now();
    format!(
        "Suite: {suite}\nCodename: {suite}\nDate: {}\nValid-Until: {}\nSHA256:\n {} 0 main/binary-amd64/Packages\n",
        rfc2822(now - 3600),
        rfc2822(now + 7 * 86400),
        sha256(b"")
    )
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn rfc2822(t: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    d.format(&time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] UTC"
    ))
    .unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// An Ed25519 certification key with an Ed25519 signing subkey (the subkey signs, as on
/// real archives that keep the primary offline).
pub fn keygen(uid: &str) -> SignedSecretKey {
    keygen_with(uid, KeyType::Ed25519Legacy)
}

/// [`keygen`] with another algorithm (RSA, for signatures with hashes Ed25519 refuses).
pub fn keygen_with(uid: &str, kind: KeyType) -> SignedSecretKey {
    let mut sub = SubkeyParamsBuilder::default();
    sub.key_type(kind.clone()).can_sign(true);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(kind)
        .can_certify(true)
        .can_sign(false)
        .primary_user_id(uid.into())
        .subkeys(vec![sub.build().expect("subkey params")]);
    params.build().expect("key params").generate(rand::thread_rng()).expect("generate key")
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn tar_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h
}

/// A real `.deb`: `debian-binary`, `control.tar.gz`, `data.tar.xz`, with parent directories
/// listed before their files as dpkg-deb writes them.
pub fn build_deb(p: &TestPackage) -> Vec<u8> {
    let mut control = tar::Builder::new(Vec::new());
    control.append_data(&mut tar_header(tar::EntryType::Directory, 0o755, 0), "./", std::io::empty()).unwrap();
    let c = p.control();
    control
        .append_data(&mut tar_header(tar::EntryType::Regular, 0o644, c.len() as u64), "./control", c.as_bytes())
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&control.into_inner().unwrap()).unwrap();
    let control_tar_gz = gz.finish().unwrap();

    let mut data = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    let all_paths = p.files.iter().map(|f| f.0.clone()).chain(p.symlinks.iter().map(|s| s.0.clone()));
    for path in all_paths {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            dirs.insert(parts[..i].join("/"));
        }
    }
    data.append_data(&mut tar_header(tar::EntryType::Directory, 0o755, 0), "./", std::io::empty()).unwrap();
    for d in &dirs {
        data.append_data(&mut tar_header(tar::EntryType::Directory, 0o755, 0), format!("./{d}/"), std::io::empty())
            .unwrap();
    }
    for (path, content, mode) in &p.files {
        let mut h = tar_header(tar::EntryType::Regular, *mode, content.len() as u64);
        data.append_data(&mut h, format!("./{path}"), content.as_slice()).unwrap();
    }
    for (path, target) in &p.symlinks {
        let mut h = tar_header(tar::EntryType::Symlink, 0o777, 0);
        data.append_link(&mut h, format!("./{path}"), target).unwrap();
    }
    let data_tar_xz = xz(&data.into_inner().unwrap());

    let mut ar = ar::Builder::new(Vec::new());
    for (name, body) in
        [("debian-binary", b"2.0\n".to_vec()), ("control.tar.gz", control_tar_gz), ("data.tar.xz", data_tar_xz)]
    {
        let mut h = ar::Header::new(name.as_bytes().to_vec(), body.len() as u64);
        h.set_mode(0o100644);
        ar.append(&h, body.as_slice()).unwrap();
    }
    ar.into_inner().unwrap()
}

/// Serves `root` over HTTP/1.1 on 127.0.0.1 (one thread per connection, `Connection: close`)
/// and returns the base URL. The server lives as long as the test process.
pub fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = handle(stream, &root);
            });
        }
    });
    format!("http://{addr}")
}

fn handle(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let rel = path.trim_start_matches('/');
    // A directory URL (a package index's project page) serves its index.html.
    let index = format!("{rel}index.html");
    let rel = if rel.is_empty() || rel.ends_with('/') { index.as_str() } else { rel };
    let file = if rel.split('/').any(|c| c == "..") { None } else { std::fs::read(root.join(rel)).ok() };
    match file {
        Some(body) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        None => {
            let body = b"not found\n";
            write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
            stream.write_all(body)?;
        }
    }
    let mut sink = [0u8; 1];
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = reader.read(&mut sink);
    Ok(())
}
