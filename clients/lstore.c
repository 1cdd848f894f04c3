/*
 * lstore.c — see lstore.h.
 */
#include "clients/lstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "clients/fieldsync.h"
#include "clients/journal.h"
#include "protocol/be64.h"

/* Address space reserved for the map; the file grows as data is written. */
#define LS_MAP_SIZE ((size_t)1 << 30)

static const char *const table_names[LT__COUNT] = {
	"meta", "recs", "bmem", "curs", "outb", "outo", "dead", "urg", "photo",
};

struct ls_env {
	MDB_env *env;
	MDB_dbi dbi[LT__COUNT];
	int jfd;        /* the outbox journal (journal.h), -1: none */
	int no_fsync;
};

struct ls_txn {
	ls_env *e;
	MDB_txn *txn;
	uint8_t *jbuf;  /* journal frames of this transaction */
	size_t jn, jcap;
	int jdirty;     /* the outbox changed */
};

int ls_open(const char *dir, int no_fsync, ls_env **out, char *err,
            size_t errn)
{
	ls_env *e = calloc(1, sizeof(*e));
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if (!e)
		return FSC_ENOMEM;
	e->jfd = -1;
	e->no_fsync = no_fsync;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errn, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((rc = mdb_env_create(&e->env)) ||
	    (rc = mdb_env_set_maxdbs(e->env, LT__COUNT + 2)) ||
	    (rc = mdb_env_set_mapsize(e->env, LS_MAP_SIZE)) ||
	    (rc = mdb_env_set_maxreaders(e->env, 64)) ||
	    (rc = mdb_env_open(e->env, dir,
	                       MDB_NOTLS | (no_fsync ? MDB_NOSYNC : 0), 0600))) {
		snprintf(err, errn, "cannot open the local store in %s: %s", dir,
		         mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(e->env, NULL, 0, &txn))) {
		snprintf(err, errn, "local store: %s", mdb_strerror(rc));
		goto fail;
	}
	for (int i = 0; i < LT__COUNT; i++)
		if ((rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE,
		                       &e->dbi[i]))) {
			snprintf(err, errn, "local store: %s", mdb_strerror(rc));
			mdb_txn_abort(txn);
			goto fail;
		}
	if ((rc = mdb_txn_commit(txn))) {
		snprintf(err, errn, "local store: %s", mdb_strerror(rc));
		goto fail;
	}
	/* reader slots of processes that died mid-read (a crashed check)
	 * would keep pages from being reused */
	mdb_reader_check(e->env, NULL);
	if ((rc = jr_open(dir, &e->jfd))) {
		snprintf(err, errn, "cannot open the outbox journal in %s: %s",
		         dir, strerror(rc));
		goto fail;
	}
	*out = e;
	return FSC_OK;
fail:
	ls_close(e);
	return FSC_ESTORE;
}

void ls_close(ls_env *e)
{
	if (!e)
		return;
	if (e->env)
		mdb_env_close(e->env);
	if (e->jfd >= 0)
		close(e->jfd);
	free(e);
}

int ls_begin(ls_env *e, int write, ls_txn **out)
{
	ls_txn *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return FSC_ENOMEM;
	t->e = e;
	if (mdb_txn_begin(e->env, NULL, write ? 0 : MDB_RDONLY, &t->txn)) {
		free(t);
		return FSC_ESTORE;
	}
	*out = t;
	return FSC_OK;
}

/* The journal's side of a commit, still under LMDB's writer lock (so no
 * other process appends in between): when the outbox is now empty the
 * journal starts over, else this transaction's frames go on its end,
 * on disk before the store's commit. */
static int journal_commit(ls_txn *t)
{
	MDB_stat st;
	int fd = t->e->jfd;

	if (!t->jdirty || fd < 0)
		return 0;
	if (mdb_stat(t->txn, t->e->dbi[LT_OUTB], &st))
		return -1;
	if (!st.ms_entries)
		return jr_reset(fd, !t->e->no_fsync);
	return jr_write(fd, t->jbuf, t->jn, !t->e->no_fsync);
}

int ls_commit(ls_txn *t)
{
	int rc;

	if (journal_commit(t)) {
		mdb_txn_abort(t->txn);
		rc = -1;
	} else {
		rc = mdb_txn_commit(t->txn);
	}
	free(t->jbuf);
	free(t);
	return rc ? FSC_ESTORE : FSC_OK;
}

void ls_abort(ls_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t->jbuf);
	free(t);
}

