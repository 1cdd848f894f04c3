/*
 * journal.h — the outbox journal: a second copy of the device's outbox in
 * a plain append-only file, HOME/outbox.journal, kept so that queued work
 * survives damage to the LMDB store (data.mdb) that makes the store
 * unreadable (`fieldsync rescue` reads it; see clients/rescue.c).
 *
 * Each write transaction that changes the outbox appends its frames here
 * and fdatasyncs them before the store commits (lstore.c, under the
 * store's writer lock); when a commit leaves the outbox empty the file is
 * truncated instead, so it holds only what was queued since the outbox
 * was last empty.  A frame is
 *   magic "FSJ1" | be32 length | be32 CRC-32 of the payload | payload
 * and the payload a msgpack map (written by local.c):
 *   {q: batch seq, i: op index, b: bin16 batch id, by: str|nil,
 *    op: {c, id, s, f, b}}     an op queued
 *   {q: batch seq, rm: true}   the batch left the outbox
 * A reader skips a damaged frame by looking for the next magic.
 */
#ifndef FS_CLIENT_JOURNAL_H
#define FS_CLIENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JR_HDR 12
#define JR_NAME "outbox.journal"
/* A frame longer than this is damage, not an op. */
#define JR_MAX_FRAME ((uint32_t)16 << 20)

/* Open (create, 0600) dir/outbox.journal for appending: 0 or errno. */
int jr_open(const char *dir, int *fd);
/* Header and payload of one frame into out[0 .. JR_HDR + n). */
void jr_frame(uint8_t *out, const void *payload, size_t n);
/* Append bytes (whole frames); fdatasync when sync.  0 or -1. */
int jr_write(int fd, const void *p, size_t n, int sync);
/* Truncate to empty; fsync when sync.  0 or -1. */
int jr_reset(int fd, int sync);

/* Call cb for every intact frame of p[0..n) in order; *skipped (may be
 * NULL) gets the bytes that were not part of an intact frame. */
void jr_scan(const uint8_t *p, size_t n,
             void (*cb)(void *ctx, const uint8_t *payload, size_t len),
             void *ctx, uint64_t *skipped);

#endif
