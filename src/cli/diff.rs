//! `lucid diff A B`: what changed between two images, by package and by path, with bytes; with
//! `--pull-cost`, what a node holding the images A must pull to run the images B.

use std::path::PathBuf;

use anyhow::{Context, Result};

use lucid::analyze::{self, diff, pull_cost};
use lucid::oci::{Image, source};
use lucid::report::size::{DiffFormat, render_diff, render_pull_cost};

use super::report::{ImageArgs, emit};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid diff oci:out/lucid-python-base:latest oci:out/lucid-python-build:latest
  lucid diff docker-daemon:lucid-python-base:20250101 docker-daemon:lucid-python-base:latest --format json

  lucid diff --pull-cost oci:old/lucid-python-base:latest oci:out/lucid-python-base:latest
  lucid diff --pull-cost scratch oci:out/lucid-python-base:latest,oci:out/lucid-java-base:latest

Both images must name one platform each (an index: pick one with oci:DIR:TAG of a platform image).

--pull-cost: A and B are each one image or several separated by commas (`scratch`: none). It
prints, per platform, the compressed bytes of the layers, configs and manifests of B that no image
of A has: what a node holding A pulls to run B, since a node keeps blobs by digest. It needs
image manifests: OCI layouts or registries (a docker-archive or an engine's export has none). A
docker:// reference is pulled whole to read it.")]
pub struct Args {
    /// The image to compare from.
    #[arg(value_name = "A")]
    pub from: String,
    /// The image to compare to.
    #[arg(value_name = "B")]
    pub to: String,
    #[arg(long, value_parser = super::choice::<DiffFormat>(), default_value = "text")]
    pub format: DiffFormat,
    /// Platform to compare when a reference names an index (default: the first both have); with
    /// --pull-cost, the one platform to count (default: each platform of B).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the bytes a node holding A must pull to run B, per platform, instead of the
    /// contents' diff.
    #[arg(long)]
    pub pull_cost: bool,
    #[command(flatten)]
    pub image: ImageArgs,
}

pub fn run(args: Args) -> Result<i32> {
    let opts = args.image.options()?;
    if args.pull_cost {
        return run_pull_cost(&args, &opts.source);
    }
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

/// The references of a `--pull-cost` side: comma-separated, `scratch` for none.
fn references(side: &str) -> Result<Vec<&str>> {
    if side == "scratch" {
        return Ok(Vec::new());
    }
    let refs: Vec<&str> = side.split(',').map(str::trim).collect();
    if refs.iter().any(|r| r.is_empty()) {
        return Err(lucid::exit::Usage::msg(format!("--pull-cost: {side:?} names an empty reference")));
    }
    Ok(refs)
}

fn run_pull_cost(args: &Args, opts: &source::SourceOptions) -> Result<i32> {
    let open = |side: &str| -> Result<Vec<(String, source::Source)>> {
        references(side)?
            .into_iter()
            .map(|r| {
                let src = source::open(r, opts)
                    .with_context(|| format!("cannot read {}", lucid::oci::reference::shown(r)))?;
                Ok((r.to_string(), src))
            })
            .collect()
    };
    let (old, new) = (open(&args.from)?, open(&args.to)?);
    let platform = args.platform.as_deref();
    let (held, wanted) = (selected(&old, platform), selected(&new, platform));
    if wanted.is_empty() {
        return Err(lucid::exit::Usage::msg(match &args.platform {
            _ if args.to == "scratch" => "--pull-cost: the images to run (B) cannot be scratch".to_string(),
            Some(p) => format!("--pull-cost: no image of {} is for the platform {p}", args.to),
            None => format!("--pull-cost: {} holds no image", args.to),
        }));
    }
    let held: Vec<pull_cost::Named> =
        held.iter().map(|(r, img)| pull_cost::Named { reference: r, image: *img }).collect();
    let wanted: Vec<pull_cost::Named> =
        wanted.iter().map(|(r, img)| pull_cost::Named { reference: r, image: *img }).collect();
    emit(&render_pull_cost(&pull_cost::pull_cost(&held, &wanted)?, args.format)?, &args.output)?;
    Ok(0)
}

/// The images of `sources` (with the reference that named them) of `platform`, or all.
fn selected<'a>(
    sources: &'a [(String, source::Source)],
    platform: Option<&str>,
) -> Vec<(&'a str, &'a lucid::oci::read::ImageView)> {
    sources
        .iter()
        .flat_map(|(r, src)| src.images.iter().map(move |img| (r.as_str(), img)))
        .filter(|(_, img)| platform.is_none_or(|p| lucid::platform::selects(p, &img.platform().qualified())))
        .collect()
}
