//! What Debian's maintainer scripts would have made, made by the builder on purpose and visibly.
//!
//! No maintainer script ever runs (there is no shell to run it in, and running foreign code at
//! build time would make the build neither hermetic nor reproducible), so each of their effects
//! that an image needs is written here: accounts, home directories, `/tmp`, the CA bundle and the
//! OpenSSL links to it, the time zone, `os-release`, name-service configuration, interpreter links,
//! the dynamic linker's cache and the per-package dpkg status files that vulnerability scanners read.

use std::sync::Arc;

use anyhow::{Context, Result};

use super::ldcache::{self, LdCache};
use super::tree::{Entry, Node, Origin, Tree};
use crate::formats::pem;
use crate::platform::Platform;
use crate::spec::User;

/// Root, the image user and nobody, with homes that their owners own. Login shells point at
/// `/sbin/nologin` (absent on purpose): nobody logs into a container.
///
/// The image user's home (also the working directory) belongs to the user and to group 0, mode
/// 0770, as the OpenShift image guidelines ask: its restricted policy runs an arbitrary UID with
/// group 0, which then can write its home too. The image user keeps what it had (owner, full
/// access); nobody else but group 0 gets in.
pub fn add_accounts(tree: &mut Tree, user: &User) -> Result<()> {
    let passwd = format!(
        "root:x:0:0:root:/root:/sbin/nologin\n\
         {name}:x:{uid}:{gid}:{name}:{home}:/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
        name = user.name,
        uid = user.uid,
        gid = user.gid,
        home = user.home
    );
    let group = format!("root:x:0:\n{name}:x:{gid}:\nnobody:x:65534:\n", name = user.name, gid = user.gid);
    tree.insert("etc/passwd", Entry::file(passwd, 0o644))?;
    tree.insert("etc/group", Entry::file(group, 0o644))?;
    tree.insert("root", Entry::dir(0o700))?;
    tree.insert(&user.home, Entry::dir(0o770).owned(user.uid, 0))?;
    Ok(())
}

/// `/tmp` and `/var/tmp` world-writable with the sticky bit, as every program expects.
pub fn add_tmp(tree: &mut Tree) -> Result<()> {
    tree.insert("tmp", Entry::dir(0o1777))?;
    tree.insert("var/tmp", Entry::dir(0o1777))?;
    Ok(())
}

/// The applets a debug image links beside its busybox (busybox's own shell runs every applet
/// without a link; these are for `docker run --entrypoint /busybox/ls` and for other shells'
/// habits): the shell and what looking around needs.
const BUSYBOX_LINKS: &[&str] = &[
    "sh", "ls", "cat", "ps", "top", "id", "env", "find", "grep", "head", "tail", "less", "vi", "du", "df", "stat",
    "wget", "nslookup", "netstat", "kill", "tar",
];

/// Moves busybox-static's `bin/busybox` (under `usr/` on a merged-/usr release) to `DIR/busybox`,
/// with [`BUSYBOX_LINKS`] beside it: a debug image's shell, in a directory of its own so the
/// image's `PATH` finds its own programs first and `/bin/sh` still does not exist.
pub fn move_busybox(tree: &mut Tree, dir: &str) -> Result<()> {
    let key = ["bin/busybox", "usr/bin/busybox"]
        .into_iter()
        .find(|k| tree.get(k).is_some_and(|e| matches!(e.node, Node::File(_))))
        .ok_or_else(|| anyhow::anyhow!("busybox-static left no bin/busybox to move to /{dir}"))?;
    let entry = tree.get(key).cloned().expect("found above");
    tree.remove(key);
    tree.insert(dir, Entry::dir(0o755))?;
    tree.insert(&format!("{dir}/busybox"), entry)?;
    for applet in BUSYBOX_LINKS {
        tree.insert(&format!("{dir}/{applet}"), Entry::symlink("busybox"))?;
    }
    Ok(())
}

