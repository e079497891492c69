//! The build spec (`build-args.yml`): everything a user tunes, in one declarative file.
//!
//! Parsing is strict (unknown keys are errors, so a typo never silently does nothing) and every
//! error names the file, the line and the key. [`Spec::load`] returns a validated spec whose
//! images are already merged with the images they extend and the global settings they inherit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use crate::platform::Platform;
/// Sizes live in the foundation module [`crate::units`]; re-exported where budgets are parsed.
pub use crate::units::{format_size, parse_size};

/// Which half of a multi-stage build an image serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Stage {
    /// Has a shell, a package manager or a compiler: for `FROM ... AS build-stage`.
    #[serde(rename = "build-stage")]
    Build,
    /// Distroless: no shell, no package manager, no compiler.
    #[serde(rename = "runtime-stage")]
    Runtime,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Build => "build-stage",
            Stage::Runtime => "runtime-stage",
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Stage> {
        match s {
            "build-stage" => Ok(Stage::Build),
            "runtime-stage" => Ok(Stage::Runtime),
            _ => bail!("unknown stage {s:?}: expected build-stage or runtime-stage"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    version: Spanned<u32>,
    debian: RawDebian,
    #[serde(default)]
    platforms: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    user: User,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    prune: Prune,
    #[serde(default)]
    trust: Vec<Spanned<String>>,
    images: BTreeMap<String, Spanned<RawImage>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDebian {
    suites: Vec<String>,
    keyring: PathBuf,
    #[serde(default)]
    signers: Vec<Spanned<String>>,
    #[serde(default)]
    mirror: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// The account images run as. Root (0) and nobody (65534) are always made as well.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// Paths dropped from an image: glob patterns relative to the root (`usr/share/doc/**`), with
/// `keep` patterns that win over them (`usr/share/doc/*/copyright`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Prune {
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub keep: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    #[serde(default)]
    extends: Option<Spanned<String>>,
    stage: Stage,
    #[serde(default)]
    budget: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    python: Option<Python>,
    #[serde(default)]
    java: Option<Java>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    prune: Prune,
}

/// Python settings of an image.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Python {
    /// Hash-pinned requirements file, relative to the spec's directory.
    #[serde(default)]
    pub requirements: Option<PathBuf>,
    /// Where the requirements are installed (on `sys.path` through a `.pth` file).
    #[serde(default = "default_site_packages")]
    pub site_packages: String,
    /// Precompile every `.py` to `.pyc` (deterministic, unchecked-hash).
    #[serde(default = "default_true")]
    pub compile: bool,
    /// Sources left uncompiled (patterns like prune's): rarely imported modules whose byte code
    /// would cost more bytes than the start-up time it saves.
    #[serde(default)]
    pub compile_skip: Vec<String>,
}

/// Java settings of an image: where its Java comes from and what the builder makes around it
/// (the trust store, `/usr/bin` links, `JAVA_HOME`, a class-data-sharing archive).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Java {
    /// The Debian JDK package (`openjdk-17-jdk-headless`): its `jlink` and jmods make a `jlink`
    /// runtime; with `runtime: jdk` it is installed as it is.
    pub jdk: String,
    /// How the image gets its Java.
    #[serde(default)]
    pub runtime: JavaRuntime,
    /// Modules linked into a `jlink` runtime (their dependencies come along). Defaults to
    /// [`DEFAULT_JAVA_MODULES`]; see docs/java-modules.md.
    #[serde(default)]
    pub modules: Option<Vec<String>>,
    /// Dump a class-data-sharing archive (`lib/server/classes.jsa`) with the image's own JVM:
    /// about 11 MB for a faster start-up.
    #[serde(default = "default_true")]
    pub cds: bool,
    /// Where a `jlink` runtime goes (`JAVA_HOME`); a `jdk` runtime stays where Debian puts it.
    #[serde(default)]
    pub home: Option<String>,
}

/// Where an image's Java comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum JavaRuntime {
    /// A runtime made by `jlink` from the JDK's jmods. The JDK is a build tool (locked as
    /// `tools`), not image content: no javac, no jshell, no jmods in the image.
    #[default]
    #[serde(rename = "jlink")]
    Jlink,
    /// The JDK package and its dependencies, installed as Debian ships them (javac, jar, jlink):
    /// for build-stage images.
    #[serde(rename = "jdk")]
    Jdk,
}

