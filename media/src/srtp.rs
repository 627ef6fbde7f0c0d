//! SDES-SRTP for the agent's calls: the keys travel in SDP `a=crypto` lines
//! (RFC 4568), the packets are SRTP and SRTCP (RFC 3711), protected and
//! checked by webrtc-rs's pure-Rust `webrtc-srtp`.
//!
//! [`CryptoAttribute`] reads and writes one `a=crypto` line: only what the
//! agent can honour is accepted (the AES-CM-128 suites, one `inline:` key, no
//! MKI, no session parameter but the window-size hint). [`SrtpSession`] is one
//! stream's crypto state. Every received packet is hostile, so it is checked
//! here before `webrtc-srtp` sees it: that crate's RTP header parser can panic
//! on a header extension running past the packet, its SRTCP path indexes
//! short packets without checking and returns an SRTCP packet whose E flag is
//! clear without authenticating it, and it keeps state for every SSRC it is
//! shown, authenticated or not. So the header is read by
//! [`crate::rtp_header`], SRTCP must be long enough and flagged encrypted, and
//! a context per remote SSRC is kept only once a packet authenticated with it
//! (a few at most).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use rand::CryptoRng;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// Bytes of master key and master salt of the AES-CM-128 suites (16 + 14).
pub const MASTER_LEN: usize = 30;
/// Replay window, in packets, for SRTP and SRTCP (libsrtp's default is 128).
const REPLAY_WINDOW: usize = 128;
/// Remote SSRCs with a context at once; the least recently used goes first.
const MAX_REMOTE_STREAMS: usize = 4;
/// The SRTCP trailer: E flag and index (4), then the authentication tag (10).
const SRTCP_TRAILER: usize = 4 + 10;
/// The smallest RTCP packet: its header and sender SSRC.
const RTCP_HEADER: usize = 8;

/// The SRTP crypto suites the agent speaks (RFC 4568 §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrtpSuite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag: what the agent offers.
    AesCm128HmacSha1_80,
    /// The same with a 32-bit tag on SRTP (80 bits on SRTCP): answered when offered first.
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// The suite's name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn from_name(name: &str) -> Option<SrtpSuite> {
        [SrtpSuite::AesCm128HmacSha1_80, SrtpSuite::AesCm128HmacSha1_32].into_iter().find(|s| s.name() == name)
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }

    /// Bytes the authentication tag adds to an SRTP packet.
    pub fn rtp_tag_len(self) -> usize {
        self.profile().rtp_auth_tag_len()
    }
}

/// A master key and master salt (RFC 3711 §8.2). Its `Debug` shows no key material.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; MASTER_LEN]);

impl MasterKey {
    /// A key from these bytes (key, then salt).
    pub fn new(bytes: [u8; MASTER_LEN]) -> MasterKey {
        MasterKey(bytes)
    }

    /// A fresh key from a cryptographically secure generator.
    pub fn generate(rng: &mut impl CryptoRng) -> MasterKey {
        let mut bytes = [0u8; MASTER_LEN];
        rng.fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    fn key(&self) -> &[u8] {
        self.0.get(..16).unwrap_or_default()
    }

    fn salt(&self) -> &[u8] {
        self.0.get(16..).unwrap_or_default()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// One `a=crypto` line (RFC 4568 §9.1): `<tag> <suite> inline:<key||salt base64>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// Names this line for the answer (1 to 999999999).
    pub tag: u32,
    /// The suite.
    pub suite: SrtpSuite,
    /// The key the line's sender protects its packets with.
    pub key: MasterKey,
}

impl CryptoAttribute {
    /// Reads the value of an `a=crypto:` attribute (what follows the colon).
    /// None for anything the agent cannot honour: an unknown suite, several
    /// keys, an MKI, a session parameter other than `WSH=`, a malformed key.
    pub fn parse(value: &str) -> Option<CryptoAttribute> {
        let mut fields = value.split_ascii_whitespace();
        let tag: u32 = fields.next()?.parse().ok().filter(|t| (1..=999_999_999).contains(t))?;
        let suite = SrtpSuite::from_name(fields.next()?)?;
        let key_params = fields.next()?;
        if fields.any(|session_param| !session_param.starts_with("WSH=")) {
            return None;
        }
        // One key: `inline:<key||salt>[|<lifetime>]`; an MKI (`|n:len`) would have to ride every packet.
        let mut parts = key_params.strip_prefix("inline:")?.split('|');
        let encoded = parts.next()?;
        if let Some(lifetime) = parts.next()
            && (lifetime.contains(':') || !valid_lifetime(lifetime))
        {
            return None;
        }
        if parts.next().is_some() {
            return None;
        }
        let bytes: [u8; MASTER_LEN] = STANDARD.decode(encoded).ok()?.try_into().ok()?;
        Some(CryptoAttribute { tag, suite, key: MasterKey(bytes) })
    }

    /// The attribute's value, as it follows `a=crypto:`.
    pub fn value(&self) -> String {
        format!("{} {} inline:{}", self.tag, self.suite.name(), STANDARD.encode(self.key.0))
    }
}

/// `2^n` or a decimal number of packets.
fn valid_lifetime(lifetime: &str) -> bool {
    let digits = lifetime.strip_prefix("2^").unwrap_or(lifetime);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The keys of an agreed SRTP stream: ours protects what we send, the peer's
/// checks what we receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrtpKeys {
    /// The suite both use.
    pub suite: SrtpSuite,
    /// The key we offered or answered with.
    pub local: MasterKey,
    /// The key the peer's SDP gave.
    pub remote: MasterKey,
}

/// Why SRTP could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("SRTP context: {0}")]
pub struct SrtpError(String);

/// One stream's SRTP state: protects what we send, checks (authenticates,
/// replay-checks) and decrypts what we receive.
pub struct SrtpSession {
    keys: SrtpKeys,
    outbound: Context,
    /// One context per remote SSRC that has authenticated, most recently used first.
    inbound: Vec<(u32, Context)>,
}

impl fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpSession").field("suite", &self.keys.suite).field("remote_streams", &self.inbound.len()).finish()
    }
}

