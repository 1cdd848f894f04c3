/*
 * evidence.c — see evidence.h.
 */
#include "server/model/evidence.h"

#include <math.h>
#include <string.h>

static const char *const verdicts[] = {"strong", "normal", "weak", "suspect"};
static const char *const places[] = {"inside", "outside", "unknown"};

static int is(const char *s, const char *v)
{
	return s && !strcmp(s, v);
}

const char *evidence_verdict_name(int v)
{
	return v >= 0 && v < EV__COUNT ? verdicts[v] : NULL;
}

int evidence_verdict_parse(const char *s)
{
	for (int v = 0; v < EV__COUNT; v++)
		if (is(s, verdicts[v]))
			return v;
	return EV__COUNT;
}

const char *evidence_place_name(int p)
{
	return p >= 0 && p <= PLACE_UNKNOWN ? places[p] : NULL;
}

int evidence_verdict(const evidence_in *in, const char **reasons,
                     unsigned *n)
{
	int suspect = 0, weak = 0;
	*n = 0;
	/* the tag */
	if (is(in->tag, "verified")) {
		reasons[(*n)++] = "tag_verified";
	} else if (is(in->tag, "replayed") || is(in->tag, "invalid")) {
		reasons[(*n)++] = is(in->tag, "replayed") ? "tag_replayed"
		                                          : "tag_invalid";
		suspect = 1;
	} else if (in->secure_cp) {
		reasons[(*n)++] = "tag_absent";
		weak = 1;
	}
	if (in->tag_order) {
		reasons[(*n)++] = "tag_out_of_order";
		suspect = 1;
	}
	/* the time */
	if (in->boot_overlap) {
		reasons[(*n)++] = "boot_overlap";
		suspect = 1;
	} else if (is(in->trust, "verified")) {
		reasons[(*n)++] = "time_verified";
	} else if (is(in->trust, "corrected")) {
		reasons[(*n)++] = "time_corrected";
	} else {
		reasons[(*n)++] = "time_unverified";
		weak = 1;
	}
	/* the position */
	if (is(in->place, "outside")) {
		reasons[(*n)++] = "place_outside";
		suspect = 1;
	} else if (is(in->place, "inside")) {
		reasons[(*n)++] = "place_inside";
	} else if (is(in->place, "unknown") && in->place_required) {
		reasons[(*n)++] = "place_unknown";
		weak = 1;
	}
	if (suspect)
		return EV_SUSPECT;
	if (weak)
		return EV_WEAK;
	if (is(in->tag, "verified") && is(in->trust, "verified"))
		return EV_STRONG;
	return EV_NORMAL;
}

int evidence_place(double cp_lat, double cp_lon, double radius, double lat,
                   double lon, double acc, double *dist)
{
	const double r_earth = 6371008.8, rad = M_PI / 180.0;
	double p1 = cp_lat * rad, p2 = lat * rad;
	double dp = (lat - cp_lat) * rad, dl = (lon - cp_lon) * rad;
	double h = sin(dp / 2) * sin(dp / 2) +
	           cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
	if (h > 1)
		h = 1;
	*dist = 2 * r_earth * asin(sqrt(h));
	if (!isfinite(*dist) || !isfinite(acc) || acc > EVIDENCE_ACCURACY_MAX_M)
		return PLACE_UNKNOWN;
	if (acc < 0)
		acc = 0;
	return *dist - acc > radius ? PLACE_OUTSIDE : PLACE_INSIDE;
}

int evidence_of_checkin(arena *a, const record *r, const char **reasons,
                        unsigned *n)
{
	char *v = rec_str(a, r, "verdict");
	int verdict = evidence_verdict_parse(v);
	const rfield *f = rec_get(r, "reasons");
	if (verdict < EV__COUNT && f && f->val.t == WV_ARR) {
		*n = 0;
		for (uint32_t i = 0; i < f->val.a.n && *n < EVIDENCE_REASONS_MAX; i++) {
			char *s = wv_strdup(a, &f->val.a.v[i]);
			if (s)
				reasons[(*n)++] = s;
		}
		return verdict;
	}
	evidence_in in;
	memset(&in, 0, sizeof(in));
	in.trust = rec_str(a, r, "trust");
	return evidence_verdict(&in, reasons, n);
}

static int has_reason(const record *r, const char *reason)
{
	const rfield *f = rec_get(r, "reasons");
	if (!f || f->val.t != WV_ARR)
		return 0;
	size_t n = strlen(reason);
	for (uint32_t i = 0; i < f->val.a.n; i++) {
		const wval *v = &f->val.a.v[i];
		if (v->t == WV_STR && v->s.n == n && !memcmp(v->s.p, reason, n))
			return 1;
	}
	return 0;
}

static int tag_is(const record *r, const char *want)
{
	const rfield *f = rec_get(r, "tag");
	size_t n = strlen(want);
	return f && f->val.t == WV_STR && f->val.s.n == n &&
	       !memcmp(f->val.s.p, want, n);
}

int evidence_voided(const record *r)
{
	return tag_is(r, "replayed") || tag_is(r, "invalid");
}

int evidence_alert_kind(const record *r, const char **kind)
{
	if (tag_is(r, "replayed"))
		*kind = "tag_replayed";
	else if (tag_is(r, "invalid"))
		*kind = "tag_invalid";
	else if (has_reason(r, "boot_overlap"))
		*kind = "boot_overlap";
	else
		return 0;
	return 1;
}
