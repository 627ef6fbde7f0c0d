//! SDP bodies on SIP messages: putting one on (Content-Type, a correct
//! Content-Length) and taking one off (only what claims to be SDP, bounded).

use sipcore::HeaderName;

/// Puts an SDP body on a message's headers (Content-Type and a correct Content-Length).
pub(super) fn set_sdp(headers: &mut sipcore::message::Headers, body: &[u8]) {
    headers.set(HeaderName::ContentType, "application/sdp");
    headers.set(HeaderName::ContentLength, body.len().to_string());
}

/// The SDP body of a message, when it has one that claims to be SDP and is not too big.
pub(super) fn sdp_body(headers: &sipcore::message::Headers, body: &bytes::Bytes) -> Option<bytes::Bytes> {
    let is_sdp = headers.content_type().ok().flatten().is_some_and(|ct| ct.is("application", "sdp"));
    (is_sdp && !body.is_empty() && body.len() <= super::MAX_SDP).then(|| body.clone())
}
