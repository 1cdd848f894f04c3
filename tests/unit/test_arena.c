/* Unit tests: protocol/arena.c and protocol/errors.c, protocol/limits.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/limits.h"

static void test_alignment_and_growth(void **state)
{
	arena *a = arena_new(256);
	size_t i;

	assert_non_null(a);
	for (i = 0; i < 1000; i++) {
		size_t n = (i * 7919) % 300 + 1;
		unsigned char *p = arena_alloc(a, n);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xab, n);
	}
	assert_true(arena_used(a) >= 1000);
	arena_free(a);
}

static void test_big_alloc_keeps_chunk(void **state)
{
	arena *a = arena_new(1024);
	char *small1, *big, *small2;

	small1 = arena_alloc(a, 16);
	big = arena_alloc(a, 1 << 20);
	small2 = arena_alloc(a, 16);
	assert_non_null(small1);
	assert_non_null(big);
	assert_non_null(small2);
	memset(big, 1, 1 << 20);
	/* the small ones still come from the first chunk */
	assert_ptr_equal(small2, small1 + 16);
	arena_free(a);
}

static void test_overflow_returns_null(void **state)
{
	arena *a = arena_new(0);

	assert_null(arena_alloc(a, SIZE_MAX));
	assert_null(arena_alloc(a, SIZE_MAX - 8));
	assert_null(arena_calloc(a, SIZE_MAX / 2, 3));
	assert_null(arena_calloc(a, (size_t)1 << 40, (size_t)1 << 40));
	/* still usable */
	assert_non_null(arena_alloc(a, 10));
	arena_free(a);
}

static void test_calloc_zeroes(void **state)
{
	arena *a = arena_new(64);
	unsigned char *p;
	size_t i;

	p = arena_alloc(a, 64);
	memset(p, 0xff, 64);
	arena_reset(a);
	p = arena_calloc(a, 8, 8);
	assert_non_null(p);
	for (i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	arena_free(a);
}

static void test_dup_strndup_printf(void **state)
{
	arena *a = arena_new(0);
	const char src[] = { 'a', 'b', '\0', 'c' };
	char *d = arena_dup(a, src, 4);
	char *s = arena_strndup(a, "hello world", 5);
	char *f = arena_printf(a, "%s-%d-%05u", "x", -3, 42u);

	assert_memory_equal(d, src, 4);
	assert_string_equal(s, "hello");
	assert_string_equal(f, "x--3-00042");
	assert_string_equal(arena_strndup(a, "", 0), "");
	arena_free(a);
}

static void test_reset_reuses(void **state)
{
	arena *a = arena_new(4096);
	void *first, *again;
	int i;

	first = arena_alloc(a, 32);
	for (i = 0; i < 100; i++)
		assert_non_null(arena_alloc(a, 1000));
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	again = arena_alloc(a, 32);
	assert_ptr_equal(first, again);
	arena_reset(a);
	arena_reset(a);
	arena_free(a);
	arena_free(NULL);
}

static void test_errors_table(void **state)
{
	assert_string_equal(fs_err_name(FS_OK), "OK");
	assert_string_equal(fs_err_name(FS_E_BAD_TYPE), "BAD_TYPE");
	assert_string_equal(fs_err_name(FS_E_UNAVAILABLE), "UNAVAILABLE");
	assert_string_equal(fs_err_name(-1), "INTERNAL");
	assert_string_equal(fs_err_name(FS_E__COUNT), "INTERNAL");
	assert_int_equal(fs_err_status(FS_E_TOO_LARGE), 413);
	assert_int_equal(fs_err_status(FS_E_UNAUTHORIZED), 401);
	assert_int_equal(fs_err_status(FS_E_RATE_LIMITED), 429);
	assert_int_equal(fs_err_status(FS_E_UNAVAILABLE), 503);
	assert_int_equal(fs_err_status(12345), 500);
	assert_string_equal(fs_err_msg(FS_E_NOT_FOUND), "not found");
	assert_non_null(fs_err_msg(9999));
}

static void test_limits_default(void **state)
{
	fs_limits l;

	memset(&l, 0, sizeof l);
	fs_limits_default(&l);
	assert_int_equal(l.body_max, 4u << 20);
	assert_int_equal(l.inflated_max, 32u << 20);
	assert_int_equal(l.batches_max, 64);
	assert_int_equal(l.ops_max, 5000);
	assert_int_equal(l.fields_max, 64);
	assert_int_equal(l.value_bytes_max, 65536);
	assert_int_equal(l.value_depth_max, 4);
	assert_int_equal(l.blob_max, 16u << 20);
	assert_int_equal(l.pull_limit_default, 1000);
	assert_int_equal(l.pull_limit_max, 10000);
	assert_int_equal(l.max_skew_ms, 300000);
	assert_true(l.tombstone_ttl_ms == 30ull * 86400000);
	assert_true(l.session_ttl_ms == 7ull * 86400000);
	assert_true(l.evidence_window_ms == 7ull * 86400000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment_and_growth),
		cmocka_unit_test(test_big_alloc_keeps_chunk),
		cmocka_unit_test(test_overflow_returns_null),
		cmocka_unit_test(test_calloc_zeroes),
		cmocka_unit_test(test_dup_strndup_printf),
		cmocka_unit_test(test_reset_reuses),
		cmocka_unit_test(test_errors_table),
		cmocka_unit_test(test_limits_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
