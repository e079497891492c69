//! Signatures, checked by a real client: `lucid sign` and `lucid build --push --sign` sign images
//! in a loopback registry, and Debian's skopeo, with a `policy.json` that requires
//! `sigstoreSigned` by the public key and `use-sigstore-attachments: true`, copies them, and
//! refuses them when the signature is missing, made with another key, or copied from another
//! image onto one whose manifest changed. `lucid verify --key` says the same.
//!
//! Debian 12's skopeo (1.9) is built with sigstore disabled ("Debian-local change"), so the
//! client is Debian 13's skopeo (1.18), in an image lucid builds here from trixie's packages and
//! the engine runs on the host network. The keys are made by openssl, not by lucid.

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::path::Path;
use std::process::{Command, Output};

use registry::Registry;
use support::{keypair, lucid, repo_root, require_docker, require_tool};

/// The client image: skopeo and what it needs from Debian 13, built by lucid with the repository's
/// pinned archive keys, loaded into the engine under this name.
const SKOPEO_IMAGE: &str = "lucid-test-skopeo";

fn skopeo_image(dir: &Path) -> String {
    let keyring = repo_root().join("infrastructure/containers/base/keys/debian-archive-keys.pgp");
    let spec = format!(
        "version: 1
distributions:
  - name: debian13
    suites: [trixie, trixie-updates, trixie-security]
    keyring: {keyring}
    signers:
      - 04B54C3CDCA79751B16BC6B5225629DF75B188BD
      - 41587F7DB8C774BCCF131416762F67A0B2C39DE4
      - 5E04A1E3223A19A20706E20F9904613D4CCE68C6
    merged_usr: true
    exclude: [debconf, dpkg, perl-base, mawk, gawk, original-awk, mime-support, readline-common, openssl,
              openssl-provider-legacy, debianutils, sensible-utils, init-system-helpers, usrmerge, usr-is-merged, sqv]
platforms: [linux/amd64]
tags: [latest]
user: {{name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}}
images:
  {SKOPEO_IMAGE}:
    stage: build-stage
    budget: 200MB
    packages: [skopeo]
    entrypoint: [/usr/bin/skopeo]
",
        keyring = keyring.display()
    );
    let file = dir.join("build-args.yml");
    std::fs::write(&file, spec).unwrap();
    let o = lucid().arg("build").arg("-f").arg(&file).arg("-o").arg(dir.join("out")).arg("--load").output().unwrap();
    assert!(o.status.success(), "building the skopeo image failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let version =
        Command::new("docker").args(["run", "--rm", &format!("{SKOPEO_IMAGE}:latest"), "--version"]).output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(version.starts_with("skopeo version 1.1"), "not Debian 13's skopeo: {version:?}");
    format!("{SKOPEO_IMAGE}:latest")
}

/// The policy and registries.d a client of `reg` uses to require signatures by `public`.
struct Client {
    image: String,
    dir: tempfile::TempDir,
}

impl Client {
    /// `skopeo copy` of `image` (docker://HOST/REPO:TAG) under a policy that requires a
    /// signature by `public`; the copy is thrown away (no signatures are written anywhere).
    fn copy(&self, registry: &str, public: &Path, image: &str) -> Output {
        let dir = self.dir.path();
        std::fs::copy(public, dir.join("key.pub")).unwrap();
        let policy = serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {"docker": {registry: [{
                "type": "sigstoreSigned",
                "keyPath": "/client/key.pub",
                "signedIdentity": {"type": "matchRepository"},
            }]}},
        });
        std::fs::write(dir.join("policy.json"), policy.to_string()).unwrap();
        std::fs::create_dir_all(dir.join("registries.d")).unwrap();
        std::fs::write(
            dir.join("registries.d/lucid.yaml"),
            format!("docker:\n  {registry}:\n    use-sigstore-attachments: true\n"),
        )
        .unwrap();
        let mount = format!("{}:/client:ro", dir.display());
        Command::new("docker")
            .args(["run", "--rm", "--network", "host", "--tmpfs", "/tmp", "-v", &mount, &self.image])
            .args(["--policy", "/client/policy.json", "--registries.d", "/client/registries.d", "copy"])
            .args(["--remove-signatures", "--src-tls-verify=false", image, "oci:/tmp/copy:latest"])
            .output()
            .unwrap()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The digest of what `image` (docker://...) resolves to, and of its linux/amd64 manifest,
/// read with the host's skopeo (reading needs no sigstore).
fn digests(image: &str) -> (String, String) {
    let o = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", image]).output().unwrap();
    assert!(o.status.success(), "skopeo inspect {image}: {}", text(&o));
    let index: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&o.stdout)));
    let amd64 = index["manifests"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["platform"]["architecture"] == "amd64"))
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .expect("an index with linux/amd64");
    (top, amd64)
}

