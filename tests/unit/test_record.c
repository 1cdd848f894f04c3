/* Unit tests: protocol/record.c — stamps, merge, stored form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "protocol/errors.h"
#include "protocol/record.h"
#include "protocol/wire.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static stamp st(uint64_t hlc, const char *origin)
{
	stamp s;

	s.hlc = hlc;
	s.origin = origin;
	s.origin_n = (uint32_t)strlen(origin);
	return s;
}

static wval u(uint64_t x)
{
	wval v;

	v.t = WV_UINT;
	v.u = x;
	return v;
}

static wval str(const char *s)
{
	wval v;

	v.t = WV_STR;
	v.s.p = s;
	v.s.n = (uint32_t)strlen(s);
	return v;
}

/* Stored bytes of a record, malloc'd. */
static uint8_t *enc(const record *r, size_t *n)
{
	wbuf b;
	uint8_t *p;

	wb_init(&b);
	rec_encode(&b, r);
	assert_int_equal(b.err, 0);
	p = wb_take(&b, n);
	assert_non_null(p);
	return p;
}

static void assert_same_record(const record *x, const record *y)
{
	size_t nx, ny;
	uint8_t *px = enc(x, &nx), *py = enc(y, &ny);

	assert_int_equal(nx, ny);
	assert_memory_equal(px, py, nx);
	free(px);
	free(py);
}

static void assert_sorted(const record *r)
{
	uint32_t i;

	for (i = 1; i < r->n; i++) {
		const rfield *a = &r->f[i - 1], *b = &r->f[i];
		size_t m = a->name_n < b->name_n ? a->name_n : b->name_n;
		int c = memcmp(a->name, b->name, m);

		assert_true(c < 0 || (c == 0 && a->name_n < b->name_n));
	}
}

static void test_stamp_cmp(void **state)
{
	stamp a = st(10, "dev-a"), b = st(11, "dev-a"), c = st(10, "dev-b");
	stamp d = st(10, "dev"), e = st(10, "dev-a"), z = st(10, "");

	assert_true(stamp_cmp(&a, &b) < 0);
	assert_true(stamp_cmp(&b, &a) > 0);
	assert_true(stamp_cmp(&a, &c) < 0);
	assert_true(stamp_cmp(&c, &a) > 0);
	assert_true(stamp_cmp(&d, &a) < 0); /* prefix is smaller */
	assert_true(stamp_cmp(&a, &d) > 0);
	assert_int_equal(stamp_cmp(&a, &e), 0);
	assert_true(stamp_cmp(&z, &d) < 0);
	/* hlc decides before origin */
	b = st(11, "");
	c = st(10, "zzzz");
	assert_true(stamp_cmp(&b, &c) > 0);
	/* bytewise: high bytes are not negative */
	a = st(1, "\x80");
	b = st(1, "\x7f");
	assert_true(stamp_cmp(&a, &b) > 0);
	a = st(UINT64_MAX, "a");
	b = st(0, "a");
	assert_true(stamp_cmp(&a, &b) > 0);
}

static void test_merge_basic(void **state)
{
	arena *a = arena_new(0);
	record r;
	wval v1 = str("open"), v2 = str("done"), v3 = str("skipped");
	stamp s1 = st(100, "dev-a"), s2 = st(200, "dev-b"), s0 = st(50, "dev-z");
	stamp tie_lo = st(200, "dev-a"), tie_hi = st(200, "dev-c");
	rfield *f;

	rec_init(&r);
	assert_null(rec_get(&r, "status"));
	assert_int_equal(rec_merge(a, &r, "status", 6, &v1, &s1), 1);
	assert_int_equal(rec_merge(a, &r, "status", 6, &v2, &s2), 1);
	assert_int_equal(rec_merge(a, &r, "status", 6, &v3, &s0), 0);
	/* equal stamp: not taken, even with another value */
	assert_int_equal(rec_merge(a, &r, "status", 6, &v3, &s2), 0);
	assert_int_equal(rec_merge(a, &r, "status", 6, &v2, &s2), 0);
	f = rec_get(&r, "status");
	assert_non_null(f);
	assert_true(wv_is_str(&f->val, "done"));
	/* tie on hlc: origin decides */
	assert_int_equal(rec_merge(a, &r, "status", 6, &v3, &tie_lo), 0);
	assert_int_equal(rec_merge(a, &r, "status", 6, &v3, &tie_hi), 1);
	f = rec_get(&r, "status");
	assert_true(wv_is_str(&f->val, "skipped"));
	assert_true(f->st.hlc == 200);
	assert_memory_equal(f->st.origin, "dev-c", 5);
	assert_int_equal(r.n, 1);
	arena_free(a);
}

