//! Java: a `jlink` runtime made from the locked JDK, the trust store, and what Debian's
//! maintainer scripts and `update-alternatives` would have made around a JDK.
//!
//! An image gets its Java one of two ways (`java.runtime` in the spec):
//! - `jlink`: [`jlink::link`] links the spec's modules from the JDK `.deb` of the lock into a
//!   small runtime placed at `java.home`; the JDK itself never enters the image;
//! - `jdk`: the JDK package is installed as Debian ships it (build-stage images).
//!
//! Either way [`finish`] then writes the JKS trust store from the image's CA certificates, links
//! the runtime's `lib/security/cacerts` to it, makes the `/usr/bin` links that
//! `update-alternatives` would have made, and reads `JAVA_VERSION` from the runtime's `release`
//! file. [`cds_in_tree`] dumps a class-data-sharing archive with the image's own JVM.

pub mod jlink;
pub mod truststore;

use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::rootfs::exec;
use crate::rootfs::{Entry, Node, Origin, Tree, system};

/// What [`finish`] made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// `JAVA_HOME` (absolute).
    pub home: String,
    /// `JAVA_VERSION`, from the runtime's `release` file (`17.0.19`).
    pub version: String,
    /// Certificates in the trust store.
    pub anchors: usize,
    /// `/usr/bin` links made.
    pub links: Vec<String>,
}

/// Places a linked runtime (keys relative to its home) at `home` in `tree`.
pub fn place_runtime(tree: &mut Tree, runtime: &Tree, home: &str) -> Result<()> {
    let home = home.trim_start_matches('/');
    if tree.contains(home) {
        bail!("cannot place the jlink runtime at /{home}: the image's packages already have that path");
    }
    tree.insert(home, Entry::dir(0o755).from_origin(Origin::Java(Arc::from("jlink"))))?;
    for (key, entry) in runtime.iter() {
        tree.insert(&format!("{home}/{key}"), entry.clone())?;
    }
    Ok(())
}

/// Trust store (its entries dated `date`, Unix seconds), `cacerts` link, `/usr/bin` links and
/// version for the Java at `home` in `tree`.
pub fn finish(tree: &mut Tree, home: &str, date: i64) -> Result<Finished> {
    let home = home.trim_start_matches('/').to_string();
    let certs = system::ca_certificates(tree);
    if certs.is_empty() {
        bail!("no CA certificates for the Java trust store: add ca-certificates to the image's packages");
    }
    let pems: Vec<(String, &[u8])> = certs.iter().map(|(k, d)| (k.clone(), d.as_slice())).collect();
    let anchors = truststore::anchors_from_pem(&pems)?;
    let store = truststore::jks(&anchors, date)?;
    tree.insert(truststore::PATH, Entry::file(store, 0o644))?;
    let link = format!("{home}/lib/security/cacerts");
    let target = format!("/{}", truststore::PATH);
    if !matches!(tree.get(&link).map(|e| &e.node), Some(Node::Symlink(t)) if *t == target) {
        tree.insert(&link, Entry::symlink(target))?;
    }
    // update-alternatives' links (through /etc/alternatives in Debian; direct here).
    let tools: Vec<String> = tree
        .iter_under(&format!("{home}/bin"))
        .filter(|(k, e)| matches!(e.node, Node::File(_)) && !k[home.len() + 5..].contains('/'))
        .map(|(k, _)| k[home.len() + 5..].to_string())
        .collect();
    let mut links = Vec::new();
    for tool in tools {
        let path = format!("usr/bin/{tool}");
        if !tree.contains(&path) {
            tree.insert(&path, Entry::symlink(format!("/{home}/bin/{tool}")))?;
            links.push(format!("/{path}"));
        }
    }
    let release = tree.read(&format!("{home}/release")).with_context(|| format!("/{home} has no release file"))?;
    let version = release_value(&String::from_utf8_lossy(release), "JAVA_VERSION")
        .with_context(|| format!("/{home}/release names no JAVA_VERSION"))?;
    Ok(Finished { home: format!("/{home}"), version, anchors: anchors.len(), links })
}

/// `KEY="value"` from a JDK `release` file.
pub(crate) fn release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(|v| v.trim().trim_matches('"').to_string()))
}

/// Dumps the CDS archive of the Java at `home` by running that JVM out of `tree`, and adds it at
/// `home/lib/server/classes.jsa`. Returns its size.
pub fn cds_in_tree(tree: &mut Tree, home: &str) -> Result<u64> {
    let home = home.trim_start_matches('/');
    let scratch =
        tempfile::Builder::new().prefix("lucid-cds-").tempdir().context("cannot create a scratch directory")?;
    let root = scratch.path().join("root");
    let java =
        exec::materialize(tree, &root, &format!("{home}/bin/java"), |k| exec::under(k, home) || exec::under(k, "etc"))?;
    let out = scratch.path().join("out");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let archive = out.join("classes.jsa");
    jlink::dump_cds(&java, &archive, &crate::rootfs::sandbox::Sandbox::new().writable(&out))?;
    let data = std::fs::read(&archive).with_context(|| format!("cannot read {}", archive.display()))?;
    let size = data.len() as u64;
    let key = format!("{home}/{}", jlink::CDS_ARCHIVE);
    tree.insert(&key, Entry::file(data, 0o644).from_origin(Origin::Java(Arc::from(jlink::CDS_ORIGIN))))?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_makes_store_links_and_version() {
        let mut t = Tree::new();
        let home = "usr/lib/jvm/java-17-lucid";
        t.insert(&format!("{home}/bin/java"), Entry::file("elf", 0o755)).unwrap();
        t.insert(&format!("{home}/bin/keytool"), Entry::file("elf", 0o755)).unwrap();
        t.insert(&format!("{home}/lib/security/cacerts"), Entry::file("upstream", 0o644)).unwrap();
        t.insert(&format!("{home}/release"), Entry::file("IMPLEMENTOR=x\nJAVA_VERSION=\"17.0.19\"\n", 0o644)).unwrap();
        let e = finish(&mut t.clone(), home, 0).unwrap_err().to_string();
        assert!(e.contains("ca-certificates"), "{e}");
        let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        t.insert("usr/share/ca-certificates/mozilla/X.crt", Entry::file(pem, 0o644)).unwrap();
        let f = finish(&mut t, home, 0).unwrap();
        assert_eq!(f.version, "17.0.19");
        assert_eq!(f.home, "/usr/lib/jvm/java-17-lucid");
        assert_eq!(f.anchors, 1);
        assert_eq!(f.links, ["/usr/bin/java", "/usr/bin/keytool"]);
        assert_eq!(t.resolve("usr/bin/java").unwrap(), format!("{home}/bin/java"));
        assert_eq!(t.resolve(&format!("{home}/lib/security/cacerts")).unwrap(), truststore::PATH);
        assert!(t.read(truststore::PATH).unwrap().starts_with(&[0xFE, 0xED, 0xFE, 0xED]));
    }

    #[test]
    fn runtime_is_not_placed_over_package_files() {
        let mut t = Tree::new();
        t.insert("usr/lib/jvm/x/bin/java", Entry::file("elf", 0o755)).unwrap();
        let mut rt = Tree::new();
        rt.insert("bin/java", Entry::file("elf", 0o755)).unwrap();
        assert!(place_runtime(&mut t, &rt, "/usr/lib/jvm/x").is_err());
        place_runtime(&mut t, &rt, "/usr/lib/jvm/y").unwrap();
        assert!(t.contains("usr/lib/jvm/y/bin/java"));
    }
}
