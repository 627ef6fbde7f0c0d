#!/usr/bin/env python3
"""Registration -> visible in DNS: registers numbers one at a time over SIP/TCP
(digest) and polls a DNS server for each number's live ENUM NAPTR until it
appears.  The DNS server is an argument, so the same tool measures the switch's
embedded server and an external one the switch pushes into (RFC 2136).

    dns_visible.py --sip 127.0.0.1:25080 --dns 127.0.0.1:25081 --users probe.csv --json out.json

For each NUMBER;PASSWORD line of --users (the file `switch subscriber import`
takes), up to --count of them:
  * open a TCP connection to --sip from --local-ip, REGISTER (Expires 3600),
    answer the 401 with MD5 digest; the clock starts when the authenticated
    REGISTER is written (t_send);
  * from then on, query --dns over UDP for NAPTR at the number's ENUM name
    (digits reversed under --enum-suffix) in a tight loop: one query
    outstanding, --poll-ms pause after each answer that does not yet carry
    the live regexp "!^.*$!sip:NUMBER@DOMAIN!" (t_visible when one does),
    while reading the TCP flow for the 200 OK (t_ok);
  * the connection stays open (the registration stays live) until the end.
Reports per number: send->visible, ok->visible (negative: visible before
the 200 OK arrived), send->ok; and p50/p99/max of each over all numbers.
A number not visible within --visible-timeout counts as a failure (its
latency is not in the quantiles; the count is reported).

Loopback only; bounded (--timeout for the whole run, SIGALRM).
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time

from benchlib import write_json
from relay_probe import PRIV_IP, PRIV_PORT, Conn, branch, digest_header, quantiles_us, say

NAPTR, IN = 35, 1


def enum_qname(number, suffix):
    """The wire-format question name of NUMBER's ENUM name (RFC 6116 §2.4)."""
    labels = list(reversed(number.lstrip("+"))) + [l for l in suffix.strip(".").split(".") if l]
    return b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\0"


def naptr_query(qid, qname):
    # no RD: an authoritative server is asked, never a resolver
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", NAPTR, IN)


def register_request(user, domain, call_id, cseq, auth):
    return (f"REGISTER sip:{domain} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP {PRIV_IP}:{PRIV_PORT};branch={branch()};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag=v{os.urandom(4).hex()}\r\n"
            f"To: <sip:{user}@{domain}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{user}@{PRIV_IP}:{PRIV_PORT};transport=tcp>\r\nExpires: 3600\r\n"
            + (f"Authorization: {auth}\r\n" if auth else "")
            + "User-Agent: dns-visible\r\nContent-Length: 0\r\n\r\n")


def final_response(conn, deadline):
    """The next final response on `conn` (bounded by `deadline`)."""
    while time.monotonic() < deadline:
        r, _, _ = select.select([conn.sock], [], [], max(0.0, deadline - time.monotonic()))
        for m in conn.read_msgs() if r else []:
            if m.is_response and m.status >= 200:
                return m
    raise RuntimeError("no final response to REGISTER")


class Prober:
    def __init__(self, a):
        host, port = a.sip.rsplit(":", 1)
        self.sip = (host, int(port))
        dhost, dport = a.dns.rsplit(":", 1)
        self.dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.dns.connect((dhost, int(dport)))
        self.a, self.domain = a, a.domain or host
        self.conns = []
        self.qid = int.from_bytes(os.urandom(2), "big")

    def one(self, number, password):
        """(send->visible, ok->visible, send->ok) in ns for one number; None
        for a latency not seen within --visible-timeout; and the polls made."""
        a = self.a
        conn = Conn(self.sip, a.local_ip)
        self.conns.append(conn)
        call_id = f"vis-{number}-{os.urandom(4).hex()}"
        conn.send(register_request(number, self.domain, call_id, 1, None))
        r = final_response(conn, time.monotonic() + 5)
        if r.status != 401:
            raise RuntimeError(f"{number}: REGISTER got {r.first}, expected a 401 challenge")
        auth = digest_header(r.get("www-authenticate"), "REGISTER", f"sip:{self.domain}", number, password)
        qname = enum_qname(number, a.enum_suffix)
        needle = f"!sip:{number}@{self.domain}!".encode()
        conn.send(register_request(number, self.domain, call_id, 2, auth))
        t_send = time.perf_counter_ns()
        t_ok = t_vis = None
        deadline = time.monotonic() + a.visible_timeout
        polls, waiting, next_poll = 0, None, 0.0
        while (t_ok is None or t_vis is None) and time.monotonic() < deadline:
            now = time.monotonic()
            if t_vis is None and waiting is None and now >= next_poll:
                self.qid = (self.qid + 1) & 0xFFFF
                waiting = (self.qid, now + 0.2)       # a lost answer is asked again after 200 ms
                self.dns.send(naptr_query(self.qid, qname))
                polls += 1
            wake = [deadline]
            if waiting:
                wake.append(waiting[1])
            elif t_vis is None:
                wake.append(next_poll)
            rd, _, _ = select.select([conn.sock, self.dns], [], [], max(0.0, min(wake) - time.monotonic()))
            if conn.sock in rd:
                for m in conn.read_msgs():
                    if m.is_response and m.status >= 200 and m.cseq_method() == "REGISTER":
                        if m.status != 200:
                            raise RuntimeError(f"{number}: authenticated REGISTER got {m.first}")
                        t_ok = time.perf_counter_ns()
            if self.dns in rd:
                data = self.dns.recv(65535)
                if waiting and len(data) >= 12 and struct.unpack("!H", data[:2])[0] == waiting[0]:
                    if needle in data:
                        t_vis = time.perf_counter_ns()
                    waiting, next_poll = None, time.monotonic() + a.poll_ms / 1000.0
            elif waiting and time.monotonic() >= waiting[1]:
                waiting = None
        lat = lambda t0, t1: t1 - t0 if t0 is not None and t1 is not None else None   # noqa: E731
        return lat(t_send, t_vis), lat(t_ok, t_vis), lat(t_send, t_ok), polls

    def close(self):
        for c in self.conns:
            try:
                c.sock.close()
            except OSError:
                pass
        self.dns.close()


