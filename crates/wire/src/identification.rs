//! The Identification field as a 64-bit NTP timestamp (RFC 5944 section
//! 5.7 and 5.6.1, RFC 1305): seconds since 1900 in the high 32 bits, a
//! binary fraction of a second in the low 32. No clock is read here:
//! the time is passed in.

use core::time::Duration;

/// Seconds from the NTP era origin (1900-01-01) to the Unix epoch.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A registration Identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Identification(pub u64);

impl Identification {
    /// The timestamp of `unix` (time since the Unix epoch).
    pub fn from_unix(unix: Duration) -> Identification {
        let secs = unix.as_secs().wrapping_add(NTP_UNIX_OFFSET) & 0xffff_ffff;
        let frac = (u64::from(unix.subsec_nanos()) << 32) / 1_000_000_000;
        Identification((secs << 32) | frac)
    }

    /// Seconds since 1900 (modulo 2^32), the high 32 bits.
    pub fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The low 32 bits: the fraction, or what a sender chose to echo.
    pub fn low(self) -> u32 {
        self.0 as u32
    }

    /// Signed difference in whole seconds from `other`, modulo 2^32 so
    /// the NTP era rollover of 2036 does not break comparisons.
    pub fn seconds_from(self, other: Identification) -> i64 {
        i64::from(self.seconds().wrapping_sub(other.seconds()) as i32)
    }

    /// True when within `window` seconds of `now` either way (RFC 5944
    /// 5.7: "sufficiently close to the receiver's time of day").
    pub fn within(self, now: Identification, window: Duration) -> bool {
        self.seconds_from(now).unsigned_abs() <= window.as_secs()
    }

    /// The Identification of a code-133 reply (RFC 5944 5.7): the home
    /// agent's time in the high 32 bits, the request's low 32 bits echoed
    /// so the mobile node can match the reply to its request.
    pub fn reply_for(request: Identification, ha_time: Identification) -> Identification {
        Identification((ha_time.0 & 0xffff_ffff_0000_0000) | (request.0 & 0xffff_ffff))
    }

    /// How far the home agent's clock is ahead of ours, from a code-133
    /// reply to our request: what a mobile node (or the proxy AP acting
    /// for it, RFC 5944 5.7) adds to its time in the next requests.
    pub fn resync_offset(reply: Identification, request: Identification) -> i64 {
        reply.seconds_from(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_conversion() {
        // 2026-01-01T00:00:00Z: Unix 1767225600 is NTP 3976214400.
        let t = Identification::from_unix(Duration::from_secs(1_767_225_600));
        assert_eq!(t.seconds(), 3_976_214_400);
        assert_eq!(t.low(), 0);
        let half = Identification::from_unix(Duration::from_millis(1_767_225_600_500));
        assert_eq!(half.low(), 0x8000_0000);
    }

    #[test]
    fn window_and_resync() {
        let now = Identification::from_unix(Duration::from_secs(1_767_225_600));
        let w = Duration::from_secs(7);
        assert!(Identification(now.0 + (7 << 32)).within(now, w));
        assert!(!Identification(now.0 + (8 << 32)).within(now, w));
        assert!(!Identification(now.0 - (8 << 32)).within(now, w));
        let request = Identification(0x1111_1111_2222_2222);
        let reply = Identification::reply_for(request, now);
        assert_eq!(reply.low(), 0x2222_2222);
        assert_eq!(reply.seconds(), now.seconds());
        assert_eq!(
            Identification::resync_offset(reply, request),
            i64::from(now.seconds().wrapping_sub(0x1111_1111) as i32)
        );
        // Across the 2036 rollover, one second later is still later.
        assert_eq!(
            Identification(0).seconds_from(Identification(0xffff_ffff << 32)),
            1
        );
    }
}
