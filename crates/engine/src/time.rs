//! Time as the engines see it: passed in by the caller, never read.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on a monotonic clock, as a duration since an arbitrary origin
/// chosen by the caller (the daemon's start, or zero in a simulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    pub const ZERO: Instant = Instant(Duration::ZERO);

    pub const fn from_duration(d: Duration) -> Instant {
        Instant(d)
    }
    pub const fn from_secs(s: u64) -> Instant {
        Instant(Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(Duration::from_millis(ms))
    }
    pub const fn since_origin(self) -> Duration {
        self.0
    }
    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d))
    }
}

/// The two clocks an agent needs: monotonic time for lifetimes and
/// timers, and wall-clock time for Mobile IP's timestamp identification
/// (RFC 5944 section 5.7 compares the Identification with the time of day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub instant: Instant,
    /// Time since the Unix epoch.
    pub unix: Duration,
}

impl Now {
    pub fn new(instant: Instant, unix: Duration) -> Now {
        Now { instant, unix }
    }
    /// Both clocks moved on by `d`, as a simulation advances time.
    pub fn advance(self, d: Duration) -> Now {
        Now {
            instant: self.instant + d,
            unix: self.unix + d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_secs(5);
        assert_eq!(
            (t + Duration::from_secs(2)).since_origin(),
            Duration::from_secs(7)
        );
        assert_eq!(t - Duration::from_secs(9), Instant::ZERO);
        assert_eq!(Instant::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(
            t.saturating_since(Instant::from_secs(2)),
            Duration::from_secs(3)
        );
        let n =
            Now::new(t, Duration::from_secs(1_700_000_000)).advance(Duration::from_millis(1500));
        assert_eq!(n.instant, Instant::from_millis(6500));
        assert_eq!(n.unix, Duration::from_millis(1_700_000_001_500));
    }
}
