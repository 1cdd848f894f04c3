/*
 * engine.c — applying pushes and serving pulls (DESIGN.md sections 2, 3
 * and 5), with one writer thread that commits the batches of all waiting
 * requests in one durable transaction (group commit).
 *
 * A sync request is handled in two halves:
 *   1. in the request's thread: shape checks and every per-op check that
 *      needs no store (collection, id, fields, types, sizes, clock);
 *   2. in the writer: what needs the store (dedup by batch id, merge,
 *      permissions, scope, derived fields), for all queued requests in one
 *      write transaction; the requests wake when it is durable;
 *   3. back in the request's thread: the pull, in a read transaction that
 *      never waits for the writer.
 */
#include "server/core/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/record.h"
#include "schema/schema.h"
#include "server/svc/audit.h"
#include "server/svc/auth.h"
#include "server/svc/blobref.h"
#include "server/svc/maint.h"
#include "server/svc/tasks.h"

#define HOUR_MS (3600ULL * 1000)
#define TRUST_WINDOW_MS 60000
/* Latest time a device may claim, in ms (2^47: the year 6429); dev.wall
 * past it is refused, checkin times past it are clamped in arithmetic. */
#define TIME_MAX_MS ((int64_t)1 << 47)
#define GROUP_OPS_MAX 20000

static const char *const role_names[] = {"guard", "cleaner", "technician",
                                         "supervisor", "admin"};

int role_parse(const char *p, size_t n)
{
	for (int i = 0; i < 5; i++)
		if (strlen(role_names[i]) == n && memcmp(role_names[i], p, n) == 0)
			return i;
	return ROLE_NONE;
}

const char *role_name(int role)
{
	return role >= 0 && role < 5 ? role_names[role] : "none";
}

/* ---- jobs: one sync request's push, as the writer sees it --------------- */

typedef struct {
	int code;        /* FS_OK or the op's rejection */
	const char *msg; /* for a rejection */
} opcheck;

typedef struct job job;
struct job {
	const principal *p;
	const wval *batches;   /* WV_ARR of batch maps, shapes checked */
	opcheck **checks;      /* [batch][op]: static checks */
	uint64_t t;            /* request time (headers read) */
	int has_dev, has_boot, has_mono, has_wall, has_pending;
	const char *boot;
	uint64_t mono, wall, pending;
	arena *a;              /* the request's arena */
	wbuf *acks;            /* out: one encoded ack per batch */
	int done;
	job *next;
};

struct engine {
	store *st;
	engine_cfg cfg;
	pthread_mutex_t clock_mu;
	hlc_clock hlc;

	pthread_mutex_t write_mu; /* one write transaction at a time */
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;   /* writer waits for jobs */
	pthread_cond_t done_cv; /* requests wait for their job */
	job *q_head, *q_tail;
	int stopping;
	pthread_t writer;
	int writer_started;

	engine_notify_fn notify;
	void *notify_ctx;
	pthread_mutex_t notify_mu; /* guards the extra listeners */
	engine_notify_fn more_fn[ENGINE_LISTENERS_MAX];
	void *more_ctx[ENGINE_LISTENERS_MAX];

	pthread_mutex_t stats_mu;
	engine_stats stats;
};

/* ---- clock --------------------------------------------------------------- */

uint64_t engine_now(const engine *e)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return (uint64_t)(ms + e->cfg.clock_offset_ms);
}

uint64_t engine_hlc_now(engine *e)
{
	pthread_mutex_lock(&e->clock_mu);
	uint64_t h = hlc_now(&e->hlc, engine_now(e));
	pthread_mutex_unlock(&e->clock_mu);
	return h;
}

static uint64_t engine_hlc_recv(engine *e, uint64_t remote)
{
	uint64_t now = engine_now(e);
	pthread_mutex_lock(&e->clock_mu);
	uint64_t h;
	if (HLC_WALL(remote) > now + e->cfg.lim.max_skew_ms)
		h = hlc_now(&e->hlc, now); /* too far ahead: ignored */
	else
		h = hlc_recv(&e->hlc, now, remote);
	pthread_mutex_unlock(&e->clock_mu);
	return h;
}

store *engine_store(engine *e) { return e->st; }
const fs_limits *engine_limits(const engine *e) { return &e->cfg.lim; }

void engine_set_notify(engine *e, engine_notify_fn fn, void *ctx)
{
	e->notify = fn;
	e->notify_ctx = ctx;
}

int engine_add_notify(engine *e, engine_notify_fn fn, void *ctx)
{
	int rc = FS_E_TOO_LARGE;
	pthread_mutex_lock(&e->notify_mu);
	for (int i = 0; i < ENGINE_LISTENERS_MAX && rc; i++)
		if (!e->more_fn[i]) {
			e->more_fn[i] = fn;
			e->more_ctx[i] = ctx;
			rc = FS_OK;
		}
	pthread_mutex_unlock(&e->notify_mu);
	return rc;
}

void engine_remove_notify(engine *e, engine_notify_fn fn, void *ctx)
{
	pthread_mutex_lock(&e->notify_mu);
	for (int i = 0; i < ENGINE_LISTENERS_MAX; i++)
		if (e->more_fn[i] == fn && e->more_ctx[i] == ctx)
			e->more_fn[i] = NULL;
	pthread_mutex_unlock(&e->notify_mu);
}

void engine_get_stats(engine *e, engine_stats *out)
{
	pthread_mutex_lock(&e->stats_mu);
	*out = e->stats;
	pthread_mutex_unlock(&e->stats_mu);
}

/* ---- small helpers ------------------------------------------------------- */

static char *bucket_name(arena *a, const char *kind, const char *p, size_t n)
{
	/* "kind/p" (p up to n bytes or its NUL); once per op in the writer,
	 * so no printf */
	size_t kn = strlen(kind);
	n = strnlen(p, n);
	char *s = arena_alloc(a, kn + n + 2);
	if (!s)
		return NULL;
	memcpy(s, kind, kn);
	s[kn] = '/';
	memcpy(s + kn + 1, p, n);
	s[kn + 1 + n] = 0;
	return s;
}



/* A copied, decoded record; FS_E_NOT_FOUND when absent. */
static int load_record(store_txn *t, arena *a, const char *c, const char *id,
                       record *r, char **bucket, uint64_t *seq)
{
	sv val;
	const char *b = NULL;
	int rc = store_rec_get(t, c, id, &val, &b, seq);
	if (rc)
		return rc;
	if (bucket)
		*bucket = arena_strndup(a, b, strlen(b));
	uint8_t *copy = arena_dup(a, val.p, val.n ? val.n : 1);
	if (!copy || (bucket && !*bucket))
		return FS_E_UNAVAILABLE;
	return rec_decode(a, copy, val.n, r) ? FS_E_INTERNAL : FS_OK;
}

/* ---- shifts --------------------------------------------------------------- */

/* The shift model and its index scan are tasks.c's (the generator needs
 * the same); the engine adds only the membership test. */
typedef task_shift shift_info;

static int shift_has(const shift_info *s, const char *staff)
{
	for (uint32_t i = 0; i < s->nstaff; i++)
		if (strcmp(s->staff[i], staff) == 0)
			return 1;
	return 0;
}

/* ST_SHIFTS key: site \0 be64_put(starts) \0 id. */
static size_t shift_key(uint8_t *k, size_t cap, const char *site,
                        uint64_t starts, const char *id)
{
	size_t sn = strlen(site), in = strlen(id);
	if (sn + in + 10 > cap)
		return 0;
	memcpy(k, site, sn);
	k[sn] = 0;
	be64_put(k + sn + 1, starts);
	k[sn + 9] = 0;
	memcpy(k + sn + 10, id, in);
	return sn + 10 + in;
}

static int maxlen_key(char *k, size_t cap, const char *site)
{
	return snprintf(k, cap, "shiftmax/%s", site);
}

/* Keep ST_SHIFTS in step with a shift record's site and starts. */
static int shift_index_update(store_txn *t, arena *a, const char *id,
                              const record *old, const record *new)
{
	uint8_t k[512];
	size_t kn;
	int rc;
	if (old) {
		char *site = rec_str(a, old, "site");
		uint64_t starts = 0;
		rec_u64(old, "starts", &starts);
		if (site && (kn = shift_key(k, sizeof(k), site, starts, id))) {
			rc = store_del(t, ST_SHIFTS, sv_of(k, kn));
			if (rc && rc != FS_E_NOT_FOUND)
				return rc;
		}
	}
	char *site = rec_str(a, new, "site");
	uint64_t starts = 0, ends = 0;
	rec_u64(new, "starts", &starts);
	rec_u64(new, "ends", &ends);
	if (!site || rec_true(new, "_deleted"))
		return FS_OK;
	if (!(kn = shift_key(k, sizeof(k), site, starts, id)))
		return FS_E_BAD_REQUEST;
	uint8_t one = 1;
	if ((rc = store_put(t, ST_SHIFTS, sv_of(k, kn), sv_of(&one, 1))))
		return rc;
	/* longest shift of the site, to bound scope scans */
	char mk[256];
	maxlen_key(mk, sizeof(mk), site);
	uint64_t len = ends > starts ? ends - starts : 0, cur = 0;
	sv v;
	if (store_get(t, ST_META, sv_cstr(mk), &v) == FS_OK && v.n == 8)
		cur = be64_get(v.p);
	if (len > cur) {
		uint8_t b[8];
		be64_put(b, len);
		rc = store_put(t, ST_META, sv_cstr(mk), sv_of(b, 8));
	}
	return rc;
}

