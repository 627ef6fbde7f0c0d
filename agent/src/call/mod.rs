//! Calls, sans-IO: RFC 3261 dialogs on the agent's one flow, as UAS (the
//! switch's INVITE comes down the flow) and as UAC (`INVITE sip:<number>@<domain>`
//! goes up it), and each call's media session. The agent never listens, so
//! every request of a dialog rides the flow too.
//!
//! [`Calls`] lives inside [`crate::UserAgent`], which routes the transaction
//! layer's events to it, hands its events on and turns its media commands into
//! [`crate::Output::Media`]. The call core owns the offer/answer exchanges
//! (built and checked with `media::offer`), hold and resume, the move of a
//! call's bearer to a new local address, and the rollback of a refused
//! re-offer ([`session`]); the driver's bearer code only binds, starts and
//! closes sockets when told ([`MediaCommand`]) and says how that went.
//!
//! A call's life, as the core sees it:
//!
//! ```text
//! UAS: INVITE ─► 100, 180, Incoming ─► answer ─► Open ─► bound ─► 200 + SDP, Answered, Start
//! UAC: call ─► Open ─► bound ─► INVITE + SDP ─► 18x Ringing ─► 2xx: ACK, Answered, Start
//! end: BYE/CANCEL/failure ─► Close ─► closed ─► Stopped (media), Ended
//! ```

mod event;
mod media;
mod rejoin;
mod sdp;
mod session;
mod uac;
mod uas;

pub use event::{CallEvent, EndReason, Party};
pub use media::{MediaCommand, MediaEvent, MediaReport};

use crate::config::SrtpPolicy;
use crate::rng::{KeyRng, Rng};
use crate::ua::Event;
use crate::ua::message::Identity;
use ::media::BearerTransport;
use session::Session;
use sipcore::auth::DigestClient;
use sipcore::dialog::Dialog;
use sipcore::transaction::{TransactionKey, TransactionLayer};
use sipcore::transport::TransportKind;
use sipcore::{HeaderName, Method, Request};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

/// Calls at once before a new INVITE is answered 486 Busy Here: a phone, not
/// a switch; a flood of INVITEs must not grow memory without bound.
pub const MAX_CALLS: usize = 8;
/// Digest challenges answered for one INVITE before the call is given up.
const MAX_AUTH_TRIES: u32 = 2;
/// The largest SDP body taken from the switch.
const MAX_SDP: usize = 16 * 1024;

/// Names one call for its whole life (the agent's own number, not the Call-ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The number behind the id, for APIs in other languages (the C library,
/// bindings) that name calls by integer.
impl From<CallId> for u64 {
    fn from(id: CallId) -> u64 {
        id.0
    }
}

/// An id given back by such an API: one the agent never issued names no
/// call, and a command on it fails with [`CallError::NoSuchCall`].
impl From<u64> for CallId {
    fn from(n: u64) -> CallId {
        CallId(n)
    }
}

/// Why a call operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No such call (it ended, or never was).
    #[error("no call {0}")]
    NoSuchCall(CallId),
    /// The call is not in a state that allows this (e.g. answering an outgoing call).
    #[error("call {0} cannot do that now ({1})")]
    WrongState(CallId, &'static str),
    /// No flow to the switch is up.
    #[error("no flow to the switch")]
    NoFlow,
    /// Too many calls at once.
    #[error("too many calls (at most {MAX_CALLS})")]
    TooMany,
    /// The number is not usable in a SIP URI user part.
    #[error("bad number {0:?}")]
    BadNumber(String),
    /// The transaction layer refused.
    #[error("transaction: {0}")]
    Transaction(sipcore::transaction::TransactionError),
    /// SRTP is required ([`crate::SrtpPolicy::Required`]) and the flow is not
    /// TLS: the keys would cross the network readable.
    #[error("SRTP is required and the flow to the switch is not TLS")]
    SrtpNeedsTls,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// UAS: 180 sent, waiting for the application.
    Ringing,
    /// UAS: the application answered; the 200 waits for the bearer.
    Answering,
    /// UAC: the INVITE waits for the bearer its offer names.
    Opening,
    /// UAC: INVITE sent; `provisional` once a 1xx came (CANCEL is allowed then).
    Calling { provisional: bool },
    /// 2xx sent or received: media flows.
    Confirmed,
}

