/*
 * reports.c — see reports.h and schema/REPORTS.md.
 *
 * Each report is gathered in one read transaction into plain structs,
 * scored (patrol.h), and written as JSON or msgpack through the document
 * writer (doc.h), or as CSV.
 */
#include "server/svc/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/record.h"
#include "protocol/valid.h"
#include "schema/catalogue.h"
#include "schema/schema.h"
#include "server/svc/auth.h"
#include "server/lib/doc.h"
#include "server/lib/fail.h"
#include "server/model/policy.h"
#include "server/svc/patrol.h"
#include "server/store/keys.h"
#include "server/svc/tasks.h"
#include "server/svc/verdicts.h"

#define HOUR_MS 3600000ULL
#define SITE_DAYS_MAX 366
#define MONTH_DAYS 30.4375 /* 365.25 / 12 */

/* ---- writing (doc.h: JSON or msgpack by a flag) ----------------------------- */

static void put_ratio(doc *m, uint64_t num, uint64_t den)
{
	if (den)
		doc_f64(m, (double)num / (double)den);
	else
		doc_nil(m);
}

/* key: value shorthands */
static void kv_u(doc *m, const char *k, uint64_t v) { doc_key(m, k); doc_u64(m, v); }
static void kv_s(doc *m, const char *k, const char *v) { doc_key(m, k); doc_str(m, v); }
static void kv_ratio(doc *m, const char *k, uint64_t n, uint64_t d)
{
	doc_key(m, k);
	put_ratio(m, n, d);
}
static void kv_opt(doc *m, const char *k, int has, uint64_t v)
{
	doc_key(m, k);
	if (has)
		doc_u64(m, v);
	else
		doc_nil(m);
}

/* The seed's target of a figure, written beside it. */
static void kv_target(doc *m, const char *k, const char *name)
{
	const catalogue_target *t = catalogue_target_of(name);
	doc_key(m, k);
	if (t)
		doc_f64(m, t->value);
	else
		doc_nil(m);
}

/* ---- formats ---------------------------------------------------------------- */

/* The value of `key` in a query string, in the arena; NULL if absent. */
static char *query_get(arena *a, const char *q, const char *key)
{
	size_t kn = strlen(key);
	for (const char *p = q; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > kn && !strncmp(p, key, kn) && p[kn] == '=')
			return arena_strndup(a, p + kn + 1, n - kn - 1);
		if (n == kn && !strncmp(p, key, kn))
			return arena_strndup(a, "", 0);
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

int reports_format(const char *accept, const char *query, int csv_ok)
{
	const char *f = NULL;
	size_t fn = 0;
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n >= 7 && !strncmp(p, "format=", 7)) {
			f = p + 7;
			fn = n - 7;
		}
		p = amp ? amp + 1 : NULL;
	}
	if (f) {
		if (fn == 3 && !strncmp(f, "csv", 3))
			return csv_ok ? REPORT_CSV : -1;
		if (fn == 4 && !strncmp(f, "json", 4))
			return REPORT_JSON;
		if (fn == 7 && !strncmp(f, "msgpack", 7))
			return REPORT_MSGPACK;
		return -1;
	}
	if (accept && strstr(accept, "application/msgpack"))
		return REPORT_MSGPACK;
	return REPORT_JSON;
}

const char *reports_ctype(int format)
{
	return format == REPORT_MSGPACK ? "application/msgpack"
	       : format == REPORT_CSV   ? "text/csv; charset=utf-8"
	                                : "application/json";
}

/* The document written in `mp` (already in the asked format) to `out`. */
static int finish(wbuf *mp, wbuf *out)
{
	if (mp->err)
		return FS_E_UNAVAILABLE;
	wb_raw(out, mp->p, mp->n);
	return out->err ? FS_E_UNAVAILABLE : FS_OK;
}

/* ---- gathering ----------------------------------------------------------------- */

typedef struct {
	char *id, *checkpoint, *trust;
	int has_at;
	uint64_t at, at_est;
	verdict_of ev;
} ck_t;

typedef struct {
	char *id, *title, *standard, *zone, *status, *done_by, *done_trust;
	int has_from, has_to, has_done;
	uint64_t due_from, due_to, done_at;
	uint64_t done_ev; /* the evidence time: done_at_est, else done_at */
} task_t;

enum { OL_NONE, OL_MET, OL_BREACHED, OL_WAITING };

typedef struct {
	char *id, *category, *status;
	int has_rep, has_rcv;
	uint64_t reported_at, rcv;
	uint64_t when;           /* reported_at, else the receive time */
	const service_level *lv; /* NULL: the category has none */
	int has_deadline, has_checked;
	uint64_t deadline, checked;
	int level;               /* OL_* */
	const char *checked_trust;
	const char *skipped[3];  /* steps the status passed without their time */
	unsigned nskipped;
} order_t;

typedef struct {
	arena *a;
	arena *tmp;  /* scratch for decoding, reset per record */
	ck_t *cks;
	uint32_t nck, capck;
	task_t *tasks;
	uint32_t ntask, captask;
	const record **handovers;
	char **handover_ids;
	uint32_t nho, capho;
	int rc;
} bucket_data;

/* Room for one more element of v (arena.h's growth, doubling from 32);
 * when there is none, *rc says so and the scan callback stops. */
static int room(arena *a, void **v, uint32_t *cap, uint32_t n, size_t size,
                int *rc)
{
	if (!arena_grow(a, v, cap, n, n + 1, size, 32))
		return 0;
	*rc = FS_E_UNAVAILABLE;
	return -1;
}

/* A record decoded from bytes copied into the arena (they outlive the
 * transaction); NULL on failure. */
static record *decode_copy(arena *a, sv val)
{
	uint8_t *copy = arena_dup(a, val.p, val.n ? val.n : 1);
	record *r = arena_alloc(a, sizeof(record));
	if (!copy || !r)
		return NULL;
	rec_init(r);
	return rec_decode(a, copy, val.n, r) ? NULL : r;
}

