//! `lucid report`: sizes, layers, where the bytes are and what to do about them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use lucid::analyze::{self, AppCheck, AppSubject, Options};
use lucid::findings::Finding;
use lucid::report::size::{ReportFormat, render_report};
use lucid::spec::parse_size;
use lucid::verify::app::AppKind;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid report oci:out/lucid-python-base:latest
  lucid report docker-archive:out/lucid-python-base.tar docker-daemon:lucid-python-build:latest --format markdown
  lucid report oci:out/lucid-python-base --format html -o report.html
  lucid report docker-daemon:myservice:latest --format json | jq '.[0].recommendations'
  lucid report oci:out/lucid-java-base --app build/libs/   # Java modules the service's jars do not use
  lucid report oci:out/lucid-python-base --app wheels/   # do they fit (verify --app's checks)

Exit codes: 0 every image within its budget and every --app fits; 1 some image over budget or some
--app finding failed; 2 an image or an --app could not be read; 3 usage or configuration (an --app
PATH that is no application, or a Java --app on a machine without a JDK).
Package bytes come from the file lists the image carries (status.d/<pkg>.md5sums); for images that
carry none, from the .deb files of --lock (default: the spec's lock) in the download cache.")]
pub struct Args {
    /// Images: oci:DIR[:TAG], docker-archive:FILE, docker-daemon:NAME:TAG, docker://HOST/REPO:TAG.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    #[arg(long, value_parser = super::choice::<ReportFormat>(), default_value = "text")]
    pub format: ReportFormat,
    /// Write the report here (atomically) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Size budget (uncompressed file content), e.g. 100MB; overrides the spec's.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// An application (repeatable). A jar, a war or a folder of jars, with the nested jars of fat
    /// jars and wars: `jdeps` (from a JDK 17 on this machine) says which modules they need; the
    /// report names the runtime's modules they do not use (with the bytes they cost), except those
    /// kept for what jdeps cannot see (docs/java-modules.md), and those they need but the runtime
    /// lacks. A wheel, a directory of wheels or a site-packages: the findings of `lucid verify
    /// --app` (tags, libraries, symbol versions); a Java application gets those findings too.
    #[arg(long, value_name = "PATH")]
    pub app: Vec<PathBuf>,
    #[command(flatten)]
    pub image: ImageArgs,
}

pub fn run(args: Args) -> Result<i32> {
    let mut opts: Options = args.image.options()?;
    opts.max_size = args.max_size;
    let mut jars = Vec::new();
    let mut app_checks = Vec::new();
    for path in &args.app {
        match lucid::verify::app::kind(path) {
            Ok(AppKind::Java) => {
                jars.push(path.clone());
                app_checks.push(path.clone());
            }
            Ok(AppKind::Python) => app_checks.push(path.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    if !jars.is_empty() {
        opts.app = Some(analyze::jdeps::AppModules::of(&jars)?);
    }
    // `verify --app`'s checks, run on each image from the analysis's own pass over its layers.
    let mut check = |s: &AppSubject<'_>| -> Result<Vec<Finding>> {
        let host = lucid::verify::app::Host::new(s.name.clone(), s.image, s.fs, s.libs);
        let mut out = Vec::new();
        for path in &app_checks {
            out.extend(lucid::verify::app::check(&host, path)?);
        }
        Ok(out)
    };
    let mut app_check: Option<&mut AppCheck<'_>> = (!app_checks.is_empty()).then_some(&mut check);
    // Every readable image is reported; one that cannot be read is said on stderr and sets the
    // exit code, and the others still get their report.
    let mut all = Vec::new();
    let mut unreadable = Vec::new();
    for r in &args.images {
        match analyze::analyze_reference_with(r, &opts, app_check.as_deref_mut()) {
            Ok(a) => all.extend(a),
            Err(e) => {
                super::print_error(&e);
                unreadable.push(super::exit_code(&e));
            }
        }
    }
    if all.is_empty() && !unreadable.is_empty() {
        return Ok(lucid::exit::worst(unreadable));
    }
    emit(&render_report(&all, args.format)?, &args.output)?;
    let over = all.iter().any(|a| a.budget.as_ref().is_some_and(|b| !b.within));
    let unfit = all.iter().flat_map(|a| &a.app_findings).any(|f| f.fails_at(lucid::findings::Severity::Error));
    let found = if over || unfit { lucid::exit::FINDINGS } else { lucid::exit::PASSED };
    Ok(lucid::exit::worst(unreadable.into_iter().chain([found])))
}

// What `lucid diff` and `lucid sbom` share with `lucid report`: how images are found and read,
// and how output is written.

#[derive(clap::Args, Debug, Clone)]
pub struct ImageArgs {
    /// The spec whose budgets apply (default: infrastructure/containers/base/build-args.yml if present).
    #[arg(short = 'f', long = "file", value_name = "build-args.yml")]
    pub file: Option<PathBuf>,
    /// A lucid lock whose .deb files list package files for images that list none (default: the spec's lock).
    #[arg(long, value_name = "build-args.lock")]
    pub lock: Option<PathBuf>,
    #[command(flatten)]
    pub registry: super::RegistryArgs,
}

impl ImageArgs {
    pub fn options(&self) -> Result<Options> {
        let spec = super::optional_spec(&self.file)?;
        let lock = self.lock.clone().or_else(|| spec.as_ref().map(|s| s.lock_path())).filter(|p| p.exists());
        let package_files = lock.map(|path| Arc::new(LockedDebs(path)) as Arc<dyn lucid::analyze::PackageFiles>);
        let mut opts = Options { spec, package_files, ..Options::default() };
        opts.source.registry = self.registry.auth();
        Ok(opts)
    }
}

/// Package file lists from the `.deb` files a lock pins, in the download cache; read only when an
/// image keeps no lists of its own.
#[derive(Debug)]
struct LockedDebs(PathBuf);

impl lucid::analyze::PackageFiles for LockedDebs {
    fn files(&self, packages: &[(String, String, String)]) -> Result<BTreeMap<String, Vec<String>>> {
        let Some(lock) = lucid::lock::Lock::read(&self.0)? else { return Ok(BTreeMap::new()) };
        lucid::lock::package_files(&lock, &lucid::fetch::Cache::from_env()?, packages)
    }
}

/// Writes `text` to `output` atomically, or to stdout.
pub fn emit(text: &str, output: &Option<PathBuf>) -> Result<()> {
    match output {
        Some(path) => lucid::files::write_atomic(path, text),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
