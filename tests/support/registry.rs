//! A loopback registry for tests: Debian's `docker-registry` (distribution v2) serving on
//! 127.0.0.1 at a free port, with its storage in a temporary directory. Killed on drop.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts the registry and waits until it answers.
    pub fn start() -> Registry {
        let bin = "/usr/bin/docker-registry";
        assert!(std::path::Path::new(bin).exists(), "{bin} is missing: apt-get install -y docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child =
            Command::new(bin).arg("serve").arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "docker-registry did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry { addr, child, _dir: dir }
    }

    /// `skopeo copy --all` of `from` to `docker://ADDR/repo`; returns the docker:// reference.
    pub fn push(&self, from: &str, repo: &str) -> String {
        let to = format!("docker://{}/{repo}", self.addr);
        let out = Command::new("skopeo")
            .args(["copy", "--all", "--dest-tls-verify=false", from, &to])
            .output()
            .expect("skopeo runs (apt-get install -y skopeo)");
        assert!(out.status.success(), "skopeo copy {from} {to}: {}", String::from_utf8_lossy(&out.stderr));
        to
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
