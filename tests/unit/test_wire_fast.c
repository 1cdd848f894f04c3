/*
 * test_wire_fast.c — wire.c's encoder fast paths (a short string, small
 * map and array headers, nil, bools and uint64s written straight into a
 * buffer that has room) give exactly the bytes msgpack-c's packer gives.
 * The packer's path is taken on a fresh buffer (no room yet), the fast
 * path on one that already has room; the two must agree byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/wire.h"

typedef void (*enc_fn)(wbuf *b, uint64_t v);

/* The bytes of one call made on a fresh buffer (packer) and on a buffer
 * with room (fast path). */
static void same_both_ways(enc_fn fn, uint64_t v)
{
	wbuf slow, fast;
	wb_init(&slow);
	fn(&slow, v);
	assert_false(slow.err);

	wb_init(&fast);
	for (int i = 0; i < 64; i++)
		wb_raw(&fast, "\0", 1); /* make room, then forget it */
	assert_true(fast.cap >= 64);
	fast.n = 0;
	fn(&fast, v);
	assert_false(fast.err);

	assert_int_equal(slow.n, fast.n);
	assert_memory_equal(slow.p, fast.p, slow.n);
	wb_free(&slow);
	wb_free(&fast);
}

static char text[64];

static void enc_str(wbuf *b, uint64_t n) { wb_str(b, text, (size_t)n); }
static void enc_cstr(wbuf *b, uint64_t n)
{
	char s[64];
	memcpy(s, text, (size_t)n);
	s[n] = 0;
	wb_cstr(b, s);
}
static void enc_map(wbuf *b, uint64_t n) { wb_map(b, (uint32_t)n); }
static void enc_arr(wbuf *b, uint64_t n) { wb_arr(b, (uint32_t)n); }
static void enc_u64(wbuf *b, uint64_t v) { wb_u64(b, v); }
static void enc_bool(wbuf *b, uint64_t v) { wb_bool(b, (int)v); }
static void enc_nil(wbuf *b, uint64_t v) { (void)v; wb_nil(b); }

static void test_short_strings(void **state)
{
	(void)state;
	for (int i = 0; i < 63; i++)
		text[i] = (char)('a' + i % 26);
	for (uint64_t n = 0; n <= 40; n++) {
		same_both_ways(enc_str, n);
		same_both_ways(enc_cstr, n);
	}
}

static void test_headers(void **state)
{
	(void)state;
	for (uint64_t n = 0; n <= 40; n++) {
		same_both_ways(enc_map, n);
		same_both_ways(enc_arr, n);
	}
	same_both_ways(enc_map, 65535);
	same_both_ways(enc_map, 65536);
	same_both_ways(enc_arr, 70000);
}

static void test_scalars(void **state)
{
	(void)state;
	static const uint64_t u[] = {0, 1, 127, 128, 255, 256, 65535, 65536,
	                             0xffffffffULL, 0x100000000ULL,
	                             (1ULL << 47) | 12345, 0x7fffffffffffffffULL,
	                             0x8000000000000000ULL, UINT64_MAX};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		same_both_ways(enc_u64, u[i]);
	same_both_ways(enc_bool, 0);
	same_both_ways(enc_bool, 1);
	same_both_ways(enc_nil, 0);
}

/* A buffer filled right to its capacity takes the packer for the next
 * value (and grows); what it holds stays right. */
static void test_at_the_edge(void **state)
{
	(void)state;
	wbuf b;
	wb_init(&b);
	wb_nil(&b);
	while (b.n < b.cap)
		wb_nil(&b);
	size_t before = b.n;
	wb_str(&b, "edge", 4);
	wb_u64(&b, 1ULL << 40);
	assert_false(b.err);
	assert_int_equal(b.n, before + 5 + 9);
	assert_memory_equal(b.p + before, "\xa4" "edge", 5);
	assert_int_equal(b.p[before + 5], 0xcf);
	wb_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_strings),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_at_the_edge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
