//! The operator's control socket (docs/operator-interface.md): a Unix
//! stream socket; one request per connection.
//!
//! Request: one line of JSON, `{"words": ["show", "ip", "mobile",
//! "binding"], "json": false}`. Response: one line of JSON,
//! `{"ok": true, "output": "..."}` or `{"ok": false, "error": "..."}`.
//! `pmip exec` prints `output`, or the error as one line with a non-zero
//! exit status.
//!
//! Following: `{"words": [], "follow": "debug"}` asks for the device's
//! debug trace (`debug ip mobile`, ...): one response line
//! `{"ok": true, "output": "LINE"}` per trace line as it comes, until the
//! client goes away. A client that reads slower than the trace comes is
//! dropped with `{"ok": false, "error": "..."}`; the daemon never waits
//! for it.

use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};

/// Largest request we read; an EXEC command is one line.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    pub words: Vec<String>,
    #[serde(default)]
    pub json: bool,
}

/// A request to follow a stream instead of running a command (`follow`:
/// `debug`); its other fields are ignored. A separate type keeps
/// [`Request`] as every client builds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FollowRequest {
    pub follow: String,
}

/// Trace lines a following client may be behind by before it is
/// dropped.
pub const FOLLOW_QUEUE: usize = 1024;

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
    /// The debug trace, to every following client (each has its own
    /// bounded queue: a slow one loses its place, nobody waits).
    debug: broadcast::Sender<Arc<str>>,
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
            debug: broadcast::channel(FOLLOW_QUEUE).0,
        })
    }

    /// Where the daemon sends its debug trace lines; sending never
    /// blocks, and nothing is kept while nobody follows.
    pub fn debug_sender(&self) -> broadcast::Sender<Arc<str>> {
        self.debug.clone()
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
            let debug = self.debug.clone();
            tokio::spawn(async move {
                client(stream, commands, debug).await;
                drop(permit);
            });
        }
    }
}

/// One client: its request (within the timeout), the loop's answer, the
/// answer written back (within the timeout).
async fn client(
    mut stream: UnixStream,
    commands: mpsc::Sender<ExecRequest>,
    debug: broadcast::Sender<Arc<str>>,
) {
    let resp = match tokio::time::timeout(CLIENT_TIMEOUT, read_line(&mut stream)).await {
        Err(_) => return,
        Ok(Err(e)) => Response::error(format!("bad request: {e}")),
        Ok(Ok(line)) => match serde_json::from_str::<Request>(&line) {
            _ if let Ok(f) = serde_json::from_str::<FollowRequest>(&line) => {
                if f.follow == "debug" {
                    return follow(stream, debug.subscribe()).await;
                }
                Response::error(format!(
                    "bad request: cannot follow \"{}\" (only debug)",
                    f.follow.chars().take(40).collect::<String>()
                ))
            }
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

/// Streams the debug trace to one client until it goes away, falls
/// behind by more than [`FOLLOW_QUEUE`] lines, or takes longer than the
/// client timeout to take a line.
async fn follow(stream: UnixStream, mut lines: broadcast::Receiver<Arc<str>>) {
    let (mut rd, mut wr) = stream.into_split();
    let mut scratch = [0u8; 64];
    loop {
        let line = tokio::select! {
            l = lines.recv() => l,
            // Anything from the client, or its end, ends the stream.
            _ = rd.read(&mut scratch) => return,
        };
        let resp = match line {
            Ok(l) => Response::output(l.to_string()),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                let bye = Response::error(format!(
                    "debug output dropped: this reader fell {n} lines behind"
                ));
                let _ = tokio::time::timeout(CLIENT_TIMEOUT, write_line(&mut wr, &bye)).await;
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        match tokio::time::timeout(CLIENT_TIMEOUT, write_line(&mut wr, &resp)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

async fn write_line(wr: &mut tokio::net::unix::OwnedWriteHalf, resp: &Response) -> io::Result<()> {
    let mut line = serde_json::to_string(resp).map_err(io::Error::other)?;
    line.push('\n');
    wr.write_all(line.as_bytes()).await
}

/// Client side, for `pmip debug`: follows the device's debug trace,
/// handing each line to `each` until `each` says stop (false) or the
/// device closes the stream (then `Ok`), or drops this reader (the reason
/// as an error).
pub async fn follow_debug(path: &Path, mut each: impl FnMut(&str) -> bool) -> io::Result<()> {
    let mut stream = UnixStream::connect(path).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot reach device at {}: {e}", path.display()),
        )
    })?;
    let req = FollowRequest {
        follow: "debug".into(),
    };
    let mut line = serde_json::to_string(&req).map_err(io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).await?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut resp = String::new();
        // One response line at most as long as a request.
        let n = (&mut reader)
            .take(MAX_REQUEST as u64)
            .read_line(&mut resp)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let r: Response = serde_json::from_str(&resp)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        match (r.ok, r.output, r.error) {
            (true, Some(o), _) if !each(&o) => return Ok(()),
            (_, _, Some(e)) => return Err(io::Error::other(e)),
            _ => {}
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
