//! `.deb` extraction into the in-memory tree, never onto the host.
//!
//! A `.deb` is an `ar` archive: `debian-binary` (`2.0`), `control.tar[.gz|.xz|.zst]`, then
//! `data.tar[.gz|.xz|.zst]`. Everything in it is untrusted until the tree accepts it: paths
//! with `..`, paths below a symbolic link, links that climb above the root, device nodes and
//! hard links to nothing are errors naming the package and path.

use std::fs;
use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::fetch::{Cache, write_atomic};
use crate::limits::{EntryCounter, check_path_len};
use crate::rootfs::tree::{Entry, Node, Origin, Tree, normalize};

use super::repo::decompress;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebContents {
    /// The `control` file from `control.tar.*`, verbatim.
    pub control: String,
    /// Canonical paths (`usr/bin/x`) of every entry placed in the tree, in archive order.
    pub paths: Vec<String>,
}

/// Unpacks `deb` (the package `package`) into `tree`. Entries keep mode (with setuid/setgid
/// bits), uid and gid; hard links become files sharing their target's bytes.
pub fn extract(deb: &[u8], package: &str, tree: &mut Tree) -> Result<DebContents> {
    let (control, dname, data) = decode(deb, package)?;
    let paths = unpack(&data, package, tree).with_context(|| format!("{package}: {dname}"))?;
    Ok(DebContents { control, paths })
}

/// A `.deb` reduced to what unpacking needs: its control file and its decompressed data archive.
pub struct Decoded {
    pub control: String,
    /// The data member's name (`data.tar.xz`), for messages.
    pub member: String,
    pub data: Vec<u8>,
}

/// The decoded form of the `.deb` with this SHA-256, if `cache` remembers it. xz decoding is most
/// of the time of a warm build and its result is a pure function of the `.deb`, so a build that
/// finds every package here does not even read the `.deb` files. The archive is read back
/// through the verified cache, so a damaged entry is simply not found.
pub fn remembered(cache: &Cache, deb_sha256: &str) -> Option<Decoded> {
    let memo = cache.derived_dir("deb-data").ok()?.join(deb_sha256);
    let text = fs::read_to_string(memo).ok()?;
    let (digest, rest) = text.split_once('\n')?;
    let (member, control) = rest.split_once('\n')?;
    let data = cache.get(digest).ok().flatten()?;
    Some(Decoded { control: control.to_string(), member: member.to_string(), data })
}

/// Decodes `deb` (already verified against `deb_sha256` by the caller) and remembers the result.
pub fn decode_and_remember(deb: &[u8], deb_sha256: &str, package: &str, cache: &Cache) -> Result<Decoded> {
    let (control, member, data) = decode(deb, package)?;
    let digest = cache.put_any(&data)?;
    let memo = cache.derived_dir("deb-data")?.join(deb_sha256);
    write_atomic(&memo, format!("{digest}\n{member}\n{control}").as_bytes())?;
    Ok(Decoded { control, member, data })
}

/// Unpacks a decoded `.deb` into `tree`, as [`extract`] does.
pub fn unpack_decoded(d: &Decoded, package: &str, tree: &mut Tree) -> Result<DebContents> {
    let paths = unpack(&d.data, package, tree).with_context(|| format!("{package}: {}", d.member))?;
    Ok(DebContents { control: d.control.clone(), paths })
}

/// Reads the `.deb` container: returns the control file, the data member's name and the
/// decompressed data archive.
fn decode(deb: &[u8], package: &str) -> Result<(String, String, Vec<u8>)> {
    let mut ar = ar::Archive::new(deb);
    let mut control_tar: Option<(String, Vec<u8>)> = None;
    let mut data_tar: Option<(String, Vec<u8>)> = None;
    let mut first = true;
    let mut count = EntryCounter::default();
    while let Some(entry) = ar.next_entry() {
        let mut entry = entry.with_context(|| format!("{package}: not a valid .deb (ar archive)"))?;
        count.bump().with_context(|| format!("{package}: the .deb"))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).trim_end_matches('/').to_string();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).with_context(|| format!("{package}: cannot read {name} from the .deb"))?;
        if first {
            if name != "debian-binary" || !body.starts_with(b"2.") {
                bail!("{package}: not a .deb: the first member is {name:?}, expected debian-binary 2.x");
            }
            first = false;
        } else if name.starts_with("control.tar") {
            control_tar = Some((name, body));
        } else if name.starts_with("data.tar") {
            data_tar = Some((name, body));
        }
    }
    let Some((cname, cbody)) = control_tar else { bail!("{package}: the .deb has no control.tar member") };
    let Some((dname, dbody)) = data_tar else { bail!("{package}: the .deb has no data.tar member") };
    let control = read_control(&cname, &cbody).with_context(|| format!("{package}: {cname}"))?;
    let data = decompress(&dbody, &dname).with_context(|| format!("{package}: cannot decompress {dname}"))?;
    Ok((control, dname, data))
}

