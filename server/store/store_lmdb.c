/*
 * store_lmdb.c — store.h over LMDB, the only file that includes lmdb.h.
 *
 * Layout (named databases in one environment):
 *   recs   key  c \0 id \0
 *          val  [1] version (1) | [8] seq BE | [2] bucket length BE |
 *               bucket \0 | the record's stored bytes
 *   idx    key  bucket \0 seq(8, BE)          (so a pull is one range)
 *          val  [1] kind ('r' record, 'g' gone) | c \0 id \0
 *   gone   key  bucket \0 c \0 id \0           (gone entry of a record)
 *          val  seq(8, BE)
 *   binfo  key  bucket
 *          val  head(8, BE) | floor(8, BE)
 *   _meta  key  "seq" -> seq(8, BE), the store-wide counter
 *   t_*    one database per enum store_table, keys and values as given.
 * Keys and names are stored NUL-terminated so the pointers handed back
 * (store_entry.c/id, a record's bucket) point into the map itself.
 *
 * Transactions: a gate (mutex + condition) counts the open transactions;
 * store_grow() closes the gate, waits for the count to reach zero and
 * resizes the map.  A counter rather than a pthread_rwlock because with
 * MDB_NOTLS a read transaction may end on another thread than the one
 * that began it, and a rwlock must be unlocked by its owner.
 */
#include "server/store/store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "server/lib/crypto.h"
#include "protocol/be64.h"

#define MIB ((size_t)1 << 20)
#define REC_VERSION 1
#define REC_HDR 11 /* version, seq, bucket length */
#define KIND_REC 'r'
#define KIND_GONE 'g'
#define KEY_MAX 511 /* LMDB's default; the live one is asked at open */

static const char *const table_names[ST__COUNT] = {
	[ST_META] = "t_meta",       [ST_TOKENS] = "t_tokens",
	[ST_CODES] = "t_codes",     [ST_PINS] = "t_pins",
	[ST_DEVICES] = "t_devices", [ST_DEVSTAFF] = "t_devstaff",
	[ST_ACKS] = "t_acks",       [ST_ANCHORS] = "t_anchors",
	[ST_SHIFTS] = "t_shifts",   [ST_BLOBS] = "t_blobs",
	[ST_AUX] = "t_aux",         [ST_AUDIT] = "t_audit",
};

/* Store ids ever made while open: store_id() hands out a pointer that
 * stays valid until close, so replaced ids are kept, not freed. */
typedef struct lm_store lm_store;
typedef struct lm_txn lm_txn;

static const struct store_ops lm_ops;

struct store_idbuf {
	struct store_idbuf *next;
	char hex[33];
};

struct lm_store {
	struct store base; /* ops first: store.c dispatches on it */
	MDB_env *env;
	MDB_dbi recs, idx, gone, binfo, meta;
	MDB_dbi tables[ST__COUNT];
	size_t keymax;
	size_t map_mb, max_mb;
	store_opts opts;
	pthread_mutex_t gate_mu;
	pthread_cond_t gate_cv;
	unsigned open_txns;
	int growing;
	int gate_ok;
	_Atomic(struct store_idbuf *) id;
	struct store_idbuf *ids; /* every id made, freed at close */
	_Atomic uint64_t commits;
};

struct lm_txn {
	struct store_txn base;
	lm_store *s;
	MDB_txn *txn;
	int write;
	int dead;   /* a write failed: every call returns this code */
	char new_id[33]; /* store_set_id: becomes store_id() on commit */
};

/* ---- small helpers ------------------------------------------------------- */


static MDB_val mval(const void *p, size_t n)
{
	MDB_val v = {n, (void *)p};
	return v;
}

/* Map an LMDB code.  In a write transaction any failure of a write
 * leaves LMDB's txn unusable, so the txn is marked dead with the code. */
static int map_rc(lm_txn *t, int rc)
{
	int code;

	switch (rc) {
	case MDB_SUCCESS:
		return FS_OK;
	case MDB_NOTFOUND:
		return FS_E_NOT_FOUND;
	case MDB_BAD_VALSIZE:
		return FS_E_BAD_REQUEST;
	case MDB_MAP_FULL:
		code = STORE_FULL;
		break;
	default:
		code = FS_E_UNAVAILABLE;
		break;
	}
	if (t && t->write && !t->dead)
		t->dead = code;
	return code;
}

/* A write through t: refuses read transactions and dead ones. */
static int writable(lm_txn *t)
{
	if (!t || !t->write)
		return FS_E_INTERNAL;
	return t->dead;
}

static int put(lm_txn *t, MDB_dbi dbi, const void *k, size_t kn,
               const void *v, size_t vn)
{
	MDB_val key = mval(k, kn), val = mval(v, vn);

	return map_rc(t, mdb_put(t->txn, dbi, &key, &val, 0));
}

static int del(lm_txn *t, MDB_dbi dbi, const void *k, size_t kn)
{
	MDB_val key = mval(k, kn);
	int rc = mdb_del(t->txn, dbi, &key, NULL);

	return rc == MDB_NOTFOUND ? FS_E_NOT_FOUND : map_rc(t, rc);
}

static int get(lm_txn *t, MDB_dbi dbi, const void *k, size_t kn,
               MDB_val *val)
{
	MDB_val key = mval(k, kn);

	return map_rc(t, mdb_get(t->txn, dbi, &key, val));
}

/* ---- keys ---------------------------------------------------------------- */

/* Longest key any database here is given: gone's bucket\0c\0id\0. */
typedef struct {
	unsigned char b[KEY_MAX + 1];
	size_t n;
} keybuf;

/* Builds c\0id\0 (recs key, idx value tail). */
static int key_rec(const lm_store *s, keybuf *k, const char *c, const char *id)
{
	size_t cl, il;

	if (!c || !id)
		return FS_E_BAD_REQUEST;
	cl = strlen(c);
	il = strlen(id);
	if (cl == 0 || il == 0 || cl > s->keymax || il > s->keymax ||
	    cl + il + 2 > s->keymax)
		return FS_E_BAD_REQUEST;
	memcpy(k->b, c, cl + 1);
	memcpy(k->b + cl + 1, id, il + 1);
	k->n = cl + il + 2;
	return FS_OK;
}

/* bucket \0 seq(8) */
static int key_idx(const lm_store *s, keybuf *k, const char *bucket, size_t bl,
                   uint64_t seq)
{
	if (bl == 0 || bl + 9 > s->keymax)
		return FS_E_BAD_REQUEST;
	memcpy(k->b, bucket, bl);
	k->b[bl] = 0;
	be64_put(k->b + bl + 1, seq);
	k->n = bl + 9;
	return FS_OK;
}

