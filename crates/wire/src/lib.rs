//! Packet formats of proxy Mobile IPv4.
//!
//! Every format is two things, in the style of smoltcp's `wire` module:
//! a zero-copy view (`Packet<T: AsRef<[u8]>>`) with typed field accessors
//! over a byte buffer, and a plain `Repr` struct with `parse` (view to
//! struct, validating) and `emit` (struct to bytes). Nothing here does I/O,
//! reads a clock or allocates; every parser returns a typed [`Error`]
//! naming what is wrong instead of panicking.

pub mod arp;
pub mod auth;
pub mod binding_update;
pub mod checksum;
mod error;
pub mod ethernet;
pub mod extension;
pub mod gre;
pub mod icmp;
pub mod identification;
pub mod ipv4;
pub mod offload;
pub mod registration;
mod reply_code;
pub mod subnet_exchange;
pub mod tunnel;
pub mod udp;

pub use error::{Error, Result};
