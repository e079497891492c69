//! End to end: the `/etc/ld.so.cache` that `lucid build` writes into lucid-python-base, for both
//! platforms, read by the real consumers: Python's `ctypes.util.find_library` (which runs the
//! image's own `/sbin/ldconfig -p`) and `ctypes.CDLL` as the image user in the Docker engine,
//! arm64 under qemu; the image's own `ldconfig`, which writes the same bytes; and the host's
//! `ldconfig -p -C FILE` on the cache read back from the OCI layout.
//!
//! Needs what build_python needs (the Debian mirror, the package index, a Docker engine) and
//! qemu-user-static for linux/arm64.

mod support;

use std::path::Path;
use std::process::Command;

use lucid::oci::Image;
use lucid::rootfs::ldcache;
use lucid::rootfs::{Node, Tree};
use lucid::spec::Platform;
use support::{docker, docker_ok};

const FIND: &str = "import ctypes.util as u; \
                    print(u.find_library('c'), u.find_library('ssl'), u.find_library('z'), u.find_library('stdc++'))";
const FOUND: &str = "libc.so.6 libssl.so.3 libz.so.1 libstdc++.so.6";
const LOAD: &str = "import ctypes, ctypes.util as u; \
                    ssl = ctypes.CDLL(u.find_library('ssl')); ssl.OpenSSL_version.restype = ctypes.c_char_p; \
                    print(ssl.OpenSSL_version(0).decode())";

/// An image or container of this test, removed however the test ends.
struct Removed<'a>(&'a [&'a str], String);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let mut args = self.0.to_vec();
        args.push(&self.1);
        docker_ok(&args);
    }
}

/// Runs `python -c code` as the image user (65532) in `image` on `platform`.
fn python(image: &str, platform: &str, code: &str) -> String {
    docker(&["run", "--rm", "--platform", platform, "--user", "65532", image, "python", "-c", code]).trim().to_string()
}

/// The cache the image's own `ldconfig` writes (as root, making no links), and the one lucid put
/// in the image, both copied out of a container of `image`.
fn caches(image: &str, platform: &str, dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let id = docker(&[
        "create",
        "--platform",
        platform,
        "--user",
        "0",
        "--entrypoint",
        "/sbin/ldconfig",
        image,
        "-X",
        "-i",
        "-C",
        "/tmp/ld.so.cache",
    ])
    .trim()
    .to_string();
    let _container = Removed(&["rm", "-f"], id.clone());
    docker(&["start", "-a", &id]);
    let read = |from: &str| {
        let to = dir.join(format!("{}-{}", platform.replace('/', "-"), from.replace('/', "-")));
        docker(&["cp", &format!("{id}:{from}"), to.to_str().unwrap()]);
        std::fs::read(&to).unwrap()
    };
    (read("/tmp/ld.so.cache"), read("/etc/ld.so.cache"))
}

/// A copy of the docker-archive `from` whose `manifest.json` tags its image `tag` instead, so
/// that loading it leaves the tags of the repository's own images alone.
fn retagged(from: &Path, to: &Path, tag: &str) {
    let mut archive = tar::Archive::new(std::fs::File::open(from).unwrap());
    let mut out = tar::Builder::new(std::fs::File::create(to).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            let mut manifest: serde_json::Value = serde_json::from_slice(&data).unwrap();
            manifest[0]["RepoTags"] = serde_json::json!([tag]);
            data = serde_json::to_vec(&manifest).unwrap();
            header.set_size(data.len() as u64);
            header.set_cksum();
        }
        out.append(&header, data.as_slice()).unwrap();
    }
    out.finish().unwrap();
}

/// The whole tree of the image for `arch` in the OCI layout `dir`, its layers merged.
fn layout_tree(dir: &Path, arch: &str) -> Tree {
    let descriptors = lucid::oci::read::layout_manifests(dir, Some("latest")).unwrap();
    let desc = descriptors
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.architecture == arch))
        .unwrap_or_else(|| panic!("no {arch} image in {}", dir.display()));
    let view = lucid::oci::read::open_layout_manifest(dir, desc, Some("latest")).unwrap();
    let mut tree = Tree::new();
    for i in 0..view.layers.len() {
        tree.merge(lucid::oci::read::layer_tree(view.layer_tar(i).unwrap()).unwrap()).unwrap();
    }
    tree
}

#[test]
fn python_base_finds_its_libraries_through_ld_so_cache() {
    support::require_docker();
    support::require_tool("qemu-aarch64-static");
    let (out, _) = support::build_and_load(&["lucid-python-base"], &[], "lucid-python-base", 100);
    let arm64 = "lucid-test-ldcache-arm64:latest";
    let archive = out.path().join("arm64.tar");
    retagged(&out.path().join("lucid-python-base.linux-arm64.tar"), &archive, arm64);
    docker(&["load", "-i", archive.to_str().unwrap()]);
    let _image = Removed(&["rmi", "-f"], arm64.to_string());

    for (image, platform) in [("lucid-python-base:latest", "linux/amd64"), (arm64, "linux/arm64")] {
        // What Python finds by name, and loads by what it found, as the image user.
        assert_eq!(python(image, platform, FIND), FOUND, "{platform}");
        let version = python(image, platform, LOAD);
        assert!(version.starts_with("OpenSSL 3."), "{platform}: {version}");
        // The image's own ldconfig writes the same cache, but for its version string.
        let (theirs, ours) = caches(image, platform, out.path());
        assert!(ldcache::without_extension(&theirs) == Some(ours), "{platform}: ldconfig writes another cache");
    }

    // The cache in the OCI layout, read by the host's ldconfig, and made again from the image.
    let layout = out.path().join("lucid-python-base");
    for (arch, tag) in [("amd64", "(libc6,x86-64)"), ("arm64", "(libc6,AArch64)")] {
        let tree = layout_tree(&layout, arch);
        let Some(Node::File(bytes)) = tree.get(ldcache::PATH).map(|e| &e.node) else {
            panic!("{arch}: no /{} in the image", ldcache::PATH)
        };
        let file = out.path().join(format!("ld.so.cache.{arch}"));
        std::fs::write(&file, bytes.as_slice()).unwrap();
        let printed = Command::new("/sbin/ldconfig").arg("-p").arg("-C").arg(&file).output().unwrap();
        let text = String::from_utf8_lossy(&printed.stdout);
        assert!(printed.status.success(), "{arch}: {}", String::from_utf8_lossy(&printed.stderr));
        let entries: Vec<&str> = text.lines().skip(1).collect();
        assert!(entries.len() > 20, "{arch}: {text}");
        for line in &entries {
            assert!(line.contains(tag), "{arch}: {line}");
            let path = line.rsplit(" => ").next().unwrap();
            assert!(tree.read(path).is_some(), "{arch}: {path} is listed but not in the image");
        }
        for soname in FOUND.split(' ') {
            assert!(
                entries.iter().any(|l| l.trim().starts_with(&format!("{soname} {tag}"))),
                "{arch}: {soname}: {text}"
            );
        }
        let platform = Platform::parse(&format!("linux/{arch}")).unwrap();
        assert!(ldcache::build(&tree, &platform).to_bytes() == bytes.as_slice(), "{arch}: not made again the same");
    }
}