static void test_many_fields_sorted(void **state)
{
	arena *a = arena_new(0);
	record r;
	char *names[300];
	stamp s = st(1, "o");
	unsigned i;

	rng_state = 777;
	rec_init(&r);
	for (i = 0; i < 300; i++) {
		wval v = u(i);

		names[i] = arena_printf(a, "f%llx", (unsigned long long)rnd());
		assert_int_equal(rec_merge(a, &r, names[i],
		                           (uint32_t)strlen(names[i]), &v, &s), 1);
		assert_sorted(&r);
	}
	assert_int_equal(r.n, 300);
	for (i = 0; i < 300; i++) {
		rfield *f = rec_get(&r, names[i]);

		assert_non_null(f);
		assert_true(f->val.u == i);
		assert_ptr_equal(rec_getn(&r, names[i], strlen(names[i])), f);
	}
	assert_null(rec_get(&r, "g"));
	assert_null(rec_get(&r, ""));
	assert_null(rec_getn(&r, names[0], strlen(names[0]) - 1));
	/* prefix names are distinct fields */
	{
		wval v = u(1);

		rec_init(&r);
		rec_merge(a, &r, "ab", 2, &v, &s);
		rec_merge(a, &r, "a", 1, &v, &s);
		rec_merge(a, &r, "abc", 3, &v, &s);
		rec_merge(a, &r, "b", 1, &v, &s);
		assert_int_equal(r.n, 4);
		assert_sorted(&r);
		assert_int_equal(r.f[0].name_n, 1);
		assert_int_equal(r.f[1].name_n, 2);
		assert_int_equal(r.f[2].name_n, 3);
		assert_non_null(rec_getn(&r, "abcdef", 2));
	}
	arena_free(a);
}

static void test_set_and_getters(void **state)
{
	arena *a = arena_new(0);
	record r;
	wval t, name = str("Lobby"), n42 = u(42), nil, neg;
	stamp new_s = st(500, "dev"), old_s = st(1, "server");

	t.t = WV_BOOL;
	t.b = 1;
	nil.t = WV_NIL;
	neg.t = WV_INT;
	neg.i = -5;
	rec_init(&r);
	rec_merge(a, &r, "name", 4, &name, &new_s);
	rec_merge(a, &r, "_deleted", 8, &t, &new_s);
	rec_merge(a, &r, "count", 5, &n42, &new_s);
	rec_merge(a, &r, "nothing", 7, &nil, &new_s);
	rec_merge(a, &r, "neg", 3, &neg, &new_s);
	assert_string_equal(rec_str(a, &r, "name"), "Lobby");
	assert_null(rec_str(a, &r, "count"));
	assert_null(rec_str(a, &r, "nothing"));
	assert_null(rec_str(a, &r, "missing"));
	{
		uint64_t x = 0;

		assert_true(rec_u64(&r, "count", &x) && x == 42);
		assert_false(rec_u64(&r, "neg", &x));
		assert_false(rec_u64(&r, "name", &x));
		assert_false(rec_u64(&r, "missing", &x));
	}
	assert_true(rec_true(&r, "_deleted"));
	assert_false(rec_true(&r, "name"));
	assert_false(rec_true(&r, "missing"));
	/* rec_set overrides a newer stamp */
	assert_int_equal(rec_set(a, &r, "name", 4, &nil, &old_s), 0);
	assert_int_equal(rec_get(&r, "name")->val.t, WV_NIL);
	assert_true(rec_get(&r, "name")->st.hlc == 1);
	assert_int_equal(rec_set(a, &r, "rcv", 3, &n42, &old_s), 0);
	assert_non_null(rec_get(&r, "rcv"));
	assert_sorted(&r);
	arena_free(a);
}

