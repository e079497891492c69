//! A Java runtime made by `jlink` from the JDK of the lock, cached by what decides its bytes.
//!
//! - `jlink` is the one of the JDK package in the lock (`tools` of the host's platform), unpacked
//!   from its `.deb` and started through [`crate::rootfs::exec`]; a JDK installed on the host is
//!   never used. The jmods are those of the target platform's JDK package (Debian 12 has no
//!   separate jmods package: they ship in `openjdk-17-jdk-headless`).
//! - Options: `--strip-debug --no-man-pages --no-header-files --compress=2`, and
//!   `--exclude-files` for `java.desktop`'s libraries that need a display or a sound card (X11,
//!   the splash screen, JAWT, ALSA): a headless server could only fail to load them, and their
//!   missing X11 and ALSA libraries would make every image look broken. For a foreign
//!   architecture `--strip-debug` would call the host's `objcopy` on the target's ELF files, which
//!   fails, so `--strip-java-debug-attributes` replaces it (native libraries stay as Debian
//!   stripped them).
//! - jlink output is deterministic (checked: two links of the same inputs are identical). Java
//!   17's class-data-sharing dump is not by default: with G1 it archives heap objects whose
//!   identity hashes, and with the JIT threads whose symbol hashes, change from run to run. Dumped
//!   with the serial collector and the interpreter only ([`CDS_DUMP_FLAGS_SERIAL`]) it is
//!   identical run after run, and the archive still maps at run time under any collector, without
//!   archived heap objects. From Java 21 on a G1 dump with the interpreter only
//!   ([`CDS_DUMP_FLAGS_G1`]) is identical run after run as well (measured: five dumps of Debian
//!   13's Java 21, two of its Java 25, each identical; two of Java 17 differ), and its archived
//!   heap objects (about 1.2 MB for Java 21) are what brings Java 21's HelloWorld start-up under
//!   Java 17's (docs/java.md); [`cds_dump_flags`] picks the flags by the runtime's version.
//! - The runtime is cached under `<cache>/jlink/<key>`, the key being a digest of the JDK
//!   packages (SHA-256 of every tool `.deb` and of the target's JDK `.deb`), the target
//!   architecture, the sorted modules, the options and the CDS setting: a warm rebuild reads the
//!   directory and runs nothing. Entries are made in a scratch directory beside it and renamed into
//!   place, so a killed build never leaves half a runtime under a real key. The runtime is executed
//!   (the dump) and shipped, so `<key>.tree` records the digest of the tree as linked
//!   ([`treememo`]); a cached runtime that no longer has it is linked again.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::fetch::{Cache, sha256_hex, treememo};
use crate::lock::LockedPackage;
use crate::rootfs::exec::{self, Program};
use crate::rootfs::sandbox::Sandbox;
use crate::rootfs::{Entry, Node, Origin, Tree};

/// Options every runtime is linked with (see the module comment for the foreign-arch variant).
pub const JLINK_OPTIONS: &[&str] = &[
    "--strip-debug",
    "--no-man-pages",
    "--no-header-files",
    "--compress=2",
    "--exclude-files=**/libawt_xawt.so,**/libsplashscreen.so,**/libjawt.so,**/libjsound.so",
];
/// Replaces `--strip-debug` when the target is not the host's architecture.
const FOREIGN_STRIP: &str = "--strip-java-debug-attributes";
/// How a Java 17 class-data-sharing archive is dumped: deterministic flags (see the module
/// comment), with a fixed heap so the host's memory size cannot change the archive.
pub const CDS_DUMP_FLAGS_SERIAL: &[&str] = &["-Xshare:dump", "-XX:+UseSerialGC", "-Xint", "-Xms128m", "-Xmx128m"];
/// How the archive of Java [`CDS_G1_FROM`] and later is dumped: with G1, so it holds archived heap
/// objects, still deterministic on those versions (see the module comment).
pub const CDS_DUMP_FLAGS_G1: &[&str] = &["-Xshare:dump", "-XX:+UseG1GC", "-Xint", "-Xms128m", "-Xmx128m"];
/// The first Java feature release whose G1 dump is deterministic.
pub const CDS_G1_FROM: u32 = 21;
/// Where the JVM looks for its default archive, relative to the Java home.
pub const CDS_ARCHIVE: &str = "lib/server/classes.jsa";
/// The origin of CDS archives in the tree: they go in a layer of their own.
pub const CDS_ORIGIN: &str = "cds";
/// Bumped whenever the recipe changes in a way the key does not capture.
const RECIPE: &str = "lucid-jlink-4";