impl JavaRuntime {
    pub fn as_str(self) -> &'static str {
        match self {
            JavaRuntime::Jlink => "jlink",
            JavaRuntime::Jdk => "jdk",
        }
    }
}

/// The server module set linked when the spec names none: what services and their common
/// frameworks load at start-up, `java.desktop` included for `java.beans` (Spring, Tomcat,
/// log4j2), without the locale data, PKCS#11 and remote JMX. docs/java-modules.md
/// says why each is in, and what is left out.
pub const DEFAULT_JAVA_MODULES: &[&str] = &[
    "java.base",
    "java.compiler",
    "java.desktop",
    "java.instrument",
    "java.logging",
    "java.management",
    "java.naming",
    "java.net.http",
    "java.prefs",
    "java.rmi",
    "java.scripting",
    "java.security.jgss",
    "java.security.sasl",
    "java.sql",
    "java.xml",
    "jdk.crypto.ec",
    "jdk.httpserver",
    "jdk.jfr",
    "jdk.management",
    "jdk.naming.dns",
    "jdk.net",
    "jdk.security.auth",
    "jdk.unsupported",
    "jdk.zipfs",
];

/// Where a `jlink` runtime goes when the spec does not say.
pub const DEFAULT_JAVA_HOME: &str = "/usr/lib/jvm/java-17-lucid";

impl Java {
    /// The modules to link: the spec's, or the default server set.
    pub fn modules(&self) -> Vec<String> {
        match &self.modules {
            Some(m) => m.clone(),
            None => DEFAULT_JAVA_MODULES.iter().map(|m| m.to_string()).collect(),
        }
    }

    /// `JAVA_HOME` of a `jlink` runtime.
    pub fn jlink_home(&self) -> &str {
        self.home.as_deref().unwrap_or(DEFAULT_JAVA_HOME)
    }

    /// Checks what serde cannot: module names, the home path, keys that only one runtime reads.
    fn validate(&self, image: &str) -> std::result::Result<(), String> {
        let key = |k: &str| format!("images.{image}.java.{k}");
        if self.jdk.trim().is_empty() || self.jdk.contains([' ', '(', '=']) {
            return Err(format!("{}: {:?} is not a Debian package name", key("jdk"), self.jdk));
        }
        match self.runtime {
            JavaRuntime::Jlink => {
                let modules = self.modules();
                if !modules.iter().any(|m| m == "java.base") {
                    return Err(format!("{}: must include java.base", key("modules")));
                }
                if let Some(bad) = modules.iter().find(|m| {
                    m.is_empty()
                        || !m.split('.').all(|p| {
                            p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        })
                }) {
                    return Err(format!("{}: {bad:?} is not a module name", key("modules")));
                }
                let home = self.jlink_home();
                if !home.starts_with('/')
                    || home.split('/').any(|p| p == ".." || p == ".")
                    || home.trim_matches('/').is_empty()
                {
                    return Err(format!("{}: {home:?} must be an absolute path without . or ..", key("home")));
                }
            }
            JavaRuntime::Jdk => {
                if self.modules.is_some() {
                    return Err(format!("{}: only a `runtime: jlink` image links modules", key("modules")));
                }
                if self.home.is_some() {
                    return Err(format!("{}: a `runtime: jdk` image keeps Debian's JAVA_HOME", key("home")));
                }
            }
        }
        Ok(())
    }
}

/// A fingerprint as written in a spec (`B8B8 0B5B ...`, any case) in the form lucid compares:
/// upper-case hex without spaces.
pub fn canonical_fingerprint(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase()
}

fn default_site_packages() -> String {
    "/usr/local/lib/python3.11/site-packages".to_string()
}

fn default_true() -> bool {
    true
}

