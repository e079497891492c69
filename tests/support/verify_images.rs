//! Images for the `lucid verify` tests, made with lucid's own writer: one good distroless image
//! and variations that each break one rule, plus broken archives (hostile names, corrupt gzip).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use lucid::oci::{BuiltImage, ImageConfig, LayerBlob, assemble, digest_of, write_layer};
use lucid::rootfs::{Entry, Tree};

pub const MTIME: i64 = 1_700_000_000;

/// A small distroless-looking tree: accounts, a home owned by 65532, a sticky /tmp, one program.
pub fn good_tree() -> Tree {
    let mut t = Tree::new();
    let passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
    t.insert("etc/passwd", Entry::file(passwd.as_bytes().to_vec(), 0o644)).unwrap();
    t.insert("etc/group", Entry::file(b"root:x:0:\nnonroot:x:65532:\n".to_vec(), 0o644)).unwrap();
    t.insert("tmp", Entry::dir(0o1777)).unwrap();
    t.insert("root", Entry::dir(0o700)).unwrap();
    t.insert("home/nonroot", Entry::dir(0o700).owned(65532, 65532)).unwrap();
    t.insert("usr/bin/app", Entry::file(b"\x7fELF not really".to_vec(), 0o755)).unwrap();
    t.insert("usr/share/app/README", Entry::file(b"-----BEGIN PRIVATE KEY----- is what we look for\n".to_vec(), 0o644))
        .unwrap();
    t
}

pub fn good_config() -> ImageConfig {
    let mut labels = BTreeMap::new();
    for (k, v) in [
        ("org.opencontainers.image.title", "corpus"),
        ("org.opencontainers.image.description", "lucid verify test image"),
        ("org.opencontainers.image.licenses", "Apache-2.0"),
        ("org.opencontainers.image.created", "2023-11-14T22:13:20Z"),
        ("dev.lucid.stage", "runtime-stage"),
        ("dev.lucid.budget", "1MB"),
    ] {
        labels.insert(k.to_string(), v.to_string());
    }
    ImageConfig {
        platform: lucid::platform::Platform::parse("linux/amd64").unwrap(),
        user: "65532:65532".into(),
        env: vec!["PATH=/usr/bin".into()],
        entrypoint: vec![],
        cmd: vec!["/usr/bin/app".into()],
        working_dir: "/home/nonroot".into(),
        labels,
        created: MTIME,
        history: vec![],
    }
}

/// A variation of the good image: what it changes and the one check that must catch it.
pub struct Bad {
    pub name: &'static str,
    pub expect: &'static str,
    pub tree: Tree,
    pub config: ImageConfig,
    /// An extra layer on top (whiteouts, overwrites).
    pub upper: Option<Tree>,
}

fn with(name: &'static str, expect: &'static str, f: impl FnOnce(&mut Tree, &mut ImageConfig)) -> Bad {
    let (mut tree, mut config) = (good_tree(), good_config());
    f(&mut tree, &mut config);
    Bad { name, expect, tree, config, upper: None }
}

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";

