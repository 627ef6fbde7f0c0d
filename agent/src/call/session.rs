//! One call's media session, sans-IO: the RFC 3264 offer/answer exchanges
//! (built and checked with `media::offer`, i.e. webrtc-sdp), what was last
//! agreed, our re-offer in flight (hold, resume) and its rollback, and the
//! move of the bearer to a new local address, and SRTP (SDES): our key for
//! the call, offered only over TLS, and what the policy says when the peer
//! declines it. The call core turns what this decides into media commands;
//! the bearer's sockets are the driver's.

use crate::config::SrtpPolicy;
use bytes::Bytes;
use media::endpoint::EndpointError;
use media::offer::{self, LocalMedia, Negotiated};
use media::srtp::MasterKey;
use media::{BearerTransport, Direction};
use std::net::SocketAddr;

/// Where the call's bearer is, as far as the core knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bearer {
    /// None asked for.
    None,
    /// An open (or a rebind) was asked for and its answer has not come;
    /// `was`: where the bearer stays bound should a rebind fail.
    Opening {
        /// The address bound before a rebind.
        was: Option<SocketAddr>,
    },
    /// Bound on this address.
    Open(SocketAddr),
}

/// Our re-offer in flight: applied when its 2xx comes, dropped (the session
/// stays as last agreed) when it fails.
#[derive(Debug, Clone)]
struct Proposal {
    local: LocalMedia,
    direction: Direction,
    sdp: Bytes,
}

/// A call's SRTP: the policy, our key (one per call, kept for its life, so a
/// re-offer or a re-answer keeps the crypto state running) and whether it may
/// be offered (the flow is TLS).
#[derive(Debug, Clone)]
pub(super) struct Srtp {
    policy: SrtpPolicy,
    key: Option<MasterKey>,
    may_offer: bool,
    /// Our SRTP offer was refused (488) and a plain one sent instead: once.
    fell_back: bool,
}

impl Srtp {
    /// `key` is None when the policy is off.
    pub(super) fn new(policy: SrtpPolicy, key: Option<MasterKey>, tls: bool) -> Self {
        Srtp { policy, key: key.filter(|_| policy != SrtpPolicy::Off), may_offer: tls, fell_back: false }
    }

    /// The key our offers carry: only over TLS (SDES keys in SDP over plain TCP are anyone's).
    fn offer_key(&self) -> Option<MasterKey> {
        self.key.clone().filter(|_| self.may_offer)
    }

    /// The key an `RTP/SAVP` offer is answered with (the peer sent its own key already).
    fn answer_key(&self) -> Option<MasterKey> {
        self.key.clone()
    }

    /// What the policy says of an agreement: an error when SRTP is required and
    /// the stream is plain.
    fn check(&self, agreed: &Negotiated) -> Result<(), EndpointError> {
        if self.policy == SrtpPolicy::Required && agreed.srtp.is_none() {
            return Err(EndpointError::Sdp("SRTP is required here and the other side's SDP is plain RTP".into()));
        }
        Ok(())
    }
}

/// One call's session description state.
#[derive(Debug, Clone)]
pub(super) struct Session {
    transport: BearerTransport,
    /// o= session id, fixed for the call.
    session_id: u64,
    /// The o= version of the last SDP of ours: each new one goes one above
    /// (RFC 3264 §8), a refused one included.
    version: u64,
    pub(super) bearer: Bearer,
    /// What our SDP names (the bearer's address); `None` until it is bound.
    local: Option<LocalMedia>,
    /// The direction we last offered and had accepted (`SendOnly` while we hold).
    direction: Direction,
    /// The stream as last agreed.
    agreed: Option<Negotiated>,
    /// The bearer was bound anew (a move) and waits for the next agreement to start.
    needs_start: bool,
    /// Our SDP as last sent in an agreed exchange, and theirs.
    pub(super) local_sdp: Bytes,
    pub(super) remote_sdp: Bytes,
    proposal: Option<Proposal>,
    srtp: Srtp,
}

fn text(sdp: &[u8]) -> Result<&str, EndpointError> {
    std::str::from_utf8(sdp).map_err(|_| EndpointError::Sdp("the SDP is not UTF-8".into()))
}

impl Session {
    /// A session whose bearer will speak `transport`; `session_id` is its o= id.
    pub(super) fn new(transport: BearerTransport, session_id: u64, remote_offer: Bytes, srtp: Srtp) -> Self {
        Session {
            transport,
            session_id,
            version: 0,
            bearer: Bearer::None,
            local: None,
            direction: Direction::SendRecv,
            agreed: None,
            needs_start: false,
            local_sdp: Bytes::new(),
            remote_sdp: remote_offer,
            proposal: None,
            srtp,
        }
    }