/* bucket \0 c \0 id \0, from the recs key rk */
static int key_gone(const lm_store *s, keybuf *k, const char *bucket, size_t bl,
                    const keybuf *rk)
{
	if (bl == 0 || bl + 1 + rk->n > s->keymax)
		return FS_E_BAD_REQUEST;
	memcpy(k->b, bucket, bl);
	k->b[bl] = 0;
	memcpy(k->b + bl + 1, rk->b, rk->n);
	k->n = bl + 1 + rk->n;
	return FS_OK;
}

/* Splits a c\0id\0 string of n bytes: 0 when malformed. */
static int split_rec(const void *p, size_t n, const char **c, const char **id)
{
	const char *b = p, *z;

	if (n < 4 || b[n - 1] != 0)
		return 0;
	z = memchr(b, 0, n);
	if (!z || z == b || (size_t)(z - b) + 2 >= n)
		return 0;
	*c = b;
	*id = z + 1;
	return strlen(*id) + 1 == n - (size_t)(z + 1 - b);
}

/* ---- stored forms -------------------------------------------------------- */

typedef struct {
	uint64_t seq;
	const char *bucket; /* NUL-terminated, in the map */
	size_t bl;
	sv val;
} recval;

static int rec_parse(const MDB_val *v, recval *r)
{
	const unsigned char *p = v->mv_data;
	size_t bl;

	if (v->mv_size < REC_HDR + 2 || p[0] != REC_VERSION)
		return FS_E_INTERNAL;
	r->seq = be64_get(p + 1);
	bl = (size_t)p[9] << 8 | p[10];
	if (bl == 0 || REC_HDR + bl + 1 > v->mv_size || p[REC_HDR + bl] != 0)
		return FS_E_INTERNAL;
	r->bucket = (const char *)p + REC_HDR;
	r->bl = bl;
	r->val.p = p + REC_HDR + bl + 1;
	r->val.n = v->mv_size - (REC_HDR + bl + 1);
	return FS_OK;
}

typedef struct {
	uint64_t head, floor;
} binfo;

static int binfo_get(lm_txn *t, const char *bucket, size_t bl, binfo *bi)
{
	MDB_val v;
	int rc;

	bi->head = bi->floor = 0;
	rc = get(t, t->s->binfo, bucket, bl, &v);
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	if (v.mv_size != 16)
		return FS_E_INTERNAL;
	bi->head = be64_get(v.mv_data);
	bi->floor = be64_get((const unsigned char *)v.mv_data + 8);
	return FS_OK;
}

/* Raise head and/or floor of a bucket (neither ever goes down). */
static int binfo_raise(lm_txn *t, const char *bucket, size_t bl,
                       uint64_t head, uint64_t floor)
{
	unsigned char b[16];
	binfo bi;
	int rc;

	if ((rc = binfo_get(t, bucket, bl, &bi)))
		return rc;
	if (head <= bi.head && floor <= bi.floor)
		return FS_OK;
	be64_put(b, head > bi.head ? head : bi.head);
	be64_put(b + 8, floor > bi.floor ? floor : bi.floor);
	return put(t, t->s->binfo, bucket, bl, b, sizeof b);
}

static int seq_get(lm_txn *t, uint64_t *seq)
{
	MDB_val v;
	int rc = get(t, t->s->meta, "seq", 3, &v);

	*seq = 0;
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return FS_E_INTERNAL;
	*seq = be64_get(v.mv_data);
	return FS_OK;
}

/* ---- the gate ------------------------------------------------------------ */

static void gate_enter(lm_store *s)
{
	pthread_mutex_lock(&s->gate_mu);
	while (s->growing)
		pthread_cond_wait(&s->gate_cv, &s->gate_mu);
	s->open_txns++;
	pthread_mutex_unlock(&s->gate_mu);
}

static void gate_leave(lm_store *s)
{
	pthread_mutex_lock(&s->gate_mu);
	if (--s->open_txns == 0)
		pthread_cond_broadcast(&s->gate_cv);
	pthread_mutex_unlock(&s->gate_mu);
}

/* ---- open / close -------------------------------------------------------- */

static void lm_close(store *st);

static int new_id(char hex[33])
{
	unsigned char r[16];
	int rc = crypto_random(r, sizeof r);

	if (rc)
		return rc;
	hex_encode(r, sizeof r, hex);
	return FS_OK;
}

/* Remember an id for store_id(); it stays allocated until close. */
static int id_publish(lm_store *s, const char *hex, size_t n)
{
	struct store_idbuf *b;

	if (n != 32)
		return FS_E_INTERNAL;
	b = calloc(1, sizeof *b);
	if (!b)
		return FS_E_INTERNAL;
	memcpy(b->hex, hex, 32);
	b->hex[32] = 0;
	pthread_mutex_lock(&s->gate_mu);
	b->next = s->ids;
	s->ids = b;
	pthread_mutex_unlock(&s->gate_mu);
	atomic_store(&s->id, b);
	return FS_OK;
}

/* Creates the databases and the store id in one write transaction. */
static int open_dbis(lm_store *s)
{
	lm_txn t = {.s = s, .write = 1};
	MDB_val k = mval("store_id", 8), v;
	char hex[33];
	int rc, i;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &t.txn)))
		return map_rc(NULL, rc);
	if ((rc = mdb_dbi_open(t.txn, "recs", MDB_CREATE, &s->recs)) ||
	    (rc = mdb_dbi_open(t.txn, "idx", MDB_CREATE, &s->idx)) ||
	    (rc = mdb_dbi_open(t.txn, "gone", MDB_CREATE, &s->gone)) ||
	    (rc = mdb_dbi_open(t.txn, "binfo", MDB_CREATE, &s->binfo)) ||
	    (rc = mdb_dbi_open(t.txn, "_meta", MDB_CREATE, &s->meta)))
		goto out;
	for (i = 0; i < ST__COUNT; i++)
		if ((rc = mdb_dbi_open(t.txn, table_names[i], MDB_CREATE,
		                       &s->tables[i])))
			goto out;
	rc = mdb_get(t.txn, s->tables[ST_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		if ((rc = new_id(hex)))
			goto out_fs;
		v = mval(hex, 32);
		if ((rc = mdb_put(t.txn, s->tables[ST_META], &k, &v, 0)))
			goto out;
	} else if (rc) {
		goto out;
	}
	if ((rc = id_publish(s, v.mv_data, v.mv_size)))
		goto out_fs;
	rc = mdb_txn_commit(t.txn);
	t.txn = NULL;
out:
	rc = map_rc(NULL, rc);
out_fs:
	if (t.txn)
		mdb_txn_abort(t.txn);
	return rc;
}

