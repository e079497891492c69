//! Just enough ELF to size an image, to write its `ld.so.cache` and to load-check an application:
//! is a file stripped, how many bytes would stripping save, what kind of object is it and for
//! which machine, which shared libraries does it need, which name (`SONAME`) does it answer to,
//! where does it ask the loader to look (`RPATH`, `RUNPATH`) and which symbol versions does it
//! need from and define for other objects (`.gnu.version_r`, `.gnu.version_d`).
//!
//! Why not a crate: these questions need the section header table, the program headers and the
//! dynamic section, a few hundred lines; a general ELF crate (goblin) would add a dependency and
//! its build time for features we do not use. Every read is bounds-checked (`get`), so a truncated
//! or hostile file yields `None` or fewer facts, never a panic.

/// The dynamic section tags (`DT_*`) this reader uses.
mod dt {
    pub const NULL: u64 = 0;
    pub const NEEDED: u64 = 1;
    pub const SONAME: u64 = 14;
    pub const STRTAB: u64 = 5;
    pub const STRSZ: u64 = 10;
    pub const RPATH: u64 = 15;
    pub const RUNPATH: u64 = 29;
    pub const VERDEF: u64 = 0x6fff_fffc;
    pub const VERDEFNUM: u64 = 0x6fff_fffd;
    pub const VERNEED: u64 = 0x6fff_fffe;
    pub const VERNEEDNUM: u64 = 0x6fff_ffff;
}

const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;

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
    /// `e_type` (`ET_DYN`, 3, for a shared object) and `e_machine` (62 x86-64, 183 AArch64), for
    /// the builder's `ld.so.cache` (`rootfs::ldcache`).
    pub kind: u16,
    pub machine: u16,
    /// The dynamic segment was read whole, with every name it points at: what ldconfig needs
    /// before it lists a library (a truncated file has no such thing).
    pub dynamic: bool,
}

/// Whether `head` starts like an ELF file.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// Reads an ELF file held whole, or in parts (`(file offset, bytes)`: a streamed file's head and
/// its dynamic segment). A read outside every part is `None`, like one past the end.
struct Reader<'a> {
    parts: Vec<(u64, &'a [u8])>,
    wide: bool,
    little: bool,
}

impl<'a> Reader<'a> {
    /// The part holding `off` and the bytes from there to the part's end.
    fn from(&self, off: u64) -> Option<&'a [u8]> {
        self.parts.iter().find_map(|&(start, data)| data.get(usize::try_from(off.checked_sub(start)?).ok()?..))
    }
    fn uint(&self, off: u64, len: usize) -> Option<u64> {
        let bytes = self.from(off)?.get(..len)?;
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
    /// The NUL-terminated string at `off`, at most [`MAX_NAME`] bytes (a longer one is corrupt).
    fn cstr(&self, off: u64) -> Option<String> {
        let rest = self.from(off)?;
        let end = rest.iter().take(MAX_NAME + 1).position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}

struct Section {
    name: u64,
    kind: u32,
    offset: u64,
    size: u64,
}

/// A reader for `parts` (the first at offset 0) if they start like an ELF file of a known class
/// and byte order.
fn reader<'a>(parts: &[(u64, &'a [u8])]) -> Option<Reader<'a>> {
    let &(0, data) = parts.first()? else { return None };
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
    Some(Reader { parts: parts.to_vec(), wide, little })
}

/// Parses `data` (a whole ELF file); `None` when it is not ELF or its headers are unreadable.
pub fn parse(data: &[u8]) -> Option<ElfInfo> {
    let r = reader(&[(0, data)])?;
    let wide = r.wide;
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
            }
        } else {
            Section {
                name: r.u32(base)?,
                kind: r.u32(base + 4)? as u32,
                offset: r.word(base + 16)?,
                size: r.word(base + 20)?,
            }
        };
        sections.push(s);
    }
    let names = sections.get(usize::try_from(shstrndx).ok()?).map(|s| s.offset);
    let mut info = ElfInfo { kind: r.u16(0x10)? as u16, machine: r.u16(0x12)? as u16, ..ElfInfo::default() };
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
    }
    // What the loader reads, from the program headers (the dynamic section is a segment).
    if let Some(d) = dynamic(data) {
        info.needed = d.needed;
        info.soname = d.soname;
        info.dynamic = true;
    }
    Some(info)
}

