use thiserror::Error;

/// Why a buffer could not be parsed. Carries only static strings and
/// numbers, so producing one never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Error {
    /// The buffer ends before the structure does.
    #[error("{what} truncated: needs {need} bytes, has {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A length field disagrees with the structure or the buffer.
    #[error("{what} has a bad length field ({len})")]
    BadLength { what: &'static str, len: usize },
    /// The checksum does not verify.
    #[error("{what} checksum does not verify")]
    BadChecksum { what: &'static str },
    /// A version, type or code that this format does not carry.
    #[error("{what} has unsupported value {value}")]
    Unsupported { what: &'static str, value: u32 },
    /// An extension this implementation does not know, in the range that
    /// RFC 5944 section 1.9 says must not be skipped (types 0..=127).
    #[error("unknown non-skippable extension type {kind}")]
    UnknownExtension { kind: u8 },
    /// Forwarding the packet would take its TTL to zero (RFC 2003
    /// section 3.1: discard, and the sender should get ICMP Time Exceeded).
    #[error("TTL exceeded in transit")]
    TtlExceeded,
    /// Some other rule of the format is broken.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        what: &'static str,
        reason: &'static str,
    },
}

pub type Result<T> = core::result::Result<T, Error>;

/// Ok when `buf` holds at least `need` bytes.
pub(crate) fn need(what: &'static str, buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::Truncated {
            what,
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}
