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
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

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

/// How long a client may take to send its request, and to read its
/// answer; one that takes longer is dropped (the daemon never waits on it).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients served at once; more wait in the listen backlog.
const MAX_CLIENTS: usize = 64;

/// One EXEC command for the daemon's loop and where its answer goes (the
/// same shape as the web server's requests).
pub type ExecRequest = pmip_web::ExecRequest;

/// A bound control socket; the file is removed on drop.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` with mode 0600 whatever the umask (only root, or the
    /// daemon's user, may configure the device). A stale socket left by a
    /// crash is replaced; a socket a live daemon still answers on, or
    /// anything at `path` that is not a socket, is refused untouched.
    pub async fn bind(path: &Path) -> io::Result<ControlSocket> {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not a socket; not replacing it",
                        path.display()
                    ),
                ));
            }
            if UnixStream::connect(path).await.is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running device", path.display()),
                ));
            }
            tokio::fs::remove_file(path).await?;
        }
        // Bound under a private name, made 0600, then renamed into place:
        // the socket is never reachable with the umask's mode.
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp)?;
        let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(ControlSocket {
            listener,
            path: path.to_owned(),
        })
    }

    /// Serves clients until the daemon's loop goes away: each on its own
    /// task with timeouts, its command handed to the loop through
    /// `commands`. Accept errors (descriptors exhausted) are waited out.
    pub async fn serve(&self, commands: mpsc::Sender<ExecRequest>) {
        let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let stream = match self.listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if commands.is_closed() {
                return;
            }
            let commands = commands.clone();
            tokio::spawn(async move {
                client(stream, commands).await;
                drop(permit);
            });
        }
    }
}

/// One client: its request (within the timeout), the loop's answer, the
/// answer written back (within the timeout).
async fn client(mut stream: UnixStream, commands: mpsc::Sender<ExecRequest>) {
    let resp = match tokio::time::timeout(CLIENT_TIMEOUT, read_line(&mut stream)).await {
        Err(_) => return,
        Ok(Err(e)) => Response::error(format!("bad request: {e}")),
        Ok(Ok(line)) => match serde_json::from_str::<Request>(&line) {
            Err(e) => Response::error(format!("bad request: {e}")),
            Ok(req) => {
                let (tx, rx) = oneshot::channel();
                if commands.send((req.words, req.json, tx)).await.is_err() {
                    return;
                }
                match rx.await {
                    Ok(Ok(out)) => Response::output(out),
                    Ok(Err(e)) => Response::error(e),
                    Err(_) => return,
                }
            }
        },
    };
    match tokio::time::timeout(CLIENT_TIMEOUT, respond(&mut stream, &resp)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "control client went away"),
        Err(_) => tracing::debug!("control client did not read its answer; dropped"),
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
