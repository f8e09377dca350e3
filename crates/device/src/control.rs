//! The operator's control socket (docs/operator-interface.md): a Unix
//! stream socket; one request per connection.
//!
//! Request: one line of JSON, `{"words": ["show", "ip", "mobile",
//! "binding"], "json": false}`. Response: one line of JSON,
//! `{"ok": true, "output": "..."}` or `{"ok": false, "error": "..."}`.
//! `pmip exec` prints `output`, or the error as one line with a non-zero
//! exit status.

use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Largest request we read; an EXEC command is one line.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    pub words: Vec<String>,
    #[serde(default)]
    pub json: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn output(s: String) -> Response {
        Response {
            ok: true,
            output: Some(s),
            error: None,
        }
    }
    pub fn error(s: impl Into<String>) -> Response {
        Response {
            ok: false,
            output: None,
            error: Some(s.into()),
        }
    }
}

/// The default control socket of a device: `/run/pmip/<hostname>.sock`.
pub fn default_path(hostname: &str) -> PathBuf {
    PathBuf::from(format!("/run/pmip/{hostname}.sock"))
}

/// A bound control socket; the file is removed on drop.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path`, replacing a stale socket file left by a crash (but
    /// not one a live daemon still answers on).
    pub async fn bind(path: &Path) -> io::Result<ControlSocket> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running device", path.display()),
                ));
            }
            tokio::fs::remove_file(path).await?;
        }
        Ok(ControlSocket {
            listener: UnixListener::bind(path)?,
            path: path.to_owned(),
        })
    }

    /// Waits for the next request; returns it with the stream to answer on.
    /// A malformed request is answered here with an error and skipped.
    pub async fn next(&self) -> io::Result<(Request, UnixStream)> {
        loop {
            let (mut stream, _) = self.listener.accept().await?;
            match read_line(&mut stream).await {
                Ok(line) => match serde_json::from_str::<Request>(&line) {
                    Ok(req) => return Ok((req, stream)),
                    Err(e) => {
                        let _ = respond(&mut stream, &Response::error(format!("bad request: {e}")))
                            .await;
                    }
                },
                Err(e) => {
                    let _ =
                        respond(&mut stream, &Response::error(format!("bad request: {e}"))).await;
                }
            }
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn read_line(stream: &mut UnixStream) -> io::Result<String> {
    let mut reader = BufReader::new(stream).take(MAX_REQUEST as u64);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    if !line.ends_with('\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request is not one line",
        ));
    }
    Ok(line)
}

/// Writes a response as one JSON line.
pub async fn respond(stream: &mut UnixStream, resp: &Response) -> io::Result<()> {
    let mut line = serde_json::to_string(resp).map_err(io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).await?;
    stream.shutdown().await
}

/// Client side, for `pmip exec`: sends one request, returns the response.
pub async fn call(path: &Path, req: &Request) -> io::Result<Response> {
    let mut stream = UnixStream::connect(path).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot reach device at {}: {e}", path.display()),
        )
    })?;
    let mut line = serde_json::to_string(req).map_err(io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).await?;
    let mut reader = BufReader::new(stream);
    let mut resp = String::new();
    reader.read_line(&mut resp).await?;
    serde_json::from_str(&resp).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn request_response_and_bad_requests() {
        let dir = std::env::temp_dir().join(format!("pmip-ctl-{}", std::process::id()));
        let path = dir.join("r1.sock");
        let sock = ControlSocket::bind(&path).await.unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (req, mut s) = sock.next().await.unwrap();
                let out = format!("{} json={}", req.words.join(" "), req.json);
                respond(&mut s, &Response::output(out)).await.unwrap();
            }
            sock
        });
        // A garbage request gets an error and the server carries on.
        let mut raw = UnixStream::connect(&path).await.unwrap();
        raw.write_all(b"not json\n").await.unwrap();
        let mut back = String::new();
        BufReader::new(raw).read_line(&mut back).await.unwrap();
        assert!(back.contains("bad request"), "{back}");

        let r = call(
            &path,
            &Request {
                words: vec!["show".into(), "ip".into()],
                json: true,
            },
        )
        .await
        .unwrap();
        assert_eq!(r, Response::output("show ip json=true".into()));
        let r = call(
            &path,
            &Request {
                words: vec!["x".into()],
                json: false,
            },
        )
        .await
        .unwrap();
        assert!(r.ok);
        let sock = server.await.unwrap();
        assert!(
            ControlSocket::bind(&path).await.is_err(),
            "in use while the first is alive"
        );
        drop(sock);
        assert!(!path.exists(), "socket file removed on drop");
        let _ = std::fs::remove_dir(&dir);
    }
}
