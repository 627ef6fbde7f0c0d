//! `AgentConfig`: what an agent is made with, a record with defaults.

use crate::error::AgentError;
use agent::{AgentBuilder, BearerTransport, MediaOptions, Source, SwitchAddr};

/// An agent's configuration. Only `switches`, `number` and `password` are required.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AgentConfig {
    /// `tcp:HOST[:PORT]` or `tls:HOST[:PORT]`; several are nodes of one
    /// cluster, tried in this order (`AgentBuilder::add_switch`).
    pub switches: Vec<String>,
    /// The number the agent registers (its SIP user).
    pub number: String,
    /// The digest password of that number.
    pub password: String,
    /// The SIP domain (default: the first switch's host).
    #[uniffi(default = None)]
    pub domain: Option<String>,
    /// The PEM file of the CA a `tls:` switch's certificate must chain to.
    #[uniffi(default = None)]
    pub tls_ca_file: Option<String>,
    /// How the public IP is learned, as the CLI's `--public-ip`: `via`,
    /// `stun:HOST[:PORT]`, `http:URL[ PATTERN]`, `static:IP` (default `via`).
    #[uniffi(default = None)]
    pub public_ip: Option<String>,
    /// RTP over TCP (RFC 4571) instead of UDP.
    #[uniffi(default = false)]
    pub bearer_tcp: bool,
    /// The local bearer port, advertised to the switch (default: ephemeral per call).
    #[uniffi(default = None)]
    pub bearer_port: Option<u16>,
    /// Calls send a sine of this many Hz (default: silence).
    #[uniffi(default = None)]
    pub tone_hz: Option<f64>,
    /// RFC 8599 push: the push service (`pn-provider`: `apns`, `fcm`…); with
    /// `push_prid`, sent on the REGISTER's Contact so the switch has the
    /// operator's gateway wake the app, which then calls `push_received`.
    #[uniffi(default = None)]
    pub push_provider: Option<String>,
    /// The device's token at that service (`pn-prid`).
    #[uniffi(default = None)]
    pub push_prid: Option<String>,
    /// What else the service needs (`pn-param`).
    #[uniffi(default = None)]
    pub push_param: Option<String>,
}

fn invalid(what: &str, e: impl std::fmt::Display) -> AgentError {
    AgentError::Config(format!("{what}: {e}"))
}

impl AgentConfig {
    /// The builder this configuration stands for.
    pub(crate) fn builder(&self) -> Result<AgentBuilder, AgentError> {
        let mut switches = self.switches.iter().map(|s| s.parse::<SwitchAddr>().map_err(|e| invalid(s, e)));
        let first = switches.next().ok_or_else(|| AgentError::Config("no switch".into()))??;
        if self.number.is_empty() {
            return Err(AgentError::Config("no number".into()));
        }
        let mut b = AgentBuilder::new(first, self.number.clone(), self.password.clone());
        for other in switches {
            b = b.add_switch(other?);
        }
        if let Some(domain) = &self.domain {
            b = b.domain(domain.clone());
        }
        if let Some(path) = &self.tls_ca_file {
            b = b.tls_ca_pem(std::fs::read(path).map_err(|e| invalid(path, e))?);
        }
        if let Some(strategy) = &self.public_ip {
            b = b.public_ip(strategy.parse().map_err(|e| invalid(strategy, e))?);
        }
        if self.bearer_tcp {
            b = b.bearer_transport(BearerTransport::Tcp);
        }
        if let Some(port) = self.bearer_port {
            b = b.bearer_port(port);
        }
        match (&self.push_provider, &self.push_prid) {
            (Some(provider), Some(prid)) => {
                b = b
                    .push(agent::PushParams::new(provider.clone(), prid.clone(), self.push_param.clone()).map_err(|e| invalid("push", e))?);
            }
            (None, None) if self.push_param.is_none() => {}
            _ => return Err(AgentError::Config("push needs both push_provider and push_prid".into())),
        }
        if let Some(hz) = self.tone_hz {
            if !(hz.is_finite() && hz > 0.0 && hz < 4000.0) {
                return Err(AgentError::Config(format!("tone {hz} Hz")));
            }
            b = b.media(MediaOptions { source: Source::Tone(hz), record: false });
        }
        Ok(b)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> AgentConfig {
        AgentConfig {
            switches: vec!["tcp:127.0.0.1:5060".into()],
            number: "1001".into(),
            password: "pw".into(),
            domain: None,
            tls_ca_file: None,
            public_ip: None,
            bearer_tcp: false,
            bearer_port: None,
            tone_hz: None,
            push_provider: None,
            push_prid: None,
            push_param: None,
        }
    }

    #[test]
    fn push_parameters_go_to_the_builder_both_or_none() {
        assert_eq!(config().builder().unwrap().config().push, None);
        let on = AgentConfig { push_provider: Some("fcm".into()), push_prid: Some("tok".into()), ..config() };
        let push = on.builder().unwrap().config().push.clone().unwrap();
        assert_eq!((push.provider.as_str(), push.prid.as_str(), push.param), ("fcm", "tok", None));
        assert!(AgentConfig { push_provider: Some("fcm".into()), ..config() }.builder().is_err());
        assert!(AgentConfig { push_param: Some("x".into()), ..config() }.builder().is_err());
    }
}
