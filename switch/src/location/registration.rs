//! The facts of one accepted REGISTER, and the rule deciding whether two
//! registrations come from the same device.

use crate::record::RlRecord;
use sipcore::headers::MacAddr;
use sipcore::transport::{Flow, FlowId};
use std::net::{IpAddr, SocketAddr};

/// One accepted (already authenticated) REGISTER that adds or refreshes a
/// binding: `expires` is what [`super::grant_expires`] granted, never 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The directory number (the To user part).
    pub number: String,
    /// The flow the REGISTER arrived on; `flow.remote` is the observed source.
    pub flow: Flow,
    /// X-MAC.
    pub mac: Option<MacAddr>,
    /// X-Private-IP.
    pub private_ip: Option<IpAddr>,
    /// X-Public-IP.
    pub public_ip_claimed: Option<IpAddr>,
    /// The Contact host, else the top Via sent-by host, when it is an IP
    /// literal: the NAT check's fallback when X-Private-IP is absent.
    pub contact_ip: Option<IpAddr>,
    /// X-Bearer-Port.
    pub bearer_port: Option<u16>,
    /// RFC 5626 `+sip.instance` (unquoted) and `reg-id` of the Contact.
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
    pub call_id: String,
    /// The Contact URI as registered.
    pub contact: String,
    pub user_agent: Option<String>,
    /// Seconds granted.
    pub expires: u32,
    /// The Contact carried `reg-id` over a flow with `Supported: outbound`:
    /// keep-alives are expected and silence kills the flow.
    pub outbound: bool,
}

impl Registration {
    /// True when the address the phone believes it has (X-Private-IP, else the
    /// Contact/Via IP) differs from the source the switch saw: it is behind NAT.
    /// With neither, nothing says so and the answer is false.
    pub fn behind_nat(&self) -> bool {
        match self.private_ip.or(self.contact_ip) {
            Some(ip) => ip.to_canonical() != self.flow.remote.ip().to_canonical(),
            None => false,
        }
    }

    pub(super) fn device(&self) -> Device<'_> {
        Device { instance: self.instance.as_deref(), mac: self.mac, call_id: &self.call_id, flow: Some((self.flow.id, self.flow.remote)) }
    }
}

/// A REGISTER with `Expires: 0` (or `expires=0` on its one Contact): the device
/// that sent it asks for its own binding to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unregistration {
    pub number: String,
    pub flow: Flow,
    pub mac: Option<MacAddr>,
    pub instance: Option<String>,
    pub call_id: String,
}

impl Unregistration {
    pub(super) fn device(&self) -> Device<'_> {
        Device { instance: self.instance.as_deref(), mac: self.mac, call_id: &self.call_id, flow: Some((self.flow.id, self.flow.remote)) }
    }
}

/// What identifies a device, from a REGISTER or a stored record.
#[derive(Debug, Clone, Copy)]
pub(super) struct Device<'a> {
    pub(super) instance: Option<&'a str>,
    pub(super) mac: Option<MacAddr>,
    pub(super) call_id: &'a str,
    /// The flow key (id, remote); `None` for a record whose flow is gone.
    pub(super) flow: Option<(FlowId, SocketAddr)>,
}

impl<'a> Device<'a> {
    pub(super) fn of(record: &'a RlRecord<std::time::Instant>) -> Self {
        Device {
            instance: record.instance.as_deref(),
            mac: record.mac,
            call_id: &record.call_id,
            flow: record.flow_id.map(|id| (id, record.observed)),
        }
    }

    /// The same-device rule, strongest evidence first:
    /// 1. both name a `+sip.instance`: same device iff equal (the reg-id only
    ///    names one of the device's flows, so it does not split devices);
    /// 2. else both carry X-MAC: same iff equal;
    /// 3. else the same Call-ID (RFC 3261 §10.2.4: a UA keeps its Call-ID
    ///    across refreshes) means the same device;
    /// 4. else, when neither side carries any identity at all (plain phones),
    ///    the same flow (same connection, or the same UDP peer address) means
    ///    the same device: a phone that rebooted and picked a new Call-ID.
    pub(super) fn same_as(&self, other: &Device<'_>) -> bool {
        if let (Some(a), Some(b)) = (self.instance, other.instance) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (self.mac, other.mac) {
            return a == b;
        }
        if self.call_id == other.call_id {
            return true;
        }
        let plain = self.instance.is_none() && other.instance.is_none() && self.mac.is_none() && other.mac.is_none();
        plain && self.flow.is_some() && self.flow == other.flow
    }
}
