/*
 * records.c — see records.h.
 */
#include "server/model/records.h"

#include <string.h>

#include "protocol/errors.h"

int records_load(store_txn *t, arena *a, const char *c, const char *id,
                 record *r, char **bucket, uint64_t *seq)
{
	sv val;
	const char *b = NULL;
	rec_init(r);
	int rc = store_rec_get(t, c, id, &val, &b, seq);
	if (rc)
		return rc;
	if (bucket)
		*bucket = arena_strndup(a, b, strlen(b));
	uint8_t *copy = arena_dup(a, val.p, val.n ? val.n : 1);
	if (!copy || (bucket && !*bucket))
		return FS_E_UNAVAILABLE;
	return rec_decode(a, copy, val.n, r) ? FS_E_INTERNAL : FS_OK;
}

typedef struct {
	arena *a;
	const char *bucket;
	records_fn fn;
	void *ctx;
	int rc;
} bscan;

static int bucket_cb(void *ctx, const char *c, const char *id,
                     const char *bucket, uint64_t seq, sv val)
{
	bscan *s = ctx;
	if (strcmp(bucket, s->bucket))
		return SCAN_NEXT;
	record r;
	rec_init(&r);
	uint8_t *copy = arena_dup(s->a, val.p, val.n ? val.n : 1);
	if (!copy) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	if (rec_decode(s->a, copy, val.n, &r) || rec_true(&r, "_deleted"))
		return SCAN_NEXT; /* the integrity walk reports what does not decode */
	int rc = s->fn(s->ctx, id, &r);
	if (rc != SCAN_NEXT && rc != SCAN_STOP)
		s->rc = rc;
	return rc == SCAN_NEXT ? SCAN_NEXT : SCAN_STOP;
}

int records_in_bucket(store_txn *t, arena *a, const char *c,
                      const char *bucket, records_fn fn, void *ctx)
{
	bscan s = {a, bucket, fn, ctx, FS_OK};
	int rc = store_rec_scan(t, c, bucket_cb, &s);
	if (s.rc)
		return s.rc;
	return rc == SCAN_STOP || rc == FS_E_NOT_FOUND ? FS_OK : rc;
}
