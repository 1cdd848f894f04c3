/*
 * tasks.c — see tasks.h.
 *
 * The generator reads the site in one read transaction, plans the slots,
 * compares them with the tasks it made before (ST_AUX index
 * "gen/<site>/<YYYYMMDD>/<task id>", written before the tasks so it never
 * misses one), and pushes only the differences through engine_sync as the
 * server.  It runs in its own thread: the engine's writer only pokes it.
 * With several nodes on one store each generates; the engine decides
 * each pushed op again in its write transaction (a task someone else
 * wrote to is kept, fields already as wanted are not written: engine.h,
 * untouched_only), so a task id is made once, and the index keys written
 * twice are the same keys.
 */
#include "server/svc/tasks.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/opbuild.h"
#include "protocol/valid.h"
#include "schema/catalogue.h"
#include "server/lib/crypto.h"
#include "server/lib/waitms.h"
#include "server/model/records.h"
#include "server/svc/genpush.h"
#include "server/svc/roster.h"

#define MIN_MS 60000ULL
#define HOUR_MS (60 * MIN_MS)
#define PLAN_DAYS_MAX 400
#define SLOTS_MAX 200000u
#define TIMES_MAX 1440u
#define PUSH_OPS 2000u
#define DIRTY_MAX 64
#define INTERVAL_DEFAULT (10 * MIN_MS)

/* ---- records ------------------------------------------------------------- */

/* "HH:MM" (00:00-24:00) in minutes, -1 when malformed. */
static int hhmm(const wval *v)
{
	if (!v || v->t != WV_STR || v->s.n != 5 || v->s.p[2] != ':')
		return -1;
	const char *p = v->s.p;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (p[i] < '0' || p[i] > '9'))
			return -1;
	int h = (p[0] - '0') * 10 + p[1] - '0', m = (p[3] - '0') * 10 + p[4] - '0';
	if (h > 24 || m > 59 || (h == 24 && m))
		return -1;
	return h * 60 + m;
}

int tasks_standard_from_record(arena *a, const char *id, const record *r,
                               task_standard *s)
{
	memset(s, 0, sizeof(*s));
	s->id = arena_strndup(a, id, strlen(id));
	s->zone = rec_str(a, r, "zone");
	s->title = rec_str(a, r, "title");
	char *role = rec_str(a, r, "role");
	s->role = role ? role_parse(role, strlen(role)) : ROLE_NONE;
	char *per = rec_str(a, r, "per");
	static const char *const pers[] = {"day", "week", "month", "year"};
	s->per = PER_NONE;
	for (int i = 0; per && i < 4; i++)
		if (!strcmp(per, pers[i]))
			s->per = i;
	uint64_t times = 1;
	const rfield *tf = rec_get(r, "times");
	if (tf && tf->val.t != WV_NIL && !wv_u64(&tf->val, &times))
		times = 0;
	s->times = times > TIMES_MAX ? TIMES_MAX : (uint32_t)times;
	s->win_from = 0;
	s->win_to = 1440;
	const rfield *w = rec_get(r, "window");
	if (w && w->val.t == WV_ARR && w->val.a.n == 2) {
		int f = hhmm(&w->val.a.v[0]), to = hhmm(&w->val.a.v[1]);
		if (f >= 0 && to >= 0 && f < 1440) {
			s->win_from = (uint32_t)f;
			s->win_to = (uint32_t)(to > f ? to : to + 1440);
		}
	}
	const rfield *mo = rec_get(r, "months");
	if (mo && mo->val.t == WV_ARR)
		for (uint32_t i = 0; i < mo->val.a.n; i++) {
			uint64_t m;
			if (wv_u64(&mo->val.a.v[i], &m) && m >= 1 && m <= 12)
				s->months |= (uint16_t)(1u << m);
		}
	if (mo && mo->val.t == WV_ARR && mo->val.a.n && !s->months)
		s->per = PER_NONE; /* months given, none valid: never */
	return s->id ? FS_OK : FS_E_UNAVAILABLE;
}

/* ---- the plan -------------------------------------------------------------- */

char *tasks_id(arena *a, const char *standard, int64_t day, uint32_t slot)
{
	return gp_slot_id(a, "tk", standard, day, slot);
}

typedef struct {
	arena *a;
	task_slot *v;
	uint32_t n, cap;
} slotvec;