/// A JDK unpacked from `.deb` files into a tree.
pub struct Jdk {
    pub tree: Tree,
    /// The Java home in the tree (`usr/lib/jvm/java-17-openjdk-amd64`).
    pub home: String,
}

impl Jdk {
    /// Unpacks `debs` (the locked `packages`, in the same order) and finds the home of `jdk`.
    /// `merged_usr`: the packages come from a merged-/usr release (Debian 13), whose loader is
    /// found through the `/lib64` and `/lib` links only.
    pub fn unpack(jdk: &str, packages: &[LockedPackage], debs: &[Arc<Vec<u8>>], merged_usr: bool) -> Result<Jdk> {
        let mut tree = Tree::new();
        for (p, deb) in packages.iter().zip(debs) {
            crate::debian::deb::extract(deb, &p.name, &mut tree)
                .with_context(|| format!("cannot unpack {} {} ({})", p.name, p.version, p.filename))?;
        }
        if merged_usr {
            crate::rootfs::system::merge_usr(&mut tree)?;
        }
        let home = find_home(&tree, jdk)?;
        Ok(Jdk { tree, home })
    }
}

/// The directory under `usr/lib/jvm` whose `bin/javac` the package `jdk` ships: the JDK's home.
pub fn find_home(tree: &Tree, jdk: &str) -> Result<String> {
    let mut homes = tree.iter_under("usr/lib/jvm").filter_map(|(k, e)| {
        let home = k.strip_suffix("/bin/javac")?;
        let ours = matches!(&e.origin, Origin::Deb(p) if &**p == jdk);
        (ours && home.matches('/').count() == 3).then(|| home.to_string())
    });
    match (homes.next(), homes.next()) {
        (Some(h), None) => Ok(h),
        (None, _) => bail!("the package {jdk} ships no usr/lib/jvm/*/bin/javac: is it a JDK?"),
        (Some(a), Some(b)) => bail!("the package {jdk} ships two JDK homes ({a}, {b})"),
    }
}

/// What to link.
#[derive(Clone, Debug)]
pub struct Request {
    /// Module names, sorted and unique.
    pub modules: Vec<String>,
    /// Debian architecture of the target (`amd64`).
    pub target_arch: String,
    /// Debian architecture of the host running jlink.
    pub host_arch: String,
    pub cds: bool,
    /// The image user's home, made the JVM's default `user.home` (see [`Request::with_user_home`]).
    pub user_home: Option<String>,
}

impl Request {
    pub fn new(modules: &[String], target_arch: &str, host_arch: &str, cds: bool) -> Request {
        let mut modules = modules.to_vec();
        modules.sort();
        modules.dedup();
        Request { modules, target_arch: target_arch.into(), host_arch: host_arch.into(), cds, user_home: None }
    }

    /// Links `-Duser.home=HOME` into the runtime's default options (jlink's `--add-options`,
    /// which a command line's own `-Duser.home` still overrides). Java 17 takes `user.home` from
    /// the passwd entry of the UID only, so an arbitrary UID (OpenShift) would get `?` and fail
    /// to write anything under its home; `JAVA_TOOL_OPTIONS` would do the same but prints a
    /// "Picked up" line on every start.
    pub fn with_user_home(mut self, home: &str) -> Request {
        self.user_home = Some(home.to_string());
        self
    }

