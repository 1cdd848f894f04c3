/* Unit tests: protocol/wire.c — the bounded decoder and the encoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "protocol/errors.h"
#include "protocol/wire.h"

/* ---- helpers ----------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static wval *dec(arena *a, const void *p, size_t n)
{
	wval *v = NULL;
	int rc = wire_decode(a, p, n, &v);

	assert_int_equal(rc, FS_OK);
	assert_non_null(v);
	return v;
}

static int dec_rc(const void *p, size_t n)
{
	arena *a = arena_new(0);
	wval *v = (wval *)1;
	int rc = wire_decode(a, p, n, &v);

	if (rc != FS_OK)
		assert_null(v);
	arena_free(a);
	return rc;
}

/* Re-encode v and expect exactly the bytes it came from. */
static void reencode_same(const wval *v, const uint8_t *p, size_t n)
{
	wbuf b;

	wb_init(&b);
	wb_val(&b, v);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.n, n);
	assert_memory_equal(b.p, p, n);
	wb_free(&b);
}

/* ---- round trips ------------------------------------------------------- */

static void test_scalars_roundtrip(void **state)
{
	arena *a = arena_new(0);
	wbuf b;
	wval *v;

	wb_init(&b);
	wb_nil(&b);
	v = dec(a, b.p, b.n);
	assert_int_equal(v->t, WV_NIL);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.p[0], 0xc0);
	wb_free(&b);

	wb_bool(&b, 1);
	wb_bool(&b, 0);
	assert_int_equal(b.p[0], 0xc3);
	assert_int_equal(b.p[1], 0xc2);
	v = dec(a, b.p, 1);
	assert_int_equal(v->t, WV_BOOL);
	assert_true(v->b);
	v = dec(a, b.p + 1, 1);
	assert_false(v->b);
	wb_free(&b);

	wb_f64(&b, 3.25);
	v = dec(a, b.p, b.n);
	assert_int_equal(b.n, 9);
	assert_int_equal(v->t, WV_FLOAT);
	assert_true(v->f == 3.25);
	reencode_same(v, b.p, b.n);
	wb_free(&b);

	wb_f64(&b, -0.0);
	v = dec(a, b.p, b.n);
	assert_true(signbit(v->f));
	wb_free(&b);

	wb_cstr(&b, NULL);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.p[0], 0xc0);
	wb_free(&b);
	wb_free(&b); /* safe twice */
	arena_free(a);
}

static void test_float32_decodes_to_double(void **state)
{
	arena *a = arena_new(0);
	const uint8_t f32[] = { 0xca, 0x3f, 0xc0, 0x00, 0x00 };     /* 1.5 */
	const uint8_t f32n[] = { 0xca, 0xc2, 0x28, 0x00, 0x00 };    /* -42 */
	wval *v;

	v = dec(a, f32, sizeof f32);
	assert_int_equal(v->t, WV_FLOAT);
	assert_true(v->f == 1.5);
	v = dec(a, f32n, sizeof f32n);
	assert_true(v->f == -42.0);
	arena_free(a);
}

static void test_uint_boundaries(void **state)
{
	static const struct {
		uint64_t v;
		size_t len;
	} c[] = {
		{ 0, 1 }, { 1, 1 }, { 127, 1 }, { 128, 2 }, { 255, 2 },
		{ 256, 3 }, { 65535, 3 }, { 65536, 5 },
		{ 4294967295ull, 5 }, { 4294967296ull, 9 },
		{ (uint64_t)INT64_MAX, 9 }, { (uint64_t)INT64_MAX + 1, 9 },
		{ UINT64_MAX, 9 },
	};
	arena *a = arena_new(0);
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		wbuf b;
		wval *v;
		uint64_t u;
		int64_t s;

		wb_init(&b);
		wb_u64(&b, c[i].v);
		assert_int_equal(b.n, c[i].len);
		v = dec(a, b.p, b.n);
		assert_int_equal(v->t, WV_UINT);
		assert_true(v->u == c[i].v);
		assert_true(wv_u64(v, &u) && u == c[i].v);
		assert_int_equal(wv_i64(v, &s), c[i].v <= INT64_MAX);
		reencode_same(v, b.p, b.n);
		wb_free(&b);

		/* non-negative through the signed writer is still WV_UINT */
		if (c[i].v <= INT64_MAX) {
			wb_i64(&b, (int64_t)c[i].v);
			v = dec(a, b.p, b.n);
			assert_int_equal(v->t, WV_UINT);
			assert_true(v->u == c[i].v);
			wb_free(&b);
		}
	}
	arena_free(a);
}