static int push_slot(slotvec *sv_, const task_slot *s)
{
	if (sv_->n == sv_->cap && sv_->cap >= SLOTS_MAX)
		return FS_E_TOO_LARGE;
	if (arena_grow(sv_->a, (void **)&sv_->v, &sv_->cap, sv_->n, sv_->n + 1,
	               sizeof(*sv_->v), 64))
		return FS_E_UNAVAILABLE;
	sv_->v[sv_->n++] = *s;
	return FS_OK;
}

static const shift_info *holder(const shift_info *sh, uint32_t n, int role,
                                uint64_t t)
{
	for (uint32_t i = 0; i < n; i++)
		if (sh[i].role == role && sh[i].starts <= t && t < sh[i].ends)
			return &sh[i];
	return NULL;
}

/* One slot: local [from_min, to_min) of `day` in ms, to UTC. */
static int add_slot(slotvec *out, const tz_zone *z, const task_standard *s,
                    int64_t day, uint32_t slot, uint64_t from_ms,
                    uint64_t to_ms, const shift_info *sh, uint32_t nsh)
{
	int64_t base = day * TZ_DAY_MS;
	int64_t f = tz_local_to_utc_ms(z, base + (int64_t)from_ms);
	int64_t t = tz_local_to_utc_ms(z, base + (int64_t)to_ms);
	if (f < 0 || t < f)
		return FS_OK; /* before 1970, or a degenerate window */
	task_slot ts;
	memset(&ts, 0, sizeof(ts));
	ts.std = s;
	ts.day = day;
	ts.slot = slot;
	ts.due_from = (uint64_t)f;
	ts.due_to = (uint64_t)t;
	ts.shift = holder(sh, nsh, s->role, ts.due_from);
	ts.id = tasks_id(out->a, s->id, day, slot);
	if (!ts.id)
		return FS_E_UNAVAILABLE;
	return push_slot(out, &ts);
}

int tasks_plan(const tz_zone *z, const task_standard *stds, uint32_t nstd,
               const shift_info *shifts, uint32_t nsh, int64_t day_from,
               int64_t day_to, arena *a, task_slot **out, uint32_t *n)
{
	*out = NULL;
	*n = 0;
	if (day_to < day_from)
		return FS_OK;
	if (day_to - day_from >= PLAN_DAYS_MAX)
		return FS_E_TOO_LARGE;
	slotvec v = {a, NULL, 0, 0};
	int rc = FS_OK;
	for (uint32_t si = 0; si < nstd && !rc; si++) {
		const task_standard *s = &stds[si];
		uint32_t nt = s->times;
		if (s->per == PER_NONE || !nt)
			continue;
		uint64_t w0 = (uint64_t)s->win_from * MIN_MS,
		         w1 = (uint64_t)s->win_to * MIN_MS, len = w1 - w0;
		for (int64_t day = day_from; day <= day_to && !rc; day++) {
			int64_t y;
			unsigned m, d;
			tz_civil_from_days(day, &y, &m, &d);
			if (s->months && !(s->months & (1u << m)))
				continue;
			switch (s->per) {
			case PER_DAY:
				for (uint32_t i = 0; i < nt && !rc; i++)
					rc = add_slot(&v, z, s, day, i,
					              w0 + (uint64_t)i * len / nt,
					              w0 + ((uint64_t)i + 1) * len / nt,
					              shifts, nsh);
				break;
			case PER_WEEK: {
				unsigned wd = tz_weekday(day);
				for (uint32_t i = 0; i < nt && !rc; i++)
					if ((uint64_t)i * 7 / nt == wd)
						rc = add_slot(&v, z, s, day, i, w0, w1,
						              shifts, nsh);
				break;
			}
			case PER_MONTH: {
				unsigned dim = tz_days_in_month(y, m);
				for (uint32_t i = 0; i < nt && !rc; i++)
					if ((uint64_t)i * dim / nt == d - 1)
						rc = add_slot(&v, z, s, day, i, w0, w1,
						              shifts, nsh);
				break;
			}
			case PER_YEAR:
				if (d != 1)
					break;
				for (uint32_t i = 0; i < nt && !rc; i++)
					if ((uint64_t)i * 12 / nt + 1 == m)
						rc = add_slot(&v, z, s, day, i, w0, w1,
						              shifts, nsh);
				break;
			}
		}
	}
	*out = v.v;
	*n = v.n;
	return rc;
}

