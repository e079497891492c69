//! Application archives (wheels, jars: zip files) read as the untrusted input they are.
//!
//! Only the central directory is read up front; each member is inflated only as far as the caller
//! reads it, through a reader bounded in size and in expansion ratio ([`crate::limits::Bounded`]).
//! Member names are checked (no absolute paths, no `..` out of the archive, no links) and the
//! archive's entry count and declared sizes are held to [`crate::limits`]. Every error names the
//! archive and the member.

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::limits::{Bounded, EntryCounter, MAX_PATH_BYTES};

/// The member name `raw` as a clean relative path, or why it is unsafe.
pub fn clean_name(raw: &str) -> Result<String> {
    if raw.starts_with('/') || raw.contains('\\') || raw.as_bytes().get(1) == Some(&b':') {
        bail!("unsafe member name {raw:?}: absolute");
    }
    super::join_inside("", raw).with_context(|| format!("unsafe member name {raw:?}: climbs out of the archive"))
}

/// Calls `f(name, size, content)` for every file member of the zip at `path`, in archive order.
/// `content` inflates on demand (`size` is what its header declares); what `f` leaves unread is
/// skipped.
pub fn for_each_member(path: &Path, mut f: impl FnMut(&str, u64, &mut dyn Read) -> Result<()>) -> Result<()> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {shown}"))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("{shown} is not a zip archive (wheels and jars are zip files)"))?;
    let mut count = EntryCounter::default();
    for i in 0..zip.len() {
        count.bump().with_context(|| format!("{shown}"))?;
        let member = zip.by_index(i).with_context(|| format!("{shown}: cannot read member #{i}"))?;
        let raw = String::from_utf8_lossy(member.name_raw()).into_owned();
        if raw.len() > MAX_PATH_BYTES {
            bail!("{shown}: member #{i} has a name of {} bytes, over the limit of {MAX_PATH_BYTES}", raw.len());
        }
        let name = clean_name(&raw).with_context(|| format!("{shown}"))?;
        if member.is_dir() || name.is_empty() {
            continue;
        }
        if member.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            bail!("{shown}: {raw} is a symbolic link; an application archive cannot carry links");
        }
        let (size, compressed) = (member.size(), member.compressed_size());
        count.declare(&raw, size).with_context(|| format!("{shown}"))?;
        // No member is held whole: bounded by the unpacked-bytes limit and the bomb ratio.
        let mut bounded = Bounded::new(member, compressed);
        f(&name, size, &mut bounded).with_context(|| format!("{shown}: {raw}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        assert_eq!(clean_name("numpy/./core/x.so").unwrap(), "numpy/core/x.so");
        assert_eq!(clean_name("a/../b").unwrap(), "b");
        for bad in ["/etc/passwd", "../x", "a/../../x", "C:/x", "a\\b"] {
            assert!(clean_name(bad).is_err(), "{bad}");
        }
    }
}