int ls_journal_add(ls_txn *t, const void *p, size_t n)
{
	size_t need = t->jn + JR_HDR + n;

	if (need > t->jcap) {
		size_t cap = t->jcap ? t->jcap : 1024;
		uint8_t *nb;

		while (cap < need)
			cap *= 2;
		if (!(nb = realloc(t->jbuf, cap)))
			return FSC_ENOMEM;
		t->jbuf = nb;
		t->jcap = cap;
	}
	jr_frame(t->jbuf + t->jn, p, n);
	t->jn = need;
	t->jdirty = 1;
	return FSC_OK;
}

void ls_journal_touch(ls_txn *t)
{
	t->jdirty = 1;
}

uint64_t ls_journal_size(ls_env *e)
{
	struct stat st;

	if (e->jfd < 0 || fstat(e->jfd, &st))
		return 0;
	return (uint64_t)st.st_size;
}

int ls_get(ls_txn *t, ls_table tb, ls_val k, ls_val *v)
{
	MDB_val mk = {k.n, (void *)k.p}, mv;
	int rc = mdb_get(t->txn, t->e->dbi[tb], &mk, &mv);

	if (rc == MDB_NOTFOUND)
		return FSC_ENOTFOUND;
	if (rc)
		return FSC_ESTORE;
	v->p = mv.mv_data;
	v->n = mv.mv_size;
	return FSC_OK;
}

int ls_put(ls_txn *t, ls_table tb, ls_val k, ls_val v)
{
	MDB_val mk = {k.n, (void *)k.p}, mv = {v.n, (void *)v.p};

	return mdb_put(t->txn, t->e->dbi[tb], &mk, &mv, 0) ? FSC_ESTORE : FSC_OK;
}

int ls_del(ls_txn *t, ls_table tb, ls_val k)
{
	MDB_val mk = {k.n, (void *)k.p};
	int rc = mdb_del(t->txn, t->e->dbi[tb], &mk, NULL);

	return rc && rc != MDB_NOTFOUND ? FSC_ESTORE : FSC_OK;
}

int ls_scan(ls_txn *t, ls_table tb, ls_val prefix,
            int (*cb)(void *ctx, ls_val k, ls_val v), void *ctx)
{
	MDB_cursor *cur;
	MDB_val mk = {prefix.n, (void *)prefix.p}, mv;
	int rc, stop = 0;

	if (mdb_cursor_open(t->txn, t->e->dbi[tb], &cur))
		return FSC_ESTORE;
	rc = prefix.n ? mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE)
	              : mdb_cursor_get(cur, &mk, &mv, MDB_FIRST);
	while (!rc) {
		if (prefix.n && (mk.mv_size < prefix.n ||
		                 memcmp(mk.mv_data, prefix.p, prefix.n)))
			break;
		stop = cb(ctx, ls_v(mk.mv_data, mk.mv_size),
		          ls_v(mv.mv_data, mv.mv_size));
		if (stop)
			break;
		rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return FSC_ESTORE;
	return stop;
}

int ls_last(ls_txn *t, ls_table tb, ls_val *k, ls_val *v)
{
	MDB_cursor *cur;
	MDB_val mk, mv;
	int rc;

	if (mdb_cursor_open(t->txn, t->e->dbi[tb], &cur))
		return FSC_ESTORE;
	rc = mdb_cursor_get(cur, &mk, &mv, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return FSC_ENOTFOUND;
	if (rc)
		return FSC_ESTORE;
	k->p = mk.mv_data;
	k->n = mk.mv_size;
	v->p = mv.mv_data;
	v->n = mv.mv_size;
	return FSC_OK;
}

uint64_t ls_count(ls_txn *t, ls_table tb)
{
	MDB_stat st;

	if (mdb_stat(t->txn, t->e->dbi[tb], &st))
		return 0;
	return st.ms_entries;
}

int ls_del_prefix(ls_txn *t, ls_table tb, ls_val prefix)
{
	MDB_cursor *cur;
	MDB_val mk = {prefix.n, (void *)prefix.p}, mv;
	int rc;

	if (mdb_cursor_open(t->txn, t->e->dbi[tb], &cur))
		return FSC_ESTORE;
	rc = prefix.n ? mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE)
	              : mdb_cursor_get(cur, &mk, &mv, MDB_FIRST);
	while (!rc) {
		if (prefix.n && (mk.mv_size < prefix.n ||
		                 memcmp(mk.mv_data, prefix.p, prefix.n)))
			break;
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		/* look the prefix up again rather than rely on where a
		 * delete leaves the cursor */
		mk.mv_size = prefix.n;
		mk.mv_data = (void *)prefix.p;
		rc = prefix.n ? mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE)
		              : mdb_cursor_get(cur, &mk, &mv, MDB_FIRST);
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? FSC_ESTORE : FSC_OK;
}

/* ---- integrity walk ----------------------------------------------------------- */

