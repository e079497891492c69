//! `lucid diff A B`: what changed between two images, by package and by path, with bytes.

use std::path::PathBuf;

use anyhow::Result;

use lucid::analyze::{self, diff};
use lucid::report::size::{DiffFormat, render_diff};

use super::report::{ImageArgs, emit};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid diff oci:out/lucid-python-base:latest oci:out/lucid-python-build:latest
  lucid diff docker-daemon:lucid-python-base:20250101 docker-daemon:lucid-python-base:latest --format json

Both images must name one platform each (an index: pick one with oci:DIR:TAG of a platform image).")]
pub struct Args {
    /// The image to compare from.
    #[arg(value_name = "A")]
    pub from: String,
    /// The image to compare to.
    #[arg(value_name = "B")]
    pub to: String,
    #[arg(long, value_parser = super::choice::<DiffFormat>(), default_value = "text")]
    pub format: DiffFormat,
    /// Platform to compare when a reference names an index (default: the first both have).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub image: ImageArgs,
}

pub fn run(args: Args) -> Result<i32> {
    let opts = args.image.options()?;
    let read = |r: &str| analyze::analyze_reference(r, &opts);
    let (a, b) = (read(&args.from)?, read(&args.to)?);
    let pick = |set: &[analyze::ImageAnalysis], other: &[analyze::ImageAnalysis]| {
        let want = args.platform.clone().or_else(|| {
            set.iter().find(|x| other.iter().any(|y| y.platform == x.platform)).map(|x| x.platform.clone())
        });
        match want {
            Some(p) => set.iter().find(|x| lucid::platform::selects(&p, &x.platform)).cloned(),
            None => set.first().cloned(),
        }
    };
    let (Some(x), Some(y)) = (pick(&a, &b), pick(&b, &a)) else {
        return Err(lucid::exit::Usage::msg(format!(
            "no image for platform {:?} in both {} and {}",
            args.platform, args.from, args.to
        )));
    };
    emit(&render_diff(&diff::diff(&x, &y), args.format)?, &args.output)?;
    Ok(0)
}