static int bucket_cb(void *ctx, const store_entry *en)
{
	bucket_data *b = ctx;
	if (en->gone)
		return SCAN_NEXT;
	int is_ck = !strcmp(en->c, "checkin"), is_task = !strcmp(en->c, "task"),
	    is_ho = !strcmp(en->c, "handover");
	if (!is_ck && !is_task && !is_ho)
		return SCAN_NEXT;
	/* checkins and tasks keep copies of what they need; a handover keeps
	 * its whole record, so it is decoded from a copy in the arena */
	record tr, *r = &tr;
	arena_reset(b->tmp);
	rec_init(&tr);
	if (is_ho)
		r = decode_copy(b->a, en->val);
	else if (rec_decode(b->tmp, en->val.p, en->val.n, &tr))
		r = NULL;
	if (!r) {
		b->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	if (rec_true(r, "_deleted"))
		return SCAN_NEXT;
	char *id = arena_strndup(b->a, en->id, strlen(en->id));
	if (is_ck) {
		if (room(b->a, (void **)&b->cks, &b->capck, b->nck,
		         sizeof(*b->cks), &b->rc))
			return SCAN_STOP;
		ck_t *c = &b->cks[b->nck++];
		c->id = id;
		c->checkpoint = rec_str(b->a, r, "checkpoint");
		c->trust = rec_str(b->a, r, "trust");
		c->has_at = rec_u64(r, "at", &c->at);
		if (!rec_u64(r, "at_est", &c->at_est))
			c->at_est = c->at; /* never: the server fills it */
		if (verdict_read(b->a, r, &c->ev)) {
			b->rc = FS_E_UNAVAILABLE;
			return 1;
		}
	} else if (is_task) {
		if (room(b->a, (void **)&b->tasks, &b->captask, b->ntask,
		         sizeof(*b->tasks), &b->rc))
			return SCAN_STOP;
		task_t *t = &b->tasks[b->ntask++];
		t->id = id;
		t->title = rec_str(b->a, r, "title");
		t->standard = rec_str(b->a, r, "standard");
		t->zone = rec_str(b->a, r, "zone");
		t->status = rec_str(b->a, r, "status");
		t->done_by = rec_str(b->a, r, "done_by");
		t->has_from = rec_u64(r, "due_from", &t->due_from);
		t->has_to = rec_u64(r, "due_to", &t->due_to);
		t->has_done = rec_u64(r, "done_at", &t->done_at);
		if (!rec_u64(r, "done_at_est", &t->done_ev))
			t->done_ev = t->done_at;
		t->done_trust = rec_str(b->a, r, "done_trust");
	} else {
		/* two arrays of one capacity: the ids' grows as the records' */
		uint32_t cap_ids = b->capho;
		if (room(b->a, (void **)&b->handovers, &b->capho, b->nho,
		         sizeof(*b->handovers), &b->rc) ||
		    room(b->a, (void **)&b->handover_ids, &cap_ids, b->nho,
		         sizeof(*b->handover_ids), &b->rc))
			return SCAN_STOP;
		b->handovers[b->nho] = r;
		b->handover_ids[b->nho++] = id;
	}
	return SCAN_NEXT;
}

static int scan_bucket(store_txn *t, arena *a, const char *bucket,
                       bucket_data *b)
{
	memset(b, 0, sizeof(*b));
	b->a = a;
	b->tmp = arena_new(0);
	if (!b->tmp)
		return FS_E_UNAVAILABLE;
	int rc = store_bucket_scan(t, bucket, 0, bucket_cb, b);
	arena_free(b->tmp);
	b->tmp = NULL;
	if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
		return rc;
	return b->rc;
}

/* The steps an order's status passed without setting their time (a
 * phone-resolved order that never went on site), and the trust of its
 * checked time. */
static void order_skipped(order_t *o, const record *r, arena *a)
{
	const order_step *at = o->status
	        ? schema_order_step(o->status, strlen(o->status)) : NULL;
	if (o->lv) {
		char tr[40];
		size_t n = strlen(o->lv->checked_field) - 3; /* less "_at" */
		snprintf(tr, sizeof(tr), "%.*s_trust", (int)n, o->lv->checked_field);
		o->checked_trust = rec_str(a, r, tr);
	}
	if (!at || !strcmp(at->status, "cancelled"))
		return;
	unsigned n;
	const order_step *steps = schema_order_steps(&n);
	for (unsigned i = 0; i < n && o->nskipped < 3; i++) {
		uint64_t v;
		if (steps[i].at_field && steps[i].rank < at->rank &&
		    !rec_u64(r, steps[i].at_field, &v))
			o->skipped[o->nskipped++] = steps[i].status;
	}
}

/* The level of one order at `now`. */
static void order_level(order_t *o, const record *r, uint64_t now)
{
	o->level = OL_NONE;
	if (!o->category || !o->lv)
		return;
	const service_level *lv = o->lv;
	o->has_deadline = rec_u64(r, lv->deadline_field, &o->deadline);
	if (!o->has_deadline && (o->has_rep || o->has_rcv)) {
		o->deadline = (o->has_rep ? o->reported_at : o->rcv) +
		              lv->minutes * 60000;
		o->has_deadline = 1;
	}
	/* the step's evidence time (derive.c), else the device's word */
	char est[40];
	snprintf(est, sizeof(est), "%s_est", lv->checked_field);
	o->has_checked = rec_u64(r, est, &o->checked) ||
	                 rec_u64(r, lv->checked_field, &o->checked);
	if (!o->has_deadline || (o->status && !strcmp(o->status, "cancelled")))
		return;
	if (o->has_checked)
		o->level = o->checked > o->deadline ? OL_BREACHED : OL_MET;
	else
		o->level = now > o->deadline ? OL_BREACHED : OL_WAITING;
}

typedef struct {
	store_txn *t;
	arena *a;
	arena *tmp;          /* scratch for decoding, reset per order */
	uint64_t now;
	uint64_t from, to;   /* orders that count in [from, to) only */
	order_t *v;
	uint32_t n, cap;
	int rc;
} order_scan;

static int order_cb(void *ctx, const store_entry *en)
{
	order_scan *s = ctx;
	if (en->gone || strcmp(en->c, "order"))
		return SCAN_NEXT;
	record tr, *r = &tr;
	arena_reset(s->tmp);
	rec_init(&tr);
	if (rec_decode(s->tmp, en->val.p, en->val.n, &tr))
		return SCAN_NEXT; /* not a record: nothing to count */
	if (rec_true(r, "_deleted"))
		return SCAN_NEXT;
	if (room(s->a, (void **)&s->v, &s->cap, s->n, sizeof(*s->v), &s->rc))
		return SCAN_STOP;
	order_t *o = &s->v[s->n];
	memset(o, 0, sizeof(*o));
	o->has_rep = rec_u64(r, "reported_at", &o->reported_at);
	char k[KEY_MAX];
	size_t kn = key_orcv(k, sizeof(k), en->id);
	sv v;
	if (kn && store_get(s->t, ST_AUX, sv_of(k, kn), &v) == FS_OK &&
	    v.n == 8) {
		const uint8_t *p = v.p;
		for (int i = 0; i < 8; i++)
			o->rcv = o->rcv << 8 | p[i];
		o->has_rcv = 1;
	}
	if (!o->has_rep && !o->has_rcv)
		return SCAN_NEXT; /* no time at all: in no shift, no day */
	o->when = o->has_rep ? o->reported_at : o->rcv;
	if (o->when < s->from || o->when >= s->to)
		return SCAN_NEXT;
	o->id = arena_strndup(s->a, en->id, strlen(en->id));
	o->category = rec_str(s->a, r, "category");
	o->status = rec_str(s->a, r, "status");
	if (!o->id) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	if (o->category)
		o->lv = schema_service_level(o->category, strlen(o->category));
	order_level(o, r, s->now);
	order_skipped(o, r, s->a);
	s->n++;
	return SCAN_NEXT;
}

/* The site's orders that count in [from, to) (at reported_at, else at
 * the server's first receive time). */
static int scan_orders(store_txn *t, arena *a, const char *site, uint64_t now,
                       uint64_t from, uint64_t to, order_t **out, uint32_t *n)
{
	order_scan s = {t, a, NULL, now, from, to, NULL, 0, 0, FS_OK};
	char *bucket = arena_printf(a, "orders/%s", site);
	if (!bucket || !(s.tmp = arena_new(0)))
		return FS_E_UNAVAILABLE;
	int rc = store_bucket_scan(t, bucket, 0, order_cb, &s);
	arena_free(s.tmp);
	if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
		return rc;
	*out = s.v;
	*n = s.n;
	return s.rc;
}

static int order_open(const order_t *o)
{
	return !o->status || (strcmp(o->status, "resolved") &&
	                      strcmp(o->status, "closed") &&
	                      strcmp(o->status, "cancelled"));
}

static int is_respond(const order_t *o)
{
	return o->lv && !strcmp(o->lv->deadline_field, "respond_by");
}

/* ---- devices of a shift's staff ----------------------------------------------- */

typedef struct {
	char *device;
	device_info info;
} dev_t_;

typedef struct {
	store_txn *t;
	arena *a;
	const shift_info *sh;
	dev_t_ *v;
	uint32_t n, cap;
	int rc;
} devscan;

/* ST_DEVSTAFF keys are device \0 staff (store.h). */
static int devstaff_cb(void *ctx, sv key, sv val)
{
	devscan *s = ctx;
	const char *k = key.p;
	const char *nul = memchr(k, 0, key.n);
	if (!nul)
		return SCAN_NEXT;
	size_t dn = (size_t)(nul - k), sn = key.n - dn - 1;
	int mine = 0;
	for (uint32_t i = 0; i < s->sh->nstaff && !mine; i++)
		mine = strlen(s->sh->staff[i]) == sn &&
		       !memcmp(s->sh->staff[i], nul + 1, sn);
	if (!mine)
		return SCAN_NEXT;
	char *dev = arena_strndup(s->a, k, dn);
	if (!dev) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	for (uint32_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].device, dev))
			return SCAN_NEXT;
	if (room(s->a, (void **)&s->v, &s->cap, s->n, sizeof(*s->v), &s->rc))
		return SCAN_STOP;
	s->v[s->n].device = dev;
	if (device_get(s->t, dev, &s->v[s->n].info) != FS_OK)
		return SCAN_NEXT;
	s->n++;
	return SCAN_NEXT;
}