/* ---- scope --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
	arena *a;
	char **v;
	unsigned n, cap;
} strvec;

static int sv_push(strvec *s, char *str)
{
	if (!str)
		return FS_E_UNAVAILABLE;
	if (s->n == s->cap) {
		unsigned nc = s->cap ? s->cap * 2 : 16;
		char **o = arena_calloc(s->a, nc, sizeof(char *));
		if (!o)
			return FS_E_UNAVAILABLE;
		if (s->n)
			memcpy(o, s->v, s->n * sizeof(char *));
		s->v = o;
		s->cap = nc;
	}
	s->v[s->n++] = str;
	return FS_OK;
}

static int all_buckets_cb(void *ctx, sv key, sv val)
{
	strvec *s = ctx;
	if (key.n < 2)
		return 0;
	return sv_push(s, arena_strndup(s->a, (const char *)key.p + 2,
	                                key.n - 2)) ? 1 : 0;
}

int engine_scope(engine *e, store_txn *t, const principal *p, uint64_t now,
                 arena *a, char ***buckets, unsigned *n)
{
	strvec s = {a, NULL, 0, 0};
	int rc = FS_OK;
	if (p->role == ROLE_ADMIN) {
		rc = store_scan(t, ST_AUX, sv_of("b/", 2), sv_of("b/", 2),
		                all_buckets_cb, &s);
		if (rc && rc != 1)
			return rc;
		rc = FS_OK;
		goto out;
	}
	if (!p->site[0])
		goto out;
	if ((rc = sv_push(&s, bucket_name(a, "site", p->site, strlen(p->site)))))
		return rc;
	uint64_t from, to = now + 24 * HOUR_MS;
	if (p->role == ROLE_SUPERVISOR)
		from = now - 24 * HOUR_MS;
	else
		from = now - 12 * HOUR_MS;
	shift_info *sh;
	unsigned ns;
	if ((rc = tasks_site_shifts(t, a, p->site, from, to, &sh, &ns)))
		return rc;
	for (unsigned i = 0; i < ns; i++) {
		if (p->role != ROLE_SUPERVISOR && !shift_has(&sh[i], p->staff))
			continue;
		if ((rc = sv_push(&s, bucket_name(a, "shift", sh[i].id,
		                                  strlen(sh[i].id)))))
			return rc;
	}
	if (p->role == ROLE_SUPERVISOR || p->role == ROLE_TECHNICIAN)
		if ((rc = sv_push(&s, bucket_name(a, "orders", p->site,
		                                  strlen(p->site)))))
			return rc;
out:
	if (s.n)
		qsort(s.v, s.n, sizeof(char *), cmp_str);
	*buckets = s.v;
	*n = s.n;
	return FS_OK;
}

static int in_sorted(char **v, unsigned n, const char *b)
{
	unsigned lo = 0, hi = n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = strcmp(v[mid], b);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* ---- static op checks (request thread) ---------------------------------- */

static int check_type(const sfield *f, const wval *v)
{
	if (v->t == WV_NIL)
		return FS_OK;
	switch (f->type) {
	case FT_STR:
		return v->t == WV_STR ? FS_OK : FS_E_BAD_TYPE;
	case FT_ID:
		return v->t == WV_STR && valid_id(v->s.p, v->s.n) == FS_OK
		               ? FS_OK
		               : FS_E_BAD_TYPE;
	case FT_UINT:
		return v->t == WV_UINT ? FS_OK : FS_E_BAD_TYPE;
	case FT_INT:
		return v->t == WV_UINT || v->t == WV_INT ? FS_OK : FS_E_BAD_TYPE;
	case FT_NUM:
		return v->t == WV_UINT || v->t == WV_INT || v->t == WV_FLOAT
		               ? FS_OK
		               : FS_E_BAD_TYPE;
	case FT_BOOL:
		return v->t == WV_BOOL ? FS_OK : FS_E_BAD_TYPE;
	case FT_ENUM:
		return v->t == WV_STR && schema_enum_has(f->enums, v->s.p, v->s.n)
		               ? FS_OK
		               : FS_E_BAD_TYPE;
	case FT_IDS:
		if (v->t != WV_ARR)
			return FS_E_BAD_TYPE;
		for (uint32_t i = 0; i < v->a.n; i++)
			if (v->a.v[i].t != WV_STR ||
			    valid_id(v->a.v[i].s.p, v->a.v[i].s.n) != FS_OK)
				return FS_E_BAD_TYPE;
		return FS_OK;
	case FT_ARR:
		return v->t == WV_ARR ? FS_OK : FS_E_BAD_TYPE;
	case FT_ANY:
		return FS_OK;
	}
	return FS_E_BAD_TYPE;
}

/* At most 64 bytes of a name from the wire, fit to be quoted in a
 * message: the response is msgpack, whose strings must be UTF-8, so bytes
 * that are not UTF-8 (or are control characters) become '?', and a
 * character cut by the 64-byte limit is left out. */
