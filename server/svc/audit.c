/*
 * audit.c — see audit.h.
 */
#include "server/svc/audit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "server/lib/doc.h"
#include "server/model/policy.h"
#include "server/model/sitecheck.h"

#define AKEY_MAX 511        /* the store refuses longer keys */
#define WHAT_MAX 1024       /* path and query kept of a read */
#define PURGE_CHUNK 1000    /* entries of each kind per purge transaction */
#define PURGE_CHUNKS_MAX 10000
#define HLC_BITS 16
#define AE_V2 0x02          /* first byte of a v2 op entry (audit.h) */
#define AE_OLD 1            /* v2 change flags: the field existed before */
#define AE_OLD_DEV 2        /* the old stamp's origin is the entry's device */
#define AE_NEW_DEV 4        /* the new stamp's origin is the entry's device */

/* ---- keys ----------------------------------------------------------------- */



/* 'r' c \0 id \0 (the history prefix of a record): its length, or 0 when
 * it would not fit with a seq after it. */
static size_t hist_prefix(uint8_t *k, size_t cap, const char *c,
                          const char *id)
{
	size_t cl = strlen(c), il = strlen(id);
	if (cl == 0 || il == 0 || 3 + cl + il + 8 > cap)
		return 0;
	k[0] = 'r';
	memcpy(k + 1, c, cl);
	k[1 + cl] = 0;
	memcpy(k + 2 + cl, id, il);
	k[2 + cl + il] = 0;
	return 3 + cl + il;
}

static int field_changed(const rfield *o, const rfield *f)
{
	return !o || stamp_cmp(&o->st, &f->st) != 0 || !wv_equal(&o->val, &f->val);
}

/* ---- op entries (writer thread, inside the op's transaction) --------------- */

/* A stamp's origin: when it is the writing device (the new stamp of
 * every field the op wrote), a flag bit instead of the string. */
static unsigned put_origin(wbuf *b, const stamp *st, const char *device,
                           size_t dn, unsigned bit)
{
	const char *o = st->origin ? st->origin : "";
	size_t on = st->origin ? st->origin_n : 0;
	if (on == dn && !memcmp(o, device, dn))
		return bit;
	wb_str(b, o, on);
	return 0;
}

int audit_op(store_txn *t, arena *a, const principal *writer,
             const char *device, const uint8_t *batch, uint64_t now_ms,
             const char *c, const char *id, const char *bucket,
             const char *site, uint64_t seq, const record *old,
             const record *nw)
{
	(void)a;
	uint8_t rk[AKEY_MAX + 1], tk[17];
	size_t pn = hist_prefix(rk, sizeof(rk), c, id);
	if (!pn)
		return FS_E_BAD_REQUEST; /* ids are capped far below this */
	be64_put(rk + pn, seq);
	tk[0] = 't';
	be64_put(tk + 1, now_ms);
	be64_put(tk + 9, seq);

	/* the v2 entry (audit.h): c, id and seq are the key's */
	size_t dn = strlen(device);
	wbuf b;
	wb_init(&b);
	wb_raw(&b, "\x02", 1);
	size_t at = wb_arr_later(&b);
	uint32_t items = 9;
	wb_u64(&b, now_ms);
	wb_cstr(&b, writer->staff);
	wb_cstr(&b, role_name(writer->role));
	wb_str(&b, device, dn);
	if (batch)
		wb_bin(&b, batch, 16);
	else
		wb_nil(&b);
	wb_cstr(&b, bucket);
	wb_cstr(&b, site); /* NULL writes nil */
	wb_bool(&b, old == NULL);
	size_t nat = b.n; /* nch: a uint32 filled in below */
	wb_raw(&b, "\xce\0\0\0\0", 5);
	uint32_t nch = 0;
	for (uint32_t i = 0; i < nw->n; i++) {
		const rfield *f = &nw->f[i];
		const rfield *o = old ? rec_getn(old, f->name, f->name_n) : NULL;
		if (!field_changed(o, f))
			continue;
		/* f, flags, [old, old hlc, (old origin)], new, new hlc,
		 * (new origin); the flags byte goes before what it describes
		 * but is only known after: it is patched in */
		wb_str(&b, f->name, f->name_n);
		size_t fl = b.n;
		wb_raw(&b, "\x00", 1);
		unsigned flags = 0;
		items += 4;
		if (o) {
			flags |= AE_OLD;
			wb_val(&b, &o->val);
			wb_u64(&b, o->st.hlc);
			flags |= put_origin(&b, &o->st, device, dn, AE_OLD_DEV);
			items += 2 + !(flags & AE_OLD_DEV);
		}
		wb_val(&b, &f->val);
		wb_u64(&b, f->st.hlc);
		flags |= put_origin(&b, &f->st, device, dn, AE_NEW_DEV);
		items += !(flags & AE_NEW_DEV);
		if (!b.err)
			b.p[fl] = (uint8_t)flags;
		nch++;
	}
	wb_patch(&b, at, items);
	for (int i = 0; i < 4 && !b.err; i++)
		b.p[nat + 1 + i] = (uint8_t)(nch >> (24 - 8 * i));
	int rc = b.err ? FS_E_UNAVAILABLE : FS_OK;
	if (!rc)
		rc = store_put(t, ST_AUDIT, sv_of(rk, pn + 8), sv_of(b.p, b.n));
	if (!rc)
		rc = store_put(t, ST_AUDIT, sv_of(tk, sizeof(tk)),
		               sv_of(rk, pn + 8));
	wb_free(&b);
	return rc;
}

