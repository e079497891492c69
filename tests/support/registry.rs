//! A loopback registry for tests: Debian's `docker-registry` (distribution v2) serving on
//! 127.0.0.1 at a free port, with its storage in a temporary directory. Killed on drop.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    pub addr: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts the registry and waits until it answers.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// Starts a registry that asks for `user` and `password` (HTTP basic, from an htpasswd file
    /// made with Debian's `htpasswd`).
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user, password)))
    }

    fn start_with(auth: Option<(&str, &str)>) -> Registry {
        let bin = "/usr/bin/docker-registry";
        assert!(std::path::Path::new(bin).exists(), "{bin} is missing: apt-get install -y docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd runs (apt-get install -y apache2-utils)");
            assert!(out.status.success(), "htpasswd: {}", String::from_utf8_lossy(&out.stderr));
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            config.push_str(&format!("auth:\n  htpasswd:\n    realm: lucid-test\n    path: {}\n", file.display()));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child =
            Command::new(bin).arg("serve").arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "docker-registry did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry { addr, child, dir }
    }

    /// Where the registry keeps blob `hex` (distribution's filesystem layout), for tests that
    /// tamper with what it serves.
    pub fn blob_data(&self, hex: &str) -> std::path::PathBuf {
        self.dir.path().join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
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
