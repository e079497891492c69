//! `lucid lock`: resolve the spec afresh and write its lock file.

use anyhow::Result;

use lucid::progress::Reporter;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid lock                  resolve and write build-args.lock beside the spec
  lucid lock --check          exit 1, naming what differs, when the lock is not current (CI)
  lucid lock --upgrade        write it and print what changed, security updates marked
  lucid outdated              only say what --upgrade would change")]
pub struct Args {
    /// The spec to lock.
    #[arg(short = 'f', long = "file", value_name = "build-args.yml")]
    pub file: Option<std::path::PathBuf>,
    /// Exit non-zero if the lock would change instead of writing it (for CI).
    #[arg(long, conflicts_with = "upgrade")]
    pub check: bool,
    /// Write the fresh resolution (every package at its suites' newest version) and print the
    /// package updates it applied, as `lucid outdated` lists them.
    #[arg(long)]
    pub upgrade: bool,
    /// With --upgrade: the table's format.
    #[arg(long, value_enum, default_value = "text", requires = "upgrade")]
    pub format: super::outdated::TableFormat,
}

pub fn run(args: Args, reporter: &Reporter) -> Result<i32> {
    let spec = super::load_spec(&args.file)?;
    let path = spec.lock_path();
    let (old, lock) = super::outdated::fresh(&spec, false, reporter)?;
    if args.check {
        if old.as_ref() == Some(&lock) {
            reporter.status("Fresh", path.display());
            return Ok(0);
        }
        eprintln!("error: {} is out of date; run `lucid lock`", path.display());
        if let Some(old) = &old {
            let lines = lucid::lock::differences(old, &lock);
            for line in lines.iter().take(20) {
                eprintln!("  {line}");
            }
            if lines.len() > 20 {
                eprintln!("  ... and {} more", lines.len() - 20);
            }
        }
        return Ok(1);
    }
    lock.write(&path)?;
    let packages: usize = lock.images.values().flat_map(|m| m.values()).map(|i| i.packages.len()).sum();
    let wheels: usize = lock.images.values().flat_map(|m| m.values()).map(|i| i.wheels.len()).sum();
    reporter.status(
        if old.as_ref() == Some(&lock) { "Unchanged" } else { "Locked" },
        format!("{} ({packages} packages, {wheels} wheels)", path.display()),
    );
    if args.upgrade {
        let applied = old.as_ref().map(|o| lucid::lock::updates::updates(o, &lock)).unwrap_or_default();
        print!("{}", super::outdated::render(&applied, args.format)?);
    }
    Ok(0)
}
