//! One module per target; each exposes `run(&[u8])`.

pub mod digest;
pub mod dns;
pub mod dns_update_answer;
pub mod flow_token;
pub mod push;
pub mod rtp_packet;
pub mod rtp_stream;
pub mod sdp_rewrite;
pub mod sip_message;
pub mod sip_stream;
pub mod stun;