static void test_int_boundaries(void **state)
{
	static const struct {
		int64_t v;
		size_t len;
	} c[] = {
		{ -1, 1 }, { -32, 1 }, { -33, 2 }, { -128, 2 }, { -129, 3 },
		{ -32768, 3 }, { -32769, 5 }, { INT32_MIN, 5 },
		{ (int64_t)INT32_MIN - 1, 9 }, { INT64_MIN + 1, 9 },
		{ INT64_MIN, 9 },
	};
	arena *a = arena_new(0);
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		wbuf b;
		wval *v;
		int64_t s;
		uint64_t u;
		double d;

		wb_init(&b);
		wb_i64(&b, c[i].v);
		assert_int_equal(b.n, c[i].len);
		v = dec(a, b.p, b.n);
		assert_int_equal(v->t, WV_INT);
		assert_true(v->i == c[i].v);
		assert_true(wv_i64(v, &s) && s == c[i].v);
		assert_false(wv_u64(v, &u));
		assert_true(wv_num(v, &d) && d == (double)c[i].v);
		reencode_same(v, b.p, b.n);
		wb_free(&b);
	}
	arena_free(a);
}

static void test_signed_encodings_of_positive(void **state)
{
	/* int8..int64 holding non-negative values decode as WV_UINT */
	const uint8_t i8[] = { 0xd0, 0x05 };
	const uint8_t i16[] = { 0xd1, 0x7f, 0xff };
	const uint8_t i32[] = { 0xd2, 0x00, 0x00, 0x00, 0x00 };
	const uint8_t i64[] = { 0xd3, 0x7f, 0xff, 0xff, 0xff,
	                        0xff, 0xff, 0xff, 0xff };
	const uint8_t n8[] = { 0xd0, 0x80 };
	const uint8_t n64[] = { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t u8small[] = { 0xcc, 0x01 }; /* non-minimal is fine */
	arena *a = arena_new(0);
	wval *v;

	v = dec(a, i8, sizeof i8);
	assert_int_equal(v->t, WV_UINT);
	assert_true(v->u == 5);
	v = dec(a, i16, sizeof i16);
	assert_true(v->t == WV_UINT && v->u == 32767);
	v = dec(a, i32, sizeof i32);
	assert_true(v->t == WV_UINT && v->u == 0);
	v = dec(a, i64, sizeof i64);
	assert_true(v->t == WV_UINT && v->u == (uint64_t)INT64_MAX);
	v = dec(a, n8, sizeof n8);
	assert_true(v->t == WV_INT && v->i == -128);
	v = dec(a, n64, sizeof n64);
	assert_true(v->t == WV_INT && v->i == INT64_MIN);
	v = dec(a, u8small, sizeof u8small);
	assert_true(v->t == WV_UINT && v->u == 1);
	arena_free(a);
}

static void test_str_bin_lengths(void **state)
{
	static const uint32_t lens[] = { 0, 1, 31, 32, 255, 256, 65535, 65536,
	                                 100000 };
	arena *a = arena_new(0);
	char *buf = malloc(100000);
	size_t i;

	for (i = 0; i < 100000; i++)
		buf[i] = (char)('a' + i % 26);
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		wbuf b;
		wval *v;

		wb_init(&b);
		wb_str(&b, buf, lens[i]);
		v = dec(a, b.p, b.n);
		assert_int_equal(v->t, WV_STR);
		assert_int_equal(v->s.n, lens[i]);
		assert_memory_equal(v->s.p, buf, lens[i]);
		/* points into the input */
		assert_true(lens[i] == 0 ||
		            ((const uint8_t *)v->s.p >= b.p &&
		             (const uint8_t *)v->s.p < b.p + b.n));
		reencode_same(v, b.p, b.n);
		wb_free(&b);

		wb_bin(&b, buf, lens[i]);
		v = dec(a, b.p, b.n);
		assert_int_equal(v->t, WV_BIN);
		assert_int_equal(v->s.n, lens[i]);
		assert_memory_equal(v->s.p, buf, lens[i]);
		reencode_same(v, b.p, b.n);
		wb_free(&b);
	}
	free(buf);
	arena_free(a);
}

