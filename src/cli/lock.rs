//! `lucid lock`: resolve the spec afresh and write its lock file.

use anyhow::Result;

use lucid::build;
use lucid::progress::Reporter;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The spec to lock.
    #[arg(short = 'f', long = "file", value_name = "build-args.yml")]
    pub file: Option<std::path::PathBuf>,
    /// Exit non-zero if the lock would change instead of writing it (for CI).
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: Args, reporter: &Reporter) -> Result<i32> {
    let spec = super::load_spec(&args.file)?;
    let fetcher = super::fetcher()?;
    reporter.status("Resolving", format!("{} images for {} platform(s)", spec.images.len(), spec.platforms.len()));
    let path = spec.lock_path();
    let old = lucid::lock::Lock::read(&path).ok().flatten();
    let lock = build::resolve(&spec, &fetcher, old.as_ref(), reporter)?.settle(old.as_ref());
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
    Ok(0)
}
