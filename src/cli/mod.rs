//! Subcommands: each parses nothing itself (clap did), calls the library and renders the result.

pub mod build;
pub mod cache;
pub mod debug;
pub mod diff;
pub mod lint;
pub mod lock;
pub mod outdated;
pub mod push;
pub mod report;
pub mod sbom;
pub mod sign;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::Result;

use lucid::fetch::{Cache, Fetcher};
use lucid::oci::registry::Secret;
use lucid::progress::{Reporter, Style};
use lucid::spec::Spec;

/// The value parser of a `--format`-like option over one of the library's plain enums: the
/// choices `--help` lists are the enum's names, and parsing is the enum's own `FromStr`, so
/// the library needs no clap derive.
pub fn choice<T>() -> impl clap::builder::TypedValueParser<Value = T>
where
    T: lucid::names::Named<Err = anyhow::Error> + Clone + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::NAMES).try_map(|s| s.parse::<T>())
}

/// The exit code of an error that ended a subcommand (see `lucid::exit`): configuration problems
/// the library reports with their own types (no JDK for jdeps, an `--app` that is no
/// application, `--load` with no engine, a registry that wants credentials none are bound to, a
/// cache others can write, no bubblewrap for the build's sandbox, an output directory holding
/// files that are not lucid's) are usage errors like any `lucid::exit::Usage`;
/// anything else is input that could not be read.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    let configuration = err.chain().any(|e| {
        e.is::<lucid::analyze::jdeps::NoJdk>()
            || e.is::<lucid::build::NoEngine>()
            || e.is::<lucid::oci::registry::CredentialsNeeded>()
            || e.is::<lucid::fetch::cachedir::UnsafeCache>()
            || e.is::<lucid::rootfs::sandbox::SandboxUnavailable>()
            || e.is::<lucid::oci::stale::ForeignOutput>()
            || e.downcast_ref::<lucid::verify::app::AppPathError>()
                .is_some_and(|a| matches!(a, lucid::verify::app::AppPathError::NotAnApp { .. }))
    });
    if configuration { lucid::exit::USAGE } else { lucid::exit::code_of(err) }
}

/// Says `err` on stderr. Its text may quote an image's file names or a server's words, so control
/// characters are shown escaped (a hostile name cannot drive the terminal), and the lines of a
/// message that has several are indented under its `error:` (a name holding a newline cannot
/// forge a line of its own, such as another `error:` or a passed check).
pub fn print_error(err: &anyhow::Error) {
    let text = format!("{err:#}");
    eprintln!("error: {}", lucid::report::printable(&text, true).replace('\n', "\n  "));
}

/// The spec used when `--file` is not given, relative to the current directory.
pub const DEFAULT_SPEC: &str = "infrastructure/containers/base/build-args.yml";

pub fn load_spec(path: &Option<PathBuf>) -> Result<Spec> {
    let p = path.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC));
    if path.is_none() && !Path::new(&p).exists() {
        return Err(lucid::exit::Usage::msg(format!(
            "no spec at {DEFAULT_SPEC}: run lucid from the repository root or pass --file PATH/build-args.yml"
        )));
    }
    Spec::load(&p).map_err(lucid::exit::usage)
}

/// The spec for commands that read images: `--file`, else the default spec when it exists (the
/// images may not be Lucid's). A spec that cannot be used is a configuration error.
pub fn optional_spec(file: &Option<PathBuf>) -> Result<Option<Spec>> {
    match file {
        Some(p) => Spec::load(p).map(Some),
        None => lucid::verify::load_spec_if_present(Path::new(DEFAULT_SPEC)),
    }
    .map_err(lucid::exit::usage)
}

/// Where progress goes: nothing with `--quiet`; live lines only when a person is watching
/// (stderr is a terminal and CI is not set); plain lines in CI, pipes and logs.
pub fn reporter(quiet: bool) -> Reporter {
    use std::io::IsTerminal;
    let style = if quiet {
        Style::Quiet
    } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
        Style::Live
    } else {
        Style::Plain
    };
    Reporter::new(style)
}

/// The download cache of `$LUCID_CACHE` (or `~/.cache/lucid`) and an HTTP client.
pub fn fetcher() -> Result<Fetcher> {
    Fetcher::new(Cache::from_env()?)
}

