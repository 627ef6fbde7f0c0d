//! Asking DNS servers with the real clients (`kdig` from Knot, `dig` from
//! BIND) and reading what they print: the embedded server's tests and push
//! mode's (which asks Knot) read answers the same way.

use std::net::SocketAddr;
use std::process::Command;

/// What a DNS client printed, cut into the parts a test looks at.
#[derive(Debug)]
pub struct Answer {
    pub status: String,
    pub flags: String,
    pub answers: Vec<String>,
    pub authority: Vec<String>,
    pub text: String,
}

impl Answer {
    /// The data of each answer record (after name, TTL, class, type).
    pub fn data(&self) -> Vec<String> {
        self.answers.iter().map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" ")).collect()
    }

    pub fn ttls(&self) -> Vec<u32> {
        self.answers.iter().map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap()).collect()
    }
}

/// Reads kdig's and dig's presentation output: `status: X`, `flags: ...`,
/// and the ANSWER and AUTHORITY sections.
pub fn parse(text: String) -> Answer {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.split_once(key).map(|(_, rest)| rest.split([',', ';']).next().unwrap_or("").trim().to_owned()))
            .unwrap_or_default()
    };
    let section = |title: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with(title))
            .skip(1)
            .take_while(|l| !l.trim().is_empty() && !l.starts_with(";;"))
            .map(str::to_owned)
            .collect()
    };
    Answer {
        status: field("status: "),
        // dig writes `flags:`, kdig `Flags:`.
        flags: field("lags: "),
        answers: section(";; ANSWER SECTION:"),
        authority: section(";; AUTHORITY SECTION:"),
        text: text.clone(),
    }
}

pub fn run(program: &str, args: &[String]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e} (scripts/test.sh installs it)"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `@server -p PORT NAME TYPE` and `extra`, as both clients take them.
pub fn query_args(server: SocketAddr, name: &str, rtype: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![format!("@{}", server.ip()), "-p".into(), server.port().to_string(), name.into(), rtype.into()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// `kdig @server NAME TYPE`, over UDP unless `tcp`.
pub fn kdig(server: SocketAddr, name: &str, rtype: &str, tcp: bool) -> Answer {
    parse(run("kdig", &query_args(server, name, rtype, &["+timeout=2", "+retry=0", if tcp { "+tcp" } else { "+notcp" }])))
}
