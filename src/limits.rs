//! Resource bounds for everything lucid reads from outside: a mirror's indices and `.deb`s, image
//! layers, archives, JSON and YAML.
//!
//! Every reader of untrusted bytes is "fail closed" twice over: malformed input is an error, and
//! so is input that is well formed but built to exhaust memory, disk or time (a zip bomb, a tar of
//! a million empty files, a path longer than any file system takes). Each limit is far above what
//! any real Debian package or container image needs, and each breach is an error that names the
//! limit and the thing that broke it, so a legitimate outlier is diagnosed at once.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes one decompressed stream may yield, and the sum of the sizes one archive's tar headers
/// may declare: a `data.tar`, a `Packages` index, one image layer. The largest Debian 12 package
/// unpacks to about 1.5 GB; layers of real base images stay well below this.
/// `LUCID_MAX_UNPACKED_BYTES` overrides it.
pub const MAX_UNPACKED_BYTES: u64 = 16 << 30;

/// A decompressed stream that grows past [`BOMB_FLOOR`] bytes while being more than this many
/// times larger than its compressed form is refused as a decompression bomb. Real packages and
/// layers compress 2:1 to 20:1 (text-heavy ones up to about 50:1); runs of one byte, what bombs are
/// made of, reach 1032:1 in gzip and far more in xz. `LUCID_MAX_RATIO` overrides it (for an image
/// that really ships gigabytes of zeros).
pub const MAX_RATIO: u64 = 200;

/// Below this output size the ratio is not checked: small, highly repetitive files (an empty
/// sparse database, a zero-filled test fixture) are harmless.
pub const BOMB_FLOOR: u64 = 64 << 20;

/// Entries one tar archive (a layer, a `data.tar`, a docker-archive) may hold. The Java JDK
/// package has about 1,500 entries and a Python rootfs about 8,000; a large application layer
/// (node_modules) about 100,000. verify keeps about 190 bytes per path (the path and a 48-byte
/// entry in an ordered map), so this also bounds its memory: a layer of 400,001 empty files is
/// refused at about 80 MB peak (500,000 measured 96 MB, too close to the 100 MB we promise).
/// `LUCID_MAX_ENTRIES` overrides it.
pub const MAX_ENTRIES: u64 = 400_000;

fn env_limit(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok()).filter(|&n| n > 0).unwrap_or(default)
}

/// [`MAX_UNPACKED_BYTES`], or the `LUCID_MAX_UNPACKED_BYTES` override.
pub fn max_unpacked() -> u64 {
    static V: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *V.get_or_init(|| env_limit("LUCID_MAX_UNPACKED_BYTES", MAX_UNPACKED_BYTES))
}

/// [`MAX_RATIO`], or the `LUCID_MAX_RATIO` override.
pub fn max_ratio() -> u64 {
    static V: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *V.get_or_init(|| env_limit("LUCID_MAX_RATIO", MAX_RATIO))
}

/// [`MAX_ENTRIES`], or the `LUCID_MAX_ENTRIES` override.
pub fn max_entries() -> u64 {
    static V: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *V.get_or_init(|| env_limit("LUCID_MAX_ENTRIES", MAX_ENTRIES))
}

/// Bytes of one path or link target in an archive (Linux's PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;

/// Bytes of a JSON document read whole (index.json, a manifest, a config, manifest.json).
/// Real ones are a few kilobytes; a config with a long history stays under a megabyte.
pub const MAX_JSON_BYTES: u64 = 16 << 20;

/// Bytes of a YAML document read whole (build-args.yml, a structure-test file).
pub const MAX_YAML_BYTES: u64 = 4 << 20;

/// Jars one application may hold (`--app`: a folder's jars plus the nested jars of fat jars and
/// wars). A large Spring Boot service ships about 300.
pub const MAX_APP_JARS: usize = 10_000;

/// Bytes of one small text entry of a jar read whole: its manifest, a `META-INF/services` file.
/// Real ones are a few kilobytes.
pub const MAX_JAR_TEXT_BYTES: u64 = 1 << 20;

/// Checks a path or link target from an archive against [`MAX_PATH_BYTES`].
pub fn check_path_len(path: &[u8], what: &str) -> anyhow::Result<()> {
    if path.len() > MAX_PATH_BYTES {
        let head = String::from_utf8_lossy(&path[..64]);
        anyhow::bail!(
            "{what} of {} bytes ({head:?}...) is longer than the limit of {MAX_PATH_BYTES} bytes",
            path.len()
        );
    }
    Ok(())
}

/// Counts the entries of an archive against [`max_entries`] and the sizes their headers declare
/// against [`max_unpacked`]: a header promising a terabyte is refused before any of it is read.
#[derive(Debug, Default)]
pub struct EntryCounter {
    entries: u64,
    declared: u64,
}

impl EntryCounter {
    pub fn bump(&mut self) -> anyhow::Result<()> {
        self.entries += 1;
        let max = max_entries();
        if self.entries > max {
            anyhow::bail!(
                "more than {max} entries: refused as a resource-exhaustion attempt (LUCID_MAX_ENTRIES raises the limit)"
            );
        }
        Ok(())
    }

    /// Adds an entry's declared size.
    pub fn declare(&mut self, path: &str, size: u64) -> anyhow::Result<()> {
        self.declared = self.declared.saturating_add(size);
        let max = max_unpacked();
        if self.declared > max {
            anyhow::bail!(
                "{path}: its header declares {size} bytes, which takes the archive past the limit of {max} unpacked \
                 bytes (LUCID_MAX_UNPACKED_BYTES raises it)"
            );
        }
        Ok(())
    }
}

