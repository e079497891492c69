//! `lucid`: argument parsing and exit codes only; the work is in the library.

mod cli;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Build, verify and report on distroless container base images, straight from Debian
/// packages, without a Docker daemon.
#[derive(Parser, Debug)]
#[command(name = "lucid", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Start with:  lucid build lucid-python-base --load
Then:        docker run --rm lucid-python-base python --version

Environment: LUCID_DEBIAN_MIRROR (Debian archive URL; default: the host's apt sources),
LUCID_INDEX_URL (Python package index; default: the host's pip configuration),
LUCID_CACHE (download cache; default ~/.cache/lucid), SOURCE_DATE_EPOCH, DOCKER_HOST.")]
struct Cli {
    /// Print only results and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build images from the spec (default infrastructure/containers/base/build-args.yml).
    Build(cli::build::Args),
    /// Resolve the spec against the signed Debian indices and the package index; write the lock.
    Lock(cli::lock::Args),
    /// Which locked Debian packages have newer versions in the spec's suites, security updates
    /// marked (exit 1 when one is pending).
    Outdated(cli::outdated::Args),
    /// Push an image to a registry: an OCI layout's image or multi-platform index, a
    /// docker-archive, an engine's or another registry's image.
    Push(cli::push::Args),
    /// Sign images in a registry (sigstore/cosign format, ECDSA P-256), for skopeo, podman and
    /// `lucid verify --key`.
    Sign(cli::sign::Args),
    /// Prove images distroless, non-root, within budget and working (static and runtime checks).
    Verify(cli::verify::Args),
    /// Check Dockerfiles for distroless multi-stage builds (stages, USER, shell-less bases, pins, secrets).
    Lint(cli::lint::Args),
    /// Check or tidy the download cache ($LUCID_CACHE, ~/.cache/lucid).
    Cache(cli::cache::Args),
    /// Sizes against budgets, layers (dive's efficiency), bytes per package, recommendations; text, JSON, Markdown, HTML.
    Report(cli::report::Args),
    /// What changed between two images, by package and by path, with bytes.
    Diff(cli::diff::Args),
    /// SPDX 2.3 or CycloneDX 1.6 JSON of an image's packages, wheels and runtimes.
    Sbom(cli::sbom::Args),
    /// A toolbox beside a running container (its PID and network namespaces, its UID), a shell
    /// in an image that has none, or the `kubectl debug` line for a pod.
    Debug(cli::debug::Args),
}

/// The command line, with the exit-code table at the end of every `--help`.
fn parse() -> Result<Cli, clap::Error> {
    let with_table = |help: Option<String>| match help {
        Some(h) => format!("{h}\n\n{}", lucid::exit::TABLE),
        None => lucid::exit::TABLE.to_string(),
    };
    let top = Cli::command().get_after_help().map(|h| h.to_string());
    let command = Cli::command().after_help(with_table(top)).mut_subcommands(|s| {
        let own = s.get_after_help().map(|h| h.to_string());
        s.after_help(with_table(own))
    });
    Cli::from_arg_matches(&command.try_get_matches()?)
}

fn main() {
    // clap exits 2 on a usage error; the project's table says 3 (2 is "input unreadable").
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { lucid::exit::USAGE } else { lucid::exit::PASSED });
        }
    };
    let reporter = cli::reporter(cli.quiet);
    let result = match cli.command {
        Command::Build(a) => cli::build::run(a, &reporter),
        Command::Lock(a) => cli::lock::run(a, &reporter),
        Command::Push(a) => cli::push::run(a, &reporter),
        Command::Sign(a) => cli::sign::run(a, &reporter),
        Command::Outdated(a) => cli::outdated::run(a, &reporter),
        Command::Verify(a) => cli::verify::run(a),
        Command::Lint(a) => cli::lint::run(a),
        Command::Cache(a) => cli::cache::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Diff(a) => cli::diff::run(a),
        Command::Sbom(a) => cli::sbom::run(a),
        Command::Debug(a) => cli::debug::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            cli::print_error(&e);
            std::process::exit(cli::exit_code(&e));
        }
    }
}