/// What the dynamic loader reads of a shared object or executable, from its program headers
/// and dynamic section (as `ld.so` does: sections may be stripped, segments cannot be).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dynamic {
    /// `e_machine`: 62 x86-64, 183 AArch64 (see [`machine_name`]).
    pub machine: u16,
    /// ELF64 (else ELF32): the loader skips a library of the other class.
    pub wide: bool,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    pub soname: Option<String>,
    /// `DT_RPATH` and `DT_RUNPATH`, split on `:` (`$ORIGIN` left for the caller to expand).
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// `.gnu.version_r`: per file named, the versions needed from it (`libc.so.6`: `GLIBC_2.14`).
    pub verneed: Vec<VersionNeed>,
    /// `.gnu.version_d`: the versions this object defines, without its base (the soname).
    pub verdef: Vec<String>,
}

/// The versions an object needs from one library.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionNeed {
    pub file: String,
    /// `(name, weak)`: a missing weak version does not stop the loader.
    pub versions: Vec<(String, bool)>,
}

const PT_LOAD: u64 = 1;
const PT_DYNAMIC: u64 = 2;
const VER_FLG_BASE: u64 = 1;
const VER_FLG_WEAK: u64 = 2;
/// More program headers, dynamic entries or version records than any real object has: a hostile
/// count stops here instead of looping for minutes.
const MAX_RECORDS: u64 = 1 << 16;
/// The longest name read (PATH_MAX): library names, paths and version names are short.
const MAX_NAME: usize = 4096;
/// All the names one object's dynamic facts may add up to (libstdc++'s are about 3 kB): many
/// entries pointing at one long string must not multiply it into gigabytes.
const MAX_NAME_BYTES: u64 = 1 << 20;

/// The name of an ELF machine, as wheel tags spell architectures.
pub fn machine_name(machine: u16) -> String {
    match machine {
        3 => "i686".into(),
        40 => "armv7l".into(),
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        21 => "ppc64le".into(),
        22 => "s390x".into(),
        243 => "riscv64".into(),
        other => format!("ELF machine {other}"),
    }
}

/// Whether objects for `machine` are ELF64 (everything Debian ships but i386 and armhf).
pub fn wide_machine(machine: u16) -> bool {
    !matches!(machine, 3 | 40)
}

/// Reads the dynamic-loading facts of `data` (a whole ELF file). `None` when it is not ELF, or
/// when its program headers or dynamic section lie outside the file (truncated or corrupt). A
/// static executable has no `PT_DYNAMIC` and gives empty lists.
pub fn dynamic(data: &[u8]) -> Option<Dynamic> {
    dynamic_parts(&[(0, data)])
}

/// Where the dynamic segment of the ELF file starting with `head` lies: `(offset, size)` in the
/// file. A reader of a stream keeps the file's head (headers, string table, version sections come
/// first) and this segment, and hands both to [`dynamic_parts`]: bounded memory, whatever the
/// file's size.
pub fn dynamic_segment(head: &[u8]) -> Option<(u64, u64)> {
    let r = reader(&[(0, head)])?;
    program_headers(&r)?.1
}

/// What [`read_streamed`] learnt of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Streamed {
    /// Not ELF (its first bytes say so; nothing more was read).
    NotElf,
    Dynamic(Dynamic),
    /// ELF whose tables lie beyond the head kept: present, facts unknown.
    Beyond,
    /// ELF, but truncated or corrupt.
    Corrupt,
}

/// Of a streamed file, enough to read its program headers.
const PROBE: u64 = 64 << 10;
/// Of a streamed file, its dynamic segment is kept up to this size (a few hundred bytes in
/// practice).
const DYNAMIC_LIMIT: u64 = 1 << 20;

