//! The final filesystem of an image, built in one streaming pass over its layers.
//!
//! Each layer is read once, straight from where it is stored: its blob is hashed against the
//! manifest digest, its tar against the config's diff_id, whiteouts (`.wh.NAME`, `.wh..wh..opq`)
//! remove what lower layers put there, and every surviving path keeps the layer that wrote it
//! (provenance for findings). Only metadata is kept, plus the content of the few files checks
//! read (`/etc/passwd`...) and what the secret scanner matched, so memory grows with the number of
//! files, never with their size.

use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::io::Read;

use anyhow::{Context, Result, bail};

use super::HashReader;
use super::interface::Image;
use super::read::{EntryKind, LayerEntry, decompressed_flagged, for_each_entry};

/// Files bigger than this are not scanned for private keys (keys are a few kilobytes; what is
/// bigger is libraries and data).
const SCAN_LIMIT: u64 = 1 << 20;
/// Files captured for checks are refused beyond this size (a 16 MiB /etc/passwd is an attack).
pub const CAPTURE_LIMIT: u64 = 16 << 20;

/// One path of the final filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
///
/// Kept small on purpose: a view holds one per path (up to [`crate::limits::max_entries`] of
/// them), so its size is what bounds verify's and report's memory on an image built to have
/// millions of files. 48 bytes plus the path.
pub struct FsEntry {
    pub kind: EntryKind,
    pub mode: u32,
    /// Linux ids are 32-bit; a tar header claiming more is refused when read.
    pub uid: u32,
    pub gid: u32,
    /// Index of the layer that wrote it.
    pub layer: u32,
    pub size: u64,
    pub link: Option<Box<str>>,
}

impl FsEntry {
    /// Index of the layer that wrote it, for indexing the view's layers.
    pub fn layer(&self) -> usize {
        self.layer as usize
    }
}

/// A layer index as the 32 bits [`FsEntry`] and report's per-file facts keep it.
pub fn layer_number(index: usize) -> Result<u32> {
    u32::try_from(index).context("more layers than 2^32")
}

/// What one layer held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Manifest digest of the stored blob, or the diff_id when the source has no manifest.
    pub digest: String,
    pub diff_id: String,
    /// Bytes as stored.
    pub stored: u64,
    /// Whether the stored bytes are compressed (gzip), as read: only then is `stored` a
    /// compressed size. An engine exports plain tars.
    pub compressed: bool,
    /// Bytes of the uncompressed tar.
    pub tar_bytes: u64,
    pub entries: u64,
    /// Bytes of file content the layer adds.
    pub content_bytes: u64,
    pub whiteouts: u64,
    pub created_by: Option<String>,
}

/// A private key seen in some layer, even if a later layer deleted it (it still ships).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHit {
    pub path: String,
    pub layer: usize,
}

/// The merged filesystem plus what the checks need from the content.
#[derive(Clone, Debug, Default)]
pub struct MergedView {
    pub entries: BTreeMap<String, FsEntry>,
    pub layers: Vec<LayerStats>,
    /// Content of the files asked for (the last layer's version).
    pub captured: BTreeMap<String, Vec<u8>>,
    pub key_hits: Vec<KeyHit>,
    /// Bytes of file content that lower layers ship but upper layers delete or overwrite.
    pub wasted_bytes: u64,
}

impl MergedView {
    /// Bytes of file content in the final filesystem: what `docker images` shows as SIZE and
    /// what `lucid build` checks budgets against.
    pub fn content_size(&self) -> u64 {
        self.entries
            .values()
            .filter(|e| e.kind == EntryKind::File || e.kind == EntryKind::Hardlink)
            .map(|e| e.size)
            .sum()
    }

    /// Follows symlinks (absolute targets are relative to the image root) to the final path, at
    /// most 40 hops; `None` when something on the way is missing or loops.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        let mut todo: Vec<String> = path.split('/').rev().filter(|p| !p.is_empty()).map(String::from).collect();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    parts.pop();
                    continue;
                }
                _ => {}
            }
            parts.push(part);
            let key = parts.join("/");
            let entry = self.entries.get(&key)?;
            if entry.kind == EntryKind::Symlink {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let target = entry.link.clone().unwrap_or_default();
                parts.pop();
                if target.starts_with('/') {
                    parts.clear();
                }
                todo.extend(target.split('/').rev().filter(|p| !p.is_empty()).map(String::from));
            }
        }
        Some(parts.join("/"))
    }

    /// The entry at `path` after following symlinks.
    pub fn lookup(&self, path: &str) -> Option<(String, &FsEntry)> {
        let key = self.resolve(path)?;
        self.entries.get(&key).map(|e| (key, e))
    }

    /// Digest of the layer that wrote `path`, for findings.
    pub fn layer_of(&self, path: &str) -> Option<String> {
        self.entries.get(path).and_then(|e| self.layers.get(e.layer())).map(|l| l.digest.clone())
    }
}

