//! `lucid verify`: prove images distroless, non-root, within budget and working.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, bail};

use lucid::findings::{self, Severity};
use lucid::report::{self, Format};
use lucid::spec::{Stage, parse_size};
use lucid::verify::{self, Policy, RuntimeMode, catalogue};

use lucid::exit::Usage;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid verify oci:out/lucid-python-base:latest
  lucid verify docker-archive:out/lucid-python-build.tar --config tests/structure/lucid-python-build.yaml
  lucid verify docker-daemon:lucid-python-base:latest --require-runtime
  lucid verify docker://127.0.0.1:5000/lucid/python-base:latest --format sarif -o verify.sarif
  lucid verify docker://127.0.0.1:5000/lucid/python-base:latest --key lucid.pub   # signed (lucid sign)
  lucid verify oci:out/lucid-python-base:latest --dockerfile infrastructure/containers/base/Dockerfile.python-base
  lucid verify oci:out/lucid-python-base:latest --app wheels/ --app app-1.0-py3-none-any.whl
  lucid verify docker-archive:out/lucid-python-base.tar --app site/   # pip install --target site
  lucid verify oci:out/lucid-java-base:latest --app build/libs/      # a service's jars (jdeps of a host JDK)
  lucid verify --list-checks

Exit codes: 0 all checks at or above --fail-on passed; 1 some failed;
2 an image or an --app could not be read; 3 usage or configuration (an --app PATH that is no
application, or a Java --app on a machine without a JDK).
Ignores: --ignore ID, and one ID per line in .lucidignore (or --ignore-file).")]
pub struct Args {
    /// Images: oci:DIR[:TAG], docker-archive:FILE, docker-daemon:NAME:TAG, docker://HOST/REPO:TAG.
    #[arg(value_name = "IMAGE", required_unless_present_any = ["list_checks", "dockerfile"])]
    pub images: Vec<String>,
    /// Also check a Dockerfile's multi-stage structure (the rules of `lucid lint`, one check per
    /// rule, in the same report); repeatable.
    #[arg(long, value_name = "FILE")]
    pub dockerfile: Vec<PathBuf>,
    /// An application that must fit every image, checked statically (repeatable): a wheel, a
    /// directory of wheels, or a site-packages (`pip install --target`): its wheel tags against
    /// the image's CPython, architecture and glibc, and every library and symbol version its ELF
    /// files need against the image's libraries. A jar, a war or a folder of jars (Spring Boot's
    /// BOOT-INF/lib included): the modules jdeps says they need against the runtime's, and their
    /// class file versions against its Java version.
    #[arg(long, value_name = "PATH")]
    pub app: Vec<PathBuf>,
    /// Print every check ID of the tool and exit: verify's checks, lint's Dockerfile rules and
    /// report's recommendations, each with its severity, title, seed action and fix.
    #[arg(long)]
    pub list_checks: bool,
    /// Output format.
    #[arg(long, value_parser = super::choice::<Format>(), default_value = "text")]
    pub format: Format,
    /// Write the report here (atomically) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Lowest severity whose failure fails the run.
    #[arg(long, value_name = "info|warning|error", default_value = "error", value_parser = Severity::parse)]
    pub fail_on: Severity,
    /// Ignore a check (repeatable).
    #[arg(long, value_name = "ID")]
    pub ignore: Vec<String>,
    /// File of check IDs to ignore, one per line.
    #[arg(long, value_name = "FILE", default_value = ".lucidignore")]
    pub ignore_file: PathBuf,
    /// Treat the images as this stage, whatever their dev.lucid.stage label says.
    #[arg(long, value_name = "build-stage|runtime-stage", value_parser = parse_stage)]
    pub stage: Option<Stage>,
    /// Size budget (uncompressed file content), e.g. 100MB; overrides the spec's.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// The UID the images must run as (`any`: any non-root UID).
    #[arg(long, value_name = "UID|any", default_value = "65532")]
    pub uid: String,
    /// A label every image must carry (repeatable; replaces the default set).
    #[arg(long, value_name = "KEY")]
    pub require_label: Vec<String>,
    /// The spec whose budgets apply (default: infrastructure/containers/base/build-args.yml if present).
    #[arg(short = 'f', long = "file", value_name = "build-args.yml")]
    pub file: Option<PathBuf>,
    /// container-structure-test file (schemaVersion 2.0.0, .yaml/.yml/.json), repeatable: the
    /// whole schema, judged as container-structure-test judges it (unknown keys are an error);
    /// what lucid's confinement refuses (privileged, capabilities, root, writable bind mounts) is
    /// a failed LUCID-CST-006 (docs/verify.md has the field table).
    /// Example: --config tests/structure/lucid-python-base.yaml
    #[arg(long = "config", value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// Fail the runtime checks when no Docker engine answers (default: skip them).
    #[arg(long, conflicts_with = "no_runtime")]
    pub require_runtime: bool,
    /// Static checks only: start no containers.
    #[arg(long)]
    pub no_runtime: bool,
    /// Seconds one runtime-check container may run; past it, it is removed and its check fails
    /// (and the image's other containers are not started).
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub runtime_timeout: u64,
    /// Require a signature by this public key (PEM, `BEGIN PUBLIC KEY`, or env://NAME) on every
    /// image, which must be in a registry (docker://): the manifest, and for an index every
    /// platform's, signed for that digest and repository (LUCID-SIGN-001; `lucid sign` makes them).
    #[arg(long = "key", value_name = "FILE|env://NAME", value_parser = lucid::sign::KeyRef::parse)]
    pub key: Option<lucid::sign::KeyRef>,
    /// With --key: also require signed SLSA provenance on every manifest and SPDX and CycloneDX
    /// attestations on every platform's, each about that digest (LUCID-SIGN-002; `lucid build
    /// --push --sign` attaches them).
    #[arg(long, requires = "key")]
    pub require_attestations: bool,
    #[command(flatten)]
    pub registry: super::RegistryArgs,
    /// Also list passed and skipped checks (text and markdown).
    #[arg(short, long)]
    pub verbose: bool,
}

