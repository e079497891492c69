//! Bytes per module of a Java runtime, read from the index of its `lib/modules` jimage.
//!
//! A jlinked runtime keeps nearly all of its classes and resources in one `lib/modules` file, so
//! "which modules cost what" is only answerable from inside it. The file starts with an index
//! (header, hash tables, location records, strings) and the resources follow, so the index alone,
//! a few hundred kilobytes at the head of a 40 MB file, names every resource with its module and
//! its stored size: no resource is read.
//!
//! Layout (OpenJDK's `ImageHeader`/`ImageLocation`, native byte order; we accept both orders by
//! the magic): seven u32 (magic `0xCAFEDADA`, version, flags, resource count, table length,
//! locations size, strings size), then `table length` i32 redirects and as many u32 location
//! offsets, then the location attribute streams, then NUL-terminated strings. An attribute is a
//! byte `kind << 3 | (len - 1)` followed by `len` big-endian bytes; kind 0 ends the stream.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

/// The jimage magic, as a number (its bytes are `DA DA FE CA` in a little-endian file).
pub const MAGIC: u32 = 0xCAFE_DADA;
const HEADER: usize = 28;
const ATTR_END: u8 = 0;
const ATTR_MODULE: u8 = 1;
const ATTR_COMPRESSED: u8 = 6;
const ATTR_UNCOMPRESSED: u8 = 7;
/// Indices larger than this are refused (a full JDK's is about 1.5 MB).
pub const MAX_INDEX: u64 = 16 << 20;

/// Reads a u32 at `at` in the file's byte order.
fn u32_at(data: &[u8], at: usize, little: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
}

/// The size of the index (header and tables) of the jimage whose first bytes are `head`, or
/// None if `head` is not a jimage header.
pub fn index_size(head: &[u8]) -> Option<u64> {
    let little = match u32_at(head, 0, true)? {
        MAGIC => true,
        m if m.swap_bytes() == MAGIC => false,
        _ => return None,
    };
    let table = u64::from(u32_at(head, 16, little)?);
    let locations = u64::from(u32_at(head, 20, little)?);
    let strings = u64::from(u32_at(head, 24, little)?);
    Some(HEADER as u64 + table * 8 + locations + strings)
}

/// Stored bytes per module (`java.base` -> bytes) of the jimage whose index is `index` (the
/// file's head, at least [`index_size`] bytes). Resources outside any module (the image's own
/// metadata) are left out. Malformed indices are errors, never panics.
pub fn module_sizes(index: &[u8]) -> Result<BTreeMap<String, u64>> {
    let Some(size) = index_size(index) else { bail!("not a jimage (no 0xCAFEDADA magic)") };
    if size > MAX_INDEX || index.len() < size as usize {
        bail!("jimage index of {size} bytes is truncated or larger than {MAX_INDEX} bytes");
    }
    let little = u32_at(index, 0, true) == Some(MAGIC);
    let table = u32_at(index, 16, little).unwrap_or(0) as usize;
    let locations_size = u32_at(index, 20, little).unwrap_or(0) as usize;
    let offsets_at = HEADER + table * 4;
    let locations_at = offsets_at + table * 4;
    let strings_at = locations_at + locations_size;
    let locations = &index[locations_at..strings_at];
    let strings = &index[strings_at..size as usize];
    let string = |off: u64| -> Result<&str> {
        let rest = usize::try_from(off).ok().and_then(|o| strings.get(o..)).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).map_err(|_| anyhow::anyhow!("jimage string at {off} is not UTF-8"))
    };
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..table {
        let off = u32_at(index, offsets_at + i * 4, little).unwrap_or(0) as usize;
        let mut attrs = [0u64; 8];
        let mut at = off;
        loop {
            let Some(&byte) = locations.get(at) else { bail!("jimage location {i} runs past the index") };
            let kind = byte >> 3;
            if kind == ATTR_END {
                break;
            }
            let len = usize::from(byte & 7) + 1;
            let Some(bytes) = locations.get(at + 1..at + 1 + len) else {
                bail!("jimage location {i} runs past the index")
            };
            let value = bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
            if let Some(slot) = attrs.get_mut(usize::from(kind)) {
                *slot = value;
            } else {
                bail!("jimage location {i} has an unknown attribute kind {kind}");
            }
            at += 1 + len;
        }
        let module = string(attrs[usize::from(ATTR_MODULE)])?;
        if module.is_empty() || module == "modules" || module == "packages" {
            continue;
        }
        let compressed = attrs[usize::from(ATTR_COMPRESSED)];
        let stored = if compressed > 0 { compressed } else { attrs[usize::from(ATTR_UNCOMPRESSED)] };
        let total = sizes.entry(module.to_string()).or_default();
        *total = total.saturating_add(stored);
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A jimage index of two resources, built by hand in the file's format.
    fn index(little: bool) -> Vec<u8> {
        let strings = b"\0java.base\0java.sql\0Object\0Driver\0class\0".to_vec();
        let s = |name: &[u8]| strings.windows(name.len()).position(|w| w == name).unwrap() as u8;
        let attr = |kind: u8, v: u8| [kind << 3, v];
        let mut locations = Vec::new();
        let mut offsets = Vec::new();
        for (module, base, size) in [(s(b"java.base"), s(b"Object"), 100u8), (s(b"java.sql"), s(b"Driver"), 40)] {
            offsets.push(locations.len() as u32);
            locations.extend(attr(ATTR_MODULE, module));
            locations.extend(attr(3, base));
            locations.extend(attr(ATTR_UNCOMPRESSED, size));
            locations.push(ATTR_END);
        }
        let word = |v: u32| if little { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut out = Vec::new();
        for v in [MAGIC, 0x0001_0000, 0, 2, 2, locations.len() as u32, strings.len() as u32] {
            out.extend(word(v));
        }
        out.extend(word(0).repeat(2));
        for o in offsets {
            out.extend(word(o));
        }
        out.extend(locations);
        out.extend(strings);
        out
    }

    #[test]
    fn sizes_per_module_in_either_byte_order() {
        for little in [true, false] {
            let idx = index(little);
            assert_eq!(index_size(&idx), Some(idx.len() as u64));
            let sizes = module_sizes(&idx).unwrap();
            assert_eq!(sizes.into_iter().collect::<Vec<_>>(), [("java.base".into(), 100), ("java.sql".into(), 40)]);
        }
    }

    #[test]
    fn malformed_indices_are_errors() {
        let idx = index(true);
        assert!(module_sizes(b"not a jimage at all").is_err());
        assert!(module_sizes(&idx[..idx.len() - 5]).is_err(), "truncated");
        for cut in 0..idx.len() {
            let _ = module_sizes(&idx[..cut]);
        }
        let mut bad = idx.clone();
        bad[28 + 8 + 8] = 0xff; // an attribute of kind 31 with 8 bytes
        assert!(module_sizes(&bad).is_err());
    }

    #[test]
    fn the_host_jdk_index_reads_if_there_is_one() {
        let Ok(data) = std::fs::read("/usr/lib/jvm/java-17-openjdk-amd64/lib/modules") else { return };
        let sizes = module_sizes(&data[..index_size(&data).unwrap() as usize]).unwrap();
        assert!(sizes["java.base"] > 10 << 20, "{sizes:?}");
        assert!(sizes.len() > 50);
    }
}