/// Registry credentials, shared by every command that reads from or writes to a registry. They
/// are bound to one registry (see [`RegistryArgs`] and `lucid build --registry`): no other host
/// ever receives them, and even that one only after it asks (a 401 challenge).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CredentialArgs {
    /// Registry credentials USER:PASSWORD for the registry named by --registry (push: the
    /// destination's by default); sent to it, or to the token service it names, only when it asks.
    #[arg(long, env = lucid::oci::registry::CREDS_ENV, value_name = "USER:PASSWORD", hide_env_values = true, value_parser = secret)]
    pub creds: Option<Secret>,
    /// A bearer token for the registry named by --registry (push: the destination's), sent as is
    /// when it asks.
    #[arg(long, env = lucid::oci::registry::TOKEN_ENV, value_name = "TOKEN", hide_env_values = true, value_parser = secret)]
    pub registry_token: Option<Secret>,
    /// Allow plain HTTP to the registry, and to a plain-HTTP token service on its own origin
    /// (both always allowed for loopback hosts).
    #[arg(long)]
    pub insecure_registry: bool,
}

/// A secret option's value: kept as a [`Secret`], so no debug print of the arguments shows it.
/// Never refused here: clap would quote the refused value in its error.
fn secret(s: &str) -> Result<Secret> {
    Ok(Secret::new(s))
}

impl CredentialArgs {
    /// The one registry explicit credentials (--creds, --registry-token) belong to: `registry`
    /// (--registry's host) when given, else the one host of `hosts`. With several hosts and no
    /// --registry they would have no single home, and sending them to every host is what this
    /// rule exists to prevent: a usage error naming the hosts (`named` says what names them,
    /// "the tags name"). Without explicit credentials there is nothing to refuse.
    pub fn bound_to(&self, registry: Option<&str>, mut hosts: Vec<String>, named: &str) -> Result<Option<String>> {
        hosts.sort();
        hosts.dedup();
        let bound = registry.map(str::to_string).or_else(|| (hosts.len() == 1).then(|| hosts[0].clone()));
        if bound.is_none() && (self.creds.is_some() || self.registry_token.is_some()) {
            return Err(lucid::exit::Usage::msg(format!(
                "--creds and --registry-token are for one registry, and {named} {} ({}): name the one they are \
                 for with --registry HOST[:PORT]; the others use their `docker login` entry",
                hosts.len(),
                hosts.join(", ")
            )));
        }
        Ok(bound)
    }

    /// Credentials bound to `host` (none: bound to no registry, sent nowhere); every registry
    /// that asks and is not `host` gets its own entry of the Docker CLI configuration, if any.
    pub fn auth(&self, host: Option<&str>) -> lucid::oci::registry::RegistryAuth {
        lucid::oci::registry::RegistryAuth {
            host: host.map(str::to_string),
            credentials: self.creds.clone(),
            token: self.registry_token.clone(),
            docker_config: true,
            insecure: self.insecure_registry,
        }
    }
}

/// [`CredentialArgs`] with the registry they are for: what verify, report, sbom, diff and push
/// take.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The registry HOST[:PORT] that --creds and --registry-token are for: only docker:// images
    /// on exactly that host and port get them (push: default, the destination's host). Other
    /// registries get their own `docker login` entry, or nothing.
    #[arg(long, env = "LUCID_REGISTRY", value_name = "HOST[:PORT]", value_parser = registry_host)]
    pub registry: Option<String>,
}

/// `--registry`'s value: a registry's `host[:port]` (a `docker://` prefix is tolerated).
fn registry_host(s: &str) -> Result<String> {
    let host = s.strip_prefix("docker://").unwrap_or(s).trim_end_matches('/');
    lucid::oci::reference::check_host(host)?;
    Ok(host.to_string())
}

impl RegistryArgs {
    /// For reading `docker://` images: the credentials go to the --registry host only.
    pub fn auth(&self) -> lucid::oci::registry::RegistryAuth {
        self.credentials.auth(self.registry.as_deref())
    }

    /// For pushing to `host`: the credentials are for --registry when given, else for `host`.
    pub fn auth_for_push(&self, host: &str) -> lucid::oci::registry::RegistryAuth {
        self.credentials.auth(Some(self.registry.as_deref().unwrap_or(host)))
    }
}
