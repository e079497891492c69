//! End to end: `lucid build` of the Java images from the real Debian mirror, loaded into a real
//! Docker engine and run there: the runtime image runs what the build image compiled.
//!
//! Needs network access to the Debian mirror (host apt sources) and a Docker engine; `.ci/run`
//! starts one.

mod support;

use std::path::{Path, PathBuf};

use support::{docker, docker_ok, lucid, repo_root};

/// Prints what the seed asks the JVM to prove: trust anchors it sees, its default charset, the
/// user it runs as (from /proc, there being no `id`), and any JDK tool left in the runtime.
const CHECK_JAVA: &str = r#"
import java.nio.charset.Charset;
import java.nio.file.*;
import java.security.KeyStore;
import javax.net.ssl.*;

public class Check {
    public static void main(String[] args) throws Exception {
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        f.init((KeyStore) null);
        int anchors = 0;
        for (TrustManager t : f.getTrustManagers()) {
            if (t instanceof X509TrustManager x) anchors += x.getAcceptedIssuers().length;
        }
        System.out.println("anchors=" + anchors);
        System.out.println("charset=" + Charset.defaultCharset());
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:") || line.startsWith("Gid:")) {
                System.out.println(line.split("\\s+")[0].toLowerCase() + line.split("\\s+")[1]);
            }
        }
        StringBuilder javac = new StringBuilder();
        try (DirectoryStream<Path> homes = Files.newDirectoryStream(Path.of("/usr/lib/jvm"))) {
            for (Path home : homes) {
                if (Files.exists(home.resolve("bin/javac"))) javac.append(home).append(' ');
            }
        }
        System.out.println("javac=[" + javac.toString().trim() + "]");
        System.out.println("java.home=" + System.getProperty("java.home"));
    }
}
"#;

const HELLO_JAVA: &str = r#"
public class Hello {
    public static void main(String[] args) {
        System.out.println("Hello from " + System.getProperty("java.version") + " as " + System.getProperty("user.name"));
    }
}
"#;

/// A directory the container user (65532) can read and write, for sources and class files.
fn shared_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(dir.path().join("Check.java"), CHECK_JAVA).unwrap();
    std::fs::write(dir.path().join("Hello.java"), HELLO_JAVA).unwrap();
    dir
}

fn volume(dir: &Path) -> String {
    format!("{}:/work", dir.display())
}

