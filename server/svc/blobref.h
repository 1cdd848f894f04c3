/*
 * blobref.h — who may fetch a blob (a photo).  protocol/PROTOCOL.md:
 * GET /v1/blobs/<sha256> is for sessions that have the blob "in scope".
 * A blob has no bucket of its own; it is in a bucket when a record of
 * that bucket names it in a photo field (task.photo, order.photos[]).
 *
 * ST_BLOBS keys (values empty):
 *   <64 hex> \0 'b' \0 <bucket>             a record in <bucket> names it
 *   <64 hex> \0 'u' \0 <device>             <device> uploaded it
 *   <64 hex> \0 'c' \0 <device> \0 <bucket>  <device> named it in a record
 *                                          of <bucket>, unproven
 * A hash is not a key: a device that writes a hash into a record makes
 * the record's bucket a reference only when it can show it may see the
 * bytes — it uploaded them, or a bucket of its scope already references
 * them (a supervisor editing a task, a task moved to another shift), or
 * it is an admin.  Otherwise the reference is a claim, and it becomes a
 * reference when that device uploads the bytes (a handheld offline syncs
 * the record first and uploads the photo after).  So someone who learnt a
 * hash of another site cannot get the photo by naming it in a record of
 * its own.  References are added in the same write transaction as the
 * record (a write hook, server/svc/hooks.c), so a record and its
 * references commit together.  They are never removed: when a record moves to another bucket
 * or drops the photo, the old bucket keeps its reference (who could see
 * the photo before still can; blobs are never deleted either).
 *
 * A session may fetch a blob when a bucket of its scope references it,
 * or when its device uploaded it (a PUT proves the device holds the
 * bytes: a guard who reports a fault with a photo can fetch the photo
 * back though guards do not pull orders/<site>).  Admins fetch any blob.
 */
#ifndef FS_BLOBREF_H
#define FS_BLOBREF_H

#include "protocol/record.h"
#include "server/store/store.h"

/* 1 when p[0..n) is 64 lower-case hex digits (a blob name). */
int blobref_is_name(const char *p, size_t n);

/* Who writes a record (for blobref_note). */
typedef struct {
	const char *device; /* the writing device */
	int admin;          /* it sees everything */
	/* 1 when `bucket` is in the writing session's scope */
	int (*sees)(void *ctx, const char *bucket);
	void *ctx;
} blobref_writer;

/* Note the references (or claims) of the photo fields of record r of
 * `collection`, now in `bucket`, written by w.  Write txn.  FS_OK or a
 * store error. */
int blobref_note(store_txn *t, const char *collection, const record *r,
                 const char *bucket, const blobref_writer *w);
/* Note that `device` uploaded blob `hex`, and turn its claims on the blob
 * into references.  Write txn. */
int blobref_uploaded(store_txn *t, const char *hex, const char *device);
/* 1 when `device` uploaded blob `hex` or a bucket of scope[0..n) (sorted
 * bytewise) references it; 0 otherwise (also on a store error). */
int blobref_visible(store_txn *t, const char *hex, const char *device,
                    char **scope, unsigned n);

#endif