static void test_encode_decode_roundtrip(void **state)
{
	arena *a = arena_new(0);
	record r, back;
	wval t, note = str("\xe6\xa5\xbc\xe9\x81\x93 clean"), arr, items[2];
	stamp s1 = st(0x0190000000000001ull, "dev-1"), s2 = st(7, "server");
	uint8_t *p;
	size_t n;
	uint32_t i;

	t.t = WV_BOOL;
	t.b = 0;
	items[0] = str("cp1");
	items[1] = str("cp2");
	arr.t = WV_ARR;
	arr.a.v = items;
	arr.a.n = 2;
	rec_init(&r);
	rec_merge(a, &r, "note", 4, &note, &s1);
	rec_merge(a, &r, "_deleted", 8, &t, &s2);
	rec_merge(a, &r, "checkpoints", 11, &arr, &s1);
	p = enc(&r, &n);
	assert_int_equal(rec_decode(a, p, n, &back), FS_OK);
	assert_int_equal(back.n, 3);
	assert_sorted(&back);
	for (i = 0; i < 3; i++) {
		assert_int_equal(back.f[i].name_n, r.f[i].name_n);
		assert_memory_equal(back.f[i].name, r.f[i].name, r.f[i].name_n);
		assert_true(wv_equal(&back.f[i].val, &r.f[i].val));
		assert_int_equal(stamp_cmp(&back.f[i].st, &r.f[i].st), 0);
	}
	assert_same_record(&r, &back);
	/* a decoded record can take more fields */
	{
		wval v = u(3);
		stamp s = st(9, "x");

		assert_int_equal(rec_merge(a, &back, "a", 1, &v, &s), 1);
		assert_int_equal(back.n, 4);
		assert_sorted(&back);
	}
	free(p);

	/* the empty record */
	rec_init(&r);
	p = enc(&r, &n);
	assert_int_equal(n, 1);
	assert_int_equal(rec_decode(a, p, n, &back), FS_OK);
	assert_int_equal(back.n, 0);
	free(p);
	arena_free(a);
}

static void test_decode_sorts_unsorted_input(void **state)
{
	/* {"b": [1, 5, "o"], "a": [2, 6, "o"]} */
	const uint8_t in[] = { 0x82, 0xa1, 'b', 0x93, 0x01, 0x05, 0xa1, 'o',
	                       0xa1, 'a', 0x93, 0x02, 0x06, 0xa1, 'o' };
	arena *a = arena_new(0);
	record r;

	assert_int_equal(rec_decode(a, in, sizeof in, &r), FS_OK);
	assert_int_equal(r.n, 2);
	assert_memory_equal(r.f[0].name, "a", 1);
	assert_true(rec_get(&r, "b")->val.u == 1);
	assert_true(rec_get(&r, "b")->st.hlc == 5);
	arena_free(a);
}

