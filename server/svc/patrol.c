/*
 * patrol.c — see patrol.h.
 */
#include "server/svc/patrol.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

#define PAIRS_MAX 2000000u

static const char *const state_names[] = {"on_time", "late", "missed",
                                          "pending", "open"};

const char *patrol_state_name(int state)
{
	return state >= 0 && state <= PS_OPEN ? state_names[state] : "unknown";
}

uint64_t patrol_round_from(const patrol_in *in, uint32_t k)
{
	return in->starts + (uint64_t)k * in->every_ms;
}

uint64_t patrol_round_to(const patrol_in *in, uint32_t k)
{
	return in->starts + ((uint64_t)k + 1) * in->every_ms;
}

/* Checkins of one checkpoint, by (at_est, id). */
typedef struct {
	uint64_t at;
	const char *id;
	uint32_t i; /* index into in->checkins */
} cand;

static int cand_cmp(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	int c = strcmp(x->id ? x->id : "", y->id ? y->id : "");
	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The first unused candidate with at in [from, to), after index `after`
 * (or from the start when after < 0); -1 if none. */
static int64_t first_in(const cand *c, uint32_t n, const uint8_t *used,
                        uint64_t from, uint64_t to, int64_t after)
{
	for (uint32_t j = after < 0 ? 0 : (uint32_t)after + 1; j < n; j++) {
		if (c[j].at >= to)
			break;
		if (c[j].at >= from && !used[c[j].i])
			return j;
	}
	return -1;
}

/* Has every device synced since `end` with an empty outbox? */
static int all_settled(const patrol_in *in, uint64_t end)
{
	for (uint32_t d = 0; d < in->ndev; d++) {
		const patrol_device *dv = &in->devices[d];
		uint64_t pend = dv->has_pending ? dv->pending : 0;
		if (dv->last_sync < end || pend)
			return 0;
	}
	return 1;
}

int patrol_score(const patrol_in *in, arena *a, patrol_out *out)
{
	memset(out, 0, sizeof(*out));
	out->used = arena_calloc(a, in->nci ? in->nci : 1, 1);
	if (!out->used)
		return FS_E_UNAVAILABLE;
	uint32_t nr = 0;
	if (in->every_ms && in->ncp && in->ends > in->starts) {
		uint64_t r = (in->ends - in->starts + in->every_ms - 1) / in->every_ms;
		if (r > PATROL_ROUNDS_MAX || r * in->ncp > PAIRS_MAX)
			return FS_E_TOO_LARGE;
		nr = (uint32_t)r;
	}
	out->nrounds = nr;
	out->pairs = arena_calloc(a, nr && in->ncp ? (size_t)nr * in->ncp : 1,
	                          sizeof(patrol_pair));
	cand *c = arena_calloc(a, in->nci ? in->nci : 1, sizeof(cand));
	if (!out->pairs || !c)
		return FS_E_UNAVAILABLE;
	int pending_possible =
	        !in->evidence_window_ms ||
	        in->now < in->ends + in->evidence_window_ms;

	for (uint32_t p = 0; p < in->ncp && nr; p++) {
		const char *cp = in->checkpoints[p];
		uint32_t n = 0;
		for (uint32_t i = 0; i < in->nci; i++)
			if (cp && !in->checkins[i].voided &&
			    in->checkins[i].checkpoint &&
			    !strcmp(in->checkins[i].checkpoint, cp))
				c[n++] = (cand){in->checkins[i].at_est,
				                in->checkins[i].id, i};
		qsort(c, n, sizeof(cand), cand_cmp);
		for (uint32_t k = 0; k < nr; k++) {
			patrol_pair *pr = &out->pairs[(size_t)k * in->ncp + p];
			pr->round = k;
			pr->cp = p;
			pr->checkin = -1;
			uint64_t from = patrol_round_from(in, k),
			         to = patrol_round_to(in, k);
			int64_t j = first_in(c, n, out->used, from, to, -1);
			if (j >= 0) {
				pr->state = PS_ON_TIME;
				pr->checkin = c[j].i;
				out->used[c[j].i] = 1;
				continue;
			}
			int64_t g = in->grace_ms
			                    ? first_in(c, n, out->used, to,
			                               to + in->grace_ms, -1)
			                    : -1;
			if (g >= 0) {
				int last = k + 1 == nr;
				int keeps = !last &&
				            first_in(c, n, out->used,
				                     patrol_round_from(in, k + 1),
				                     patrol_round_to(in, k + 1), g) >= 0;
				if (last || keeps) {
					pr->state = PS_LATE;
					pr->checkin = c[g].i;
					out->used[c[g].i] = 1;
					continue;
				}
			}
			uint64_t end = to + in->grace_ms;
			if (in->now < end)
				pr->state = PS_OPEN;
			else if (pending_possible && !all_settled(in, end))
				pr->state = PS_PENDING;
			else
				pr->state = PS_MISSED;
		}
	}
	out->expected = nr * in->ncp;
	for (size_t i = 0; i < (size_t)nr * in->ncp; i++)
		switch (out->pairs[i].state) {
		case PS_ON_TIME: out->on_time++; break;
		case PS_LATE: out->late++; break;
		case PS_MISSED: out->missed++; break;
		case PS_PENDING: out->pending++; break;
		default: out->open++; break;
		}
	for (uint32_t i = 0; i < in->nci; i++)
		out->extra += !out->used[i] && !in->checkins[i].voided;
	return FS_OK;
}
