//! `.lucid.yml`: a repository says how `lucid lint` judges its Dockerfiles, so CI and a person at
//! the terminal get the same verdict without repeating flags. The nearest file wins, looked for in
//! the Dockerfile's directory and its parents, as editors find `.editorconfig`, but never beyond
//! what the person linting controls:
//!
//! - in a repository (a parent, or the directory itself, holds `.git`): up to that directory, the
//!   repository root, and no further;
//! - outside one: the Dockerfile's own directory, then its parents that are the current working
//!   directory or inside it. Linting `/tmp/x/Dockerfile` from elsewhere reads only
//!   `/tmp/x/.lucid.yml`, never a `/tmp/.lucid.yml` another local user could have planted.
//!
//! The file (at most `limits::MAX_YAML_BYTES`) says:
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
    for d in search_dirs(&abs) {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return read(&candidate).map(|p| p.map(|p| (candidate, p)));
        }
    }
    Ok(None)
}

/// The directories searched for the Dockerfile at `abs`, nearest first (the rule of the module
/// doc): up to the repository root, else within the current working directory.
fn search_dirs(abs: &Path) -> Vec<&Path> {
    let parents: Vec<&Path> = abs.ancestors().skip(1).collect();
    if let Some(root) = parents.iter().position(|d| d.join(".git").exists()) {
        return parents[..=root].to_vec();
    }
    let cwd = std::env::current_dir().ok().and_then(|c| std::path::absolute(c).ok());
    let inside = |d: &Path| cwd.as_deref().is_some_and(|c| d.starts_with(c));
    parents.iter().enumerate().take_while(|(i, d)| *i == 0 || inside(d)).map(|(_, d)| *d).collect()
}

fn read(path: &Path) -> Result<Option<Profile>> {
    let usage = |e: anyhow::Error| crate::exit::usage(e);
    let bytes =
        crate::limits::read_capped(path, crate::limits::MAX_YAML_BYTES, "the lint configuration").map_err(usage)?;
    let text = String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display())).map_err(usage)?;
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

    #[test]
    fn outside_a_repository_the_search_stays_within_the_working_directory() {
        // No `.git` above: a `.lucid.yml` in a parent outside the working directory (a shared
        // /tmp) is not honoured; one in the Dockerfile's own directory is. Failed before: the
        // search went up to `/`.
        let shared = tempfile::tempdir().unwrap();
        let dir = shared.path().join("x");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(shared.path().join(FILE_NAME), "lint: {profile: lucid}\n").unwrap();
        let df = dir.join("Dockerfile");
        let cwd = std::env::current_dir().unwrap();
        assert!(!df.starts_with(&cwd), "the test needs a temp dir outside {}", cwd.display());
        if shared.path().ancestors().any(|d| d.join(".git").exists()) {
            panic!("{} is inside a repository: the test cannot judge the no-repository rule", shared.path().display());
        }
        assert!(profile_for(&df).unwrap().is_none());
        std::fs::write(dir.join(FILE_NAME), "lint: {profile: lucid}\n").unwrap();
        assert_eq!(profile_for(&df).unwrap().unwrap().0, dir.join(FILE_NAME));
        // Too big to be a configuration: refused, naming it, as a configuration error.
        std::fs::write(dir.join(FILE_NAME), vec![b'#'; crate::limits::MAX_YAML_BYTES as usize + 1]).unwrap();
        let e = profile_for(&df).unwrap_err();
        assert!(format!("{e:#}").contains(".lucid.yml") && format!("{e:#}").contains("limit"), "{e:#}");
        assert_eq!(crate::exit::code_of(&e), crate::exit::USAGE);
    }
}
