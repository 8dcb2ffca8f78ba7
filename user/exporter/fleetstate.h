/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The sluice_fleet_* metrics, from the status files the fleet agents write. */
#ifndef SLUICE_FLEETSTATE_H
#define SLUICE_FLEETSTATE_H

#include "metrics.h"

/*
 * Appends the sluice_fleet_* families, a sample per fleet, from DIR/agent-FLEET.json
 * (see user/fleet/agent.c); a file that is missing or unreadable is left out.
 */
void fleetstate_render(struct mbuf *b, const char *dir, __u64 now_ms);

#endif /* SLUICE_FLEETSTATE_H */
