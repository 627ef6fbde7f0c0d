//! offer
