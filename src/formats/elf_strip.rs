//! Removing an ELF file's symbol table (`.symtab`, its `.strtab`) and debug sections, as
//! `strip --strip-unneeded` does for a shared object, in Rust so it works for every target
//! architecture on any host (the host's `objcopy` knows only its own).
//!
//! What the loader reads is untouched: every byte up to the end of the last loaded segment and of
//! the last allocated section stays where it is, with `.dynsym` and the dynamic section. Only the
//! non-allocated sections after it are rewritten (those kept move down), followed by a new
//! section header table. ELF64 little-endian only (x86-64 and AArch64): anything else, or a
//! layout this cannot prove safe, is left as it is (`Ok(None)`).

use anyhow::{Result, bail};

const SHT_NOBITS: u32 = 8;
const SHT_SYMTAB: u32 = 2;
const SHT_REL: u32 = 9;
const SHT_RELA: u32 = 4;
const SHF_ALLOC: u64 = 2;
const SHF_INFO_LINK: u64 = 0x40;
const SHDR: usize = 64;

fn u16_at(d: &[u8], off: usize) -> Option<u64> {
    Some(u16::from_le_bytes(d.get(off..off.checked_add(2)?)?.try_into().ok()?).into())
}
fn u32_at(d: &[u8], off: usize) -> Option<u64> {
    Some(u32::from_le_bytes(d.get(off..off.checked_add(4)?)?.try_into().ok()?).into())
}
fn u64_at(d: &[u8], off: usize) -> Option<u64> {
    u64::from_le_bytes(d.get(off..off.checked_add(8)?)?.try_into().ok()?).into()
}

#[derive(Clone)]
struct Shdr {
    raw: [u8; SHDR],
    name: u64,
    kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u64,
    align: u64,
}

