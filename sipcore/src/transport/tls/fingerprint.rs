//! A certificate's SHA-256 fingerprint, written as phones and `openssl x509
//! -fingerprint -sha256` show it: `AB:CD:...`, 32 bytes in upper-case hex.

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The SHA-256 digest of a certificate's DER bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// `AB:CD:...` (32 pairs, either case), or the same 64 hex digits without colons.
impl FromStr for Fingerprint {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        let bad = || crate::Error::Setting(format!("{s:?} is no SHA-256 fingerprint (expected 32 hex pairs, AB:CD:...)"));
        let s = s.trim();
        let hex_digits: String = if s.contains(':') {
            let pairs: Vec<&str> = s.split(':').collect();
            if pairs.iter().any(|p| p.len() != 2) {
                return Err(bad());
            }
            pairs.concat()
        } else {
            s.to_owned()
        };
        let mut out = [0u8; 32];
        hex::decode_to_slice(&hex_digits, &mut out).map_err(|_| bad())?;
        Ok(Self(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_parses_the_colon_form() {
        // SHA-256 of the empty input.
        let fp = Fingerprint::of(b"");
        let text = "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55";
        assert_eq!(fp.to_string(), text);
        assert_eq!(text.parse::<Fingerprint>().unwrap(), fp);
        assert_eq!(text.to_lowercase().parse::<Fingerprint>().unwrap(), fp);
        assert_eq!(text.replace(':', "").parse::<Fingerprint>().unwrap(), fp);
        assert_eq!(format!(" {text}\n").parse::<Fingerprint>().unwrap(), fp);
        for bad in ["", "E3:B0", &text[..text.len() - 3], &format!("{text}:00"), &text.replace("E3:B0", "E3B0:"), &text.replace('E', "G")] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad:?}");
        }
    }
}
