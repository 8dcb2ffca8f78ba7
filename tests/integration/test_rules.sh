#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Rules edited in place: insert at a position, replace keeping position, counters and
# limiter state; settings changed from the command line as policy lines do.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

names() { sl -j rule list | jq -r '[.[].name] | join(" ")'; }

check "rule add a" sl rule add a udp dport 5000 limit src/32 rate 1/h burst 3 action drop
check "rule add c" sl rule add c udp dport 5002 action drop
check "insert b after a" sl rule insert b after a udp dport 5001 action drop
check "insert first at 1" sl rule insert first at 1 udp dport 5003 action drop comment "at the top"
check "insert z before c" sl rule insert z before c tcp dport 22 action pass
expect_eq "the rules in the order asked" "$(names)" "first a b z c"
expect_eq "the comment is kept" "$(sl rule list | head -1)" \
	'rule add first udp dport 5003 action drop comment "at the top"'
expect_exit "insert before a rule that does not exist" 1 sl rule insert y before nosuch action drop
expect_exit "insert at a position past the end" 2 sl rule insert y at 9 action drop
expect_exit "insert of a name that exists" 2 sl rule insert a at 1 action drop
expect_exit "insert without before, after or at" 2 sl rule insert y under a action drop

udp_send "$CLI_IP" "$SRV_IP" 5000 5
expect_eq "a: 3 passed within its burst" "$(rule_count "$SRV_IF" a pass)" 3
check "replace a: same limit, action monitor" \
	sl rule replace a udp dport 5000 limit src/32 rate 1/h burst 3 action monitor
expect_eq "replace keeps the position" "$(names)" "first a b z c"
expect_eq "replace keeps the counters" "$(rule_count "$SRV_IF" a pass)" 3
udp_send "$CLI_IP" "$SRV_IP" 5000 1
expect_eq "replace keeps the limiter state: the bucket is still empty" \
	"$(rule_count "$SRV_IF" a monitor)" 1
expect_exit "replace of a rule that does not exist" 1 sl rule replace nosuch action drop
check "rule del b" sl rule del b
expect_eq "del takes it out" "$(names)" "first a z c"

check "set malformed drop" sl set malformed drop
expect_eq "dump has the setting" "$(sl dump | grep -c '^set malformed drop$')" 1
check "set events period 30s sample 10 ceiling 500" sl set events period 30s sample 10 ceiling 500
expect_eq "dump has the events setting" "$(sl dump | grep '^set events')" \
	"set events period 30s sample 10 ceiling 500"
expect_eq "the rules are untouched by set" "$(names)" "first a z c"
expect_exit "set of something unknown" 2 sl set colour blue
check "set malformed pass" sl set malformed pass
expect_eq "dump drops the default setting" "$(sl dump | grep -c '^set malformed')" 0
finish
