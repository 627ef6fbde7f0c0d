//! What the core asks of its driver.

use crate::b2bua::{CallRef, MediaCommand, MediaId};
use crate::cdr::Cdr;
use crate::location::Change;
use sipcore::transaction::Transmit;
use std::time::Instant;

/// A batch of stored changes the driver reports committed with
/// [`Core::handle_committed`](super::Core::handle_committed). Tickets grow:
/// reporting one reports every earlier one too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitTicket(pub u64);

/// The driver's handle for one control request (`switch probe`, `switch route`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlId(pub u64);

/// The driver's handle for one look-up of a binding held by another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LookupId(pub u64);

/// One thing the core asks of its driver, in the order it must be done.
#[derive(Debug)]
pub enum Output {
    /// Put a SIP message on the wire (`Transport::send`). A failed send of a
    /// transaction's message goes back through
    /// [`Core::handle_send_failed`](super::Core::handle_send_failed).
    Transmit(Transmit),
    /// A registration changed: log it; store or delete its record (converted
    /// through the store's anchor), close the flow it names.
    Location(Change),
    /// Report with `handle_committed(ticket)` once everything stored before
    /// this is committed: the responses that acknowledge it wait until then.
    Commit(CommitTicket),
    /// Store this call record (insert or update).
    Cdr(Box<Cdr<Instant>>),
    /// A call is over: close its media (its counters go into the record),
    /// log it and store the record.
    CallEnded { media: Option<MediaId>, cdr: Box<Cdr<Instant>> },
    /// Work for the media relay; `Open` is answered with `handle_media_opened`.
    Media(MediaCommand),
    /// Find the flow to a home location (resolve its host, connect over TCP);
    /// answer with `handle_connected(call, ..)`.
    Connect { call: CallRef, to: crate::b2bua::Connect },
    /// Read the provisioned subscribers again (off the async threads) and hand
    /// them over with `handle_subscribers`.
    LoadSubscribers,
    /// Find `number`'s live binding on another node (the store, off the
    /// async threads); answer with `handle_binding(id, ..)`, `None` also when
    /// the store could not be read.
    FindBinding { id: LookupId, number: String },
    /// POST this notice to the push gateway (off the core's task); answer
    /// with `handle_pushed(id, accepted)`.
    PushNotify { id: crate::pn::PushId, notice: crate::pn::Notice },
    /// The one-line answer to a control request.
    ControlReply { id: ControlId, line: String },
}
