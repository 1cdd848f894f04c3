/*
 * store_pg.c — store.h over PostgreSQL (libpq), the only file that
 * includes libpq-fe.h.  Any number of processes (nodes) share one database.
 *
 * Schema: server/store/pg/NNN_*.sql, applied in order by store_open() with
 * opts.create (fieldsyncd init); fs_schema holds the version reached.
 * Keys and names are bytea (memcmp order, as LMDB), passed and returned
 * in binary; libpq ends every binary value with a NUL byte, so the c, id
 * and bucket handed back point straight into the PGresult.
 *
 * Transactions (one connection each, from the store's pool):
 *   write  BEGIN (READ COMMITTED), then SELECT ... FROM fs_counter FOR
 *          UPDATE: the row lock serialises the writers of every node, so
 *          seq order is commit order and each statement sees every earlier
 *          commit.  The connection is in pipeline mode: writes are sent
 *          without waiting, rows DIRTY_MAX at a time, as one statement a
 *          table and kind (dirty_flush); a read first collects the
 *          results before it; COMMIT collects the rest, so a failed write
 *          fails the commit.
 *          Records and table rows read or written are kept in a
 *          per-transaction cache (safe: the counter lock excludes every
 *          other writer for the transaction's life); bucket heads and
 *          floors and the counter are raised in memory and written just
 *          before COMMIT, with a NOTIFY of the buckets that got entries.
 *   read   BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY: one snapshot,
 *          never waits for a writer.
 * Values handed out stay valid until the transaction ends: every PGresult
 * they point into is kept on the transaction's list, scan pages too (so a
 * long scan holds its rows until the end of its transaction).
 *
 * Failures: PostgreSQL unreachable or a statement failing makes begin and
 * every later call of the transaction return FS_E_UNAVAILABLE; a broken
 * connection is dropped, a new one made on the next begin.
 */
#include "server/store/store_backend.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "server/lib/crypto.h"
#include "protocol/be64.h"

#define KEY_MAX 511    /* as store_lmdb.c, so both accept the same keys */
#define POOL_MAX 64    /* connections a store opens at most */
#define PAGE 512       /* rows a scan fetches a query */
#define PIPE_MAX 256   /* results left unread before collecting them */
#define NOTIFY_MAX 7900 /* a NOTIFY payload stays under 8000 bytes */
#define DIRTY_MAX 256   /* rows a write txn holds back before sending them */
#define PREFIX_ROWS 64  /* entries a prefix may have to be answered from the cache */
#define CHANNEL "fieldsync"

/* The migrations, embedded by the Makefile from server/store/pg/ into
 * build/gen/store_pg_sql.c: version i + 1 is store_pg_sql[i]. */
extern const char *const store_pg_sql[];
extern const unsigned store_pg_nsql;

typedef struct pg_store pg_store;
typedef struct pg_txn pg_txn;

static const struct store_ops pg_ops;

/* ---- prepared statements -------------------------------------------------- */

enum {
	Q_COUNTER_LOCK, Q_COUNTER_GET, Q_COUNTER_SET,
	Q_REC_GET, Q_REC_PREFETCH, Q_GONE_PURGE,
	Q_BINFO_GET, Q_BINFO_RAISE,
	Q_BSCAN, Q_RSCAN_ALL, Q_RSCAN_C,
	Q_KV_GET, Q_KV_PREFETCH, Q_KV_PREFIXES, Q_KV_SCAN, Q_KV_SCAN_TO,
	Q_NOTIFY,
	Q_KV_PUT, Q_KV_DEL, Q_REC_PUT, Q_REC_DEL, Q_GONE_SET,
	Q_GONE_DEL,
	Q_RAW_REC, Q_RAW_GONE, Q_RAW_BINFO,
	Q_GSCAN, Q_BISCAN,
	Q__COUNT
};

static const struct {
	const char *name, *sql;
} stmts[Q__COUNT] = {
	[Q_COUNTER_LOCK] = {"counter_lock",
		"SELECT seq, hlc FROM fs_counter WHERE one FOR UPDATE"},
	[Q_COUNTER_GET] = {"counter_get",
		"SELECT seq, hlc FROM fs_counter WHERE one"},
	[Q_COUNTER_SET] = {"counter_set",
		"UPDATE fs_counter SET seq = $1, hlc = $2, commits = commits + 1 "
		"WHERE one"},
	[Q_REC_GET] = {"rec_get",
		"SELECT bucket, seq, val FROM fs_records WHERE c = $1 AND id = $2"},
	/* $1, $2: bytea arrays, one (c, id) pair per element.
	 * The prefetches are LATERAL subqueries with a LIMIT (which keeps
	 * the planner from flattening them into a join): one index probe a
	 * key, whatever the table's statistics say.  A plain join was
	 * planned as a hash join over a sequential scan of the whole table,
	 * with statistics taken while it was small (in a 100,000-record
	 * ingest the prefetches then read every row of fs_kv's tb 10 each
	 * time, 1.6 s in all). */
	[Q_REC_PREFETCH] = {"rec_prefetch",
		"SELECT r.c, r.id, r.bucket, r.seq, r.val "
		"FROM unnest($1::bytea[], $2::bytea[]) AS k (c, id) "
		"CROSS JOIN LATERAL (SELECT c, id, bucket, seq, val FROM fs_records "
		"WHERE c = k.c AND id = k.id LIMIT 1) r"},
	[Q_GONE_PURGE] = {"gone_purge",
		"WITH d AS (DELETE FROM fs_gone WHERE bucket = $1 AND seq < $2 "
		"RETURNING seq) SELECT coalesce(max(seq), 0)::bigint FROM d"},
	[Q_BINFO_GET] = {"binfo_get",
		"SELECT head, floor FROM fs_buckets WHERE bucket = $1"},
	[Q_BINFO_RAISE] = {"binfo_raise",
		"INSERT INTO fs_buckets (bucket, head, floor) VALUES ($1, $2, $3) "
		"ON CONFLICT (bucket) DO UPDATE SET "
		"head = greatest(fs_buckets.head, EXCLUDED.head), "
		"floor = greatest(fs_buckets.floor, EXCLUDED.floor)"},
	/* a bucket's entries after $2: records and gone entries merged */
	[Q_BSCAN] = {"bscan",
		"(SELECT seq, false AS gone, c, id, val FROM fs_records "
		" WHERE bucket = $1 AND seq > $2 ORDER BY seq LIMIT $3) "
		"UNION ALL "
		"(SELECT seq, true, c, id, ''::bytea FROM fs_gone "
		" WHERE bucket = $1 AND seq > $2 ORDER BY seq LIMIT $3) "
		"ORDER BY 1 LIMIT $3"},
	[Q_RSCAN_ALL] = {"rscan_all",
		"SELECT c, id, bucket, seq, val FROM fs_records "
		"WHERE (c, id) > ($1, $2) ORDER BY c, id LIMIT $3"},
	[Q_RSCAN_C] = {"rscan_c",
		"SELECT c, id, bucket, seq, val FROM fs_records "
		"WHERE c = $1 AND id > $2 ORDER BY id LIMIT $3"},
	[Q_KV_GET] = {"kv_get", "SELECT v FROM fs_kv WHERE tb = $1 AND k = $2"},
	/* $2: a bytea array of keys */
	[Q_KV_PREFETCH] = {"kv_prefetch",
		"SELECT f.k, f.v FROM unnest($2::bytea[]) AS p (k) "
		"CROSS JOIN LATERAL (SELECT k, v FROM fs_kv "
		"WHERE tb = $1 AND k = p.k LIMIT 1) f"},
	/* $2, $3: bytea arrays, each prefix and the first key
	 * past it; up to $4 rows a prefix, with its place in the arrays */
	[Q_KV_PREFIXES] = {"kv_prefixes",
		"SELECT p.i, f.k, f.v FROM unnest($2::bytea[], $3::bytea[]) "
		"WITH ORDINALITY AS p (lo, hi, i) CROSS JOIN LATERAL "
		"(SELECT k, v FROM fs_kv WHERE tb = $1 AND k >= p.lo AND k < p.hi "
		"ORDER BY k LIMIT $4) f"},
	/* $3: 1 for k >= $2 (the first page), 0 for k > $2.  The bare
	 * k >= $2 is what bounds the index scan from below: with only the
	 * OR, the planner starts at the table's first key and filters. */
	[Q_KV_SCAN] = {"kv_scan",
		"SELECT k, v FROM fs_kv WHERE tb = $1 AND k >= $2 "
		"AND (k > $2 OR $3) ORDER BY k LIMIT $4"},
	[Q_KV_SCAN_TO] = {"kv_scan_to",
		"SELECT k, v FROM fs_kv WHERE tb = $1 AND k >= $2 "
		"AND (k > $2 OR $3) AND k < $5 ORDER BY k LIMIT $4"},
	[Q_NOTIFY] = {"notify", "SELECT pg_notify('" CHANNEL "', $1)"},
	/* A write transaction's rows, many a statement (dirty_flush): each
	 * parameter an array (binary), one element a row, a key at most once
	 * in a statement (ON CONFLICT may not touch a row twice). */
	[Q_KV_PUT] = {"kv_put",
		"INSERT INTO fs_kv (tb, k, v) "
		"SELECT * FROM unnest($1::int2[], $2::bytea[], $3::bytea[]) "
		"ON CONFLICT (tb, k) DO UPDATE SET v = EXCLUDED.v"},
	[Q_KV_DEL] = {"kv_del",
		"DELETE FROM fs_kv f USING unnest($1::int2[], $2::bytea[]) "
		"AS d (tb, k) WHERE f.tb = d.tb AND f.k = d.k"},
	[Q_REC_PUT] = {"rec_put",
		"INSERT INTO fs_records (c, id, bucket, seq, val) "
		"SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], "
		"$4::int8[], $5::bytea[]) "
		"ON CONFLICT (c, id) DO UPDATE SET bucket = EXCLUDED.bucket, "
		"seq = EXCLUDED.seq, val = EXCLUDED.val"},
	[Q_REC_DEL] = {"rec_del",
		"DELETE FROM fs_records r USING unnest($1::bytea[], $2::bytea[]) "
		"AS d (c, id) WHERE r.c = d.c AND r.id = d.id"},
	[Q_GONE_SET] = {"gone_set",
		"INSERT INTO fs_gone (bucket, c, id, seq) "
		"SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], "
		"$4::int8[]) "
		"ON CONFLICT (bucket, c, id) DO UPDATE SET seq = EXCLUDED.seq"},
	[Q_GONE_DEL] = {"gone_del",
		"DELETE FROM fs_gone g USING unnest($1::bytea[], $2::bytea[], "
		"$3::bytea[]) AS d (bucket, c, id) "
		"WHERE g.bucket = d.bucket AND g.c = d.c AND g.id = d.id"},
	[Q_RAW_REC] = {"raw_rec",
		"INSERT INTO fs_records (c, id, bucket, seq, val) "
		"VALUES ($1, $2, $3, $4, $5)"},
	[Q_RAW_GONE] = {"raw_gone",
		"INSERT INTO fs_gone (bucket, c, id, seq) VALUES ($1, $2, $3, $4)"},
	[Q_RAW_BINFO] = {"raw_binfo",
		"INSERT INTO fs_buckets (bucket, head, floor) VALUES ($1, $2, $3) "
		"ON CONFLICT (bucket) DO UPDATE SET head = EXCLUDED.head, "
		"floor = EXCLUDED.floor"},
	[Q_GSCAN] = {"gscan",
		"SELECT bucket, c, id, seq FROM fs_gone WHERE (bucket, c, id) > "
		"($1, $2, $3) ORDER BY bucket, c, id LIMIT $4"},
	[Q_BISCAN] = {"biscan",
		"SELECT bucket, head, floor FROM fs_buckets WHERE bucket > $1 "
		"ORDER BY bucket LIMIT $2"},
};