int store_lmdb_open(store **out, const char *dir, const store_opts *o)
{
	lm_store *s;
	unsigned readers;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return FS_E_INTERNAL;
	s->base.ops = &lm_ops;
	if (o)
		s->opts = *o;
	s->map_mb = s->opts.map_mb ? s->opts.map_mb : 256;
	s->max_mb = s->opts.max_mb ? s->opts.max_mb : 65536;
	if (s->max_mb < s->map_mb)
		s->max_mb = s->map_mb;
	if (s->max_mb > SIZE_MAX / MIB) {
		rc = FS_E_BAD_REQUEST;
		goto out;
	}
	readers = s->opts.readers ? s->opts.readers : 256;
	if (pthread_mutex_init(&s->gate_mu, NULL)) {
		free(s);
		return FS_E_INTERNAL;
	}
	if (pthread_cond_init(&s->gate_cv, NULL)) {
		pthread_mutex_destroy(&s->gate_mu);
		free(s);
		return FS_E_INTERNAL;
	}
	s->gate_ok = 1;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	if ((rc = mdb_env_create(&s->env))) {
		s->env = NULL;
		rc = FS_E_INTERNAL;
		goto out;
	}
	/* The map size is set after open: an existing store keeps the size
	 * it grew to (LMDB reads it from the meta page when none is set). */
	/* recs, idx, gone, binfo, _meta and one per table */
	_Static_assert(5 + ST__COUNT <= 32, "raise maxdbs");
	if (mdb_env_set_maxdbs(s->env, 32) ||
	    mdb_env_set_maxreaders(s->env, readers)) {
		rc = FS_E_INTERNAL;
		goto out;
	}
	/* MDB_NOTLS: read txns are not tied to threads.  No NOSYNC, no
	 * NOMETASYNC, no WRITEMAP: a commit is on disk when it returns. */
	if (mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	{
		int dead;
		MDB_envinfo ei;

		mdb_reader_check(s->env, &dead); /* crashed processes */
		if (mdb_env_info(s->env, &ei)) {
			rc = FS_E_INTERNAL;
			goto out;
		}
		if (ei.me_mapsize > s->map_mb * MIB)
			s->map_mb = (ei.me_mapsize + MIB - 1) / MIB;
		if (mdb_env_set_mapsize(s->env, s->map_mb * MIB)) {
			rc = FS_E_UNAVAILABLE;
			goto out;
		}
		if (s->max_mb < s->map_mb)
			s->max_mb = s->map_mb;
	}
	s->keymax = (size_t)mdb_env_get_maxkeysize(s->env);
	if (s->keymax > KEY_MAX)
		s->keymax = KEY_MAX;
	rc = open_dbis(s);
out:
	if (rc)
		lm_close(&s->base);
	else
		*out = &s->base;
	return rc;
}

static void lm_close(store *st)
{
	lm_store *s = (lm_store *)st;
	struct store_idbuf *b, *next;

	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	for (b = s->ids; b; b = next) {
		next = b->next;
		free(b);
	}
	if (s->gate_ok) {
		pthread_cond_destroy(&s->gate_cv);
		pthread_mutex_destroy(&s->gate_mu);
	}
	free(s);
}

/* ---- transactions -------------------------------------------------------- */

static int lm_begin(store *st, int write, store_txn **out)
{
	lm_store *s = (lm_store *)st;
	lm_txn *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		return FS_E_INTERNAL;
	t->base.ops = &lm_ops;
	t->s = s;
	t->write = write ? 1 : 0;
	gate_enter(s);
	rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc) {
		gate_leave(s);
		free(t);
		return rc == MDB_MAP_FULL ? STORE_FULL : FS_E_UNAVAILABLE;
	}
	*out = &t->base;
	return FS_OK;
}

static void txn_free(lm_txn *t)
{
	lm_store *s = t->s;

	free(t);
	gate_leave(s);
}

static int lm_commit(store_txn *tx)
{
	lm_txn *t = (lm_txn *)tx;
	lm_store *s;
	int rc;

	if (!t)
		return FS_E_INTERNAL;
	s = t->s;
	if (!t->write) {
		mdb_txn_abort(t->txn);
		txn_free(t);
		return FS_OK;
	}
	if (t->dead) {
		rc = t->dead;
		mdb_txn_abort(t->txn);
		goto out;
	}
	if (s->opts.fail_commit && s->opts.fail_commit(s->opts.fail_ctx)) {
		mdb_txn_abort(t->txn);
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	rc = mdb_txn_commit(t->txn); /* frees the txn whatever it returns */
	if (rc == MDB_MAP_FULL) {
		rc = STORE_FULL;
		goto out;
	}
	if (rc) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	atomic_fetch_add(&s->commits, 1);
	if (t->new_id[0])
		rc = id_publish(s, t->new_id, 32);
out:
	txn_free(t);
	return rc;
}

static void lm_abort(store_txn *tx)
{
	lm_txn *t = (lm_txn *)tx;
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	txn_free(t);
}

static int lm_grow(store *st)
{
	lm_store *s = (lm_store *)st;
	size_t next;
	int rc = FS_OK;

	pthread_mutex_lock(&s->gate_mu);
	while (s->growing)
		pthread_cond_wait(&s->gate_cv, &s->gate_mu);
	s->growing = 1;
	while (s->open_txns)
		pthread_cond_wait(&s->gate_cv, &s->gate_mu);
	if (s->map_mb >= s->max_mb) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	next = s->map_mb > s->max_mb / 2 ? s->max_mb : s->map_mb * 2;
	if (mdb_env_set_mapsize(s->env, next * MIB)) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	s->map_mb = next;
out:
	s->growing = 0;
	pthread_cond_broadcast(&s->gate_cv);
	pthread_mutex_unlock(&s->gate_mu);
	return rc;
}

/* ---- records ------------------------------------------------------------- */

static int lm_rec_get(store_txn *tx, const char *c, const char *id, sv *val,
                  const char **bucket, uint64_t *seq)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf rk;
	MDB_val v;
	recval r;
	int rc;

	if (t->dead)
		return t->dead;
	if ((rc = key_rec(t->s, &rk, c, id)))
		return rc == FS_E_BAD_REQUEST ? FS_E_NOT_FOUND : rc;
	if ((rc = get(t, t->s->recs, rk.b, rk.n, &v)))
		return rc;
	if ((rc = rec_parse(&v, &r)))
		return rc;
	if (val)
		*val = r.val;
	if (bucket)
		*bucket = r.bucket;
	if (seq)
		*seq = r.seq;
	return FS_OK;
}

/* Puts the gone entry of record rk in bucket (bl bytes) at seq,
 * replacing an earlier one. */
static int gone_set(lm_txn *t, const char *bucket, size_t bl,
                    const keybuf *rk, uint64_t seq)
{
	keybuf gk, ik;
	MDB_val v;
	unsigned char sb[8], iv[KEY_MAX + 2];
	int rc;

	if ((rc = key_gone(t->s, &gk, bucket, bl, rk)))
		return rc;
	rc = get(t, t->s->gone, gk.b, gk.n, &v);
	if (rc == FS_OK) {
		if (v.mv_size != 8)
			return FS_E_INTERNAL;
		if ((rc = key_idx(t->s, &ik, bucket, bl, be64_get(v.mv_data))))
			return rc;
		rc = del(t, t->s->idx, ik.b, ik.n);
		if (rc && rc != FS_E_NOT_FOUND)
			return rc;
	} else if (rc != FS_E_NOT_FOUND) {
		return rc;
	}
	if ((rc = key_idx(t->s, &ik, bucket, bl, seq)))
		return rc;
	iv[0] = KIND_GONE;
	memcpy(iv + 1, rk->b, rk->n);
	if ((rc = put(t, t->s->idx, ik.b, ik.n, iv, rk->n + 1)))
		return rc;
	be64_put(sb, seq);
	if ((rc = put(t, t->s->gone, gk.b, gk.n, sb, 8)))
		return rc;
	return binfo_raise(t, bucket, bl, seq, 0);
}