    fn foreign(&self) -> bool {
        self.target_arch != self.host_arch
    }

    /// jlink's options for this target.
    pub fn options(&self) -> Vec<String> {
        let mut options: Vec<String> = JLINK_OPTIONS
            .iter()
            .map(|o| if *o == "--strip-debug" && self.foreign() { FOREIGN_STRIP } else { *o }.to_string())
            .collect();
        if let Some(home) = &self.user_home {
            options.push(format!("--add-options=-Duser.home={home}"));
        }
        options
    }

    /// Whether a CDS archive will be dumped: asked for, and the target's JVM runs on this host.
    pub fn dumps_cds(&self) -> bool {
        self.cds && !self.foreign()
    }

    /// The cache key: everything that decides the runtime's bytes.
    pub fn key(&self, host_tools: &[LockedPackage], target_jdk: &LockedPackage) -> String {
        let mut s = format!("{RECIPE}\ntarget={} host={}\n", self.target_arch, self.host_arch);
        for p in host_tools {
            s.push_str(&format!("tool {} {} {} {}\n", p.name, p.version, p.architecture, p.sha256));
        }
        s.push_str(&format!("jmods {} {} {}\n", target_jdk.name, target_jdk.version, target_jdk.sha256));
        s.push_str(&format!(
            "modules={}\noptions={:?}\njvm={JLINK_JVM_FLAGS:?}\n",
            self.modules.join(","),
            self.options()
        ));
        if self.dumps_cds() {
            s.push_str(&format!("cds={CDS_DUMP_FLAGS_SERIAL:?} from {CDS_G1_FROM} {CDS_DUMP_FLAGS_G1:?}\n"));
        }
        sha256_hex(s.as_bytes())
    }
}

/// A linked runtime, keyed relative to its home (`bin/java`).
pub struct Linked {
    pub runtime: Tree,
    /// Served from the cache (no jlink, no dump ran).
    pub cached: bool,
    /// Time spent in jlink and in the dump (0 when cached).
    pub jlink_millis: u128,
    pub cds_millis: u128,
    /// Size of the CDS archive (0 without).
    pub cds_bytes: u64,
    /// Dumps it took to get an archive that recurred (0 when cached or without CDS).
    pub cds_dumps: usize,
    pub key: String,
    /// Why a cached runtime under this key was not used and was linked again (its files no
    /// longer matched the digest recorded when it was made, or it had none).
    pub distrusted: Option<String>,
}

