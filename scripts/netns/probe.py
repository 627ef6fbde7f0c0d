#!/usr/bin/env python3
"""Reachability probes for the netns topology (run inside a namespace with
`ip netns exec NS`). Every command is bounded in time and exits 0 on success.

  probe.py tcp-echo-server IP PORT SECONDS   echo TCP lines back for SECONDS
  probe.py udp-echo-server IP PORT SECONDS   echo UDP datagrams back for SECONDS
  probe.py tcp-connect IP PORT               exit 0 when a connection opens within 3 s
  probe.py udp-ping IP PORT [FROM_PORT]      exit 0 when a datagram comes back within 2 s
  probe.py tcp-hold IP PORT FROM_PORT GATE   connect from FROM_PORT, echo once, then wait
                                             (<= 30 s) for file GATE to exist, echo again and
                                             print "second=ok", "second=timeout" or "second=reset"
"""
import os
import socket
import sys
import time


def tcp_echo_server(ip, port, seconds):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, int(port)))
    s.listen(16)
    s.settimeout(0.2)
    conns = []
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            c, _ = s.accept()
            c.setblocking(False)
            conns.append(c)
        except socket.timeout:
            pass
        for c in list(conns):
            try:
                data = c.recv(4096)
                if data:
                    c.sendall(data)
                else:
                    conns.remove(c)
            except BlockingIOError:
                pass
            except OSError:
                conns.remove(c)


def udp_echo_server(ip, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, int(port)))
    s.settimeout(0.2)
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            data, addr = s.recvfrom(2048)
            s.sendto(data, addr)
        except socket.timeout:
            pass


def tcp_connect(ip, port):
    try:
        socket.create_connection((ip, int(port)), timeout=3).close()
        return 0
    except OSError as e:
        print(f"tcp-connect {ip}:{port}: {e}")
        return 1


def udp_ping(ip, port, from_port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", int(from_port)))
    s.settimeout(0.4)
    for _ in range(5):
        s.sendto(b"ping", (ip, int(port)))
        try:
            if s.recv(2048) == b"ping":
                return 0
        except OSError:
            pass
    print(f"udp-ping {ip}:{port}: no echo")
    return 1


def echo_once(c):
    c.sendall(b"hello\n")
    return c.recv(64) == b"hello\n"


def tcp_hold(ip, port, from_port, gate):
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("", int(from_port)))
    c.settimeout(3)
    c.connect((ip, int(port)))
    if not echo_once(c):
        print("first=failed")
        return 1
    print("first=ok", flush=True)
    end = time.time() + 30
    while not os.path.exists(gate):
        if time.time() > end:
            print("gate never opened")
            return 1
        time.sleep(0.05)
    try:
        print("second=ok" if echo_once(c) else "second=closed")
    except socket.timeout:
        print("second=timeout")
    except ConnectionResetError:
        print("second=reset")
    return 0


def main(argv):
    cmds = {"tcp-echo-server": tcp_echo_server, "udp-echo-server": udp_echo_server,
            "tcp-connect": tcp_connect, "udp-ping": udp_ping, "tcp-hold": tcp_hold}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