/// The CA bundle `update-ca-certificates` would write, built from the certificates the
/// ca-certificates package ships (sorted by path, so the bundle is the same on every run), plus
/// the links OpenSSL looks for: without `/usr/lib/ssl/cert.pem` Python's `ssl` loads no CA.
/// Returns the number of certificates, or 0 when the package is not in the image.
pub fn add_ca_bundle(tree: &mut Tree) -> Result<usize> {
    let mut bundle = Vec::new();
    let certs = ca_certificates(tree);
    for (_, data) in &certs {
        bundle.extend_from_slice(data);
        if !bundle.ends_with(b"\n") {
            bundle.push(b'\n');
        }
    }
    let count = certs.len();
    if count == 0 {
        return Ok(0);
    }
    tree.insert("etc/ssl/certs/ca-certificates.crt", Entry::file(bundle, 0o644))?;
    tree.insert("usr/lib/ssl/cert.pem", Entry::symlink("/etc/ssl/certs/ca-certificates.crt"))?;
    if !tree.contains("usr/lib/ssl/certs") {
        tree.insert("usr/lib/ssl/certs", Entry::symlink("/etc/ssl/certs"))?;
    }
    Ok(count)
}

/// Where the spec's own trust anchors go: Debian's place for local CA certificates, which
/// `update-ca-certificates` adds to the bundle after the packaged ones.
pub const LOCAL_CA_DIR: &str = "usr/local/share/ca-certificates";

/// The CA certificates the ca-certificates package ships (`usr/share/ca-certificates/**/*.crt`,
/// PEM), then the local ones (`usr/local/share/ca-certificates/**/*.crt`), each sorted by path:
/// what `update-ca-certificates` enables by default, and the one source of both the PEM bundle
/// and the Java trust store.
pub fn ca_certificates(tree: &Tree) -> Vec<(String, Arc<Vec<u8>>)> {
    ["usr/share/ca-certificates", LOCAL_CA_DIR]
        .into_iter()
        .flat_map(|dir| tree.iter_under(dir))
        .filter_map(|(key, entry)| match &entry.node {
            Node::File(data) if key.ends_with(".crt") => Some((key.clone(), data.clone())),
            _ => None,
        })
        .collect()
}

/// The spec's own CA certificates as `LOCAL_CA_DIR/lucid/<file stem>.crt`, each checked to hold
/// at least one PEM certificate (a typo in a path or a key file given by mistake is an error
/// naming the file, not a silently untrusted CA).
pub fn add_trust_anchors(tree: &mut Tree, files: &[(String, Vec<u8>)]) -> Result<()> {
    for (name, data) in files {
        // Only certificates go in: a combined PEM (certificate and key, as web servers take them)
        // would put its private key into every image.
        let text = std::str::from_utf8(data).with_context(|| format!("trust: {name} is not a PEM text file"))?;
        if let Some(label) = pem::other_block(text) {
            anyhow::bail!("trust: {name} holds a {label} block: give a file with CERTIFICATE blocks only");
        }
        let certificates =
            pem::certificates(text).with_context(|| format!("trust: {name}: malformed PEM certificate"))?;
        if certificates.is_empty() {
            anyhow::bail!("trust: {name}: no certificate in it");
        }
        let stem = std::path::Path::new(name).file_stem().and_then(|s| s.to_str()).unwrap_or("anchor");
        let key = format!("{LOCAL_CA_DIR}/lucid/{stem}.crt");
        if tree.contains(&key) {
            anyhow::bail!("trust: {name} and another file would both become /{key}: rename one");
        }
        tree.insert(&key, Entry::file(data.clone(), 0o644))?;
    }
    Ok(())
}

/// UTC as the local time, when tzdata is present.
pub fn add_localtime(tree: &mut Tree) -> Result<()> {
    if tree.contains("usr/share/zoneinfo/Etc/UTC") {
        tree.insert("etc/localtime", Entry::symlink("/usr/share/zoneinfo/Etc/UTC"))?;
        tree.insert("etc/timezone", Entry::file("Etc/UTC\n", 0o644))?;
    }
    Ok(())
}

