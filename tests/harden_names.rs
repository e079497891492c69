//! Hostile file names (issue 14, point 10): a layer whose file names carry terminal escapes
//! (`ESC ] 0 ; pwned BEL` retitles the terminal, `ESC [ 2 J` clears it) and a newline that would
//! forge a report line. The text and Markdown reports of `lucid verify` and `lucid report` show
//! the names with the control characters written as visible escapes, never raw.

mod support;
#[path = "support/verify_images.rs"]
mod verify_images;

use verify_images::{good_config, good_tree, raw_layer, raw_tar_mode};

/// The names, as stored in the layer (setuid, so verify lists them; 64 KiB, so report's largest
/// files list them).
const TITLE: &str = "usr/bin/\x1b]0;pwned\x07";
const CLEAR: &str = "usr/bin/\x1b[2J\rforged\nPASS";

fn hostile_layout(dir: &std::path::Path) -> String {
    let blobs = dir.join("blobs-src");
    let base = lucid::oci::write_layer(&good_tree(), verify_images::MTIME, &blobs).unwrap();
    let mut tar = raw_tar_mode(TITLE, &[7u8; 65536], 0o4755);
    tar.truncate(tar.len() - 1024);
    tar.extend(raw_tar_mode(CLEAR, &[9u8; 65536], 0o4755));
    let upper = raw_layer(&blobs, &tar);
    let mut config = good_config();
    config.platform = lucid::platform::Platform::host();
    let image = lucid::oci::assemble(config, vec![base, upper]).unwrap();
    let layout = dir.join("layout");
    lucid::oci::layout::write_layout(&layout, &[(&image, vec!["latest".into()])]).unwrap();
    format!("oci:{}:latest", layout.display())
}

/// Runs lucid with `args`; returns stdout (whatever the exit code: verify exits 1 on findings).
fn run(args: &[&str]) -> String {
    let out = support::lucid().current_dir(std::env::temp_dir()).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!stdout.is_empty(), "lucid {args:?} printed nothing: {}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn terminal_escapes_in_file_names_are_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let reference = hostile_layout(dir.path());
    let outputs = [
        ("verify text", run(&["verify", &reference, "--no-runtime", "--ignore-file", "/nonexistent/.lucidignore"])),
        ("verify markdown", run(&["verify", &reference, "--no-runtime", "--format", "markdown"])),
        ("report text", run(&["report", &reference])),
        ("report markdown", run(&["report", &reference, "--format", "markdown"])),
    ];
    for (what, out) in &outputs {
        let raw: Vec<char> = out.chars().filter(|c| c.is_control() && *c != '\n').collect();
        assert!(raw.is_empty(), "{what}: raw control characters {raw:?} in:\n{out}");
        assert!(!out.lines().any(|l| l.trim_start() == "PASS"), "{what}: a file name forged a line:\n{out}");
    }
    // Where the names are shown, they are shown escaped.
    for (what, out) in [&outputs[0], &outputs[2]] {
        assert!(out.contains(r"\x1b]0;pwned\x07"), "{what}:\n{out}");
        assert!(out.contains(r"\x1b[2J\rforged\nPASS"), "{what}:\n{out}");
    }
}

#[test]
fn a_platform_name_with_escapes_is_refused_not_printed() {
    // The config's variant is printed in every report header and names a host file (the binfmt
    // entry of an emulated architecture): it must be a plain name.
    for variant in ["v8\x1b]0;pwned\x07", "../../../etc/passwd"] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = good_config();
        config.platform = lucid::platform::Platform::host();
        config.platform.variant = Some(variant.to_string());
        verify_images::write(dir.path(), &good_tree(), None, config);
        for reference in [
            format!("oci:{}:latest", dir.path().join("layout").display()),
            format!("docker-archive:{}", dir.path().join("image.tar").display()),
        ] {
            let o = support::lucid().args(["verify", &reference, "--no-runtime"]).output().unwrap();
            let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert_eq!(o.status.code(), Some(2), "{said}");
            assert!(!said.contains('\x1b') && !said.contains('\x07') && said.contains("variant"), "{said:?}");
        }
    }
}
