//! Sans-IO protocol engines (docs/architecture.md).
//!
//! An engine is fed events (a datagram arrived, a timer fired) with the
//! current time passed in, and returns actions (send this, install that
//! binding). Engines never read a clock or touch a socket, so tests run
//! whole scenarios with simulated time.

pub mod binding;
pub mod codec;
pub mod dhcp_client;
pub mod foreign_agent;
pub mod home_agent;
pub mod host_range;
pub mod proxy_ap;
pub mod security;
pub mod subnet_exchange;
pub mod subnet_map;
pub mod time;