static int shift_devices(store_txn *t, arena *a, const shift_info *sh,
                         dev_t_ **out, uint32_t *n)
{
	devscan s = {t, a, sh, NULL, 0, 0, FS_OK};
	*out = NULL;
	*n = 0;
	if (sh->nstaff) {
		int rc = store_scan(t, ST_DEVSTAFF, sv_of("", 0), sv_of("", 0),
		                    devstaff_cb, &s);
		if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
			return rc;
	}
	*out = s.v;
	*n = s.n;
	return s.rc;
}

/* ---- a shift, scored ----------------------------------------------------------- */

typedef struct {
	shift_info sh;
	bucket_data b;
	/* the route */
	char *route;
	int has_route;
	uint64_t every_min, grace_min;
	char **cps;
	uint32_t ncp;
	patrol_in pin;
	patrol_out pout;
	patrol_checkin *pcks;
	dev_t_ *devs;
	uint32_t ndev;
} shift_data;

static int load_route(store_txn *t, arena *a, shift_data *d)
{
	if (!d->sh.route)
		return FS_OK;
	sv val;
	int rc = store_rec_get(t, "route", d->sh.route, &val, NULL, NULL);
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	record *r = decode_copy(a, val);
	if (!r)
		return FS_E_UNAVAILABLE;
	if (rec_true(r, "_deleted"))
		return FS_OK;
	d->has_route = 1;
	d->route = d->sh.route;
	rec_u64(r, "every_min", &d->every_min);
	rec_u64(r, "grace_min", &d->grace_min);
	const rfield *f = rec_get(r, "checkpoints");
	if (f && f->val.t == WV_ARR) {
		d->cps = arena_calloc(a, f->val.a.n + 1, sizeof(char *));
		if (!d->cps)
			return FS_E_UNAVAILABLE;
		for (uint32_t i = 0; i < f->val.a.n; i++) {
			char *c = wv_strdup(a, &f->val.a.v[i]);
			if (c)
				d->cps[d->ncp++] = c;
		}
	}
	return FS_OK;
}

/* Everything about one shift the reports need, scored at `now`. */
static int gather_shift(engine *e, store_txn *t, arena *a,
                        const shift_info *sh, uint64_t now, shift_data *d)
{
	memset(d, 0, sizeof(*d));
	d->sh = *sh;
	char *bucket = arena_printf(a, "shift/%s", sh->id);
	if (!bucket)
		return FS_E_UNAVAILABLE;
	int rc = scan_bucket(t, a, bucket, &d->b);
	if (!rc)
		rc = load_route(t, a, d);
	if (!rc)
		rc = shift_devices(t, a, sh, &d->devs, &d->ndev);
	if (rc)
		return rc;
	d->pcks = arena_calloc(a, d->b.nck ? d->b.nck : 1, sizeof(patrol_checkin));
	patrol_device *pd = arena_calloc(a, d->ndev ? d->ndev : 1,
	                                 sizeof(patrol_device));
	if (!d->pcks || !pd)
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < d->b.nck; i++)
		d->pcks[i] = (patrol_checkin){d->b.cks[i].id, d->b.cks[i].checkpoint,
		                              d->b.cks[i].at_est,
		                              d->b.cks[i].ev.voided};
	uint32_t np = 0;
	for (uint32_t i = 0; i < d->ndev; i++) {
		const device_info *di = &d->devs[i].info;
		if (di->revoked)
			continue; /* it can never sync again */
		pd[np++] = (patrol_device){di->last_sync, di->has_pending,
		                           di->pending};
	}
	patrol_in *in = &d->pin;
	in->starts = sh->starts;
	in->ends = sh->ends;
	in->every_ms = d->has_route ? d->every_min * 60000 : 0;
	in->grace_ms = d->has_route ? d->grace_min * 60000 : 0;
	in->checkpoints = (const char *const *)d->cps;
	in->ncp = d->ncp;
	in->checkins = d->pcks;
	in->nci = d->b.nck;
	in->devices = pd;
	in->ndev = np;
	in->now = now;
	in->evidence_window_ms = engine_limits(e)->evidence_window_ms;
	return patrol_score(in, a, &d->pout);
}

int reports_shift_patrol(engine *e, store_txn *t, arena *a,
                         const shift_info *sh, uint64_t now,
                         reports_patrol *out)
{
	shift_data *d = arena_calloc(a, 1, sizeof(*d));
	if (!d)
		return FS_E_UNAVAILABLE;
	memset(out, 0, sizeof(*out));
	int rc = gather_shift(e, t, a, sh, now, d);
	if (rc)
		return rc;
	out->in = d->pin;
	out->out = d->pout;
	out->devices = arena_calloc(a, d->ndev ? d->ndev : 1, sizeof(char *));
	if (!out->devices)
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < d->ndev; i++)
		out->devices[out->ndev++] = d->devs[i].device;
	return FS_OK;
}

