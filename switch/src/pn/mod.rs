//! Mobile push (RFC 8599), the switch's end. A phone whose OS kills its
//! background TCP flow registers with `pn-provider`, `pn-prid` and `pn-param`
//! on its Contact URI ([`PushParams`], read back from the binding's stored
//! Contact). When a call comes for it after its flow dropped, the core holds
//! the INVITE (`core/wake.rs`, up to `[push] hold`) and asks the driver to
//! POST a [`Notice`] to the operator's gateway ([`gateway`], over [`http`]),
//! which talks to APNs/FCM; the phone wakes, reconnects and registers, and the
//! held INVITE goes down the new flow. Nothing in time, or a gateway that
//! refused: home / 480 as without push.

pub mod gateway;
pub mod http;
mod notice;
mod params;
mod settings;

pub use notice::Notice;
pub use params::{MAX_VALUE, PushParams};
pub use settings::{Gateway, GatewayUrl, PushSettings, SYSTEM_CA_FILE, Token};

/// The driver's handle for one notification (and the call it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PushId(pub u64);
