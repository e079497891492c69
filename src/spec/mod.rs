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

mod variants;

pub use variants::upstream_version;
use variants::{RawVariant, is_tag, subst, subst_all};

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
    /// One distribution (named `debian`); or several under `distributions:`.
    #[serde(default)]
    debian: Option<RawDebian>,
    #[serde(default)]
    distributions: Vec<Spanned<RawDebian>>,
    #[serde(default)]
    platforms: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    variant_tags: Vec<String>,
    user: User,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    prune: Prune,
    #[serde(default)]
    trust: Vec<Spanned<String>>,
    #[serde(default)]
    layers: Option<Spanned<usize>>,
    images: BTreeMap<String, Spanned<RawImage>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDebian {
    /// `debian13`: how images and tags name it (needed in `distributions:`).
    #[serde(default)]
    name: Option<String>,
    /// The release's number (`13`), for `/etc/os-release`; known for bullseye to forky.
    #[serde(default)]
    version: Option<String>,
    suites: Vec<String>,
    keyring: PathBuf,
    #[serde(default)]
    signers: Vec<Spanned<String>>,
    #[serde(default)]
    mirror: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    merged_usr: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A Debian release the images are made from: its suites, the keys that sign them, and what
/// every image made from it shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Distribution {
    /// `debian12`, `debian13` (`debian` when the spec has a single `debian:` block).
    pub name: String,
    /// `12`, `13`: `/etc/os-release` and `/etc/debian_version` say it.
    pub version: String,
    /// `bookworm`, `trixie`: the first suite's name up to its first `-`.
    pub codename: String,
    pub suites: Vec<String>,
    /// The keyring holding the signer keys; a relative path is relative to the spec's directory,
    /// so keys that ship with the spec work on any host.
    pub keyring: PathBuf,
    /// Fingerprints (upper-case hex, no spaces) of the OpenPGP certificates allowed to sign the
    /// archive's Release files: the keyring must hold at least one of them, and no other key in
    /// it counts. Empty: every key of the keyring counts.
    pub signers: Vec<String>,
    pub mirror: Option<String>,
    /// Packages no image of this distribution installs.
    pub exclude: Vec<String>,
    /// The release ships its files under `/usr` only (Debian 13): the image gets the `/bin`,
    /// `/sbin`, `/lib`, `/lib64` links of a merged-/usr system, and anything a package still puts
    /// under those goes to `/usr`.
    pub merged_usr: bool,
    /// Labels of every image of this distribution (`org.opencontainers.image.base.name`).
    pub labels: BTreeMap<String, String>,
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
    #[serde(default)]
    distribution: Option<Spanned<String>>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    variant: Option<Spanned<String>>,
    #[serde(default)]
    version_of: Option<String>,
    #[serde(default)]
    variants: BTreeMap<String, Spanned<RawVariant>>,
    stage: Stage,
    /// A runtime image's debug twin (`IMAGE:debug`, `IMAGE:VARIANT-debug`): see [`debug_twin`].
    #[serde(default)]
    debug: Option<Spanned<bool>>,
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
    /// The interpreter's `MAJOR.MINOR` (`3.11`): Debian's `pythonX.Y` packages, its
    /// `usr/lib/pythonX.Y`, the byte code's cache tag and the wheels' `cpXY` tag follow from it.
    #[serde(default = "default_python_version")]
    pub version: String,
    /// Hash-pinned requirements file, relative to the spec's directory.
    #[serde(default)]
    pub requirements: Option<PathBuf>,
    /// Where the requirements are installed (on `sys.path` through a `.pth` file); default
    /// `/usr/local/lib/pythonX.Y/site-packages`.
    #[serde(default)]
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

fn default_python_version() -> String {
    "3.11".to_string()
}

impl Python {
    /// `(3, 11)` from `3.11`.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        let (a, b) = self.version.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    }

    /// The interpreter's name: `python3.11`.
    pub fn program(&self) -> String {
        format!("python{}", self.version)
    }
}

fn default_true() -> bool {
    true
}

/// One image, with everything it inherits already merged in.
#[derive(Clone, Debug)]
pub struct Image {
    /// `lucid-python-base`, or `lucid-python-base:3.13-debian13` for a variant: how commands,
    /// the lock and the image's title label name it.
    pub name: String,
    /// The repository its tags go to: the name without the variant.
    pub repository: String,
    /// Its variant tag (`3.13-debian13`): a variant's key, or an image's own `variant:`.
    pub variant: Option<String>,
    /// One of the spec's own images (not a variant): built by `lucid build` with no names and
    /// tagged with `tags:` (`latest`, `{date}`).
    pub default: bool,
    /// The name of its [`Distribution`].
    pub distribution: String,
    /// The package whose upstream version goes into its fully specified tags
    /// (`python3.13-minimal` -> `3.13.5`).
    pub version_of: Option<String>,
    /// Its variables (`python: "3.13"`), already applied to everything below.
    pub vars: BTreeMap<String, String>,
    pub extends: Option<String>,
    pub stage: Stage,
    pub budget: Option<u64>,
    pub description: Option<String>,
    /// The image's own packages (not those of the image it extends).
    pub packages: Vec<String>,
    /// The distribution's excludes plus the image's own (and those up the `extends` chain).
    pub exclude: Vec<String>,
    pub python: Option<Python>,
    pub java: Option<Java>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    /// Global prune rules plus those of every image up the `extends` chain plus the image's own.
    pub prune: Prune,
    /// The debug twin of the image it extends ([`debug_twin`]): its tags end in `debug`, the
    /// builder moves busybox to `/busybox`.
    pub debug: bool,
}

impl Image {
    /// The image's name as a file name (output directories, archives): `:` becomes `-`.
    pub fn file_stem(&self) -> String {
        self.name.replace(':', "-")
    }
}

/// A loaded, validated spec.
#[derive(Clone, Debug)]
pub struct Spec {
    pub path: PathBuf,
    /// The Debian releases images are made from; the first is the default.
    pub distributions: Vec<Distribution>,
    pub platforms: Vec<Platform>,
    /// Tags of the spec's own images (`latest`, `{date}`).
    pub tags: Vec<String>,
    /// Tags of every image that has a variant (`{variant}`, `{version}-{distribution}-{date}`).
    pub variant_tags: Vec<String>,
    pub user: User,
    /// The platform team's own CA certificates (PEM files, relative to the spec's directory):
    /// every image trusts them beside Debian's (the system bundle and the Java trust store).
    pub trust: Vec<PathBuf>,
    /// The most layers an image's Debian packages and the builder's files take (build::layering):
    /// the largest packages get one each, the rest share one. Python's and Java's own layers come
    /// on top.
    pub layers: usize,
    /// Images in dependency order: an image comes after the image it extends.
    pub images: Vec<Image>,
}

/// "file:line:col" for messages.
fn at(path: &Path, loc: serde_saphyr::Location) -> String {
    format!("{}:{}:{}", path.display(), loc.line(), loc.column())
}

/// One image to make from the spec: an image as written, or one of its variants.
struct Def<'a> {
    name: String,
    repository: &'a str,
    raw: &'a Spanned<RawImage>,
    variant: Option<(&'a str, &'a Spanned<RawVariant>)>,
    extends: Option<Spanned<String>>,
}

