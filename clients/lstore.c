/*
 * lstore.c — see lstore.h.
 */
#include "clients/lstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "clients/fieldsync.h"
#include "protocol/be64.h"

/* Address space reserved for the map; the file grows as data is written. */
#define LS_MAP_SIZE ((size_t)1 << 30)

static const char *const table_names[LT__COUNT] = {
	"meta", "recs", "bmem", "curs", "outb", "outo", "dead", "urg", "photo",
};

struct ls_env {
	MDB_env *env;
	MDB_dbi dbi[LT__COUNT];
};

struct ls_txn {
	ls_env *e;
	MDB_txn *txn;
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

int ls_commit(ls_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	free(t);
	return rc ? FSC_ESTORE : FSC_OK;
}

void ls_abort(ls_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
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