/* Removes the gone entry of record rk in bucket, if any. */
static int gone_clear(lm_txn *t, const char *bucket, size_t bl,
                      const keybuf *rk)
{
	keybuf gk, ik;
	MDB_val v;
	int rc;

	if ((rc = key_gone(t->s, &gk, bucket, bl, rk)))
		return rc;
	rc = get(t, t->s->gone, gk.b, gk.n, &v);
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return FS_E_INTERNAL;
	if ((rc = key_idx(t->s, &ik, bucket, bl, be64_get(v.mv_data))))
		return rc;
	rc = del(t, t->s->idx, ik.b, ik.n);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	rc = del(t, t->s->gone, gk.b, gk.n);
	return rc == FS_E_NOT_FOUND ? FS_OK : rc;
}

/* The record's stored form is built in a buffer of our own before the
 * first write: val may point into the store (a store_rec_get() of this
 * txn), where the writes below may move it. */
static int lm_rec_put(store_txn *tx, const char *c, const char *id,
                  const char *bucket, sv val, uint64_t *seq_out)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf rk, ik, gk;
	char old[KEY_MAX + 1];
	size_t bl, oldl = 0, n;
	uint64_t seq, oldseq = 0;
	unsigned char sb[8], iv[KEY_MAX + 2], *buf = NULL;
	MDB_val v;
	recval r;
	int rc, had = 0;

	if ((rc = writable(t)))
		return rc;
	if (!bucket || (rc = key_rec(t->s, &rk, c, id)))
		return FS_E_BAD_REQUEST;
	bl = strlen(bucket);
	/* Every key this put may write must fit, checked before any write. */
	if (bl > 0xffff || key_idx(t->s, &ik, bucket, bl, 0) ||
	    key_gone(t->s, &gk, bucket, bl, &rk) ||
	    (val.n > 0 && !val.p) || val.n > SIZE_MAX - REC_HDR - bl - 1)
		return FS_E_BAD_REQUEST;

	rc = get(t, t->s->recs, rk.b, rk.n, &v);
	if (rc == FS_OK) {
		if ((rc = rec_parse(&v, &r)))
			return rc;
		had = 1;
		oldl = r.bl;
		oldseq = r.seq;
		if (oldl > KEY_MAX)
			return FS_E_INTERNAL;
		memcpy(old, r.bucket, oldl + 1); /* gone at the next write */
	} else if (rc != FS_E_NOT_FOUND) {
		return rc;
	}
	if ((rc = seq_get(t, &seq)))
		return rc;
	if (seq == UINT64_MAX)
		return FS_E_INTERNAL;
	seq++;

	n = REC_HDR + bl + 1 + val.n;
	if (!(buf = malloc(n)))
		return FS_E_INTERNAL;
	buf[0] = REC_VERSION;
	be64_put(buf + 1, seq);
	buf[9] = (unsigned char)(bl >> 8);
	buf[10] = (unsigned char)bl;
	memcpy(buf + REC_HDR, bucket, bl + 1);
	if (val.n)
		memcpy(buf + REC_HDR + bl + 1, val.p, val.n);

	be64_put(sb, seq);
	if ((rc = put(t, t->s->meta, "seq", 3, sb, 8)))
		goto out;
	if (had) {
		if ((rc = key_idx(t->s, &ik, old, oldl, oldseq)))
			goto out;
		rc = del(t, t->s->idx, ik.b, ik.n);
		if (rc && rc != FS_E_NOT_FOUND)
			goto out;
		if ((oldl != bl || memcmp(old, bucket, bl)) &&
		    (rc = gone_set(t, old, oldl, &rk, seq)))
			goto out;
	}
	if ((rc = gone_clear(t, bucket, bl, &rk)))
		goto out;
	if ((rc = put(t, t->s->recs, rk.b, rk.n, buf, n)))
		goto out;
	if ((rc = key_idx(t->s, &ik, bucket, bl, seq)))
		goto out;
	iv[0] = KIND_REC;
	memcpy(iv + 1, rk.b, rk.n);
	if ((rc = put(t, t->s->idx, ik.b, ik.n, iv, rk.n + 1)))
		goto out;
	if ((rc = binfo_raise(t, bucket, bl, seq, 0)))
		goto out;
	if (seq_out)
		*seq_out = seq;
out:
	free(buf);
	return rc;
}

static int lm_rec_purge(store_txn *tx, const char *c, const char *id)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf rk, ik;
	char old[KEY_MAX + 1];
	size_t oldl;
	uint64_t oldseq;
	MDB_val v;
	recval r;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (key_rec(t->s, &rk, c, id))
		return FS_E_NOT_FOUND;
	if ((rc = get(t, t->s->recs, rk.b, rk.n, &v)))
		return rc;
	if ((rc = rec_parse(&v, &r)))
		return rc;
	oldl = r.bl;
	oldseq = r.seq;
	if (oldl > KEY_MAX)
		return FS_E_INTERNAL;
	memcpy(old, r.bucket, oldl + 1);
	if ((rc = key_idx(t->s, &ik, old, oldl, oldseq)))
		return rc;
	rc = del(t, t->s->idx, ik.b, ik.n);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	if ((rc = del(t, t->s->recs, rk.b, rk.n)))
		return rc;
	return binfo_raise(t, old, oldl, 0, oldseq);
}

static int lm_gone_purge(store_txn *tx, const char *bucket, uint64_t before)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf ik, gk, rk;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t bl;
	uint64_t top = 0, seq;
	int rc, op;

	if ((rc = writable(t)))
		return rc;
	if (!bucket)
		return FS_E_BAD_REQUEST;
	bl = strlen(bucket);
	if (key_idx(t->s, &ik, bucket, bl, 0))
		return FS_E_BAD_REQUEST;
	if (before <= 1)
		return FS_OK;
	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->idx, &cur))))
		return rc;
	k = mval(ik.b, ik.n);
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			goto out;
		if (k.mv_size != bl + 9 || memcmp(k.mv_data, bucket, bl) ||
		    ((const char *)k.mv_data)[bl] != 0)
			break;
		seq = be64_get((const unsigned char *)k.mv_data + bl + 1);
		if (seq >= before)
			break;
		if (v.mv_size < 1 || ((const char *)v.mv_data)[0] != KIND_GONE)
			continue;
		if (v.mv_size - 1 > KEY_MAX) {
			rc = FS_E_INTERNAL;
			goto out;
		}
		rk.n = v.mv_size - 1;
		memcpy(rk.b, (const char *)v.mv_data + 1, rk.n);
		/* After a cursor delete, MDB_NEXT yields the following entry. */
		if ((rc = map_rc(t, mdb_cursor_del(cur, 0))))
			goto out;
		if ((rc = key_gone(t->s, &gk, bucket, bl, &rk)))
			goto out;
		rc = del(t, t->s->gone, gk.b, gk.n);
		if (rc && rc != FS_E_NOT_FOUND)
			goto out;
		top = seq;
	}
	if (top)
		rc = binfo_raise(t, bucket, bl, 0, top);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* want: no use here, a cursor reads no entry it is not asked for */
