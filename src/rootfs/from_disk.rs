//! Reading a directory the builder wrote on the host (a jlink runtime) back into a [`Tree`].

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::tree::{Entry, Origin, Tree};

/// Reads `dir` into a tree, keys relative to `dir`, every entry from `origin`. Modes are
/// normalised (0755 for directories and executables, 0644 for the rest: the JVM writes its
/// archive 0444), owners are root, so the layer does not depend on the umask of the machine that
/// wrote it. Links are read as links, never followed; anything but a file, directory or link is
/// an error.
pub fn read_dir(dir: &Path, origin: &Origin) -> Result<Tree> {
    use std::os::unix::fs::PermissionsExt;
    let mut tree = Tree::new();
    // The directory may have been written by a sandboxed program: nothing in it, itself
    // included, is followed if it is a link (see `sandbox::read_output`).
    if !fs::symlink_metadata(dir).with_context(|| format!("cannot stat {}", dir.display()))?.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(&d)
            .with_context(|| format!("cannot read {}", d.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot read {}", d.display()))?;
        names.sort();
        for path in names {
            let rel = path.strip_prefix(dir).context("path outside the directory")?;
            let key = rel.to_str().with_context(|| format!("{}: not UTF-8", path.display()))?.to_string();
            let meta = fs::symlink_metadata(&path).with_context(|| format!("cannot stat {}", path.display()))?;
            let entry = if meta.is_dir() {
                stack.push(path.clone());
                Entry::dir(0o755)
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).with_context(|| format!("cannot read link {}", path.display()))?;
                Entry::symlink(target.to_string_lossy().into_owned())
            } else if meta.is_file() {
                let mut data = Vec::new();
                std::io::Read::read_to_end(
                    &mut crate::limits::open_regular(&path, false)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    &mut data,
                )
                .with_context(|| format!("cannot read {}", path.display()))?;
                let mode = if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
                Entry::file(data, mode)
            } else {
                bail!("{}: not a file, directory or link", path.display());
            };
            tree.insert(&key, entry.from_origin(origin.clone()))?;
        }
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_directory_with_normalised_modes() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("bin")).unwrap();
        fs::write(d.path().join("bin/java"), b"elf").unwrap();
        fs::set_permissions(d.path().join("bin/java"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(d.path().join("release"), b"JAVA_VERSION=\"17\"\n").unwrap();
        fs::set_permissions(d.path().join("release"), fs::Permissions::from_mode(0o444)).unwrap();
        let t = read_dir(d.path(), &Origin::Builder).unwrap();
        assert_eq!(t.get("bin/java").unwrap().mode, 0o755);
        assert_eq!(t.get("release").unwrap().mode, 0o644);
        assert_eq!(t.get("bin").unwrap().mode, 0o755);
        let digest = t.digest();
        fs::write(d.path().join("bin/java"), b"elF").unwrap();
        assert_ne!(read_dir(d.path(), &Origin::Builder).unwrap().digest(), digest, "one byte changes the digest");
    }
}
