/*
 * store.c — store.h's calls, dispatched to the backend a store was opened
 * with (store_backend.h), and what is the same for every backend:
 * store_copy() and the backup of a backend without its own.
 */
#include "server/store/store_backend.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

sv sv_cstr(const char *s)
{
	sv v = {s, s ? strlen(s) : 0};
	return v;
}

void store_open_err(const store_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (!o || !o->err || !o->errn)
		return;
	va_start(ap, fmt);
	vsnprintf(o->err, o->errn, fmt, ap);
	va_end(ap);
}

int store_is_url(const char *where)
{
	return where && (!strncmp(where, "postgresql://", 13) ||
	                 !strncmp(where, "postgres://", 11));
}

int store_open(store **out, const char *where, const store_opts *o)
{
	*out = NULL;
	if (o && o->err && o->errn)
		o->err[0] = 0;
	if (!where || !*where)
		return FS_E_BAD_REQUEST;
	if (store_is_url(where))
		return store_pg_open(out, where, o);
	return store_lmdb_open(out, where, o);
}

void store_close(store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_backend(const store *s)
{
	return s->ops->name;
}

int store_hints(const store *s)
{
	return s->ops->hints;
}

int store_begin(store *s, int write, store_txn **out)
{
	return s->ops->begin(s, write, out);
}

int store_commit(store_txn *t)
{
	if (!t)
		return FS_E_INTERNAL;
	return t->ops->commit(t);
}

void store_abort(store_txn *t)
{
	if (t)
		t->ops->abort(t);
}

int store_grow(store *s)
{
	return s->ops->grow(s);
}

int store_rec_get(store_txn *t, const char *c, const char *id, sv *val,
                  const char **bucket, uint64_t *seq)
{
	return t->ops->rec_get(t, c, id, val, bucket, seq);
}

int store_rec_put(store_txn *t, const char *c, const char *id,
                  const char *bucket, sv val, uint64_t *seq_out)
{
	return t->ops->rec_put(t, c, id, bucket, val, seq_out);
}

int store_rec_purge(store_txn *t, const char *c, const char *id)
{
	return t->ops->rec_purge(t, c, id);
}

int store_gone_purge(store_txn *t, const char *bucket, uint64_t before)
{
	return t->ops->gone_purge(t, bucket, before);
}

int store_bucket_scan(store_txn *t, const char *bucket, uint64_t after,
                      int (*cb)(void *ctx, const store_entry *e), void *ctx)
{
	return t->ops->bucket_scan(t, bucket, after, 0, cb, ctx);
}

int store_bucket_scan_upto(store_txn *t, const char *bucket, uint64_t after,
                           uint32_t want,
                           int (*cb)(void *ctx, const store_entry *e),
                           void *ctx)
{
	return t->ops->bucket_scan(t, bucket, after, want, cb, ctx);
}

int store_bucket_info(store_txn *t, const char *bucket, uint64_t *head,
                      uint64_t *floor)
{
	return t->ops->bucket_info(t, bucket, head, floor);
}

int store_seq(store_txn *t, uint64_t *seq)
{
	return t->ops->seq(t, seq);
}

int store_rec_scan(store_txn *t, const char *c, store_rec_cb cb, void *ctx)
{
	return t->ops->rec_scan(t, c, cb, ctx);
}

int store_check(store_txn *t, char *err, size_t errn)
{
	return t->ops->check(t, err, errn);
}

int store_get(store_txn *t, enum store_table tb, sv key, sv *val)
{
	return t->ops->get(t, tb, key, val);
}

int store_put(store_txn *t, enum store_table tb, sv key, sv val)
{
	return t->ops->put(t, tb, key, val);
}

int store_del(store_txn *t, enum store_table tb, sv key)
{
	return t->ops->del(t, tb, key);
}

int store_scan(store_txn *t, enum store_table tb, sv prefix, sv start,
               int (*cb)(void *ctx, sv key, sv val), void *ctx)
{
	return t->ops->scan(t, tb, prefix, start, cb, ctx);
}

const char *store_id(const store *s)
{
	return s->ops->id(s);
}

void store_size(store *s, uint64_t *used, uint64_t *mapsize)
{
	s->ops->size(s, used, mapsize);
}

uint64_t store_commits(const store *s)
{
	return s->ops->commits(s);
}

int store_set_id(store_txn *t)
{
	return t->ops->set_id(t);
}

int store_debug_unindex(store_txn *t, const char *c, const char *id)
{
	return t->ops->debug_unindex(t, c, id);
}

int store_debug_clear(store_txn *t)
{
	return t->ops->debug_clear(t);
}

int store_clock(store_txn *t, uint64_t *hlc)
{
	return t->ops->clock(t, hlc);
}

int store_clock_note(store_txn *t, uint64_t hlc)
{
	return t->ops->clock_note(t, hlc);
}

int store_watch(store *s, void (*fn)(void *ctx, char **buckets, unsigned n),
                void *ctx)
{
	return s->ops->watch(s, fn, ctx);
}

int store_prefetch(store_txn *t, const char *const *c, const char *const *id,
                   unsigned n)
{
	return t->ops->prefetch(t, c, id, n);
}

int store_prefetch_keys(store_txn *t, enum store_table tb, const sv *keys,
                        unsigned n)
{
	return t->ops->prefetch_keys(t, tb, keys, n);
}

int store_prefetch_prefixes(store_txn *t, enum store_table tb,
                            const sv *prefixes, unsigned n)
{
	return t->ops->prefetch_prefixes(t, tb, prefixes, n);
}

/* ---- store_copy ----------------------------------------------------------- */

static int copy_rec(void *ctx, const char *c, const char *id,
                    const char *bucket, uint64_t seq, sv val)
{
	store_txn *to = ctx;

	return to->ops->raw_rec(to, c, id, bucket, seq, val);
}

static int copy_gone(void *ctx, const char *bucket, uint64_t seq,
                     const char *c, const char *id)
{
	store_txn *to = ctx;

	return to->ops->raw_gone(to, bucket, seq, c, id);
}

static int copy_binfo(void *ctx, const char *bucket, uint64_t head,
                      uint64_t floor)
{
	store_txn *to = ctx;

	return to->ops->raw_binfo(to, bucket, head, floor);
}

static int copy_kv(void *ctx, sv key, sv val)
{
	void **a = ctx;
	store_txn *to = a[0];

	return to->ops->put(to, *(enum store_table *)a[1], key, val);
}

static int any_rec(void *ctx, const char *c, const char *id,
                   const char *bucket, uint64_t seq, sv val)
{
	*(int *)ctx = 1;
	return SCAN_STOP;
}

int store_copy(store_txn *from, store_txn *to)
{
	enum store_table tb;
	uint64_t seq, hlc;
	void *a[2];
	int rc, found = 0;

	if ((rc = to->ops->seq(to, &seq)))
		return rc;
	rc = to->ops->rec_scan(to, NULL, any_rec, &found);
	if (rc && rc != SCAN_STOP)
		return rc;
	if (seq || found)
		return FS_E_BAD_REQUEST;
	if ((rc = to->ops->debug_clear(to)))
		return rc;
	rc = from->ops->rec_scan(from, NULL, copy_rec, to);
	if (rc || (rc = from->ops->gone_scan(from, copy_gone, to)) ||
	    (rc = from->ops->binfo_scan(from, copy_binfo, to)))
		return rc;
	a[0] = to;
	a[1] = &tb;
	for (tb = 0; tb < ST__COUNT; tb++)
		if ((rc = from->ops->scan(from, tb, sv_of(NULL, 0),
		                          sv_of(NULL, 0), copy_kv, a)))
			return rc;
	if ((rc = from->ops->seq(from, &seq)) ||
	    (rc = to->ops->raw_seq(to, seq)) ||
	    (rc = from->ops->clock(from, &hlc)) ||
	    (rc = to->ops->clock_note(to, hlc)))
		return rc;
	return FS_OK;
}

/* ---- backup without a backend's own ---------------------------------------- */

/* Removes the temporary LMDB directory (its files are flat). */
static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096];

	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) <
			    (int)sizeof p)
				unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* The same archive as LMDB's backup: the store copied, as of one read
 * transaction, into a temporary LMDB store beside `path`, whose compacted
 * copy becomes `path`. */