    /// Checks an offer before a bearer is bound for it: an offer we cannot
    /// answer is refused at once (488), with no socket opened for nothing.
    pub(super) fn check_offer(&self, offer: &[u8], at: SocketAddr) -> Result<(), EndpointError> {
        let probe = LocalMedia {
            address: at.ip(),
            port: at.port(),
            transport: self.transport,
            session_id: 0,
            version: 0,
            srtp: self.srtp.answer_key(),
        };
        let (_, agreed) = offer::answer(text(offer)?, &probe)?;
        self.srtp.check(&agreed)
    }

    /// Answers `offer` with `local` (our SRTP key added for an `RTP/SAVP` offer),
    /// as the policy allows; the SDP and the agreement, `local` as agreed.
    fn answer_with(&self, offer: &[u8], local: &LocalMedia) -> Result<(String, Negotiated, LocalMedia), EndpointError> {
        let (sdp, agreed) = offer::answer(text(offer)?, &LocalMedia { srtp: self.srtp.answer_key(), ..local.clone() })?;
        self.srtp.check(&agreed)?;
        Ok((sdp, agreed.clone(), LocalMedia { srtp: agreed.srtp.map(|keys| keys.local), ..local.clone() }))
    }

    /// Reads the answer to an offer of ours made with `offered`: the agreement,
    /// if the policy takes it (a plain answer to our SRTP offer: only when SRTP
    /// is not required).
    fn read_answer(&self, answer: &[u8], offered: &LocalMedia) -> Result<Negotiated, EndpointError> {
        let agreed = offer::negotiated(text(answer)?, offered.srtp.as_ref())?;
        self.srtp.check(&agreed)?;
        if offered.srtp.is_some() && agreed.srtp.is_none() {
            tracing::warn!("the answer declined SRTP: the call's media is plain RTP");
        }
        Ok(agreed)
    }

    /// Our SRTP offer was refused (488): when the policy prefers SRTP but does
    /// not require it, the offer becomes plain (a new o= version) and true says
    /// to send it again; once per call.
    pub(super) fn fall_back_to_plain(&mut self) -> bool {
        let Some(local) = self.local.as_mut().filter(|l| l.srtp.is_some()) else { return false };
        if self.srtp.policy != SrtpPolicy::Preferred || self.srtp.fell_back || self.agreed.is_some() {
            return false;
        }
        self.srtp.fell_back = true;
        self.version = self.version.saturating_add(1);
        local.srtp = None;
        local.version = self.version;
        self.local_sdp = Bytes::from(offer::build_offer(local));
        true
    }

    fn next_local(&mut self, at: SocketAddr) -> LocalMedia {
        self.version = self.version.saturating_add(1);
        let base = self.local.clone().unwrap_or(LocalMedia {
            address: at.ip(),
            port: at.port(),
            transport: self.transport,
            session_id: self.session_id,
            version: 0,
            srtp: self.srtp.offer_key(),
        });
        LocalMedia { address: at.ip(), port: at.port(), version: self.version, ..base }
    }

    /// The bearer was bound at `at`: our first SDP names it.
    pub(super) fn bound(&mut self, at: SocketAddr) {
        self.bearer = Bearer::Open(at);
        if self.local.is_none() {
            self.local = Some(self.next_local(at));
        }
    }

    /// The bearer of an answered call was bound anew at `at` (the phone changed
    /// networks): our SDP names the new address from now on (a new o= version,
    /// the direction as agreed, so a held call stays held), and the stream
    /// starts once the far end agrees to it.
    pub(super) fn moved(&mut self, at: SocketAddr) {
        self.bearer = Bearer::Open(at);
        let local = self.next_local(at);
        self.local_sdp = Bytes::from(offer::build_offer_with_direction(&local, self.direction));
        self.local = Some(local);
        self.needs_start = true;
    }

    /// Our initial offer (sendrecv), once the bearer is bound.
    pub(super) fn initial_offer(&mut self) -> Option<Bytes> {
        let sdp = Bytes::from(offer::build_offer(self.local.as_ref()?));
        self.local_sdp = sdp.clone();
        Some(sdp)
    }

