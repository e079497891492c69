//! `lucid cache verify|prune`: prove the download cache intact, and tidy it.

use anyhow::Result;

use lucid::fetch::Cache;
use lucid::fetch::maintain::{self, CacheReport};
use lucid::spec::format_size;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Re-hash every cached blob, follow every memo and check every cached tree (jlink runtimes)
    /// against its recorded digest; exit 1 if any blob is corrupt or any tree changed.
    Verify,
    /// Remove corrupt blobs, dangling memos and leftovers of killed runs (or, with --all, everything).
    Prune {
        /// Empty the cache completely.
        #[arg(long)]
        all: bool,
    },
}

fn describe(r: &CacheReport) -> String {
    format!(
        "{} blob(s), {}, {} memo(s), {} cached tree(s); {} corrupt, {} changed tree(s), {} dangling memo(s), {} leftover temporary file(s)",
        r.blobs,
        format_size(r.bytes),
        r.memos,
        r.trees,
        r.corrupt.len(),
        r.tampered.len(),
        r.dangling.len(),
        r.partial.len()
    )
}

pub fn run(args: Args) -> Result<i32> {
    let cache = Cache::from_env()?;
    match args.action {
        Action::Verify => {
            let r = maintain::verify(&cache)?;
            println!("{}: {}", cache.root().display(), describe(&r));
            for p in &r.corrupt {
                println!("corrupt: {}", p.display());
            }
            for (p, why) in &r.tampered {
                println!("changed: {}: {why}", p.display());
            }
            Ok(if r.is_clean() { 0 } else { 1 })
        }
        Action::Prune { all } => {
            let r = maintain::prune(&cache, all)?;
            println!(
                "{}: removed {} corrupt blob(s), {} changed tree(s), {} dangling memo(s), {} leftover file(s){}",
                cache.root().display(),
                r.corrupt.len(),
                r.tampered.len(),
                r.dangling.len(),
                r.partial.len(),
                if all { format!(", and everything else ({})", format_size(r.bytes)) } else { String::new() }
            );
            Ok(0)
        }
    }
}
