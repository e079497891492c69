//! A misbehaving HTTP mirror on 127.0.0.1 for network-fault tests: it serves a directory (a
//! [`super::debrepo::TestRepo`]'s archive) like `debrepo::serve`, but requests whose path contains
//! a planned pattern get a fault instead: a dropped connection, a stall, an HTTP error, a body cut
//! short, or a slow trickle. `Range: bytes=N-` is honoured (206) unless turned off, so resumable
//! downloads can be tested both ways. Every request is logged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a planned request gets.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Close the connection right after reading the request.
    Drop,
    /// Send the headers and half the body, then go silent for this long.
    Stall(Duration),
    /// Answer with this status and a short body.
    Status(u16),
    /// Announce the whole length but send only the first half, then close.
    Truncate,
    /// Send the body in small pieces with a pause after each (a slow but live mirror).
    Trickle { chunk: usize, pause: Duration },
    /// Announce and send twice the real length of garbage (a mirror that serves too much).
    Oversize,
}

/// One logged request: its path and the `Range` header, if any.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub range: Option<String>,
}

#[derive(Default)]
struct Plan {
    /// (path substring, fault, how many more times; `usize::MAX` is always).
    faults: Vec<(String, Fault, usize)>,
    hits: Vec<Hit>,
    no_ranges: bool,
}

#[derive(Clone)]
pub struct FaultyServer {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
}

impl FaultyServer {
    /// Serves `root` (no faults until some are planned).
    pub fn start(root: PathBuf) -> FaultyServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let plan = Arc::new(Mutex::new(Plan::default()));
        let shared = plan.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, plan) = (root.clone(), shared.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &root, &plan);
                });
            }
        });
        FaultyServer { url, plan }
    }

    /// The next `times` requests whose path contains `pattern` get `fault`.
    pub fn fail(&self, pattern: &str, fault: Fault, times: usize) -> &Self {
        self.plan.lock().unwrap().faults.push((pattern.to_string(), fault, times));
        self
    }

    /// Every request whose path contains `pattern` gets `fault`.
    pub fn always(&self, pattern: &str, fault: Fault) -> &Self {
        self.fail(pattern, fault, usize::MAX)
    }

    /// Answer range requests with the whole file (200), as servers without range support do.
    pub fn without_ranges(&self) -> &Self {
        self.plan.lock().unwrap().no_ranges = true;
        self
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.plan.lock().unwrap().hits.clone()
    }

    /// Requests whose path contains `pattern`.
    pub fn hits_for(&self, pattern: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path.contains(pattern)).collect()
    }
}

fn handle(mut stream: TcpStream, root: &Path, plan: &Mutex<Plan>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (fault, no_ranges) = {
        let mut p = plan.lock().unwrap();
        p.hits.push(Hit { path: path.clone(), range: range.clone() });
        let mut chosen = None;
        for (pat, fault, left) in p.faults.iter_mut() {
            if *left > 0 && path.contains(pat.as_str()) {
                if *left != usize::MAX {
                    *left -= 1;
                }
                chosen = Some(fault.clone());
                break;
            }
        }
        (chosen, p.no_ranges)
    };
    let rel = path.trim_start_matches('/');
    let file = if rel.split('/').any(|c| c == "..") { None } else { std::fs::read(root.join(rel)).ok() };
    let Some(full) = file else {
        let body = b"not found\n";
        write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
        return finish(stream, reader, body);
    };
    // The part asked for: `bytes=N-` from N, unless ranges are off.
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| !no_ranges && n <= full.len());
    let (status, body) = match start {
        Some(n) => ("206 Partial Content", &full[n..]),
        None => ("200 OK", &full[..]),
    };
    let content_range = match start {
        Some(n) => format!("Content-Range: bytes {n}-{}/{}\r\n", full.len().saturating_sub(1), full.len()),
        None => String::new(),
    };
    let head = |len: usize| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {len}\r\n{content_range}Accept-Ranges: bytes\r\n\
             Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
        )
    };
    match fault {
        None => {
            stream.write_all(head(body.len()).as_bytes())?;
            finish(stream, reader, body)
        }
        Some(Fault::Drop) => Ok(()),
        Some(Fault::Status(code)) => {
            let msg = b"injected failure\n";
            write!(stream, "HTTP/1.1 {code} Injected\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", msg.len())?;
            finish(stream, reader, msg)
        }
        Some(Fault::Stall(d)) => {
            stream.write_all(head(body.len()).as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            std::thread::sleep(d);
            Ok(())
        }
        Some(Fault::Truncate) => {
            stream.write_all(head(body.len()).as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            let _ = stream.shutdown(std::net::Shutdown::Both);
            Ok(())
        }
        Some(Fault::Trickle { chunk, pause }) => {
            stream.write_all(head(body.len()).as_bytes())?;
            for piece in body.chunks(chunk.max(1)) {
                stream.write_all(piece)?;
                stream.flush()?;
                std::thread::sleep(pause);
            }
            finish(stream, reader, b"")
        }
        Some(Fault::Oversize) => {
            let junk = vec![b'x'; body.len() * 2 + 1];
            stream.write_all(head(junk.len()).as_bytes())?;
            let _ = stream.write_all(&junk);
            finish(stream, reader, b"")
        }
    }
}

fn finish(mut stream: TcpStream, mut reader: BufReader<TcpStream>, body: &[u8]) -> std::io::Result<()> {
    stream.write_all(body)?;
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 1];
    let _ = reader.read(&mut sink);
    Ok(())
}