/// Reads the dynamic-loading facts of a file of `size` bytes from a stream, holding only what
/// they are read from: the file's head, up to the end of its first loaded segment where linkers
/// put the dynamic symbols, strings and version sections (libstdc++: 630 kB; at most
/// `head_limit`), then the dynamic segment, then whatever tables it points to further on
/// (patchelf, which auditwheel runs, moves the string table past the dynamic segment). The rest
/// is read past. `buf` holds the head, kept by the caller for the next file.
pub fn read_streamed(
    content: &mut dyn std::io::Read,
    size: u64,
    head_limit: u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<Streamed> {
    use std::io::Read;
    let read = |r: &mut dyn Read, n: u64, buf: &mut Vec<u8>| r.take(n).read_to_end(buf);
    buf.clear();
    read(content, 4, buf)?;
    if !is_elf(buf) {
        return Ok(Streamed::NotElf);
    }
    read(content, PROBE - 4, buf)?;
    let keep = first_segment_end(buf).unwrap_or(head_limit).min(head_limit);
    read(content, keep.saturating_sub(buf.len() as u64), buf)?;
    let head = buf.as_slice();
    if head.len() as u64 >= size {
        return Ok(dynamic(head).map_or(Streamed::Corrupt, Streamed::Dynamic));
    }
    let mut rest = Further { pos: head.len() as u64, parts: Vec::new() };
    match dynamic_segment(head) {
        Some((at, len)) if at >= rest.pos && len <= DYNAMIC_LIMIT => {
            rest.fetch(content, at, len)?;
        }
        Some((at, len)) if at.saturating_add(len) <= rest.pos => {}
        _ => return Ok(Streamed::Beyond),
    }
    if let Some(d) = dynamic_parts(&rest.with(head)) {
        return Ok(Streamed::Dynamic(d));
    }
    let Some(Some(table)) = reader(&rest.with(head)).and_then(|r| DynamicTable::read(&r)) else {
        return Ok(Streamed::Corrupt);
    };
    let mut wanted = table.tables(head_limit);
    wanted.sort_unstable();
    for (at, len) in wanted {
        let held = rest.with(head).iter().any(|(start, p)| at >= *start && at < start + p.len() as u64);
        if !held && !rest.fetch(content, at, len.min(size.saturating_sub(at)))? {
            return Ok(Streamed::Beyond);
        }
    }
    Ok(dynamic_parts(&rest.with(head)).map_or(Streamed::Beyond, Streamed::Dynamic))
}

/// The parts of a streamed file read after its head, in file order.
struct Further {
    /// How far the stream has been read.
    pos: u64,
    parts: Vec<(u64, Vec<u8>)>,
}

impl Further {
    /// Reads `len` bytes at `at`, reading past what lies between; `false` when `at` is already
    /// behind the stream.
    fn fetch(&mut self, content: &mut dyn std::io::Read, at: u64, len: u64) -> std::io::Result<bool> {
        use std::io::Read;
        if at < self.pos {
            return Ok(false);
        }
        std::io::copy(&mut content.take(at - self.pos), &mut std::io::sink())?;
        let mut part = Vec::new();
        content.take(len).read_to_end(&mut part)?;
        self.pos = at + part.len() as u64;
        self.parts.push((at, part));
        Ok(true)
    }

    /// `head` and the parts, as [`dynamic_parts`] takes them.
    fn with<'a>(&'a self, head: &'a [u8]) -> Vec<(u64, &'a [u8])> {
        let mut all = vec![(0, head)];
        all.extend(self.parts.iter().map(|(at, p)| (*at, p.as_slice())));
        all
    }
}

/// Where the first loaded segment (the one at file offset 0) ends: the dynamic symbol and string
/// tables and the version sections lie inside it, so a stream needs no more of the file's head.
pub fn first_segment_end(head: &[u8]) -> Option<u64> {
    let r = reader(&[(0, head)])?;
    program_headers(&r)?.0.iter().find(|(_, _, offset)| *offset == 0).map(|(_, filesz, _)| *filesz)
}

/// The dynamic section's entries and the loaded segments that map its addresses to file offsets.
struct DynamicTable {
    /// (vaddr, filesz, offset) of each loaded segment.
    loads: Vec<(u64, u64, u64)>,
    /// (tag, value) up to `DT_NULL`.
    entries: Vec<(u64, u64)>,
}

impl DynamicTable {
    /// `None` when the headers or the dynamic segment cannot be read; `Some(None)` for a file
    /// with no dynamic segment (static).
    fn read(r: &Reader) -> Option<Option<DynamicTable>> {
        let (loads, dyn_at) = program_headers(r)?;
        let Some((dyn_off, dyn_size)) = dyn_at else { return Some(None) };
        let entsize = if r.wide { 16 } else { 8 };
        let mut entries: Vec<(u64, u64)> = Vec::new();
        for k in 0..(dyn_size / entsize).min(MAX_RECORDS) {
            let at = dyn_off.checked_add(k * entsize)?;
            let (tag, val) = (r.word(at)?, r.word(at.checked_add(entsize / 2)?)?);
            if tag == dt::NULL {
                break;
            }
            entries.push((tag, val));
        }
        Some(Some(DynamicTable { loads, entries }))
    }

    fn value(&self, tag: u64) -> Option<u64> {
        self.entries.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }

    /// The file offset of address `addr`.
    fn to_offset(&self, addr: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|(v, size, _)| addr >= *v && addr - *v < *size)
            .and_then(|(v, _, off)| off.checked_add(addr - v))
    }

    /// Where the string table and the version sections lie: `(offset, length)`, the version
    /// sections' length bounded by `window` (their size is not in the dynamic section).
    fn tables(&self, window: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if let Some(at) = self.value(dt::STRTAB).and_then(|a| self.to_offset(a)) {
            out.push((at, self.value(dt::STRSZ).unwrap_or(window).min(window)));
        }
        for tag in [dt::VERNEED, dt::VERDEF] {
            if let Some(at) = self.value(tag).and_then(|a| self.to_offset(a)) {
                out.push((at, TABLE_WINDOW.min(window)));
            }
        }
        out
    }
}

/// The version sections are read this far (a few hundred bytes in practice).
const TABLE_WINDOW: u64 = 64 << 10;

/// (vaddr, filesz, offset) of each loaded segment, and the dynamic segment's (offset, filesz).
type Segments = (Vec<(u64, u64, u64)>, Option<(u64, u64)>);

fn program_headers(r: &Reader) -> Option<Segments> {
    let wide = r.wide;
    let (phoff, phentsize, phnum) =
        if wide { (r.word(0x20)?, r.u16(0x36)?, r.u16(0x38)?) } else { (r.word(0x1C)?, r.u16(0x2A)?, r.u16(0x2C)?) };
    let mut loads: Vec<(u64, u64, u64)> = Vec::new();
    let mut dyn_at: Option<(u64, u64)> = None;
    for i in 0..phnum.min(MAX_RECORDS) {
        let base = phoff.checked_add(i.checked_mul(phentsize)?)?;
        base.checked_add(56)?;
        let kind = r.u32(base)?;
        let (offset, vaddr, filesz) = if wide {
            (r.word(base + 8)?, r.word(base + 16)?, r.word(base + 32)?)
        } else {
            (r.word(base + 4)?, r.word(base + 8)?, r.word(base + 16)?)
        };
        match kind {
            PT_LOAD => loads.push((vaddr, filesz, offset)),
            PT_DYNAMIC => dyn_at = Some((offset, filesz)),
            _ => {}
        }
    }
    Some((loads, dyn_at))
}