/// The runtime for `req` under `key` (see [`Request::key`]), from the cache, or linked with what
/// `tools` unpacks (called on a cache miss only): the host's JDK, which runs jlink, and for a
/// foreign target the target's JDK, whose jmods are linked.
pub fn link(
    cache: &Cache,
    req: &Request,
    key: &str,
    tools: impl FnOnce() -> Result<(Jdk, Option<Jdk>)>,
) -> Result<Linked> {
    let dir = cache.derived_dir("jlink")?;
    let entry = dir.join(key);
    let mut distrusted = None;
    if fs::symlink_metadata(&entry).is_ok() {
        // The runtime is executed (the CDS dump) and shipped: used only if it is, byte for byte,
        // the tree lucid recorded when it linked it.
        match treememo::check(&entry, &Origin::Java(Arc::from("jlink")))? {
            Ok(mut runtime) => {
                if let Some(e) = runtime.get_mut(CDS_ARCHIVE) {
                    e.origin = Origin::Java(Arc::from(CDS_ORIGIN));
                }
                let cds_bytes = runtime.get(CDS_ARCHIVE).map(Entry::size).unwrap_or(0);
                return Ok(Linked {
                    runtime,
                    cached: true,
                    jlink_millis: 0,
                    cds_millis: 0,
                    cds_bytes,
                    cds_dumps: 0,
                    key: key.into(),
                    distrusted: None,
                });
            }
            Err(reason) => {
                treememo::discard(&entry)?;
                distrusted = Some(reason);
            }
        }
    }
    let (host_jdk, target_jdk) = tools()?;
    let scratch = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&dir)
        .with_context(|| format!("cannot create a scratch directory in {}", dir.display()))?;
    // jlink writes only below `work` (it must create `runtime` itself); everything else in the
    // scratch directory (its JDK, the target's jmods) it sees read-only.
    let work = scratch.path().join("work");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let out = work.join("runtime");
    let tools_root = scratch.path().join("jdk");
    let jlink = exec::materialize(&host_jdk.tree, &tools_root, &format!("{}/bin/jlink", host_jdk.home), |k| {
        exec::under(k, &host_jdk.home) || exec::under(k, "etc")
    })?;
    let jmods_dir = match (&target_jdk, req.foreign()) {
        (Some(target), true) => {
            let root = scratch.path().join("target");
            let jmods = format!("{}/jmods", target.home);
            materialize_dir(&target.tree, &root, &jmods)?;
            root.join(jmods)
        }
        (None, true) => bail!("linking for {} needs that architecture's JDK (its jmods)", req.target_arch),
        (_, false) => tools_root.join(format!("{}/jmods", host_jdk.home)),
    };
    let started = Instant::now();
    // jlink sees the host's programs and libraries (read-only; nothing else of the host), as it
    // always did: --strip-debug runs the host's objcopy, and the output depends on them even for a
    // foreign target (measured: without the host's /usr, the arm64 runtime's generated
    // java.lang.invoke classes keep a SourceFile attribute, and its lib/modules changes).
    let sandbox = Sandbox::new().read_only(scratch.path()).writable(&work).host_programs();
    let mut cmd = jlink.command(&sandbox)?;
    // jlink starts the host's objcopy (--strip-debug). By default the JVM spawns programs through
    // its own `jspawnhelper`, which the kernel would start with the host's libc, not the tree's:
    // a Debian 13 JDK's helper needs glibc 2.38 and fails on a Debian 12 host. Forking starts
    // objcopy directly. It does not change jlink's output.
    cmd.arg("-J-Djdk.lang.Process.launchMechanism=FORK")
        .args(JLINK_JVM_FLAGS)
        .arg("--module-path")
        .arg(&jmods_dir)
        .arg("--add-modules")
        .arg(req.modules.join(","))
        .args(req.options())
        .arg("--output")
        .arg(&out)
        .env("LANG", "C.UTF-8");
    let run = crate::rootfs::sandbox::output(&mut cmd)
        .with_context(|| format!("cannot run jlink ({})", jlink.program.display()))?;
    if !run.status.success() {
        bail!(
            "jlink of {} failed ({}): {}{}",
            req.modules.join(","),
            run.status,
            String::from_utf8_lossy(&run.stdout),
            exec::tail(&run.stderr, 12)
        );
    }
    strip_native_symbols(&out)?;
    let jlink_millis = started.elapsed().as_millis();
    let mut cds_millis = 0;
    let mut cds_dumps = 0;
    if req.dumps_cds() {
        let started = Instant::now();
        let java = Program { program: out.join("bin/java"), ..jlink.clone() };
        cds_dumps = dump_cds(&java, &out.join(CDS_ARCHIVE), &Sandbox::new().writable(&out))?;
        cds_millis = started.elapsed().as_millis();
    }
    // The memo is written before the rename, so a runtime under its real key always has one.
    let mut runtime = read_dir_tree(&out)?;
    treememo::record(&entry, &runtime)?;
    match fs::rename(&out, &entry) {
        Ok(()) => {}
        // Another build stored the same key meanwhile: same inputs; use theirs, with its digest.
        Err(_) if entry.join("release").is_file() => {
            runtime = read_dir_tree(&entry)?;
            treememo::record(&entry, &runtime)?;
        }
        Err(e) => return Err(e).with_context(|| format!("cannot store the runtime in {}", entry.display())),
    }
    drop(scratch);
    let cds_bytes = runtime.get(CDS_ARCHIVE).map(Entry::size).unwrap_or(0);
    Ok(Linked { runtime, cached: false, jlink_millis, cds_millis, cds_bytes, cds_dumps, key: key.into(), distrusted })
}

