#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# dist/prometheus/sluice.rules.yml passes promtool's checks and its unit tests, and the
# alerts and dist/grafana/sluice.json use only metrics the exporter really serves.
. "$(dirname "$0")/lib.sh"
require_root
dist="$(cd "$(dirname "$0")/../../dist" && pwd)"
setup_netns || { not_ok "set up namespaces"; finish; }

check "promtool check rules" promtool check rules "$dist/prometheus/sluice.rules.yml"
check "promtool test rules" sh -c "cd '$dist/prometheus' && promtool test rules sluice.rules.test.yml"
check "the dashboard is JSON" jq -e '.panels | length > 0' "$dist/grafana/sluice.json"

check "attach" sl attach "$SRV_IF"
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --listen 127.0.0.1:9741 --collect 1
wait_until 10 in_srv curl -sf -o "$TMP/scrape" --max-time 1 http://127.0.0.1:9741/metrics ||
	not_ok "the exporter answers"
awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$TMP/scrape" | sort -u >"$TMP/served"
[ "$(wc -l <"$TMP/served")" -gt 20 ] && ok "the exporter serves $(wc -l <"$TMP/served") families" ||
	not_ok "the exporter serves its families"

# The sluice_ names an expression uses, less those the exporter serves: none may be left.
unserved() {
	grep -o 'sluice_[a-z0-9_]*' "$@" | sort -u | comm -23 - "$TMP/served"
}
expect_eq "the alerting rules use only served metrics" \
	"$(unserved "$dist/prometheus/sluice.rules.yml")" ""
jq -r '.. | .expr? // empty' "$dist/grafana/sluice.json" >"$TMP/dashboard.exprs"
expect_eq "the dashboard uses only served metrics" "$(unserved "$TMP/dashboard.exprs")" ""
echo 'rate(sluice_no_such_total[5m])' >"$TMP/bogus"
expect_eq "a name the exporter does not serve is caught" "$(unserved "$TMP/bogus")" \
	"sluice_no_such_total"
finish
