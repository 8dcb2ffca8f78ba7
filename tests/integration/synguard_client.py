# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Clients for test_synguard.sh.

  hold HOST PORT           connect, print the connection's options (as info does), then keep
                           it open until stdin closes
  serve PORT               accept one connection, print its options, serve it until it closes
  fetch HOST PORT N        N sequential GETs on fresh connections, 1 s each at most;
                           prints how many got a response
  forge SRC DST PORT       one bare ACK with a made-up cookie, through a raw socket
  measure HOST PORT SECS   sequential GETs for SECS seconds, 1 s each at most; prints JSON:
                           requests, served, p99 latency in ms (failures count as 1 s)
"""
import json
import time
import random
import socket
import struct
import sys


def info(s):
    """Timestamps and SACK on or off, and the window scales, from TCP_INFO."""
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    opts = b[5]
    return "ts=%d sack=%d snd_wscale=%d rcv_wscale=%d" % (
        opts & 1, (opts >> 1) & 1, b[6] & 15, b[6] >> 4)


def hold(host, port):
    s = socket.create_connection((host, port), timeout=5)
    print(info(s), flush=True)
    sys.stdin.read()
    s.close()


def serve(port):
    ls = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
    c, _ = ls.accept()
    print(info(c), flush=True)
    while c.recv(4096):
        pass


def fetch(host, port, n):
    got = 0
    for _ in range(n):
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1."):
                    got += 1
        except OSError:
            pass
    print(got)


def measure(host, port, secs):
    lat = []
    served = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        t0 = time.monotonic()
        ok = False
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                ok = s.recv(12).startswith(b"HTTP/1.")
        except OSError:
            pass
        served += ok
        lat.append(time.monotonic() - t0 if ok else 1.0)
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0
    print(json.dumps({"requests": len(lat), "served": served, "p99_ms": round(p99 * 1000, 2)}))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def forge(src, dst, port):
    sport = random.randint(40000, 60000)
    seq, ack = random.getrandbits(32), random.getrandbits(32)
    hdr = struct.pack("!HHIIBBHHH", sport, port, seq, ack, 5 << 4, 0x10, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", checksum(pseudo + hdr)) + hdr[18:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.bind((src, 0))
    s.sendto(hdr, (dst, 0))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "hold":
        hold(args[0], int(args[1]))
    elif cmd == "serve":
        serve(int(args[0]))
    elif cmd == "fetch":
        fetch(args[0], int(args[1]), int(args[2]))
    elif cmd == "measure":
        measure(args[0], int(args[1]), float(args[2]))
    elif cmd == "forge":
        forge(args[0], args[1], int(args[2]))
    else:
        sys.exit(__doc__)
