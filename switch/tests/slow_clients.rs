//! Slow and half-open clients against the real switch: 2,000 slowloris
//! connections (an endless header, one byte a second, from eight source
//! addresses) do not delay a real phone's registration, and the switch
//! closes every one of them once the header timeout has passed since it was
//! accepted, while a registered phone idle on its flow for longer than that
//! keeps it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, Phone, Switch, Tcp, lab, wait_for};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PW: &str = "Quartz-Heron-5521";
/// Slowloris connections, from this many source addresses (127.0.0.2 on).
const LORIS: usize = 2000;
const SOURCES: usize = 8;
/// `[limits] header_timeout`, as by default: long enough that opening all
/// 2,000 connections on a loaded 2-core machine ends before the first are
/// reaped (4 s was not, under a parallel test run).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest registration (a new connection, REGISTER, 401, REGISTER, 200) allowed during the attack.
const REGISTRATION_BOUND: Duration = Duration::from_secs(1);

/// What one slowloris connection saw: when it started to connect (the
/// switch cannot have accepted it before) and when the switch closed it (EOF
/// or reset), if it did.
struct Lifetime {
    connecting: Instant,
    closed: Option<Instant>,
}

/// One slowloris: connects from `src`, then sends a header that never ends,
/// one byte a second, until the switch closes the connection or `give_up`.
async fn loris(switch: SocketAddr, src: Ipv4Addr, connected: Arc<AtomicUsize>, give_up: tokio::time::Instant) -> Lifetime {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((src, 0))).unwrap();
    let at = Instant::now();
    let mut stream = sock.connect(switch).await.unwrap();
    connected.fetch_add(1, Ordering::Relaxed);
    let mut bytes = b"REGISTER sip:switch.local SIP/2.0\r\nX-Slow: ".iter().copied().chain(std::iter::repeat(b'a'));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if stream.write_all(&[bytes.next().unwrap_or(b'a')]).await.is_err() {
                    return Lifetime { connecting: at, closed: Some(Instant::now()) };
                }
            }
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Lifetime { connecting: at, closed: Some(Instant::now()) },
                Ok(_) => {}
            },
            () = tokio::time::sleep_until(give_up) => return Lifetime { connecting: at, closed: None },
        }
    }
}

/// The attack, on a runtime of its own: every connection opened (a source
/// address at a time, so the listen backlog never overflows), then their
/// lifetimes once all have ended or `within` has passed.
fn attack(switch: SocketAddr, connected: Arc<AtomicUsize>, within: Duration) -> Vec<Lifetime> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        let give_up = tokio::time::Instant::now() + within;
        let mut all = tokio::task::JoinSet::new();
        for s in 0..SOURCES {
            let src = Ipv4Addr::new(127, 0, 0, 2 + s as u8);
            let before = connected.load(Ordering::Relaxed);
            for _ in 0..LORIS / SOURCES {
                all.spawn(loris(switch, src, connected.clone(), give_up));
            }
            while connected.load(Ordering::Relaxed) < before + LORIS / SOURCES && tokio::time::Instant::now() < give_up {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        all.join_all().await
    })
}

/// The switch's own sockets established on `port`, as the kernel lists them.
fn established(port: u16) -> usize {
    let out = Command::new("ss").args(["-Htn", "state", "established", "(", "sport", "=", &format!(":{port}"), ")"]).output().unwrap();
    assert!(out.status.success(), "ss: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A phone's registration from scratch: a new connection, the challenge, the
/// digest, the 200. Returns how long it took and the connection.
fn register(sw: &Switch, phone: &mut Phone) -> (Duration, Tcp) {
    let started = Instant::now();
    let mut tcp = Tcp::connect(sw);
    phone.register(&mut tcp, Some(300));
    (started.elapsed(), tcp)
}

#[test]
fn slowloris_does_not_delay_a_phone_and_is_reaped_after_the_header_timeout() {
    tests::raise_open_file_limit(2 * LORIS as u64 + 1024);
    let lab = lab();
    lab.add_subscriber("4001", PW, None);
    lab.add_subscriber("4002", PW, None);
    let timeout = format!("header_timeout = {}", HEADER_TIMEOUT.as_secs());
    let sw = lab.start(&Config::default().listen(&["tcp:127.0.0.1:0"]).limits(&timeout));
    let port = sw.addr().port();

    // A phone registered before the attack, then idle on its flow throughout.
    let mut idle = Phone::agent("4001", PW, 1);
    let (_, mut idle_flow) = register(&sw, &mut idle);
    let mut phone = Phone::agent("4002", PW, 2);
    let (baseline, _) = register(&sw, &mut phone);

    let connected = Arc::new(AtomicUsize::new(0));
    let attacking = {
        let (addr, connected) = (sw.addr(), connected.clone());
        std::thread::spawn(move || attack(addr, connected, HEADER_TIMEOUT + Duration::from_secs(40)))
    };
    wait_for(Duration::from_secs(30), "every slowloris connection to open", || match connected.load(Ordering::Relaxed) {
        LORIS => Ok(()),
        n => Err(format!("{n} open")),
    });
    let opened = Instant::now();
    assert!(established(port) > LORIS, "the switch holds them all: {}", established(port));

    // The phone registers again and again, each time on a new connection,
    // while the slowloris trickle and while the switch reaps them.
    let mut during = Vec::new();
    while opened.elapsed() < HEADER_TIMEOUT + Duration::from_secs(2) {
        let (took, tcp) = register(&sw, &mut phone);
        drop(tcp);
        during.push(took);
        std::thread::sleep(Duration::from_millis(100));
    }
    let lifetimes = attacking.join().unwrap();
    during.sort();
    let slowest = during.last().copied().unwrap_or_default();
    let median = during.get(during.len() / 2).copied().unwrap_or_default();
    println!("registration: {baseline:?} before the attack; {} during it, median {median:?}, slowest {slowest:?}", during.len());
    assert!(slowest <= REGISTRATION_BOUND, "a registration took {slowest:?} during the attack (before it: {baseline:?})");

    // Every slowloris closed by the switch, none before the timeout, all soon after.
    assert_eq!(lifetimes.len(), LORIS);
    let open: Vec<_> = lifetimes.iter().filter(|l| l.closed.is_none()).collect();
    assert!(open.is_empty(), "{} slowloris connections still open {:?} after they opened", open.len(), opened.elapsed());
    let lived: Vec<Duration> = lifetimes.iter().map(|l| l.closed.unwrap() - l.connecting).collect();
    let (shortest, longest) = (lived.iter().min().unwrap(), lived.iter().max().unwrap());
    println!("slowloris lifetimes: {shortest:?} to {longest:?} (header timeout {HEADER_TIMEOUT:?})");
    assert!(*shortest >= HEADER_TIMEOUT, "closed before the timeout: {shortest:?}");
    assert!(*longest <= HEADER_TIMEOUT + Duration::from_secs(3), "reaped late: {longest:?}");
    // The switch's side agrees: only the idle phone's flow is left.
    wait_for(Duration::from_secs(5), "only the idle phone's connection left", || match established(port) {
        1 => Ok(()),
        n => Err(format!("{n} established")),
    });

    // The idle registered flow outlived the timeout many times over and still works.
    assert!(!idle_flow.closed_within(Duration::from_millis(200)), "the idle registered flow was closed");
    idle_flow.ping();
    idle_flow.expect_pong(Duration::from_secs(2));
    assert_eq!(idle.register(&mut idle_flow, Some(300)).status, 200);
    assert_eq!(lab.state("4001"), "registered");
}
