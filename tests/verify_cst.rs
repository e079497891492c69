//! container-structure-test files mean here what they mean to container-structure-test: for every
//! field of schema 2.0.0, a case that passes and one that fails, each judged as the real tool
//! judges it. The reference is container-structure-test's own code (pkg/types/v2/*.go,
//! pkg/drivers/docker_driver.go, pkg/utils/utils.go at 63ee63e) and its tests/ files; each case
//! says which behaviour it pins.
//!
//! Every case is a structure-test file of its own, named `pass-...` or `fail-...`: its tests must
//! all pass or all fail. The cases run in as few lucid runs as possible (one per image: the
//! built lucid-python-base from the engine, the same image with ports, volumes and an
//! entrypoint added by `docker commit --change`, and a small image lucid's writer makes for the
//! license cases), so the engine starts one container per command test, setup and teardown
//! command (about 25 containers, a few seconds).

mod support;
#[path = "support/verify_images.rs"]
mod verify_images;

use std::collections::BTreeMap;
use std::path::Path;

use support::{docker, docker_ok, lucid, require_docker, spec_images};
use verify_images::{good_config, good_tree, write};

/// Writes each case to `dir/NAME.yaml` and returns the `--config` arguments.
fn write_cases(dir: &Path, cases: &[(&str, &str)]) -> Vec<String> {
    let mut args = Vec::new();
    for (name, body) in cases {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, format!("schemaVersion: 2.0.0\n{body}")).unwrap();
        args.push("--config".to_string());
        args.push(path.display().to_string());
    }
    args
}

/// Runs `lucid verify REFERENCE ARGS --format json` and returns, per case file stem, the
/// statuses and messages of its findings (only structure-test findings carry a file location).
fn run(reference: &str, extra: &[&str], args: &[String]) -> BTreeMap<String, Vec<(String, String)>> {
    let out = lucid()
        .current_dir(std::env::temp_dir())
        .args(["verify", reference, "--format", "json", "--ignore-file", "/nonexistent/.lucidignore"])
        .args(extra)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "exit {:?}\n{stdout}\n{stderr}", out.status);
    parse_report(&stdout, &stderr)
}

