#!/usr/bin/env python3
"""Relay transit probe: sets up N calls through each of several SIP servers that
anchor media (our switch, Kamailio + rtpengine) and has `relay-transit`
(scripts/bench/transit, Rust) send timestamped RTP through every relay, and
straight over loopback, in the same run, interleaved packet by packet.

    relay_probe.py --transit target/release/relay-transit \
        --server switch=127.0.0.1:25070 --server rtpengine=127.0.0.1:25060 \
        --streams 50 --seconds 21 --json out.json

Why this method: transit through each relay is measured in one run, on one
clock (CLOCK_MONOTONIC in one process), each 20 ms slot sending the same
stream's packets through every relay back to back; so the p50/p99/p99.9 of the
relays are compared side by side (and as a ratio to the first server), not as
differences of tails measured in separate runs (which cannot rank tails).

This script does the SIP, per server:
  * the callee registers over its own TCP connection (digest when challenged)
    advertising an unreachable private address (127.0.0.2:5999 in Via/Contact,
    127.0.0.2 in its SDP), as the SIPp callee of the calls bench does: the
    relay must send to the flow's source IP and the SDP port;
  * the caller sends INVITE sip:callee@DOMAIN over its own TCP connection
    (answering 407 with digest when --caller-auth NAME=USER:PW is given); the
    k-th INVITE reaching the callee is answered with the k-th callee socket.
The media sockets are relay-transit's (it prints their ports; this script
tells it where each sends, then GO).  Packets sent in the first --warmup
seconds are not counted (latching).  Relay-transit's result: per lane sent,
received, lost, pps, transit p50/p90/p99/p99.9/max (us), ratios to the first.

--flood S then sends each relay's streams alone, flat out from one thread, for
S seconds: received packets/s with the relay's CPU is the saturation figure.

Bounded: --timeout (whole run, SIGALRM), every wait has a deadline, loopback
addresses only.  Prints "PHASE relay start|end" and "PHASE flood-NAME
start|end" lines (from relay-transit) so a caller can sample the relays' CPU.
"""

import argparse
import hashlib
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time

PRIV_IP, PRIV_PORT = "127.0.0.2", 5999
PAYLOAD = 160          # G.711, 20 ms at 8 kHz
PERIOD = 0.020
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type"}


def say(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# ----------------------------------------------------------------------------
# SIP over TCP: framing, parsing, digest
# ----------------------------------------------------------------------------
class Msg:
    def __init__(self, first, headers, body):
        self.first, self.headers, self.body = first, headers, body   # headers: [(lname, value)]

    @property
    def is_response(self):
        return self.first.startswith("SIP/2.0 ")

    @property
    def status(self):
        return int(self.first.split()[1]) if self.is_response else None

    @property
    def method(self):
        return None if self.is_response else self.first.split()[0]

    def all(self, name):
        return [v for n, v in self.headers if n == name]

    def get(self, name):
        v = self.all(name)
        return v[0] if v else None

    def cseq_method(self):
        return (self.get("cseq") or "0 X").split()[-1]


class Conn:
    """One TCP connection to the server, bound to a chosen loopback IP."""

    def __init__(self, server, local_ip):
        self.sock = socket.create_connection(server, timeout=5, source_address=(local_ip, 0))
        self.sock.setblocking(False)
        self.local = self.sock.getsockname()
        self.buf = b""

    def send(self, text):
        data = text.replace("\n", "\r\n").encode() if "\r\n" not in text else text.encode()
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def read_msgs(self):
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return []
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk
        out = []
        while True:
            self.buf = self.buf.lstrip(b"\r\n")          # CRLF keep-alives
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end].decode(errors="replace").split("\r\n")
            headers = []
            for line in head[1:]:
                if line[:1] in (" ", "\t") and headers:       # folded line
                    headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
                    continue
                n, _, v = line.partition(":")
                n = n.strip().lower()
                headers.append((COMPACT.get(n, n), v.strip()))
            clen = int(dict(headers).get("content-length", "0") or 0)
            if len(self.buf) < end + 4 + clen:
                break
            body = self.buf[end + 4:end + 4 + clen].decode(errors="replace")
            self.buf = self.buf[end + 4 + clen:]
            out.append(Msg(head[0], headers, body))
        return out


