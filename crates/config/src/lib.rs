//! IOS-style configuration of pmip devices.
//!
//! Every pmip device (home agent, foreign agent, proxy Mobile IP access
//! point) is configured in the Cisco IOS command language the original
//! devices used (docs/operator-interface.md): routers with
//! `interface X` / `ip address A M`, `router mobile`, `ip mobile ...`;
//! access points with the `ip proxy-mobile ...` lines of the Aironet documentation, verbatim.
//! This crate turns such text into a typed [`Config`] and prints a
//! [`Config`] back as `show running-config` does. It does no I/O.
//!
//! ```
//! use pmip_config::{Config, Mode};
//!
//! let mut config = Config::parse(
//!     "hostname ap1200\n\
//!      ip proxy-mobile enable\n\
//!      ip proxy-mobile secure node 10.91.7.151 10.91.7.176 spi 102 key ascii 0987654\n",
//! )?;
//! let sa = config.proxy_mobile.node_sa("10.91.7.160".parse().unwrap()).unwrap();
//! assert_eq!(sa.spi, 0x102); // IOS writes SPIs in hexadecimal
//! assert_eq!(sa.key, b"0987654");
//!
//! // One more line, as `pmip exec configure LINE` would apply it.
//! let mut mode = Mode::Global;
//! config.apply_line(&mut mode, "ip proxy-mobile tunnel reverse")?;
//! assert!(config.running_config(false).contains("key ascii ********"));
//! # Ok::<(), pmip_config::ConfigError>(())
//! ```
//!
//! # Reading rules
//!
//! * Modes as in IOS: global, `interface NAME`, `ssid NAME` inside a radio
//!   interface, `router mobile`. `exit` goes up one mode, `end` to global.
//!   A command the current mode does not have is tried in the parent mode,
//!   which becomes current (so a running-config needs no `exit`).
//! * Keywords are case-insensitive and must be spelled in full (no IOS
//!   abbreviations such as `ip mob ho`); names, SSIDs and keys keep their
//!   case. Leading indentation is ignored.
//! * A line whose first non-blank character is `!` or `#` is a comment;
//!   blank lines are ignored. `!` or `#` later in a line is data.
//! * Pasted walkthroughs are accepted: `configure terminal`, `end`,
//!   `copy running-config startup-config`, `write [memory]` do nothing
//!   more, and a leading prompt such as `ap1200(config-if)#` is dropped.
//! * Interface names are normalised ([`normalize_interface_name`]).
//! * SPIs are hexadecimal, as in IOS (`spi 100` is SPI 256); SPIs below
//!   100 hex are refused (RFC 5944 reserves 0-255). The Aironet documentation's `spi 102`
//!   is SPI 258.
//! * A refused line changes nothing and gives a [`ConfigError`] with the
//!   line number, the line and what was expected. [`Config::parse`] stops
//!   at the first; [`Config::parse_all`] collects them all.

mod error;
mod ifname;
mod model;
mod parse;
mod print;
mod ranges;

pub use error::ConfigError;
pub use ifname::{is_linux_name, normalize_interface_name};
pub use model::*;
pub use parse::Mode;
pub use print::KEY_MASK;
pub use ranges::{RangeList, Ranged};

impl std::str::FromStr for Config {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Config::parse(s)
    }
}