/* ---- reading a site -------------------------------------------------------- */

int tasks_load_site(store_txn *t, arena *a, const char *site, task_site *out)
{
	memset(out, 0, sizeof(*out));
	record r;
	int rc = records_load(t, a, "site", site, &r, NULL, NULL);
	if (rc)
		return rc;
	if (rec_true(&r, "_deleted"))
		return FS_E_NOT_FOUND;
	out->id = arena_strndup(a, site, strlen(site));
	out->name = rec_str(a, &r, "name");
	out->tz = rec_str(a, &r, "tz");
	out->has_households = rec_u64(&r, "households", &out->households);
	return out->id ? FS_OK : FS_E_UNAVAILABLE;
}

typedef struct {
	arena *a;
	task_standard *v;
	uint32_t n, cap;
} stdscan;

static int std_cb(void *ctx, const char *id, const record *r)
{
	stdscan *s = ctx;
	if (arena_grow(s->a, (void **)&s->v, &s->cap, s->n, s->n + 1,
	               sizeof(*s->v), 32))
		return FS_E_UNAVAILABLE;
	int rc = tasks_standard_from_record(s->a, id, r, &s->v[s->n]);
	s->n += !rc;
	return rc ? rc : SCAN_NEXT;
}

int tasks_site_standards(store_txn *t, arena *a, const char *site,
                         task_standard **out, uint32_t *n)
{
	*out = NULL;
	*n = 0;
	char *bucket = arena_printf(a, "site/%s", site);
	if (!bucket)
		return FS_E_UNAVAILABLE;
	stdscan s = {a, NULL, 0, 0};
	int rc = records_in_bucket(t, a, "standard", bucket, std_cb, &s);
	*out = s.v;
	*n = s.n;
	return rc;
}

/* ---- generating -------------------------------------------------------------- */

/* A task the generator made before, as it is now. */
typedef struct {
	char *id;
	int exists;
	int touched;
	int deleted;
	record r;
	int wanted;
} gen_task;

/* The ops to push (genpush.h), plus the index keys to add first. */
typedef struct {
	gp_out w;
	char **keys;
	uint32_t nkeys, capkeys;
} gen_out;

static char *day_key(arena *a, const char *site, int64_t day, const char *id)
{
	int64_t y;
	unsigned m, d;
	tz_civil_from_days(day, &y, &m, &d);
	return arena_printf(a, "gen/%s/%04lld%02u%02u/%s", site, (long long)y, m,
	                    d, id ? id : "");
}

typedef struct {
	store_txn *t;
	arena *a;
	size_t plen;
	gen_task *v;
	uint32_t n, cap;
	int rc;
} idxscan;

static int idx_cb(void *ctx, sv key, sv val)
{
	idxscan *s = ctx;
	if (s->n == s->cap && (s->cap ? s->cap * 2 : 64) > SLOTS_MAX) {
		s->rc = FS_E_TOO_LARGE;
		return SCAN_STOP;
	}
	if (arena_grow(s->a, (void **)&s->v, &s->cap, s->n, s->n + 1,
	               sizeof(*s->v), 64)) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	gen_task *g = &s->v[s->n];
	memset(g, 0, sizeof(*g));
	g->id = arena_strndup(s->a, (const char *)key.p + s->plen, key.n - s->plen);
	if (!g->id) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	int rc = records_load(s->t, s->a, "task", g->id, &g->r, NULL, NULL);
	if (rc == FS_OK) {
		g->exists = 1;
		g->touched = gp_touched(&g->r);
		g->deleted = rec_true(&g->r, "_deleted");
	} else if (rc != FS_E_NOT_FOUND) {
		s->rc = rc;
		return SCAN_STOP;
	}
	s->n++;
	return SCAN_NEXT;
}

static int gen_cmp(const void *a, const void *b)
{
	return strcmp(((const gen_task *)a)->id, ((const gen_task *)b)->id);
}

/* v sorted by id */
static gen_task *find_task(gen_task *v, uint32_t n, const char *id)
{
	gen_task key;
	key.id = (char *)id;
	return n ? bsearch(&key, v, n, sizeof(*v), gen_cmp) : NULL;
}

