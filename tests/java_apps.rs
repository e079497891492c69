//! A real application on lucid-java-base: a small shop service built from Debian's Java libraries
//! (embedded Tomcat 10, Jackson, H2 over JDBC, Log4j 2, Guava, Netty), compiled here with the
//! host's `javac --release 17`, packed as a folder of jars, run in the real engine as UID 65532
//! with no network, and asked for its JSON by a second JVM in the same container
//! (`java.net.http.HttpClient`). Then `lucid verify --app` on that folder: it passes on the
//! image, fails on a runtime without `java.desktop` naming the module and `java.beans`, and fails
//! a class file of Java 21; `lucid report --app` keeps the modules the service reaches
//! without a static reference.
//!
//! Needs: a Docker engine; the Debian mirror (the images are built from the repository's spec);
//! a JDK 17 (javac, jar, jdeps); Debian's `libtomcat10-embed-java libjackson2-databind-java libh2-java liblog4j2-java
//! libguava-java libnetty-java` (`.ci/run` installs them).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{build_and_load, docker, lucid, repo_root, require_docker, require_tool};

/// The service: rows of an H2 table read over JDBC, served as JSON (Jackson) by embedded Tomcat,
/// logged through Log4j 2, collected with Guava, written through a pooled Netty buffer. It also
/// reports what only reflection, the provider list and MBean registration reach: Netty's
/// `sun.misc.Unsafe` (jdk.unsupported), the SunEC key generator (jdk.crypto.ec) and Tomcat's
/// connector MBean (java.management).
const SERVICE: &str = r#"
package demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Joiner;
import com.google.common.collect.ImmutableList;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.security.KeyPairGenerator;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.management.ObjectName;
import org.apache.catalina.Lifecycle;
import org.apache.catalina.core.StandardContext;
import org.apache.catalina.startup.Tomcat;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

public class Service {
    private static final Logger LOG = LogManager.getLogger(Service.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Connection db = DriverManager.getConnection("jdbc:h2:mem:shop;DB_CLOSE_DELAY=-1");
        try (Statement st = db.createStatement()) {
            st.execute("CREATE TABLE item(id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(10,2))");
            st.execute("INSERT INTO item VALUES (1, 'kettle', 24.50), (2, 'teapot', 31.00), (3, 'mug', 7.25)");
        }
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(Files.createTempDirectory("tomcat").toString());
        tomcat.setHostname("127.0.0.1");
        tomcat.setPort(port);
        tomcat.getConnector();
        // A context without Tomcat's annotation scan, which needs the jakarta.annotation API
        // (not in Debian's embedded Tomcat): the servlet is registered by hand.
        StandardContext ctx = new StandardContext();
        ctx.setName("shop");
        ctx.setPath("");
        ctx.addLifecycleListener(event -> {
            if (Lifecycle.CONFIGURE_START_EVENT.equals(event.getType())) {
                ctx.setConfigured(true);
            }
        });
        tomcat.getHost().addChild(ctx);
        Tomcat.addServlet(ctx, "items", new Items(db));
        ctx.addServletMappingDecoded("/items", "items");
        tomcat.start();
        LOG.info("shop serving on port {}", port);
        tomcat.getServer().await();
    }

    static final class Items extends HttpServlet {
        private final Connection db;

        Items(Connection db) {
            this.db = db;
        }

        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            try {
                List<Map<String, Object>> rows = new ArrayList<>();
                List<String> names = new ArrayList<>();
                synchronized (db) {
                    try (PreparedStatement ps = db.prepareStatement("SELECT id, name, price FROM item ORDER BY id");
                         ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            Map<String, Object> row = new LinkedHashMap<>();
                            row.put("id", rs.getInt(1));
                            row.put("name", rs.getString(2));
                            row.put("price", rs.getBigDecimal(3));
                            rows.add(row);
                            names.add(rs.getString(2));
                        }
                    }
                }
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("items", ImmutableList.copyOf(rows));
                body.put("names", Joiner.on(',').join(names));
                body.put("java", System.getProperty("java.version"));
                body.put("user", System.getProperty("user.name"));
                body.put("unsafe", PlatformDependent.hasUnsafe());
                body.put("ec", KeyPairGenerator.getInstance("EC").getProvider().getName());
                body.put("mbeans", ManagementFactory.getPlatformMBeanServer()
                        .queryNames(new ObjectName("Tomcat:type=Connector,*"), null).size());
                byte[] json = JSON.writeValueAsBytes(body);
                ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(json.length);
                try {
                    buf.writeBytes(json);
                    resp.setContentType("application/json");
                    resp.setContentLength(buf.readableBytes());
                    buf.readBytes(resp.getOutputStream(), buf.readableBytes());
                } finally {
                    buf.release();
                }
                LOG.info("served {} items", rows.size());
            } catch (Exception e) {
                LOG.error("request failed", e);
                resp.sendError(500, e.toString());
            }
        }
    }
}
"#;