/// One call: its dialog, its media session and the transactions in flight.
#[derive(Debug)]
struct Call {
    id: CallId,
    state: State,
    dialog: Dialog,
    /// UAS: the INVITE's server transaction and request. UAC: the INVITE
    /// client transaction and the request sent.
    invite: Option<(TransactionKey, Request)>,
    /// Our own re-INVITE (hold, resume, re-join) in flight.
    reoffer: Option<TransactionKey>,
    session: Session,
    /// UAC: challenges answered so far.
    auth_tries: u32,
    /// UAC: the Proxy-Authorization (or Authorization) of the last INVITE, for its ACK.
    credentials: Option<(HeaderName, String)>,
    /// UAC: hang up was asked before a provisional response allowed a CANCEL.
    cancel_wanted: bool,
    /// UAC: a CANCEL was sent; the 487 that follows is our own doing.
    cancelled: bool,
    /// Answered, its flow lost: the call waits until then for a new flow (see `rejoin`).
    rejoin_by: Option<Instant>,
    /// The re-INVITE in flight re-joins the call from a new flow.
    rejoining: bool,
    /// While waiting for a flow: the local address its bearer is bound to.
    bearer_ip: Option<std::net::IpAddr>,
}

impl Call {
    /// A call that starts in `state`, with no transaction of ours in flight
    /// beyond `invite`.
    fn new(id: CallId, state: State, dialog: Dialog, invite: Option<(TransactionKey, Request)>, session: Session) -> Self {
        Call {
            id,
            state,
            dialog,
            invite,
            reoffer: None,
            session,
            auth_tries: 0,
            credentials: None,
            cancel_wanted: false,
            cancelled: false,
            rejoin_by: None,
            rejoining: false,
            bearer_ip: None,
        }
    }
}

/// What the call core needs from the user agent for one step.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) layer: &'a mut TransactionLayer,
    /// The flow to the switch: every request of every call goes down it.
    pub(crate) flow: sipcore::transport::Flow,
    pub(crate) me: Identity<'a>,
    pub(crate) rng: &'a mut Rng,
    pub(crate) digest: &'a mut DigestClient,
    pub(crate) password: &'a str,
    /// The bearer transport our offers propose.
    pub(crate) bearer_transport: BearerTransport,
    /// Whether media is SRTP, and where its keys come from.
    pub(crate) srtp: SrtpPolicy,
    pub(crate) keys: &'a mut KeyRng,
}

impl Ctx<'_> {
    /// Where a call's bearer binds: the flow's private IP (what the SDP names)
    /// and the bearer port, or any.
    fn bearer_at(&self) -> SocketAddr {
        SocketAddr::new(self.me.local.ip(), self.me.bearer_port.unwrap_or(0))
    }

    /// A media session for a new call (its o= id from the core's randomness,
    /// its SRTP key from the key generator, offered only on a TLS flow).
    fn session(&mut self, remote_offer: bytes::Bytes) -> Session {
        let key = (self.srtp != SrtpPolicy::Off).then(|| self.keys.master_key());
        let srtp = session::Srtp::new(self.srtp, key, self.flow.transport == TransportKind::Tls);
        Session::new(self.bearer_transport, self.rng.next_u64() >> 32, remote_offer, srtp)
    }
}

/// Every call of the agent. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    next_id: u64,
    calls: Vec<Call>,
    events: VecDeque<Event>,
    /// Media commands for the driver, in order.
    commands: VecDeque<MediaCommand>,
    /// Ended calls whose bearer is closing: their `Ended` follows the report.
    closing: Vec<(CallId, CallEvent)>,
}

impl Calls {
    /// The calls alive now.
    pub(crate) fn ids(&self) -> Vec<CallId> {
        self.calls.iter().map(|c| c.id).collect()
    }

