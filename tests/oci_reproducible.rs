//! Reproducibility: the same trees, mtime and config give the same bytes, hence the same
//! digests, in every output we write.

#[path = "support/oci_image.rs"]
mod oci_image;

use lucid::oci::{archive, layout, read};

#[test]
fn building_twice_gives_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = oci_image::build(&tmp.path().join("a-layers"));
    let b = oci_image::build(&tmp.path().join("b-layers"));
    assert_eq!(a.manifest_digest, b.manifest_digest);
    assert_eq!(a.config_digest, b.config_digest);

    let (la, lb) = (tmp.path().join("a"), tmp.path().join("b"));
    layout::write_layout(&la, &[(&a, vec!["latest".into()])]).unwrap();
    layout::write_layout(&lb, &[(&b, vec!["latest".into()])]).unwrap();
    for name in ["index.json", "oci-layout"] {
        assert_eq!(std::fs::read(la.join(name)).unwrap(), std::fs::read(lb.join(name)).unwrap(), "{name}");
    }
    let va = read::open_layout(&la, Some("latest")).unwrap();
    let vb = read::open_layout(&lb, Some("latest")).unwrap();
    assert_eq!(va.manifest.as_ref().unwrap().2, a.manifest_digest);
    assert_eq!(vb.manifest.as_ref().unwrap().2, a.manifest_digest);
    va.verify().unwrap();

    let (fa, fb) = (tmp.path().join("a.tar"), tmp.path().join("b.tar"));
    archive::write_docker_archive(&fa, &a, &["lucid-oci-test:latest".into()]).unwrap();
    archive::write_docker_archive(&fb, &b, &["lucid-oci-test:latest".into()]).unwrap();
    assert_eq!(std::fs::read(&fa).unwrap(), std::fs::read(&fb).unwrap(), "docker-archives are byte-identical");
}

#[test]
fn a_different_mtime_changes_the_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = oci_image::build(&tmp.path().join("a"));
    let later = lucid::oci::write_layer(&oci_image::base_tree(), oci_image::MTIME + 1, &tmp.path().join("b")).unwrap();
    assert_ne!(a.layers[0].digest, later.digest);
}
