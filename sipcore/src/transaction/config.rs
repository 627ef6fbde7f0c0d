//! Timer values (RFC 3261 §17, Table 4; RFC 6026 §8.4 and §8.7 add L and M).
//!
//! Nothing here is global: every transaction is built with a [`TimerConfig`]
//! and reads its timer lengths from it.

use std::time::Duration;

/// The base timer values. Every other timer is derived from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; the first retransmission interval (RFC default 500 ms).
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE
    /// responses (RFC default 4 s).
    pub t2: Duration,
    /// Longest time a message may stay in the network (RFC default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

impl TimerConfig {
    /// `64*T1`: the transaction timeout (Timers B, F, H, J on UDP, L, M).
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// How long a server INVITE transaction waits for the TU before it sends
/// `100 Trying` itself (RFC 3261 §17.2.1: "within 200 ms").
pub const TRYING_DELAY: Duration = Duration::from_millis(200);

/// Lower bound of Timer D on unreliable transports (RFC 3261 Table 4: "> 32 s").
pub const TIMER_D_MIN: Duration = Duration::from_secs(32);

/// The transaction timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Client INVITE request retransmission (unreliable transports only).
    A,
    /// Client INVITE transaction timeout.
    B,
    /// Client INVITE: wait for response retransmissions in Completed.
    D,
    /// Client non-INVITE request retransmission (unreliable transports only).
    E,
    /// Client non-INVITE transaction timeout.
    F,
    /// Server INVITE final response retransmission (unreliable transports only).
    G,
    /// Server INVITE: wait for the ACK.
    H,
    /// Server INVITE: wait for ACK retransmissions in Confirmed.
    I,
    /// Server non-INVITE: wait for request retransmissions in Completed.
    J,
    /// Client non-INVITE: wait for response retransmissions in Completed.
    K,
    /// Server INVITE: wait in Accepted for INVITE retransmissions and ACKs (RFC 6026).
    L,
    /// Client INVITE: wait in Accepted for 2xx retransmissions (RFC 6026).
    M,
    /// Server INVITE: send `100 Trying` if the TU has not responded ([`TRYING_DELAY`]).
    Trying,
}

impl Timer {
    /// The timer's length. For the retransmission timers A, E and G this is the
    /// first interval (T1); the machines double it (E and G capped at T2) and
    /// never start them on reliable transports.
    pub fn duration(self, config: &TimerConfig, reliable: bool) -> Duration {
        let unreliable_only = |d: Duration| if reliable { Duration::ZERO } else { d };
        match self {
            Timer::A | Timer::E | Timer::G => config.t1,
            Timer::B | Timer::F | Timer::H | Timer::L | Timer::M => config.timeout(),
            Timer::D => unreliable_only(config.timeout().max(TIMER_D_MIN)),
            Timer::I | Timer::K => unreliable_only(config.t4),
            Timer::J => unreliable_only(config.timeout()),
            Timer::Trying => TRYING_DELAY,
        }
    }

    /// True for the retransmission timers, which run only on unreliable transports.
    pub fn is_retransmission(self) -> bool {
        matches!(self, Timer::A | Timer::E | Timer::G)
    }
}
