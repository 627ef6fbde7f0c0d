//! The receiver thread: blocked in epoll over every socket, it stamps each packet
//! as it reads it and keeps its transit in a buffer sized before the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::os::fd::AsRawFd;

use crate::lanes::Lanes;
use crate::packet;
use crate::sender::nanos;

const WAKE: Token = Token(usize::MAX);

/// Per lane: transit of each counted packet (ns), and packets that came to the wrong socket.
pub(crate) struct Received {
    pub(crate) transit_ns: Vec<Vec<u64>>,
    pub(crate) wrong: u64,
}

pub(crate) struct Receiver {
    stop: Arc<AtomicBool>,
    waker: Waker,
    thread: JoinHandle<Received>,
}

impl Receiver {
    pub(crate) fn start(lanes: Arc<Lanes>, t0: Instant, counted_from: Instant, expected: usize) -> std::io::Result<Receiver> {
        let poll = Poll::new()?;
        for (i, socket) in lanes.sockets().enumerate() {
            poll.registry().register(&mut SourceFd(&socket.as_raw_fd()), Token(i), Interest::READABLE)?;
        }
        let waker = Waker::new(poll.registry(), WAKE)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("transit-rx".into())
            .spawn(move || receive(poll, &lanes, &flag, t0, nanos(t0, counted_from), expected))?;
        Ok(Receiver { stop, waker, thread })
    }

    pub(crate) fn stop(self) -> Received {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        self.thread.join().unwrap_or(Received { transit_ns: Vec::new(), wrong: 0 })
    }
}

fn receive(mut poll: Poll, lanes: &Lanes, stop: &AtomicBool, t0: Instant, counted_from_ns: u64, expected: usize) -> Received {
    let lane_count = lanes.all.len() / lanes.streams.max(1);
    let mut got = Received { transit_ns: (0..lane_count).map(|_| Vec::with_capacity(expected)).collect(), wrong: 0 };
    let sockets: Vec<_> = lanes.sockets().collect();
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Acquire) {
        if poll.poll(&mut events, None).is_err() {
            continue;
        }
        for event in &events {
            let Some(socket) = sockets.get(event.token().0) else { continue };
            let expected_origin = lanes.expected(event.token().0);
            // Edge-triggered: read until empty.
            while let Ok((n, _)) = socket.recv_from(&mut buf) {
                let now = nanos(t0, Instant::now());
                match buf.get(..n).and_then(packet::read) {
                    Some((origin, sent)) if origin == expected_origin => {
                        if sent >= counted_from_ns
                            && let Some(lane) = got.transit_ns.get_mut(usize::from(origin.lane))
                        {
                            lane.push(now.saturating_sub(sent));
                        }
                    }
                    _ => got.wrong += 1,
                }
            }
        }
    }
    got
}
