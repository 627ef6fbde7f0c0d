//! 8 kHz mono 16-bit PCM WAV (RIFF) files: what the agent plays and records.
//!
//! Only that one format is accepted; anything else is a clear error rather than
//! a resample. Files are read whole but bounded ([`MAX_WAV_BYTES`]).

use std::path::Path;

use crate::endpoint::error::EndpointError;

/// Largest WAV file we read: 64 MiB is over an hour of 8 kHz 16-bit audio.
pub const MAX_WAV_BYTES: u64 = 64 * 1024 * 1024;
const RATE: u32 = 8000;

fn bad(why: impl Into<String>) -> EndpointError {
    EndpointError::Wav(why.into())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads an 8 kHz mono 16-bit PCM WAV file into samples.
/// Errors name what is wrong: not RIFF/WAVE, another format, truncated, too big.
pub fn read_wav(path: &Path) -> Result<Vec<i16>, EndpointError> {
    let len = std::fs::metadata(path)?.len();
    if len > MAX_WAV_BYTES {
        return Err(bad(format!("{} is {len} bytes, more than the {MAX_WAV_BYTES} we read", path.display())));
    }
    parse_wav(&std::fs::read(path)?)
}

/// Parses the bytes of a WAV file (see [`read_wav`]).
pub fn parse_wav(b: &[u8]) -> Result<Vec<i16>, EndpointError> {
    if b.get(0..4) != Some(b"RIFF") || b.get(8..12) != Some(b"WAVE") {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let mut at = 12usize;
    let mut format_ok = false;
    loop {
        let (Some(id), Some(size)) = (b.get(at..at + 4), u32_at(b, at + 4)) else {
            return Err(bad(if format_ok { "truncated: no data chunk" } else { "truncated: no fmt chunk" }));
        };
        let size = size as usize;
        let body_at = at + 8;
        let body = b.get(body_at..body_at.saturating_add(size));
        match id {
            b"fmt " => {
                let body = body.ok_or_else(|| bad("truncated fmt chunk"))?;
                let (Some(tag), Some(channels), Some(rate), Some(bits)) =
                    (u16_at(body, 0), u16_at(body, 2), u32_at(body, 4), u16_at(body, 14))
                else {
                    return Err(bad("fmt chunk shorter than 16 bytes"));
                };
                if tag != 1 || channels != 1 || rate != RATE || bits != 16 {
                    return Err(bad(format!(
                        "unsupported format (tag {tag}, {channels} channels, {rate} Hz, {bits} bits): need PCM mono 8000 Hz 16-bit"
                    )));
                }
                format_ok = true;
            }
            b"data" => {
                if !format_ok {
                    return Err(bad("data chunk before fmt chunk"));
                }
                let body = body.ok_or_else(|| bad("truncated: data chunk longer than the file"))?;
                return Ok(body.chunks_exact(2).map(|p| if let [lo, hi] = *p { i16::from_le_bytes([lo, hi]) } else { 0 }).collect());
            }
            _ => {}
        }
        // Chunks are padded to even length.
        at = body_at.saturating_add(size).saturating_add(size & 1);
    }
}

/// Writes samples as an 8 kHz mono 16-bit PCM WAV file (replacing `path`).
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), EndpointError> {
    let data_len = u32::try_from(samples.len() * 2).map_err(|_| bad("too many samples for one WAV file"))?;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let mut v = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * 2).to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v
    }

    fn err_text(r: Result<Vec<i16>, EndpointError>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {} samples", v.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn round_trips_through_a_file() -> Result<(), EndpointError> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.wav");
        let samples: Vec<i16> = (0..1000).map(|i| (i * 37 - 16000) as i16).collect();
        write_wav(&path, &samples)?;
        assert_eq!(std::fs::metadata(&path)?.len(), 44 + 2000);
        assert_eq!(read_wav(&path)?, samples);
        write_wav(&path, &[])?;
        assert_eq!(read_wav(&path)?, Vec::<i16>::new());
        Ok(())
    }

    #[test]
    fn skips_unknown_chunks() -> Result<(), EndpointError> {
        let mut b = header(1, 1, 8000, 16);
        b.extend_from_slice(b"LIST\x03\0\0\0abc\0"); // odd size, padded
        b.extend_from_slice(b"data\x04\0\0\0\x01\0\xff\xff");
        assert_eq!(parse_wav(&b)?, vec![1, -1]);
        Ok(())
    }

    #[test]
    fn other_formats_are_refused_with_a_reason() {
        assert!(err_text(parse_wav(&header(1, 2, 8000, 16))).contains("2 channels"));
        assert!(err_text(parse_wav(&header(1, 1, 16000, 16))).contains("16000 Hz"));
        assert!(err_text(parse_wav(&header(1, 1, 8000, 8))).contains("8 bits"));
        assert!(err_text(parse_wav(&header(3, 1, 8000, 16))).contains("tag 3"));
        assert!(err_text(parse_wav(b"OggS not a wave file at all")).contains("RIFF"));
    }

    #[test]
    fn truncated_files_are_errors_not_panics() -> Result<(), EndpointError> {
        let mut full = header(1, 1, 8000, 16);
        full.extend_from_slice(b"data\x08\0\0\0\x01\0\x02\0\x03\0\x04\0");
        for cut in 0..full.len() {
            assert!(parse_wav(full.get(..cut).unwrap_or_default()).is_err(), "cut at {cut}");
        }
        assert_eq!(parse_wav(&full)?, vec![1, 2, 3, 4]);
        assert!(err_text(parse_wav(full.get(..full.len() - 1).unwrap_or_default())).contains("truncated"));
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cut.wav");
        std::fs::write(&path, full.get(..30).unwrap_or_default())?;
        assert!(read_wav(&path).is_err());
        assert!(read_wav(&dir.path().join("missing.wav")).is_err());
        Ok(())
    }
}