/* ---- the store ------------------------------------------------------------ */

struct store_idbuf {
	struct store_idbuf *next;
	char hex[33];
};

struct pg_store {
	struct store base; /* ops first: store.c dispatches on it */
	char *url;
	store_opts opts;
	char node[33]; /* this process's id in NOTIFY payloads */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	PGconn *idle[POOL_MAX];
	unsigned nidle, nopen;
	int down;            /* the last connect failed: PostgreSQL unreachable */
	int probing;         /* while down, one connect in flight; others fail fast */
	_Atomic(struct store_idbuf *) id;
	struct store_idbuf *ids;
	_Atomic uint64_t commits;
	/* store_watch */
	pthread_t watcher;
	int watching;
	atomic_int stop;
	void (*watch_fn)(void *ctx, char **buckets, unsigned n);
	void *watch_ctx;
};

/* ---- the per-transaction cache --------------------------------------------
 * One hash of entries, each a record ('r', key c\0id), a table row ('t',
 * key tb byte + key), a bucket ('b', key the name), a removal entry
 * ('g', key bucket\0c\0id\0, only ever written) or a table prefix ('p',
 * key as 't'; known: every row under it is in the cache, so a scan of
 * it and a read of a key under it need no query).
 *
 * A write transaction's rows are not sent as they are written: an entry
 * written goes on the dirty list with its newest state, and dirty_flush()
 * sends each table's puts and deletes as one statement apiece.  It runs
 * before anything that reads a table from the database rather than from
 * the cache (a scan), when DIRTY_MAX rows wait, and at commit.  A point
 * read needs no flush: a row written is in the cache, which answers it. */

typedef struct cent {
	struct cent *next;
	uint32_t h;
	char kind;
	int present;        /* r, t: the row exists */
	size_t kn;
	unsigned char *k;
	/* r: the record; t: v is the row's value */
	const char *bucket;
	uint64_t seq;
	sv v;
	/* b: head/floor as known (known: read from the database), the raises
	 * to write at commit, and whether entries were added (NOTIFY) */
	int known, touched;
	uint64_t head, floor, rhead, rfloor;
	/* r, t, g: written and not yet sent (on the txn's dirty list);
	 * p: dnext chains the txn's known prefixes */
	int dirty;
	struct cent *dnext;
} cent;

struct memblk {
	struct memblk *next;
	size_t used, cap;
	unsigned char b[];
};

struct pg_txn {
	struct store_txn base;
	pg_store *s;
	PGconn *c;
	int write;
	int dead;          /* a failure: every call returns it */
	int pipe;          /* pipeline mode (write transactions) */
	unsigned pending;  /* pipelined statements whose results are unread */
	PGresult **keep;   /* results values point into, cleared at the end */
	size_t nkeep, capkeep;
	struct memblk *mem;
	cent **tab;
	size_t ntab, nent;
	cent *dirty;       /* entries written and not sent, newest first */
	size_t ndirty;
	cent *prefixes;    /* the known prefixes ('p'), by dnext */
	uint64_t seq, seq0, hlc, hlc0;
	char new_id[33];
};

/* ---- small helpers --------------------------------------------------------- */

/* Memory that lives until the transaction ends. */
static void *tmem(pg_txn *t, size_t n)
{
	struct memblk *b = t->mem;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;

		if (!(b = malloc(sizeof *b + cap)))
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = t->mem;
		t->mem = b;
	}
	p = b->b + b->used;
	b->used += n;
	return p;
}

static void *tdup(pg_txn *t, const void *p, size_t n)
{
	unsigned char *d = tmem(t, n + 1);

	if (d) {
		if (n)
			memcpy(d, p, n);
		d[n] = 0;
	}
	return d;
}

static int keep(pg_txn *t, PGresult *r)
{
	if (t->nkeep == t->capkeep) {
		size_t cap = t->capkeep ? t->capkeep * 2 : 16;
		PGresult **k = realloc(t->keep, cap * sizeof *k);

		if (!k) {
			PQclear(r);
			return FS_E_INTERNAL;
		}
		t->keep = k;
		t->capkeep = cap;
	}
	t->keep[t->nkeep++] = r;
	return FS_OK;
}