/// The client: GETs a URL with `java.net.http`, retrying while the service starts; prints the
/// status and the body.
const FETCH: &str = r#"
package demo;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest req = HttpRequest.newBuilder(URI.create(args[0])).timeout(Duration.ofSeconds(10)).build();
        Exception last = null;
        for (int i = 0; i < 240; i++) {
            try {
                HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
                System.out.println(r.statusCode());
                System.out.println(r.body());
                return;
            } catch (ConnectException e) {
                last = e;
                Thread.sleep(250);
            }
        }
        throw last;
    }
}
"#;

const LOG4J2_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="%d{ISO8601} %-5level %c{1} - %msg%n"/></Console>
  </Appenders>
  <Loggers><Root level="info"><AppenderRef ref="out"/></Root></Loggers>
</Configuration>
"#;

/// The Debian jars the service needs, by their unversioned names in /usr/share/java.
const DEBIAN_JARS: &[&str] = &[
    "tomcat10-embed-core",
    "jackson-databind",
    "jackson-core",
    "jackson-annotations",
    "h2",
    "log4j-api",
    "log4j-core",
    "guava",
    "netty-buffer",
    "netty-common",
];

/// Modules the report advised leaving out for this service before it knew what jdeps cannot see.
const NEVER_ADVISED_HERE: &[&str] =
    &["jdk.crypto.ec", "jdk.unsupported", "java.management", "jdk.naming.dns", "jdk.zipfs"];

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Everything readable by the container user (65532): the folder is mounted read-only.
fn share(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Compiles the service and its client against the Debian jars and packs the application as a
/// folder of jars: `shop.jar` and the Debian jars (their files, symlinks followed).
fn service_folder(work: &Path) -> PathBuf {
    let lib = work.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for name in DEBIAN_JARS {
        let src = Path::new("/usr/share/java").join(format!("{name}.jar"));
        assert!(
            src.exists(),
            "{} is missing: apt-get install -y --no-install-recommends libtomcat10-embed-java \
             libjackson2-databind-java libh2-java liblog4j2-java libguava-java libnetty-java",
            src.display()
        );
        std::fs::copy(&src, lib.join(format!("{name}.jar"))).unwrap();
    }
    let src = work.join("src/demo");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("Service.java"), SERVICE).unwrap();
    std::fs::write(src.join("Fetch.java"), FETCH).unwrap();
    let classes = work.join("classes");
    run(Command::new("javac")
        .args(["--release", "17", "-nowarn", "-cp"])
        .arg(lib.join("*"))
        .arg("-d")
        .arg(&classes)
        .arg(src.join("Service.java"))
        .arg(src.join("Fetch.java")));
    std::fs::write(classes.join("log4j2.xml"), LOG4J2_XML).unwrap();
    run(Command::new("jar").arg("cf").arg(lib.join("shop.jar")).arg("-C").arg(&classes).arg("."));
    share(&lib);
    lib
}

/// Removes the container when the test ends, passed or not.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// `lucid verify IMAGE --app APP --format json` and its exit code.
fn verify_json(image: &str, app: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let o = lucid()
        .current_dir(repo_root())
        .args(["verify", image, "--format", "json", "--app"])
        .arg(app)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let json = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (o.status.code(), json, stderr)
}

/// The findings of check `id`, one per image of the reference (every platform).
fn findings<'a>(report: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    let all = report["findings"].as_array().expect("findings");
    let found: Vec<_> = all.iter().filter(|f| f["id"] == id).collect();
    assert!(!found.is_empty(), "no {id} in {report}");
    found
}

