/*
 * lstore.h — the device's local key-value store (LMDB underneath; this is
 * the only client file that includes lmdb.h).  Named tables of byte keys
 * and values, transactions, prefix scans.  What lives in each table is
 * described in local.h.
 *
 * Values returned by ls_get / ls_scan point into the store and are valid
 * until the next write in the transaction or its end.  A write
 * transaction is durable on disk when ls_commit returns (unless the store
 * was opened with no_fsync).  Several processes may open one directory.
 */
#ifndef FS_CLIENT_LSTORE_H
#define FS_CLIENT_LSTORE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	LT_META,   /* settings and state: name -> bytes */
	LT_RECS,   /* "c\0id" -> [bucket, stored record] */
	LT_BMEM,   /* "bucket\0c\0id" -> "" (records of a bucket) */
	LT_CURS,   /* bucket -> be64 cursor */
	LT_OUTB,   /* be64 seq -> batch header */
	LT_OUTO,   /* be64 seq . be32 index -> op */
	LT_DEAD,   /* be64 seq -> dead letter */
	LT_URG,    /* order id -> urgent report */
	LT_PHOTO,  /* sha256 hex -> queued photo */
	LT__COUNT
} ls_table;

typedef struct {
	const void *p;
	size_t n;
} ls_val;

typedef struct ls_env ls_env;
typedef struct ls_txn ls_txn;

/* Open or create the store in dir (made 0700; files 0600).  FSC_OK or
 * FSC_ESTORE with a message in err. */
int ls_open(const char *dir, int no_fsync, ls_env **out, char *err,
            size_t errn);
void ls_close(ls_env *e); /* NULL is fine */

int ls_begin(ls_env *e, int write, ls_txn **out);
/* Commit (durably for a write txn) and free t: FSC_OK or FSC_ESTORE. */
int ls_commit(ls_txn *t);
void ls_abort(ls_txn *t); /* NULL is fine */

/* FSC_OK, FSC_ENOTFOUND or FSC_ESTORE. */
int ls_get(ls_txn *t, ls_table tb, ls_val k, ls_val *v);
int ls_put(ls_txn *t, ls_table tb, ls_val k, ls_val v);
/* Absent keys are fine. */
int ls_del(ls_txn *t, ls_table tb, ls_val k);
/* Visit keys starting with prefix (empty: all), ascending; cb returns
 * nonzero to stop early.  Do not write the table from inside cb. */
int ls_scan(ls_txn *t, ls_table tb, ls_val prefix,
            int (*cb)(void *ctx, ls_val k, ls_val v), void *ctx);
/* The last key of a table: FSC_OK, FSC_ENOTFOUND (empty). */
int ls_last(ls_txn *t, ls_table tb, ls_val *k, ls_val *v);
/* Entries in a table. */
uint64_t ls_count(ls_txn *t, ls_table tb);
/* Delete every key with this prefix. */
int ls_del_prefix(ls_txn *t, ls_table tb, ls_val prefix);

/* The outbox journal (journal.h): add one frame's payload to this write
 * transaction (written and synced by ls_commit before the store commits),
 * or mark the outbox changed (ls_commit then truncates the journal when
 * the outbox is empty).  A commit whose journal write fails is aborted. */
int ls_journal_add(ls_txn *t, const void *p, size_t n);
void ls_journal_touch(ls_txn *t);
/* Bytes in the journal file now. */
uint64_t ls_journal_size(ls_env *e);

/* An integrity walk of the store in dir, read-only: every table (and
 * LMDB's own name and free-page tables) visited with a cursor, keys in
 * strictly ascending order, free-page lists within the file, and every
 * value handed to valid() (nonzero: damaged, with a message in err).
 * counts[] gets the entries of each table.  FSC_OK, or FSC_ESTORE with
 * what is wrong in err.  A damaged page may crash the caller (SIGSEGV,
 * SIGBUS, an LMDB assertion): run it in a child process (fs_check). */
int ls_check(const char *dir,
             int (*valid)(void *ctx, ls_table tb, ls_val k, ls_val v,
                          char *err, size_t errn),
             void *ctx, uint64_t counts[LT__COUNT], char *err, size_t errn);
/* Name of a table, for messages. */
const char *ls_table_name(ls_table tb);

/* Helpers for the key shapes above. */
static inline ls_val ls_v(const void *p, size_t n)
{
	ls_val v = {p, n};
	return v;
}
/* Big-endian integers in keys: protocol/be64.h. */

#endif
