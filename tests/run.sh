#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs every test program and script, reads their TAP lines, prints one summary line.
# A program that exits non-zero, or prints no result at all, counts as a failure.
# Without root the BPF and netns tests skip; under CI=true a skip is a failure.
# The C files' format (scripts/format-check.sh) first; then the fuzzers
# (tests/fuzz/run.sh), and with SAN_BUILD set, the unit and integration tests again
# from that SANITIZE=1 build. In a sanitized pass any report is a failure.
set -u
BUILD=${BUILD:-build}
export BUILD
root="$(cd "$(dirname "$0")/.." && pwd)"
export SLUICE="$root/$BUILD/sluice"
passed=0
failed=0
skipped=0
log_dir="$BUILD/test-logs"
mkdir -p "$log_dir"

run_one() {
	local name=$1
	shift
	local log="$log_dir/$(basename "$name").log"
	local p f s rc
	echo "== $name"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(ok|not ok)( |$)|^#' "$log" | sed 's/^/   /'
	p=$(grep -cE '^ok( |$)' "$log")
	s=$(grep -cE '^ok .*# (SKIP|skip)' "$log")
	f=$(grep -cE '^not ok( |$)' "$log")
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   not ok - $name exited with status $rc (log: $log)"
		tail -n 20 "$log" | sed 's/^/   | /'
		f=1
	elif [ "$f" -gt 0 ]; then
		echo "   (log: $log)"
	fi
	if [ $((p + f + s)) -eq 0 ]; then
		echo "   not ok - $name reported no result (log: $log)"
		f=1
	fi
	if [ "${CI:-}" = "true" ] && [ "$s" -gt 0 ]; then
		echo "   not ok - $s skipped under CI=true"
		f=$((f + s))
		s=0
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# Sanitized programs write their reports to files here, read by sanitizer_reports();
# LeakSanitizer skips the third-party leaks listed in tests/lsan.supp, never ours.
sanitizer_env() {
	rm -f "$log_dir"/sanitizer.*
	export ASAN_OPTIONS="log_path=$root/$log_dir/sanitizer:detect_leaks=1"
	export UBSAN_OPTIONS="log_path=$root/$log_dir/sanitizer:print_stacktrace=1:halt_on_error=1"
	export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
}

# One TAP line for the reports of a sanitized pass, with the first lines of each. A file
# without an error in it (LeakSanitizer's "Unable to get registers" from a thread that was
# exiting) is shown, not counted.
sanitizer_reports() {
	local r found=0
	for r in "$log_dir"/sanitizer.*; do
		[ -f "$r" ] || continue
		if ! grep -qE 'ERROR: |runtime error' "$r"; then
			echo "# $r, not a report: $(head -c 200 "$r")"
			continue
		fi
		found=$((found + 1))
		echo "# $r:"
		grep -E 'ERROR|SUMMARY|runtime error|^ +#[0-9]+ ' "$r" | head -n 12 | sed 's/^/#   /'
	done
	if [ "$found" -eq 0 ]; then
		echo "ok 1 - no ASan, UBSan or LSan reports from $BUILD"
	else
		echo "not ok 1 - $found sanitizer reports from $BUILD"
	fi
}

# The unit, BPF (with bpf) and integration tests of $BUILD.
run_suite() {
	local t
	for t in "$BUILD"/tests/unit/test_*; do
		[ -x "$t" ] && run_one "$t" "$t"
	done
	if [ "$1" = bpf ]; then
		for t in "$BUILD"/tests/bpf/test_*; do
			[ -x "$t" ] && run_one "$t" "$t"
		done
	fi
	for t in tests/integration/test_*.sh; do
		[ -x "$t" ] && run_one "$t" "$t"
	done
}

export CMOCKA_MESSAGE_OUTPUT=TAP
sanitizer_env
run_one format-check scripts/format-check.sh
run_suite bpf
run_one tests/fuzz/run.sh tests/fuzz/run.sh
[ "${SANITIZE:-}" = 1 ] && run_one sanitizer-reports sanitizer_reports

if [ -n "${SAN_BUILD:-}" ]; then
	BUILD=$SAN_BUILD
	SLUICE="$root/$BUILD/sluice"
	log_dir="$BUILD/test-logs"
	mkdir -p "$log_dir"
	echo "== the unit and integration tests again, built with SANITIZE=1 in $BUILD"
	sanitizer_env
	run_suite nobpf
	run_one sanitizer-reports sanitizer_reports
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