static uint32_t hash(char kind, const void *k, size_t n)
{
	const unsigned char *p = k;
	uint32_t h = 2166136261u ^ (unsigned char)kind;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static cent *cache_find(pg_txn *t, char kind, const void *k, size_t n)
{
	uint32_t h;
	cent *e;

	if (!t->ntab)
		return NULL;
	h = hash(kind, k, n);
	for (e = t->tab[h & (t->ntab - 1)]; e; e = e->next)
		if (e->h == h && e->kind == kind && e->kn == n &&
		    !memcmp(e->k, k, n))
			return e;
	return NULL;
}

/* The entry for (kind, key), made empty when new; NULL out of memory. */
static cent *cache_get(pg_txn *t, char kind, const void *k, size_t n)
{
	cent *e = cache_find(t, kind, k, n);
	size_t i;

	if (e)
		return e;
	if (t->nent >= t->ntab) {
		size_t nn = t->ntab ? t->ntab * 2 : 256;
		cent **tab = calloc(nn, sizeof *tab), *x, *next;

		if (!tab)
			return NULL;
		for (i = 0; i < t->ntab; i++)
			for (x = t->tab[i]; x; x = next) {
				next = x->next;
				x->next = tab[x->h & (nn - 1)];
				tab[x->h & (nn - 1)] = x;
			}
		free(t->tab);
		t->tab = tab;
		t->ntab = nn;
	}
	if (!(e = tmem(t, sizeof *e)))
		return NULL;
	memset(e, 0, sizeof *e);
	if (!(e->k = tdup(t, k, n)))
		return NULL;
	e->kind = kind;
	e->kn = n;
	e->h = hash(kind, k, n);
	e->next = t->tab[e->h & (t->ntab - 1)];
	t->tab[e->h & (t->ntab - 1)] = e;
	t->nent++;
	return e;
}

/* ---- statements ------------------------------------------------------------ */

/* Parameters of one statement, binary. */
typedef struct {
	const char *v[6];
	int l[6], f[6];
	unsigned char ints[6][8];
	int n;
} qp;

static void p_bytes(qp *q, const void *p, size_t n)
{
	q->v[q->n] = n ? p : "";
	q->l[q->n] = (int)n;
	q->f[q->n++] = 1;
}

static void p_str(qp *q, const char *s) { p_bytes(q, s, strlen(s)); }

static void p_u64(qp *q, uint64_t x)
{
	be64_put(q->ints[q->n], x);
	p_bytes(q, q->ints[q->n], 8);
}

static void p_i16(qp *q, int x)
{
	q->ints[q->n][0] = (unsigned char)(x >> 8);
	q->ints[q->n][1] = (unsigned char)x;
	p_bytes(q, q->ints[q->n], 2);
}

static void p_bool(qp *q, int x)
{
	q->ints[q->n][0] = x ? 1 : 0;
	p_bytes(q, q->ints[q->n], 1);
}

static uint64_t r_u64(const PGresult *r, int row, int col)
{
	if (PQgetlength(r, row, col) != 8)
		return 0;
	return be64_get((const unsigned char *)PQgetvalue(r, row, col));
}

static sv r_sv(const PGresult *r, int row, int col)
{
	return sv_of(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

static int res_ok(const PGresult *r)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* A failure in t: from now on every call returns FS_E_UNAVAILABLE. */
static int fail(pg_txn *t)
{
	if (!t->dead)
		t->dead = FS_E_UNAVAILABLE;
	return t->dead;
}

/* Reads the result of one pipelined statement (and the NULL after it). */
static PGresult *pipe_result(pg_txn *t)
{
	PGresult *r = PQgetResult(t->c), *z;

	if (r && (z = PQgetResult(t->c))) {
		/* only one result a statement is expected */
		PQclear(z);
		PQclear(r);
		return NULL;
	}
	t->pending--;
	return r;
}

/* Collects the results of every statement sent and not yet read. */
static int pipe_collect(pg_txn *t)
{
	PGresult *r;
	int ok = 1;

	if (!t->pending)
		return t->dead;
	if (PQsendFlushRequest(t->c) != 1 || PQflush(t->c) != 0)
		return fail(t);
	while (t->pending) {
		r = pipe_result(t);
		if (!r) {
			ok = 0;
			break;
		}
		if (!res_ok(r))
			ok = 0;
		PQclear(r);
	}
	return ok ? t->dead : fail(t);
}

/* Sends statement q (or, q < 0, the SQL text sql): pipelined, its
 * result read later. */
static int q_sendx(pg_txn *t, int q, const char *sql, const qp *p)
{
	int ok;

	if (t->dead)
		return t->dead;
	if (t->pending >= PIPE_MAX && pipe_collect(t))
		return t->dead;
	if (q >= 0)
		ok = PQsendQueryPrepared(t->c, stmts[q].name, p ? p->n : 0,
		                         p ? p->v : NULL, p ? p->l : NULL,
		                         p ? p->f : NULL, 1);
	else
		ok = PQsendQueryParams(t->c, sql, p ? p->n : 0, NULL,
		                       p ? p->v : NULL, p ? p->l : NULL,
		                       p ? p->f : NULL, 1);
	if (!ok)
		return fail(t);
	t->pending++;
	return FS_OK;
}

static int q_send(pg_txn *t, int q, const qp *p)
{
	return q_sendx(t, q, NULL, p);
}

/* Runs a statement and returns its result, kept until the transaction
 * ends (values handed out point into it); NULL on failure (t is dead).
 * Pipelined: the results of the writes sent before it are read first. */
static PGresult *q_readx(pg_txn *t, int q, const char *sql, const qp *p)
{
	PGresult *r;

	if (t->dead)
		return NULL;
	if (t->pipe) {
		if (q_sendx(t, q, sql, p))
			return NULL;
		if (PQsendFlushRequest(t->c) != 1 || PQflush(t->c) != 0) {
			fail(t);
			return NULL;
		}
		while (t->pending > 1) {
			r = pipe_result(t);
			if (!res_ok(r)) {
				PQclear(r);
				fail(t);
				return NULL;
			}
			PQclear(r);
		}
		r = pipe_result(t);
	} else if (q >= 0) {
		r = PQexecPrepared(t->c, stmts[q].name, p ? p->n : 0,
		                   p ? p->v : NULL, p ? p->l : NULL,
		                   p ? p->f : NULL, 1);
	} else {
		r = PQexecParams(t->c, sql, p ? p->n : 0, NULL, p ? p->v : NULL,
		                 p ? p->l : NULL, p ? p->f : NULL, 1);
	}
	if (!res_ok(r)) {
		PQclear(r);
		fail(t);
		return NULL;
	}
	if (keep(t, r)) {
		fail(t);
		return NULL;
	}
	return r;
}

static PGresult *q_read(pg_txn *t, int q, const qp *p)
{
	return q_readx(t, q, NULL, p);
}

/* ---- arrays: many rows in one parameter ------------------------------------- */

/* An array parameter in PostgreSQL's binary format (array_recv: the
 * number of dimensions, a has-nulls flag, the element type's OID, the
 * length and lower bound of the one dimension, then each element as its
 * length and bytes), under construction in the caller's buffer, which
 * needs ARR_HEAD bytes and, an element, its bytes + 4 (an integer: 12).
 * Binary, not a text literal: array_in and hex_decode alone took 8% of
 * PostgreSQL's CPU samples (perf) in an ingest. */
#define ARR_HEAD 20
#define OID_INT8 20
#define OID_INT2 21
#define OID_BYTEA 17

typedef struct {
	unsigned char *p, *at;
	unsigned n;
	uint32_t oid; /* the elements' type, set by the first */
} tarr;

static void tarr_open(tarr *a, void *buf)
{
	a->p = buf;
	a->at = a->p + ARR_HEAD;
	a->n = 0;
	a->oid = OID_BYTEA;
}

/* Ends the array (its header written); its length. */
static size_t tarr_close(tarr *a)
{
	be32_put(a->p, a->n ? 1 : 0);
	be32_put(a->p + 4, 0);
	be32_put(a->p + 8, a->oid);
	if (!a->n)
		return 12; /* an empty array has no dimension */
	be32_put(a->p + 12, a->n);
	be32_put(a->p + 16, 1);
	return (size_t)(a->at - a->p);
}

static void tarr_elem(tarr *a, uint32_t oid, const void *s, size_t n)
{
	a->oid = oid;
	a->n++;
	be32_put(a->at, (uint32_t)n);
	if (n)
		memcpy(a->at + 4, s, n);
	a->at += 4 + n;
}

static void tarr_bytes(tarr *a, const void *s, size_t n)
{
	tarr_elem(a, OID_BYTEA, s, n);
}

static void tarr_str(tarr *a, const char *s)
{
	tarr_bytes(a, s, strlen(s));
}

static void tarr_i64(tarr *a, uint64_t x)
{
	unsigned char b[8];

	be64_put(b, x);
	tarr_elem(a, OID_INT8, b, 8);
}

static void tarr_i16(tarr *a, unsigned x)
{
	unsigned char b[2] = {(unsigned char)(x >> 8), (unsigned char)x};

	tarr_elem(a, OID_INT2, b, 2);
}

/* ---- held-back writes (see the cache's comment) ----------------------------- */

/* The key of a record ('r') or removal entry ('g') entry split at its
 * NULs: part i of the key. */
static const char *ckey_part(const cent *e, int i)
{
	const char *k = (const char *)e->k;

	while (i--)
		k += strlen(k) + 1;
	return k;
}

/* Sends a statement whose parameters are the n arrays a[] (binary
 * format); the arrays' memory is freed. */
static int send_arrays(pg_txn *t, int q, tarr *a, int n)
{
	qp p;
	int i, rc;

	p.n = 0;
	for (i = 0; i < n; i++)
		p_bytes(&p, a[i].p, tarr_close(&a[i]));
	rc = q_send(t, q, &p);
	for (i = 0; i < n; i++)
		free(a[i].p);
	return rc;
}

/* One kind's held-back rows (of table tb only, tb >= 0): puts (present)
 * in one statement, deletes in another.  The entries leave the dirty
 * list. */
static int flush_kind(pg_txn *t, char kind, int tb)
{
	/* per statement: parameters, and for each the bytes a row takes */
	size_t room[2][5], need;
	tarr a[2][5];
	unsigned nput = 0, ndel = 0, i, j, np[2];
	int qs[2], rc = FS_OK;
	cent *e, **pp;
	tarr *x;

	memset(room, 0, sizeof room);
	memset(a, 0, sizeof a);
	for (e = t->dirty; e; e = e->dnext) {
		if (e->kind != kind || (tb >= 0 && e->k[0] != tb))
			continue;
		j = e->present ? 0 : 1;
		j ? ndel++ : nput++;
		/* an element: its length and bytes, or an integer's 12; the
		 * key bounds each of its parts */
		need = e->kn + 12;
		for (i = 0; i < 5; i++)
			room[j][i] += need;
		if (j == 0 && kind == 't')
			room[0][2] += e->v.n;
		if (j == 0 && kind == 'r') {
			room[0][2] += strlen(e->bucket);
			room[0][4] += e->v.n;
		}
	}
	if (!nput && !ndel)
		return FS_OK;
	switch (kind) {
	case 't':
		qs[0] = Q_KV_PUT, np[0] = 3;
		qs[1] = Q_KV_DEL, np[1] = 2;
		break;
	case 'r':
		qs[0] = Q_REC_PUT, np[0] = 5;
		qs[1] = Q_REC_DEL, np[1] = 2;
		break;
	default:
		qs[0] = Q_GONE_SET, np[0] = 4;
		qs[1] = Q_GONE_DEL, np[1] = 3;
		break;
	}
	for (j = 0; j < 2; j++)
		for (i = 0; i < np[j]; i++) {
			if (!(j ? ndel : nput))
				break;
			char *buf = malloc(ARR_HEAD + room[j][i]);

			if (!buf) {
				rc = fail(t);
				break;
			}
			tarr_open(&a[j][i], buf);
		}
	for (pp = &t->dirty; !rc && (e = *pp);) {
		if (e->kind != kind || (tb >= 0 && e->k[0] != tb)) {
			pp = &e->dnext;
			continue;
		}
		j = e->present ? 0 : 1;
		x = a[j];
		switch (kind) {
		case 't':
			tarr_i16(&x[0], e->k[0]);
			tarr_bytes(&x[1], e->k + 1, e->kn - 1);
			if (!j)
				tarr_bytes(&x[2], e->v.p, e->v.n);
			break;
		case 'r':
			tarr_str(&x[0], ckey_part(e, 0));
			tarr_str(&x[1], ckey_part(e, 1));
			if (!j) {
				tarr_str(&x[2], e->bucket);
				tarr_i64(&x[3], e->seq);
				tarr_bytes(&x[4], e->v.p, e->v.n);
			}
			break;
		default:
			for (i = 0; i < 3; i++)
				tarr_str(&x[i], ckey_part(e, (int)i));
			if (!j)
				tarr_i64(&x[3], e->seq);
			break;
		}
		e->dirty = 0;
		*pp = e->dnext;
		e->dnext = NULL;
		t->ndirty--;
	}
	for (j = 0; j < 2; j++) {
		if (!rc && (j ? ndel : nput))
			rc = send_arrays(t, qs[j], a[j], (int)np[j]);
		else
			for (i = 0; i < 5; i++)
				free(a[j][i].p);
	}
	return rc;
}

/* Sends the held-back rows of the kinds named ("t", "rg", "trg"). */
static int dirty_flush(pg_txn *t, const char *kinds)
{
	int rc;

	if (t->dead)
		return t->dead;
	for (; *kinds && t->ndirty; kinds++)
		if ((rc = flush_kind(t, *kinds, -1)))
			return rc;
	return FS_OK;
}

/* Marks e written (its cache fields hold the state to store); a full
 * dirty list goes out, so the database works on it while we go on. */
static int dirty_add(pg_txn *t, cent *e)
{
	if (!e->dirty) {
		e->dirty = 1;
		e->dnext = t->dirty;
		t->dirty = e;
		t->ndirty++;
	}
	return t->ndirty >= DIRTY_MAX ? dirty_flush(t, "trg") : FS_OK;
}

/* ---- connections ------------------------------------------------------------ */

/* A new session.  Our settings come first, so the operator's URL may
 * override them: connect_timeout bounds the connect, statement_timeout
 * and lock_timeout every wait (a writer queued on the counter lock too),
 * keepalives notice a peer that vanished.  prepare: with the statements. */
static PGconn *pg_connect(const pg_store *s, int prepare, char *err,
                          size_t errn)
{
	static const char *const kw[] = {
		"connect_timeout", "application_name", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"options", "dbname", NULL};
	const char *vals[] = {
		"3", "fieldsyncd", "1", "10", "5", "3",
		"-c statement_timeout=10000 -c lock_timeout=10000 "
		"-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 "
		"-c tcp_keepalives_count=3 -c client_min_messages=warning",
		s->url, NULL};
	PGconn *c = PQconnectdbParams(kw, vals, 1);
	PGresult *r;
	int i, ok = 1;

	if (!c || PQstatus(c) != CONNECTION_OK) {
		if (err && errn)
			snprintf(err, errn, "%s",
			         c ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return NULL;
	}
	if (!prepare)
		return c;
	/* every statement in one round trip */
	if (PQenterPipelineMode(c) != 1)
		ok = 0;
	for (i = 0; ok && i < Q__COUNT; i++)
		if (PQsendPrepare(c, stmts[i].name, stmts[i].sql, 0, NULL) != 1)
			ok = 0;
	if (ok && PQpipelineSync(c) != 1)
		ok = 0;
	for (i = 0; ok && i < Q__COUNT; i++) {
		r = PQgetResult(c);
		if (!res_ok(r)) {
			if (err && errn)
				snprintf(err, errn, "preparing %s: %s",
				         stmts[i].name, PQerrorMessage(c));
			ok = 0;
		}
		PQclear(r);
		if (ok && (r = PQgetResult(c))) {
			PQclear(r);
			ok = 0;
		}
	}
	if (ok) {
		r = PQgetResult(c);
		ok = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
		PQclear(r);
	}
	if (!ok || PQexitPipelineMode(c) != 1) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Drops every idle connection (PostgreSQL went away: they are all dead). */
static void pool_flush(pg_store *s)
{
	PGconn *dead[POOL_MAX];
	unsigned n, i;

	pthread_mutex_lock(&s->mu);
	n = s->nidle;
	memcpy(dead, s->idle, n * sizeof *dead);
	s->nidle = 0;
	s->nopen -= n;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < n; i++)
		PQfinish(dead[i]);
}

/* A connection from the pool, or a new one; at POOL_MAX open, waits up to
 * 10 s for one to come back.  fresh: set when *out was just made. */
static int pool_get(pg_store *s, PGconn **out, int *fresh)
{
	struct timespec until;
	PGconn *c;
	int probe;

	*out = NULL;
	*fresh = 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&s->mu);
	while (!s->nidle && s->nopen >= POOL_MAX)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->mu);
			return FS_E_UNAVAILABLE;
		}
	if (s->nidle) {
		*out = s->idle[--s->nidle];
		pthread_mutex_unlock(&s->mu);
		return FS_OK;
	}
	/* after a failed connect, one request at a time tries again (the
	 * first after PostgreSQL returns gets through at once); the others
	 * fail fast rather than each wait out connect_timeout */
	if (s->down && s->probing) {
		pthread_mutex_unlock(&s->mu);
		return FS_E_UNAVAILABLE;
	}
	probe = s->down;
	s->probing |= probe;
	s->nopen++;
	pthread_mutex_unlock(&s->mu);
	c = pg_connect(s, 1, NULL, 0);
	pthread_mutex_lock(&s->mu);
	if (probe)
		s->probing = 0;
	s->down = c == NULL;
	if (!c) {
		s->nopen--;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		return FS_E_UNAVAILABLE;
	}
	pthread_mutex_unlock(&s->mu);
	*out = c;
	*fresh = 1;
	return FS_OK;
}

/* Back to the pool when it is healthy and idle; closed otherwise. */
static void pool_put(pg_store *s, PGconn *c, int bad)
{
	if (c && (bad || PQstatus(c) != CONNECTION_OK ||
	          PQtransactionStatus(c) != PQTRANS_IDLE ||
	          PQpipelineStatus(c) != PQ_PIPELINE_OFF)) {
		PQfinish(c);
		c = NULL;
	}
	pthread_mutex_lock(&s->mu);
	if (c)
		s->idle[s->nidle++] = c;
	else
		s->nopen--;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- schema ------------------------------------------------------------------ */

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errn)
{
	PGresult *r = PQexec(c, sql);
	int ok = res_ok(r);

	if (!ok && err && errn)
		snprintf(err, errn, "%s", PQerrorMessage(c));
	PQclear(r);
	return ok;
}

/* create: make the schema or apply the migrations it lacks, in one
 * transaction (two inits at once: the second waits on the table lock and
 * finds the work done).  Otherwise: refuse a missing, older or newer one. */
static int schema(PGconn *c, const store_opts *o)
{
	char err[300], sql[80];
	PGresult *r;
	unsigned v, i, have = store_pg_nsql;

	if (o && o->create) {
		if (!exec_ok(c, "SET statement_timeout = 0", err, sizeof err) ||
		    !exec_ok(c, "BEGIN", err, sizeof err) ||
		    !exec_ok(c, "CREATE TABLE IF NOT EXISTS fs_schema "
		                "(version integer NOT NULL)", err, sizeof err) ||
		    !exec_ok(c, "LOCK TABLE fs_schema IN EXCLUSIVE MODE", err,
		             sizeof err))
			goto failed;
	}
	r = PQexec(c, "SELECT version FROM fs_schema");
	if (!res_ok(r)) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (state && !strcmp(state, "42P01"))
			store_open_err(o, "this database has no fieldsync schema: "
			                  "run fieldsyncd init --store URL");
		else
			store_open_err(o, "PostgreSQL: %s", PQerrorMessage(c));
		PQclear(r);
		return FS_E_UNAVAILABLE;
	}
	v = PQntuples(r) ? (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	if (v > have) {
		store_open_err(o, "the database's schema (version %u) is newer than "
		                  "this fieldsyncd's (%u): run a newer fieldsyncd",
		               v, have);
		return FS_E_UNAVAILABLE;
	}
	if (!(o && o->create)) {
		if (v < have) {
			store_open_err(o, "the database's schema (version %u) is older "
			                  "than this fieldsyncd's (%u): run fieldsyncd "
			                  "init --store URL to migrate it", v, have);
			return FS_E_UNAVAILABLE;
		}
		return FS_OK;
	}
	for (i = v; i < have; i++)
		if (!exec_ok(c, store_pg_sql[i], err, sizeof err))
			goto failed;
	snprintf(sql, sizeof sql, "%s fs_schema %s%u", v ? "UPDATE" : "INSERT INTO",
	         v ? "SET version = " : "(version) VALUES (", have);
	if (!v)
		strcat(sql, ")");
	if (!exec_ok(c, sql, err, sizeof err) ||
	    !exec_ok(c, "COMMIT", err, sizeof err) ||
	    !exec_ok(c, "RESET statement_timeout", err, sizeof err))
		goto failed;
	return FS_OK;
failed:
	store_open_err(o, "PostgreSQL: %s", err);
	exec_ok(c, "ROLLBACK", NULL, 0);
	return FS_E_UNAVAILABLE;
}

/* ---- open / close ------------------------------------------------------------ */

static int new_id(char hex[33])
{
	unsigned char r[16];
	int rc = crypto_random(r, sizeof r);

	if (rc)
		return rc;
	hex_encode(r, sizeof r, hex);
	return FS_OK;
}

static int id_publish(pg_store *s, const char *hex, size_t n)
{
	struct store_idbuf *b;

	if (n != 32)
		return FS_E_INTERNAL;
	if (!(b = calloc(1, sizeof *b)))
		return FS_E_INTERNAL;
	memcpy(b->hex, hex, 32);
	pthread_mutex_lock(&s->mu);
	b->next = s->ids;
	s->ids = b;
	pthread_mutex_unlock(&s->mu);
	atomic_store(&s->id, b);
	return FS_OK;
}

/* The store id: made when missing (a new store), as LMDB's open does. */
static int load_id(pg_store *s, PGconn *c, const store_opts *o)
{
	const char *vals[2];
	int lens[2] = {0, 8}, fmts[2] = {1, 1};
	unsigned char tb[2] = {0, ST_META};
	char hex[33];
	PGresult *r;
	int rc;

	if ((rc = new_id(hex)))
		return rc;
	vals[0] = (const char *)tb;
	lens[0] = 2;
	vals[1] = "store_id";
	r = PQexecParams(c, "INSERT INTO fs_kv (tb, k, v) VALUES ($1::smallint, "
	                    "$2::bytea, $3::bytea) ON CONFLICT (tb, k) DO NOTHING",
	                 3, NULL, (const char *[]){vals[0], vals[1], hex},
	                 (int[]){2, 8, 32}, (int[]){1, 1, 1}, 1);
	if (!res_ok(r)) {
		store_open_err(o, "PostgreSQL: %s", PQerrorMessage(c));
		PQclear(r);
		return FS_E_UNAVAILABLE;
	}
	PQclear(r);
	r = PQexecParams(c, "SELECT v FROM fs_kv WHERE tb = $1::smallint AND "
	                    "k = $2::bytea", 2, NULL, vals, lens, fmts, 1);
	if (!res_ok(r) || PQntuples(r) != 1) {
		store_open_err(o, "PostgreSQL: %s", PQerrorMessage(c));
		PQclear(r);
		return FS_E_UNAVAILABLE;
	}
	rc = id_publish(s, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	PQclear(r);
	return rc;
}

static void pg_close(store *st);

int store_pg_open(store **out, const char *url, const store_opts *o)
{
	pg_store *s;
	PGconn *c;
	char err[300];
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return FS_E_INTERNAL;
	s->base.ops = &pg_ops;
	if (o)
		s->opts = *o;
	if (!(s->url = strdup(url)) || new_id(s->node) ||
	    pthread_mutex_init(&s->mu, NULL)) {
		free(s->url);
		free(s);
		return FS_E_INTERNAL;
	}
	if (pthread_cond_init(&s->cv, NULL)) {
		pthread_mutex_destroy(&s->mu);
		free(s->url);
		free(s);
		return FS_E_INTERNAL;
	}
	if (!(c = pg_connect(s, 0, err, sizeof err))) {
		store_open_err(o, "cannot connect to PostgreSQL: %s", err);
		pg_close(&s->base);
		return FS_E_UNAVAILABLE;
	}
	rc = schema(c, o);
	if (!rc)
		rc = load_id(s, c, o);
	PQfinish(c);
	if (rc) {
		pg_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return FS_OK;
}

static void pg_close(store *st)
{
	pg_store *s = (pg_store *)st;
	struct store_idbuf *b, *next;

	if (!s)
		return;
	if (s->watching) {
		atomic_store(&s->stop, 1);
		pthread_join(s->watcher, NULL);
	}
	pool_flush(s);
	for (b = s->ids; b; b = next) {
		next = b->next;
		free(b);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->url);
	free(s);
}

/* ---- transactions ------------------------------------------------------------ */

/* Sends a statement without parameters down the pipeline. */
static int send_plain(pg_txn *t, const char *sql)
{
	if (t->dead)
		return t->dead;
	if (!PQsendQueryParams(t->c, sql, 0, NULL, NULL, NULL, NULL, 1))
		return fail(t);
	t->pending++;
	return FS_OK;
}

/* Ends the pipeline: a sync, then every result up to it.  1 when all
 * succeeded; *committed set when one of them was a COMMIT that did. */
static int pipe_sync(pg_txn *t, int *committed)
{
	PGresult *r;
	int ok = 1, nulls = 0;

	if (PQpipelineSync(t->c) != 1)
		return 0;
	for (;;) {
		r = PQgetResult(t->c);
		if (!r) {
			/* one NULL ends each statement's results */
			if (PQstatus(t->c) != CONNECTION_OK ||
			    ++nulls > (int)t->pending + 2)
				return 0;
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (!res_ok(r))
			ok = 0;
		else if (committed && !strcmp(PQcmdStatus(r), "COMMIT"))
			*committed = 1;
		PQclear(r);
	}
	t->pending = 0;
	return ok && PQexitPipelineMode(t->c) == 1;
}

/* Frees the transaction; its connection goes back to the pool after a
 * rollback of whatever is still open, or is closed when unusable. */
static void txn_end(pg_txn *t, int bad)
{
	struct memblk *b, *next;
	PGresult *r;
	size_t i;

	if (t->c && !bad && PQstatus(t->c) == CONNECTION_OK) {
		if (PQpipelineStatus(t->c) != PQ_PIPELINE_OFF &&
		    !pipe_sync(t, NULL))
			bad = 1;
		if (!bad && PQtransactionStatus(t->c) != PQTRANS_IDLE) {
			r = PQexec(t->c, "ROLLBACK");
			if (!res_ok(r))
				bad = 1;
			PQclear(r);
		}
	}
	if (t->c)
		pool_put(t->s, t->c, bad);
	for (i = 0; i < t->nkeep; i++)
		PQclear(t->keep[i]);
	free(t->keep);
	for (b = t->mem; b; b = next) {
		next = b->next;
		free(b);
	}
	free(t->tab);
	free(t);
}

/* BEGIN on c: a reader's snapshot, or a writer's counter lock. */
static int txn_start(pg_txn *t)
{
	PGresult *r;

	if (!t->write) {
		r = PQexec(t->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
		if (!res_ok(r)) {
			PQclear(r);
			return fail(t);
		}
		PQclear(r);
		return FS_OK;
	}
	if (PQenterPipelineMode(t->c) != 1)
		return fail(t);
	t->pipe = 1;
	if (send_plain(t, "BEGIN") ||
	    !(r = q_read(t, Q_COUNTER_LOCK, NULL)))
		return fail(t);
	if (PQntuples(r) != 1)
		return fail(t);
	t->seq = t->seq0 = r_u64(r, 0, 0);
	t->hlc = t->hlc0 = r_u64(r, 0, 1);
	return FS_OK;
}

static int pg_begin(store *st, int write, store_txn **out)
{
	pg_store *s = (pg_store *)st;
	pg_txn *t;
	int rc, fresh, tries;

	*out = NULL;
	/* a pooled connection may have died with its server: drop it and
	 * take another (the pool is flushed), a new one once */
	for (tries = 0; tries < 2; tries++) {
		if (!(t = calloc(1, sizeof *t)))
			return FS_E_INTERNAL;
		t->base.ops = &pg_ops;
		t->s = s;
		t->write = write ? 1 : 0;
		if ((rc = pool_get(s, &t->c, &fresh))) {
			free(t);
			return rc;
		}
		if (txn_start(t) == FS_OK) {
			t->dead = 0;
			*out = &t->base;
			return FS_OK;
		}
		txn_end(t, 1);
		if (fresh)
			break;
		pool_flush(s);
	}
	return FS_E_UNAVAILABLE;
}

static void pg_abort(store_txn *tx)
{
	txn_end((pg_txn *)tx, 0);
}

/* NOTIFY payload: node \n bucket \n bucket ..., each name with bytes
 * outside '!'..'~' and '%' as %XX (a payload must be valid text). */
static size_t notify_name(char *p, const char *name)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t n = 0;
	const unsigned char *q;

	for (q = (const unsigned char *)name; *q; q++)
		if (*q > ' ' && *q < 0x7f && *q != '%') {
			p[n++] = (char)*q;
		} else {
			p[n++] = '%';
			p[n++] = hx[*q >> 4];
			p[n++] = hx[*q & 15];
		}
	return n;
}

/* Writes the bucket heads and floors raised so far. */
static int binfo_flush(pg_txn *t)
{
	size_t i;
	cent *e;
	qp p;
	int rc;

	for (i = 0; i < t->ntab; i++)
		for (e = t->tab[i]; e; e = e->next) {
			if (e->kind != 'b' || (!e->rhead && !e->rfloor))
				continue;
			p.n = 0;
			p_bytes(&p, e->k, e->kn);
			p_u64(&p, e->rhead);
			p_u64(&p, e->rfloor);
			if ((rc = q_send(t, Q_BINFO_RAISE, &p)))
				return rc;
			e->rhead = e->rfloor = 0;
		}
	return FS_OK;
}

/* Before COMMIT: bucket heads and floors, the counter and the NOTIFYs. */
static int commit_writes(pg_txn *t)
{
	char *buf = NULL, name[3 * KEY_MAX + 1];
	size_t bn = 0, i, nl;
	cent *e;
	qp p;
	int rc;

	if ((rc = dirty_flush(t, "trg")) || (rc = binfo_flush(t)))
		return rc;
	for (i = 0; i < t->ntab && !rc; i++)
		for (e = t->tab[i]; e && !rc; e = e->next) {
			if (e->kind != 'b' || !e->touched)
				continue;
			/* this bucket got entries: tell the other nodes */
			if (!buf) {
				if (!(buf = tmem(t, NOTIFY_MAX + 1)))
					return fail(t);
				memcpy(buf, t->s->node, 32);
				bn = 32;
			}
			nl = notify_name(name, (const char *)e->k);
			if (bn + 1 + nl > NOTIFY_MAX) {
				p.n = 0;
				p_bytes(&p, buf, bn);
				if ((rc = q_send(t, Q_NOTIFY, &p)))
					break;
				bn = 32;
			}
			buf[bn] = '\n';
			memcpy(buf + bn + 1, name, nl);
			bn += 1 + nl;
		}
	if (!rc && buf && bn > 32) {
		p.n = 0;
		p_bytes(&p, buf, bn);
		rc = q_send(t, Q_NOTIFY, &p);
	}
	if (!rc && (t->seq != t->seq0 || t->hlc != t->hlc0)) {
		p.n = 0;
		p_u64(&p, t->seq);
		p_u64(&p, t->hlc);
		rc = q_send(t, Q_COUNTER_SET, &p);
	}
	return rc;
}

static int pg_commit(store_txn *tx)
{
	pg_txn *t = (pg_txn *)tx;
	pg_store *s = t->s;
	int rc, committed = 0;

	if (!t->write) {
		txn_end(t, 0);
		return FS_OK;
	}
	if ((rc = t->dead)) {
		txn_end(t, 0);
		return rc;
	}
	if (s->opts.fail_commit && s->opts.fail_commit(s->opts.fail_ctx)) {
		txn_end(t, 0);
		return FS_E_UNAVAILABLE;
	}
	if (commit_writes(t) || send_plain(t, "COMMIT")) {
		txn_end(t, 0);
		return FS_E_UNAVAILABLE;
	}
	/* FS_OK only once PostgreSQL said COMMIT (durable as the operator's
	 * synchronous_commit makes it); an unknown outcome is a failure */
	if (!pipe_sync(t, &committed) || !committed) {
		txn_end(t, PQtransactionStatus(t->c) == PQTRANS_UNKNOWN);
		return FS_E_UNAVAILABLE;
	}
	atomic_fetch_add(&s->commits, 1);
	rc = t->new_id[0] ? id_publish(s, t->new_id, 32) : FS_OK;
	txn_end(t, 0);
	return rc;
}

static int pg_grow(store *st)
{
	return FS_E_UNAVAILABLE; /* no map to grow */
}

/* ---- keys: the limits store_lmdb.c has -------------------------------------- */

/* c \0 id \0 fits in KEY_MAX, neither empty; *rkn its length. */
static int rec_key_ok(const char *c, const char *id, size_t *rkn)
{
	size_t cl, il;

	if (!c || !id)
		return 0;
	cl = strlen(c);
	il = strlen(id);
	if (cl == 0 || il == 0 || cl + il + 2 > KEY_MAX)
		return 0;
	*rkn = cl + il + 2;
	return 1;
}

/* bucket \0 seq(8) fits */
static int bucket_ok(const char *bucket)
{
	size_t bl = bucket ? strlen(bucket) : 0;

	return bl > 0 && bl + 9 <= KEY_MAX;
}

static int writable(const pg_txn *t)
{
	if (!t || !t->write)
		return FS_E_INTERNAL;
	return t->dead;
}

/* The cache key of a record: c \0 id (NUL-terminated by the caller's
 * strings, so c then id with its NUL). */
static size_t rec_ckey(unsigned char *k, const char *c, const char *id)
{
	size_t cl = strlen(c), il = strlen(id);

	memcpy(k, c, cl + 1);
	memcpy(k + cl + 1, id, il + 1);
	return cl + il + 2;
}

/* ---- records ------------------------------------------------------------------ */

typedef struct {
	int present;
	const char *bucket;
	uint64_t seq;
	sv v;
} recinfo;

/* The record (c, id): from the cache in a write txn, loaded into it when
 * not there yet. */
static int rec_fetch(pg_txn *t, const char *c, const char *id, recinfo *ri)
{
	unsigned char k[KEY_MAX + 1];
	cent *e = NULL;
	PGresult *r;
	qp p;

	memset(ri, 0, sizeof *ri);
	if (t->write) {
		if (!(e = cache_get(t, 'r', k, rec_ckey(k, c, id))))
			return FS_E_INTERNAL;
		if (e->known) {
			ri->present = e->present;
			ri->bucket = e->bucket;
			ri->seq = e->seq;
			ri->v = e->v;
			return FS_OK;
		}
	}
	p.n = 0;
	p_str(&p, c);
	p_str(&p, id);
	if (!(r = q_read(t, Q_REC_GET, &p)))
		return t->dead;
	if (PQntuples(r) == 1) {
		ri->present = 1;
		ri->bucket = PQgetvalue(r, 0, 0);
		ri->seq = r_u64(r, 0, 1);
		ri->v = r_sv(r, 0, 2);
	}
	if (e) {
		e->known = 1;
		e->present = ri->present;
		e->bucket = ri->bucket;
		e->seq = ri->seq;
		e->v = ri->v;
	}
	return FS_OK;
}

static int pg_rec_get(store_txn *tx, const char *c, const char *id, sv *val,
                      const char **bucket, uint64_t *seq)
{
	pg_txn *t = (pg_txn *)tx;
	recinfo ri;
	size_t rkn;
	int rc;

	if (t->dead)
		return t->dead;
	if (!rec_key_ok(c, id, &rkn))
		return FS_E_NOT_FOUND;
	if ((rc = rec_fetch(t, c, id, &ri)))
		return rc;
	if (!ri.present)
		return FS_E_NOT_FOUND;
	if (val)
		*val = ri.v;
	if (bucket)
		*bucket = ri.bucket;
	if (seq)
		*seq = ri.seq;
	return FS_OK;
}

/* Raises a bucket's head and/or floor (written at commit). */
static int binfo_raise(pg_txn *t, const char *bucket, uint64_t head,
                       uint64_t floor)
{
	cent *e = cache_get(t, 'b', bucket, strlen(bucket));

	if (!e)
		return fail(t);
	if (head)
		e->touched = 1;
	if (head > e->rhead)
		e->rhead = head;
	if (floor > e->rfloor)
		e->rfloor = floor;
	if (head > e->head)
		e->head = head;
	if (floor > e->floor)
		e->floor = floor;
	return FS_OK;
}

/* The removal entry of (c, id) in bucket: set at seq, or (seq 0) none. */
static int gone_mark(pg_txn *t, const char *bucket, const char *c,
                     const char *id, uint64_t seq)
{
	unsigned char k[3 * KEY_MAX + 3];
	size_t bl = strlen(bucket), cl = strlen(c), il = strlen(id);
	cent *e;

	memcpy(k, bucket, bl + 1);
	memcpy(k + bl + 1, c, cl + 1);
	memcpy(k + bl + cl + 2, id, il + 1);
	if (!(e = cache_get(t, 'g', k, bl + cl + il + 3)))
		return fail(t);
	e->known = 1;
	e->present = seq != 0;
	e->seq = seq;
	return dirty_add(t, e);
}

static int pg_rec_put(store_txn *tx, const char *c, const char *id,
                      const char *bucket, sv val, uint64_t *seq_out)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1];
	recinfo ri;
	size_t rkn, bl;
	uint64_t seq;
	cent *e;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (!bucket || !rec_key_ok(c, id, &rkn))
		return FS_E_BAD_REQUEST;
	bl = strlen(bucket);
	/* the keys store_lmdb.c would write must fit, so both take the same */
	if (!bucket_ok(bucket) || bl + 1 + rkn > KEY_MAX ||
	    (val.n > 0 && !val.p) || val.n > INT32_MAX)
		return FS_E_BAD_REQUEST;
	if ((rc = rec_fetch(t, c, id, &ri)))
		return rc;
	if (t->seq == UINT64_MAX)
		return FS_E_INTERNAL;
	seq = ++t->seq;
	/* leaving its bucket: a removal entry there; in its bucket: none */
	if (ri.present && strcmp(ri.bucket, bucket) &&
	    ((rc = gone_mark(t, ri.bucket, c, id, seq)) ||
	     (rc = binfo_raise(t, ri.bucket, seq, 0))))
		return rc;
	if ((rc = gone_mark(t, bucket, c, id, 0)) ||
	    (rc = binfo_raise(t, bucket, seq, 0)))
		return rc;
	if (!(e = cache_get(t, 'r', k, rec_ckey(k, c, id))) ||
	    !(e->bucket = tdup(t, bucket, bl)) ||
	    !(e->v.p = tdup(t, val.p, val.n)))
		return fail(t);
	e->known = e->present = 1;
	e->seq = seq;
	e->v.n = val.n;
	if (seq_out)
		*seq_out = seq;
	return dirty_add(t, e);
}

static int pg_rec_purge(store_txn *tx, const char *c, const char *id)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1];
	recinfo ri;
	size_t rkn;
	cent *e;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (!rec_key_ok(c, id, &rkn))
		return FS_E_NOT_FOUND;
	if ((rc = rec_fetch(t, c, id, &ri)))
		return rc;
	if (!ri.present)
		return FS_E_NOT_FOUND;
	if ((rc = binfo_raise(t, ri.bucket, 0, ri.seq)))
		return rc;
	if (!(e = cache_get(t, 'r', k, rec_ckey(k, c, id))))
		return fail(t);
	e->present = 0;
	return dirty_add(t, e);
}

