/*
 * sitecheck.h — a record may not lie about its site: every field that
 * names a site, or a record of a site, must agree with the site of the
 * record it hangs on (schema/SCHEMA.md, "Sites agree").  The home site of
 * a record is its bucket's: the site of a site-bucket or orders-bucket
 * record, the site of the shift a checkin, task or handover lives in.
 */
#ifndef FS_SITECHECK_H
#define FS_SITECHECK_H

#include "protocol/arena.h"
#include "protocol/record.h"
#include "protocol/wire.h"
#include "schema/schema.h"
#include "server/model/policy.h"
#include "server/store/store.h"

/* The records an op of `col` writing fields f (name -> value) makes
 * sitecheck_record() read: the shift its bucket field names and each
 * record a field of f names; fn(ctx, collection, id, id length) for each,
 * repeats included (a hint for store_prefetch). */
void sitecheck_names(const scollection *col, const wval *f,
                     void (*fn)(void *ctx, const char *c, const char *id,
                                size_t idn),
                     void *ctx);

/* Does nw, of (col, id), written with fields f, agree with its home site?
 * Its `site` is checked on every write; a field naming another record
 * (a shift, a staff member, a zone, ...) when the op writes it, or writes
 * `site` or the bucket field.  A named record that does not exist (yet)
 * is not held against the op.  FS_OK, FS_E_BAD_REQUEST with *msg, or a
 * store error (msg NULL). */
int sitecheck_record(store_txn *t, const policy_writer *x,
                     const scollection *col, const record *nw,
                     const wval *f, const char **msg);

/* The site a bucket belongs to ("site/X", "orders/X": X; "shift/X": the
 * shift's site); NULL when it has none (a missing shift).  Shifts come
 * through the policy writer's load_shift (the writer's per-job cache), so
 * the ops of a batch into one shift load it once. */
const char *sitecheck_bucket_site(const policy_writer *x, const char *bucket);

#endif
