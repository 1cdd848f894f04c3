/*
 * policy.h — who may pull what and who may write what: the one home of
 * the rules of schema/SCHEMA.md ("Buckets and scope", "Who writes what").
 * Every "admin, or supervisor of this site" decision in the server is
 * policy_manages_site(); the sync engine asks policy_write() for every op
 * and policy_scope() for every pull.
 */
#ifndef FS_POLICY_H
#define FS_POLICY_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/record.h"
#include "protocol/wire.h"
#include "schema/schema.h"
#include "server/model/principal.h"
#include "server/model/shift.h"
#include "server/store/store.h"

/* 1 when p is an admin, or the supervisor of `site`. */
int policy_manages_site(const principal *p, const char *site);
/* 1 when p is an admin or a supervisor (of any site). */
int policy_is_manager(const principal *p);

/* "kind/p" (p up to n bytes or its NUL), in the arena. */
char *policy_bucket_name(arena *a, const char *kind, const char *p, size_t n);
/* The bucket a record of `col` belongs to (schema.h's bucket rule), NULL
 * when its bucket field is unset or not an id. */
char *policy_record_bucket(arena *a, const scollection *col, const char *id,
                           const record *r);
/* The same from an op's fields (a map of name -> value): NULL also when
 * the op does not write the bucket field. */
char *policy_fields_bucket(arena *a, const scollection *col, const char *id,
                           const wval *fields);

/* The buckets `p` may pull at `now`, sorted bytewise, in the arena: an
 * admin every bucket ever used; others their site, the shifts of their
 * site they are on (a supervisor: all of them) from 12 h (a supervisor:
 * 24 h) ago to 24 h ahead, a supervisor's or technician's orders, and a
 * supervisor's alerts (alerts and webhooks of its site). */
int policy_scope(store_txn *t, const principal *p, uint64_t now, arena *a,
                 char ***buckets, unsigned *n);
/* 1 when `bucket` is in scope[0..n) (sorted bytewise). */
int policy_in_scope(char *const *scope, unsigned n, const char *bucket);

/* A writer of records, and how to read a shift (through a cache, or the
 * store: FS_OK, FS_E_NOT_FOUND, or a store error). */
typedef struct {
	const principal *w;
	uint64_t now;
	uint64_t evidence_window_ms; /* fs_limits' */
	arena *a;                    /* for messages */
	int (*load_shift)(void *ctx, const char *id, shift_info *s);
	void *ctx;
} policy_writer;

/* The writer's grants (schema.h's G_*) on a record of `col` going from
 * old (NULL: new) to nw by fields f, and *why when a relation-specific
 * constraint failed. */
unsigned policy_grants(const policy_writer *x, const scollection *col,
                       const record *old, const record *nw, const wval *f,
                       const char **why);
/* A lead's handover (G_LEAD): x->w leads the shift the handover is from,
 * both as stored (old, NULL: new) and as written (nw), and to_shift is a
 * next shift of the same post (site, role, route) starting after
 * from_shift does and at most POLICY_HANDOVER_WINDOW_MS after it ends.
 * 1, or 0 with *why set when only the stored record or to_shift fails. */
#define POLICY_HANDOVER_WINDOW_MS (12ULL * 3600 * 1000)
int policy_lead_handover(const policy_writer *x, const record *old,
                         const record *nw, const char **why);

/* May x->w write fields f of (col, id), old (NULL: new, old_bucket then
 * unused) becoming nw in `bucket`?  FS_OK, or FS_E_FORBIDDEN /
 * FS_E_OUT_OF_SCOPE with *msg (static or in x->a). */
int policy_write(const policy_writer *x, const scollection *col,
                 const char *id, const record *old, const char *old_bucket,
                 const record *nw, const char *bucket, const wval *f,
                 const char **msg);

#endif
