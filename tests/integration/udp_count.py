#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Counts UDP datagrams per source address on ADDR:PORT until SIGTERM, then writes
"SOURCE COUNT" lines to OUTFILE: udp_count.py ADDR PORT OUTFILE"""
import collections
import signal
import socket
import sys

addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((addr, port))
counts = collections.Counter()
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
s.settimeout(0.2)
with open(out + ".ready", "w"):
    pass
while running:
    try:
        _, src = s.recvfrom(2048)
        counts[src[0]] += 1
    except socket.timeout:
        pass
    except InterruptedError:
        pass
with open(out, "w") as f:
    for src, n in counts.items():
        f.write(f"{src} {n}\n")
