//! Mobility security associations from a RADIUS server.
//!
//! Home agents and proxy APs may fetch a mobile node's SA from RADIUS
//! instead of local `ip mobile secure` / `ip proxy-mobile secure` lines,
//! as IOS does with `aaa authorization ipmobile` (the Aironet documentation and 004:
//! "the security association can be specified locally on the AP ... or
//! externally on the RADIUS server"). The pieces, bottom up:
//!
//! * [`packet`]: the RADIUS packet format (RFC 2865 3 and 5, Vendor-Specific
//!   5.26): zero-copy view, attribute iterators, `Repr` with parse/emit.
//! * [`auth`]: User-Password hiding (RFC 2865 5.2), the Response
//!   Authenticator (RFC 2865 3) and the Message-Authenticator (RFC 3579
//!   3.2), verified in constant time.
//! * [`sa`]: the Cisco-AVPair `mobileip:spi#0=spi ... key ...` parser.
//! * [`client`]: the sans-IO client engine: retransmission, failover,
//!   Identifiers, answer checking, SA cache with provenance, counters.
//! * [`driver`]: the engine over a tokio UDP socket:
//!   `handle.lookup(home).await`.
//!
//! # The request
//!
//! An Access-Request whose User-Name is the mobile node's home address in
//! dotted form (what IOS sends for a node known by address), a
//! User-Password (default `cisco`, configurable), NAS-IP-Address and a
//! Message-Authenticator. The SA comes back in the Access-Accept as
//! `Cisco-AVPair = "mobileip:spi#0=spi N key hex K algorithm hmac-md5
//! replay timestamp within S"`.
//!
//! What the public documents we could reach say, and what we could not
//! confirm (searched with the project's search tool):
//!
//! * Cisco's RADIUS attribute tables (e.g. the Catalyst 2960-X
//!   configuration guide, IOS 15.2(4)E, "Vendor-Specific RADIUS
//!   attributes", sub-type 1 `spi`): the value "is in the same syntax as
//!   the `ip mobile secure host <addr>` configuration command. Basically it
//!   contains the rest of the configuration command that follows that
//!   string, verbatim", giving SPI, key, algorithm, mode and replay range.
//!   The Cisco PDSN 2.0 guide (12.3(11)T) shows `cisco-avpair =
//!   "mobileip:spi#0=spi 100 key ascii cisco"`. Hence [`sa`] takes the
//!   `ip mobile secure` grammar, with hexadecimal SPIs by default as IOS
//!   and `pmip-config` read them there ([`sa::SpiRadix`]).
//! * The password: IOS has `ip mobile home-agent aaa user-password` (IOS
//!   12.3T IP Mobility command reference) to set it, which says a fixed
//!   default exists; the excerpts we could read did not show its value.
//!   `cisco` is the customary one in Cisco's Mobile IP AAA examples, so it
//!   is our default, and [`client::ClientConfig::password`] changes it.
//!
//! # Why the packet format is written by hand
//!
//! We looked at the maintained crates first. `radius` (moznion/radius-rs,
//! the most used) encodes and decodes packets and checks Response
//! Authenticators, but its `Packet` keeps the shared secret and derives
//! `Debug` (secrets would reach logs), draws Identifiers and
//! authenticators from `rand::thread_rng` inside constructors (no seeded,
//! deterministic engine tests), compares authenticators with `==` (not
//! constant time), reports errors as strings, and gives no verification
//! of a Message-Authenticator in an answer (its attribute is only added
//! and looked up). `radius-rust` needs a dictionary file to parse a packet
//! at all. What we need is small (a 20-octet header, TLV attributes, three
//! MD5/HMAC-MD5 constructions) and fits the zero-copy, typed-error,
//! never-panic style of `pmip-wire` (whose [`pmip_wire::Error`] we reuse),
//! with `md-5`, `hmac` and `subtle` already in the workspace.

pub mod auth;
pub mod client;
pub mod driver;
pub mod freeradius;
pub mod packet;
pub mod sa;

pub use client::{
    Action, ClientConfig, ConfigError, Counters, Lookup, MalformedAnswer, RadiusClient,
    RadiusError, RequestId, ServerConfig,
};
pub use driver::{RadiusHandle, Snapshot, spawn, spawn_with_socket};
pub use sa::{Algorithm, AvPairError, Sa, SpiRadix};