static const char *wire_name(arena *a, const char *p, size_t n)
{
	size_t len = n > 64 ? 64 : n, i = 0, k = 0;
	char *o = arena_alloc(a, len + 1);
	if (!o)
		return "?";
	while (i < len) {
		unsigned char c = (unsigned char)p[i];
		size_t cl = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		if (cl > 1 && i + cl > len && i + cl <= n &&
		    utf8_valid(p + i, cl))
			break; /* a whole character cut by the limit */
		if (cl > 1 && i + cl <= len && utf8_valid(p + i, cl)) {
			memcpy(o + k, p + i, cl);
			k += cl;
			i += cl;
			continue;
		}
		o[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		i++;
	}
	o[k] = 0;
	return o;
}

/* Everything about one op that needs no store. */
static opcheck check_op(engine *e, arena *a, const wval *op)
{
	opcheck r = {FS_OK, NULL};
	const fs_limits *l = &e->cfg.lim;
	if (op->t != WV_MAP)
		return (opcheck){FS_E_BAD_REQUEST, "op must be a map {c, id, s, f}"};
	const wval *c = wv_get(op, "c"), *id = wv_get(op, "id"),
	           *s = wv_get(op, "s"), *f = wv_get(op, "f");
	if (!c || c->t != WV_STR)
		return (opcheck){FS_E_BAD_REQUEST, "op needs c, a collection name"};
	const scollection *col = schema_collection(c->s.p, c->s.n);
	if (!col)
		return (opcheck){FS_E_UNKNOWN_COLLECTION,
		                 arena_printf(a, "unknown collection '%s'",
		                              wire_name(a, c->s.p, c->s.n))};
	if (!id || id->t != WV_STR || valid_id(id->s.p, id->s.n) != FS_OK)
		return (opcheck){FS_E_BAD_ID, "id must be 1-128 bytes of [A-Za-z0-9._:-]"};
	uint64_t su;
	if (!s || !wv_u64(s, &su))
		return (opcheck){FS_E_BAD_REQUEST, "op needs s, a uint64 stamp"};
	if (!f || f->t != WV_MAP)
		return (opcheck){FS_E_BAD_REQUEST, "op needs f, a map of fields"};
	if (f->m.n > l->fields_max)
		return (opcheck){FS_E_TOO_LARGE,
		                 arena_printf(a, "%u fields, at most %u",
		                              f->m.n, l->fields_max)};
	/* each value is validated once: TOO_LARGE wins over every other
	 * finding, so the first pass looks for it and keeps the results */
	int vres_stack[64];
	int *vres = f->m.n <= 64 ? vres_stack
	                         : arena_alloc(a, f->m.n * sizeof(int));
	for (uint32_t i = 0; i < f->m.n; i++) {
		const wval *k = &f->m.k[i], *v = &f->m.v[i];
		if (k->t != WV_STR)
			return (opcheck){FS_E_UNKNOWN_FIELD, "field names are strings"};
		int vr = valid_value(v, l);
		if (vres)
			vres[i] = vr;
		if (vr == FS_E_TOO_LARGE)
			return (opcheck){vr, arena_printf(a,
			        "field '%s': a string or bin over %u bytes",
			        wire_name(a, k->s.p, k->s.n), l->value_bytes_max)};
	}
	for (uint32_t i = 0; i < f->m.n; i++) {
		const wval *k = &f->m.k[i], *v = &f->m.v[i];
		int kn = (int)(k->s.n > 64 ? 64 : k->s.n);
		if (k->s.n == 8 && memcmp(k->s.p, "_deleted", 8) == 0) {
			if (col->append_only)
				return (opcheck){FS_E_IMMUTABLE,
				                 "evidence is never deleted"};
			if (v->t != WV_BOOL)
				return (opcheck){FS_E_BAD_TYPE, "_deleted is a boolean"};
			continue;
		}
		const sfield *sf = schema_field(col, k->s.p, k->s.n);
		if (!sf)
			return (opcheck){FS_E_UNKNOWN_FIELD,
			        arena_printf(a, "%s has no field '%s'", col->name,
			                     wire_name(a, k->s.p, k->s.n))};
		int vr = vres ? vres[i] : valid_value(v, l);
		if (vr)
			return (opcheck){vr, arena_printf(a,
			        "field '%.*s': %s", kn, k->s.p,
			        vr == FS_E_BAD_TYPE ? "nested too deep, bad UTF-8 or a non-string key"
			                            : fs_err_msg(vr))};
		if (sf->grants & G_SERVER)
			return (opcheck){FS_E_FORBIDDEN,
			        arena_printf(a, "field '%s' is filled by the server",
			                     sf->name)};
		if (check_type(sf, v))
			return (opcheck){FS_E_BAD_TYPE,
			        arena_printf(a, "field '%s' has the wrong type", sf->name)};
	}
	if (HLC_WALL(su) > engine_now(e) + l->max_skew_ms)
		return (opcheck){FS_E_CLOCK_AHEAD,
		        arena_printf(a, "stamp is %llu ms ahead of the server clock",
		                     (unsigned long long)(HLC_WALL(su) - engine_now(e)))};
	return r;
}

/* ---- applying ops (writer thread) ---------------------------------------- */

typedef struct {
	engine *e;
	store_txn *t;
	arena *a;
	job *j;
	principal w;      /* the writer of the batch (its `by`, or the session) */
	uint64_t now;
	char **rscope;    /* the session's scope, for `cur` (lazy) */
	unsigned nrscope;
	int have_rscope;
	strvec *changed;  /* buckets changed in this group */
	wbuf rec;         /* scratch for encoding records */
	const uint8_t *batch; /* id (16 bytes) of the batch being applied */
	/* shifts loaded by this job (a batch's ops mostly name one or two):
	 * emptied whenever the job writes a shift record */
	shift_info sc[8];
	int sc_rc[8];
	unsigned nsc, sc_next;
} actx;

/* tasks_load_shift() through the job's cache. */
static int x_load_shift(actx *x, const char *id, shift_info *s)
{
	for (unsigned i = 0; i < x->nsc; i++)
		if (!strcmp(x->sc[i].id, id)) {
			if (x->sc_rc[i])
				return x->sc_rc[i];
			*s = x->sc[i];
			return FS_OK;
		}
	int rc = tasks_load_shift(x->t, x->a, id, s);
	if (rc != FS_OK && rc != FS_E_NOT_FOUND)
		return rc;
	unsigned k = x->nsc < 8 ? x->nsc++ : x->sc_next++ % 8;
	if (rc == FS_OK) {
		x->sc[k] = *s;
	} else {
		memset(&x->sc[k], 0, sizeof(x->sc[k]));
		x->sc[k].id = arena_strndup(x->a, id, strlen(id));
		if (!x->sc[k].id) {
			x->nsc = 0; /* out of memory: no cache, same answer */
			return rc;
		}
	}
	x->sc_rc[k] = rc;
	return rc;
}

typedef struct {
	int code;
	const char *msg;
	const record *cur; /* for `cur`, NULL when none or not visible */
} opresult;

static int note_changed(actx *x, const char *bucket)
{
	for (unsigned i = 0; i < x->changed->n; i++)
		if (strcmp(x->changed->v[i], bucket) == 0)
			return FS_OK;
	return sv_push(x->changed,
	               arena_strndup(x->changed->a, bucket, strlen(bucket)));
}

/* Remember every bucket name ever used (admin scope). */
static int register_bucket(store_txn *t, const char *bucket)
{
	char k[300];
	size_t n = strlen(bucket) + 2;
	if (n >= sizeof(k))
		return FS_E_BAD_REQUEST;
	k[0] = 'b';
	k[1] = '/';
	memcpy(k + 2, bucket, n - 2);
	sv v;
	if (store_get(t, ST_AUX, sv_of(k, (size_t)n), &v) == FS_OK)
		return FS_OK;
	uint8_t one = 1;
	return store_put(t, ST_AUX, sv_of(k, (size_t)n), sv_of(&one, 1));
}

static int visible(actx *x, const char *bucket)
{
	if (!x->have_rscope) {
		x->have_rscope = 1;
		if (engine_scope(x->e, x->t, x->j->p, x->now, x->a, &x->rscope,
		                 &x->nrscope))
			x->nrscope = 0;
	}
	return in_sorted(x->rscope, x->nrscope, bucket);
}

/* visible() for blobref.h: may the writing session see a photo's bytes? */
static int sees_bucket(void *ctx, const char *bucket)
{
	return visible(ctx, bucket);
}

/* May the batch's writer put a record of `col` into `bucket`? */
static int may_write_bucket(actx *x, const scollection *col,
                            const char *bucket, int creating, unsigned grants)
{
	const principal *w = &x->w;
	if (w->role == ROLE_ADMIN)
		return 1;
	if (!strncmp(bucket, "site/", 5))
		return strcmp(bucket + 5, w->site) == 0;
	if (!strncmp(bucket, "orders/", 7)) {
		if (strcmp(bucket + 7, w->site) != 0)
			return 0;
		return w->role == ROLE_SUPERVISOR || w->role == ROLE_TECHNICIAN ||
		       (creating && !strcmp(col->name, "order"));
	}
	if (strncmp(bucket, "shift/", 6))
		return 0;
	shift_info s;
	if (x_load_shift(x, bucket + 6, &s))
		return 0;
	if (!s.site || strcmp(s.site, w->site))
		return 0;
	if (w->role == ROLE_SUPERVISOR)
		return 1;
	if ((grants & G_LEAD) && !strcmp(col->name, "handover"))
		return 1;
	if (!shift_has(&s, w->staff))
		return 0;
	if (s.ends > x->now - 12 * HOUR_MS && s.starts < x->now + 24 * HOUR_MS)
		return 1;
	/* evidence window: late pushes of checkins and task completions */
	if ((!strcmp(col->name, "checkin") || !strcmp(col->name, "task")) &&
	    s.ends + x->e->cfg.lim.evidence_window_ms > x->now &&
	    s.starts < x->now + 24 * HOUR_MS)
		return 1;
	return 0;
}

static int str_is(const char *s, const wval *v)
{
	return s && v && v->t == WV_STR && strlen(s) == v->s.n &&
	       memcmp(s, v->s.p, v->s.n) == 0;
}

/* The writer's grants on this record (schema.h), and *why when a
 * relation-specific constraint fails. */
static unsigned writer_grants(actx *x, const scollection *col,
                              const record *old, const record *nw,
                              const wval *f, const char **why)
{
	const principal *w = &x->w;
	*why = NULL;
	if (w->role == ROLE_ADMIN)
		return G_ADMIN | G_SUPERVISOR | G_SHIFT_STAFF | G_GUARD_OWN |
		       G_REPORTER | G_TECH | G_LEAD;
	unsigned g = 0;
	if (w->role == ROLE_SUPERVISOR) {
		g |= G_SUPERVISOR;
		if (!strcmp(col->name, "staff")) {
			const wval *role = wv_get(f, "role");
			if (wv_is_str(role, "admin"))
				*why = "a supervisor cannot grant the admin role";
		}
		return g;
	}
	if (!strcmp(col->name, "task")) {
		char *sh = rec_str(x->a, nw, "shift");
		shift_info s;
		if (sh && x_load_shift(x, sh, &s) == FS_OK &&
		    shift_has(&s, w->staff))
			g |= G_SHIFT_STAFF;
	} else if (!strcmp(col->name, "checkin")) {
		char *st = rec_str(x->a, nw, "staff");
		if (w->role == ROLE_GUARD && st && !strcmp(st, w->staff))
			g |= G_GUARD_OWN;
		else if (w->role != ROLE_GUARD)
			*why = "only guards check in";
		else
			*why = "a checkin's staff must be the guard who makes it";
	} else if (!strcmp(col->name, "order")) {
		if (!old) {
			char *site = rec_str(x->a, nw, "site");
			if (site && !strcmp(site, w->site)) {
				const wval *rep = wv_get(f, "reporter");
				const wval *st = wv_get(f, "status");
				if (!rep || !str_is(w->staff, rep))
					*why = "a new order's reporter must be its writer";
				else if (st && !wv_is_str(st, "reported"))
					*why = "a new order's status must be 'reported'";
				else
					g |= G_REPORTER;
			}
		}
		if (w->role == ROLE_TECHNICIAN && old) {
			char *as = rec_str(x->a, old, "assignee");
			const wval *na = wv_get(f, "assignee");
			if (na && !str_is(w->staff, na))
				*why = "a technician may only assign an order to itself";
			else if ((as && !strcmp(as, w->staff)) ||
			         (!as && na && str_is(w->staff, na)))
				g |= G_TECH;
			else
				*why = "the order is assigned to someone else";
		}
	} else if (!strcmp(col->name, "handover")) {
		char *fs = rec_str(x->a, nw, "from_shift");
		shift_info s;
		if (fs && x_load_shift(x, fs, &s) == FS_OK && s.lead &&
		    !strcmp(s.lead, w->staff))
			g |= G_LEAD;
	}
	return g;
}

/* The bucket a record belongs to, NULL when its bucket field is unset. */
static char *record_bucket(arena *a, const scollection *col, const char *id,
                           const record *r)
{
	switch (col->bucket) {
	case BK_SITE_SELF:
		return bucket_name(a, "site", id, strlen(id));
	case BK_SITE:
	case BK_SHIFT:
	case BK_TO_SHIFT:
	case BK_ORDERS: {
		const rfield *f = rec_get(r, col->bucket_field);
		if (!f || f->val.t != WV_STR ||
		    valid_id(f->val.s.p, f->val.s.n) != FS_OK)
			return NULL;
		const char *kind = col->bucket == BK_SITE    ? "site"
		                   : col->bucket == BK_ORDERS ? "orders"
		                                              : "shift";
		return bucket_name(a, kind, f->val.s.p, f->val.s.n);
	}
	}
	return NULL;
}

static int anchor_get(store_txn *t, const char *device, const char *boot,
                      int64_t *anchor)
{
	char k[300];
	int n = snprintf(k, sizeof(k), "%s%c%s", device, 0, boot);
	if (n < 0 || (size_t)n >= sizeof(k))
		return FS_E_NOT_FOUND;
	sv v;
	int rc = store_get(t, ST_ANCHORS, sv_of(k, (size_t)n), &v);
	if (rc)
		return rc;
	if (v.n != 8)
		return FS_E_NOT_FOUND;
	*anchor = (int64_t)be64_get(v.p);
	return FS_OK;
}

static int anchor_put(store_txn *t, const char *device, const char *boot,
                      int64_t anchor)
{
	char k[300];
	int n = snprintf(k, sizeof(k), "%s%c%s", device, 0, boot);
	if (n < 0 || (size_t)n >= sizeof(k))
		return FS_OK; /* boot ids are capped at 128 bytes before this */
	uint8_t b[8];
	be64_put(b, (uint64_t)anchor);
	return store_put(t, ST_ANCHORS, sv_of(k, (size_t)n), sv_of(b, 8));
}

static wval wv_uint(uint64_t u)
{
	wval v;
	memset(&v, 0, sizeof(v));
	v.t = WV_UINT;
	v.u = u;
	return v;
}

static wval wv_int(int64_t i)
{
	wval v;
	memset(&v, 0, sizeof(v));
	if (i >= 0) {
		v.t = WV_UINT;
		v.u = (uint64_t)i;
	} else {
		v.t = WV_INT;
		v.i = i;
	}
	return v;
}

static wval wv_cstr(const char *s)
{
	wval v;
	memset(&v, 0, sizeof(v));
	v.t = WV_STR;
	v.s.p = s;
	v.s.n = (uint32_t)strlen(s);
	return v;
}

static int set_server(actx *x, record *r, const char *name, wval v,
                      const stamp *st)
{
	wval *copy = arena_dup(x->a, &v, sizeof(v));
	if (!copy)
		return FS_E_UNAVAILABLE;
	return rec_set(x->a, r, name, (uint32_t)strlen(name), copy, st) < 0
	               ? FS_E_UNAVAILABLE
	               : FS_OK;
}

/* rcv, skew, at_est, trust of a new checkin (DESIGN.md section 2). */
static int fill_checkin(actx *x, record *r)
{
	job *j = x->j;
	stamp st = {engine_hlc_now(x->e), ENGINE_ORIGIN, 6};
	int has_skew = j->has_wall;
	int64_t skew = has_skew ? (int64_t)j->wall - (int64_t)j->t : 0;
	uint64_t at = 0, mono = 0;
	int has_at = rec_u64(r, "at", &at);
	int has_mono = rec_u64(r, "mono", &mono);
	char *boot = rec_str(x->a, r, "boot");
	int64_t anchor = 0;
	int has_anchor = boot && has_mono &&
	                 anchor_get(x->t, j->p->device, boot, &anchor) == FS_OK;
	/* at and mono are the device's word: anything past TIME_MAX_MS is
	 * nonsense and is clamped for this arithmetic (the record keeps what
	 * was sent), so no value a device sends can overflow it */
	int64_t at_c = at > TIME_MAX_MS ? TIME_MAX_MS : (int64_t)at;
	int64_t mono_c = mono > TIME_MAX_MS ? TIME_MAX_MS : (int64_t)mono;
	int64_t est;
	const char *trust;
	if (has_anchor) {
		est = anchor + mono_c;
		int64_t d = has_at ? at_c - est : INT64_MAX;
		trust = (d <= TRUST_WINDOW_MS && d >= -TRUST_WINDOW_MS)
		                ? "verified"
		                : "corrected";
	} else {
		trust = "unverified";
		if (has_at)
			est = at_c - (has_skew ? skew : 0);
		else
			est = (int64_t)j->t;
	}
	uint64_t at_est = est < 0 ? 0 : (uint64_t)est;
	int rc;
	if ((rc = set_server(x, r, "rcv", wv_uint(j->t), &st)) ||
	    (rc = set_server(x, r, "skew", has_skew ? wv_int(skew) : (wval){0},
	                     &st)) ||
	    (rc = set_server(x, r, "at_est", wv_uint(at_est), &st)) ||
	    (rc = set_server(x, r, "trust", wv_cstr(trust), &st)))
		return rc;
	return FS_OK;
}

/* respond_by / resolve_by of an order from its category's level. */
static int fill_order(actx *x, record *r)
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
			want = wv_uint(base + lv->minutes * 60000);
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

/* Same device-written values as the stored checkin? */
static int same_evidence(const scollection *col, const record *old,
                         const wval *f)
{
	uint32_t n_old = 0;
	for (uint32_t i = 0; i < old->n; i++) {
		const sfield *sf = schema_field(col, old->f[i].name,
		                                old->f[i].name_n);
		if (sf && !(sf->grants & G_SERVER))
			n_old++;
	}
	if (n_old != f->m.n)
		return 0;
	for (uint32_t i = 0; i < f->m.n; i++) {
		const rfield *of = rec_getn(old, f->m.k[i].s.p, f->m.k[i].s.n);
		if (!of || !wv_equal(&of->val, &f->m.v[i]))
			return 0;
	}
	return 1;
}

static opresult rej(int code, const char *msg, const record *cur)
{
	opresult r = {code, msg, cur};
	return r;
}

/* Apply one op.  A store failure comes back as code STORE_FULL or
 * FS_E_UNAVAILABLE with msg NULL: the caller aborts the transaction. */
static opresult apply_op(actx *x, const wval *op)
{
	const wval *c = wv_get(op, "c"), *idv = wv_get(op, "id"),
	           *f = wv_get(op, "f");
	uint64_t s = 0;
	wv_u64(wv_get(op, "s"), &s);
	const scollection *col = schema_collection(c->s.p, c->s.n);
	char *id = wv_strdup(x->a, idv);
	if (!id)
		return rej(FS_E_UNAVAILABLE, NULL, NULL);

	record *oldp = arena_alloc(x->a, sizeof(record)), nw;
	if (!oldp)
		return rej(FS_E_UNAVAILABLE, NULL, NULL);
#define old (*oldp)
	rec_init(&old);
	char *old_bucket = NULL;
	int rc = load_record(x->t, x->a, col->name, id, &old, &old_bucket, NULL);
	int exists = rc == FS_OK;
	if (rc && rc != FS_E_NOT_FOUND)
		return rej(rc == FS_E_INTERNAL ? FS_E_UNAVAILABLE : rc, NULL, NULL);
	const record *cur = exists && visible(x, old_bucket) ? &old : NULL;

	/* the record as it would be after the write */
	rec_init(&nw);
	if (exists && old.n) {
		nw.f = arena_dup(x->a, old.f, old.n * sizeof(rfield));
		if (!nw.f)
			return rej(FS_E_UNAVAILABLE, NULL, NULL);
		nw.n = nw.cap = old.n;
	}
	stamp st = {s, x->j->p->device, (uint32_t)strlen(x->j->p->device)};
	int changed = 0;
	for (uint32_t i = 0; i < f->m.n; i++) {
		int m = rec_merge(x->a, &nw, f->m.k[i].s.p, f->m.k[i].s.n,
		                  &f->m.v[i], &st);
		if (m < 0)
			return rej(FS_E_UNAVAILABLE, NULL, NULL);
		changed |= m;
	}
	char *bucket = record_bucket(x->a, col, id, &nw);
	if (!bucket)
		return rej(FS_E_BAD_REQUEST,
		           arena_printf(x->a, "a %s needs field '%s' (an id)",
		                        col->name, col->bucket_field),
		           cur);

	/* permissions: every written field, then both buckets */
	const char *why;
	unsigned g = writer_grants(x, col, exists ? &old : NULL, &nw, f, &why);
	for (uint32_t i = 0; i < f->m.n; i++) {
		const char *fname = f->m.k[i].s.p;
		uint32_t fn = f->m.k[i].s.n;
		unsigned need = (fn == 8 && !memcmp(fname, "_deleted", 8))
		                        ? col->delete_grants
		                        : schema_field(col, fname, fn)->grants;
		if (!(need & g))
			return rej(FS_E_FORBIDDEN,
			           why ? why
			               : arena_printf(x->a, "%s may not write %s.%.*s",
			                              role_name(x->w.role), col->name,
			                              (int)fn, fname),
			           cur);
	}
	if (why && x->w.role != ROLE_ADMIN &&
	    (x->w.role == ROLE_SUPERVISOR || !strcmp(col->name, "order")))
		return rej(FS_E_FORBIDDEN, why, cur);
	if (x->w.role == ROLE_SUPERVISOR && !strcmp(col->name, "staff") &&
	    !strcmp(id, x->w.staff) && wv_get(f, "role"))
		return rej(FS_E_FORBIDDEN, "a supervisor cannot change its own role",
		           cur);
	if (!may_write_bucket(x, col, bucket, !exists, g) ||
	    (exists && strcmp(old_bucket, bucket) &&
	     !may_write_bucket(x, col, old_bucket, 0, g)))
		return rej(FS_E_OUT_OF_SCOPE,
		           arena_printf(x->a, "%s/%s would be in %s, outside the "
		                        "writer's scope", col->name, id, bucket),
		           cur);

	if (col->append_only && exists) {
		if (same_evidence(col, &old, f))
			return rej(FS_OK, NULL, NULL);
		return rej(FS_E_IMMUTABLE,
		           "a checkin cannot change: its values differ from the "
		           "stored one", cur);
	}
	if (!changed && exists)
		return rej(FS_OK, NULL, NULL); /* lost on last-writer-wins */

	/* derived fields, indexes, the write */
	if (!strcmp(col->name, "checkin") && !exists)
		rc = fill_checkin(x, &nw);
	else if (!strcmp(col->name, "order"))
		rc = fill_order(x, &nw);
	if (rc && rc != FS_E_NOT_FOUND)
		return rej(rc, NULL, NULL);
	if (!strcmp(col->name, "shift") &&
	    (rc = shift_index_update(x->t, x->a, id, exists ? &old : NULL, &nw)))
		return rej(rc, NULL, NULL);
	if (!strcmp(col->name, "shift"))
		x->nsc = 0; /* the job's cached shifts may be stale now */
	x->rec.n = 0;
	rec_encode(&x->rec, &nw);
	if (x->rec.err)
		return rej(FS_E_UNAVAILABLE, NULL, NULL);
	uint64_t seq;
	if ((rc = store_rec_put(x->t, col->name, id, bucket,
	                        sv_of(x->rec.p, x->rec.n), &seq)) ||
	    (rc = blobref_note(x->t, col->name, &nw, bucket,
	                       &(blobref_writer){x->j->p->device,
	                                         x->j->p->role == ROLE_ADMIN,
	                                         sees_bucket, x})))
		return rej(rc, NULL, NULL);
	if ((rc = register_bucket(x->t, bucket)) || (rc = note_changed(x, bucket)))
		return rej(rc, NULL, NULL);
	if (!exists && !strcmp(col->name, "order")) {
		/* the server's first receive time of an order (ST_AUX
		 * "orcv/<id>", 8 bytes big-endian): reports show the delay */
		char k[160];
		uint8_t b[8];
		be64_put(b, x->j->t);
		int kn = snprintf(k, sizeof(k), "orcv/%s", id);
		if ((rc = store_put(x->t, ST_AUX, sv_of(k, (size_t)kn), sv_of(b, 8))))
			return rej(rc, NULL, NULL);
	}
	/* the audit trail, in the op's own transaction */
	if ((rc = audit_op(x->t, x->a, &x->w, x->j->p->device, x->batch, x->now,
	                   col->name, id, bucket, seq, exists ? &old : NULL, &nw)))
		return rej(rc, NULL, NULL);
	const rfield *del = rec_get(&nw, "_deleted");
	if (del && del->val.t == WV_BOOL && del->val.b &&
	    (rc = maint_note_tomb(x->t, col->name, id, HLC_WALL(del->st.hlc))))
		return rej(rc, NULL, NULL);
	if (exists && strcmp(old_bucket, bucket) &&
	    (rc = note_changed(x, old_bucket)))
		return rej(rc, NULL, NULL);
	return rej(FS_OK, NULL, NULL);
#undef old
}

/* `cur` for an op refused before it reached the store: the record's
 * current fields when it exists and the session may see it. */
static const record *cur_of(actx *x, const wval *op)
{
	const wval *c = wv_get(op, "c"), *idv = wv_get(op, "id");
	if (!c || c->t != WV_STR || !idv || idv->t != WV_STR ||
	    valid_id(idv->s.p, idv->s.n))
		return NULL;
	const scollection *col = schema_collection(c->s.p, c->s.n);
	char *id = wv_strdup(x->a, idv);
	record *r = arena_alloc(x->a, sizeof(record));
	char *bucket = NULL;
	if (!col || !id || !r)
		return NULL;
	rec_init(r);
	if (load_record(x->t, x->a, col->name, id, r, &bucket, NULL) ||
	    !visible(x, bucket))
		return NULL;
	return r;
}

/* ---- batches and groups (writer thread) --------------------------------- */

static void encode_cur(wbuf *b, const record *cur)
{
	wb_map(b, 2);
	rec_wire_fs(b, cur);
}

static size_t ack_key(uint8_t *k, const char *device, const uint8_t *batch)
{
	size_t dn = strlen(device);
	memcpy(k, device, dn);
	k[dn] = 0;
	memcpy(k + dn + 1, batch, 16);
	return dn + 17;
}

/* Re-encode a stored ack with dup: true. */
static int ack_as_dup(arena *a, sv stored, wbuf *out)
{
	wval *v;
	if (stored.n < 8 || wire_decode(a, (const uint8_t *)stored.p + 8,
	                                stored.n - 8, &v) || v->t != WV_MAP)
		return FS_E_INTERNAL;
	wb_map(out, v->m.n);
	for (uint32_t i = 0; i < v->m.n; i++) {
		wb_val(out, &v->m.k[i]);
		if (wv_is_str(&v->m.k[i], "dup"))
			wb_bool(out, 1);
		else
			wb_val(out, &v->m.v[i]);
	}
	return FS_OK;
}

typedef struct {
	uint32_t i;
	int code;
	const char *msg;
	const record *cur;
} rejection;

static void count_op(engine *e, int code)
{
	pthread_mutex_lock(&e->stats_mu);
	if (code == FS_OK)
		e->stats.ops_applied++;
	else if (code > 0 && code < 32)
		e->stats.ops_rejected[code]++;
	pthread_mutex_unlock(&e->stats_mu);
}

/* Apply batch `bi` of the job into its ack buffer.  Returns FS_OK (the ack
 * is ready) or a store failure (the transaction must be aborted). */
static int apply_batch(actx *x, uint32_t bi, uint64_t *rejected)
{
	job *j = x->j;
	const wval *b = &j->batches->a.v[bi];
	const wval *bid = wv_get(b, "batch"), *ops = wv_get(b, "ops"),
	           *by = wv_get(b, "by");
	wbuf *ack = &j->acks[bi];
	ack->n = 0;
	ack->err = 0;

	uint8_t key[FS_ID_MAX + 20];
	size_t kn = ack_key(key, j->p->device, (const uint8_t *)bid->s.p);
	x->batch = (const uint8_t *)bid->s.p;
	sv stored;
	int rc = store_get(x->t, ST_ACKS, sv_of(key, kn), &stored);
	if (rc == FS_OK) {
		pthread_mutex_lock(&x->e->stats_mu);
		x->e->stats.batches_dup++;
		pthread_mutex_unlock(&x->e->stats_mu);
		return ack_as_dup(x->a, stored, ack) ? FS_E_UNAVAILABLE : FS_OK;
	}
	if (rc != FS_E_NOT_FOUND)
		return rc;

	/* whose rights: the session's staff, or the batch's `by` */
	x->w = *j->p;
	const char *batch_err = NULL;
	if (by && !str_is(j->p->staff, by)) {
		char *bys = wv_strdup(x->a, by);
		principal w = *j->p;
		if (!bys || !auth_held_session(x->t, j->p->device, bys) ||
		    auth_staff(x->t, x->a, bys, &w) != FS_OK ||
		    strcmp(w.site, j->p->site) != 0)
			batch_err = "FORBIDDEN";
		else
			x->w = w;
	}

	uint32_t nops = ops->a.n, applied = 0, nrej = 0;
	rejection *rj = nops ? arena_calloc(x->a, nops, sizeof(*rj)) : NULL;
	if (nops && !rj)
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < nops; i++) {
		opresult r;
		if (batch_err)
			r = rej(FS_E_FORBIDDEN,
			        "this device never held a session of the batch's "
			        "'by' staff member", NULL);
		else if (j->checks[bi][i].code)
			r = rej(j->checks[bi][i].code, j->checks[bi][i].msg,
			        cur_of(x, &ops->a.v[i]));
		else {
			r = apply_op(x, &ops->a.v[i]);
			if (r.code && !r.msg)
				return r.code; /* store failure */
		}
		if (r.code == FS_OK)
			applied++;
		else
			rj[nrej++] = (rejection){i, r.code, r.msg, r.cur};
	}

	wb_map(ack, 4 + (batch_err ? 1 : 0));
	wb_cstr(ack, "batch");
	wb_bin(ack, bid->s.p, 16);
	wb_cstr(ack, "applied");
	wb_u64(ack, applied);
	wb_cstr(ack, "dup");
	wb_bool(ack, 0);
	wb_cstr(ack, "rej");
	wb_arr(ack, nrej);
	for (uint32_t k = 0; k < nrej; k++) {
		wb_map(ack, rj[k].cur ? 4 : 3);
		wb_cstr(ack, "i");
		wb_u64(ack, rj[k].i);
		wb_cstr(ack, "code");
		wb_cstr(ack, fs_err_name(rj[k].code));
		wb_cstr(ack, "msg");
		wb_cstr(ack, rj[k].msg ? rj[k].msg : fs_err_msg(rj[k].code));
		if (rj[k].cur) {
			wb_cstr(ack, "cur");
			encode_cur(ack, rj[k].cur);
		}
	}
	if (batch_err) {
		wb_cstr(ack, "err");
		wb_cstr(ack, batch_err);
	}
	if (ack->err)
		return FS_E_UNAVAILABLE;

	/* keep the ack: 8 bytes of time, then the ack */
	uint8_t *val = arena_alloc(x->a, ack->n + 8);
	if (!val)
		return FS_E_UNAVAILABLE;
	be64_put(val, j->t);
	memcpy(val + 8, ack->p, ack->n);
	if ((rc = store_put(x->t, ST_ACKS, sv_of(key, kn),
	                    sv_of(val, ack->n + 8))) ||
	    (rc = maint_note_ack(x->t, sv_of(key, kn), j->t)))
		return rc;
	for (uint32_t k = 0; k < nrej; k++)
		count_op(x->e, rj[k].code);
	pthread_mutex_lock(&x->e->stats_mu);
	x->e->stats.ops_applied += applied;
	x->e->stats.batches++;
	pthread_mutex_unlock(&x->e->stats_mu);
	*rejected += nrej;
	return FS_OK;
}