    /// True while an ended call's bearer has not reported its close.
    pub(crate) fn closing(&self) -> bool {
        !self.closing.is_empty()
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn poll_command(&mut self) -> Option<MediaCommand> {
        self.commands.pop_front()
    }

    fn new_id(&mut self) -> CallId {
        self.next_id += 1;
        CallId(self.next_id)
    }

    fn get(&mut self, id: CallId) -> Result<&mut Call, CallError> {
        self.calls.iter_mut().find(|c| c.id == id).ok_or(CallError::NoSuchCall(id))
    }

    /// Removes the call and says how it ended: at once, or, when it has a
    /// bearer, once that is closed and has reported (`media_closed`).
    fn end(&mut self, id: CallId, by: Party, reason: EndReason, status: Option<u16>) {
        let Some(i) = self.calls.iter().position(|c| c.id == id) else { return };
        let call = self.calls.swap_remove(i);
        tracing::info!(call = %id, ?by, ?reason, ?status, "call ended");
        let ended = CallEvent::Ended { id, by, reason, status };
        if call.session.has_bearer() {
            self.commands.push_back(MediaCommand::Close { call: id });
            self.closing.push((id, ended));
        } else {
            self.events.push_back(Event::Call(ended));
        }
    }

    /// Ends every call politely (BYE, CANCEL, 480) before the agent stops.
    pub(crate) fn hangup_all(&mut self, ctx: &mut Ctx<'_>) {
        for id in self.ids() {
            if let Err(e) = self.hangup(ctx, id) {
                tracing::debug!(call = %id, error = %e, "hang-up on stop");
            }
        }
    }

    /// Hangs up: BYE once answered, CANCEL (UAC) or 480 (UAS) before.
    pub(crate) fn hangup(&mut self, ctx: &mut Ctx<'_>, id: CallId) -> Result<(), CallError> {
        let call = self.get(id)?;
        match call.state {
            State::Confirmed => self.send_bye(ctx, id),
            State::Ringing | State::Answering => self.reject(ctx, id, sipcore::StatusCode::TEMPORARILY_UNAVAILABLE),
            State::Calling { .. } => self.cancel(ctx, id),
            State::Opening => {
                self.end(id, Party::Local, EndReason::Cancelled, None);
                Ok(())
            }
        }
    }

    /// A transaction of ours timed out (Timer B/F/H) or failed on the flow.
    pub(crate) fn handle_tx_failure(&mut self, key: &TransactionKey) -> bool {
        if let Some(call) = self.calls.iter().find(|c| c.reoffer.as_ref() == Some(key)) {
            // §14.1: no answer to a re-INVITE: the dialog is dead. The call ends (a BYE would go the same dead way).
            let (id, rejoining) = (call.id, call.rejoining);
            self.end(id, Party::Network, if rejoining { EndReason::FlowLost } else { EndReason::Timeout }, Some(408));
            return true;
        }
        let Some(call) = self.calls.iter().find(|c| c.invite.as_ref().is_some_and(|(k, _)| k == key)) else {
            return false;
        };
        let (id, state) = (call.id, call.state);
        match state {
            State::Calling { .. } | State::Opening => self.end(id, Party::Network, EndReason::Timeout, Some(408)),
            // An INVITE server transaction's Timer H: our final answer was never ACKed.
            State::Ringing | State::Answering | State::Confirmed => self.end(id, Party::Network, EndReason::Timeout, None),
        }
        true
    }
}

/// A request inside `dialog` (§12.2.1.1) down the flow: a new branch on our
/// Via, and our User-Agent.
fn in_dialog(ctx: &mut Ctx<'_>, dialog: &Dialog, method: Method, cseq: u32) -> Request {
    let branch = format!("z9hG4bK{}", ctx.rng.hex(10));
    let mut r = dialog.request(method, cseq, ctx.me.via(&branch));
    r.headers.push(HeaderName::UserAgent, ctx.me.user_agent.to_owned());
    r
}

/// Characters a number may hold: RFC 3261 §25.1 `unreserved` plus `+`, so
/// it goes into the Request-URI's user part as it is, no escaping needed.
fn valid_user(number: &str) -> bool {
    !number.is_empty() && number.len() <= 64 && number.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()+".contains(&b))
}
