//! Python applications: wheels (`.whl`), directories of wheels, and site-packages directories
//! (`pip install --target`), checked against one image and platform.
//!
//! - LUCID-APP-004: each distribution's wheel tags (the wheel's file name, or `Tag:` lines of an
//!   installed `*.dist-info/WHEEL`) fit the image's CPython (read from the image), ABI,
//!   architecture and glibc, by the rules `lucid build` picks wheels with
//!   ([`crate::python::tags`]). Per project: when one of its wheels fits, the others (another
//!   architecture, another interpreter) are not applicable here (LUCID-APP-005, info); when none
//!   fits, each fails with the reason.
//! - LUCID-APP-002/003 ([`super::loader`]): the ELF files of everything that fits, installed
//!   together as one site-packages, load in the image.
//!
//! Wheels and directories are untrusted: archives are read through [`super::zipread`], a
//! directory's symbolic links may not leave it, and every read is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::findings::{Finding, Status};
use crate::formats::elf;
use crate::formats::wheel::normalize_name;
use crate::formats::wheel::{Target, WheelName, parse_wheel_name};
use crate::limits::{max_entries, read_capped};
use crate::verify::checks::finding;

use super::host::Host;
use super::loader::{self, AppElf};
use super::zipread;

/// A `WHEEL` metadata file is a few hundred bytes.
const WHEEL_META_LIMIT: u64 = 64 << 10;
/// Directories deeper than this in a site-packages are refused (real ones stay under 20).
const MAX_DEPTH: usize = 64;

/// One installable distribution the application holds.
#[derive(Clone, Debug)]
struct Dist {
    /// PEP 503 normalised project name.
    project: String,
    /// `numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl`, or
    /// `numpy-2.2.6.dist-info` in a directory.
    shown: String,
    /// Its tag sets (one for a wheel's file name, one per `Tag:` line of a `WHEEL` file); empty
    /// when an installed distribution has no `WHEEL` file (installed from source).
    tags: Vec<WheelName>,
    /// The wheel file, for a wheel.
    wheel: Option<PathBuf>,
}

/// Whether a distribution fits, or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fit {
    Yes,
    /// Not judged: no tags.
    Unknown,
    No(Vec<String>),
}

/// The findings of the Python application at `path` (a wheel, a directory of wheels, a
/// site-packages) on `host`.
pub fn check(host: &Host, path: &Path) -> Result<Vec<Finding>> {
    let app = path.display().to_string();
    let (dists, tree) = distributions(path)?;
    let target = target(host);
    let mut out = Vec::new();
    let fits: Vec<Fit> = dists
        .iter()
        .map(|d| match &target {
            _ if d.tags.is_empty() => Fit::Unknown,
            Some(t) if d.tags.iter().any(|w| t.rank(w).is_some()) => Fit::Yes,
            Some(t) => {
                Fit::No(d.tags.iter().flat_map(|w| why_not(t, w)).collect::<BTreeSet<_>>().into_iter().collect())
            }
            None => Fit::No(vec![
                "the image has no CPython interpreter (no python3.N in /usr/bin or /usr/local/bin)".into(),
            ]),
        })
        .collect();
    out.extend(tag_findings(host, &app, &dists, &fits, target.as_ref()));
    let mut elfs = Vec::new();
    for (d, fit) in dists.iter().zip(&fits) {
        if let (Some(wheel), Fit::Yes) = (&d.wheel, fit) {
            elfs.extend(wheel_elfs(wheel)?);
        }
    }
    if let Some(dir) = &tree {
        elfs.extend(tree_elfs(dir)?);
    }
    out.extend(loader::check(host, &app, &elfs));
    Ok(out)
}

/// The interpreter and platform wheels must fit on `host`; `None` without a CPython.
fn target(host: &Host) -> Option<Target> {
    Some(Target {
        python: host.python()?,
        machine: host.machine().map(elf::machine_name).unwrap_or_else(|| host.arch.clone()),
        glibc: host.glibc().unwrap_or((0, 0)),
    })
}

