/*
 * store_backend.h — what a store backend provides to store.c (never
 * included outside server/store/).  Every backend's store and txn begin
 * with the struct below, so store.c reaches the ops from either handle.
 */
#ifndef FS_STORE_BACKEND_H
#define FS_STORE_BACKEND_H

#include "server/store/store.h"

typedef int (*store_rec_cb)(void *ctx, const char *c, const char *id,
                            const char *bucket, uint64_t seq, sv val);
typedef int (*store_gone_cb)(void *ctx, const char *bucket, uint64_t seq,
                             const char *c, const char *id);
typedef int (*store_binfo_cb)(void *ctx, const char *bucket, uint64_t head,
                              uint64_t floor);

struct store_ops {
	const char *name; /* store_backend() */
	int hints;        /* 1: the prefetch calls load something (store_hints()) */
	void (*close)(store *s);
	int (*begin)(store *s, int write, store_txn **out);
	int (*commit)(store_txn *t);
	void (*abort)(store_txn *t);
	int (*grow)(store *s);
	int (*rec_get)(store_txn *t, const char *c, const char *id, sv *val,
	               const char **bucket, uint64_t *seq);
	int (*rec_put)(store_txn *t, const char *c, const char *id,
	               const char *bucket, sv val, uint64_t *seq_out);
	int (*rec_purge)(store_txn *t, const char *c, const char *id);
	int (*gone_purge)(store_txn *t, const char *bucket, uint64_t before);
	/* want: store_bucket_scan_upto()'s hint (0: none) */
	int (*bucket_scan)(store_txn *t, const char *bucket, uint64_t after,
	                   uint32_t want,
	                   int (*cb)(void *ctx, const store_entry *e),
	                   void *ctx);
	int (*bucket_info)(store_txn *t, const char *bucket, uint64_t *head,
	                   uint64_t *floor);
	int (*seq)(store_txn *t, uint64_t *seq);
	int (*rec_scan)(store_txn *t, const char *c, store_rec_cb cb,
	                void *ctx);
	int (*check)(store_txn *t, char *err, size_t errn);
	int (*get)(store_txn *t, enum store_table tb, sv key, sv *val);
	int (*put)(store_txn *t, enum store_table tb, sv key, sv val);
	int (*del)(store_txn *t, enum store_table tb, sv key);
	int (*scan)(store_txn *t, enum store_table tb, sv prefix, sv start,
	            int (*cb)(void *ctx, sv key, sv val), void *ctx);
	const char *(*id)(const store *s);
	void (*size)(store *s, uint64_t *used, uint64_t *mapsize);
	uint64_t (*commits)(const store *s);
	int (*set_id)(store_txn *t);
	/* NULL: store.c backs up through a temporary LMDB store and
	 * store_copy(), so the archive format is the same for both. */
	int (*backup)(store *s, const char *path);
	int (*debug_unindex)(store_txn *t, const char *c, const char *id);
	int (*debug_clear)(store_txn *t);
	/* any txn for clock (store_copy reads it from a reader) */
	int (*clock)(store_txn *t, uint64_t *hlc);
	int (*clock_note)(store_txn *t, uint64_t hlc);
	int (*watch)(store *s, void (*fn)(void *ctx, char **buckets,
	                                  unsigned n), void *ctx);
	int (*prefetch)(store_txn *t, const char *const *c,
	                const char *const *id, unsigned n);
	int (*prefetch_keys)(store_txn *t, enum store_table tb,
	                     const sv *keys, unsigned n);
	int (*prefetch_prefixes)(store_txn *t, enum store_table tb,
	                         const sv *prefixes, unsigned n);

	/* Raw entries, for store_copy (write txn of an empty store; no
	 * head/floor or counter side effects: those are set explicitly). */
	int (*raw_rec)(store_txn *t, const char *c, const char *id,
	               const char *bucket, uint64_t seq, sv val);
	int (*raw_gone)(store_txn *t, const char *bucket, uint64_t seq,
	                const char *c, const char *id);
	int (*raw_binfo)(store_txn *t, const char *bucket, uint64_t head,
	                 uint64_t floor);
	int (*raw_seq)(store_txn *t, uint64_t seq);
	int (*gone_scan)(store_txn *t, store_gone_cb cb, void *ctx);
	int (*binfo_scan)(store_txn *t, store_binfo_cb cb, void *ctx);
};

struct store {
	const struct store_ops *ops;
};

struct store_txn {
	const struct store_ops *ops;
};

int store_lmdb_open(store **out, const char *dir, const store_opts *o);
int store_pg_open(store **out, const char *url, const store_opts *o);

/* The message for store_opts.err (printf-like, when o->err is set). */
void store_open_err(const store_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
