//! Mobility security associations and timestamp replay protection
//! (RFC 5944 sections 1.6, 3.5 and 5.7).

use core::time::Duration;
use pmip_wire::auth::Algorithm;
use pmip_wire::identification::Identification;

/// A mobility security association with one peer (mobile node, foreign
/// agent or home agent).
#[derive(Clone, PartialEq, Eq)]
pub struct SecurityAssociation {
    pub spi: u32,
    pub key: Vec<u8>,
    pub algorithm: Algorithm,
    /// Replay protection with timestamps: how far the Identification may
    /// be from our time of day (RFC 5944 5.7; IOS default 7 s).
    pub replay_window: Duration,
}

impl core::fmt::Debug for SecurityAssociation {
    /// Never prints the key: Debug output ends up in logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecurityAssociation")
            .field("spi", &format_args!("{:#x}", self.spi))
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("algorithm", &self.algorithm)
            .field("replay_window", &self.replay_window)
            .finish()
    }
}

/// Why an Identification fails replay protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFault {
    /// Further from our time of day than the window allows.
    OutsideWindow,
    /// Not greater than the last one accepted from this mobile node.
    NotIncreasing,
}

/// Checks a timestamp Identification (RFC 5944 5.7): within `window` of
/// our time of day and strictly greater than the last accepted one.
pub fn check_timestamp(
    ident: u64,
    now: Identification,
    window: Duration,
    last: Option<u64>,
) -> Result<(), ReplayFault> {
    if !Identification(ident).within(now, window) {
        return Err(ReplayFault::OutsideWindow);
    }
    if let Some(last) = last
        && ident <= last
    {
        return Err(ReplayFault::NotIncreasing);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_and_order() {
        let now_id = Identification::from_unix(Duration::from_secs(1_767_225_600));
        let now = now_id.0;
        let w = Duration::from_secs(7);
        assert_eq!(check_timestamp(now, now_id, w, None), Ok(()));
        assert_eq!(check_timestamp(now + (7 << 32), now_id, w, None), Ok(()));
        assert_eq!(check_timestamp(now - (7 << 32), now_id, w, None), Ok(()));
        assert_eq!(
            check_timestamp(now + (8 << 32), now_id, w, None),
            Err(ReplayFault::OutsideWindow)
        );
        assert_eq!(
            check_timestamp(now - (8 << 32), now_id, w, None),
            Err(ReplayFault::OutsideWindow)
        );
        assert_eq!(
            check_timestamp(now, now_id, w, Some(now)),
            Err(ReplayFault::NotIncreasing)
        );
        assert_eq!(check_timestamp(now + 1, now_id, w, Some(now)), Ok(()));
    }
}
