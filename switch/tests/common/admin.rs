//! The admin listener's `/metrics` seen from outside: scraped (over
//! [`super::http`]) and read sample by sample, and `promtool check metrics`.

pub use super::http::{admin_addr, get};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long an admin request or a metric's change may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// `GET /metrics`, which must answer 200: the body.
pub fn scrape(addr: SocketAddr) -> String {
    let (status, head, body) = get(addr, "/metrics", None);
    assert_eq!(status, 200, "{head}");
    body
}

/// The value of the sample `series` (`name{label="v"}` exactly as rendered); 0 if absent.
pub fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// The sum of every sample of `name`, whatever its labels; 0 if none.
pub fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| *series == name || series.strip_prefix(name).is_some_and(|rest| rest.starts_with('{')))
        .map(|(_, v)| v.trim().parse::<f64>().unwrap())
        .sum()
}

/// `promtool check metrics` (Debian `prometheus`) on the scraped text: its
/// exit status, and its findings on failure.
pub fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n--- scraped:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