/* The request's own (device, boot) anchor candidate: before its batches,
 * so it anchors the checkins it carries. */
static int apply_anchor(actx *x)
{
	job *j = x->j;
	if (!j->has_boot || !j->has_mono)
		return FS_OK;
	int64_t cand = (int64_t)j->t - (int64_t)j->mono, cur;
	if (anchor_get(x->t, j->p->device, j->boot, &cur) == FS_OK && cur <= cand)
		return FS_OK;
	return anchor_put(x->t, j->p->device, j->boot, cand);
}

/* The device's sync report, once per request. */
static int apply_dev(actx *x, uint64_t rejected)
{
	job *j = x->j;
	device_info d;
	if (auth_device_get(x->t, j->p->device, &d) != FS_OK)
		return FS_OK; /* the admin device keeps no report */
	d.last_sync = j->t;
	snprintf(d.staff, sizeof(d.staff), "%s", j->p->staff);
	if (j->has_pending) {
		d.has_pending = 1;
		d.pending = j->pending;
	}
	if (j->has_wall) {
		d.has_skew = 1;
		d.skew = (int64_t)j->wall - (int64_t)j->t;
	}
	if (j->has_boot)
		snprintf(d.boot, sizeof(d.boot), "%s", j->boot);
	d.rejected += rejected;
	return auth_device_put(x->t, j->p->device, &d);
}

