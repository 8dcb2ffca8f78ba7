#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Sends COUNT UDP datagrams from SRC to DST:PORT, back to back: udp_send.py SRC DST PORT COUNT [SIZE]"""
import socket
import sys

src, dst, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
size = int(sys.argv[5]) if len(sys.argv) > 5 else 32
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.bind((src, 0))
payload = b"x" * size
for _ in range(count):
    s.sendto(payload, (dst, port))
