#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice events -w`: the dropped and monitored packets, as tcpdump -r reads them, with
# the first 128 bytes of each, its length, and its event's rule and reason as its comment.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

# sample 1: every drop makes an event, so the capture holds every packet sent.
cat >"$TMP/policy" <<'POLICY'
set events period 10s sample 1 ceiling 1000
block add 198.18.0.130
block add fd00:5::3
rule add mon udp dport 7777 action monitor
rule add shut tcp dport 5002 action drop
POLICY
check "restore the policy" sl restore "$TMP/policy"
# fd00:5::3's neighbour solicitations would be dropped too: the client is told the server's MAC.
srv_mac=$(in_srv ip -j link show dev "$SRV_IF" | jq -r ".[0].address")
in_cli ip -6 neigh replace "$SRV_IP6" lladdr "$srv_mac" dev "$CLI_IF" nud permanent

send() { in_cli python3 "$(dirname "$0")/pkt_send.py" "$@"; }
ev_count() { sl -j stats | jq -r ".events.$1"; }
# What tcpdump reads of a capture: no times, addresses and ports as numbers, sorted (events
# of different CPUs may be written out of order).
packets() { tcpdump -r "$1" -nn -t -q 2>/dev/null | LC_ALL=C sort; }
has_packets() { [ "$(packets "$1" | wc -l)" = "$2" ]; }

bg "$SRV" "$SLUICE" --pin-path "$PIN" events -w "$TMP/drops.pcapng" >"$TMP/out" 2>"$TMP/err"
events_pid=${bg_pids[-1]}
check "the writer is ready" wait_until 10 catches "$events_pid" 2 15
before=$(ev_count emitted)
send udp 198.18.0.130 40001 "$SRV_IP" 5001
send syn "$CLI_IP" 40002 "$SRV_IP" 5002
send udp "$CLI_IP" 40003 "$SRV_IP" 7777
send udp 198.18.0.130 40004 "$SRV_IP" 5003 958
send udp fd00:5::3 40005 "$SRV_IP6" 5004
check "five events emitted" wait_until 10 output_is $((before + 5)) ev_count emitted
# Each packet is flushed as it is written: a live capture reads to its last packet.
check "tcpdump -r reads the five packets in the live file" \
	wait_until 10 has_packets "$TMP/drops.pcapng" 5
kill -INT "$events_pid"
wait "$events_pid"
expect_eq "events -w exits 0 on SIGINT" "$?" 0
expect_eq "nothing on stdout" "$(cat "$TMP/out")" ""
expect_eq "the count on stderr" "$(cat "$TMP/err")" \
	"sluice: events: 5 packets written to $TMP/drops.pcapng"
expect_eq "tcpdump -r shows exactly the packets sent" "$(packets "$TMP/drops.pcapng")" \
	"IP 198.18.0.130.40001 > $SRV_IP.5001: UDP, length 32
IP 198.18.0.130.40004 > $SRV_IP.5003: UDP, length 958
IP $CLI_IP.40002 > $SRV_IP.5002: tcp 0
IP $CLI_IP.40003 > $SRV_IP.7777: UDP, length 32
IP6 fd00:5::3.40005 > $SRV_IP6.5004: UDP, length 32"
check "the file is Ethernet with a snapshot length of 128" \
	grep -qx "reading from file $TMP/drops.pcapng, link-type EN10MB (Ethernet), snapshot length 128" \
	<(tcpdump -r "$TMP/drops.pcapng" 2>&1 >/dev/null)
expect_eq "the 1000-byte frame: 128 bytes captured, length 1000" \
	"$(tcpdump -r "$TMP/drops.pcapng" -nn -t -e 'udp port 5003' 2>/dev/null | grep -o 'length 1000:' | wc -l) \
$(python3 "$(dirname "$0")/pcapng_read.py" "$TMP/drops.pcapng" | awk '$2 == 1000 { print $1 }')" \
	"1 128"
# A frame shorter than 128 bytes is captured whole: 74 bytes for 32 of UDP over IPv4 and
# for a SYN with its options, 94 for 32 of UDP over IPv6.
expect_eq "every packet's comment: its interface, verdict, reason, rule and sampling" \
	"$(python3 "$(dirname "$0")/pcapng_read.py" "$TMP/drops.pcapng" | LC_ALL=C sort)" \
	"128 1000 interface=$SRV_IF verdict=drop reason=blocklist sampled=1
74 74 interface=$SRV_IF verdict=drop reason=acl rule=shut sampled=1
74 74 interface=$SRV_IF verdict=drop reason=blocklist sampled=1
74 74 interface=$SRV_IF verdict=monitor reason=acl rule=mon sampled=1
94 94 interface=$SRV_IF verdict=drop reason=blocklist sampled=1"
# The wall clock: the packets were sent within the last minute.
first_s=$(tcpdump -r "$TMP/drops.pcapng" -tt 2>/dev/null | head -n 1 | cut -d. -f1)
[ $(($(date +%s) - first_s)) -ge 0 ] && [ $(($(date +%s) - first_s)) -lt 60 ] &&
	ok "the packets' times are the wall clock's" ||
	not_ok "the packets' times are the wall clock's (first at $first_s, now $(date +%s))"