/* ---- reading op entries -------------------------------------------------------- */

static void wb_stamp(wbuf *b, uint64_t hlc, const wval *origin)
{
	wb_arr(b, 2);
	wb_u64(b, hlc);
	wb_val(b, origin);
}

/* A v2 entry (key: 'r' c \0 id \0 seq) as the v1 map the trail has
 * always answered, byte for byte (audit.h).  FS_OK, or FS_E_BAD_REQUEST
 * for bytes that are not such an entry. */
static int entry_v1(arena *a, sv key, sv val, wbuf *out)
{
	const char *c = (const char *)key.p + 1;
	size_t cn = strlen(c);
	const char *id = c + cn + 1;
	uint64_t seq = be64_get((const uint8_t *)key.p + key.n - 8);
	wval *e;
	if (val.n < 2 || wire_decode(a, (const uint8_t *)val.p + 1, val.n - 1, &e) ||
	    e->t != WV_ARR || e->a.n < 9)
		return FS_E_BAD_REQUEST;
	const wval *v = e->a.v, *end = v + e->a.n, *device = &v[3];
	uint64_t nch;
	if (!wv_u64(&v[8], &nch))
		return FS_E_BAD_REQUEST;
	/* the v1 map's keys in order: -1 c, -2 id, -3 seq (from the key),
	 * else the index of the v2 item */
	static const char *const keys[] = {"t", "staff", "role", "device",
	                                   "batch", "c", "id", "bucket",
	                                   "site", "seq", "created"};
	static const signed char item[] = {0, 1, 2, 3, 4, -1, -2, 5, 6, -3, 7};
	wb_map(out, 12);
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		wb_cstr(out, keys[i]);
		if (item[i] >= 0)
			wb_val(out, &v[item[i]]);
		else if (item[i] == -3)
			wb_u64(out, seq);
		else
			wb_cstr(out, item[i] == -1 ? c : id);
	}
	wb_cstr(out, "ch");
	if (nch > (uint64_t)(end - v) / 4)
		return FS_E_BAD_REQUEST;
	wb_arr(out, (uint32_t)nch);
	v += 9;
	for (uint64_t i = 0; i < nch; i++) {
		uint64_t flags, hlc;
		if (end - v < 4 || !wv_u64(&v[1], &flags))
			return FS_E_BAD_REQUEST;
		const wval *f = v;
		v += 2;
		wb_map(out, 5);
		wb_cstr(out, "f");
		wb_val(out, f);
		wb_cstr(out, "old");
		if (flags & AE_OLD) {
			size_t need = 2 + !(flags & AE_OLD_DEV);
			if ((size_t)(end - v) < need + 2 || !wv_u64(&v[1], &hlc))
				return FS_E_BAD_REQUEST;
			wb_val(out, &v[0]);
			wb_cstr(out, "old_s");
			wb_stamp(out, hlc, flags & AE_OLD_DEV ? device : &v[2]);
			v += need;
		} else {
			wb_nil(out);
			wb_cstr(out, "old_s");
			wb_nil(out);
		}
		size_t need = 2 + !(flags & AE_NEW_DEV);
		if ((size_t)(end - v) < need || !wv_u64(&v[1], &hlc))
			return FS_E_BAD_REQUEST;
		wb_cstr(out, "new");
		wb_val(out, &v[0]);
		wb_cstr(out, "new_s");
		wb_stamp(out, hlc, flags & AE_NEW_DEV ? device : &v[2]);
		v += need;
	}
	return v == end && !out->err ? FS_OK : FS_E_BAD_REQUEST;
}

