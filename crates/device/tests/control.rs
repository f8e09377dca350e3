//! The control socket as clients use it: answers, refusals, its mode
//! under any umask, the file it never deletes, clients that hang.

use pmip_device::control::{ControlSocket, ExecRequest, Request, Response, call};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use std::os::unix::fs::PermissionsExt;

fn socket_path(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("pmip-ctl-{}-{name}", std::process::id()));
    (dir.join("r1.sock"), dir)
}

/// Answers every command with its words, as the daemon's loop would.
fn echo_loop() -> mpsc::Sender<ExecRequest> {
    let (tx, mut rx) = mpsc::channel::<ExecRequest>(8);
    tokio::spawn(async move {
        while let Some((words, json, reply)) = rx.recv().await {
            let _ = reply.send(Ok(format!("{} json={json}", words.join(" "))));
        }
    });
    tx
}

#[tokio::test]
async fn request_response_and_bad_requests() {
    let (path, dir) = socket_path("basic");
    let sock = Arc::new(ControlSocket::bind(&path).await.unwrap());
    let server = {
        let sock = sock.clone();
        tokio::spawn(async move { sock.serve(echo_loop()).await })
    };
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
    assert!(
        ControlSocket::bind(&path).await.is_err(),
        "in use while the first is alive"
    );
    server.abort();
    let _ = server.await;
    drop(Arc::into_inner(sock).expect("the server task let go"));
    assert!(!path.exists(), "socket file removed on drop");
    let _ = std::fs::remove_dir(&dir);
}

/// Created 0600 even under umask 000: no other local user may
/// configure the device.
#[tokio::test]
async fn mode_is_0600_whatever_the_umask() {
    let (path, dir) = socket_path("umask");
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0) };
    let sock = ControlSocket::bind(&path).await;
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let sock = sock.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    drop(sock);
    let _ = std::fs::remove_dir(&dir);
}

/// `--control PATH` never deletes a file that is not a socket.
#[tokio::test]
async fn a_regular_file_at_the_path_is_left_alone() {
    let (path, dir) = socket_path("file");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&path, "precious").unwrap();
    let e = ControlSocket::bind(&path).await.err().expect("refused");
    assert!(e.to_string().contains("not a socket"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_dir(&dir);
}

/// A client that connects and never writes, and one that never reads
/// its answer, do not stop others from being served.
#[tokio::test]
async fn silent_and_unread_clients_do_not_block_others() {
    let (path, dir) = socket_path("slow");
    let sock = Arc::new(ControlSocket::bind(&path).await.unwrap());
    let server = {
        let sock = sock.clone();
        tokio::spawn(async move { sock.serve(echo_loop()).await })
    };
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(UnixStream::connect(&path).await.unwrap());
    }
    let mut unread = UnixStream::connect(&path).await.unwrap();
    unread
        .write_all(b"{\"words\":[\"show\",\"running-config\"]}\n")
        .await
        .unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        call(
            &path,
            &Request {
                words: vec!["show".into(), "version".into()],
                json: false,
            },
        ),
    )
    .await
    .expect("answered while other clients hang")
    .unwrap();
    assert!(r.ok);
    server.abort();
    drop(idle);
    drop(unread);
    let _ = server.await;
    drop(sock);
    let _ = std::fs::remove_dir(&dir);
}