static int pg_gone_purge(store_txn *tx, const char *bucket, uint64_t before)
{
	pg_txn *t = (pg_txn *)tx;
	PGresult *r;
	uint64_t top;
	qp p;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (!bucket_ok(bucket))
		return FS_E_BAD_REQUEST;
	if (before <= 1)
		return FS_OK;
	if ((rc = dirty_flush(t, "g")))
		return rc;
	p.n = 0;
	p_str(&p, bucket);
	p_u64(&p, before > INT64_MAX ? INT64_MAX : before);
	if (!(r = q_read(t, Q_GONE_PURGE, &p)) || PQntuples(r) != 1)
		return fail(t);
	top = r_u64(r, 0, 0);
	return top ? binfo_raise(t, bucket, 0, top) : FS_OK;
}

/* want: the first page is that many entries (a pull's budget: one
 * that wants 0 entries reads 1, not a full page of values). */
static int pg_bucket_scan(store_txn *tx, const char *bucket, uint64_t after,
                          uint32_t want,
                          int (*cb)(void *ctx, const store_entry *e),
                          void *ctx)
{
	pg_txn *t = (pg_txn *)tx;
	uint64_t page = want && want < PAGE ? want : PAGE;
	store_entry e;
	PGresult *r;
	int i, n, rc;
	qp p;

	if (t->dead)
		return t->dead;
	if (!bucket)
		return FS_E_BAD_REQUEST;
	if ((rc = dirty_flush(t, "rg")))
		return rc;
	if (after >= INT64_MAX || !bucket_ok(bucket))
		return FS_OK; /* no such entry can exist */
	for (;;) {
		p.n = 0;
		p_str(&p, bucket);
		p_u64(&p, after);
		p_u64(&p, page);
		if (!(r = q_read(t, Q_BSCAN, &p)))
			return t->dead;
		n = PQntuples(r);
		for (i = 0; i < n; i++) {
			memset(&e, 0, sizeof e);
			e.seq = r_u64(r, i, 0);
			e.gone = PQgetlength(r, i, 1) == 1 && *PQgetvalue(r, i, 1);
			e.c = PQgetvalue(r, i, 2);
			e.id = PQgetvalue(r, i, 3);
			e.val = e.gone ? sv_of("", 0) : r_sv(r, i, 4);
			if ((rc = cb(ctx, &e)))
				return rc;
			after = e.seq;
		}
		if ((uint64_t)n < page)
			return FS_OK;
		page = PAGE;
	}
}

