//! The bearer: the switch's RTP/RTCP relay and line-level SDP rewriting, and the
//! agent's RTP endpoint with G.711, WAV, tones and RFC 4733 DTMF.
