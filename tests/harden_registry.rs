//! Registries that try to take credentials they are not owed, and mirrors or indexes whose URL
//! holds a user and token: loopback servers (`support::stub_http`) play the hostile registry, the
//! token realm and the upload target on another origin (127.0.0.1 and 127.0.0.2, different
//! ports: different origins), and each test checks what they saw. Every secret starts with
//! `lucid-test-secret-` and must appear in no output.

mod support;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use support::lucid;
use support::stub_http::{Body, Reply, Seen, Stub};

const USER: &str = "alice";
const PASSWORD: &str = "lucid-test-secret-registry-password";
const TOKEN: &str = "lucid-test-secret-registry-token";

/// `Basic base64(alice:PASSWORD)`, as a registry would receive it.
fn basic_header() -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")))
}

use support::assert_no_secret as no_secret;

/// A registry that wants basic auth from everyone and takes whatever it is sent.
fn greedy() -> Stub {
    Stub::start("127.0.0.2", |_| Reply::status(401).header("WWW-Authenticate", r#"Basic realm="evil""#))
}

/// `lucid verify docker://HOST/x:latest` with `args`, an empty Docker config and `env`.
fn verify(host: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let config = tempfile::tempdir().unwrap();
    let mut c = lucid();
    c.env_remove("LUCID_REGISTRY_CREDS").env_remove("LUCID_REGISTRY_TOKEN").env_remove("LUCID_REGISTRY");
    c.env("DOCKER_CONFIG", config.path()).envs(env.iter().copied());
    c.args(["verify", "--no-runtime", &format!("docker://{host}/x:latest")]).args(args).output().unwrap()
}

#[test]
fn credentials_meant_for_one_registry_reach_no_other() {
    let evil = greedy();
    let home = "127.0.0.1:5999";
    let creds = format!("{USER}:{PASSWORD}");
    // The CI job's secrets, set for its own registry, while it verifies an image from elsewhere:
    // in the environment without --registry, bound by --registry, a token, and `docker login`'s.
    let o = verify(&evil.addr, &[], &[("LUCID_REGISTRY_CREDS", &creds), ("LUCID_REGISTRY_TOKEN", TOKEN)]);
    let err = no_secret(&o);
    assert!(!o.status.success());
    assert!(err.contains("bound to no registry") && err.contains("--registry"), "{err}");
    let o = verify(&evil.addr, &["--creds", &creds, "--registry", home], &[]);
    let err = no_secret(&o);
    assert!(err.contains(&format!("are for {home}")), "{err}");
    no_secret(&verify(&evil.addr, &["--registry-token", TOKEN], &[("LUCID_REGISTRY", home)]));
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        format!(r#"{{"auths":{{"{home}":{{"auth":"{}"}}}}}}"#, &basic_header()["Basic ".len()..]),
    )
    .unwrap();
    no_secret(&verify(&evil.addr, &[], &[("DOCKER_CONFIG", config.path().to_str().unwrap())]));
    // A push whose source is on the hostile host: the credentials are the destination's.
    let o = lucid()
        .args(["push", "--creds", &creds, &format!("docker://{}/x:latest", evil.addr)])
        .arg(format!("docker://{home}/y:latest"))
        .output()
        .unwrap();
    no_secret(&o);
    assert!(!o.status.success());
    let seen = evil.seen();
    assert!(seen.len() >= 5, "every command asked the hostile registry: {seen:?}");
    assert_eq!(evil.authorized().len(), 0, "the hostile registry received credentials: {seen:?}");
}

#[test]
fn anonymous_first_then_only_what_the_challenge_asks_for() {
    let registry = Stub::start("127.0.0.1", |s| match &s.authorization {
        Some(a) if *a == basic_header() => Reply::status(404),
        _ => Reply::status(401).header("WWW-Authenticate", r#"Basic realm="home""#),
    });
    let o = verify(&registry.addr, &["--creds", &format!("{USER}:{PASSWORD}")], &[("LUCID_REGISTRY", &registry.addr)]);
    let err = no_secret(&o);
    assert!(err.contains("no such repository"), "{err}");
    let seen = registry.seen();
    assert!(seen.len() >= 2, "{seen:?}");
    assert_eq!(seen[0].authorization, None, "the first request carried credentials: {seen:?}");
    assert_eq!(seen[1].authorization.as_deref(), Some(basic_header().as_str()), "{seen:?}");
}

/// A registry that answers with a bearer challenge naming `realm(own address)`, hands out
/// TOKEN on its own `/token` for the right basic credentials, and answers 404 to the token.
fn bearer_registry(realm: impl Fn(&str) -> String + Send + Sync + 'static) -> Stub {
    let me: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let own = me.clone();
    let stub = Stub::start("127.0.0.1", move |s: &Seen| {
        let addr = own.get().expect("address set");
        if s.path.starts_with("/token") {
            return match &s.authorization {
                Some(a) if *a == basic_header() => Reply::json(format!(r#"{{"token":"{TOKEN}"}}"#).as_bytes()),
                _ => Reply::status(401),
            };
        }
        if s.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")) {
            return Reply::status(404);
        }
        let challenge = format!(r#"Bearer realm="{}",service="home",scope="repository:x:pull""#, realm(addr));
        Reply::status(401).header("WWW-Authenticate", &challenge)
    });
    me.set(stub.addr.clone()).unwrap();
    stub
}

#[test]
fn a_plain_http_token_realm_elsewhere_gets_no_credentials() {
    let realm = Arc::new(greedy());
    let elsewhere = realm.url();
    let registry = bearer_registry(move |_| format!("{elsewhere}/token"));
    let o = verify(&registry.addr, &["--creds", &format!("{USER}:{PASSWORD}")], &[("LUCID_REGISTRY", &registry.addr)]);
    let err = no_secret(&o);
    assert!(!o.status.success());
    assert!(err.contains("plain http on another origin"), "{err}");
    assert_eq!(realm.authorized().len(), 0, "the realm received credentials: {:?}", realm.seen());
    assert_eq!(registry.seen()[0].authorization, None, "{:?}", registry.seen());

    // The registry's own realm gets them, and the token it hands out goes back to the registry.
    let registry = bearer_registry(|own| format!("http://{own}/token"));
    let o = verify(&registry.addr, &["--creds", &format!("{USER}:{PASSWORD}")], &[("LUCID_REGISTRY", &registry.addr)]);
    let err = no_secret(&o);
    assert!(err.contains("no such repository"), "{err}");
    let seen = registry.seen();
    assert_eq!(seen[0].authorization, None, "{seen:?}");
    assert!(seen.iter().any(|s| s.path.starts_with("/token") && s.authorization == Some(basic_header())), "{seen:?}");
    assert_eq!(seen.last().unwrap().authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()), "{seen:?}");
}

#[test]
fn redirects_to_another_origin_carry_no_credentials() {
    let storage = Arc::new(Stub::start("127.0.0.2", |_| Reply::status(404)));
    let target = format!("{}/storage/blob", storage.url());
    let registry = Stub::start("127.0.0.1", move |s| match &s.authorization {
        Some(a) if *a == basic_header() => Reply::status(307).header("Location", &target),
        _ => Reply::status(401).header("WWW-Authenticate", r#"Basic realm="home""#),
    });
    let o = verify(&registry.addr, &["--creds", &format!("{USER}:{PASSWORD}")], &[("LUCID_REGISTRY", &registry.addr)]);
    no_secret(&o);
    assert!(!o.status.success());
    assert!(!storage.seen().is_empty(), "the redirect was not followed");
    assert_eq!(storage.authorized().len(), 0, "the storage backend received credentials: {:?}", storage.seen());
}

/// A one-layer image in an OCI layout at `dir`, tagged `latest`.
fn small_layout(dir: &Path) -> String {
    use lucid::rootfs::{Entry, Tree};
    let mut tree = Tree::new();
    tree.insert("etc/hello", Entry::file(b"hello\n".to_vec(), 0o644)).unwrap();
    let blobs = dir.join("blobs-work");
    std::fs::create_dir_all(&blobs).unwrap();
    let layer = lucid::oci::write_layer(&tree, 1_700_000_000, &blobs).unwrap();
    let config = lucid::oci::ImageConfig {
        platform: lucid::platform::Platform::host(),
        user: "65532:65532".into(),
        env: vec![],
        entrypoint: vec!["/nothing".into()],
        cmd: vec![],
        working_dir: "/".into(),
        labels: Default::default(),
        created: 1_700_000_000,
        history: vec!["one file".into()],
    };
    let image = lucid::oci::assemble(config, vec![layer]).unwrap();
    let layout = dir.join("layout");
    lucid::oci::layout::write_layout(&layout, &[(&image, vec!["latest".to_string()])]).unwrap();
    format!("oci:{}:latest", layout.display())
}

#[test]
fn an_upload_location_on_another_origin_is_refused() {
    let elsewhere = Arc::new(Stub::start("127.0.0.2", |_| Reply::status(201)));
    let upload = format!("{}/upload/1?_state=x", elsewhere.url());
    let registry = Stub::start("127.0.0.1", move |s| {
        if s.authorization.as_deref() != Some(basic_header().as_str()) {
            return Reply::status(401).header("WWW-Authenticate", r#"Basic realm="home""#);
        }
        match s.method.as_str() {
            "HEAD" => Reply::status(404),
            "POST" => Reply::status(202).header("Location", &upload),
            _ => Reply::status(500),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let source = small_layout(dir.path());
    let config = tempfile::tempdir().unwrap();
    // `lucid push` of the small layout to `registry`, with the credentials bound to it.
    let push = |registry: &Stub| {
        lucid()
            .env("DOCKER_CONFIG", config.path())
            .args(["push", "--creds", &format!("{USER}:{PASSWORD}"), &source])
            .arg(format!("docker://{}/x:latest", registry.addr))
            .output()
            .unwrap()
    };
    let o = push(&registry);
    let err = no_secret(&o);
    assert!(!o.status.success());
    assert!(err.contains("upload Location on another origin"), "{err}");
    assert!(elsewhere.seen().is_empty(), "the other origin was sent the blob: {:?}", elsewhere.seen());
    assert_eq!(registry.seen()[0].authorization, None, "{:?}", registry.seen());

    // The same through a redirect of the closing PUT: it is not followed, with or without the
    // credentials, so the image's bytes go nowhere else either.
    let target = format!("{}/stolen", elsewhere.url());
    let registry = Stub::start("127.0.0.1", move |s| {
        if s.authorization.as_deref() != Some(basic_header().as_str()) {
            return Reply::status(401).header("WWW-Authenticate", r#"Basic realm="home""#);
        }
        match s.method.as_str() {
            "HEAD" => Reply::status(404),
            "POST" => Reply::status(202).header("Location", "/v2/x/blobs/uploads/1?_state=x"),
            _ => Reply::status(307).header("Location", &target),
        }
    });
    let o = push(&registry);
    let err = no_secret(&o);
    assert!(!o.status.success());
    assert!(err.contains("307"), "{err}");
    assert!(elsewhere.seen().is_empty(), "a redirected upload reached the other origin: {:?}", elsewhere.seen());
}

#[test]
fn a_blob_longer_than_its_descriptor_is_cut_off() {
    let config_digest = format!("sha256:{}", "c".repeat(64));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":100}},
            "layers":[]}}"#
    );
    let registry = Stub::start("127.0.0.1", move |s| {
        if s.path.contains("/manifests/") {
            Reply::json(manifest.as_bytes()).header("Docker-Content-Type", "x")
        } else {
            // A gigabyte where the descriptor promises 100 bytes.
            Reply { status: 200, headers: Vec::new(), body: Body::Endless(1 << 30) }
        }
    });
    let started = Instant::now();
    let o = verify(&registry.addr, &[], &[]);
    let err = no_secret(&o);
    assert!(!o.status.success());
    assert!(err.contains(&config_digest) && err.contains("more than the 100 bytes"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "the download was not cut off: {:?}", started.elapsed());
}

#[test]
fn a_user_and_token_inside_a_mirror_or_index_url_are_used_but_never_printed() {
    let mirror = Stub::start("127.0.0.1", |_| Reply::status(404));
    let with_userinfo = |url: &str| url.replacen("http://", &format!("http://{USER}:{PASSWORD}@"), 1);
    // A Debian mirror: the build fails on its 404, naming the URL without the secret.
    let repo = support::hermetic::repo(1 << 10);
    let project = support::hermetic::Project::new(&repo);
    let o = project.build(&with_userinfo(&mirror.url()), &project.path("cache"), &project.path("out"), &["alpha"]);
    let err = no_secret(&o);
    assert!(!o.status.success());
    assert!(err.contains("***@127.0.0.1"), "{err}");
    assert!(mirror.seen().iter().all(|s| s.authorization == Some(basic_header())), "{:?}", mirror.seen());

    // A package index: an error page, a malformed page, a closed port.
    let http = lucid::fetch::Http::with_policy(Duration::from_secs(5), 0, Duration::from_millis(1)).unwrap();
    let index = Stub::start("127.0.0.1", |s| {
        if s.path.contains("malformed") { Reply::json(b"{not json") } else { Reply::status(403) }
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    for (base, name) in [
        (with_userinfo(&format!("{}/simple", index.url())), "forbidden"),
        (with_userinfo(&format!("{}/simple", index.url())), "malformed"),
        (with_userinfo(&format!("http://{closed}/simple")), "closed"),
    ] {
        let e = lucid::python::index::list_files(&http, &base, name).unwrap_err();
        let shown = format!("{e:#}");
        assert!(!shown.contains("lucid-test-secret-") && shown.contains("***@"), "{name}: {shown}");
    }
    assert!(index.seen().iter().all(|s| s.authorization == Some(basic_header())), "{:?}", index.seen());
}