fn sig_tag(repo: &str, digest: &str) -> String {
    format!("{repo}:sha256-{}.sig", digest.trim_start_matches("sha256:"))
}

fn lucid_ok(args: &[&str]) -> Output {
    let o = lucid().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "lucid {}:\n{}", args.join(" "), text(&o));
    o
}

#[test]
fn skopeo_accepts_what_lucid_signed_and_refuses_the_rest() {
    require_docker();
    require_tool("skopeo");
    require_tool("openssl");
    let work = tempfile::tempdir().unwrap();
    let client = Client { image: skopeo_image(work.path()), dir: tempfile::tempdir().unwrap() };
    let out = support::spec_images(&[]);
    let reg = Registry::start();
    let (key, public) = keypair(work.path(), "lucid");
    let (other_key, other_public) = keypair(work.path(), "other");
    let layout = |image: &str| format!("oci:{}:latest", out.join(image).display());
    let base = format!("docker://{}/lucid/python-base:latest", reg.addr);
    let build = format!("docker://{}/lucid/python-build:latest", reg.addr);
    lucid_ok(&["push", "-q", &layout("lucid-python-base"), &base]);
    lucid_ok(&["push", "-q", &layout("lucid-python-build"), &build]);

    // Unsigned: refused by skopeo and by lucid verify --key.
    let o = client.copy(&reg.addr, &public, &base);
    assert!(!o.status.success() && text(&o).contains("no signature exists"), "unsigned accepted:\n{}", text(&o));
    let key_s = key.to_str().unwrap();
    let pub_s = public.to_str().unwrap();
    let v = lucid().args(["verify", "--no-runtime", "--key", pub_s, &base]).output().unwrap();
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains("LUCID-SIGN-001") && text(&v).contains("no signature"), "{}", text(&v));

    // Signed: the index and both platforms' manifests, one line each on stdout.
    let o = lucid_ok(&["sign", &base, "--key", key_s]);
    let signed = String::from_utf8_lossy(&o.stdout).into_owned();
    let (top, amd64) = digests(&base);
    assert_eq!(signed.lines().count(), 3, "{signed}");
    assert!(signed.contains(&top) && signed.contains(&amd64), "{signed}");
    let o = client.copy(&reg.addr, &public, &base);
    assert!(o.status.success(), "skopeo refused what lucid signed:\n{}", text(&o));
    lucid_ok(&["verify", "--no-runtime", "--key", pub_s, &base]);

    // Signing again adds nothing: the signature manifest is the same bytes.
    let repo = base.rsplit_once(':').unwrap().0.to_string();
    let sig = sig_tag(&repo, &top);
    let before = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &sig]).output().unwrap();
    let again = lucid_ok(&["sign", &base, "--key", key_s]);
    assert!(text(&again).contains("already"), "{}", text(&again));
    let after = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &sig]).output().unwrap();
    assert!(before.status.success() && before.stdout == after.stdout, "re-signing changed {sig}");

    // Another key's policy refuses it; lucid verify with that key fails.
    let o = client.copy(&reg.addr, &other_public, &base);
    assert!(!o.status.success() && text(&o).contains("signature"), "another key accepted:\n{}", text(&o));
    let v = lucid().args(["verify", "--no-runtime", "--key", other_public.to_str().unwrap(), &base]).output().unwrap();
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));

    // A signature by another key alone is not enough either (the key from the environment).
    let pem = std::fs::read_to_string(&other_key).unwrap();
    let o = lucid()
        .args(["sign", &build, "--key", "env://LUCID_TEST_SIGNING_KEY"])
        .env("LUCID_TEST_SIGNING_KEY", &pem)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains(pem.lines().nth(1).unwrap()), "the key was printed");
    let o = client.copy(&reg.addr, &public, &build);
    assert!(!o.status.success(), "signed by another key, accepted:\n{}", text(&o));
    let o = client.copy(&reg.addr, &other_public, &build);
    assert!(o.status.success(), "{}", text(&o));

    // The manifest changed after signing: another image under the signed tag, with the old
    // signatures copied onto its digests' signature tags. Both clients refuse it.
    lucid_ok(&["push", "-q", &layout("lucid-python-build"), &base]);
    let (new_top, new_amd64) = digests(&base);
    for (old, new) in [(&top, &new_top), (&amd64, &new_amd64)] {
        let o = Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "--preserve-digests"])
            .args([sig_tag(&repo, old), sig_tag(&repo, new)])
            .output()
            .unwrap();
        assert!(o.status.success(), "copying the signature: {}", text(&o));
    }
    let o = client.copy(&reg.addr, &public, &base);
    assert!(!o.status.success() && text(&o).contains("does not match"), "a changed manifest accepted:\n{}", text(&o));
    let v = lucid().args(["verify", "--no-runtime", "--key", pub_s, &base]).output().unwrap();
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains("not this image"), "{}", text(&v));

    // lucid build --push --sign: what it pushes is signed (the build recalls the shared build's
    // images from the cache).
    let pushed_repo = "lucid/signed-at-build";
    let pushed = format!("{}/{pushed_repo}:latest", reg.addr);
    let built = work.path().join("built");
    let build_push_sign = || {
        lucid_ok(
            &["build", "lucid-python-base", "--locked", "--push", "-t", &pushed, "--sign", key_s, "-o"]
                .into_iter()
                .chain([built.to_str().unwrap()])
                .collect::<Vec<_>>(),
        )
    };
    build_push_sign();
    let o = client.copy(&reg.addr, &public, &format!("docker://{pushed}"));
    assert!(o.status.success(), "skopeo refused what lucid build --push --sign pushed:\n{}", text(&o));

    // Its provenance and SBOM attestations verify with securesystemslib (DSSE, in-toto), and
    // name the pushed manifests' digests; lucid verify --require-attestations agrees.
    let (pushed_top, pushed_amd64) = digests(&format!("docker://{pushed}"));
    let report = securesystemslib_check(&reg.addr, pushed_repo, &public, &[&pushed_top, &pushed_amd64]);
    assert!(report.contains(&format!("{pushed_top} https://slsa.dev/provenance/v1")), "{report}");
    for predicate in ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document", "https://cyclonedx.org/bom"] {
        assert!(report.contains(&format!("{pushed_amd64} {predicate}")), "no {predicate}:\n{report}");
    }
    let provenance = report.lines().find(|l| l.starts_with("provenance-deps ")).unwrap_or_else(|| panic!("{report}"));
    assert!(provenance.contains("pkg:deb/debian/libc6@") && provenance.contains("pkg:pypi/"), "{provenance}");
    let attested = format!("docker://{pushed}");
    lucid_ok(&["verify", "--no-runtime", "--key", pub_s, "--require-attestations", &attested]);
    // Pushing the same build again replaces this key's provenance rather than adding one more.
    let att = |digest: &str| {
        let tag = format!("docker://{}/{pushed_repo}:sha256-{}.att", reg.addr, digest.trim_start_matches("sha256:"));
        let o = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &tag]).output().unwrap();
        let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{tag}: {}", text(&o)));
        m["layers"].as_array().map_or(0, Vec::len)
    };
    let before = (att(&pushed_top), att(&pushed_amd64));
    build_push_sign();
    assert_eq!((att(&pushed_top), att(&pushed_amd64)), before, "a second push added attestations");
    assert_eq!(before, (1, 3), "provenance on the index; provenance, SPDX, CycloneDX on the platform");
    // An image that is signed but carries no attestations fails the requirement.
    lucid_ok(&["sign", &build, "--key", key_s]);
    let v =
        lucid().args(["verify", "--no-runtime", "--key", pub_s, "--require-attestations", &build]).output().unwrap();
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains("LUCID-SIGN-002") && text(&v).contains("attestations by"), "{}", text(&v));
}