/// [`dynamic`] of a file held in parts (`(file offset, bytes)`, the first at offset 0): `None`
/// also when what it needs lies outside the parts.
pub fn dynamic_parts(parts: &[(u64, &[u8])]) -> Option<Dynamic> {
    let r = reader(parts)?;
    let wide = r.wide;
    let machine = r.u16(0x12)? as u16;
    let mut out = Dynamic { machine, wide, ..Default::default() };
    let Some(table) = DynamicTable::read(&r)? else { return Some(out) };
    let (entries, to_offset) = (&table.entries, |addr| table.to_offset(addr));
    let value = |tag: u64| table.value(tag);
    let strtab = to_offset(value(dt::STRTAB)?)?;
    let strsz = value(dt::STRSZ).unwrap_or(u64::MAX);
    // Strings lie inside the string table: an offset past its size is corrupt, not a name. Their
    // total is bounded (MAX_NAME_BYTES): past it, the object is taken as corrupt.
    let budget = std::cell::Cell::new(MAX_NAME_BYTES);
    let text = |off: u64| {
        let name = if off < strsz { r.cstr(strtab.checked_add(off)?) } else { None }?;
        budget.set(budget.get().checked_sub(name.len() as u64 + 1)?);
        Some(name)
    };
    let split = |v: String| v.split(':').filter(|p| !p.is_empty()).map(String::from).collect::<Vec<_>>();
    for &(tag, val) in entries {
        match tag {
            dt::NEEDED => out.needed.push(text(val)?),
            dt::SONAME => out.soname = Some(text(val)?),
            dt::RPATH => out.rpath.extend(split(text(val)?)),
            dt::RUNPATH => out.runpath.extend(split(text(val)?)),
            _ => {}
        }
    }
    if let (Some(at), Some(count)) = (value(dt::VERNEED), value(dt::VERNEEDNUM)) {
        let mut at = to_offset(at)?;
        for _ in 0..count.min(MAX_RECORDS) {
            at.checked_add(16)?; // so the field offsets below cannot overflow
            // Elf_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
            let (cnt, file, aux, next) = (r.u16(at + 2)?, r.u32(at + 4)?, r.u32(at + 8)?, r.u32(at + 12)?);
            let mut need = VersionNeed { file: text(file)?, versions: Vec::new() };
            let mut a = at.checked_add(aux)?;
            for _ in 0..cnt.min(MAX_RECORDS) {
                a.checked_add(16)?;
                // Elf_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
                let (flags, name, next) = (r.u16(a + 4)?, r.u32(a + 8)?, r.u32(a + 12)?);
                need.versions.push((text(name)?, flags & VER_FLG_WEAK != 0));
                if next == 0 {
                    break;
                }
                a = a.checked_add(next)?;
            }
            out.verneed.push(need);
            if next == 0 {
                break;
            }
            at = at.checked_add(next)?;
        }
    }
    if let (Some(at), Some(count)) = (value(dt::VERDEF), value(dt::VERDEFNUM)) {
        let mut at = to_offset(at)?;
        for _ in 0..count.min(MAX_RECORDS) {
            at.checked_add(20)?;
            // Elf_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32,
            // vd_aux u32, vd_next u32; its first Elf_Verdaux (vda_name u32) names it.
            let (flags, aux, next) = (r.u16(at + 2)?, r.u32(at + 12)?, r.u32(at + 16)?);
            if flags & VER_FLG_BASE == 0 {
                out.verdef.push(text(r.u32(at.checked_add(aux)?)?)?);
            }
            if next == 0 {
                break;
            }
            at = at.checked_add(next)?;
        }
    }
    Some(out)
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

    #[test]
    fn dynamic_facts_of_real_objects() {
        // Debian 12's libutil.so.1 (libc6, amd64): a soname, one definition, needs from libc.
        let lib = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/binaries/libutil.so.1")).unwrap();
        let d = dynamic(&lib).expect("libutil is ELF");
        assert_eq!((d.machine, d.wide, machine_name(d.machine).as_str()), (62, true, "x86_64"));
        assert_eq!(d.soname.as_deref(), Some("libutil.so.1"));
        assert_eq!(d.needed, ["libc.so.6"]);
        assert_eq!(d.verdef, ["GLIBC_2.2.5"]);
        assert_eq!(d.verneed.len(), 1);
        assert_eq!(d.verneed[0].file, "libc.so.6");
        assert!(d.verneed[0].versions.contains(&("GLIBC_2.2.5".to_string(), false)), "{d:?}");
        assert!(d.rpath.is_empty() && d.runpath.is_empty());
        // The test binary links libc dynamically and needs versioned glibc symbols.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let d = dynamic(&me).expect("the test binary is ELF");
        assert!(d.needed.iter().any(|n| n.starts_with("libc.so")), "{d:?}");
        assert!(d.verneed.iter().flat_map(|n| &n.versions).any(|(v, _)| v.starts_with("GLIBC_2.")), "{d:?}");
        // Cut anywhere: fewer facts or none, never a panic; cut before the dynamic section: none.
        for cut in [0, 4, 18, 64, 200, 1000, lib.len() / 2, lib.len() - 1] {
            let _ = dynamic(&lib[..cut]);
        }
        assert!(dynamic(&lib[..4096]).is_none());
        // A stream keeps the head and the dynamic segment: the same facts as from the whole file.
        let (at, len) = dynamic_segment(&lib[..4096]).expect("program headers in the head");
        assert_eq!((at, len), (0x2dc8, 0x200));
        let segment = &lib[at as usize..(at + len) as usize];
        assert_eq!(dynamic_parts(&[(0, &lib[..4096]), (at, segment)]), dynamic(&lib));
        assert!(dynamic_parts(&[(0, &lib[..512]), (at, segment)]).is_none(), "tables outside the parts");
        // Streamed: the same facts, from the head and the dynamic segment only.
        let mut buf = Vec::new();
        let streamed = |data: &[u8], size: u64, buf: &mut Vec<u8>| {
            read_streamed(&mut std::io::Cursor::new(data), size, 8 << 20, buf).unwrap()
        };
        assert_eq!(streamed(&me, me.len() as u64, &mut buf), Streamed::Dynamic(dynamic(&me).unwrap()));
        assert!(buf.len() < me.len() / 2, "kept {} of {} bytes", buf.len(), me.len());
        assert_eq!(streamed(&lib, lib.len() as u64, &mut buf), Streamed::Dynamic(dynamic(&lib).unwrap()));
        assert_eq!(streamed(b"#!/bin/sh\n", 10, &mut buf), Streamed::NotElf);
        assert_eq!(streamed(&lib[..4096], 4096, &mut buf), Streamed::Corrupt);
        assert_eq!(streamed(&lib, lib.len() as u64, &mut Vec::new()), streamed(&lib, lib.len() as u64, &mut buf));
        let first = first_segment_end(&lib[..4096]).expect("a segment at offset 0");
        assert!(first > 0x500 && first < at, "{first:#x}");
        assert_eq!(dynamic_parts(&[(0, &lib[..first as usize]), (at, segment)]), dynamic(&lib));
    }
}
