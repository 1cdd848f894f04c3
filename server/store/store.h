/*
 * store.h — the server's store: a narrow interface of our own with no
 * backend type in it.  store.c dispatches each call to the backend the
 * store was opened with: store_lmdb.c (a directory) or store_pg.c (a
 * PostgreSQL URL, several processes on one database).
 *
 * Model
 *   records      (collection, id) -> opaque bytes (record.h's stored
 *                form), plus the bucket the record is in and its seq.
 *   bucket index (bucket, seq) -> record, one entry per record (the
 *                newest); and removal ("gone") entries: when a record
 *                moves from bucket A to B, A gets a gone entry for it at
 *                the new seq, so devices holding A drop it.  When it comes
 *                back to A its gone entry in A is replaced by the record.
 *   seq          one counter for the whole store, assigned in commit
 *                order by the single writer; a bucket's seqs have gaps.
 *   head         per bucket, the highest seq ever assigned in it (never
 *                goes down, even when entries are purged); floor: the
 *                highest seq purged from it (tombstone_ttl), so a cursor
 *                below the floor must reset.
 *   tables       small key/value tables for everything else (tokens,
 *                devices, acks, anchors, ...): see enum store_table.
 *
 * Transactions: one write transaction at a time (the caller serialises
 * writers: server/core/writer.c); any number of read transactions, which never
 * wait for the writer.  Values returned (sv) are valid until the end of
 * the transaction or the next write in it.  Keys and names are
 * NUL-terminated C strings unless given as sv.
 *
 * Durability: store_commit() returns FS_OK only once the transaction is
 * on disk (fdatasync), never before.
 *
 * Errors: FS_OK; FS_E_NOT_FOUND; FS_E_UNAVAILABLE for a full map or a
 * disk error (the write transaction is then dead: abort it);
 * store_commit() returns STORE_FULL when the map is full so the caller can
 * grow it and retry.
 */
#ifndef FS_STORE_H
#define FS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"

/* A code beyond the wire codes: the map is full (retry after growing). */
#define STORE_FULL (FS_E__COUNT + 1)

typedef struct store store;
typedef struct store_txn store_txn;

typedef struct {
	const void *p;
	size_t n;
} sv;

typedef struct {
	size_t map_mb;      /* initial map size; 0: 256 */
	size_t max_mb;      /* growth stops here; 0: 65536 */
	unsigned readers;   /* reader slots; 0: 256 */
	/* Test hook: when non-NULL and it returns nonzero, the next commit
	 * fails as a disk error would (FS_E_UNAVAILABLE), nothing applied. */
	int (*fail_commit)(void *ctx);
	void *fail_ctx;
	/* PostgreSQL: 1 creates the schema or applies newer migrations (init,
	 * restore); 0 refuses a database whose schema is missing, older or
	 * newer than this binary's (serve).  LMDB always creates. */
	int create;
	/* When non-NULL, store_open() writes why it failed here (errn bytes). */
	char *err;
	size_t errn;
} store_opts;

enum store_table {
	ST_META,    /* "store_id", "origin", ... */
	ST_TOKENS,  /* sha256(token) -> token info */
	ST_CODES,   /* sha256(enroll code) -> code info */
	ST_PINS,    /* staff id -> PIN hash (never synced) */
	ST_DEVICES, /* device id -> device info and sync report */
	ST_DEVSTAFF,/* device \0 staff -> sessions held (for "by") */
	ST_ACKS,    /* device \0 batch(16) -> stored ack */
	ST_ANCHORS, /* device \0 boot -> anchor ms */
	ST_SHIFTS,  /* site \0 starts(8, big-endian) \0 shift -> shift info */
	ST_BLOBS,   /* sha256 hex -> blob info (size, refs) */
	ST_AUX,     /* anything else keyed by the caller */
	ST_AUDIT,   /* audit trail: applied ops and archive reads (audit.h) */
	ST__COUNT
};

/* Open the store at `where`: a directory (LMDB, created if needed) or a
 * postgresql:// / postgres:// URL (store_is_url()).  *out is NULL on
 * failure.  A new store gets a random store id (ST_META "store_id"). */
int store_open(store **out, const char *where, const store_opts *o);
/* 1 when `where` names a PostgreSQL database rather than a directory. */
int store_is_url(const char *where);
/* "lmdb" or "postgresql". */
const char *store_backend(const store *s);
/* Close; safe on NULL.  No transaction may be open. */
void store_close(store *s);

/* write: 1 for the (single) write transaction, 0 for a reader. */
int store_begin(store *s, int write, store_txn **out);
/* Commit a write transaction durably (or end a read one).  The txn is
 * gone after the call whatever it returns. */
