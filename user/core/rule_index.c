// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <string.h>
#include "rule_index.h"

/* The protocol of each class, as a rule names it; OTHER is matched by "any" alone. */
static const __u8 class_proto[SLUICE_RULE_CLASSES] = {
	[SLUICE_CLASS_TCP] = SLUICE_PROTO_TCP,
	[SLUICE_CLASS_UDP] = SLUICE_PROTO_UDP,
	[SLUICE_CLASS_ICMP] = SLUICE_PROTO_ICMP,
	[SLUICE_CLASS_OTHER] = 0xff,
};

void rule_index_build(struct sluice_policy *pol)
{
	memset(pol->rules_by_class, 0, sizeof(pol->rules_by_class));
	memset(pol->rules_by_port, 0, sizeof(pol->rules_by_port));
	pol->rules_portless = 0;
	pol->rules_syn_only = 0;
	for (__u32 i = 0; i < pol->nrules && i < SLUICE_MAX_RULES; i++) {
		const struct sluice_rule *r = &pol->rules[i];
		__u64 bit = 1ULL << i;

		for (int v6 = 0; v6 < 2; v6++) {
			if (r->family &&
			    r->family != (v6 ? SLUICE_FAMILY_IPV6 : SLUICE_FAMILY_IPV4))
				continue;
			for (int c = 0; c < SLUICE_RULE_CLASSES; c++)
				if (!r->proto || r->proto == class_proto[c])
					pol->rules_by_class[v6][c] |= bit;
		}
		if (!(r->flags & SLUICE_RULE_DPORT)) {
			pol->rules_portless |= bit;
			for (int b = 0; b < 256; b++)
				pol->rules_by_port[b] |= bit;
		} else {
			/* A range of 256 ports or more covers every bucket. */
			for (__u32 port = r->dport_lo;
			     port <= r->dport_hi && port < r->dport_lo + 256u; port++)
				pol->rules_by_port[port & 0xff] |= bit;
		}
		if (r->flags & SLUICE_RULE_SYN)
			pol->rules_syn_only |= bit;
	}
}