/// The distributions at `path`: its wheels, and the installed ones of a site-packages (returned
/// as the directory to scan for ELF files).
fn distributions(path: &Path) -> Result<(Vec<Dist>, Option<PathBuf>)> {
    let mut dists = Vec::new();
    let wheel = |p: &Path| -> Result<Dist> {
        let file = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let name = parse_wheel_name(&file).with_context(|| format!("{}", p.display()))?;
        Ok(Dist { project: name.name.clone(), shown: file, tags: vec![name], wheel: Some(p.to_path_buf()) })
    };
    if path.is_file() {
        return Ok((vec![wheel(path)?], None));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read {}", path.display()))?;
    entries.sort();
    let mut installed = false;
    for p in &entries {
        let name = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        // Links are not followed into metadata: where they lead is judged with the tree's files.
        let real = |p: &Path, dir: bool| {
            std::fs::symlink_metadata(p).is_ok_and(|m| if dir { m.is_dir() } else { m.is_file() })
        };
        if name.to_ascii_lowercase().ends_with(".whl") && p.is_file() {
            dists.push(wheel(p)?);
        } else if let Some(stem) = name.strip_suffix(".dist-info")
            && real(p, true)
        {
            installed = true;
            let project = normalize_name(stem.rsplit_once('-').map_or(stem, |(n, _)| n));
            let meta = p.join("WHEEL");
            let tags = if real(&meta, false) {
                let text = read_capped(&meta, WHEEL_META_LIMIT, "WHEEL file")?;
                wheel_tags(&String::from_utf8_lossy(&text), &project)
            } else {
                Vec::new()
            };
            dists.push(Dist { project, shown: format!("{name} (in {})", path.display()), tags, wheel: None });
        }
    }
    if dists.is_empty() {
        // What `kind` took for Python holds nothing to check (a `.whl` directory, a linked
        // `*.dist-info`): a usage error, never a pass that could not have failed.
        return Err(super::AppPathError::NotAnApp {
            path: path.to_path_buf(),
            why: "no wheel file and no *.dist-info directory in it".into(),
        }
        .into());
    }
    Ok((dists, installed.then(|| path.to_path_buf())))
}

/// The `Tag:` lines of a `WHEEL` file, each as a one-tag wheel name.
fn wheel_tags(text: &str, project: &str) -> Vec<WheelName> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Tag:"))
        .filter_map(|t| {
            let mut parts = t.trim().splitn(3, '-');
            let (python, abi, platform) = (parts.next()?, parts.next()?, parts.next()?);
            Some(WheelName {
                name: project.to_string(),
                version: String::new(),
                build: None,
                python: python.into(),
                abi: abi.into(),
                platform: platform.into(),
            })
        })
        .collect()
}

/// `manylinux_2_17_x86_64` -> `((2, 17), "x86_64")`, with the legacy aliases; `linux_x86_64`
/// -> `((0, 0), "x86_64")`.
fn manylinux(platform: &str) -> Option<((u32, u32), &str)> {
    for (alias, glibc) in [("manylinux1_", (2, 5)), ("manylinux2010_", (2, 12)), ("manylinux2014_", (2, 17))] {
        if let Some(arch) = platform.strip_prefix(alias) {
            return Some((glibc, arch));
        }
    }
    if let Some(rest) = platform.strip_prefix("manylinux_") {
        let (major, rest) = rest.split_once('_')?;
        let (minor, arch) = rest.split_once('_')?;
        return Some(((major.parse().ok()?, minor.parse().ok()?), arch));
    }
    platform.strip_prefix("linux_").map(|arch| ((0, 0), arch))
}

