//! The image as an application's loader sees it: which shared libraries it has where, what each
//! answers to and defines, which directories `ld.so` searches, which CPython and which glibc.
//!
//! Learnt in the one streaming pass over the layers ([`crate::analyze::libraries::LibraryScan`]
//! rides along the merge), so memory grows with the number of libraries, never with their size. The loader's rules are glibc's on Debian: `DT_RPATH`, `LD_LIBRARY_PATH`, `DT_RUNPATH`,
//! then `/etc/ld.so.cache` (made by `ldconfig` from `/etc/ld.so.conf`; without the cache those
//! directories are never searched), then the system directories `/lib/<triplet>`,
//! `/usr/lib/<triplet>`, `/lib`, `/usr/lib`.

use crate::analyze::libraries::{LibFacts, Libraries};
use crate::formats::elf;
use crate::oci::Image;
use crate::oci::labels::TITLE_LABEL;
use crate::oci::read::EntryKind;
use crate::oci::view::MergedView;

/// Where the loader finds a library of the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// At this path (after links), with these facts.
    Found {
        path: String,
        facts: LibFacts,
    },
    /// Only in a directory of `/etc/ld.so.conf`, which the loader reads only through
    /// `/etc/ld.so.cache`, and the image has no cache.
    Uncached {
        path: String,
    },
    Missing,
}

/// One image (one platform) as the host of an application.
pub struct Host<'a> {
    /// Names the image in findings: `oci:out/lucid-python-base:latest (linux/amd64)`.
    pub name: String,
    /// `linux/amd64`.
    pub platform: String,
    /// The OCI architecture (`amd64`, `arm64`).
    pub arch: String,
    pub fs: &'a MergedView,
    pub libs: &'a Libraries,
    /// The config's `Env` (`LD_LIBRARY_PATH`).
    pub env: &'a [String],
    /// The image's title label: the spec's image name, for fixes.
    pub title: Option<&'a str>,
    conf_dirs: std::sync::OnceLock<Vec<String>>,
}

impl<'a> Host<'a> {
    /// The image `image` (named `name` in findings) with its merged tree and libraries.
    pub fn new(name: String, image: &'a dyn Image, fs: &'a MergedView, libs: &'a Libraries) -> Host<'a> {
        let config = image.config_file();
        Host {
            name,
            platform: image.platform().qualified(),
            arch: config.architecture.clone(),
            fs,
            libs,
            env: &config.config.env,
            title: config.config.labels.get(TITLE_LABEL).map(String::as_str),
            conf_dirs: std::sync::OnceLock::new(),
        }
    }

    /// The Java runtimes of the image, from their `release` files.
    pub fn java_runtimes(&self) -> Vec<crate::analyze::java_modules::JavaRuntime> {
        self.libs.texts.iter().filter_map(|(p, d)| crate::analyze::java_modules::parse_release(p, d)).collect()
    }

    /// The ELF machine of the platform.
    pub fn machine(&self) -> Option<u16> {
        Some(match self.arch.as_str() {
            "amd64" => 62,
            "arm64" => 183,
            "386" => 3,
            "arm" => 40,
            "ppc64le" => 21,
            "s390x" => 22,
            "riscv64" => 243,
            _ => return None,
        })
    }

    /// Debian's multiarch triplet for the platform.
    fn triplet(&self) -> Option<&'static str> {
        Some(match self.arch.as_str() {
            "amd64" => "x86_64-linux-gnu",
            "arm64" => "aarch64-linux-gnu",
            "386" => "i386-linux-gnu",
            "arm" => "arm-linux-gnueabihf",
            "ppc64le" => "powerpc64le-linux-gnu",
            "s390x" => "s390x-linux-gnu",
            "riscv64" => "riscv64-linux-gnu",
            _ => return None,
        })
    }

    /// The directories glibc's loader always searches, last.
    pub fn system_dirs(&self) -> Vec<String> {
        let mut dirs = Vec::new();
        if let Some(t) = self.triplet() {
            dirs.push(format!("lib/{t}"));
            dirs.push(format!("usr/lib/{t}"));
        }
        dirs.extend(["lib".to_string(), "usr/lib".to_string()]);
        dirs
    }