static void test_decode_rejects(void **state)
{
	const struct {
		const char *what;
		const uint8_t *p;
		size_t n;
	} bad[] = {
#define B(name, ...) { name, (const uint8_t[]){ __VA_ARGS__ }, \
	sizeof((const uint8_t[]){ __VA_ARGS__ }) }
		B("not a map", 0x90),
		B("nil", 0xc0),
		B("value not array", 0x81, 0xa1, 'a', 0x01),
		B("array of 2", 0x81, 0xa1, 'a', 0x92, 0x01, 0x05),
		B("array of 4", 0x81, 0xa1, 'a', 0x94, 0x01, 0x05, 0xa0, 0xc0),
		B("hlc negative", 0x81, 0xa1, 'a', 0x93, 0x01, 0xff, 0xa1, 'o'),
		B("hlc float", 0x81, 0xa1, 'a', 0x93, 0x01, 0xca, 0, 0, 0, 0,
		  0xa1, 'o'),
		B("origin not str", 0x81, 0xa1, 'a', 0x93, 0x01, 0x05, 0xc4,
		  0x01, 'o'),
		B("origin nil", 0x81, 0xa1, 'a', 0x93, 0x01, 0x05, 0xc0),
		B("key not str", 0x81, 0x01, 0x93, 0x01, 0x05, 0xa1, 'o'),
		B("key bin", 0x81, 0xc4, 0x01, 'a', 0x93, 0x01, 0x05, 0xa1, 'o'),
		B("empty key", 0x81, 0xa0, 0x93, 0x01, 0x05, 0xa1, 'o'),
		B("duplicate field", 0x82, 0xa1, 'a', 0x93, 0x01, 0x05, 0xa1, 'o',
		  0xa1, 'a', 0x93, 0x02, 0x06, 0xa1, 'o'),
		B("truncated", 0x81, 0xa1, 'a', 0x93, 0x01, 0x05, 0xa1),
		B("trailing", 0x80, 0x00),
		B("ext", 0x81, 0xa1, 'a', 0x93, 0xd4, 0x00, 0x00, 0x05, 0xa1,
		  'o'),
		B("empty", 0x00),
#undef B
	};
	arena *a = arena_new(0);
	record r;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = rec_decode(a, bad[i].p, bad[i].n, &r);

		if (rc != FS_E_BAD_MSGPACK)
			fail_msg("%s: got %d", bad[i].what, rc);
		assert_int_equal(r.n, 0);
	}
	assert_int_equal(rec_decode(a, NULL, 0, &r), FS_E_BAD_MSGPACK);
	arena_free(a);
}

static void test_wire_fs(void **state)
{
	arena *a = arena_new(0);
	record r;
	wval v1 = str("done"), v2 = u(17);
	stamp s1 = st(300, "dev-9"), s2 = st(301, "server");
	wbuf b;
	wval *m;
	const wval *f, *s, *pair;

	rec_init(&r);
	rec_merge(a, &r, "status", 6, &v1, &s1);
	rec_merge(a, &r, "done_at", 7, &v2, &s2);
	wb_init(&b);
	wb_map(&b, 4);
	wb_cstr(&b, "c");
	wb_cstr(&b, "task");
	wb_cstr(&b, "id");
	wb_cstr(&b, "t1");
	rec_wire_fs(&b, &r);
	assert_int_equal(b.err, 0);
	assert_int_equal(wire_decode(a, b.p, b.n, &m), FS_OK);
	f = wv_get(m, "f");
	s = wv_get(m, "s");
	assert_non_null(f);
	assert_non_null(s);
	assert_int_equal(f->m.n, 2);
	assert_int_equal(s->m.n, 2);
	assert_true(wv_is_str(wv_get(f, "status"), "done"));
	assert_true(wv_get(f, "done_at")->u == 17);
	pair = wv_get(s, "status");
	assert_int_equal(pair->t, WV_ARR);
	assert_int_equal(pair->a.n, 2);
	assert_true(pair->a.v[0].u == 300);
	assert_true(wv_is_str(&pair->a.v[1], "dev-9"));
	pair = wv_get(s, "done_at");
	assert_true(pair->a.v[0].u == 301);
	assert_true(wv_is_str(&pair->a.v[1], "server"));
	wb_free(&b);
	arena_free(a);
}

/* ---- merge laws over random ops ---------------------------------------- */

#define NFIELDS 6
#define NORIGINS 4
#define NOPS 40

typedef struct {
	const char *name;
	wval val;
	stamp st;
} op;

static const char *field_names[NFIELDS] = { "status", "note", "_deleted",
	"a", "ab", "assignee" };
static const char *origins[NORIGINS] = { "dev", "dev-a", "dev-b", "server" };

/* Random ops; the value is a function of the stamp so that equal stamps
 * always carry equal values (one device never reuses a stamp). */
static void make_ops(op *ops, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		unsigned o = (unsigned)(rnd() % NORIGINS);
		uint64_t h = 1000 + rnd() % 8; /* few hlcs: many ties */

		ops[i].name = field_names[rnd() % NFIELDS];
		ops[i].st = st(h, origins[o]);
		ops[i].val = u(h * 16 + o);
	}
}

static void apply(arena *a, record *r, const op *ops, const unsigned *order,
                  unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		const op *x = &ops[order ? order[i] : i];

		assert_int_not_equal(rec_merge(a, r, x->name,
		                               (uint32_t)strlen(x->name),
		                               &x->val, &x->st), -1);
	}
}

