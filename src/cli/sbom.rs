//! `lucid sbom IMAGE`: SPDX 2.3 or CycloneDX 1.6 JSON of what the image declares.

use std::path::PathBuf;

use anyhow::Result;

use lucid::analyze::{self, ImageAnalysis, sbom};

use super::report::{ImageArgs, emit};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid sbom oci:out/lucid-python-base:latest --format spdx -o python-base.spdx.json
      writes python-base.linux-amd64.spdx.json and python-base.linux-arm64.spdx.json
  lucid sbom oci:out/lucid-python-base:latest --format cyclonedx --platform linux/arm64 -o arm64.cdx.json
      writes arm64.cdx.json, the arm64 image's document only
  lucid sbom docker-daemon:lucid-python-base:latest --format cyclonedx

Every Debian package (status.d), wheel (*.dist-info) and Java runtime (release file) with its
version, purl and the licences its copyright file (DEP-5) or metadata states. The output is a
pure function of the image (timestamps from its config), so it is reproducible.

One document per platform, each describing that platform's image (its packages' purls carry its
architecture). An index of several platforms with -o FILE writes one file each, the platform
(os-arch) before FILE's SBOM extension (.spdx.json, .cdx.json, .bom.json, .spdx) or else its last
extension: -o sbom.spdx.json gives sbom.linux-amd64.spdx.json and sbom.linux-arm64.spdx.json,
-o sbom.json gives sbom.linux-amd64.json and sbom.linux-arm64.json; each is written whole or not
at all. To standard output several platforms are a usage error (exit 3): give -o, or pick one
with --platform. One platform (--platform, a daemon image, an index of one) writes exactly FILE,
or standard output. --platform linux/arm64 picks linux/arm64/v8 (a variant only when named).

Exit codes: 0 written; 2 the image could not be read; 3 --platform names no platform of the
image, or several platforms and no -o.")]
pub struct Args {
    #[arg(value_name = "IMAGE")]
    pub image_ref: String,
    #[arg(long, value_parser = super::choice::<sbom::SbomFormat>(), default_value = "spdx")]
    pub format: sbom::SbomFormat,
    /// The one platform to describe when the reference names an index (default: every platform,
    /// one document each), e.g. --platform linux/arm64.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Where to write; with several platforms, one file per platform beside it (see below).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub image: ImageArgs,
}

pub fn run(args: Args) -> Result<i32> {
    let opts = args.image.options()?;
    let all = analyze::analyze_reference(&args.image_ref, &opts)?;
    let chosen: Vec<&ImageAnalysis> = match &args.platform {
        Some(p) => all.iter().filter(|a| lucid::platform::selects(p, &a.platform)).take(1).collect(),
        None => all.iter().collect(),
    };
    match (chosen.as_slice(), &args.output) {
        ([], _) => {
            let have: Vec<&str> = all.iter().map(|a| a.platform.as_str()).collect();
            return Err(lucid::exit::Usage::msg(format!(
                "{} has no image for platform {}: it holds {}",
                lucid::oci::reference::shown(&args.image_ref),
                args.platform.as_deref().unwrap_or_default(),
                have.join(", ")
            )));
        }
        ([one], output) => emit(&sbom::render(one, args.format)?, output)?,
        (several, None) => {
            let platforms: Vec<&str> = several.iter().map(|a| a.platform.as_str()).collect();
            return Err(lucid::exit::Usage::msg(format!(
                "{} holds {} platforms ({}), one document each: give -o FILE (one file per platform \
                 beside it) or pick one with --platform",
                args.image_ref,
                platforms.len(),
                platforms.join(", ")
            )));
        }
        (several, Some(output)) => {
            let platforms: Vec<&str> = several.iter().map(|a| a.platform.as_str()).collect();
            // Every document is rendered before the first is written, so a failure leaves no
            // half set behind; each file is then written to a temporary name and renamed.
            let docs = several.iter().map(|a| sbom::render(a, args.format)).collect::<Result<Vec<_>>>()?;
            for (path, doc) in sbom::platform_paths(output, &platforms).iter().zip(&docs) {
                lucid::files::write_atomic(path, doc)?;
            }
        }
    }
    Ok(0)
}
