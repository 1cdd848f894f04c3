/*
 * fuzz_wire.c — libFuzzer target for the bounded msgpack decoder
 * (protocol/wire.c): wire_check_depth, wire_decode, wire_decode_max,
 * wire_walk (takes what the depth check takes, counts the tree's values).
 *
 * The input is one candidate message.  Beyond "no crash, no UB, no leak":
 *   - what decodes is nested at most WIRE_MAX_DEPTH and passes
 *     wire_check_depth;
 *   - it re-encodes (wb_val) to bytes that decode to an equal tree and
 *     that msgpack-c reads as the same values, and encoding that tree
 *     again gives the same bytes (the encoder is canonical);
 *   - msgpack is prefix-free: the input without its last byte never
 *     decodes;
 *   - a value budget of exactly the message's value count decodes, one
 *     less is FS_E_TOO_LARGE;
 *   - wv_clone gives an equal tree; utf8_valid and wv_depth run on all of
 *     it;
 *   - differential: when wire_check_depth accepts the bytes (so every
 *     declared count fits them and msgpack-c cannot be made to allocate
 *     gigabytes), msgpack-c's own unpacker must read them whole too, and
 *     our tree must equal its object value for value; if we refused, the
 *     reason must be a duplicate string key (the one rule msgpack-c does
 *     not have).  This test includes <msgpack.h> itself: it checks
 *     protocol/wire.c against the library, not through it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

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

/* Our tree against msgpack-c's object, value for value. */
static int same_obj(const wval *v, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return v->t == WV_NIL;
	case MSGPACK_OBJECT_BOOLEAN:
		return v->t == WV_BOOL && !v->b == !o->via.boolean;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return v->t == WV_UINT && v->u == o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return v->t == WV_INT && v->i == o->via.i64;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return v->t == WV_FLOAT &&
		       memcmp(&v->f, &o->via.f64, sizeof(double)) == 0;
	case MSGPACK_OBJECT_STR:
		return v->t == WV_STR && v->s.n == o->via.str.size &&
		       (!v->s.n || !memcmp(v->s.p, o->via.str.ptr, v->s.n));
	case MSGPACK_OBJECT_BIN:
		return v->t == WV_BIN && v->s.n == o->via.bin.size &&
		       (!v->s.n || !memcmp(v->s.p, o->via.bin.ptr, v->s.n));
	case MSGPACK_OBJECT_ARRAY:
		if (v->t != WV_ARR || v->a.n != o->via.array.size)
			return 0;
		for (uint32_t i = 0; i < v->a.n; i++)
			if (!same_obj(&v->a.v[i], &o->via.array.ptr[i]))
				return 0;
		return 1;
	case MSGPACK_OBJECT_MAP:
		if (v->t != WV_MAP || v->m.n != o->via.map.size)
			return 0;
		for (uint32_t i = 0; i < v->m.n; i++)
			if (!same_obj(&v->m.k[i], &o->via.map.ptr[i].key) ||
			    !same_obj(&v->m.v[i], &o->via.map.ptr[i].val))
				return 0;
		return 1;
	default:
		return 0; /* ext: never accepted by wire_decode */
	}
}

/* Does the object hold a map with two equal string keys? */
static int has_dup_key(const msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (has_dup_key(&o->via.array.ptr[i]))
				return 1;
	} else if (o->type == MSGPACK_OBJECT_MAP) {
		const msgpack_object_kv *kv = o->via.map.ptr;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			if (has_dup_key(&kv[i].key) || has_dup_key(&kv[i].val))
				return 1;
			if (kv[i].key.type != MSGPACK_OBJECT_STR)
				continue;
			for (uint32_t j = i + 1; j < o->via.map.size; j++)
				if (kv[j].key.type == MSGPACK_OBJECT_STR &&
				    kv[j].key.via.str.size == kv[i].key.via.str.size &&
				    !memcmp(kv[j].key.via.str.ptr, kv[i].key.via.str.ptr,
				            kv[i].key.via.str.size))
					return 1;
		}
	}
	return 0;
}

/* The differential half (see the top of the file). */
static void against_msgpack_c(const uint8_t *p, size_t size, int rc,
                              const wval *v)
{
	msgpack_unpacked u;
	size_t off = 0;
	msgpack_unpacked_init(&u);
	msgpack_unpack_return r =
	        msgpack_unpack_next(&u, (const char *)p, size, &off);
	if (r != MSGPACK_UNPACK_SUCCESS || off != size)
		broken("msgpack-c does not read a message wire_check_depth accepts");
	if (rc == FS_OK && !same_obj(v, &u.data))
		broken("our tree differs from msgpack-c's object");
	if (rc != FS_OK && !has_dup_key(&u.data))
		broken("refused a message whose only fault is none (no dup key)");
	msgpack_unpacked_destroy(&u);
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
	uint64_t walked_values = 0;
	size_t walked = wire_walk(p, size, &walked_values);
	/* wire_walk: exactly the whole message when the depth check takes it
	 * (it has no depth limit, so it may take deeper ones too) */
	if (depth_rc == FS_OK && walked != size)
		broken("wire_walk does not take a message the depth check takes");
	if (walked > size)
		broken("wire_walk went past the end");
	if (rc != FS_OK && rc != FS_E_BAD_MSGPACK)
		broken("wire_decode returned a code other than OK/BAD_MSGPACK");
	if (rc == FS_OK && depth_rc != FS_OK)
		broken("decoded a message wire_check_depth refuses");
	if (depth_rc == FS_OK && size > 0)
		against_msgpack_c(p, size, rc, v);
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
	if (walked_values != count)
		broken("wire_walk counts other values than the tree holds");
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
	/* and msgpack-c reads our encoding as the same values */
	against_msgpack_c(b1.p, b1.n, FS_OK, v);
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