/// One image, with everything it inherits already merged in.
#[derive(Clone, Debug)]
pub struct Image {
    pub name: String,
    pub extends: Option<String>,
    pub stage: Stage,
    pub budget: Option<u64>,
    pub description: Option<String>,
    /// The image's own packages (not those of the image it extends).
    pub packages: Vec<String>,
    /// Global excludes plus the image's own.
    pub exclude: Vec<String>,
    pub python: Option<Python>,
    pub java: Option<Java>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    /// Global prune rules plus those of every image up the `extends` chain plus the image's own.
    pub prune: Prune,
}

/// A loaded, validated spec.
#[derive(Clone, Debug)]
pub struct Spec {
    pub path: PathBuf,
    pub suites: Vec<String>,
    pub keyring: PathBuf,
    /// Fingerprints (upper-case hex, no spaces) of the OpenPGP certificates allowed to sign the
    /// archive's Release files (`debian.signers`): the keyring must hold at least one of them, and
    /// no other key in it counts. Empty: every key of the keyring counts.
    pub signers: Vec<String>,
    pub mirror: Option<String>,
    pub platforms: Vec<Platform>,
    pub tags: Vec<String>,
    pub user: User,
    /// The platform team's own CA certificates (PEM files, relative to the spec's directory):
    /// every image trusts them beside Debian's (the system bundle and the Java trust store).
    pub trust: Vec<PathBuf>,
    /// Images in dependency order: an image comes after the image it extends.
    pub images: Vec<Image>,
}

/// "file:line:col" for messages.
fn at(path: &Path, loc: serde_saphyr::Location) -> String {
    format!("{}:{}:{}", path.display(), loc.line(), loc.column())
}

