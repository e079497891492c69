//! No credential, token or user:token in a URL is ever shown: every subcommand that can hold one
//! runs against loopback registries that ask for it and refuse it, with secrets in every flag
//! and variable lucid reads, and nothing it prints or writes may hold one. Every secret of the
//! suite starts with `lucid-test-secret-` (`support::SECRET_PREFIX`); a second test reads the
//! test sources and holds every file that hands lucid a credential to that prefix and to
//! checking its outputs for it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::stub_http::{Reply, Stub};
use support::{SECRET_PREFIX, assert_no_secret, lucid};

const PASSWORD: &str = "lucid-test-secret-sweep-password";
const TOKEN: &str = "lucid-test-secret-sweep-token";

/// Registries that ask for credentials and refuse whatever they are sent, three ways: HTTP basic,
/// a bearer token from a realm on the same origin that refuses the password, and one that hands
/// out a token and then refuses it.
fn hostile_registries() -> Vec<Stub> {
    let basic = Stub::start("127.0.0.1", |_| Reply::status(401).header("WWW-Authenticate", r#"Basic realm="x""#));
    let realm_refuses = Stub::start("127.0.0.1", |s| {
        if s.path.starts_with("/token") {
            Reply::status(403).body(b"{\"errors\":[{\"message\":\"no\"}]}")
        } else {
            let realm = format!(r#"Bearer realm="http://{}/token",service="x""#, s.host);
            Reply::status(401).header("WWW-Authenticate", &realm)
        }
    });
    let token_refused = Stub::start("127.0.0.1", |s| {
        if s.path.starts_with("/token") {
            Reply::json(b"{\"token\":\"lucid-test-secret-issued-token\"}")
        } else {
            let realm = format!(r#"Bearer realm="http://{}/token",service="x""#, s.host);
            Reply::status(401).header("WWW-Authenticate", &realm)
        }
    });
    vec![basic, realm_refuses, token_refused]
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out
}

#[test]
fn no_subcommand_shows_a_secret_it_was_given() {
    let work = tempfile::tempdir().unwrap();
    let docker_config = work.path().join("docker");
    std::fs::create_dir_all(&docker_config).unwrap();
    let creds = format!("alice:{PASSWORD}");
    let mut runs = 0;
    for registry in hostile_registries() {
        let host = registry.addr.clone();
        let auth = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&creds)
        };
        std::fs::write(docker_config.join("config.json"), format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#))
            .unwrap();
        let image = format!("docker://{host}/team/app:latest");
        let out = work.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let report = out.join("report.json").display().to_string();
        let key = work.path().join("signing.key");
        if !key.exists() {
            support::keypair(work.path(), "signing");
        }
        let key = key.display().to_string();
        let commands: Vec<Vec<String>> = [
            vec!["verify", &image, "--no-runtime", "--format", "json", "-o", &report],
            vec!["verify", &image, "--no-runtime", "--format", "sarif", "-o", &report],
            vec!["report", &image, "--format", "html", "-o", &report],
            vec!["sbom", &image, "-o", &report],
            vec!["diff", &image, &image],
            vec!["push", &image, &format!("docker://{host}/team/copy:latest")],
            vec!["sign", &image, "--key", &key],
        ]
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
        for command in &commands {
            // The secret bound to this registry by flag, by environment, and by `docker login`
            // (push and sign bind to their destination by themselves; the others take --registry).
            let bind: &[&str] =
                if ["push", "sign"].contains(&command[0].as_str()) { &[] } else { &["--registry", &host] };
            let bound: [Vec<&str>; 3] = [
                [&["--creds", creds.as_str()][..], bind].concat(),
                [&["--registry-token", TOKEN][..], bind].concat(),
                bind.to_vec(),
            ];
            for extra in &bound {
                for quiet in [false, true] {
                    let mut c = lucid();
                    c.current_dir(work.path())
                        .env("DOCKER_CONFIG", &docker_config)
                        .env("LUCID_REGISTRY_CREDS", &creds)
                        .env("LUCID_INDEX_URL", format!("http://alice:{PASSWORD}@127.0.0.1:9/simple"))
                        .env("LUCID_DEBIAN_MIRROR", format!("http://alice:{PASSWORD}@127.0.0.1:9/debian"))
                        .env("LUCID_CACHE", work.path().join("cache"))
                        .args(command)
                        .args(extra);
                    if quiet {
                        c.arg("--quiet");
                    }
                    let o: Output = c.output().unwrap();
                    runs += 1;
                    let said = assert_no_secret(&o);
                    // Credentials missing or refused, however the registry asks: a configuration
                    // problem of the job (exit 3), the same for basic and token challenges.
                    assert_eq!(o.status.code(), Some(3), "{command:?} {extra:?}\n{said}");
                    assert!(!said.contains("panicked"), "{said}");
                }
            }
        }
        assert!(registry.authorized().len() >= commands.len(), "the secrets were offered, so their paths ran");
        for (path, bytes) in files_under(&out) {
            assert!(!String::from_utf8_lossy(&bytes).contains(SECRET_PREFIX), "{} holds a secret", path.display());
        }
    }
    assert_eq!(runs, 3 * 7 * 3 * 2);
}

/// Words that show a test hands lucid a credential.
const CREDENTIAL_MARKERS: &[&str] =
    &["--creds", "--registry-token", "LUCID_REGISTRY_CREDS", "LUCID_REGISTRY_TOKEN", "htpasswd", "\"auths\""];

#[test]
fn every_test_that_hands_lucid_a_secret_marks_it_and_checks_for_it() {
    let tests = support::repo_root().join("tests");
    let mut checked = 0;
    for (path, bytes) in files_under(&tests) {
        // The helpers hand lucid nothing: support/registry.rs starts a registry with the user and
        // password its caller gives, and that caller is checked here.
        if path.extension().is_none_or(|e| e != "rs")
            || path.ends_with("support/mod.rs")
            || path.ends_with("support/registry.rs")
        {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        if !CREDENTIAL_MARKERS.iter().any(|m| text.contains(m)) {
            continue;
        }
        checked += 1;
        let name = path.strip_prefix(&tests).unwrap().display().to_string();
        assert!(text.contains(SECRET_PREFIX), "{name} hands lucid credentials that are not {SECRET_PREFIX}...");
        assert!(
            text.contains("assert_no_secret"),
            "{name} hands lucid credentials but never checks its output for them (support::assert_no_secret)"
        );
    }
    assert!(checked >= 3, "only {checked} test files hand lucid credentials: the markers no longer match");
}

#[test]
fn a_secret_written_into_an_image_reference_is_never_echoed() {
    // A reference never carries credentials (they are refused), and the refusal must not quote
    // the secret the user typed into it.
    let with_userinfo = format!("docker://alice:{PASSWORD}@127.0.0.1:9/team/app:latest");
    let hashed = format!("docker://alice:p#{PASSWORD}@127.0.0.1:9/team/app:latest");
    for reference in [&with_userinfo, &hashed] {
        for args in [
            vec!["verify", reference.as_str(), "--no-runtime"],
            vec!["report", reference],
            vec!["sbom", reference],
            vec!["diff", reference, reference],
            vec!["push", reference, "docker://127.0.0.1:9/team/copy:latest"],
            vec!["push", "oci:/nonexistent:latest", reference],
        ] {
            let o = lucid().args(&args).output().unwrap();
            let said = assert_no_secret(&o);
            assert_eq!(o.status.code(), Some(3), "{args:?}: {said}");
        }
    }
}
