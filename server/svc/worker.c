/*
 * worker.c — see worker.h.
 */
#include "server/svc/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "protocol/errors.h"
#include "server/lib/waitms.h"

struct worker {
	engine *e;
	worker_cfg cfg;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poked;
};

/* After a commit (writer thread): note, never work. */
static void notify(void *ctx, char **buckets, unsigned n)
{
	worker *w = ctx;
	for (unsigned i = 0; i < n; i++)
		if (w->cfg.wakes(buckets[i])) {
			pthread_mutex_lock(&w->mu);
			w->poked = 1;
			pthread_cond_signal(&w->cv);
			pthread_mutex_unlock(&w->mu);
			return;
		}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *run(void *arg)
{
	worker *w = arg;
	for (;;) {
		uint64_t next = 0, began = mono_ms();
		int again = 0;
		int rc = w->cfg.pass(w->cfg.ctx, w, &next, &again);
		uint64_t wait = w->cfg.poll_ms, now = engine_now(w->e);
		if (next && next > now && next - now < wait)
			wait = next - now;
		if ((next && next <= now) || again)
			wait = 0;
		if (rc) {
			fprintf(stderr, "fieldsyncd: %s: %s (retried)\n", w->cfg.name,
			        fs_err_name(rc));
			wait = w->cfg.poll_ms;
		}
		pthread_mutex_lock(&w->mu);
		if (!w->stop && !w->poked && wait)
			cond_wait_ms(&w->cv, &w->mu, wait);
		uint64_t ran = mono_ms() - began;
		while (!w->stop && ran < w->cfg.gap_ms) {
			cond_wait_ms(&w->cv, &w->mu, w->cfg.gap_ms - ran);
			ran = mono_ms() - began;
		}
		w->poked = 0;
		int stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
	}
	return NULL;
}

int worker_start(worker **out, engine *e, const worker_cfg *cfg)
{
	*out = NULL;
	worker *w = calloc(1, sizeof(*w));
	if (!w)
		return FS_E_UNAVAILABLE;
	w->e = e;
	w->cfg = *cfg;
	if (!w->cfg.poll_ms)
		w->cfg.poll_ms = 1000;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	int rc = engine_add_notify(e, notify, w);
	if (rc) {
		worker_stop(w);
		return rc;
	}
	if (pthread_create(&w->th, NULL, run, w)) {
		worker_stop(w);
		return FS_E_INTERNAL;
	}
	w->started = 1;
	*out = w;
	return FS_OK;
}

int worker_stopping(worker *w)
{
	pthread_mutex_lock(&w->mu);
	int stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

void worker_stop(worker *w)
{
	if (!w)
		return;
	engine_remove_notify(w->e, notify, w);
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
