/* test_ratelimit.c — ratelimit.h: token buckets (burst, refill,
 * Retry-After, bounded table), address normalising, trusted proxies and
 * the X-Forwarded-For walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/http/ratelimit.h"

static void test_burst_then_refill(void **st)
{
	ratelimit *r;
	rl_cfg c = {2, 5, 0};
	assert_int_equal(rl_open(&r, &c), FS_OK);
	uint64_t t = 1000000;
	for (int i = 0; i < 5; i++)
		assert_int_equal(rl_take(r, "d1", 2, t), 0);
	/* empty: one token comes back in 0.5 s -> Retry-After 1 */
	assert_int_equal(rl_take(r, "d1", 2, t), 1);
	/* another key has its own bucket */
	assert_int_equal(rl_take(r, "d2", 2, t), 0);
	/* 499 ms: still not a whole token */
	assert_int_not_equal(rl_take(r, "d1", 2, t + 499), 0);
	assert_int_equal(rl_take(r, "d1", 2, t + 500), 0);
	/* a long pause refills to the burst, never beyond */
	t += 3600 * 1000;
	for (int i = 0; i < 5; i++)
		assert_int_equal(rl_take(r, "d1", 2, t), 0);
	assert_int_not_equal(rl_take(r, "d1", 2, t), 0);
	/* a clock that goes back gives nothing and breaks nothing */
	assert_int_not_equal(rl_take(r, "d1", 2, t - 10000), 0);
	rl_close(r);
}

static void test_retry_after_seconds(void **st)
{
	ratelimit *r;
	rl_cfg c = {1, 1, 0};
	/* 1 a second: empty bucket waits 1 s */
	assert_int_equal(rl_open(&r, &c), FS_OK);
	assert_int_equal(rl_take(r, "k", 1, 5000), 0);
	assert_int_equal(rl_take(r, "k", 1, 5000), 1);
	rl_close(r);
}

static void test_disabled(void **st)
{
	ratelimit *r;
	rl_cfg c = {0, 0, 0};
	assert_int_equal(rl_open(&r, &c), FS_OK);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(rl_take(r, "x", 1, 1), 0);
	rl_close(r);
	assert_int_equal(rl_take(NULL, "x", 1, 1), 0);
	rl_close(NULL);
}

static void test_many_keys_bounded(void **st)
{
	/* 64 slots, 100000 distinct keys: no crash, every new key starts
	 * full, and a key in use right now keeps its (empty) bucket */
	ratelimit *r;
	rl_cfg c = {1, 3, 64};
	assert_int_equal(rl_open(&r, &c), FS_OK);
	char k[32];
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(k, sizeof(k), "dev-%d", i);
		assert_int_equal(rl_take(r, k, (size_t)n, 1000), 0);
	}
	/* a key longer than RL_KEY_MAX is cut, not overflowed */
	char big[400];
	memset(big, 'a', sizeof(big));
	assert_int_equal(rl_take(r, big, sizeof(big), 1000), 0);
	rl_close(r);
}

static void norm(const char *in, const char *want, int rc)
{
	char out[RL_ADDR_MAX];
	assert_int_equal(rl_addr_norm(in, strlen(in), out), rc);
	assert_string_equal(out, want);
}

static void test_addr_norm(void **st)
{
	norm("192.0.2.7", "192.0.2.7", 0);
	norm(" 192.0.2.7:443 ", "192.0.2.7", 0);
	norm("::ffff:192.0.2.7", "192.0.2.7", 0);
	norm("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", 0);
	norm("[2001:db8:1:2::9]:8443", "2001:db8:1:2::/64", 0);
	norm("::1", "::/64", 0);
	norm("unknown", "unknown", -1);
	norm("", "", -1);
	norm("1.2.3", "1.2.3", -1);
}

