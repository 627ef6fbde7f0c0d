#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into OUT/<target>/ (scripts/fuzz.sh seed).

SIP messages come from the repository's fixtures (sipcore/tests/corpus: the RFC 4475
torture messages and our own; sipcore/benches/invite.sip); digest headers and SDP
bodies are cut out of them; the rest are made here by hand: RTP, RTCP, RFC 4571
streams, STUN datagrams (RFC 5769's test vectors among them), more digest values
and SDP shapes the switch meets. Each target's input layout is in its module's
docs (fuzz/src/targets/); the prefix bytes below follow those layouts.
"""
import os
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(sys.argv[1])


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def sip_fixtures():
    files = sorted((ROOT / "sipcore/tests/corpus").rglob("*.sip"))
    files.append(ROOT / "sipcore/benches/invite.sip")
    return [(f.stem, f.read_bytes()) for f in files]


def headers_and_body(msg):
    head, _, body = msg.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def sip():
    fixtures = sip_fixtures()
    for name, msg in fixtures:
        write("sip_message", name, msg)
        # [config, chunk seed, stream]: server and client role, two messages back to back.
        write("sip_stream", name + "-server", b"\x10\x07" + msg + msg)
        write("sip_stream", name + "-client", b"\x11\x2a\r\n" + msg)
    write("sip_stream", "keepalives", b"\x20\x01\r\n\r\n\r\n\r\n\r\n")
    for name, msg in fixtures:
        lines, body = headers_and_body(msg)
        for i, line in enumerate(lines):
            key, _, value = line.partition(b":")
            if key.strip().lower() in (b"authorization", b"proxy-authorization", b"www-authenticate", b"proxy-authenticate"):
                write("digest", f"{name}-{i}", value.strip())
        if body.startswith(b"v=0"):
            write("sdp_rewrite", name, b"\x00" + body)


DIGEST = [
    b'Digest realm="example.com", nonce="MTcwMDAwMDAwMDpkZWFk", algorithm=SHA-256, qop="auth,auth-int", opaque="xyz", stale=TRUE',
    b'Digest realm="a", domain="sip:a sip:b", nonce="n", algorithm=MD5-sess, userhash=true, charset=UTF-8',
    b'Digest username="1001", realm="example.com", nonce="n", uri="sip:203.0.113.1:5060", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"',
    b'Digest username*=UTF-8\'\'J%C3%A4s%C3%B8n, realm="r", nonce="n", uri="sip:r", response="00", userhash=false',
    b'Digest username="a\\"b", realm="r", nonce="n", uri="sip:r", response="ab", algorithm=SHA-512-256',
    b'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
    b'digest  realm = "r" ,nonce="n"',
]


def digest():
    for i, value in enumerate(DIGEST):
        write("digest", f"hand-{i}", value)


def sdp_body(*lines, ending=b"\r\n", last=True):
    body = ending.join(lines)
    return body + ending if last else body


SDP = {
    "g711-offer": sdp_body(
        b"v=0", b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10", b"s=-", b"c=IN IP4 192.0.2.10", b"t=0 0",
        b"m=audio 49170 RTP/AVP 0 8 101", b"a=rtpmap:101 telephone-event/8000", b"a=fmtp:101 0-15", b"a=ptime:20", b"a=sendrecv"),
    "rtcp-mux-v6": sdp_body(
        b"v=0", b"o=- 1 2 IN IP6 2001:db8::1", b"s=-", b"t=0 0", b"m=audio 5004 RTP/SAVP 8", b"c=IN IP6 2001:db8::1",
        b"a=rtcp:5004 IN IP6 2001:db8::1", b"a=rtcp-mux", b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
        b"a=setup:actpass", b"a=recvonly"),
    "two-sections-session-c": sdp_body(
        b"v=0", b"o=bob 1 1 IN IP4 198.51.100.2", b"s=call", b"i=info", b"c=IN IP4 198.51.100.2", b"t=0 0", b"a=sendonly",
        b"m=audio 6000/2 RTP/AVP 0", b"i=voice", b"a=rtcp:6001", b"m=video 0 RTP/AVP 96", b"a=rtpmap:96 H264/90000",
        b"m=image 6002 udptl t38", b"a=T38FaxVersion:0"),
    "multicast-lf-no-final-newline": sdp_body(
        b"v=0", b"o=x 0 0 IN IP4 233.252.0.1", b"s=-", b"c=IN IP4 233.252.0.1/127/3", b"t=0 0", b"m=audio 7000 RTP/AVP 0",
        b"m=message 9 TCP/MSRP *", ending=b"\n", last=False),
    "trailing-blank-lines": sdp_body(b"v=0", b"o=- 5 5 IN IP4 0.0.0.0", b"s= ", b"t=0 0", b"m=audio 9 RTP/AVP 0", b"c=IN IP4 0.0.0.0", b"", b""),
}


def sdp():
    for i, (name, body) in enumerate(SDP.items()):
        write("sdp_rewrite", name, bytes([i % 4]) + body)


def rtp_packet(pt, seq, ts, ssrc, payload=b"", marker=False, csrc=(), ext=None, pad=0):
    first = 0x80 | len(csrc) | (0x10 if ext is not None else 0) | (0x20 if pad else 0)
    out = struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    out += b"".join(struct.pack("!I", c) for c in csrc)
    if ext is not None:
        profile, data = ext
        out += struct.pack("!HH", profile, len(data) // 4) + data
    out += payload
    if pad:
        out += b"\0" * (pad - 1) + bytes([pad])
    return out


RTCP_SR = struct.pack("!BBHIIIIII", 0x80, 200, 6, 0x1234, 0xE0000000, 0, 160, 1, 172)
RTCP_RR = struct.pack("!BBHI", 0x81, 201, 7, 0x1234) + struct.pack("!IIIIII", 0x5678, 0x01000002, 100, 3, 0, 0)
RTCP_BYE = struct.pack("!BBHI", 0x81, 203, 1, 0x1234)


def rtp():
    packets = {
        "pcmu": rtp_packet(0, 1, 160, 0xDEADBEEF, b"\xff" * 160, marker=True),
        "pcma": rtp_packet(8, 65535, 0xFFFFFF60, 7, b"\xd5" * 160),
        "dtmf": rtp_packet(101, 42, 8000, 7, b"\x05\x8a\x03\x20"),
        "csrc-ext-pad": rtp_packet(0, 9, 9, 9, b"\x11\x22\x33", csrc=(1, 2), ext=(0xBEDE, b"\x10\xaa\x00\x00"), pad=4),
        "ext-overrun": rtp_packet(0, 9, 9, 9, ext=(0xBEDE, b""))[:-2] + b"\xff\xff",
        "rtcp-sr": RTCP_SR,
        "rtcp-rr": RTCP_RR,
        "rtcp-bye": RTCP_BYE,
        "stun-like": b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x01" * 12,
        "version-1": b"\x40" * 12,
    }
    for name, p in packets.items():
        write("rtp_packet", name, p)
    stream = b""
    for seq in range(5):
        stream += framed(rtp_packet(0, 100 + seq, 160 * seq, 5, b"\xff" * 20))
    stream += framed(RTCP_RR) + framed(rtp_packet(0, 90, 0, 5, b"\x7f" * 20)) + framed(rtp_packet(0, 5000, 1, 6))
    write("rtp_stream", "g711-and-rtcp", b"\x04" + stream)
    write("rtp_stream", "tcp-callee", b"\x03" + stream)
    write("rtp_stream", "oversized", b"\x02" + framed(RTCP_BYE) + b"\x08\x01" + b"\x80" * 40)


def framed(packet):
    return struct.pack("!H", len(packet)) + packet


COOKIE = 0x2112A442
TXID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
# RFC 5769 §2.2 and §2.3: the sample IPv4 and IPv6 responses.
RFC5769_V4 = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96")
RFC5769_V6 = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c")


def stun_msg(kind, attrs, fingerprint=False):
    body = b"".join(struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4) for t, v in attrs)
    length = len(body) + (8 if fingerprint else 0)
    out = struct.pack("!HHI", kind, length, COOKIE) + TXID + body
    if fingerprint:
        crc = (zlib.crc32(out) ^ 0x5354554E) & 0xFFFFFFFF
        out += struct.pack("!HHI", 0x8028, 4, crc)
    return out


def stun():
    write("stun", "rfc5769-v4", RFC5769_V4)
    write("stun", "rfc5769-v6", RFC5769_V6)
    write("stun", "binding-request", struct.pack("!HHI", 1, 0, COOKIE) + TXID)
    write("stun", "mapped-address", stun_msg(0x0101, [(0x0001, b"\x00\x01\x13\x88\xc0\x00\x02\x01")], fingerprint=True))
    write("stun", "error-420", stun_msg(0x0111, [(0x0009, b"\x00\x00\x04\x14Unknown Attribute"), (0x000A, b"\x7f\x00")]))
    write("stun", "unknown-optional", stun_msg(0x0101, [(0x8022, b"x"), (0x0020, b"\x00\x01\xa1\x47\xe1\x12\xa6\x43")]))
    # What the switch's SIP UDP ports, --stun listeners and relay ports answer, or must not.
    write("stun", "binding-request-fingerprint", stun_msg(0x0001, [], fingerprint=True))
    write("stun", "binding-request-unknown-required", stun_msg(0x0001, [(0x7F00, b"\x01\x02\x03\x04")], fingerprint=True))
    write("stun", "binding-request-priority", stun_msg(0x0001, [(0x0024, b"\x6e\x00\x01\xff")]))


def dns_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(name, qtype, opcode=0, qd=1, edns=None, ident=0x4242):
    """A query; `edns` = (payload, version) adds an OPT record."""
    header = struct.pack("!HHHHHH", ident, (opcode << 11) | 0x0100, qd, 0, 0, 1 if edns else 0)
    body = dns_name(name) + struct.pack("!HH", qtype, 1) if qd else b""
    if qd == 2:
        body += dns_name("e164.arpa") + struct.pack("!HH", 6, 1)
    if edns:
        payload, version = edns
        body += b"\0" + struct.pack("!HHIH", 41, payload, version << 16, 0)
    return header + body


def dns():
    # [pick: bit 0 = outside rl_allow, bit 1 = TCP, bits 2.. = 5 s steps of time] + message (fuzz/src/targets/dns.rs).
    naptr, txt, srv, soa, any_, axfr, a = 35, 16, 33, 6, 255, 252, 1
    write("dns", "naptr-live", b"\x00" + dns_query("1.0.0.1.e164.arpa", naptr))
    write("dns", "naptr-plus", b"\x00" + dns_query("3.0.0.1.5.5.5.1.e164.arpa", naptr, edns=(1232, 0)))
    write("dns", "naptr-expired", b"\xfc" + dns_query("1.0.0.1.e164.arpa", naptr))
    write("dns", "rl-allowed", b"\x00" + dns_query("1001._rl.switch.test", txt))
    write("dns", "rl-refused", b"\x01" + dns_query("1001._rl.switch.test", txt))
    write("dns", "srv-tcp", b"\x02" + dns_query("_sip._tcp.switch.test", srv, edns=(4096, 0)))
    write("dns", "soa", b"\x00" + dns_query("switch.test", soa))
    write("dns", "any-apex", b"\x03" + dns_query("switch.test", any_))
    write("dns", "a-host", b"\x00" + dns_query("sip.switch.test", a))
    write("dns", "axfr", b"\x00" + dns_query("switch.test", axfr))
    write("dns", "update", b"\x00" + dns_query("switch.test", soa, opcode=5))
    write("dns", "two-questions", b"\x00" + dns_query("switch.test", soa, qd=2))
    write("dns", "badvers", b"\x00" + dns_query("switch.test", soa, edns=(512, 1)))
    write("dns", "compression-loop", b"\x00" + struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack("!HH", 35, 1))


def update_answer(rcode, ident=0x4242, tsig_error=None, tc=False):
    """An answer to an UPDATE of example.net. (opcode 5, QR), optionally with an unsigned TSIG carrying an error."""
    flags = 0x8000 | (5 << 11) | (0x0200 if tc else 0) | rcode
    header = struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 1 if tsig_error is not None else 0)
    body = dns_name("example.net") + struct.pack("!HH", 6, 1)
    if tsig_error is not None:
        rdata = dns_name("hmac-sha256") + struct.pack("!HIHH", 0, 1_800_000_000, 300, 0) + struct.pack("!HHH", ident, tsig_error, 0)
        body += dns_name("switch-key") + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata
    return header + body


def dns_update_answer():
    # [pick: bit 0 = sign it as the primary would, bit 1 = with another key] + answer (fuzz/src/targets/dns_update_answer.rs).
    write("dns_update_answer", "noerror-unsigned", b"\x00" + update_answer(0))
    write("dns_update_answer", "noerror-signed", b"\x01" + update_answer(0))
    write("dns_update_answer", "noerror-other-key", b"\x03" + update_answer(0))
    write("dns_update_answer", "servfail-signed", b"\x01" + update_answer(2))
    write("dns_update_answer", "refused-signed", b"\x01" + update_answer(5))
    write("dns_update_answer", "notauth-badsig", b"\x00" + update_answer(9, tsig_error=16))
    write("dns_update_answer", "notauth-badkey", b"\x00" + update_answer(9, tsig_error=17))
    write("dns_update_answer", "truncated", b"\x00" + update_answer(0, tc=True))
    write("dns_update_answer", "another-id", b"\x01" + update_answer(0, ident=0x4243))


def flow_token():
    # [mode, ...]: 0 the token text, 1 a patch over the good token at an offset, 2 a Route value.
    write("flow_token", "good", b"\x01\x00")
    write("flow_token", "patched-expiry", b"\x01\x04+")
    write("flow_token", "patched-mac", b"\x01\x20AAAA")
    write("flow_token", "text", b"\x00ft1.1800000032.bm9kZS1h.AAAAAAAAAAAAAAAAAAAAAA")
    write("flow_token", "text-short", b"\x00ft1.1.bm9kZS1h.AA")
    write("flow_token", "route", b"\x02<sip:ft1.1800000032.bm9kZS1h.AAAAAAAAAAAAAAAAAAAAAA@10.0.0.2:5060;transport=tcp;lr>")
    write("flow_token", "route-plain", b"\x02<sip:10.0.0.2;lr>, <sip:ft1.1.x.y@10.0.0.3>")


sip()
dns()
dns_update_answer()
flow_token()
digest()
sdp()
rtp()
stun()
