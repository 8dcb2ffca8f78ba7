#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Checks that every C file of the tree is as clang-format writes it with .clang-format
# (Debian 12's clang-format 14): one TAP line, and the first lines that differ of each
# file that does not. `make format` rewrites them.
set -u
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find bpf include user tests -name '*.[ch]')
bad=0
total=0
for f in $files; do
	total=$((total + 1))
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		bad=$((bad + 1))
		echo "# $f:"
		clang-format --style=file "$f" | diff "$f" - | head -n 6 | sed 's/^/#   /'
	fi
done
if [ "$bad" -eq 0 ]; then
	echo "ok 1 - clang-format: all $total C files are as .clang-format writes them"
else
	echo "not ok 1 - clang-format: $bad of $total C files differ (make format rewrites them)"
	exit 1
fi