static void test_proxies_parse(void **st)
{
	rl_proxies *p;
	char err[200];
	assert_int_equal(rl_proxies_parse(&p, "127.0.0.1,10.0.0.0/8,fd00::/8", err,
	                                  sizeof(err)),
	                 FS_OK);
	assert_true(rl_proxy_trusted(p, "127.0.0.1"));
	assert_true(rl_proxy_trusted(p, "::ffff:127.0.0.1"));
	assert_true(rl_proxy_trusted(p, "10.200.1.2"));
	assert_false(rl_proxy_trusted(p, "11.0.0.1"));
	assert_false(rl_proxy_trusted(p, "127.0.0.2"));
	assert_true(rl_proxy_trusted(p, "fd12::1"));
	assert_false(rl_proxy_trusted(p, "fe80::1"));
	assert_false(rl_proxy_trusted(p, NULL));
	rl_proxies_free(p);
	assert_int_equal(rl_proxies_parse(&p, NULL, err, sizeof(err)), FS_OK);
	assert_false(rl_proxy_trusted(p, "127.0.0.1"));
	rl_proxies_free(p);
	assert_int_equal(rl_proxies_parse(&p, "10.0.0.0/33", err, sizeof(err)),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(rl_proxies_parse(&p, "proxy.example", err, sizeof(err)),
	                 FS_E_BAD_REQUEST);
	assert_non_null(strstr(err, "proxy.example"));
	assert_int_equal(rl_proxies_parse(&p, "10.0.0.0/", err, sizeof(err)),
	                 FS_E_BAD_REQUEST);
	rl_proxies_free(NULL);
}

static void client(const rl_proxies *p, const char *peer, const char *x1,
                   const char *x2, const char *want)
{
	const char *xff[2] = {x1, x2};
	char out[RL_ADDR_MAX];
	rl_client_addr(p, peer, xff, x2 ? 2 : x1 ? 1 : 0, out);
	assert_string_equal(out, want);
}

static void test_client_addr(void **st)
{
	rl_proxies *p, *none;
	char err[200];
	assert_int_equal(rl_proxies_parse(&p, "127.0.0.1,10.0.0.0/8", err,
	                                  sizeof(err)),
	                 FS_OK);
	assert_int_equal(rl_proxies_parse(&none, "", err, sizeof(err)), FS_OK);
	/* untrusted peer: X-Forwarded-For ignored */
	client(p, "198.51.100.1", "203.0.113.9", NULL, "198.51.100.1");
	client(none, "127.0.0.1", "203.0.113.9", NULL, "127.0.0.1");
	/* trusted peer: the right-most entry */
	client(p, "127.0.0.1", "203.0.113.9", NULL, "203.0.113.9");
	/* a client's own prefix does not help it */
	client(p, "127.0.0.1", "1.1.1.1, 203.0.113.9", NULL, "203.0.113.9");
	/* trusted hops are skipped */
	client(p, "127.0.0.1", "203.0.113.9, 10.1.2.3", NULL, "203.0.113.9");
	/* several header lines: the last is the right-most */
	client(p, "127.0.0.1", "1.1.1.1", "203.0.113.9", "203.0.113.9");
	client(p, "127.0.0.1", "203.0.113.9", "10.0.0.5,10.0.0.6",
	       "203.0.113.9");
	/* IPv6 clients by /64 */
	client(p, "127.0.0.1", "2001:db8:5:6::1", NULL, "2001:db8:5:6::/64");
	/* garbage a trusted hop passed on: that hop's address */
	client(p, "127.0.0.1", "203.0.113.9, bogus", NULL, "127.0.0.1");
	client(p, "127.0.0.1", "203.0.113.9, bogus, 10.9.9.9", NULL, "10.9.9.9");
	/* every entry trusted: the left-most */
	client(p, "127.0.0.1", "10.0.0.1, 10.0.0.2", NULL, "10.0.0.1");
	/* no header, empty header, empty entries */
	client(p, "127.0.0.1", NULL, NULL, "127.0.0.1");
	client(p, "127.0.0.1", "", NULL, "127.0.0.1");
	client(p, "127.0.0.1", " , 203.0.113.9 ,", NULL, "203.0.113.9");
	rl_proxies_free(p);
	rl_proxies_free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_many_keys_bounded),
		cmocka_unit_test(test_addr_norm),
		cmocka_unit_test(test_proxies_parse),
		cmocka_unit_test(test_client_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
