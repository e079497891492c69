//! Loading the signed indices of every source into one [`Universe`] for one architecture.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::mirror::Source;
use super::packages::{Package, parse_packages};
use super::release::{Release, parse_keyring, pinned_keys, verify_inrelease_keys};
use super::replay::{self, Floors};
use super::version;
use crate::fetch::{Fetcher, Want, join_url};
use crate::limits::{Bounded, Counting};
use crate::progress::Task;

/// All packages of all sources for one architecture (plus `Architecture: all`).
#[derive(Clone, Debug, Default)]
pub struct Universe {
    pub arch: String,
    packages: Vec<Package>,
    by_name: BTreeMap<String, Vec<usize>>,
    /// Virtual name -> (package index, provided version).
    providers: BTreeMap<String, Vec<(usize, Option<String>)>>,
    /// Suite names in load order, for messages.
    pub suites: Vec<String>,
    /// The verified Release of each source, in load order.
    pub releases: Vec<(Source, Release)>,
}

impl Universe {
    pub fn new(arch: &str) -> Universe {
        Universe { arch: arch.to_string(), ..Universe::default() }
    }

    /// Adds packages of `suite`. Packages of another architecture are ignored; a package whose
    /// name, version and architecture is already known (the same upload in two suites) keeps
    /// its first record.
    pub fn add(&mut self, suite: &str, packages: Vec<Package>) {
        if !self.suites.iter().any(|s| s == suite) {
            self.suites.push(suite.to_string());
        }
        for p in packages {
            if p.architecture != self.arch && p.architecture != "all" {
                continue;
            }
            let same = self.by_name.get(&p.name).is_some_and(|ids| {
                ids.iter().any(|&i| {
                    let q = &self.packages[i];
                    q.architecture == p.architecture && version::compare(&q.version, &p.version).is_eq()
                })
            });
            if same {
                continue;
            }
            let idx = self.packages.len();
            self.by_name.entry(p.name.clone()).or_default().push(idx);
            for prov in &p.provides {
                let v = prov.version.as_ref().map(|(_, v)| v.clone());
                self.providers.entry(prov.name.clone()).or_default().push((idx, v));
            }
            self.packages.push(p);
        }
    }

    /// Every version of the real package `name`, newest first.
    pub fn get(&self, name: &str) -> Vec<&Package> {
        let mut v: Vec<&Package> =
            self.by_name.get(name).map(|ids| ids.iter().map(|&i| &self.packages[i]).collect()).unwrap_or_default();
        v.sort_by(|a, b| version::compare(&b.version, &a.version).then_with(|| a.suite.cmp(&b.suite)));
        v
    }

    /// The newest version of the real package `name`.
    pub fn newest(&self, name: &str) -> Option<&Package> {
        self.get(name).into_iter().next()
    }

    /// Packages that provide `name`, with the version they provide it at (if any).
    pub fn providers(&self, name: &str) -> Vec<(&Package, Option<&str>)> {
        self.providers
            .get(name)
            .map(|v| v.iter().map(|(i, ver)| (&self.packages[*i], ver.as_deref())).collect())
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.packages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter()
    }

    /// Distinct real package names.
    pub fn names(&self) -> BTreeSet<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}

/// What a Release must satisfy beyond its signature: the keyring file, the certificates allowed
/// to sign (`debian.signers`; empty: any key of the keyring) and the Dates it must not go below.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    pub keyring: std::path::PathBuf,
    pub signers: Vec<String>,
    pub floors: Floors,
}

impl Trust {
    /// Trust in every key of `keyring`, with no replay floor but the cache's.
    pub fn keyring(keyring: &Path) -> Trust {
        Trust { keyring: keyring.to_path_buf(), ..Trust::default() }
    }
}

