/*
 * fuzz_wire.c — libFuzzer target for the bounded msgpack decoder
 * (protocol/wire.c): wire_check_depth, wire_decode, wire_decode_max.
 *
 * The input is one candidate message.  Beyond "no crash, no UB, no leak":
 *   - what decodes is nested at most WIRE_MAX_DEPTH and passes
 *     wire_check_depth;
 *   - it re-encodes (wb_val) to bytes that decode to an equal tree, and
 *     encoding that tree again gives the same bytes (the encoder is
 *     canonical);
 *   - msgpack is prefix-free: the input without its last byte never
 *     decodes;
 *   - a value budget of exactly the message's value count decodes, one
 *     less is FS_E_TOO_LARGE;
 *   - wv_clone gives an equal tree; utf8_valid and wv_depth run on all of
 *     it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/wire.h"

__attribute__((noreturn)) static void broken(const char *what)
{
	fprintf(stderr, "fuzz_wire: property broken: %s\n", what);
	abort();
}

/* Values in a tree, counted as wire_decode_max counts them. */
static uint64_t count_values(const wval *v)
{
	uint64_t n = 1;
	if (v->t == WV_ARR)
		for (uint32_t i = 0; i < v->a.n; i++)
			n += count_values(&v->a.v[i]);
	else if (v->t == WV_MAP)
		for (uint32_t i = 0; i < v->m.n; i++)
			n += count_values(&v->m.k[i]) + count_values(&v->m.v[i]);
	return n;
}

/* Touch every string with utf8_valid (its answer is not checked: any
 * bytes are fine here, the point is that it reads only inside them). */
static unsigned utf8_walk(const wval *v)
{
	unsigned ok = 0;
	if (v->t == WV_STR || v->t == WV_BIN)
		ok += (unsigned)utf8_valid(v->s.p, v->s.n);
	else if (v->t == WV_ARR)
		for (uint32_t i = 0; i < v->a.n; i++)
			ok += utf8_walk(&v->a.v[i]);
	else if (v->t == WV_MAP)
		for (uint32_t i = 0; i < v->m.n; i++)
			ok += utf8_walk(&v->m.k[i]) + utf8_walk(&v->m.v[i]);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena *a = arena_new(0);
	wval *v = NULL, *v2 = NULL, *w = NULL;
	wbuf b1, b2;
	if (!a)
		broken("arena_new");
	wb_init(&b1);
	wb_init(&b2);

	/* the decoder must not read past the bytes it was given: copy into
	 * an exact-size allocation so ASan sees any overread */
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		broken("malloc");
	if (size)
		memcpy(p, data, size);

	int depth_rc = wire_check_depth(p, size, WIRE_MAX_DEPTH);
	int rc = wire_decode(a, p, size, &v);
	if (rc != FS_OK && rc != FS_E_BAD_MSGPACK)
		broken("wire_decode returned a code other than OK/BAD_MSGPACK");
	if (rc == FS_OK && depth_rc != FS_OK)
		broken("decoded a message wire_check_depth refuses");
	if (rc != FS_OK) {
		if (v)
			broken("a failed decode left a tree behind");
		goto out;
	}
	if (wv_depth(v) > WIRE_MAX_DEPTH)
		broken("decoded tree nests deeper than WIRE_MAX_DEPTH");
	(void)utf8_walk(v);

	/* prefix-free */
	if (size > 0) {
		wval *pv;
		if (wire_decode(a, p, size - 1, &pv) == FS_OK)
			broken("a strict prefix of a message decoded");
	}

	/* value budget */
	uint64_t count = count_values(v);
	if (wire_decode_max(a, p, size, (size_t)count, &w) != FS_OK)
		broken("budget == value count did not decode");
	if (!wv_equal(v, w))
		broken("wire_decode_max gave another tree than wire_decode");
	if (wire_decode_max(a, p, size, (size_t)count - 1, &w) != FS_E_TOO_LARGE)
		broken("budget == value count - 1 was not TOO_LARGE");

	/* round trip */
	wb_val(&b1, v);
	if (b1.err)
		broken("encoding a decoded tree failed");
	if (wire_decode(a, b1.p, b1.n, &v2) != FS_OK)
		broken("re-encoded bytes do not decode");
	if (!wv_equal(v, v2))
		broken("re-encoded bytes decode to another tree");
	wb_val(&b2, v2);
	if (b2.err || b2.n != b1.n || memcmp(b1.p, b2.p, b1.n))
		broken("encoding is not canonical (second encoding differs)");

	/* clone */
	wval *c = wv_clone(a, v);
	if (!c || !wv_equal(v, c))
		broken("wv_clone differs");
out:
	wb_free(&b1);
	wb_free(&b2);
	free(p);
	arena_free(a);
	return 0;
}