static int pg_bucket_info(store_txn *tx, const char *bucket, uint64_t *head,
                          uint64_t *floor)
{
	pg_txn *t = (pg_txn *)tx;
	uint64_t h = 0, f = 0;
	cent *e = NULL;
	PGresult *r;
	qp p;

	if (t->dead)
		return t->dead;
	if (!bucket)
		return FS_E_BAD_REQUEST;
	if (bucket_ok(bucket)) {
		if (t->write &&
		    !(e = cache_get(t, 'b', bucket, strlen(bucket))))
			return fail(t);
		if (e && e->known) {
			h = e->head;
			f = e->floor;
		} else {
			p.n = 0;
			p_str(&p, bucket);
			if (!(r = q_read(t, Q_BINFO_GET, &p)))
				return t->dead;
			if (PQntuples(r) == 1) {
				h = r_u64(r, 0, 0);
				f = r_u64(r, 0, 1);
			}
			if (e) {
				/* raised before it was read: keep the higher */
				e->head = h > e->head ? h : e->head;
				e->floor = f > e->floor ? f : e->floor;
				e->known = 1;
				h = e->head;
				f = e->floor;
			}
		}
	}
	if (head)
		*head = h;
	if (floor)
		*floor = f;
	return FS_OK;
}

/* The counter row as of the reader's snapshot. */
static int counter_read(pg_txn *t, uint64_t *seq, uint64_t *hlc)
{
	PGresult *r;

	if (t->write) {
		*seq = t->seq;
		*hlc = t->hlc;
		return t->dead;
	}
	if (!(r = q_read(t, Q_COUNTER_GET, NULL)) || PQntuples(r) != 1)
		return fail(t);
	*seq = r_u64(r, 0, 0);
	*hlc = r_u64(r, 0, 1);
	return FS_OK;
}