/// Verifies, with securesystemslib (the Python package index's, in a virtual environment made
/// here), every `.att` attestation on `digests` in `REGISTRY/repo` against the public key:
/// prints `DIGEST PREDICATE_TYPE` for each verified statement that names DIGEST, and
/// `provenance-deps` with the resolved dependencies' URIs. Fails on any envelope that does not
/// verify.
fn securesystemslib_check(registry: &str, repo: &str, public: &Path, digests: &[&str]) -> String {
    const SCRIPT: &str = r#"
import json, sys, urllib.request
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
registry, repo, key_path = sys.argv[1:4]
key = SSlibKey("", "ecdsa", "ecdsa-sha2-nistp256", {"public": open(key_path).read()})
def get(path, accept=None):
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/{path}")
    if accept:
        req.add_header("Accept", accept)
    return urllib.request.urlopen(req).read()
for digest in sys.argv[4:]:
    tag = "sha256-" + digest.split(":")[1] + ".att"
    manifest = json.loads(get("manifests/" + tag, "application/vnd.oci.image.manifest.v1+json"))
    for layer in manifest["layers"]:
        envelope = Envelope.from_dict(json.loads(get("blobs/" + layer["digest"])))
        envelope.verify([key], 1)
        statement = json.loads(envelope.payload)
        assert statement["_type"] == "https://in-toto.io/Statement/v1", statement["_type"]
        names = [s["digest"]["sha256"] for s in statement["subject"]]
        if digest.split(":")[1] in names:
            print(digest, statement["predicateType"])
        if statement["predicateType"] == "https://slsa.dev/provenance/v1":
            deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
            print("provenance-deps", " ".join(d["uri"] for d in deps))
"#;
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("securesystemslib-venv");
    let python = venv.join("bin/python");
    let ready =
        Command::new(&python).args(["-c", "import securesystemslib.dsse"]).output().is_ok_and(|o| o.status.success());
    if !ready {
        let _ = std::fs::remove_dir_all(&venv);
        let o = Command::new("python3").args(["-m", "venv"]).arg(&venv).output().unwrap();
        assert!(o.status.success(), "python3 -m venv: {}", text(&o));
        let o = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "securesystemslib[crypto]==1.*"])
            .output()
            .unwrap();
        assert!(o.status.success(), "pip install securesystemslib: {}", text(&o));
    }
    let o = Command::new(&python).args(["-c", SCRIPT, registry, repo]).arg(public).args(digests).output().unwrap();
    assert!(o.status.success(), "securesystemslib refused the attestations:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn keys_that_cannot_sign_are_configuration_errors() {
    let work = tempfile::tempdir().unwrap();
    let (key, public) = keypair(work.path(), "k");
    let image = "docker://127.0.0.1:9/lucid/none:latest";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["sign".into(), image.into(), "--key".into(), public.display().to_string()], "public key"),
        (vec!["sign".into(), image.into(), "--key".into(), "/no/such.key".into()], "/no/such.key"),
        (
            vec!["sign".into(), image.into(), "--key".into(), "env://LUCID_TEST_UNSET_KEY".into()],
            "LUCID_TEST_UNSET_KEY",
        ),
        (vec!["sign".into(), "oci:out/x:latest".into(), "--key".into(), key.display().to_string()], "registry"),
        (vec!["verify".into(), image.into(), "--key".into(), key.display().to_string()], "private key"),
        (vec!["verify".into(), "oci:out/x:latest".into(), "--key".into(), public.display().to_string()], "registry"),
        (vec!["build".into(), "--sign".into(), key.display().to_string()], "--push"),
        // Credentials belong to one registry: images on two, and no --registry to say which.
        (
            vec![
                "sign".into(),
                image.into(),
                "docker://127.0.0.2:9/lucid/other:latest".into(),
                "--key".into(),
                key.display().to_string(),
                "--creds".into(),
                "user:lucid-test-secret-sign".into(),
            ],
            "--registry",
        ),
    ];
    let secret = std::fs::read_to_string(&key).unwrap();
    for (args, says) in cases {
        let o = lucid().args(&args).env_remove("LUCID_TEST_UNSET_KEY").output().unwrap();
        support::assert_no_secret(&o);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(3), "lucid {}: {t}", args.join(" "));
        assert!(t.contains(says), "lucid {}: no {says:?} in {t}", args.join(" "));
        assert!(!t.contains(secret.lines().nth(1).unwrap()), "lucid {} printed the key", args.join(" "));
    }
}

