//! RFC 4733 telephone-events (DTMF over RTP): the 4-byte payload, the sender's
//! packet schedule and the receiver's de-duplication. Sans-IO: the endpoint
//! asks the sender, once per 20 ms tick, whether this tick carries an event.

use std::collections::VecDeque;

/// Samples per 20 ms packet at 8 kHz.
const TICK_SAMPLES: u16 = 160;
/// How long each digit sounds: 100 ms (5 packets).
pub const TONE_SAMPLES: u16 = 800;
/// The final (E bit) packet is sent this many times (RFC 4733 §2.5.1.4).
pub const END_REPEATS: u8 = 3;
/// Ticks of plain audio between two digits (60 ms), so the receiver sees two events.
pub const GAP_TICKS: u8 = 3;
/// Digits waiting to be sent beyond this are dropped.
pub const MAX_QUEUED: usize = 64;
/// Volume sent with our events: -10 dBm0.
const VOLUME: u8 = 10;

/// One RFC 4733 §2.3 telephone-event payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-9 digits, 10 `*`, 11 `#`, 12-15 `A`-`D`.
    pub event: u8,
    /// E bit: this is (a retransmission of) the final packet of the event.
    pub end: bool,
    /// Power level as -dBm0, 0..=63.
    pub volume: u8,
    /// Duration so far, in timestamp units (samples).
    pub duration: u16,
}

impl TelephoneEvent {
    /// The 4 payload bytes (the R bit is sent as 0).
    pub fn encode(&self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3F), d0, d1]
    }

    /// Reads the first event of a payload; `None` when shorter than 4 bytes.
    pub fn decode(payload: &[u8]) -> Option<TelephoneEvent> {
        let [event, flags, d0, d1] = *payload.get(..4)? else { return None };
        Some(TelephoneEvent { event, end: flags & 0x80 != 0, volume: flags & 0x3F, duration: u16::from_be_bytes([d0, d1]) })
    }
}

/// The event code of a DTMF character (`0-9 * # A-D`, case-insensitive).
pub fn event_for_digit(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        l @ 'A'..='D' => Some(l as u8 - b'A' + 12),
        _ => None,
    }
}

/// The DTMF character of an event code, `None` for non-DTMF events.
pub fn digit_for_event(e: u8) -> Option<char> {
    match e {
        0..=9 => Some(char::from(b'0' + e)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + e - 12)),
        _ => None,
    }
}

/// A telephone-event packet to send in this tick, instead of audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPacket {
    /// The payload.
    pub event: TelephoneEvent,
    /// RTP timestamp: the tick the event started in, the same for all its packets.
    pub timestamp: u32,
    /// RTP marker: set on the first packet of the event only.
    pub marker: bool,
}

#[derive(Debug)]
enum State {
    Idle { gap: u8 },
    Tone { event: u8, start: u32, duration: u16 },
    Ending { event: u8, start: u32, left: u8 },
}

/// The sender's schedule for queued digits: per digit, packets every tick with
/// growing duration (the first with the marker bit), then [`END_REPEATS`] end
/// packets, all with the timestamp of the first tick; then [`GAP_TICKS`] ticks
/// of audio before the next digit.
#[derive(Debug)]
pub struct DtmfSender {
    queue: VecDeque<u8>,
    state: State,
}

impl Default for DtmfSender {
    fn default() -> Self {
        DtmfSender { queue: VecDeque::new(), state: State::Idle { gap: 0 } }
    }
}

impl DtmfSender {
    /// Queues the DTMF characters of `digits`; others are ignored, and so is
    /// anything beyond [`MAX_QUEUED`] waiting digits.
    pub fn queue(&mut self, digits: &str) {
        for e in digits.chars().filter_map(event_for_digit) {
            if self.queue.len() < MAX_QUEUED {
                self.queue.push_back(e);
            }
        }
    }

    /// Whether an event is being sent or waiting.
    pub fn busy(&self) -> bool {
        !self.queue.is_empty() || !matches!(self.state, State::Idle { .. })
    }

    /// Called once per 20 ms tick with that tick's RTP timestamp; `Some` means
    /// send this event packet instead of the tick's audio.
    pub fn on_tick(&mut self, timestamp: u32) -> Option<EventPacket> {
        let pkt = |event, start, duration, end, marker| EventPacket {
            event: TelephoneEvent { event, end, volume: VOLUME, duration },
            timestamp: start,
            marker,
        };
        match self.state {
            State::Idle { gap } if gap > 0 => {
                self.state = State::Idle { gap: gap - 1 };
                None
            }
            State::Idle { .. } => {
                let event = self.queue.pop_front()?;
                self.state = State::Tone { event, start: timestamp, duration: TICK_SAMPLES };
                Some(pkt(event, timestamp, TICK_SAMPLES, false, true))
            }
            State::Tone { event, start, duration } => {
                let duration = duration.saturating_add(TICK_SAMPLES).min(TONE_SAMPLES);
                if duration >= TONE_SAMPLES {
                    self.state = State::Ending { event, start, left: END_REPEATS - 1 };
                    Some(pkt(event, start, duration, true, false))
                } else {
                    self.state = State::Tone { event, start, duration };
                    Some(pkt(event, start, duration, false, false))
                }
            }
            State::Ending { event, start, left } => {
                self.state = if left > 1 { State::Ending { event, start, left: left - 1 } } else { State::Idle { gap: GAP_TICKS } };
                Some(pkt(event, start, TONE_SAMPLES, true, false))
            }
        }
    }
}

