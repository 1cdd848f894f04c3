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
