//! `lucid sbom IMAGE`: SPDX 2.3 or CycloneDX 1.6 JSON of what the image declares.

use std::path::PathBuf;

use anyhow::Result;

use lucid::analyze::{self, sbom};

use super::EXIT_UNREADABLE;
use super::report::{ImageArgs, emit};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid sbom oci:out/lucid-python-base:latest --format spdx -o python-base.spdx.json
  lucid sbom docker-daemon:lucid-python-base:latest --format cyclonedx

Every Debian package (status.d), wheel (*.dist-info) and Java runtime (release file) with its
version, purl and the licences its copyright file (DEP-5) or metadata states. The output is a
pure function of the image (timestamps from its config), so it is reproducible.
An index gives one document per platform; use -o with one platform, or pick one with --platform.")]
pub struct Args {
    #[arg(value_name = "IMAGE")]
    pub image_ref: String,
    #[arg(long, value_parser = super::choice::<sbom::SbomFormat>(), default_value = "spdx")]
    pub format: sbom::SbomFormat,
    /// Platform to describe when the reference names an index (default: the first).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub image: ImageArgs,
}

pub fn run(args: Args) -> Result<i32> {
    let opts = args.image.options()?;
    let all = match analyze::analyze_reference(&args.image_ref, &opts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let chosen = match &args.platform {
        Some(p) => all.iter().find(|a| &a.platform == p),
        None => all.first(),
    };
    let Some(a) = chosen else {
        anyhow::bail!("{} has no image for platform {:?}", args.image_ref, args.platform);
    };
    emit(&sbom::render(a, args.format)?, &args.output)?;
    Ok(0)
}
