//! `.lucid.yml`: a repository says how `lucid lint` judges its Dockerfiles, so CI and a person at
//! the terminal get the same verdict without repeating flags. The nearest file wins, looked for in
//! the Dockerfile's directory and its parents up to the repository root (the first directory with
//! a `.git`), as editors find `.editorconfig`:
//!
//! ```yaml
//! lint:
//!   profile: lucid      # default | lucid (the house-style rules, see catalogue::HOUSE_STYLE)
//! ```
//!
//! Unknown keys are errors (a typo must not silently lint with the wrong rules).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::catalogue::Profile;

/// The config file's name.
pub const FILE_NAME: &str = ".lucid.yml";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    lint: Option<Lint>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Lint {
    profile: Option<String>,
}

/// The profile the nearest `.lucid.yml` above `dockerfile` names, with that file's path; `None`
/// when there is no such file or it names no profile. A file that cannot be read or parsed is a
/// configuration error (exit 3) naming it.
pub fn profile_for(dockerfile: &Path) -> Result<Option<(PathBuf, Profile)>> {
    let abs = std::path::absolute(dockerfile).unwrap_or_else(|_| dockerfile.to_path_buf());
    let mut dir = abs.parent();
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return read(&candidate).map(|p| p.map(|p| (candidate, p)));
        }
        if d.join(".git").exists() {
            break;
        }
        dir = d.parent();
    }
    Ok(None)
}

fn read(path: &Path) -> Result<Option<Profile>> {
    let usage = |e: anyhow::Error| crate::exit::usage(e);
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display())).map_err(usage)?;
    let file: File = serde_saphyr::from_str(&text).map_err(|e| usage(anyhow::anyhow!("{}: {e}", path.display())))?;
    let Some(name) = file.lint.and_then(|l| l.profile) else { return Ok(None) };
    name.parse().map(Some).map_err(|e: anyhow::Error| usage(e.context(format!("{}: lint.profile", path.display()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_file_wins_and_typos_are_errors() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(".git")).unwrap();
        std::fs::create_dir_all(root.path().join("a/b")).unwrap();
        let df = root.path().join("a/b/Dockerfile");
        assert!(profile_for(&df).unwrap().is_none());
        std::fs::write(root.path().join(FILE_NAME), "lint:\n  profile: lucid\n").unwrap();
        assert_eq!(profile_for(&df).unwrap().unwrap().1, Profile::Lucid);
        std::fs::write(root.path().join("a").join(FILE_NAME), "lint: {profile: default}\n").unwrap();
        assert_eq!(profile_for(&df).unwrap().unwrap().1, Profile::Default);
        std::fs::write(root.path().join("a").join(FILE_NAME), "lint: {profil: lucid}\n").unwrap();
        let e = profile_for(&df).unwrap_err();
        assert!(format!("{e:#}").contains("a/.lucid.yml"), "{e:#}");
        assert_eq!(crate::exit::code_of(&e), crate::exit::USAGE);
        std::fs::write(root.path().join("a").join(FILE_NAME), "lint: {profile: strict}\n").unwrap();
        assert!(format!("{:#}", profile_for(&df).unwrap_err()).contains("lint.profile"));
    }
}