static int lm_bucket_scan(store_txn *tx, const char *bucket, uint64_t after,
                          uint32_t want,
                          int (*cb)(void *ctx, const store_entry *e),
                          void *ctx)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf ik;
	MDB_cursor *cur = NULL;
	MDB_val k, v, rv;
	store_entry e;
	size_t bl;
	recval r;
	int rc, op;

	if (t->dead)
		return t->dead;
	if (!bucket)
		return FS_E_BAD_REQUEST;
	bl = strlen(bucket);
	if (after == UINT64_MAX)
		return FS_OK;
	if (key_idx(t->s, &ik, bucket, bl, after + 1))
		return FS_OK; /* no such bucket can exist */
	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->idx, &cur))))
		return rc;
	k = mval(ik.b, ik.n);
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			break;
		if (k.mv_size != bl + 9 || memcmp(k.mv_data, bucket, bl) ||
		    ((const char *)k.mv_data)[bl] != 0)
			break;
		memset(&e, 0, sizeof e);
		e.seq = be64_get((const unsigned char *)k.mv_data + bl + 1);
		if (v.mv_size < 1 ||
		    !split_rec((const char *)v.mv_data + 1, v.mv_size - 1,
		               &e.c, &e.id)) {
			rc = FS_E_INTERNAL;
			break;
		}
		if (((const char *)v.mv_data)[0] == KIND_GONE) {
			e.gone = 1;
			e.val.p = "";
		} else {
			MDB_val rkey = mval((const char *)v.mv_data + 1,
			                    v.mv_size - 1);

			if ((rc = mdb_get(t->txn, t->s->recs, &rkey, &rv))) {
				rc = rc == MDB_NOTFOUND ? FS_E_INTERNAL
				                        : map_rc(t, rc);
				break;
			}
			if ((rc = rec_parse(&rv, &r)))
				break;
			e.val = r.val;
		}
		if ((rc = cb(ctx, &e)))
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

static int lm_bucket_info(store_txn *tx, const char *bucket, uint64_t *head,
                      uint64_t *floor)
{
	lm_txn *t = (lm_txn *)tx;
	binfo bi = {0, 0};
	size_t bl;
	int rc = FS_OK;

	if (t->dead)
		return t->dead;
	if (!bucket)
		return FS_E_BAD_REQUEST;
	bl = strlen(bucket);
	if (bl > 0 && bl <= t->s->keymax)
		rc = binfo_get(t, bucket, bl, &bi);
	if (head)
		*head = bi.head;
	if (floor)
		*floor = bi.floor;
	return rc;
}

static int lm_seq(store_txn *tx, uint64_t *seq)
{
	lm_txn *t = (lm_txn *)tx;
	if (t->dead)
		return t->dead;
	return seq_get(t, seq);
}

static int lm_rec_scan(store_txn *tx, const char *c, store_rec_cb cb,
                       void *ctx)
{
	lm_txn *t = (lm_txn *)tx;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	const char *kc, *kid;
	size_t cl = 0;
	recval r;
	int rc, op;

	if (t->dead)
		return t->dead;
	if (c) {
		cl = strlen(c);
		if (cl == 0 || cl + 1 > t->s->keymax)
			return FS_OK;
	}
	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->recs, &cur))))
		return rc;
	k = mval(c, c ? cl + 1 : 0);
	for (op = c ? MDB_SET_RANGE : MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			break;
		if (c && (k.mv_size < cl + 1 || memcmp(k.mv_data, c, cl + 1)))
			break;
		if (!split_rec(k.mv_data, k.mv_size, &kc, &kid) ||
		    (rc = rec_parse(&v, &r))) {
			rc = FS_E_INTERNAL;
			break;
		}
		if ((rc = cb(ctx, kc, kid, r.bucket, r.seq, r.val)))
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

/* ---- integrity ----------------------------------------------------------- */

#define CHECK_FAIL(...)                                                        \
	do {                                                                   \
		if (err && errn)                                               \
			snprintf(err, errn, __VA_ARGS__);                      \
		rc = FS_E_INTERNAL;                                            \
		goto out;                                                      \
	} while (0)

/* idx -> recs / gone: every index entry is backed. */
static int check_idx(lm_txn *t, uint64_t top, char *err, size_t errn)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v, rv;
	const char *c, *id, *z;
	size_t bl;
	uint64_t seq;
	recval r;
	binfo bi;
	keybuf rk, gk;
	int rc, op;

	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->idx, &cur))))
		return rc;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			goto out;
		z = memchr(k.mv_data, 0, k.mv_size);
		if (!z || z == k.mv_data ||
		    (size_t)(z - (const char *)k.mv_data) + 9 != k.mv_size)
			CHECK_FAIL("index: malformed key");
		bl = (size_t)(z - (const char *)k.mv_data);
		seq = be64_get((const unsigned char *)z + 1);
		if (v.mv_size < 1 ||
		    !split_rec((const char *)v.mv_data + 1, v.mv_size - 1, &c,
		               &id))
			CHECK_FAIL("index %.*s/%llu: malformed value", (int)bl,
			           (const char *)k.mv_data,
			           (unsigned long long)seq);
		if (seq == 0 || seq > top)
			CHECK_FAIL("index %.*s/%llu: seq beyond the store's %llu",
			           (int)bl, (const char *)k.mv_data,
			           (unsigned long long)seq,
			           (unsigned long long)top);
		if ((rc = binfo_get(t, k.mv_data, bl, &bi)))
			goto out;
		if (seq > bi.head)
			CHECK_FAIL("index %.*s/%llu: above the bucket head %llu",
			           (int)bl, (const char *)k.mv_data,
			           (unsigned long long)seq,
			           (unsigned long long)bi.head);
		if (v.mv_size - 1 > KEY_MAX)
			CHECK_FAIL("index: value too long");
		rk.n = v.mv_size - 1;
		memcpy(rk.b, (const char *)v.mv_data + 1, rk.n);
		rc = mdb_get(t->txn, t->s->recs, &(MDB_val){rk.n, rk.b}, &rv);
		if (rc && rc != MDB_NOTFOUND) {
			rc = map_rc(t, rc);
			goto out;
		}
		if (rc == 0 && rec_parse(&rv, &r))
			CHECK_FAIL("record %s/%s: malformed", c, id);
		if (((const char *)v.mv_data)[0] == KIND_REC) {
			if (rc)
				CHECK_FAIL("index %.*s/%llu: record %s/%s missing",
				           (int)bl, (const char *)k.mv_data,
				           (unsigned long long)seq, c, id);
			if (r.seq != seq || r.bl != bl ||
			    memcmp(r.bucket, k.mv_data, bl))
				CHECK_FAIL("index %.*s/%llu: record %s/%s names "
				           "%s/%llu", (int)bl,
				           (const char *)k.mv_data,
				           (unsigned long long)seq, c, id,
				           r.bucket, (unsigned long long)r.seq);
		} else if (((const char *)v.mv_data)[0] == KIND_GONE) {
			MDB_val gv;

			if (rc == 0 && r.bl == bl && !memcmp(r.bucket, k.mv_data, bl))
				CHECK_FAIL("index %.*s/%llu: gone entry for %s/%s "
				           "which is in that bucket", (int)bl,
				           (const char *)k.mv_data,
				           (unsigned long long)seq, c, id);
			if (key_gone(t->s, &gk, k.mv_data, bl, &rk))
				CHECK_FAIL("index: gone key too long");
			rc = mdb_get(t->txn, t->s->gone,
			             &(MDB_val){gk.n, gk.b}, &gv);
			if (rc || gv.mv_size != 8 || be64_get(gv.mv_data) != seq)
				CHECK_FAIL("index %.*s/%llu: gone entry for %s/%s "
				           "not in the gone lookup", (int)bl,
				           (const char *)k.mv_data,
				           (unsigned long long)seq, c, id);
		} else {
			CHECK_FAIL("index %.*s/%llu: unknown kind", (int)bl,
			           (const char *)k.mv_data,
			           (unsigned long long)seq);
		}
		rc = FS_OK;
	}