static int pg_seq(store_txn *tx, uint64_t *seq)
{
	pg_txn *t = (pg_txn *)tx;
	uint64_t hlc;

	if (t->dead)
		return t->dead;
	return counter_read(t, seq, &hlc);
}

static int pg_rec_scan(store_txn *tx, const char *c, store_rec_cb cb,
                       void *ctx)
{
	pg_txn *t = (pg_txn *)tx;
	sv lc = sv_of("", 0), lid = sv_of("", 0);
	PGresult *r;
	int i, n, rc;
	qp p;

	if ((rc = dirty_flush(t, "r")))
		return rc;
	if (c && (!*c || strlen(c) + 1 > KEY_MAX))
		return FS_OK;
	for (;;) {
		p.n = 0;
		if (c)
			p_str(&p, c);
		else
			p_bytes(&p, lc.p, lc.n);
		p_bytes(&p, lid.p, lid.n);
		p_u64(&p, PAGE);
		if (!(r = q_read(t, c ? Q_RSCAN_C : Q_RSCAN_ALL, &p)))
			return t->dead;
		n = PQntuples(r);
		for (i = 0; i < n; i++)
			if ((rc = cb(ctx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			             PQgetvalue(r, i, 2), r_u64(r, i, 3),
			             r_sv(r, i, 4))))
				return rc;
		if (n < PAGE)
			return FS_OK;
		lc = r_sv(r, n - 1, 0);
		lid = r_sv(r, n - 1, 1);
	}
}

/* ---- integrity ---------------------------------------------------------------
 * A record's index entry is its own (bucket, seq) columns, unique per
 * bucket by fs_records_bucket_seq; what can still be wrong: */
static const struct {
	const char *sql, *what;
} checks[] = {
	{"SELECT bucket, c, id, seq FROM fs_records WHERE seq < 1 OR seq > $1 "
	 "LIMIT 1", "record %3$s/%4$s in %2$s at %5$s: seq beyond the store's %1$s"},
	{"SELECT bucket, c, id, seq FROM fs_gone WHERE seq < 1 OR seq > $1 "
	 "LIMIT 1", "gone entry %3$s/%4$s in %2$s at %5$s: seq beyond the "
	 "store's %1$s"},
	{"SELECT r.bucket, r.c, r.id, r.seq FROM fs_records r LEFT JOIN "
	 "fs_buckets b ON b.bucket = r.bucket WHERE b.head IS NULL OR "
	 "r.seq > b.head LIMIT 1",
	 "record %3$s/%4$s in %2$s at %5$s: above the bucket head%1$.0s"},
	{"SELECT g.bucket, g.c, g.id, g.seq FROM fs_gone g LEFT JOIN "
	 "fs_buckets b ON b.bucket = g.bucket WHERE b.head IS NULL OR "
	 "g.seq > b.head LIMIT 1",
	 "gone entry %3$s/%4$s in %2$s at %5$s: above the bucket head%1$.0s"},
	{"SELECT g.bucket, g.c, g.id, g.seq FROM fs_gone g JOIN fs_records r "
	 "ON r.c = g.c AND r.id = g.id AND r.bucket = g.bucket LIMIT 1",
	 "gone entry %3$s/%4$s in %2$s at %5$s for a record in that "
	 "bucket%1$.0s"},
	{"SELECT g.bucket, g.c, g.id, g.seq FROM fs_gone g JOIN fs_records r "
	 "ON r.bucket = g.bucket AND r.seq = g.seq LIMIT 1",
	 "gone entry %3$s/%4$s in %2$s at %5$s: a record has that seq "
	 "there%1$.0s"},
};

static int pg_check(store_txn *tx, char *err, size_t errn)
{
	pg_txn *t = (pg_txn *)tx;
	uint64_t top, hlc;
	char tops[24], seqs[24];
	PGresult *r;
	size_t i;
	qp p;
	int rc;

	if (err && errn)
		err[0] = 0;
	if ((rc = dirty_flush(t, "trg")))
		return rc;
	/* a writer's raised heads are in memory: the queries need them */
	if ((rc = counter_read(t, &top, &hlc)) ||
	    (t->write && (rc = binfo_flush(t))))
		return rc;
	snprintf(tops, sizeof tops, "%llu", (unsigned long long)top);
	for (i = 0; i < sizeof checks / sizeof *checks; i++) {
		p.n = 0;
		if (i < 2)
			p_u64(&p, top);
		if (!(r = q_readx(t, -1, checks[i].sql, &p)))
			return t->dead;
		if (PQntuples(r)) {
			snprintf(seqs, sizeof seqs, "%llu",
			         (unsigned long long)r_u64(r, 0, 3));
			if (err && errn)
				snprintf(err, errn, checks[i].what, tops,
				         PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
				         PQgetvalue(r, 0, 2), seqs);
			return FS_E_INTERNAL;
		}
	}
	return FS_OK;
}

/* ---- tables --------------------------------------------------------------------- */

static int table_ok(enum store_table tb, sv key)
{
	if ((unsigned)tb >= ST__COUNT)
		return FS_E_INTERNAL;
	if (key.n == 0 || key.n > KEY_MAX || !key.p)
		return FS_E_BAD_REQUEST;
	return FS_OK;
}

/* The cache key of a table row: tb, then the key. */
static size_t kv_ckey(unsigned char *k, enum store_table tb, sv key)
{
	k[0] = (unsigned char)tb;
	memcpy(k + 1, key.p, key.n);
	return key.n + 1;
}

/* The known prefix that k (a cache key: tb byte, then the key or a
 * prefix) falls under, or NULL. */
static cent *prefix_of(const pg_txn *t, const unsigned char *k, size_t kn)
{
	cent *p;

	for (p = t->prefixes; p; p = p->dnext)
		if (p->k[0] == k[0] && p->kn <= kn && !memcmp(p->k, k, p->kn))
			return p;
	return NULL;
}

static int pg_get(store_txn *tx, enum store_table tb, sv key, sv *val)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1];
	cent *e = NULL;
	PGresult *r;
	int rc, present = 0;
	sv v = {"", 0};
	qp p;

	if (t->dead)
		return t->dead;
	if ((rc = table_ok(tb, key)))
		return rc == FS_E_BAD_REQUEST ? FS_E_NOT_FOUND : rc;
	if (t->write && !(e = cache_get(t, 't', k, kv_ckey(k, tb, key))))
		return fail(t);
	if (e && !e->known && prefix_of(t, e->k, e->kn)) {
		/* every row under the prefix is in the cache: not this one */
		e->known = 1;
		e->present = 0;
	}
	if (e && e->known) {
		present = e->present;
		v = e->v;
	} else {
		p.n = 0;
		p_i16(&p, tb);
		p_bytes(&p, key.p, key.n);
		if (!(r = q_read(t, Q_KV_GET, &p)))
			return t->dead;
		if (PQntuples(r) == 1) {
			present = 1;
			v = r_sv(r, 0, 0);
		}
		if (e) {
			e->known = 1;
			e->present = present;
			e->v = v;
		}
	}
	if (!present)
		return FS_E_NOT_FOUND;
	if (val)
		*val = v;
	return FS_OK;
}

static int pg_put(store_txn *tx, enum store_table tb, sv key, sv val)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1];
	cent *e;
	int rc;

	if ((rc = writable(t)) || (rc = table_ok(tb, key)))
		return rc;
	if ((val.n > 0 && !val.p) || val.n > INT32_MAX)
		return FS_E_BAD_REQUEST;
	if (!(e = cache_get(t, 't', k, kv_ckey(k, tb, key))) ||
	    !(e->v.p = tdup(t, val.p, val.n)))
		return fail(t);
	e->v.n = val.n;
	e->known = e->present = 1;
	return dirty_add(t, e);
}

static int pg_del(store_txn *tx, enum store_table tb, sv key)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1];
	cent *e;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if ((rc = table_ok(tb, key)))
		return rc == FS_E_BAD_REQUEST ? FS_OK : rc;
	if (!(e = cache_get(t, 't', k, kv_ckey(k, tb, key))))
		return fail(t);
	e->known = 1;
	e->present = 0;
	return dirty_add(t, e);
}

/* Bytewise order, as LMDB's default comparison. */
static int sv_cmp(sv a, sv b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int r = n ? memcmp(a.p, b.p, n) : 0;

	if (r)
		return r;
	return a.n < b.n ? -1 : a.n > b.n;
}

/* The first key past every key under prefix (1 <= prefix.n <= KEY_MAX)
 * into to: its length, 0 when there is none (the prefix all 0xff). */