/* ---- counting ------------------------------------------------------------------- */

typedef struct {
	uint32_t expected, on_time, late, missed, pending, open, extra;
} pcount;

typedef struct {
	uint32_t total, done, done_on_time, early, skipped, open, overdue;
} tcount;

typedef struct {
	uint32_t total, open, breached_respond, breached_resolve, met, breached,
	         waiting;
	uint32_t by_status[6];
} ocount;

static const char *const order_statuses[] = {"reported", "accepted", "on_site",
                                             "resolved", "closed", "cancelled"};

/* Done before its window opened, by the evidence time. */
static int task_early(const task_t *t)
{
	return t->has_done && t->has_from && t->done_ev < t->due_from;
}

static void count_task(tcount *c, const task_t *t, uint64_t now)
{
	c->total++;
	if (t->status && !strcmp(t->status, "done")) {
		c->done++;
		if (task_early(t))
			c->early++;
		else if (t->has_done && t->has_to && t->done_ev <= t->due_to)
			c->done_on_time++;
	} else if (t->status && !strcmp(t->status, "skipped")) {
		c->skipped++;
	} else {
		c->open++;
		if (t->has_to && now > t->due_to)
			c->overdue++;
	}
}

/* A done task against its window: early, on_time or late (null when not
 * done, or without the times to tell). */
static const char *task_timing(const task_t *t)
{
	if (!t->status || strcmp(t->status, "done") || !t->has_done)
		return NULL;
	if (task_early(t))
		return "early";
	if (!t->has_to)
		return NULL;
	return t->done_ev <= t->due_to ? "on_time" : "late";
}

static void count_order(ocount *c, const order_t *o)
{
	c->total++;
	c->open += order_open(o);
	for (int i = 0; i < 6; i++)
		if (o->status && !strcmp(o->status, order_statuses[i]))
			c->by_status[i]++;
	if (o->level == OL_BREACHED) {
		c->breached++;
		if (is_respond(o))
			c->breached_respond++;
		else
			c->breached_resolve++;
	} else if (o->level == OL_MET) {
		c->met++;
	} else if (o->level == OL_WAITING) {
		c->waiting++;
	}
}

static void count_pair(pcount *c, int state)
{
	c->expected++;
	switch (state) {
	case PS_ON_TIME: c->on_time++; break;
	case PS_LATE: c->late++; break;
	case PS_MISSED: c->missed++; break;
	case PS_PENDING: c->pending++; break;
	default: c->open++; break;
	}
}

static void w_pcount(doc *m, const pcount *c)
{
	kv_u(m, "expected", c->expected);
	kv_u(m, "on_time", c->on_time);
	kv_u(m, "late", c->late);
	kv_u(m, "missed", c->missed);
	kv_u(m, "pending", c->pending);
	kv_u(m, "open", c->open);
	kv_u(m, "extra", c->extra);
	kv_ratio(m, "completion", (uint64_t)c->on_time + c->late,
	         (uint64_t)c->on_time + c->late + c->missed + c->pending);
}

static void w_tcount(doc *m, const tcount *c)
{
	kv_u(m, "total", c->total);
	kv_u(m, "done", c->done);
	kv_u(m, "done_on_time", c->done_on_time);
	kv_u(m, "early", c->early);
	kv_u(m, "skipped", c->skipped);
	kv_u(m, "open", c->open);
	kv_u(m, "overdue", c->overdue);
	kv_ratio(m, "completion", c->done, c->total);
	kv_ratio(m, "on_time_rate", c->done_on_time, c->done);
}

static void w_ocount(doc *m, const ocount *c)
{
	kv_u(m, "total", c->total);
	kv_u(m, "open", c->open);
	kv_u(m, "breached_respond", c->breached_respond);
	kv_u(m, "breached_resolve", c->breached_resolve);
	kv_u(m, "met", c->met);
	kv_u(m, "waiting", c->waiting);
	kv_ratio(m, "on_time_rate", c->met, (uint64_t)c->met + c->breached);
	doc_key(m, "by_status");
	doc_map(m);
	for (int i = 0; i < 6; i++)
		kv_u(m, order_statuses[i], c->by_status[i]);
	doc_end(m);
}

static const char *level_name(int l)
{
	return l == OL_MET ? "met" : l == OL_BREACHED ? "breached"
	       : l == OL_WAITING ? "waiting" : "none";
}

static void w_order_item(doc *m, const order_t *o)
{
	doc_map(m);
	kv_s(m, "order", o->id);
	kv_s(m, "category", o->category);
	kv_s(m, "status", o->status);
	kv_opt(m, "reported_at", o->has_rep, o->reported_at);
	kv_opt(m, "received_at", o->has_rcv, o->rcv);
	doc_key(m, "report_delay_ms");
	if (o->has_rep && o->has_rcv)
		doc_i64(m, (int64_t)o->rcv - (int64_t)o->reported_at);
	else
		doc_nil(m);
	kv_s(m, "deadline_field", o->lv ? o->lv->deadline_field : NULL);
	kv_opt(m, "deadline", o->has_deadline, o->deadline);
	kv_s(m, "checked_field", o->lv ? o->lv->checked_field : NULL);
	kv_opt(m, "checked_at", o->has_checked, o->checked);
	kv_s(m, "checked_trust", o->checked_trust);
	kv_s(m, "level", level_name(o->level));
	doc_key(m, "skipped");
	doc_arr(m);
	for (unsigned i = 0; i < o->nskipped; i++)
		doc_str(m, o->skipped[i]);
	doc_end(m);
	doc_end(m);
}

/* A record's fields (no stamps) as a map, with its id; nil when NULL. */
static void w_record(doc *m, const char *id, const record *r)
{
	if (!r) {
		doc_nil(m);
		return;
	}
	doc_map(m);
	kv_s(m, "id", id);
	for (uint32_t i = 0; i < r->n; i++) {
		if (r->f[i].name_n == 8 && !memcmp(r->f[i].name, "_deleted", 8))
			continue;
		doc_keyn(m, r->f[i].name, r->f[i].name_n);
		doc_val(m, &r->f[i].val);
	}
	doc_end(m);
}

static const char *latest_ho(const bucket_data *b, const char *field,
                             const char *shift, const record **out)
{
	const char *id = NULL;
	uint64_t best = 0;
	*out = NULL;
	for (uint32_t i = 0; i < b->nho; i++) {
		const rfield *f = rec_get(b->handovers[i], field);
		if (!f || !wv_is_str(&f->val, shift))
			continue;
		uint64_t at = 0;
		rec_u64(b->handovers[i], "at", &at);
		if (!*out || at >= best) {
			*out = b->handovers[i];
			id = b->handover_ids[i];
			best = at;
		}
	}
	return id;
}