out:
	mdb_cursor_close(cur);
	return rc;
}

/* recs -> idx: every record is in its bucket's index. */
static int check_recs(lm_txn *t, char *err, size_t errn)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v, iv;
	const char *c, *id;
	keybuf ik;
	recval r;
	int rc, op;

	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->recs, &cur))))
		return rc;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			goto out;
		if (!split_rec(k.mv_data, k.mv_size, &c, &id))
			CHECK_FAIL("records: malformed key");
		if (rec_parse(&v, &r))
			CHECK_FAIL("record %s/%s: malformed", c, id);
		if (key_idx(t->s, &ik, r.bucket, r.bl, r.seq))
			CHECK_FAIL("record %s/%s: bucket name too long", c, id);
		rc = mdb_get(t->txn, t->s->idx, &(MDB_val){ik.n, ik.b}, &iv);
		if (rc || iv.mv_size != k.mv_size + 1 ||
		    ((const char *)iv.mv_data)[0] != KIND_REC ||
		    memcmp((const char *)iv.mv_data + 1, k.mv_data, k.mv_size))
			CHECK_FAIL("record %s/%s: not in the index of %s at %llu",
			           c, id, r.bucket, (unsigned long long)r.seq);
	}
out:
	mdb_cursor_close(cur);
	return rc;
}

/* gone -> idx: every gone lookup entry has its index entry. */
static int check_gone(lm_txn *t, char *err, size_t errn)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v, iv;
	const char *z;
	keybuf ik;
	size_t bl;
	int rc, op;

	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->gone, &cur))))
		return rc;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			goto out;
		z = memchr(k.mv_data, 0, k.mv_size);
		if (!z || v.mv_size != 8)
			CHECK_FAIL("gone lookup: malformed entry");
		bl = (size_t)(z - (const char *)k.mv_data);
		if (key_idx(t->s, &ik, k.mv_data, bl, be64_get(v.mv_data)))
			CHECK_FAIL("gone lookup: malformed key");
		rc = mdb_get(t->txn, t->s->idx, &(MDB_val){ik.n, ik.b}, &iv);
		if (rc || iv.mv_size != k.mv_size - bl ||
		    ((const char *)iv.mv_data)[0] != KIND_GONE ||
		    memcmp((const char *)iv.mv_data + 1, z + 1,
		           k.mv_size - bl - 1))
			CHECK_FAIL("gone lookup %.*s/%llu: no matching index "
			           "entry", (int)bl, (const char *)k.mv_data,
			           (unsigned long long)be64_get(v.mv_data));
	}
out:
	mdb_cursor_close(cur);
	return rc;
}

static int lm_check(store_txn *tx, char *err, size_t errn)
{
	lm_txn *t = (lm_txn *)tx;
	uint64_t top;
	int rc;

	if (err && errn)
		err[0] = 0;
	if (t->dead)
		return t->dead;
	if ((rc = seq_get(t, &top)) || (rc = check_idx(t, top, err, errn)) ||
	    (rc = check_recs(t, err, errn)) || (rc = check_gone(t, err, errn)))
		return rc;
	return FS_OK;
}

/* ---- tables -------------------------------------------------------------- */

static int table_ok(const lm_txn *t, enum store_table tb, sv key)
{
	if ((unsigned)tb >= ST__COUNT)
		return FS_E_INTERNAL;
	if (key.n == 0 || key.n > t->s->keymax || !key.p)
		return FS_E_BAD_REQUEST;
	return FS_OK;
}

static int lm_get(store_txn *tx, enum store_table tb, sv key, sv *val)
{
	lm_txn *t = (lm_txn *)tx;
	MDB_val v;
	int rc;

	if (t->dead)
		return t->dead;
	if ((rc = table_ok(t, tb, key)))
		return rc == FS_E_BAD_REQUEST ? FS_E_NOT_FOUND : rc;
	if ((rc = get(t, t->s->tables[tb], key.p, key.n, &v)))
		return rc;
	if (val) {
		val->p = v.mv_data;
		val->n = v.mv_size;
	}
	return FS_OK;
}

static int lm_put(store_txn *tx, enum store_table tb, sv key, sv val)
{
	lm_txn *t = (lm_txn *)tx;
	void *copy;
	int rc;

	if ((rc = writable(t)) || (rc = table_ok(t, tb, key)))
		return rc;
	if (val.n > 0 && !val.p)
		return FS_E_BAD_REQUEST;
	if (val.n == 0)
		return put(t, t->s->tables[tb], key.p, key.n, "", 0);
	/* val may point into the store, where the put may move it */
	if (!(copy = malloc(val.n)))
		return FS_E_INTERNAL;
	memcpy(copy, val.p, val.n);
	rc = put(t, t->s->tables[tb], key.p, key.n, copy, val.n);
	free(copy);
	return rc;
}

