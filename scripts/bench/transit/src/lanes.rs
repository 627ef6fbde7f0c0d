//! The media sockets: per lane and stream a caller and a callee socket, and where
//! each sends (set from the `TARGET` lines).

use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

use socket2::{Domain, Socket, Type};

use crate::args::Args;
use crate::packet::{self, Origin};
use crate::sender::nanos;

/// Room for bursts while the receiver thread waits for a core (the machine is shared).
const RECEIVE_BUFFER: usize = 1 << 20;

pub(crate) struct Stream {
    pub(crate) caller: UdpSocket,
    pub(crate) callee: UdpSocket,
    pub(crate) caller_dest: Option<SocketAddr>,
    pub(crate) callee_dest: Option<SocketAddr>,
}

impl Stream {
    /// Sends packet `seq` of this stream both ways (lane `lane`, stream `index`), stamped
    /// as it goes; the instants at which the sent ones left (None: not sent).
    pub(crate) fn send_both(&self, lane: usize, index: usize, seq: u32, t0: Instant, buf: &mut [u8; packet::SIZE]) -> [Option<Instant>; 2] {
        let ways = [(0u8, &self.caller, self.caller_dest), (1u8, &self.callee, self.callee_dest)];
        ways.map(|(direction, socket, dest)| {
            let dest = dest?;
            let now = Instant::now();
            packet::write(buf, Origin { lane: lane as u8, stream: index as u16, direction }, seq, nanos(t0, now));
            // A full send buffer: not sent, not counted.
            socket.send_to(buf, dest).ok().map(|_| now)
        })
    }
}

pub(crate) struct Lanes {
    names: Vec<String>,
    pub(crate) streams: usize,
    /// Lane by lane, `streams` each.
    pub(crate) all: Vec<Stream>,
}

fn bind(ip: std::net::IpAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(SocketAddr::new(ip, 0)), Type::DGRAM, None)?;
    socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

impl Lanes {
    pub(crate) fn bind(args: &Args) -> std::io::Result<Lanes> {
        let mut all = Vec::new();
        for _ in &args.lanes {
            for _ in 0..args.streams {
                all.push(Stream { caller: bind(args.caller_ip)?, callee: bind(args.callee_ip)?, caller_dest: None, callee_dest: None });
            }
        }
        Ok(Lanes { names: args.lanes.clone(), streams: args.streams, all })
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// The `SOCKET` lines.
    pub(crate) fn describe(&self) -> Vec<String> {
        let port = |s: &UdpSocket| s.local_addr().map(|a| a.port()).unwrap_or_default();
        self.all
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let lane = self.names.get(i / self.streams).map_or("?", String::as_str);
                format!("SOCKET {lane} {} {} {}", i % self.streams, port(&s.caller), port(&s.callee))
            })
            .collect()
    }

    /// Reads one `TARGET LANE STREAM CALLER_DEST CALLEE_DEST` line.
    pub(crate) fn target(&mut self, line: &str) -> Result<(), String> {
        let bad = || format!("bad line {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let ["TARGET", lane, stream, caller, callee] = words.as_slice() else { return Err(bad()) };
        let lane = self.names.iter().position(|n| n == lane).ok_or_else(bad)?;
        let stream: usize = stream.parse().map_err(|_| bad())?;
        if stream >= self.streams {
            return Err(bad());
        }
        let s = self.all.get_mut(lane * self.streams + stream).ok_or_else(bad)?;
        s.caller_dest = Some(caller.parse().map_err(|_| bad())?);
        s.callee_dest = Some(callee.parse().map_err(|_| bad())?);
        Ok(())
    }

    pub(crate) fn check_targets(&self) -> Result<(), String> {
        match self.all.iter().position(|s| s.caller_dest.is_none() || s.callee_dest.is_none()) {
            Some(i) => Err(format!("no TARGET for lane {} stream {}", i / self.streams, i % self.streams)),
            None => Ok(()),
        }
    }

    /// Which origin a packet read on socket `index` (as numbered by [`Lanes::sockets`]) must have.
    pub(crate) fn expected(&self, index: usize) -> Origin {
        let stream = index / 2;
        // The callee socket receives the caller's packets (direction 0), and back.
        let direction = if index % 2 == 1 { 0 } else { 1 };
        Origin { lane: (stream / self.streams) as u8, stream: (stream % self.streams) as u16, direction }
    }

    /// Every socket: caller then callee, stream by stream.
    pub(crate) fn sockets(&self) -> impl Iterator<Item = &UdpSocket> {
        self.all.iter().flat_map(|s| [&s.caller, &s.callee])
    }
}