static void test_containers_roundtrip(void **state)
{
	static const uint32_t counts[] = { 0, 1, 15, 16, 65535, 65536, 70000 };
	arena *a = arena_new(0);
	size_t i;
	uint32_t j;

	for (i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		wbuf b;
		wval *v;
		char key[16];

		wb_init(&b);
		wb_arr(&b, counts[i]);
		for (j = 0; j < counts[i]; j++)
			wb_u64(&b, j);
		v = dec(a, b.p, b.n);
		assert_int_equal(v->t, WV_ARR);
		assert_int_equal(v->a.n, counts[i]);
		for (j = 0; j < counts[i]; j++)
			assert_true(v->a.v[j].u == j);
		reencode_same(v, b.p, b.n);
		wb_free(&b);

		wb_map(&b, counts[i]);
		for (j = 0; j < counts[i]; j++) {
			int kn = snprintf(key, sizeof key, "k%u", j);

			wb_str(&b, key, (size_t)kn);
			wb_i64(&b, -(int64_t)j - 1);
		}
		v = dec(a, b.p, b.n);
		assert_int_equal(v->t, WV_MAP);
		assert_int_equal(v->m.n, counts[i]);
		if (counts[i] > 7)
			assert_true(wv_get(v, "k7")->i == -8);
		reencode_same(v, b.p, b.n);
		wb_free(&b);
	}
	arena_free(a);
}

/* A message with one of everything, used for the truncation sweep. */
static void build_sample(wbuf *b)
{
	size_t later;

	wb_init(b);
	wb_map(b, 9);
	wb_cstr(b, "v");
	wb_u64(b, 1);
	wb_cstr(b, "hlc");
	wb_u64(b, 0x0190000012340001ull);
	wb_cstr(b, "neg");
	wb_i64(b, INT64_MIN);
	wb_cstr(b, "f");
	wb_f64(b, 2.5);
	wb_cstr(b, "b");
	wb_bin(b, "\x00\x01\x02", 3);
	wb_cstr(b, "t");
	wb_bool(b, 1);
	wb_cstr(b, "n");
	wb_nil(b);
	wb_cstr(b, "push");
	later = wb_arr_later(b);
	wb_map(b, 2);
	wb_cstr(b, "c");
	wb_cstr(b, "checkin");
	wb_cstr(b, "f");
	wb_map(b, 1);
	wb_cstr(b, "note");
	wb_cstr(b, "\xe6\xa5\xbc\xe9\x81\x93 ok");
	wb_arr(b, 0);
	wb_patch(b, later, 2);
	wb_cstr(b, "pull");
	wb_map_later(b);
	assert_int_equal(b->err, 0);
}

