#!/usr/bin/env python3
"""What a switch holding idle registered TCP flows does while nothing happens
(issue 17 item 1): counts, not times, so a loaded machine gives the same answer.

Provisions N numbers (`switch subscriber import`), starts the switch on
127.0.0.1:PORT, registers each number with digest (MD5, as registrar.sh) on
its own TCP connection, then, with every connection open and silent, counts
for SECONDS s the switch's syscalls per thread (`strace -c -f`) and its context
switches and wakeups (`perf stat`). The switch is started and stopped by PID.

    scripts/bench/lib/idle_flows.py target/release/switch [--flows 2000] [--seconds 10]
"""
import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REALM = "127.0.0.1"


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def read_response(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before a response")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode(), rest


def register(sock, port, user, password, local_port):
    uri = f"sip:127.0.0.1:{port}"

    def request(cseq, auth):
        return (f"REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5999;branch=z9hG4bK{user}{cseq};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{user}@{REALM}>;tag={local_port}\r\nTo: <sip:{user}@{REALM}>\r\n"
                f"Call-ID: {user}-idle@127.0.0.2\r\nCSeq: {cseq} REGISTER\r\n"
                f"Contact: <sip:{user}@127.0.0.2:5999;transport=tcp>\r\nExpires: 3600\r\n{auth}"
                "Content-Length: 0\r\n\r\n").encode()

    sock.sendall(request(1, ""))
    head, rest = read_response(sock, b"")
    if " 401 " not in head.split("\r\n")[0]:
        raise RuntimeError(f"{user}: expected 401, got {head.splitlines()[0]}")
    nonce = re.search(r'nonce="([^"]+)"', head).group(1)
    opaque = re.search(r'opaque="([^"]*)"', head)
    ha1 = md5(f"{user}:{REALM}:{password}")
    ha2 = md5("REGISTER:" + uri)
    if re.search(r'qop="?[^"]*auth', head):
        response = md5(f"{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}")
        qop = ', qop=auth, nc=00000001, cnonce="0a4f113b"'
    else:
        response, qop = md5(f"{ha1}:{nonce}:{ha2}"), ""
    auth = (f'Authorization: Digest username="{user}", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5{qop}'
            + (f', opaque="{opaque.group(1)}"' if opaque else "") + "\r\n")
    sock.sendall(request(2, auth))
    head, _ = read_response(sock, rest)
    if " 200 " not in head.split("\r\n")[0]:
        raise RuntimeError(f"{user}: expected 200, got {head.splitlines()[0]}")


def provisioned_switch(binary, work, flows, port, prefix=()):
    """Provisions u00001..uN (`switch subscriber import` into WORK/data),
    starts the switch on 127.0.0.1:PORT (after `prefix`, e.g. heaptrack) with
    its log in WORK/switch.log, and waits until it listens: (process, users)."""
    users = [(f"u{i:05d}", f"pw{i:05d}") for i in range(1, flows + 1)]
    csv = os.path.join(work, "subscribers.csv")
    with open(csv, "w") as f:
        f.writelines(f"{u};{p}\n" for u, p in users)
    data = os.path.join(work, "data")
    subprocess.run([binary, "subscriber", "import", csv, "--realm", REALM, "--data-dir", data],
                   check=True, capture_output=True, timeout=600)
    cmd = list(prefix) + [binary, "run", "--listen", f"tcp:127.0.0.1:{port}", "--data-dir", data, "--domain", REALM,
                          "--max-connections-per-ip", "16384", "--digest-algorithms", "md5"]
    log = open(os.path.join(work, "switch.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "warn"})
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, users
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("the switch did not start listening")
            time.sleep(0.1)


def stop_switch(proc):
    """Stops the switch this script started (by its process), if it still runs."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("switch")
    ap.add_argument("--flows", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--port", type=int, default=25090)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="idle-flows-")
    proc = None
    socks = []
    try:
        proc, users = provisioned_switch(args.switch, work, args.flows, args.port)
        for user, password in users:
            s = socket.create_connection(("127.0.0.1", args.port), timeout=30)
            register(s, args.port, user, password, s.getsockname()[1])
            socks.append(s)
        print(f"{len(socks)} flows registered and held; counting {args.seconds} s", flush=True)
        time.sleep(1)  # let the last commits and log lines settle
        strace_out = os.path.join(work, "strace.txt")
        strace = subprocess.Popen(["strace", "-c", "-f", "-q", "-o", strace_out, "-p", str(proc.pid)])
        perf = subprocess.run(["perf", "stat", "-x", ",", "-e", "context-switches,cpu-migrations,task-clock",
                               "-p", str(proc.pid), "--", "sleep", str(args.seconds)],
                              capture_output=True, text=True)
        strace.send_signal(2)
        strace.wait(timeout=30)
        threads = sorted(os.listdir(f"/proc/{proc.pid}/task"))
        names = {}
        for t in threads:
            with open(f"/proc/{proc.pid}/task/{t}/comm") as f:
                name = f.read().strip()
            names[name] = names.get(name, 0) + 1
        print(f"threads: {names}")
        print("perf stat (whole process, while strace is attached):")
        print(perf.stderr.strip())
        print(f"strace -c -f over {args.seconds} s:")
        with open(strace_out) as f:
            print(f.read())
        still = sum(1 for s in socks if s.fileno() >= 0)
        print(f"flows still open: {still}")
    finally:
        for s in socks:
            s.close()
        stop_switch(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
