//! Would the image's dynamic loader load the application's native code? For every ELF file of an
//! application: each `DT_NEEDED` must be found (LUCID-APP-002) and each symbol version it needs
//! from that library must be defined there (LUCID-APP-003), by glibc's rules.
//!
//! A library is found, in the loader's order: among the application's own libraries already
//! loaded by soname (auditwheel's `<pkg>.libs` and `<pkg>/.libs` folders, which an extension
//! module loads through its `RPATH` before anything needs them by name), in the needing file's
//! `DT_RPATH` (when it has no `DT_RUNPATH`) with `$ORIGIN` expanded inside the application, in the
//! image's `LD_LIBRARY_PATH`, in its `DT_RUNPATH`, then on the image's search path ([`Host`]).
//! Language-neutral: a Python extension module and a JNI library in a jar are checked alike.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::findings::{Finding, Location, Status};
use crate::formats::elf::{self, Dynamic};
use crate::verify::checks::finding;

use super::host::{Host, Lookup};
use super::policy;
use crate::analyze::libraries::LibFacts;

/// At most this many files are named in a finding's locations; the message gives the count.
const MAX_LOCATIONS: usize = 10;

/// One ELF file of an application.
#[derive(Clone, Debug)]
pub struct AppElf {
    /// What holds it: a wheel's file name, or the `--app` directory.
    pub container: String,
    /// Its path where the application is installed (below site-packages for Python), which
    /// `$ORIGIN` is relative to: `numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so`.
    pub rel: String,
    pub dynamic: Dynamic,
}

impl AppElf {
    /// `numpy-2.2.6-....whl!/numpy/_core/x.so`, or `DIR/numpy/_core/x.so` for a directory.
    pub fn location(&self) -> String {
        if self.container.ends_with(".whl") || self.container.ends_with(".jar") {
            format!("{}!/{}", self.container, self.rel)
        } else {
            format!("{}/{}", self.container.trim_end_matches('/'), self.rel)
        }
    }

    fn shown(&self) -> String {
        format!("{} (in {})", self.rel, self.container)
    }
}

/// Who provides a library to one ELF file.
#[derive(Clone, Debug)]
enum Provider {
    /// The application's own ELF file (index).
    App(usize),
    Image {
        path: String,
        facts: LibFacts,
    },
    /// Only in an `ld.so.conf` directory of an image with no cache.
    Uncached(String),
    Missing,
}

/// A directory of `DT_RPATH`/`DT_RUNPATH` after expansion.
enum SearchDir {
    /// Inside the application (from `$ORIGIN`).
    App(String),
    /// In the image.
    Image(String),
    /// Above the application's root (`$ORIGIN/../../..`): where it lands depends on where the
    /// application is installed, so it is not searched.
    Outside,
}

/// `dir` of a file at `origin` (its directory inside the application) expanded as the loader
/// would (`$ORIGIN`, `$LIB`, `$PLATFORM`).
fn expand(dir: &str, origin: &str, host: &Host) -> SearchDir {
    let lib = host.system_dirs().first().cloned().unwrap_or_else(|| "lib".into());
    let platform = host.machine().map(elf::machine_name).unwrap_or_default();
    let mut d = dir.to_string();
    for (var, value) in [("LIB", lib.as_str()), ("PLATFORM", platform.as_str())] {
        d = d.replace(&format!("${{{var}}}"), value).replace(&format!("${var}"), value);
    }
    let rest = d.strip_prefix("${ORIGIN}").or_else(|| d.strip_prefix("$ORIGIN"));
    let Some(rest) = rest else { return SearchDir::Image(d.trim_matches('/').to_string()) };
    super::join_inside(origin, rest).map_or(SearchDir::Outside, SearchDir::App)
}

/// The application's libraries as the loader would match them.
struct AppIndex<'a> {
    elfs: &'a [AppElf],
    /// Libraries in `.libs` folders by soname and file name: loaded before anyone needs them.
    bundled: HashMap<&'a str, usize>,
    by_rel: HashMap<&'a str, usize>,
}