int store_commit(store_txn *t);
/* Abort / end; safe on NULL. */
void store_abort(store_txn *t);

/* Grow the map (doubling, up to max_mb).  Waits until no transaction is
 * open in the process, so call it with none open.  FS_OK, or
 * FS_E_UNAVAILABLE when already at max_mb. */
int store_grow(store *s);

/* ---- records and the bucket index -------------------------------------- */

/* *val: the stored bytes; *bucket (NUL-terminated, borrowed) and *seq of
 * its index entry.  Any out pointer may be NULL. */
int store_rec_get(store_txn *t, const char *c, const char *id, sv *val,
                  const char **bucket, uint64_t *seq);
/* Insert or replace a record and move its index entry to (bucket, next
 * seq), which goes to *seq_out.  If the record was in another bucket,
 * that bucket gets a gone entry at the same seq.  Write txn only. */
int store_rec_put(store_txn *t, const char *c, const char *id,
                  const char *bucket, sv val, uint64_t *seq_out);
/* Remove a record and its index entry (tombstone purge); the bucket's
 * floor rises to the purged entry's seq. */
int store_rec_purge(store_txn *t, const char *c, const char *id);
/* Remove gone entries older than seq `before` in a bucket (purge),
 * raising its floor. */
int store_gone_purge(store_txn *t, const char *bucket, uint64_t before);

/* What every scan callback returns: SCAN_NEXT to go on, SCAN_STOP to end
 * the scan early (not an error: no FS_E_* code is negative), or an error
 * code, which the scan returns as it is. */
#define SCAN_NEXT 0
#define SCAN_STOP (-1)

typedef struct {
	uint64_t seq;
	int gone;        /* 1: a removal entry, val is empty */
	const char *c;   /* NUL-terminated, borrowed */
	const char *id;
	sv val;          /* the record's stored bytes */
} store_entry;

/* Entries of `bucket` with seq > after, ascending.  cb returns SCAN_NEXT
 * to go on, anything else to stop (that value is returned).  */
int store_bucket_scan(store_txn *t, const char *bucket, uint64_t after,
                      int (*cb)(void *ctx, const store_entry *e), void *ctx);
/* The same, told that cb will most likely stop after `want` entries (0:
 * no idea), so a backend that fetches entries a page at a time can make
 * its first page that small.  cb is still called past it if it goes on. */
int store_bucket_scan_upto(store_txn *t, const char *bucket, uint64_t after,
                           uint32_t want,
                           int (*cb)(void *ctx, const store_entry *e),
                           void *ctx);
/* head: highest seq ever assigned in the bucket (0 if none);
 * floor: highest seq purged from it (0 if none). */
int store_bucket_info(store_txn *t, const char *bucket, uint64_t *head,
                      uint64_t *floor);
/* Highest seq assigned in the store. */
int store_seq(store_txn *t, uint64_t *seq);

/* Visit every record (for the integrity walk, backups, reports). */
int store_rec_scan(store_txn *t, const char *c,
                   int (*cb)(void *ctx, const char *c, const char *id,
                             const char *bucket, uint64_t seq, sv val),
                   void *ctx);
/* Integrity walk: every index entry points at a record that names that
 * (bucket, seq), every record is in its bucket's index.  FS_OK or
 * FS_E_INTERNAL with a message in err (size errn). */
int store_check(store_txn *t, char *err, size_t errn);

/* ---- tables ------------------------------------------------------------- */

int store_get(store_txn *t, enum store_table tb, sv key, sv *val);
int store_put(store_txn *t, enum store_table tb, sv key, sv val);
int store_del(store_txn *t, enum store_table tb, sv key); /* NOT_FOUND ok */
/* Keys >= start that begin with prefix, ascending; cb as above. */
int store_scan(store_txn *t, enum store_table tb, sv prefix, sv start,
               int (*cb)(void *ctx, sv key, sv val), void *ctx);

/* ---- facts -------------------------------------------------------------- */

/* The store's random id (hex), made when it was created; NUL-terminated,
 * valid while the store is open. */
const char *store_id(const store *s);
/* Bytes in use by the data file / map size (for /metrics). */
void store_size(store *s, uint64_t *used, uint64_t *mapsize);
/* Durable commits so far (test hook and metrics). */
uint64_t store_commits(const store *s);

/* sv helpers */
static inline sv sv_of(const void *p, size_t n) { sv v = {p, n}; return v; }
sv sv_cstr(const char *s);