/// A decompressing reader that stops with an error (`InvalidData`, so it surfaces through any
/// `io::Read` consumer) once its output passes `limit` bytes or looks like a decompression bomb
/// against `compressed` input bytes.
pub struct Bounded<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    limit: u64,
}

impl<R: Read> Bounded<R> {
    /// Bounds `inner` (a decoder) whose input is `compressed` bytes long, at [`MAX_UNPACKED_BYTES`].
    pub fn new(inner: R, compressed: u64) -> Bounded<R> {
        Bounded::with_limit(inner, compressed, max_unpacked())
    }

    pub fn with_limit(inner: R, compressed: u64, limit: u64) -> Bounded<R> {
        Bounded { inner, out: 0, compressed: Arc::new(AtomicU64::new(compressed)), limit }
    }

    /// Bounds a decoder reading a stream of unknown length: `consumed` is the count of input
    /// bytes read so far (see [`Counting`]), so the ratio is judged against what was read.
    pub fn streaming(inner: R, consumed: Arc<AtomicU64>) -> Bounded<R> {
        Bounded { inner, out: 0, compressed: consumed, limit: max_unpacked() }
    }
}

/// Counts the bytes read through it into a shared counter (for [`Bounded::streaming`]).
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Counting<R> {
    pub fn new(inner: R) -> (Counting<R>, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (Counting { inner, count: count.clone() }, count)
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("decompressed data passes the limit of {} bytes", self.limit),
            ));
        }
        let compressed = self.compressed.load(Ordering::Relaxed);
        let ratio = max_ratio();
        if self.out > BOMB_FLOOR && self.out / compressed.max(1) > ratio {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "decompression bomb: {compressed} compressed bytes expand past {} bytes (more than {ratio}:1; \
                     LUCID_MAX_RATIO raises the limit)",
                    self.out
                ),
            ));
        }
        Ok(n)
    }
}

/// Reads a whole file of at most `max` bytes; a bigger one is an error naming it, before any of
/// it is read into memory.
pub fn read_capped(path: &std::path::Path, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    read_capped_from(file, path, max, what)
}

/// [`read_capped`] for a file of an image (a layout's `index.json`, a blob): only a regular file,
/// never through a symlink (see [`open_regular`]).
pub fn read_regular_capped(path: &std::path::Path, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    let file = open_regular(path, false).with_context(|| format!("cannot read {what} {}", path.display()))?;
    read_capped_from(file, path, max, what)
}

fn read_capped_from(file: std::fs::File, path: &std::path::Path, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        anyhow::bail!("{what} {} is {len} bytes, more than the limit of {max}", path.display());
    }
    let mut data = Vec::with_capacity(len as usize);
    file.take(max + 1).read_to_end(&mut data).with_context(|| format!("cannot read {what} {}", path.display()))?;
    if data.len() as u64 > max {
        anyhow::bail!("{what} {} is more than the limit of {max} bytes", path.display());
    }
    Ok(data)
}

/// What a file that is not a regular one is, for errors.
fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading only if it is a regular file, and never blocks doing so. An image's
/// files come from whoever made the image: a FIFO among a layout's blobs would hang an `open`
/// forever, a device would be read as data, a symlink would read a file outside the layout. So
/// the file is looked at first (`lstat`, or `stat` when `follow`: a path the user named, which may
/// be a link), then opened with `O_NONBLOCK` (and `O_NOFOLLOW`) and checked again on the open
/// descriptor, so nothing swapped in between is read either.
pub fn open_regular(path: &std::path::Path, follow: bool) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let refuse = |t: std::fs::FileType| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} is {}, not a regular file", path.display(), kind_of(t)))
    };
    let meta = if follow { std::fs::metadata(path)? } else { std::fs::symlink_metadata(path)? };
    if !meta.file_type().is_file() {
        return Err(refuse(meta.file_type()));
    }
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | nofollow).open(path)?;
    let opened = file.metadata()?;
    if !opened.file_type().is_file() {
        return Err(refuse(opened.file_type()));
    }
    // Back to blocking reads (no difference for a regular file, but an ordinary descriptor).
    // SAFETY: F_GETFL/F_SETFL on a descriptor this function owns.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Reads until `buf` is full or the input ends (a file's head: its magic, a header); returns how
/// many bytes were read.
pub fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_refuses_bombs_and_overruns() {
        let zeros = io::repeat(0).take(200 << 20);
        let err = io::copy(&mut Bounded::new(zeros, 1000), &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("decompression bomb"), "{err}");
        let err =
            io::copy(&mut Bounded::with_limit(io::repeat(1).take(5000), 5000, 4096), &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("limit of 4096"), "{err}");
        let n = io::copy(&mut Bounded::new(io::repeat(1).take(100 << 20), 10 << 20), &mut io::sink()).unwrap();
        assert_eq!(n, 100 << 20, "10:1 is an ordinary ratio");
    }

    #[test]
    fn long_paths_and_many_entries() {
        assert!(check_path_len(&[b'a'; 4096], "path").is_ok());
        let err = check_path_len(&[b'a'; 4097], "path").unwrap_err().to_string();
        assert!(err.contains("4097") && err.contains("4096"), "{err}");
        let mut c = EntryCounter::default();
        for _ in 0..MAX_ENTRIES {
            c.bump().unwrap();
        }
        assert!(c.bump().is_err());
        let mut c = EntryCounter::default();
        c.declare("a", MAX_UNPACKED_BYTES).unwrap();
        let err = c.declare("big", 1).unwrap_err().to_string();
        assert!(err.contains("big") && err.contains("LUCID_MAX_UNPACKED_BYTES"), "{err}");
    }
}