/* ---- read entries ---------------------------------------------------------- */

static const char *const archive_prefixes[] = {"/v1/reports/", "/v1/audit/"};

int audit_is_archive_read(const char *path)
{
	for (size_t i = 0; i < sizeof(archive_prefixes) / sizeof(*archive_prefixes);
	     i++)
		if (!strncmp(path, archive_prefixes[i], strlen(archive_prefixes[i])))
			return 1;
	return 0;
}

typedef struct {
	const principal *p;
	const char *what, *query;
	engine *e;
} readlog;

static size_t cut(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > WHAT_MAX ? WHAT_MAX : n;
}

static int read_put(void *ctx, store_txn *t)
{
	readlog *r = ctx;
	uint64_t now = engine_now(r->e), hlc = engine_hlc_now(r->e);
	uint8_t k[9];
	k[0] = 'q';
	/* the clock is unique within a run; after a restart inside the same
	 * millisecond a key may exist already: step past it */
	for (int i = 0;; i++) {
		be64_put(k + 1, hlc);
		int rc = store_get(t, ST_AUDIT, sv_of(k, sizeof(k)), NULL);
		if (rc == FS_E_NOT_FOUND)
			break;
		if (rc)
			return rc;
		if (i == 64)
			return FS_E_UNAVAILABLE;
		hlc++;
	}
	wbuf b;
	wb_init(&b);
	wb_map(&b, 8);
	wb_cstr(&b, "t");
	wb_u64(&b, now);
	wb_cstr(&b, "hlc");
	wb_u64(&b, hlc);
	wb_cstr(&b, "staff");
	wb_cstr(&b, r->p->staff);
	wb_cstr(&b, "role");
	wb_cstr(&b, role_name(r->p->role));
	wb_cstr(&b, "site");
	wb_cstr(&b, r->p->site[0] ? r->p->site : NULL);
	wb_cstr(&b, "device");
	wb_cstr(&b, r->p->device);
	wb_cstr(&b, "what");
	wb_str(&b, r->what ? r->what : "", cut(r->what));
	wb_cstr(&b, "query");
	if (r->query && *r->query)
		wb_str(&b, r->query, cut(r->query));
	else
		wb_nil(&b);
	int rc = b.err ? FS_E_UNAVAILABLE
	               : store_put(t, ST_AUDIT, sv_of(k, sizeof(k)),
	                           sv_of(b.p, b.n));
	wb_free(&b);
	return rc;
}

int audit_read(engine *e, const principal *p, const char *what,
               const char *query)
{
	readlog r = {p, what, query, e};
	int rc = engine_write(e, read_put, &r);
	return rc ? FS_E_UNAVAILABLE : FS_OK;
}

