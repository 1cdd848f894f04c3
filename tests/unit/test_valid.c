/* Unit tests: protocol/valid.c (and utf8_valid in protocol/wire.c) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "protocol/errors.h"
#include "protocol/valid.h"
#include "protocol/wire.h"

static void test_id_ok(void **state)
{
	char id[FS_ID_MAX];

	assert_int_equal(valid_id("a", 1), FS_OK);
	assert_int_equal(valid_id("01HZX3K9Q7T0V4R8M2N6P5W1YA", 26), FS_OK);
	assert_int_equal(valid_id("site.1:zone-2_b", 15), FS_OK);
	assert_int_equal(valid_id("-._:", 4), FS_OK);
	memset(id, 'x', sizeof id);
	assert_int_equal(valid_id(id, 128), FS_OK);
}

static void test_id_bad(void **state)
{
	char id[FS_ID_MAX + 1];
	const char *bad[] = { " ", "a b", "a/b", "a\\b", "é", "a\nb", "a+b",
	                      "a@b", "%", "a#", "~", "a,b", "\"" };
	const char nul[] = { 'a', '\0', 'b' };
	const char inv[] = { 'a', (char)0xff, 'b' };
	const char inv2[] = { (char)0xc0, (char)0x80 };
	const char hi[] = { (char)0x80 };
	size_t i;

	assert_int_equal(valid_id("", 0), FS_E_BAD_ID);
	assert_int_equal(valid_id(NULL, 0), FS_E_BAD_ID);
	memset(id, 'x', sizeof id);
	assert_int_equal(valid_id(id, 129), FS_E_BAD_ID);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(valid_id(bad[i], strlen(bad[i])), FS_E_BAD_ID);
	assert_int_equal(valid_id(nul, 3), FS_E_BAD_ID);
	assert_int_equal(valid_id(inv, 3), FS_E_BAD_ID);
	assert_int_equal(valid_id(inv2, 2), FS_E_BAD_ID);
	assert_int_equal(valid_id(hi, 1), FS_E_BAD_ID);
	/* every byte outside the set */
	for (i = 0; i < 256; i++) {
		char c = (char)i;
		int ok = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') ||
		         (i >= '0' && i <= '9') || i == '.' || i == '_' ||
		         i == ':' || i == '-';

		assert_int_equal(valid_id(&c, 1), ok ? FS_OK : FS_E_BAD_ID);
	}
}

static void test_field_name(void **state)
{
	char n[66];

	assert_int_equal(valid_field_name("name", 4), FS_OK);
	assert_int_equal(valid_field_name("_deleted", 8), FS_OK);
	assert_int_equal(valid_field_name("checklist_done", 14), FS_OK);
	assert_int_equal(valid_field_name("a1", 2), FS_OK);
	assert_int_equal(valid_field_name("_", 1), FS_OK);
	assert_int_not_equal(valid_field_name("", 0), FS_OK);
	assert_int_not_equal(valid_field_name("1a", 2), FS_OK);
	assert_int_not_equal(valid_field_name("Name", 4), FS_OK);
	assert_int_not_equal(valid_field_name("a-b", 3), FS_OK);
	assert_int_not_equal(valid_field_name("a.b", 3), FS_OK);
	assert_int_not_equal(valid_field_name("a\0b", 3), FS_OK);
	memset(n, 'a', sizeof n);
	assert_int_equal(valid_field_name(n, 64), FS_OK);
	assert_int_not_equal(valid_field_name(n, 65), FS_OK);
}

