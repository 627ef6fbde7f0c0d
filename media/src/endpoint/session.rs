//! The sans-IO heart of the agent's RTP endpoint: what to send in each 20 ms
//! slot (audio from the source, or an RFC 4733 event), and what to do with each
//! packet that arrives (symmetric-RTP source check, decode, record, echo, DTMF).
//! With SRTP keys in the plan, packets are protected on the way out and must
//! authenticate on the way in (before anything else reads them); the state
//! survives a retarget with the same keys (hold and resume keep the rollover
//! counters and replay windows). No sockets, no clock: the driver passes
//! `now` and moves the bytes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rtp::header::Header;
use rtp::packet::Packet;
use webrtc_util::marshal::Marshal;

use super::app_audio::Reframer;
use super::pacer::{FRAME_SAMPLES, Pacer};
use super::rtp_in;
use super::{EndpointEvent, EndpointReport, Plan, Source};
use crate::dtmf::{DtmfReceiver, DtmfSender};
use crate::srtp::SrtpSession;
use crate::{BearerTransport, Direction, tone};

/// Peak amplitude of generated tones (about -12 dBFS: loud, never clipping).
pub const TONE_AMPLITUDE: i16 = 8000;
/// Recording stops growing after 10 minutes of audio.
pub const MAX_RECORDED: usize = 10 * 60 * 8000;
/// Echo mode holds at most 1 s of received audio waiting to be sent back.
pub const MAX_ECHO: usize = 8000;
/// DTMF digits kept for the report.
pub const MAX_DTMF_REPORT: usize = 1024;
const FRAME: usize = FRAME_SAMPLES as usize;

/// One RTP stream's state on the agent (see the module doc).
pub struct Session {
    ssrc: u32,
    seq: u16,
    pacer: Pacer,
    plan: Option<Plan>,
    /// Position in the source, in samples, across every frame sent so far.
    source_pos: u64,
    /// Set the marker bit on the next audio packet (start of a talkspurt).
    marker: bool,
    dtmf_tx: DtmfSender,
    dtmf_rx: DtmfReceiver,
    echo: VecDeque<i16>,
    /// Received audio on its way to [`Source::App`] in whole frames.
    playout: Reframer,
    /// The SRTP state when the plan has keys (None otherwise, or if it could not be made:
    /// then nothing is sent, never plain RTP in its place).
    srtp: Option<SrtpSession>,
    report: EndpointReport,
}

impl Session {
    /// A session that sends with this SSRC, first sequence number and first
    /// timestamp (random in real use, RFC 3550 §5.1) once a plan is given.
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> Session {
        Session {
            ssrc,
            seq,
            pacer: Pacer::new(timestamp),
            plan: None,
            source_pos: 0,
            marker: true,
            dtmf_tx: DtmfSender::default(),
            dtmf_rx: DtmfReceiver::default(),
            echo: VecDeque::new(),
            playout: Reframer::default(),
            srtp: None,
            report: EndpointReport::default(),
        }
    }

    /// Applies a (new) plan: the peer, codec and source to use from `now`.
    /// When the peer's direction lets us send, the first packet is due at once.
    pub fn retarget(&mut self, plan: Plan, now: Instant) {
        let may_send = matches!(plan.direction, Direction::SendRecv | Direction::RecvOnly);
        if plan.dtmf_pt.is_none() {
            // Nowhere to send queued digits; do not let them pile up.
            self.dtmf_tx = DtmfSender::default();
        }
        match &plan.srtp {
            Some(keys) if self.srtp.as_ref().is_some_and(|s| s.keys() == keys) => {}
            Some(keys) => self.srtp = SrtpSession::new(keys).ok(),
            None => self.srtp = None,
        }
        self.plan = Some(plan);
        if may_send {
            self.marker = true;
            self.pacer.start(now);
        } else {
            self.pacer.pause();
        }
    }

    /// The current plan, if started.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// Queues DTMF digits to send as RFC 4733 events (ignored when the peer
    /// did not negotiate telephone-event).
    pub fn queue_dtmf(&mut self, digits: &str) {
        if self.plan.as_ref().is_some_and(|p| p.dtmf_pt.is_some()) {
            self.dtmf_tx.queue(digits);
        }
    }