fn context(suite: SrtpSuite, key: &MasterKey) -> Result<Context, SrtpError> {
    let replay = || Some(webrtc_srtp::option::srtp_replay_protection(REPLAY_WINDOW));
    let rtcp_replay = Some(webrtc_srtp::option::srtcp_replay_protection(REPLAY_WINDOW));
    Context::new(key.key(), key.salt(), suite.profile(), replay(), rtcp_replay).map_err(|e| SrtpError(e.to_string()))
}

/// The RTP header as the SRTP transform needs it: SSRC, sequence number and
/// where the payload starts (fixed header, CSRCs and extension, whatever the
/// extension holds). None when the packet is not RTP or the header overruns it.
fn clear_header(packet: &[u8]) -> Option<rtp::header::Header> {
    let h = crate::rtp_header::fixed_header(packet)?;
    let csrcs = usize::from(h.first & 0x0f);
    let mut header =
        rtp::header::Header { version: 2, sequence_number: h.sequence, ssrc: h.ssrc, csrc: vec![0; csrcs], ..Default::default() };
    if h.first & 0x10 != 0 {
        let at = 12 + 4 * csrcs;
        let words = u16::from_be_bytes([*packet.get(at + 2)?, *packet.get(at + 3)?]);
        let len = 4 * usize::from(words);
        packet.get(at + 4..at + 4 + len)?;
        // Read as an RFC 3550 extension (profile 0): the transform only needs its length.
        header.extension = true;
        header.extensions = vec![rtp::header::Extension { id: 0, payload: Bytes::from(vec![0; len]) }];
    }
    Some(header)
}

impl SrtpSession {
    /// The state for a stream agreed with `keys`.
    pub fn new(keys: &SrtpKeys) -> Result<SrtpSession, SrtpError> {
        Ok(SrtpSession { keys: keys.clone(), outbound: context(keys.suite, &keys.local)?, inbound: Vec::new() })
    }

    /// The keys it runs with: a retarget with the same keys keeps the state
    /// (the rollover counters and replay windows must survive a hold).
    pub fn keys(&self) -> &SrtpKeys {
        &self.keys
    }

    /// Our RTP packet, protected: payload encrypted, tag appended.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Option<Bytes> {
        // Ours, so a header the `rtp` crate wrote; still read by our own reader first.
        let header = clear_header(packet)?;
        self.outbound.encrypt_rtp_with_header(packet, &header).ok()
    }

    /// Our RTCP packet, protected (encrypted, E flag and index, tag).
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Option<Bytes> {
        if packet.len() < RTCP_HEADER || packet.first().is_none_or(|b| b >> 6 != 2) {
            return None;
        }
        self.outbound.encrypt_rtcp(packet).ok()
    }

    /// A received SRTP packet, authenticated, replay-checked and decrypted
    /// back to plain RTP; None when it fails any of these.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Option<Bytes> {
        let header = clear_header(packet)?;
        let ssrc = header.ssrc;
        self.inbound(ssrc, |context| context.decrypt_rtp_with_header(packet, &header).ok())
    }

    /// A received SRTCP packet, authenticated, replay-checked and decrypted;
    /// None when it fails, or is not flagged encrypted (never negotiated here).
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Option<Bytes> {
        let trailer = packet.len().checked_sub(SRTCP_TRAILER).filter(|&at| at >= RTCP_HEADER)?;
        if packet.first().is_none_or(|b| b >> 6 != 2) || packet.get(trailer).is_none_or(|e| e & 0x80 == 0) {
            return None;
        }
        let ssrc = u32::from_be_bytes(packet.get(4..8)?.try_into().ok()?);
        self.inbound(ssrc, |context| context.decrypt_rtcp(packet).ok())
    }

    /// Runs `check` with the context of remote stream `ssrc`; a stream seen for
    /// the first time gets a fresh context, kept only when `check` passed.
    fn inbound(&mut self, ssrc: u32, check: impl FnOnce(&mut Context) -> Option<Bytes>) -> Option<Bytes> {
        if let Some(i) = self.inbound.iter().position(|(s, _)| *s == ssrc) {
            let out = check(&mut self.inbound.get_mut(i)?.1)?;
            let used = self.inbound.remove(i);
            self.inbound.insert(0, used);
            return Some(out);
        }
        let mut fresh = context(self.keys.suite, &self.keys.remote).ok()?;
        let out = check(&mut fresh)?;
        self.inbound.truncate(MAX_REMOTE_STREAMS - 1);
        self.inbound.insert(0, (ssrc, fresh));
        Some(out)
    }
}

#[cfg(test)]
#[path = "srtp_tests.rs"]
mod tests;
