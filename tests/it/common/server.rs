//! The loopback HTTP/1.1 server the renders download from, and the ways it can misbehave
//! (statuses, cut bodies, stalls, drips, redirects), with a hit count per path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server answers one path.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Ok(Vec<u8>),
    /// Answer with this status (and an empty body).
    Status(u16),
    /// Fail with `status` the first `times` requests, then serve the body.
    FailFirst {
        times: usize,
        status: u16,
        body: Vec<u8>,
    },
    /// Promise the whole body, send half, hang up.
    Truncate(Vec<u8>),
    /// Send half the body without a Content-Length, then close (a clean EOF, short).
    TruncateNoLength(Vec<u8>),
    /// Chunked transfer: the first chunk, then hang up without the terminating chunk.
    ChunkedCut(Vec<u8>),
    /// Accept the request and answer nothing for this long, then hang up.
    StallBeforeHeaders(Duration),
    /// Send the headers and half the body, then nothing for this long.
    StallAfterHeaders(Vec<u8>, Duration),
    /// Send the body one byte per interval.
    Drip(Vec<u8>, Duration),
    /// 429 with `Retry-After: SECONDS` for the first `times` requests, then the body.
    RetryAfter {
        times: usize,
        seconds: u64,
        body: Vec<u8>,
    },
    /// 302 to this URL (absolute, or a path on this server).
    Redirect(String),
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Behaviour>,
    hits: HashMap<String, usize>,
}

/// A loopback HTTP/1.1 server for artifacts; stops when dropped.
pub struct Server {
    pub addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        Server {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn route(&self, path: &str, b: Behaviour) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), b);
    }

    pub fn hits(&self, path: &str) -> usize {
        *self.state.lock().unwrap().hits.get(path).unwrap_or(&0)
    }

    pub fn total_hits(&self) -> usize {
        self.state.lock().unwrap().hits.values().sum()
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A 200 response's headers promising `len` bytes.
fn ok_head(conn: &mut TcpStream, len: usize) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    // A HEAD is counted apart (`hits("HEAD /p")`) and answered with the headers only.
    let head = line.starts_with("HEAD ");
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let behaviour = {
        let mut st = state.lock().unwrap();
        let n = {
            let key = if head {
                format!("HEAD {path}")
            } else {
                path.clone()
            };
            let e = st.hits.entry(key).or_insert(0);
            *e += 1;
            *e
        };
        match st.routes.get(&path).cloned() {
            Some(Behaviour::FailFirst {
                times,
                status,
                body,
            }) => {
                if n <= times {
                    Behaviour::Status(status)
                } else {
                    Behaviour::Ok(body)
                }
            }
            Some(Behaviour::RetryAfter { times, body, .. }) if n > times => Behaviour::Ok(body),
            Some(b) => b,
            None => Behaviour::Status(404),
        }
    };
    match behaviour {
        Behaviour::Ok(body) => {
            ok_head(&mut conn, body.len())?;
            if !head {
                conn.write_all(&body)?;
            }
        }
        Behaviour::Status(code) => {
            write!(
                conn,
                "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Behaviour::Truncate(body) => {
            ok_head(&mut conn, body.len())?;
            conn.write_all(&body[..body.len() / 2])?;
        }
        Behaviour::TruncateNoLength(body) => {
            write!(conn, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            conn.write_all(&body[..body.len() / 2])?;
        }
        Behaviour::ChunkedCut(body) => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
                body.len() / 2
            )?;
            conn.write_all(&body[..body.len() / 2])?;
            conn.write_all(b"\r\n")?;
        }
        Behaviour::StallBeforeHeaders(d) => std::thread::sleep(d),
        Behaviour::StallAfterHeaders(body, d) => {
            ok_head(&mut conn, body.len())?;
            conn.write_all(&body[..body.len() / 2])?;
            conn.flush()?;
            std::thread::sleep(d);
        }
        Behaviour::Drip(body, every) => {
            ok_head(&mut conn, body.len())?;
            for b in &body {
                conn.write_all(std::slice::from_ref(b))?;
                conn.flush()?;
                std::thread::sleep(every);
            }
        }
        Behaviour::RetryAfter { seconds, .. } => {
            write!(
                conn,
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {seconds}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Behaviour::Redirect(to) => {
            write!(
                conn,
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Behaviour::FailFirst { .. } => unreachable!(),
    }
    conn.flush()
}
