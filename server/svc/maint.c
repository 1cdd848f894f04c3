/*
 * maint.c — see maint.h.
 *
 * Index keys in ST_AUX (all times big-endian so a scan is in time order):
 *   "t/" be64_put(wall) c \0 id   a tombstone to check at wall + ttl
 *   "a/" be64_put(t) ackkey       an ack to drop at t + ttl
 *   "q/" be64_put(t) -> be64_put(seq) the store's seq at time t (one per pass),
 *                             so "gone entries older than ttl" is a seq
 */
#include "server/svc/maint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/record.h"
#include "server/store/keys.h"

#define CHUNK 512 /* entries per write transaction */



int maint_note_tomb(store_txn *t, const char *c, const char *id,
                    uint64_t wall_ms)
{
	uint8_t k[300];
	size_t cn = strlen(c), in = strlen(id);
	if (cn + in + 11 > sizeof(k))
		return FS_E_BAD_REQUEST;
	memcpy(k, "t/", 2);
	be64_put(k + 2, wall_ms);
	memcpy(k + 10, c, cn);
	k[10 + cn] = 0;
	memcpy(k + 11 + cn, id, in);
	uint8_t one = 1;
	return store_put(t, ST_AUX, sv_of(k, 11 + cn + in), sv_of(&one, 1));
}

int maint_note_ack(store_txn *t, sv key, uint64_t t_ms)
{
	uint8_t k[300];
	if (key.n + 10 > sizeof(k))
		return FS_E_BAD_REQUEST;
	memcpy(k, "a/", 2);
	be64_put(k + 2, t_ms);
	memcpy(k + 10, key.p, key.n);
	uint8_t one = 1;
	return store_put(t, ST_AUX, sv_of(k, key.n + 10), sv_of(&one, 1));
}

/* Collect up to CHUNK keys of a prefix older than a cutoff. */
typedef struct {
	uint64_t cutoff;
	uint8_t *keys[CHUNK];
	size_t lens[CHUNK];
	unsigned n;
	arena *a;
} due;

static int due_cb(void *ctx, sv key, sv val)
{
	due *d = ctx;
	if (key.n < 10 || be64_get((const uint8_t *)key.p + 2) >= d->cutoff ||
	    d->n == CHUNK)
		return SCAN_STOP;
	d->keys[d->n] = arena_dup(d->a, key.p, key.n);
	if (!d->keys[d->n])
		return SCAN_STOP;
	d->lens[d->n++] = key.n;
	return SCAN_NEXT;
}

typedef struct {
	engine *e;
	const char *prefix;
	uint64_t cutoff;
	unsigned done;
	int more;
} pass_ctx;

/* Purge one chunk of due tombstones or acks. */
static int purge_chunk(void *ctx, store_txn *t)
{
	pass_ctx *p = ctx;
	due d;
	memset(&d, 0, sizeof(d));
	d.cutoff = p->cutoff;
	d.a = arena_new(CHUNK * 64);
	if (!d.a)
		return FS_E_UNAVAILABLE;
	int rc = store_scan(t, ST_AUX, sv_of(p->prefix, 2), sv_of(p->prefix, 2),
	                    due_cb, &d);
	if (rc == SCAN_STOP)
		rc = FS_OK;
	p->more = d.n == CHUNK;
	for (unsigned i = 0; i < d.n && !rc; i++) {
		const uint8_t *k = d.keys[i];
		if (p->prefix[0] == 'a') {
			rc = store_del(t, ST_ACKS, sv_of(k + 10, d.lens[i] - 10));
		} else {
			/* c \0 id after the time: purge only if still deleted
			 * and its _deleted stamp is itself older than the cutoff */
			const char *c = (const char *)k + 10;
			size_t cn = strnlen(c, d.lens[i] - 10);
			char *id = arena_strndup(d.a, c + cn + 1, d.lens[i] - 11 - cn);
			char *cc = arena_strndup(d.a, c, cn);
			sv v;
			record r;
			rec_init(&r);
			if (id && cc && store_rec_get(t, cc, id, &v, NULL, NULL) == FS_OK) {
				uint8_t *copy = arena_dup(d.a, v.p, v.n ? v.n : 1);
				const rfield *del;
				if (copy && !rec_decode(d.a, copy, v.n, &r) &&
				    (del = rec_get(&r, "_deleted")) &&
				    del->val.t == WV_BOOL && del->val.b &&
				    HLC_WALL(del->st.hlc) < p->cutoff)
					rc = store_rec_purge(t, cc, id);
			}
		}
		if (!rc)
			rc = store_del(t, ST_AUX, sv_of(k, d.lens[i]));
		if (!rc)
			p->done++;
	}
	arena_free(d.a);
	return rc;
}

typedef struct {
	uint64_t now, cutoff, seq_at_cutoff, found_t;
	int found;
	unsigned buckets;
	arena *a;
	char **names;
	uint32_t n, cap;
} gone_ctx;

static int seqat_cb(void *ctx, sv key, sv val)
{
	gone_ctx *g = ctx;
	if (key.n != 10 || val.n != 8 || be64_get((const uint8_t *)key.p + 2) > g->cutoff)
		return SCAN_STOP;
	g->seq_at_cutoff = be64_get(val.p);
	g->found_t = be64_get((const uint8_t *)key.p + 2);
	g->found = 1;
	return SCAN_NEXT;
}