/* ---- additions ------------------------------------------------------------
 * Notes on the calls above, as store_lmdb.c implements them:
 *   - a write call that hits a full map returns STORE_FULL itself (not
 *     only store_commit), and the txn is then dead: every later call on it
 *     returns the same code; abort it, store_grow(), redo the work.
 *   - a key (collection \0 id, bucket, table key) too long for the backend
 *     (LMDB: 511 bytes) or empty is refused with FS_E_BAD_REQUEST by a
 *     write, and is simply FS_E_NOT_FOUND for a read.
 *   - store_del() returns FS_OK when the key was not there.
 *   - a call that writes on a read transaction returns FS_E_INTERNAL.
 *   - store_commit() on a read transaction just ends it (FS_OK).
 *   - store_commits() does not count the commit store_open() makes.
 *   - store_grow() blocks new transactions while it waits: a thread that
 *     holds a transaction and begins another while a grow waits deadlocks.
 */

/* Give the store a new random id (after a restore): written in ST_META
 * "store_id" by t (write txn), and store_id() returns it once t commits.
 * Earlier id strings stay valid until store_close(). */
int store_set_id(store_txn *t);

/* Backup: a compacted copy of the whole store, as of one consistent
 * snapshot (one read transaction), into the new file `path` (created
 * exclusively, mode 0600, fdatasync'ed before FS_OK).  It runs beside the
 * writer: in this process, or in another process that opened the same
 * directory (LMDB shares readers through its lock file, so the writer
 * never reuses pages the copy still reads).  store_open() of that file's
 * directory, under the name data.mdb, gives the store back.
 * FS_OK, or FS_E_UNAVAILABLE (path exists, disk error, ...). */
int store_backup(store *s, const char *path);

/* TEST ONLY (store_check's tests): delete the index entry of record
 * (c, id) and leave the record, so the store is inconsistent.  Write txn.
 * Never called by the server. */
int store_debug_unindex(store_txn *t, const char *c, const char *id);

/* TEST ONLY (the fuzz targets, which need every input to start from an
 * empty store without paying for a new environment each time): empty
 * every table, record, index entry, gone entry and bucket head, as in a
 * new store; the store id stays.  Write txn.  Never called by the server. */
int store_debug_clear(store_txn *t);

/* ---- several processes on one store (PostgreSQL) ---------------------------
 * LMDB has one writing process: these calls are no-ops there.
 */

/* Shared clock.  Write txn: *hlc = the highest HLC stamp any node noted
 * (LMDB: 0).  store_clock_note() raises it (LMDB: no-op).  The writer
 * reads it right after beginning and notes its own before committing, so
 * no node stamps below a stamp another node committed. */
int store_clock(store_txn *t, uint64_t *hlc);
int store_clock_note(store_txn *t, uint64_t hlc);

/* Changes committed by other processes: fn runs on a store thread with the
 * buckets another process's commit put records in (PostgreSQL:
 * LISTEN/NOTIFY, sent inside the committing transaction so it arrives only
 * on commit; a process ignores its own).  At most one watcher per store.
 * LMDB: FS_OK, fn never called.  The thread ends in store_close(). */
int store_watch(store *s, void (*fn)(void *ctx, char **buckets, unsigned n),
                void *ctx);

/* 1 when the backend acts on the hints below (PostgreSQL: one query for
 * many reads), 0 when they are no-ops (LMDB, where a read costs no round
 * trip): a caller can skip gathering them. */
int store_hints(const store *s);

/* A hint before a group of ops: the records (c[i], id[i]) will be read.
 * PostgreSQL loads them in one query into the transaction's cache; LMDB
 * does nothing.  FS_OK or the txn's error. */
int store_prefetch(store_txn *t, const char *const *c, const char *const *id,
                   unsigned n);

/* The same hint for table entries: keys[0..n) of table tb will be read
 * with store_get() (a group's batch acks, looked up for dedup).
 * PostgreSQL loads them in one query; LMDB does nothing.  FS_OK or the
 * txn's error. */
int store_prefetch_keys(store_txn *t, enum store_table tb, const sv *keys,
                        unsigned n);

/* The same hint for scans: table tb will be scanned under each of
 * prefixes[0..n) (a device's sessions, its watches).  PostgreSQL loads
 * every entry under them in one query, and answers a later store_scan()
 * whose prefix starts with one of them, and a store_get() of a key under
 * one, from the transaction's cache (a prefix with too many entries is left to the
 * database); LMDB does nothing.  FS_OK or the txn's error. */
int store_prefetch_prefixes(store_txn *t, enum store_table tb,
                            const sv *prefixes, unsigned n);

/* Copy a whole store: records with their bucket and seq, gone entries,
 * bucket heads and floors, the seq counter, the clock and every table
 * (the store id too) from `from` (any txn) into `to`, a write txn of an
 * empty store (seq 0, no records: FS_E_BAD_REQUEST otherwise), whose tables
 * are emptied first.  Backup and restore between backends. */
int store_copy(store_txn *from, store_txn *to);

#endif