static int lm_del(store_txn *tx, enum store_table tb, sv key)
{
	lm_txn *t = (lm_txn *)tx;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if ((rc = table_ok(t, tb, key)))
		return rc == FS_E_BAD_REQUEST ? FS_OK : rc;
	rc = del(t, t->s->tables[tb], key.p, key.n);
	return rc == FS_E_NOT_FOUND ? FS_OK : rc;
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

static int lm_scan(store_txn *tx, enum store_table tb, sv prefix, sv start,
                   int (*cb)(void *ctx, sv key, sv val), void *ctx)
{
	lm_txn *t = (lm_txn *)tx;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	sv from;
	int rc, op;

	if (t->dead)
		return t->dead;
	if ((unsigned)tb >= ST__COUNT)
		return FS_E_INTERNAL;
	if ((prefix.n && !prefix.p) || (start.n && !start.p))
		return FS_E_BAD_REQUEST;
	from = sv_cmp(prefix, start) >= 0 ? prefix : start;
	if (from.n > t->s->keymax)
		return FS_OK; /* no key can be that long */
	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->tables[tb], &cur))))
		return rc;
	k = mval(from.p, from.n);
	for (op = from.n ? MDB_SET_RANGE : MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			break;
		if (k.mv_size < prefix.n ||
		    (prefix.n && memcmp(k.mv_data, prefix.p, prefix.n)))
			break;
		if ((rc = cb(ctx, sv_of(k.mv_data, k.mv_size),
		             sv_of(v.mv_data, v.mv_size))))
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

/* ---- facts --------------------------------------------------------------- */

static const char *lm_id(const store *st)
{
	lm_store *s = (lm_store *)st; /* the atomic load takes no const */
	struct store_idbuf *b = atomic_load(&s->id);

	return b ? b->hex : "";
}

static int lm_set_id(store_txn *tx)
{
	lm_txn *t = (lm_txn *)tx;
	sv key = sv_cstr("store_id");
	char hex[33];
	int rc;

	if ((rc = writable(t)))
		return rc;
	if ((rc = new_id(hex)))
		return rc;
	if ((rc = put(t, t->s->tables[ST_META], key.p, key.n, hex, 32)))
		return rc;
	memcpy(t->new_id, hex, sizeof hex);
	return FS_OK;
}

static void lm_size(store *st, uint64_t *used, uint64_t *mapsize)
{
	lm_store *s = (lm_store *)st;
	MDB_envinfo ei;
	MDB_stat ms;

	if (used)
		*used = 0;
	if (mapsize)
		*mapsize = 0;
	if (mdb_env_info(s->env, &ei) || mdb_env_stat(s->env, &ms))
		return;
	if (used)
		*used = ((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize;
	if (mapsize)
		*mapsize = ei.me_mapsize;
}

static uint64_t lm_commits(const store *st)
{
	lm_store *s = (lm_store *)st;

	return atomic_load(&s->commits);
}

/* Another process (the server, when this one is `fieldsyncd backup`)
 * grew the map past ours: adopt the size in the meta page.  Like
 * store_grow(), waits until no transaction is open here. */
static int adopt_mapsize(lm_store *s)
{
	MDB_envinfo ei;
	int rc = FS_OK;

	pthread_mutex_lock(&s->gate_mu);
	while (s->growing)
		pthread_cond_wait(&s->gate_cv, &s->gate_mu);
	s->growing = 1;
	while (s->open_txns)
		pthread_cond_wait(&s->gate_cv, &s->gate_mu);
	if (mdb_env_set_mapsize(s->env, 0) || mdb_env_info(s->env, &ei)) {
		rc = FS_E_UNAVAILABLE;
	} else {
		s->map_mb = (ei.me_mapsize + MIB - 1) / MIB;
		if (s->max_mb < s->map_mb)
			s->max_mb = s->map_mb;
	}
	s->growing = 0;
	pthread_cond_broadcast(&s->gate_cv);
	pthread_mutex_unlock(&s->gate_mu);
	return rc;
}

static int lm_backup(store *st, const char *path)
{
	lm_store *s = (lm_store *)st;
	int fd, rc = FS_OK, mrc = MDB_SUCCESS, attempt;

	if (!s || !path)
		return FS_E_INTERNAL;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return FS_E_UNAVAILABLE;
	for (attempt = 0; attempt < 3; attempt++) {
		/* the copy holds a read transaction: count it in the gate so a
		 * grow in this process waits for it */
		gate_enter(s);
		mrc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
		gate_leave(s);
		if (mrc != MDB_MAP_RESIZED)
			break;
		if (adopt_mapsize(s) || ftruncate(fd, 0) ||
		    lseek(fd, 0, SEEK_SET) != 0)
			break;
	}
	if (mrc)
		rc = FS_E_UNAVAILABLE;
	if (!rc && fdatasync(fd))
		rc = FS_E_UNAVAILABLE;
	if (close(fd) && !rc)
		rc = FS_E_UNAVAILABLE;
	if (rc)
		unlink(path);
	return rc;
}

static int lm_debug_unindex(store_txn *tx, const char *c, const char *id)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf rk, ik;
	MDB_val v;
	recval r;
	int rc;

	if ((rc = writable(t)) || (rc = key_rec(t->s, &rk, c, id)))
		return rc;
	if ((rc = get(t, t->s->recs, rk.b, rk.n, &v)) ||
	    (rc = rec_parse(&v, &r)) ||
	    (rc = key_idx(t->s, &ik, r.bucket, r.bl, r.seq)))
		return rc;
	return del(t, t->s->idx, ik.b, ik.n);
}

static int lm_debug_clear(store_txn *tx)
{
	lm_txn *t = (lm_txn *)tx;
	MDB_dbi own[5];
	const char *id;
	int rc, i;

	if ((rc = writable(t)))
		return rc;
	own[0] = t->s->recs;
	own[1] = t->s->idx;
	own[2] = t->s->gone;
	own[3] = t->s->binfo;
	own[4] = t->s->meta;
	for (i = 0; i < 5; i++)
		if ((rc = map_rc(t, mdb_drop(t->txn, own[i], 0))))
			return rc;
	for (i = 0; i < ST__COUNT; i++)
		if ((rc = map_rc(t, mdb_drop(t->txn, t->s->tables[i], 0))))
			return rc;
	id = lm_id(&t->s->base);
	return put(t, t->s->tables[ST_META], "store_id", 8, id, strlen(id));
}

/* ---- one process, one writer: nothing to share --------------------------- */

static int lm_clock(store_txn *tx, uint64_t *hlc)
{
	*hlc = 0;
	return ((lm_txn *)tx)->dead;
}

static int lm_clock_note(store_txn *tx, uint64_t hlc)
{
	return writable((lm_txn *)tx);
}

static int lm_watch(store *st, void (*fn)(void *ctx, char **buckets,
                                          unsigned n), void *ctx)
{
	return FS_OK;
}

static int lm_prefetch(store_txn *tx, const char *const *c,
                       const char *const *id, unsigned n)
{
	return ((lm_txn *)tx)->dead;
}

static int lm_prefetch_keys(store_txn *tx, enum store_table tb,
                            const sv *keys, unsigned n)
{
	return ((lm_txn *)tx)->dead;
}

static int lm_prefetch_prefixes(store_txn *tx, enum store_table tb,
                                const sv *prefixes, unsigned n)
{
	return ((lm_txn *)tx)->dead;
}

/* ---- raw entries (store_copy) --------------------------------------------- */

static int lm_raw_rec(store_txn *tx, const char *c, const char *id,
                      const char *bucket, uint64_t seq, sv val)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf rk, ik;
	size_t bl, n;
	unsigned char iv[KEY_MAX + 2], *buf;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (!bucket || key_rec(t->s, &rk, c, id))
		return FS_E_BAD_REQUEST;
	bl = strlen(bucket);
	if (bl > 0xffff || key_idx(t->s, &ik, bucket, bl, seq) ||
	    (val.n > 0 && !val.p) || val.n > SIZE_MAX - REC_HDR - bl - 1)
		return FS_E_BAD_REQUEST;
	n = REC_HDR + bl + 1 + val.n;
	if (!(buf = malloc(n)))
		return FS_E_INTERNAL;
	buf[0] = REC_VERSION;
	be64_put(buf + 1, seq);
	buf[9] = (unsigned char)(bl >> 8);
	buf[10] = (unsigned char)bl;
	memcpy(buf + REC_HDR, bucket, bl + 1);
	if (val.n)
		memcpy(buf + REC_HDR + bl + 1, val.p, val.n);
	rc = put(t, t->s->recs, rk.b, rk.n, buf, n);
	free(buf);
	if (rc)
		return rc;
	iv[0] = KIND_REC;
	memcpy(iv + 1, rk.b, rk.n);
	return put(t, t->s->idx, ik.b, ik.n, iv, rk.n + 1);
}

static int lm_raw_gone(store_txn *tx, const char *bucket, uint64_t seq,
                       const char *c, const char *id)
{
	lm_txn *t = (lm_txn *)tx;
	keybuf rk, ik, gk;
	unsigned char sb[8], iv[KEY_MAX + 2];
	size_t bl;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (!bucket || key_rec(t->s, &rk, c, id))
		return FS_E_BAD_REQUEST;
	bl = strlen(bucket);
	if (key_idx(t->s, &ik, bucket, bl, seq) ||
	    key_gone(t->s, &gk, bucket, bl, &rk))
		return FS_E_BAD_REQUEST;
	iv[0] = KIND_GONE;
	memcpy(iv + 1, rk.b, rk.n);
	if ((rc = put(t, t->s->idx, ik.b, ik.n, iv, rk.n + 1)))
		return rc;
	be64_put(sb, seq);
	return put(t, t->s->gone, gk.b, gk.n, sb, 8);
}

static int lm_raw_binfo(store_txn *tx, const char *bucket, uint64_t head,
                        uint64_t floor)
{
	lm_txn *t = (lm_txn *)tx;
	unsigned char b[16];
	size_t bl;
	int rc;

	if ((rc = writable(t)))
		return rc;
	if (!bucket || !(bl = strlen(bucket)) || bl > t->s->keymax)
		return FS_E_BAD_REQUEST;
	be64_put(b, head);
	be64_put(b + 8, floor);
	return put(t, t->s->binfo, bucket, bl, b, sizeof b);
}

static int lm_raw_seq(store_txn *tx, uint64_t seq)
{
	lm_txn *t = (lm_txn *)tx;
	unsigned char sb[8];
	int rc;

	if ((rc = writable(t)))
		return rc;
	be64_put(sb, seq);
	return put(t, t->s->meta, "seq", 3, sb, 8);
}

/* Every gone entry, from the gone lookup (bucket \0 c \0 id \0 -> seq). */
static int lm_gone_scan(store_txn *tx, store_gone_cb cb, void *ctx)
{
	lm_txn *t = (lm_txn *)tx;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	const char *z, *c, *id;
	int rc, op;

	if (t->dead)
		return t->dead;
	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->gone, &cur))))
		return rc;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			break;
		z = memchr(k.mv_data, 0, k.mv_size);
		if (!z || z == k.mv_data || v.mv_size != 8 ||
		    !split_rec(z + 1, k.mv_size - (size_t)(z + 1 -
		               (const char *)k.mv_data), &c, &id)) {
			rc = FS_E_INTERNAL;
			break;
		}
		if ((rc = cb(ctx, k.mv_data, be64_get(v.mv_data), c, id)))
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