/// Whether `path` is `dir` or below it.
fn under(path: &str, dir: &str) -> bool {
    path == dir || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

/// Removes `dir` and everything below it that a layer before `layer` wrote; adds the bytes to
/// `wasted` and returns them.
fn remove_tree(entries: &mut BTreeMap<String, FsEntry>, dir: &str, layer: usize, wasted: &mut u64) -> u64 {
    let doomed: Vec<String> = entries
        .range(dir.to_string()..)
        .take_while(|(k, _)| k.starts_with(dir))
        .filter(|(k, e)| under(k, dir) && e.layer() < layer)
        .map(|(k, _)| k.clone())
        .collect();
    let mut removed = 0;
    for k in doomed {
        if let Some(e) = entries.remove(&k) {
            removed += e.size;
        }
    }
    *wasted += removed;
    removed
}

/// What [`merge_observed`] shows its observer, in layer order, as the merge sees it.
pub enum Event<'a> {
    /// A path a layer writes (file, directory, link...). `content` reads a file's bytes (empty for
    /// everything else); whatever the observer leaves unread is skipped.
    Entry { layer: usize, entry: &'a LayerEntry, content: &'a mut dyn Read },
    /// A whiteout of `path` (`.wh.NAME`, or `.wh..wh..opq` for the directory `path`'s contents).
    /// `removed` is the file content it took away from lower layers, and `was_dir` whether
    /// `path` was a directory before (dive counts a deleted directory's bytes, not a file's).
    Whiteout { layer: usize, path: &'a str, removed: u64, was_dir: bool, opaque: bool },
}

/// The content matcher for PEM private keys: the armour line followed by base64 or an
/// encryption header, so source code that only names the string does not match.
fn key_pattern() -> &'static regex::bytes::Regex {
    static RE: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::bytes::Regex::new(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\r?\n(?:[A-Za-z0-9+/=]{40,}|Proc-Type:)")
            .expect("static regex")
    })
}

/// Reads every layer of `view` once and builds the merged filesystem. `capture` names the files
/// (canonical, no leading `/`) whose final content the checks want.
pub fn merge(view: &dyn Image, capture: &BTreeSet<String>) -> Result<MergedView> {
    merge_observed(view, capture, &mut |_| Ok(()))
}