    /// `LD_LIBRARY_PATH` of the image's config.
    pub fn ld_library_path(&self) -> Vec<String> {
        self.env
            .iter()
            .filter_map(|e| e.strip_prefix("LD_LIBRARY_PATH="))
            .flat_map(|v| v.split([':', ';']))
            .map(|d| d.trim_matches('/').to_string())
            .filter(|d| !d.is_empty())
            .collect()
    }

    /// The directories `/etc/ld.so.conf` names (with its `include` globs), in order; worked out
    /// once per image.
    pub fn conf_dirs(&self) -> Vec<String> {
        self.conf_dirs
            .get_or_init(|| {
                let mut out = Vec::new();
                self.read_conf("etc/ld.so.conf", 0, &mut std::collections::BTreeSet::new(), &mut out);
                out
            })
            .clone()
    }

    /// Reads `file` and what it includes, each file once: a file including itself, or thousands
    /// of includes of one file, cost one read each, not a read per path to them.
    fn read_conf(
        &self,
        file: &str,
        depth: usize,
        seen: &mut std::collections::BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        let Some(text) = self.libs.texts.get(file) else { return };
        if depth > 8 || !seen.insert(file.to_string()) {
            return;
        }
        for line in String::from_utf8_lossy(text).lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if let Some(pattern) = line.strip_prefix("include").filter(|r| r.starts_with([' ', '\t'])) {
                for pat in pattern.split_whitespace() {
                    let pat = pat.trim_start_matches('/');
                    // ld.so.conf globs are `DIR/*.conf` in practice: a `*` in the last component.
                    let (dir, glob) = pat.rsplit_once('/').unwrap_or(("", pat));
                    let (pre, suf) = glob.split_once('*').unwrap_or((glob, ""));
                    let files: Vec<String> = self
                        .libs
                        .texts
                        .keys()
                        .filter(|k| {
                            k.rsplit_once('/').is_some_and(|(d, b)| {
                                d == dir && b.starts_with(pre) && b.ends_with(suf) && b.len() >= pre.len() + suf.len()
                            })
                        })
                        .cloned()
                        .collect();
                    for f in files {
                        self.read_conf(&f, depth + 1, seen, out);
                    }
                }
            } else if !line.is_empty() && !line.starts_with("hwcap") {
                let dir = line.trim_matches('/').to_string();
                if !out.contains(&dir) {
                    out.push(dir);
                }
            }
        }
    }

    /// Whether the image carries `/etc/ld.so.cache`.
    pub fn has_cache(&self) -> bool {
        self.fs.entries.contains_key("etc/ld.so.cache")
    }

    /// The library `name` in image directory `dir`, if the loader would take it.
    pub fn in_dir(&self, dir: &str, name: &str) -> Option<(String, LibFacts)> {
        let key = if dir.is_empty() { name.to_string() } else { format!("{}/{name}", dir.trim_matches('/')) };
        let (path, entry) = self.fs.lookup(&key)?;
        if !matches!(entry.kind, EntryKind::File | EntryKind::Hardlink) {
            return None;
        }
        let facts = self.libs.libs.get(&path).cloned().unwrap_or(LibFacts::Unread);
        match (&facts, self.machine()) {
            (LibFacts::NotLoadable, _) => None,
            // The loader skips a library built for another machine or class and searches on.
            (LibFacts::Elf { machine, wide, .. }, Some(m)) if *machine != m || *wide != elf::wide_machine(m) => None,
            _ => Some((path, facts)),
        }
    }

    /// Finds `name` as the loader would after the application's own paths: `LD_LIBRARY_PATH`,
    /// the cache (when the image has one), the system directories.
    pub fn find(&self, name: &str) -> Lookup {
        self.find_after(name, &[])
    }

    /// [`Host::find`] with `runpath` (image directories of the needing object's `DT_RUNPATH`)
    /// searched between `LD_LIBRARY_PATH` and the cache.
    pub fn find_after(&self, name: &str, runpath: &[String]) -> Lookup {
        let conf = self.conf_dirs();
        let mut dirs = self.ld_library_path();
        dirs.extend(runpath.iter().cloned());
        if self.has_cache() {
            dirs.extend(conf.iter().cloned());
        }
        dirs.extend(self.system_dirs());
        for d in &dirs {
            if let Some((path, facts)) = self.in_dir(d, name) {
                return Lookup::Found { path, facts };
            }
        }
        for d in &conf {
            if let Some((path, _)) = self.in_dir(d, name) {
                return Lookup::Uncached { path };
            }
        }
        Lookup::Missing
    }

    /// The directories [`Host::find`] searches, for messages (`/lib/x86_64-linux-gnu, ...`).
    pub fn search_path_shown(&self) -> String {
        let mut dirs = self.ld_library_path();
        if self.has_cache() {
            dirs.extend(self.conf_dirs());
        }
        dirs.extend(self.system_dirs());
        dirs.dedup();
        dirs.iter().map(|d| format!("/{d}")).collect::<Vec<_>>().join(", ")
    }

    /// The image's glibc: the highest `GLIBC_2.N` its `libc.so.6` defines.
    pub fn glibc(&self) -> Option<(u32, u32)> {
        let Lookup::Found { facts: LibFacts::Elf { versions, .. }, .. } = self.find("libc.so.6") else { return None };
        versions.iter().filter_map(|v| glibc_version(v)).max()
    }

    /// The CPython `(major, minor)` of the image: the `python3.N` that `python3` names on the
    /// image's PATH directories (`/usr/local/bin`, `/usr/bin`), else the newest `python3.N` there.
    pub fn python(&self) -> Option<(u32, u32)> {
        let version = |path: &str| -> Option<(u32, u32)> {
            let minor = path.rsplit('/').next()?.strip_prefix("python3.")?;
            if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((3, minor.parse().ok()?))
        };
        for dir in ["usr/local/bin", "usr/bin", "bin"] {
            if let Some((path, e)) = self.fs.lookup(&format!("{dir}/python3"))
                && matches!(e.kind, EntryKind::File | EntryKind::Hardlink)
                && let Some(v) = version(&path)
            {
                return Some(v);
            }
        }
        self.fs
            .entries
            .iter()
            .filter(|(p, e)| {
                matches!(e.kind, EntryKind::File | EntryKind::Hardlink)
                    && ["usr/local/bin/", "usr/bin/"].iter().any(|d| p.starts_with(d) && !p[d.len()..].contains('/'))
            })
            .filter_map(|(p, _)| version(p))
            .max()
    }

    /// `VERSION_CODENAME` of the image's os-release (`bookworm`).
    pub fn codename(&self) -> Option<String> {
        let text = self.libs.texts.get("etc/os-release").or_else(|| self.libs.texts.get("usr/lib/os-release"))?;
        String::from_utf8_lossy(text)
            .lines()
            .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
            .map(|v| v.trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
    }

    /// Where a package is added for this image: `images.lucid-python-base.packages` of the spec.
    pub fn packages_key(&self) -> String {
        match self.title {
            Some(t) => format!("images.{t}.packages in build-args.yml"),
            None => "the image's packages".to_string(),
        }
    }
}

