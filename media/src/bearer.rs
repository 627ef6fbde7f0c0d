//! Which transport a bearer leg uses: UDP, or TCP with RFC 4571 framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BearerTransport {
    #[default]
    Udp,
    Tcp,
}
