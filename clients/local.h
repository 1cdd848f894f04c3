/*
 * local.h — what the device keeps, on top of lstore.h's tables:
 *
 * LT_META   settings and state, by name (strings raw, numbers be64):
 *           url ca insecure device dtoken name staff role site stoken
 *           expires store offset hlc last_sync scope (msgpack array)
 * LT_RECS   "c\0id" -> be16 length, bucket, stored record (record.h's form
 *           {field: [value, hlc, origin]})
 * LT_BMEM   "bucket\0c\0id" -> "": the records of each bucket
 * LT_CURS   bucket -> be64 cursor (the buckets the device pulls)
 * LT_OUTB   be64 seq -> {id: bin16, by: str|nil, sealed: bool, n: uint,
 *           t: uint}: an outbox batch.  Its id is made when the batch is
 *           made; once sealed (when a sync first sends it) it never
 *           changes, so a resend is the same batch.
 * LT_OUTO   be64 seq . be32 i -> {c, id, s, f, b}: op i of batch seq (b is
 *           the bucket of the record after the op, for drop decisions)
 * LT_DEAD   be64 seq -> {code, msg, op: {c, id, s, f}, by, t}
 * LT_URG    order id -> {category, title, t, state}
 * LT_PHOTO  sha256 hex -> {size, t}; the bytes are in HOME/photos/<hex>
 *
 * Everything here runs inside a caller's transaction; arena memory holds
 * what is returned.
 */
#ifndef FS_CLIENT_LOCAL_H
#define FS_CLIENT_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "clients/lstore.h"
#include "protocol/arena.h"
#include "protocol/record.h"
#include "protocol/wire.h"

/* Ops in one outbox batch before a new one is opened. */
#define LC_BATCH_OPS 500

/* ---- meta ---------------------------------------------------------------- */

/* NUL-terminated copy into out[0..n): FSC_OK, FSC_ENOTFOUND, FSC_EINVAL
 * (too long) or FSC_ESTORE.  out is "" unless FSC_OK. */
int lc_meta_str(ls_txn *t, const char *key, char *out, size_t n);
int lc_meta_put_str(ls_txn *t, const char *key, const char *v);
/* 0 when absent. */
uint64_t lc_meta_u64(ls_txn *t, const char *key);
int lc_meta_put_u64(ls_txn *t, const char *key, uint64_t v);
int lc_meta_del(ls_txn *t, const char *key);
int lc_meta_raw(ls_txn *t, const char *key, ls_val *v);
int lc_meta_put_raw(ls_txn *t, const char *key, const void *p, size_t n);

/* ---- records -------------------------------------------------------------- */

/* The bucket a record belongs to by the schema's rule (arena string), or
 * NULL when the collection is unknown or its bucket field is missing. */
char *lc_bucket_of(arena *a, const char *c, const char *id, const record *r);

/* Load a local record (copied into the arena).  *bucket (may be NULL)
 * gets its bucket.  FSC_OK, FSC_ENOTFOUND, FSC_ESTORE. */
int lc_rec_load(ls_txn *t, arena *a, const char *c, const char *id,
                record *r, char **bucket);
/* Store a record in `bucket` (moving it from the bucket it was in); a
 * record with no fields is deleted. */
int lc_rec_store(ls_txn *t, const char *c, const char *id, const char *bucket,
                 const record *r);
int lc_rec_delete(ls_txn *t, const char *c, const char *id);
/* Merge a wire map of fields f {field: value} with s {field: [hlc,
 * origin]} (a pulled record or a rejection's cur) into r.  Fields without
 * a well-formed stamp are skipped.  Returns 0 or -1 on OOM. */
int lc_merge_fs(arena *a, record *r, const wval *f, const wval *s);
/* Remove a field from r (no-op when absent). */
void lc_rec_drop_field(record *r, const char *name, size_t n);

/* The local-only bucket of the orders this device's staff reported, kept
 * after their orders bucket left the scope (never pulled, never evicted). */
#define LC_MINE "mine/orders"

/* Delete every local record of a bucket (keeps its cursor). */
int lc_bucket_clear(ls_txn *t, arena *a, const char *bucket);

/* ---- outbox --------------------------------------------------------------- */

typedef struct {
	uint64_t seq;
	uint8_t id[16];
	char *by;          /* NULL: none */
	uint32_t n;        /* ops */
	int sealed;
} lc_batch;

typedef struct {
	const char *c, *id, *b; /* arena strings */
	uint64_t s;
	const wval *f;          /* field map */
} lc_op;

/* 16 random bytes (getrandom). */
void lc_random(void *p, size_t n);

/* Append one op (f: msgpack map bytes) to the open batch of `by` (a new
 * batch when the last one is sealed, of another staff member, or full).
 * *seq gets the batch. */
int lc_out_append(ls_txn *t, const char *by, const char *c, const char *id,
                  uint64_t s, const uint8_t *f, size_t fn, const char *bucket,
                  uint64_t *seq);
/* Start a new, already sealed batch for `by` (used for restamped ops). */
int lc_out_new_sealed(ls_txn *t, const char *by, uint64_t *seq);
/* The same with a given batch id (ops brought back by fs_requeue keep
 * the batch id they were first sent with). */
int lc_out_new_sealed_id(ls_txn *t, const char *by, const uint8_t id[16],
                         uint64_t *seq);
/* Write every queued op to the journal (a store from before the journal
 * existed, or one whose journal file was lost). */
int lc_out_journal_all(ls_txn *t);
/* An integrity check of one stored value (ls_check's valid callback):
 * 0, or nonzero with what is wrong in err. */
int lc_check_value(void *ctx, ls_table tb, ls_val k, ls_val v, char *err,
                   size_t errn);
/* Add an op to a batch regardless of its state (only for a batch just
 * made by lc_out_new_sealed). */
int lc_out_add(ls_txn *t, uint64_t seq, const lc_op *op, const wval *f);
int lc_out_seal_all(ls_txn *t);
int lc_out_batch(ls_txn *t, arena *a, uint64_t seq, lc_batch *out);
/* Batches in seq order with seq > after; cb returns nonzero to stop. */
int lc_out_each(ls_txn *t, arena *a, uint64_t after,
                int (*cb)(void *ctx, const lc_batch *b), void *ctx);
/* Ops of a batch, decoded into the arena; *ops an arena array. */
int lc_out_ops(ls_txn *t, arena *a, uint64_t seq, lc_op **ops, uint32_t *n);
int lc_out_remove(ls_txn *t, uint64_t seq);
/* 1 when some queued op is in `bucket`. */
int lc_out_has_bucket(ls_txn *t, arena *a, const char *bucket);
/* The largest stamp of a queued op that is <= bound (0 when none). */
uint64_t lc_out_max_stamp(ls_txn *t, arena *a, uint64_t bound);
/* Re-apply the queued ops of `bucket` (NULL: all) to the local records,
 * stamped (s, origin). */
int lc_out_replay(ls_txn *t, arena *a, const char *bucket,
                  const char *origin);

/* ---- misc ----------------------------------------------------------------- */

/* A whole file of at most max bytes, malloc'd: 0, or -1 with errno. */
int lc_read_file(const char *path, size_t max, uint8_t **out, size_t *n);
/* Encode a record as JSON ({"c","id","bucket","f","s"?}) into b. */
void lc_json_record(wbuf *b, const char *c, const char *id,
                    const char *bucket, const record *r, int stamps);
/* A value as JSON. */
void lc_json_val(wbuf *b, const wval *v);
void lc_json_str(wbuf *b, const char *p, size_t n);

#endif
