#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# attach, status, detach, and the error paths around them; the man page's FILES against
# a live pin directory.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }

expect_exit "attach to a missing interface exits 2" 2 sl attach nosuch0
grep -q "nosuch0: no such interface" "$TMP/err" && ok "missing interface is named" ||
	not_ok "missing interface is named: $(cat "$TMP/err")"
[ ! -e "$PIN" ] && ok "failed first attach leaves no pins" || not_ok "failed first attach leaves no pins"
expect_exit "bad --mode exits 2" 2 sl attach "$SRV_IF" --mode turbo
expect_exit "verbs before attach exit 1" 1 sl status
grep -q "nothing attached under $PIN" "$TMP/err" && ok "status says nothing is attached" ||
	not_ok "status says nothing is attached: $(cat "$TMP/err")"

check "attach native" sl attach "$SRV_IF" --mode native
expect_eq "status -j names the interface" \
	"$(sl -j status | jq -r '.interfaces[0].name + " " + .interfaces[0].mode')" "$SRV_IF native"
expect_eq "status -j shows it linked" "$(sl -j status | jq -r '.interfaces[0].linked')" true
expect_eq "pinned link exists" "$(ls "$PIN" | grep -c '^link_')" 1

# The man page matches the tree: its FILES lists every map pinned, and nothing else
# (sluice_allow and sluice_block are named there as not pinned); its -V example has
# the layout version.
MAN="$(dirname "$0")/../../doc/sluice.8"
man_maps=$(sed -n '/^\.SH FILES/,/^\.SH /p' "$MAN" | grep -o 'sluice_[a-z]*' |
	grep -vxE 'sluice_(allow|block)' | sort -u | tr '\n' ' ')
expect_eq "the man page's FILES lists the maps pinned" "$man_maps" \
	"$(ls "$PIN" | grep '^sluice_' | sort | tr '\n' ' ')"
layout=$("$SLUICE" -j -V | jq -r .layout_version)
expect_eq "the layout version in status is -V's" "$(sl -j status | jq -r .layout_version)" "$layout"
grep -qF "(layout version $layout)" "$MAN" && ok "the man page's -V example has layout version $layout" ||
	not_ok "the man page's -V example has layout version $layout: $(grep -F '(layout version' "$MAN")"
expect_eq "ip link shows the program" \
	"$(in_srv ip -j link show "$SRV_IF" | jq -r '.[0].xdp.prog.id')" \
	"$(sl -j status | jq -r '.interfaces[0].prog_id')"
expect_exit "attach to a missing interface beside a live one exits 2" 2 sl attach nosuch0
expect_eq "the live instance survives a failed attach" "$(sl -j status | jq -r '.interfaces | length')" 1
expect_exit "second attach to the same interface exits non-zero" 1 sl attach "$SRV_IF"
grep -q "already attached" "$TMP/err" && ok "second attach says already attached" ||
	not_ok "second attach says already attached: $(cat "$TMP/err")"

# Another XDP program on an interface is never replaced: a second sluice instance counts.
OTHER_PIN="$PIN-other"
expect_exit "attach over a foreign XDP program exits 1" 1 \
	in_srv "$SLUICE" --pin-path "$OTHER_PIN" attach "$SRV_IF"
grep -qE "already runs XDP program sluice_xdp \(id $(sl -j status | jq -r '.interfaces[0].prog_id'), native mode, BPF link id [0-9]+\) of another sluice pin path; detach it there first$" "$TMP/err" &&
	ok "foreign program is named, with its id, mode and link" ||
	not_ok "foreign program is named, with its id, mode and link: $(cat "$TMP/err")"
rm -rf "$OTHER_PIN"

# Traffic is counted while attached; the program stays after sluice exits.
in_cli ping -c 3 -i 0.2 -W 1 "$SRV_IP" >/dev/null
expect_eq "pings answered through XDP" "$?" 0
pass=$(verdict_count "$SRV_IF" pass)
[ "$pass" -ge 3 ] && ok "pass counter counts ($pass)" || not_ok "pass counter counts ($pass)"

# A layout version mismatch is a clear error, never a misread.
state_id=$(sl -j status | jq -r '.maps[] | select(.name == "sluice_state") | .id')
state=$(bpftool -j map lookup id "$state_id" key hex 00 00 00 00 | jq -r '.value | join(" ")')
bpftool map update id "$state_id" key hex 00 00 00 00 value hex 63 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
expect_exit "layout mismatch exits 1" 1 sl status
grep -q "layout version 99" "$TMP/err" && ok "layout mismatch is named" ||
	not_ok "layout mismatch is named: $(cat "$TMP/err")"
# shellcheck disable=SC2086
bpftool map update id "$state_id" key hex 00 00 00 00 value hex $state

# Not root: one clear line, nothing changed.
expect_exit "detach as nobody fails" 1 in_srv setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all "$SLUICE" --pin-path "$PIN" detach "$SRV_IF"
[ "$(wc -l <"$TMP/err")" -eq 1 ] && ok "one line of error as nobody" ||
	not_ok "one line of error as nobody: $(cat "$TMP/err")"
expect_eq "still attached after the refused detach" "$(sl -j status | jq -r '.interfaces | length')" 1

expect_exit "detach" 0 sl detach "$SRV_IF"
expect_eq "the last detach says what it removed" "$(cat "$TMP/err")" \
	"sluice: detach: $SRV_IF was the last interface: removed the policy (0 rules), the lists (0 entries), 0 bans and the counters"
[ ! -e "$PIN" ] && ok "last detach removes the pins" || not_ok "last detach removes the pins"
expect_eq "no XDP program left" "$(in_srv ip -j link show "$SRV_IF" | jq -r '.[0].xdp')" null
expect_exit "detach again exits 1" 1 sl detach "$SRV_IF"

check "attach skb mode" sl attach "$SRV_IF" --mode skb
expect_eq "status reports skb" "$(sl -j status | jq -r '.interfaces[0].mode')" skb
check "attach the client side too (second interface)" sl attach lo
expect_eq "two interfaces share the pins" "$(sl -j status | jq -r '.interfaces | length')" 2
expect_exit "detach lo" 0 sl detach lo
expect_eq "... not the last: it says nothing" "$(cat "$TMP/err")" ""
check "a rule" sl rule add r tcp dport 22 action pass
check "a block entry" sl block add 192.0.2.0/24
expect_exit "detach the rest" 0 sl detach "$SRV_IF"
expect_eq "... the last: one rule, one entry" "$(cat "$TMP/err")" \
	"sluice: detach: $SRV_IF was the last interface: removed the policy (1 rule), the lists (1 entry), 0 bans and the counters"
finish
