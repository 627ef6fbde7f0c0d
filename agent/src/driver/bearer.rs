//! The calls' media, driver side: one [`media::endpoint::Endpoint`] per call,
//! bound on the agent's bearer port (ephemeral when none is set) and the
//! flow's local (private) IP, which is what the SDP names. On answer (either
//! side) it starts at once toward the address in the switch's SDP, the relay:
//! its first packet opens the NAT leg outbound. A re-INVITE retargets it.

use crate::call::CallId;
use bytes::Bytes;
use media::endpoint::{Endpoint, EndpointError, EndpointEvent, EndpointReport, Plan, Source};
use media::offer::{Codec, LocalMedia, Negotiated};
use media::{BearerTransport, Direction};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What a call sends and whether it records what it receives.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// The audio sent (silence still opens and keeps the NAT leg).
    pub source: Source,
    /// Keep the decoded audio received, returned in [`MediaReport::recorded`].
    pub record: bool,
}

impl Default for MediaOptions {
    fn default() -> Self {
        Self { source: Source::Silence, record: false }
    }
}

/// What one call's media did, once it stopped. Its `Debug` gives the
/// recording's length, not its samples (logs stay readable).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct MediaReport {
    /// RTP packets sent.
    pub sent_packets: u64,
    /// RTP packets received from the peer.
    pub received_packets: u64,
    /// Packets ignored (foreign source, unparseable, other payload types).
    pub dropped_packets: u64,
    /// The decoded audio received (8 kHz), when recording.
    pub recorded: Arc<[i16]>,
    /// DTMF digits received (RFC 4733).
    pub dtmf_received: String,
}

impl std::fmt::Debug for MediaReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaReport")
            .field("sent_packets", &self.sent_packets)
            .field("received_packets", &self.received_packets)
            .field("dropped_packets", &self.dropped_packets)
            .field("recorded_samples", &self.recorded.len())
            .field("dtmf_received", &self.dtmf_received)
            .finish()
    }
}

impl MediaReport {
    /// This report followed by `later`'s (a call whose media moved to a new endpoint).
    fn then(self, later: MediaReport) -> MediaReport {
        let mut recorded = self.recorded.to_vec();
        recorded.extend_from_slice(&later.recorded);
        MediaReport {
            sent_packets: self.sent_packets.saturating_add(later.sent_packets),
            received_packets: self.received_packets.saturating_add(later.received_packets),
            dropped_packets: self.dropped_packets.saturating_add(later.dropped_packets),
            recorded: recorded.into(),
            dtmf_received: self.dtmf_received + &later.dtmf_received,
        }
    }
}

impl From<EndpointReport> for MediaReport {
    fn from(r: EndpointReport) -> Self {
        Self {
            sent_packets: r.sent_packets,
            received_packets: r.received_packets,
            dropped_packets: r.dropped_packets,
            recorded: r.recorded.into(),
            dtmf_received: r.dtmf_received,
        }
    }
}

/// News of a call's media (from the tokio driver; the sans-IO core has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// RTP flows (or was retargeted by a re-INVITE): from `local` to `remote`.
    Started {
        /// The call.
        id: CallId,
        /// The bearer address bound (private IP, bearer port).
        local: SocketAddr,
        /// Where RTP goes: the relay's address from the switch's SDP.
        remote: SocketAddr,
        /// The codec negotiated.
        codec: Codec,
        /// UDP, or RFC 4571 TCP.
        transport: BearerTransport,
        /// The peer's direction (`SendOnly`/`Inactive`: it holds us).
        direction: Direction,
    },
    /// An RFC 4733 DTMF digit arrived (once per key press).
    Dtmf {
        /// The call.
        id: CallId,
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
    },
    /// The media could not start; the call is hung up.
    Failed {
        /// The call.
        id: CallId,
        /// Why.
        reason: String,
    },
    /// The call ended; this is what its media did. Comes just before the
    /// call's `Ended` event.
    Stopped {
        /// The call.
        id: CallId,
        /// The counts and recording.
        report: MediaReport,
    },
}

/// One call's endpoint and what was agreed for it.
struct Bearer {
    endpoint: Endpoint,
    local: LocalMedia,
    options: MediaOptions,
    /// Known at once when we answered; from the 2xx when we called.
    negotiated: Option<Negotiated>,
    /// Our re-INVITE (hold/resume, a move) is out, offering this direction:
    /// its answer retargets the stream.
    reoffering: Option<Direction>,
    /// The direction we last offered and had accepted (`SendOnly` while we hold).
    direction: Direction,
    /// What the endpoints this call had before a move (see `rebind`) did.
    earlier: Option<MediaReport>,
}