static void unavailable_ack(job *j, uint32_t bi)
{
	const wval *bid = wv_get(&j->batches->a.v[bi], "batch");
	wbuf *ack = &j->acks[bi];
	ack->n = 0;
	ack->err = 0;
	wb_map(ack, 5);
	wb_cstr(ack, "batch");
	wb_bin(ack, bid->s.p, 16);
	wb_cstr(ack, "applied");
	wb_u64(ack, 0);
	wb_cstr(ack, "dup");
	wb_bool(ack, 0);
	wb_cstr(ack, "rej");
	wb_arr(ack, 0);
	wb_cstr(ack, "err");
	wb_cstr(ack, "UNAVAILABLE");
}

/* One transaction over a list of jobs, or over one batch of one job
 * (only != NULL).  FS_OK when committed. */
static int run_txn(engine *e, job *list, job *only, uint32_t only_bi,
                   strvec *changed)
{
	store_txn *t;
	int rc = store_begin(e->st, 1, &t);
	if (rc)
		return rc;
	unsigned mark = changed->n;
	for (job *j = only ? only : list; j; j = only ? NULL : j->next) {
		actx x;
		memset(&x, 0, sizeof(x));
		x.e = e;
		x.t = t;
		x.a = j->a;
		x.j = j;
		x.now = engine_now(e);
		x.changed = changed;
		wb_init(&x.rec);
		uint64_t rejected = 0;
		uint32_t nb = j->batches ? j->batches->a.n : 0;
		rc = apply_anchor(&x);
		for (uint32_t bi = 0; bi < nb && !rc; bi++)
			if (!only || bi == only_bi)
				rc = apply_batch(&x, bi, &rejected);
		if (!rc && (!only || only_bi == 0))
			rc = apply_dev(&x, rejected);
		wb_free(&x.rec);
		if (rc)
			break;
	}
	if (rc) {
		store_abort(t);
		changed->n = mark;
		return rc;
	}
	rc = store_commit(t);
	if (rc)
		changed->n = mark;
	return rc;
}

