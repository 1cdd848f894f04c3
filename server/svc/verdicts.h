/*
 * verdicts.h — checkins' verdicts in reports (schema/REPORTS.md): one
 * checkin's verdict and reasons as report fields, and the patrol's
 * counts by verdict.  The verdicts themselves are model/evidence.h's.
 */
#ifndef FS_VERDICTS_H
#define FS_VERDICTS_H

#include <stdint.h>

#include "server/lib/doc.h"
#include "server/model/evidence.h"
#include "server/svc/patrol.h"

/* A checkin as the reports keep it. */
typedef struct {
	int verdict;          /* EV_* */
	const char **reasons; /* in the report's arena */
	unsigned nreasons;
	int voided;           /* replayed or invalid tag: scored as nothing */
} verdict_of;

/* Read a stored checkin's verdict into v (reasons copied into a). */
int verdict_read(arena *a, const record *r, verdict_of *v);

/* "verdict": name, "reasons": [...] into the open map. */
void verdict_write(doc *m, const verdict_of *v);

/* Scans matched in time (on_time or late) and on-time rounds (every
 * checkpoint of the round on time), by verdict; a round's verdict is
 * its weakest scan's.  `of` is per patrol checkin. */
typedef struct {
	uint32_t scans[EV__COUNT];
	uint32_t rounds_on_time[EV__COUNT];
	uint32_t voided;
} verdict_count;
void verdict_count_patrol(const patrol_in *in, const patrol_out *out,
                          const verdict_of *of, verdict_count *c);
/* "by_verdict": {scans: {...}, rounds_on_time: {...}}, "voided": n */
void verdict_count_write(doc *m, const verdict_count *c);

#endif
