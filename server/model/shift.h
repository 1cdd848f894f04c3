/*
 * shift.h — shifts as the server reads them: the record's fields, one
 * shift by id, a site's shifts in time order through the ST_SHIFTS index
 * (server/store/keys.h), and keeping that index in step with writes.
 */
#ifndef FS_SHIFT_H
#define FS_SHIFT_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/record.h"
#include "server/store/store.h"

typedef struct {
	char *id;
	char *site;
	int role;          /* enum role */
	uint64_t starts, ends;
	char **staff;
	uint32_t nstaff;
	char *route;       /* NULL: none */
	char *lead;        /* NULL: none */
} shift_info;

/* Parse a shift record. */
int shift_from_record(arena *a, const char *id, const record *rec,
                      shift_info *out);
/* One shift (FS_E_NOT_FOUND when absent or deleted). */
int shift_load(store_txn *t, arena *a, const char *id, shift_info *out);
/* The site's shifts overlapping [from, to), by starts then id. */
int shift_site_scan(store_txn *t, arena *a, const char *site, uint64_t from,
                    uint64_t to, shift_info **out, uint32_t *n);
/* 1 when shift record r lasts at most max_ms (ends - starts; a shift
 * without both is not judged here).  Every scope scan of a site walks
 * the shifts overlapping its window, so a shift of decades would be
 * walked by every one of them. */
int shift_span_ok(const record *r, uint64_t max_ms);
/* 1 when `staff` is on the shift. */
int shift_has(const shift_info *s, const char *staff);
/* Keep ST_SHIFTS and the site's longest-shift length in step with shift
 * `id` changing from `old` (NULL: new) to `nw`.  Write txn. */
int shift_index_update(store_txn *t, arena *a, const char *id,
                       const record *old, const record *nw);

#endif