/// The manifest digest of `image` in the OCI layout under `out`.
fn manifest_digest(out: &Path, image: &str) -> String {
    let index = std::fs::read_to_string(out.join(image).join("index.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&index).unwrap();
    v["manifests"][0]["digest"].as_str().unwrap().to_string()
}

#[test]
fn java_images_build_load_and_run() {
    support::require_docker();
    // The size table shows the runtime image within its 150 MB budget.
    let (out, _table) =
        support::build_and_load(&["lucid-java-base", "lucid-java-build"], &["--locked"], "lucid-java-base", 150);

    // The seed's command, as it writes it.
    let v = docker(&["run", "--rm", "lucid-java-base:latest", "java", "-version"]);
    assert!(v.contains("openjdk version \"17."), "{v}");
    assert!(v.contains("sharing"), "the JVM does not use the CDS archive: {v}");
    let config = docker(&[
        "inspect",
        "--format",
        "{{.Config.User}} {{json .Config.Entrypoint}} {{range .Config.Env}}{{.}} {{end}}",
        "lucid-java-base:latest",
    ]);
    assert!(config.starts_with("65532:65532 null "), "{config}");
    for var in ["JAVA_HOME=/usr/lib/jvm/java-17-lucid", "JAVA_VERSION=17.", "LANG=C.UTF-8"] {
        assert!(config.contains(var), "{var} not in the config: {config}");
    }

    // The build image compiles (as 65532, into a shared directory) ...
    let javac = docker(&["run", "--rm", "lucid-java-build:latest", "javac", "-version"]);
    assert!(javac.starts_with("javac 17."), "{javac}");
    let dir = shared_dir();
    let compile = "javac -d classes Hello.java Check.java && jar --create --file hello.jar --main-class Hello \
                   -C classes Hello.class && id -u";
    let who = docker(&[
        "run",
        "--rm",
        "-v",
        &volume(dir.path()),
        "-w",
        "/work",
        "--entrypoint",
        "/bin/sh",
        "lucid-java-build:latest",
        "-c",
        compile,
    ]);
    assert_eq!(who.trim(), "65532", "the build image does not run as 65532: {who}");
    assert!(dir.path().join("hello.jar").is_file());

    // ... and the runtime image runs it as 65532.
    let hello = docker(&[
        "run",
        "--rm",
        "-v",
        &volume(dir.path()),
        "lucid-java-base:latest",
        "java",
        "-jar",
        "/work/hello.jar",
    ]);
    assert!(hello.trim().starts_with("Hello from 17.") && hello.trim().ends_with(" as nonroot"), "{hello}");
    report_app_modules(out.path(), &dir.path().join("hello.jar"));
    let check = docker(&[
        "run",
        "--rm",
        "-v",
        &volume(dir.path()),
        "lucid-java-base:latest",
        "java",
        "-cp",
        "/work/classes",
        "Check",
    ]);
    let value = |k: &str| {
        check.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or_else(|| panic!("no {k} in {check}"))
    };
    let anchors: usize = value("anchors").parse().expect(&check);
    assert!(anchors > 100, "the JVM sees only {anchors} trust anchors: {check}");
    assert_eq!(value("charset"), "UTF-8", "{check}");
    assert!(check.contains("uid:65532") && check.contains("gid:65532"), "{check}");
    assert_eq!(value("javac"), "[]", "a javac in the runtime image: {check}");
    assert_eq!(value("java.home"), "/usr/lib/jvm/java-17-lucid", "{check}");
    // The same trust store in the build image (Debian's cacerts link, our JKS).
    let check_build = docker(&[
        "run",
        "--rm",
        "-v",
        &volume(dir.path()),
        "lucid-java-build:latest",
        "java",
        "-cp",
        "/work/classes",
        "Check",
    ]);
    assert!(check_build.contains(&format!("anchors={anchors}")), "{check_build}");

    // No shell, no javac, no jshell in the runtime image.
    assert!(
        !docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", "lucid-java-base:latest", "-c", "true"]),
        "/bin/sh ran"
    );
    assert!(!docker_ok(&["run", "--rm", "lucid-java-base:latest", "javac", "-version"]), "javac ran");
    assert!(!docker_ok(&["run", "--rm", "lucid-java-base:latest", "jshell", "--version"]), "jshell ran");
}

/// `lucid report --app`: the runtime's modules with their bytes, which ones the jar needs (jdeps
/// from the host's JDK 17), which are kept though unused, and the modules a jar needs that the
/// runtime lacks.
fn report_app_modules(out: &Path, hello: &Path) {
    let image = format!("oci:{}:latest", out.join("lucid-java-base").display());
    // Exit 0 when the jar fits, 1 when a module it needs is missing (verify --app's findings).
    let report = |jar: &Path, code: i32| -> serde_json::Value {
        let o = lucid().args(["report", &image, "--format", "json", "--app"]).arg(jar).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0].clone()
    };
    let r = report(hello, 0);
    let modules = r["java_modules"].as_array().expect("java_modules");
    let bytes = |m: &serde_json::Value| m["bytes"].as_u64().unwrap();
    let base = modules.iter().find(|m| m["name"] == "java.base").expect("java.base listed");
    assert!(bytes(base) > 5 << 20 && base["used"] == true, "{base}");
    // Hello needs java.base alone: every other module is unused. Their bytes are the saving, but
    // for the modules kept for what jdeps cannot see (service providers, reflection targets),
    // which are never advised away.
    let unused: Vec<_> = modules.iter().filter(|m| m["name"] != "java.base").collect();
    assert!(unused.len() > 10 && unused.iter().all(|m| m["used"] == false && bytes(m) > 0), "{modules:?}");
    let (kept, advised): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) =
        unused.iter().partition(|m| m["kept"].is_string());
    let kept: Vec<&str> = kept.iter().map(|m| m["name"].as_str().unwrap()).collect();
    for m in ["jdk.crypto.ec", "jdk.unsupported", "jdk.naming.dns", "jdk.zipfs", "java.naming"] {
        assert!(kept.contains(&m), "{m} not kept: {modules:?}");
    }
    let recs = r["recommendations"].as_array().unwrap();
    let rec = recs.iter().find(|x| x["id"] == "LUCID-REC-011").expect("LUCID-REC-011");
    assert_eq!(rec["saves"].as_u64().unwrap(), advised.iter().map(|m| bytes(m)).sum::<u64>());
    let examples = rec["examples"].as_array().unwrap();
    assert!(examples.iter().any(|e| e.as_str().unwrap().starts_with("java.desktop ")), "{rec}");
    assert!(!examples.iter().any(|e| e.as_str().unwrap().starts_with("jdk.crypto.ec ")), "{rec}");
    assert!(r["java_note"].as_str().unwrap().contains("Class.forName"), "{r}");
    assert!(!recs.iter().any(|x| x["id"] == "LUCID-JAVA-001"), "{recs:?}");

    // A jar using java.smartcardio (which the runtime leaves out): named as missing.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Desk.java"),
        "public class Desk { public static void main(String[] a) { System.out.println(javax.smartcardio.CardTerminals.State.ALL); } }",
    )
    .unwrap();
    // The host's JDK 17 (jdeps needs one anyway) compiles and jars it.
    for cmd in [&["javac", "--release", "17", "Desk.java"][..], &["jar", "cf", "desk.jar", "Desk.class"]] {
        let ok = std::process::Command::new(cmd[0]).current_dir(dir.path()).args(&cmd[1..]).status().unwrap();
        assert!(ok.success(), "{cmd:?}");
    }
    let r = report(&dir.path().join("desk.jar"), 1);
    let failed = r["app_findings"].as_array().unwrap().iter().find(|f| f["id"] == "LUCID-APP-101").cloned();
    let failed = failed.expect("LUCID-APP-101 in the report");
    assert!(failed["status"] == "fail" && failed["message"].as_str().unwrap().contains("java.smartcardio"), "{failed}");
    let missing = r["recommendations"].as_array().unwrap().iter().find(|x| x["id"] == "LUCID-JAVA-001").cloned();
    let missing = missing.expect("LUCID-JAVA-001 for a jar that needs java.smartcardio");
    assert!(missing["examples"].as_array().unwrap().iter().any(|m| m == "java.smartcardio"), "{missing}");
}

