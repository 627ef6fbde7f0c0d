//! Public-IP discovery, the I/O side: STUN over UDP, a firewall's status page
//! over HTTP, or a fixed address. The `via` source needs no I/O of its own:
//! the sans-IO core learns it from the switch's answers on the flow.

mod extract;
pub(crate) mod http;
/// The STUN codec (sipcore's, shared with the switch that answers it).
pub use sipcore::stun;
mod stun_client;

pub use extract::{extract_ip, is_public};
pub use stun_client::{StunTiming, query as stun_query};

use crate::Error;
use crate::config::PublicIpSource;
use std::net::IpAddr;
use std::time::Duration;

/// How long one HTTP discovery may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one discovery for `source`; `local` is the signalling flow's local
/// address (STUN sends from it, so the answer describes the same way out).
pub async fn discover(source: &PublicIpSource, local: Option<IpAddr>, txid: stun::TransactionId) -> Result<IpAddr, Error> {
    match source {
        PublicIpSource::Static(ip) => Ok(*ip),
        PublicIpSource::Via => Err(Error::Discovery("the via source is read from the switch's answers".into())),
        PublicIpSource::Stun { host, port } => {
            let mut addrs = tokio::net::lookup_host((host.as_str(), *port)).await?;
            let server = addrs
                .find(|a| local.is_none_or(|l| l.is_ipv4() == a.is_ipv4()))
                .ok_or_else(|| Error::Discovery(format!("STUN server {host}: no address of the flow's family")))?;
            Ok(stun_query(server, local, StunTiming::default(), txid).await?.ip())
        }
        PublicIpSource::Http { url, pattern } => {
            let parsed = http::Url::parse(url)?;
            let re = pattern.as_deref().map(regex::Regex::new).transpose().map_err(|e| Error::Config(format!("pattern: {e}")))?;
            let body = http::get(&parsed, HTTP_TIMEOUT).await?;
            extract_ip(&body, re.as_ref()).ok_or_else(|| Error::Discovery(format!("{url}: no address found on the page")))
        }
    }
}