/// `/etc/os-release` (scanners identify the distribution by it) and `/etc/debian_version`, plus
/// an `nsswitch.conf` that reads files first (glibc's default without one asks DNS first).
pub fn add_os_files(tree: &mut Tree, debian_version: &str, codename: &str) -> Result<()> {
    let os_release = format!(
        "PRETTY_NAME=\"Lucid (Debian GNU/Linux {major} ({codename}))\"\n\
         NAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"{major}\"\n\
         VERSION=\"{major} ({codename})\"\n\
         VERSION_CODENAME={codename}\n\
         ID=debian\n\
         HOME_URL=\"https://www.debian.org/\"\n",
        major = debian_version.split('.').next().unwrap_or(debian_version)
    );
    tree.insert("etc/os-release", Entry::file(os_release, 0o644))?;
    tree.insert("etc/debian_version", Entry::file(format!("{debian_version}\n"), 0o644))?;
    tree.insert(
        "etc/nsswitch.conf",
        Entry::file(
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n\
             protocols: files\nservices: files\nethers: files\nrpc: files\n",
            0o644,
        ),
    )?;
    Ok(())
}

/// The top-level directories a merged-/usr system makes links into `/usr`.
const USR_ALIASES: [&str; 4] = ["bin", "sbin", "lib", "lib64"];

/// Takes away the merged-/usr links of a tree (those [`merge_usr`] made), so that packages can be
/// unpacked over it before it is merged again.
pub fn unmerge_usr(tree: &mut Tree) {
    for alias in USR_ALIASES {
        if matches!(tree.get(alias).map(|e| &e.node), Some(Node::Symlink(t)) if *t == format!("usr/{alias}")) {
            tree.remove(alias);
        }
    }
}

/// Makes the tree a merged-/usr system, as Debian 13 is: whatever a package still put under
/// `/bin`, `/sbin`, `/lib` or `/lib64` moves to `/usr` (where dpkg writes it through the links on
/// such a system), and those four become links into `/usr` (`lib64` only where `/usr/lib64`
/// exists). Two packages with different content for one path are an error naming both.
pub fn merge_usr(tree: &mut Tree) -> Result<()> {
    for alias in USR_ALIASES {
        let moved: Vec<(String, Entry)> = tree.iter_under(alias).map(|(k, e)| (k.clone(), e.clone())).collect();
        let top = tree.get(alias).cloned();
        if let Some(Entry { node: Node::Symlink(t), .. }) = &top {
            if *t == format!("usr/{alias}") {
                continue;
            }
            anyhow::bail!("/{alias} is a link to {t}, not to usr/{alias}: the tree cannot be merged-/usr");
        }
        tree.remove(alias);
        for (key, entry) in moved {
            let to = format!("usr/{key}");
            match tree.get(&to) {
                Some(existing) if existing.node == Node::Dir && entry.node == Node::Dir => continue,
                Some(existing) if existing.node != entry.node => {
                    let who = |e: &Entry| match &e.origin {
                        Origin::Deb(p) => format!("package {p}"),
                        _ => "lucid".to_string(),
                    };
                    anyhow::bail!(
                        "merged /usr: /{key} ({}) and /{to} ({}) differ; they cannot be one file",
                        who(&entry),
                        who(existing)
                    );
                }
                _ => tree.insert(&to, entry)?,
            }
        }
        if alias != "lib64" || tree.contains("usr/lib64") {
            tree.ensure_dir(&format!("usr/{alias}"), 0o755, 0, 0)?;
            tree.insert(alias, Entry::symlink(format!("usr/{alias}")))?;
        }
    }
    Ok(())
}

/// `python3` and `python` links to the versioned interpreter, when it is present and the names
/// are free (Debian's python3-minimal ships `python3` itself in build images).
pub fn add_python_links(tree: &mut Tree, versioned: &str) -> Result<()> {
    if !tree.contains(&format!("usr/bin/{versioned}")) {
        return Ok(());
    }
    for name in ["python3", "python"] {
        let path = format!("usr/bin/{name}");
        if !tree.contains(&path) {
            tree.insert(&path, Entry::symlink(versioned))?;
        }
    }
    Ok(())
}

