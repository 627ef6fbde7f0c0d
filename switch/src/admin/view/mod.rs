//! What the switch shows of itself, shaped once for every reader: the CLI
//! (`switch registrations`, `switch subscriber list`), the JSON API and the
//! web view all print these.

mod calls;
mod registrations;
mod subscribers;

pub use calls::CallView;
pub use registrations::{LockView, LockedView, RecordView, Registrations};
pub use subscribers::{SubscriberView, parse_mac, realm_warning};