/// Where the default cache keeps its verified downloads, to share them with a fresh cache.
fn default_blobs() -> PathBuf {
    let root = match (std::env::var_os("LUCID_CACHE"), std::env::var_os("XDG_CACHE_HOME")) {
        (Some(c), _) if !c.is_empty() => PathBuf::from(c),
        (_, Some(x)) if !x.is_empty() => PathBuf::from(x).join("lucid"),
        _ => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/lucid"),
    };
    std::fs::create_dir_all(root.join("sha256")).unwrap();
    root.join("sha256")
}

/// The layer digests of `image` in the OCI layout under `out`, with the history line of each.
fn layers(out: &Path, image: &str) -> Vec<(String, String)> {
    let layout = out.join(image);
    let blob = |digest: &str| {
        let path = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(path).unwrap()).unwrap()
    };
    let mut manifest = blob(&manifest_digest(out, image));
    if let Some(platforms) = manifest["manifests"].as_array() {
        // A multi-platform index: the host's image (the one whose CDS archive is dumped here).
        let host = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
        let entry = platforms.iter().find(|m| m["platform"]["architecture"] == host).expect("the host's platform");
        manifest = blob(entry["digest"].as_str().unwrap());
    }
    let config = blob(manifest["config"]["digest"].as_str().unwrap());
    let history: Vec<String> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect();
    let digests = manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string());
    digests.zip(history).collect()
}

/// Two builds from the lock, each linking its own runtime and dumping its own CDS archive (fresh
/// jlink caches that share only the verified .deb downloads): every layer but the CDS archive's
/// is bit for bit the same (jlink is deterministic; HotSpot 17's dump is not, see
/// src/java/jlink.rs and docs/java.md), and a warm build gives that build's digest again, from
/// the image memo and, without it, from the jlink cache.
#[test]
fn java_runtime_builds_are_reproducible() {
    let blobs = default_blobs();
    let build = |cache: &Path, out: &Path, expect: &str| {
        std::fs::create_dir_all(cache).unwrap();
        if !cache.join("sha256").exists() {
            std::os::unix::fs::symlink(&blobs, cache.join("sha256")).unwrap();
        }
        let run = lucid()
            .current_dir(repo_root())
            .env("LUCID_CACHE", cache)
            .args(["build", "lucid-java-base", "--locked", "-o"])
            .arg(out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        assert!(stderr.contains(expect), "expected {expect:?}: {stderr}");
        manifest_digest(out, "lucid-java-base")
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (cache_a, cache_b) = (dirs[0].path().join("cache"), dirs[1].path().join("cache"));
    let (out_a, out_b) = (dirs[0].path().join("out"), dirs[1].path().join("out"));
    let first = build(&cache_a, &out_a, "CDS archive");
    let _ = build(&cache_b, &out_b, "CDS archive");
    let (la, lb) = (layers(&out_a, "lucid-java-base"), layers(&out_b, "lucid-java-base"));
    // The packages' layers (build::layering), the runtime's, the CDS archive's last.
    let n = la.len();
    assert!(n >= 3 && la.len() == lb.len(), "{la:?}");
    assert!(la[n - 1].1.contains("class-data-sharing"), "{la:?}");
    assert!(la[n - 2].1.contains("jlink runtime"), "{la:?}");
    assert!(la[..n - 2].iter().any(|l| l.1.contains("Debian package libc6")), "{la:?}");
    assert_eq!(la[..n - 1], lb[..n - 1], "a package or the jlink runtime layer differs between two builds");
    // Warm: the whole image from the image memo (build::memo), the very same image.
    let warm = dirs[2].path().join("out");
    assert_eq!(build(&cache_a, &warm, "Unchanged lucid-java-base (linux/amd64)"), first);
    // Without the memo, assembled again: the runtime (and its archive) from the jlink cache.
    std::fs::remove_dir_all(cache_a.join("images")).unwrap();
    assert_eq!(build(&cache_a, &warm, "Cached lucid-java-base (linux/amd64): jlink runtime"), first);
}