/// `data` without its symbol table and debug sections, or `None` when it has none (or is not a
/// file this handles). Errors only for a file whose headers contradict themselves.
pub fn strip(data: &[u8]) -> Result<Option<Vec<u8>>> {
    let n = |v: Option<u64>| v.and_then(|v| usize::try_from(v).ok());
    if !data.starts_with(b"\x7fELF") || data.get(4) != Some(&2) || data.get(5) != Some(&1) {
        return Ok(None);
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) =
        (n(u64_at(data, 0x20)), n(u16_at(data, 0x36)), n(u16_at(data, 0x38)))
    else {
        return Ok(None);
    };
    let (Some(shoff), Some(shentsize), Some(shnum), Some(shstrndx)) =
        (n(u64_at(data, 0x28)), n(u16_at(data, 0x3A)), n(u16_at(data, 0x3C)), n(u16_at(data, 0x3E)))
    else {
        return Ok(None);
    };
    if shentsize != SHDR || shnum == 0 || shstrndx >= shnum {
        return Ok(None);
    }
    let mut sections = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let base = shoff.checked_add(i * SHDR).filter(|b| b.checked_add(SHDR).is_some_and(|e| e <= data.len()));
        let Some(base) = base else { bail!("section header {i} lies past the end of the file") };
        let raw: [u8; SHDR] = data[base..base + SHDR].try_into().expect("64 bytes");
        let get32 = |o| u32_at(&raw, o).unwrap_or(0);
        let get64 = |o| u64_at(&raw, o).unwrap_or(0);
        sections.push(Shdr {
            raw,
            name: get32(0),
            kind: get32(4) as u32,
            flags: get64(8),
            offset: get64(24),
            size: get64(32),
            link: get32(40),
            align: get64(48),
        });
    }
    let names = &sections[shstrndx];
    let name_of = |s: &Shdr| -> String {
        let start = names.offset.saturating_add(s.name) as usize;
        let rest = data.get(start..).unwrap_or(&[]);
        let end = rest.iter().take(256).position(|&b| b == 0).unwrap_or(0);
        String::from_utf8_lossy(&rest[..end]).into_owned()
    };
    // What goes: the symbol table, the string table it links to (never the section names), and
    // debug sections; none of them loaded.
    let mut drop = vec![false; shnum];
    for (i, s) in sections.iter().enumerate() {
        let name = name_of(s);
        if s.kind == SHT_SYMTAB || name.starts_with(".debug_") || name.starts_with(".zdebug_") {
            drop[i] = true;
        }
        if s.kind == SHT_SYMTAB
            && let Ok(link) = usize::try_from(s.link)
            && link != shstrndx
            && link < shnum
        {
            drop[link] = true;
        }
    }
    // The section names stay, and nothing kept may point at what goes (a relocation section of
    // the symbol table, a group): such a file is left whole.
    drop[shstrndx] = false;
    if drop.iter().all(|d| !d) || drop.iter().enumerate().any(|(i, &d)| d && sections[i].flags & SHF_ALLOC != 0) {
        return Ok(None);
    }
    let points_at_dropped = |v: u64| usize::try_from(v).ok().is_some_and(|v| v < shnum && drop[v]);
    if sections.iter().enumerate().any(|(i, s)| {
        !drop[i]
            && (points_at_dropped(s.link)
                || ((s.flags & SHF_INFO_LINK != 0 || matches!(s.kind, SHT_REL | SHT_RELA))
                    && points_at_dropped(u32_at(&s.raw, 44).unwrap_or(0))))
    }) {
        return Ok(None);
    }
    // Everything the loader maps stays in place: the kept prefix ends after the ELF header, the
    // program header table, the last segment and the last allocated section, and every removed
    // section must lie after it.
    let Some(phdrs_end) = phnum.checked_mul(phentsize).and_then(|n| n.checked_add(phoff)) else {
        return Ok(None);
    };
    let mut keep_end = phdrs_end.max(64);
    for i in 0..phnum {
        let base = i.checked_mul(phentsize).and_then(|b| b.checked_add(phoff)).unwrap_or(usize::MAX);
        let field = |o: usize| base.checked_add(o).and_then(|at| n(u64_at(data, at)));
        let (Some(off), Some(filesz)) = (field(8), field(32)) else {
            bail!("program header {i} lies past the end of the file");
        };
        keep_end = keep_end.max(off.saturating_add(filesz));
    }
    for s in sections.iter().filter(|s| s.flags & SHF_ALLOC != 0 && s.kind != SHT_NOBITS) {
        keep_end = keep_end.max(s.offset.saturating_add(s.size) as usize);
    }
    if keep_end > data.len() {
        bail!("a segment or section ends past the end of the file");
    }
    let movable = |s: &Shdr| s.flags & SHF_ALLOC == 0 && s.kind != SHT_NOBITS && s.size > 0;
    if sections.iter().enumerate().any(|(i, s)| i > 0 && movable(s) && (s.offset as usize) < keep_end) {
        return Ok(None);
    }
    let mut out = data[..keep_end].to_vec();
    let mut index = vec![0u64; shnum];
    let mut kept: Vec<Shdr> = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        if drop[i] {
            continue;
        }
        let mut s = s.clone();
        if i > 0 && movable(&s) {
            let end = s.offset.checked_add(s.size).and_then(|e| usize::try_from(e).ok());
            let Some(bytes) = end.and_then(|e| data.get(s.offset as usize..e)) else {
                bail!("section {} lies past the end of the file", name_of(&s));
            };
            // A power of two no larger than a page, or the file is left whole (a hostile alignment
            // would ask for terabytes of padding).
            if s.align > 4096 || (s.align > 1 && !s.align.is_power_of_two()) {
                return Ok(None);
            }
            let align = s.align.max(1) as usize;
            out.resize(out.len().div_ceil(align) * align, 0);
            s.offset = out.len() as u64;
            out.extend_from_slice(bytes);
        }
        index[i] = kept.len() as u64;
        kept.push(s);
    }
    out.resize(out.len().div_ceil(8) * 8, 0);
    let new_shoff = out.len() as u64;
    for s in &kept {
        let mut raw = s.raw;
        let remap = |v: u64| usize::try_from(v).ok().filter(|&v| v < shnum && !drop[v]).map_or(0, |v| index[v]);
        raw[24..32].copy_from_slice(&s.offset.to_le_bytes());
        raw[40..44].copy_from_slice(&(remap(s.link) as u32).to_le_bytes());
        if s.flags & SHF_INFO_LINK != 0 || matches!(s.kind, SHT_REL | SHT_RELA) {
            let info = u32_at(&s.raw, 44).unwrap_or(0);
            raw[44..48].copy_from_slice(&(remap(info) as u32).to_le_bytes());
        }
        out.extend_from_slice(&raw);
    }
    out[0x28..0x30].copy_from_slice(&new_shoff.to_le_bytes());
    out[0x3C..0x3E].copy_from_slice(&(kept.len() as u16).to_le_bytes());
    out[0x3E..0x40].copy_from_slice(&(index[shstrndx] as u16).to_le_bytes());
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's own shared libraries: stripping keeps every loaded byte and the dynamic facts,
    /// and drops the symbol table.
    #[test]
    fn strips_real_libraries_and_keeps_what_loads() {
        let mut seen = 0;
        let dir = std::path::Path::new("/usr/lib/x86_64-linux-gnu");
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(data) = std::fs::read(entry.path()) else { continue };
            let Ok(Some(stripped)) = strip(&data) else { continue };
            let before = crate::formats::elf::parse(&data).unwrap();
            let after = crate::formats::elf::parse(&stripped).unwrap();
            assert!(before.has_symtab && !after.has_symtab, "{}", entry.path().display());
            assert_eq!((before.needed, before.soname), (after.needed, after.soname));
            assert!(stripped.len() < data.len());
            assert_eq!(strip(&stripped).unwrap(), None, "stripping twice changes nothing");
            seen += 1;
            if seen == 20 {
                break;
            }
        }
        assert!(seen > 0, "no unstripped library under {} to try", dir.display());
    }

    /// Truncations and byte flips of a real library: an answer or an error, never a panic, and
    /// what it returns is still an ELF file the reader parses.
    #[test]
    fn hostile_headers_never_panic() {
        let lib = std::fs::read_dir("/usr/lib/x86_64-linux-gnu")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .find(|d| matches!(strip(d), Ok(Some(_))) && d.len() < 4_000_000)
            .expect("an unstripped host library");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..400 {
            let mut d = lib.clone();
            if round % 4 == 0 {
                d.truncate((next() as usize) % d.len());
            }
            for _ in 0..8 {
                // Mostly the headers: the ELF header, the section header table.
                let at = if next() % 2 == 0 { (next() as usize) % 64 } else { (next() as usize) % d.len().max(1) };
                if let Some(b) = d.get_mut(at) {
                    *b = next() as u8;
                }
            }
            if let Ok(Some(out)) = strip(&d) {
                assert!(out.starts_with(b"\x7fELF"));
            }
        }
        let mut tiny = b"\x7fELF\x02\x01\x01".to_vec();
        tiny.resize(64, 0);
        tiny[0x3A] = 64; // shentsize
        tiny[0x3C] = 1; // one section, at offset 0
        assert!(strip(&tiny).is_ok());
    }

    #[test]
    fn leaves_what_it_does_not_know() {
        assert_eq!(strip(b"not elf").unwrap(), None);
        let mut elf32 = b"\x7fELF\x01\x01\x01".to_vec();
        elf32.resize(64, 0);
        assert_eq!(strip(&elf32).unwrap(), None);
        let mut truncated = b"\x7fELF\x02\x01\x01".to_vec();
        truncated.resize(64, 0xff);
        assert!(strip(&truncated).is_ok());
    }
}
