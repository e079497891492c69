//! Debian's own python3.11 as a tree, unpacked from the real bookworm `.deb`s (fetched with the
//! host's `apt-get download`; the debian module replaces this in the build), for the tests that
//! run it through `lucid::rootfs::exec`.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use lucid::rootfs::{Entry, Node, Origin, Tree};

const PACKAGES: &[&str] = &[
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libc6",
    "zlib1g",
    "libexpat1",
    "libssl3",
    "libffi8",
];

/// Downloads the packages once into a directory shared by test runs.
pub fn debs() -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join("lucid-test-debs");
    std::fs::create_dir_all(&dir).unwrap();
    let have = |p: &str| {
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&format!("{p}_")))
    };
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        let st = Command::new("apt-get").arg("download").args(&missing).current_dir(&dir).status().unwrap();
        assert!(st.success(), "apt-get download {missing:?} failed");
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    out.sort();
    out
}

/// Unpacks a `.deb`'s data into `tree` (test helper: `dpkg-deb --fsys-tarfile` + the tar crate).
pub fn unpack(deb: &Path, tree: &mut Tree) {
    let name = deb.file_name().unwrap().to_string_lossy().split('_').next().unwrap().to_string();
    let origin = Origin::Deb(Arc::from(name.as_str()));
    let out = Command::new("dpkg-deb").arg("--fsys-tarfile").arg(deb).output().unwrap();
    assert!(out.status.success());
    let mut ar = tar::Archive::new(out.stdout.as_slice());
    for entry in ar.entries().unwrap() {
        let mut e = entry.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        if lucid::rootfs::tree::normalize(&path).is_err() {
            continue; // "./"
        }
        let mode = e.header().mode().unwrap() & 0o7777;
        let kind = e.header().entry_type();
        let entry = if kind.is_dir() {
            Entry::dir(mode)
        } else if kind.is_symlink() {
            Entry::symlink(e.link_name().unwrap().unwrap().to_string_lossy().into_owned())
        } else if kind.is_hard_link() {
            let target = e.link_name().unwrap().unwrap().to_string_lossy().into_owned();
            let data = tree.read(&target).unwrap().clone();
            Entry { node: Node::File(data), mode, uid: 0, gid: 0, origin: Origin::Builder }
        } else {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            Entry::file(data, mode)
        };
        tree.insert(&path, entry.from_origin(origin.clone())).unwrap();
    }
}

pub fn python_tree() -> Tree {
    let mut t = Tree::new();
    for deb in debs() {
        unpack(&deb, &mut t);
    }
    t
}
