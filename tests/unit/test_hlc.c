/* Unit tests: protocol/hlc.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "protocol/hlc.h"

static void test_now_follows_wall(void **state)
{
	hlc_clock c = { 0 };
	uint64_t t = hlc_now(&c, 1000);

	assert_true(t == HLC_MAKE(1000, 0));
	assert_true(c.last == t);
	t = hlc_now(&c, 2000);
	assert_true(t == HLC_MAKE(2000, 0));
	assert_true(HLC_WALL(t) == 2000);
}

static void test_now_monotonic_when_wall_stalls_or_goes_back(void **state)
{
	hlc_clock c = { 0 };
	uint64_t prev = hlc_now(&c, 5000), t;
	int i;

	for (i = 0; i < 1000; i++) {
		uint64_t wall = 5000 - (uint64_t)(i % 7) * 100; /* back and forth */

		t = hlc_now(&c, wall);
		assert_true(t > prev);
		prev = t;
	}
	assert_true(HLC_WALL(prev) == 5000);
	assert_true((prev & 0xffff) == 1000);
}

static void test_counter_carry(void **state)
{
	hlc_clock c = { HLC_MAKE(7000, 0xfffe) };
	uint64_t t;

	t = hlc_now(&c, 7000);
	assert_true(t == HLC_MAKE(7000, 0xffff));
	t = hlc_now(&c, 7000);
	/* the counter ran out: carries into the wall part */
	assert_true(t == HLC_MAKE(7001, 0));
	t = hlc_now(&c, 7000);
	assert_true(t == HLC_MAKE(7001, 1));
	/* wall catches up and passes */
	t = hlc_now(&c, 7005);
	assert_true(t == HLC_MAKE(7005, 0));
}

static void test_recv_rule(void **state)
{
	hlc_clock c = { 0 };
	uint64_t local, remote, t;

	local = hlc_now(&c, 1000);
	/* remote ahead of us */
	remote = HLC_MAKE(3000, 5);
	t = hlc_recv(&c, 1000, remote);
	assert_true(t == remote + 1);
	assert_true(t > local);
	assert_true(c.last == t);
	/* next local stamp still above what we received */
	assert_true(hlc_now(&c, 1000) > remote);
	/* remote behind us: last + 1 */
	local = c.last;
	t = hlc_recv(&c, 1000, HLC_MAKE(10, 0));
	assert_true(t == local + 1);
	/* wall ahead of both */
	t = hlc_recv(&c, 9000, HLC_MAKE(3000, 0));
	assert_true(t == HLC_MAKE(9000, 0));
	/* remote equal to last */
	local = c.last;
	t = hlc_recv(&c, 0, local);
	assert_true(t == local + 1);
}

static void test_saturates(void **state)
{
	hlc_clock c = { UINT64_MAX - 1 };

	assert_true(hlc_now(&c, 0) == UINT64_MAX);
	assert_true(hlc_now(&c, 0) == UINT64_MAX);
	c.last = 0;
	assert_true(hlc_recv(&c, 0, UINT64_MAX) == UINT64_MAX);
	c.last = 0;
	assert_true(hlc_now(&c, UINT64_MAX) >= c.last);
}

static void test_many_random_recv_monotonic(void **state)
{
	hlc_clock c = { 0 };
	uint64_t x = 88172645463325252ull, prev = 0, t;
	int i;

	for (i = 0; i < 100000; i++) {
		uint64_t wall, remote;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		wall = 1700000000000ull + (x % 10000);
		remote = HLC_MAKE(1700000000000ull + ((x >> 20) % 20000),
		                  x >> 50);
		if (x & 1) {
			t = hlc_recv(&c, wall, remote);
			assert_true(t > remote);
		} else {
			t = hlc_now(&c, wall);
		}
		assert_true(t > prev);
		assert_true(t >= (wall << 16));
		prev = t;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_now_follows_wall),
		cmocka_unit_test(test_now_monotonic_when_wall_stalls_or_goes_back),
		cmocka_unit_test(test_counter_carry),
		cmocka_unit_test(test_recv_rule),
		cmocka_unit_test(test_saturates),
		cmocka_unit_test(test_many_random_recv_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
