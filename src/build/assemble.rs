//! Assembly: locked packages and wheels become an in-memory tree, with what maintainer scripts
//! would have made, pruned and precompiled, cut into layer snapshots.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

use std::sync::Arc;

use crate::debian;
use crate::fetch::{Fetcher, Want, join_url};
use crate::java::{self, jlink};
use crate::lock::{LockedPackage, LockedWheel};
use crate::python;
use crate::rootfs::{self, Entry, Node, Origin, Tree, prune, system};
use crate::spec::{Java, JavaRuntime, Platform};

use super::context::Target;
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
    /// Environment the builder sets (`JAVA_HOME`, `JAVA_VERSION`); the spec's `env` wins over it.
    pub env: BTreeMap<String, String>,
}

/// The most layers an image may have, its parents' included: overlayfs stacks about 128 lower
/// directories, and images built on this one add their own.
const MAX_IMAGE_LAYERS: usize = 96;

/// One layer's entries and a description for the image history.
#[derive(Clone, Debug)]
pub struct Layer {
    pub tree: Tree,
    pub created_by: String,
}

/// Builds the target's image for its platform from the lock, on top of `parent` (already
/// assembled).
pub fn assemble_image(t: &Target, parent: Option<&Assembled>, interpreter: Interpreter) -> Result<Assembled> {
    let (spec, img, platform, fetcher) = (t.ctx.spec, t.image, t.platform, t.ctx.fetcher);
    let locked = t.locked()?;
    let base = parent.map(|p| p.tree.clone()).unwrap_or_default();
    let mut tree = base.clone();
    let distribution = spec.distribution(&img.distribution);
    // On a merged-/usr release packages are unpacked as if the links were not there, then merged.
    if distribution.merged_usr {
        system::unmerge_usr(&mut tree);
    }

    // Every package, decoded: remembered from an earlier build, or fetched (verified against the
    // lock's SHA-256) and decoded now.
    let mut decoded: Vec<Option<debian::deb::Decoded>> =
        locked.packages.iter().map(|p| debian::deb::remembered(&fetcher.cache, &p.sha256)).collect();
    let missing: Vec<LockedPackage> =
        locked.packages.iter().zip(&decoded).filter(|(_, d)| d.is_none()).map(|(p, _)| p.clone()).collect();
    let debs = fetch_debs(t, &missing, "packages")?;
    let mut fetched = debs.iter();
    for (pkg, slot) in locked.packages.iter().zip(decoded.iter_mut()) {
        if slot.is_none() {
            let deb = fetched.next().expect("one fetched .deb per missing package");
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
    if distribution.merged_usr {
        system::merge_usr(&mut tree).with_context(|| format!("{} ({})", img.name, distribution.name))?;
    }

    if parent.is_none() {
        system::add_accounts(&mut tree, &spec.user)?;
        system::add_tmp(&mut tree)?;
        system::add_os_files(&mut tree, &distribution.version, &distribution.codename)?;
        let anchors = spec
            .trust
            .iter()
            .map(|p| {
                let file = spec.dir().join(p);
                // Inside the spec's directory even through links: the spec names files beside it,
                // never the host's (its keys, its own trust store).
                let real =
                    std::fs::canonicalize(&file).with_context(|| format!("trust: cannot read {}", file.display()))?;
                if !std::fs::canonicalize(spec.dir()).is_ok_and(|dir| real.starts_with(dir)) {
                    bail!("trust: {} leads outside the spec's directory ({})", file.display(), real.display());
                }
                let data = std::fs::read(&real).with_context(|| format!("trust: cannot read {}", file.display()))?;
                Ok((file.display().to_string(), data))
            })
            .collect::<Result<Vec<_>>>()?;
        system::add_trust_anchors(&mut tree, &anchors)?;
    }
    system::add_localtime(&mut tree)?;
    system::add_ca_bundle(&mut tree)?;
    if let Some(py) = &img.python {
        system::add_python_links(&mut tree, &py.program())?;
    }
    // Through the links of a merged-/usr tree, where /bin is usr/bin.
    if tree.resolve("bin/dash").is_some() && tree.resolve("bin/sh").is_none() {
        let dir = tree.resolve("bin").unwrap_or_else(|| "bin".to_string());
        tree.insert(&format!("{dir}/sh"), Entry::symlink("dash"))?;
    }
    if img.debug {
        system::move_busybox(&mut tree, crate::spec::DEBUG_SHELL_DIR)
            .with_context(|| format!("{}: the debug shell", img.name))?;
    }
    prune::prune(&mut tree, &img.prune, |k| base.get(k).is_none())?;

    // A JDK installed as a package brings Debian's CDS archives (built with the package, so as
    // fixed as the rest of it); `cds: false` drops them.
    if let Some(j) = img.java.as_ref().filter(|j| j.runtime == JavaRuntime::Jdk && !j.cds) {
        let home = jlink::find_home(&tree, &j.jdk)?;
        for name in ["classes.jsa", "classes_nocoops.jsa"] {
            let key = format!("{home}/lib/server/{name}");
            if base.get(&key).is_none() {
                tree.remove(&key);
            }
        }
    }
    // After pruning: a pruned library must not be listed.
    let ld_cache = system::add_ld_cache(&mut tree, platform)?;
    t.progress.step("Indexed", format!("{} shared libraries in /{}", ld_cache.entries.len(), rootfs::ldcache::PATH));
    for skipped in &ld_cache.skipped {
        t.progress.note("Skipped", format!("{} in /{}: {}", skipped.path, rootfs::ldcache::PATH, skipped.reason));
    }
    let own_packages: Vec<String> = locked.packages.iter().map(|p| p.name.clone()).collect();
    system::add_dpkg_md5sums(&mut tree, &own_packages)?;
    if let (Some(_), Interpreter::Own(interpreters)) = (&img.python, interpreter) {
        interpreters.publish(&img.name, tree.clone());
    }

    let mut layers: Vec<Layer> = parent.map(|p| p.layers.clone()).unwrap_or_default();
    let system_tree = tree.clone();
    let mut wheels: Vec<(String, String)> = parent.map(|p| p.wheels.clone()).unwrap_or_default();

    if let Some(py) = &img.python {
        if !locked.wheels.is_empty() {
            install_wheels(t, &mut tree, py)?;
            wheels.extend(locked.wheels.iter().map(|w| (w.name.clone(), w.version.clone())));
        }
        if py.compile && tree.contains(&format!("usr/bin/{}", py.program())) {
            let stdlib = format!("usr/lib/{}", py.program());
            let dirs = [stdlib.as_str(), "usr/lib/python3/dist-packages", py.site_packages.trim_start_matches('/')];
            let dirs: Vec<&str> = dirs.into_iter().filter(|d| tree.contains(d)).collect();
            // The host platform's own tree compiles; a foreign platform borrows the host's.
            let python_tree = match interpreter {
                Interpreter::Own(_) => std::sync::Arc::new(tree.clone()),
                Interpreter::Borrow(interpreters) => interpreters.wait(&img.name)?,
            };
            let stats = python::compile::compile_cached(
                &mut tree,
                &dirs,
                &py.compile_skip,
                &py.version,
                &python_tree,
                Some(&fetcher.cache),
            )
            .with_context(|| format!("cannot precompile the Python files of {}", img.name))?;
            t.progress.step(
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

    let mut env: BTreeMap<String, String> = parent.map(|p| p.env.clone()).unwrap_or_default();
    if let Some(j) = &img.java {
        env.extend(add_java(t, &mut tree, j)?);
    }

    // Layers: the system (packages and what the builder made, cut by build::layering so that a
    // package update changes a layer of its own), then what Python or Java added on top (wheels
    // and byte code; the jlink runtime and trust store), so a requirements or module change
    // rebuilds only the top layer.
    let system_delta = system_tree.delta_from(&base)?;
    let versions: BTreeMap<String, String> =
        locked.packages.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
    // A debug twin adds exactly one layer (its busybox and what the builder wrote for it).
    let budget = if img.debug { 1 } else { spec.layers };
    layers.extend(super::layering::split(&system_delta, budget, &versions, &img.name)?);
    // A class-data-sharing archive is a layer of its own, the last: it is the one artefact whose
    // bytes a JVM run decides (see java::jlink::dump_cds), so it is kept apart from the rest.
    // An archive inherited from the image this one extends stays where its parent put it.
    let mut below_cds = tree.clone();
    below_cds
        .retain(|k, e| base.get(k).is_some() || !matches!(&e.origin, Origin::Java(o) if &**o == jlink::CDS_ORIGIN));
    let mut top_delta = below_cds.delta_from(&system_tree)?;
    // The Java trust store changes with ca-certificates, not with the runtime: a layer of its own
    // (below the runtime's), so a CA update does not change the runtime's tens of megabytes.
    // With `layers: 1` the image keeps the layering before build::layering: the store stays.
    if let Some(store) = top_delta.get(java::truststore::PATH).cloned().filter(|_| spec.layers > 1) {
        top_delta.remove(java::truststore::PATH);
        let mut tree = Tree::new();
        for dir in ["etc", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/java"] {
            if let Some(e) = below_cds.get(dir) {
                tree.insert(dir, e.clone())?;
            }
        }
        tree.insert(java::truststore::PATH, store)?;
        layers.push(Layer {
            tree,
            created_by: format!("lucid: Java trust store, from the CA certificates ({})", img.name),
        });
        if top_delta.iter_under("etc/ssl/certs/java").next().is_none() {
            top_delta.remove("etc/ssl/certs/java");
        }
    }
    // Directories alone (those above the trust store) add nothing.
    if top_delta.iter().any(|(_, e)| !matches!(e.node, Node::Dir)) {
        let created_by = match &img.java {
            Some(j) if j.runtime == JavaRuntime::Jlink => {
                format!("lucid: jlink runtime ({} modules) ({})", j.modules().len(), img.name)
            }
            Some(_) => format!("lucid: Java links and environment ({})", img.name),
            None => format!("lucid: {} wheels and precompiled byte code ({})", locked.wheels.len(), img.name),
        };
        layers.push(Layer { tree: top_delta, created_by });
    }
    let cds_delta = tree.delta_from(&below_cds)?;
    if !cds_delta.is_empty() {
        layers.push(Layer {
            tree: cds_delta,
            created_by: format!("lucid: Java class-data-sharing archive ({})", img.name),
        });
    }

    if layers.len() > MAX_IMAGE_LAYERS {
        bail!(
            "{} would have {} layers (its own and those of the images it extends), more than the {MAX_IMAGE_LAYERS} \
             that leave room under the overlay file system's limit of about 128 for the layers of images built on \
             it: lower `layers:` in the spec",
            img.name,
            layers.len()
        );
    }
    let mut packages: Vec<(String, String)> = parent.map(|p| p.packages.clone()).unwrap_or_default();
    packages.extend(locked.packages.iter().map(|p| (p.name.clone(), p.version.clone())));
    packages.sort();
    wheels.sort();
    Ok(Assembled { tree, layers, packages, wheels, env })
}

/// What to fetch for the locked `wheels`. The package index is asked for the URLs of those the
/// caches (local, and any shared build cache) do not hold, by file name: the lock names a wheel
/// by its file and SHA-256, not by a URL, which an index may move.
pub(super) fn wheel_wants(fetcher: &Fetcher, wheels: &[LockedWheel]) -> Result<Vec<Want>> {
    let want =
        |w: &LockedWheel, url: String| Want { url, sha256: w.sha256.clone(), size: None, label: w.filename.clone() };
    let mut missing: BTreeMap<String, Vec<&LockedWheel>> = BTreeMap::new();
    for w in wheels {
        if fetcher.stored(&want(w, String::new()))?.is_none() {
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
    Ok(wheels.iter().map(|w| want(w, urls.get(&w.sha256).cloned().unwrap_or_default())).collect())
}

/// Fetches the locked `.deb` files (from the cache, or the source serving their suite), each
/// verified against its recorded SHA-256; in the order of `packages`.
fn fetch_debs(t: &Target, packages: &[LockedPackage], what: &str) -> Result<Vec<Arc<Vec<u8>>>> {
    t.ctx.fetcher.fetch_all(what, &deb_wants(t.ctx.sources, packages)?, t.progress)
}

/// What to fetch for the locked `packages`: each from the source that serves its suite.
pub(super) fn deb_wants(sources: &[debian::Source], packages: &[LockedPackage]) -> Result<Vec<Want>> {
    packages
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
        .collect()
}

/// Adds the image's Java (see [`crate::java`]): a jlink runtime linked from the locked tools, or
/// the JDK already unpacked from the image's packages; then the trust store, links and, when the
/// spec asks, a CDS archive. Returns `JAVA_HOME` and `JAVA_VERSION` for the image config.
fn add_java(t: &Target, tree: &mut Tree, java: &Java) -> Result<BTreeMap<String, String>> {
    let (spec, img, platform, lock, fetcher) = (t.ctx.spec, t.image, t.platform, t.ctx.lock, t.ctx.fetcher);
    let progress = t.progress;
    let host = Platform::host();
    let runs_here = platform.arch == host.arch;
    let home = match java.runtime {
        JavaRuntime::Jlink => {
            let home = java.jlink_home().to_string();
            if spec.makes_jlink_runtime(img).is_some() {
                let plat = platform.to_string();
                let target_tools = &lock.image(&img.name, &plat).map(|l| l.tools.clone()).unwrap_or_default();
                let host_tools = lock.image(&img.name, &host.to_string()).map(|l| l.tools.clone()).with_context(|| {
                    format!(
                        "jlink for {platform} runs the JDK of this host's platform ({host}), which the lock does not \
                         have for {}: add {host} to the spec's platforms and run `lucid lock`",
                        img.name
                    )
                })?;
                let target_jdk = target_tools.iter().find(|p| p.name == java.jdk).with_context(|| {
                    format!("the lock has no tools entry {} for {} on {plat}; run `lucid lock`", java.jdk, img.name)
                })?;
                let req = jlink::Request::new(&java.modules(), platform.debian_arch(), host.debian_arch(), java.cds)
                    .with_user_home(&spec.user.home);
                let key = req.key(&host_tools, target_jdk);
                let linked = jlink::link(&fetcher.cache, &req, &key, || {
                    progress.step("Unpacking", format!("{} ({} packages) to run jlink", java.jdk, host_tools.len()));
                    let debs = fetch_debs(t, &host_tools, "tools")?;
                    let merged = spec.distribution(&img.distribution).merged_usr;
                    let host_jdk = jlink::Jdk::unpack(&java.jdk, &host_tools, &debs, merged)?;
                    let target_jdk = if runs_here {
                        None
                    } else {
                        let debs = fetch_debs(t, std::slice::from_ref(target_jdk), "jmods")?;
                        Some(jlink::Jdk::unpack(&java.jdk, std::slice::from_ref(target_jdk), &debs, merged)?)
                    };
                    Ok((host_jdk, target_jdk))
                })
                .with_context(|| format!("cannot make the Java runtime of {} for {platform}", img.name))?;
                if let Some(reason) = &linked.distrusted {
                    progress.note(
                        "Distrusted",
                        format!("the cached jlink runtime {}: {reason}; linked it again", &linked.key[..12]),
                    );
                }
                if linked.cached {
                    progress
                        .step("Cached", format!("jlink runtime {} ({} modules)", &linked.key[..12], req.modules.len()));
                } else if linked.cds_dumps > 0 {
                    progress.step(
                        "Linked",
                        format!(
                            "{} modules with jlink in {:.1}s, CDS archive {} in {:.1}s ({} dumps)",
                            req.modules.len(),
                            linked.jlink_millis as f64 / 1000.0,
                            crate::spec::format_size(linked.cds_bytes),
                            linked.cds_millis as f64 / 1000.0,
                            linked.cds_dumps
                        ),
                    );
                } else {
                    progress.step(
                        "Linked",
                        format!(
                            "{} modules with jlink in {:.1}s",
                            req.modules.len(),
                            linked.jlink_millis as f64 / 1000.0
                        ),
                    );
                }
                if java.cds && !req.dumps_cds() {
                    progress.note("Skipped", format!("CDS archive: a {platform} JVM does not run on this {host} host"));
                }
                crate::java::place_runtime(tree, &linked.runtime, &home)?;
            }
            home
        }
        JavaRuntime::Jdk => {
            let home = format!("/{}", jlink::find_home(tree, &java.jdk)?);
            let shipped = format!("{}/{}", home.trim_start_matches('/'), jlink::CDS_ARCHIVE);
            if java.cds && tree.contains(&shipped) {
                progress.step("Kept", format!("the CDS archive Debian ships in /{shipped}"));
            } else if java.cds && runs_here {
                let started = std::time::Instant::now();
                let bytes = crate::java::cds_in_tree(tree, &home)
                    .with_context(|| format!("cannot dump the CDS archive of {}", img.name))?;
                progress.step(
                    "Dumped",
                    format!(
                        "CDS archive of {home}: {} in {:.1}s",
                        crate::spec::format_size(bytes),
                        started.elapsed().as_secs_f64()
                    ),
                );
            }
            home
        }
    };
    let done = crate::java::finish(tree, &home, super::FILE_MTIME)
        .with_context(|| format!("cannot finish the Java of {}", img.name))?;
    progress.step("Trusted", format!("{} CA certificates in /{}", done.anchors, java::truststore::PATH));
    let mut env = BTreeMap::new();
    env.insert("JAVA_HOME".to_string(), done.home);
    env.insert("JAVA_VERSION".to_string(), done.version);
    Ok(env)
}

/// Fetches the locked wheels (from the cache, or the package index by file name) and installs
/// them into `site_packages`, which a `.pth` file puts on `sys.path`.
fn install_wheels(t: &Target, tree: &mut Tree, py: &crate::spec::Python) -> Result<()> {
    let site_packages = &py.site_packages;
    let (locked, fetcher) = (t.locked()?, t.ctx.fetcher);
    let wants = wheel_wants(fetcher, &locked.wheels)?;
    let blobs = fetcher.fetch_all("wheels", &wants, t.progress)?;
    let site = site_packages.trim_start_matches('/');
    for (w, data) in locked.wheels.iter().zip(&blobs) {
        python::wheel::install(data, &w.filename, site, tree)
            .with_context(|| format!("cannot install {}", w.filename))?;
    }
    // Debian's python only searches dist-packages: a .pth file there adds site-packages.
    let dist_packages = format!("usr/local/lib/{}/dist-packages", py.program());
    let pth = format!("{dist_packages}/lucid-site-packages.pth");
    if !matches!(tree.get(&pth).map(|e| &e.node), Some(Node::File(_))) && site != dist_packages {
        tree.insert(&pth, Entry::file(format!("{site_packages}\n"), 0o644))?;
    }
    Ok(())
}