static void run_group(engine *e, job *list)
{
	arena *ga = arena_new(0);
	strvec changed = {ga, NULL, 0, 0};
	pthread_mutex_lock(&e->write_mu);
	int rc = run_txn(e, list, NULL, 0, &changed);
	if (rc == STORE_FULL && store_grow(e->st) == FS_OK)
		rc = run_txn(e, list, NULL, 0, &changed);
	if (rc) {
		/* retry one batch at a time; what still fails is UNAVAILABLE */
		for (job *j = list; j; j = j->next) {
			uint32_t nb = j->batches ? j->batches->a.n : 0;
			for (uint32_t bi = 0; bi < (nb ? nb : 1); bi++) {
				int r = run_txn(e, list, j, bi, &changed);
				if (r == STORE_FULL && store_grow(e->st) == FS_OK)
					r = run_txn(e, list, j, bi, &changed);
				if (r && nb) {
					unavailable_ack(j, bi);
					pthread_mutex_lock(&e->stats_mu);
					e->stats.batches_unavailable++;
					pthread_mutex_unlock(&e->stats_mu);
				}
			}
		}
	}
	pthread_mutex_unlock(&e->write_mu);
	pthread_mutex_lock(&e->stats_mu);
	e->stats.groups++;
	pthread_mutex_unlock(&e->stats_mu);
	if (changed.n && e->notify)
		e->notify(e->notify_ctx, changed.v, changed.n);
	if (changed.n) {
		/* under the lock, so a listener is never called after removal */
		pthread_mutex_lock(&e->notify_mu);
		for (int i = 0; i < ENGINE_LISTENERS_MAX; i++)
			if (e->more_fn[i])
				e->more_fn[i](e->more_ctx[i], changed.v, changed.n);
		pthread_mutex_unlock(&e->notify_mu);
	}
	arena_free(ga);
}

static void *writer_main(void *arg)
{
	engine *e = arg;
	for (;;) {
		pthread_mutex_lock(&e->q_mu);
		while (!e->q_head && !e->stopping)
			pthread_cond_wait(&e->q_cv, &e->q_mu);
		job *list = e->q_head;
		e->q_head = e->q_tail = NULL;
		pthread_mutex_unlock(&e->q_mu);
		if (!list)
			break; /* stopping and drained */
		run_group(e, list);
		pthread_mutex_lock(&e->q_mu);
		for (job *j = list; j; j = j->next)
			j->done = 1;
		pthread_cond_broadcast(&e->done_cv);
		pthread_mutex_unlock(&e->q_mu);
	}
	return NULL;
}

/* Queue a job and wait until it is durable (or failed). */
static int enqueue(engine *e, job *j)
{
	pthread_mutex_lock(&e->q_mu);
	if (e->stopping) {
		pthread_mutex_unlock(&e->q_mu);
		return FS_E_UNAVAILABLE;
	}
	j->next = NULL;
	if (e->q_tail)
		e->q_tail->next = j;
	else
		e->q_head = j;
	e->q_tail = j;
	pthread_cond_signal(&e->q_cv);
	pthread_mutex_unlock(&e->q_mu);
	return FS_OK;
}

static void wait_done(engine *e, job *j)
{
	pthread_mutex_lock(&e->q_mu);
	while (!j->done)
		pthread_cond_wait(&e->done_cv, &e->q_mu);
	pthread_mutex_unlock(&e->q_mu);
}

static int submit(engine *e, job *j)
{
	int rc = enqueue(e, j);
	if (!rc)
		wait_done(e, j);
	return rc;
}

int engine_write(engine *e, int (*fn)(void *ctx, store_txn *t), void *ctx)
{
	int rc = FS_OK;
	pthread_mutex_lock(&e->write_mu);
	for (int attempt = 0; attempt < 2; attempt++) {
		store_txn *t;
		if ((rc = store_begin(e->st, 1, &t)))
			break;
		rc = fn(ctx, t);
		if (rc) {
			store_abort(t);
		} else {
			rc = store_commit(t);
		}
		if (rc != STORE_FULL || store_grow(e->st) != FS_OK)
			break;
	}
	pthread_mutex_unlock(&e->write_mu);
	if (rc == STORE_FULL)
		rc = FS_E_UNAVAILABLE;
	return rc;
}

/* ---- pull (request thread, read transaction) ----------------------------- */

typedef struct {
	arena *a;
	wbuf *recs, *gone;
	uint32_t nrecs, ngone;
	uint32_t want;  /* entries to emit */
	uint32_t seen;  /* entries visited (want + 1 means "more") */
	uint64_t last;  /* seq of the last emitted entry */
	int rc;
} pull_scan;

/* Bytes taken by `count` msgpack objects at p[0..n), or 0 when they do
 * not fit (or use a type the stored form never holds: ext, 0xc1). */
static size_t mp_skip(const uint8_t *p, size_t n, uint64_t count)
{
	size_t o = 0;
	while (count) {
		if (o >= n || count > n - o)
			return 0; /* every object takes at least one byte */
		uint8_t b = p[o++];
		uint64_t len = 0, sub = 0;
		size_t w = 0; /* bytes of a length/count field */
		count--;
		if (b <= 0x7f || b >= 0xe0)
			continue;
		if (b <= 0x8f)
			sub = 2 * (uint64_t)(b & 0x0f);
		else if (b <= 0x9f)
			sub = b & 0x0f;
		else if (b <= 0xbf)
			len = b & 0x1f;
		else
			switch (b) {
			case 0xc0: case 0xc2: case 0xc3:
				break;
			case 0xcc: case 0xd0: len = 1; break;
			case 0xcd: case 0xd1: len = 2; break;
			case 0xca: case 0xce: case 0xd2: len = 4; break;
			case 0xcb: case 0xcf: case 0xd3: len = 8; break;
			case 0xc4: case 0xd9: w = 1; break;
			case 0xc5: case 0xda: case 0xdc: case 0xde: w = 2; break;
			case 0xc6: case 0xdb: case 0xdd: case 0xdf: w = 4; break;
			default:
				return 0;
			}
		if (w) {
			if (w > n - o)
				return 0;
			uint64_t v = 0;
			for (size_t i = 0; i < w; i++)
				v = v << 8 | p[o + i];
			o += w;
			if (b == 0xdc || b == 0xdd)
				sub = v;
			else if (b == 0xde || b == 0xdf)
				sub = 2 * v;
			else
				len = v;
		}
		if (len > n - o)
			return 0;
		o += (size_t)len;
		count += sub;
	}
	return o;
}

