//! The handle the web server runs EXEC commands through, exactly as
//! `pmip exec` does: `show ...` (with `json` for the JSON forms),
//! `configure LINE[; LINE]`, `refresh ...`. Two implementations: a channel
//! into the daemon's own loop, and the daemon's control socket (for a web
//! server in a separate management process).

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

/// Runs one EXEC command on the device. `Ok` is the command's output (the
/// JSON text when `json`), `Err` the device's one-line refusal, verbatim.
pub trait Device: Clone + Send + Sync + 'static {
    fn exec(
        &self,
        words: Vec<String>,
        json: bool,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// One request on a [`ChannelDevice`]: the words, JSON or not, and where
/// the answer goes.
pub type ExecRequest = (Vec<String>, bool, oneshot::Sender<Result<String, String>>);

/// A device reached through a channel the daemon's main loop reads (the
/// same loop that answers the control socket).
#[derive(Clone, Debug)]
pub struct ChannelDevice(pub mpsc::Sender<ExecRequest>);

impl ChannelDevice {
    /// A device and the receiving end for the daemon's loop.
    pub fn new(capacity: usize) -> (ChannelDevice, mpsc::Receiver<ExecRequest>) {
        let (tx, rx) = mpsc::channel(capacity);
        (ChannelDevice(tx), rx)
    }
}

impl Device for ChannelDevice {
    async fn exec(&self, words: Vec<String>, json: bool) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send((words, json, tx))
            .await
            .map_err(|_| "% the device is shutting down".to_string())?;
        rx.await
            .map_err(|_| "% the device dropped the request".to_string())?
    }
}

/// A device reached through its control socket (`pmip run --control
/// PATH`): one JSON line `{"words": [...], "json": bool}` per connection,
/// answered by one line `{"ok": bool, "output": "...", "error": "..."}`
/// (crates/device/src/control.rs).
#[derive(Clone, Debug)]
pub struct ControlSocketDevice {
    path: PathBuf,
    timeout: Duration,
}

#[derive(Serialize)]
struct Request<'a> {
    words: &'a [String],
    json: bool,
}

#[derive(Deserialize)]
struct Response {
    ok: bool,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

impl ControlSocketDevice {
    pub fn new(path: impl Into<PathBuf>) -> ControlSocketDevice {
        ControlSocketDevice {
            path: path.into(),
            timeout: Duration::from_secs(10),
        }
    }

    async fn call(&self, words: &[String], json: bool) -> std::io::Result<Response> {
        let mut stream = UnixStream::connect(&self.path).await?;
        let mut line = serde_json::to_string(&Request { words, json })?;
        line.push('\n');
        stream.write_all(line.as_bytes()).await?;
        let mut reader = BufReader::new(stream);
        let mut answer = String::new();
        reader.read_line(&mut answer).await?;
        Ok(serde_json::from_str(&answer)?)
    }
}

impl Device for ControlSocketDevice {
    async fn exec(&self, words: Vec<String>, json: bool) -> Result<String, String> {
        match tokio::time::timeout(self.timeout, self.call(&words, json)).await {
            Err(_) => Err(format!(
                "% no answer from the device at {} within {} s",
                self.path.display(),
                self.timeout.as_secs()
            )),
            Ok(Err(e)) => Err(format!(
                "% cannot reach the device at {}: {e}",
                self.path.display()
            )),
            Ok(Ok(r)) if r.ok => Ok(r.output.unwrap_or_default()),
            Ok(Ok(r)) => Err(r.error.unwrap_or_else(|| "% refused".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    #[tokio::test]
    async fn control_socket_protocol() {
        let dir = std::env::temp_dir().join(format!("pmip-web-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (s, _) = listener.accept().await.unwrap();
                let mut r = BufReader::new(s);
                let mut line = String::new();
                r.read_line(&mut line).await.unwrap();
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                let answer = if v["words"][0] == "show" {
                    serde_json::json!({"ok": true, "output": format!("json={}", v["json"])})
                } else {
                    serde_json::json!({"ok": false, "error": "% Invalid input"})
                };
                let mut s = r.into_inner();
                s.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
            }
        });
        let d = ControlSocketDevice::new(&path);
        assert_eq!(
            d.exec(vec!["show".into(), "version".into()], true).await,
            Ok("json=true".into())
        );
        assert_eq!(
            d.exec(vec!["frob".into()], false).await,
            Err("% Invalid input".into())
        );
        server.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let gone = ControlSocketDevice::new(dir.join("none.sock"));
        let e = gone.exec(vec!["show".into()], false).await.unwrap_err();
        assert!(e.contains("cannot reach"), "{e}");
    }

    #[tokio::test]
    async fn channel_device_round_trip() {
        let (d, mut rx) = ChannelDevice::new(4);
        tokio::spawn(async move {
            while let Some((words, json, reply)) = rx.recv().await {
                let _ = reply.send(Ok(format!("{} {json}", words.join(" "))));
            }
        });
        assert_eq!(
            d.exec(vec!["show".into(), "version".into()], false).await,
            Ok("show version false".into())
        );
    }
}