/// Turns received telephone-event packets into digits, once per event: an event
/// is known by its (SSRC, timestamp), so updates and retransmitted end packets
/// of the same event are not reported again.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    last: Option<(u32, u32)>,
}

impl DtmfReceiver {
    /// Feeds one packet's SSRC, timestamp and payload; returns the digit the
    /// first time an event is seen (start or end packet, whichever arrives first).
    pub fn on_packet(&mut self, ssrc: u32, timestamp: u32, payload: &[u8]) -> Option<char> {
        let ev = TelephoneEvent::decode(payload)?;
        let digit = digit_for_event(ev.event)?;
        if self.last == Some((ssrc, timestamp)) {
            return None;
        }
        self.last = Some((ssrc, timestamp));
        Some(digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_matches_rfc_layout() {
        let ev = TelephoneEvent { event: 11, end: true, volume: 10, duration: 800 };
        assert_eq!(ev.encode(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::decode(&ev.encode()), Some(ev));
        // R bit and extra bytes are ignored; short payloads are refused.
        assert_eq!(
            TelephoneEvent::decode(&[5, 0x40 | 7, 0, 160, 9, 9]),
            Some(TelephoneEvent { event: 5, end: false, volume: 7, duration: 160 })
        );
        assert_eq!(TelephoneEvent::decode(&[1, 2, 3]), None);
    }

    #[test]
    fn digits_map_both_ways() {
        for (i, c) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(event_for_digit(c), Some(i as u8));
            assert_eq!(digit_for_event(i as u8), Some(c));
        }
        assert_eq!(event_for_digit('b'), Some(13));
        assert_eq!(event_for_digit('x'), None);
        assert_eq!(digit_for_event(16), None);
    }

    #[test]
    fn sender_schedule_for_two_digits() {
        let mut s = DtmfSender::default();
        s.queue("1x#");
        let mut out = Vec::new();
        for tick in 0..30u32 {
            out.push(s.on_tick(1000 + tick * 160));
        }
        let first: Vec<_> =
            out.iter().take(8).map(|p| p.map(|p| (p.event.event, p.timestamp, p.marker, p.event.end, p.event.duration))).collect();
        assert_eq!(
            first,
            vec![
                Some((1, 1000, true, false, 160)),
                Some((1, 1000, false, false, 320)),
                Some((1, 1000, false, false, 480)),
                Some((1, 1000, false, false, 640)),
                Some((1, 1000, false, true, 800)),
                Some((1, 1000, false, true, 800)),
                Some((1, 1000, false, true, 800)),
                None,
            ]
        );
        // Gap of 3 ticks of audio, then '#' starts at tick 10 with its own timestamp.
        assert!(out.get(7..10).is_some_and(|g| g.iter().all(Option::is_none)));
        let hash = out.get(10).copied().flatten();
        assert_eq!(hash.map(|p| (p.event.event, p.timestamp, p.marker)), Some((11, 1000 + 10 * 160, true)));
        assert_eq!(out.iter().flatten().filter(|p| p.event.end).count(), 6);
        assert!(!s.busy());
        assert!(out.get(20..).is_some_and(|g| g.iter().all(Option::is_none)));
    }

    #[test]
    fn queue_is_bounded() {
        let mut s = DtmfSender::default();
        s.queue(&"1".repeat(1000));
        let mut n = 0;
        for tick in 0..20_000u32 {
            if s.on_tick(tick * 160).is_some_and(|p| p.marker) {
                n += 1;
            }
        }
        assert_eq!(n, MAX_QUEUED);
    }

    #[test]
    fn receiver_reports_each_event_once() {
        let mut s = DtmfSender::default();
        s.queue("123#");
        let mut r = DtmfReceiver::default();
        let mut got = String::new();
        for tick in 0..60u32 {
            if let Some(p) = s.on_tick(tick * 160) {
                // Deliver every packet twice (duplicates on the wire).
                for _ in 0..2 {
                    got.extend(r.on_packet(7, p.timestamp, &p.event.encode()));
                }
            }
        }
        assert_eq!(got, "123#");
        // The same digit again is a new event (new timestamp); a new SSRC too.
        let p = TelephoneEvent { event: 3, end: true, volume: 10, duration: 800 }.encode();
        assert_eq!(r.on_packet(7, 99_999, &p), Some('3'));
        assert_eq!(r.on_packet(7, 99_999, &p), None);
        assert_eq!(r.on_packet(8, 99_999, &p), Some('3'));
        assert_eq!(r.on_packet(8, 1, &[16, 0, 0, 0]), None);
    }
}