/// Layers an image's packages take when the spec does not say (build::layering): room for every
/// package of the runtime images in a layer of its own, and the largest of the build images'.
pub const DEFAULT_LAYERS: usize = 24;
/// The fewest layers `layers:` may name: one, for packages and the builder's files together (an
/// image with one system layer, as before layering: every package update changes all of it).
pub const MIN_LAYERS: usize = 1;
/// The most: overlay file systems stack at most about 128 lower directories, and an image has
/// Python's or Java's layers too.
pub const MAX_LAYERS: usize = 64;

/// The placeholders a tag may hold.
const TAG_PLACEHOLDERS: &[&str] = &["{date}", "{variant}", "{version}", "{distribution}"];

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
        let distributions = distributions(&raw, path)?;
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
        let defs = definitions(&raw.images, path)?;
        let order = dependency_order(&defs, path)?;
        let mut images: Vec<Image> = Vec::new();
        for i in order {
            let def = &defs[i];
            let parent =
                def.extends.as_ref().map(|e| images.iter().find(|i| i.name == e.value).expect("ordered").clone());
            images.push(image(&raw, def, parent.as_ref(), &distributions, path)?);
            if let Some(d) = &def.raw.value.debug
                && d.value
            {
                let img = images.last().expect("just pushed");
                if img.stage != Stage::Runtime {
                    bail!(
                        "{}: images.{}.debug: only a runtime-stage image has a debug twin (a build stage has its shell)",
                        at(path, d.referenced),
                        img.name
                    );
                }
                images.push(debug_twin(img));
            }
        }
        let mut stems: BTreeMap<String, &str> = BTreeMap::new();
        for img in &images {
            if let Some(other) = stems.insert(img.file_stem(), &img.name) {
                bail!(
                    "{}: images: {other} and {} would share the output name {}",
                    path.display(),
                    img.name,
                    img.file_stem()
                );
            }
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
        let layers = match &raw.layers {
            None => DEFAULT_LAYERS,
            Some(n) if (MIN_LAYERS..=MAX_LAYERS).contains(&n.value) => n.value,
            Some(n) => bail!(
                "{}: layers: {} is not between {MIN_LAYERS} and {MAX_LAYERS} (1: one layer for every package; \
                 more: one per large package, one for the smaller ones, one for the builder's files)",
                at(path, n.referenced),
                n.value
            ),
        };
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
        let tags = if raw.tags.is_empty() { vec!["latest".to_string()] } else { raw.tags };
        for (key, list) in [("tags", &tags), ("variant_tags", &raw.variant_tags)] {
            for t in list {
                let mut bare = t.clone();
                for p in TAG_PLACEHOLDERS {
                    bare = bare.replace(p, "x");
                }
                if !is_tag(&bare) {
                    bail!(
                        "{}: {key}: {t:?} is not a tag (letters, digits, `_ . -`, and the placeholders {})",
                        path.display(),
                        TAG_PLACEHOLDERS.join(" ")
                    );
                }
                if key == "tags" && (t.contains("{variant}") || t.contains("{version}")) {
                    bail!("{}: tags: {t:?}: {{variant}} and {{version}} belong in variant_tags", path.display());
                }
            }
        }
        if raw.variant_tags.iter().any(|t| t.contains("{version}"))
            && let Some(img) = images.iter().find(|i| i.variant.is_some() && i.version_of.is_none())
        {
            bail!(
                "{}: images.{}: variant_tags use {{version}}, so the image needs `version_of:` (the package whose \
                 version the tag names)",
                path.display(),
                img.name
            );
        }
        let spec = Spec {
            path: path.to_path_buf(),
            distributions,
            platforms,
            tags,
            variant_tags: raw.variant_tags,
            user,
            trust,
            layers,
            images,
        };
        spec.check_tags()?;
        Ok(spec)
    }

    /// No two images of one repository may get the same tag (an image's `latest` and a variant
    /// named `latest`, or `variant_tags` that leave the variant out), and every tag must fit the
    /// registry grammar's 128 characters once its date and a version are filled in.
    fn check_tags(&self) -> Result<()> {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for img in &self.images {
            // {version} differs between images by design; it is left out of the comparison and
            // given a long value for the length check.
            for tag in self.tags_for(img, 0, Some(&"9".repeat(24))) {
                if tag.len() > 128 {
                    bail!(
                        "{}: images.{}: the tag {tag:?} is longer than 128 characters",
                        self.path.display(),
                        img.name
                    );
                }
            }
            for tag in self.tags_for(img, 0, None) {
                if let Some(other) = seen.insert(format!("{}:{tag}", img.repository), &img.name) {
                    bail!(
                        "{}: images {other} and {} would both be tagged {}:{tag}; give `variant_tags` the {{variant}}",
                        self.path.display(),
                        img.name,
                        img.repository
                    );
                }
            }
        }
        Ok(())
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

    /// The tags of `img`: the spec's `tags` for its own images, `variant_tags` for every image
    /// with a variant, with `{date}` (YYYYMMDD, UTC, of `epoch`), `{variant}`, `{distribution}`
    /// and `{version}` (the upstream version of `version_of`'s package, when known) filled in.
    pub fn tags_for(&self, img: &Image, epoch: i64, version: Option<&str>) -> Vec<String> {
        let date = time::OffsetDateTime::from_unix_timestamp(epoch)
            .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
            .unwrap_or_else(|_| "19700101".into());
        let mut wanted: Vec<&String> = Vec::new();
        if img.default {
            wanted.extend(&self.tags);
        }
        if img.variant.is_some() {
            wanted.extend(&self.variant_tags);
        }
        let mut out: Vec<String> = Vec::new();
        for t in wanted {
            if t.contains("{version}") && version.is_none() {
                continue;
            }
            let t = t
                .replace("{date}", &date)
                .replace("{variant}", img.variant.as_deref().unwrap_or(""))
                .replace("{distribution}", &img.distribution)
                .replace("{version}", version.unwrap_or(""));
            let t = match (img.debug, t.as_str()) {
                (false, _) => t,
                (true, "latest") => "debug".to_string(),
                (true, _) => format!("{t}-debug"),
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// The distribution named `name` (every image's is one of the spec's).
    pub fn distribution(&self, name: &str) -> &Distribution {
        self.distributions.iter().find(|d| d.name == name).unwrap_or(&self.distributions[0])
    }

    /// The keyring of `d` as a path: relative ones are relative to the spec's directory.
    pub fn keyring(&self, d: &Distribution) -> PathBuf {
        self.dir().join(&d.keyring)
    }
}

/// The spec's distributions: its `debian:` block, or the entries of `distributions:`.
fn distributions(raw: &RawSpec, path: &Path) -> Result<Vec<Distribution>> {
    let blocks: Vec<(&RawDebian, Option<serde_saphyr::Location>)> = match (&raw.debian, raw.distributions.is_empty()) {
        (Some(d), true) => vec![(d, None)],
        (None, false) => raw.distributions.iter().map(|d| (&d.value, Some(d.referenced))).collect(),
        (Some(_), false) => bail!("{}: give either `debian:` or `distributions:`, not both", path.display()),
        (None, true) => {
            bail!("{}: debian: the spec names no Debian release (`debian:` or `distributions:`)", path.display())
        }
    };
    let several = blocks.len() > 1;
    let mut out: Vec<Distribution> = Vec::new();
    for (d, loc) in blocks {
        let here = || loc.map(|l| at(path, l)).unwrap_or_else(|| path.display().to_string());
        let name = match &d.name {
            Some(n) => n.clone(),
            None if !several && loc.is_none() => "debian".to_string(),
            None => bail!("{}: distributions: every entry needs a `name:` (debian13)", here()),
        };
        if !is_tag(&name) {
            bail!("{}: distributions: {name:?} is not a name (letters, digits, `_ . -`)", here());
        }
        if out.iter().any(|o| o.name == name) {
            bail!("{}: distributions: {name} is defined twice", here());
        }
        if d.suites.is_empty() {
            bail!("{}: debian.suites: at least one suite is needed ({name})", here());
        }
        if let Some(other) = out.iter().find(|o| o.suites.iter().any(|s| d.suites.contains(s))) {
            bail!("{}: distributions: {name} and {} share a suite; each suite belongs to one", here(), other.name);
        }
        let mut signers = Vec::new();
        for s in &d.signers {
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
        let codename = d.suites[0].split('-').next().unwrap_or_default().to_string();
        let known = match codename.as_str() {
            "bullseye" => Some("11"),
            "bookworm" => Some("12"),
            "trixie" => Some("13"),
            "forky" => Some("14"),
            _ => None,
        };
        let Some(version) = d.version.clone().or(known.map(str::to_string)) else {
            bail!("{}: distributions: {name}: give its release number (`version: 15`) for {codename}", here());
        };
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            bail!("{}: distributions: {name}: version {version:?} is not a release number (13, 13.2)", here());
        }
        out.push(Distribution {
            name,
            version,
            codename,
            suites: d.suites.clone(),
            keyring: d.keyring.clone(),
            signers,
            mirror: d.mirror.clone(),
            exclude: d.exclude.clone(),
            merged_usr: d.merged_usr,
            labels: d.labels.clone(),
        });
    }
    Ok(out)
}

/// Every image to make: each image as written, then each of its variants as `IMAGE:VARIANT`. A
/// variant of an image that extends another extends the parent's variant of the same name.
fn definitions<'a>(images: &'a BTreeMap<String, Spanned<RawImage>>, path: &Path) -> Result<Vec<Def<'a>>> {
    let mut defs = Vec::new();
    for (name, raw) in images {
        if !is_tag(name) || name.contains(':') {
            bail!("{}: images: {name:?} is not an image name (letters, digits, `_ . -`)", at(path, raw.referenced));
        }
        if let Some(p) = raw.value.extends.as_ref().filter(|p| p.value.contains(':')) {
            bail!(
                "{}: images.{name}.extends: {:?} names a variant; extend the image ({}), and give {name} the same \
                 variants",
                at(path, p.referenced),
                p.value,
                p.value.split(':').next().unwrap_or_default()
            );
        }
        defs.push(Def { name: name.clone(), repository: name, raw, variant: None, extends: raw.value.extends.clone() });
        for (key, v) in &raw.value.variants {
            let here = at(path, v.referenced);
            if !is_tag(key) {
                bail!("{here}: images.{name}.variants: {key:?} is not a tag (letters, digits, `_ . -`)");
            }
            if raw.value.variant.as_ref().is_some_and(|own| &own.value == key) {
                bail!("{here}: images.{name}.variants.{key}: the image itself is variant {key}");
            }
            let extends = match &raw.value.extends {
                None => None,
                Some(p) => match images.get(&p.value) {
                    Some(parent) if parent.value.variants.contains_key(key) => {
                        Some(Spanned { value: format!("{}:{key}", p.value), ..p.clone() })
                    }
                    Some(_) => bail!(
                        "{here}: images.{name}.variants.{key}: {name} extends {}, which has no variant {key} to extend",
                        p.value
                    ),
                    None => None, // reported by dependency_order with the line of `extends`
                },
            };
            defs.push(Def { name: format!("{name}:{key}"), repository: name, raw, variant: Some((key, v)), extends });
        }
    }
    Ok(defs)
}

/// The package a debug twin adds: a static busybox, which needs nothing else in the image.
pub const DEBUG_PACKAGE: &str = "busybox-static";
/// Where a debug twin's busybox and its applet links are: off the image's own `PATH` entries.
pub const DEBUG_SHELL_DIR: &str = "busybox";

/// The debug twin of runtime image `img`: the same image with one layer on top, Debian's
/// `busybox-static` with the binary and its applet links moved to `/busybox` (appended to `PATH`,
/// so the image's own programs come first), labelled `dev.lucid.debug=true`. Named
/// `REPO:debug` (`REPO:VARIANT-debug` for a variant; the builder adds the label), tagged as `img` with `debug` for `latest`
/// and `-debug` after every other tag, as distroless tags its debug images.
fn debug_twin(img: &Image) -> Image {
    let mut twin = img.clone();
    twin.name = if img.name.contains(':') { format!("{}-debug", img.name) } else { format!("{}:debug", img.name) };
    twin.extends = Some(img.name.clone());
    twin.packages = vec![DEBUG_PACKAGE.to_string()];
    // The parent made the interpreter's and runtime's part; the twin adds only its layer.
    twin.python = None;
    twin.java = None;
    twin.debug = true;
    twin.budget = img.budget.map(|b| b + 3_000_000);
    twin.description = img.description.as_ref().map(|d| format!("{d}; debug: a static busybox shell at /busybox"));
    let path = twin.env.get("PATH").cloned().unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    twin.env.insert("PATH".into(), format!("{path}:/{DEBUG_SHELL_DIR}"));
    twin
}

/// Merges one image from the global settings, its distribution, its parent, the image as
/// written and its variant, then applies its variables.
fn image(
    raw: &RawSpec,
    def: &Def,
    parent: Option<&Image>,
    distributions: &[Distribution],
    path: &Path,
) -> Result<Image> {
    let name = &def.name;
    let r = &def.raw.value;
    let v = def.variant.map(|(_, v)| &v.value);
    let here = at(path, def.variant.map(|(_, v)| v.referenced).unwrap_or(def.raw.referenced));
    let fail = |e: String| anyhow::anyhow!("{here}: images.{name}: {e}");
    let dist_key = v.and_then(|v| v.distribution.as_ref()).or(r.distribution.as_ref());
    let distribution = match (dist_key, parent) {
        (Some(d), _) => match distributions.iter().find(|x| x.name == d.value) {
            Some(x) => x,
            None => bail!(
                "{}: images.{name}.distribution: no distribution {:?} (the spec has {})",
                at(path, d.referenced),
                d.value,
                distributions.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        },
        (None, Some(p)) => distributions.iter().find(|x| x.name == p.distribution).expect("a parent's distribution"),
        (None, None) => &distributions[0],
    };
    if let Some(p) = parent
        && p.distribution != distribution.name
    {
        bail!(
            "{here}: images.{name}: extends {}, which is made from {}, not {}",
            p.name,
            p.distribution,
            distribution.name
        );
    }
    let mut vars = parent.map(|p| p.vars.clone()).unwrap_or_default();
    vars.extend(r.vars.clone());
    if let Some(v) = v {
        vars.extend(v.vars.clone());
    }
    let budget_raw = v.and_then(|v| v.budget.as_ref()).or(r.budget.as_ref());
    let budget = match budget_raw {
        Some(b) => Some(
            parse_size(&b.value)
                .map_err(|e| anyhow::anyhow!("{}: images.{name}.budget: {e}", at(path, b.referenced)))?,
        ),
        None => None,
    };
    let mut exclude = distribution.exclude.clone();
    let mut env = raw.env.clone();
    let mut labels = raw.labels.clone();
    labels.extend(distribution.labels.clone());
    let mut prune = raw.prune.clone();
    let (mut python, mut java, mut cmd, mut entrypoint, mut version_of) = (None, None, Vec::new(), Vec::new(), None);
    if let Some(p) = parent {
        exclude = p.exclude.clone();
        env = p.env.clone();
        labels = p.labels.clone();
        prune = p.prune.clone();
        python = p.python.clone();
        java = p.java.clone();
        cmd = p.cmd.clone();
        entrypoint = p.entrypoint.clone();
        version_of = p.version_of.clone();
    }
    extend_unique(
        &mut exclude,
        &subst_all(v.and_then(|v| v.exclude.as_deref()).unwrap_or(&r.exclude), &vars).map_err(fail)?,
    );
    for (k, val) in r.env.iter().chain(v.map(|v| &v.env).into_iter().flatten()) {
        env.insert(k.clone(), subst(val, &vars).map_err(fail)?);
    }
    for (k, val) in r.labels.iter().chain(v.map(|v| &v.labels).into_iter().flatten()) {
        labels.insert(k.clone(), subst(val, &vars).map_err(fail)?);
    }
    for add in std::iter::once(&r.prune).chain(v.map(|v| &v.prune)) {
        let add = add.subst(&vars).map_err(fail)?;
        extend_unique(&mut prune.remove, &add.remove);
        extend_unique(&mut prune.keep, &add.keep);
    }
    if let Some(py) = v.and_then(|v| v.python.as_ref()).or(r.python.as_ref()) {
        python = Some(py.clone());
    }
    if let Some(j) = v.and_then(|v| v.java.as_ref()).or(r.java.as_ref()) {
        java = Some(j.clone());
    }
    // A parent's settings were written for its own variables; the child's may differ.
    python = python.map(|p| p.subst(&vars)).transpose().map_err(fail)?;
    java = java.map(|j| j.subst(&vars)).transpose().map_err(fail)?;
    if let Some(py) = python.as_mut() {
        if py.major_minor().is_none() {
            bail!("{here}: images.{name}.python.version: {:?} is not MAJOR.MINOR (3.13)", py.version);
        }
        if py.site_packages.is_empty() {
            py.site_packages = format!("/usr/local/lib/python{}/site-packages", py.version);
        }
        if !py.site_packages.starts_with('/') {
            bail!("{here}: images.{name}.python.site_packages: must be an absolute path");
        }
        for pat in &py.compile_skip {
            globset::Glob::new(pat)
                .map_err(|e| anyhow::anyhow!("{here}: images.{name}.python.compile_skip: bad pattern {pat:?}: {e}"))?;
        }
    }
    if let Some(j) = &java {
        j.validate(name).map_err(|e| anyhow::anyhow!("{here}: {e}"))?;
    }
    if let Some(c) = v.and_then(|v| v.cmd.as_ref()).or(r.cmd.as_ref()) {
        cmd = c.clone();
    }
    if let Some(e) = v.and_then(|v| v.entrypoint.as_ref()).or(r.entrypoint.as_ref()) {
        entrypoint = e.clone();
    }
    if let Some(o) = &r.version_of {
        version_of = Some(subst(o, &vars).map_err(fail)?);
    }
    for pat in prune.remove.iter().chain(&prune.keep) {
        globset::Glob::new(pat)
            .map_err(|e| anyhow::anyhow!("{here}: images.{name}.prune: bad pattern {pat:?}: {e}"))?;
    }
    // A `runtime: jdk` image installs its JDK package: it is one of the image's packages.
    let mut packages = subst_all(v.and_then(|v| v.packages.as_deref()).unwrap_or(&r.packages), &vars).map_err(fail)?;
    if let Some(j) = java.as_ref().filter(|j| j.runtime == JavaRuntime::Jdk)
        && (r.java.is_some() || v.is_some_and(|v| v.java.is_some()))
        && !packages.contains(&j.jdk)
    {
        packages.push(j.jdk.clone());
    }
    if packages.is_empty() && parent.is_none() {
        bail!("{here}: images.{name}.packages: an image that extends nothing needs packages");
    }
    let description = v.and_then(|v| v.description.as_ref()).or(r.description.as_ref());
    Ok(Image {
        name: name.clone(),
        repository: def.repository.to_string(),
        // A variant's key; an image's own `variant:`; or, for an image that extends another, its
        // parent's (a build stage is the same interpreter or JDK on the same release).
        variant: def
            .variant
            .map(|(k, _)| k.to_string())
            .or_else(|| r.variant.as_ref().map(|v| v.value.clone()))
            .or_else(|| parent.and_then(|p| p.variant.clone())),
        default: def.variant.is_none(),
        distribution: distribution.name.clone(),
        version_of,
        vars: vars.clone(),
        extends: parent.map(|p| p.name.clone()),
        stage: r.stage,
        budget,
        description: description.map(|d| subst(d, &vars)).transpose().map_err(fail)?,
        packages,
        exclude,
        python,
        java,
        env,
        labels,
        cmd,
        entrypoint,
        prune,
        debug: false,
    })
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

/// Orders images so each comes after the one it extends (indices into `defs`); unknown parents
/// and cycles are errors naming the line of the offending `extends`.
fn dependency_order(defs: &[Def], path: &Path) -> Result<Vec<usize>> {
    let index = |name: &str| defs.iter().position(|d| d.name == name);
    let mut order: Vec<usize> = Vec::new();
    for (i, def) in defs.iter().enumerate() {
        let mut chain: Vec<usize> = Vec::new();
        let mut cur = i;
        loop {
            if order.contains(&cur) {
                break;
            }
            if chain.contains(&cur) {
                let names: Vec<&str> = chain.iter().map(|&c| defs[c].name.as_str()).collect();
                bail!(
                    "{}: images.{}.extends: cycle: {} -> {}",
                    path.display(),
                    def.name,
                    names.join(" -> "),
                    defs[cur].name
                );
            }
            chain.push(cur);
            match &defs[cur].extends {
                None => break,
                Some(p) => match index(&p.value) {
                    Some(next) => cur = next,
                    None => bail!(
                        "{}: images.{}.extends: no image named {:?}",
                        at(path, p.referenced),
                        defs[cur].name,
                        p.value
                    ),
                },
            }
        }
        for n in chain.into_iter().rev() {
            if !order.contains(&n) {
                order.push(n);
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
        assert_eq!(s.tags_for(s.image("a").unwrap(), 1_764_201_600, None), ["latest", "20251127"]);
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
        assert_eq!(s.distributions[0].signers, ["B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"]);
        assert!(Spec::parse(GOOD, Path::new("b.yml")).unwrap().distributions[0].signers.is_empty());
        let t = pinned("[B7C5D7D6350947F8]");
        let e = err(&t);
        assert!(
            e.starts_with(&format!("build-args.yml:{}:", line_of(&t, "signers")))
                && e.contains("not an OpenPGP fingerprint"),
            "{e}"
        );
    }

    const FAMILIES: &str = r#"
version: 1
distributions:
  - name: debian12
    suites: [bookworm]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
    exclude: [dpkg]
  - name: debian13
    suites: [trixie]
    keyring: keys/debian-archive.pgp
    merged_usr: true
    exclude: [dpkg, usr-is-merged]
    labels: {org.opencontainers.image.base.name: "debian:trixie"}
platforms: [linux/amd64]
tags: [latest, "{date}"]
variant_tags: ["{variant}", "{version}-{distribution}-{date}"]
user: {name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}
prune:
  remove: ["usr/lib/python3.*/test/**"]
images:
  py:
    stage: runtime-stage
    budget: 100MB
    variant: 3.11-debian12
    vars: {python: "3.11"}
    version_of: python{python}-minimal
    packages: ["python{python}-minimal", libc6]
    exclude: [libdb5.3]
    prune: {remove: ["usr/lib/python{python}/idlelib/**"]}
    python: {version: "{python}", compile_skip: ["usr/lib/python{python}/lib2to3/**"]}
    variants:
      3.13-debian13:
        distribution: debian13
        vars: {python: "3.13"}
        budget: 55MB
        exclude: [libdb5.3t64]
  py-build:
    extends: py
    stage: build-stage
    packages: ["python{python}-venv"]
    variants:
      3.13-debian13: {}
"#;

    #[test]
    fn variants_share_one_definition() {
        let s = Spec::parse(FAMILIES, Path::new("x/build-args.yml")).unwrap();
        let names: Vec<_> = s.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["py", "py:3.13-debian13", "py-build", "py-build:3.13-debian13"]);
        let new = s.image("py:3.13-debian13").unwrap();
        assert_eq!((new.repository.as_str(), new.distribution.as_str()), ("py", "debian13"));
        assert_eq!(new.packages, ["python3.13-minimal", "libc6"]);
        assert_eq!(new.exclude, ["dpkg", "usr-is-merged", "libdb5.3t64"]);
        assert_eq!(new.budget, Some(55_000_000));
        assert_eq!(new.prune.remove, ["usr/lib/python3.*/test/**", "usr/lib/python3.13/idlelib/**"]);
        let py = new.python.as_ref().unwrap();
        assert_eq!(
            (py.version.as_str(), py.site_packages.as_str()),
            ("3.13", "/usr/local/lib/python3.13/site-packages")
        );
        assert_eq!(py.compile_skip, ["usr/lib/python3.13/lib2to3/**"]);
        assert_eq!(new.labels["org.opencontainers.image.base.name"], "debian:trixie");
        assert_eq!(new.version_of.as_deref(), Some("python3.13-minimal"));
        let build = s.image("py-build:3.13-debian13").unwrap();
        assert_eq!(build.extends.as_deref(), Some("py:3.13-debian13"));
        assert_eq!(s.image("py-build").unwrap().variant.as_deref(), Some("3.11-debian12"), "inherited");
        assert_eq!(build.packages, ["python3.13-venv"]);
        assert_eq!(s.keyring(s.distribution("debian13")), Path::new("x/keys/debian-archive.pgp"));
        assert!(s.distribution("debian13").merged_usr && !s.distribution("debian12").merged_usr);
        let epoch = 1_764_201_600;
        assert_eq!(
            s.tags_for(s.image("py").unwrap(), epoch, Some("3.11.2")),
            ["latest", "20251127", "3.11-debian12", "3.11.2-debian12-20251127"]
        );
        assert_eq!(s.tags_for(new, epoch, Some("3.13.5")), ["3.13-debian13", "3.13.5-debian13-20251127"]);
        assert_eq!(s.image("py").unwrap().file_stem(), "py");
        assert_eq!(build.file_stem(), "py-build-3.13-debian13");
    }

    #[test]
    fn variant_errors_say_what_is_missing() {
        let e = err(&FAMILIES.replace("      3.13-debian13: {}", "      3.12-debian13: {}"));
        assert!(e.contains("py-build extends py, which has no variant 3.12-debian13"), "{e}");
        let e = err(&FAMILIES.replace("distribution: debian13", "distribution: debian14"));
        assert!(e.contains("no distribution \"debian14\"") && e.contains("debian12, debian13"), "{e}");
        let e = err(&FAMILIES.replace("[\"python{python}-venv\"]", "[\"python{pyhton}-venv\"]"));
        assert!(e.contains("{pyhton}") && e.contains("py-build"), "{e}");
        let e = err(&FAMILIES.replace("    version_of: python{python}-minimal\n", ""));
        assert!(e.contains("version_of"), "{e}");
        let e = err(&FAMILIES.replace("  - name: debian13\n    suites", "  - suites"));
        assert!(e.contains("name"), "{e}");
        // A variant tag without the variant: the Debian 13 image would take the seed's dated tag.
        let e = err(&FAMILIES.replace("variant_tags: [\"{variant}\", ", "variant_tags: [\"{date}\", "));
        assert!(e.contains("py and py:3.13-debian13 would both be tagged py:19700101"), "{e}");
        let e = err(&FAMILIES.replace("    extends: py\n", "    extends: \"py:3.13-debian13\"\n"));
        assert!(e.contains("names a variant"), "{e}");
        let e = err(&FAMILIES.replace("    merged_usr: true\n", "    merged_usr: true\n    version: \"13\\nID=x\"\n"));
        assert!(e.contains("not a release number"), "{e}");
    }
}
