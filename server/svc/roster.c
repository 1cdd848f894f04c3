/*
 * roster.c — see roster.h.
 *
 * A pass reads the site in one read transaction: its rosters, the slots
 * they give on the managed days, and the site's shifts over those days
 * (the shift index) to find generated shifts whose slot is gone.  Only
 * the differences are pushed, as the server (genpush.h).  The plan's
 * read may be stale by the time it is written (another node generating
 * the same site, a supervisor editing a shift): the engine decides each
 * op again in its write transaction — a shift someone else wrote to is
 * kept, a field already as wanted is not written — so two nodes make
 * each deterministic id once, never twice (engine.h, untouched_only).
 */
#include "server/svc/roster.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/errors.h"
#include "server/model/principal.h"
#include "server/model/records.h"
#include "server/model/shift.h"
#include "server/svc/genpush.h"
#include "server/svc/tasks.h"

#define MIN_MS 60000ULL
#define PLAN_DAYS_MAX 400
#define SLOTS_MAX 100000u
#define ROSTERS_MAX 2000u

/* ---- cells --------------------------------------------------------------- */

static int two(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + p[1] - '0';
}

/* "HH:MM" in minutes (00:00-24:00), -1 when malformed. */
static int hhmm(const char *p)
{
	int h = two(p), m = two(p + 3);
	if (p[2] != ':' || h < 0 || m < 0 || h > 24 || m > 59 || (h == 24 && m))
		return -1;
	return h * 60 + m;
}

int roster_span_parse(const char *s, size_t n, roster_span *out)
{
	if (n != 11 || s[5] != '-')
		return -1;
	int f = hhmm(s), t = hhmm(s + 6);
	if (f < 0 || t < 0 || f >= 1440)
		return -1;
	out->from = (uint32_t)f;
	out->to = (uint32_t)(t > f ? t : t + 1440);
	return 0;
}

int roster_weekday_parse(const char *s, size_t n)
{
	static const char *const wd[] = {"mon", "tue", "wed", "thu",
	                                 "fri", "sat", "sun"};
	for (int i = 0; n == 3 && i < 7; i++)
		if (!strncasecmp(s, wd[i], 3))
			return i;
	return -1;
}