/// For each source: GET `dists/<suite>/InRelease` (always fresh), verify it against the keys of
/// `trust` at `now`, refuse it when it is older than `trust`'s floors or the cache's record
/// ([`replay`]), then fetch `<component>/binary-<arch>/Packages` (`.xz`, else `.gz`, else plain,
/// as the Release lists them) through the verified cache with the digest the Release promises,
/// counting the bytes on `progress`.
pub fn load(
    fetcher: &Fetcher,
    sources: &[Source],
    arch: &str,
    trust: &Trust,
    now: i64,
    progress: &Task,
) -> Result<Universe> {
    let keyring = &trust.keyring;
    // The keyring and its pins are the job's configuration: a problem there is exit 3.
    let keys = std::fs::read(keyring)
        .with_context(|| format!("cannot read the keyring {}", keyring.display()))
        .and_then(|bytes| {
            parse_keyring(&bytes).with_context(|| format!("cannot read the keyring {}", keyring.display()))
        })
        .and_then(|keys| pinned_keys(keys, &trust.signers, &keyring.display().to_string()))
        .map_err(crate::exit::usage)?;
    let mut universe = Universe::new(arch);
    for source in sources {
        let dists = join_url(&source.uri, &format!("dists/{}", source.suite));
        let inrelease_url = format!("{dists}/InRelease");
        // Messages name the mirror without the user:token its URL may hold.
        let shown = crate::fetch::redact_url(&inrelease_url);
        crate::fetch::http::check_scheme(&inrelease_url)?;
        let data = fetcher
            .http
            .get(&inrelease_url, None, &|_| {})
            .with_context(|| format!("cannot download the InRelease of suite {}", source.suite))?;
        let release = verify_inrelease_keys(&data, &keys, now, &shown)?;
        if release.suite != source.suite && release.codename != source.suite {
            bail!(
                "{shown}: signed for suite {:?} (codename {:?}), not {:?}: the mirror serves the wrong suite",
                release.suite,
                release.codename,
                source.suite
            );
        }
        replay::check(&fetcher.cache, &trust.floors, &source.suite, &release, &shown)?;
        universe.add(&source.suite, Vec::new());
        for component in &source.components {
            let base = format!("{component}/binary-{arch}/Packages");
            let Some((path, (sha256, size))) = ["xz", "gz", ""]
                .iter()
                .map(|ext| if ext.is_empty() { base.clone() } else { format!("{base}.{ext}") })
                .find_map(|p| release.sha256.get(&p).map(|d| (p, d.clone())))
            else {
                bail!("{shown}: the Release lists no {base} index (is {arch} an architecture of this suite?)");
            };
            let url = format!("{dists}/{path}");
            let want =
                Want { url: url.clone(), sha256, size: Some(size), label: format!("{} index {path}", source.suite) };
            let bytes = progress.bytes(&format!("{} {path}", source.suite), size);
            let compressed = fetcher.fetch(&want, &|n| bytes.add(n))?;
            drop(bytes);
            let url = crate::fetch::redact_url(&url);
            let text = decompress(&compressed, &path).with_context(|| format!("cannot decompress {url}"))?;
            let text = String::from_utf8(text).with_context(|| format!("{url}: not UTF-8"))?;
            let packages = parse_packages(&text, &source.uri, &source.suite, &url)?;
            universe.add(&source.suite, packages);
        }
        universe.releases.push((source.clone(), release));
    }
    Ok(universe)
}

/// Decompresses by file-name extension: `.xz`, `.gz`, `.zst`, or none (`Packages`, `data.tar`).
/// Anything else (`.bz2`, `.lzma`) is an error rather than being read as if it were plain. The
/// output is bounded ([`Bounded`]): a decompression bomb is refused long before memory runs out.
pub fn decompress(data: &[u8], name: &str) -> Result<Vec<u8>> {
    // The ratio is judged against the input consumed so far, so a bomb stops within its first
    // megabytes of output instead of at 200 times the whole input.
    let (input, consumed) = Counting::new(data);
    let decoder: Box<dyn Read + '_> = if name.ends_with(".xz") {
        Box::new(lzma_rust2::XzReader::new(input, true))
    } else if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else if name.ends_with(".zst") {
        Box::new(ruzstd::decoding::StreamingDecoder::new(input).map_err(|e| anyhow::anyhow!("zstd: {e}"))?)
    } else if name.ends_with(".tar") || !name.rsplit('/').next().unwrap_or(name).contains('.') {
        return Ok(data.to_vec());
    } else {
        bail!("{name}: unsupported compression (lucid reads .xz, .gz, .zst or uncompressed)");
    };
    let mut out = Vec::new();
    Bounded::streaming(decoder, consumed).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompress_by_name() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"abc").unwrap();
        assert_eq!(decompress(&gz.finish().unwrap(), "main/binary-amd64/Packages.gz").unwrap(), b"abc");
        assert_eq!(decompress(b"abc", "main/binary-amd64/Packages").unwrap(), b"abc");
        assert_eq!(decompress(b"abc", "data.tar").unwrap(), b"abc");
        assert!(decompress(b"abc", "data.tar.bz2").unwrap_err().to_string().contains("unsupported compression"));
        assert!(decompress(b"not xz", "Packages.xz").is_err());
    }
}
