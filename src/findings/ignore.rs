//! Ignore files (`.lucidignore`, `--ignore-file`): the check IDs a project accepts, shown in
//! reports as ignored and never counted.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Reads an ignore file: one check ID per line, `#` comments, blank lines allowed. A missing
/// file is an empty set; anything that is not an ID is an error naming the file and line.
pub fn read_ignore_file(path: &Path) -> Result<BTreeSet<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        if !is_check_id(id) {
            bail!("{}:{}: {id:?} is not a check ID (like LUCID-USER-001)", path.display(), n + 1);
        }
        out.insert(id.to_string());
    }
    Ok(out)
}

/// `LUCID-AREA-NNN` (or another tool's upper-case ID: `DL3008`).
pub fn is_check_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".lucidignore");
        assert!(read_ignore_file(&p).unwrap().is_empty());
        std::fs::write(&p, "# accepted\nLUCID-META-005  # no healthcheck in base images\n\n").unwrap();
        assert_eq!(read_ignore_file(&p).unwrap().len(), 1);
        std::fs::write(&p, "shell\n").unwrap();
        assert!(format!("{:#}", read_ignore_file(&p).unwrap_err()).contains(":1:"));
    }
}