fn read_control(name: &str, body: &[u8]) -> Result<String> {
    let tar = decompress(body, name)?;
    let mut archive = tar::Archive::new(tar.as_slice());
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path_bytes().into_owned();
        if matches!(normalize(&String::from_utf8_lossy(&path)).as_deref(), Ok("control")) {
            let mut text = String::new();
            entry.read_to_string(&mut text).context("the control file is not UTF-8")?;
            return Ok(text);
        }
    }
    bail!("no control file")
}

fn unpack(data: &[u8], package: &str, tree: &mut Tree) -> Result<Vec<String>> {
    let origin = Origin::Deb(Arc::from(package));
    let mut paths = Vec::new();
    let mut archive = tar::Archive::new(data);
    let mut count = EntryCounter::default();
    for entry in archive.entries().context("not a tar archive")? {
        let mut entry = entry.context("corrupt tar entry")?;
        count.bump()?;
        check_path_len(&entry.path_bytes(), "an entry name")?;
        if let Some(link) = entry.link_name_bytes() {
            check_path_len(&link, "a link target")?;
        }
        let raw = entry.path().context("unreadable path")?.to_string_lossy().into_owned();
        if raw.trim_matches(|c| c == '.' || c == '/').is_empty() {
            continue; // the archive's root `./`
        }
        let key = normalize(&raw).with_context(|| format!("refused entry {raw:?}"))?;
        count.declare(&key, entry.size())?;
        let header = entry.header();
        let mode = header.mode().with_context(|| format!("{key}: invalid mode"))? & 0o7777;
        let uid = u32::try_from(header.uid().with_context(|| format!("{key}: invalid uid"))?)
            .with_context(|| format!("{key}: uid out of range"))?;
        let gid = u32::try_from(header.gid().with_context(|| format!("{key}: invalid gid"))?)
            .with_context(|| format!("{key}: gid out of range"))?;
        let kind = header.entry_type();
        let node = match kind {
            tar::EntryType::Directory => Node::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut body = Vec::with_capacity(entry.size().min(1 << 30) as usize);
                entry.read_to_end(&mut body).with_context(|| format!("{key}: truncated content"))?;
                Node::File(Arc::new(body))
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .with_context(|| format!("{key}: unreadable link target"))?
                    .with_context(|| format!("{key}: symbolic link without a target"))?
                    .to_string_lossy()
                    .into_owned();
                check_link(&key, &target)?;
                Node::Symlink(target)
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .with_context(|| format!("{key}: unreadable hard link target"))?
                    .with_context(|| format!("{key}: hard link without a target"))?
                    .to_string_lossy()
                    .into_owned();
                let tkey = normalize(&target).with_context(|| format!("{key}: refused hard link target"))?;
                match tree.get(&tkey).map(|e| &e.node) {
                    Some(Node::File(d)) => Node::File(d.clone()),
                    _ => bail!("{key}: hard link to {target:?}, which is not a file extracted before it"),
                }
            }
            other => bail!("{key}: unsupported entry type {other:?} (device nodes and FIFOs are refused)"),
        };
        let entry = Entry { node, mode, uid, gid, origin: origin.clone() };
        tree.insert(&key, entry).with_context(|| format!("cannot place {key}"))?;
        paths.push(key);
    }
    Ok(paths)
}

