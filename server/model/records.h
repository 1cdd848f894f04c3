/*
 * records.h — a record read out of a store transaction into an arena,
 * decoded (protocol/record.h), so it outlives the transaction's buffers.
 */
#ifndef FS_RECORDS_H
#define FS_RECORDS_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/record.h"
#include "server/store/store.h"

/* (c, id) copied and decoded into r; *bucket (copied) and *seq of its
 * index entry when not NULL.  FS_E_NOT_FOUND when absent (a deleted record
 * is returned: look at its _deleted), FS_E_UNAVAILABLE when out of memory,
 * FS_E_INTERNAL when the stored bytes do not decode. */
int records_load(store_txn *t, arena *a, const char *c, const char *id,
                 record *r, char **bucket, uint64_t *seq);

/* Each live (not deleted) record of collection c in `bucket`, by id,
 * decoded into the arena: fn returns SCAN_NEXT, SCAN_STOP (the scan ends,
 * FS_OK) or an error code (returned).  FS_OK, FS_E_UNAVAILABLE, or a store
 * error; a record that does not decode is passed over. */
typedef int (*records_fn)(void *ctx, const char *id, const record *r);
int records_in_bucket(store_txn *t, arena *a, const char *c,
                      const char *bucket, records_fn fn, void *ctx);

#endif
