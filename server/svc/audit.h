/*
 * audit.h — the audit trail: records are kept and auditable (the seed's
 * 处理记录; protocol/PROTOCOL.md, difference 13), and every lookup of the
 * archive is logged (档案借阅有记录).
 *
 * Two kinds of entries, both in the store table ST_AUDIT:
 *   op entries    one for every applied op that changed a record, written
 *                 by the engine inside the write transaction of the op
 *                 itself, so an op is durable exactly when its entry is:
 *                 who (the staff member the batch acted for: its `by`, or
 *                 the session's), the role, the device, when (server ms),
 *                 the batch id, collection, id, bucket, site, the seq the
 *                 write got, and for every field that changed its old and
 *                 new value and stamp.  An op that changed nothing (lost
 *                 on last-writer-wins, an identical checkin replay) leaves
 *                 no entry: the record did not change.
 *   read entries  one for every GET of a report (/v1/reports/...) or of
 *                 the audit trail (/v1/audit/...), written durably
 *                 before the handler runs (a lookup that cannot be logged
 *                 is refused with 503): who, role, site, device, when, the
 *                 path and the query string.  Refused lookups (403, 404)
 *                 are logged too: the log says who asked, not what they
 *                 got.
 * Both kinds are kept for ttl_ms (default 400 days) and then purged by a
 * background pass (audit_start).
 *
 * Keys in ST_AUDIT (all integers big-endian, so keys sort by them):
 *   'r' c \0 id \0 seq(8)  -> op entry     a record's history, commit order
 *   't' ms(8) seq(8)       -> the 'r' key  op entries by time (purge)
 *   'q' hlc(8)             -> read entry   reads by time; hlc from the
 *                                          server clock, unique
 * What GET /v1/audit answers for each entry (msgpack or JSON maps):
 *   op:   {t, staff, role, device, batch (bin 16 | nil), c, id, bucket,
 *          site (nil when the record names none), seq, created (bool),
 *          ch: [{f, old, old_s: [hlc, origin] | nil, new, new_s}]}
 *          (old_s nil: the field did not exist before the op)
 *   read: {t, hlc, staff, role, site, device, what, query}
 * Read entries are stored as that map.  Op entries are stored in one of
 * two forms, and both are served (as the map above, the same bytes):
 *   v1  the map itself (stores written before the v2 form; first byte a
 *       msgpack map header, 0x8c)
 *   v2  the byte 0x02, then one msgpack array without the keys, and
 *       without what the key holds (c, id, seq):
 *         [t, staff, role, device, batch | nil, bucket, site | nil,
 *          created, nch, then per changed field:
 *          f, flags, (old, old hlc, (old origin)) if flags & 1,
 *          new, new hlc, (new origin)]
 *       flags: 1 the field existed before (old and old_s follow); 2 the
 *       old stamp's origin is `device` (not written); 4 the same for the
 *       new stamp's (an op's own fields: always).  About half the bytes
 *       of v1, and no key strings to write in the writer's transaction.
 */
#ifndef FS_AUDIT_H
#define FS_AUDIT_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/record.h"
#include "protocol/wire.h"
#include "server/core/engine.h"
#include "server/model/principal.h"
#include "server/store/store.h"

/* 400 days: "records are to be kept". */
#define AUDIT_TTL_DEFAULT_MS (400ull * 24 * 3600 * 1000)
/* How often the purge pass runs by default: hourly. */
#define AUDIT_PURGE_DEFAULT_MS (3600ull * 1000)

/* Op entry for a write the engine just made with store_rec_put() (seq is
 * what it returned) in the write transaction t.  `writer` is whose rights
 * the batch used, `device` the authenticated device, `batch` the 16-byte
 * batch id (NULL: none), `site` the bucket's site (NULL: none), `old`
 * the record before (NULL: created), `nw` after.  Temporary memory comes from `a`.  FS_OK, or the store's error
 * (STORE_FULL, FS_E_UNAVAILABLE): the caller aborts the transaction. */
int audit_op(store_txn *t, arena *a, const principal *writer,
             const char *device, const uint8_t *batch, uint64_t now_ms,
             const char *c, const char *id, const char *bucket,
             const char *site, uint64_t seq, const record *old,
             const record *nw);

/* 1 when a GET of this path (no query) is a lookup of the archive that
 * must be logged: /v1/reports/... and /v1/audit/.... */
int audit_is_archive_read(const char *path);

/* Log a lookup durably (its own write transaction through the engine).
 * `what` is the path, `query` the query string (NULL: none); both are
 * cut at 1024 bytes.  FS_OK or FS_E_UNAVAILABLE. */
int audit_read(engine *e, const principal *p, const char *what,
               const char *query);

/* GET /v1/audit/<c>/<id>: the op entries of (c, id) with seq > after, at
 * most `limit`, oldest first.  Admins see every entry; a supervisor sees
 * the entries of its own site (FS_E_FORBIDDEN when the record has entries
 * but none of its site); anyone else gets FS_E_FORBIDDEN.  FS_E_NOT_FOUND
 * when the record has no entries.  On FS_OK `out` holds the answer, JSON
 * (json != 0) or msgpack:
 *   {c, id, entries: [...], more: bool, next: <seq of the last entry, the
 *    `after` of the next page>}
 * On an error *msg says why (static or in `a`). */
int audit_history(engine *e, const principal *p, const char *c,
                  const char *id, uint64_t after, uint32_t limit, int json,
                  arena *a, wbuf *out, const char **msg);

/* GET /v1/audit/_reads?from=&to=&after=&limit=: the read entries with
 * from <= t <= to (ms) and hlc > after, oldest first, for admins only.
 *   {from, to, reads: [...], more: bool, next: <hlc of the last entry>} */
int audit_reads(engine *e, const principal *p, uint64_t from, uint64_t to,
                uint64_t after, uint32_t limit, int json, arena *a,
                wbuf *out, const char **msg);

/* Purge entries older than now - ttl_ms, in chunks of their own write
 * transactions.  *purged (may be NULL) gets how many entries went. */
int audit_purge(engine *e, uint64_t ttl_ms, uint64_t *purged);

/* A thread that runs audit_purge() at start and every interval_ms. */
typedef struct audit_keeper audit_keeper;
int audit_start(audit_keeper **out, engine *e, uint64_t ttl_ms,
                uint64_t interval_ms);
void audit_stop(audit_keeper *k); /* safe on NULL */

#endif
