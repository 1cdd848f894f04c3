/*
 * writer.c — the engine's writer: one thread that takes every waiting
 * request's push and applies them in one durable write transaction
 * (group commit), growing the map and retrying when it is full, and a
 * batch at a time when the group fails; the write lock that
 * engine_write() shares; the clock/HLC; post-commit listeners; the write
 * hook table; counters.  What a group does inside its transaction is
 * batch.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/errors.h"
#include "server/core/engine_int.h"

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

uint64_t engine_hlc_recv(engine *e, uint64_t remote)
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

/* The store's clock: the highest stamp any node committed on a shared
 * store (store_clock; 0 on LMDB).  Taken as it is, without the max-skew
 * guard a device's stamp gets: the other node guarded its stamps when it
 * made them, and a node that ignored a committed stamp would stamp below
 * it, so its later write would lose to an earlier one. */
int engine_clock_observe(engine *e, store_txn *t)
{
	uint64_t h = 0;
	int rc = store_clock(t, &h);
	if (rc || !h)
		return rc;
	uint64_t now = engine_now(e);
	pthread_mutex_lock(&e->clock_mu);
	if (h > e->hlc.last)
		hlc_recv(&e->hlc, now, h);
	pthread_mutex_unlock(&e->clock_mu);
	return FS_OK;
}

/* Before a commit: every stamp this node handed out or took so far goes
 * into the store's clock, for the other nodes' writers to observe. */
int engine_clock_note(engine *e, store_txn *t)
{
	pthread_mutex_lock(&e->clock_mu);
	uint64_t h = e->hlc.last;
	pthread_mutex_unlock(&e->clock_mu);
	return store_clock_note(t, h);
}

store *engine_store(engine *e) { return e->st; }
const fs_limits *engine_limits(const engine *e) { return &e->cfg.lim; }
const uint8_t *engine_tag_key(const engine *e) { return e->cfg.tag_key; }

void engine_set_notify(engine *e, engine_notify_fn fn, void *ctx)
{
	pthread_mutex_lock(&e->notify_mu);
	e->notify = fn;
	e->notify_ctx = ctx;
	pthread_mutex_unlock(&e->notify_mu);
}

/* Every listener, under the lock: the writer and the store's watch thread
 * both call here, so a listener never runs twice at once, nor after its
 * removal. */
static void notify_all(engine *e, char **buckets, unsigned n)
{
	pthread_mutex_lock(&e->notify_mu);
	if (e->notify)
		e->notify(e->notify_ctx, buckets, n);
	for (int i = 0; i < ENGINE_LISTENERS_MAX; i++)
		if (e->more_fn[i])
			e->more_fn[i](e->more_ctx[i], buckets, n);
	pthread_mutex_unlock(&e->notify_mu);
}

void engine_remote_changes(engine *e, char **buckets, unsigned n)
{
	if (n)
		notify_all(e, buckets, n);
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

/* ---- hooks and counters ---------------------------------------------------- */

int engine_add_hook(engine *e, const write_hook *h)
{
	if (e->nhooks >= ENGINE_HOOKS_MAX)
		return FS_E_TOO_LARGE;
	e->hooks[e->nhooks++] = *h;
	return FS_OK;
}

void engine_count(engine *e, uint64_t *counter, uint64_t n)
{
	pthread_mutex_lock(&e->stats_mu);
	*counter += n;
	pthread_mutex_unlock(&e->stats_mu);
}

void engine_count_op(engine *e, int code)
{
	pthread_mutex_lock(&e->stats_mu);
	if (code == FS_OK)
		e->stats.ops_applied++;
	else if (code > 0 && code < 32)
		e->stats.ops_rejected[code]++;
	pthread_mutex_unlock(&e->stats_mu);
}

/* ---- group commit ------------------------------------------------------------ */

static void run_group(engine *e, job *list)
{
	arena *ga = arena_new(0);
	namelist changed = {ga, NULL, 0, 0};
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
					j->unavail_ops += batch_ops(j, bi);
					engine_count(e, &e->stats.batches_unavailable, 1);
				}
			}
		}
	}
	pthread_mutex_unlock(&e->write_mu);
	engine_count(e, &e->stats.groups, 1);
	if (changed.n)
		notify_all(e, changed.v, changed.n);
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
int engine_enqueue(engine *e, job *j)
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

void engine_wait_done(engine *e, job *j)
{
	pthread_mutex_lock(&e->q_mu);
	while (!j->done)
		pthread_cond_wait(&e->done_cv, &e->q_mu);
	pthread_mutex_unlock(&e->q_mu);
}

int engine_submit(engine *e, job *j)
{
	int rc = engine_enqueue(e, j);
	if (!rc)
		engine_wait_done(e, j);
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
		rc = engine_clock_observe(e, t);
		if (!rc)
			rc = fn(ctx, t);
		if (!rc)
			rc = engine_clock_note(e, t);
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