/// Drops the symbol tables of the runtime's native libraries (`libjvm.so`'s is 4-5 MB; the
/// dynamic symbols stay), for every architecture alike: jlink's `--strip-debug` removes debug
/// sections only, and only where the host's objcopy knows the target. Runtimes built by the
/// OpenJDK project ship this way; hs_err logs then name JVM-internal frames by address.
fn strip_native_symbols(runtime: &Path) -> Result<()> {
    let tree = crate::rootfs::from_disk::read_dir(runtime, &Origin::Builder)?;
    for (key, entry) in tree.iter() {
        let Node::File(data) = &entry.node else { continue };
        if !key.ends_with(".so") {
            continue;
        }
        let path = runtime.join(key);
        if let Some(stripped) = crate::formats::elf_strip::strip(data)
            .with_context(|| format!("cannot strip the symbols of {}", path.display()))?
        {
            fs::write(&path, stripped).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

/// A CDS archive is accepted once this many dumps gave the same bytes (see [`dump_cds`]).
const CDS_AGREEING_DUMPS: usize = 3;
/// Dumps tried before giving up.
const CDS_MAX_DUMPS: usize = 9;

/// Runs `java` (already on disk, with its libraries) in `sandbox` (which must let it write
/// `archive`) to dump its default CDS archive to `archive`, and returns how many dumps it took.
///
/// HotSpot 17 orders the archived symbols by address, and its Finalizer thread races the main
/// thread to parse `jdk.internal.misc.VM` at start-up, so the same dump gives one of a few
/// archives (measured: 5 different ones in 8 runs unpinned). Pinned to one CPU the race is mostly
/// won by the main thread (about 9 runs in 10 give the same archive), so the dump runs pinned, is
/// repeated, and the first archive produced [`CDS_AGREEING_DUMPS`] times wins: a build picks the
/// rare variant with a probability well under 1%. The archive is also the only content of its
/// own layer, so even then only that layer differs; `java.cds: false` leaves it out entirely.
pub fn dump_cds(java: &Program, archive: &Path, sandbox: &Sandbox) -> Result<usize> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for attempt in 1..=CDS_MAX_DUMPS {
        let data = dump_once(java, archive, sandbox)?;
        let digest = sha256_hex(&data);
        let count = match seen.iter_mut().find(|(d, _)| *d == digest) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((digest, 1));
                1
            }
        };
        if count == CDS_AGREEING_DUMPS {
            fs::write(archive, &data).with_context(|| format!("cannot write {}", archive.display()))?;
            return Ok(attempt);
        }
    }
    bail!(
        "{CDS_MAX_DUMPS} class-data-sharing dumps of {} gave {} different archives and none {CDS_AGREEING_DUMPS} times; \
         set java.cds: false to build without one",
        java.program.display(),
        seen.len()
    )
}

/// The flags of the JVM that runs jlink. The JVM picks its collector by the host's size (Serial
/// below 2 CPUs or 1792 MB, G1 above), and jlink's output differs between them (measured:
/// lib/modules of Java 17); naming G1 makes it the same on every host. C1 alone does not change
/// the output and halves the CPU time of a run this short (measured: 13.5 s to 7.9 s, Java 17).
const JLINK_JVM_FLAGS: &[&str] = &["-J-XX:+UseG1GC", "-J-XX:TieredStopAtLevel=1"];

