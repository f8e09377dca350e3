//! The pmip device (DESIGN.md layer 4): reads an IOS configuration, runs
//! the engines it enables on the Linux platform and serves the operator.

pub mod control;
pub mod daemon;
pub mod foreign_agent;
pub mod home_agent;
pub mod interfaces;
mod linkaddr;
pub mod proxy_ap;
pub mod show;
pub mod subnet_exchange;
pub mod udp;

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