static size_t prefix_end(unsigned char *to, sv prefix)
{
	size_t ton = prefix.n;

	memcpy(to, prefix.p, prefix.n);
	while (ton && to[ton - 1] == 0xff)
		ton--;
	if (ton)
		to[ton - 1]++;
	return ton;
}

static int cmp_cent_key(const void *a, const void *b)
{
	const cent *x = *(const cent *const *)a, *y = *(const cent *const *)b;

	return sv_cmp(sv_of(x->k, x->kn), sv_of(y->k, y->kn));
}

/* A scan of table tb under a prefix that falls under a known one, from
 * the cache alone (pk: the prefix's cache key): the rows from `from` on,
 * in key order. */
static int scan_cached(pg_txn *t, enum store_table tb, sv pk, sv from,
                       int (*cb)(void *ctx, sv key, sv val), void *ctx)
{
	unsigned char fk[KEY_MAX + 1];
	sv fromk = sv_of(fk, kv_ckey(fk, tb, from));
	cent **v = NULL, *e;
	size_t n = 0, cap = 0, i;
	int rc = FS_OK;

	for (i = 0; i < t->ntab; i++)
		for (e = t->tab[i]; e; e = e->next) {
			if (e->kind != 't' || !e->known || !e->present ||
			    e->kn < pk.n || memcmp(e->k, pk.p, pk.n) ||
			    sv_cmp(sv_of(e->k, e->kn), fromk) < 0)
				continue;
			if (n == cap) {
				cent **nv = realloc(v, (cap = cap ? 2 * cap : 16) *
				                           sizeof *v);
				if (!nv) {
					free(v);
					return fail(t);
				}
				v = nv;
			}
			v[n++] = e;
		}
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_cent_key);
	for (i = 0; i < n && !rc; i++)
		rc = cb(ctx, sv_of(v[i]->k + 1, v[i]->kn - 1), v[i]->v);
	free(v);
	return rc;
}

static int pg_scan(store_txn *tx, enum store_table tb, sv prefix, sv start,
                   int (*cb)(void *ctx, sv key, sv val), void *ctx)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char to[KEY_MAX + 1];
	size_t ton = 0;
	sv from, k;
	PGresult *r;
	int i, n, rc, first = 1;
	qp p;

	if (t->dead)
		return t->dead;
	if ((unsigned)tb >= ST__COUNT)
		return FS_E_INTERNAL;
	if ((prefix.n && !prefix.p) || (start.n && !start.p))
		return FS_E_BAD_REQUEST;
	from = sv_cmp(prefix, start) >= 0 ? prefix : start;
	if (from.n > KEY_MAX)
		return FS_OK; /* no key can be that long */
	if (t->write && t->prefixes && prefix.n && prefix.n <= KEY_MAX &&
	    prefix_of(t, to, kv_ckey(to, tb, prefix)))
		return scan_cached(t, tb, sv_of(to, prefix.n + 1), from, cb, ctx);
	if ((rc = flush_kind(t, 't', (int)tb)))
		return rc;
	/* the first key past the prefix bounds the query */
	if (prefix.n && prefix.n <= KEY_MAX)
		ton = prefix_end(to, prefix);
	for (;;) {
		p.n = 0;
		p_i16(&p, tb);
		p_bytes(&p, from.p, from.n);
		p_bool(&p, first);
		p_u64(&p, PAGE);
		if (ton)
			p_bytes(&p, to, ton);
		if (!(r = q_read(t, ton ? Q_KV_SCAN_TO : Q_KV_SCAN, &p)))
			return t->dead;
		n = PQntuples(r);
		for (i = 0; i < n; i++) {
			k = r_sv(r, i, 0);
			if (k.n < prefix.n ||
			    (prefix.n && memcmp(k.p, prefix.p, prefix.n)))
				return FS_OK;
			if ((rc = cb(ctx, k, r_sv(r, i, 1))))
				return rc;
		}
		if (n < PAGE)
			return FS_OK;
		from = r_sv(r, n - 1, 0);
		first = 0;
	}
}

/* ---- facts -------------------------------------------------------------------- */

static const char *pg_id(const store *st)
{
	pg_store *s = (pg_store *)st; /* the atomic load takes no const */
	struct store_idbuf *b = atomic_load(&s->id);

	return b ? b->hex : "";
}

static int pg_set_id(store_txn *tx)
{
	pg_txn *t = (pg_txn *)tx;
	char hex[33];
	int rc;

	if ((rc = writable(t)))
		return rc;
	if ((rc = new_id(hex)) ||
	    (rc = pg_put(tx, ST_META, sv_cstr("store_id"), sv_of(hex, 32))))
		return rc;
	memcpy(t->new_id, hex, sizeof hex);
	return FS_OK;
}

/* used: the database's size; mapsize: 0 (no map). */
static void pg_size(store *st, uint64_t *used, uint64_t *mapsize)
{
	pg_store *s = (pg_store *)st;
	PGconn *c;
	PGresult *r;
	int fresh;

	if (used)
		*used = 0;
	if (mapsize)
		*mapsize = 0;
	if (pool_get(s, &c, &fresh))
		return;
	r = PQexec(c, "SELECT pg_database_size(current_database())");
	if (res_ok(r) && PQntuples(r) == 1 && used)
		*used = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	pool_put(s, c, 0);
}

static uint64_t pg_commits(const store *st)
{
	pg_store *s = (pg_store *)st;

	return atomic_load(&s->commits);
}

/* ---- the shared clock ------------------------------------------------------------ */

static int pg_clock(store_txn *tx, uint64_t *hlc)
{
	pg_txn *t = (pg_txn *)tx;
	uint64_t seq;

	*hlc = 0;
	if (t->dead)
		return t->dead;
	return counter_read(t, &seq, hlc);
}

static int pg_clock_note(store_txn *tx, uint64_t hlc)
{
	pg_txn *t = (pg_txn *)tx;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (hlc > INT64_MAX)
		return FS_E_BAD_REQUEST;
	if (hlc > t->hlc)
		t->hlc = hlc;
	return FS_OK;
}

/* ---- changes from other nodes ------------------------------------------------------ */

static int unhex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Hands a NOTIFY payload from another node to the watcher. */
static void watch_deliver(pg_store *s, const char *payload)
{
	char *copy, *line, *save = NULL, **names = NULL;
	unsigned n = 0, cap = 0;
	size_t i, j;

	if (strlen(payload) < 32 || !memcmp(payload, s->node, 32) ||
	    !(copy = strdup(payload)))
		return; /* ours (or not a payload of ours at all) */
	for (line = strtok_r(copy + 32, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		for (i = j = 0; line[i]; j++) {
			if (line[i] == '%' && unhex(line[i + 1]) >= 0 &&
			    unhex(line[i + 2]) >= 0) {
				line[j] = (char)(unhex(line[i + 1]) << 4 |
				                 unhex(line[i + 2]));
				i += 3;
			} else {
				line[j] = line[i++];
			}
		}
		line[j] = 0;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof *nn);

			if (!nn)
				break;
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		names[n++] = line;
	}
	if (n)
		s->watch_fn(s->watch_ctx, names, n);
	free(names);
	free(copy);
}

/* The watch thread: LISTEN on a connection of its own, made again (with
 * a growing pause, up to 5 s) whenever PostgreSQL goes away.  Commits of
 * other nodes made while it was away are not replayed: those pokes are
 * lost, as a poke is only a hint to pull early. */
static void *watch_main(void *arg)
{
	pg_store *s = arg;
	unsigned pause = 100, slept;
	struct pollfd pf;
	PGnotify *nt;
	PGconn *c;

	while (!atomic_load(&s->stop)) {
		c = pg_connect(s, 0, NULL, 0);
		if (c && exec_ok(c, "LISTEN " CHANNEL, NULL, 0)) {
			pause = 100;
			while (!atomic_load(&s->stop)) {
				pf.fd = PQsocket(c);
				pf.events = POLLIN;
				pf.revents = 0;
				if (pf.fd < 0 || poll(&pf, 1, 200) < 0 ||
				    !PQconsumeInput(c))
					break;
				while ((nt = PQnotifies(c))) {
					watch_deliver(s, nt->extra);
					PQfreemem(nt);
				}
				if (PQstatus(c) != CONNECTION_OK)
					break;
			}
		}
		PQfinish(c);
		for (slept = 0; slept < pause && !atomic_load(&s->stop);
		     slept += 50)
			nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
		pause = pause * 2 > 5000 ? 5000 : pause * 2;
	}
	return NULL;
}

static int pg_watch(store *st, void (*fn)(void *ctx, char **buckets,
                                          unsigned n), void *ctx)
{
	pg_store *s = (pg_store *)st;

	if (s->watching || !fn)
		return FS_E_INTERNAL;
	s->watch_fn = fn;
	s->watch_ctx = ctx;
	if (pthread_create(&s->watcher, NULL, watch_main, s))
		return FS_E_INTERNAL;
	s->watching = 1;
	return FS_OK;
}

/* ---- prefetch ----------------------------------------------------------------------- */

static int pg_prefetch(store_txn *tx, const char *const *c,
                       const char *const *id, unsigned n)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1];
	char *cbuf, *ibuf;
	size_t need = ARR_HEAD, rkn;
	unsigned i;
	tarr ca, ia;
	PGresult *r;
	cent *e;
	qp p;
	int row;

	if (!t->write || t->dead || !n)
		return t->dead;
	for (i = 0; i < n; i++)
		if (rec_key_ok(c[i], id[i], &rkn))
			need += rkn + 4;
	if (!(cbuf = tmem(t, need)) || !(ibuf = tmem(t, need)))
		return fail(t);
	tarr_open(&ca, cbuf);
	tarr_open(&ia, ibuf);
	for (i = 0; i < n; i++) {
		if (!rec_key_ok(c[i], id[i], &rkn))
			continue;
		if (!(e = cache_get(t, 'r', k, rec_ckey(k, c[i], id[i]))))
			return fail(t);
		if (e->known)
			continue;
		tarr_str(&ca, c[i]);
		tarr_str(&ia, id[i]);
		/* not there unless the query finds it */
		e->known = 1;
		e->present = 0;
	}
	if (!ca.n)
		return FS_OK;
	p.n = 0;
	p_bytes(&p, ca.p, tarr_close(&ca));
	p_bytes(&p, ia.p, tarr_close(&ia));
	if (!(r = q_read(t, Q_REC_PREFETCH, &p)))
		return t->dead;
	for (row = 0; row < PQntuples(r); row++) {
		if (!(e = cache_get(t, 'r', k, rec_ckey(k, PQgetvalue(r, row, 0),
		                                        PQgetvalue(r, row, 1)))))
			return fail(t);
		e->present = 1;
		e->bucket = PQgetvalue(r, row, 2);
		e->seq = r_u64(r, row, 3);
		e->v = r_sv(r, row, 4);
	}
	return FS_OK;
}

/* ---- raw entries (store_copy) and test hooks ------------------------------------------- */