static int slotp_cmp(const void *a, const void *b)
{
	return strcmp((*(task_slot *const *)a)->id, (*(task_slot *const *)b)->id);
}

/* Is the slot with this id held by a shift?  by_id sorted by id. */
static int slot_held(task_slot **by_id, uint32_t n, const char *id)
{
	task_slot key, *kp = &key;
	key.id = (char *)id;
	task_slot **hit = n ? bsearch(&kp, by_id, n, sizeof(*by_id), slotp_cmp)
	                    : NULL;
	return hit && (*hit)->shift != NULL;
}

static int add_key(gen_out *o, char *k)
{
	if (!k)
		return FS_E_UNAVAILABLE;
	if (arena_grow(o->w.a, (void **)&o->keys, &o->capkeys, o->nkeys,
	               o->nkeys + 1, sizeof(char *), 64))
		return FS_E_UNAVAILABLE;
	o->keys[o->nkeys++] = k;
	return FS_OK;
}

static int keys_txn(void *ctx, store_txn *t)
{
	gen_out *o = ctx;
	uint8_t one = 1;
	for (uint32_t i = 0; i < o->nkeys; i++) {
		int rc = store_put(t, ST_AUX, sv_cstr(o->keys[i]), sv_of(&one, 1));
		if (rc)
			return rc;
	}
	return FS_OK;
}

/* Read the site and decide what to write (one read transaction). */
static int gen_plan(engine *e, tz_db *tz, const char *site, uint64_t now,
                    arena *a, gen_out *o, tasks_stats *st)
{
	store_txn *t;
	int rc = store_begin(engine_store(e), 0, &t);
	if (rc)
		return rc;
	task_site s;
	const tz_zone *z = NULL;
	if ((rc = tasks_load_site(t, a, site, &s)))
		goto out;
	/* a site without a zone keeps UTC; one with an unknown zone has no
	 * local dates at all: said once a pass, nothing written */
	if (tz_get(tz, s.tz ? s.tz : "UTC", &z) != FS_OK) {
		fprintf(stderr, "fieldsyncd: tasks: site %s: unknown time zone '%s'\n",
		        site, s.tz);
		goto out;
	}
	int64_t today = tz_day_of(tz_utc_to_local_ms(z, (int64_t)now));
	int64_t last = tz_day_of(tz_utc_to_local_ms(z, (int64_t)(now + 72 * HOUR_MS)));
	int64_t first = today - 1;
	task_standard *stds;
	uint32_t nstd;
	if ((rc = tasks_site_standards(t, a, site, &stds, &nstd)))
		goto out;
	/* shifts that can hold a slot of these days (windows may run into
	 * the next day) */
	uint64_t from = (uint64_t)(first - 1) * TZ_DAY_MS,
	         to = (uint64_t)(last + 3) * TZ_DAY_MS;
	shift_info *sh;
	uint32_t nsh;
	if ((rc = shift_site_scan(t, a, site, from, to, &sh, &nsh)))
		goto out;
	task_slot *slots;
	uint32_t ns;
	if ((rc = tasks_plan(z, stds, nstd, sh, nsh, first, last, a, &slots, &ns)))
		goto out;
	/* what the generator made before on these days */
	idxscan ix = {t, a, 0, NULL, 0, 0, FS_OK};
	for (int64_t day = first; day <= last && !ix.rc; day++) {
		char *pre = day_key(a, site, day, NULL);
		if (!pre) {
			rc = FS_E_UNAVAILABLE;
			goto out;
		}
		ix.plen = strlen(pre);
		int r = store_scan(t, ST_AUX, sv_cstr(pre), sv_cstr(pre), idx_cb, &ix);
		if (r && r != SCAN_STOP && r != FS_E_NOT_FOUND) {
			rc = r;
			goto out;
		}
	}
	if ((rc = ix.rc))
		goto out;
	if (ix.n)
		qsort(ix.v, ix.n, sizeof(gen_task), gen_cmp);
	task_slot **by_id = arena_calloc(a, ns ? ns : 1, sizeof(task_slot *));
	if (!by_id) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	for (uint32_t i = 0; i < ns; i++)
		by_id[i] = &slots[i];
	if (ns)
		qsort(by_id, ns, sizeof(task_slot *), slotp_cmp);
	st->slots = ns;
	for (uint32_t i = 0; i < ns; i++) {
		task_slot *sl = &slots[i];
		gen_task *g = find_task(ix.v, ix.n, sl->id);
		if (g)
			g->wanted = 1;
		if (!sl->shift) {
			st->uncovered++;
			continue; /* handled with the unwanted below */
		}
		if (g && g->touched) {
			st->kept++;
			continue;
		}
		record cur;
		int have = 0;
		if (!g) {
			/* not indexed: a task of that id may still exist (an index
			 * lost to a crash, or a supervisor's own) */
			int r = records_load(t, a, "task", sl->id, &cur, NULL, NULL);
			if (r == FS_OK) {
				if (gp_touched(&cur)) {
					st->kept++;
					continue;
				}
				have = 1;
			} else if (r != FS_E_NOT_FOUND) {
				rc = r;
				goto out;
			}
			if ((rc = add_key(o, day_key(a, site, sl->day, sl->id))))
				goto out;
		} else if (g->exists) {
			cur = g->r;
			have = 1;
		}
		const shift_info *shf = sl->shift;
		const char *assignee = shf->lead ? shf->lead
		                       : shf->nstaff ? shf->staff[0]
		                                     : NULL;
		gp_field w[] = {
			{"site", wv_of_str(site)},
			{"shift", wv_of_str(shf->id)},
			{"standard", wv_of_str(sl->std->id)},
			{"zone", wv_of_str(sl->std->zone)},
			{"title", wv_of_str(sl->std->title)},
			{"due_from", wv_of_u64(sl->due_from)},
			{"due_to", wv_of_u64(sl->due_to)},
			{"assignee", wv_of_str(assignee)},
			{"status", wv_of_str("open")},
			{"_deleted", wv_of_bool(0)},
		};
		uint32_t nw = sizeof(w) / sizeof(w[0]);
		int wrote;
		if ((rc = gp_add(&o->w, "task", sl->id, have ? &cur : NULL, w,
		                 have ? nw : nw - 1, &wrote)))
			goto out;
		if (wrote)
			have ? st->moved++ : st->created++;
	}
	/* made before, untouched, and no longer held by a shift: removed */
	for (uint32_t i = 0; i < ix.n; i++) {
		gen_task *g = &ix.v[i];
		int held = g->wanted && slot_held(by_id, ns, g->id);
		if (held || !g->exists || g->deleted)
			continue;
		if (g->touched) {
			st->kept++;
			continue;
		}
		gp_field del = {"_deleted", wv_of_bool(1)};
		int wrote;
		if ((rc = gp_add(&o->w, "task", g->id, &g->r, &del, 1, &wrote)))
			goto out;
		st->deleted += wrote;
	}
out:
	store_abort(t);
	return rc;
}