/// Every call's media.
pub(crate) struct Bearers {
    port: u16,
    transport: BearerTransport,
    pub(crate) defaults: MediaOptions,
    by_call: HashMap<CallId, Bearer>,
    /// Offers of incoming calls not yet answered.
    offers: HashMap<CallId, Bytes>,
}

impl Bearers {
    pub(crate) fn new(port: Option<u16>, transport: BearerTransport, defaults: MediaOptions) -> Self {
        Self { port: port.unwrap_or(0), transport, defaults, by_call: HashMap::new(), offers: HashMap::new() }
    }

    /// Binds the bearer port; when it is taken (a second call at once), an
    /// ephemeral one: the SDP names whichever it is, and the first packet
    /// opens the NAT leg from it all the same.
    async fn open(&self, ip: IpAddr) -> Result<(Endpoint, LocalMedia), EndpointError> {
        let endpoint = match Endpoint::bind(SocketAddr::new(ip, self.port)).await {
            Err(EndpointError::Io(e)) if self.port != 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
                tracing::warn!(port = self.port, "bearer port in use (another call?): using an ephemeral one");
                Endpoint::bind(SocketAddr::new(ip, 0)).await?
            }
            bound => bound?,
        };
        let local = LocalMedia {
            address: ip,
            port: endpoint.local_addr().port(),
            transport: self.transport,
            session_id: rand::random::<u32>().into(),
            version: 1,
        };
        Ok((endpoint, local))
    }

    /// Binds a bearer for a new outgoing call and builds its SDP offer. The
    /// returned closure-free pair is kept by [`Bearers::adopt`] once the call has an id.
    pub(crate) async fn offer(&self, ip: IpAddr) -> Result<(PendingBearer, Bytes), EndpointError> {
        let (endpoint, local) = self.open(ip).await?;
        let offer = media::offer::build_offer(&local);
        Ok((PendingBearer { endpoint, local }, Bytes::from(offer)))
    }

    /// Keeps the bearer of a call just placed.
    pub(crate) fn adopt(&mut self, id: CallId, pending: PendingBearer, options: MediaOptions) {
        self.by_call.insert(
            id,
            Bearer {
                endpoint: pending.endpoint,
                local: pending.local,
                options,
                negotiated: None,
                reoffering: None,
                direction: Direction::SendRecv,
                earlier: None,
            },
        );
    }

    /// An incoming call's offer, kept until it is answered or ends.
    pub(crate) fn remember_offer(&mut self, id: CallId, offer: Bytes) {
        self.offers.insert(id, offer);
    }

    /// Binds a bearer for an incoming call and answers its offer: the SDP
    /// answer (our offer, after a late-offer INVITE), or the error (its
    /// `status()` is what to reject with).
    pub(crate) async fn answer(&mut self, id: CallId, ip: IpAddr, options: MediaOptions) -> Result<Bytes, EndpointError> {
        let offer = self.offers.get(&id).cloned().ok_or_else(|| EndpointError::Sdp(format!("no offer for call {id}")))?;
        if offer.is_empty() {
            // A late offer: ours goes in the 200, the answer comes in the ACK.
            let (endpoint, local) = self.open(ip).await?;
            let sdp = media::offer::build_offer(&local);
            self.offers.remove(&id);
            self.by_call.insert(
                id,
                Bearer { endpoint, local, options, negotiated: None, reoffering: None, direction: Direction::SendRecv, earlier: None },
            );
            return Ok(Bytes::from(sdp));
        }
        let text = std::str::from_utf8(&offer).map_err(|_| EndpointError::Sdp("offer is not UTF-8".into()))?;
        let (endpoint, local) = self.open(ip).await?;
        match media::offer::answer(text, &local) {
            Ok((sdp, negotiated)) => {
                self.offers.remove(&id);
                self.by_call.insert(
                    id,
                    Bearer {
                        endpoint,
                        local,
                        options,
                        negotiated: Some(negotiated),
                        reoffering: None,
                        direction: Direction::SendRecv,
                        earlier: None,
                    },
                );
                Ok(Bytes::from(sdp))
            }
            Err(e) => {
                endpoint.stop().await;
                Err(e)
            }
        }
    }

    /// The call is answered: start RTP toward the peer at once.
    pub(crate) async fn start(&mut self, id: CallId, remote_sdp: &[u8]) -> Result<MediaEvent, String> {
        let bearer = self.by_call.get_mut(&id).ok_or_else(|| "no bearer for this call".to_owned())?;
        let negotiated = match bearer.negotiated.clone() {
            Some(n) => n,
            None => {
                let text = std::str::from_utf8(remote_sdp).map_err(|_| "the SDP answer is not UTF-8".to_owned())?;
                let n = media::offer::negotiated(text).map_err(|e| e.to_string())?;
                bearer.negotiated = Some(n.clone());
                n
            }
        };
        Self::run(bearer, id, &negotiated).await
    }

    async fn run(bearer: &mut Bearer, id: CallId, n: &Negotiated) -> Result<MediaEvent, String> {
        let plan = Plan::from_negotiated(n, bearer.options.source.clone(), bearer.options.record);
        bearer.endpoint.start(plan).await.map_err(|e| e.to_string())?;
        Ok(MediaEvent::Started {
            id,
            local: bearer.endpoint.local_addr(),
            remote: n.remote,
            codec: n.codec,
            transport: n.transport,
            direction: n.direction,
        })
    }

    /// A re-INVITE's offer: the SDP answer (a new o= version) and the retargeted stream;
    /// `Err(status)` refuses it and leaves the stream as it was.
    pub(crate) fn reanswer(&mut self, id: CallId, offer: &[u8]) -> Result<(Bytes, Negotiated), u16> {
        let bearer = self.by_call.get_mut(&id).ok_or(481u16)?;
        let text = std::str::from_utf8(offer).map_err(|_| 488u16)?;
        let local = LocalMedia { version: bearer.local.version.saturating_add(1), ..bearer.local.clone() };
        let (sdp, n) = media::offer::answer(text, &local).map_err(|e| sipcore::ToStatus::status(&e).as_u16())?;
        bearer.local = local;
        Ok((Bytes::from(sdp), n))
    }

    /// Our re-INVITE's offer (a new o= version) with `direction`: `SendOnly`
    /// holds the peer, `SendRecv` resumes.
    pub(crate) fn reoffer(&mut self, id: CallId, direction: Direction) -> Option<Bytes> {
        let bearer = self.by_call.get_mut(&id)?;
        bearer.local.version = bearer.local.version.saturating_add(1);
        bearer.reoffering = Some(direction);
        Some(Bytes::from(media::offer::build_offer_with_direction(&bearer.local, direction)))
    }

    /// The phone's local address changed under an answered call: a new
    /// endpoint on `ip` replaces the old one (whose counts and recording are
    /// kept for the final report) and the offer for the re-INVITE names it.
    /// The answer starts it, as for hold/resume (`reoffer_answered`).
    pub(crate) async fn rebind(&mut self, id: CallId, ip: IpAddr) -> Result<Bytes, EndpointError> {
        if !self.by_call.contains_key(&id) {
            return Err(EndpointError::Sdp(format!("no bearer for call {id}")));
        }
        let (endpoint, fresh) = self.open(ip).await?;
        let Some(bearer) = self.by_call.get_mut(&id) else { return Err(EndpointError::Sdp(format!("no bearer for call {id}"))) };
        let local = LocalMedia {
            address: fresh.address,
            port: fresh.port,
            version: bearer.local.version.saturating_add(1),
            ..bearer.local.clone()
        };
        let old = std::mem::replace(&mut bearer.endpoint, endpoint);
        let report = MediaReport::from(old.stop().await);
        bearer.earlier = Some(bearer.earlier.take().map_or(report.clone(), |e| e.then(report)));
        bearer.local = local;
        // A call on hold stays on hold.
        bearer.reoffering = Some(bearer.direction);
        Ok(Bytes::from(media::offer::build_offer_with_direction(&bearer.local, bearer.direction)))
    }

    /// The answer to our re-INVITE came (`Some`: 2xx with this SDP) or it failed (`None`).
    /// Returns what the stream now does, when it was ours to retarget.
    pub(crate) async fn reoffer_answered(&mut self, id: CallId, answer: Option<&[u8]>) -> Option<Result<MediaEvent, String>> {
        let bearer = self.by_call.get_mut(&id)?;
        let offered = bearer.reoffering.take()?;
        let answer = answer?;
        bearer.direction = offered;
        let text = std::str::from_utf8(answer).map_err(|_| "the SDP answer is not UTF-8".to_owned());
        let negotiated = match text.and_then(|t| media::offer::negotiated(t).map_err(|e| e.to_string())) {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        Some(self.retarget(id, negotiated).await)
    }

    /// Retargets after a re-INVITE was accepted.
    pub(crate) async fn retarget(&mut self, id: CallId, n: Negotiated) -> Result<MediaEvent, String> {
        let bearer = self.by_call.get_mut(&id).ok_or_else(|| "no bearer for this call".to_owned())?;
        bearer.negotiated = Some(n.clone());
        Self::run(bearer, id, &n).await
    }

    /// The next thing any call's endpoint noticed (a DTMF digit); pending
    /// while there is none.
    pub(crate) async fn next_event(&mut self) -> MediaEvent {
        std::future::poll_fn(|cx| {
            for (id, bearer) in &mut self.by_call {
                if let std::task::Poll::Ready(Some(EndpointEvent::Dtmf(digit))) = bearer.endpoint.events().poll_recv(cx) {
                    return std::task::Poll::Ready(MediaEvent::Dtmf { id: *id, digit });
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Sends DTMF on a call's stream (RFC 4733); false when the call has none.
    pub(crate) fn send_dtmf(&self, id: CallId, digits: &str) -> bool {
        self.by_call.get(&id).map(|l| l.endpoint.send_dtmf(digits)).is_some()
    }

    /// The call ended: stop its stream and report (None when it never had one).
    pub(crate) async fn stop(&mut self, id: CallId) -> Option<MediaReport> {
        self.offers.remove(&id);
        let bearer = self.by_call.remove(&id)?;
        let last = MediaReport::from(bearer.endpoint.stop().await);
        Some(match bearer.earlier {
            Some(earlier) => earlier.then(last),
            None => last,
        })
    }
}

/// A bound bearer waiting for its call id.
pub(crate) struct PendingBearer {
    endpoint: Endpoint,
    local: LocalMedia,
}

impl PendingBearer {
    pub(crate) async fn close(self) {
        self.endpoint.stop().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The switch's side of an SDP exchange: answers `offer` from the relay at 127.0.0.1:`port`.
    fn relay_answer(offer: &[u8], port: u16) -> Bytes {
        let relay = LocalMedia { address: "127.0.0.1".parse().unwrap(), port, transport: BearerTransport::Udp, session_id: 7, version: 1 };
        Bytes::from(media::offer::answer(std::str::from_utf8(offer).unwrap(), &relay).unwrap().0)
    }

    /// A call we hold, whose media then moves to a new address (the phone
    /// changed networks), offers the hold again: moving must not unhold it.
    #[tokio::test]
    async fn a_held_call_that_moves_offers_the_hold_again_and_keeps_its_report() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let mut bearers = Bearers::new(None, BearerTransport::Udp, MediaOptions::default());
        let id = CallId(1);
        let (bearer, offer) = bearers.offer(loopback).await.unwrap();
        bearers.adopt(id, bearer, MediaOptions::default());
        bearers.start(id, &relay_answer(&offer, 30_000)).await.unwrap();

        let hold = bearers.reoffer(id, Direction::SendOnly).unwrap();
        assert!(std::str::from_utf8(&hold).unwrap().contains("a=sendonly"));
        bearers.reoffer_answered(id, Some(&relay_answer(&hold, 30_000))).await.unwrap().unwrap();

        let moved = bearers.rebind(id, "127.0.0.2".parse().unwrap()).await.unwrap();
        let moved = std::str::from_utf8(&moved).unwrap();
        assert!(moved.contains("c=IN IP4 127.0.0.2") && moved.contains("a=sendonly"), "{moved}");
        let started = bearers.reoffer_answered(id, Some(&relay_answer(moved.as_bytes(), 30_000))).await.unwrap().unwrap();
        assert!(matches!(started, MediaEvent::Started { local, .. } if local.ip() == "127.0.0.2".parse::<IpAddr>().unwrap()));
        // A refused resume leaves the hold in force for the next move.
        let resume = bearers.reoffer(id, Direction::SendRecv).unwrap();
        assert!(std::str::from_utf8(&resume).unwrap().contains("a=sendrecv"));
        assert!(bearers.reoffer_answered(id, None).await.is_none());
        let again = bearers.rebind(id, loopback).await.unwrap();
        assert!(std::str::from_utf8(&again).unwrap().contains("a=sendonly"));
        assert!(bearers.stop(id).await.is_some());
    }
}