/// [`merge`], showing every entry and whiteout to `observe` during the same single pass, so
/// `lucid report` can hash content and read ELF headers and package lists without reading the
/// layers a second time.
pub fn merge_observed(
    view: &dyn Image,
    capture: &BTreeSet<String>,
    observe: &mut dyn FnMut(Event<'_>) -> Result<()>,
) -> Result<MergedView> {
    let mut out = MergedView::default();
    let history: Vec<Option<String>> =
        view.config_file().history.iter().filter(|h| !h.empty_layer).map(|h| h.created_by.clone()).collect();
    let mut buf = Vec::new();
    let max_paths = crate::limits::max_entries();
    for (i, layer) in view.layers().iter().enumerate() {
        let number = layer_number(i)?;
        let name = layer.digest.clone().unwrap_or_else(|| layer.diff_id.clone());
        let mut stats = LayerStats {
            digest: name.clone(),
            diff_id: layer.diff_id.clone(),
            stored: layer.size,
            created_by: history.get(i).cloned().flatten(),
            ..Default::default()
        };
        let ctx = || format!("layer {} ({name})", i + 1);
        let mut blob = HashReader::new(layer.blob().with_context(ctx)?);
        let (tar_digest, tar_bytes, compressed) = {
            let (tar, compressed) = decompressed_flagged(&mut blob).with_context(ctx)?;
            let mut tar = if compressed { HashReader::new(tar) } else { HashReader::counting(tar) };
            for_each_entry(&mut tar, |e, data| {
                stats.entries += 1;
                let paths = out.entries.len() as u64;
                let (dir, base) = match e.path.rsplit_once('/') {
                    Some((d, b)) => (Some(d), b),
                    None => (None, e.path.as_str()),
                };
                if base == ".wh..wh..opq" {
                    let dir = dir.unwrap_or("");
                    stats.whiteouts += 1;
                    // Everything below `dir` from lower layers goes; `dir` itself stays.
                    let kids: Vec<String> = out
                        .entries
                        .range(format!("{dir}/")..)
                        .take_while(|(k, _)| under(k, dir))
                        .filter(|(k, e)| *k != dir && e.layer() < i)
                        .map(|(k, _)| k.clone())
                        .collect();
                    let mut removed = 0;
                    for k in kids {
                        if let Some(old) = out.entries.remove(&k) {
                            removed += old.size;
                        }
                    }
                    out.wasted_bytes += removed;
                    return observe(Event::Whiteout { layer: i, path: dir, removed, was_dir: true, opaque: true });
                }
                if let Some(victim) = base.strip_prefix(".wh.") {
                    stats.whiteouts += 1;
                    let target = match dir {
                        Some(d) => format!("{d}/{victim}"),
                        None => victim.to_string(),
                    };
                    let was_dir = out.entries.get(&target).is_some_and(|e| e.kind == EntryKind::Dir);
                    let removed = remove_tree(&mut out.entries, &target, i, &mut out.wasted_bytes);
                    return observe(Event::Whiteout { layer: i, path: &target, removed, was_dir, opaque: false });
                }
                let kind = e.kind;
                let mut size = if kind == EntryKind::File { e.size } else { 0 };
                if kind == EntryKind::Hardlink {
                    size = e
                        .link
                        .as_deref()
                        .and_then(|l| out.entries.get(l.trim_start_matches("./")))
                        .map_or(0, |t| t.size);
                }
                let id = |v: u64, what: &str| {
                    u32::try_from(v)
                        .with_context(|| format!("{}: {what} {v} does not fit a Linux id (32 bits)", e.path))
                };
                let entry = FsEntry {
                    kind,
                    mode: e.mode,
                    uid: id(e.uid, "uid")?,
                    gid: id(e.gid, "gid")?,
                    layer: number,
                    size,
                    link: e.link.as_deref().map(Box::from),
                };
                // One search of the map in the common case (a new path). A non-directory over
                // anything, or anything over a non-directory, replaces what was there.
                match out.entries.entry(e.path.clone()) {
                    btree_map::Entry::Vacant(v) => {
                        // Each layer's entries are bounded where the tar is read; this bounds
                        // the merged filesystem of many such layers, and so the view's memory.
                        if paths >= max_paths {
                            bail!(
                                "the merged filesystem holds more than {max_paths} paths: refused as a \
                                 resource-exhaustion attempt (LUCID_MAX_ENTRIES raises the limit)"
                            );
                        }
                        v.insert(entry);
                    }
                    btree_map::Entry::Occupied(mut o) => {
                        if o.get().kind != EntryKind::Dir || kind != EntryKind::Dir {
                            remove_tree(&mut out.entries, &e.path, i + 1, &mut out.wasted_bytes);
                            out.entries.insert(e.path.clone(), entry);
                        } else {
                            o.insert(entry);
                        }
                    }
                }
                let mut read = 0;
                if kind != EntryKind::File {
                    // A later link, directory or device at a captured path replaces the file an
                    // earlier layer had there: what was read of it no longer describes the image
                    // (a link over etc/passwd must not leave the earlier, harmless one behind).
                    out.captured.remove(&e.path);
                }
                if kind == EntryKind::File {
                    stats.content_bytes += e.size;
                    let wanted = capture.contains(&e.path);
                    if wanted && e.size > CAPTURE_LIMIT {
                        bail!("{} is {} bytes, too large to be read as a system file", e.path, e.size);
                    }
                    if wanted || e.size <= SCAN_LIMIT {
                        buf.clear();
                        data.take(e.size.min(CAPTURE_LIMIT))
                            .read_to_end(&mut buf)
                            .with_context(|| format!("cannot read {}", e.path))?;
                        if key_pattern().is_match(&buf) {
                            out.key_hits.push(KeyHit { path: e.path.clone(), layer: i });
                        }
                        if wanted {
                            out.captured.insert(e.path.clone(), buf.clone());
                        }
                        read = buf.len();
                    }
                }
                // What was already read for the scanner comes first, then the rest of the entry.
                let mut content = (&buf[..read]).chain(data);
                observe(Event::Entry { layer: i, entry: e, content: &mut content })
            })
            .with_context(ctx)?;
            // The tar reader stops at the end-of-archive blocks; hash what follows too.
            std::io::copy(&mut tar, &mut std::io::sink()).with_context(ctx)?;
            let (tar_digest, tar_bytes) = tar.finish();
            (tar_digest, tar_bytes, compressed)
        };
        std::io::copy(&mut blob, &mut std::io::sink()).with_context(ctx)?;
        let (digest, size) = blob.finish();
        // An uncompressed layer's tar is its blob: one digest serves as both.
        let diff_id = if compressed { tar_digest } else { digest.clone() };
        if let Some(want) = &layer.digest
            && (*want != digest || size != layer.size)
        {
            bail!(
                "layer {} : the blob is {digest} ({size} bytes), the manifest says {want} ({} bytes)",
                i + 1,
                layer.size
            );
        }
        if diff_id != layer.diff_id {
            bail!("layer {} ({name}): the uncompressed tar is {diff_id}, the config says {}", i + 1, layer.diff_id);
        }
        stats.tar_bytes = tar_bytes;
        stats.compressed = compressed;
        out.layers.push(stats);
    }
    // Files deleted by a later layer may leave their captured content behind: drop it.
    out.captured.retain(|k, _| out.entries.contains_key(k));
    Ok(out)
}