/* Every bucket's head and floor.  binfo keys are not NUL-terminated in
 * the map, so each name is copied out. */
static int lm_binfo_scan(store_txn *tx, store_binfo_cb cb, void *ctx)
{
	lm_txn *t = (lm_txn *)tx;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char name[KEY_MAX + 1];
	int rc, op;

	if (t->dead)
		return t->dead;
	if ((rc = map_rc(t, mdb_cursor_open(t->txn, t->s->binfo, &cur))))
		return rc;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = FS_OK;
			break;
		}
		if ((rc = map_rc(t, rc)))
			break;
		if (k.mv_size == 0 || k.mv_size > KEY_MAX || v.mv_size != 16) {
			rc = FS_E_INTERNAL;
			break;
		}
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = 0;
		if ((rc = cb(ctx, name, be64_get(v.mv_data),
		             be64_get((const unsigned char *)v.mv_data + 8))))
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

static const struct store_ops lm_ops = {
	.name = "lmdb",
	.close = lm_close,
	.begin = lm_begin,
	.commit = lm_commit,
	.abort = lm_abort,
	.grow = lm_grow,
	.rec_get = lm_rec_get,
	.rec_put = lm_rec_put,
	.rec_purge = lm_rec_purge,
	.gone_purge = lm_gone_purge,
	.bucket_scan = lm_bucket_scan,
	.bucket_info = lm_bucket_info,
	.seq = lm_seq,
	.rec_scan = lm_rec_scan,
	.check = lm_check,
	.get = lm_get,
	.put = lm_put,
	.del = lm_del,
	.scan = lm_scan,
	.id = lm_id,
	.size = lm_size,
	.commits = lm_commits,
	.set_id = lm_set_id,
	.backup = lm_backup,
	.debug_unindex = lm_debug_unindex,
	.debug_clear = lm_debug_clear,
	.clock = lm_clock,
	.clock_note = lm_clock_note,
	.watch = lm_watch,
	.prefetch = lm_prefetch,
	.prefetch_keys = lm_prefetch_keys,
	.prefetch_prefixes = lm_prefetch_prefixes,
	.raw_rec = lm_raw_rec,
	.raw_gone = lm_raw_gone,
	.raw_binfo = lm_raw_binfo,
	.raw_seq = lm_raw_seq,
	.gone_scan = lm_gone_scan,
	.binfo_scan = lm_binfo_scan,
};
