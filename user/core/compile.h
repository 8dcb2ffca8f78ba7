/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* From the grammar's rules to the data path's (struct sluice_rule). */
#ifndef SLUICE_COMPILE_H
#define SLUICE_COMPILE_H

#include "grammar.h"

/*
 * Turns a parsed rule into its data-path form. Leaves stat_slot and the limits'
 * ids zero: the controller assigns those. Returns -EINVAL with err->msg when the
 * rule cannot be expressed (e.g. a byte rate too small for the time unit).
 */
int compile_rule(const struct rule_spec *spec, struct sluice_rule *out, struct parse_error *err);

/*
 * One limit of a rule in its data-path form (interval or byte rate, tolerance);
 * -EINVAL with err->msg when it cannot be expressed. The rule parser calls it too,
 * so that such a limit is refused at the word that wrote it.
 */
int compile_limit(const struct limit_spec *ls, struct sluice_limit *out, struct parse_error *err);

/* A parsed guard in its data-path form; -EINVAL with err->msg on a rate it cannot hold. */
int compile_guard(const struct guard_spec *spec, struct sluice_guard *out, struct parse_error *err);

#endif /* SLUICE_COMPILE_H */