impl<'a> AppIndex<'a> {
    fn new(elfs: &'a [AppElf], loadable: &[usize]) -> AppIndex<'a> {
        let mut bundled = HashMap::new();
        let mut by_rel = HashMap::new();
        for &i in loadable {
            let e = &elfs[i];
            by_rel.insert(e.rel.as_str(), i);
            let (dir, base) = e.rel.rsplit_once('/').unwrap_or(("", e.rel.as_str()));
            if dir.split('/').any(|c| c.ends_with(".libs")) {
                bundled.entry(base).or_insert(i);
                if let Some(s) = &e.dynamic.soname {
                    bundled.entry(s.as_str()).or_insert(i);
                }
            }
        }
        AppIndex { elfs, bundled, by_rel }
    }

    /// Where the loader finds `name` for ELF file `i`.
    fn resolve(&self, host: &Host, i: usize, name: &str) -> Provider {
        if let Some(&j) = self.bundled.get(name) {
            return Provider::App(j);
        }
        let e = &self.elfs[i];
        let origin = e.rel.rsplit_once('/').map_or("", |(d, _)| d);
        let in_dirs = |dirs: &[String]| {
            dirs.iter().find_map(|d| match expand(d, origin, host) {
                SearchDir::App(dir) => {
                    let key = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
                    self.by_rel.get(key.as_str()).map(|&j| Provider::App(j))
                }
                SearchDir::Image(dir) => host.in_dir(&dir, name).map(|(path, facts)| Provider::Image { path, facts }),
                SearchDir::Outside => None,
            })
        };
        let d = &e.dynamic;
        if d.runpath.is_empty()
            && let Some(p) = in_dirs(&d.rpath)
        {
            return p;
        }
        // RUNPATH's application directories; its image directories go after LD_LIBRARY_PATH.
        let app_runpath: Vec<String> =
            d.runpath.iter().filter(|r| matches!(expand(r, origin, host), SearchDir::App(_))).cloned().collect();
        if let Some(p) = in_dirs(&app_runpath) {
            return p;
        }
        let image_runpath: Vec<String> = d
            .runpath
            .iter()
            .filter_map(|r| match expand(r, origin, host) {
                SearchDir::Image(dir) => Some(dir),
                _ => None,
            })
            .collect();
        match host.find_after(name, &image_runpath) {
            Lookup::Found { path, facts } => Provider::Image { path, facts },
            Lookup::Uncached { path } => Provider::Uncached(path),
            Lookup::Missing => Provider::Missing,
        }
    }
}

/// `GLIBCXX_3.4.30` -> (`GLIBCXX`, [3, 4, 30]), for ordering versions of one family.
fn version_key(name: &str) -> (&str, Vec<u32>) {
    match name.rsplit_once('_') {
        Some((family, v)) if v.split('.').all(|n| n.parse::<u32>().is_ok()) => {
            (family, v.split('.').filter_map(|n| n.parse().ok()).collect())
        }
        _ => (name, Vec::new()),
    }
}

/// The newest version of each family in `names`: `GLIBC_2.34, GLIBCXX_3.4.29`.
fn newest<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut best: BTreeMap<&str, (Vec<u32>, &str)> = BTreeMap::new();
    for n in names {
        let (family, v) = version_key(n);
        if v.is_empty() {
            continue;
        }
        let slot = best.entry(family).or_insert((Vec::new(), n));
        if v > slot.0 {
            *slot = (v, n);
        }
    }
    best.into_values().map(|(_, n)| n.to_string()).collect()
}