# -w - writes the capture to stdout, and SIGTERM first writes what the ring holds: the
# writer is stopped while a packet is dropped, so it has read nothing when SIGTERM comes.
bg "$SRV" "$SLUICE" --pin-path "$PIN" events -w - >"$TMP/stdout.pcapng" 2>"$TMP/err"
events_pid=${bg_pids[-1]}
check "the stdout writer is ready" wait_until 10 catches "$events_pid" 2 15
kill -STOP "$events_pid"
check "the writer is stopped" wait_until 5 is_stopped "$events_pid"
before=$(ev_count emitted)
send udp 198.18.0.130 40006 "$SRV_IP" 5006
check "its event emitted" wait_until 10 output_is $((before + 1)) ev_count emitted
kill -TERM "$events_pid"
kill -CONT "$events_pid"
wait "$events_pid"
expect_eq "events -w - exits 0 on SIGTERM" "$?" 0
expect_eq "stdout holds the packet dropped before SIGTERM" "$(packets "$TMP/stdout.pcapng")" \
	"IP 198.18.0.130.40006 > $SRV_IP.5006: UDP, length 32"
expect_eq "the count on stderr" "$(cat "$TMP/err")" "sluice: events: 1 packet written to stdout"

# Into a pipe, read live by tcpdump -r -, which leaves after one packet: events ends at its
# next write (EPIPE), with status 0 and no error.
mkfifo "$TMP/fifo"
bg "$SRV" tcpdump -r "$TMP/fifo" -nn -t -q -c 1 >"$TMP/pipe.txt" 2>/dev/null
tcpdump_pid=${bg_pids[-1]}
bg "$SRV" "$SLUICE" --pin-path "$PIN" events -w - >"$TMP/fifo" 2>"$TMP/err"
events_pid=${bg_pids[-1]}
check "the pipe writer is ready" wait_until 10 catches "$events_pid" 2 15
send udp 198.18.0.130 40007 "$SRV_IP" 5007
check "tcpdump -r - read the packet and left" wait_until 10 is_gone "$tcpdump_pid"
sport=40008
drop_until_gone() {
	send udp 198.18.0.130 $((sport++)) "$SRV_IP" 5008
	is_gone "$events_pid"
}
check "events leaves once its reader has" wait_until 10 drop_until_gone
wait "$events_pid"
expect_eq "... with status 0" "$?" 0
expect_eq "tcpdump -r - read the packet live" "$(cat "$TMP/pipe.txt")" \
	"IP 198.18.0.130.40007 > $SRV_IP.5007: UDP, length 32"
expect_eq "events says how many it wrote, and nothing else" \
	"$(sed -E 's/^sluice: events: [0-9]+ packets? written to stdout$/COUNT/' "$TMP/err")" COUNT

# The drops sent until the writer above noticed its reader had gone may still be in the
# ring: a reader stopped by SIGTERM takes them all, so the next one starts from none.
bg "$SRV" "$SLUICE" --pin-path "$PIN" events -w "$TMP/drain.pcapng" 2>/dev/null
events_pid=${bg_pids[-1]}
check "a reader drains the ring" wait_until 10 catches "$events_pid" 2 15
kill -TERM "$events_pid"
wait "$events_pid"

# No event: still a valid capture, of no packet.
bg "$SRV" "$SLUICE" --pin-path "$PIN" events -w "$TMP/empty.pcapng" 2>"$TMP/err"
events_pid=${bg_pids[-1]}
check "the writer is ready" wait_until 10 catches "$events_pid" 2 15
kill -TERM "$events_pid"
wait "$events_pid"
check "tcpdump -r reads a capture of no packet" tcpdump -r "$TMP/empty.pcapng"
expect_eq "... and finds none" "$(packets "$TMP/empty.pcapng")" ""

expect_exit "an unwritable file: exit 1" 1 sl events -w "$TMP/no/such/dir/x.pcapng"
expect_eq "... with one line that names it" "$(cat "$TMP/err")" \
	"sluice: events: -w $TMP/no/such/dir/x.pcapng: No such file or directory"
expect_exit "a full device: exit 1" 1 sl events -w /dev/full
expect_eq "... with one line that says so" "$(cat "$TMP/err")" \
	"sluice: events: -w /dev/full: No space left on device"
expect_exit "-w with -j: a usage error" 2 sl -j events -w "$TMP/x.pcapng"
check "... said in JSON" jq -e '.error | test("-w and -j")' "$TMP/out"
expect_exit "-w without a file: a usage error" 2 sl events -w
finish