pub fn corpus() -> Vec<Bad> {
    let exe = |t: &mut Tree, p: &str| t.insert(p, Entry::file(b"\x7fELF".to_vec(), 0o755)).unwrap();
    vec![
        with("root-user", "LUCID-USER-001", |_, c| c.user = "0:0".into()),
        with("user-by-name", "LUCID-USER-002", |_, c| c.user = "nonroot".into()),
        with("shell", "LUCID-SHELL-001", |t, _| {
            exe(t, "usr/bin/dash");
            t.insert("bin/sh", Entry::symlink("/usr/bin/dash")).unwrap();
        }),
        with("apt-dpkg", "LUCID-PKGMGR-001", |t, _| {
            exe(t, "usr/bin/apt");
            exe(t, "usr/bin/dpkg");
        }),
        with("pip-in-runtime", "LUCID-PKGMGR-002", |t, _| {
            exe(t, "usr/bin/pip3");
            t.insert("usr/lib/python3/dist-packages/pip/__main__.py", Entry::file(b"".to_vec(), 0o644)).unwrap();
        }),
        with("compiler", "LUCID-COMPILER-001", |t, _| exe(t, "usr/bin/x86_64-linux-gnu-gcc-12")),
        with("setuid", "LUCID-FILE-001", |t, _| {
            t.insert("usr/bin/su", Entry::file(b"\x7fELF".to_vec(), 0o4755)).unwrap();
        }),
        with("world-writable-dir", "LUCID-FILE-002", |t, _| t.insert("var/cache/app", Entry::dir(0o777)).unwrap()),
        with("private-key", "LUCID-SECRET-001", |t, _| {
            t.insert("etc/ssl/private/server.key", Entry::file(PEM.as_bytes().to_vec(), 0o600)).unwrap();
        }),
        with("dotenv", "LUCID-SECRET-002", |t, _| {
            t.insert("home/nonroot/app/.env", Entry::file(b"DB_PASSWORD=hunter2\n".to_vec(), 0o600)).unwrap();
        }),
        with("secret-env", "LUCID-SECRET-003", |_, c| c.env.push("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG".into())),
        with("over-budget", "LUCID-SIZE-001", |t, _| {
            // Incompressible, so the compressed size is over too.
            let mut x: u64 = 0x9e3779b97f4a7c15;
            let data: Vec<u8> = (0..1_500_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            t.insert("usr/share/app/blob", Entry::file(data, 0o644)).unwrap();
        }),
        with("shell-form-cmd", "LUCID-META-004", |_, c| {
            c.cmd = vec!["/bin/sh".into(), "-c".into(), "/usr/bin/app".into()];
        }),
        {
            // A key deleted by an upper layer still ships in the lower one.
            let mut b = with("deleted-key", "LUCID-SECRET-001", |t, _| {
                t.insert("root/.ssh/deploy", Entry::file(PEM.as_bytes().to_vec(), 0o600)).unwrap();
            });
            let mut upper = Tree::new();
            upper.insert("root/.ssh/.wh.deploy", Entry::file(Vec::new(), 0o644)).unwrap();
            b.upper = Some(upper);
            b
        },
    ]
}

/// Writes `tree` (+ `upper`) with `config` as an OCI layout at `dir` tagged `latest`, plus a
/// docker-archive beside it; returns the image.
pub fn write(dir: &Path, tree: &Tree, upper: Option<&Tree>, config: ImageConfig) -> BuiltImage {
    let blobs = dir.join("blobs-src");
    let mut layers = vec![write_layer(tree, MTIME, &blobs).unwrap()];
    if let Some(u) = upper {
        layers.push(write_layer(u, MTIME, &blobs).unwrap());
    }
    let image = assemble(config, layers).unwrap();
    lucid::oci::layout::write_layout(&dir.join("layout"), &[(&image, vec!["latest".into()])]).unwrap();
    lucid::oci::archive::write_docker_archive(&dir.join("image.tar"), &image, &["corpus:latest".into()]).unwrap();
    image
}

/// A gzip layer blob from raw tar bytes (so names the tar crate refuses can be written).
pub fn raw_layer(dir: &Path, tar: &[u8]) -> LayerBlob {
    std::fs::create_dir_all(dir).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(tar).unwrap();
    let data = gz.finish().unwrap();
    let digest = digest_of(&data);
    let path = dir.join(format!("{}.tar.gz", &digest[7..]));
    std::fs::write(&path, &data).unwrap();
    LayerBlob { digest, diff_id: digest_of(tar), size: data.len() as u64, uncompressed_size: tar.len() as u64, path }
}

/// A tar holding one regular file named `name`, bytes written raw.
pub fn raw_tar(name: &str, content: &[u8]) -> Vec<u8> {
    raw_tar_mode(name, content, 0o644)
}

/// [`raw_tar`] with the file's mode.
pub fn raw_tar_mode(name: &str, content: &[u8], mode: u32) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(content.len() as u64);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0; 1024]);
    out
}