int roster_date_parse(const char *s, size_t n, int64_t *day)
{
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	int y1 = two(s), y2 = two(s + 2), m = two(s + 5), d = two(s + 8);
	if (y1 < 0 || y2 < 0 || m < 1 || m > 12 || d < 1)
		return -1;
	int64_t y = y1 * 100 + y2;
	if (y < 1970 || (unsigned)d > tz_days_in_month(y, (unsigned)m))
		return -1;
	*day = tz_days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

/* ---- records ------------------------------------------------------------- */

static int str_of(const wval *v, const char **p, size_t *n)
{
	if (!v || v->t != WV_STR)
		return -1;
	*p = v->s.p;
	*n = v->s.n;
	return 0;
}

static void spans_of(roster *r, const rfield *f)
{
	if (!f || f->val.t != WV_ARR || !f->val.a.n) {
		r->bad = "no shifts in the pattern";
		return;
	}
	if (f->val.a.n > ROSTER_SPANS_MAX) {
		r->bad = "more than 24 shifts in the pattern";
		return;
	}
	for (uint32_t i = 0; i < f->val.a.n; i++) {
		const char *p;
		size_t n;
		if (str_of(&f->val.a.v[i], &p, &n) ||
		    roster_span_parse(p, n, &r->span[r->nspan])) {
			r->bad = "a shift is not HH:MM-HH:MM";
			return;
		}
		r->nspan++;
	}
}

static void days_of(roster *r, const rfield *f)
{
	r->days = 0x7f;
	if (!f || f->val.t != WV_ARR || !f->val.a.n)
		return;
	r->days = 0;
	for (uint32_t i = 0; i < f->val.a.n; i++) {
		const char *p;
		size_t n;
		int w = str_of(&f->val.a.v[i], &p, &n) ? -1
		                                        : roster_weekday_parse(p, n);
		if (w < 0) {
			r->bad = "a day is not mon..sun";
			return;
		}
		r->days |= (uint8_t)(1u << w);
	}
}

static void dates_of(roster *r, const record *rec)
{
	const char *p;
	size_t n;
	const rfield *f = rec_get(rec, "valid_from");
	r->day_from = INT64_MIN;
	r->day_to = INT64_MAX;
	if (f && f->val.t != WV_NIL) {
		if (str_of(&f->val, &p, &n) || roster_date_parse(p, n, &r->day_from))
			r->bad = "valid_from is not YYYY-MM-DD";
		r->has_from = 1;
	}
	f = rec_get(rec, "valid_to");
	if (f && f->val.t != WV_NIL &&
	    (str_of(&f->val, &p, &n) || roster_date_parse(p, n, &r->day_to)))
		r->bad = "valid_to is not YYYY-MM-DD";
}

int roster_from_record(arena *a, const char *id, const record *rec, roster *r)
{
	memset(r, 0, sizeof(*r));
	r->id = arena_strndup(a, id, strlen(id));
	if (!r->id)
		return FS_E_UNAVAILABLE;
	char *role = rec_str(a, rec, "role");
	r->role = role ? role_parse(role, strlen(role)) : ROLE_NONE;
	if (r->role == ROLE_NONE)
		r->bad = "no role";
	const rfield *sf = rec_get(rec, "staff");
	if (sf && sf->val.t == WV_ARR) {
		uint32_t n = sf->val.a.n < ROSTER_STAFF_MAX ? sf->val.a.n
		                                            : ROSTER_STAFF_MAX;
		r->staff = arena_calloc(a, n ? n : 1, sizeof(char *));
		if (!r->staff)
			return FS_E_UNAVAILABLE;
		for (uint32_t i = 0; i < n; i++) {
			const char *p;
			size_t k;
			if (str_of(&sf->val.a.v[i], &p, &k))
				continue;
			if (!(r->staff[r->nstaff++] = arena_strndup(a, p, k)))
				return FS_E_UNAVAILABLE;
		}
	}
	uint64_t v = 1;
	r->crew = rec_u64(rec, "crew", &v) && v >= 1 ? (uint32_t)(v < 100 ? v : 100)
	                                              : 1;
	if (r->crew > r->nstaff)
		r->crew = r->nstaff ? r->nstaff : 1;
	v = 0;
	r->rotate_days = rec_u64(rec, "rotate_days", &v) && v < 100000
	                         ? (uint32_t)v : 0;
	spans_of(r, rec_get(rec, "shifts"));
	days_of(r, rec_get(rec, "days"));
	dates_of(r, rec);
	r->route = rec_str(a, rec, "route");
	r->post = rec_str(a, rec, "post");
	return FS_OK;
}

/* ---- the plan ------------------------------------------------------------ */

char *roster_shift_id(arena *a, const char *rid, int64_t day, uint32_t span)
{
	return gp_slot_id(a, "sh", rid, day, span);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int add_slot(const tz_zone *z, const roster *r, int64_t day,
                    uint32_t i, arena *a, roster_slot *s)
{
	memset(s, 0, sizeof(*s));
	int64_t base = day * TZ_DAY_MS;
	int64_t f = tz_local_to_utc_ms(z, base + (int64_t)(r->span[i].from * MIN_MS));
	int64_t t = tz_local_to_utc_ms(z, base + (int64_t)(r->span[i].to * MIN_MS));
	if (f < 0 || t <= f)
		return 1; /* before 1970, or swallowed by a DST gap */
	s->r = r;
	s->day = day;
	s->span = i;
	s->starts = (uint64_t)f;
	s->ends = (uint64_t)t;
	if (r->nstaff) {
		int64_t anchor = r->has_from ? r->day_from : 0;
		int64_t rot = r->rotate_days ? floor_div(day - anchor, r->rotate_days)
		                             : 0;
		s->staff = arena_calloc(a, r->crew, sizeof(char *));
		if (!s->staff)
			return -1;
		int64_t k0 = ((int64_t)i + rot) * r->crew;
		for (uint32_t j = 0; j < r->crew; j++) {
			int64_t k = (k0 + j) % (int64_t)r->nstaff;
			s->staff[j] = r->staff[k < 0 ? k + r->nstaff : k];
		}
		s->nstaff = r->crew;
	}
	s->id = roster_shift_id(a, r->id, day, i);
	return s->id ? 0 : -1;
}

int roster_plan(const tz_zone *z, const roster *rs, uint32_t n,
                int64_t day_from, int64_t day_to, arena *a,
                roster_slot **out, uint32_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (day_to < day_from)
		return FS_OK;
	if (day_to - day_from >= PLAN_DAYS_MAX)
		return FS_E_TOO_LARGE;
	roster_slot *v = NULL;
	uint32_t nv = 0, cap = 0;
	for (uint32_t k = 0; k < n; k++) {
		const roster *r = &rs[k];
		if (r->bad)
			continue;
		for (int64_t d = day_from; d <= day_to; d++) {
			if (d < r->day_from || d > r->day_to ||
			    !(r->days & (1u << tz_weekday(d))))
				continue;
			for (uint32_t i = 0; i < r->nspan; i++) {
				if (nv >= SLOTS_MAX)
					return FS_E_TOO_LARGE;
				if (arena_grow(a, (void **)&v, &cap, nv, nv + 1,
				               sizeof(*v), 64))
					return FS_E_UNAVAILABLE;
				int rc = add_slot(z, r, d, i, a, &v[nv]);
				if (rc < 0)
					return FS_E_UNAVAILABLE;
				nv += rc == 0;
			}
		}
	}
	*out = v;
	*nout = nv;
	return FS_OK;
}

/* ---- reading the site ------------------------------------------------------ */

typedef struct {
	arena *a;
	roster *v;
	uint32_t n, cap;
} rscan;

static int roster_cb(void *ctx, const char *id, const record *r)
{
	rscan *s = ctx;
	if (s->n >= ROSTERS_MAX)
		return FS_E_TOO_LARGE;
	if (arena_grow(s->a, (void **)&s->v, &s->cap, s->n, s->n + 1,
	               sizeof(*s->v), 8))
		return FS_E_UNAVAILABLE;
	int rc = roster_from_record(s->a, id, r, &s->v[s->n]);
	s->n += !rc;
	return rc ? rc : SCAN_NEXT;
}

static int slot_cmp(const void *a, const void *b)
{
	return strcmp(((const roster_slot *)a)->id, ((const roster_slot *)b)->id);
}

static const roster_slot *find_slot(const roster_slot *v, uint32_t n,
                                    const char *id)
{
	roster_slot key;
	key.id = (char *)id;
	return n ? bsearch(&key, v, n, sizeof(*v), slot_cmp) : NULL;
}

/* ---- generating -------------------------------------------------------------- */

/* The op bringing shift `id` (cur: as stored, NULL when absent) to slot s. */
static int want_slot(gp_out *o, const char *site, const roster_slot *s,
                     const record *cur, int *wrote)
{
	wval staff;
	memset(&staff, 0, sizeof(staff));
	staff.t = WV_ARR;
	staff.a.n = s->nstaff;
	staff.a.v = arena_calloc(o->a, s->nstaff ? s->nstaff : 1, sizeof(wval));
	if (!staff.a.v)
		return FS_E_UNAVAILABLE;
	for (uint32_t j = 0; j < s->nstaff; j++)
		staff.a.v[j] = wv_of_str(s->staff[j]);
	gp_field w[] = {
		{"site", wv_of_str(site)},
		{"role", wv_of_str(role_name(s->r->role))},
		{"starts", wv_of_u64(s->starts)},
		{"ends", wv_of_u64(s->ends)},
		{"staff", staff},
		{"lead", wv_of_str(s->nstaff ? s->staff[0] : NULL)},
		{"route", wv_of_str(s->r->route)},
		{"post", wv_of_str(s->r->post)},
		{"roster", wv_of_str(s->r->id)},
		{"_deleted", wv_of_bool(0)},
	};
	uint32_t nw = sizeof(w) / sizeof(w[0]);
	return gp_add(o, "shift", s->id, cur, w, cur ? nw : nw - 1, wrote);
}

static int gen_plan(engine *e, tz_db *tz, const char *site, uint64_t now,
                    gp_out *o, roster_stats *st)
{
	arena *a = o->a;
	store_txn *t;
	int rc = store_begin(engine_store(e), 0, &t);
	if (rc)
		return rc;
	task_site s;
	const tz_zone *z = NULL;
	if ((rc = tasks_load_site(t, a, site, &s)))
		goto out;
	if (tz_get(tz, s.tz ? s.tz : "UTC", &z) != FS_OK)
		goto out; /* tasks.c says so once a pass */
	char *bucket = arena_printf(a, "site/%s", site);
	rscan rs = {a, NULL, 0, 0};
	if (!bucket) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	if ((rc = records_in_bucket(t, a, "roster", bucket, roster_cb, &rs)))
		goto out;
	int r;
	int64_t today = tz_day_of(tz_utc_to_local_ms(z, (int64_t)now));
	int64_t last = tz_day_of(tz_utc_to_local_ms(
		z, (int64_t)(now + ROSTER_AHEAD_DAYS * (uint64_t)TZ_DAY_MS)));
	int64_t first = today - 1;
	roster_slot *slots;
	uint32_t ns;
	if ((rc = roster_plan(z, rs.v, rs.n, first, last, a, &slots, &ns)))
		goto out;
	if (ns)
		qsort(slots, ns, sizeof(*slots), slot_cmp);
	st->slots = ns;
	for (uint32_t i = 0; i < ns; i++) {
		roster_slot *sl = &slots[i];
		record cur;
		int have = 0, wrote;
		r = records_load(t, a, "shift", sl->id, &cur, NULL, NULL);
		if (r != FS_OK && r != FS_E_NOT_FOUND) {
			rc = r;
			goto out;
		}
		have = r == FS_OK;
		int live = have && !rec_true(&cur, "_deleted");
		uint64_t starts = 0;
		if (have && (gp_touched(&cur) ||
		             (live && rec_u64(&cur, "starts", &starts) &&
		              starts <= now))) {
			st->kept++;
			continue;
		}
		if (!live && sl->ends <= now)
			continue; /* over before it was (again) made */
		if ((rc = want_slot(o, site, sl, have ? &cur : NULL, &wrote)))
			goto out;
		if (wrote)
			have ? st->moved++ : st->created++;
	}
	/* generated shifts of these days whose slot is gone */
	shift_info *sh;
	uint32_t nsh;
	uint64_t from = (uint64_t)tz_local_to_utc_ms(z, first * TZ_DAY_MS),
	         to = (uint64_t)tz_local_to_utc_ms(z, (last + 2) * TZ_DAY_MS);
	if ((rc = shift_site_scan(t, a, site, from, to, &sh, &nsh)))
		goto out;
	for (uint32_t i = 0; i < nsh; i++) {
		record cur;
		if (sh[i].starts <= now || find_slot(slots, ns, sh[i].id))
			continue;
		r = records_load(t, a, "shift", sh[i].id, &cur, NULL, NULL);
		if (r == FS_E_NOT_FOUND)
			continue;
		if (r) {
			rc = r;
			goto out;
		}
		if (!rec_get(&cur, "roster") || rec_true(&cur, "_deleted"))
			continue; /* written by hand */
		if (gp_touched(&cur)) {
			st->kept++;
			continue;
		}
		gp_field del = {"_deleted", wv_of_bool(1)};
		int wrote;
		if ((rc = gp_add(o, "shift", sh[i].id, &cur, &del, 1, &wrote)))
			goto out;
		st->deleted += wrote;
	}
out:
	store_abort(t);
	return rc;
}

int roster_generate_site(engine *e, tz_db *tz, const char *site, uint64_t now,
                         roster_stats *st)
{
	roster_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	gp_out o;
	memset(&o, 0, sizeof(o));
	o.e = e;
	o.untouched_only = 1;
	o.a = arena_new(0);
	if (!o.a)
		return FS_E_UNAVAILABLE;
	int rc = gen_plan(e, tz, site, now, &o, st);
	if (!rc)
		rc = gp_push_all(&o, NULL, "rosters");
	gp_free(&o);
	arena_free(o.a);
	return rc;
}
