//! The calls' media, driver side: one [`media::endpoint::Endpoint`] (an RTP
//! socket and its task) per call, bound, started, moved and closed when the
//! call core says so ([`crate::MediaCommand`]). What to bind, where to send and
//! with which codec is decided by the core; this owns the sockets, what each
//! call plays and records, and the counts that outlive a move.

use crate::call::{CallId, MediaReport};
use media::endpoint::{Endpoint, EndpointError, EndpointEvent, Plan, Source};
use media::offer::Negotiated;
use std::collections::HashMap;
use std::net::SocketAddr;

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

/// One call's endpoint.
struct Bearer {
    endpoint: Endpoint,
    options: MediaOptions,
    /// What the endpoints this call had before a move (see `rebind`) did.
    earlier: Option<MediaReport>,
}

/// Every call's media.
pub(crate) struct Bearers {
    defaults: MediaOptions,
    /// Options given for a call before its bearer is opened.
    options: HashMap<CallId, MediaOptions>,
    by_call: HashMap<CallId, Bearer>,
}

/// Binds `local`; when its port is taken (a second call at once), an
/// ephemeral one: the core's SDP names whichever it is, and the first packet
/// opens the NAT leg from it all the same.
async fn bind(local: SocketAddr) -> Result<Endpoint, EndpointError> {
    match Endpoint::bind(local).await {
        Err(EndpointError::Io(e)) if local.port() != 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(port = local.port(), "bearer port in use (another call?): using an ephemeral one");
            Endpoint::bind(SocketAddr::new(local.ip(), 0)).await
        }
        bound => bound,
    }
}

impl Bearers {
    pub(crate) fn new(defaults: MediaOptions) -> Self {
        Self { defaults, options: HashMap::new(), by_call: HashMap::new() }
    }

    /// What call `id` plays and records, instead of the defaults.
    pub(crate) fn set_options(&mut self, id: CallId, options: MediaOptions) {
        self.options.insert(id, options);
    }

    /// Binds call `id`'s bearer on `local` (its port, or any); the address bound.
    pub(crate) async fn open(&mut self, id: CallId, local: SocketAddr) -> Result<SocketAddr, EndpointError> {
        let endpoint = bind(local).await?;
        let bound = endpoint.local_addr();
        let options = self.options.remove(&id).unwrap_or_else(|| self.defaults.clone());
        if let Some(old) = self.by_call.insert(id, Bearer { endpoint, options, earlier: None }) {
            old.endpoint.stop().await;
        }
        Ok(bound)
    }

    /// Starts call `id`'s stream toward `stream.remote`, or retargets it.
    pub(crate) async fn start(&mut self, id: CallId, stream: &Negotiated) -> Result<(), EndpointError> {
        let bearer = self.by_call.get_mut(&id).ok_or(EndpointError::Stopped)?;
        let plan = Plan::from_negotiated(stream, bearer.options.source.clone(), bearer.options.record);
        bearer.endpoint.start(plan).await
    }

    /// The phone's local address changed under call `id`: a new endpoint on
    /// `local` replaces the old one, whose counts and recording are kept for
    /// the final report. On failure the old one stays.
    pub(crate) async fn rebind(&mut self, id: CallId, local: SocketAddr) -> Result<SocketAddr, EndpointError> {
        let endpoint = bind(local).await?;
        let bound = endpoint.local_addr();
        let Some(bearer) = self.by_call.get_mut(&id) else {
            endpoint.stop().await;
            return Err(EndpointError::Stopped);
        };
        let old = std::mem::replace(&mut bearer.endpoint, endpoint);
        let report = MediaReport::from(old.stop().await);
        bearer.earlier = Some(match bearer.earlier.take() {
            Some(earlier) => earlier.then(report),
            None => report,
        });
        Ok(bound)
    }

    /// The next DTMF digit any call's endpoint received; pending while there is none.
    pub(crate) async fn next_dtmf(&mut self) -> (CallId, char) {
        std::future::poll_fn(|cx| {
            for (id, bearer) in &mut self.by_call {
                if let std::task::Poll::Ready(Some(EndpointEvent::Dtmf(digit))) = bearer.endpoint.events().poll_recv(cx) {
                    return std::task::Poll::Ready((*id, digit));
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Sends DTMF on a call's stream (RFC 4733); false when the call has none.
    pub(crate) fn send_dtmf(&self, id: CallId, digits: &str) -> bool {
        self.by_call.get(&id).map(|b| b.endpoint.send_dtmf(digits)).is_some()
    }

    /// Closes call `id`'s bearer: what it did, over all its endpoints (empty
    /// when it had none).
    pub(crate) async fn close(&mut self, id: CallId) -> MediaReport {
        self.options.remove(&id);
        let Some(bearer) = self.by_call.remove(&id) else { return MediaReport::default() };
        let last = MediaReport::from(bearer.endpoint.stop().await);
        match bearer.earlier {
            Some(earlier) => earlier.then(last),
            None => last,
        }
    }
}