static int backup_via_lmdb(store *s, const char *path)
{
	char tmp[4096];
	const char *slash = strrchr(path, '/');
	store *l = NULL;
	store_txn *r = NULL, *w;
	store_opts lo = {0};
	int rc, n;

	if (slash)
		n = snprintf(tmp, sizeof tmp, "%.*s/.fsbackup.XXXXXX",
		             (int)(slash - path), path);
	else
		n = snprintf(tmp, sizeof tmp, ".fsbackup.XXXXXX");
	if (access(path, F_OK) == 0 || n < 0 || n >= (int)sizeof tmp ||
	    !mkdtemp(tmp))
		return FS_E_UNAVAILABLE;
	lo.map_mb = 1024; /* sparse; grown below if the copy needs more */
	if ((rc = store_lmdb_open(&l, tmp, &lo)))
		goto out;
	for (;;) {
		if ((rc = store_begin(s, 0, &r)) ||
		    (rc = store_begin(l, 1, &w)))
			break;
		rc = store_copy(r, w);
		store_abort(r);
		r = NULL;
		if (rc)
			store_abort(w);
		else
			rc = store_commit(w);
		w = NULL;
		/* a full map: grow it and copy again (the commit failed, so
		 * the temporary store is still empty) */
		if (rc != STORE_FULL || (rc = store_grow(l)))
			break;
	}
	store_abort(r);
	if (!rc)
		rc = store_backup(l, path);
out:
	store_close(l);
	rm_dir(tmp);
	return rc == FS_OK ? FS_OK : FS_E_UNAVAILABLE;
}

int store_backup(store *s, const char *path)
{
	if (!s || !path)
		return FS_E_INTERNAL;
	if (s->ops->backup)
		return s->ops->backup(s, path);
	return backup_via_lmdb(s, path);
}