/* dst ⊔= src, field by field */
static void merge_rec(arena *a, record *dst, const record *src)
{
	uint32_t i;

	for (i = 0; i < src->n; i++)
		assert_int_not_equal(rec_merge(a, dst, src->f[i].name,
		                               src->f[i].name_n,
		                               &src->f[i].val, &src->f[i].st),
		                     -1);
}

static void shuffle(unsigned *p, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		p[i] = i;
	for (i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)(rnd() % (i + 1)), t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
}

static void test_merge_order_independent(void **state)
{
	arena *a = arena_new(0);
	op ops[NOPS];
	unsigned order[NOPS];
	int round, perm;

	rng_state = 0x5eed5eed5eedull;
	for (round = 0; round < 200; round++) {
		record ref;

		make_ops(ops, NOPS);
		rec_init(&ref);
		apply(a, &ref, ops, NULL, NOPS);
		assert_sorted(&ref);
		for (perm = 0; perm < 20; perm++) {
			record r;

			shuffle(order, NOPS);
			rec_init(&r);
			apply(a, &r, ops, order, NOPS);
			assert_same_record(&ref, &r);
		}
		arena_reset(a);
	}
	arena_free(a);
}

static void test_merge_laws(void **state)
{
	arena *a = arena_new(0);
	op ops[3][NOPS];
	int round;

	rng_state = 0xfeedbeefull;
	for (round = 0; round < 300; round++) {
		record x, y, z, xy, yx, xy_z, x_yz, yz, xx;
		int k;

		for (k = 0; k < 3; k++)
			make_ops(ops[k], NOPS);
		rec_init(&x);
		rec_init(&y);
		rec_init(&z);
		apply(a, &x, ops[0], NULL, 1 + (unsigned)(rnd() % NOPS));
		apply(a, &y, ops[1], NULL, 1 + (unsigned)(rnd() % NOPS));
		apply(a, &z, ops[2], NULL, 1 + (unsigned)(rnd() % NOPS));

		/* commutative */
		rec_init(&xy);
		merge_rec(a, &xy, &x);
		merge_rec(a, &xy, &y);
		rec_init(&yx);
		merge_rec(a, &yx, &y);
		merge_rec(a, &yx, &x);
		assert_same_record(&xy, &yx);

		/* associative */
		rec_init(&xy_z);
		merge_rec(a, &xy_z, &xy);
		merge_rec(a, &xy_z, &z);
		rec_init(&yz);
		merge_rec(a, &yz, &y);
		merge_rec(a, &yz, &z);
		rec_init(&x_yz);
		merge_rec(a, &x_yz, &x);
		merge_rec(a, &x_yz, &yz);
		assert_same_record(&xy_z, &x_yz);

		/* idempotent: merging a record into itself changes nothing */
		rec_init(&xx);
		merge_rec(a, &xx, &x);
		{
			uint32_t i;

			for (i = 0; i < x.n; i++)
				assert_int_equal(rec_merge(a, &xx, x.f[i].name,
				                           x.f[i].name_n,
				                           &x.f[i].val,
				                           &x.f[i].st), 0);
		}
		assert_same_record(&xx, &x);
		arena_reset(a);
	}
	arena_free(a);
}

static void test_tie_broken_on_origin(void **state)
{
	arena *a = arena_new(0);
	wval va = str("from-a"), vb = str("from-b");
	stamp sa = st(4242, "dev-a"), sb = st(4242, "dev-b");
	record r1, r2;

	rec_init(&r1);
	rec_init(&r2);
	rec_merge(a, &r1, "note", 4, &va, &sa);
	rec_merge(a, &r1, "note", 4, &vb, &sb);
	rec_merge(a, &r2, "note", 4, &vb, &sb);
	rec_merge(a, &r2, "note", 4, &va, &sa);
	assert_true(wv_is_str(&rec_get(&r1, "note")->val, "from-b"));
	assert_true(wv_is_str(&rec_get(&r2, "note")->val, "from-b"));
	assert_same_record(&r1, &r2);
	arena_free(a);
}