    /// When the next packet is due (None while not sending).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pacer.poll_timeout()
    }

    /// The next RTP packet due at `now`, marshalled; call until `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Bytes> {
        let slot_ts = self.pacer.poll_slot(now)?;
        let (codec, dtmf_pt, secure) = self.plan.as_ref().map(|p| (p.codec, p.dtmf_pt, p.srtp.is_some()))?;
        let event = dtmf_pt.and_then(|pt| self.dtmf_tx.on_tick(slot_ts).map(|e| (pt, e)));
        let (pt, ts, marker, payload) = match event {
            Some((pt, e)) => (pt, e.timestamp, e.marker, Bytes::copy_from_slice(&e.event.encode())),
            None => {
                let mut frame = [0i16; FRAME];
                self.fill(&mut frame);
                let payload: Bytes = frame.iter().map(|&s| codec.encode(s)).collect::<Vec<u8>>().into();
                (codec.payload_type(), slot_ts, std::mem::take(&mut self.marker), payload)
            }
        };
        let packet = Packet {
            header: Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: self.seq,
                timestamp: ts,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        };
        self.seq = self.seq.wrapping_add(1);
        let mut bytes = packet.marshal().ok()?;
        if secure {
            bytes = self.srtp.as_mut()?.protect_rtp(&bytes)?;
        }
        self.report.sent_packets += 1;
        Some(bytes)
    }

    /// Fills one frame from the source and moves the source position on.
    fn fill(&mut self, frame: &mut [i16; FRAME]) {
        let pos = self.source_pos;
        self.source_pos += FRAME as u64;
        let Some(plan) = self.plan.as_ref() else { return };
        match &plan.source {
            Source::Silence => {}
            Source::Tone(f) => tone::sine(*f, TONE_AMPLITUDE, pos, frame),
            Source::Samples(s) => {
                // Played once; after the end, silence (the stream keeps going).
                let from = usize::try_from(pos).unwrap_or(usize::MAX);
                let rest = s.get(from..).unwrap_or_default();
                for (d, &x) in frame.iter_mut().zip(rest) {
                    *d = x;
                }
            }
            Source::Loop(s) => {
                if !s.is_empty() {
                    let n = s.len() as u64;
                    for (i, d) in frame.iter_mut().enumerate() {
                        let at = ((pos + i as u64) % n) as usize;
                        *d = s.get(at).copied().unwrap_or(0);
                    }
                }
            }
            Source::Echo => {
                for d in frame.iter_mut() {
                    match self.echo.pop_front() {
                        Some(x) => *d = x,
                        None => break,
                    }
                }
            }
            Source::App(app) => app.capture(frame),
        }
    }

    /// Handles one packet from the network. `from` is the UDP source, `None`
    /// for a frame from our TCP bearer connection. Packets from another IP than
    /// the plan's remote (symmetric RTP), on the other transport, before a plan,
    /// unparseable, or of a payload type not negotiated are dropped (counted).
    pub fn handle_packet(&mut self, from: Option<SocketAddr>, data: &[u8]) -> Option<EndpointEvent> {
        let Some(plan) = self.plan.as_ref() else {
            self.report.dropped_packets += 1;
            return None;
        };
        let acceptable = match (plan.transport, from) {
            (BearerTransport::Udp, Some(from)) => from.ip() == plan.remote.ip(),
            (BearerTransport::Tcp, None) => true,
            _ => false,
        };
        let decrypted;
        let data = match (&plan.srtp, self.srtp.as_mut()) {
            (None, _) => data,
            (Some(_), Some(srtp)) if acceptable => match srtp.unprotect_rtp(data) {
                Some(plain) => {
                    decrypted = plain;
                    &decrypted[..]
                }
                None => {
                    self.report.dropped_packets += 1;
                    return None;
                }
            },
            (Some(_), _) => {
                self.report.dropped_packets += 1;
                return None;
            }
        };
        let Some(packet) = rtp_in::parse(data).filter(|_| acceptable) else {
            self.report.dropped_packets += 1;
            return None;
        };
        if packet.payload_type == plan.codec.payload_type() {
            self.report.received_packets += 1;
            let codec = plan.codec;
            let record = plan.record;
            let echo = matches!(plan.source, Source::Echo);
            let app = match &plan.source {
                Source::App(app) => Some(app.as_ref()),
                _ => None,
            };
            for &b in packet.payload {
                let s = codec.decode(b);
                if record && self.report.recorded.len() < MAX_RECORDED {
                    self.report.recorded.push(s);
                }
                if echo {
                    if self.echo.len() >= MAX_ECHO {
                        self.echo.pop_front();
                    }
                    self.echo.push_back(s);
                }
                if let Some(app) = app {
                    self.playout.push(s, app);
                }
            }
            None
        } else if Some(packet.payload_type) == plan.dtmf_pt {
            self.report.received_packets += 1;
            let digit = self.dtmf_rx.on_packet(packet.ssrc, packet.timestamp, packet.payload)?;
            if self.report.dtmf_received.len() < MAX_DTMF_REPORT {
                self.report.dtmf_received.push(digit);
            }
            Some(EndpointEvent::Dtmf(digit))
        } else {
            // RTCP muxed on this port, comfort noise, codecs we did not agree on.
            self.report.dropped_packets += 1;
            None
        }
    }

    /// What happened so far.
    pub fn into_report(self) -> EndpointReport {
        self.report
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