/// Runs the service of `app` in `image` (loaded in the engine) and asks it for its JSON: UID
/// 65532, no network but loopback, the jars mounted read-only; `java` starts its Java version.
fn service_runs(app: &Path, image: &str, java: &str) {
    // The service in the engine: UID 65532, no network but loopback, the jars mounted read-only.
    let name = format!("lucid-test-shop-{}", std::process::id());
    let _guard = Container(name.clone());
    let mount = format!("{}:/app:ro", app.display());
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--user",
        "65532:65532",
        "--network",
        "none",
        "-v",
        &mount,
        image,
        "java",
        "-cp",
        "/app/*",
        "demo.Service",
        "8080",
    ]);
    // A second JVM in the same container asks it over java.net.http (no shell: exec form).
    let fetch = Command::new("docker")
        .args(["exec", &name, "java", "-cp", "/app/shop.jar", "demo.Fetch", "http://127.0.0.1:8080/items"])
        .output()
        .unwrap();
    let fetched = String::from_utf8_lossy(&fetch.stdout).into_owned();
    let logs = Command::new("docker").args(["logs", &name]).output().unwrap();
    let logs = format!("{}{}", String::from_utf8_lossy(&logs.stdout), String::from_utf8_lossy(&logs.stderr));
    assert!(
        fetch.status.success(),
        "the client failed: {}\nservice log:\n{logs}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    let (status, body) = fetched.trim().split_once('\n').unwrap_or_else(|| panic!("{fetched}\n{logs}"));
    assert_eq!(status.trim(), "200", "{fetched}\n{logs}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}\n{logs}"));
    let items = json["items"].as_array().unwrap_or_else(|| panic!("{json}"));
    let row = |i: usize| {
        (items[i]["id"].as_i64().unwrap(), items[i]["name"].as_str().unwrap(), items[i]["price"].as_f64().unwrap())
    };
    assert_eq!(items.len(), 3, "{json}");
    assert_eq!([row(0), row(1), row(2)], [(1, "kettle", 24.5), (2, "teapot", 31.0), (3, "mug", 7.25)], "{json}");
    assert_eq!(json["names"], "kettle,teapot,mug", "{json}");
    assert!(json["java"].as_str().unwrap().starts_with(java), "{json}");
    // What no static reference shows worked: Unsafe by reflection, the EC provider, Tomcat's MBean.
    assert_eq!(json["unsafe"], true, "{json}");
    assert_eq!(json["ec"], "SunEC", "{json}");
    assert!(json["mbeans"].as_i64().unwrap() >= 1, "{json}");
    assert!(logs.contains("shop serving on port 8080") && logs.contains("served 3 items"), "log4j2 output: {logs}");
    // The JVM's user is the image's account for UID 65532.
    assert_eq!(json["user"], "nonroot", "{json}");
}

