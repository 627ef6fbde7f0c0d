//! The Debian package (issue 16 item 8): `scripts/package/deb.sh` builds it
//! around this test's switch binary; the test reads it with `dpkg-deb`,
//! `systemd-analyze verify`s its unit, unpacks it into a scratch root
//! (`dpkg -x`: no maintainer scripts, no root needed) and runs the switch
//! from there: `--version`, `--help`, the shipped config accepted, a start that
//! answers OPTIONS and survives `systemctl reload` (SIGHUP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, IO_TIMEOUT, SwitchHost};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[track_caller]
fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    let program = program.as_ref();
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program:?}: {e} (scripts/test.sh installs it)"));
    assert!(
        out.status.success(),
        "{program:?} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the package in `dir`; returns its path.
fn build(dir: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/package/deb.sh");
    let out = run(&script, &["--binary", env!("CARGO_BIN_EXE_switch"), "--out", dir.to_str().unwrap()]);
    PathBuf::from(text(&out).trim())
}

/// `OPTIONS` to the switch's UDP port: the status line it answers.
fn options(sw: &common::Switch) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = sock.local_addr().unwrap();
    let request = format!(
        "OPTIONS sip:{uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=1\r\nTo: <sip:{uri}>\r\nCall-ID: {b}@package-test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        uri = sw.udp_addr(),
        b = common::calls::hex(),
    );
    sock.send_to(request.as_bytes(), sw.udp_addr()).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = sock.recv(&mut buf).expect("no answer to OPTIONS");
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn the_deb_holds_the_switch_its_hardened_unit_and_its_config_and_the_unpacked_switch_runs() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build(dir.path());
    assert!(deb.ends_with(format!("roamswitch_{VERSION}_{}.deb", text(&run("dpkg", &["--print-architecture"])).trim())), "{deb:?}");
    let deb = deb.to_str().unwrap();

    let info = text(&run("dpkg-deb", &["--info", deb]));
    for line in ["Package: roamswitch", &format!("Version: {VERSION}"), "Depends: libc6 (>= 2.34), libgcc-s1, adduser"] {
        assert!(info.contains(line), "{line:?} in\n{info}");
    }
    assert_eq!(text(&run("dpkg-deb", &["--info", deb, "conffiles"])).trim(), "/etc/switch/switch.toml", "the config is a conffile");
    let contents = text(&run("dpkg-deb", &["--contents", deb]));
    for (mode, path) in [
        ("-rwxr-xr-x", "./usr/bin/switch"),
        ("-rw-r--r--", "./lib/systemd/system/switch.service"),
        ("-rw-r--r--", "./etc/switch/switch.toml"),
        ("-rw-r--r--", "./usr/share/man/man8/switch.8.gz"),
    ] {
        assert!(
            contents.lines().any(|l| l.starts_with(mode) && l.contains("root/root") && l.ends_with(path)),
            "{mode} {path} in\n{contents}"
        );
    }

    let root = dir.path().join("root");
    run("dpkg", &["-x", deb, root.to_str().unwrap()]);
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/switch.service")).unwrap();
    for line in [
        "User=switch",
        "StateDirectory=switch",
        "ExecStart=/usr/bin/switch run --config /etc/switch/switch.toml --data-dir /var/lib/switch",
        "ExecReload=kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line:?} in switch.service");
    }
    // The unit as shipped, but for the binary's path: the scratch root's, so
    // the check that ExecStart is an executable looks at the packaged one.
    let switch = root.join("usr/bin/switch");
    let check = dir.path().join("unit");
    std::fs::create_dir(&check).unwrap();
    std::fs::write(check.join("switch.service"), unit.replace("/usr/bin/switch", switch.to_str().unwrap())).unwrap();
    let checked = check.join("switch.service");
    let verify = Command::new("systemd-analyze")
        .args(["verify", checked.to_str().unwrap()])
        .env("MANPATH", root.join("usr/share/man"))
        .output()
        .expect("systemd-analyze (scripts/test.sh installs systemd)");
    assert!(verify.status.success() && verify.stderr.is_empty(), "systemd-analyze verify: {}", String::from_utf8_lossy(&verify.stderr));
    // systemd's own exposure score (0 safest, 10 worst); "OK" ends below 4.
    let security = run("systemd-analyze", &["security", "--offline=yes", "--threshold=40", checked.to_str().unwrap()]);
    assert!(text(&security).contains("Overall exposure level for switch.service"), "{}", text(&security));

    assert_eq!(text(&run(&switch, &["--version"])).trim(), format!("switch {VERSION}"));
    let help = text(&run(&switch, &["--help"]));
    assert!(help.contains("Usage: switch <COMMAND>") && help.contains("run"), "{help}");
    // The shipped config is accepted as it is (unknown keys would be refused):
    // the provisioning commands read it like `switch run`.
    let data = dir.path().join("data");
    let config = root.join("etc/switch/switch.toml");
    let with_config = ["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    run(&switch, &[&["subscriber", "add", "1001", "--password", "pw1001"][..], &with_config].concat());
    let listed = text(&run(&switch, &[&["subscriber", "list", "--json"][..], &with_config].concat()));
    assert!(listed.contains("\"1001\""), "{listed}");

    // The unpacked switch, started like any test's on port 0: it answers, and
    // SIGHUP (the unit's reload) reloads the subscribers instead of ending it.
    let lab = SwitchHost::with_bin(&switch);
    lab.add_subscriber("1001", "pw1001", None);
    let sw = lab.start(&Config::default().listen(&["udp:127.0.0.1:0"]));
    assert_eq!(options(&sw), "SIP/2.0 200 OK");
    run("kill", &["-HUP", &sw.pid().unwrap().to_string()]);
    sw.wait_for_event("SIGHUP: reloading the subscribers", &[], Duration::from_secs(10));
    assert_eq!(options(&sw), "SIP/2.0 200 OK", "still serving after the reload");
}
