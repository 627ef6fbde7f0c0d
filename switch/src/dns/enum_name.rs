//! Numbers and their ENUM names (RFC 6116 §2.4): `+1-555-1001` is not a
//! number here; `+15551001` under `e164.arpa.` is `1.0.0.1.5.5.5.1.e164.arpa.`.

use hickory_proto::rr::Name;

/// The ENUM name of `number`: its digits reversed, one label each, under
/// `suffix`; `+` dropped. `None` for an empty number or one with anything but
/// digits after the optional `+`.
pub fn enum_name(number: &str, suffix: &Name) -> Option<Name> {
    let digits = enum_digits(number)?;
    let labels: Vec<[u8; 1]> = digits.bytes().rev().map(|b| [b]).collect();
    Name::from_labels(labels.iter().map(|l| l.as_slice())).ok()?.append_domain(suffix).ok()
}

/// The digits of `number` its ENUM name is made of: `+` dropped; `None`
/// when it has no ENUM name.
pub fn enum_digits(number: &str) -> Option<&str> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The digits an ENUM name under `suffix` stands for, in number order
/// (without `+`). `None` unless every label below the suffix is one digit.
/// A name with fewer digits than a number stands for a prefix of it: an
/// empty non-terminal when some provisioned number extends it.
pub fn digits_of(name: &Name, suffix: &Name) -> Option<String> {
    if !suffix.zone_of(name) {
        return None;
    }
    let below = usize::from(name.num_labels()).checked_sub(usize::from(suffix.num_labels()))?;
    if below == 0 {
        return None;
    }
    let mut digits = Vec::with_capacity(below);
    for label in name.iter().take(below) {
        match label {
            [d] if d.is_ascii_digit() => digits.push(*d),
            _ => return None,
        }
    }
    digits.reverse();
    String::from_utf8(digits).ok()
}
