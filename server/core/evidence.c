/*
 * evidence.c — what a new checkin proves beyond its time (derive.c): the
 * secure tag's SUN message against the checkpoint's tag (lib/sun.h,
 * model/tag.h), the position against the checkpoint's circle, and the
 * verdict with its reasons (model/evidence.h).  Filled once, on the first
 * write, with origin `server`; schema/EVIDENCE.md says what each proves.
 */
#include <math.h>
#include <string.h>

#include "protocol/errors.h"
#include "server/core/engine_int.h"
#include "server/lib/sun.h"
#include "server/model/evidence.h"
#include "server/model/records.h"
#include "server/model/tag.h"

/* Counters bound time: a tap with a higher counter happened after every
 * tap with a lower one.  A tap whose time lies this much before the time
 * of a lower-counter tap is out of order (clocks of honest devices agree
 * within the trust window). */
#define TAG_ORDER_SLACK_MS 60000

typedef struct {
	const char *tag;    /* verified, replayed, invalid, absent */
	int secure_cp;
	int has_ctr;
	uint32_t ctr;
	int out_of_order;
} tag_result;

/* The checkin's `sun` against its checkpoint's tag. */
static int check_tag(actx *x, const char *cp, const rfield *sun,
                     uint64_t at_est, tag_result *out)
{
	memset(out, 0, sizeof(*out));
	out->tag = "absent";
	tag_keys k;
	int rc = cp ? tag_get(x->t, x->e->cfg.tag_key, cp, &k) : FS_E_NOT_FOUND;
	if (rc == FS_E_NOT_FOUND)
		return FS_OK; /* a plain checkpoint: its NFC URL proves nothing */
	if (rc && rc != FS_E_INTERNAL)
		return rc;
	out->secure_cp = 1;
	if (!sun || sun->val.t == WV_NIL)
		return FS_OK;
	out->tag = "invalid";
	if (rc || sun->val.t != WV_STR)
		return FS_OK;
	sun_picc p;
	int v = sun_verify(sun->val.s.p, sun->val.s.n, k.meta_key, k.file_key, &p);
	if (v == SUN_ERROR)
		return FS_E_UNAVAILABLE;
	if (v != SUN_OK || memcmp(p.uid, k.uid, 7))
		return FS_OK; /* forged, damaged, or another checkpoint's tag */
	out->has_ctr = 1;
	out->ctr = p.counter;
	uint32_t max;
	uint64_t max_at;
	rc = tag_counter_get(x->t, p.uid, &max, &max_at);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	if (rc == FS_OK && p.counter <= max) {
		out->tag = "replayed";
		return FS_OK;
	}
	out->tag = "verified";
	out->out_of_order = rc == FS_OK && at_est + TAG_ORDER_SLACK_MS < max_at;
	return tag_counter_put(x->t, p.uid, p.counter, at_est);
}

static int num(const record *r, const char *name, double *out)
{
	const rfield *f = rec_get(r, name);
	return f && wv_num(&f->val, out) && isfinite(*out);
}

/* `place` of the checkin against its checkpoint (-1: not checked). */
static int check_place(actx *x, const record *ck, const record *cp,
                       int have_cp, int required)
{
	double clat, clon, lat, lon, acc = -1, radius = EVIDENCE_RADIUS_M, dist;
	int cp_pos = have_cp && num(cp, "lat", &clat) && num(cp, "lon", &clon);
	int ck_pos = num(ck, "lat", &lat) && num(ck, "lon", &lon);
	if (!cp_pos && !required)
		return -1;
	if (!ck_pos)
		return PLACE_UNKNOWN;
	if (!cp_pos)
		return PLACE_UNKNOWN; /* a position, but nothing to hold it to */
	if (have_cp && num(cp, "radius", &radius) && radius < 0)
		radius = EVIDENCE_RADIUS_M;
	if (!num(ck, "acc", &acc))
		acc = -1;
	return evidence_place(clat, clon, radius, lat, lon, acc, &dist);
}

int fill_evidence(actx *x, record *r, const char *trust, int boot_overlap,
                  uint64_t at_est, const stamp *st)
{
	char *cp_id = rec_str(x->a, r, "checkpoint");
	char *site_id = rec_str(x->a, r, "site");
	record cp, site;
	int have_cp = cp_id &&
	              records_load(x->t, x->a, "checkpoint", cp_id, &cp, NULL,
	                           NULL) == FS_OK &&
	              !rec_true(&cp, "_deleted");
	int required = site_id &&
	               records_load(x->t, x->a, "site", site_id, &site, NULL,
	                            NULL) == FS_OK &&
	               rec_true(&site, "require_position");
	tag_result tr;
	int rc = check_tag(x, cp_id, rec_get(r, "sun"), at_est, &tr);
	if (rc)
		return rc;
	int place = check_place(x, r, &cp, have_cp, required);
	evidence_in in = {trust, boot_overlap, tr.tag, tr.secure_cp,
	                  tr.out_of_order, evidence_place_name(place), required};
	const char *reasons[EVIDENCE_REASONS_MAX];
	unsigned n;
	int verdict = evidence_verdict(&in, reasons, &n);
	wval arr;
	memset(&arr, 0, sizeof(arr));
	arr.t = WV_ARR;
	arr.a.n = n;
	arr.a.v = arena_calloc(x->a, n ? n : 1, sizeof(wval));
	if (!arr.a.v)
		return FS_E_UNAVAILABLE;
	for (unsigned i = 0; i < n; i++)
		arr.a.v[i] = wv_of_str(reasons[i]);
	if ((rc = set_server(x, r, "tag", wv_of_str(tr.tag), st)) ||
	    (tr.has_ctr && (rc = set_server(x, r, "tag_ctr", wv_of_u64(tr.ctr), st))) ||
	    (place >= 0 &&
	     (rc = set_server(x, r, "place", wv_of_str(evidence_place_name(place)), st))) ||
	    (rc = set_server(x, r, "verdict", wv_of_str(evidence_verdict_name(verdict)),
	              st)) ||
	    (rc = set_server(x, r, "reasons", arr, st)))
		return rc;
	return FS_OK;
}
