//! The Debian package (issue 16 item 8): `cargo deb` builds it, through
//! `scripts/package/deb.sh`, from this test's debug binaries (`--profile dev
//! --no-build`: the switch and the workspace's `agent`, which `cargo test
//! --workspace` builds before any test runs); the test reads it with
//! `dpkg-deb`, `systemd-analyze verify`s its unit, unpacks it into a scratch
//! root (`dpkg -x`: no maintainer scripts, no root needed) and runs both
//! binaries from there: the switch's `--version`, `--help`, the shipped config
//! accepted, a start that answers OPTIONS and survives `systemctl reload`
//! (SIGHUP); the agent's `--version` and `--help`.
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

/// Builds the package in `dir` with `cargo deb` from the debug binaries of
/// this test's target dir; returns its path.
fn build(dir: &Path) -> PathBuf {
    let switch = PathBuf::from(env!("CARGO_BIN_EXE_switch"));
    // cargo-deb takes both from the profile dir the switch was built into.
    let agent = tests::workspace_bin("agent");
    assert_eq!(agent.parent(), switch.parent(), "switch and agent side by side");
    let profile_dir = switch.parent().unwrap();
    assert_eq!(profile_dir.file_name().unwrap(), "debug", "the tests run debug binaries");
    let target_dir = profile_dir.parent().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/package/deb.sh");
    let out = Command::new(&script)
        // --fast: lighter compression (the debug binaries are large even stripped).
        .args(["--profile", "dev", "--no-build", "--fast", "--output", dir.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script:?} (cargo-deb: scripts/test.sh installs it): {}\n{}",
        text(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = text(&out).lines().last().map(str::trim).map(PathBuf::from).unwrap_or_default();
    assert!(deb.starts_with(dir) && deb.is_file(), "the .deb's path as the last line of stdout: {}", text(&out));
    deb
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
fn the_deb_holds_the_switch_the_agent_the_hardened_unit_and_the_config_and_the_unpacked_binaries_run() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build(dir.path());
    assert!(deb.ends_with(format!("roamswitch_{VERSION}_{}.deb", text(&run("dpkg", &["--print-architecture"])).trim())), "{deb:?}");
    let deb = deb.to_str().unwrap();

    let info = text(&run("dpkg-deb", &["--info", deb]));
    for line in ["Package: roamswitch", &format!("Version: {VERSION}"), "Section: net", "Priority: optional"] {
        assert!(info.lines().any(|l| l.trim() == line), "{line:?} in\n{info}");
    }
    // `$auto` (dpkg-shlibdeps on both binaries), libgcc_s, adduser for postinst.
    let depends = info.lines().find_map(|l| l.trim().strip_prefix("Depends: ")).unwrap_or_else(|| panic!("no Depends in\n{info}"));
    for dep in ["libc6 (>= ", "libgcc-s1", "adduser"] {
        assert!(depends.split(", ").any(|d| d.starts_with(dep)), "{dep:?} in Depends: {depends}");
    }
    // The maintainer scripts of scripts/package/debian/, as they are.
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/package/debian");
    for script in ["postinst", "prerm", "postrm"] {
        let shipped = text(&run("dpkg-deb", &["--info", deb, script]));
        assert_eq!(shipped, std::fs::read_to_string(scripts.join(script)).unwrap(), "{script}");
    }
    assert_eq!(text(&run("dpkg-deb", &["--info", deb, "conffiles"])).trim(), "/etc/switch/switch.toml", "the config is a conffile");
    let contents = text(&run("dpkg-deb", &["--contents", deb]));
    for (mode, path) in [
        ("-rwxr-xr-x", "./usr/bin/switch"),
        ("-rwxr-xr-x", "./usr/bin/agent"),
        ("-rw-r--r--", "./lib/systemd/system/switch.service"),
        ("-rw-r--r--", "./etc/switch/switch.toml"),
        ("-rw-r--r--", "./usr/share/man/man8/switch.8.gz"),
    ] {
        assert!(
            contents.lines().any(|l| l.starts_with(mode)
                && l.split_whitespace().nth(1).is_some_and(|o| o == "root/root" || o == "0/0")
                && l.ends_with(path)),
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
    // Stripped, as Debian ships binaries (cargo deb --strip): no symbol table,
    // no DWARF (.debug_gdb_scripts is loaded, not debug info, and stays).
    let agent = root.join("usr/bin/agent");
    for bin in [&switch, &agent] {
        let sections = text(&run("readelf", &["--section-headers", "--wide", bin.to_str().unwrap()]));
        for section in [".symtab", ".debug_info", ".debug_line"] {
            assert!(!sections.contains(&format!(" {section} ")), "{bin:?} is not stripped: {section}\n{sections}");
        }
    }
    // The agent, the phone on the command line, runs from the unpacked root too.
    assert_eq!(text(&run(&agent, &["--version"])).trim(), format!("agent {VERSION}"));
    let help = text(&run(&agent, &["--help"]));
    assert!(help.contains("Usage: agent") && help.contains("--switch"), "{help}");
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
