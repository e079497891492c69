//! `lucid outdated`: which locked packages the spec's suites have newer versions of, security
//! updates marked; and the table `lucid lock --upgrade` prints after applying them.

use anyhow::Result;

use lucid::lock::Lock;
use lucid::lock::updates::{Update, updates};
use lucid::progress::Reporter;
use lucid::spec::Spec;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid outdated                              what the lock is behind, security updates marked
  lucid outdated --format markdown >> \"$GITHUB_STEP_SUMMARY\"
  lucid outdated --format json -o outdated.json
  lucid lock --upgrade                        apply them (writes the lock), printing the same table

The spec's suites are read afresh (signed InRelease, the lock's Release dates as floors) and
resolved as `lucid lock` would; every package whose version would change is listed with the
images and platforms it is in. A security update is one whose new version comes from a
-security suite. Exit codes: 0 no security update pending (--fail-on any: no update at all);
1 one is; 2 a mirror could not be read; 3 no lock or no spec.")]
pub struct Args {
    /// The spec whose lock is checked.
    #[arg(short = 'f', long = "file", value_name = "build-args.yml")]
    pub file: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TableFormat,
    /// Write the table here (atomically) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// What makes the exit code 1: a pending security update (default), or any update.
    #[arg(long, value_enum, default_value = "security")]
    pub fail_on: FailOn,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    Text,
    Markdown,
    Json,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Security,
    Any,
}

/// The lock at the spec's lock path and what a fresh resolution makes of it. With `strict`, a
/// lock that cannot be read is an error; without (`lucid lock`, which replaces it), it is none.
pub fn fresh(spec: &Spec, strict: bool, reporter: &Reporter) -> Result<(Option<Lock>, Lock)> {
    let fetcher = super::fetcher()?;
    let path = spec.lock_path();
    let old = if strict { Lock::read(&path)? } else { Lock::read(&path).ok().flatten() };
    reporter.status("Resolving", format!("{} images for {} platform(s)", spec.images.len(), spec.platforms.len()));
    let lock = lucid::build::resolve(spec, &fetcher, old.as_ref(), reporter)?.settle(old.as_ref());
    Ok((old, lock))
}

/// The updates as `format`.
pub fn render(list: &[Update], format: TableFormat) -> Result<String> {
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    Ok(match format {
        TableFormat::Json => format!("{}\n", serde_json::to_string_pretty(&serde_json::json!({ "updates": list }))?),
        TableFormat::Text if list.is_empty() => "No updates: the lock is current.\n".into(),
        TableFormat::Text => {
            let mut rows =
                vec![["PACKAGE", "LOCKED", "AVAILABLE", "SUITE", "SECURITY", "IMAGES"].map(String::from).to_vec()];
            for u in list {
                rows.push(vec![
                    u.package.clone(),
                    version(&u.old),
                    version(&u.new),
                    u.suite.clone(),
                    if u.security { "yes".into() } else { "-".into() },
                    u.affected.join(", "),
                ]);
            }
            lucid::report::table(&rows)
        }
        TableFormat::Markdown if list.is_empty() => "No updates: the lock is current.\n".into(),
        TableFormat::Markdown => {
            let cell = |s: &str| lucid::report::printable(s, false).replace('|', "\\|");
            let mut out = String::from(
                "| package | locked | available | suite | security | images |\n| --- | --- | --- | --- | --- | --- |\n",
            );
            for u in list {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} | {} |\n",
                    cell(&u.package),
                    cell(&version(&u.old)),
                    cell(&version(&u.new)),
                    cell(&u.suite),
                    if u.security { "**yes**" } else { "" },
                    cell(&u.affected.join(", "))
                ));
            }
            out
        }
    })
}

pub fn run(args: Args, reporter: &Reporter) -> Result<i32> {
    let spec = super::load_spec(&args.file)?;
    if !spec.lock_path().exists() {
        return Err(lucid::exit::Usage::msg(format!(
            "{} does not exist: `lucid lock` writes it; outdated compares a lock with the suites",
            spec.lock_path().display()
        )));
    }
    let (old, new) = fresh(&spec, true, reporter)?;
    let old = old.ok_or_else(|| anyhow::anyhow!("{} disappeared while it was read", spec.lock_path().display()))?;
    let list = updates(&old, &new);
    let text = render(&list, args.format)?;
    match &args.output {
        Some(path) => lucid::files::write_atomic(path, &text)?,
        None => print!("{text}"),
    }
    let security = list.iter().filter(|u| u.security).count();
    reporter.status(
        "Outdated",
        format!("{} package update(s), {security} from a security suite: {}", list.len(), spec.lock_path().display()),
    );
    Ok(match args.fail_on {
        FailOn::Security => i32::from(security > 0),
        FailOn::Any => i32::from(!list.is_empty()),
    })
}