/// Why the wheel tags `w` do not fit `t`, one sentence per tag that does not.
fn why_not(t: &Target, w: &WheelName) -> Vec<String> {
    let tags = t.tags();
    let (major, minor) = t.python;
    let mut reasons = Vec::new();
    let pair_fits =
        w.python.split('.').any(|py| w.abi.split('.').any(|abi| tags.iter().any(|(a, b, _)| a == py && b == abi)));
    if !pair_fits {
        for py in w.python.split('.') {
            let built = py
                .strip_prefix("cp")
                .and_then(|v| v.strip_prefix(&major.to_string()))
                .and_then(|m| m.parse::<u32>().ok());
            reasons.push(match (built, w.abi.as_str()) {
                (Some(m), "abi3") => {
                    format!("{py}-abi3 needs CPython {major}.{m} or newer, the image has {major}.{minor}")
                }
                (Some(m), _) => {
                    format!("built for CPython {major}.{m} ({py}-{}), the image has CPython {major}.{minor}", w.abi)
                }
                _ if py.starts_with("pp") => format!("built for PyPy ({py}), the image has CPython {major}.{minor}"),
                _ => format!("{py}-{} is not an interpreter tag CPython {major}.{minor} accepts", w.abi),
            });
        }
    }
    let plat_fits = w.platform.split('.').any(|p| tags.iter().any(|(_, _, c)| c == p));
    if !plat_fits {
        for p in w.platform.split('.') {
            let glibc = if t.glibc == (0, 0) {
                "the image has no glibc (no libc.so.6)".to_string()
            } else {
                format!("the image has glibc {}.{}", t.glibc.0, t.glibc.1)
            };
            reasons.push(if p.starts_with("musllinux_") {
                format!("{p} is for musl libc: it never fits a glibc image ({glibc})")
            } else if let Some((need, arch)) = manylinux(p) {
                // Said without the tag, so a wheel's aliases (manylinux2014 = manylinux_2_17)
                // give one reason.
                if arch != t.machine {
                    format!("built for {arch}, the image is {}", t.machine)
                } else {
                    format!("needs glibc {}.{}, {glibc}", need.0, need.1)
                }
            } else if p.starts_with("macosx_") {
                format!("{p} is for macOS")
            } else if p.starts_with("win") {
                format!("{p} is for Windows")
            } else {
                format!("{p} is not a platform of a {} Linux image", t.machine)
            });
        }
    }
    reasons
}

/// LUCID-APP-004 and LUCID-APP-005 from the verdicts.
fn tag_findings(host: &Host, app: &str, dists: &[Dist], fits: &[Fit], target: Option<&Target>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut by_project: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in dists.iter().enumerate() {
        by_project.entry(d.project.as_str()).or_default().push(i);
    }
    let mut not_here = Vec::new();
    for idx in by_project.values() {
        let any_fits = idx.iter().any(|&i| !matches!(fits[i], Fit::No(_)));
        for &i in idx {
            let Fit::No(reasons) = &fits[i] else { continue };
            if any_fits {
                not_here.push(format!("{} ({})", dists[i].shown, reasons.join("; ")));
                continue;
            }
            let mut f = finding(
                "LUCID-APP-004",
                &host.name,
                Status::Fail,
                format!("{app}: {}: {}", dists[i].shown, reasons.join("; ")),
            );
            f.remediation = match target {
                Some(t) => {
                    let (py, m, project) = (format!("{}.{}", t.python.0, t.python.1), &t.machine, &dists[i].project);
                    let pin =
                        dists[i].tags.first().filter(|w| !w.version.is_empty()).map(|w| format!("=={}", w.version));
                    format!(
                        "use a wheel of {project} for CPython {py} on {m} with glibc {}.{} or older: pip download \
                         --only-binary=:all: --platform manylinux2014_{m} --python-version {py} --implementation cp \
                         {project}{}",
                        t.glibc.0,
                        t.glibc.1,
                        pin.unwrap_or_default()
                    )
                }
                None => "check a Python application against an image with a Python interpreter".into(),
            };
            f.locations.push(crate::findings::Location { path: dist_location(app, &dists[i]), ..Default::default() });
            out.push(f);
        }
    }
    if out.is_empty() {
        let fitting = fits.iter().filter(|f| **f == Fit::Yes).count();
        let unknown: Vec<&str> =
            dists.iter().zip(fits).filter(|(_, f)| **f == Fit::Unknown).map(|(d, _)| d.shown.as_str()).collect();
        let unknown = if unknown.is_empty() {
            String::new()
        } else {
            format!("; no WHEEL tags to judge (installed from source?): {}", unknown.join(", "))
        };
        let against = target.map_or(String::new(), |t| {
            format!(" CPython {}.{}, {}, glibc {}.{}", t.python.0, t.python.1, t.machine, t.glibc.0, t.glibc.1)
        });
        out.push(finding(
            "LUCID-APP-004",
            &host.name,
            Status::Pass,
            format!("{app}: {fitting} distribution(s) fit{against}{unknown}"),
        ));
    }
    if !not_here.is_empty() {
        out.push(finding(
            "LUCID-APP-005",
            &host.name,
            Status::Pass,
            format!(
                "{app}: {} not applicable here, another of the same project fits: {}",
                not_here.len(),
                not_here.join(", ")
            ),
        ));
    }
    out
}

