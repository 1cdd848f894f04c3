/* test_opbuild.c — protocol/opbuild.h builds the push shape of
 * protocol/PROTOCOL.md: ops {c, id, s, f} with every field kind, and the
 * batch map {batch, ops, by?}, decoded back value by value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "protocol/opbuild.h"

static void test_batch_shape(void **state)
{
	opbatch b;
	ob_init(&b);
	ob_op(&b, "task", "t1", 77, 9);
	ob_str(&b, "status", "done");
	ob_str(&b, "note", NULL);
	ob_u64(&b, "done_at", 1234);
	ob_i64(&b, "skew", -5);
	ob_f64(&b, "lat", 0.5);
	ob_bool(&b, "_deleted", 0);
	ob_nil(&b, "photo");
	const char *list[] = {"a", "b"};
	ob_strs(&b, "checklist_done", list, 2);
	ob_name(&b, "open");
	wb_arr(&b.ops, 0);
	ob_op(&b, "zone", "z1", 78, 0);
	assert_int_equal(b.n, 2);

	uint8_t id[16] = {1, 2, 3};
	wbuf out;
	wb_init(&out);
	wb_arr(&out, 2);
	ob_batch(&out, &b, id, NULL);
	ob_batch(&out, &b, id, "g7");
	assert_int_equal(out.err, 0);

	arena *a = arena_new(0);
	wval *v;
	assert_int_equal(wire_decode(a, out.p, out.n, &v), FS_OK);
	assert_int_equal(v->t, WV_ARR);
	assert_int_equal(v->a.n, 2);
	const wval *b0 = &v->a.v[0], *b1 = &v->a.v[1];
	assert_null(wv_get(b0, "by"));
	assert_true(wv_is_str(wv_get(b1, "by"), "g7"));
	const wval *bid = wv_get(b0, "batch");
	assert_int_equal(bid->t, WV_BIN);
	assert_int_equal(bid->s.n, 16);
	assert_memory_equal(bid->s.p, id, 16);
	const wval *ops = wv_get(b0, "ops");
	assert_int_equal(ops->a.n, 2);
	const wval *op = &ops->a.v[0];
	assert_true(wv_is_str(wv_get(op, "c"), "task"));
	assert_true(wv_is_str(wv_get(op, "id"), "t1"));
	uint64_t s;
	assert_true(wv_u64(wv_get(op, "s"), &s));
	assert_int_equal(s, 77);
	const wval *f = wv_get(op, "f");
	assert_int_equal(f->m.n, 9);
	assert_true(wv_is_str(wv_get(f, "status"), "done"));
	assert_int_equal(wv_get(f, "note")->t, WV_NIL);
	assert_int_equal(wv_get(f, "done_at")->u, 1234);
	assert_int_equal(wv_get(f, "skew")->i, -5);
	assert_true(wv_get(f, "lat")->f == 0.5);
	assert_int_equal(wv_get(f, "_deleted")->t, WV_BOOL);
	assert_int_equal(wv_get(f, "photo")->t, WV_NIL);
	assert_int_equal(wv_get(f, "checklist_done")->a.n, 2);
	assert_int_equal(wv_get(f, "open")->a.n, 0);
	assert_int_equal(wv_get(&ops->a.v[1], "f")->m.n, 0);
	arena_free(a);

	/* reset keeps nothing */
	ob_reset(&b);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.ops.n, 0);
	wb_free(&out);
	ob_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