/// Refuses a symbolic link at `key` whose relative target climbs above the root: harmless in
/// a container (the kernel stops at `/`), but no package has a reason to, so it is treated as
/// hostile. Absolute targets stay inside the image by construction.
fn check_link(key: &str, target: &str) -> Result<()> {
    if target.is_empty() || target.contains('\0') {
        bail!("{key}: invalid symbolic link target {target:?}");
    }
    if target.starts_with('/') {
        return Ok(());
    }
    let mut depth = key.matches('/').count() as i64; // components of the link's parent
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    bail!("{key}: symbolic link to {target:?} escapes the root");
                }
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str, u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, body, link, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_uid(0);
            h.set_gid(if path.contains("shadow") { 42 } else { 0 });
            h.set_size(body.len() as u64);
            if !link.is_empty() {
                h.set_link_name(link).unwrap();
            }
            b.append_data(&mut h, path, *body).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn deb_of(data: Vec<u8>) -> Vec<u8> {
        let control = tar_of(&[("./control", tar::EntryType::Regular, b"Package: t\nVersion: 1\n", "", 0o644)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &control).unwrap();
        let control = gz.finish().unwrap();
        let mut ar = ar::Builder::new(Vec::new());
        for (name, body) in [("debian-binary", b"2.0\n".to_vec()), ("control.tar.gz", control), ("data.tar", data)] {
            ar.append(&ar::Header::new(name.as_bytes().to_vec(), body.len() as u64), body.as_slice()).unwrap();
        }
        ar.into_inner().unwrap()
    }

    #[test]
    fn unpacks_modes_links_hardlinks() {
        use tar::EntryType::*;
        let data = tar_of(&[
            ("./", Directory, b"", "", 0o755),
            ("./usr/bin/", Directory, b"", "", 0o755),
            ("./usr/bin/su", Regular, b"elf", "", 0o4755),
            ("./usr/bin/su2", Link, b"", "./usr/bin/su", 0o4755),
            ("./usr/bin/sh", Symlink, b"", "dash", 0o777),
            ("./etc/shadow", Regular, b"", "", 0o640),
        ]);
        let mut tree = Tree::new();
        let c = extract(&deb_of(data), "t", &mut tree).unwrap();
        assert_eq!(c.control, "Package: t\nVersion: 1\n");
        assert_eq!(c.paths, ["usr/bin", "usr/bin/su", "usr/bin/su2", "usr/bin/sh", "etc/shadow"]);
        let su = tree.get("usr/bin/su").unwrap();
        assert_eq!(su.mode, 0o4755);
        assert_eq!(su.origin, Origin::Deb(Arc::from("t")));
        assert_eq!(tree.read("usr/bin/su2").unwrap().as_slice(), b"elf");
        assert_eq!(tree.get("usr/bin/sh").unwrap().node, Node::Symlink("dash".into()));
        assert_eq!(tree.get("etc/shadow").unwrap().gid, 42);
    }

    #[test]
    fn refuses_hostile_entries() {
        use tar::EntryType::*;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (tar_of(&[("./lib", Symlink, b"", "/etc", 0o777), ("./lib/x", Regular, b"", "", 0o644)]), "lib/x"),
            (tar_of(&[("./a/b", Symlink, b"", "../../../etc/passwd", 0o777)]), "escapes the root"),
            (tar_of(&[("./x", Link, b"", "./nothing", 0o644)]), "hard link"),
            (tar_of(&[("./dev/null", Char, b"", "", 0o666)]), "unsupported entry type"),
        ];
        for (data, want) in cases {
            let e = format!("{:#}", extract(&deb_of(data), "evil", &mut Tree::new()).unwrap_err());
            assert!(e.contains("evil") && e.contains(want), "{e}");
        }
        // `..` cannot even be written by the tar crate's builder; write the name by hand.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h.set_entry_type(Regular);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend_from_slice(&[0u8; 1024]);
        let e = format!("{:#}", extract(&deb_of(data), "evil", &mut Tree::new()).unwrap_err());
        assert!(e.contains("evil") && e.contains("../escape"), "{e}");
        assert!(extract(b"!<arch>\n", "empty", &mut Tree::new()).is_err());
        assert!(extract(b"junk", "junk", &mut Tree::new()).is_err());
    }
}
