/*
 * worker.h — a service thread that runs passes: one at start, then one
 * whenever a commit changes a bucket it cares about, when its next timer
 * comes due, and at least every poll_ms.  The alert rules and the webhook
 * delivery are workers; the engine's writer only pokes them (a post-commit
 * listener), never waits for them.
 */
#ifndef FS_WORKER_H
#define FS_WORKER_H

#include <stdint.h>

#include "server/core/engine.h"

typedef struct worker worker;

typedef struct {
	const char *name;  /* for log lines */
	uint64_t poll_ms;  /* 0: 1000 */
	/* Passes start at least this far apart (commits in between are taken
	 * together), so a busy writer is not met by a pass per commit. */
	uint64_t gap_ms;
	/* One pass: FS_OK or an error (logged, then retried after poll_ms).
	 * *next: when a timer of its comes due (engine clock, 0: none); *again:
	 * run again at once (a limit was reached). */
	int (*pass)(void *ctx, worker *self, uint64_t *next, int *again);
	/* 1 when a commit that changed `bucket` should wake it. */
	int (*wakes)(const char *bucket);
	void *ctx;
} worker_cfg;

int worker_start(worker **out, engine *e, const worker_cfg *cfg);
/* Stop (finishing the pass it is in) and free; safe on NULL. */
void worker_stop(worker *w);
/* 1 once worker_stop() has begun: a long pass (given `self`) may end
 * early. */
int worker_stopping(worker *w);

#endif