static void test_sample_and_later_patch(void **state)
{
	arena *a = arena_new(0);
	wbuf b;
	wval *v;
	const wval *push, *f;
	uint64_t u;

	build_sample(&b);
	v = dec(a, b.p, b.n);
	assert_int_equal(v->t, WV_MAP);
	assert_int_equal(v->m.n, 9);
	assert_true(wv_u64(wv_get(v, "v"), &u) && u == 1);
	push = wv_get(v, "push");
	assert_non_null(push);
	assert_int_equal(push->t, WV_ARR);
	assert_int_equal(push->a.n, 2);
	assert_true(wv_is_str(wv_get(&push->a.v[0], "c"), "checkin"));
	f = wv_get(&push->a.v[0], "f");
	assert_true(wv_is_str(wv_get(f, "note"), "\xe6\xa5\xbc\xe9\x81\x93 ok"));
	assert_int_equal(push->a.v[1].t, WV_ARR);
	assert_int_equal(push->a.v[1].a.n, 0);
	assert_int_equal(wv_get(v, "pull")->t, WV_MAP);
	assert_int_equal(wv_get(v, "pull")->m.n, 0);
	assert_null(wv_get(v, "nope"));
	assert_null(wv_get(push, "c")); /* not a map */
	assert_false(wv_is_str(wv_get(v, "v"), "1"));
	assert_int_equal(wv_depth(v), 4);
	wb_free(&b);
	arena_free(a);
}

static void test_patch_bytes(void **state)
{
	wbuf b;
	size_t at, at2;

	wb_init(&b);
	wb_nil(&b);
	at = wb_arr_later(&b);
	at2 = wb_map_later(&b);
	assert_int_equal(at, 1);
	assert_int_equal(at2, 6);
	wb_patch(&b, at, 0x01020304);
	wb_patch(&b, at2, 7);
	assert_int_equal(b.n, 11);
	assert_memory_equal(b.p + 1, "\xdd\x01\x02\x03\x04", 5);
	assert_memory_equal(b.p + 6, "\xdf\x00\x00\x00\x07", 5);
	/* out of range or not a header: ignored */
	wb_patch(&b, 100, 9);
	wb_patch(&b, 0, 9);
	assert_int_equal(b.p[0], 0xc0);
	wb_free(&b);
}

static void test_take(void **state)
{
	wbuf b;
	uint8_t *p;
	size_t n;

	wb_init(&b);
	wb_cstr(&b, "abc");
	p = wb_take(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "\xa3" "abc", 4);
	assert_null(b.p);
	assert_int_equal(b.n, 0);
	free(p);
	p = wb_take(&b, &n); /* empty: still a buffer to free */
	assert_non_null(p);
	assert_int_equal(n, 0);
	free(p);
	wb_raw(&b, "\x92\x01\x02", 3);
	assert_int_equal(b.n, 3);
	wb_free(&b);
}

/* ---- malformed input --------------------------------------------------- */

static void test_truncated_everywhere(void **state)
{
	wbuf b;
	size_t i;

	build_sample(&b);
	for (i = 0; i < b.n; i++) {
		assert_int_equal(wire_check_depth(b.p, i, WIRE_MAX_DEPTH),
		                 FS_E_BAD_MSGPACK);
		assert_int_equal(dec_rc(b.p, i), FS_E_BAD_MSGPACK);
	}
	assert_int_equal(dec_rc(b.p, b.n), FS_OK);
	wb_free(&b);
	assert_int_equal(dec_rc(NULL, 0), FS_E_BAD_MSGPACK);
}

static void test_trailing_bytes(void **state)
{
	wbuf b;

	build_sample(&b);
	wb_nil(&b);
	assert_int_equal(dec_rc(b.p, b.n), FS_E_BAD_MSGPACK);
	assert_int_equal(wire_check_depth(b.p, b.n, 32), FS_E_BAD_MSGPACK);
	wb_free(&b);
	assert_int_equal(dec_rc("\x01\x02", 2), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc("\x90\x00", 2), FS_E_BAD_MSGPACK);
}

