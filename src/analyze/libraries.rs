//! What an application's loader would find in an image, learnt during the one streaming pass
//! over its layers: [`LibraryScan`] rides along [`crate::oci::view::merge_observed`] (for
//! `lucid verify` and for `lucid report`), reads each shared library whole once, summarises it
//! (machine, soname, version definitions: a few hundred bytes) and drops it, and keeps the small
//! loader configuration and release texts. [`Libraries`] is what survives in the final
//! filesystem; `verify::app::Host` answers the loader's questions from it.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use anyhow::{Context, Result};

use crate::formats::elf;
use crate::oci::read::EntryKind;
use crate::oci::view::{Event, MergedView};

/// Of a shared library streamed by, at most this much of its head is kept ([`elf::read_streamed`]):
/// libLLVM's tables end 4.7 MB into its one text segment.
const HEAD_LIMIT: u64 = 8 << 20;
/// Loader configuration and os-release files are a few hundred bytes; more is refused.
const TEXT_LIMIT: u64 = 64 << 10;
/// All the configuration and release texts kept of one image.
const TEXTS_LIMIT: u64 = 4 << 20;

/// What one library file of the image is to the loader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LibFacts {
    /// An ELF object: the loader takes it when its machine and class match.
    Elf { machine: u16, wide: bool, soname: Option<String>, versions: Vec<String> },
    /// Present, but not read (its tables lie beyond the head a stream keeps, or it is not named
    /// like a library): its symbol versions are unknown.
    Unread,
    /// Not ELF (a linker script) or corrupt: the loader cannot load it.
    NotLoadable,
}

/// Whether `path`'s file name is a shared library's (`libz.so.1`, `ld-linux-x86-64.so.2`,
/// `libfoo.so`). Python extension modules (`_ssl.cpython-311-x86_64-linux-gnu.so`) are loaded by
/// path, never searched for, and are left out.
fn library_name(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    let Some((_, tail)) = base.split_once(".so") else { return false };
    (base.starts_with("lib") || base.starts_with("ld-") || base.starts_with("ld64"))
        && (tail.is_empty() || (tail.starts_with('.') && tail[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.')))
}

/// The loader configuration and release files the checks read, Java runtimes' `release` files
/// among them.
fn config_text(path: &str) -> bool {
    path == "etc/ld.so.conf"
        || path.starts_with("etc/ld.so.conf.d/")
        || path == "etc/os-release"
        || path == "usr/lib/os-release"
        || crate::analyze::java_modules::is_release_path(path)
}

/// The observer that learns an image's libraries during the merge (see the module doc).
#[derive(Debug, Default)]
pub struct LibraryScan {
    /// Path -> (layer that wrote it, facts); checked against the merged tree at the end.
    libs: HashMap<String, (usize, LibFacts)>,
    texts: HashMap<String, (usize, Vec<u8>)>,
    /// Bytes in `texts`, bounded by [`TEXTS_LIMIT`].
    text_bytes: u64,
    buf: Vec<u8>,
}

impl LibraryScan {
    /// Whether the scan wants the whole content of `path` (for a reader that buffers files).
    pub fn wants(path: &str) -> bool {
        library_name(path) || config_text(path)
    }

    /// Takes the whole content of `path`, which layer `layer` wrote.
    pub fn see(&mut self, layer: usize, path: &str, data: &[u8]) {
        if library_name(path) {
            let facts = elf::dynamic(data).map_or(LibFacts::NotLoadable, Self::elf_facts);
            self.libs.insert(path.to_string(), (layer, facts));
        } else if config_text(path) && data.len() as u64 <= TEXT_LIMIT && self.text_bytes < TEXTS_LIMIT {
            // Past TEXTS_LIMIT in all (a real image has a few kilobytes), further texts are not
            // kept: an image of 400,000 small `release` files must not hold them all.
            self.text_bytes += data.len() as u64;
            self.texts.insert(path.to_string(), (layer, data.to_vec()));
        }
    }

    /// Notes a library that could not be read.
    pub fn unread(&mut self, layer: usize, path: &str) {
        if library_name(path) {
            self.libs.insert(path.to_string(), (layer, LibFacts::Unread));
        }
    }

    /// Reads a library from a stream, keeping only its head and its dynamic segment.
    fn stream_library(&mut self, layer: usize, path: &str, size: u64, content: &mut dyn Read) -> Result<()> {
        let streamed = elf::read_streamed(content, size, HEAD_LIMIT, &mut self.buf)
            .with_context(|| format!("cannot read {path}"))?;
        let facts = match streamed {
            elf::Streamed::Dynamic(d) => Self::elf_facts(d),
            // ELF whose tables lie beyond what a stream keeps: present, versions unknown.
            elf::Streamed::Beyond => LibFacts::Unread,
            elf::Streamed::NotElf | elf::Streamed::Corrupt => LibFacts::NotLoadable,
        };
        self.libs.insert(path.to_string(), (layer, facts));
        Ok(())
    }

    fn elf_facts(d: elf::Dynamic) -> LibFacts {
        LibFacts::Elf { machine: d.machine, wide: d.wide, soname: d.soname, versions: d.verdef }
    }

    /// A hard link carries its target's facts.
    pub fn link(&mut self, layer: usize, path: &str, target: &str) {
        let target = target.trim_start_matches("./").trim_start_matches('/');
        if let Some((_, facts)) = self.libs.get(target).cloned() {
            self.libs.insert(path.to_string(), (layer, facts));
        }
    }

    /// The observer for [`crate::oci::view::merge_observed`]: reads what it wants, bounded.
    pub fn observe(&mut self, event: Event<'_>) -> Result<()> {
        let Event::Entry { layer, entry, content } = event else { return Ok(()) };
        match entry.kind {
            EntryKind::Hardlink => self.link(layer, &entry.path, entry.link.as_deref().unwrap_or("")),
            EntryKind::File if library_name(&entry.path) => {
                self.stream_library(layer, &entry.path, entry.size, content)?;
            }
            EntryKind::File if config_text(&entry.path) && entry.size <= TEXT_LIMIT => {
                let mut text = Vec::new();
                content.read_to_end(&mut text).with_context(|| format!("cannot read {}", entry.path))?;
                self.see(layer, &entry.path, &text);
            }
            _ => {}
        }
        Ok(())
    }

    /// What survives in the final filesystem `fs` (a later layer may have deleted or replaced it).
    pub fn finish(self, fs: &MergedView) -> Libraries {
        let alive = |p: &String, layer: usize| fs.entries.get(p).is_some_and(|e| e.layer() == layer);
        Libraries {
            libs: self.libs.into_iter().filter(|(p, (l, _))| alive(p, *l)).map(|(p, (_, f))| (p, f)).collect(),
            texts: self.texts.into_iter().filter(|(p, (l, _))| alive(p, *l)).map(|(p, (_, t))| (p, t)).collect(),
        }
    }
}

/// The libraries and loader configuration of one image, from [`LibraryScan::finish`].
#[derive(Clone, Debug, Default)]
pub struct Libraries {
    /// Library path -> what it is to the loader.
    pub libs: BTreeMap<String, LibFacts>,
    /// Loader configuration and release file path -> content.
    pub texts: BTreeMap<String, Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        for yes in [
            "lib/x86_64-linux-gnu/libc.so.6",
            "usr/lib/libstdc++.so.6.0.30",
            "lib64/ld-linux-x86-64.so.2",
            "a/libfoo.so",
        ] {
            assert!(library_name(yes), "{yes}");
        }
        for no in
            ["usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "etc/libc.so.conf", "libx.sox"]
        {
            assert!(!library_name(no), "{no}");
        }
    }
}