/* ---- listing ----------------------------------------------------------------- */

typedef struct {
	const principal *p;
	arena *a;
	doc *d;           /* the answer, JSON or msgpack */
	size_t klen;      /* the exact key length of an entry */
	int by_site;      /* supervisors: only entries of p->site */
	uint64_t to_hlc;  /* reads: stop past this */
	int reads;
	uint32_t limit, n;
	uint64_t total, last;
	int more;
} lister;

/* One entry (a v1 msgpack map) of a listing. */
static int list_entry(lister *l, sv val, uint64_t pos)
{
	wval *m;
	if (wire_decode(l->a, val.p, val.n, &m) || m->t != WV_MAP)
		return SCAN_NEXT; /* never written so; skip rather than fail the lookup */
	l->total++;
	if (l->by_site && !wv_is_str(wv_get(m, "site"), l->p->site))
		return SCAN_NEXT;
	if (l->n == l->limit) {
		l->more = 1;
		return SCAN_STOP;
	}
	doc_packed(l->d, val.p, val.n, m);
	l->n++;
	l->last = pos;
	return SCAN_NEXT;
}

static int list_cb(void *ctx, sv key, sv val)
{
	lister *l = ctx;
	if (key.n != l->klen)
		return SCAN_NEXT; /* not an entry of this listing (a longer id) */
	uint64_t pos = be64_get((const uint8_t *)key.p + key.n - 8);
	if (l->reads && pos > l->to_hlc)
		return SCAN_STOP;
	wbuf v1;
	wb_init(&v1);
	if (!l->reads && val.n && *(const uint8_t *)val.p == AE_V2) {
		if (entry_v1(l->a, key, val, &v1)) {
			wb_free(&v1);
			return SCAN_NEXT; /* never written so: skip, as below */
		}
		val = sv_of(v1.p, v1.n);
	}
	int rc = list_entry(l, val, pos);
	wb_free(&v1);
	return rc;
}

/* Opens the answer: {<k1>: <v1>, <k2>: <v2>, <list>: [ */
static void list_open(lister *l, const char *k1, const char *v1, uint64_t u1,
                      const char *k2, const char *v2, uint64_t u2,
                      const char *list)
{
	doc *d = l->d;
	doc_map_n(d, 5);
	doc_key(d, k1);
	if (v1)
		doc_str(d, v1);
	else
		doc_u64(d, u1);
	doc_key(d, k2);
	if (v2)
		doc_str(d, v2);
	else
		doc_u64(d, u2);
	doc_key(d, list);
	doc_arr(d);
}

static void list_close(lister *l)
{
	doc *d = l->d;
	doc_end(d);
	doc_key(d, "more");
	doc_bool(d, l->more);
	doc_key(d, "next");
	doc_u64(d, l->last);
	doc_end(d);
}

int audit_history(engine *e, const principal *p, const char *c,
                  const char *id, uint64_t after, uint32_t limit, int json,
                  arena *a, wbuf *out, const char **msg)
{
	if (!policy_is_manager(p)) {
		*msg = "the audit trail is for supervisors of the record's site "
		       "and admins";
		return FS_E_FORBIDDEN;
	}
	uint8_t k[AKEY_MAX + 1], start[AKEY_MAX + 1];
	size_t pn = hist_prefix(k, sizeof(k), c, id);
	if (!pn) {
		*msg = "no such record";
		return FS_E_NOT_FOUND;
	}
	memcpy(start, k, pn);
	be64_put(start + pn, after == UINT64_MAX ? after : after + 1);
	doc d;
	doc_init(&d, out, json);
	lister l;
	memset(&l, 0, sizeof(l));
	l.p = p;
	l.a = a;
	l.d = &d;
	l.klen = pn + 8;
	l.by_site = p->role != ROLE_ADMIN;
	l.limit = limit;
	l.last = after;
	store_txn *t;
	int rc = store_begin(engine_store(e), 0, &t);
	if (rc) {
		*msg = "the store is unavailable";
		return FS_E_UNAVAILABLE;
	}
	list_open(&l, "c", c, 0, "id", id, 0, "entries");
	rc = store_scan(t, ST_AUDIT, sv_of(k, pn), sv_of(start, pn + 8), list_cb,
	                &l);
	store_abort(t);
	if (rc && rc != SCAN_STOP) {
		*msg = "the store is unavailable";
		return FS_E_UNAVAILABLE;
	}
	list_close(&l);
	/* a record of another site is answered as one that does not exist:
	 * the answer tells no one else that it does */
	if (after == 0 && (l.total == 0 || (l.by_site && l.n == 0))) {
		*msg = "no history for this record";
		return FS_E_NOT_FOUND;
	}
	if (out->err) {
		*msg = "out of memory";
		return FS_E_UNAVAILABLE;
	}
	return FS_OK;
}