static void test_c1_and_ext(void **state)
{
	const uint8_t c1[] = { 0xc1 };
	const uint8_t c1in[] = { 0x92, 0x01, 0xc1 };
	const uint8_t c1key[] = { 0x81, 0xc1, 0x01 };
	const uint8_t fixext[][18] = {
		{ 0xd4, 0x01, 0x00 },
		{ 0xd5, 0x01, 0x00, 0x00 },
		{ 0xd6, 0x01, 0, 0, 0, 0 },
		{ 0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	};
	const size_t fixlen[] = { 3, 4, 6, 10, 18 };
	const uint8_t ext8[] = { 0xc7, 0x01, 0x05, 0x00 };
	const uint8_t ext16[] = { 0xc8, 0x00, 0x01, 0x05, 0x00 };
	const uint8_t ext32[] = { 0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 0x00 };
	const uint8_t ts[] = { 0xd6, 0xff, 0x5e, 0x00, 0x00, 0x00 }; /* -1: timestamp */
	uint8_t in_arr[20];
	size_t i;

	assert_int_equal(dec_rc(c1, 1), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(c1in, 3), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(c1key, 3), FS_E_BAD_MSGPACK);
	for (i = 0; i < 5; i++) {
		assert_int_equal(dec_rc(fixext[i], fixlen[i]), FS_E_BAD_MSGPACK);
		in_arr[0] = 0x91;
		memcpy(in_arr + 1, fixext[i], fixlen[i]);
		assert_int_equal(dec_rc(in_arr, fixlen[i] + 1),
		                 FS_E_BAD_MSGPACK);
	}
	assert_int_equal(dec_rc(ext8, sizeof ext8), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(ext16, sizeof ext16), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(ext32, sizeof ext32), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(ts, sizeof ts), FS_E_BAD_MSGPACK);
}

static void test_every_single_byte(void **state)
{
	/* Each first byte alone: only complete one-byte objects pass. */
	unsigned c;

	for (c = 0; c < 256; c++) {
		uint8_t b = (uint8_t)c;
		int ok = c <= 0x7f || c >= 0xe0 || c == 0x80 || c == 0x90 ||
		         c == 0xa0 || c == 0xc0 || c == 0xc2 || c == 0xc3;

		assert_int_equal(dec_rc(&b, 1), ok ? FS_OK : FS_E_BAD_MSGPACK);
	}
}

static void nested_arrays(wbuf *b, unsigned depth)
{
	unsigned i;

	wb_init(b);
	for (i = 0; i < depth; i++)
		wb_arr(b, 1);
	wb_u64(b, 1);
}

static void test_depth(void **state)
{
	wbuf b;
	const uint8_t one[] = { 0x01 };
	const uint8_t empty[] = { 0x90 };
	const uint8_t a_list[] = { 0x81, 0xa1, 'a', 0x91, 0x01 }; /* {"a":[1]} */
	const uint8_t map_in_key[] = { 0x81, 0x91, 0x01, 0x01 }; /* {[1]:1} */
	unsigned i;

	assert_int_equal(wire_check_depth(one, 1, 0), FS_OK);
	assert_int_equal(wire_check_depth(empty, 1, 0), FS_E_BAD_MSGPACK);
	assert_int_equal(wire_check_depth(empty, 1, 1), FS_OK);
	assert_int_equal(wire_check_depth(a_list, 5, 2), FS_OK);
	assert_int_equal(wire_check_depth(a_list, 5, 1), FS_E_BAD_MSGPACK);
	assert_int_equal(wire_check_depth(map_in_key, 4, 2), FS_OK);
	assert_int_equal(wire_check_depth(map_in_key, 4, 1), FS_E_BAD_MSGPACK);

	nested_arrays(&b, 32);
	assert_int_equal(dec_rc(b.p, b.n), FS_OK);
	assert_int_equal(wire_check_depth(b.p, b.n, 32), FS_OK);
	assert_int_equal(wire_check_depth(b.p, b.n, 31), FS_E_BAD_MSGPACK);
	wb_free(&b);
	nested_arrays(&b, 33);
	assert_int_equal(dec_rc(b.p, b.n), FS_E_BAD_MSGPACK);
	assert_int_equal(wire_check_depth(b.p, b.n, 33), FS_OK);
	wb_free(&b);

	/* maps nested 33 deep through values */
	wb_init(&b);
	for (i = 0; i < 33; i++) {
		wb_map(&b, 1);
		wb_cstr(&b, "x");
	}
	wb_nil(&b);
	assert_int_equal(dec_rc(b.p, b.n), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(b.p + 3, b.n - 3), FS_OK); /* 32 deep */
	wb_free(&b);

	/* very deep: a million open arrays, no recursion, no allocation */
	{
		size_t n = 1000000;
		uint8_t *p = malloc(n + 1);

		memset(p, 0x91, n);
		p[n] = 0x01;
		assert_int_equal(wire_check_depth(p, n + 1, WIRE_MAX_DEPTH),
		                 FS_E_BAD_MSGPACK);
		assert_int_equal(dec_rc(p, n + 1), FS_E_BAD_MSGPACK);
		free(p);
	}

	/* siblings at depth do not add up */
	wb_init(&b);
	wb_arr(&b, 100);
	for (i = 0; i < 100; i++) {
		wb_arr(&b, 1);
		wb_arr(&b, 0);
	}
	assert_int_equal(wire_check_depth(b.p, b.n, 3), FS_OK);
	assert_int_equal(wire_check_depth(b.p, b.n, 2), FS_E_BAD_MSGPACK);
	wb_free(&b);
}

static void test_huge_declared_counts(void **state)
{
	const uint8_t arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	const uint8_t arr16[] = { 0xdc, 0xff, 0xff, 0x01, 0x02 };
	const uint8_t str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
	const uint8_t bin32[] = { 0xc6, 0x7f, 0xff, 0xff, 0xff, 'a' };
	const uint8_t str8[] = { 0xd9, 0x05, 'a', 'b' };
	const uint8_t fixstr[] = { 0xa5, 'a', 'b' };
	/* map16 of 3 pairs with 5 bytes for them: at least 6 are needed */
	const uint8_t map16[] = { 0xde, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04,
	                          0x05 };
	arena *a = arena_new(0);
	wval *v = NULL;

	assert_int_equal(wire_decode(a, arr32, sizeof arr32, &v),
	                 FS_E_BAD_MSGPACK);
	assert_int_equal(wire_decode(a, map32, sizeof map32, &v),
	                 FS_E_BAD_MSGPACK);
	assert_true(arena_used(a) < 1024);
	assert_int_equal(dec_rc(arr16, sizeof arr16), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(str32, sizeof str32), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(bin32, sizeof bin32), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(str8, sizeof str8), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(fixstr, sizeof fixstr), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(map16, sizeof map16), FS_E_BAD_MSGPACK);
	assert_int_equal(wire_check_depth(arr32, sizeof arr32, 32),
	                 FS_E_BAD_MSGPACK);
	arena_free(a);
}

static void test_decode_budget(void **state)
{
	arena *a = arena_new(0);
	wbuf b;
	wval *v = NULL;
	unsigned i;
	size_t used;

	/* [nil x 100000]: 100001 values */
	wb_init(&b);
	wb_arr(&b, 100000);
	for (i = 0; i < 100000; i++)
		wb_nil(&b);
	used = arena_used(a);
	assert_int_equal(wire_decode_max(a, b.p, b.n, 100000, &v),
	                 FS_E_TOO_LARGE);
	assert_null(v);
	assert_int_equal(arena_used(a), used); /* nothing allocated */
	assert_int_equal(wire_decode_max(a, b.p, b.n, 100001, &v), FS_OK);
	assert_int_equal(v->a.n, 100000);
	/* malformed still wins over the budget */
	assert_int_equal(wire_decode_max(a, b.p, b.n - 1, 0, &v),
	                 FS_E_BAD_MSGPACK);
	wb_free(&b);
	/* {"a": [1, 2]}: map, key, array, 2 elements */
	wb_map(&b, 1);
	wb_cstr(&b, "a");
	wb_arr(&b, 2);
	wb_u64(&b, 1);
	wb_u64(&b, 2);
	assert_int_equal(wire_decode_max(a, b.p, b.n, 4, &v), FS_E_TOO_LARGE);
	assert_int_equal(wire_decode_max(a, b.p, b.n, 5, &v), FS_OK);
	wb_free(&b);
	arena_free(a);
}

static void test_duplicate_keys(void **state)
{
	const uint8_t dup[] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02 };
	const uint8_t nodup[] = { 0x82, 0xa1, 'a', 0x01, 0xa2, 'a', 'a', 0x02 };
	const uint8_t strbin[] = { 0x82, 0xa1, 'a', 0x01, 0xc4, 0x01, 'a', 0x02 };
	const uint8_t inner[] = { 0x91, 0x82, 0xa0, 0x01, 0xa0, 0x02 };
	unsigned n, d;

	assert_int_equal(dec_rc(dup, sizeof dup), FS_E_BAD_MSGPACK);
	assert_int_equal(dec_rc(nodup, sizeof nodup), FS_OK);
	assert_int_equal(dec_rc(strbin, sizeof strbin), FS_OK);
	assert_int_equal(dec_rc(inner, sizeof inner), FS_E_BAD_MSGPACK);

	/* big maps go through the sorted check; dup at several places */
	for (n = 17; n <= 5000; n = n * 3 + 1) {
		for (d = 0; d < 3; d++) {
			wbuf b;
			char key[16];
			unsigned i;

			wb_init(&b);
			wb_map(&b, n);
			for (i = 0; i < n; i++) {
				unsigned k = i;

				if (d == 1 && i == n - 1)
					k = 0;         /* last equals first */
				if (d == 2 && i == n / 2)
					k = n / 2 - 1; /* neighbours */
				snprintf(key, sizeof key, "key%u", k);
				wb_cstr(&b, key);
				wb_u64(&b, i);
			}
			assert_int_equal(dec_rc(b.p, b.n),
			                 d == 0 ? FS_OK : FS_E_BAD_MSGPACK);
			wb_free(&b);
		}
	}
}

