//! Programs run out of a build tree (`lucid::rootfs::exec`: Python's byte-code compiler, jlink,
//! the JVM's CDS dump) are code from packages running on the build host, as root in CI (issue 14,
//! point 9). Here Debian's real python3.11, run the way the build runs it, tries what hostile code
//! would: write outside its output directory, read host files, reach a TCP listener on the host's
//! loopback, see the host's `/root` and cache, see host processes, and exceed its limits.

#[path = "support/pytree.rs"]
mod pytree;

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use lucid::python::compile::materialize_python;
use lucid::rootfs::sandbox::Sandbox;

/// Each probe prints `NAME=RESULT`; a refused operation prints the exception's class.
const PROBES: &str = r#"
import os, socket, sys, resource
out, host_dir, port, cache, etc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def probe(name, f):
    try:
        print(name + "=" + str(f()), flush=True)
    except Exception as e:
        print(name + "=" + type(e).__name__, flush=True)
def write(path):
    with open(path, "w") as f:
        f.write("lucid was here")
    return "written"
probe("write_out", lambda: write(os.path.join(out, "ok.txt")))
probe("write_host", lambda: write(os.path.join(host_dir, "pwned.txt")))
probe("write_tree", lambda: write(os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "pwned.txt")))
probe("write_etc", lambda: write(etc))
probe("read_host", lambda: open(os.path.join(host_dir, "secret.txt")).read())
probe("root_home", lambda: len(os.listdir("/root")))
probe("cache", lambda: os.path.exists(cache))
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(b"lucid-test-secret-exfiltrated")
    s.close()
    return "connected"
probe("connect", connect)
probe("pid", os.getpid)
probe("address_space", lambda: resource.getrlimit(resource.RLIMIT_AS)[0])
probe("cpu", lambda: resource.getrlimit(resource.RLIMIT_CPU)[0])
"#;

fn value<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in the probe's output:\n{stdout}"))
}

#[test]
fn a_program_run_out_of_the_tree_is_confined() {
    let py = pytree::python_tree();
    let started = Instant::now();
    let scratch = tempfile::tempdir().unwrap();
    let runner = materialize_python(&py, "3.11", &scratch.path().join("root")).unwrap();
    let out = scratch.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("secret.txt"), "lucid-test-secret-host-file").unwrap();
    let cache = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/lucid")).unwrap();
    std::fs::create_dir_all(&cache).unwrap();

    // A host path the probe must not create; removed here if a broken sandbox let it.
    let etc = std::path::PathBuf::from(format!("/etc/lucid-test-sandbox-{}", std::process::id()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();

    let run = runner
        .command(&Sandbox::new().writable(&out))
        .unwrap()
        .args(["-S", "-c", PROBES])
        .arg(&out)
        .arg(host.path())
        .arg(port.to_string())
        .arg(&cache)
        .arg(&etc)
        .output()
        .unwrap();
    let wrote_etc = std::fs::remove_file(&etc).is_ok();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the probe did not run: {}", String::from_utf8_lossy(&run.stderr));

    // Its output directory is writable, and the file lands on the host.
    assert_eq!(value(&stdout, "write_out"), "written");
    assert_eq!(std::fs::read_to_string(out.join("ok.txt")).unwrap(), "lucid was here");
    // Nothing else is: not a host directory, not the tree it runs from, not /etc.
    assert_ne!(value(&stdout, "write_host"), "written");
    assert!(!host.path().join("pwned.txt").exists(), "wrote into a host directory");
    assert_ne!(value(&stdout, "write_tree"), "written");
    assert_ne!(value(&stdout, "write_etc"), "written");
    assert!(!wrote_etc, "wrote {} on the host", etc.display());
    // Host files, root's home and the cache are not even there.
    assert_ne!(value(&stdout, "read_host"), "lucid-test-secret-host-file");
    assert!(matches!(value(&stdout, "root_home"), "FileNotFoundError" | "0"), "{stdout}");
    assert_eq!(value(&stdout, "cache"), "False");
    // The host's loopback is another network: the connection fails, nothing arrives.
    assert_ne!(value(&stdout, "connect"), "connected");
    std::thread::sleep(Duration::from_millis(200));
    if let Ok((mut conn, _)) = listener.accept() {
        let mut got = String::new();
        let _ = conn.read_to_string(&mut got);
        panic!("the sandboxed program reached the host's loopback listener and sent {got:?}");
    }
    // Its own PID namespace, and its limits.
    let pid: u32 = value(&stdout, "pid").parse().unwrap();
    assert!(pid <= 3, "PID {pid}: not in a PID namespace of its own");
    assert_eq!(value(&stdout, "address_space"), (8u64 << 30).to_string());
    assert_eq!(value(&stdout, "cpu"), "900");
    eprintln!("confinement probes ran in {:.2}s", started.elapsed().as_secs_f64());
}