int tasks_generate_site(engine *e, tz_db *tz, const char *site, uint64_t now,
                        tasks_stats *st)
{
	tasks_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	arena *a = arena_new(0);
	if (!a)
		return FS_E_UNAVAILABLE;
	gen_out o;
	memset(&o, 0, sizeof(o));
	o.w.e = e;
	o.w.a = a;
	o.w.per_batch = PUSH_OPS;
	o.w.untouched_only = 1;
	int rc = gen_plan(e, tz, site, now, a, &o, st);
	if (!rc && o.nkeys)
		rc = engine_write(e, keys_txn, &o);
	if (!rc)
		rc = gp_push_all(&o.w, NULL, "tasks");
	gp_free(&o.w);
	arena_free(a);
	return rc;
}

/* ---- the catalogue ----------------------------------------------------------------- */

char *tasks_catalogue_id(arena *a, const char *site, const char *key)
{
	if (strlen(site) <= 100)
		return arena_printf(a, "std:%s:%s", site, key);
	uint8_t h[32];
	char hex[65];
	crypto_sha256(site, strlen(site), h);
	hex_encode(h, 16, hex);
	return arena_printf(a, "std:h%s:%s", hex, key);
}

typedef struct {
	arena *a;
	const char *kind;
	char *first;
} zonescan;

static int zone_cb(void *ctx, const char *id, const record *r)
{
	zonescan *z = ctx;
	char *kind = rec_str(z->a, r, "kind");
	if (!kind || strcmp(kind, z->kind))
		return SCAN_NEXT;
	z->first = arena_strndup(z->a, id, strlen(id));
	return SCAN_STOP; /* records come by id: the first is the one */
}

