/*
 * verdicts.c — see verdicts.h.
 */
#include "server/svc/verdicts.h"

#include <string.h>

#include "protocol/errors.h"

int verdict_read(arena *a, const record *r, verdict_of *v)
{
	const char *tmp[EVIDENCE_REASONS_MAX];
	memset(v, 0, sizeof(*v));
	v->verdict = evidence_of_checkin(a, r, tmp, &v->nreasons);
	v->reasons = arena_calloc(a, v->nreasons ? v->nreasons : 1,
	                          sizeof(char *));
	if (!v->reasons)
		return FS_E_UNAVAILABLE;
	memcpy(v->reasons, tmp, v->nreasons * sizeof(char *));
	v->voided = evidence_voided(r);
	return FS_OK;
}

void verdict_write(doc *m, const verdict_of *v)
{
	doc_key(m, "verdict");
	doc_str(m, evidence_verdict_name(v->verdict));
	doc_key(m, "reasons");
	doc_arr_n(m, v->nreasons);
	for (unsigned i = 0; i < v->nreasons; i++)
		doc_str(m, v->reasons[i]);
	doc_end(m);
}

void verdict_count_patrol(const patrol_in *in, const patrol_out *out,
                          const verdict_of *of, verdict_count *c)
{
	memset(c, 0, sizeof(*c));
	for (uint32_t i = 0; i < in->nci; i++)
		c->voided += of[i].voided;
	for (uint32_t k = 0; k < out->nrounds; k++) {
		int worst = EV_STRONG, all_on_time = in->ncp > 0;
		for (uint32_t p = 0; p < in->ncp; p++) {
			const patrol_pair *pr = &out->pairs[(size_t)k * in->ncp + p];
			if (pr->checkin < 0) {
				all_on_time = 0;
				continue;
			}
			int v = of[pr->checkin].verdict;
			c->scans[v]++;
			if (pr->state != PS_ON_TIME)
				all_on_time = 0;
			if (v > worst)
				worst = v;
		}
		if (all_on_time)
			c->rounds_on_time[worst]++;
	}
}

static void counts(doc *m, const char *key, const uint32_t *v)
{
	doc_key(m, key);
	doc_map_n(m, EV__COUNT);
	for (int i = 0; i < EV__COUNT; i++) {
		doc_key(m, evidence_verdict_name(i));
		doc_u64(m, v[i]);
	}
	doc_end(m);
}

void verdict_count_write(doc *m, const verdict_count *c)
{
	doc_key(m, "by_verdict");
	doc_map_n(m, 2);
	counts(m, "scans", c->scans);
	counts(m, "rounds_on_time", c->rounds_on_time);
	doc_end(m);
	doc_key(m, "voided");
	doc_u64(m, c->voided);
}
