/*
 * wire.h — MessagePack for the wire and for stored records.
 *
 * Decoding is done by a bounded reader of our own (not msgpack-c's object
 * unpacker, which allocates room for a declared count before reading the
 * elements, so a 5-byte header could ask for gigabytes):
 *   - wire_check_depth() walks the bytes without allocating and refuses
 *     anything nested deeper than a limit, truncated, with trailing bytes,
 *     with the never-used byte 0xc1, or with ext types;
 *   - wire_decode() then builds a tree in an arena, checking every
 *     declared count against the bytes that remain (each element takes at
 *     least one byte) before it allocates, and refuses a map with two
 *     equal string keys.
 * Strings and bins in the tree point into the input buffer (no copy): the
 * tree is valid while both the arena and the input live.  Strings are not
 * checked for UTF-8 here; callers that need it use utf8_valid().
 *
 * Encoding goes through msgpack-c's packer into a growable wbuf.  A wbuf
 * that fails to grow sets `err` and ignores further writes; check it once
 * at the end.
 */
#ifndef FS_WIRE_H
#define FS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

typedef enum {
	WV_NIL,
	WV_BOOL,
	WV_INT,   /* negative integers only */
	WV_UINT,  /* non-negative integers */
	WV_FLOAT, /* float32 and float64 both decode to double */
	WV_STR,
	WV_BIN,
	WV_ARR,
	WV_MAP
} wv_type;

typedef struct wval wval;
struct wval {
	wv_type t;
	union {
		int b;
		int64_t i;
		uint64_t u;
		double f;
		struct {
			const char *p; /* not NUL-terminated */
			uint32_t n;
		} s; /* WV_STR and WV_BIN */
		struct {
			wval *v;
			uint32_t n;
		} a;
		struct {
			wval *k; /* k[i] is the key of v[i] */
			wval *v;
			uint32_t n;
		} m;
	};
};

/* Hard cap on nesting for any message (protocol/PROTOCOL.md). */
#define WIRE_MAX_DEPTH 32

/* FS_OK, or FS_E_BAD_MSGPACK if p[0..n) is not exactly one well-formed
 * object nested at most max_depth levels (a scalar is depth 0, [1] is 1).
 * The walk keeps its counters on the stack: a max_depth above 256 is
 * treated as 256. */
int wire_check_depth(const uint8_t *p, size_t n, unsigned max_depth);

/* Decode exactly one object from p[0..n).  Runs wire_check_depth() first
 * with WIRE_MAX_DEPTH.  FS_OK, FS_E_BAD_MSGPACK, or FS_E_UNAVAILABLE when
 * the arena is out of memory. */
int wire_decode(arena *a, const uint8_t *p, size_t n, wval **out);
/* Added: wire_decode() that first counts the values the message holds
 * (every container, key and element is one) and returns FS_E_TOO_LARGE,
 * before allocating anything, when there are more than max_values.  The
 * tree takes sizeof(wval) (32) bytes per value, so without a budget a
 * 32 MiB body of one-byte nils asks the arena for about 1 GiB; callers
 * decoding untrusted bodies should pass a budget. */
int wire_decode_max(arena *a, const uint8_t *p, size_t n, size_t max_values,
                    wval **out);

/* Bytes taken by the one msgpack object at p[0..n), 0 when p does not
 * start with a whole one (or uses ext or 0xc1).  *values (when not NULL)
 * gets the number of values it holds, counted as wire_decode_max() counts
 * them (every container, key and element is one).  Iterative, without
 * allocating: nesting costs nothing (and is not limited). */
size_t wire_walk(const uint8_t *p, size_t n, uint64_t *values);

/* Lookup by string key; NULL when m is not a map or has no such key. */
const wval *wv_get(const wval *m, const char *key);
/* 1 when v is a string equal to the NUL-terminated s. */
int wv_is_str(const wval *v, const char *s);
/* Unsigned integer value: 1 on success (WV_UINT), 0 otherwise. */
int wv_u64(const wval *v, uint64_t *out);
/* Signed integer value: 1 when v is WV_INT, or WV_UINT <= INT64_MAX. */
int wv_i64(const wval *v, int64_t *out);
/* Number as double: 1 for WV_INT, WV_UINT or WV_FLOAT. */
int wv_num(const wval *v, double *out);
/* Deep equality (floats bitwise, maps by key regardless of order). */
int wv_equal(const wval *a, const wval *b);
/* Nesting depth of a value (scalar 0, [] 1, [[]] 2 ...). */
unsigned wv_depth(const wval *v);
/* Deep copy into an arena (strings copied too), NULL on OOM. */
wval *wv_clone(arena *a, const wval *v);
/* NUL-terminated arena copy of a WV_STR, NULL if not a string / OOM. */
char *wv_strdup(arena *a, const wval *v);
/* Scalar values (strings borrowed, not copied): a string (NULL: nil), a
 * uint, an int (a non-negative one as a uint, as msgpack encodes it), a
 * bool. */
wval wv_of_str(const char *s);
wval wv_of_u64(uint64_t u);
wval wv_of_i64(int64_t i);
wval wv_of_bool(int b);
/* A string value into dst[0..cap) with its NUL; "" when v is not a
 * string or does not fit. */
void wv_strcpy(char *dst, size_t cap, const wval *v);

/* 1 when p[0..n) is valid UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *p, size_t n);

/* ---- encoding ---------------------------------------------------------- */

typedef struct {
	uint8_t *p;
	size_t n, cap;
	int err; /* sticky: set when an allocation failed */
	void *pk; /* msgpack_packer, private */
} wbuf;

void wb_init(wbuf *b);
void wb_free(wbuf *b); /* safe twice */
/* Hand the bytes to the caller (who free()s them); b is empty after.
 * NULL (and *n = 0) when b->err is set; never NULL otherwise, even for
 * an empty buffer. */
uint8_t *wb_take(wbuf *b, size_t *n);

void wb_nil(wbuf *b);
void wb_bool(wbuf *b, int v);
void wb_u64(wbuf *b, uint64_t v);
void wb_i64(wbuf *b, int64_t v);
void wb_f64(wbuf *b, double v);
void wb_str(wbuf *b, const char *p, size_t n);
void wb_cstr(wbuf *b, const char *s); /* NULL writes nil */
void wb_bin(wbuf *b, const void *p, size_t n);
void wb_arr(wbuf *b, uint32_t n);
void wb_map(wbuf *b, uint32_t n);
void wb_val(wbuf *b, const wval *v);
/* Append bytes that already are msgpack. */
void wb_raw(wbuf *b, const void *p, size_t n);
/* Write an array/map header with a 32-bit count to fill in later:
 * returns the offset to pass to wb_patch(). */
size_t wb_arr_later(wbuf *b);
size_t wb_map_later(wbuf *b);
void wb_patch(wbuf *b, size_t at, uint32_t n);

#endif