int tasks_install_catalogue(engine *e, const char *site, unsigned *created)
{
	*created = 0;
	unsigned ne;
	const catalogue_entry *ce = catalogue_entries(&ne);
	arena *a = arena_new(0);
	store_txn *t = NULL;
	opbatch ops;
	ob_init(&ops);
	int rc = a ? store_begin(engine_store(e), 0, &t) : FS_E_UNAVAILABLE;
	task_site s;
	if (!rc)
		rc = tasks_load_site(t, a, site, &s);
	char *bucket = a ? arena_printf(a, "site/%s", site) : NULL;
	for (unsigned i = 0; i < ne && !rc; i++) {
		char *id = tasks_catalogue_id(a, site, ce[i].key);
		sv v;
		if (!id || !bucket) {
			rc = FS_E_UNAVAILABLE;
			break;
		}
		int r = store_rec_get(t, "standard", id, &v, NULL, NULL);
		if (r == FS_OK)
			continue; /* the site's own now, edited or not */
		if (r != FS_E_NOT_FOUND) {
			rc = r;
			break;
		}
		char *zone = NULL;
		if (ce[i].zone_kind) {
			zonescan z = {a, ce[i].zone_kind, NULL};
			records_in_bucket(t, a, "zone", bucket, zone_cb, &z);
			zone = z.first;
		}
		unsigned nf = 7 + (zone != NULL) + (ce[i].months != 0) +
		              (ce[i].checklist != NULL);
		ob_op(&ops, "standard", id, engine_hlc_now(e), nf);
		ob_str(&ops, "site", site);
		ob_str(&ops, "title", ce[i].title);
		ob_str(&ops, "role", ce[i].role);
		ob_str(&ops, "per", ce[i].per);
		ob_u64(&ops, "times", ce[i].times);
		ob_strs(&ops, "window",
		        (const char *const[]){ce[i].win_from, ce[i].win_to}, 2);
		ob_str(&ops, "evidence", ce[i].evidence);
		if (zone)
			ob_str(&ops, "zone", zone);
		if (ce[i].months) {
			uint32_t nm = 0;
			for (unsigned m = 1; m <= 12; m++)
				nm += (ce[i].months >> m) & 1;
			ob_name(&ops, "months");
			wb_arr(&ops.ops, nm);
			for (unsigned m = 1; m <= 12; m++)
				if ((ce[i].months >> m) & 1)
					wb_u64(&ops.ops, m);
		}
		if (ce[i].checklist) {
			uint32_t nc = 0;
			while (ce[i].checklist[nc])
				nc++;
			ob_strs(&ops, "checklist", ce[i].checklist, nc);
		}
	}
	store_abort(t);
	if (!rc && ops.ops.err)
		rc = FS_E_UNAVAILABLE;
	if (!rc && ops.n)
		rc = gp_push(e, NULL, &ops, "catalogue");
	if (!rc)
		*created = ops.n;
	ob_free(&ops);
	arena_free(a);
	return rc;
}

/* ---- the generator thread ------------------------------------------------------ */

struct tasks_gen {
	engine *e;
	tz_db *tz;
	uint64_t interval_ms;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int all;                 /* every site is due */
	char *dirty[DIRTY_MAX];  /* sites due (malloc'd) */
	unsigned ndirty;
	uint64_t passes;
};

