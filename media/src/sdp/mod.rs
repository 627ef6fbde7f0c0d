//! Line-level SDP for the switch (RFC 4566 / RFC 8866 line grammar).
//!
//! The switch relays media, so it must point both parties' SDP at the relay: the
//! `c=` address, the `m=` port, `a=rtcp:` and the `o=` session version change, and
//! every other line must reach the far end byte for byte (`a=crypto`, T.38
//! sections, vendor attributes). Re-serialising through a full SDP model drops
//! what the model does not know, so this module never builds one: [`inspect`]
//! reads the few facts the B2BUA needs and [`rewrite`] splices new values into
//! the original bytes.
//!
//! Input is hostile: bodies over [`MAX_SDP`] bytes are refused, every field is
//! checked before use, and every failure is an [`SdpError`] (SIP 488), never a panic.

mod error;
mod inspect;
mod lines;
mod rewrite;

pub use error::SdpError;
pub use inspect::{MediaInfo, SdpInfo, inspect};
pub use rewrite::{Rewrite, rewrite};

/// Largest SDP body accepted, in bytes (64 KiB).
pub const MAX_SDP: usize = 64 * 1024;

#[cfg(test)]
mod tests;