def digest_header(challenge, method, uri, user, password, nc=1):
    params = {k.lower(): (a or b) for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', challenge)}
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    algo = params.get("algorithm", "MD5")
    if algo.upper() != "MD5":
        raise RuntimeError(f"challenge with algorithm {algo}: only MD5 here")
    h = lambda s: hashlib.md5(s.encode()).hexdigest()   # noqa: E731
    ha1, ha2 = h(f"{user}:{realm}:{password}"), h(f"{method}:{uri}")
    out = f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5'
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce, ncs = os.urandom(8).hex(), f"{nc:08x}"
        resp = h(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        out += f', response="{resp}", qop=auth, nc={ncs}, cnonce="{cnonce}"'
    else:
        out += f', response="{h(f"{ha1}:{nonce}:{ha2}")}"'
    if "opaque" in params:
        out += f', opaque="{params["opaque"]}"'
    return out


def sdp_target(body, fallback_ip=None):
    """(ip, port) of the first audio m-line (media c= else session c=)."""
    ip, port = None, None
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("c=") and (ip is None or port is not None):
            ip = line.split()[-1]
        elif line.startswith("m=audio") and port is None:
            port = int(line.split()[1])
    if port is None:
        raise RuntimeError("no audio m-line in SDP")
    return (ip or fallback_ip, port)


def sdp(ip, port, sess):
    return (f"v=0\r\no=probe {sess} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\n")


def branch():
    return "z9hG4bK" + os.urandom(8).hex()


# ----------------------------------------------------------------------------
# the two parties
# ----------------------------------------------------------------------------
class Probe:
    """One server's N calls; the media ports are relay-transit's."""

    def __init__(self, a, server, caller_auth, caller_ports, callee_ports):
        self.a = a
        host, port = server.rsplit(":", 1)
        self.server = (host, int(port))
        self.domain = a.domain or host
        self.caller_auth = caller_auth
        self.n = a.streams
        self.caller_ports, self.callee_ports = caller_ports, callee_ports
        self.callee = None
        self.caller = None
        self.calls = []            # per stream: dict(call_id, tag, remote_tag, route, target, relay_caller, relay_callee)
        self.callee_invites = []   # INVITE SDP targets in arrival order (relay's callee legs)
        self.callee_dialogs = {}
        self.callee_last = None
        self.caller_last = []

    # -- event pump over both TCP connections --------------------------------
    def pump(self, done, secs, what):
        deadline = time.time() + secs
        while not done():
            if time.time() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            socks = [c.sock for c in (self.callee, self.caller) if c]
            sel = selectors.DefaultSelector()
            for s in socks:
                sel.register(s, selectors.EVENT_READ)
            ev = sel.select(0.2)
            sel.close()
            for key, _ in ev:
                conn = self.callee if self.callee and key.fileobj is self.callee.sock else self.caller
                for m in conn.read_msgs():
                    (self.on_callee if conn is self.callee else self.on_caller)(m)

    def on_callee(self, m):
        c = self.callee
        if m.is_response:
            self.callee_last = m
            return
        if m.method == "INVITE":
            k = len(self.callee_invites)
            if k >= self.n:
                self.reply(c, m, "486 Busy Here", totag=None)
                return
            self.callee_invites.append(sdp_target(m.body))
            tag = f"cl{k}"
            self.callee_dialogs[m.get("call-id")] = tag
            port = self.callee_ports[k]
            self.reply(c, m, "200 OK", totag=tag, body=sdp(PRIV_IP, port, 2000 + k),
                       contact=f"<sip:callee@{PRIV_IP}:{PRIV_PORT};transport=tcp>")
        elif m.method in ("BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO"):
            self.reply(c, m, "200 OK", totag=self.callee_dialogs.get(m.get("call-id")))
        # ACK: nothing to do

    def reply(self, conn, req, status, totag, body="", contact=None):
        to = req.get("to")
        if totag and ";tag=" not in to:
            to += f";tag={totag}"
        lines = [f"SIP/2.0 {status}"]
        lines += [f"Via: {v}" for v in req.all("via")]
        lines += [f"Record-Route: {v}" for v in req.all("record-route")]
        lines += [f"From: {req.get('from')}", f"To: {to}", f"Call-ID: {req.get('call-id')}",
                  f"CSeq: {req.get('cseq')}"]
        if contact:
            lines.append(f"Contact: {contact}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        conn.send("\r\n".join(lines) + "\r\n\r\n" + body)

    def on_caller(self, m):
        if m.is_response:
            self.caller_last.append(m)
        elif m.method == "BYE":
            self.reply(self.caller, m, "200 OK", totag=None)
        elif m.method != "ACK":
            self.reply(self.caller, m, "200 OK", totag=None)

    # -- registration ------------------------------------------------------------
    def register(self):
        a = self.a
        self.callee = Conn(self.server, a.callee_ip)
        user, pw = a.callee.split(":", 1)
        call_id, auth, cseq = f"reg-{os.urandom(6).hex()}", None, 1
        for _ in range(3):
            req = (f"REGISTER sip:{self.domain} SIP/2.0\r\n"
                   f"Via: SIP/2.0/TCP {PRIV_IP}:{PRIV_PORT};branch={branch()};rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:{user}@{self.domain}>;tag=r{os.urandom(4).hex()}\r\n"
                   f"To: <sip:{user}@{self.domain}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
                   f"Contact: <sip:{user}@{PRIV_IP}:{PRIV_PORT};transport=tcp>\r\nExpires: 3600\r\n"
                   + (f"Authorization: {auth}\r\n" if auth else "")
                   + "User-Agent: relay-probe\r\nContent-Length: 0\r\n\r\n")
            self.callee_last = None
            self.callee.send(req)
            self.pump(lambda: self.callee_last is not None and self.callee_last.status >= 200, 10, "REGISTER reply")
            r = self.callee_last
            if r.status == 200:
                say(f"callee {user} registered from {self.callee.local}")
                return
            if r.status in (401, 407) and auth is None:
                ch = r.get("www-authenticate") or r.get("proxy-authenticate")
                auth = digest_header(ch, "REGISTER", f"sip:{self.domain}", user, pw)
                cseq += 1
                continue
            raise RuntimeError(f"REGISTER failed: {r.first}")
        raise RuntimeError("REGISTER: too many challenges")

    # -- calls ----------------------------------------------------------------------
    def invite(self, i):
        a = self.a
        call_id, tag = f"probe-{i}-{os.urandom(6).hex()}", f"c{i}"
        port = self.caller_ports[i]
        body = sdp(a.caller_ip, port, 1000 + i)
        lip, lport = self.caller.local
        auth_hdr, cseq = None, 1
        for _ in range(3):
            br = branch()
            req_uri = f"sip:{a.callee_number}@{self.domain}"
            head = (f"INVITE {req_uri} SIP/2.0\r\nVia: SIP/2.0/TCP {lip}:{lport};branch={br};rport\r\n"
                    f"Max-Forwards: 70\r\nFrom: <sip:{a.caller_number}@{self.domain}>;tag={tag}\r\n"
                    f"To: <sip:{a.callee_number}@{self.domain}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n"
                    f"Contact: <sip:{a.caller_number}@{lip}:{lport};transport=tcp>\r\n"
                    + (f"{auth_hdr}\r\n" if auth_hdr else "")
                    + f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n")
            self.caller_last = []
            self.caller.send(head + body)
            final = lambda: any(r.status >= 200 and r.cseq_method() == "INVITE" for r in self.caller_last)  # noqa: E731
            self.pump(final, self.a.setup_timeout, f"INVITE {i} final response")
            r = next(r for r in self.caller_last if r.status >= 200 and r.cseq_method() == "INVITE")
            if r.status in (401, 407) and self.caller_auth and auth_hdr is None:
                # ACK the challenge (same branch: it belongs to the INVITE transaction)
                self.caller.send(f"ACK {req_uri} SIP/2.0\r\nVia: SIP/2.0/TCP {lip}:{lport};branch={br};rport\r\n"
                                 f"Max-Forwards: 70\r\nFrom: <sip:{a.caller_number}@{self.domain}>;tag={tag}\r\n"
                                 f"To: {r.get('to')}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n")
                user, pw = self.caller_auth.split(":", 1)
                ch = r.get("proxy-authenticate") or r.get("www-authenticate")
                name = "Proxy-Authorization" if r.status == 407 else "Authorization"
                auth_hdr = f"{name}: " + digest_header(ch, "INVITE", req_uri, user, pw)
                cseq += 1
                continue
            if r.status != 200:
                raise RuntimeError(f"INVITE {i} failed: {r.first}")
            break
        else:
            raise RuntimeError(f"INVITE {i}: too many challenges")
        to = r.get("to")
        route = list(reversed(r.all("record-route")))
        target = re.search(r"<([^>]+)>", r.get("contact") or "")
        call = {"call_id": call_id, "tag": tag, "to": to, "route": route, "cseq": cseq,
                "target": target.group(1) if target else req_uri,
                "relay_caller": sdp_target(r.body)}
        self.in_dialog(call, "ACK", cseq)
        self.calls.append(call)

    def in_dialog(self, call, method, cseq):
        a = self.a
        lip, lport = self.caller.local
        routes = "".join(f"Route: {x}\r\n" for x in call["route"])
        self.caller.send(f"{method} {call['target']} SIP/2.0\r\nVia: SIP/2.0/TCP {lip}:{lport};branch={branch()};rport\r\n"
                         f"{routes}Max-Forwards: 70\r\nFrom: <sip:{a.caller_number}@{self.domain}>;tag={call['tag']}\r\n"
                         f"To: {call['to']}\r\nCall-ID: {call['call_id']}\r\nCSeq: {cseq} {method}\r\n"
                         f"Content-Length: 0\r\n\r\n")

    def setup_calls(self):
        self.caller = Conn(self.server, self.a.caller_ip)
        t0 = time.time()
        for i in range(self.n):
            self.invite(i)
        # the callee must have seen (and we ACKed) every call
        self.pump(lambda: len(self.callee_invites) >= self.n, 5, "all INVITEs at the callee")
        say(f"{self.n} calls up in {time.time() - t0:.2f}s")

    def hangup(self):
        self.caller_last = []
        for c in self.calls:
            self.in_dialog(c, "BYE", c["cseq"] + 1)
        try:
            self.pump(lambda: sum(1 for r in self.caller_last if r.cseq_method() == "BYE" and r.status >= 200)
                      >= len(self.calls), 10, "BYE replies")
            ok = sum(1 for r in self.caller_last if r.cseq_method() == "BYE" and r.status == 200)
        except RuntimeError as e:
            say(f"hangup: {e}")
            ok = sum(1 for r in self.caller_last if r.cseq_method() == "BYE" and r.status == 200)
        say(f"{ok}/{len(self.calls)} BYEs answered 200")
        return ok


# ----------------------------------------------------------------------------
# relay-transit: the media half
# ----------------------------------------------------------------------------
class Transit:
    """relay-transit as a child: its sockets, then targets, then its result."""

    def __init__(self, a, lanes):
        # Real-time priority (root): the probe's threads sleep or block almost all the
        # time, and when a packet arrives their stamp must not wait for a loaded CPU.
        rt = ["chrt", "-f", str(a.rt_priority)] if a.rt_priority > 0 and os.geteuid() == 0 else []
        self.rt = bool(rt)
        argv = rt + [a.transit, "--lanes", ",".join(lanes), "--streams", str(a.streams), "--seconds", str(a.seconds),
                "--warmup", str(a.warmup), "--caller-ip", a.caller_ip, "--callee-ip", a.callee_ip,
                "--flood", str(a.flood)]
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ports = {lane: ([0] * a.streams, [0] * a.streams) for lane in lanes}
        for line in self.p.stdout:
            w = line.split()
            if w == ["READY"]:
                return
            if len(w) == 5 and w[0] == "SOCKET" and w[1] in self.ports:
                caller, callee = self.ports[w[1]]
                caller[int(w[2])], callee[int(w[2])] = int(w[3]), int(w[4])
        raise RuntimeError(f"relay-transit exited before READY (rc={self.p.wait()})")

    def run(self, targets):
        """targets[lane][i] = (caller socket's destination, callee socket's destination)."""
        for lane, per_stream in targets.items():
            for i, (c, e) in enumerate(per_stream):
                self.p.stdin.write(f"TARGET {lane} {i} {c[0]}:{c[1]} {e[0]}:{e[1]}\n")
        self.p.stdin.write("GO\n")
        self.p.stdin.flush()
        result = None
        for line in self.p.stdout:
            if line.startswith("PHASE transit "):
                say("PHASE relay " + line.split()[-1])
            elif line.startswith("PHASE flood-"):
                say(line.strip())
            elif line.strip() == "FLOOD?":
                # A flat-out sender at real-time priority would take a whole core from the
                # relays it floods: back to normal scheduling (every thread) first.
                if self.rt:
                    subprocess.run(["chrt", "-o", "-a", "-p", "0", str(self.p.pid)], check=False, timeout=10)
                self.p.stdin.write("go\n")
                self.p.stdin.flush()
            elif line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
        rc = self.p.wait()
        if result is None:
            raise RuntimeError(f"relay-transit gave no result (rc={rc})")
        return result


def named(values, what):
    """NAME=VALUE arguments as a dict, in order."""
    out = {}
    for v in values or []:
        name, sep, rest = v.partition("=")
        if not sep or not name or name == "direct":
            raise SystemExit(f"{what} {v!r}: expected NAME=VALUE (NAME not 'direct')")
        out[name] = rest
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transit", required=True, help="the relay-transit binary")
    ap.add_argument("--server", action="append", required=True, help="NAME=HOST:PORT (SIP over TCP); repeat")
    ap.add_argument("--caller-auth", action="append", help="NAME=NUMBER:PASSWORD answering a 407 on that server's INVITEs")
    ap.add_argument("--no-direct", action="store_true", help="no straight-over-loopback lane")
    ap.add_argument("--rt-priority", type=int, default=0, help="run relay-transit SCHED_FIFO at this priority (root; 0: no)")
    ap.add_argument("--domain", help="SIP domain (default: the server host)")
    ap.add_argument("--callee", default="callee:pwcallee", help="callee NUMBER:PASSWORD (registers)")
    ap.add_argument("--callee-number", default="callee")
    ap.add_argument("--caller-number", default="caller")
    ap.add_argument("--caller-ip", default="127.0.0.5")
    ap.add_argument("--callee-ip", default="127.0.0.6")
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=21.0, help="warm-up included")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--flood", type=float, default=0.0,
                    help="then each relay alone, its streams flat out, this many seconds (PHASE flood-NAME lines)")
    ap.add_argument("--setup-timeout", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=180.0, help="whole run")
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()
    servers, auth = named(a.server, "--server"), named(a.caller_auth, "--caller-auth")
    for ip in [a.caller_ip, a.callee_ip] + [s.rsplit(":", 1)[0] for s in servers.values()]:
        if not ip.startswith("127."):
            ap.error(f"{ip}: loopback (127.0.0.0/8) only")
    if not 1 <= a.streams <= 1000 or not a.warmup < a.seconds <= 600:
        ap.error("streams 1..1000, warmup < seconds <= 600")
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("relay_probe: --timeout reached"))
    signal.alarm(int(a.timeout))
    lanes = list(servers) + ([] if a.no_direct else ["direct"])
    transit = Transit(a, lanes)
    probes, targets = {}, {}
    for name, server in servers.items():
        caller_ports, callee_ports = transit.ports[name]
        p = probes[name] = Probe(a, server, auth.get(name), caller_ports, callee_ports)
        p.register()
        p.setup_calls()
        targets[name] = [(c["relay_caller"], p.callee_invites[i]) for i, c in enumerate(p.calls)]
    if "direct" in lanes:
        caller_ports, callee_ports = transit.ports["direct"]
        targets["direct"] = [((a.callee_ip, e), (a.caller_ip, c)) for c, e in zip(caller_ports, callee_ports)]
    res = {"streams": a.streams, "seconds": a.seconds, "warmup": a.warmup, "servers": servers,
           "packet_bytes": 12 + PAYLOAD, "pps_per_stream_each_way": round(1 / PERIOD),
           "relay_ports": {n: [{"caller_leg": list(c), "callee_leg": list(e)} for c, e in t[:2]]
                           for n, t in targets.items()}}
    out = transit.run(targets)
    res["transit"], res["flood"] = out["transit"], out["flood"]
    res["byes_ok"] = {name: p.hangup() for name, p in probes.items()}
    for name, lane in res["transit"]["lanes"].items():
        say(f"{name}: transit p50/p99/p99.9 {lane.get('p50_us')}/{lane.get('p99_us')}/{lane.get('p999_us')} us, "
            f"received {lane['received']}/{lane['sent']} ({lane['pps_received']} pps)")
    for name, f in res["flood"].items():
        say(f"{name} flooded: sent {f['sent_pps']} pps, received {f['received_pps']} pps, loss {f['loss_pct']}%")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
