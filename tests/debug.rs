//! `lucid debug` against a real engine: the spec's toolbox beside running `lucid-java-base` and
//! `lucid-python-base` containers (a JVM thread dump through jattach, a Python stack dump through
//! py-spy), as the target's own user, leaving the target's filesystem as `docker diff` saw it
//! before; a shell in an image that has none; the errors a user meets; nothing left behind.

#[path = "support/oci_image.rs"]
mod oci_image;
mod support;

use std::path::Path;
use std::process::Output;

use support::{TOOLBOX, docker, lucid, require_docker, require_tool, spec_images};

/// A container of this test run, removed when dropped.
struct Running(String);

impl Running {
    fn start(name: &str, args: &[&str]) -> Running {
        let name = format!("lucid-debug-test-{name}-{}", std::process::id());
        let _ = std::process::Command::new("docker").args(["rm", "-f", &name]).output();
        docker(&[&["run", "-d", "--name", &name][..], args].concat());
        Running(name)
    }

    /// `docker diff`, sorted (the engine lists changes in no fixed order).
    fn diff(&self) -> Vec<String> {
        let mut lines: Vec<String> = docker(&["diff", &self.0]).lines().map(String::from).collect();
        lines.sort();
        lines
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

fn debug(args: &[&str]) -> Output {
    lucid().arg("debug").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Waits until `container`'s processes include `what` (the program is up, not just the container).
fn wait_for(container: &str, what: &str) {
    for _ in 0..100 {
        if docker(&["top", container]).contains(what) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{what} never ran in {container}: {}", docker(&["logs", container]));
}

/// Nothing `lucid debug TARGET` made is left in the engine: no container, no volume.
fn assert_nothing_left(target: &str) {
    let label = format!("label={}={target}", lucid::debug::TARGET_LABEL);
    let containers = docker(&["ps", "-a", "-q", "--filter", &label]);
    let volumes = docker(&["volume", "ls", "-q", "--filter", &label]);
    assert_eq!(format!("{}{}", containers.trim(), volumes.trim()), "", "left behind by lucid debug {target}");
}

fn sleeper_classes(dir: &Path) {
    require_tool("javac");
    std::fs::write(
        dir.join("Sleeper.java"),
        "public class Sleeper {\n  static void sleepForever() throws InterruptedException { while (true) \
         Thread.sleep(1000); }\n  public static void main(String[] a) throws Exception { sleepForever(); }\n}\n",
    )
    .unwrap();
    let o = std::process::Command::new("javac")
        .args(["--release", "17", "Sleeper.java"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "javac: {}", text(&o));
    // The container's user (65532) reads the classes through a read-only bind mount.
    for p in [dir.to_path_buf(), dir.join("Sleeper.class")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn a_jvm_thread_dump_and_a_python_stack_dump_come_back_and_the_targets_stay_unchanged() {
    require_docker();
    spec_images(&[TOOLBOX, "lucid-java-base", "lucid-python-base"]);
    let classes = tempfile::Builder::new().prefix("lucid-debug-").tempdir_in("/tmp").unwrap();
    sleeper_classes(classes.path());
    let mount = format!("{}:/app:ro", classes.path().display());
    let jvm = Running::start("jvm", &["-v", &mount, "lucid-java-base:latest", "java", "-cp", "/app", "Sleeper"]);
    let py = Running::start(
        "py",
        &[
            "--user",
            "nonroot",
            "lucid-python-base:latest",
            "python3",
            "-c",
            "import time\ndef sleeping_function():\n    time.sleep(1000)\nsleeping_function()\n",
        ],
    );
    wait_for(&jvm.0, "Sleeper");
    wait_for(&py.0, "sleeping_function");
    // The JVM's own start-up files (hsperfdata) are there before: settle, then take the baseline.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (jvm_before, py_before) = (jvm.diff(), py.diff());

    let o = debug(&[&jvm.0, "--", "jattach", "1", "threaddump"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dump = String::from_utf8_lossy(&o.stdout);
    assert!(dump.contains("\"main\"") && dump.contains("at Sleeper.sleepForever(Sleeper.java"), "{}", text(&o));
    assert!(text(&o).contains("as 65532:65532"), "{}", text(&o));
    // A heap histogram, jcmd's GC.class_histogram, through the same attach.
    let o = debug(&[&jvm.0, "--", "jattach", "1", "jcmd", "GC.class_histogram"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("java.lang.String"), "{}", text(&o));
    assert_eq!(jvm.diff(), jvm_before, "the JVM container's filesystem changed");
    assert!(text(&o).contains("is as it was before the session"), "{}", text(&o));

    // The user is a name (`--user nonroot`): resolved through the target's /etc/passwd.
    let o = debug(&[&py.0, "--", "py-spy", "dump", "--pid", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("sleeping_function"), "{}", text(&o));
    assert!(text(&o).contains("as 65532:65532"), "{}", text(&o));
    // The target's files, read through /proc/1/root as its own user; a failing command is exit 1.
    let o = debug(&[&py.0, "--", "cat", "/proc/1/root/etc/os-release"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Debian"), "{}", text(&o));
    let o = debug(&[&py.0, "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("exited with status 7"), "{}", text(&o));
    assert_eq!(py.diff(), py_before, "the Python container's filesystem changed");
    assert_nothing_left(&jvm.0);
    assert_nothing_left(&py.0);
}

#[test]
fn an_image_without_a_shell_gets_the_toolbox_busybox_read_only() {
    require_docker();
    let out = spec_images(&[TOOLBOX, "lucid-python-base"]);
    // The toolbox is verified like every image of the spec (a build stage: its shell is allowed).
    let toolbox = format!("oci:{}", out.join(TOOLBOX).display());
    let o = lucid().args(["verify", &toolbox]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = debug(&["lucid-python-base:latest", "--", "sh", "-c", "id -u; ls /usr/bin; touch /busybox/x"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("65532\n") && out.contains("python3.11"), "{}", text(&o));
    assert!(text(&o).contains("Read-only file system"), "{}", text(&o));
    // The image itself still has no shell.
    let o = std::process::Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "/bin/sh", "lucid-python-base:latest", "-c", "true"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "lucid-python-base has a shell: {}", text(&o));
    assert_nothing_left("lucid-python-base:latest");
}

#[test]
fn what_cannot_be_debugged_is_said_with_exit_3() {
    require_docker();
    spec_images(&[TOOLBOX, "lucid-python-base"]);
    let o = debug(&["lucid-debug-test-no-such-thing", "--", "ps"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("no container or image"), "{}", text(&o));

    let stopped = format!("lucid-debug-test-stopped-{}", std::process::id());
    docker(&["create", "--name", &stopped, "lucid-python-base:latest"]);
    let o = debug(&[&stopped, "--", "ps"]);
    let _ = std::process::Command::new("docker").args(["rm", "-f", &stopped]).output();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("is not running"), "{}", text(&o));

    let o = debug(&["--toolbox", "lucid-debug-test-no-toolbox:1", "lucid-python-base:latest", "--", "ps"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("lucid build lucid-toolbox"), "{}", text(&o));

    // No terminal and no command: an interactive shell is impossible, and said so.
    let o = debug(&["lucid-python-base:latest"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("no terminal"), "{}", text(&o));

    // A cluster cannot pull the engine's local name: --print-kubectl wants the registry's.
    let o = lucid().args(["debug", "--print-kubectl", "shop-1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("--toolbox REGISTRY"), "{}", text(&o));
    let o = lucid().args(["debug", "--user", "1000", "lucid-python-base:latest", "--", "id"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("give UID:GID"), "{}", text(&o));

    let o = lucid()
        .args(["debug", "--toolbox", "127.0.0.1:5000/lucid/lucid-toolbox:latest", "--print-kubectl", "shop-1"])
        .args(["--container", "app"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(line.starts_with("kubectl debug -it shop-1 --image=127.0.0.1:5000/lucid/lucid-toolbox:latest"), "{line}");
    assert!(line.contains("--target=app --profile=restricted") && line.contains("\"runAsUser\":65532"), "{line}");
    assert_nothing_left(&stopped);
}

/// Every runtime image has a debug twin: the same layers and one more with a static busybox at
/// /busybox, labelled, verified as a debug image (its shell allowed there, and only there).
#[test]
fn debug_twins_add_one_busybox_layer_and_verify_as_debug_images() {
    require_docker();
    let twins = ["lucid-python-base:debug", "lucid-java-base:debug", "lucid-python-base:3.13-debian13-debug"];
    let out = spec_images(&[&["lucid-python-base", "lucid-java-base"][..], &twins[..]].concat());
    for twin in twins {
        let o = std::process::Command::new("docker")
            .args(["run", "--rm", "--entrypoint", "/busybox/sh", twin, "-c", "id -u; echo $PATH; test ! -e /bin/sh"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{twin}: {}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "65532\n/usr/local/bin:/usr/bin:/bin:/busybox\n", "{twin}");
        let layers = |image: &str| -> Vec<String> {
            docker(&["image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}", image])
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        let parent = twin.trim_end_matches("-debug").trim_end_matches(":debug");
        let parent = if parent.contains(':') { parent.to_string() } else { format!("{parent}:latest") };
        support::spec_images(&[support::repo_tag(&parent).0]);
        let (mine, theirs) = (layers(twin), layers(&parent));
        assert_eq!(mine.len(), theirs.len() + 1, "{twin}: not one layer more than {parent}");
        assert_eq!(mine[..theirs.len()], theirs[..], "{twin}: the layers below are not {parent}'s");
        let layout = format!("oci:{}", out.join(support::out_name(twin)).display());
        let o = lucid().args(["verify", "--format", "json", &layout]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{twin}: {}", text(&o));
        assert!(text(&o).contains("its shell is busybox under /busybox/ only"), "{twin}: {}", text(&o));
    }
}

/// The debug label relaxes LUCID-SHELL-001 for busybox in a real `/busybox` directory and for
/// nothing else: not a shell reached through a `/busybox` link to /bin, not another shell under
/// /busybox, not when the operator sets `--stage`.
#[test]
fn the_debug_label_allows_busybox_under_a_real_busybox_directory_only() {
    use lucid::oci::layer::write_layer;
    use lucid::rootfs::{Entry, Tree};
    let tmp = tempfile::tempdir().unwrap();
    let shell_status = |name: &str, layers: Vec<Tree>, extra: &[&str]| -> String {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let blobs = layers.iter().map(|t| write_layer(t, 946684800, &dir).unwrap()).collect();
        // The shared test image's config, as a runtime-stage image.
        let mut config = oci_image::config();
        config.labels.insert(lucid::oci::labels::STAGE_LABEL.into(), "runtime-stage".into());
        config.history = layers.iter().map(|_| "test layer".to_string()).collect();
        config.labels.insert(lucid::oci::labels::DEBUG_LABEL.into(), "true".into());
        let image = lucid::oci::image::assemble(config, blobs).unwrap();
        let layout = dir.join("layout");
        lucid::oci::layout::write_layout(&layout, &[(&image, vec!["latest".into()])]).unwrap();
        let o = lucid()
            .args(["verify", "--format", "json", "--no-runtime"])
            .args(extra)
            .arg(format!("oci:{}", layout.display()))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
        let f = v["findings"].as_array().unwrap().iter().find(|f| f["id"] == "LUCID-SHELL-001").cloned();
        f.unwrap_or_else(|| panic!("no LUCID-SHELL-001: {v}"))["status"].as_str().unwrap().to_string()
    };
    let base = || {
        let mut t = Tree::new();
        t.insert(
            "etc/passwd",
            Entry::file(b"root:x:0:0::/root:/nologin\nnonroot:x:65532:65532::/home:/nologin\n".to_vec(), 0o644),
        )
        .unwrap();
        t.insert("usr/bin/app", Entry::file(b"\x7fELF".to_vec(), 0o755)).unwrap();
        t
    };
    let mut twin = base();
    twin.insert("busybox", Entry::dir(0o755)).unwrap();
    twin.insert("busybox/busybox", Entry::file(b"\x7fELF busybox".to_vec(), 0o755)).unwrap();
    twin.insert("busybox/sh", Entry::symlink("busybox")).unwrap();
    assert_eq!(shell_status("twin", vec![twin.clone()], &[]), "pass");
    assert_eq!(shell_status("strict", vec![twin], &["--stage", "runtime-stage"]), "fail");

    let mut link = base();
    link.insert("busybox", Entry::symlink("bin")).unwrap();
    let mut through = Tree::new();
    through.insert("busybox/sh", Entry::file(b"\x7fELF sh".to_vec(), 0o755)).unwrap();
    assert_eq!(shell_status("link", vec![link, through], &[]), "fail");

    let mut bash = base();
    bash.insert("busybox", Entry::dir(0o755)).unwrap();
    bash.insert("busybox/bash", Entry::file(b"\x7fELF bash".to_vec(), 0o755)).unwrap();
    assert_eq!(shell_status("bash", vec![bash], &[]), "fail");
}

/// An interactive session on a terminal (util-linux `script` gives lucid a pseudo-terminal and
/// types into it): the shell runs as the target's user, and its exit status comes back.
#[test]
fn an_interactive_shell_on_a_terminal_runs_as_the_targets_user() {
    require_docker();
    require_tool("script");
    spec_images(&[TOOLBOX, "lucid-python-base"]);
    let target = Running::start("tty", &["lucid-python-base:latest", "python3", "-c", "import time; time.sleep(600)"]);
    let typed = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(typed.path(), "id -u\nexit 4\n").unwrap();
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &format!("{} debug {}", env!("CARGO_BIN_EXE_lucid"), target.0), "/dev/null"])
        .stdin(std::fs::File::open(typed.path()).unwrap());
    let o = support::output_within(&mut script, std::time::Duration::from_secs(120));
    let said = text(&o);
    assert!(said.contains("65532"), "{said}");
    assert_eq!(o.status.code(), Some(1), "the shell's exit 4 is not exit 1: {said}");
    assert_nothing_left(&target.0);
}