    /// Answers the INVITE's offer (kept as `remote_sdp`) with the bound
    /// bearer; an empty offer (a late offer) is answered with our offer, and
    /// the stream is agreed when the ACK brings the answer.
    pub(super) fn answer_invite(&mut self) -> Result<(Bytes, Option<Negotiated>), EndpointError> {
        let local = self.local.clone().ok_or(EndpointError::Stopped)?;
        if self.remote_sdp.is_empty() {
            return Ok((self.initial_offer().unwrap_or_default(), None));
        }
        let (sdp, n, local) = self.answer_with(&self.remote_sdp, &local)?;
        let sdp = Bytes::from(sdp);
        self.local = Some(local);
        self.local_sdp = sdp.clone();
        self.agreed = Some(n.clone());
        Ok((sdp, Some(n)))
    }

    /// The answer to our offer (the 2xx to our INVITE, or the ACK after a late offer).
    pub(super) fn answered(&mut self, answer: Bytes) -> Result<Negotiated, EndpointError> {
        let offered = self.local.clone().ok_or(EndpointError::Stopped)?;
        let n = self.read_answer(&answer, &offered)?;
        self.local = Some(LocalMedia { srtp: n.srtp.as_ref().map(|keys| keys.local.clone()), ..offered });
        self.remote_sdp = answer;
        self.agreed = Some(n.clone());
        Ok(n)
    }

    /// Their re-offer (a re-INVITE: hold, resume, a new relay port): our answer
    /// with a new o= version, and the stream as it now goes. On an error
    /// nothing changes: the call goes on as last agreed.
    pub(super) fn reanswer(&mut self, offer: Bytes) -> Result<(Bytes, Negotiated), EndpointError> {
        let Some(current) = self.local.clone() else { return Err(EndpointError::Stopped) };
        let local = LocalMedia { version: self.version.saturating_add(1), ..current };
        let (sdp, n, local) = self.answer_with(&offer, &local)?;
        self.version = local.version;
        self.local = Some(local);
        let sdp = Bytes::from(sdp);
        self.local_sdp = sdp.clone();
        self.remote_sdp = offer;
        self.agreed = Some(n.clone());
        Ok((sdp, n))
    }

    /// Our re-offer with `direction` (`SendOnly` holds the peer, `SendRecv`
    /// resumes), kept as a proposal until it is answered.
    pub(super) fn propose(&mut self, direction: Direction) -> Option<Bytes> {
        let Bearer::Open(at) = self.bearer else { return None };
        let local = self.next_local(at);
        let sdp = Bytes::from(offer::build_offer_with_direction(&local, direction));
        self.proposal = Some(Proposal { local, direction, sdp: sdp.clone() });
        Some(sdp)
    }

    /// True while a proposal of ours waits for its answer.
    pub(super) fn proposing(&self) -> bool {
        self.proposal.is_some()
    }

    /// The 2xx to our proposal brought `answer`: the proposal is what is
    /// agreed now. Without a proposal (a re-INVITE re-sending the SDP last
    /// agreed, to re-join), the answer is taken as the new agreement.
    pub(super) fn accept(&mut self, answer: Bytes) -> Result<Negotiated, EndpointError> {
        let offered = match (&self.proposal, &self.local) {
            (Some(p), _) => p.local.clone(),
            (None, Some(local)) => local.clone(),
            (None, None) => return Err(EndpointError::Stopped),
        };
        let n = self.read_answer(&answer, &offered)?;
        if let Some(p) = self.proposal.take() {
            self.direction = p.direction;
            self.local_sdp = p.sdp;
        }
        self.local = Some(LocalMedia { srtp: n.srtp.as_ref().map(|keys| keys.local.clone()), ..offered });
        self.remote_sdp = answer;
        self.agreed = Some(n.clone());
        Ok(n)
    }

    /// Our proposal was refused (a failure status, 491 on glare) or died with
    /// its flow: the session stays as last agreed.
    pub(super) fn roll_back(&mut self) {
        self.proposal = None;
    }

    /// The stream to start after an agreement, if the bearer must be
    /// (re)started: always after an exchange that changed what flows, and
    /// after a move; not after a re-join that re-sent the same SDP.
    pub(super) fn start(&mut self, changed: bool) -> Option<Negotiated> {
        if !(changed || self.needs_start) {
            return None;
        }
        self.needs_start = false;
        self.agreed.clone()
    }

    /// The stream as last agreed.
    pub(super) fn agreed(&self) -> Option<&Negotiated> {
        self.agreed.as_ref()
    }

    /// An open or a rebind is asked for.
    pub(super) fn opening(&mut self) {
        let was = match self.bearer {
            Bearer::Open(at) => Some(at),
            Bearer::Opening { was } => was,
            Bearer::None => None,
        };
        self.bearer = Bearer::Opening { was };
    }

