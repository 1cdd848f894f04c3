/*
 * engine.h — the sync engine: applies pushed batches (merge, permissions,
 * scope, derived fields) through a single group-commit writer, and serves
 * pulls from the bucket index.  Owns the store's write side: every other
 * module that writes goes through engine_write().
 */
#ifndef FS_ENGINE_H
#define FS_ENGINE_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/limits.h"
#include "protocol/valid.h"
#include "protocol/wire.h"
#include "server/store/store.h"

enum role {
	ROLE_GUARD,
	ROLE_CLEANER,
	ROLE_TECHNICIAN,
	ROLE_SUPERVISOR,
	ROLE_ADMIN,
	ROLE_NONE = -1
};
/* "guard" ... "admin"; ROLE_NONE for anything else. */
int role_parse(const char *p, size_t n);
const char *role_name(int role);

/* Who a request acts for. */
typedef struct {
	char device[FS_ID_MAX + 1]; /* the authenticated device: stamps' origin */
	char staff[FS_ID_MAX + 1];
	char site[FS_ID_MAX + 1];   /* "" for admin */
	int role;
} principal;

typedef struct {
	fs_limits lim;
	/* Added to the wall clock (tests and scenario runs); 0 normally. */
	int64_t clock_offset_ms;
} engine_cfg;

typedef struct engine engine;

/* Start the engine and its writer thread over an open store. */
int engine_open(engine **out, store *s, const engine_cfg *cfg);
/* Stop the writer (finishing queued work) and free; safe on NULL. */
void engine_close(engine *e);

store *engine_store(engine *e);
const fs_limits *engine_limits(const engine *e);
/* The server clock in ms (wall clock plus the configured offset). */
uint64_t engine_now(const engine *e);
/* A fresh server HLC stamp, and the clock's current value. */
uint64_t engine_hlc_now(engine *e);
/* The server's own origin for derived fields: "server". */
#define ENGINE_ORIGIN "server"

/* POST /v1/sync.  `req` is the decoded body, `t_ms` the time its headers
 * were read.  On FS_OK `out` holds the msgpack response; otherwise the
 * return is a whole-request error code and *msg a message (static or in
 * the arena). */
int engine_sync(engine *e, const principal *p, const wval *req, uint64_t t_ms,
                arena *a, wbuf *out, const char **msg);

/* Run fn inside a write transaction, serialised with the writer, and
 * commit durably.  fn returns FS_OK to commit, anything else to abort
 * (that code is returned).  STORE_FULL grows the map and retries once. */
int engine_write(engine *e, int (*fn)(void *ctx, store_txn *t), void *ctx);

/* The buckets `p` may pull now, sorted bytewise, in the arena. */
int engine_scope(engine *e, store_txn *t, const principal *p, uint64_t now,
                 arena *a, char ***buckets, unsigned *n);

/* Called after each durable commit with the buckets that changed. */
typedef void (*engine_notify_fn)(void *ctx, char **buckets, unsigned n);
void engine_set_notify(engine *e, engine_notify_fn fn, void *ctx);
/* More listeners beside the one engine_set_notify() sets (the task
 * generator), at most ENGINE_LISTENERS_MAX: FS_OK or FS_E_TOO_LARGE.
 * Listeners run in the writer thread after each commit: they must be quick
 * and must never call engine_sync() or engine_write() (deadlock). */
#define ENGINE_LISTENERS_MAX 4
int engine_add_notify(engine *e, engine_notify_fn fn, void *ctx);
void engine_remove_notify(engine *e, engine_notify_fn fn, void *ctx);

/* Counters for /metrics. */
typedef struct {
	uint64_t ops_applied;
	uint64_t ops_rejected[32]; /* by error code */
	uint64_t batches;
	uint64_t batches_dup;
	uint64_t batches_unavailable;
	uint64_t commits;
	uint64_t groups;
} engine_stats;
void engine_get_stats(engine *e, engine_stats *out);

#endif