/// `a.so (in x.whl), b.so (in x.whl) and 4 more`.
fn some_files(elfs: &[AppElf], which: &[usize]) -> String {
    let shown: Vec<String> = which.iter().take(3).map(|&i| elfs[i].shown()).collect();
    let more = if which.len() > 3 { format!(" and {} more", which.len() - 3) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

fn locations(elfs: &[AppElf], which: &[usize]) -> Vec<Location> {
    which.iter().take(MAX_LOCATIONS).map(|&i| Location { path: elfs[i].location(), ..Default::default() }).collect()
}

/// A library some ELF files need and the loader would not find.
#[derive(Default)]
struct Missing {
    files: Vec<usize>,
    /// Where it is when only `/etc/ld.so.cache` (which the image lacks) would find it.
    uncached: Option<String>,
}

/// Versions some ELF files need from a library that does not define them.
struct Gap {
    lacking: BTreeSet<String>,
    files: Vec<usize>,
    /// What the library defines.
    defined: Vec<String>,
}

/// Everything the loader would do with the loadable ELF files, grouped for findings: one per
/// wheel (or directory) and library, so each names the files of one wheel.
#[derive(Default)]
struct Resolution<'a> {
    /// (container, soname) -> who needs it.
    missing: BTreeMap<(&'a str, String), Missing>,
    /// (container, soname, provider shown) -> what it lacks.
    gaps: BTreeMap<(&'a str, String, String), Gap>,
    from_image: BTreeSet<String>,
    bundled: BTreeSet<String>,
    needed_versions: BTreeSet<String>,
}

impl<'a> Resolution<'a> {
    fn of(host: &Host, elfs: &'a [AppElf], loadable: &[usize]) -> Resolution<'a> {
        let index = AppIndex::new(elfs, loadable);
        let mut r = Resolution::default();
        for &i in loadable {
            let d = &elfs[i].dynamic;
            let container = elfs[i].container.as_str();
            let mut providers: HashMap<&str, Provider> = HashMap::new();
            for name in &d.needed {
                let p = index.resolve(host, i, name);
                match &p {
                    Provider::App(_) => {
                        r.bundled.insert(name.clone());
                    }
                    Provider::Image { .. } => {
                        r.from_image.insert(name.clone());
                    }
                    Provider::Uncached(path) => {
                        let m = r.missing.entry((container, name.clone())).or_default();
                        m.files.push(i);
                        m.uncached = Some(path.clone());
                    }
                    Provider::Missing => r.missing.entry((container, name.clone())).or_default().files.push(i),
                }
                providers.insert(name, p);
            }
            for need in &d.verneed {
                let provider = match providers.get(need.file.as_str()) {
                    Some(p) => p.clone(),
                    None => index.resolve(host, i, &need.file),
                };
                let (defined, shown): (&[String], String) = match &provider {
                    Provider::App(j) => (&elfs[*j].dynamic.verdef, elfs[*j].shown()),
                    Provider::Image { path, facts: LibFacts::Elf { versions, .. } } => (versions, format!("/{path}")),
                    // Not read (too large): its versions cannot be judged. Missing: reported as such.
                    _ => continue,
                };
                r.needed_versions.extend(need.versions.iter().map(|(v, _)| v.clone()));
                let lacking: Vec<&String> =
                    need.versions.iter().filter(|(v, weak)| !weak && !defined.contains(v)).map(|(v, _)| v).collect();
                if !lacking.is_empty() {
                    let g = r.gaps.entry((container, need.file.clone(), shown)).or_insert_with(|| Gap {
                        lacking: BTreeSet::new(),
                        files: Vec::new(),
                        defined: defined.to_vec(),
                    });
                    g.lacking.extend(lacking.into_iter().cloned());
                    g.files.push(i);
                }
            }
        }
        r
    }
}

/// LUCID-APP-002 and LUCID-APP-003 for the ELF files `elfs` of application `app` (the `--app`
/// path, for messages) on `host`: a pass for each when all is found, else one failure per
/// missing library and one per library lacking versions.
pub fn check(host: &Host, app: &str, elfs: &[AppElf]) -> Vec<Finding> {
    if elfs.is_empty() {
        let none = format!("{app}: no ELF files, no native code to load");
        return vec![
            finding(NEEDED, &host.name, Status::Pass, none.clone()),
            finding(VERSIONS, &host.name, Status::Pass, none),
        ];
    }
    let machine = host.machine();
    let (loadable, foreign): (Vec<usize>, Vec<usize>) = (0..elfs.len()).partition(|&i| {
        let d = &elfs[i].dynamic;
        machine.is_none_or(|m| d.machine == m && d.wide == elf::wide_machine(m))
    });
    let r = Resolution::of(host, elfs, &loadable);
    let mut out = needed_findings(host, app, elfs, &r, &loadable, &foreign);
    out.extend(version_findings(host, app, elfs, &r));
    out
}

const NEEDED: &str = "LUCID-APP-002";
const VERSIONS: &str = "LUCID-APP-003";

fn needed_findings(
    host: &Host,
    app: &str,
    elfs: &[AppElf],
    r: &Resolution,
    loadable: &[usize],
    foreign: &[usize],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let platform = &host.platform;
    if !foreign.is_empty() {
        let kinds: BTreeSet<String> = foreign.iter().map(|&i| elf::machine_name(elfs[i].dynamic.machine)).collect();
        let kinds = kinds.into_iter().collect::<Vec<_>>().join(", ");
        let mut f = finding(
            NEEDED,
            &host.name,
            Status::Fail,
            format!(
                "{app}: {} ELF file(s) built for {kinds} cannot load on {platform}: {}",
                foreign.len(),
                some_files(elfs, foreign)
            ),
        );
        f.remediation = format!("ship the application's build for {platform} (pip download --platform ...)");
        f.locations = locations(elfs, foreign);
        out.push(f);
    }
    for ((_, soname), m) in &r.missing {
        let why = match &m.uncached {
            Some(path) => format!(
                "is only at /{path}, in an /etc/ld.so.conf directory the loader searches through /etc/ld.so.cache alone, \
                 and the image has no cache"
            ),
            None => format!("is not on the image's loader path ({})", host.search_path_shown()),
        };
        let mut f = finding(
            NEEDED,
            &host.name,
            Status::Fail,
            format!("{app}: {soname}, needed by {}, {why}", some_files(elfs, &m.files)),
        );
        f.remediation = match m.uncached {
            Some(_) => {
                format!("run ldconfig when building the image, or set LD_LIBRARY_PATH to the directory of {soname}")
            }
            None => policy::add_package(host, soname),
        };
        f.locations = locations(elfs, &m.files);
        out.push(f);
    }
    if out.is_empty() {
        let list = |s: &BTreeSet<String>| {
            let v: Vec<&str> = s.iter().map(String::as_str).take(8).collect();
            let more = if s.len() > 8 { format!(", +{}", s.len() - 8) } else { String::new() };
            format!("{}{more}", v.join(", "))
        };
        let bundled = if r.bundled.is_empty() {
            String::new()
        } else {
            format!("; {} bundled ({})", r.bundled.len(), list(&r.bundled))
        };
        out.push(finding(
            NEEDED,
            &host.name,
            Status::Pass,
            format!(
                "{app}: {} ELF file(s), every needed library found: {} from the image ({}){bundled}",
                loadable.len(),
                r.from_image.len(),
                list(&r.from_image)
            ),
        ));
    }
    out
}

fn version_findings(host: &Host, app: &str, elfs: &[AppElf], r: &Resolution) -> Vec<Finding> {
    let mut out = Vec::new();
    for ((_, soname, provider), g) in &r.gaps {
        let lacking: Vec<&str> = g.lacking.iter().map(String::as_str).collect();
        let families: BTreeSet<&str> = lacking.iter().map(|v| version_key(v).0).collect();
        let has: Vec<String> = newest(g.defined.iter().map(String::as_str))
            .into_iter()
            .filter(|v| families.contains(version_key(v).0))
            .collect();
        let has = if has.is_empty() { "none of them".to_string() } else { format!("up to {}", has.join(", ")) };
        let mut f = finding(
            VERSIONS,
            &host.name,
            Status::Fail,
            format!(
                "{app}: {} need(s) {} from {soname}; {provider} defines {has}",
                some_files(elfs, &g.files),
                lacking.join(", ")
            ),
        );
        let package = policy::package_for(soname, host.codename().as_deref()).unwrap_or("the library's package");
        f.remediation = format!(
            "use a build made for an older system (a lower manylinux tag: the image has glibc {}), or a base image \
             with a newer {package}",
            host.glibc().map_or("?".into(), |(a, b)| format!("{a}.{b}"))
        );
        f.locations = locations(elfs, &g.files);
        out.push(f);
    }
    if out.is_empty() {
        let newest_needed = newest(r.needed_versions.iter().map(String::as_str));
        let newest_needed = if newest_needed.is_empty() { "none".to_string() } else { newest_needed.join(", ") };
        out.push(finding(
            VERSIONS,
            &host.name,
            Status::Pass,
            format!(
                "{app}: every symbol version needed is defined ({} distinct; newest per family: {newest_needed})",
                r.needed_versions.len()
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::host::testing::{host, image};
    use super::*;
    use crate::formats::elf::VersionNeed;

    fn elf(rel: &str, machine: u16, soname: Option<&str>, needed: &[&str]) -> AppElf {
        let dynamic = Dynamic {
            machine,
            wide: true,
            soname: soname.map(String::from),
            needed: needed.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        AppElf { container: "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl".into(), rel: rel.into(), dynamic }
    }

    #[test]
    fn found_bundled_missing_and_versions() {
        let (fs, libs) = image(&[], "lib/x86_64-linux-gnu/libutil.so.1");
        let h = host(&fs, &libs, "amd64", &[]);
        let mut ext = elf("pkg/_ext.so", 62, None, &["libbundled-abc.so.1", "libutil.so.1", "libdep.so.3"]);
        ext.dynamic.rpath = vec!["$ORIGIN/../pkg.libs".into(), "$ORIGIN/../../../../escapes".into()];
        ext.dynamic.verneed = vec![VersionNeed {
            file: "libutil.so.1".into(),
            versions: vec![("GLIBC_2.2.5".into(), false), ("GLIBC_2.99".into(), false), ("GLIBC_3.0".into(), true)],
        }];
        let mut bundled = elf("pkg.libs/libbundled-abc.so.1", 62, Some("libbundled-abc.so.1"), &[]);
        bundled.dynamic.verdef = vec!["BUNDLED_1.0".into()];
        // Found through $ORIGIN in the needing file's RUNPATH, not through a .libs folder.
        let mut dep = elf("pkg/sub/libdep.so.3", 62, Some("libdep.so.3"), &["libutil.so.1"]);
        dep.dynamic.runpath = vec!["${ORIGIN}".into()];
        ext.dynamic.runpath = vec!["$ORIGIN/sub".into()];
        let mut elfs = vec![ext.clone(), bundled.clone(), dep.clone()];
        let f = check(&h, "app", &elfs);
        let (needed, versions) = (&f[0], &f[1]);
        assert_eq!((needed.id.as_str(), needed.status), ("LUCID-APP-002", Status::Pass), "{f:?}");
        assert!(needed.message.contains("1 from the image (libutil.so.1); 2 bundled"), "{}", needed.message);
        // The weak GLIBC_3.0 is not enforced; GLIBC_2.99 is missing.
        assert_eq!((versions.id.as_str(), versions.status), ("LUCID-APP-003", Status::Fail), "{f:?}");
        assert!(versions.message.contains("need(s) GLIBC_2.99 from libutil.so.1"), "{}", versions.message);
        assert!(versions.message.contains("defines up to GLIBC_2.2.5"), "{}", versions.message);
        assert_eq!(versions.locations[0].path, "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl!/pkg/_ext.so");

        // A library nobody provides is named with its fix; an ELF file for another machine fails.
        elfs[0].dynamic.needed.push("libnope.so.7".into());
        elfs.push(elf("pkg/arm.so", 183, None, &[]));
        let f = check(&h, "app", &elfs);
        let fails: Vec<&Finding> = f.iter().filter(|x| x.status == Status::Fail && x.id == "LUCID-APP-002").collect();
        assert_eq!(fails.len(), 2, "{f:?}");
        assert!(fails[0].message.contains("built for aarch64 cannot load on linux/amd64"), "{}", fails[0].message);
        assert!(fails[1].message.contains("libnope.so.7, needed by pkg/_ext.so (in pkg-1.0"), "{}", fails[1].message);
        assert!(fails[1].remediation.contains("add the package that ships libnope.so.7"), "{}", fails[1].remediation);
    }

    #[test]
    fn versions_order_by_number() {
        assert_eq!(version_key("GLIBCXX_3.4.30"), ("GLIBCXX", vec![3, 4, 30]));
        assert_eq!(version_key("GLIBC_PRIVATE"), ("GLIBC_PRIVATE", vec![]));
        let n = newest(["GLIBC_2.9", "GLIBC_2.17", "GLIBCXX_3.4.9", "GLIBCXX_3.4.30", "CXXABI_1.3.13"].into_iter());
        assert_eq!(n, ["CXXABI_1.3.13", "GLIBC_2.17", "GLIBCXX_3.4.30"]);
    }
}
