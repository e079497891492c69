//! `lucid`: argument parsing and exit codes only; the work is in the library.

mod cli;

use clap::{Parser, Subcommand};

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
    /// Push an image to a registry: an OCI layout's image or multi-platform index, a
    /// docker-archive, an engine's or another registry's image.
    Push(cli::push::Args),
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
}

fn main() {
    let cli = Cli::parse();
    let reporter = cli::reporter(cli.quiet);
    let result = match cli.command {
        Command::Build(a) => cli::build::run(a, &reporter),
        Command::Lock(a) => cli::lock::run(a, &reporter),
        Command::Push(a) => cli::push::run(a, &reporter),
        Command::Verify(a) => cli::verify::run(a),
        Command::Lint(a) => cli::lint::run(a),
        Command::Cache(a) => cli::cache::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Diff(a) => cli::diff::run(a),
        Command::Sbom(a) => cli::sbom::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
