#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs each libFuzzer target in $BUILD/fuzz for FUZZ_SECONDS (default 10, under CI=true 60)
# on a scratch copy of its seeds, then every input under regressions/TARGET/ once. TAP.
# A crash fails; its input is left in $BUILD/fuzz/work/TARGET/ to be saved as a regression.
set -u
BUILD=${BUILD:-build}
here=$(dirname "$0")
if [ "${CI:-}" = "true" ]; then
	seconds=${FUZZ_SECONDS:-60}
else
	seconds=${FUZZ_SECONDS:-10}
fi
# Reports go to stderr, where the runner reads them; leaks are crashes too.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
n=0
failed=0

# result ok|"not ok" TEXT: one TAP line.
result() {
	n=$((n + 1))
	[ "$1" = ok ] || failed=$((failed + 1))
	echo "$1 $n - $2"
}

# The lines of a libFuzzer log that say what went wrong, and where in our code.
show_crash() {
	local what='assertion failed|ERROR: [A-Za-z]+Sanitizer|runtime error|SUMMARY'
	grep -E -A1 "$what|ERROR: libFuzzer: (timeout|out-of-memory)" "$1" |
		grep -v '^--$' | head -n 8 | sed 's/^/#   /'
	grep -E '^ +#[0-9]+ .*(/user/|/tests/fuzz/)' "$1" | head -n 6 | sed 's/^ */#     /'
}

# fuzz BIN: a time-bound run from a scratch copy of the seeds.
fuzz() {
	local bin=$1 target work runs dict=() artifacts
	target=$(basename "$bin")
	work="$BUILD/fuzz/work/$target"
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/crashes"
	cp "$here/corpus/$target/"* "$work/corpus/" 2>/dev/null
	[ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
	"$bin" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
		-artifact_prefix="$work/crashes/" "$work/corpus" >"$work/log" 2>&1
	local rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	artifacts=$(ls "$work/crashes")
	if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
		result ok "$target: ${runs:-?} runs, no crash"
		return
	fi
	result "not ok" "$target: crashed after ${runs:-?} runs (exit $rc, log $work/log)"
	show_crash "$work/log"
	for a in $artifacts; do
		echo "#   keep it: cp $work/crashes/$a $here/regressions/$target/"
	done
}

# regressions BIN: every saved input that once crashed BIN, run once.
regressions() {
	local bin=$1 target input count=0 bad=0
	target=$(basename "$bin")
	for input in "$here/regressions/$target"/*; do
		[ -f "$input" ] || continue
		count=$((count + 1))
		if ! "$bin" "$input" >"$BUILD/fuzz/work/$target/regression.log" 2>&1; then
			bad=$((bad + 1))
			result "not ok" "$target: regression $(basename "$input") crashes again"
			show_crash "$BUILD/fuzz/work/$target/regression.log"
		fi
	done
	[ "$count" -gt 0 ] && [ "$bad" -eq 0 ] && result ok "$target: $count regression inputs pass"
}

echo "# fuzzing each target for $seconds s"
for bin in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	fuzz "$bin"
	regressions "$bin"
done
if [ "$n" -eq 0 ]; then
	result "not ok" "no fuzz targets in $BUILD/fuzz (make $BUILD/fuzz/fuzz_policy ...)"
fi
echo "1..$n"
[ "$failed" -eq 0 ]
