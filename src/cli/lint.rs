//! `lucid lint`: check Dockerfiles against the rules for distroless multi-stage builds. The
//! findings are the tool's one model (`lucid::findings`), rendered by `lucid::report` as
//! verify's are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Parser;

use lucid::dockerfile::{self, LintOptions, Profile, RULES};
use lucid::findings::{self, Report, Severity};
use lucid::report::{Format, render};

/// Exit codes: 0 no finding at or above --fail-on; 1 some; 2 a file could not be read.
#[derive(Parser, Debug)]
#[command(after_help = "Examples:
  lucid lint infrastructure/containers/base/Dockerfile.*
  lucid lint --format sarif -o lint.sarif Dockerfile
  lucid lint --ignore LUCID-DF-017 --fail-on warning Dockerfile
  lucid lint --target runtime Dockerfile        # the stage that ships, as docker build --target
  lucid lint --platform linux/arm64 Dockerfile  # values of TARGETARCH & co. in FROM and ARG
  lucid lint --profile lucid Dockerfile         # add the seed's house-style rules
  lucid lint --list-rules

Profiles: `default` runs the rules that find defects in any Dockerfile; `lucid` adds this
organisation's house style for distroless builds (two stages named build-stage/runtime-stage, no
RUN or package manager in the runtime stage, hash-pinned pip, one RUN, an allow-list
.dockerignore). Without --profile, the nearest .lucid.yml above each Dockerfile decides (up to
the repository root; outside a repository, not above the working directory):
`lint: {profile: lucid}`.

Inline: a `# lucid ignore=LUCID-DF-008,LUCID-DF-017` comment right above an instruction silences
those rules for it. A .lucidignore file in the current directory lists IDs to ignore everywhere.")]
pub struct Args {
    /// Dockerfiles to check (default: the seed's Dockerfile.python-base and Dockerfile.java-base).
    pub files: Vec<PathBuf>,
    /// text, json, junit, sarif or markdown.
    #[arg(short, long, default_value = "text")]
    pub format: String,
    /// Write the report to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at least this severe: error, warning, info, or none.
    #[arg(long, default_value = "error")]
    pub fail_on: String,
    /// Rule IDs to ignore (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// NAME=VALUE for global ARGs, used to expand FROM (as `docker build --build-arg`).
    #[arg(long)]
    pub build_arg: Vec<String>,
    /// Build context directory whose .dockerignore is checked (default: each Dockerfile's directory).
    #[arg(long)]
    pub context: Option<PathBuf>,
    /// The stage that ships, as `docker build --target` (default: the last stage). Runtime rules
    /// judge it; size rules judge it and the stages it is built FROM.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Target platform (os/arch[/variant]) giving BuildKit's automatic ARGs (TARGETOS,
    /// TARGETARCH, ...) their values.
    #[arg(long, default_value = "linux/amd64")]
    pub platform: String,
    /// default or lucid (default: the nearest .lucid.yml's `lint.profile`, else default).
    #[arg(long)]
    pub profile: Option<String>,
    /// Print the rule catalogue and exit (`lucid verify --list-checks` lists every ID of the tool).
    #[arg(long)]
    pub list_rules: bool,
    /// Also list the rules that passed and the findings ignored (text and markdown).
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(a: Args) -> Result<i32> {
    if a.list_rules {
        print!("{}", lucid::report::catalogue(RULES));
        return Ok(0);
    }
    let format: Format = a.format.parse().map_err(lucid::exit::usage)?;
    let fail_on: Option<Severity> = if a.fail_on.eq_ignore_ascii_case("none") {
        None
    } else {
        Some(a.fail_on.parse().map_err(lucid::exit::usage)?)
    };
    let mut ignore: BTreeSet<String> = a.ignore.iter().map(|s| s.trim().to_ascii_uppercase()).collect();
    ignore.extend(findings::read_ignore_file(Path::new(".lucidignore")).map_err(lucid::exit::usage)?);
    let mut opts = LintOptions::new();
    opts.context = a.context.clone();
    opts.target = a.target.clone();
    opts.platform = a.platform.clone();
    opts.profile = a.profile.as_deref().map(str::parse::<Profile>).transpose().map_err(lucid::exit::usage)?;
    for b in &a.build_arg {
        let (k, v) = b
            .split_once('=')
            .ok_or_else(|| lucid::exit::Usage::msg(format!("--build-arg {b:?}: expected NAME=VALUE")))?;
        opts.build_args.insert(k.to_string(), v.to_string());
    }
    let files = if a.files.is_empty() {
        ["Dockerfile.python-base", "Dockerfile.java-base"]
            .iter()
            .map(|f| PathBuf::from("infrastructure/containers/base").join(f))
            .collect()
    } else {
        a.files.clone()
    };

    let mut report = Report { tool: "lucid lint".into(), ..Report::default() };
    // A file that cannot be read (2) or a bad .lucid.yml or --target (3) is said on stderr; the
    // other files are still linted.
    let mut codes = vec![];
    for f in &files {
        report.subjects.push(f.display().to_string());
        match dockerfile::findings(f, &opts) {
            Ok(fs) => report.findings.extend(fs),
            Err(e) => {
                super::print_error(&e);
                codes.push(super::exit_code(&e));
            }
        }
    }
    report.apply_ignores(&ignore);
    let out = render(&report, format, a.verbose)?;
    match &a.output {
        Some(p) => lucid::files::write_atomic(p, &out)?,
        None => print!("{out}"),
    }
    let found = fail_on.map_or(lucid::exit::PASSED, |t| report.exit_code(t));
    codes.push(found);
    Ok(lucid::exit::worst(codes))
}