static void test_utf8(void **state)
{
	struct {
		const char *s;
		size_t n;
		int ok;
	} c[] = {
		{ "", 0, 1 },
		{ "plain", 5, 1 },
		{ "\xe6\xa5\xbc\xe9\x81\x93", 6, 1 },     /* 楼道 */
		{ "\xf0\x9f\x98\x80", 4, 1 },             /* U+1F600 */
		{ "\xc2\x80", 2, 1 },
		{ "\xef\xbf\xbf", 3, 1 },
		{ "\xf4\x8f\xbf\xbf", 4, 1 },             /* U+10FFFF */
		{ "\xc0\xaf", 2, 0 },                     /* overlong / */
		{ "\xc1\xbf", 2, 0 },
		{ "\xe0\x80\xaf", 3, 0 },                 /* overlong */
		{ "\xf0\x80\x80\xaf", 4, 0 },             /* overlong */
		{ "\xed\xa0\x80", 3, 0 },                 /* surrogate */
		{ "\xed\xbf\xbf", 3, 0 },
		{ "\xf4\x90\x80\x80", 4, 0 },             /* > U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xff", 1, 0 },
		{ "\x80", 1, 0 },
		{ "\xe6\xa5", 2, 0 },                     /* truncated */
		{ "a\xc3", 2, 0 },
		{ "\xc3\x28", 2, 0 },                     /* bad continuation */
	};
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++)
		assert_int_equal(utf8_valid(c[i].s, c[i].n), c[i].ok);
}

static wval mk_str(const char *s)
{
	wval v;

	v.t = WV_STR;
	v.s.p = s;
	v.s.n = (uint32_t)strlen(s);
	return v;
}

/* [[[[...x...]]]] with `d` arrays around x */
static void nest(wval *slots, int d, wval leaf)
{
	int i;

	slots[d] = leaf;
	for (i = d - 1; i >= 0; i--) {
		slots[i].t = WV_ARR;
		slots[i].a.v = &slots[i + 1];
		slots[i].a.n = 1;
	}
}

static void test_value(void **state)
{
	fs_limits l;
	wval slots[8], v, big, k[1], vv[1];
	static char buf[70000];

	fs_limits_default(&l);
	v.t = WV_NIL;
	assert_int_equal(valid_value(&v, &l), FS_OK);
	v = mk_str("\xe6\xa5\xbc");
	assert_int_equal(valid_value(&v, &l), FS_OK);
	v = mk_str("\xc0\xaf");
	assert_int_equal(valid_value(&v, &l), FS_E_BAD_TYPE);

	nest(slots, 4, mk_str("x"));
	assert_int_equal(valid_value(&slots[0], &l), FS_OK);
	nest(slots, 5, mk_str("x"));
	assert_int_equal(valid_value(&slots[0], &l), FS_E_BAD_TYPE);
	/* empty array at depth 5 */
	nest(slots, 4, mk_str("x"));
	slots[4].t = WV_ARR;
	slots[4].a.n = 0;
	slots[4].a.v = NULL;
	assert_int_equal(valid_value(&slots[0], &l), FS_E_BAD_TYPE);

	memset(buf, 'a', sizeof buf);
	big.t = WV_STR;
	big.s.p = buf;
	big.s.n = 65536;
	assert_int_equal(valid_value(&big, &l), FS_OK);
	big.s.n = 65537;
	assert_int_equal(valid_value(&big, &l), FS_E_TOO_LARGE);
	big.t = WV_BIN;
	assert_int_equal(valid_value(&big, &l), FS_E_TOO_LARGE);
	nest(slots, 3, big);
	assert_int_equal(valid_value(&slots[0], &l), FS_E_TOO_LARGE);

	/* map with a non-string key */
	k[0].t = WV_UINT;
	k[0].u = 1;
	vv[0].t = WV_NIL;
	v.t = WV_MAP;
	v.m.k = k;
	v.m.v = vv;
	v.m.n = 1;
	assert_int_equal(valid_value(&v, &l), FS_E_BAD_TYPE);
	k[0] = mk_str("key");
	assert_int_equal(valid_value(&v, &l), FS_OK);
	vv[0] = mk_str("\xff");
	assert_int_equal(valid_value(&v, &l), FS_E_BAD_TYPE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_ok),
		cmocka_unit_test(test_id_bad),
		cmocka_unit_test(test_field_name),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