    /// The open or rebind asked for failed: the bearer is where it was (nowhere for an open).
    pub(super) fn open_failed(&mut self) {
        if let Bearer::Opening { was } = self.bearer {
            self.bearer = was.map_or(Bearer::None, Bearer::Open);
        }
    }

    /// True once a bearer was asked for (and until the call ends): it must be closed.
    pub(super) fn has_bearer(&self) -> bool {
        self.bearer != Bearer::None
    }

    /// True while an open or a rebind waits for its answer.
    pub(super) fn is_opening(&self) -> bool {
        matches!(self.bearer, Bearer::Opening { .. })
    }

    /// Where the bearer is bound, once it is.
    pub(super) fn bound_at(&self) -> Option<SocketAddr> {
        match self.bearer {
            Bearer::Open(at) => Some(at),
            Bearer::None | Bearer::Opening { .. } => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RELAY_OFFER: &str = "v=0\r\no=switch 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The relay's side of an exchange, at 192.0.2.10:30000.
    pub(super) fn relay_local(version: u64, srtp: Option<MasterKey>) -> LocalMedia {
        LocalMedia { address: "192.0.2.10".parse().unwrap(), port: 30000, transport: BearerTransport::Udp, session_id: 1, version, srtp }
    }

    fn relay_answer(our_offer: &[u8], direction: &str) -> Bytes {
        let (sdp, _) = offer::answer(std::str::from_utf8(our_offer).unwrap(), &relay_local(2, None)).unwrap();
        Bytes::from(sdp.replace("a=sendrecv", direction))
    }

    #[test]
    fn o_versions_only_go_up_and_a_refused_hold_leaves_the_agreement() {
        let mut s =
            Session::new(BearerTransport::Udp, 7, Bytes::from_static(RELAY_OFFER.as_bytes()), Srtp::new(SrtpPolicy::Off, None, false));
        s.bound(at("10.1.0.2:40000"));
        let (answer, n) = s.answer_invite().unwrap();
        assert!(std::str::from_utf8(&answer).unwrap().contains("o=- 7 1 IN IP4 10.1.0.2"));
        assert_eq!(n.unwrap().remote, at("192.0.2.10:30000"));
        let hold = s.propose(Direction::SendOnly).unwrap();
        assert!(std::str::from_utf8(&hold).unwrap().contains("o=- 7 2 ") && std::str::from_utf8(&hold).unwrap().contains("a=sendonly"));
        s.roll_back();
        assert_eq!(s.local_sdp, answer, "refused: the last agreed SDP stands");
        let again = s.propose(Direction::SendOnly).unwrap();
        assert!(std::str::from_utf8(&again).unwrap().contains("o=- 7 3 "), "a new SDP goes one above the refused one");
        let n = s.accept(relay_answer(&again, "a=recvonly")).unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        assert_eq!(s.local_sdp, again);
        // A move keeps the hold and names the new address.
        s.moved(at("10.9.0.7:40002"));
        let moved = std::str::from_utf8(&s.local_sdp).unwrap().to_owned();
        assert!(moved.contains("c=IN IP4 10.9.0.7") && moved.contains("m=audio 40002 ") && moved.contains("a=sendonly"), "{moved}");
        assert!(moved.contains("o=- 7 4 "), "{moved}");
        assert!(s.start(false).is_some(), "a moved bearer starts on the next agreement even if nothing else changed");
        assert!(s.start(false).is_none());
    }

    #[test]
    fn an_unusable_reoffer_changes_nothing() {
        let mut s =
            Session::new(BearerTransport::Udp, 7, Bytes::from_static(RELAY_OFFER.as_bytes()), Srtp::new(SrtpPolicy::Off, None, false));
        s.bound(at("10.1.0.2:40000"));
        let (answer, _) = s.answer_invite().unwrap();
        let g729 = RELAY_OFFER.replace("RTP/AVP 0 101", "RTP/AVP 18");
        assert!(matches!(s.reanswer(Bytes::from(g729)), Err(EndpointError::NoCommonCodec)));
        assert_eq!(s.local_sdp, answer);
        let (re, n) = s.reanswer(Bytes::from(RELAY_OFFER.replace("sendrecv", "sendonly"))).unwrap();
        assert!(std::str::from_utf8(&re).unwrap().contains("o=- 7 2 ") && std::str::from_utf8(&re).unwrap().contains("a=recvonly"));
        assert_eq!(n.direction, Direction::SendOnly);
    }
}

#[cfg(test)]
#[path = "session_srtp_tests.rs"]
mod srtp_tests;
