//! ITU-T G.711 companding: µ-law (PCMU, PT 0) and A-law (PCMA, PT 8).
//!
//! The classic segment arithmetic (as in the ITU reference / Sun `g711.c`),
//! written with integer ops so every input byte and sample is defined: no
//! tables to index, nothing that can panic.

/// µ-law bias added before finding the segment (0x84 = 132).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent before the bias would overflow 15 bits.
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample to a µ-law byte.
pub fn ulaw_encode(s: i16) -> u8 {
    let mut v = i32::from(s);
    let sign = if v < 0 {
        v = -v;
        0x80
    } else {
        0
    };
    v = v.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment = position of the highest set bit above bit 7 (0..=7).
    let top = v >> 7;
    let exponent = if top == 0 { 0 } else { 31 - top.leading_zeros() as i32 }.min(7);
    let mantissa = (v >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decodes one µ-law byte to a 16-bit linear sample (range ±32124).
pub fn ulaw_decode(b: u8) -> i16 {
    let u = !b;
    let mut t = (i32::from(u & 0x0F) << 3) + ULAW_BIAS;
    t <<= (u & 0x70) >> 4;
    let v = if u & 0x80 != 0 { ULAW_BIAS - t } else { t - ULAW_BIAS };
    v as i16
}

/// Encodes one 16-bit linear sample to an A-law byte.
pub fn alaw_encode(s: i16) -> u8 {
    // A-law works on 13 bits of magnitude.
    let mut v = i32::from(s) >> 3;
    let mask: i32 = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    // Segment: the smallest seg with v <= (0x20 << seg) - 1 (0x1F, 0x3F … 0xFFF).
    let mut seg = 0;
    while seg < 8 && v >= (0x20 << seg) {
        seg += 1;
    }
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mantissa = if seg < 2 { (v >> 1) & 0x0F } else { (v >> seg) & 0x0F };
    (((seg << 4) | mantissa) ^ mask) as u8
}

/// Decodes one A-law byte to a 16-bit linear sample (range ±32256).
pub fn alaw_decode(b: u8) -> i16 {
    let a = b ^ 0x55;
    let mut t = i32::from(a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    let v = if a & 0x80 != 0 { t } else { -t };
    v as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        // Values from the G.711 µ-law table: 0xFF/0x7F are ±0, 0x80/0x00 the extremes.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(ulaw_decode(0xF0), 120);
        assert_eq!(ulaw_encode(1000), 0xCE);
        assert_eq!(ulaw_decode(0xCE), 988);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_encode(1000), 0xFA);
        assert_eq!(alaw_decode(0xFA), 1008);
    }

    #[test]
    fn round_trip_error_is_bounded_by_segment_step() {
        for s in i16::MIN..=i16::MAX {
            let m = i32::from(s).abs();
            let u = i32::from(ulaw_decode(ulaw_encode(s)));
            let a = i32::from(alaw_decode(alaw_encode(s)));
            if m <= 32124 {
                // µ-law: half a step of the segment, the step being 1/16 of the segment base.
                assert!((u - i32::from(s)).abs() <= (m + 132) / 32 + 1, "ulaw {s} -> {u}");
            }
            if m <= 32256 {
                assert!((a - i32::from(s)).abs() <= m / 32 + 16, "alaw {s} -> {a}");
            }
            // The sign always survives (or the value is tiny).
            assert!(u.signum() * i32::from(s).signum() >= 0 || m < 8);
            assert!(a.signum() * i32::from(s).signum() >= 0 || m < 8);
        }
    }

    #[test]
    fn every_code_decodes_to_a_fixed_point() {
        for b in 0..=255u8 {
            let u = ulaw_decode(b);
            assert_eq!(ulaw_decode(ulaw_encode(u)), u, "ulaw byte {b:#x}");
            let a = alaw_decode(b);
            assert_eq!(alaw_encode(a), b, "alaw byte {b:#x}");
        }
    }
}