#[test]
fn tomcat_service_runs_on_java_base_and_verifies() {
    require_docker();
    for t in ["javac", "jar", "jdeps"] {
        require_tool(t);
    }
    let (out, _) = build_and_load(&["lucid-java-base"], &[], "lucid-java-base", 150);
    let work = tempfile::tempdir().unwrap();
    let app = service_folder(work.path());

    service_runs(&app, "lucid-java-base:latest", "17.");

    // verify --app passes on the image it ran on, every platform, and says what it cannot see.
    let image = format!("oci:{}:latest", out.path().join("lucid-java-base").display());
    let (code, report, stderr) = verify_json(&image, &app, &[]);
    assert_eq!(code, Some(0), "{report:#}\n{stderr}");
    for f in findings(&report, "LUCID-APP-101") {
        assert_eq!(f["status"], "pass", "{f}");
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains("11 jars") && msg.contains("java.desktop") && msg.contains("java.sql"), "{msg}");
    }
    for f in findings(&report, "LUCID-APP-102") {
        assert_eq!(f["status"], "pass", "{f}");
        assert!(f["message"].as_str().unwrap().contains("Java 17 (61)"), "{f}");
    }
    for f in findings(&report, "LUCID-JAVA-002") {
        assert_eq!(f["status"], "pass", "{f}");
    }
    let text =
        lucid().current_dir(repo_root()).args(["verify", &image, "--no-runtime", "--app"]).arg(&app).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("info: LUCID-APP-103") && text.contains("Class.forName") && text.contains("JNI"), "{text}");

    // report --app keeps what the service reaches without a static reference.
    let r = lucid()
        .current_dir(repo_root())
        .args(["report", &image, "--format", "json", "--app"])
        .arg(&app)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    for a in r.as_array().unwrap() {
        let advised: Vec<&str> = a["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["id"] == "LUCID-REC-011")
            .flat_map(|x| x["examples"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()))
            .collect();
        for m in NEVER_ADVISED_HERE {
            assert!(!advised.iter().any(|e| e.split(' ').next() == Some(m)), "{m} advised away: {advised:?}");
            let module = a["java_modules"].as_array().unwrap().iter().find(|x| x["name"] == *m).expect(m);
            assert!(module["used"] == true || module["kept"].is_string(), "{module}");
        }
        assert!(a["java_note"].as_str().unwrap().contains("reflection"), "{a}");
    }

    // A class file of Java 21 (major version 65) fails the class-version check, named with its
    // jar and versions. The host's JDK 17 compiles it and its header is set to 65, what javac
    // --release 21 writes there: the check reads class headers only, and no JDK newer than 17 is
    // a Debian 12 package.
    let newer = work.path().join("newer");
    std::fs::create_dir_all(newer.join("src")).unwrap();
    std::fs::write(
        newer.join("src/Latest.java"),
        "public class Latest { public static void main(String[] a) { System.out.println(a.length); } }",
    )
    .unwrap();
    run(Command::new("javac")
        .args(["--release", "17", "-d"])
        .arg(newer.join("classes"))
        .arg(newer.join("src/Latest.java")));
    let class = newer.join("classes/Latest.class");
    let mut bytes = std::fs::read(&class).unwrap();
    assert_eq!(&bytes[..4], b"\xca\xfe\xba\xbe", "not a class file");
    assert_eq!(u16::from_be_bytes([bytes[6], bytes[7]]), 61, "javac --release 17 writes major version 61");
    bytes[6..8].copy_from_slice(&65u16.to_be_bytes());
    std::fs::write(&class, bytes).unwrap();
    let newer_app = work.path().join("newer-app");
    std::fs::create_dir_all(&newer_app).unwrap();
    run(Command::new("jar").arg("cf").arg(newer_app.join("latest.jar")).arg("-C").arg(newer.join("classes")).arg("."));
    std::fs::copy(app.join("guava.jar"), newer_app.join("guava.jar")).unwrap();
    let (code, report, stderr) = verify_json(&image, &newer_app, &["--no-runtime"]);
    assert_eq!(code, Some(1), "{report:#}\n{stderr}");
    for f in findings(&report, "LUCID-APP-102") {
        let msg = f["message"].as_str().unwrap();
        assert_eq!(f["status"], "fail", "{f}");
        assert!(msg.contains("latest.jar: Latest is Java 21 (65)") && msg.contains("Java 17 (61)"), "{msg}");
        assert_eq!(f["locations"][0]["path"], "latest.jar", "{f}");
    }

    // No JDK on this machine: a configuration error (exit 3) that says what to install.
    let empty = tempfile::tempdir().unwrap();
    let o = lucid()
        .current_dir(repo_root())
        .env("PATH", empty.path())
        .env_remove("JAVA_HOME")
        .args(["verify", &image, "--no-runtime", "--app"])
        .arg(&app)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("jdeps") && stderr.contains("JAVA_HOME"), "{stderr}");
}

/// The same service, compiled for Java 17, on the Debian 13 runtimes of Java 21 and 25 (the
/// spec's variants of lucid-java-base, same modules), and `verify --app` passes on both.
#[test]
fn tomcat_service_runs_on_java_21_and_25() {
    require_docker();
    for t in ["javac", "jar", "jdeps"] {
        require_tool(t);
    }
    let work = tempfile::tempdir().unwrap();
    let app = service_folder(work.path());
    for (image, java) in [("lucid-java-base:21-debian13", "21."), ("lucid-java-base:25-debian13", "25.")] {
        let budget = if java == "21." { 80 } else { 85 };
        let (out, _) = build_and_load(&[image], &[], image, budget);
        service_runs(&app, image, java);
        let layout =
            format!("oci:{}:{}", out.path().join(support::out_name(image)).display(), support::repo_tag(image).1);
        let (code, report, stderr) = verify_json(&layout, &app, &["--no-runtime"]);
        assert_eq!(code, Some(0), "{image}: {report:#}\n{stderr}");
        for f in findings(&report, "LUCID-APP-102") {
            assert_eq!(f["status"], "pass", "{f}");
        }
    }
}

