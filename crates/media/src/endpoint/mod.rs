//! endpoint
pub mod error;