/// `GLIBC_2.36` -> `(2, 36)`; other names (`GLIBC_PRIVATE`, `GLIBC_ABI_DT_RELR`) -> `None`.
pub fn glibc_version(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Small images for unit tests: a tree of files with a real library in it.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::analyze::libraries::LibraryScan;

    /// A tree of `files` (path, content) with `libutil.so.1` (Debian 12, amd64) at `lib_at`.
    pub(crate) fn image(files: &[(&str, &[u8])], lib_at: &str) -> (MergedView, Libraries) {
        let lib = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/binaries/libutil.so.1")).unwrap();
        let mut fs = MergedView::default();
        let mut scan = LibraryScan::default();
        let all = files.iter().map(|(p, d)| (*p, *d)).chain([(lib_at, lib.as_slice())]);
        for (path, data) in all {
            let entry = crate::oci::view::FsEntry {
                kind: EntryKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                layer: 0,
                size: data.len() as u64,
                link: None,
            };
            for (i, _) in path.match_indices('/') {
                let dir = crate::oci::view::FsEntry { kind: EntryKind::Dir, mode: 0o755, ..entry.clone() };
                fs.entries.insert(path[..i].to_string(), dir);
            }
            fs.entries.insert(path.to_string(), entry);
            scan.see(0, path, data);
        }
        let libs = scan.finish(&fs);
        (fs, libs)
    }

    pub(crate) fn host<'a>(fs: &'a MergedView, libs: &'a Libraries, arch: &str, env: &'a [String]) -> Host<'a> {
        Host {
            name: "t".into(),
            platform: format!("linux/{arch}"),
            arch: arch.into(),
            fs,
            libs,
            env,
            title: None,
            conf_dirs: std::sync::OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{host, image};
    use super::*;

    #[test]
    fn the_loader_search_path() {
        let conf: &[(&str, &[u8])] = &[
            ("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
            ("etc/ld.so.conf.d/libc.conf", b"# libc default configuration\n/usr/local/lib\n"),
            ("etc/ld.so.conf.d/zz-opt.conf", b"/opt/lib\n"),
            ("etc/ld.so.conf.d/README", b"/not/a/conf/file\n"),
        ];
        let (fs, libs) = image(conf, "opt/lib/libutil.so.1");
        let h = host(&fs, &libs, "amd64", &[]);
        assert_eq!(h.conf_dirs(), ["usr/local/lib", "opt/lib"]);
        // Only /etc/ld.so.cache makes the loader search ld.so.conf's directories.
        assert_eq!(h.find("libutil.so.1"), Lookup::Uncached { path: "opt/lib/libutil.so.1".into() });
        let mut cached = fs.clone();
        cached.entries.insert("etc/ld.so.cache".into(), fs.entries["etc/ld.so.conf"].clone());
        let h = host(&cached, &libs, "amd64", &[]);
        let Lookup::Found { path, facts: LibFacts::Elf { soname, versions, .. } } = h.find("libutil.so.1") else {
            panic!("{:?}", h.find("libutil.so.1"))
        };
        assert_eq!((path.as_str(), soname.as_deref()), ("opt/lib/libutil.so.1", Some("libutil.so.1")));
        assert_eq!(versions, ["GLIBC_2.2.5"]);
        // LD_LIBRARY_PATH, and the system directories; another machine's library is skipped.
        let env = ["LD_LIBRARY_PATH=/opt/lib".to_string()];
        assert!(matches!(host(&fs, &libs, "amd64", &env).find("libutil.so.1"), Lookup::Found { .. }));
        let (fs, libs) = image(&[], "usr/lib/x86_64-linux-gnu/libutil.so.1");
        assert!(matches!(host(&fs, &libs, "amd64", &[]).find("libutil.so.1"), Lookup::Found { .. }));
        assert_eq!(host(&fs, &libs, "arm64", &[]).find("libutil.so.1"), Lookup::Missing);
        assert_eq!(host(&fs, &libs, "amd64", &[]).find("libnope.so.1"), Lookup::Missing);
    }

    #[test]
    fn include_loops_are_read_once() {
        // A file including itself thousands of times, and two files including each other.
        let selfish = "include /etc/ld.so.conf\n".repeat(2000) + "/opt/lib\n";
        let conf: &[(&str, &[u8])] = &[
            ("etc/ld.so.conf", selfish.as_bytes()),
            ("etc/ld.so.conf.d/a.conf", b"include /etc/ld.so.conf.d/*.conf\n/a\n"),
        ];
        let (fs, libs) = image(conf, "opt/lib/libutil.so.1");
        let started = std::time::Instant::now();
        assert_eq!(host(&fs, &libs, "amd64", &[]).conf_dirs(), ["opt/lib"]);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        let conf: &[(&str, &[u8])] = &[
            ("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
            ("etc/ld.so.conf.d/a.conf", b"include /etc/ld.so.conf.d/*.conf\n/a\n"),
            ("etc/ld.so.conf.d/b.conf", b"include /etc/ld.so.conf.d/*.conf\n/b\n"),
        ];
        let (fs, libs) = image(conf, "opt/lib/libutil.so.1");
        // In place, as ldconfig reads them: a.conf includes b.conf before its own line.
        assert_eq!(host(&fs, &libs, "amd64", &[]).conf_dirs(), ["b", "a"]);
    }

    #[test]
    fn glibc_versions() {
        assert_eq!(glibc_version("GLIBC_2.36"), Some((2, 36)));
        assert_eq!(glibc_version("GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
    }
}