static int mp_is_str(uint8_t b)
{
	return (b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb;
}

static int mp_is_uint(uint8_t b)
{
	return b <= 0x7f || (b >= 0xcc && b <= 0xcf);
}

/* The string's bytes (after its header). */
static void mp_str(const uint8_t *p, size_t n, const uint8_t **s, size_t *sn)
{
	size_t h = p[0] <= 0xbf ? 1 : p[0] == 0xd9 ? 2 : p[0] == 0xda ? 3 : 5;
	*s = p + h;
	*sn = n - h;
}

#define FS_FIELDS_FAST 128

/* The wire's "f" and "s" map entries (record.h) straight from a record's
 * stored bytes {name: [value, hlc, origin]}, without building a record:
 * the stored bytes were written by our own encoder, so copying each
 * name, value, hlc and origin gives the same bytes rec_decode() +
 * rec_wire_fs() would.  1 when done; 0 when the bytes are not exactly
 * that shape with names in strictly ascending order (the caller then
 * takes the decoding path, which judges them). */
static int wire_fs_stored(wbuf *b, const uint8_t *p, size_t n)
{
	struct {
		uint32_t k, v, vn, kn, st, stn; /* offsets and lengths */
	} f[FS_FIELDS_FAST];
	if (!n)
		return 0;
	size_t o, cnt;
	uint8_t h = p[0];
	if (h >= 0x80 && h <= 0x8f) {
		cnt = h & 0x0f;
		o = 1;
	} else if (h == 0xde && n >= 3) {
		cnt = (size_t)p[1] << 8 | p[2];
		o = 3;
	} else {
		return 0;
	}
	if (cnt > FS_FIELDS_FAST || n > UINT32_MAX)
		return 0;
	for (size_t i = 0; i < cnt; i++) {
		size_t kn = mp_skip(p + o, n - o, 1);
		if (!kn || !mp_is_str(p[o]) || kn < 2)
			return 0; /* names are non-empty strings */
		f[i].k = (uint32_t)o;
		f[i].kn = (uint32_t)kn;
		if (i) {
			const uint8_t *a, *c;
			size_t an, cn;
			mp_str(p + f[i - 1].k, f[i - 1].kn, &a, &an);
			mp_str(p + o, kn, &c, &cn);
			int d = memcmp(a, c, an < cn ? an : cn);
			if (d > 0 || (d == 0 && an >= cn))
				return 0;
		}
		o += kn;
		if (o >= n || p[o] != 0x93)
			return 0;
		o++;
		size_t vn = mp_skip(p + o, n - o, 1);
		if (!vn)
			return 0;
		f[i].v = (uint32_t)o;
		f[i].vn = (uint32_t)vn;
		o += vn;
		if (o >= n || !mp_is_uint(p[o]))
			return 0;
		size_t hn = mp_skip(p + o, n - o, 1);
		if (!hn || o + hn >= n || !mp_is_str(p[o + hn]))
			return 0;
		size_t on = mp_skip(p + o + hn, n - o - hn, 1);
		if (!on)
			return 0;
		f[i].st = (uint32_t)o;
		f[i].stn = (uint32_t)(hn + on);
		o += hn + on;
	}
	if (o != n)
		return 0;
	static const uint8_t arr2 = 0x92;
	wb_str(b, "f", 1);
	wb_map(b, (uint32_t)cnt);
	for (size_t i = 0; i < cnt; i++) {
		wb_raw(b, p + f[i].k, f[i].kn);
		wb_raw(b, p + f[i].v, f[i].vn);
	}
	wb_str(b, "s", 1);
	wb_map(b, (uint32_t)cnt);
	for (size_t i = 0; i < cnt; i++) {
		wb_raw(b, p + f[i].k, f[i].kn);
		wb_raw(b, &arr2, 1);
		wb_raw(b, p + f[i].st, f[i].stn);
	}
	return 1;
}

static int pull_cb(void *ctx, const store_entry *en)
{
	pull_scan *p = ctx;
	if (p->seen++ >= p->want)
		return 1; /* one past the page: there is more */
	p->last = en->seq;
	if (en->gone) {
		wb_arr(p->gone, 2);
		wb_cstr(p->gone, en->c);
		wb_cstr(p->gone, en->id);
		p->ngone++;
		return 0;
	}
	wb_map(p->recs, 4);
	wb_cstr(p->recs, "c");
	wb_cstr(p->recs, en->c);
	wb_cstr(p->recs, "id");
	wb_cstr(p->recs, en->id);
	size_t mark = p->recs->n;
	if (!wire_fs_stored(p->recs, en->val.p, en->val.n)) {
		record r;
		rec_init(&r);
		p->recs->n = mark;
		if (rec_decode(p->a, en->val.p, en->val.n, &r)) {
			p->rc = FS_E_INTERNAL;
			return 1;
		}
		rec_wire_fs(p->recs, &r);
	}
	p->nrecs++;
	return 0;
}

/* One bucket of the response: {cursor, more, reset, recs, gone}. */
static int pull_bucket(store_txn *t, arena *a, const char *bucket,
                       uint64_t cursor, uint32_t *budget, wbuf *out)
{
	uint64_t head = 0, floor = 0;
	int rc = store_bucket_info(t, bucket, &head, &floor);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	int reset = cursor > head || (cursor > 0 && cursor < floor);
	if (reset)
		cursor = 0;
	/* records go straight into the answer (no second buffer to grow and
	 * copy), so "recs" comes first and the counts are patched after */
	wbuf gone;
	wb_init(&gone);
	wb_cstr(out, bucket);
	wb_map(out, 5);
	wb_cstr(out, "recs");
	size_t at = wb_arr_later(out);
	pull_scan p = {a, out, &gone, 0, 0, *budget, 0, cursor, FS_OK};
	rc = store_bucket_scan(t, bucket, cursor, pull_cb, &p);
	if (rc == 1 || rc == FS_E_NOT_FOUND)
		rc = FS_OK;
	if (!rc)
		rc = p.rc;
	if (!rc && (out->err || gone.err))
		rc = FS_E_UNAVAILABLE;
	if (!rc) {
		*budget -= p.nrecs + p.ngone;
		wb_patch(out, at, p.nrecs);
		wb_cstr(out, "gone");
		wb_arr(out, p.ngone);
		wb_raw(out, gone.p, gone.n);
		wb_cstr(out, "cursor");
		wb_u64(out, p.last);
		wb_cstr(out, "more");
		wb_bool(out, p.seen > p.want);
		wb_cstr(out, "reset");
		wb_bool(out, reset);
	}
	wb_free(&gone);
	return rc;
}

/* ---- the sync request ------------------------------------------------------ */

#define FAIL(code, m)                                                          \
	do {                                                                   \
		*msg = (m);                                                    \
		return (code);                                                 \
	} while (0)

static int parse_dev(const wval *dev, job *j, const char **msg)
{
	if (!dev || dev->t == WV_NIL)
		return FS_OK;
	if (dev->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "dev must be a map {boot, mono, wall, pending}");
	const wval *boot = wv_get(dev, "boot"), *mono = wv_get(dev, "mono"),
	           *wall = wv_get(dev, "wall"), *pend = wv_get(dev, "pending");
	j->has_dev = 1;
	if (boot && boot->t != WV_NIL) {
		if (boot->t != WV_STR || boot->s.n == 0 || boot->s.n > 128 ||
		    !utf8_valid(boot->s.p, boot->s.n) ||
		    memchr(boot->s.p, 0, boot->s.n))
			FAIL(FS_E_BAD_REQUEST, "dev.boot must be a string of 1-128 bytes");
		j->boot = wv_strdup(j->a, boot);
		if (!j->boot)
			FAIL(FS_E_UNAVAILABLE, "out of memory");
		j->has_boot = 1;
	}
	if (mono && mono->t != WV_NIL) {
		if (!wv_u64(mono, &j->mono))
			FAIL(FS_E_BAD_REQUEST, "dev.mono must be an unsigned integer");
		j->has_mono = 1;
	}
	if (wall && wall->t != WV_NIL) {
		if (!wv_u64(wall, &j->wall) || j->wall > (1ULL << 47))
			FAIL(FS_E_BAD_REQUEST, "dev.wall must be ms since 1970");
		j->has_wall = 1;
	}
	if (pend && pend->t != WV_NIL) {
		if (!wv_u64(pend, &j->pending))
			FAIL(FS_E_BAD_REQUEST, "dev.pending must be an unsigned integer");
		j->has_pending = 1;
	}
	if (j->has_mono && j->mono > j->t)
		FAIL(FS_E_BAD_REQUEST, "dev.mono is longer than the epoch");
	return FS_OK;
}

static int parse_push(engine *e, const wval *push, job *j, const char **msg)
{
	const fs_limits *l = &e->cfg.lim;
	if (!push || push->t == WV_NIL)
		return FS_OK;
	if (push->t != WV_ARR)
		FAIL(FS_E_BAD_REQUEST, "push must be an array of batches");
	if (push->a.n > l->batches_max)
		FAIL(FS_E_TOO_LARGE, arena_printf(j->a, "%u batches, at most %u",
		                                  push->a.n, l->batches_max));
	for (uint32_t bi = 0; bi < push->a.n; bi++) {
		const wval *b = &push->a.v[bi];
		if (b->t != WV_MAP)
			FAIL(FS_E_BAD_REQUEST, "a batch must be a map {batch, ops, by?}");
		const wval *ops = wv_get(b, "ops");
		if (ops && ops->t == WV_ARR && ops->a.n > l->ops_max)
			FAIL(FS_E_TOO_LARGE,
			     arena_printf(j->a, "batch %u has %u ops, at most %u",
			                  bi, ops->a.n, l->ops_max));
	}
	j->checks = arena_calloc(j->a, push->a.n ? push->a.n : 1, sizeof(opcheck *));
	j->acks = arena_calloc(j->a, push->a.n ? push->a.n : 1, sizeof(wbuf));
	if (!j->checks || !j->acks)
		FAIL(FS_E_UNAVAILABLE, "out of memory");
	for (uint32_t bi = 0; bi < push->a.n; bi++) {
		const wval *b = &push->a.v[bi];
		const wval *bid = wv_get(b, "batch"), *ops = wv_get(b, "ops"),
		           *by = wv_get(b, "by");
		if (!bid || bid->t != WV_BIN || bid->s.n != 16)
			FAIL(FS_E_BAD_REQUEST, "batch id must be a bin of 16 bytes");
		if (!ops || ops->t != WV_ARR)
			FAIL(FS_E_BAD_REQUEST, "a batch's ops must be an array");
		if (by && (by->t != WV_STR || valid_id(by->s.p, by->s.n)))
			FAIL(FS_E_BAD_REQUEST, "by must be a staff id");
		j->checks[bi] = arena_calloc(j->a, ops->a.n ? ops->a.n : 1,
		                             sizeof(opcheck));
		if (!j->checks[bi])
			FAIL(FS_E_UNAVAILABLE, "out of memory");
		for (uint32_t i = 0; i < ops->a.n; i++)
			j->checks[bi][i] = check_op(e, j->a, &ops->a.v[i]);
		wb_init(&j->acks[bi]);
	}
	j->batches = push;
	return FS_OK;
}

static void free_acks(job *j)
{
	uint32_t nb = j->batches ? j->batches->a.n : 0;
	for (uint32_t i = 0; i < nb; i++)
		wb_free(&j->acks[i]);
}

/* The answer to a sync whose push has been applied (or, for a job with
 * no batches, is being applied: its acks are empty and its pull does not
 * depend on the device report the writer records): acks, the pull,
 * scope and drop. */
static int sync_answer(engine *e, const principal *p, job *j, const wval *pull,
                       uint64_t limit, arena *a, wbuf *out, const char **msg)
{
	int rc;
	/* the pull */
	store_txn *t;
	if ((rc = store_begin(e->st, 0, &t))) {
		free_acks(j);
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	}
	uint64_t now = engine_now(e);
	char **scope;
	unsigned nscope;
	rc = engine_scope(e, t, p, now, a, &scope, &nscope);
	if (rc) {
		store_abort(t);
		free_acks(j);
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	}

	wb_map(out, 8);
	wb_cstr(out, "v");
	wb_u64(out, 1);
	wb_cstr(out, "now");
	wb_u64(out, now);
	wb_cstr(out, "hlc");
	wb_u64(out, engine_hlc_now(e));
	wb_cstr(out, "store");
	wb_cstr(out, store_id(e->st));
	wb_cstr(out, "acks");
	uint32_t nb = j->batches ? j->batches->a.n : 0;
	wb_arr(out, nb);
	for (uint32_t i = 0; i < nb; i++)
		wb_raw(out, j->acks[i].p, j->acks[i].n);
	free_acks(j);

	wb_cstr(out, "buckets");
	wb_map(out, nscope);
	uint32_t budget = (uint32_t)limit;
	for (unsigned i = 0; i < nscope && !rc; i++) {
		uint64_t cursor = 0;
		if (pull && pull->t == WV_MAP)
			for (uint32_t k = 0; k < pull->m.n; k++)
				if (wv_is_str(&pull->m.k[k], scope[i]))
					wv_u64(&pull->m.v[k], &cursor);
		rc = pull_bucket(t, a, scope[i], cursor, &budget, out);
	}
	if (rc) {
		store_abort(t);
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	}
	wb_cstr(out, "scope");
	wb_arr(out, nscope);
	for (unsigned i = 0; i < nscope; i++)
		wb_cstr(out, scope[i]);
	wb_cstr(out, "drop");
	size_t at = wb_arr_later(out);
	uint32_t ndrop = 0;
	if (pull && pull->t == WV_MAP)
		for (uint32_t k = 0; k < pull->m.n; k++) {
			char *b = wv_strdup(a, &pull->m.k[k]);
			if (b && !in_sorted(scope, nscope, b)) {
				wb_cstr(out, b);
				ndrop++;
			}
		}
	wb_patch(out, at, ndrop);
	store_abort(t);
	if (out->err)
		FAIL(FS_E_UNAVAILABLE, "out of memory");
	return FS_OK;
}

int engine_sync(engine *e, const principal *p, const wval *req, uint64_t t_ms,
                arena *a, wbuf *out, const char **msg)
{
	*msg = NULL;
	if (req->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "the body must be a map");
	const wval *v = wv_get(req, "v");
	uint64_t ver;
	if (!v)
		FAIL(FS_E_BAD_REQUEST, "v (the protocol version) is missing");
	if (!wv_u64(v, &ver) || ver != 1)
		FAIL(FS_E_UNSUPPORTED_VERSION, "this server speaks v 1");
	const wval *hv = wv_get(req, "hlc"), *pull = wv_get(req, "pull"),
	           *lim = wv_get(req, "limit");
	uint64_t client_hlc = 0, limit = e->cfg.lim.pull_limit_default;
	if (hv && hv->t != WV_NIL && !wv_u64(hv, &client_hlc))
		FAIL(FS_E_BAD_REQUEST, "hlc must be a uint64");
	if (pull && pull->t != WV_NIL && pull->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "pull must be a map {bucket: cursor}");
	if (pull && pull->t == WV_MAP)
		for (uint32_t i = 0; i < pull->m.n; i++) {
			uint64_t c;
			/* names come back in `drop`: UTF-8, no NUL */
			const wval *k = &pull->m.k[i];
			if (k->t != WV_STR || k->s.n > 300 ||
			    !utf8_valid(k->s.p, k->s.n) || memchr(k->s.p, 0, k->s.n) ||
			    !wv_u64(&pull->m.v[i], &c))
				FAIL(FS_E_BAD_REQUEST, "pull maps bucket names to uint cursors");
		}
	if (lim && lim->t != WV_NIL && !wv_u64(lim, &limit))
		FAIL(FS_E_BAD_REQUEST, "limit must be an unsigned integer");
	if (limit > e->cfg.lim.pull_limit_max)
		limit = e->cfg.lim.pull_limit_max;

	job j;
	memset(&j, 0, sizeof(j));
	j.p = p;
	j.t = t_ms;
	j.a = a;
	int rc;
	if ((rc = parse_dev(wv_get(req, "dev"), &j, msg)))
		return rc;
	if ((rc = parse_push(e, wv_get(req, "push"), &j, msg)))
		return rc;
	if (hv && client_hlc)
		engine_hlc_recv(e, client_hlc);

	/* A sync that pushes nothing waits for no ack: its pull runs while
	 * the writer records the device's report (anchor, last sync), and
	 * the answer still goes out only once that is durable.  The writer
	 * then allocates from an arena of the job's own, not the request's,
	 * which this thread uses meanwhile. */
	int pull_only = !j.batches || j.batches->a.n == 0;
	arena *ja = NULL;
	if (pull_only && !(ja = arena_new(4096)))
		FAIL(FS_E_UNAVAILABLE, "out of memory");
	if (pull_only)
		j.a = ja;
	if ((rc = pull_only ? enqueue(e, &j) : submit(e, &j))) {
		arena_free(ja);
		free_acks(&j);
		FAIL(rc, "the server is shutting down");
	}
	rc = sync_answer(e, p, &j, pull, limit, a, out, msg);
	if (pull_only) {
		wait_done(e, &j);
		arena_free(ja);
	}
	return rc;
}

/* ---- life cycle ------------------------------------------------------------ */

int engine_open(engine **out, store *s, const engine_cfg *cfg)
{
	*out = NULL;
	engine *e = calloc(1, sizeof(*e));
	if (!e)
		return FS_E_UNAVAILABLE;
	e->st = s;
	e->cfg = *cfg;
	pthread_mutex_init(&e->clock_mu, NULL);
	pthread_mutex_init(&e->write_mu, NULL);
	pthread_mutex_init(&e->q_mu, NULL);
	pthread_mutex_init(&e->stats_mu, NULL);
	pthread_mutex_init(&e->notify_mu, NULL);
	pthread_cond_init(&e->q_cv, NULL);
	pthread_cond_init(&e->done_cv, NULL);
	e->hlc.last = 0;
	if (pthread_create(&e->writer, NULL, writer_main, e)) {
		engine_close(e);
		return FS_E_INTERNAL;
	}
	e->writer_started = 1;
	*out = e;
	return FS_OK;
}

void engine_close(engine *e)
{
	if (!e)
		return;
	if (e->writer_started) {
		pthread_mutex_lock(&e->q_mu);
		e->stopping = 1;
		pthread_cond_broadcast(&e->q_cv);
		pthread_mutex_unlock(&e->q_mu);
		pthread_join(e->writer, NULL);
	}
	pthread_mutex_destroy(&e->clock_mu);
	pthread_mutex_destroy(&e->write_mu);
	pthread_mutex_destroy(&e->q_mu);
	pthread_mutex_destroy(&e->stats_mu);
	pthread_mutex_destroy(&e->notify_mu);
	pthread_cond_destroy(&e->q_cv);
	pthread_cond_destroy(&e->done_cv);
	free(e);
}