/* ---- GET /v1/reports/shift/<shift> ----------------------------------------------- */

int reports_shift(engine *e, tz_db *tz, const principal *p, const char *shift,
                  int format, arena *a, wbuf *out, const char **msg)
{
	int rc = FS_OK;
	store_txn *t = NULL;
	wbuf mp;
	wb_init(&mp);
	*msg = NULL;
	if (!policy_is_manager(p))
		FAIL_OUT(FS_E_FORBIDDEN, "reports are for the site's supervisors and admins");
	if (valid_id(shift, strlen(shift)))
		FAIL_OUT(FS_E_NOT_FOUND, "no such shift");
	if (store_begin(engine_store(e), 0, &t))
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	shift_info sh;
	rc = shift_load(t, a, shift, &sh);
	if (rc == FS_E_NOT_FOUND)
		FAIL_OUT(rc, "no such shift");
	if (rc)
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	if (!policy_manages_site(p, sh.site))
		FAIL_OUT(FS_E_FORBIDDEN, "reports are for the site's supervisors and admins");
	uint64_t now = engine_now(e);
	shift_data d;
	if ((rc = gather_shift(e, t, a, &sh, now, &d)))
		FAIL_OUT(rc == FS_E_TOO_LARGE ? rc : FS_E_UNAVAILABLE,
		     rc == FS_E_TOO_LARGE ? "the route has too many rounds"
		                          : "store unavailable");
	task_site site;
	int have_site = sh.site && tasks_load_site(t, a, sh.site, &site) == FS_OK;
	order_t *ords;
	uint32_t nord = 0;
	if (sh.site && (rc = scan_orders(t, a, sh.site, now, sh.starts, sh.ends,
	                                 &ords, &nord)))
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	/* the handover the shift left lives in the next shift's bucket */
	const record *ho_out = NULL, *ho_in = NULL;
	const char *ho_out_id = NULL, *ho_in_id = NULL;
	ho_in_id = latest_ho(&d.b, "to_shift", sh.id, &ho_in);
	shift_info *next;
	uint32_t nnext = 0;
	uint64_t best_at = 0;
	if (sh.site &&
	    (rc = shift_site_scan(t, a, sh.site, sh.ends > 12 * HOUR_MS ? sh.ends - 12 * HOUR_MS : 0,
	                            sh.ends + 36 * HOUR_MS, &next, &nnext)))
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	for (uint32_t i = 0; i < nnext; i++) {
		bucket_data nb;
		char *bk = arena_printf(a, "shift/%s", next[i].id);
		if (!bk || scan_bucket(t, a, bk, &nb))
			FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
		const record *r;
		const char *id = latest_ho(&nb, "from_shift", sh.id, &r);
		uint64_t at = 0;
		if (r)
			rec_u64(r, "at", &at);
		if (r && (!ho_out || at >= best_at)) {
			ho_out = r;
			ho_out_id = id;
			best_at = at;
		}
	}
	store_abort(t);
	t = NULL;

	doc m;
	doc_init(&m, &mp, format == REPORT_JSON);
	doc_map(&m);
	kv_s(&m, "shift", sh.id);
	kv_s(&m, "site", sh.site);
	kv_s(&m, "role", role_name(sh.role));
	kv_u(&m, "starts", sh.starts);
	kv_u(&m, "ends", sh.ends);
	kv_u(&m, "generated_at", now);
	kv_s(&m, "tz", have_site ? site.tz : NULL);
	doc_key(&m, "staff");
	doc_arr(&m);
	for (uint32_t i = 0; i < sh.nstaff; i++)
		doc_str(&m, sh.staff[i]);
	doc_end(&m);

	/* patrol */
	const patrol_out *po = &d.pout;
	pcount pc = {po->expected, po->on_time, po->late, po->missed,
	             po->pending, po->open, po->extra};
	doc_key(&m, "patrol");
	doc_map(&m);
	kv_s(&m, "route", d.has_route ? d.route : NULL);
	kv_opt(&m, "every_min", d.has_route, d.every_min);
	kv_opt(&m, "grace_min", d.has_route, d.grace_min);
	w_pcount(&m, &pc);
	verdict_of *evs = arena_calloc(a, d.b.nck ? d.b.nck : 1, sizeof(*evs));
	if (!evs)
		FAIL(FS_E_UNAVAILABLE, "out of memory");
	for (uint32_t i = 0; i < d.b.nck; i++)
		evs[i] = d.b.cks[i].ev;
	verdict_count vc;
	verdict_count_patrol(&d.pin, po, evs, &vc);
	verdict_count_write(&m, &vc);
	doc_key(&m, "rounds");
	doc_arr(&m);
	for (uint32_t k = 0; k < po->nrounds; k++) {
		doc_map(&m);
		kv_u(&m, "round", k);
		kv_u(&m, "from", patrol_round_from(&d.pin, k));
		kv_u(&m, "to", patrol_round_to(&d.pin, k));
		doc_key(&m, "checkpoints");
		doc_arr(&m);
		for (uint32_t c = 0; c < d.ncp; c++) {
			const patrol_pair *pr = &po->pairs[(size_t)k * d.ncp + c];
			doc_map(&m);
			kv_s(&m, "checkpoint", d.cps[c]);
			kv_s(&m, "state", patrol_state_name(pr->state));
			kv_s(&m, "checkin", pr->checkin >= 0 ? d.pcks[pr->checkin].id : NULL);
			kv_opt(&m, "at_est", pr->checkin >= 0,
			       pr->checkin >= 0 ? d.pcks[pr->checkin].at_est : 0);
			if (pr->checkin >= 0)
				verdict_write(&m, &evs[pr->checkin]);
			doc_end(&m);
		}
		doc_end(&m);
		doc_end(&m);
	}
	doc_end(&m);
	doc_key(&m, "extra_checkins");
	doc_arr(&m);
	for (uint32_t i = 0; i < d.b.nck; i++)
		if (!po->used[i]) {
			doc_map(&m);
			kv_s(&m, "checkin", d.b.cks[i].id);
			kv_s(&m, "checkpoint", d.b.cks[i].checkpoint);
			kv_u(&m, "at_est", d.b.cks[i].at_est);
			verdict_write(&m, &evs[i]);
			doc_key(&m, "voided");
			doc_bool(&m, evs[i].voided);
			doc_end(&m);
		}
	doc_end(&m);
	doc_end(&m);

	/* tasks */
	tcount tc;
	memset(&tc, 0, sizeof(tc));
	for (uint32_t i = 0; i < d.b.ntask; i++)
		count_task(&tc, &d.b.tasks[i], now);
	doc_key(&m, "tasks");
	doc_map(&m);
	w_tcount(&m, &tc);
	doc_key(&m, "items");
	doc_arr(&m);
	for (uint32_t i = 0; i < d.b.ntask; i++) {
		const task_t *tk = &d.b.tasks[i];
		doc_map(&m);
		kv_s(&m, "task", tk->id);
		kv_s(&m, "title", tk->title);
		kv_s(&m, "standard", tk->standard);
		kv_s(&m, "zone", tk->zone);
		kv_s(&m, "status", tk->status ? tk->status : "open");
		kv_opt(&m, "due_from", tk->has_from, tk->due_from);
		kv_opt(&m, "due_to", tk->has_to, tk->due_to);
		kv_opt(&m, "done_at", tk->has_done, tk->done_at);
		kv_opt(&m, "done_at_est", tk->has_done, tk->done_ev);
		kv_s(&m, "done_trust", tk->done_trust);
		kv_s(&m, "done_by", tk->done_by);
		kv_s(&m, "timing", task_timing(tk));
		doc_end(&m);
	}
	doc_end(&m);
	doc_end(&m);

	/* orders reported during the shift */
	ocount oc;
	memset(&oc, 0, sizeof(oc));
	for (uint32_t i = 0; i < nord; i++)
		if (ords[i].when >= sh.starts && ords[i].when < sh.ends)
			count_order(&oc, &ords[i]);
	doc_key(&m, "orders");
	doc_map(&m);
	w_ocount(&m, &oc);
	doc_key(&m, "items");
	doc_arr(&m);
	for (uint32_t i = 0; i < nord; i++)
		if (ords[i].when >= sh.starts && ords[i].when < sh.ends)
			w_order_item(&m, &ords[i]);
	doc_end(&m);
	doc_end(&m);

	doc_key(&m, "untrusted_checkins");
	doc_arr(&m);
	for (uint32_t i = 0; i < d.b.nck; i++) {
		const ck_t *c = &d.b.cks[i];
		if (c->trust && !strcmp(c->trust, "verified"))
			continue;
		doc_map(&m);
		kv_s(&m, "checkin", c->id);
		kv_s(&m, "trust", c->trust);
		verdict_write(&m, &c->ev);
		kv_opt(&m, "at", c->has_at, c->at);
		kv_u(&m, "at_est", c->at_est);
		doc_end(&m);
	}
	doc_end(&m);

	doc_key(&m, "devices");
	doc_arr(&m);
	for (uint32_t i = 0; i < d.ndev; i++) {
		const device_info *di = &d.devs[i].info;
		doc_map(&m);
		kv_s(&m, "device", d.devs[i].device);
		kv_s(&m, "staff", di->staff[0] ? di->staff : NULL);
		kv_opt(&m, "last_sync", di->last_sync != 0, di->last_sync);
		kv_opt(&m, "pending", di->has_pending, di->pending);
		doc_key(&m, "revoked");
		doc_bool(&m, di->revoked);
		doc_end(&m);
	}
	doc_end(&m);
	doc_key(&m, "handover");
	w_record(&m, ho_out_id, ho_out);
	doc_key(&m, "handover_in");
	w_record(&m, ho_in_id, ho_in);
	doc_end(&m);
	rc = finish(&mp, out);
	if (rc)
		*msg = "could not write the report";
out:
	store_abort(t);
	wb_free(&mp);
	return rc;
}

