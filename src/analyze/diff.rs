//! `lucid diff A B`: what changed between two images, by package and by path, with bytes.

use std::collections::BTreeMap;

use super::ImageAnalysis;

pub use crate::findings::figures::{Change, ImageDiff, PackageChange, PathChange};

fn signed(c: &PathChange) -> i128 {
    i128::from(c.bytes_to) - i128::from(c.bytes_from)
}

/// Compares `a` (from) with `b` (to).
pub fn diff(a: &ImageAnalysis, b: &ImageAnalysis) -> ImageDiff {
    let key = |o: &super::Owner| (o.kind, o.name.clone());
    let pa: BTreeMap<_, _> = a.owners.iter().map(|r| (key(&r.owner), r)).collect();
    let pb: BTreeMap<_, _> = b.owners.iter().map(|r| (key(&r.owner), r)).collect();
    let mut packages = Vec::new();
    for (k, ra) in &pa {
        match pb.get(k) {
            None => packages.push(PackageChange {
                kind: k.0,
                name: k.1.clone(),
                change: Change::Removed,
                from: Some(ra.owner.version.clone()),
                to: None,
                bytes_from: ra.bytes,
                bytes_to: 0,
            }),
            Some(rb) if rb.owner.version != ra.owner.version || rb.bytes != ra.bytes => packages.push(PackageChange {
                kind: k.0,
                name: k.1.clone(),
                change: Change::Changed,
                from: Some(ra.owner.version.clone()),
                to: Some(rb.owner.version.clone()),
                bytes_from: ra.bytes,
                bytes_to: rb.bytes,
            }),
            Some(_) => {}
        }
    }
    for (k, rb) in &pb {
        if !pa.contains_key(k) {
            packages.push(PackageChange {
                kind: k.0,
                name: k.1.clone(),
                change: Change::Added,
                from: None,
                to: Some(rb.owner.version.clone()),
                bytes_from: 0,
                bytes_to: rb.bytes,
            });
        }
    }
    packages.sort_by(|x, y| x.change.cmp(&y.change).then_with(|| x.name.cmp(&y.name)));

    let owner_of = |an: &ImageAnalysis, i: Option<usize>| i.and_then(|i| an.owner_list.get(i)).map(|o| o.name.clone());
    let fa: BTreeMap<&str, &super::FileInfo> = a.contents.iter().map(|f| (f.path.as_str(), f)).collect();
    let fb: BTreeMap<&str, &super::FileInfo> = b.contents.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut paths = Vec::new();
    let mut unchanged_files = 0;
    for (p, x) in &fa {
        match fb.get(p) {
            None => paths.push(PathChange {
                path: format!("/{p}"),
                change: Change::Removed,
                bytes_from: x.size,
                bytes_to: 0,
                owner: owner_of(a, x.owner),
            }),
            Some(y) if y.size != x.size || y.hash != x.hash => paths.push(PathChange {
                path: format!("/{p}"),
                change: Change::Changed,
                bytes_from: x.size,
                bytes_to: y.size,
                owner: owner_of(b, y.owner),
            }),
            Some(_) => unchanged_files += 1,
        }
    }
    for (p, y) in &fb {
        if !fa.contains_key(p) {
            paths.push(PathChange {
                path: format!("/{p}"),
                change: Change::Added,
                bytes_from: 0,
                bytes_to: y.size,
                owner: owner_of(b, y.owner),
            });
        }
    }
    paths.sort_by(|x, y| signed(y).abs().cmp(&signed(x).abs()).then_with(|| x.path.cmp(&y.path)));
    let added_bytes = paths.iter().map(|c| c.bytes_to.saturating_sub(c.bytes_from)).sum();
    let removed_bytes = paths.iter().map(|c| c.bytes_from.saturating_sub(c.bytes_to)).sum();
    ImageDiff {
        from: format!("{} ({})", a.reference, a.platform),
        to: format!("{} ({})", b.reference, b.platform),
        size_from: a.size,
        size_to: b.size,
        compressed_from: a.compressed,
        compressed_to: b.compressed,
        layers_from: a.history.iter().filter(|h| h.index.is_some()).count(),
        layers_to: b.history.iter().filter(|h| h.index.is_some()).count(),
        packages,
        paths,
        added_bytes,
        removed_bytes,
        unchanged_files,
    }
}
