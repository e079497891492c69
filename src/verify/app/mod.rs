//! `--app PATH`: prove, from the image's files alone, that an application fits the image before
//! it ships: its native code finds every library and symbol version it needs, and (Python) its
//! wheels fit the image's interpreter, architecture and glibc.
//!
//! The one dispatch point is [`check`]: the kind of PATH ([`kind`]) picks the language's
//! checker. Both `lucid verify --app` and `lucid report --app` call it once per image and
//! platform, with the image seen as its loader sees it ([`Host`], built while the layers stream).
//!
//! Check IDs (src/verify/catalogue.rs): LUCID-APP-001..099 belong to this module and to Python
//! (001 the always-on manylinux policy check, 002/003 the ELF load checks of [`loader`], which a
//! JNI library inside a jar can use as well, 004/005 wheel tags); LUCID-APP-101..199 are reserved
//! for Java applications ([`java`]).

pub mod host;
pub mod java;
pub mod loader;
pub mod policy;
pub mod python;
pub mod zipread;

use std::path::{Path, PathBuf};

use anyhow::Result;

pub use host::Host;

use crate::findings::Finding;

/// What an `--app` PATH holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// A `.jar` or `.war`, or a directory holding `.jar` files (at its top or further down).
    Java,
    /// A `.whl`, a directory of wheels, or a site-packages (`pip install --target`) directory.
    Python,
}

/// Why an `--app` PATH cannot be checked: it cannot be read (exit 2), or it is no application
/// lucid knows (exit 3, a usage error).
#[derive(Debug, thiserror::Error)]
pub enum AppPathError {
    #[error("--app {}: cannot read it: {why}", path.display())]
    Unreadable { path: PathBuf, why: String },
    #[error(
        "--app {}: {why}; give a .jar or a directory of jars (Java), or a .whl, a directory of wheels or a \
         site-packages / `pip install --target` directory (Python)",
        path.display()
    )]
    NotAnApp { path: PathBuf, why: String },
}

/// Decides what `path` holds, from its name and (for a directory) the names at its top level.
pub fn kind(path: &Path) -> Result<AppKind, AppPathError> {
    let unreadable = |e: std::io::Error| AppPathError::Unreadable { path: path.to_path_buf(), why: e.to_string() };
    let not_app = |why: &str| AppPathError::NotAnApp { path: path.to_path_buf(), why: why.to_string() };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    let ext = |p: &Path, e: &str| p.extension().is_some_and(|x| x.eq_ignore_ascii_case(e));
    if meta.is_file() {
        return if ext(path, "jar") || ext(path, "war") {
            Ok(AppKind::Java)
        } else if ext(path, "whl") {
            Ok(AppKind::Python)
        } else {
            Err(not_app("a file that is neither a .jar, a .war nor a .whl"))
        };
    }
    if !meta.is_dir() {
        return Err(not_app("neither a file nor a directory"));
    }
    let (mut jars, mut python) = (false, false);
    for entry in std::fs::read_dir(path).map_err(unreadable)? {
        let p = entry.map_err(unreadable)?.path();
        jars |= ext(&p, "jar");
        python |= ext(&p, "whl") || (ext(&p, "dist-info") && p.is_dir());
    }
    match (jars, python) {
        (true, true) => {
            Err(not_app("a directory holding both jars and Python wheels or packages (give each its own --app)"))
        }
        (true, false) => Ok(AppKind::Java),
        (false, true) => Ok(AppKind::Python),
        // Jars in subfolders (`lib/`, an unpacked distribution): a Java application.
        (false, false) if crate::analyze::jars::is_jar_app(path) => Ok(AppKind::Java),
        (false, false) => Err(not_app("a directory with no .jar, no .whl and no *.dist-info")),
    }
}

/// The findings of application `path` on the image `host` (one platform). Errors are for an
/// application that cannot be read (missing, not a zip, a link escaping PATH, a corrupt ELF):
/// they name the file, and [`AppPathError`] among them says which exit code applies.
pub fn check(host: &Host, path: &Path) -> Result<Vec<Finding>> {
    match kind(path)? {
        AppKind::Java => java::check(host, path),
        AppKind::Python => python::check(host, path),
    }
}

/// `rel` (a relative path, `/`-separated) taken from directory `base` of an application, as a
/// clean path from the application's root; `None` when it climbs out of the root. Member names,
/// `$ORIGIN` paths and link targets are all judged by it.
pub fn join_inside(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}