static void test_random_bytes_no_crash(void **state)
{
	uint8_t buf[64];
	arena *a = arena_new(0);
	unsigned i, j;
	wbuf b;

	rng_state = 0x9e3779b97f4a7c15ull;
	for (i = 0; i < 200000; i++) {
		size_t n = rnd() % sizeof buf;
		wval *v;

		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)rnd();
		if (wire_decode(a, buf, n, &v) == FS_OK) {
			wbuf r;

			wb_init(&r);
			wb_val(&r, v);
			assert_int_equal(r.err, 0);
			wb_free(&r);
		}
		if (i % 1000 == 0)
			arena_reset(a);
	}
	/* mutations of a valid message */
	build_sample(&b);
	for (i = 0; i < 100000; i++) {
		uint8_t *m = malloc(b.n);
		wval *v;

		memcpy(m, b.p, b.n);
		for (j = 0; j < 1 + rnd() % 3; j++)
			m[rnd() % b.n] = (uint8_t)rnd();
		(void)wire_decode(a, m, b.n, &v);
		free(m);
		if (i % 1000 == 0)
			arena_reset(a);
	}
	wb_free(&b);
	arena_free(a);
}

/* ---- value helpers ----------------------------------------------------- */

static void test_equal(void **state)
{
	arena *a = arena_new(0);
	const uint8_t m1[] = { 0x83, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xc3, 0xc0,
	                       0xa1, 'c', 0xa0 };
	const uint8_t m2[] = { 0x83, 0xa1, 'c', 0xa0, 0xa1, 'a', 0x01, 0xa1, 'b',
	                       0x92, 0xc3, 0xc0 };
	const uint8_t m3[] = { 0x83, 0xa1, 'c', 0xa0, 0xa1, 'a', 0x01, 0xa1, 'b',
	                       0x92, 0xc3, 0xc2 };
	const uint8_t m4[] = { 0x83, 0xa1, 'c', 0xa0, 0xa1, 'a', 0x01, 0xa1, 'd',
	                       0x92, 0xc3, 0xc0 };
	const uint8_t s[] = { 0xa1, 'x' }, bn[] = { 0xc4, 0x01, 'x' };
	const uint8_t zero[] = { 0x00 }, zero_i8[] = { 0xd0, 0x00 };
	wval *v1 = dec(a, m1, sizeof m1), *v2 = dec(a, m2, sizeof m2);
	wval u, i, f1, f2;

	assert_true(wv_equal(v1, v2));
	assert_true(wv_equal(v2, v1));
	assert_false(wv_equal(v1, dec(a, m3, sizeof m3)));
	assert_false(wv_equal(v1, dec(a, m4, sizeof m4)));
	assert_false(wv_equal(dec(a, s, 2), dec(a, bn, 3)));
	assert_true(wv_equal(dec(a, zero, 1), dec(a, zero_i8, 2)));

	u.t = WV_UINT;
	u.u = 5;
	i.t = WV_INT;
	i.i = 5; /* not a value the decoder makes, but must not match */
	assert_false(wv_equal(&u, &i));
	f1.t = f2.t = WV_FLOAT;
	f1.f = 0.0;
	f2.f = -0.0;
	assert_false(wv_equal(&f1, &f2));
	f1.f = f2.f = NAN;
	assert_true(wv_equal(&f1, &f2));

	/* big maps in shuffled order */
	{
		wbuf b1, b2;
		unsigned n = 300, k, perm[300];
		char key[16];

		for (k = 0; k < n; k++)
			perm[k] = k;
		rng_state = 12345;
		for (k = n - 1; k > 0; k--) {
			unsigned j = (unsigned)(rnd() % (k + 1)), t = perm[k];

			perm[k] = perm[j];
			perm[j] = t;
		}
		wb_init(&b1);
		wb_init(&b2);
		wb_map(&b1, n);
		wb_map(&b2, n);
		for (k = 0; k < n; k++) {
			snprintf(key, sizeof key, "f%u", k);
			wb_cstr(&b1, key);
			wb_u64(&b1, k);
			snprintf(key, sizeof key, "f%u", perm[k]);
			wb_cstr(&b2, key);
			wb_u64(&b2, perm[k]);
		}
		v1 = dec(a, b1.p, b1.n);
		v2 = dec(a, b2.p, b2.n);
		assert_true(wv_equal(v1, v2));
		v2->m.v[7].u++;
		assert_false(wv_equal(v1, v2));
		wb_free(&b1);
		wb_free(&b2);
	}
	arena_free(a);
}

