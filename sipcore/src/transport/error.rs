//! Transport errors.

use super::FlowId;

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("TLS: {0}")]
    NotPinned(super::tls::NotPinned),
    #[error("bad TLS material: {0}")]
    TlsMaterial(String),
    #[error("{0} is closed or unknown")]
    NoSuchFlow(FlowId),
    #[error("{0}: send queue full (peer not reading)")]
    QueueFull(FlowId),
    #[error("the transport is shutting down")]
    ShuttingDown,
}
