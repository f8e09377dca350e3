//! The pmip device (docs/architecture.md): a driver around one sans-IO
//! `pmip_node::Node`. It reads the configuration, opens the sockets and
//! links the node asks for, feeds it what arrives, carries out what it
//! decides on the Linux platform, and serves the operator.

mod aaa;
pub mod control;
pub mod daemon;
mod dhcp;
mod hostapd;
mod installer;
pub mod interfaces;
mod io;
mod isolation;

/// Logs to stderr; `RUST_LOG` overrides the default `info` level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal; the lab and tests log to files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
