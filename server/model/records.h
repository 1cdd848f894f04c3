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

#endif
