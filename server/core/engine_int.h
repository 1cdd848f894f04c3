/*
 * engine_int.h — what the files of server/core/ share: a sync request's
 * job as the writer sees it, the engine itself, and the state of one
 * request's turn in a group's transaction.  Not for use outside core/.
 */
#ifndef FS_ENGINE_INT_H
#define FS_ENGINE_INT_H

#include <pthread.h>

#include "protocol/hlc.h"
#include "schema/schema.h"
#include "server/core/engine.h"
#include "server/model/shift.h"

#define HOUR_MS (3600ULL * 1000)
#define GROUP_OPS_MAX 20000

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
	int untouched_only;    /* engine_push_req's */
	const char *boot;
	uint64_t mono, wall, pending;
	uint64_t unavail_ops;  /* ops of batches acked UNAVAILABLE (kept queued) */
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

	write_hook hooks[ENGINE_HOOKS_MAX];
	unsigned nhooks;

	pthread_mutex_t stats_mu;
	engine_stats stats;
};

/* A list of bucket names in an arena (the buckets a group changed). */
typedef struct {
	arena *a;
	char **v;
	uint32_t n, cap;
} namelist;

/* ---- one request's turn in a group's transaction (writer thread) ------- */

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
	namelist *changed; /* buckets changed in this group */
	wbuf rec;         /* scratch for encoding records */
	const uint8_t *batch; /* id (16 bytes) of the batch being applied */
	/* shifts loaded by this job (a batch's ops mostly name one or two):
	 * emptied whenever the job writes a shift record */
	shift_info sc[8];
	int sc_rc[8];
	unsigned nsc, sc_next;
} actx;

typedef struct {
	int code;
	const char *msg;
	const record *cur; /* for `cur`, NULL when none or not visible */
} opresult;

/* writer.c */
uint64_t engine_hlc_recv(engine *e, uint64_t remote);
/* In a transaction (a write one right after store_begin): the clock takes
 * the store's shared clock (other nodes' committed stamps). */
int engine_clock_observe(engine *e, store_txn *t);
/* In a write transaction, before its commit: the store's shared clock
 * takes this node's. */
int engine_clock_note(engine *e, store_txn *t);
int engine_enqueue(engine *e, job *j);
void engine_wait_done(engine *e, job *j);
int engine_submit(engine *e, job *j);
void engine_count_op(engine *e, int code);
void engine_count(engine *e, uint64_t *counter, uint64_t n);

/* opcheck.c: everything about one op that needs no store. */
opcheck check_op(engine *e, arena *a, const wval *op);

/* batch.c: one transaction over a list of jobs, or over one batch of one
 * job (only != NULL).  FS_OK when committed. */
int run_txn(engine *e, job *list, job *only, uint32_t only_bi,
            namelist *changed);
/* The number of ops in a job's batch bi. */
uint64_t batch_ops(const job *j, uint32_t bi);
/* The ack of a batch the store could not take. */
void unavailable_ack(job *j, uint32_t bi);

/* apply.c */
opresult apply_op(actx *x, const wval *op);
/* `cur` for an op refused before it reached the store. */
const record *cur_of(actx *x, const wval *op);
opresult rej(int code, const char *msg, const record *cur);
int note_changed(actx *x, const char *bucket);

/* lattice.c: an order's status and step times after the merge; may set
 * *changed (a kept value restamped so its losing writer takes it). */
int order_lattice(actx *x, const record *old, record *nw, const wval *f,
                  const stamp *st, int *changed, const char **msg);

/* derive.c */
int fill_checkin(actx *x, record *r);
int fill_order(actx *x, record *r);
/* Set a server-owned field of r (the value is copied into the arena). */
int set_server(actx *x, record *r, const char *name, wval v,
               const stamp *st);
/* The step times of a task or order: a time the write reached without
 * one, and the evidence time and trust of each time it set (f: the op's
 * own fields, whose boot/mono date it). */
int fill_steps(actx *x, const scollection *col, const record *old,
               record *nw, const wval *f);
int anchor_get(store_txn *t, const char *device, const char *boot,
               int64_t *anchor);
int anchor_put(store_txn *t, const char *device, const char *boot,
               int64_t anchor);

/* boots.c: a request's boot against the device's earlier boots (before
 * its batches); 1 when a checkin of `boot` at at_est lies before the
 * boot's fence. */
int boot_note(actx *x);
int boot_fenced(store_txn *t, const char *device, const char *boot,
                int64_t at_est);

/* evidence.c: a new checkin's tag, place, verdict and reasons. */
int fill_evidence(actx *x, record *r, const char *trust, int boot_overlap,
                  uint64_t at_est, const stamp *st);

/* pull.c: one bucket of the response: {cursor, more, reset, recs, gone};
 * enc 2: `cols` (one v2 page, protocol/colwire.h) in place of `recs`. */
int pull_bucket(store_txn *t, arena *a, const char *bucket, uint64_t cursor,
                uint32_t *budget, int enc, wbuf *out);

/* request.c */
void free_acks(job *j);

#endif
