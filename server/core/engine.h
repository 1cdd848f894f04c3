/*
 * engine.h — the core: the sync engine applies pushed batches (merge,
 * permissions, scope, derived fields) through a single group-commit
 * writer, and serves pulls from the bucket index.  It owns the store's
 * write side: every other module that writes goes through engine_write()
 * or engine_push().  What a write does besides storing the record (audit,
 * blob references, indexes) is a table of write hooks the program
 * registers (engine_add_hook); the core includes no service header.
 *
 * Files (server/core/):
 *   writer.c    the engine's life cycle, the write lock, the queue and
 *               group commit (grow-and-retry, batch-at-a-time fallback),
 *               the clock/HLC, listeners, hooks and counters
 *   request.c   a sync request: shape checks, the answer (acks, pull,
 *               scope, drop); engine_push
 *   opcheck.c   every check of one op that needs no store
 *   batch.c     one group's transaction: dedup by batch id, acks, the
 *               device's anchor and report
 *   apply.c     one op: load, merge (last writer wins), permissions,
 *               write, hooks
 *   derive.c    fields the server fills (checkin receive time, skew,
 *               trust; order deadlines) and clock anchors
 *   boots.c     one boot at a time: a boot claiming uptime that overlaps
 *               another boot of its device is fenced
 *   evidence.c  a checkin's secure tag, place, verdict and reasons
 *   pull.c      one bucket of a pull, from the bucket index
 *   engine_int.h  what these files share
 */
#ifndef FS_ENGINE_H
#define FS_ENGINE_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/limits.h"
#include "protocol/valid.h"
#include "protocol/wire.h"
#include "protocol/record.h"
#include "server/model/device.h"
#include "server/model/principal.h"
#include "server/store/store.h"

typedef struct {
	fs_limits lim;
	/* Added to the wall clock (tests and scenario runs); 0 normally. */
	int64_t clock_offset_ms;
	/* The server's tag key (model/tag.h), 32 bytes; NULL: none, and no
	 * secure tag can be registered or verified. */
	const uint8_t *tag_key;
} engine_cfg;

typedef struct engine engine;

/* Start the engine and its writer thread over an open store. */
int engine_open(engine **out, store *s, const engine_cfg *cfg);
/* Stop the writer (finishing queued work) and free; safe on NULL. */
void engine_close(engine *e);

store *engine_store(engine *e);
const fs_limits *engine_limits(const engine *e);
/* engine_cfg's tag_key (NULL: none). */
const uint8_t *engine_tag_key(const engine *e);
/* The server clock in ms (wall clock plus the configured offset). */
uint64_t engine_now(const engine *e);
/* A fresh server HLC stamp, and the clock's current value. */
uint64_t engine_hlc_now(engine *e);
/* The server's own origin for derived fields: "server".  Ops pushed as
 * the principal of device "server" (genpush.h) are stamped in the write
 * transaction, after the store's clock was observed, and their fields
 * equal to the stored ones are not written: the same op pushed by two
 * nodes writes once. */
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

/* The buckets `p` may pull now, sorted bytewise, in the arena
 * (server/model/policy.h's policy_scope). */
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
/* Buckets another node committed to (store_watch's callback, on the
 * store's thread): handed to the same listeners as the engine's own
 * commits.  Listeners are called under one lock, never two at once. */
void engine_remote_changes(engine *e, char **buckets, unsigned n);

/* ---- write hooks ----------------------------------------------------------
 * Called by the writer inside its transaction, in the order registered:
 * a hook that returns anything but FS_OK aborts the whole group exactly as
 * a store error does (the group is retried a batch at a time; what still
 * fails is answered UNAVAILABLE).  Register them all before the first
 * write (engine_add_hook is not synchronised with the writer). */
typedef struct {
	store_txn *t;
	arena *a;               /* the request's arena */
	const principal *w;     /* whose rights the op used (its batch's `by`) */
	const principal *session; /* the pushing session (its device) */
	const uint8_t *batch;   /* the batch id, 16 bytes */
	uint64_t now;           /* the server clock for this request's turn */
	uint64_t t_recv;        /* when the request's headers were read */
	const char *c, *id, *bucket;
	const char *site;       /* the bucket's site (sitecheck_bucket_site):
	                         * NULL when it has none */
	const char *old_bucket; /* NULL for a new record */
	uint64_t seq;           /* the record's new index seq */
	const record *old;      /* NULL for a new record */
	const record *nw;       /* as stored */
	/* 1 when the pushing session may pull `bucket` */
	int (*sees)(void *ctx, const char *bucket);
	void *sees_ctx;
} write_event;

typedef struct {
	const char *name;
	/* after a record is stored; NULL: none */
	int (*on_record)(void *ctx, const write_event *ev);
	/* after a batch's ack is stored under `key` (ST_ACKS, keys.h) at
	 * request time t_ms; NULL: none */
	int (*on_ack)(void *ctx, store_txn *t, sv key, uint64_t t_ms);
	void *ctx;
	/* after a device's sync report is stored (once per sync request,
	 * also for a pull-only sync): the report before and after, and how
	 * many ops this request pushed and had rejected; NULL: none */
	int (*on_sync)(void *ctx, store_txn *t, const char *device,
	               const device_info *before, const device_info *after,
	               uint32_t pushed, uint32_t rejected);
	/* before a group's ops, the devices whose syncs it holds: name
	 * to the store (store_prefetch_keys, store_prefetch_prefixes)
	 * what on_sync will read, a hint only; NULL: none */
	int (*prefetch)(void *ctx, store_txn *t, const char *const *devices,
	                unsigned n);
} write_hook;

#define ENGINE_HOOKS_MAX 16
/* FS_OK, or FS_E_TOO_LARGE past ENGINE_HOOKS_MAX. */
int engine_add_hook(engine *e, const write_hook *h);

/* ---- in-process writes ---------------------------------------------------- */

/* What engine_push applied, per batch. */
typedef struct {
	uint32_t applied, rejected;
	int dup;
	const char *err;       /* the batch's error ("UNAVAILABLE", ...) or NULL */
	const char *first_msg; /* the first rejection's message, or NULL */
} engine_ack;

typedef struct {
	const principal *p;    /* who pushes (device, staff, role, site) */
	uint64_t t_ms;         /* the request time; 0: now */
	const uint8_t *push;   /* an array of batch maps (protocol/opbuild.h) */
	size_t push_n;
	const uint8_t *dev;    /* a sync's `dev` map, or NULL */
	size_t dev_n;
	/* The server's generated records (tasks, shifts: genpush.h): an op
	 * on a record someone other than the server wrote to is skipped,
	 * decided in the write transaction (another node's plan, or a
	 * person's edit since the plan was read, wins). */
	int untouched_only;
} engine_push_req;

/* Apply a push as r->p, through the same checks and writer as POST
 * /v1/sync but without a pull: on FS_OK *acks[0..*n) (in the arena) say
 * what each batch applied.  Otherwise a whole-request error and *msg.
 * Never call it from the writer thread (a listener or a hook). */
int engine_push(engine *e, const engine_push_req *r, arena *a,
                engine_ack **acks, uint32_t *n, const char **msg);

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
