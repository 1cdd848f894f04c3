/*
 * derive.c — the fields the server fills in a record (schema.h's
 * G_SERVER fields), stamped with the server's origin: a new checkin's
 * receive time, the device's clock skew, its estimated time and how far
 * to trust it (from the device's boot anchor, ST_ANCHORS); the same
 * evidence time for the steps of tasks and orders (done_at, accepted_at,
 * on_site_at, resolved_at); an order's deadlines from its category's
 * service level.
 */
#include <string.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "server/core/engine_int.h"
#include "server/store/keys.h"

#define TRUST_WINDOW_MS 60000
/* Latest time a device may claim, in ms (2^47: the year 6429); checkin
 * times past it are clamped in arithmetic. */
#define TIME_MAX_MS ((int64_t)1 << 47)

int anchor_get(store_txn *t, const char *device, const char *boot,
                      int64_t *anchor)
{
	char k[KEY_MAX];
	size_t n = key_anchor(k, sizeof(k) - 1, device, boot);
	if (!n)
		return FS_E_NOT_FOUND;
	sv v;
	int rc = store_get(t, ST_ANCHORS, sv_of(k, n), &v);
	if (rc)
		return rc;
	if (v.n != 8)
		return FS_E_NOT_FOUND;
	*anchor = (int64_t)be64_get(v.p);
	return FS_OK;
}

int anchor_put(store_txn *t, const char *device, const char *boot,
                      int64_t anchor)
{
	char k[KEY_MAX];
	size_t n = key_anchor(k, sizeof(k) - 1, device, boot);
	if (!n)
		return FS_OK; /* boot ids are capped at 128 bytes before this */
	uint8_t b[8];
	be64_put(b, (uint64_t)anchor);
	return store_put(t, ST_ANCHORS, sv_of(k, n), sv_of(b, 8));
}

int set_server(actx *x, record *r, const char *name, wval v,
               const stamp *st)
{
	wval *copy = arena_dup(x->a, &v, sizeof(v));
	if (!copy)
		return FS_E_UNAVAILABLE;
	return rec_set(x->a, r, name, (uint32_t)strlen(name), copy, st) < 0
	               ? FS_E_UNAVAILABLE
	               : FS_OK;
}

/* The evidence time of a time the device claims (`at`, its own wall clock)
 * captured at `mono` ms since boot `boot` (protocol/PROTOCOL.md,
 * "Evidence time"): from the device's anchor when there is one, else the
 * claim less the request's skew, else the request time; unverified when
 * the boot overlaps another (boots.c; *overlap, when asked, says so). */
static void estimate(actx *x, const char *boot, int has_mono, uint64_t mono,
                     int has_at, uint64_t at, uint64_t *at_est,
                     const char **trust, int *overlap)
{
	job *j = x->j;
	int64_t anchor = 0;
	int has_anchor = boot && has_mono &&
	                 anchor_get(x->t, j->p->device, boot, &anchor) == FS_OK;
	/* at and mono are the device's word: anything past TIME_MAX_MS is
	 * nonsense and is clamped for this arithmetic (the record keeps what
	 * was sent), so no value a device sends can overflow it */
	int64_t at_c = at > TIME_MAX_MS ? TIME_MAX_MS : (int64_t)at;
	int64_t mono_c = mono > TIME_MAX_MS ? TIME_MAX_MS : (int64_t)mono;
	int64_t est;
	if (has_anchor) {
		est = anchor + mono_c;
		int64_t d = has_at ? at_c - est : INT64_MAX;
		*trust = (d <= TRUST_WINDOW_MS && d >= -TRUST_WINDOW_MS)
		                 ? "verified"
		                 : "corrected";
	} else {
		*trust = "unverified";
		if (has_at)
			est = at_c - (j->has_wall ? (int64_t)j->wall - (int64_t)j->t : 0);
		else
			est = (int64_t)j->t;
	}
	/* a boot that claims uptime another boot overlaps proves no time */
	int fenced = has_anchor && boot_fenced(x->t, j->p->device, boot, est);
	if (fenced)
		*trust = "unverified";
	if (overlap)
		*overlap = fenced;
	*at_est = est < 0 ? 0 : (uint64_t)est;
}

/* rcv, skew, at_est, trust of a new checkin (protocol/PROTOCOL.md, "checkin"). */
int fill_checkin(actx *x, record *r)
{
	job *j = x->j;
	stamp st = {engine_hlc_now(x->e), ENGINE_ORIGIN, 6};
	int64_t skew = (int64_t)j->wall - (int64_t)j->t;
	uint64_t at = 0, mono = 0, at_est;
	int has_at = rec_u64(r, "at", &at);
	int has_mono = rec_u64(r, "mono", &mono);
	const char *trust;
	int overlap;
	estimate(x, rec_str(x->a, r, "boot"), has_mono, mono, has_at, at, &at_est,
	         &trust, &overlap);
	int rc;
	if ((rc = set_server(x, r, "rcv", wv_of_u64(j->t), &st)) ||
	    (rc = set_server(x, r, "skew", j->has_wall ? wv_of_i64(skew) : (wval){0},
	                     &st)) ||
	    (rc = set_server(x, r, "at_est", wv_of_u64(at_est), &st)) ||
	    (rc = set_server(x, r, "trust", wv_of_str(trust), &st)))
		return rc;
	return fill_evidence(x, r, trust, overlap, at_est, &st);
}

