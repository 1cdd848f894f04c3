/*
 * maint.h — what the store forgets after tombstone_ttl, and when.
 *
 * Tombstones (records with _deleted: true), gone entries and batch acks
 * are kept for tombstone_ttl (protocol/PROTOCOL.md), then purged by
 * a background pass.  Purging a bucket's entries raises its floor, so a
 * device whose cursor is older gets `reset: true` and re-pulls.
 *
 * The writer notes what will need purging as it writes (maint_note_*,
 * write hooks of server/svc/hooks.c, inside its write transaction); the
 * pass finds it through these small time-ordered indexes instead of
 * scanning the store.
 */
#ifndef FS_MAINT_H
#define FS_MAINT_H

#include <stdint.h>

#include "server/core/engine.h"

/* A record was written with _deleted: true stamped at wall_ms. */
int maint_note_tomb(store_txn *t, const char *c, const char *id,
                    uint64_t wall_ms);
/* A batch ack was stored under `key` (ST_ACKS) at t_ms. */
int maint_note_ack(store_txn *t, sv key, uint64_t t_ms);

/* One pass now: FS_OK or a store error.  *purged (may be NULL) gets the
 * number of tombstones, gone entries' buckets and acks removed. */
int maint_pass(engine *e, uint64_t *purged);

typedef struct maint maint;
/* A thread running maint_pass every interval_ms. */
int maint_start(maint **out, engine *e, uint64_t interval_ms);
/* The same, also calling more(ctx) after each pass (the program's other
 * periodic collections: blobquota_collect). */
int maint_start_with(maint **out, engine *e, uint64_t interval_ms,
                     void (*more)(void *ctx), void *ctx);
void maint_stop(maint *m); /* safe on NULL */

#endif