int audit_reads(engine *e, const principal *p, uint64_t from, uint64_t to,
                uint64_t after, uint32_t limit, int json, arena *a,
                wbuf *out, const char **msg)
{
	if (p->role != ROLE_ADMIN) {
		*msg = "the read log is for admins";
		return FS_E_FORBIDDEN;
	}
	const uint64_t wall_max = UINT64_MAX >> HLC_BITS;
	uint64_t lo = (from > wall_max ? wall_max : from) << HLC_BITS;
	if (after != UINT64_MAX && after + 1 > lo)
		lo = after + 1;
	uint64_t hi = to >= wall_max ? UINT64_MAX
	                             : ((to + 1) << HLC_BITS) - 1;
	uint8_t k[9];
	k[0] = 'q';
	be64_put(k + 1, lo);
	doc d;
	doc_init(&d, out, json);
	lister l;
	memset(&l, 0, sizeof(l));
	l.p = p;
	l.a = a;
	l.d = &d;
	l.klen = 9;
	l.reads = 1;
	l.to_hlc = hi;
	l.limit = limit;
	l.last = after;
	store_txn *t;
	if (store_begin(engine_store(e), 0, &t)) {
		*msg = "the store is unavailable";
		return FS_E_UNAVAILABLE;
	}
	list_open(&l, "from", NULL, from, "to", NULL, to, "reads");
	int rc = after == UINT64_MAX
	                 ? 0
	                 : store_scan(t, ST_AUDIT, sv_of("q", 1), sv_of(k, 9),
	                              list_cb, &l);
	store_abort(t);
	if (rc && rc != SCAN_STOP) {
		*msg = "the store is unavailable";
		return FS_E_UNAVAILABLE;
	}
	list_close(&l);
	if (out->err) {
		*msg = "out of memory";
		return FS_E_UNAVAILABLE;
	}
	return FS_OK;
}

/* ---- purge ------------------------------------------------------------------- */

typedef struct {
	uint64_t cutoff;   /* entries before this ms go */
	arena *a;
	sv *keys;          /* collected keys to delete (copies) */
	unsigned n;
	int kind;          /* 't' or 'q' */
	uint64_t done;     /* deleted in this chunk */
} purger;

static int purge_collect(void *ctx, sv key, sv val)
{
	purger *pg = ctx;
	if (key.n != (pg->kind == 't' ? 17u : 9u))
		return SCAN_NEXT;
	uint64_t v = be64_get((const uint8_t *)key.p + 1);
	uint64_t ms = pg->kind == 't' ? v : v >> HLC_BITS;
	if (ms >= pg->cutoff)
		return SCAN_STOP;
	void *kc = arena_dup(pg->a, key.p, key.n);
	void *vc = pg->kind == 't' ? arena_dup(pg->a, val.p, val.n ? val.n : 1)
	                           : (void *)"";
	if (!kc || !vc)
		return FS_E_UNAVAILABLE;
	pg->keys[2 * pg->n] = sv_of(kc, key.n);
	pg->keys[2 * pg->n + 1] = sv_of(vc, pg->kind == 't' ? val.n : 0);
	return ++pg->n == PURGE_CHUNK ? SCAN_STOP : SCAN_NEXT;
}

