//! The observer that rides along verify's merge pass: content hashes, ELF facts, package
//! metadata and dive's per-path accounting, all in the one read of each layer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::libraries::LibraryScan;
use super::{PathWaste, jimage, owners};
use crate::formats::elf;
use crate::oci::Image;
use crate::oci::read::EntryKind;
use crate::oci::view::{Event, MergedView, layer_number, merge_observed};

/// ELF files bigger than this are hashed but not parsed (their section table is at the end,
/// so parsing needs the whole file in memory).
const ELF_LIMIT: u64 = 512 << 20;
/// Metadata files bigger than this are not kept (a status file or RECORD is kilobytes).
const META_LIMIT: u64 = 8 << 20;
/// Bytes of metadata files kept per image, all files together: a real image keeps a few
/// megabytes (Debian status files, wheel RECORDs, a jimage index); a hostile one could pack
/// thousands of 8 MiB `METADATA` files of zeros into a small layer and ask for gigabytes.
pub(super) const META_TOTAL_LIMIT: u64 = 64 << 20;
/// dive lists this many inefficient paths at most in our output.
const INEFFICIENT_TOP: usize = 50;

/// What the pass learnt about the version of a path that a layer wrote.
#[derive(Clone, Debug)]
///
/// One per file of the image, so kept small (32 bytes): ELF facts, which few files have, are boxed.
pub(super) struct FileFact {
    pub layer: u32,
    /// First 16 bytes of the content's SHA-256 (enough to find duplicates).
    pub hash: Option<[u8; 16]>,
    pub elf: Option<Box<elf::ElfInfo>>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Dive {
    pub score: f64,
    pub wasted: u64,
    pub inefficient: Vec<PathWaste>,
}

#[derive(Debug, Default)]
pub(super) struct Facts {
    /// The latest fact per path (check its layer against the merged entry's).
    pub files: HashMap<String, FileFact>,
    /// Content of the metadata files that survive in the final filesystem.
    pub meta: BTreeMap<String, Vec<u8>>,
    /// Metadata files not kept because [`META_TOTAL_LIMIT`] was reached: how many, and their bytes.
    pub meta_dropped: (u64, u64),
    pub dive: Dive,
}

/// dive's per-path record: how often a path was seen, the sum and the smallest of its sizes.
#[derive(Default)]
struct DivePath {
    copies: u32,
    cumulative: u64,
    min: u64,
}

/// Reads `view` once: the merged filesystem and the facts; with `scan`, also what an
/// application's loader would find (`--app`).
pub(super) fn run(view: &dyn Image, mut scan: Option<&mut LibraryScan>) -> Result<(MergedView, Facts)> {
    let mut facts = Facts::default();
    let mut meta: HashMap<String, (usize, Vec<u8>)> = HashMap::new();
    // Bytes held in `meta`, and what was left out once it reached the limit.
    let mut meta_bytes = 0u64;
    let mut dropped = (0u64, 0u64);
    let mut dive: HashMap<String, DivePath> = HashMap::new();
    let mut buf = Vec::new();
    let mut see = |path: &str, size: u64| {
        let d = dive.entry(path.to_string()).or_default();
        d.min = if d.copies == 0 { size } else { d.min.min(size) };
        d.copies += 1;
        d.cumulative += size;
    };
    let fs = merge_observed(view, &BTreeSet::new(), &mut |ev| {
        match ev {
            Event::Whiteout { path, removed, was_dir, .. } => {
                // dive sizes a whiteout by what it deletes when that was a directory, else 0.
                see(path, if was_dir { removed } else { 0 });
            }
            Event::Entry { layer, entry, content } => match entry.kind {
                EntryKind::File => {
                    see(&entry.path, entry.size);
                    let mut hasher = Sha256::new();
                    buf.clear();
                    // Enough for an ELF magic and a jimage header.
                    let mut head = [0u8; 28];
                    let n = crate::limits::read_up_to(content, &mut head)
                        .with_context(|| format!("cannot read {}", entry.path))?;
                    hasher.update(&head[..n]);
                    let mut keep_meta = entry.size <= META_LIMIT && owners::wanted(&entry.path);
                    // What this file would replace (a later layer's copy of the same path) is
                    // given back first.
                    let replaced = meta.get(&entry.path).map_or(0, |(_, d)| d.len() as u64);
                    if keep_meta && meta_bytes - replaced + entry.size > META_TOTAL_LIMIT {
                        keep_meta = false;
                        dropped = (dropped.0 + 1, dropped.1 + entry.size);
                    }
                    let keep_elf = elf::is_elf(&head[..n]) && entry.size <= ELF_LIMIT;
                    let for_scan = scan.is_some() && LibraryScan::wants(&entry.path);
                    let keep_scan = for_scan && (keep_elf || entry.size <= META_LIMIT);
                    // A Java runtime's lib/modules: keep its index (the head), for bytes per module.
                    let jimage_index = (entry.path.ends_with("lib/modules") && !keep_meta && !keep_elf)
                        .then(|| jimage::index_size(&head[..n]))
                        .flatten()
                        .filter(|&s| s <= jimage::MAX_INDEX && s <= entry.size);
                    // How much of the file to keep in `buf`: all of a metadata or ELF file, the
                    // head of a jimage; the rest is only hashed.
                    let keep = if keep_meta || keep_elf || keep_scan { Some(u64::MAX) } else { jimage_index };
                    if let Some(keep) = keep {
                        buf.extend_from_slice(&head[..n]);
                        content
                            .take(keep.saturating_sub(n as u64))
                            .read_to_end(&mut buf)
                            .with_context(|| format!("cannot read {}", entry.path))?;
                        hasher.update(&buf[n..]);
                    }
                    std::io::copy(content, &mut HashSink(&mut hasher))
                        .with_context(|| format!("cannot read {}", entry.path))?;
                    let digest = hasher.finalize();
                    let mut hash = [0u8; 16];
                    hash.copy_from_slice(&digest[..16]);
                    let elf = if keep_elf { elf::parse(&buf).map(Box::new) } else { None };
                    if let Some(scan) = scan.as_deref_mut().filter(|_| for_scan) {
                        if keep_scan {
                            scan.see(layer, &entry.path, &buf);
                        } else {
                            scan.unread(layer, &entry.path);
                        }
                    }
                    let fact = FileFact { layer: layer_number(layer)?, hash: Some(hash), elf };
                    facts.files.insert(entry.path.clone(), fact);
                    if keep_meta || jimage_index.is_some() {
                        let data = std::mem::take(&mut buf);
                        meta_bytes = meta_bytes + data.len() as u64 - replaced;
                        meta.insert(entry.path.clone(), (layer, data));
                    }
                }
                EntryKind::Hardlink => {
                    let target = entry.link.as_deref().unwrap_or("").trim_start_matches("./").trim_start_matches('/');
                    if let Some(scan) = scan.as_deref_mut() {
                        scan.link(layer, &entry.path, target);
                    }
                    let fact = facts.files.get(target).cloned();
                    see(&entry.path, 0);
                    if let Some(mut f) = fact {
                        f.layer = layer_number(layer)?;
                        facts.files.insert(entry.path.clone(), f);
                    }
                }
                EntryKind::Symlink | EntryKind::Other(_) => see(&entry.path, 0),
                // Directories are dive leaves only when empty, and always 0 bytes: they change
                // neither the score nor the waste.
                EntryKind::Dir => {}
            },
        }
        Ok(())
    })?;
    facts.meta = meta
        .into_iter()
        .filter(|(p, (layer, _))| fs.entries.get(p).is_some_and(|e| e.layer() == *layer))
        .map(|(p, (_, data))| (p, data))
        .collect();
    facts.meta_dropped = dropped;
    let (mut min_sum, mut all_sum) = (0u64, 0u64);
    let mut inefficient = Vec::new();
    for (path, d) in dive {
        min_sum += d.min;
        all_sum += d.cumulative;
        if d.copies > 1 {
            facts.dive.wasted += d.cumulative;
            inefficient.push(PathWaste { path: format!("/{path}"), copies: d.copies, bytes: d.cumulative });
        }
    }
    inefficient.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    inefficient.truncate(INEFFICIENT_TOP);
    facts.dive.inefficient = inefficient;
    facts.dive.score = if all_sum == 0 { 1.0 } else { min_sum as f64 / all_sum as f64 };
    Ok((fs, facts))
}

struct HashSink<'a>(&'a mut Sha256);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