fn dist_location(app: &str, d: &Dist) -> String {
    match &d.wheel {
        Some(w) => w.display().to_string(),
        None => format!("{}/{}", app.trim_end_matches('/'), d.shown.split(" (in ").next().unwrap_or(&d.shown)),
    }
}

/// Of an application's ELF file, at most this much of its head is kept: its tables lie in its
/// first loaded segment, which in builds without a separate text segment holds the code too.
const APP_HEAD_LIMIT: u64 = 64 << 20;

/// The dynamic facts of an application file `shown` streamed from `content` (`size` bytes):
/// `None` when it is not ELF, an error naming it when it is corrupt or its tables lie too deep.
fn read_elf(
    content: &mut dyn std::io::Read,
    size: u64,
    shown: &str,
    buf: &mut Vec<u8>,
) -> Result<Option<elf::Dynamic>> {
    match elf::read_streamed(content, size, APP_HEAD_LIMIT, buf).with_context(|| format!("cannot read {shown}"))? {
        elf::Streamed::NotElf => Ok(None),
        elf::Streamed::Dynamic(d) => Ok(Some(d)),
        elf::Streamed::Corrupt => {
            bail!("{shown}: truncated or corrupt ELF file (its program headers or dynamic section lie outside it)")
        }
        elf::Streamed::Beyond => bail!(
            "{shown}: an ELF file whose dynamic tables lie more than {} MB into it: not checked",
            APP_HEAD_LIMIT >> 20
        ),
    }
}

/// The ELF members of a wheel, with their installed paths (`.data/purelib` and `.data/platlib`
/// install into site-packages itself).
pub fn wheel_elfs(wheel: &Path) -> Result<Vec<AppElf>> {
    let container = wheel.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let (mut out, mut buf) = (Vec::new(), Vec::new());
    zipread::for_each_member(wheel, |name, size, content| {
        let Some(dynamic) = read_elf(content, size, name, &mut buf)? else { return Ok(()) };
        let rel = match name.split_once('/') {
            Some((top, rest)) if top.ends_with(".data") => {
                rest.strip_prefix("purelib/").or_else(|| rest.strip_prefix("platlib/")).unwrap_or(name).to_string()
            }
            _ => name.to_string(),
        };
        out.push(AppElf { container: container.clone(), rel, dynamic });
        Ok(())
    })?;
    Ok(out)
}