static void test_clone_strdup_num(void **state)
{
	arena *a = arena_new(0), *b = arena_new(0);
	wbuf w;
	wval *v, *c;
	char *s;
	double d;
	int64_t i;

	build_sample(&w);
	v = dec(a, w.p, w.n);
	c = wv_clone(b, v);
	assert_non_null(c);
	assert_true(wv_equal(v, c));
	/* the clone does not point into the input */
	memset(w.p, 0xc0, w.n);
	arena_free(a);
	assert_true(wv_is_str(wv_get(wv_get(&wv_get(c, "push")->a.v[0], "f"),
	                             "note"), "\xe6\xa5\xbc\xe9\x81\x93 ok"));
	s = wv_strdup(b, wv_get(&wv_get(c, "push")->a.v[0], "c"));
	assert_string_equal(s, "checkin");
	assert_null(wv_strdup(b, wv_get(c, "v")));
	assert_true(wv_num(wv_get(c, "f"), &d) && d == 2.5);
	assert_false(wv_num(wv_get(c, "t"), &d));
	assert_false(wv_i64(wv_get(c, "f"), &i));
	assert_int_equal(wv_depth(c), 4);
	wb_free(&w);
	arena_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars_roundtrip),
		cmocka_unit_test(test_float32_decodes_to_double),
		cmocka_unit_test(test_uint_boundaries),
		cmocka_unit_test(test_int_boundaries),
		cmocka_unit_test(test_signed_encodings_of_positive),
		cmocka_unit_test(test_str_bin_lengths),
		cmocka_unit_test(test_containers_roundtrip),
		cmocka_unit_test(test_sample_and_later_patch),
		cmocka_unit_test(test_patch_bytes),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_c1_and_ext),
		cmocka_unit_test(test_every_single_byte),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_huge_declared_counts),
		cmocka_unit_test(test_decode_budget),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_random_bytes_no_crash),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_clone_strdup_num),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