/// Every case has findings, and each case's findings all say what its name says.
fn check(cases: &[(&str, &str)], got: &BTreeMap<String, Vec<(String, String)>>) {
    let mut wrong = Vec::new();
    for (name, _) in cases {
        let want = if name.starts_with("pass-") { "pass" } else { "fail" };
        match got.get(*name) {
            None => wrong.push(format!("{name}: no finding")),
            Some(fs) => {
                for (status, message) in fs.iter().filter(|(s, _)| s != want) {
                    wrong.push(format!("{name}: {status}: {message}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "cases judged otherwise than container-structure-test would:\n{}", wrong.join("\n"));
}

/// The message of `case`'s first finding.
fn message<'a>(got: &'a BTreeMap<String, Vec<(String, String)>>, case: &str) -> &'a str {
    &got[case][0].1
}

/// Command, file existence, file content and license tests, and containerRunOptions, on the
/// built lucid-python-base (user 65532:65532, LANG=C.UTF-8, no shell, a sticky /tmp).
const IMAGE_CASES: &[(&str, &str)] = &[
    // The acceptance case: StructureTest.RunCommandTests calls driver.SetEnv(globalEnvVars),
    // which commits them into the image (each value os.Expand'ed against the image's env only:
    // SELF sees no GREETING); the command then runs with them in its environment.
    (
        "pass-global-env-reaches-the-command",
        r#"globalEnvVars:
  - {key: GREETING, value: hello}
  - {key: LANG_COPY, value: "$LANG-x"}
  - {key: SELF, value: "[$GREETING]"}
commandTests:
  - name: globals
    command: python3
    args: ["-c", "import os; print(os.environ['GREETING'], os.environ['LANG_COPY'], os.environ['SELF'])"]
    expectedOutput: ['^hello C\.UTF-8-x \[\]\n$']
"#,
    ),
    (
        "fail-global-env-is-not-the-expected-value",
        r#"globalEnvVars: [{key: GREETING, value: hello}]
commandTests:
  - name: globals
    command: python3
    args: ["-c", "import os; print(os.environ['GREETING'])"]
    expectedOutput: ['^bonjour']
"#,
    ),
    // CommandTest.Run: utils.SubstituteEnvVars(command+args, config.Env) with the globals
    // committed into config.Env; `$` before no name stays (os.Expand).
    (
        "pass-args-are-expanded",
        r#"globalEnvVars: [{key: GREETING, value: hello}]
commandTests:
  - name: args
    command: python3
    args: ["-c", "import sys; print('|'.join(sys.argv[1:]))", "$GREETING/${LANG}", "cost $", "[$UNSET]"]
    expectedOutput: ['^hello/C\.UTF-8\|cost \$\|\[\]\n$']
"#,
    ),
    // ProcessCommand: a test's envVars go to the container as Key=Value, unexpanded.
    (
        "pass-test-env-is-not-expanded",
        r#"commandTests:
  - name: raw env
    command: python3
    args: ["-c", "import os; print(os.environ['RAW'])"]
    envVars: [{key: RAW, value: "$LANG"}]
    expectedOutput: ['^\$LANG\n$']
"#,
    ),
    // CommandTest.Validate: envVars need non-empty keys and values; the test fails unrun.
    (
        "fail-test-env-without-value",
        r#"commandTests:
  - name: empty value
    command: python3
    args: ["--version"]
    envVars: [{key: EMPTY, value: ""}]
"#,
    ),
    // CompileAndRunRegex matches the whole output: `$` is the end of the text, after the
    // newline `print` adds.
    (
        "fail-dollar-is-the-end-of-the-output",
        r#"commandTests:
  - name: anchored
    command: python3
    args: ["-c", "print('hello')"]
    expectedOutput: ['^hello$']
"#,
    ),
    (
        "pass-multiline-dollar",
        r#"commandTests:
  - name: anchored per line
    command: python3
    args: ["-c", "print('hello')"]
    expectedOutput: ['(?m)^hello$']
"#,
    ),
    // CheckOutput: exitCode compared (0 when not given).
    (
        "pass-exit-code",
        r#"commandTests:
  - name: exit 3
    command: python3
    args: ["-c", "import sys; sys.exit(3)"]
    exitCode: 3
"#,
    ),
    (
        "fail-exit-code",
        r#"commandTests:
  - name: exit 3, 0 expected
    command: python3
    args: ["-c", "import sys; sys.exit(3)"]
"#,
    ),
    // CheckOutput: expectedError/excludedError on stderr, expectedOutput/excludedOutput on stdout.
    (
        "pass-streams",
        r#"commandTests:
  - name: streams
    command: python3
    args: ["-c", "import sys; print('out'); sys.stderr.write('oops')"]
    expectedOutput: ['out']
    excludedOutput: ['oops']
    expectedError: ['^oops$']
    excludedError: ['out']
"#,
    ),
    (
        "fail-excluded-error",
        r#"commandTests:
  - name: excluded error
    command: python3
    args: ["-c", "import sys; sys.stderr.write('oops')"]
    excludedError: ['oops']
"#,
    ),
    (
        "fail-expected-error",
        r#"commandTests:
  - name: expected error
    command: python3
    args: ["-c", "print('fine')"]
    expectedError: ['.+']
"#,
    ),
    (
        "fail-excluded-output",
        r#"commandTests:
  - name: excluded output
    command: python3
    args: ["-c", "print('secret')"]
    excludedOutput: ['secret']
"#,
    ),
    // CompileAndRunRegex returns false for a pattern that does not compile, expected or excluded.
    (
        "fail-bad-regex",
        r#"commandTests:
  - name: bad regex
    command: python3
    args: ["--version"]
    excludedOutput: ['(']
"#,
    ),
    // CommandTest.Validate: a command is required.
    ("fail-no-command", "commandTests:\n  - name: nothing to run\n"),
    // DockerDriver.Setup: each setup command runs (runAndCommit) before the test, its exit code
    // ignored, and the test sees what it wrote.
    (
        "pass-setup-runs-first",
        r#"commandTests:
  - name: setup writes, test reads
    setup:
      - ["python3", "-c", "open('/tmp/marker', 'w').write('set')"]
      - ["python3", "-c", "import sys; sys.exit(7)"]
    command: python3
    args: ["-c", "print(open('/tmp/marker').read())"]
    expectedOutput: ['^set\n$']
"#,
    ),
    // runAndCommit: a setup command that does not start is "error in setup": the test fails.
    (
        "fail-setup-does-not-start",
        r#"commandTests:
  - name: broken setup
    setup: [["/no/such/program"]]
    command: python3
    args: ["--version"]
"#,
    ),
    // Validate: an empty setup command fails the test.
    (
        "fail-empty-setup-command",
        r#"commandTests:
  - name: empty setup
    setup: [[]]
    command: python3
    args: ["--version"]
"#,
    ),
    // RunCommandTests: Teardown's error is only logged; the verdict is the command's.
    (
        "pass-teardown-does-not-change-the-verdict",
        r#"commandTests:
  - name: failing teardown
    command: python3
    args: ["--version"]
    teardown: [["python3", "-c", "import sys; sys.exit(1)"]]
"#,
    ),
    // The second acceptance case: os.FileMode.String() of a sticky directory.
    (
        "pass-sticky-tmp",
        "fileExistenceTests:\n  - {name: sticky /tmp, path: /tmp, shouldExist: true, permissions: dtrwxrwxrwx}\n",
    ),
    ("fail-sticky-tmp-without-t", "fileExistenceTests:\n  - {name: /tmp, path: /tmp, permissions: drwxrwxrwx}\n"),
    // StatFile goes through the archive API, which reports a link itself: Lrwxrwxrwx.
    ("pass-link-mode", "fileExistenceTests:\n  - {name: link, path: /usr/bin/python3, permissions: Lrwxrwxrwx}\n"),
    (
        "fail-link-is-not-its-target",
        "fileExistenceTests:\n  - {name: link, path: /usr/bin/python3, permissions: -rwxr-xr-x}\n",
    ),
    // The tar header's Uid/Gid; -1 (the default) is not checked.
    (
        "pass-owner",
        "fileExistenceTests:\n  - {name: home, path: /home/nonroot, uid: 65532, gid: 0, permissions: drwxrwx---}\n  - {name: passwd, path: /etc/passwd, uid: -1, gid: 0, permissions: -rw-r--r--}\n",
    ),
    ("fail-uid", "fileExistenceTests:\n  - {name: passwd uid, path: /etc/passwd, uid: 65532}\n"),
    ("fail-gid", "fileExistenceTests:\n  - {name: passwd gid, path: /etc/passwd, gid: 65532}\n"),
    // isExecutableBy: the x bit of owner, group, other, or any; anything else fails.
    (
        "pass-executable",
        "fileExistenceTests:\n  - {name: owner, path: /usr/bin/python3.11, isExecutableBy: owner}\n  - {name: any, path: /usr/bin/python3.11, isExecutableBy: any}\n  - {name: other, path: /usr/bin/python3.11, isExecutableBy: other}\n",
    ),
    ("fail-not-executable", "fileExistenceTests:\n  - {name: passwd, path: /etc/passwd, isExecutableBy: group}\n"),
    (
        "fail-unknown-executable-by",
        "fileExistenceTests:\n  - {name: who, path: /usr/bin/python3.11, isExecutableBy: everyone}\n",
    ),
    // shouldExist defaults to true (UnmarshalYAML); false asks for absence.
    (
        "pass-absence",
        "fileExistenceTests:\n  - {name: no shell, path: /bin/sh, shouldExist: false}\n  - {name: passwd, path: /etc/passwd}\n",
    ),
    ("fail-present", "fileExistenceTests:\n  - {name: passwd, path: /etc/passwd, shouldExist: false}\n"),
    ("fail-absent", "fileExistenceTests:\n  - {name: a shell, path: /bin/sh}\n"),
    // FileExistenceTest.Run: the path is SubstituteEnvVar'ed against the env with the globals.
    (
        "pass-path-expanded-with-globals",
        "globalEnvVars: [{key: DOCS, value: /usr/share/doc}]\nfileExistenceTests:\n  - {name: copyright, path: \"${DOCS}/libc6/copyright\"}\n",
    ),
    // FileContentTest.Run: the whole file, patterns unanchored unless (?m).
    (
        "pass-content",
        r#"fileContentTests:
  - name: passwd
    path: /etc/passwd
    expectedContents: ['(?m)^nonroot:x:65532:65532:']
    excludedContents: ['(?m)^[^:]*::']
  - name: through a link
    path: /usr/lib/ssl/cert.pem
    expectedContents: ['BEGIN CERTIFICATE']
"#,
    ),
    (
        "fail-content-start-of-file",
        "fileContentTests:\n  - {name: passwd, path: /etc/passwd, expectedContents: ['^nonroot']}\n",
    ),
    (
        "fail-excluded-content",
        "fileContentTests:\n  - {name: passwd, path: /etc/passwd, excludedContents: ['nonroot']}\n",
    ),
    ("fail-content-of-a-directory", "fileContentTests:\n  - {name: dir, path: /tmp, expectedContents: ['.*']}\n"),
    ("fail-content-missing", "fileContentTests:\n  - {name: gone, path: /etc/nothing, expectedContents: ['.*']}\n"),
    // LicenseTest.Run: every /usr/share/doc directory has a copyright file free of AGPL and WTFPL
    // (lucid keeps them: prune keep usr/share/doc/*/copyright), and each of `files` reads.
    ("pass-licenses", "licenseTests:\n  - debian: true\n    files: [/usr/share/doc/libc6/copyright]\n"),
    ("fail-license-file-missing", "licenseTests:\n  - files: [/usr/share/doc/no-such-package/copyright]\n"),
    // containerRunOptions: envVars from lucid's environment, envFile (godotenv), user, tty, a
    // read-only bind mount: the containeropts tests of container-structure-test's tests/.
    (
        "pass-run-options",
        r#"containerRunOptions:
  user: "nonroot"
  allocateTty: true
  envVars: [LUCID_CST_FOO, LUCID_CST_UNSET]
  envFile: ENVFILE
  bindMounts: ["BINDDIR:/mnt/bound:ro"]
commandTests:
  - name: printenv
    command: python3
    args: ["-c", "import os; print(os.environ['LUCID_CST_FOO'], os.environ['BAR'], 'LUCID_CST_UNSET' in os.environ)"]
    expectedOutput: ['keepitsecret! keepitsafe! False']
  - name: user
    command: python3
    args: ["-c", "import os; print(os.getuid(), os.getgid())"]
    expectedOutput: ['65532 65532']
  - name: bound read-only
    command: python3
    args: ["-c", "print(open('/mnt/bound/data').read()); open('/mnt/bound/new', 'w')"]
    exitCode: 1
    expectedOutput: ['^bound']
"#,
    ),
    // lucid's own refusals (docs/verify.md): privileged, capabilities, root, a writable mount.
    (
        "fail-refused-run-options",
        r#"containerRunOptions:
  user: root
  privileged: true
  capabilities: [sys_admin]
  bindMounts: ["BINDDIR:/mnt/bound:rw", "/var/run:/mnt/run:ro"]
commandTests:
  - name: never run
    command: python3
    args: ["--version"]
"#,
    ),
    // Root's group is refused as root is: given, or left to the engine (a uid with no passwd
    // entry runs in group 0).
    (
        "fail-group-0-user",
        r#"containerRunOptions: {user: "65532:0"}
commandTests: [{name: never run, command: python3, args: ["--version"]}]
"#,
    ),
    (
        "fail-user-without-group",
        r#"containerRunOptions: {user: "12345"}
commandTests: [{name: never run, command: python3, args: ["--version"]}]
"#,
    ),
    // The kernel's views and the host's root are never bound, even read-only.
    (
        "fail-bind-of-proc",
        r#"containerRunOptions: {bindMounts: ["/proc:/mnt/proc:ro", "/:/mnt/host:ro"]}
commandTests: [{name: never run, command: python3, args: ["--version"]}]
"#,
    ),
    // lucid's registry credentials never reach the image, by name or through /proc.
    (
        "fail-forwarding-credentials",
        r#"containerRunOptions: {envVars: [LUCID_REGISTRY_TOKEN, DOCKER_AUTH_CONFIG]}
commandTests:
  - name: would print it
    command: python3
    args: ["-c", "import os; print(os.environ.get('LUCID_REGISTRY_TOKEN'))"]
"#,
    ),
    (
        "fail-envfile-under-proc",
        r#"containerRunOptions: {envFile: /proc/self/environ}
commandTests: [{name: never run, command: python3, args: ["--version"]}]
"#,
    ),
];

#[test]
fn structure_tests_on_the_python_image_mean_what_they_mean_to_container_structure_test() {
    require_docker();
    spec_images(&["lucid-python-base"]);
    let dir = tempfile::tempdir().unwrap();
    let bind = dir.path().join("bind");
    std::fs::create_dir(&bind).unwrap();
    std::fs::write(bind.join("data"), "bound\n").unwrap();
    // Readable by the container's user (a tempdir is 0700).
    for p in [dir.path(), bind.as_path()] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let envfile = dir.path().join("envfile");
    std::fs::write(&envfile, "BAR=keepitsafe!\nEMPTY=\n").unwrap();
    let cases: Vec<(&str, String)> = IMAGE_CASES
        .iter()
        .map(|(n, b)| {
            (*n, b.replace("ENVFILE", &envfile.display().to_string()).replace("BINDDIR", &bind.display().to_string()))
        })
        .collect();
    let refs: Vec<(&str, &str)> = cases.iter().map(|(n, b)| (*n, b.as_str())).collect();
    let args = write_cases(dir.path(), &refs);
    let started = std::time::Instant::now();
    let out = lucid()
        .current_dir(std::env::temp_dir())
        .env("LUCID_CST_FOO", "keepitsecret!")
        .env("LUCID_REGISTRY_TOKEN", "lucid-test-secret-token")
        .env("DOCKER_AUTH_CONFIG", "lucid-test-secret-auth")
        .args(["verify", "docker-daemon:lucid-python-base:latest", "--format", "json", "--require-runtime"])
        .args(["--ignore-file", "/nonexistent/.lucidignore"])
        .args(&args)
        .output()
        .unwrap();
    eprintln!("lucid verify with {} case files: {:.1}s", refs.len(), started.elapsed().as_secs_f64());
    support::assert_no_secret(&out);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let got = parse_report(&stdout, &String::from_utf8_lossy(&out.stderr));
    check(&refs, &got);
    // Failures say why, in container-structure-test's terms.
    assert!(message(&got, "fail-sticky-tmp-without-t").contains("dtrwxrwxrwx"), "{got:?}");
    assert!(message(&got, "fail-setup-does-not-start").contains("error in setup"), "{got:?}");
    assert!(message(&got, "pass-teardown-does-not-change-the-verdict").contains("teardown"), "{got:?}");
    let refused = message(&got, "fail-refused-run-options");
    for word in ["privileged", "capabilities", "root", "\"rw\"", "under /run"] {
        assert!(refused.contains(word), "{word}: {refused}");
    }
    let refusals = [
        ("fail-group-0-user", &["group 0"][..]),
        ("fail-user-without-group", &["group 0", "UID:GID"][..]),
        ("fail-bind-of-proc", &["under /proc", "/ is the whole host"][..]),
        ("fail-forwarding-credentials", &["LUCID_REGISTRY_TOKEN", "DOCKER_AUTH_CONFIG", "credentials"][..]),
        ("fail-envfile-under-proc", &["under /proc"][..]),
    ];
    for (case, words) in refusals {
        let m = message(&got, case);
        assert!(m.starts_with("containerRunOptions"), "{case}: {m}");
        for word in words {
            assert!(m.contains(word), "{case}: {word}: {m}");
        }
    }
    assert!(got["fail-refused-run-options"].iter().any(|(_, m)| m.contains("not run")), "{got:?}");
    // Nothing of the run is left in the engine: containers and shared /tmp volumes.
    let label = format!("label={}", lucid::oci::containers::RUN_LABEL);
    assert_eq!(docker(&["ps", "-aq", "--filter", &label]).trim(), "");
    assert_eq!(docker(&["volume", "ls", "-q", "--filter", &label]).trim(), "");
}

fn parse_report(stdout: &str, stderr: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let report: serde_json::Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let mut by_case: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for f in report["findings"].as_array().unwrap() {
        let (Some(path), Some(id)) = (f["locations"][0]["path"].as_str(), f["id"].as_str()) else { continue };
        if !id.starts_with("LUCID-CST") {
            continue;
        }
        let stem = Path::new(path).file_stem().unwrap().to_string_lossy().into_owned();
        let status = f["status"].as_str().unwrap().to_string();
        by_case.entry(stem).or_default().push((status, f["message"].as_str().unwrap().to_string()));
    }
    by_case
}

/// metadataTest on lucid-python-base with ports, volumes, an env var and a label added by
/// `docker commit --change` (no build, nothing pulled), one case per field and verdict.
const METADATA_CASES: &[(&str, &str)] = &[
    // envVars: exact, or isRegex (CompileAndRunRegex); a missing key fails.
    (
        "pass-env",
        "metadataTest:\n  envVars:\n    - {key: LANG, value: C.UTF-8}\n    - {key: REGEX_VAR, value: '[a-z]+-2\\.1\\.*', isRegex: true}\n",
    ),
    ("fail-env-value", "metadataTest:\n  envVars: [{key: LANG, value: C}]\n"),
    ("fail-env-missing", "metadataTest:\n  envVars: [{key: NOT_SET, value: x}]\n"),
    // unboundEnvVars: must be absent.
    ("pass-unbound", "metadataTest:\n  unboundEnvVars: [{key: NOT_SET}]\n"),
    ("fail-unbound", "metadataTest:\n  unboundEnvVars: [{key: LANG}]\n"),
    // labels, exact and isRegex.
    (
        "pass-labels",
        "metadataTest:\n  labels:\n    - {key: dev.lucid.stage, value: runtime-stage}\n    - {key: cst.label, value: 'my .+ label', isRegex: true}\n",
    ),
    ("fail-label", "metadataTest:\n  labels: [{key: dev.lucid.stage, value: build-stage}]\n"),
    // exposedPorts / unexposedPorts: GetConfig keeps Port() only, so "8080" matches 8080/tcp
    // and "8080/tcp" never does.
    ("pass-ports", "metadataTest:\n  exposedPorts: ['8080']\n  unexposedPorts: ['80', '8080/tcp']\n"),
    ("fail-port-with-protocol", "metadataTest:\n  exposedPorts: ['8080/tcp']\n"),
    ("fail-unexposed", "metadataTest:\n  unexposedPorts: ['8080']\n"),
    // volumes / unmountedVolumes by path.
    ("pass-volumes", "metadataTest:\n  volumes: [/data]\n  unmountedVolumes: [/root]\n"),
    ("fail-volume", "metadataTest:\n  volumes: [/root]\n"),
    ("fail-unmounted", "metadataTest:\n  unmountedVolumes: [/data]\n"),
    // entrypoint / cmd: compared when given; [] means none.
    ("pass-entrypoint-cmd", "metadataTest:\n  entrypoint: [python3, -u]\n  cmd: []\n"),
    ("fail-cmd-empty-list", "metadataTest:\n  entrypoint: [python3, -u]\n  cmd: [python3]\n"),
    ("fail-entrypoint-empty-list", "metadataTest:\n  entrypoint: []\n"),
    // workdir and user: compared when not empty.
    ("pass-workdir-user", "metadataTest:\n  workdir: /home/nonroot\n  user: '65532:65532'\n"),
    ("fail-workdir", "metadataTest:\n  workdir: /\n"),
    ("fail-user", "metadataTest:\n  user: '0'\n"),
    // Validate: an empty env key fails the whole metadata test.
    ("fail-empty-key", "metadataTest:\n  envVars: [{key: '', value: x}]\n"),
];

#[test]
fn metadata_tests_mean_what_they_mean_to_container_structure_test() {
    require_docker();
    spec_images(&["lucid-python-base"]);
    let tag = format!("lucid-cst-metadata-{}:latest", std::process::id());
    let created = docker(&["create", "lucid-python-base:latest"]);
    let id = created.trim().lines().last().unwrap().to_string();
    let changes = [
        "EXPOSE 8080/tcp",
        "VOLUME /data",
        "ENV REGEX_VAR=test-2.1.8",
        "LABEL cst.label=\"my test label\"",
        "ENTRYPOINT [\"python3\", \"-u\"]",
        "CMD []",
    ];
    let mut args = vec!["commit".to_string()];
    for c in changes {
        args.extend(["--change".to_string(), c.to_string()]);
    }
    args.extend([id.clone(), tag.clone()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&refs);
    docker(&["rm", &id]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_cases(dir.path(), METADATA_CASES);
    let got = run(&format!("docker-daemon:{tag}"), &["--no-runtime"], &config);
    assert!(docker_ok(&["rmi", &tag]));
    check(METADATA_CASES, &got);
    assert!(message(&got, "fail-port-with-protocol").contains("8080/tcp"), "{got:?}");
}

/// licenseTests on images lucid's writer makes: a package directory without a copyright file, a
/// copyright file naming the AGPL, and a package of the dpkg database with no documentation.
#[test]
fn license_tests_fail_as_container_structure_test_fails_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = good_tree();
    let file = |t: &mut lucid::rootfs::Tree, p: &str, c: &str| {
        t.insert(p, lucid::rootfs::Entry::file(c.as_bytes().to_vec(), 0o644)).unwrap()
    };
    file(&mut tree, "usr/share/doc/good/copyright", "License: GPL-2+\n");
    file(&mut tree, "usr/share/doc/libgnutls30/README", "allowed without copyright\n");
    file(&mut tree, "var/lib/dpkg/status.d/good", "Package: good\n");
    write(dir.path(), &tree, None, good_config());
    let good = format!("oci:{}:latest", dir.path().join("layout").display());
    let mut bad_tree = tree.clone();
    file(&mut bad_tree, "usr/share/doc/nocopy/README", "no copyright here\n");
    file(&mut bad_tree, "usr/share/doc/affero/copyright", "License: agpl-3\n");
    file(&mut bad_tree, "var/lib/dpkg/status.d/undocumented", "Package: undocumented\n");
    let bad_dir = dir.path().join("bad");
    write(&bad_dir, &bad_tree, None, good_config());
    let bad = format!("oci:{}:latest", bad_dir.join("layout").display());
    let cases = [
        ("pass-debian", "licenseTests:\n  - debian: true\n"),
        ("pass-files", "licenseTests:\n  - files: [/usr/share/doc/good/copyright]\n"),
    ];
    let config = write_cases(dir.path(), &cases);
    check(&cases, &run(&good, &["--no-runtime"], &config));
    let cases = [
        ("fail-debian", "licenseTests:\n  - debian: true\n"),
        ("fail-files", "licenseTests:\n  - files: [/usr/share/doc/affero/copyright]\n"),
    ];
    let config = write_cases(&bad_dir, &cases);
    let got = run(&bad, &["--no-runtime"], &config);
    check(&cases, &got);
    let m = message(&got, "fail-debian");
    for word in ["nocopy", "affero", "AGPL", "undocumented"] {
        assert!(m.contains(word), "{word}: {m}");
    }
    assert!(!m.contains("libgnutls30") && !m.contains("good/"), "{m}");
    // An image without /usr/share/doc fails `debian: true` (ReadDir errors there).
    let bare = dir.path().join("bare");
    write(&bare, &good_tree(), None, good_config());
    let cases = [("fail-no-doc-dir", "licenseTests:\n  - debian: true\n")];
    let config = write_cases(&bare, &cases);
    check(&cases, &run(&format!("oci:{}:latest", bare.join("layout").display()), &["--no-runtime"], &config));
}

/// A file a content test reaches through a link, larger than lucid reads, fails that test with
/// its size (not the whole image, exit 2); and a bind mount is refused when the engine is not a
/// local socket, since a remote one mounts from a host lucid cannot inspect.
#[test]
fn a_large_link_target_fails_its_test_and_a_remote_engine_mounts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = good_tree();
    let big = 17usize << 20;
    tree.insert("opt/big.bin", lucid::rootfs::Entry::file(vec![b'x'; big], 0o644)).unwrap();
    tree.insert("opt/big", lucid::rootfs::Entry::symlink("big.bin")).unwrap();
    write(dir.path(), &tree, None, good_config());
    let image = format!("oci:{}:latest", dir.path().join("layout").display());
    let cases = [
        ("fail-big-behind-a-link", "fileContentTests:\n  - {name: big, path: /opt/big, expectedContents: ['x']}\n"),
        ("pass-small-beside-it", "fileExistenceTests:\n  - {name: big, path: /opt/big.bin}\n"),
    ];
    let config = write_cases(dir.path(), &cases);
    let got = run(&image, &["--no-runtime"], &config);
    check(&cases, &got);
    let m = message(&got, "fail-big-behind-a-link");
    assert!(m.contains("too large") && m.contains(&big.to_string()) && m.contains(&(16u64 << 20).to_string()), "{m}");

    let bound = dir.path().join("bound");
    std::fs::create_dir(&bound).unwrap();
    let body =
        format!("schemaVersion: 2.0.0\ncontainerRunOptions: {{bindMounts: [\"{}:/mnt:ro\"]}}\n", bound.display());
    let path = dir.path().join("fail-remote-engine.yaml");
    std::fs::write(&path, body).unwrap();
    for host in ["tcp://127.0.0.1:1", "ssh://nobody@127.0.0.1"] {
        let out = lucid()
            .env("DOCKER_HOST", host)
            .args(["verify", &image, "--format", "json", "--no-runtime", "--ignore-file", "/nonexistent/.lucidignore"])
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{host}: {stdout}");
        let got = parse_report(&stdout, &String::from_utf8_lossy(&out.stderr));
        let m = message(&got, "fail-remote-engine");
        assert!(got["fail-remote-engine"][0].0 == "fail" && m.contains(host) && m.contains("unix://"), "{m}");
    }
}

/// yaml.v2's UnmarshalStrict refuses unknown keys: a configuration error (exit 3) naming the
/// file, the test and the line.
#[test]
fn unknown_keys_are_a_configuration_error_naming_the_test() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.yaml");
    std::fs::write(
        &path,
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: fine\n    path: /\n  - name: misspelt\n    path: /tmp\n    permission: dtrwxrwxrwx\n",
    )
    .unwrap();
    let out =
        lucid().args(["verify", "--no-runtime", "oci:/nonexistent:latest", "--config"]).arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    for want in ["typo.yaml", "fileExistenceTests[1] \"misspelt\"", "permission", "7"] {
        assert!(err.contains(want), "{want}: {err}");
    }
}