fn parse_stage(s: &str) -> Result<Stage> {
    match s {
        "build-stage" => Ok(Stage::Build),
        "runtime-stage" => Ok(Stage::Runtime),
        _ => bail!("unknown stage {s:?}: use build-stage or runtime-stage"),
    }
}

/// Every catalogue of the tool, as one list with a heading each: verify's checks, then the
/// Dockerfile rules (`lucid lint`, `--dockerfile`), then `lucid report`'s recommendations. Their
/// IDs never collide (tests/check_ids.rs), so an ID names one thing wherever it appears.
fn list_checks() -> String {
    let recommendations = lucid::analyze::recommend::catalogue();
    let sections: [(&str, &[lucid::findings::Check]); 3] = [
        ("lucid verify: image and application checks", catalogue::CHECKS),
        ("lucid lint and lucid verify --dockerfile: Dockerfile rules", lucid::dockerfile::RULES),
        ("lucid report: size recommendations (advice, never a failure)", &recommendations),
    ];
    let mut out = String::new();
    for (i, (heading, checks)) in sections.iter().enumerate() {
        let gap = if i == 0 { "" } else { "\n" };
        out.push_str(&format!("{gap}# {heading}\n{}", report::catalogue(checks)));
    }
    out
}

pub fn run(args: Args) -> Result<i32> {
    if args.list_checks {
        print!("{}", list_checks());
        return Ok(0);
    }
    for path in &args.app {
        verify::app::kind(path)?;
    }
    let mut ignored: BTreeSet<String> = findings::read_ignore_file(&args.ignore_file).map_err(lucid::exit::usage)?;
    for id in &args.ignore {
        if !findings::is_check_id(id) {
            return Err(Usage::msg(format!("--ignore {id:?} is not a check ID (lucid verify --list-checks)")));
        }
        ignored.insert(id.clone());
    }
    let spec = super::optional_spec(&args.file)?;
    let uid = match args.uid.as_str() {
        "any" => None,
        u => Some(u.parse::<u32>().map_err(|_| Usage::msg(format!("--uid {u:?} is not a number or `any`")))?),
    };
    let mut policy = Policy {
        stage: args.stage,
        max_size: args.max_size,
        uid,
        spec,
        runtime: if args.no_runtime {
            RuntimeMode::Off
        } else if args.require_runtime {
            RuntimeMode::Require
        } else {
            RuntimeMode::Auto
        },
        runtime_timeout: std::time::Duration::from_secs(args.runtime_timeout),
        structure_tests: args.config.clone(),
        apps: args.app.clone(),
        ..Policy::default()
    };
    if !args.require_label.is_empty() {
        policy.required_labels = args.require_label.clone();
    }
    policy.source.registry = args.registry.auth();
    if let Some(key) = &args.key {
        policy.signature_key = Some(lucid::sign::PublicKey::load(key).map_err(lucid::exit::usage)?);
        policy.require_attestations = args.require_attestations;
        if let Some(image) = args.images.iter().find(|i| !i.starts_with("docker://")) {
            return Err(Usage::msg(format!(
                "--key: {} is not in a registry; signatures are checked on docker://HOST/REPO[:TAG] images",
                lucid::oci::reference::shown(image)
            )));
        }
    }
    // The jars are read (and a JDK looked for) before any image is.
    for path in args.app.iter().filter(|p| matches!(verify::app::kind(p), Ok(verify::app::AppKind::Java))) {
        verify::app::java::preflight(path)?;
    }
    // Every readable image (and Dockerfile) is reported; each one that cannot be read is said
    // on stderr, and the exit code is the worst of all.
    let (mut rep, mut unreadable) = verify::verify_all(&args.images, &policy)?;
    for file in &args.dockerfile {
        match lucid::dockerfile::findings(file, &lucid::dockerfile::LintOptions::new()) {
            Ok(findings) => {
                rep.subjects.push(file.display().to_string());
                rep.findings.extend(findings);
            }
            Err(e) => unreadable.push(e),
        }
    }
    let mut codes = vec![];
    for e in &unreadable {
        super::print_error(e);
        codes.push(super::exit_code(e));
    }
    if rep.subjects.is_empty() {
        return Ok(lucid::exit::worst(codes));
    }
    rep.apply_ignores(&ignored);
    let text = report::render(&rep, args.format, args.verbose)?;
    match &args.output {
        Some(path) => lucid::files::write_atomic(path, &text)?,
        None => print!("{text}"),
    }
    codes.push(rep.exit_code(args.fail_on));
    Ok(lucid::exit::worst(codes))
}
