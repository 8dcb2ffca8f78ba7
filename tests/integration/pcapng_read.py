#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Prints each packet of a pcapng file as "CAPLEN LEN COMMENT": pcapng_read.py FILE

For the comments, which tcpdump does not print (tshark would, but would bring all of Wireshark).
Reads one section of Enhanced Packet Blocks, in either byte order; fails on a malformed block.
"""
import struct
import sys

data = open(sys.argv[1], "rb").read()
if data[:4] != b"\x0a\x0d\x0d\x0a":
    sys.exit("not pcapng")
order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
at = 0
while at < len(data):
    btype, blen = struct.unpack_from(order + "II", data, at)
    if blen < 12 or blen % 4 or at + blen > len(data):
        sys.exit("bad block length %d at %d" % (blen, at))
    if struct.unpack_from(order + "I", data, at + blen - 4)[0] != blen:
        sys.exit("trailing length differs at %d" % at)
    if btype == 6:
        caplen, origlen = struct.unpack_from(order + "II", data, at + 20)
        opt = at + 28 + (caplen + 3) // 4 * 4
        comment = ""
        while opt < at + blen - 4:
            code, olen = struct.unpack_from(order + "HH", data, opt)
            if code == 0:
                break
            if code == 1:
                comment = data[opt + 4 : opt + 4 + olen].decode()
            opt += 4 + (olen + 3) // 4 * 4
        print(caplen, origlen, comment)
    at += blen