/* The steps of tasks and orders that carry a time, and where its evidence
 * time and trust go (schema/SCHEMA.md). */
static const struct {
	const char *collection, *status, *at, *est, *trust;
} step_times[] = {
	{"task", "done", "done_at", "done_at_est", "done_trust"},
	{"order", "accepted", "accepted_at", "accepted_at_est", "accepted_trust"},
	{"order", "on_site", "on_site_at", "on_site_at_est", "on_site_trust"},
	{"order", "resolved", "resolved_at", "resolved_at_est", "resolved_trust"},
};

static int is_str(const rfield *f, const char *s)
{
	return f && f->val.t == WV_STR && f->val.s.n == strlen(s) &&
	       !memcmp(f->val.s.p, s, f->val.s.n);
}

static int non_nil(const rfield *f)
{
	return f && f->val.t != WV_NIL;
}

/* One step of a write: fill a missing time the status reached, date a
 * time the write set, clear the estimate of a time cleared. */
static int fill_step(actx *x, unsigned i, const record *old, record *nw,
                     const char *boot, int has_mono, uint64_t mono)
{
	const rfield *at = rec_get(nw, step_times[i].at);
	const rfield *oat = old ? rec_get(old, step_times[i].at) : NULL;
	int reached = is_str(rec_get(nw, "status"), step_times[i].status) &&
	              !(old && is_str(rec_get(old, "status"), step_times[i].status));
	stamp st = {engine_hlc_now(x->e), ENGINE_ORIGIN, 6};
	uint64_t v = 0, est;
	const char *trust;
	int rc;
	if (reached && !non_nil(at)) {
		/* no device time for the step: its evidence time is the time */
		estimate(x, boot, has_mono, mono, 0, 0, &est, &trust, NULL);
		if ((rc = set_server(x, nw, step_times[i].at, wv_of_u64(est), &st)))
			return rc;
	} else if (non_nil(at) && !(non_nil(oat) && wv_equal(&oat->val, &at->val))) {
		int has_at = wv_u64(&at->val, &v);
		estimate(x, boot, has_mono, mono, has_at, v, &est, &trust, NULL);
	} else {
		if (non_nil(at) || !non_nil(rec_get(nw, step_times[i].est)))
			return FS_OK;
		wval nil = {0};
		nil.t = WV_NIL;
		if ((rc = set_server(x, nw, step_times[i].est, nil, &st)))
			return rc;
		return set_server(x, nw, step_times[i].trust, nil, &st);
	}
	if ((rc = set_server(x, nw, step_times[i].est, wv_of_u64(est), &st)))
		return rc;
	return set_server(x, nw, step_times[i].trust, wv_of_str(trust), &st);
}

int fill_steps(actx *x, const scollection *col, const record *old,
               record *nw, const wval *f)
{
	const wval *b = wv_get(f, "boot");
	char *boot = b && b->t == WV_STR ? wv_strdup(x->a, b) : NULL;
	uint64_t mono = 0;
	int has_mono = wv_u64(wv_get(f, "mono"), &mono);
	for (unsigned i = 0; i < sizeof(step_times) / sizeof(step_times[0]); i++) {
		if (strcmp(step_times[i].collection, col->name))
			continue;
		int rc = fill_step(x, i, old, nw, boot, has_mono, mono);
		if (rc)
			return rc;
	}
	return FS_OK;
}

/* respond_by / resolve_by of an order from its category's level. */
int fill_order(actx *x, record *r)
{
	const rfield *cat = rec_get(r, "category");
	const service_level *lv = NULL;
	if (cat && cat->val.t == WV_STR)
		lv = schema_service_level(cat->val.s.p, cat->val.s.n);
	uint64_t base;
	if (!rec_u64(r, "reported_at", &base)) {
		/* no device time: the first receive time, kept once set */
		const rfield *rb = rec_get(r, "respond_by");
		const rfield *sb = rec_get(r, "resolve_by");
		uint64_t v;
		if (lv && ((rb && wv_u64(&rb->val, &v)) || (sb && wv_u64(&sb->val, &v))))
			base = v - lv->minutes * 60000;
		else
			base = x->j->t;
	}
	const char *fields[2] = {"respond_by", "resolve_by"};
	for (int i = 0; i < 2; i++) {
		wval want = {0};
		want.t = WV_NIL;
		if (lv && !strcmp(lv->deadline_field, fields[i]))
			want = wv_of_u64(base + lv->minutes * 60000);
		const rfield *cur = rec_get(r, fields[i]);
		if (cur ? wv_equal(&cur->val, &want) : want.t == WV_NIL)
			continue;
		stamp st = {engine_hlc_now(x->e), ENGINE_ORIGIN, 6};
		int rc = set_server(x, r, fields[i], want, &st);
		if (rc)
			return rc;
	}
	return FS_OK;
}
