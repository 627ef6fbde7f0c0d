//! The admin listener seen from outside: a raw HTTP GET, `/metrics`
//! scraped and read sample by sample, and `promtool check metrics`.

use super::Switch;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long an admin request or a metric's change may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// The admin listener in the switch's bound file.
pub fn admin_addr(sw: &Switch) -> SocketAddr {
    sw.listeners.iter().find(|l| l.transport == "admin").expect("an admin listener in the bound file").reach()
}

/// A minimal HTTP/1.1 GET: the status code, the raw head and the body.
pub fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: switch\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head in {text:?}"));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("status line of {head:?}"));
    (status, head.to_owned(), body.to_owned())
}

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