static int pg_prefetch_keys(store_txn *tx, enum store_table tb,
                            const sv *keys, unsigned n)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1];
	char *buf;
	size_t need = ARR_HEAD;
	unsigned i;
	tarr ka;
	PGresult *r;
	cent *e;
	qp p;
	int row;

	if (!t->write || t->dead || !n)
		return t->dead;
	for (i = 0; i < n; i++)
		if (table_ok(tb, keys[i]) == FS_OK)
			need += keys[i].n + 4;
	if (!(buf = tmem(t, need)))
		return fail(t);
	tarr_open(&ka, buf);
	for (i = 0; i < n; i++) {
		if (table_ok(tb, keys[i]) != FS_OK)
			continue;
		if (!(e = cache_get(t, 't', k, kv_ckey(k, tb, keys[i]))))
			return fail(t);
		if (e->known)
			continue;
		tarr_bytes(&ka, keys[i].p, keys[i].n);
		/* not there unless the query finds it */
		e->known = 1;
		e->present = 0;
	}
	if (!ka.n)
		return FS_OK;
	p.n = 0;
	p_i16(&p, tb);
	p_bytes(&p, ka.p, tarr_close(&ka));
	if (!(r = q_read(t, Q_KV_PREFETCH, &p)))
		return t->dead;
	for (row = 0; row < PQntuples(r); row++) {
		if (!(e = cache_get(t, 't', k, kv_ckey(k, tb, r_sv(r, row, 0)))))
			return fail(t);
		e->present = 1;
		e->v = r_sv(r, row, 1);
	}
	return FS_OK;
}

static int pg_prefetch_prefixes(store_txn *tx, enum store_table tb,
                                const sv *prefixes, unsigned n)
{
	pg_txn *t = (pg_txn *)tx;
	unsigned char k[KEY_MAX + 1], to[KEY_MAX + 1];
	char *lbuf, *hbuf;
	size_t need = ARR_HEAD, ton;
	unsigned i, j, m = 0, *rows;
	cent **sent, *e;
	tarr lo, hi;
	PGresult *r;
	qp p;
	int row;
	uint64_t at;

	if (!t->write || t->dead || !n)
		return t->dead;
	if ((unsigned)tb >= ST__COUNT)
		return FS_E_INTERNAL;
	for (i = 0; i < n; i++)
		if (table_ok(tb, prefixes[i]) == FS_OK)
			need += prefixes[i].n + 4; /* a prefix, or its end */
	if (!(lbuf = tmem(t, need)) || !(hbuf = tmem(t, need)) ||
	    !(sent = tmem(t, n * sizeof *sent)) ||
	    !(rows = tmem(t, n * sizeof *rows)))
		return fail(t);
	tarr_open(&lo, lbuf);
	tarr_open(&hi, hbuf);
	for (i = 0; i < n; i++) {
		if (table_ok(tb, prefixes[i]) != FS_OK ||
		    !(ton = prefix_end(to, prefixes[i])))
			continue;
		if (!(e = cache_get(t, 'p', k, kv_ckey(k, tb, prefixes[i]))))
			return fail(t);
		for (j = 0; j < m && sent[j] != e; j++)
			;
		if (e->known || j < m)
			continue; /* known, or named twice */
		tarr_bytes(&lo, prefixes[i].p, prefixes[i].n);
		tarr_bytes(&hi, to, ton);
		rows[m] = 0;
		sent[m++] = e;
	}
	if (!m)
		return FS_OK;
	p.n = 0;
	p_i16(&p, tb);
	p_bytes(&p, lo.p, tarr_close(&lo));
	p_bytes(&p, hi.p, tarr_close(&hi));
	p_u64(&p, PREFIX_ROWS + 1);
	if (!(r = q_read(t, Q_KV_PREFIXES, &p)))
		return t->dead;
	for (row = 0; row < PQntuples(r); row++) {
		at = r_u64(r, row, 0);
		if (at < 1 || at > m)
			return fail(t);
		rows[at - 1]++;
		if (!(e = cache_get(t, 't', k, kv_ckey(k, tb, r_sv(r, row, 1)))))
			return fail(t);
		if (e->known)
			continue; /* read or written before: the cache is newer */
		e->known = e->present = 1;
		e->v = r_sv(r, row, 2);
	}
	for (i = 0; i < m; i++)
		if (rows[i] <= PREFIX_ROWS) {
			sent[i]->known = 1;
			sent[i]->dnext = t->prefixes;
			t->prefixes = sent[i];
		}
	return FS_OK;
}

static int pg_raw_rec(store_txn *tx, const char *c, const char *id,
                      const char *bucket, uint64_t seq, sv val)
{
	pg_txn *t = (pg_txn *)tx;
	size_t rkn;
	qp p;
	int rc;

	if ((rc = writable(t)) || (rc = dirty_flush(t, "trg")))
		return rc;
	if (!rec_key_ok(c, id, &rkn) || !bucket_ok(bucket) || seq > INT64_MAX ||
	    (val.n && !val.p) || val.n > INT32_MAX)
		return FS_E_BAD_REQUEST;
	p.n = 0;
	p_str(&p, c);
	p_str(&p, id);
	p_str(&p, bucket);
	p_u64(&p, seq);
	p_bytes(&p, val.p, val.n);
	return q_send(t, Q_RAW_REC, &p);
}

static int pg_raw_gone(store_txn *tx, const char *bucket, uint64_t seq,
                       const char *c, const char *id)
{
	pg_txn *t = (pg_txn *)tx;
	size_t rkn;
	qp p;
	int rc;

	if ((rc = writable(t)) || (rc = dirty_flush(t, "trg")))
		return rc;
	if (!rec_key_ok(c, id, &rkn) || !bucket_ok(bucket) || seq > INT64_MAX)
		return FS_E_BAD_REQUEST;
	p.n = 0;
	p_str(&p, bucket);
	p_str(&p, c);
	p_str(&p, id);
	p_u64(&p, seq);
	return q_send(t, Q_RAW_GONE, &p);
}

static int pg_raw_binfo(store_txn *tx, const char *bucket, uint64_t head,
                        uint64_t floor)
{
	pg_txn *t = (pg_txn *)tx;
	qp p;
	int rc;

	if ((rc = writable(t)) || (rc = dirty_flush(t, "trg")))
		return rc;
	if (!bucket || !*bucket || strlen(bucket) > KEY_MAX ||
	    head > INT64_MAX || floor > INT64_MAX)
		return FS_E_BAD_REQUEST;
	p.n = 0;
	p_str(&p, bucket);
	p_u64(&p, head);
	p_u64(&p, floor);
	return q_send(t, Q_RAW_BINFO, &p);
}

static int pg_raw_seq(store_txn *tx, uint64_t seq)
{
	pg_txn *t = (pg_txn *)tx;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (seq > INT64_MAX)
		return FS_E_BAD_REQUEST;
	t->seq = seq;
	return FS_OK;
}

static int pg_gone_scan(store_txn *tx, store_gone_cb cb, void *ctx)
{
	pg_txn *t = (pg_txn *)tx;
	sv lb = sv_of("", 0), lc = lb, lid = lb;
	PGresult *r;
	int i, n, rc;
	qp p;

	if ((rc = dirty_flush(t, "g")))
		return rc;
	for (;;) {
		p.n = 0;
		p_bytes(&p, lb.p, lb.n);
		p_bytes(&p, lc.p, lc.n);
		p_bytes(&p, lid.p, lid.n);
		p_u64(&p, PAGE);
		if (!(r = q_read(t, Q_GSCAN, &p)))
			return t->dead;
		n = PQntuples(r);
		for (i = 0; i < n; i++)
			if ((rc = cb(ctx, PQgetvalue(r, i, 0), r_u64(r, i, 3),
			             PQgetvalue(r, i, 1), PQgetvalue(r, i, 2))))
				return rc;
		if (n < PAGE)
			return FS_OK;
		lb = r_sv(r, n - 1, 0);
		lc = r_sv(r, n - 1, 1);
		lid = r_sv(r, n - 1, 2);
	}
}

static int pg_binfo_scan(store_txn *tx, store_binfo_cb cb, void *ctx)
{
	pg_txn *t = (pg_txn *)tx;
	sv lb = sv_of("", 0);
	PGresult *r;
	int i, n, rc;
	qp p;

	if (t->dead)
		return t->dead;
	for (;;) {
		p.n = 0;
		p_bytes(&p, lb.p, lb.n);
		p_u64(&p, PAGE);
		if (!(r = q_read(t, Q_BISCAN, &p)))
			return t->dead;
		n = PQntuples(r);
		for (i = 0; i < n; i++)
			if ((rc = cb(ctx, PQgetvalue(r, i, 0), r_u64(r, i, 1),
			             r_u64(r, i, 2))))
				return rc;
		if (n < PAGE)
			return FS_OK;
		lb = r_sv(r, n - 1, 0);
	}
}

/* The record keeps its row but leaves its bucket's index: its seq moves
 * past the store's, which the integrity walk reports. */
static int pg_debug_unindex(store_txn *tx, const char *c, const char *id)
{
	pg_txn *t = (pg_txn *)tx;
	recinfo ri;
	size_t rkn;
	qp p;
	int rc;

	if ((rc = writable(t)) || (rc = dirty_flush(t, "trg")))
		return rc;
	if (!rec_key_ok(c, id, &rkn))
		return FS_E_BAD_REQUEST;
	if ((rc = rec_fetch(t, c, id, &ri)))
		return rc;
	if (!ri.present)
		return FS_E_NOT_FOUND;
	p.n = 0;
	p_str(&p, c);
	p_str(&p, id);
	return q_sendx(t, -1, "UPDATE fs_records SET seq = "
	                      "(SELECT seq + 1000000 FROM fs_counter) "
	                      "WHERE c = $1 AND id = $2", &p);
}

static int pg_debug_clear(store_txn *tx)
{
	pg_txn *t = (pg_txn *)tx;
	size_t i;
	cent *e;
	int rc;

	if ((rc = writable(t)) || (rc = dirty_flush(t, "trg")) ||
	    (rc = q_sendx(t, -1, "DELETE FROM fs_records", NULL)) ||
	    (rc = q_sendx(t, -1, "DELETE FROM fs_gone", NULL)) ||
	    (rc = q_sendx(t, -1, "DELETE FROM fs_buckets", NULL)) ||
	    (rc = q_sendx(t, -1, "DELETE FROM fs_kv WHERE NOT (tb = 0 AND "
	                         "k = '\\x73746f72655f6964'::bytea)", NULL)))
		return rc;
	/* the cache now knows every row is gone, the store id aside */
	for (i = 0; i < t->ntab; i++)
		for (e = t->tab[i]; e; e = e->next) {
			if (e->kind == 't' && e->kn == 9 &&
			    !memcmp(e->k, "\0store_id", 9))
				continue;
			e->known = 1;
			e->present = 0;
			e->head = e->floor = e->rhead = e->rfloor = 0;
		}
	t->seq = 0;
	return FS_OK;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.hints = 1,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.abort = pg_abort,
	.grow = pg_grow,
	.rec_get = pg_rec_get,
	.rec_put = pg_rec_put,
	.rec_purge = pg_rec_purge,
	.gone_purge = pg_gone_purge,
	.bucket_scan = pg_bucket_scan,
	.bucket_info = pg_bucket_info,
	.seq = pg_seq,
	.rec_scan = pg_rec_scan,
	.check = pg_check,
	.get = pg_get,
	.put = pg_put,
	.del = pg_del,
	.scan = pg_scan,
	.id = pg_id,
	.size = pg_size,
	.commits = pg_commits,
	.set_id = pg_set_id,
	.backup = NULL, /* store.c: through a temporary LMDB store */
	.debug_unindex = pg_debug_unindex,
	.debug_clear = pg_debug_clear,
	.clock = pg_clock,
	.clock_note = pg_clock_note,
	.watch = pg_watch,
	.prefetch = pg_prefetch,
	.prefetch_keys = pg_prefetch_keys,
	.prefetch_prefixes = pg_prefetch_prefixes,
	.raw_rec = pg_raw_rec,
	.raw_gone = pg_raw_gone,
	.raw_binfo = pg_raw_binfo,
	.raw_seq = pg_raw_seq,
	.gone_scan = pg_gone_scan,
	.binfo_scan = pg_binfo_scan,
};
