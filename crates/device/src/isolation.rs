//! The access point's visitor isolation (docs/radio.md), carried out on a
//! thread of its own so the daemon's loop never waits for it: the eBPF
//! program keyed by station MAC (`pmip_fastpath::isolation`), loaded when
//! the worker starts; where it cannot load (built without clang, a kernel
//! refusing BPF) classic BPF installed with `tc` on a station's own port.

use pmip_fastpath::isolation::Isolation;
use pmip_node::Mac;
use std::sync::mpsc;

/// One request: isolate or release a station behind a port.
#[derive(Debug)]
pub enum Request {
    Isolate {
        port: String,
        mac: Mac,
        own_port: bool,
    },
    Release {
        port: String,
        mac: Mac,
    },
}

/// Where the requests go.
enum Backend {
    Bpf(Box<Isolation>),
    /// `tc` with classic BPF: whole ports only.
    Tc,
}

/// Starts the worker; with `preload`, the program is loaded at once (an
/// access point), otherwise at the first request.
pub fn worker(preload: bool) -> mpsc::Sender<Request> {
    let (tx, rx) = mpsc::channel::<Request>();
    let spawned = std::thread::Builder::new()
        .name("pmip-isolation".into())
        .spawn(move || {
            let mut backend = preload.then(load);
            while let Ok(request) = rx.recv() {
                let b = backend.get_or_insert_with(load);
                carry_out(b, request);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "no thread for visitor isolation");
    }
    tx
}

fn load() -> Backend {
    match Isolation::load() {
        Ok(i) => {
            tracing::debug!("visitor isolation: eBPF program loaded");
            Backend::Bpf(Box::new(i))
        }
        Err(e) => {
            tracing::warn!(
                "visitor isolation by eBPF unavailable: {e}; using classic BPF by tc on station ports"
            );
            Backend::Tc
        }
    }
}

fn carry_out(backend: &mut Backend, request: Request) {
    let result = match (backend, &request) {
        (
            Backend::Bpf(i),
            Request::Isolate {
                port,
                mac,
                own_port,
            },
        ) => i.isolate(port, *mac, *own_port).map_err(|e| e.to_string()),
        (Backend::Bpf(i), Request::Release { mac, .. }) => {
            i.release(*mac).map_err(|e| e.to_string())
        }
        (Backend::Tc, Request::Isolate { port, own_port, .. }) => {
            if *own_port {
                pmip_platform::isolation::isolate(port).map_err(|e| e.to_string())
            } else {
                Err("a shared radio needs the eBPF program".into())
            }
        }
        (Backend::Tc, Request::Release { port, .. }) => {
            // The port may be gone with its station; nothing to undo then.
            let _ = pmip_platform::isolation::release(port);
            Ok(())
        }
    };
    match (result, &request) {
        (Err(e), Request::Isolate { port, .. }) => {
            tracing::warn!(%port, error = %e, "cannot keep broadcasts and registration replies from the visitor");
        }
        (Err(_), Request::Release { .. }) => {}
        (Ok(()), r) => tracing::debug!(request = ?r, "visitor isolation changed"),
    }
}