/* rec_wire_fs_stored() on our own stored bytes gives exactly the bytes of
 * rec_decode() + rec_wire_fs(), for random records of 0-130 fields of
 * every value kind; and it declines (0, nothing written) what is not that
 * shape: unsorted names, trailing bytes, truncation, an ext value, more
 * than 128 fields. */
static void fs_both(const uint8_t *p, size_t n, int want_fast)
{
	arena *a = arena_new(0);
	record r;
	wbuf fast, slow;

	wb_init(&fast);
	wb_init(&slow);
	assert_int_equal(rec_wire_fs_stored(&fast, p, n), want_fast);
	if (!want_fast) {
		assert_int_equal(fast.n, 0);
	} else {
		rec_init(&r);
		assert_int_equal(rec_decode(a, p, n, &r), 0);
		rec_wire_fs(&slow, &r);
		assert_int_equal(fast.n, slow.n);
		assert_memory_equal(fast.p, slow.p, fast.n);
	}
	wb_free(&fast);
	wb_free(&slow);
	arena_free(a);
}

static void test_wire_fs_stored(void **state)
{
	rng_state = 0xab5eedull;
	for (int round = 0; round < 300; round++) {
		arena *a = arena_new(0);
		record r;
		unsigned nf = (unsigned)(rnd() % 131);
		char names[131][12];
		char strs[131][40];
		wval vals[131];

		rec_init(&r);
		for (unsigned i = 0; i < nf; i++) {
			snprintf(names[i], sizeof(names[i]), "f%u", (unsigned)(rnd() % 1000));
			switch (rnd() % 5) {
			case 0: vals[i] = u(rnd() >> (rnd() % 64)); break;
			case 1:
				snprintf(strs[i], sizeof(strs[i]), "%.*s", (int)(rnd() % 38),
				         "abcdefghijklmnopqrstuvwxyz0123456789ab");
				vals[i] = str(strs[i]);
				break;
			case 2: vals[i].t = WV_NIL; break;
			case 3: vals[i].t = WV_BOOL; vals[i].b = (int)(rnd() & 1); break;
			default:
				vals[i].t = WV_FLOAT;
				vals[i].f = (double)rnd() / 7.0;
			}
			stamp s = st(rnd() >> 16, rnd() & 1 ? "dev-1" : "server");
			rec_merge(a, &r, names[i], (uint32_t)strlen(names[i]), &vals[i], &s);
		}
		size_t n;
		uint8_t *p = enc(&r, &n);
		fs_both(p, n, r.n <= 128);
		if (n > 1) {
			fs_both(p, n - 1, 0); /* truncated */
			uint8_t *q = malloc(n + 1);
			memcpy(q, p, n);
			q[n] = 0xc0;             /* a trailing byte */
			fs_both(q, n + 1, 0);
			free(q);
		}
		free(p);
		arena_free(a);
	}
	/* names out of order: {"b": [1, 1, "d"], "a": [1, 1, "d"]} */
	static const uint8_t unsorted[] = {0x82, 0xa1, 'b', 0x93, 1, 1, 0xa1, 'd',
	                                   0xa1, 'a', 0x93, 1, 1, 0xa1, 'd'};
	fs_both(unsorted, sizeof(unsorted), 0);
	/* an ext value (never in the stored form) */
	static const uint8_t ext[] = {0x81, 0xa1, 'a', 0x93, 0xd4, 1, 1, 1, 0xa1,
	                              'd'};
	fs_both(ext, sizeof(ext), 0);
	/* the empty record */
	static const uint8_t empty[] = {0x80};
	fs_both(empty, sizeof(empty), 1);
	fs_both(empty, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp_cmp),
		cmocka_unit_test(test_merge_basic),
		cmocka_unit_test(test_many_fields_sorted),
		cmocka_unit_test(test_set_and_getters),
		cmocka_unit_test(test_encode_decode_roundtrip),
		cmocka_unit_test(test_decode_sorts_unsorted_input),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_wire_fs),
		cmocka_unit_test(test_merge_order_independent),
		cmocka_unit_test(test_merge_laws),
		cmocka_unit_test(test_tie_broken_on_origin),
		cmocka_unit_test(test_wire_fs_stored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
