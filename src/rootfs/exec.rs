//! Running a program that lives in an in-memory tree on the build host, without installing it.
//!
//! Some build steps must run code from the image's own packages: Python's byte-code compiler
//! (the `.pyc` must be exactly what the image's interpreter writes), `jlink` and the JVM's
//! class-data-sharing dump (the runtime must come from the locked `.deb`, never from a JDK the
//! host happens to have). The part of the tree a program needs is written into a private scratch
//! directory and the program is started through the tree's own dynamic loader with only the tree's
//! library directories, so neither the host's libraries nor the host's interpreters take part.
//! Links are recreated relative and resolved inside the tree, so nothing written can point at the
//! host's own files.
//!
//! The program is code from packages (and, for the JVM's dump, a runtime jlink just made), run on
//! the build host, often as root in CI. So it runs confined, through bubblewrap (Debian's
//! `bwrap`): new user, mount, PID, network, IPC, UTS and cgroup namespaces, no capabilities, no
//! nested user namespaces, its own session (no terminal injection), killed with lucid. Its file
//! system holds only the tree (read-only), what the caller binds read-only ([`Sandbox`]), the
//! caller's output directories (writable), a private `/tmp`, `/proc` and a minimal `/dev`: not the
//! host's `/root`, `/etc`, home, cache or sockets. It has no network but its own loopback, and
//! resource limits (address space, CPU time, file size, open files, processes) set before `exec`.
//! Without `bwrap` nothing runs: the build stops with [`sandbox::SandboxUnavailable`] saying how to install
//! it, never falling back to running unconfined.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::sandbox::{self, Sandbox};
use super::tree::{Node, Tree};

/// How to start a program materialized from a tree on this host.
#[derive(Clone, Debug)]
pub struct Program {
    /// The tree's dynamic loader, on disk.
    pub loader: PathBuf,
    /// The tree's multiarch library directories, `:`-separated.
    pub library_path: String,
    /// The program, on disk.
    pub program: PathBuf,
    /// Where the tree was written.
    pub root: PathBuf,
}

impl Program {
    /// `loader --inhibit-cache --library-path ... program` in `sandbox` (see the module comment),
    /// with an empty environment: the host's `ld.so.cache`, `LD_LIBRARY_PATH` and locale never
    /// reach it; callers add what they need. The tree's root is always bound read-only.
    pub fn command(&self, sandbox: &Sandbox) -> Result<Command> {
        let bwrap = sandbox::bwrap()?;
        let mut cmd = Command::new(bwrap);
        cmd.args(sandbox::CONFINEMENT);
        let bind = |cmd: &mut Command, how: &str, path: &Path| {
            cmd.arg(how).arg(path).arg(path);
        };
        if sandbox.host_programs {
            cmd.args(sandbox::host_program_binds());
        }
        bind(&mut cmd, "--ro-bind", &self.root);
        for p in &sandbox.read_only {
            bind(&mut cmd, "--ro-bind", p);
        }
        for p in &sandbox.writable {
            bind(&mut cmd, "--bind", p);
        }
        let cwd = sandbox.writable.first().unwrap_or(&self.root);
        cmd.arg("--chdir").arg(cwd).arg("--");
        cmd.arg(&self.loader).arg("--inhibit-cache").arg("--library-path").arg(&self.library_path).arg(&self.program);
        cmd.env_clear();
        sandbox::limit_resources(&mut cmd);
        Ok(cmd)
    }
}

/// The host's Debian multiarch triplet and the dynamic loader's path in a Debian tree: a tree can
/// only be run here if it holds the host architecture's libc.
pub fn host_loader() -> Result<(&'static str, &'static str)> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(("x86_64-linux-gnu", "lib64/ld-linux-x86-64.so.2")),
        "aarch64" => Ok(("aarch64-linux-gnu", "lib/ld-linux-aarch64.so.1")),
        other => bail!("cannot run programs from a build tree on a {other} host (x86_64 and aarch64 are supported)"),
    }
}

/// Whether `key` is `dir` or below it.
pub fn under(key: &str, dir: &str) -> bool {
    key == dir || key.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// Writes the program `program` of `tree` (a path in the tree; links are followed) under `root`,
/// with the loader, the shared libraries of the host architecture, and every entry for which
/// `wanted` holds (the program's data: a standard library, a JDK home).
pub fn materialize(tree: &Tree, root: &Path, program: &str, wanted: impl Fn(&str) -> bool) -> Result<Program> {
    let (triplet, loader) = host_loader()?;
    let program_key = tree.resolve(program).with_context(|| format!("the build tree has no {program}"))?;
    let loader_key = tree
        .resolve(loader)
        .with_context(|| format!("the build tree has no {loader} for this host (libc6 of the host architecture)"))?;
    let libs = |k: &str| {
        (under(k, "lib") && !k.starts_with("lib/python"))
            || under(k, "lib64")
            || under(k, &format!("usr/lib/{triplet}"))
            || k == "usr"
            || k == "usr/lib"
            || k == program_key
    };
    fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let mut links = Vec::new();
    for (key, e) in tree.iter() {
        if !libs(key) && !wanted(key) {
            continue;
        }
        let path = root.join(key);
        match &e.node {
            Node::Dir => fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?,
            Node::File(data) => write_file(&path, data, (e.mode & 0o777) | 0o600)?,
            Node::Symlink(_) => links.push(key.clone()),
        }
    }
    for key in links {
        let Some(target) = tree.resolve(&key) else { continue };
        let depth = key.matches('/').count();
        let rel = format!("{}{}", "../".repeat(depth), target);
        let path = root.join(&key);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::os::unix::fs::symlink(&rel, &path).with_context(|| format!("cannot link {}", path.display()))?;
    }
    let library_path = [format!("lib/{triplet}"), format!("usr/lib/{triplet}")]
        .iter()
        .map(|d| root.join(d).display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    Ok(Program {
        loader: root.join(loader_key),
        library_path,
        program: root.join(program_key),
        root: root.to_path_buf(),
    })
}

/// Creates `path` (and its directory) with `data` and `mode`.
pub fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data).with_context(|| format!("cannot write {}", path.display()))
}

/// The last `n` lines of a program's stderr, for error messages.
pub fn tail(stderr: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::Entry;

    #[test]
    fn missing_loader_or_program_is_a_clear_error() {
        let mut t = Tree::new();
        t.insert("usr/bin/x", Entry::file(b"elf".to_vec(), 0o755)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = materialize(&t, dir.path(), "usr/bin/y", |_| false).unwrap_err().to_string();
        assert!(e.contains("usr/bin/y"), "{e}");
        let e = materialize(&t, dir.path(), "usr/bin/x", |_| false).unwrap_err().to_string();
        assert!(e.contains("libc6"), "{e}");
        assert!(under("usr/lib/jvm", "usr/lib") && !under("usr/libexec", "usr/lib"));
    }
}
