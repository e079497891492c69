//! Assembly: locked packages and wheels become an in-memory tree, with what maintainer scripts
//! would have made, pruned and precompiled, cut into layer snapshots.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::debian;
use crate::fetch::{Fetcher, Want, join_url};
use crate::lock::Lock;
use crate::python;
use crate::rootfs::{Entry, Node, Tree, prune, system};
use crate::spec::{Image, Platform, Spec};
use crate::status::status;

use super::interpreters::Interpreter;

/// An image's content: the full tree, and the trees that successive layers add.
#[derive(Clone, Debug)]
pub struct Assembled {
    /// Everything in the image (the parent's content included).
    pub tree: Tree,
    /// Layers in order, each as the entries it adds (the parent's layers first).
    pub layers: Vec<Layer>,
    /// Debian packages in the image: (name, version).
    pub packages: Vec<(String, String)>,
    /// Wheels in the image: (name, version).
    pub wheels: Vec<(String, String)>,
}

/// One layer's entries and a description for the image history.
#[derive(Clone, Debug)]
pub struct Layer {
    pub tree: Tree,
    pub created_by: String,
}

/// The Debian major version the images are made from (for `/etc/os-release`).
const DEBIAN_VERSION: &str = "12";
/// The interpreter the Python images are built around.
const PYTHON: &str = "python3.11";

