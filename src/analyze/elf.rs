//! Just enough ELF to size an image: is a file stripped, how many bytes would stripping save,
//! which shared libraries does it need and which name (`SONAME`) does it answer to; and, for the
//! builder's `ld.so.cache` (`rootfs::ldcache`), what kind of file it is and for which machine.
//!
//! Why not a crate: these questions need the section header table and the dynamic section, about
//! a hundred lines; a general ELF crate (goblin) would add a dependency and its build time for
//! features we do not use. Every read is bounds-checked (`get`), so a truncated or hostile file
//! yields `None` or fewer facts, never a panic.

/// What `lucid report` wants to know about one ELF file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElfInfo {
    /// Has a `.symtab` (the definition of unstripped that `file(1)` and DESIGN.md use).
    pub has_symtab: bool,
    /// Bytes in `.symtab`, `.strtab` and `.debug_*`/`.zdebug_*` sections: what `strip` removes.
    pub strippable: u64,
    /// `DT_NEEDED` entries (`libc.so.6`).
    pub needed: Vec<String>,
    /// `DT_SONAME`, for shared libraries.
    pub soname: Option<String>,
    /// `e_type` (`ET_DYN`, 3, for a shared object) and `e_machine` (62 x86-64, 183 AArch64).
    pub kind: u16,
    pub machine: u16,
    /// The dynamic section was read to its `DT_NULL`, with a string table holding every name it
    /// points at: what ldconfig needs before it lists a library (a truncated file has no such thing).
    pub dynamic: bool,
}

const SHT_SYMTAB: u32 = 2;
const SHT_DYNAMIC: u32 = 6;
const SHT_NOBITS: u32 = 8;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_SONAME: u64 = 14;

/// Whether `head` starts like an ELF file.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

struct Reader<'a> {
    data: &'a [u8],
    wide: bool,
    little: bool,
}

impl Reader<'_> {
    fn uint(&self, off: u64, len: usize) -> Option<u64> {
        let start = usize::try_from(off).ok()?;
        let bytes = self.data.get(start..start.checked_add(len)?)?;
        let mut v = 0u64;
        for i in 0..len {
            let b = if self.little { bytes[len - 1 - i] } else { bytes[i] };
            v = (v << 8) | u64::from(b);
        }
        Some(v)
    }
    fn u16(&self, off: u64) -> Option<u64> {
        self.uint(off, 2)
    }
    fn u32(&self, off: u64) -> Option<u64> {
        self.uint(off, 4)
    }
    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, off: u64) -> Option<u64> {
        self.uint(off, if self.wide { 8 } else { 4 })
    }
    /// The NUL-terminated string at `off`.
    fn cstr(&self, off: u64) -> Option<String> {
        let rest = self.data.get(usize::try_from(off).ok()?..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}

struct Section {
    name: u64,
    kind: u32,
    offset: u64,
    size: u64,
    link: u64,
}

/// Parses `data` (a whole ELF file); `None` when it is not ELF or its headers are unreadable.
pub fn parse(data: &[u8]) -> Option<ElfInfo> {
    if !is_elf(data) {
        return None;
    }
    let wide = match data.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let little = match data.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let r = Reader { data, wide, little };
    let mut info = ElfInfo { kind: r.u16(0x10)? as u16, machine: r.u16(0x12)? as u16, ..ElfInfo::default() };
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (r.word(0x28)?, r.u16(0x3A)?, r.u16(0x3C)?, r.u16(0x3E)?)
    } else {
        (r.word(0x20)?, r.u16(0x2E)?, r.u16(0x30)?, r.u16(0x32)?)
    };
    let mut sections = Vec::new();
    for i in 0..shnum {
        let base = shoff.checked_add(i.checked_mul(shentsize)?)?;
        base.checked_add(64)?; // so the field offsets below cannot overflow
        let s = if wide {
            Section {
                name: r.u32(base)?,
                kind: r.u32(base + 4)? as u32,
                offset: r.word(base + 24)?,
                size: r.word(base + 32)?,
                link: r.u32(base + 40)?,
            }
        } else {
            Section {
                name: r.u32(base)?,
                kind: r.u32(base + 4)? as u32,
                offset: r.word(base + 16)?,
                size: r.word(base + 20)?,
                link: r.u32(base + 24)?,
            }
        };
        sections.push(s);
    }
    let names = sections.get(usize::try_from(shstrndx).ok()?).map(|s| s.offset);
    for s in &sections {
        let name = names.and_then(|base| r.cstr(base.checked_add(s.name)?)).unwrap_or_default();
        if s.kind == SHT_SYMTAB {
            info.has_symtab = true;
        }
        let debug = name.starts_with(".debug_") || name.starts_with(".zdebug_");
        if s.kind != SHT_NOBITS && (s.kind == SHT_SYMTAB || name == ".strtab" || debug) {
            // Section sizes are the file's word: a hostile one may claim 2^64 bytes. What strip
            // removes can never exceed the file.
            info.strippable = info.strippable.saturating_add(s.size).min(data.len() as u64);
        }
        if s.kind == SHT_DYNAMIC {
            let strtab = sections.get(usize::try_from(s.link).ok()?).map(|t| t.offset);
            let entsize = if wide { 16 } else { 8 };
            let mut readable = strtab.is_some();
            for k in 0..s.size / entsize {
                let at = s.offset.checked_add(k * entsize)?;
                at.checked_add(entsize)?;
                let (Some(tag), Some(val)) = (r.word(at), r.word(at + entsize / 2)) else { break };
                if tag == DT_NULL {
                    info.dynamic = readable;
                    break;
                }
                if tag != DT_NEEDED && tag != DT_SONAME {
                    continue;
                }
                let name = strtab.and_then(|t| r.cstr(t.checked_add(val)?));
                readable &= name.is_some();
                if tag == DT_NEEDED {
                    info.needed.extend(name);
                } else {
                    info.soname = name;
                }
            }
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_running_test_binary_and_survives_garbage() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let info = parse(&me).expect("the test binary is ELF");
        // Test binaries keep their symbols and link libc dynamically (or not: then no NEEDED).
        assert!(info.has_symtab && info.strippable > 0, "{info:?}");
        for cut in [0, 4, 6, 64, 200, me.len() / 2] {
            let _ = parse(&me[..cut]);
        }
        let mut evil = me[..256].to_vec();
        evil[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&evil).is_none(), "a section table past the end is unreadable");
        assert!(parse(b"not elf").is_none());
        // Found by the binaries fuzz target: section sizes that add up past u64.
        let crash =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions/binaries/elf-strippable-overflow"));
        let info = parse(&crash.unwrap()).unwrap_or_default();
        assert!(info.strippable <= 15276, "{info:?}");
    }
}
