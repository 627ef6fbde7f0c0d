#!/usr/bin/env python3
"""An independent HEP v3 decoder for switch/tests/hep.rs, written from
sipcapture's HEP3 specification, not from the switch's encoder.

Reads one datagram per line on stdin (hex), writes one JSON object per line:
every chunk the spec names, by meaning. Anything malformed (wrong magic, a
total length that is not the datagram's, a chunk running past the end, a
chunk shorter than its header, an odd-sized fixed field) exits non-zero.
"""
import ipaddress
import json
import struct
import sys

FIXED = {1: 1, 2: 1, 3: 4, 4: 4, 5: 16, 6: 16, 7: 2, 8: 2, 9: 4, 10: 4, 11: 1, 12: 4}


def decode(d):
    if d[:4] != b"HEP3":
        raise ValueError("not HEP3")
    (total,) = struct.unpack("!H", d[4:6])
    if total != len(d):
        raise ValueError(f"total length {total} != datagram {len(d)}")
    out, at = {"vendors": set()}, 6
    while at < len(d):
        if at + 6 > len(d):
            raise ValueError("truncated chunk header")
        vendor, kind, length = struct.unpack("!HHH", d[at:at + 6])
        if length < 6 or at + length > len(d):
            raise ValueError(f"chunk {kind:#x} length {length} at {at}")
        value = d[at + 6:at + length]
        at += length
        out["vendors"].add(vendor)
        if kind in FIXED and len(value) != FIXED[kind]:
            raise ValueError(f"chunk {kind:#x} has {len(value)} bytes")
        if kind == 1:
            out["family"] = value[0]
        elif kind == 2:
            out["protocol"] = value[0]
        elif kind in (3, 5):
            out["src_ip"] = str(ipaddress.ip_address(value))
        elif kind in (4, 6):
            out["dst_ip"] = str(ipaddress.ip_address(value))
        elif kind == 7:
            out["src_port"] = struct.unpack("!H", value)[0]
        elif kind == 8:
            out["dst_port"] = struct.unpack("!H", value)[0]
        elif kind == 9:
            out["secs"] = struct.unpack("!I", value)[0]
        elif kind == 10:
            out["micros"] = struct.unpack("!I", value)[0]
        elif kind == 11:
            out["payload_type"] = value[0]
        elif kind == 12:
            out["capture_id"] = struct.unpack("!I", value)[0]
        elif kind == 14:
            out["auth_key"] = value.decode()
        elif kind == 15:
            out["payload"] = value.hex()
        elif kind == 17:
            out["correlation_id"] = value.decode()
        else:
            out.setdefault("unknown", []).append(kind)
    out["vendors"] = sorted(out["vendors"])
    return out


for line in sys.stdin:
    if line.strip():
        print(json.dumps(decode(bytes.fromhex(line.strip()))))
