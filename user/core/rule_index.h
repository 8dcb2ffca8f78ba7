/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The rule index of a policy (sluice.h): which rules a packet's class and port may match. */
#ifndef SLUICE_RULE_INDEX_H
#define SLUICE_RULE_INDEX_H

#include "sluice.h"

/* Fills the rules_* masks of POL from its rules; every policy written must have them. */
void rule_index_build(struct sluice_policy *pol);

#endif /* SLUICE_RULE_INDEX_H */