/* ---- GET /v1/reports/site/<site> --------------------------------------------------- */

/* "YYYY-MM-DD" to a day number; -1 when malformed. */
static int parse_date(const char *s, int64_t *day)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	if (y < 1970 || m < 1 || m > 12 || d < 1 ||
	    (unsigned)d > tz_days_in_month(y, (unsigned)m))
		return -1;
	*day = tz_days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

static char *date_str(arena *a, int64_t day)
{
	int64_t y;
	unsigned m, d;
	tz_civil_from_days(day, &y, &m, &d);
	return arena_printf(a, "%04lld-%02u-%02u", (long long)y, m, d);
}

typedef struct {
	pcount p;
	tcount t;
	ocount o;
	uint32_t untrusted;
} dayfig;

typedef struct {
	uint32_t total, open;
	uint32_t met, breached, waiting;
	uint32_t ndelay;
	int64_t delay_sum, delay_max;
} catfig;

static void add_fig(dayfig *to, const dayfig *f)
{
	to->p.expected += f->p.expected;
	to->p.on_time += f->p.on_time;
	to->p.late += f->p.late;
	to->p.missed += f->p.missed;
	to->p.pending += f->p.pending;
	to->p.open += f->p.open;
	to->p.extra += f->p.extra;
	to->t.total += f->t.total;
	to->t.done += f->t.done;
	to->t.done_on_time += f->t.done_on_time;
	to->t.early += f->t.early;
	to->t.skipped += f->t.skipped;
	to->t.open += f->t.open;
	to->t.overdue += f->t.overdue;
	to->o.total += f->o.total;
	to->o.open += f->o.open;
	to->o.breached_respond += f->o.breached_respond;
	to->o.breached_resolve += f->o.breached_resolve;
	to->o.met += f->o.met;
	to->o.breached += f->o.breached;
	to->o.waiting += f->o.waiting;
	for (int i = 0; i < 6; i++)
		to->o.by_status[i] += f->o.by_status[i];
	to->untrusted += f->untrusted;
}

static void w_dayfig(doc *m, const dayfig *f)
{
	doc_key(m, "patrol");
	doc_map(m);
	w_pcount(m, &f->p);
	kv_target(m, "completion_target", "patrol.completion");
	doc_end(m);
	doc_key(m, "tasks");
	doc_map(m);
	w_tcount(m, &f->t);
	kv_target(m, "completion_target", "tasks.completion");
	kv_target(m, "on_time_rate_target", "tasks.on_time_rate");
	doc_end(m);
	doc_key(m, "orders");
	doc_map(m);
	w_ocount(m, &f->o);
	kv_target(m, "on_time_rate_target", "orders.on_time_rate");
	doc_end(m);
	kv_u(m, "untrusted_checkins", f->untrusted);
}

/* CSV: one row per day, then "total". */
/* the fewest digits that read back exactly: a spreadsheet shows 0.8,
 * not 0.80000000000000004 */
static void csv_ratio(wbuf *b, uint64_t n, uint64_t d)
{
	char s[32];
	wb_raw(b, ",", 1);
	if (d)
		wb_raw(b, s, (size_t)doc_fmt_f64(s, (double)n / (double)d));
}

static void csv_u(wbuf *b, uint64_t v)
{
	char s[32];
	int k = snprintf(s, sizeof(s), ",%llu", (unsigned long long)v);
	wb_raw(b, s, (size_t)k);
}

