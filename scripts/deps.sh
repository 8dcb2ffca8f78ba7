#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Installs the Debian packages sluice needs to build, test and demo; does nothing when all are there.
set -eu

PACKAGES="make gcc clang llvm libc6-dev pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
libjansson-dev libmicrohttpd-dev libyaml-dev libcrypt-dev libgnutls28-dev libcmocka-dev iproute2 iputils-ping
nftables ethtool procps psmisc util-linux python3 curl jq gzip man-db groff-base prometheus libclang-rt-dev
openssl whois clang-format xdp-tools tcpdump redis-server libhiredis-dev ipset"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "sluice: deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "sluice: deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
