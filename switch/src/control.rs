//! The local control socket (`<data-dir>/control.sock`): operator commands that
//! need the running switch itself rather than its database: `probe NUMBER`
//! sends an OPTIONS down the number's registered flow and reports whether (and
//! how fast) the phone answered — the switch reaching a phone behind a NAT that
//! drops every inbound connection; `route NUMBER` says where a call for the
//! number would go now (its flow, or home and why), the B2BUA's own decision;
//! `locks` lists the numbers locked against password guessing, as one JSON
//! array (`switch registrations` shows them).
//!
//! One line in, one line out. The socket is created `0600` in the data dir, so
//! only the switch's own user can use it.

use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// The socket's path in a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// A command for the switch core.
#[derive(Debug)]
pub enum Command {
    /// OPTIONS down `number`'s flow.
    Probe(String),
    /// Where a call for `number` would be routed now.
    Route(String),
    /// The numbers locked now.
    Locks,
    /// The live registrations, as JSON (the admin API; not a socket command).
    Registrations,
    /// The calls in progress and the last ones ended, as JSON (likewise).
    Calls,
}

/// A command and where its one-line answer goes.
#[derive(Debug)]
pub struct ControlRequest {
    pub command: Command,
    pub reply: oneshot::Sender<String>,
}

/// Reads one command line; `None` for something that is not a command.
pub fn parse_command(line: &str) -> Option<Command> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("probe"), Some(number), None) if number.len() <= 64 => Some(Command::Probe(number.to_owned())),
        (Some("route"), Some(number), None) if number.len() <= 64 => Some(Command::Route(number.to_owned())),
        (Some("locks"), None, None) => Some(Command::Locks),
        _ => None,
    }
}

/// Binds the socket (replacing a stale one from a previous run).
pub fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts connections until the switch stops.
pub async fn serve(listener: UnixListener, to_loop: mpsc::Sender<ControlRequest>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let to_loop = to_loop.clone();
        tokio::spawn(async move {
            let (rd, mut wr) = stream.into_split();
            let mut line = String::new();
            // One bounded line: a control client is local, but still untrusted input.
            let read = BufReader::new(rd.take(256)).read_line(&mut line).await;
            let answer = match read.ok().and_then(|_| parse_command(&line)) {
                None => "error: unknown command (try: probe NUMBER, route NUMBER, locks)".to_owned(),
                Some(command) => {
                    let (reply, answer) = oneshot::channel();
                    if to_loop.send(ControlRequest { command, reply }).await.is_err() {
                        "error: the switch is stopping".to_owned()
                    } else {
                        answer.await.unwrap_or_else(|_| "error: no answer".to_owned())
                    }
                }
            };
            if let Err(e) = wr.write_all(format!("{answer}\n").as_bytes()).await {
                warn!(error = %e, "control reply not written");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert!(matches!(parse_command("probe 1001\n"), Some(Command::Probe(n)) if n == "1001"));
        assert!(parse_command("probe").is_none());
        assert!(parse_command("probe 1 2").is_none());
        assert!(parse_command("reboot").is_none());
        assert!(matches!(parse_command("locks\n"), Some(Command::Locks)));
        assert!(parse_command("locks 1001").is_none());
    }
}