static void csv_row(wbuf *b, const char *date, const dayfig *f)
{
	wb_raw(b, date, strlen(date));
	const pcount *p = &f->p;
	csv_u(b, p->expected);
	csv_u(b, p->on_time);
	csv_u(b, p->late);
	csv_u(b, p->missed);
	csv_u(b, p->pending);
	csv_u(b, p->open);
	csv_u(b, p->extra);
	csv_ratio(b, (uint64_t)p->on_time + p->late,
	          (uint64_t)p->on_time + p->late + p->missed + p->pending);
	const tcount *t = &f->t;
	csv_u(b, t->total);
	csv_u(b, t->done);
	csv_u(b, t->done_on_time);
	csv_u(b, t->early);
	csv_u(b, t->skipped);
	csv_u(b, t->open);
	csv_u(b, t->overdue);
	csv_ratio(b, t->done, t->total);
	csv_ratio(b, t->done_on_time, t->done);
	const ocount *o = &f->o;
	csv_u(b, o->total);
	csv_u(b, o->open);
	csv_u(b, o->breached_respond);
	csv_u(b, o->breached_resolve);
	csv_u(b, o->met);
	csv_u(b, o->waiting);
	csv_ratio(b, o->met, (uint64_t)o->met + o->breached);
	csv_u(b, f->untrusted);
	wb_raw(b, "\r\n", 2);
}

static const char csv_header[] =
	"date,patrol_expected,patrol_on_time,patrol_late,patrol_missed,"
	"patrol_pending,patrol_open,patrol_extra,patrol_completion,"
	"tasks_total,tasks_done,tasks_done_on_time,tasks_early,tasks_skipped,"
	"tasks_open,"
	"tasks_overdue,tasks_completion,tasks_on_time_rate,"
	"orders_total,orders_open,orders_breached_respond,"
	"orders_breached_resolve,orders_met,orders_waiting,orders_on_time_rate,"
	"untrusted_checkins\r\n";

static void w_level(doc *m, const catfig *c, const service_level *lv,
                    const char *which)
{
	doc_key(m, which);
	if (!lv || strcmp(lv->deadline_field,
	                  !strcmp(which, "respond") ? "respond_by" : "resolve_by")) {
		doc_nil(m);
		return;
	}
	doc_map(m);
	kv_u(m, "level_min", lv->minutes);
	kv_s(m, "deadline_field", lv->deadline_field);
	kv_s(m, "checked_field", lv->checked_field);
	kv_u(m, "met", c->met);
	kv_u(m, "breached", c->breached);
	kv_u(m, "waiting", c->waiting);
	kv_ratio(m, "on_time_rate", c->met, (uint64_t)c->met + c->breached);
	kv_target(m, "on_time_rate_target", "orders.on_time_rate");
	doc_end(m);
}