/// The dump flags for a Java runtime of this feature release (17, 21, 25).
pub fn cds_dump_flags(feature: u32) -> &'static [&'static str] {
    if feature >= CDS_G1_FROM { CDS_DUMP_FLAGS_G1 } else { CDS_DUMP_FLAGS_SERIAL }
}

/// The feature release of the Java whose launcher is `java` (`JAVA_HOME/bin/java`), from the
/// `JAVA_VERSION` of `JAVA_HOME/release`, which jlink and Debian's JDK packages both write.
fn feature_release(java: &Program) -> Result<u32> {
    let release = java.program.parent().and_then(Path::parent).map(|home| home.join("release"));
    let Some(release) = release else { bail!("{}: not JAVA_HOME/bin/java", java.program.display()) };
    let text = fs::read_to_string(&release).with_context(|| format!("cannot read {}", release.display()))?;
    let version = crate::java::release_value(&text, "JAVA_VERSION")
        .with_context(|| format!("{} names no JAVA_VERSION", release.display()))?;
    version.split(['.', '-', '+']).next().and_then(|f| f.parse().ok()).with_context(|| {
        format!("{}: JAVA_VERSION {version:?} does not start with a release number", release.display())
    })
}

fn dump_once(java: &Program, archive: &Path, sandbox: &Sandbox) -> Result<Vec<u8>> {
    let flags = cds_dump_flags(feature_release(java)?);
    let _ = fs::remove_file(archive);
    let mut cmd = java.command(sandbox)?;
    cmd.args(flags).arg(format!("-XX:SharedArchiveFile={}", archive.display())).env("LANG", "C.UTF-8");
    pin_to_one_cpu(&mut cmd);
    let run =
        crate::rootfs::sandbox::output(&mut cmd).with_context(|| format!("cannot run {}", java.program.display()))?;
    if !run.status.success() {
        bail!(
            "the class-data-sharing dump of {} failed ({}): {}{}",
            java.program.display(),
            run.status,
            exec::tail(&run.stdout, 6),
            exec::tail(&run.stderr, 6)
        );
    }
    let (Some(dir), Some(name)) = (archive.parent(), archive.file_name()) else {
        bail!("{}: not a file path", archive.display());
    };
    crate::rootfs::sandbox::read_output(dir, Path::new(name))
        .with_context(|| format!("the class-data-sharing dump of {} wrote no archive", java.program.display()))
}

/// Runs the child on the lowest CPU this process may use (best effort: where affinity cannot be
/// set, the dump still runs, and [`dump_cds`]'s repetition still applies).
fn pin_to_one_cpu(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // sched_getaffinity/sched_setaffinity on a stack-allocated cpu_set_t.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut set) == 0
                && let Some(cpu) = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &set))
            {
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut one);
                libc::sched_setaffinity(0, size, &one);
            }
            Ok(())
        });
    }
}

/// Writes the entries under `dir` of `tree` below `root` (files and directories only).
fn materialize_dir(tree: &Tree, root: &Path, dir: &str) -> Result<()> {
    for (k, e) in tree.iter_under(dir) {
        match &e.node {
            Node::Dir => fs::create_dir_all(root.join(k)).with_context(|| format!("cannot create {k}"))?,
            Node::File(d) => exec::write_file(&root.join(k), d, 0o644)?,
            Node::Symlink(_) => {}
        }
    }
    Ok(())
}

