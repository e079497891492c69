//! A scripted HTTP/1.1 server on a loopback address, for the registry attacks of
//! `harden_registry`: a hostile registry, a token realm or upload target on another origin. Each
//! request is logged (method, path, `Authorization` header) and answered by the test's handler,
//! one request per connection.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    /// The Host header: the address the client used, for replies that name the server itself.
    pub host: String,
}

/// What the handler answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

pub enum Body {
    Bytes(Vec<u8>),
    /// `len` bytes of zeros with no Content-Length, ended by closing the connection.
    Endless(u64),
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Body::Bytes(Vec::new()) }
    }

    pub fn json(body: &[u8]) -> Reply {
        Reply::status(200).header("Content-Type", "application/json").body(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> Reply {
        self.body = Body::Bytes(body.to_vec());
        self
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

pub struct Stub {
    /// `ip:port`, the registry host of a `docker://` reference.
    pub addr: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    /// Serves on `ip` (any loopback address) at a free port.
    pub fn start(ip: &str, handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("cannot listen on {ip}: {e}"));
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (shared, handler) = (log.clone(), Arc::new(handler) as Arc<Handler>);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, handler) = (shared.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &log, &*handler);
                });
            }
        });
        Stub { addr, log }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// The requests that carried an `Authorization` header.
    pub fn authorized(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.authorization.is_some()).collect()
    }
}

fn serve(stream: std::net::TcpStream, log: &Mutex<Vec<Seen>>, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let (mut authorization, mut length, mut host) = (None, 0usize, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(value.trim().to_string()),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "host" => host = value.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let seen = Seen { method, path, authorization, host };
    log.lock().unwrap().push(seen.clone());
    let reply = handler(&seen);
    let mut out = stream;
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match reply.body {
        Body::Bytes(b) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
            out.write_all(head.as_bytes())?;
            out.write_all(&b)?;
        }
        Body::Endless(len) => {
            out.write_all(format!("{head}\r\n").as_bytes())?;
            let chunk = vec![0u8; 64 << 10];
            let mut sent = 0;
            while sent < len {
                out.write_all(&chunk)?;
                sent += chunk.len() as u64;
            }
        }
    }
    out.flush()
}