const char *ls_table_name(ls_table tb)
{
	return tb < LT__COUNT ? table_names[tb] : "?";
}

/* LMDB's free-page table: keys are transaction ids, values arrays of page
 * numbers (count first) that must lie inside the file. */
static int free_val_ok(MDB_val *v, size_t last_pg)
{
	const size_t *pg = v->mv_data;
	size_t n;

	if (v->mv_size < sizeof(size_t) || v->mv_size % sizeof(size_t))
		return 0;
	memcpy(&n, pg, sizeof(n));
	if (n != v->mv_size / sizeof(size_t) - 1)
		return 0;
	for (size_t i = 1; i <= n; i++) {
		size_t p;

		memcpy(&p, pg + i, sizeof(p));
		if (p < 2 || p > last_pg)
			return 0;
	}
	return 1;
}

/* LMDB's orders, without mdb_cmp (its comparators of the name and free
 * tables are not set in a fresh read transaction): integer keys for the
 * free pages, bytes then length for the rest. */
static int key_cmp(int integer, const MDB_val *a, const MDB_val *b)
{
	size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
	int c;

	if (integer) {
		size_t x = 0, y = 0;

		if (a->mv_size != sizeof(x) || b->mv_size != sizeof(y))
			return 0; /* malformed: reported as out of order */
		memcpy(&x, a->mv_data, sizeof(x));
		memcpy(&y, b->mv_data, sizeof(y));
		return x < y ? -1 : x > y;
	}
	c = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
	if (c)
		return c;
	return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* Walk one table: ascending keys, values checked; *count entries. */
static int walk(MDB_txn *txn, MDB_dbi dbi, int tb, size_t last_pg,
                int (*valid)(void *, ls_table, ls_val, ls_val, char *, size_t),
                void *ctx, uint64_t *count, char *err, size_t errn)
{
	MDB_cursor *cur;
	MDB_val k, v, prev = {0, NULL};
	const char *name = tb >= 0 ? table_names[tb] : dbi ? "names" : "free pages";
	int rc;

	*count = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur))) {
		snprintf(err, errn, "table %s: %s", name, mdb_strerror(rc));
		return FSC_ESTORE;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (prev.mv_data && key_cmp(tb < 0 && !dbi, &prev, &k) >= 0) {
			snprintf(err, errn, "table %s: keys out of order after "
			         "entry %llu", name, (unsigned long long)*count);
			break;
		}
		if (tb < 0 && !dbi && !free_val_ok(&v, last_pg)) {
			snprintf(err, errn, "free-page list %llu is damaged",
			         (unsigned long long)*count);
			break;
		}
		if (tb >= 0 && valid &&
		    valid(ctx, (ls_table)tb, ls_v(k.mv_data, k.mv_size),
		          ls_v(v.mv_data, v.mv_size), err, errn))
			break;
		prev = k;
		(*count)++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return FSC_OK;
	if (rc)
		snprintf(err, errn, "table %s: %s", name, mdb_strerror(rc));
	return FSC_ESTORE;
}

int ls_check(const char *dir,
             int (*valid)(void *ctx, ls_table tb, ls_val k, ls_val v,
                          char *err, size_t errn),
             void *ctx, uint64_t counts[LT__COUNT], char *err, size_t errn)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_envinfo info;
	MDB_dbi dbi;
	uint64_t n;
	int rc;

	err[0] = 0;
	memset(counts, 0, LT__COUNT * sizeof(counts[0]));
	if ((rc = mdb_env_create(&env)) ||
	    (rc = mdb_env_set_maxdbs(env, LT__COUNT + 2)) ||
	    (rc = mdb_env_set_mapsize(env, LS_MAP_SIZE)) ||
	    (rc = mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600)) ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) {
		snprintf(err, errn, "cannot open it: %s", mdb_strerror(rc));
		goto out;
	}
	mdb_env_info(env, &info);
	/* the names table, then LMDB's free pages, then ours */
	if ((rc = walk(txn, 1, -1, info.me_last_pgno, NULL, NULL, &n, err, errn)) ||
	    (rc = walk(txn, 0, -1, info.me_last_pgno, NULL, NULL, &n, err, errn)))
		goto out;
	for (int i = 0; i < LT__COUNT; i++) {
		if ((rc = mdb_dbi_open(txn, table_names[i], 0, &dbi))) {
			snprintf(err, errn, "table %s: %s", table_names[i],
			         mdb_strerror(rc));
			goto out;
		}
		if ((rc = walk(txn, dbi, i, info.me_last_pgno, valid, ctx,
		               &counts[i], err, errn)))
			goto out;
	}
out:
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	return err[0] ? FSC_ESTORE : FSC_OK;
}