/// Reads a directory written by jlink into a tree, keys relative to `dir` (see
/// [`crate::rootfs::from_disk::read_dir`]); the CDS archive gets its own origin (its own layer).
pub fn read_dir_tree(dir: &Path) -> Result<Tree> {
    let mut tree = crate::rootfs::from_disk::read_dir(dir, &Origin::Java(Arc::from("jlink")))?;
    if let Some(e) = tree.get_mut(CDS_ARCHIVE) {
        e.origin = Origin::Java(Arc::from(CDS_ORIGIN));
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, sha: char) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "17.0.19+10-1~deb12u2".into(),
            architecture: "amd64".into(),
            suite: "bookworm-security".into(),
            filename: format!("pool/{name}.deb"),
            size: 1,
            sha256: sha.to_string().repeat(64),
        }
    }

    #[test]
    fn dump_flags_follow_the_release_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("jvm");
        fs::create_dir_all(home.join("bin")).unwrap();
        let java = Program {
            loader: "/ld".into(),
            library_path: String::new(),
            program: home.join("bin/java"),
            root: dir.path().into(),
        };
        assert!(feature_release(&java).unwrap_err().to_string().contains("cannot read"));
        for (version, feature, flags) in [
            ("17.0.21.1", 17, CDS_DUMP_FLAGS_SERIAL),
            ("21.0.13.1", 21, CDS_DUMP_FLAGS_G1),
            ("25", 25, CDS_DUMP_FLAGS_G1),
            ("26-ea", 26, CDS_DUMP_FLAGS_G1),
        ] {
            fs::write(home.join("release"), format!("IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"{version}\"\n")).unwrap();
            assert_eq!(feature_release(&java).unwrap(), feature, "{version}");
            assert_eq!(cds_dump_flags(feature), flags);
        }
        fs::write(home.join("release"), "JAVA_VERSION=\"x.1\"\n").unwrap();
        assert!(feature_release(&java).unwrap_err().to_string().contains("does not start with a release number"));
        fs::write(home.join("release"), "IMPLEMENTOR=\"x\"\n").unwrap();
        assert!(feature_release(&java).unwrap_err().to_string().contains("names no JAVA_VERSION"));
    }

    #[test]
    fn key_follows_every_input() {
        let tools = vec![pkg("openjdk-17-jdk-headless", 'a')];
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let base = Request::new(&m(&["java.sql", "java.base", "java.base"]), "amd64", "amd64", true);
        assert_eq!(base.modules, ["java.base", "java.sql"]);
        let k = base.key(&tools, &tools[0]);
        assert_eq!(k, Request::new(&m(&["java.base", "java.sql"]), "amd64", "amd64", true).key(&tools, &tools[0]));
        assert_ne!(k, Request::new(&m(&["java.base"]), "amd64", "amd64", true).key(&tools, &tools[0]));
        assert_ne!(k, Request::new(&m(&["java.base", "java.sql"]), "amd64", "amd64", false).key(&tools, &tools[0]));
        assert_ne!(k, base.key(&[pkg("openjdk-17-jdk-headless", 'b')], &tools[0]));
        let arm = Request::new(&m(&["java.base"]), "arm64", "amd64", true);
        assert!(
            !arm.dumps_cds()
                && arm.options().iter().any(|o| o == FOREIGN_STRIP)
                && !arm.options().iter().any(|o| o == "--strip-debug")
        );
        let homed = Request::new(&m(&["java.base"]), "amd64", "amd64", true).with_user_home("/home/nonroot");
        assert!(homed.options().iter().any(|o| o == "--add-options=-Duser.home=/home/nonroot"));
        assert_ne!(
            homed.key(&tools, &tools[0]),
            Request::new(&m(&["java.base"]), "amd64", "amd64", true).key(&tools, &tools[0])
        );
    }

    #[test]
    fn home_is_found_by_package() {
        let mut t = Tree::new();
        let e = |p: &str| Entry::file(b"x".to_vec(), 0o755).from_origin(Origin::Deb(Arc::from(p)));
        t.insert("usr/lib/jvm/java-17-openjdk-amd64/bin/javac", e("openjdk-17-jdk-headless")).unwrap();
        t.insert("usr/lib/jvm/other/bin/javac", e("someone-else")).unwrap();
        assert_eq!(find_home(&t, "openjdk-17-jdk-headless").unwrap(), "usr/lib/jvm/java-17-openjdk-amd64");
        assert!(find_home(&t, "openjdk-11-jdk-headless").unwrap_err().to_string().contains("openjdk-11"));
    }
}
