//! TCP keep-alive probes sent by the kernel (RFC 1122 §4.2.3.6) on every
//! TCP/TLS flow, beside RFC 5626's CRLF pings.
//!
//! A NAT mapping that vanishes silently (the phone's NAT rebooted, changed
//! its public address, or simply forgot) leaves both ends of a flow waiting.
//! RFC 5626 finds out with a CRLF ping every Flow-Timer, which wakes the
//! phone's process twice per ping; a short Flow-Timer would find out fast but
//! cost an idle phone CPU (and the switch a ping per phone every few
//! seconds). The kernel's probes cost neither process anything: the peer's
//! kernel answers them, and a dead path errors the socket (ETIMEDOUT) after
//! `idle + count × interval` of silence, which both the switch and the agent
//! see as the flow closing. Either side's probe keeps both ends' idle clocks
//! reset, and the NAT's mapping fresh.

use std::time::Duration;

/// When the kernel probes a silent connection and when it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpKeepalive {
    /// Silence before the first probe.
    pub idle: Duration,
    /// Between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped.
    pub count: u32,
}

impl TcpKeepalive {
    /// 4 s idle, then 4 probes 2 s apart: a dead path is found 12 s after the
    /// last thing heard at most (8.5 s or so on average), and 8 s of silence
    /// (a Wi-Fi roam, a radio hiccup) is still survived.
    pub const DEFAULT: TcpKeepalive = TcpKeepalive { idle: Duration::from_secs(4), interval: Duration::from_secs(2), count: 4 };

    /// The longest silence before the kernel drops the connection.
    pub fn dead_after(&self) -> Duration {
        self.idle.saturating_add(self.interval.saturating_mul(self.count))
    }

    /// Parses `IDLE,INTERVAL,COUNT` (seconds, seconds, probes), e.g. `4,2,4`.
    pub fn parse(s: &str) -> Result<TcpKeepalive, crate::Error> {
        let bad = |why: String| crate::Error::Setting(format!("{s:?}: {why}"));
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [idle, interval, count] = parts.as_slice() else {
            return Err(bad("expected IDLE,INTERVAL,COUNT (e.g. 4,2,4)".into()));
        };
        let secs = |v: &str, what: &str| match v.parse::<u64>() {
            Ok(n) if (1..=32_767).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(bad(format!("{what} must be 1 to 32767 seconds"))),
        };
        let count = match count.parse::<u32>() {
            Ok(n) if (1..=127).contains(&n) => n,
            _ => return Err(bad("COUNT must be 1 to 127 probes".into())),
        };
        Ok(TcpKeepalive { idle: secs(idle, "IDLE")?, interval: secs(interval, "INTERVAL")?, count })
    }

    /// Turns the probes on for `tcp`. Probes go out only while nothing is in
    /// flight; a message sent into the dead path (an OPTIONS, a response)
    /// would leave the kernel retransmitting for many minutes instead, so
    /// `TCP_USER_TIMEOUT` gives unacknowledged data the same time to live.
    pub(crate) fn apply(&self, tcp: &tokio::net::TcpStream) -> std::io::Result<()> {
        let ka = socket2::TcpKeepalive::new().with_time(self.idle).with_interval(self.interval).with_retries(self.count);
        let sock = socket2::SockRef::from(tcp);
        sock.set_tcp_keepalive(&ka)?;
        sock.set_tcp_user_timeout(Some(self.dead_after()))
    }
}

impl std::fmt::Display for TcpKeepalive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{}", self.idle.as_secs(), self.interval.as_secs(), self.count)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_prints_idle_interval_count() {
        let ka = TcpKeepalive::parse("4, 2,4").unwrap();
        assert_eq!(ka, TcpKeepalive::DEFAULT);
        assert_eq!(ka.to_string(), "4,2,4");
        assert_eq!(ka.dead_after(), Duration::from_secs(12));
        for bad in ["", "4,2", "0,2,4", "4,2,0", "4,x,4", "4,2,4,1", "99999,2,4"] {
            assert!(TcpKeepalive::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_kernel_takes_the_settings() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let ka = TcpKeepalive { idle: Duration::from_secs(7), interval: Duration::from_secs(3), count: 5 };
        ka.apply(&tcp).unwrap();
        let sock = socket2::SockRef::from(&tcp);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
        assert_eq!(sock.tcp_keepalive_interval().unwrap(), Duration::from_secs(3));
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 5);
        assert_eq!(sock.tcp_user_timeout().unwrap(), Some(Duration::from_secs(22)));
    }
}