/* Checkpoints older than the one in use are never needed again. */
static int old_q_cb(void *ctx, sv key, sv val)
{
	gone_ctx *g = ctx;
	if (key.n != 10 || be64_get((const uint8_t *)key.p + 2) >= g->found_t ||
	    g->n == 4096)
		return SCAN_STOP;
	char *k = arena_dup(g->a, key.p, 10);
	if (!k)
		return SCAN_STOP;
	g->names = g->n ? g->names : arena_calloc(g->a, 4096, sizeof(char *));
	if (!g->names)
		return SCAN_STOP;
	g->names[g->n++] = k;
	return SCAN_NEXT;
}

static int bucket_cb(void *ctx, sv key, sv val)
{
	gone_ctx *g = ctx;
	if (arena_grow(g->a, (void **)&g->names, &g->cap, g->n, g->n + 1,
	               sizeof(char *), 64))
		return SCAN_STOP;
	sv name = key_bucket_name(key);
	char *b = arena_strndup(g->a, name.p, name.n);
	if (!b)
		return SCAN_STOP;
	g->names[g->n++] = b;
	return SCAN_NEXT;
}

/* Note the seq now, and purge gone entries older than the cutoff. */
static int gone_txn(void *ctx, store_txn *t)
{
	gone_ctx *g = ctx;
	uint64_t seq = 0;
	int rc = store_seq(t, &seq);
	uint8_t k[10], v[8];
	memcpy(k, "q/", 2);
	be64_put(k + 2, g->now);
	be64_put(v, seq);
	if (!rc)
		rc = store_put(t, ST_AUX, sv_of(k, 10), sv_of(v, 8));
	if (rc)
		return rc;
	rc = store_scan(t, ST_AUX, sv_of("q/", 2), sv_of("q/", 2), seqat_cb, g);
	if (rc && rc != SCAN_STOP)
		return rc;
	if (!g->found || !g->seq_at_cutoff)
		return FS_OK;
	rc = store_scan(t, ST_AUX, sv_of("q/", 2), sv_of("q/", 2), old_q_cb, g);
	if (rc && rc != SCAN_STOP)
		return rc;
	for (unsigned i = 0; i < g->n; i++)
		if ((rc = store_del(t, ST_AUX, sv_of(g->names[i], 10))))
			return rc;
	g->n = g->cap = 0;
	g->names = NULL;
	rc = store_scan(t, ST_AUX, sv_cstr(KEY_BUCKET_PREFIX),
	                sv_cstr(KEY_BUCKET_PREFIX), bucket_cb, g);
	if (rc && rc != SCAN_STOP)
		return rc;
	for (unsigned i = 0; i < g->n; i++) {
		/* every seq <= the checkpoint was written by its time */
		if ((rc = store_gone_purge(t, g->names[i], g->seq_at_cutoff + 1)))
			return rc;
		g->buckets++;
	}
	return FS_OK;
}

int maint_pass(engine *e, uint64_t *purged)
{
	const fs_limits *l = engine_limits(e);
	uint64_t now = engine_now(e);
	uint64_t cutoff = now > l->tombstone_ttl_ms ? now - l->tombstone_ttl_ms : 0;
	uint64_t total = 0;
	int rc = FS_OK;
	const char *prefixes[2] = {"t/", "a/"};
	for (int i = 0; i < 2 && !rc; i++) {
		pass_ctx p = {e, prefixes[i], cutoff, 0, 1};
		for (int rounds = 0; p.more && !rc && rounds < 100000; rounds++) {
			p.done = 0;
			rc = engine_write(e, purge_chunk, &p);
			total += p.done;
		}
	}
	if (!rc) {
		gone_ctx g;
		memset(&g, 0, sizeof(g));
		g.now = now;
		g.cutoff = cutoff;
		g.a = arena_new(0);
		rc = g.a ? engine_write(e, gone_txn, &g) : FS_E_UNAVAILABLE;
		total += g.buckets;
		arena_free(g.a);
	}
	if (purged)
		*purged = total;
	return rc;
}

struct maint {
	engine *e;
	uint64_t interval_ms;
	void (*more)(void *ctx);
	void *more_ctx;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static void *maint_main(void *arg)
{
	maint *m = arg;
	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		pthread_mutex_unlock(&m->mu);
		maint_pass(m->e, NULL);
		if (m->more)
			m->more(m->more_ctx);
		pthread_mutex_lock(&m->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(m->interval_ms / 1000);
		ts.tv_nsec += (long)(m->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!m->stop &&
		       pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int maint_start(maint **out, engine *e, uint64_t interval_ms)
{
	return maint_start_with(out, e, interval_ms, NULL, NULL);
}

int maint_start_with(maint **out, engine *e, uint64_t interval_ms,
                     void (*more)(void *ctx), void *ctx)
{
	*out = NULL;
	maint *m = calloc(1, sizeof(*m));
	if (!m)
		return FS_E_UNAVAILABLE;
	m->e = e;
	m->more = more;
	m->more_ctx = ctx;
	m->interval_ms = interval_ms ? interval_ms : 3600 * 1000;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if (pthread_create(&m->th, NULL, maint_main, m)) {
		pthread_mutex_destroy(&m->mu);
		pthread_cond_destroy(&m->cv);
		free(m);
		return FS_E_INTERNAL;
	}
	*out = m;
	return FS_OK;
}

void maint_stop(maint *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->th, NULL);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}
