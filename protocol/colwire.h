/*
 * colwire.h — the v2 pull encoding: one bucket page's records as columns
 * (protocol/PROTOCOL.md, "Pull encoding v2" gives the byte format).
 *
 * A page holds the records of one bucket's page of a pull answer, grouped
 * by collection (groups in order of first appearance, records within a
 * group in the order they were added).  Per group the field names are
 * sent once and each field is one column: presence and nil bitmaps,
 * stamps as (hlc below the record's newest, index into the page's origin
 * table), values by kind (strings as indices into the page's string
 * table, integers as zigzag varint deltas, booleans as bits, anything
 * else as length-prefixed msgpack).
 *
 * The decoder is bounded like wire_decode_max(): it walks the whole page
 * once without allocating (every count checked against the bytes that
 * remain, every index against its table, every msgpack value checked),
 * counts the values the v1 tree will take, refuses with FS_E_TOO_LARGE
 * when that passes the caller's budget, and only then builds.
 */
#ifndef FS_COLWIRE_H
#define FS_COLWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "wire.h"

/* First byte of every page. */
#define CW_VERSION 2
/* Longest collection name, field name and record id (bytes). */
#define CW_NAME_MAX 255
/* Most columns (distinct field names) in one group. */
#define CW_FIELDS_MAX 1024

/* One field of a record handed to the encoder.  Everything is referenced,
 * not copied: it must live until cw_enc_finish(). */
typedef struct {
	const char *name;
	uint32_t name_n;
	const uint8_t *val; /* exactly one msgpack object */
	uint32_t val_n;
	uint64_t hlc;
	const char *origin;
	uint32_t origin_n;
} cw_field;

typedef struct cw_enc cw_enc;

/* A new, empty page; NULL when out of memory. */
cw_enc *cw_enc_new(void);
void cw_enc_free(cw_enc *e); /* NULL is fine */
/* Add a record.  The field array is copied (not what it points to).
 * FS_OK; FS_E_BAD_REQUEST for an empty or over-long collection or id, a
 * name over CW_NAME_MAX, a field named twice, or a value that is not one
 * msgpack object; FS_E_UNAVAILABLE when out of memory. */
int cw_enc_add(cw_enc *e, const char *c, size_t cn, const char *id,
               size_t idn, const cw_field *f, uint32_t n);
/* Add a record from its stored form {name: [value, hlc, origin], ...}
 * (record.h); the bytes are referenced.  Errors as cw_enc_add(), and
 * FS_E_BAD_MSGPACK when the bytes are not that shape. */
int cw_enc_add_stored(cw_enc *e, const char *c, size_t cn, const char *id,
                      size_t idn, const uint8_t *p, size_t n);
/* Add a record in the v1 pull shape {c, id, f: {..}, s: {name: [hlc,
 * origin]}} and no other key (every name of f has a stamp in s and no
 * other).  Values are
 * re-encoded into the encoder's memory; strings are referenced. */
int cw_enc_add_v1(cw_enc *e, const wval *rec);
/* Records added so far. */
size_t cw_enc_count(const cw_enc *e);
/* Append the page's bytes to b.  FS_OK; FS_E_TOO_LARGE when a group has
 * more than CW_FIELDS_MAX field names; FS_E_UNAVAILABLE when out of
 * memory (also when b->err is set).  The encoder may be freed after. */
int cw_enc_finish(cw_enc *e, wbuf *b);

/* Decode a page into *out, a WV_ARR of records in the v1 pull shape
 * {c, id, f, s} (PROTOCOL.md, POST /v1/sync), in page order.  *budget is
 * the number of values (counted as wire_decode_max() counts them) the
 * tree may take; it is reduced by what the page took.  FS_OK;
 * FS_E_BAD_MSGPACK when the bytes are not a well-formed page;
 * FS_E_TOO_LARGE over the budget (nothing allocated); FS_E_UNAVAILABLE
 * when the arena is out of memory.  Strings point into p[0..n), except
 * ids, which are built in the arena. */
int cw_decode(arena *a, const uint8_t *p, size_t n, size_t *budget,
              wval **out);

#endif