static int purge_chunk(void *ctx, store_txn *t)
{
	purger *pg = ctx;
	static const char kinds[2] = {'t', 'q'};
	pg->done = 0;
	for (int i = 0; i < 2; i++) {
		arena_reset(pg->a);
		pg->kind = kinds[i];
		pg->n = 0;
		pg->keys = arena_calloc(pg->a, 2 * PURGE_CHUNK, sizeof(sv));
		if (!pg->keys)
			return FS_E_UNAVAILABLE;
		int rc = store_scan(t, ST_AUDIT, sv_of(&kinds[i], 1),
		                    sv_of(&kinds[i], 1), purge_collect, pg);
		if (rc && rc != SCAN_STOP)
			return rc;
		for (unsigned j = 0; j < pg->n; j++) {
			if ((rc = store_del(t, ST_AUDIT, pg->keys[2 * j])))
				return rc;
			if (pg->keys[2 * j + 1].n &&
			    (rc = store_del(t, ST_AUDIT, pg->keys[2 * j + 1])))
				return rc;
		}
		pg->done += pg->n;
	}
	return FS_OK;
}

int audit_purge(engine *e, uint64_t ttl_ms, uint64_t *purged)
{
	uint64_t total = 0, now = engine_now(e);
	int rc = FS_OK;
	if (purged)
		*purged = 0;
	if (ttl_ms == 0 || ttl_ms >= now)
		return FS_OK; /* 0: keep forever */
	purger pg;
	memset(&pg, 0, sizeof(pg));
	pg.cutoff = now - ttl_ms;
	pg.a = arena_new(0);
	if (!pg.a)
		return FS_E_UNAVAILABLE;
	for (int i = 0; i < PURGE_CHUNKS_MAX; i++) {
		rc = engine_write(e, purge_chunk, &pg);
		if (rc)
			break;
		total += pg.done;
		if (pg.done == 0)
			break;
	}
	arena_free(pg.a);
	if (purged)
		*purged = total;
	return rc;
}

/* ---- the purge thread ---------------------------------------------------------- */

struct audit_keeper {
	engine *e;
	uint64_t ttl_ms, interval_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	pthread_t th;
};

static void *keeper_main(void *arg)
{
	audit_keeper *k = arg;
	for (;;) {
		uint64_t n = 0;
		int rc = audit_purge(k->e, k->ttl_ms, &n);
		if (rc)
			fprintf(stderr, "fieldsyncd: audit purge: %s (will retry)\n",
			        fs_err_name(rc));
		else if (n)
			fprintf(stderr, "fieldsyncd: audit purge: %llu entries older "
			        "than %llu ms removed\n", (unsigned long long)n,
			        (unsigned long long)k->ttl_ms);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (k->interval_ms % 1000) * 1000000;
		ts.tv_sec += (time_t)(k->interval_ms / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_mutex_lock(&k->mu);
		while (!k->stop)
			if (pthread_cond_timedwait(&k->cv, &k->mu, &ts))
				break;
		int stop = k->stop;
		pthread_mutex_unlock(&k->mu);
		if (stop)
			return NULL;
	}
}

int audit_start(audit_keeper **out, engine *e, uint64_t ttl_ms,
                uint64_t interval_ms)
{
	*out = NULL;
	audit_keeper *k = calloc(1, sizeof(*k));
	if (!k)
		return FS_E_INTERNAL;
	k->e = e;
	k->ttl_ms = ttl_ms;
	k->interval_ms = interval_ms ? interval_ms : AUDIT_PURGE_DEFAULT_MS;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&k->th, NULL, keeper_main, k)) {
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		free(k);
		return FS_E_INTERNAL;
	}
	*out = k;
	return FS_OK;
}

void audit_stop(audit_keeper *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->th, NULL);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
}
