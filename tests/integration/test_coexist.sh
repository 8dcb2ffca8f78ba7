#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice and another XDP program on one interface, in both orders: the second to come is
# refused, with what runs there and how to free it, and the first keeps enforcing its list.
. "$(dirname "$0")/lib.sh"
require_root
if ! command -v xdp-filter >/dev/null || ! command -v xdp-loader >/dev/null; then
	echo "ok 1 - $TEST_NAME # SKIP xdp-tools not installed (scripts/deps.sh)"
	echo "1..1"
	exit 0
fi
setup_netns || { not_ok "set up namespaces"; finish; }
# xdp-filter pins its maps under /sys/fs/bpf/xdp-filter, whatever LIBXDP_BPFFS says: it
# runs in a mount namespace of its own where a private bpffs sits there, keeping this
# test's list apart from any xdp-filter of the host.
XF_BPFFS="$TMP/bpffs"
if ! mkdir "$XF_BPFFS" || ! mount -t bpf bpf "$XF_BPFFS"; then
	not_ok "mount a private bpffs"
	finish
fi
trap 'umount "$XF_BPFFS" 2>/dev/null; cleanup' EXIT
xf() {
	# shellcheck disable=SC2016
	in_srv unshare -m --propagation private \
		sh -c 'mount --bind "$0" /sys/fs/bpf && exec "$@"' "$XF_BPFFS" "$@"
}

XF_SRC=198.18.0.3 # xdp-filter's list blocks it
SL_SRC=198.18.0.130 # sluice's blocks it

answers() { in_cli ping -c 1 -W 1 -I "$1" "$SRV_IP" >/dev/null 2>&1; }
expect_answered() { answers "$1" && ok "$2" || not_ok "$2"; }
expect_unanswered() { answers "$1" && not_ok "$2" || ok "$2"; }
xdp_prog_id() { in_srv ip -j link show "$SRV_IF" | jq -r '.[0].xdp.prog.id'; }

# xdp-filter first. On kernels that load no freplace programs, libxdp falls back to
# attaching xdp-filter's program alone, as sluice attaches its own.
check "xdp-filter loads" xf xdp-filter load --mode native "$SRV_IF"
check "xdp-filter blocks $XF_SRC" xf xdp-filter ip "$XF_SRC" --mode src
expect_unanswered "$XF_SRC" "xdp-filter drops $XF_SRC"
expect_answered "$CLI_IP" "xdp-filter passes $CLI_IP"
xf_id=$(xdp_prog_id)
expect_exit "sluice attach beside xdp-filter exits 1" 1 sl attach "$SRV_IF"
expect_eq "the refusal names the program, its id and mode, and how to free the interface" \
	"$(cat "$TMP/err")" \
	"sluice: attach: $SRV_IF: already runs XDP program xdpfilt_alw_all (id $xf_id, native mode, attached by netlink); sluice does not replace it or run beside it: unload it with the tool that loaded it (xdp-loader unload $SRV_IF --all for libxdp tools such as xdp-filter) or ip link set dev $SRV_IF xdp off"
[ ! -e "$PIN" ] && ok "the refused attach leaves no pins" || not_ok "the refused attach leaves no pins"
expect_exit "sluice detach of xdp-filter's interface exits 1" 1 sl detach "$SRV_IF"
expect_eq "xdp-filter's program stays" "$(xdp_prog_id)" "$xf_id"
expect_unanswered "$XF_SRC" "xdp-filter still drops $XF_SRC"
expect_answered "$CLI_IP" "xdp-filter still passes $CLI_IP"

check "xdp-filter unloads" xf xdp-filter unload "$SRV_IF"
expect_answered "$XF_SRC" "$XF_SRC passes with xdp-filter gone"

# sluice first: xdp-filter is refused and sluice's program and list stay.
check "sluice attaches" sl attach "$SRV_IF" --mode native
check "sluice blocks $SL_SRC" sl block add "$SL_SRC/32"
expect_unanswered "$SL_SRC" "sluice drops $SL_SRC"
sl_id=$(sl -j status | jq -r '.interfaces[0].prog_id')
expect_exit "xdp-filter load beside sluice fails with EBUSY" 240 \
	xf xdp-filter load --mode native "$SRV_IF"
grep -q "Existing program is not using a dispatcher" "$TMP/err" &&
	ok "libxdp says sluice's program is not a dispatcher" ||
	not_ok "libxdp says sluice's program is not a dispatcher: $(cat "$TMP/err")"
expect_eq "sluice's program stays" "$(xdp_prog_id)" "$sl_id"
expect_unanswered "$SL_SRC" "sluice still drops $SL_SRC"
expect_answered "$XF_SRC" "sluice passes $XF_SRC"
check "sluice detaches" sl detach "$SRV_IF"
expect_eq "no XDP program left" "$(in_srv ip -j link show "$SRV_IF" | jq -r '.[0].xdp')" null

# libxdp's dispatcher, as libxdp attaches it where the kernel loads freplace programs.
# bpftool pins it on the private bpffs, where ip would leave directories on the host's.
dispatcher=$(dpkg -L libxdp1 | grep '/xdp-dispatcher\.o$')
check "a dispatcher loads" bpftool prog load "$dispatcher" "$XF_BPFFS/dispatcher" type xdp
check "the dispatcher attaches" in_srv bpftool net attach xdpdrv pinned "$XF_BPFFS/dispatcher" \
	dev "$SRV_IF"
expect_exit "sluice attach behind a dispatcher exits 1" 1 sl attach "$SRV_IF"
expect_eq "the refusal names the dispatcher and the commands that list and remove its programs" \
	"$(cat "$TMP/err")" \
	"sluice: attach: $SRV_IF: already runs libxdp's multi-program dispatcher (program id $(xdp_prog_id), native mode); sluice does not attach behind it: xdp-loader status $SRV_IF lists its programs, xdp-loader unload $SRV_IF --all removes them"
finish