/// `docker login`'s credential helpers: lucid asks the one `credHelpers` names for the registry
/// that wants credentials, and the helper never sees a private key lucid was given in the
/// environment (`--key env://NAME`), while it keeps the rest of the environment.
#[test]
fn a_credential_helper_answers_for_its_registry_and_never_sees_a_private_key() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start_with_auth("alice", "lucid-test-secret-helper");
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let seen = work.path().join("helper-env");
    let helper = bin.join("docker-credential-lucidtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nenv > {}\nread host\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"lucid-test-secret-helper\"}}' \"$host\"\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = work.path().join("docker");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.json"), format!(r#"{{"credHelpers":{{"{}":"lucidtest"}}}}"#, reg.addr)).unwrap();
    let (key, _) = keypair(work.path(), "k");
    let out = support::spec_images(&[]);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let o = lucid()
        .args(["push", "-q", &format!("oci:{}:latest", out.join("lucid-python-base").display())])
        .arg(format!("docker://{}/lucid/helped:latest", reg.addr))
        .env("PATH", &path)
        .env("DOCKER_CONFIG", &config)
        .env("LUCID_TEST_SIGNING_KEY", std::fs::read_to_string(&key).unwrap())
        .env("LUCID_TEST_HELPER_SEES_THIS", "yes")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "the helper's credentials were not used:\n{}", text(&o));
    support::assert_no_secret(&o);
    let env = std::fs::read_to_string(&seen).expect("the helper ran");
    assert!(env.contains("LUCID_TEST_HELPER_SEES_THIS=yes"), "the helper lost its environment:\n{env}");
    assert!(!env.contains("LUCID_TEST_SIGNING_KEY") && !env.contains("PRIVATE KEY"), "the helper saw the key:\n{env}");
}