/// `/etc/ld.so.cache` for the shared libraries in the tree, as libc-bin's trigger (`ldconfig`)
/// would write it on `platform`: every image gets one, since Python's `ctypes.util.find_library`
/// reads it through `ldconfig -p` (`None` for `ssl`, `c`, `z` without it), `dlopen` by bare name
/// and ld.so look there first, and `ldconfig -p` itself prints it. Call it after pruning, so that
/// only libraries still in the image are listed. Returns the cache (entries, and what was skipped).
pub fn add_ld_cache(tree: &mut Tree, platform: &Platform) -> Result<LdCache> {
    let cache = ldcache::build(tree, platform);
    tree.insert(ldcache::PATH, Entry::file(cache.to_bytes(), 0o644))?;
    Ok(cache)
}

/// One `/var/lib/dpkg/status.d/<package>` file per package, in the format distroless uses:
/// the package's control paragraph. Scanners such as Trivy and Grype read these to know what is
/// inside an image that has no dpkg database.
pub fn add_dpkg_status(tree: &mut Tree, package: &str, control: &str) -> Result<()> {
    let mut text = control.trim_end().to_string();
    text.push('\n');
    tree.insert(&format!("var/lib/dpkg/status.d/{package}"), Entry::file(text, 0o644))
        .with_context(|| format!("cannot record the status of {package}"))
}

/// `/var/lib/dpkg/status.d/<package>.md5sums` for each of `packages`, in dpkg's format (hex MD5,
/// two spaces, the path without its leading `/`, sorted): which files each package put in the
/// image, after pruning. Scanners use it for file ownership, `lucid report` for bytes per package.
pub fn add_dpkg_md5sums(tree: &mut Tree, packages: &[String]) -> Result<()> {
    use md5::{Digest, Md5};
    let mut lists: std::collections::BTreeMap<&str, String> =
        packages.iter().map(|p| (p.as_str(), String::new())).collect();
    for (key, entry) in tree.iter() {
        if let (Node::File(data), Origin::Deb(pkg)) = (&entry.node, &entry.origin)
            && let Some(list) = lists.get_mut(pkg.as_ref())
        {
            list.push_str(&format!("{}  {key}\n", hex::encode(Md5::digest(data.as_slice()))));
        }
    }
    let lists: Vec<(String, String)> = lists.into_iter().map(|(p, l)| (p.to_string(), l)).collect();
    for (pkg, list) in lists {
        tree.insert(&format!("var/lib/dpkg/status.d/{pkg}.md5sums"), Entry::file(list, 0o644))
            .with_context(|| format!("cannot record the files of {pkg}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_anchors_refuse_private_keys() {
        let combined = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\
                        -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
        let mut tree = Tree::new();
        let err = add_trust_anchors(&mut tree, &[("corp.pem".into(), combined.as_bytes().to_vec())]).unwrap_err();
        assert!(format!("{err:#}").contains("corp.pem holds a PRIVATE KEY block"), "{err:#}");
        assert!(!tree.contains(&format!("{LOCAL_CA_DIR}/lucid/corp.crt")), "the key went into the tree");
    }

    #[test]
    fn accounts_and_bundle() {
        let mut t = Tree::new();
        let user = User { name: "nonroot".into(), uid: 65532, gid: 65532, home: "/home/nonroot".into() };
        add_accounts(&mut t, &user).unwrap();
        let passwd = String::from_utf8(t.read("etc/passwd").unwrap().to_vec()).unwrap();
        assert!(passwd.contains("nonroot:x:65532:65532:nonroot:/home/nonroot:"));
        assert_eq!(t.get("home/nonroot").unwrap().uid, 65532);
        assert_eq!(add_ca_bundle(&mut t).unwrap(), 0);
        t.insert("usr/share/ca-certificates/mozilla/B.crt", Entry::file("B", 0o644)).unwrap();
        t.insert("usr/share/ca-certificates/mozilla/A.crt", Entry::file("A\n", 0o644)).unwrap();
        assert_eq!(add_ca_bundle(&mut t).unwrap(), 2);
        assert_eq!(t.read("usr/lib/ssl/cert.pem").unwrap().as_slice(), b"A\nB\n");
    }
}