/// The ELF files below the site-packages `root`. A symbolic link that leads out of `root` is an
/// error (what it points to is not part of the application).
fn tree_elfs(root: &Path) -> Result<Vec<AppElf>> {
    let container = root.display().to_string();
    let (mut out, mut buf) = (Vec::new(), Vec::new());
    let mut todo: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    let mut seen: u64 = 0;
    while let Some((dir, rel_dir, depth)) = todo.pop() {
        if depth > MAX_DEPTH {
            bail!("{}: directories nested deeper than {MAX_DEPTH}", dir.display());
        }
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot read {}", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            seen += 1;
            if seen > max_entries() {
                bail!(
                    "{}: more than {} files: refused (LUCID_MAX_ENTRIES raises the limit)",
                    root.display(),
                    max_entries()
                );
            }
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
            let meta = std::fs::symlink_metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).with_context(|| format!("cannot read {}", path.display()))?;
                if escapes(&rel_dir, &target) {
                    bail!(
                        "{}: a symbolic link to {}, outside {}: refused (an application must not reach out of itself)",
                        path.display(),
                        target.display(),
                        root.display()
                    );
                }
            } else if meta.is_dir() {
                todo.push((path, rel, depth + 1));
            } else if meta.is_file() && !(rel_dir.is_empty() && name.to_ascii_lowercase().ends_with(".whl")) {
                let shown = path.display().to_string();
                let mut file = std::fs::File::open(&path).with_context(|| format!("cannot read {shown}"))?;
                if let Some(dynamic) = read_elf(&mut file, meta.len(), &shown, &mut buf)? {
                    out.push(AppElf { container: container.clone(), rel, dynamic });
                }
            }
        }
    }
    Ok(out)
}

/// Whether a link at directory `rel_dir` (relative to the application's root) pointing to
/// `target` resolves outside the root.
fn escapes(rel_dir: &str, target: &Path) -> bool {
    let target = target.to_string_lossy();
    target.starts_with('/') || super::join_inside(rel_dir, &target).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(f: &str) -> WheelName {
        parse_wheel_name(f).unwrap()
    }

    #[test]
    fn reasons_name_what_does_not_fit() {
        let t = Target { python: (3, 11), machine: "x86_64".into(), glibc: (2, 36) };
        let r = why_not(&t, &name("m-1-cp311-cp311-musllinux_1_2_x86_64.whl")).join("; ");
        assert!(r.contains("musl") && r.contains("glibc 2.36"), "{r}");
        let r = why_not(&t, &name("m-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")).join("; ");
        assert!(r.contains("CPython 3.12") && r.contains("3.11") && !r.contains("manylinux"), "{r}");
        let r = why_not(&t, &name("m-1-cp310-abi3-manylinux_2_39_x86_64.whl")).join("; ");
        assert!(r.contains("needs glibc 2.39, the image has glibc 2.36") && !r.contains("abi3"), "{r}");
        let r = why_not(&t, &name("m-1-cp311-cp311-manylinux2014_aarch64.whl")).join("; ");
        assert!(r.contains("built for aarch64, the image is x86_64"), "{r}");
        let r = why_not(&t, &name("m-1-cp312-abi3-manylinux2014_x86_64.whl")).join("; ");
        assert!(r.contains("CPython 3.12 or newer"), "{r}");
        assert!(why_not(&t, &name("m-1-py3-none-any.whl")).is_empty());
        assert_eq!(manylinux("manylinux1_x86_64"), Some(((2, 5), "x86_64")));
        assert_eq!(manylinux("manylinux_2_28_aarch64"), Some(((2, 28), "aarch64")));
        assert_eq!(manylinux("musllinux_1_2_x86_64"), None);
    }

    #[test]
    fn wheel_files_and_links() {
        let tags = wheel_tags(
            "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64\n",
            "numpy",
        );
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[1].platform, "manylinux2014_x86_64");
        assert!(escapes("", Path::new("../x")));
        assert!(escapes("a/b", Path::new("/etc/passwd")));
        assert!(escapes("a", Path::new("../../x")));
        assert!(!escapes("a/b", Path::new("../c/d.so")));
    }
}
