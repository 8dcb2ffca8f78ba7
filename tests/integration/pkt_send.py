#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Sends one known packet from SRC:SPORT to DST:DPORT: pkt_send.py udp|syn SRC SPORT DST DPORT [SIZE]

udp: a datagram of SIZE payload bytes (default 32). syn: a TCP connection attempt, closed at
once, so that its SYN goes out once and is never retransmitted.
"""
import socket
import sys

kind, src, sport, dst, dport = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
size = int(sys.argv[6]) if len(sys.argv) > 6 else 32
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, sport))
if kind == "udp":
    s.sendto(b"x" * size, (dst, dport))
else:
    s.setblocking(False)
    try:
        s.connect((dst, dport))
    except BlockingIOError:
        pass
s.close()