/* The engine's post-commit listener (writer thread): note, never work. */
static void gen_notify(void *ctx, char **buckets, unsigned n)
{
	tasks_gen *g = ctx;
	pthread_mutex_lock(&g->mu);
	int woke = 0;
	for (unsigned i = 0; i < n; i++) {
		if (strncmp(buckets[i], "site/", 5))
			continue;
		const char *site = buckets[i] + 5;
		woke = 1;
		if (g->all)
			continue;
		unsigned k;
		for (k = 0; k < g->ndirty; k++)
			if (!strcmp(g->dirty[k], site))
				break;
		if (k < g->ndirty)
			continue;
		char *dup = g->ndirty < DIRTY_MAX ? strdup(site) : NULL;
		if (dup)
			g->dirty[g->ndirty++] = dup;
		else
			g->all = 1;
	}
	if (woke)
		pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

typedef struct {
	arena *a;
	char **v;
	uint32_t n, cap;
} namevec;

static int site_cb(void *ctx, const char *c, const char *id, const char *bucket,
                   uint64_t seq, sv val)
{
	namevec *nv = ctx;
	if (arena_grow(nv->a, (void **)&nv->v, &nv->cap, nv->n, nv->n + 1,
	               sizeof(char *), 16))
		return SCAN_STOP;
	nv->v[nv->n] = arena_strndup(nv->a, id, strlen(id));
	if (nv->v[nv->n])
		nv->n++;
	return SCAN_NEXT;
}

static void run_site(tasks_gen *g, const char *site)
{
	tasks_stats st;
	/* shifts first (roster.h), so the tasks find them */
	int rc = roster_generate_site(g->e, g->tz, site, engine_now(g->e), NULL);
	if (rc && rc != FS_E_NOT_FOUND)
		fprintf(stderr, "fieldsyncd: rosters: site %s: %s\n", site,
		        fs_err_name(rc));
	rc = tasks_generate_site(g->e, g->tz, site, engine_now(g->e), &st);
	if (rc && rc != FS_E_NOT_FOUND)
		fprintf(stderr, "fieldsyncd: tasks: site %s: %s\n", site,
		        fs_err_name(rc));
}

static void run_all(tasks_gen *g)
{
	arena *a = arena_new(0);
	store_txn *t;
	namevec nv = {a, NULL, 0, 0};
	if (!a || store_begin(engine_store(g->e), 0, &t)) {
		arena_free(a);
		return;
	}
	store_rec_scan(t, "site", site_cb, &nv);
	store_abort(t);
	for (uint32_t i = 0; i < nv.n; i++) {
		pthread_mutex_lock(&g->mu);
		int stop = g->stop;
		pthread_mutex_unlock(&g->mu);
		if (stop)
			break;
		run_site(g, nv.v[i]);
	}
	arena_free(a);
}

static void *gen_main(void *arg)
{
	tasks_gen *g = arg;
	int all = 1; /* every site once at start */
	char *dirty[DIRTY_MAX];
	unsigned nd = 0;
	for (;;) {
		if (all)
			run_all(g);
		for (unsigned i = 0; i < nd; i++) {
			if (!all)
				run_site(g, dirty[i]);
			free(dirty[i]);
		}
		pthread_mutex_lock(&g->mu);
		g->passes++;
		int timed_out = 0;
		while (!g->stop && !g->all && !g->ndirty && !timed_out)
			timed_out = cond_wait_ms(&g->cv, &g->mu, g->interval_ms);
		if (g->stop) {
			pthread_mutex_unlock(&g->mu);
			break;
		}
		all = g->all || timed_out;
		nd = g->ndirty;
		memcpy(dirty, g->dirty, nd * sizeof(char *));
		g->ndirty = 0;
		g->all = 0;
		pthread_mutex_unlock(&g->mu);
	}
	return NULL; /* tasks_gen_stop() frees what is still queued */
}

int tasks_gen_start(tasks_gen **out, engine *e, tz_db *tz, uint64_t interval_ms)
{
	*out = NULL;
	tasks_gen *g = calloc(1, sizeof(*g));
	if (!g)
		return FS_E_UNAVAILABLE;
	g->e = e;
	g->tz = tz;
	g->interval_ms = interval_ms ? interval_ms : INTERVAL_DEFAULT;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	int rc = engine_add_notify(e, gen_notify, g);
	if (rc) {
		tasks_gen_stop(g);
		return rc;
	}
	if (pthread_create(&g->th, NULL, gen_main, g)) {
		tasks_gen_stop(g);
		return FS_E_INTERNAL;
	}
	g->started = 1;
	*out = g;
	return FS_OK;
}

void tasks_gen_stop(tasks_gen *g)
{
	if (!g)
		return;
	engine_remove_notify(g->e, gen_notify, g);
	if (g->started) {
		pthread_mutex_lock(&g->mu);
		g->stop = 1;
		pthread_cond_signal(&g->cv);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->th, NULL);
	}
	for (unsigned i = 0; i < g->ndirty; i++)
		free(g->dirty[i]);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

uint64_t tasks_gen_passes(tasks_gen *g)
{
	pthread_mutex_lock(&g->mu);
	uint64_t n = g->passes;
	pthread_mutex_unlock(&g->mu);
	return n;
}