impl Spec {
    /// Reads and validates the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the spec {}", path.display()))?;
        Spec::parse(&text, path)
    }

    /// Parses spec text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Spec> {
        let raw: RawSpec = serde_saphyr::from_str(text).map_err(|e| yaml_error(text, path, &e))?;
        if raw.version.value != 1 {
            bail!(
                "{}: version: unsupported spec version {} (this lucid reads version 1)",
                at(path, raw.version.referenced),
                raw.version.value
            );
        }
        if raw.debian.suites.is_empty() {
            bail!("{}: debian.suites: at least one suite is needed", path.display());
        }
        let mut platforms = Vec::new();
        for p in &raw.platforms {
            platforms.push(
                Platform::parse(&p.value).map_err(|e| anyhow::anyhow!("{}: platforms: {e}", at(path, p.referenced)))?,
            );
        }
        if platforms.is_empty() {
            platforms.push(Platform::host());
        }
        if raw.images.is_empty() {
            bail!("{}: images: the spec defines no image", path.display());
        }
        let order = dependency_order(&raw.images, path)?;
        let mut images: Vec<Image> = Vec::new();
        for name in order {
            let spanned = &raw.images[&name];
            let raw_img = &spanned.value;
            let parent =
                raw_img.extends.as_ref().map(|e| images.iter().find(|i| i.name == e.value).expect("ordered").clone());
            let budget = match &raw_img.budget {
                Some(b) => Some(
                    parse_size(&b.value)
                        .map_err(|e| anyhow::anyhow!("{}: images.{name}.budget: {e}", at(path, b.referenced)))?,
                ),
                None => None,
            };
            let mut exclude = raw.debian.exclude.clone();
            let mut env = raw.env.clone();
            let mut labels = raw.labels.clone();
            let mut prune = raw.prune.clone();
            let mut python = None;
            let mut java = None;
            let mut cmd = Vec::new();
            let mut entrypoint = Vec::new();
            if let Some(p) = &parent {
                exclude = p.exclude.clone();
                env = p.env.clone();
                labels = p.labels.clone();
                prune = p.prune.clone();
                python = p.python.clone();
                java = p.java.clone();
                cmd = p.cmd.clone();
                entrypoint = p.entrypoint.clone();
            }
            extend_unique(&mut exclude, &raw_img.exclude);
            env.extend(raw_img.env.clone());
            labels.extend(raw_img.labels.clone());
            extend_unique(&mut prune.remove, &raw_img.prune.remove);
            extend_unique(&mut prune.keep, &raw_img.prune.keep);
            if raw_img.python.is_some() {
                python = raw_img.python.clone();
            }
            if raw_img.java.is_some() {
                java = raw_img.java.clone();
            }
            if let Some(j) = &java {
                j.validate(&name).map_err(|e| anyhow::anyhow!("{}: {e}", at(path, spanned.referenced)))?;
            }
            if let Some(c) = &raw_img.cmd {
                cmd = c.clone();
            }
            if let Some(e) = &raw_img.entrypoint {
                entrypoint = e.clone();
            }
            for pat in prune.remove.iter().chain(&prune.keep) {
                globset::Glob::new(pat).map_err(|e| {
                    anyhow::anyhow!("{}: images.{name}.prune: bad pattern {pat:?}: {e}", at(path, spanned.referenced))
                })?;
            }
            if let Some(py) = &python {
                for pat in &py.compile_skip {
                    globset::Glob::new(pat).map_err(|e| {
                        anyhow::anyhow!(
                            "{}: images.{name}.python.compile_skip: bad pattern {pat:?}: {e}",
                            at(path, spanned.referenced)
                        )
                    })?;
                }
            }
            if let Some(py) = &python
                && !py.site_packages.starts_with('/')
            {
                bail!("{}: images.{name}.python.site_packages: must be an absolute path", at(path, spanned.referenced));
            }
            // A `runtime: jdk` image installs its JDK package: it is one of the image's packages.
            let mut packages = raw_img.packages.clone();
            if let Some(j) = raw_img.java.as_ref().filter(|j| j.runtime == JavaRuntime::Jdk)
                && !packages.contains(&j.jdk)
            {
                packages.push(j.jdk.clone());
            }
            if packages.is_empty() && parent.is_none() {
                bail!(
                    "{}: images.{name}.packages: an image that extends nothing needs packages",
                    at(path, spanned.referenced)
                );
            }
            images.push(Image {
                name: name.clone(),
                extends: parent.map(|p| p.name),
                stage: raw_img.stage,
                budget,
                description: raw_img.description.clone(),
                packages,
                exclude,
                python,
                java,
                env,
                labels,
                cmd,
                entrypoint,
                prune,
            });
        }
        let user = raw.user;
        if user.uid == 0 || user.gid == 0 {
            bail!("{}: user: the image user must not be root (uid/gid 0)", path.display());
        }
        if !user.home.starts_with('/') {
            bail!("{}: user.home: must be an absolute path", path.display());
        }
        // It becomes a JVM option of jlink runtimes (-Duser.home=...): one word, nothing to split.
        if user.home.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'' || c == '\\') {
            bail!("{}: user.home: {:?} must not hold white space, quotes or backslashes", path.display(), user.home);
        }
        let mut trust = Vec::new();
        for t in &raw.trust {
            if t.value.is_empty() || Path::new(&t.value).is_absolute() || t.value.split('/').any(|c| c == "..") {
                bail!(
                    "{}: trust: {:?} must be a relative path inside the spec's directory",
                    at(path, t.referenced),
                    t.value
                );
            }
            trust.push(PathBuf::from(&t.value));
        }
        let mut signers = Vec::new();
        for s in &raw.debian.signers {
            let fpr = canonical_fingerprint(&s.value);
            if !matches!(fpr.len(), 40 | 64) || !fpr.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "{}: debian.signers: {:?} is not an OpenPGP fingerprint (40 or 64 hex digits, spaces allowed)",
                    at(path, s.referenced),
                    s.value
                );
            }
            signers.push(fpr);
        }
        let tags = if raw.tags.is_empty() { vec!["latest".to_string()] } else { raw.tags };
        Ok(Spec {
            path: path.to_path_buf(),
            suites: raw.debian.suites,
            keyring: raw.debian.keyring,
            signers,
            mirror: raw.debian.mirror,
            platforms,
            tags,
            user,
            trust,
            images,
        })
    }

    /// The directory holding the spec: relative paths in it are relative to this.
    pub fn dir(&self) -> &Path {
        self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
    }

    /// Where the lock file of this spec lives: beside it, `build-args.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    pub fn image(&self, name: &str) -> Result<&Image> {
        self.images.iter().find(|i| i.name == name).with_context(|| {
            let names: Vec<&str> = self.images.iter().map(|i| i.name.as_str()).collect();
            format!("no image {name:?} in {} (it defines: {})", self.path.display(), names.join(", "))
        })
    }

    /// The chain from the root image down to `name` (inclusive).
    pub fn chain(&self, name: &str) -> Result<Vec<&Image>> {
        let mut out = vec![self.image(name)?];
        while let Some(parent) = out.last().and_then(|i| i.extends.clone()) {
            out.push(self.image(&parent)?);
        }
        out.reverse();
        Ok(out)
    }

    /// The Java settings of `img` when it links its own runtime: a `jlink` runtime that its
    /// parent (if any) does not already have with the same settings. Resolution locks the JDK's
    /// closure for such an image, and assembly links from it.
    pub fn makes_jlink_runtime<'a>(&self, img: &'a Image) -> Option<&'a Java> {
        let java = img.java.as_ref().filter(|j| j.runtime == JavaRuntime::Jlink)?;
        let parent = img.extends.as_ref().and_then(|p| self.image(p).ok());
        if parent.is_some_and(|p| p.java.as_ref() == Some(java)) { None } else { Some(java) }
    }

    /// Tags with `{date}` expanded (YYYYMMDD, UTC, from `epoch`).
    pub fn expanded_tags(&self, epoch: i64) -> Vec<String> {
        let date = time::OffsetDateTime::from_unix_timestamp(epoch)
            .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
            .unwrap_or_else(|_| "19700101".into());
        let mut out: Vec<String> = Vec::new();
        for t in &self.tags {
            let t = t.replace("{date}", &date);
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}

/// A YAML or schema error as `file:line:col: message (in `the line`)`: the parser's own message
/// repeats the position and says nothing of the key, which the quoted line shows.
fn yaml_error(text: &str, path: &Path, e: &serde_saphyr::Error) -> anyhow::Error {
    let full = e.to_string();
    let mut msg = full.lines().next().unwrap_or(&full).trim();
    msg = msg.strip_prefix("error: ").unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
    {
        msg = after;
    }
    match e.location() {
        Some(l) if l.line() > 0 => {
            let line = text.lines().nth(l.line() as usize - 1).unwrap_or("").trim();
            anyhow::anyhow!("{}: {msg} (in `{line}`)", at(path, l))
        }
        _ => anyhow::anyhow!("{}: {msg}", path.display()),
    }
}

fn extend_unique(into: &mut Vec<String>, from: &[String]) {
    for v in from {
        if !into.contains(v) {
            into.push(v.clone());
        }
    }
}

/// Orders images so each comes after the one it extends; unknown parents and cycles are errors
/// naming the line of the offending `extends`.
fn dependency_order(images: &BTreeMap<String, Spanned<RawImage>>, path: &Path) -> Result<Vec<String>> {
    let mut order: Vec<String> = Vec::new();
    for name in images.keys() {
        let mut chain: Vec<&str> = Vec::new();
        let mut cur = name.as_str();
        loop {
            if order.iter().any(|o| o == cur) {
                break;
            }
            if chain.contains(&cur) {
                bail!("{}: images.{name}.extends: cycle: {} -> {cur}", path.display(), chain.join(" -> "));
            }
            chain.push(cur);
            match &images[cur].value.extends {
                None => break,
                Some(p) => {
                    if !images.contains_key(&p.value) {
                        bail!("{}: images.{cur}.extends: no image named {:?}", at(path, p.referenced), p.value);
                    }
                    cur = &p.value;
                }
            }
        }
        for n in chain.into_iter().rev() {
            if !order.iter().any(|o| o == n) {
                order.push(n.to_string());
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version: 1
debian:
  suites: [bookworm]
  keyring: /usr/share/keyrings/debian-archive-keyring.gpg
  exclude: [dpkg]
platforms: [linux/amd64]
tags: [latest, "{date}"]
user: {name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}
env: {LANG: C.UTF-8}
prune:
  remove: ["usr/share/doc/**"]
  keep: ["usr/share/doc/*/copyright"]
images:
  b:
    extends: a
    stage: build-stage
    packages: [dash]
  a:
    stage: runtime-stage
    budget: 100MB
    packages: [python3.11-minimal]
    exclude: [perl-base]
    python: {requirements: requirements.txt}
    cmd: [python3]
"#;

    #[test]
    fn loads_and_inherits() {
        let s = Spec::parse(GOOD, Path::new("x/build-args.yml")).unwrap();
        let names: Vec<_> = s.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let b = s.image("b").unwrap();
        assert_eq!(b.exclude, ["dpkg", "perl-base"]);
        assert_eq!(b.cmd, ["python3"]);
        assert_eq!(b.budget, None);
        assert_eq!(s.image("a").unwrap().budget, Some(100_000_000));
        assert_eq!(b.python.as_ref().unwrap().site_packages, "/usr/local/lib/python3.11/site-packages");
        assert_eq!(s.lock_path(), Path::new("x/build-args.lock"));
        assert_eq!(s.expanded_tags(1_764_201_600), ["latest", "20251127"]);
        assert_eq!(s.chain("b").unwrap().iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    fn err(text: &str) -> String {
        format!("{:#}", Spec::parse(text, Path::new("build-args.yml")).unwrap_err())
    }

    /// The 1-based line of the first occurrence of `needle` in `text`.
    fn line_of(text: &str, needle: &str) -> usize {
        text[..text.find(needle).unwrap()].matches('\n').count() + 1
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let t = GOOD.replace("budget: 100MB", "budget: lots");
        let e = err(&t);
        assert!(
            e.starts_with(&format!("build-args.yml:{}:", line_of(&t, "budget"))) && e.contains("images.a.budget"),
            "{e}"
        );
        let t = GOOD.replace("extends: a", "extends: nope");
        let e = err(&t);
        assert!(e.starts_with(&format!("build-args.yml:{}:", line_of(&t, "extends"))) && e.contains("\"nope\""), "{e}");
        let t = GOOD.replace("stage: build-stage", "stage: build");
        let e = err(&t);
        assert!(e.starts_with(&format!("build-args.yml:{}:", line_of(&t, "stage: build"))), "{e}");
        let e = err(&GOOD.replace("cmd: [python3]", "cmdd: [python3]"));
        assert!(e.starts_with("build-args.yml:") && e.contains("cmdd"), "{e}");
        let t = GOOD.replace("platforms: [linux/amd64]", "platforms: [linux/s390x]");
        let e = err(&t);
        assert!(e.starts_with(&format!("build-args.yml:{}:", line_of(&t, "platforms"))) && e.contains("s390x"), "{e}");
        let e = err(&GOOD.replace("extends: a", "extends: b"));
        assert!(e.contains("cycle"), "{e}");
        let e = err("version: 1\n  bad: [");
        assert!(e.starts_with("build-args.yml:"), "{e}");
    }

    #[test]
    fn signer_fingerprints() {
        let keyring = "keyring: /usr/share/keyrings/debian-archive-keyring.gpg\n";
        let pinned = |list: &str| GOOD.replace(keyring, &format!("{keyring}  signers: {list}\n"));
        let s = Spec::parse(&pinned("[\"b8b8 0b5b 623e ab6a d877  5c45 b7c5 d7d6 3509 47f8\"]"), Path::new("b.yml"))
            .unwrap();
        assert_eq!(s.signers, ["B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"]);
        assert!(Spec::parse(GOOD, Path::new("b.yml")).unwrap().signers.is_empty());
        let t = pinned("[B7C5D7D6350947F8]");
        let e = err(&t);
        assert!(
            e.starts_with(&format!("build-args.yml:{}:", line_of(&t, "signers")))
                && e.contains("not an OpenPGP fingerprint"),
            "{e}"
        );
    }
}
