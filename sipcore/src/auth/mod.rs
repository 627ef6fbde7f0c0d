//! SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760, RFC 2617).
//!
//! Layers, each usable alone:
//! - [`Challenge`] / [`Credentials`]: zero-copy parsing and canonical
//!   printing of the header values;
//! - [`request_digest`] and [`ha1`]: the hash computations;
//! - [`DigestServer`]: stateless HMAC nonces, verification with stale
//!   detection and nonce-count replay protection;
//! - [`DigestClient`]: answering challenges with per-nonce counting.
//!
//! Nothing here reads a clock or touches the network: time comes in as unix
//! seconds (see [`unix_seconds`]), so behaviour around nonce expiry is
//! testable to the second.
//!
//! ```
//! use sipcore::auth::*;
//!
//! let mut server = DigestServer::new(ServerConfig::new("example.com", b"secret key".to_vec()));
//! let now = 1_700_000_000;
//! // 401: one WWW-Authenticate per challenge.
//! let headers: Vec<String> = server.challenge(now, None, false).iter().map(|c| c.to_string()).collect();
//!
//! // The UA parses them and answers the strongest.
//! let challenges: Vec<Challenge> = headers.iter().filter_map(|h| parse_challenge(h).ok()).collect();
//! let request = DigestRequest::new("REGISTER", "sip:example.com");
//! let mut client = DigestClient::new();
//! let authorization = client.respond(&challenges, "alice", Secret::Password("pw"), &request)?.to_string();
//!
//! // The registrar looks up the stored HA1 for that user and algorithm.
//! let creds = parse_credentials(&authorization)?;
//! let stored = ha1(creds.effective_algorithm(), "alice", "example.com", "pw");
//! let ok = server.verify(now + 1, &request, None, &creds, Some(Secret::Ha1(&stored)))?;
//! assert_eq!(ok.username, "alice");
//! # Ok::<(), AuthError>(())
//! ```

mod algorithm;
mod challenge;
mod client;
mod credentials;
mod error;
mod headers;
mod nonce;
mod params;
mod print;
mod qop;
mod replay;
mod response;
mod server;

pub use algorithm::Algorithm;
pub use challenge::{Challenge, parse_challenge};
pub use client::DigestClient;
pub use credentials::{Credentials, parse_credentials};
pub use error::AuthError;
pub use nonce::{NonceId, NonceKey, NonceSalt, OpenedNonce, unix_seconds};
pub use params::AuthParam;
pub use qop::{Qop, QopOptions};
pub use response::{DigestInput, DigestRequest, Secret, ha1, request_digest};
pub use server::{DigestServer, ServerConfig, Verified};
