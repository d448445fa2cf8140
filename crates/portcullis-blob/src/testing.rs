//! A throwaway S3 server for tests: `moto_server` (PyPI `moto[server]`) on a free local
//! port, stopped when the last handle to it is dropped.
//!
//! Tests that need S3 call [`MotoServer::shared`] and then [`MotoServer::bucket`] for a
//! fresh bucket of their own. When `moto_server` is missing the tests fail with a message
//! saying how to install it, unless `PORTCULLIS_SKIP_S3=1` is set ([`s3_skipped`]).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::S3Config;

/// Environment variable that turns S3 tests into no-ops on machines without moto.
pub const SKIP_S3_ENV: &str = "PORTCULLIS_SKIP_S3";

/// Whether S3 tests should be skipped (`PORTCULLIS_SKIP_S3=1`).
pub fn s3_skipped() -> bool {
    std::env::var(SKIP_S3_ENV).is_ok_and(|v| v == "1")
}

/// A running `moto_server`, killed on drop.
pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

static SHARED: Mutex<Weak<MotoServer>> = Mutex::new(Weak::new());

impl MotoServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> io::Result<Self> {
        let mut last = None;
        // The free port we picked can be taken before moto binds it: try a few.
        for _ in 0..3 {
            match Self::try_start() {
                Ok(s) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// A server shared by every caller in this process while any of them holds it.
    pub fn shared() -> io::Result<Arc<Self>> {
        let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slot.upgrade() {
            return Ok(s);
        }
        let s = Arc::new(Self::start()?);
        *slot = Arc::downgrade(&s);
        Ok(s)
    }

    fn try_start() -> io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::env::temp_dir().join(format!("portcullis-moto-{port}.log"));
        let spawned = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn();
        if spawned.is_err() {
            let _ = std::fs::remove_file(&log);
        }
        let child = spawned.map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    e.kind(),
                    format!(
                        "moto_server is not installed, so the S3 tests cannot run: \
                             install it with `pip install 'moto[server]'`, \
                             or set {SKIP_S3_ENV}=1 to skip them"
                    ),
                )
            } else {
                e
            }
        })?;
        let mut server = MotoServer { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(&server.log).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "moto_server exited with {status}: {log}"
                )));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "moto_server did not start listening within 60 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates bucket `name` and returns the configuration of a store in it.
    pub fn bucket(&self, name: &str) -> io::Result<S3Config> {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port))?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            conn,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut reply = String::new();
        conn.read_to_string(&mut reply)?;
        let status_ok = reply
            .lines()
            .next()
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("200"));
        if !status_ok {
            return Err(io::Error::other(format!("creating bucket {name}: {reply}")));
        }
        Ok(S3Config {
            endpoint: Some(self.endpoint()),
            region: "us-east-1".into(),
            bucket: name.into(),
            access_key: "testing".into(),
            secret_key: "testing".into(),
            path_style: true,
            allow_http: true,
            prefix: None,
        })
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
