//! What real applications assume of a base image beyond its packages, proven in a real Docker
//! engine on images lucid builds:
//!
//! - a platform team's own CA, declared in the spec's `trust:`, is trusted by Python's `ssl`, by
//!   `requests` (which reads certifi's bundle unless told otherwise) and by Java's `HttpClient`,
//!   against an HTTPS server on loopback whose certificate that CA signed; the same request from
//!   an image built without the CA fails, so the test can tell;
//! - an arbitrary UID in group 0 (OpenShift's restricted policy) has `HOME` and a working
//!   directory it can write, in Python and in Java;
//! - the whole standard library imports (LUCID-RUNTIME-006), and a walk over the standard
//!   library's directory imports every module it finds (Debian's `_distutils_system_mod` broke it
//!   when `distutils` was missing); an image with `distutils` removed fails the check.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::{docker, docker_ok, lucid, repo_root, require_docker, require_tool, spec_copy};

const ARBITRARY_UID: &str = "1000650000:0";

/// Runs `cmd` in `dir`, asserting success.
fn run(dir: &Path, cmd: &[&str]) {
    let out = Command::new(cmd[0]).args(&cmd[1..]).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test CA and a server certificate for localhost and 127.0.0.1 signed by it (openssl).
fn make_pki(dir: &Path) {
    require_tool("openssl");
    run(
        dir,
        &["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            .iter()
            .chain(&["-keyout", "ca.key", "-out", "test-ca.pem", "-days", "2", "-subj", "/CN=Lucid Test Root CA"])
            .copied()
            .collect::<Vec<_>>(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(
        dir,
        &[
            "openssl",
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    run(
        dir,
        &[
            "openssl",
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "test-ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// An HTTPS server on 127.0.0.1 (the host's Python), killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'served under the test CA'
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

fn serve(dir: &Path) -> Server {
    require_tool("python3");
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .arg(dir.join("server.pem"))
        .arg(dir.join("server.key"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().parse().unwrap_or_else(|_| panic!("the HTTPS server did not start: {line:?}"));
    Server { child, port }
}

const PY_FETCH: &str = "import sys, ssl, urllib.request, requests\n\
url = sys.argv[1]\n\
print('urllib', urllib.request.urlopen(url, context=ssl.create_default_context()).read().decode())\n\
print('requests', requests.get(url, timeout=10).text)\n";

const JAVA_FETCH: &str = "import java.net.URI; import java.net.http.*;\n\
public class Fetch { public static void main(String[] a) throws Exception {\n\
  HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(a[0])).build(),\n\
      HttpResponse.BodyHandlers.ofString());\n\
  System.out.println(\"java \" + r.statusCode() + \" \" + r.body()); } }\n";

const JAVA_HOME_WRITE: &str = "import java.nio.file.*;\n\
public class HomeWrite { public static void main(String[] a) throws Exception {\n\
  Path p = Path.of(System.getProperty(\"user.home\"), \"written\"); Files.writeString(p, \"ok\");\n\
  System.out.println(System.getProperty(\"user.home\") + \" \" + System.getProperty(\"user.dir\") + \" \" + Files.readString(p)); } }\n";

#[test]
fn trust_anchors_arbitrary_uids_and_the_whole_standard_library() {
    require_docker();
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    make_pki(&pki);

    // The repository's spec, lock and requirements with the test CA added to `trust:`.
    let spec_dir = tmp.path().join("spec");
    let spec_path = spec_copy(&spec_dir, |spec| {
        assert!(spec.contains("\ntrust: []\n"), "the spec's trust: line moved");
        spec.replace("\ntrust: []\n", "\ntrust: [test-ca.pem]\n")
    });
    std::fs::copy(pki.join("test-ca.pem"), spec_dir.join("test-ca.pem")).unwrap();
    let out = tmp.path().join("out");
    let build = lucid()
        .current_dir(repo_root())
        .args(["build", "lucid-python-base", "lucid-java-base", "lucid-python-build", "--platform", "linux/amd64"])
        .args(["-t", ":trust", "--load", "-f"])
        .arg(&spec_path)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    // HTTPS on loopback under the test CA: trusted by ssl, requests and Java's HttpClient.
    let server = serve(&pki);
    let url = format!("https://localhost:{}/", server.port);
    let py = |image: &str| {
        Command::new("docker")
            .args(["run", "--rm", "--network", "host", image, "python", "-c", PY_FETCH, &url])
            .output()
            .unwrap()
    };
    let trusted = py("lucid-python-base:trust");
    let text = String::from_utf8_lossy(&trusted.stdout);
    assert!(trusted.status.success(), "{text}{}", String::from_utf8_lossy(&trusted.stderr));
    assert!(
        text.contains("urllib served under the test CA") && text.contains("requests served under the test CA"),
        "{text}"
    );
    // The control: the same request from the image without the CA is refused.
    let build_plain = lucid()
        .current_dir(repo_root())
        .args(["build", "lucid-python-base", "--platform", "linux/amd64", "-t", ":plain", "--load", "-o"])
        .arg(tmp.path().join("plain"))
        .output()
        .unwrap();
    assert!(build_plain.status.success(), "{}", String::from_utf8_lossy(&build_plain.stderr));
    let refused = py("lucid-python-base:plain");
    assert!(!refused.status.success(), "an image without the test CA trusted it");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("CERTIFICATE_VERIFY_FAILED"), "{refused:?}");
    // pip in the build image reads the same bundle (REQUESTS_CA_BUNDLE).
    let pip_env = docker(&[
        "run",
        "--rm",
        "lucid-python-build:trust",
        "python",
        "-c",
        "import os; print(os.environ['REQUESTS_CA_BUNDLE'])",
    ]);
    assert!(pip_env.contains("/etc/ssl/certs/ca-certificates.crt"), "{pip_env}");

    let classes = tmp.path().join("classes");
    std::fs::create_dir(&classes).unwrap();
    std::fs::write(classes.join("Fetch.java"), JAVA_FETCH).unwrap();
    std::fs::write(classes.join("HomeWrite.java"), JAVA_HOME_WRITE).unwrap();
    require_tool("javac");
    run(&classes, &["javac", "--release", "17", "Fetch.java", "HomeWrite.java"]);
    let volume = format!("{}:/app:ro", classes.display());
    // `java -cp /app MAIN ARGS...` in lucid-java-base:trust, with `opts` for docker run.
    let java_in = |opts: &[&str], main_and_args: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["-v", &volume, "lucid-java-base:trust", "java", "-cp", "/app"]);
        args.extend_from_slice(main_and_args);
        docker(&args)
    };
    let java = java_in(&["--network", "host"], &["Fetch", &url]);
    assert!(java.contains("java 200 served under the test CA"), "{java}");
    drop(server);

    // An arbitrary UID in group 0: HOME and the working directory are its to write.
    let py_home = docker(&[
        "run",
        "--rm",
        "-u",
        ARBITRARY_UID,
        "lucid-python-base:trust",
        "python",
        "-c",
        "import os, pathlib; p = pathlib.Path.home() / 'written'; p.write_text('ok'); \
         open('in-workdir', 'w').write('ok'); print(os.environ['HOME'], os.getcwd(), p.read_text())",
    ]);
    assert!(py_home.contains("/home/nonroot /home/nonroot ok"), "{py_home}");
    let java_home = java_in(&["-u", ARBITRARY_UID], &["HomeWrite"]);
    assert!(java_home.contains("/home/nonroot /home/nonroot ok"), "{java_home}");
    // Another UID outside group 0 gets nothing of the home (0770).
    assert!(
        !docker_ok(&[
            "run",
            "--rm",
            "-u",
            "4242:4242",
            "lucid-python-base:trust",
            "python",
            "-c",
            "open('/home/nonroot/x', 'w')"
        ]),
        "a UID outside group 0 wrote the home"
    );

    // The whole standard library: LUCID-RUNTIME-006 passes, and a walk over its directory too.
    let verify = lucid()
        .args(["verify", "docker-daemon:lucid-python-base:trust", "--require-runtime", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&verify.stdout).expect("verify's JSON");
    let stdlib = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "LUCID-RUNTIME-006").cloned();
    let stdlib = stdlib.expect("LUCID-RUNTIME-006 ran");
    assert_eq!(stdlib["status"], "pass", "{stdlib}");
    let walk = docker(&[
        "run",
        "--rm",
        "lucid-python-base:trust",
        "python",
        "-W",
        "ignore",
        "-c",
        "import importlib, pkgutil, sysconfig\n\
         names = [m.name for m in pkgutil.iter_modules([sysconfig.get_path('stdlib')]) if m.name not in ('antigravity', 'this')]\n\
         for n in names: importlib.import_module(n)\n\
         print('walked', len(names), '_distutils_system_mod' in names)",
    ]);
    assert!(walk.contains(" True"), "Debian's _distutils_system_mod not walked: {walk}");

    // An image whose lib2to3 is gone fails the check, naming it. (Not distutils: the build image's
    // setuptools would answer `import distutils` with its own copy.)
    let ctx = tmp.path().join("broken");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM lucid-python-build:trust\nUSER 0:0\nRUN rm -rf /usr/lib/python3.11/lib2to3\nUSER 65532:65532\n",
    )
    .unwrap();
    let built = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", "lucid-test-nolib2to3:latest"])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let verify = lucid()
        .args(["verify", "docker-daemon:lucid-test-nolib2to3:latest", "--require-runtime", "--format", "json"])
        .output()
        .unwrap();
    docker_ok(&["rmi", "-f", "lucid-test-nolib2to3:latest"]);
    assert_eq!(verify.status.code(), Some(1), "{}", String::from_utf8_lossy(&verify.stderr));
    let report: serde_json::Value = serde_json::from_slice(&verify.stdout).expect("verify's JSON");
    let stdlib = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "LUCID-RUNTIME-006").cloned();
    let stdlib = stdlib.expect("LUCID-RUNTIME-006 ran");
    assert_eq!(stdlib["status"], "fail", "{stdlib}");
    assert!(stdlib["message"].as_str().unwrap().contains("lib2to3: ModuleNotFoundError"), "{stdlib}");
}