def signed_quantiles_us(v):
    """quantiles_us for values that may be negative (ok->visible)."""
    lo = min(v, default=0)
    q = quantiles_us([x - lo for x in v])
    return {k: (round(x + lo / 1000.0, 1) if x is not None else None) for k, x in q.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sip", required=True, help="SIP server HOST:PORT (TCP) the numbers register with")
    ap.add_argument("--dns", required=True, help="DNS server HOST:PORT (UDP) to poll: the switch's, or the one it pushes to")
    ap.add_argument("--users", required=True, help="NUMBER;PASSWORD lines (numbers provisioned, not registered)")
    ap.add_argument("--count", type=int, default=1000, help="numbers to measure (the first COUNT of --users)")
    ap.add_argument("--domain", help="SIP domain, also in the live NAPTR (default: the --sip host)")
    ap.add_argument("--enum-suffix", default="e164.arpa.")
    ap.add_argument("--local-ip", default="127.0.0.1", help="source address of the TCP flows")
    ap.add_argument("--poll-ms", type=float, default=1.0, help="pause after an answer without the record")
    ap.add_argument("--visible-timeout", type=float, default=5.0, help="seconds to wait per number")
    ap.add_argument("--timeout", type=float, default=600.0, help="whole run, seconds")
    ap.add_argument("--json", help="write the samples and the summary here")
    a = ap.parse_args()
    for hostport in (a.sip, a.dns):
        if not hostport.startswith("127."):
            ap.error(f"{hostport}: loopback (127.0.0.0/8) only")
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("dns_visible: --timeout reached"))
    signal.alarm(int(a.timeout))
    with open(a.users) as f:
        users = [l.strip().split(";", 1) for l in f if l.strip()][:a.count]
    p = Prober(a)
    samples = []
    try:
        for number, password in users:
            send_vis, ok_vis, send_ok, polls = p.one(number, password)
            samples.append({"number": number, "send_to_visible_ns": send_vis, "ok_to_visible_ns": ok_vis,
                            "send_to_ok_ns": send_ok, "polls": polls})
    finally:
        p.close()
    seen = [s for s in samples if s["send_to_visible_ns"] is not None]
    res = {"sip": a.sip, "dns": a.dns, "count": len(samples), "visible": len(seen),
           "not_visible": len(samples) - len(seen), "poll_ms": a.poll_ms,
           "send_to_visible": quantiles_us([s["send_to_visible_ns"] for s in seen]),
           "ok_to_visible": signed_quantiles_us([s["ok_to_visible_ns"] for s in seen if s["ok_to_visible_ns"] is not None]),
           "send_to_ok": quantiles_us([s["send_to_ok_ns"] for s in samples if s["send_to_ok_ns"] is not None]),
           "polls_max": max((s["polls"] for s in samples), default=None),
           "samples": samples}
    sv, ov = res["send_to_visible"], res["ok_to_visible"]
    say(f"{len(seen)}/{len(samples)} visible at {a.dns}; REGISTER sent -> visible p50/p99/max "
        f"{sv['p50_us']}/{sv['p99_us']}/{sv['max_us']} us; 200 OK -> visible p50/p99/max "
        f"{ov['p50_us']}/{ov['p99_us']}/{ov['max_us']} us")
    if a.json:
        write_json(a.json, res)
    return 0 if not res["not_visible"] else 1


if __name__ == "__main__":
    sys.exit(main())
