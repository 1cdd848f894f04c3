/* test_doc.c — server/lib/doc.h: one writer, JSON or msgpack by a flag:
 * the same calls give JSON text and msgpack that decodes to the same
 * value; counted and promised sizes; the tight form's smallest headers;
 * and doc_fmt_f64, the CSV number form: the fewest digits that read back
 * exactly (0.8, not 0.80000000000000004). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/lib/doc.h"

static void write_sample(doc *d)
{
	doc_map(d);
	doc_key(d, "site");
	doc_str(d, "s1");
	doc_key(d, "n");
	doc_u64(d, 300);
	doc_key(d, "skew");
	doc_i64(d, -5);
	doc_key(d, "rate");
	doc_f64(d, 0.8);
	doc_key(d, "none");
	doc_nil(d);
	doc_keyn(d, "okay", 2);
	doc_bool(d, 1);
	doc_key(d, "list");
	doc_arr(d);
	for (int i = 0; i < 20; i++)
		doc_u64(d, (uint64_t)i);
	doc_end(d);
	doc_end(d);
}

static void test_json(void **st)
{
	wbuf b;
	wb_init(&b);
	doc d;
	doc_init(&d, &b, 1);
	write_sample(&d);
	wb_raw(&b, "", 1);
	assert_false(b.err);
	assert_string_equal((char *)b.p,
	                    "{\"site\":\"s1\",\"n\":300,\"skew\":-5,"
	                    "\"rate\":0.80000000000000004,\"none\":null,"
	                    "\"ok\":true,\"list\":[0,1,2,3,4,5,6,7,8,9,10,11,12,"
	                    "13,14,15,16,17,18,19]}");
	wb_free(&b);
}

static void check_msgpack(const wbuf *b)
{
	arena *a = arena_new(4096);
	wval *v;
	assert_int_equal(wire_decode(a, b->p, b->n, &v), 0);
	assert_int_equal(v->t, WV_MAP);
	assert_true(wv_is_str(wv_get(v, "site"), "s1"));
	uint64_t u;
	assert_true(wv_u64(wv_get(v, "n"), &u));
	assert_int_equal(u, 300);
	int64_t i;
	assert_true(wv_i64(wv_get(v, "skew"), &i));
	assert_int_equal(i, -5);
	assert_int_equal(wv_get(v, "rate")->t, WV_FLOAT);
	assert_true(wv_get(v, "rate")->f == 0.8);
	assert_int_equal(wv_get(v, "none")->t, WV_NIL);
	assert_int_equal(wv_get(v, "ok")->t, WV_BOOL);
	assert_int_equal(wv_get(v, "list")->t, WV_ARR);
	arena_free(a);
}

static void test_msgpack_counted_and_tight(void **st)
{
	wbuf b, t;
	wb_init(&b);
	wb_init(&t);
	doc d;
	doc_init(&d, &b, 0);
	write_sample(&d);
	assert_false(b.err);
	assert_int_equal(b.p[0], 0xdf); /* counted: map32, patched */
	check_msgpack(&b);
	doc_init_tight(&d, &t, 0);
	write_sample(&d);
	assert_false(t.err);
	assert_int_equal(t.p[0], 0x87); /* fixmap of 7 */
	assert_int_equal(t.n, b.n - 4 - 2); /* map 5->1, array of 20: 5->3 */
	check_msgpack(&t);
	wb_free(&b);
	wb_free(&t);
}

static void test_promised_sizes(void **st)
{
	wbuf b;
	wb_init(&b);
	doc d;
	doc_init(&d, &b, 0);
	doc_map_n(&d, 1);
	doc_key(&d, "a");
	doc_arr_n(&d, 2);
	doc_u64(&d, 1);
	doc_u64(&d, 2);
	doc_end(&d);
	doc_end(&d);
	assert_false(b.err);
	static const uint8_t want[] = {0x81, 0xa1, 'a', 0x92, 1, 2};
	assert_int_equal(b.n, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	/* a writer that breaks its promise fails the buffer */
	doc_arr_n(&d, 3);
	doc_u64(&d, 1);
	doc_end(&d);
	assert_true(b.err);
	wb_free(&b);
}

static void test_csv_number_form(void **st)
{
	char s[32];
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{0.8, "0.8"},
		{4.0 / 5.0, "0.8"},
		{0.1 + 0.2, "0.30000000000000004"},
		{1.0, "1"},
		{0.0, "0"},
		{2.0 / 3.0, "0.6666666666666666"},
		{1e-7, "1e-07"},
		{123456789.0, "123456789"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = doc_fmt_f64(s, cases[i].v);
		assert_string_equal(s, cases[i].want);
		assert_int_equal(n, (int)strlen(cases[i].want));
	}
	/* every ratio of small counts reads back exactly */
	for (int num = 0; num <= 60; num++)
		for (int den = 1; den <= 60; den++) {
			double v = (double)num / den;
			doc_fmt_f64(s, v);
			assert_true(strtod(s, NULL) == v);
		}
	assert_int_equal(doc_fmt_f64(s, 1.0 / 0.0), 0);
	assert_string_equal(s, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_msgpack_counted_and_tight),
		cmocka_unit_test(test_promised_sizes),
		cmocka_unit_test(test_csv_number_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
