//! The device's identity on the wire: the RFC 5626 `+sip.instance` URN. It
//! must stay the same across flows (the switch tells roaming from a second
//! device by it), so it is derived from something stable: the MAC, or given.

use sha2::{Digest, Sha256};
use sipcore::headers::MacAddr;

/// Formats 16 bytes as `urn:uuid:...` with the given version nibble and the
/// RFC 9562 variant bits.
fn urn(mut b: [u8; 16], version: u8) -> String {
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0f) | (version << 4);
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    let h = hex::encode(b);
    let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
    format!("urn:uuid:{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
}

/// A name-based UUID (RFC 9562 version 8, SHA-256) of the MAC: the same
/// hardware always gets the same instance, without a file to keep.
pub fn instance_from_mac(mac: MacAddr) -> String {
    let digest = Sha256::new().chain_update(b"roamswitch agent instance\0").chain_update(mac.0).finalize();
    let mut b = [0u8; 16];
    for (slot, v) in b.iter_mut().zip(digest.iter()) {
        *slot = *v;
    }
    urn(b, 8)
}

/// A random (version 4) instance, for a device with no usable MAC.
pub(crate) fn random_instance(bytes: [u8; 16]) -> String {
    urn(bytes, 4)
}

/// Checks a given instance: `urn:uuid:` and a UUID in 8-4-4-4-12 hex form.
pub fn valid_instance(s: &str) -> bool {
    let Some(uuid) = s.strip_prefix("urn:uuid:") else { return false };
    let groups: Vec<&str> = uuid.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The instance kept in `path`, or a new random one written there (for a
/// device without a usable MAC that must stay the same device across
/// restarts). The file holds the URN on one line.
pub fn load_or_create_instance(path: &std::path::Path) -> Result<String, crate::Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let urn = text.trim();
            if valid_instance(urn) {
                Ok(urn.to_owned())
            } else {
                Err(crate::Error::Config(format!("{}: not an instance URN (urn:uuid:...)", path.display())))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let urn = random_instance(rand::random());
            // Written aside and renamed, so a crash never leaves half a URN.
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, format!("{urn}\n"))?;
            std::fs::rename(&tmp, path)?;
            Ok(urn)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn instance_is_stable_per_mac_and_well_formed() {
        let a: MacAddr = "02:42:ac:11:00:02".parse().unwrap();
        let b: MacAddr = "02:42:ac:11:00:03".parse().unwrap();
        assert_eq!(instance_from_mac(a), instance_from_mac(a));
        assert_ne!(instance_from_mac(a), instance_from_mac(b));
        let i = instance_from_mac(a);
        assert!(valid_instance(&i), "{i}");
        assert_eq!(i.as_bytes()[23], b'8', "version 8: {i}");
        assert!(matches!(i.as_bytes()[28], b'8' | b'9' | b'a' | b'b'), "variant: {i}");
        assert!(valid_instance(&random_instance([0xff; 16])));
        assert!(!valid_instance("urn:uuid:1234"));
        assert!(!valid_instance("00000000-0000-1000-8000-000A95A0E128"));
    }

    #[test]
    fn a_persisted_instance_survives_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instance");
        let first = load_or_create_instance(&path).unwrap();
        assert!(valid_instance(&first));
        assert_eq!(load_or_create_instance(&path).unwrap(), first, "read back, not made anew");
        std::fs::write(&path, "garbage").unwrap();
        assert!(load_or_create_instance(&path).is_err());
    }
}