int reports_site(engine *e, tz_db *tz, const principal *p, const char *site,
                 const char *query, int format, arena *a, wbuf *out,
                 const char **msg)
{
	int rc = FS_OK;
	store_txn *t = NULL;
	wbuf mp;
	wb_init(&mp);
	*msg = NULL;
	if (!policy_is_manager(p))
		FAIL_OUT(FS_E_FORBIDDEN, "reports are for the site's supervisors and admins");
	if (valid_id(site, strlen(site)))
		FAIL_OUT(FS_E_NOT_FOUND, "no such site");
	if (store_begin(engine_store(e), 0, &t))
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	task_site s;
	rc = tasks_load_site(t, a, site, &s);
	if (rc == FS_E_NOT_FOUND)
		FAIL_OUT(rc, "no such site");
	if (rc)
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	if (!policy_manages_site(p, site))
		FAIL_OUT(FS_E_FORBIDDEN, "reports are for the site's supervisors and admins");
	const tz_zone *z;
	if (tz_get(tz, s.tz ? s.tz : "UTC", &z) != FS_OK)
		FAIL_OUT(FS_E_BAD_REQUEST, "the site's time zone is unknown to this server");
	uint64_t now = engine_now(e);
	int64_t today = tz_day_of(tz_utc_to_local_ms(z, (int64_t)now));
	int64_t d0 = today, d1 = today;
	char *qf = query_get(a, query, "from"), *qt = query_get(a, query, "to");
	if ((qf && parse_date(qf, &d0)) || (qt && parse_date(qt, &d1)))
		FAIL_OUT(FS_E_BAD_REQUEST, "from and to are dates, YYYY-MM-DD");
	if (qf && !qt)
		d1 = d0;
	if (qt && !qf)
		d0 = d1;
	if (d1 < d0)
		FAIL_OUT(FS_E_BAD_REQUEST, "to is before from");
	if (d1 - d0 >= SITE_DAYS_MAX)
		FAIL_OUT(FS_E_BAD_REQUEST, "at most 366 days a report");
	uint32_t nd = (uint32_t)(d1 - d0 + 1);
	int64_t from_ms = tz_local_to_utc_ms(z, d0 * TZ_DAY_MS);
	int64_t to_ms = tz_local_to_utc_ms(z, (d1 + 1) * TZ_DAY_MS);
	if (from_ms < 0)
		FAIL_OUT(FS_E_BAD_REQUEST, "from is before 1970 in the site's zone");
	dayfig *days = arena_calloc(a, nd, sizeof(dayfig));
	if (!days)
		FAIL_OUT(FS_E_UNAVAILABLE, "out of memory");
#define DAY_OF(ms) tz_day_of(tz_utc_to_local_ms(z, (int64_t)(ms)))
#define IN_RANGE(dd) ((dd) >= d0 && (dd) <= d1)

	/* shifts that can hold a round, task or checkin of these days */
	shift_info *sh;
	uint32_t nsh;
	if ((rc = shift_site_scan(t, a, site, (uint64_t)from_ms > TZ_DAY_MS ? (uint64_t)from_ms - TZ_DAY_MS : 0,
	                            (uint64_t)to_ms + TZ_DAY_MS, &sh, &nsh)))
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	for (uint32_t i = 0; i < nsh; i++) {
		shift_data d;
		rc = gather_shift(e, t, a, &sh[i], now, &d);
		if (rc == FS_E_TOO_LARGE)
			FAIL_OUT(rc, arena_printf(a, "shift %s: the route has too many rounds",
			                      sh[i].id));
		if (rc)
			FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
		const patrol_out *po = &d.pout;
		for (uint32_t k = 0; k < po->nrounds; k++) {
			int64_t dd = DAY_OF(patrol_round_from(&d.pin, k));
			if (!IN_RANGE(dd))
				continue;
			for (uint32_t c = 0; c < d.ncp; c++)
				count_pair(&days[dd - d0].p,
				           po->pairs[(size_t)k * d.ncp + c].state);
		}
		for (uint32_t c = 0; c < d.b.nck; c++) {
			int64_t dd = DAY_OF(d.b.cks[c].at_est);
			if (!IN_RANGE(dd))
				continue;
			days[dd - d0].p.extra += !po->used[c];
			days[dd - d0].untrusted +=
			        !d.b.cks[c].trust || strcmp(d.b.cks[c].trust, "verified");
		}
		for (uint32_t k = 0; k < d.b.ntask; k++) {
			const task_t *tk = &d.b.tasks[k];
			if (!tk->has_from)
				continue;
			int64_t dd = DAY_OF(tk->due_from);
			if (IN_RANGE(dd))
				count_task(&days[dd - d0].t, tk, now);
		}
	}
	order_t *ords;
	uint32_t nord;
	if ((rc = scan_orders(t, a, site, now, (uint64_t)from_ms, (uint64_t)to_ms,
	                      &ords, &nord)))
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	unsigned nlv;
	schema_service_levels(&nlv);
	static const char *const cats[] = {"elevator_entrapment", "urgent_water",
	                                   "urgent_power", "incident",
	                                   "complaint", "repair"};
	enum { NCAT = 6 };
	catfig cf[NCAT];
	memset(cf, 0, sizeof(cf));
	uint32_t complaints = 0;
	for (uint32_t i = 0; i < nord; i++) {
		const order_t *o = &ords[i];
		int64_t dd = DAY_OF(o->when);
		if (!IN_RANGE(dd))
			continue;
		count_order(&days[dd - d0].o, o);
		for (int c = 0; c < NCAT; c++) {
			if (!o->category || strcmp(o->category, cats[c]))
				continue;
			catfig *f = &cf[c];
			f->total++;
			f->open += order_open(o);
			f->met += o->level == OL_MET;
			f->breached += o->level == OL_BREACHED;
			f->waiting += o->level == OL_WAITING;
			if (o->has_rep && o->has_rcv) {
				int64_t dl = (int64_t)o->rcv - (int64_t)o->reported_at;
				f->delay_sum += dl;
				if (!f->ndelay || dl > f->delay_max)
					f->delay_max = dl;
				f->ndelay++;
			}
		}
		complaints += o->category && !strcmp(o->category, "complaint");
	}
	/* the standards' slots no shift holds */
	task_standard *stds;
	uint32_t nstd;
	task_slot *slots;
	uint32_t nslot;
	if ((rc = tasks_site_standards(t, a, site, &stds, &nstd)))
		FAIL_OUT(FS_E_UNAVAILABLE, "store unavailable");
	if ((rc = tasks_plan(z, stds, nstd, sh, nsh, d0, d1, a, &slots, &nslot)))
		FAIL_OUT(rc == FS_E_TOO_LARGE ? rc : FS_E_UNAVAILABLE,
		     "too many slots to plan");
	store_abort(t);
	t = NULL;

	dayfig total;
	memset(&total, 0, sizeof(total));
	for (uint32_t i = 0; i < nd; i++)
		add_fig(&total, &days[i]);

	if (format == REPORT_CSV) {
		wb_raw(out, csv_header, sizeof(csv_header) - 1);
		for (uint32_t i = 0; i < nd; i++) {
			char *ds = date_str(a, d0 + i);
			if (!ds)
				FAIL_OUT(FS_E_UNAVAILABLE, "out of memory");
			csv_row(out, ds, &days[i]);
		}
		csv_row(out, "total", &total);
		rc = out->err ? FS_E_UNAVAILABLE : FS_OK;
		goto out;
	}

	doc m;
	doc_init(&m, &mp, format == REPORT_JSON);
	doc_map(&m);
	kv_s(&m, "site", site);
	kv_s(&m, "name", s.name);
	kv_s(&m, "tz", s.tz);
	kv_s(&m, "from", date_str(a, d0));
	kv_s(&m, "to", date_str(a, d1));
	kv_u(&m, "days_count", nd);
	kv_u(&m, "generated_at", now);
	kv_opt(&m, "households", s.has_households, s.households);
	doc_key(&m, "targets");
	doc_map(&m);
	unsigned nt;
	const catalogue_target *tg = catalogue_targets(&nt);
	for (unsigned i = 0; i < nt; i++) {
		doc_key(&m, tg[i].name);
		doc_map(&m);
		doc_key(&m, "value");
		doc_f64(&m, tg[i].value);
		kv_s(&m, "rule", tg[i].rule);
		kv_u(&m, "seed_line", tg[i].seed_line);
		kv_s(&m, "seed", tg[i].seed_quote);
		doc_end(&m);
	}
	doc_end(&m);
	doc_key(&m, "days");
	doc_arr(&m);
	for (uint32_t i = 0; i < nd; i++) {
		doc_map(&m);
		kv_s(&m, "date", date_str(a, d0 + i));
		w_dayfig(&m, &days[i]);
		doc_end(&m);
	}
	doc_end(&m);
	doc_key(&m, "total");
	doc_map(&m);
	w_dayfig(&m, &total);
	doc_end(&m);

	doc_key(&m, "orders_by_category");
	doc_arr(&m);
	for (int c = 0; c < NCAT; c++) {
		const service_level *lv = schema_service_level(cats[c], strlen(cats[c]));
		doc_map(&m);
		kv_s(&m, "category", cats[c]);
		kv_u(&m, "total", cf[c].total);
		kv_u(&m, "open", cf[c].open);
		w_level(&m, &cf[c], lv, "respond");
		w_level(&m, &cf[c], lv, "resolve");
		doc_key(&m, "report_delay");
		doc_map(&m);
		kv_u(&m, "count", cf[c].ndelay);
		doc_key(&m, "mean_ms");
		if (cf[c].ndelay)
			doc_f64(&m, (double)cf[c].delay_sum / cf[c].ndelay);
		else
			doc_nil(&m);
		doc_key(&m, "max_ms");
		if (cf[c].ndelay)
			doc_i64(&m, cf[c].delay_max);
		else
			doc_nil(&m);
		doc_end(&m);
		doc_end(&m);
	}
	doc_end(&m);

	doc_key(&m, "complaints");
	doc_map(&m);
	kv_u(&m, "count", complaints);
	kv_opt(&m, "households", s.has_households, s.households);
	doc_key(&m, "months");
	doc_f64(&m, nd / MONTH_DAYS);
	doc_key(&m, "per_household_month");
	if (s.has_households && s.households)
		doc_f64(&m, (double)complaints / (double)s.households /
		                   (nd / MONTH_DAYS));
	else
		doc_nil(&m);
	kv_target(&m, "target", "complaints.per_household_month");
	doc_end(&m);
	doc_key(&m, "satisfaction");
	doc_nil(&m);
	kv_target(&m, "satisfaction_target", "satisfaction");

	uint32_t nunc = 0;
	for (uint32_t i = 0; i < nslot; i++)
		nunc += !slots[i].shift;
	kv_u(&m, "uncovered_count", nunc);
	doc_key(&m, "uncovered");
	doc_arr(&m);
	for (uint32_t i = 0; i < nslot; i++) {
		const task_slot *sl = &slots[i];
		if (sl->shift)
			continue;
		doc_map(&m);
		kv_s(&m, "standard", sl->std->id);
		kv_s(&m, "title", sl->std->title);
		kv_s(&m, "role", role_name(sl->std->role));
		kv_s(&m, "date", date_str(a, sl->day));
		kv_u(&m, "slot", sl->slot);
		kv_u(&m, "due_from", sl->due_from);
		kv_u(&m, "due_to", sl->due_to);
		doc_end(&m);
	}
	doc_end(&m);
	doc_end(&m);
	rc = finish(&mp, out);
	if (rc)
		*msg = "could not write the report";
#undef DAY_OF
#undef IN_RANGE
out:
	store_abort(t);
	wb_free(&mp);
	return rc;
}
