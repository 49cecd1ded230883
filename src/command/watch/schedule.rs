//! When things happen in a watch: checks (jittered), the spread of restarts after a rotation,
//! and the arithmetic on instants that no duration from outside can overflow.

use std::time::Duration;
use tokio::time::Instant;

/// When checks and restarts happen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// The check interval.
    pub interval: Duration,
}

impl Schedule {
    /// The wait before the next check: the interval ±10 %, so processes started together drift
    /// apart instead of polling the service in the same second.
    pub fn next_check(self) -> Duration {
        self.interval.mul_f64(0.9 + fastrand::f64() * 0.2)
    }

    /// The wait between a resolved change and the restart: a random part of half the interval,
    /// so the replicas of a deployment that see one rotation together restart over that span,
    /// not in the same second.
    pub fn restart_delay(self) -> Duration {
        self.interval.mul_f64(fastrand::f64() * 0.5)
    }
}

/// `now + wait`, saturating: a wait too long for the clock is "a year from now", never a panic
/// (every duration osenv accepts is far shorter; this is the backstop, not the bound).
pub(crate) fn later(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait)
        .or_else(|| now.checked_add(Duration::from_hours(24 * 365)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_jittered_by_a_tenth_and_restarts_spread_over_half_the_interval() {
        let schedule = Schedule {
            interval: Duration::from_mins(5),
        };
        let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
        for _ in 0..2000 {
            let next = schedule.next_check();
            assert!(
                next >= Duration::from_secs(270) && next <= Duration::from_secs(330),
                "{next:?}"
            );
            low = low.min(next);
            high = high.max(next);
            let restart = schedule.restart_delay();
            assert!(restart <= Duration::from_secs(150), "{restart:?}");
        }
        // Spread, not constant.
        assert!(
            low < Duration::from_secs(280) && high > Duration::from_secs(320),
            "{low:?} {high:?}"
        );
    }

    #[test]
    fn no_wait_overflows_the_clock() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(later(now, Duration::from_secs(3)), now + Duration::from_secs(3));
    }
}