/// The repository's spec and lock copied to a temporary directory, with `java.desktop` removed
/// from lucid-java-base's modules: a runtime like the one that once broke Spring services.
#[test]
fn runtime_without_java_desktop_fails_the_app_check() {
    for t in ["javac", "jar", "jdeps"] {
        require_tool(t);
    }
    let dir = tempfile::tempdir().unwrap();
    let base = support::copy_spec_files(dir.path());
    let spec = std::fs::read_to_string(base.join("build-args.yml")).unwrap();
    let modules_line =
        spec.lines().find(|l| l.trim_start().starts_with("modules: [java.base")).expect("lucid-java-base's modules");
    assert!(modules_line.contains(" java.desktop,"), "{modules_line}");
    let spec = spec.replacen(modules_line, &modules_line.replacen(" java.desktop,", "", 1), 1);
    std::fs::write(dir.path().join("build-args.yml"), &spec).unwrap();
    let out = dir.path().join("out");
    let b = lucid()
        .current_dir(repo_root())
        .args(["build", "lucid-java-base", "--platform", "linux/amd64", "-f"])
        .arg(dir.path().join("build-args.yml"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(b.status.success(), "{}\n{}", String::from_utf8_lossy(&b.stdout), String::from_utf8_lossy(&b.stderr));

    let work = tempfile::tempdir().unwrap();
    let app = service_folder(work.path());
    let image = format!("oci:{}:latest", out.join("lucid-java-base").display());
    let (code, report, stderr) = verify_json(&image, &app, &["--no-runtime"]);
    assert_eq!(code, Some(1), "{report:#}\n{stderr}");
    for f in findings(&report, "LUCID-APP-101") {
        let msg = f["message"].as_str().unwrap();
        assert_eq!(f["status"], "fail", "{f}");
        assert!(
            msg.contains("lacks 1 module") && msg.contains("java.desktop (packages") && msg.contains("java.beans"),
            "{msg}"
        );
        assert!(msg.contains("jackson-databind.jar (") && msg.contains("modules:"), "{msg}");
        let jars: Vec<&str> = f["locations"].as_array().unwrap().iter().map(|l| l["path"].as_str().unwrap()).collect();
        assert!(jars.contains(&"jackson-databind.jar") && jars.contains(&"tomcat10-embed-core.jar"), "{jars:?}");
    }
    for f in findings(&report, "LUCID-JAVA-002") {
        assert_eq!(f["status"], "fail", "{f}");
        assert!(f["message"].as_str().unwrap().contains("java.desktop (java.beans"), "{f}");
    }

    // The same service as a Spring Boot style fat jar: its libraries are read from BOOT-INF/lib.
    let fat = work.path().join("fat");
    std::fs::create_dir_all(fat.join("BOOT-INF/lib")).unwrap();
    for name in DEBIAN_JARS {
        std::fs::copy(app.join(format!("{name}.jar")), fat.join(format!("BOOT-INF/lib/{name}.jar"))).unwrap();
    }
    run(Command::new("cp").arg("-r").arg(work.path().join("classes")).arg(fat.join("BOOT-INF/classes")));
    let fat_jar = work.path().join("shop-fat.jar");
    run(Command::new("jar").args(["--create", "--no-compress", "--file"]).arg(&fat_jar).arg("-C").arg(&fat).arg("."));
    let (code, report, stderr) = verify_json(&image, &fat_jar, &["--no-runtime"]);
    assert_eq!(code, Some(1), "{report:#}\n{stderr}");
    for f in findings(&report, "LUCID-APP-101") {
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.contains("shop-fat.jar!/BOOT-INF/lib/jackson-databind.jar (") && msg.contains("java.beans"),
            "{msg}"
        );
    }
    for f in findings(&report, "LUCID-APP-103") {
        assert!(f["message"].as_str().unwrap().starts_with("11 jars read (10 nested"), "{f}");
    }
}
