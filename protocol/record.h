/*
 * record.h — a record's fields with their stamps, and the merge rule.
 *
 * A stamp is (hlc, origin).  Stamps compare by hlc, then by origin
 * bytewise (a shorter origin that is a prefix of a longer one is smaller).
 * Merge is per field, last writer wins: a field takes the incoming value
 * when the incoming stamp is strictly greater.  This is commutative,
 * associative and idempotent.
 *
 * Stored and wire form of a record's fields: one msgpack map
 *     { <field>: [ <value>, <hlc uint>, <origin str> ], ... }
 * The wire's pull form splits it in two maps, "f" and "s" (see
 * rec_wire_fs()).
 *
 * A record's field array is kept sorted by name (bytewise); names and
 * values point into the arena or into decoded input, never owned.
 */
#ifndef FS_RECORD_H
#define FS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "wire.h"

typedef struct {
	uint64_t hlc;
	const char *origin;
	uint32_t origin_n;
} stamp;

typedef struct {
	const char *name;
	uint32_t name_n;
	wval val;
	stamp st;
} rfield;

typedef struct {
	rfield *f;
	uint32_t n, cap;
} record;

/* <0, 0, >0 as a is older than, the same as, newer than b. */
int stamp_cmp(const stamp *a, const stamp *b);

/* An empty record. */
void rec_init(record *r);
/* Decode the stored form.  FS_OK or FS_E_BAD_MSGPACK (also
 * FS_E_UNAVAILABLE when the arena is out of memory).  Names, values and
 * origins point into p[0..n), which must outlive the record. */
int rec_decode(arena *a, const uint8_t *p, size_t n, record *out);
/* Stored form. */
void rec_encode(wbuf *b, const record *r);
/* The field by name, NULL if absent. */
rfield *rec_get(const record *r, const char *name);
rfield *rec_getn(const record *r, const char *name, size_t n);
/* Merge one incoming field.  Returns 1 if the record changed, 0 if the
 * incoming stamp lost (or was equal), or -1 when out of memory.  The name
 * and value are referenced, not copied: they must outlive the record. */
int rec_merge(arena *a, record *r, const char *name, uint32_t name_n,
              const wval *val, const stamp *st);
/* Set a field regardless of stamps (server-owned fields); -1 on OOM. */
int rec_set(arena *a, record *r, const char *name, uint32_t name_n,
            const wval *val, const stamp *st);
/* Writes two map entries into an open map: "f": {field: value} and
 * "s": {field: [hlc, origin]}. */
void rec_wire_fs(wbuf *b, const record *r);
/* rec_wire_fs() straight from a record's stored bytes, without decoding
 * them: 1 when done; 0 (nothing written) when the bytes are not exactly
 * the stored form with names in strictly ascending order and at most 128
 * fields, and the caller then takes rec_decode() + rec_wire_fs(), which
 * judges them. */
int rec_wire_fs_stored(wbuf *b, const uint8_t *p, size_t n);
/* String value of a field as a NUL-terminated arena copy, or NULL when
 * absent, nil or not a string. */
char *rec_str(arena *a, const record *r, const char *name);
/* 1 and *out when the field is a non-negative integer. */
int rec_u64(const record *r, const char *name, uint64_t *out);
/* 1 when the field is boolean true. */
int rec_true(const record *r, const char *name);

#endif