/// Builds `img` for `platform` from the lock, on top of `parent` (already assembled).
#[allow(clippy::too_many_arguments)]
pub fn assemble_image(
    spec: &Spec,
    img: &Image,
    platform: &Platform,
    lock: &Lock,
    parent: Option<&Assembled>,
    interpreter: Interpreter,
    sources: &[debian::mirror::Source],
    fetcher: &Fetcher,
    _epoch: i64,
) -> Result<Assembled> {
    let plat = platform.to_string();
    let locked = lock.image(&img.name, &plat).with_context(|| {
        format!("the lock {} has no entry for {} on {plat}; run `lucid lock`", spec.lock_path().display(), img.name)
    })?;
    let base = parent.map(|p| p.tree.clone()).unwrap_or_default();
    let mut tree = base.clone();

    // Every package, decoded: remembered from an earlier build, or fetched (verified against the
    // lock's SHA-256) and decoded now.
    let mut decoded: Vec<Option<debian::deb::Decoded>> =
        locked.packages.iter().map(|p| debian::deb::remembered(&fetcher.cache, &p.sha256)).collect();
    let missing: Vec<&crate::lock::LockedPackage> =
        locked.packages.iter().zip(&decoded).filter(|(_, d)| d.is_none()).map(|(p, _)| p).collect();
    let wants = missing
        .iter()
        .map(|p| {
            let source = sources.iter().find(|s| s.suite == p.suite).with_context(|| {
                format!("package {} comes from suite {}, which no configured source serves", p.name, p.suite)
            })?;
            Ok(Want {
                url: join_url(&source.uri, &p.filename),
                sha256: p.sha256.clone(),
                size: Some(p.size),
                label: format!("{} {} ({})", p.name, p.version, p.architecture),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let debs = fetcher.fetch_all("packages", &wants)?;
    let mut fetched = missing.iter().zip(&debs);
    for (pkg, slot) in locked.packages.iter().zip(decoded.iter_mut()) {
        if slot.is_none() {
            let (_, deb) = fetched.next().expect("one fetched .deb per missing package");
            *slot = Some(
                debian::deb::decode_and_remember(deb, &pkg.sha256, &pkg.name, &fetcher.cache)
                    .with_context(|| format!("cannot unpack {} {} ({})", pkg.name, pkg.version, pkg.filename))?,
            );
        }
    }
    for (pkg, d) in locked.packages.iter().zip(&decoded) {
        let d = d.as_ref().expect("every package decoded");
        let contents = debian::deb::unpack_decoded(d, &pkg.name, &mut tree)
            .with_context(|| format!("cannot unpack {} {} ({})", pkg.name, pkg.version, pkg.filename))?;
        system::add_dpkg_status(&mut tree, &pkg.name, &contents.control)?;
    }

    if parent.is_none() {
        system::add_accounts(&mut tree, &spec.user)?;
        system::add_tmp(&mut tree)?;
        system::add_os_files(&mut tree, DEBIAN_VERSION)?;
    }
    system::add_localtime(&mut tree)?;
    system::add_ca_bundle(&mut tree)?;
    system::add_python_links(&mut tree, PYTHON)?;
    if tree.contains("bin/dash") && !tree.contains("bin/sh") {
        tree.insert("bin/sh", Entry::symlink("dash"))?;
    }
    prune::prune(&mut tree, &img.prune, |k| base.get(k).is_none())?;

    if let (Some(_), Interpreter::Own(interpreters)) = (&img.python, interpreter) {
        interpreters.publish(&img.name, tree.clone());
    }

    let mut layers: Vec<Layer> = parent.map(|p| p.layers.clone()).unwrap_or_default();
    let system_tree = tree.clone();
    let mut wheels: Vec<(String, String)> = parent.map(|p| p.wheels.clone()).unwrap_or_default();

    if let Some(py) = &img.python {
        if !locked.wheels.is_empty() {
            install_wheels(&mut tree, locked, &py.site_packages, fetcher)?;
            wheels.extend(locked.wheels.iter().map(|w| (w.name.clone(), w.version.clone())));
        }
        if py.compile && tree.contains(&format!("usr/bin/{PYTHON}")) {
            let dirs =
                ["usr/lib/python3.11", "usr/lib/python3/dist-packages", py.site_packages.trim_start_matches('/')];
            let dirs: Vec<&str> = dirs.into_iter().filter(|d| tree.contains(d)).collect();
            // The host platform's own tree compiles; a foreign platform borrows the host's.
            let python_tree = match interpreter {
                Interpreter::Own(_) => std::sync::Arc::new(tree.clone()),
                Interpreter::Borrow(interpreters) => interpreters.wait(&img.name)?,
            };
            let stats = python::compile::compile_cached(&mut tree, &dirs, &python_tree, Some(&fetcher.cache))
                .with_context(|| format!("cannot precompile the Python files of {}", img.name))?;
            status(
                "Compiled",
                format!(
                    "{} Python files to byte code ({} skipped, {}) in {:.1}s",
                    stats.compiled,
                    stats.skipped.len(),
                    crate::spec::format_size(stats.bytes_added),
                    stats.millis as f64 / 1000.0
                ),
            );
        }
    }

    // Layers: the system (packages and what the builder made), then what Python added on top
    // (wheels and byte code), so a requirements change rebuilds only the small top layer.
    let system_delta = system_tree.delta_from(&base)?;
    layers.push(Layer {
        tree: system_delta,
        created_by: format!("lucid: {} Debian packages ({})", locked.packages.len(), img.name),
    });
    let python_delta = tree.delta_from(&system_tree)?;
    if !python_delta.is_empty() {
        layers.push(Layer {
            tree: python_delta,
            created_by: format!("lucid: {} wheels and precompiled byte code ({})", locked.wheels.len(), img.name),
        });
    }

    let mut packages: Vec<(String, String)> = parent.map(|p| p.packages.clone()).unwrap_or_default();
    packages.extend(locked.packages.iter().map(|p| (p.name.clone(), p.version.clone())));
    packages.sort();
    wheels.sort();
    Ok(Assembled { tree, layers, packages, wheels })
}

/// Fetches the locked wheels (from the cache, or the package index by file name) and installs
/// them into `site_packages`, which a `.pth` file puts on `sys.path`.
fn install_wheels(
    tree: &mut Tree,
    locked: &crate::lock::ImageLock,
    site_packages: &str,
    fetcher: &Fetcher,
) -> Result<()> {
    let mut missing: BTreeMap<String, Vec<&crate::lock::LockedWheel>> = BTreeMap::new();
    for w in &locked.wheels {
        if fetcher.cache.get(&w.sha256)?.is_none() {
            missing.entry(w.name.clone()).or_default().push(w);
        }
    }
    let mut urls: BTreeMap<String, String> = BTreeMap::new();
    if !missing.is_empty() {
        let index = python::index::index_url()?;
        for (name, wheels) in &missing {
            let files = python::index::list_files(&fetcher.http, &index, name)?;
            for w in wheels {
                let f = files.iter().find(|f| f.filename == w.filename).with_context(|| {
                    format!("the package index no longer lists {} (locked for {name} {})", w.filename, w.version)
                })?;
                urls.insert(w.sha256.clone(), f.url.clone());
            }
        }
    }
    let wants: Vec<Want> = locked
        .wheels
        .iter()
        .map(|w| Want {
            url: urls.get(&w.sha256).cloned().unwrap_or_default(),
            sha256: w.sha256.clone(),
            size: None,
            label: w.filename.clone(),
        })
        .collect();
    let blobs = fetcher.fetch_all("wheels", &wants)?;
    let site = site_packages.trim_start_matches('/');
    for (w, data) in locked.wheels.iter().zip(&blobs) {
        python::wheel::install(data, &w.filename, site, tree)
            .with_context(|| format!("cannot install {}", w.filename))?;
    }
    // Debian's python only searches dist-packages: a .pth file there adds site-packages.
    let pth = format!("usr/local/lib/{PYTHON}/dist-packages/lucid-site-packages.pth");
    if !matches!(tree.get(&pth).map(|e| &e.node), Some(Node::File(_)))
        && site != format!("usr/local/lib/{PYTHON}/dist-packages")
    {
        tree.insert(&pth, Entry::file(format!("{site_packages}\n"), 0o644))?;
    }
    Ok(())
}
