/* Unit tests: protocol/colwire.c — the v2 pull encoding: the worked
 * example of protocol/PROTOCOL.md byte for byte, random records through
 * v2 against their v1 form, and pages that must be refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "protocol/colwire.h"
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

static uint32_t below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* ---- the worked example (PROTOCOL.md, "Pull encoding v2") ---------------- */

#define H 117741019391180800ull

static const uint8_t example[] = {
	0x02, 0x04, 0x03, 0x63, 0x2d, 0x37, 0x09, 0x77, 0x65, 0x74, 0x20, 0x66,
	0x6c, 0x6f, 0x6f, 0x72, 0x04, 0x6f, 0x70, 0x65, 0x6e, 0x04, 0x64, 0x6f,
	0x6e, 0x65, 0x02, 0x04, 0x64, 0x2d, 0x35, 0x66, 0x06, 0x73, 0x65, 0x72,
	0x76, 0x65, 0x72, 0x01, 0x04, 0x74, 0x61, 0x73, 0x6b, 0x02, 0x05, 0x08,
	0x61, 0x73, 0x73, 0x69, 0x67, 0x6e, 0x65, 0x65, 0x04, 0x64, 0x6f, 0x6e,
	0x65, 0x03, 0x64, 0x75, 0x65, 0x04, 0x6e, 0x6f, 0x74, 0x65, 0x06, 0x73,
	0x74, 0x61, 0x74, 0x75, 0x73, 0x00, 0x04, 0x74, 0x2d, 0x30, 0x31, 0x03,
	0x01, 0x32, 0x80, 0x80, 0xee, 0xc4, 0xaa, 0xb5, 0xa6, 0xa2, 0x03, 0x02,
	0x21, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x02, 0x00, 0x01, 0x00, 0x01, 0x80, 0xb8, 0xa3, 0xdb, 0xc9, 0x68,
	0xc0, 0xa9, 0x07, 0x11, 0x02, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x03,
};

/* The example's two records in the v1 pull shape, as msgpack. */
static void example_v1(wbuf *b)
{
	static const char *const d = "d-5f";

	wb_arr(b, 2);
	wb_map(b, 4);
	wb_cstr(b, "c"); wb_cstr(b, "task");
	wb_cstr(b, "id"); wb_cstr(b, "t-01");
	wb_cstr(b, "f");
	wb_map(b, 4);
	wb_cstr(b, "assignee"); wb_nil(b);
	wb_cstr(b, "done"); wb_bool(b, 0);
	wb_cstr(b, "due"); wb_u64(b, 1796600000000ull);
	wb_cstr(b, "status"); wb_cstr(b, "open");
	wb_cstr(b, "s");
	wb_map(b, 4);
	const char *n1[] = {"assignee", "done", "due", "status"};
	for (int i = 0; i < 4; i++) {
		wb_cstr(b, n1[i]);
		wb_arr(b, 2); wb_u64(b, H); wb_cstr(b, d);
	}
	wb_map(b, 4);
	wb_cstr(b, "c"); wb_cstr(b, "task");
	wb_cstr(b, "id"); wb_cstr(b, "t-02");
	wb_cstr(b, "f");
	wb_map(b, 5);
	wb_cstr(b, "assignee"); wb_cstr(b, "c-7");
	wb_cstr(b, "done"); wb_bool(b, 1);
	wb_cstr(b, "due"); wb_u64(b, 1796600060000ull);
	wb_cstr(b, "note"); wb_cstr(b, "wet floor");
	wb_cstr(b, "status"); wb_cstr(b, "done");
	wb_cstr(b, "s");
	wb_map(b, 5);
	const char *n2[] = {"assignee", "done", "due", "note", "status"};
	for (int i = 0; i < 5; i++) {
		wb_cstr(b, n2[i]);
		wb_arr(b, 2);
		wb_u64(b, i == 2 ? H : H + 1);
		wb_cstr(b, i == 2 ? "server" : d);
	}
}

static wval *decode_v1(arena *a, wbuf *b)
{
	wval *v = NULL;

	assert_false(b->err);
	assert_int_equal(wire_decode(a, b->p, b->n, &v), FS_OK);
	return v;
}

static void test_worked_example(void **state)
{
	arena *a = arena_new(0);
	wbuf v1, page;
	wval *recs, *got;
	cw_enc *e = cw_enc_new();
	size_t budget = 1000;

	wb_init(&v1);
	wb_init(&page);
	example_v1(&v1);
	recs = decode_v1(a, &v1);
	for (uint32_t i = 0; i < recs->a.n; i++)
		assert_int_equal(cw_enc_add_v1(e, &recs->a.v[i]), FS_OK);
	assert_int_equal(cw_enc_finish(e, &page), FS_OK);
	assert_int_equal(page.n, sizeof(example));
	assert_memory_equal(page.p, example, sizeof(example));
	assert_int_equal(cw_decode(a, example, sizeof(example), &budget, &got),
	                 FS_OK);
	assert_true(wv_equal(got, recs));
	/* 1 + 2 records x 9 + 9 fields x 6 */
	assert_int_equal(budget, 1000 - (1 + 18 + 54));
	cw_enc_free(e);
	wb_free(&v1);
	wb_free(&page);
	arena_free(a);
}

/* ---- random records: v2 against v1 ---------------------------------------- */

static const char *const names[] = {
	"assignee", "at", "done", "due_from", "due_to", "note", "photos",
	"score", "shift", "site", "status", "title", "x", "zone"};
static const char *const words[] = {
	"open", "done", "skipped", "z-lobby-a", "z-roof", "", "c-0001",
	"Lobby floor wet-mop", "\xc3\xa9t\xc3\xa9", "sh-00001"};
static const char *const origins[] = {"server", "d-5f01", "d-5f02",
	"admin-77", "d-5f"};
static const char *const colls[] = {"task", "checkin", "order", "site"};

static wval rand_val(arena *a, int depth, int kind)
{
	wval v;

	memset(&v, 0, sizeof(v));
	switch (kind) {
	case 0: v.t = WV_NIL; break;
	case 1: v.t = WV_BOOL; v.b = (int)below(2); break;
	case 2:
		v.t = WV_UINT;
		v.u = below(4) == 0 ? rnd() : (uint64_t)1796600000000 + below(1000000);
		break;
	case 3: v.t = WV_INT; v.i = -(int64_t)below(1u << 31) - 1; break;
	case 4: {
		const char *w = words[below(10)];
		v.t = WV_STR;
		v.s.p = w;
		v.s.n = (uint32_t)strlen(w);
		break;
	}
	case 5: v.t = WV_FLOAT; v.f = (double)below(1000) / 7.0; break;
	case 6: v.t = WV_BIN; v.s.p = "\x00\x01\xff"; v.s.n = 3; break;
	default: {
		uint32_t n = depth > 2 ? 0 : below(4);
		v.t = kind == 7 ? WV_ARR : WV_MAP;
		wval *el = arena_calloc(a, 2 * n + 1, sizeof(wval));
		for (uint32_t i = 0; i < n; i++)
			el[i] = rand_val(a, depth + 1, (int)below(9));
		if (kind == 7) {
			v.a.v = el;
			v.a.n = n;
		} else {
			v.m.k = el + n;
			v.m.v = el;
			v.m.n = n;
			for (uint32_t i = 0; i < n; i++) {
				el[n + i].t = WV_STR;
				el[n + i].s.p = names[i];
				el[n + i].s.n = (uint32_t)strlen(names[i]);
			}
		}
	}
	}
	return v;
}

/* A column keeps to one kind most of the time (as real collections do),
 * sometimes mixed, so that every column kind is exercised. */
static int field_kind(uint32_t name_i, int mixed)
{
	return mixed ? (int)below(9) : (int)((name_i * 7 + 3) % 9);
}

/* One random record as a v1 pull entry {c, id, f, s}, msgpack. */
static void rand_rec_v1(arena *a, wbuf *b, wbuf *stored, uint32_t k)
{
	record r;
	char *id = arena_printf(a, "t-%s-%05u", below(3) ? "bench" : "x",
	                        k * (1 + below(3)));
	int mixed = below(4) == 0;
	uint64_t h = (uint64_t)1796600000000 << 16 | below(100);

	rec_init(&r);
	for (uint32_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		if (below(3) == 0)
			continue;
		wval v = rand_val(a, 0, below(10) ? field_kind(i, mixed)
		                                  : (int)below(2) * 0);
		stamp st = {h + (below(2) ? 0 : below(1 << 20)),
		            origins[below(5)], 0};
		st.origin_n = (uint32_t)strlen(st.origin);
		assert_int_equal(rec_set(a, &r, names[i],
		                         (uint32_t)strlen(names[i]), &v, &st), 0);
	}
	wb_map(b, 4);
	wb_cstr(b, "c");
	wb_cstr(b, colls[below(4)]);
	wb_cstr(b, "id");
	wb_cstr(b, id);
	rec_wire_fs(b, &r);
	rec_encode(stored, &r);
}

/* The v1 records in the order a page gives them: grouped by collection
 * in order of first appearance, stable within a group. */
static void group_order(const wval *recs, wval *out)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < recs->a.n; i++) {
		const wval *c = wv_get(&recs->a.v[i], "c");
		int first = 1;

		for (uint32_t j = 0; j < i && first; j++)
			first = !wv_equal(c, wv_get(&recs->a.v[j], "c"));
		if (!first)
			continue;
		for (uint32_t j = i; j < recs->a.n; j++)
			if (wv_equal(c, wv_get(&recs->a.v[j], "c")))
				out[k++] = recs->a.v[j];
	}
	assert_int_equal(k, recs->a.n);
}

static void test_random_against_v1(void **state)
{
	rng_state = 0x5eed5eed1234ull;
	for (int round = 0; round < 300; round++) {
		arena *a = arena_new(0);
		wbuf v1, page, page2;
		uint32_t n = round % 50 == 0 ? 0 : 1 + below(round < 250 ? 40 : 600);
		cw_enc *e = cw_enc_new(), *e2 = cw_enc_new();
		wval *recs, *got;
		size_t budget = SIZE_MAX;

		wb_init(&v1);
		wb_init(&page);
		wb_init(&page2);
		wb_arr(&v1, n);
		for (uint32_t k = 0; k < n; k++) {
			wbuf one, stored;
			wval *rv;

			wb_init(&one);
			wb_init(&stored);
			rand_rec_v1(a, &one, &stored, k);
			wb_raw(&v1, one.p, one.n);
			/* the encoder references c and id: keep their bytes */
			wbuf keep = {arena_dup(a, one.p, one.n), one.n, one.n, 0, NULL};
			rv = decode_v1(a, &keep);
			/* the same record from its stored form */
			uint8_t *sp = arena_dup(a, stored.p, stored.n);
			const wval *c = wv_get(rv, "c"), *id = wv_get(rv, "id");
			assert_int_equal(cw_enc_add_stored(e2, c->s.p, c->s.n,
			                 id->s.p, id->s.n, sp, stored.n), FS_OK);
			wb_free(&stored);
			wb_free(&one);
		}
		recs = decode_v1(a, &v1);
		for (uint32_t k = 0; k < n; k++)
			assert_int_equal(cw_enc_add_v1(e, &recs->a.v[k]), FS_OK);
		assert_int_equal(cw_enc_count(e), n);
		assert_int_equal(cw_enc_finish(e, &page), FS_OK);
		assert_int_equal(cw_enc_finish(e2, &page2), FS_OK);
		assert_int_equal(page.n, page2.n);
		assert_memory_equal(page.p, page2.p, page.n);
		assert_int_equal(cw_decode(a, page.p, page.n, &budget, &got),
		                 FS_OK);
		wval want = *recs;
		want.a.v = arena_calloc(a, n + 1, sizeof(wval));
		group_order(recs, want.a.v);
		assert_true(wv_equal(got, &want));
		for (uint32_t k = 0; k < n; k++)
			assert_true(wv_equal(&got->a.v[k], &want.a.v[k]));
		cw_enc_free(e);
		cw_enc_free(e2);
		wb_free(&v1);
		wb_free(&page);
		wb_free(&page2);
		arena_free(a);
	}
}

/* ---- refusals ------------------------------------------------------------- */

static int decode_rc(const uint8_t *p, size_t n, size_t budget)
{
	arena *a = arena_new(0);
	wval *out;
	int rc = cw_decode(a, p, n, &budget, &out);

	arena_free(a);
	return rc;
}

static void test_every_prefix_refused(void **state)
{
	for (size_t n = 0; n < sizeof(example); n++)
		assert_int_equal(decode_rc(example, n, SIZE_MAX),
		                 FS_E_BAD_MSGPACK);
	uint8_t longer[sizeof(example) + 1];
	memcpy(longer, example, sizeof(example));
	longer[sizeof(example)] = 0;
	assert_int_equal(decode_rc(longer, sizeof(longer), SIZE_MAX),
	                 FS_E_BAD_MSGPACK);
}

/* Every byte of the example changed to every value: decodes or is
 * refused, and what decodes goes through the encoder and back. */
static void test_every_mutation(void **state)
{
	uint8_t m[sizeof(example)];
	int ok = 0, bad = 0;

	for (size_t i = 0; i < sizeof(example); i++)
		for (int v = 0; v < 256; v++) {
			arena *a = arena_new(0);
			size_t budget = 100000;
			wval *got, *again;
			wbuf page;

			memcpy(m, example, sizeof(m));
			m[i] = (uint8_t)v;
			int rc = cw_decode(a, m, sizeof(m), &budget, &got);
			if (rc) {
				assert_true(rc == FS_E_BAD_MSGPACK ||
				            rc == FS_E_TOO_LARGE);
				bad++;
				arena_free(a);
				continue;
			}
			ok++;
			cw_enc *e = cw_enc_new();
			wb_init(&page);
			for (uint32_t k = 0; k < got->a.n; k++)
				assert_int_equal(cw_enc_add_v1(e, &got->a.v[k]),
				                 FS_OK);
			assert_int_equal(cw_enc_finish(e, &page), FS_OK);
			budget = 100000;
			assert_int_equal(cw_decode(a, page.p, page.n, &budget,
			                           &again), FS_OK);
			wval want = *got;
			want.a.v = arena_calloc(a, got->a.n + 1, sizeof(wval));
			group_order(got, want.a.v);
			assert_true(wv_equal(again, &want));
			cw_enc_free(e);
			wb_free(&page);
			arena_free(a);
		}
	assert_true(ok > 0 && bad > 0);
}

static void test_budget(void **state)
{
	arena *a = arena_new(0);
	size_t budget = 73, used;
	wval *out;

	assert_int_equal(cw_decode(a, example, sizeof(example), &budget, &out),
	                 FS_OK);
	assert_int_equal(budget, 0);
	arena_reset(a);
	used = arena_used(a);
	budget = 72;
	assert_int_equal(cw_decode(a, example, sizeof(example), &budget, &out),
	                 FS_E_TOO_LARGE);
	assert_int_equal(budget, 72);
	assert_int_equal(arena_used(a), used); /* refused before allocating */
	arena_free(a);
}

/* Hand-made pages, each broken in one way. */
static void test_hostile_pages(void **state)
{
	static const struct {
		const char *why;
		uint8_t b[24];
		size_t n;
	} bad[] = {
		{"wrong version", {1, 0, 0, 0}, 4},
		{"string count over the bytes", {2, 0xff, 0xff, 0xff, 0x0f, 0}, 6},
		{"origin count over the bytes", {2, 0, 0x80, 0x80, 0x04, 0}, 6},
		{"group count over the bytes", {2, 0, 0, 0x10}, 4},
		{"varint past 64 bits", {2, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff,
		 0xff, 0xff, 0xff, 0xff, 0x02}, 13},
		{"record count over the bytes", {2, 0, 0, 1, 1, 'c', 0x7f, 0}, 8},
		{"no records", {2, 0, 0, 1, 1, 'c', 0, 0}, 8},
		{"empty collection", {2, 0, 0, 1, 0, 1, 0, 0, 1, 'a', 0}, 11},
		{"id keeps more than the previous", {2, 0, 0, 1, 1, 'c', 1, 0,
		 1, 1, 'a', 0}, 12},
		{"empty id", {2, 0, 0, 1, 1, 'c', 1, 0, 0, 0, 0}, 11},
		{"names not ascending", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 2, 1, 'b',
		 1, 'a', 0, 1, 'i', 0, 0, 0, 0, 0, 0, 0}, 24},
		{"unknown column kind", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1, 'a',
		 0, 1, 'i', 0, 5, 0, 0, 0}, 20},
		{"origin index out of range", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1,
		 'a', 0, 1, 'i', 0, 0, 0, 1}, 19},
		{"presence padding bit set", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1,
		 'a', 0, 1, 'i', 0, 0x10, 0x03, 0, 0}, 20},
		{"string index out of range", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1,
		 'a', 0, 1, 'i', 0, 1, 0, 0, 0}, 20},
		{"raw value empty", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1, 'a', 0,
		 1, 'i', 0, 0, 0, 0, 0}, 20},
		{"raw value not one object", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1,
		 'a', 0, 1, 'i', 0, 0, 0, 0, 2, 0xc0, 0xc0}, 22},
		{"raw value ext", {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1, 'a', 0, 1,
		 'i', 0, 0, 0, 0, 3, 0xd4, 1, 1}, 23},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = decode_rc(bad[i].b, bad[i].n, SIZE_MAX);

		if (rc != FS_E_BAD_MSGPACK)
			fail_msg("%s: %d", bad[i].why, rc);
	}
	/* the last one with a good value decodes */
	static const uint8_t good[] = {2, 0, 1, 1, 'o', 1, 1, 'c', 1, 1, 1, 'a',
		0, 1, 'i', 0, 0, 0, 0, 1, 0xc3};
	assert_int_equal(decode_rc(good, sizeof(good), SIZE_MAX), FS_OK);
	/* columns over CW_FIELDS_MAX are refused before they are read */
	uint8_t many[32] = {2, 0, 0, 1, 1, 'c', 1, 0x81, 0x08};
	assert_int_equal(decode_rc(many, sizeof(many), SIZE_MAX),
	                 FS_E_BAD_MSGPACK);
}

static void test_encoder_refusals(void **state)
{
	cw_enc *e = cw_enc_new();
	static const uint8_t one = 0x01, two[] = {0x01, 0x02};
	cw_field f[2] = {{"a", 1, &one, 1, 5, "o", 1}, {"a", 1, &one, 1, 6, "o", 1}};
	char longid[CW_NAME_MAX + 2];

	memset(longid, 'x', sizeof(longid));
	assert_int_equal(cw_enc_add(e, "", 0, "i", 1, f, 1), FS_E_BAD_REQUEST);
	assert_int_equal(cw_enc_add(e, "c", 1, longid, CW_NAME_MAX + 1, f, 1),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(cw_enc_add(e, "c", 1, longid, CW_NAME_MAX, f, 1), FS_OK);
	f[1].name = "0"; /* out of order, then a duplicate */
	assert_int_equal(cw_enc_add(e, "c", 1, "i", 1, f, 2), FS_OK);
	f[1].name = "a";
	assert_int_equal(cw_enc_add(e, "c", 1, "i", 1, f, 2), FS_E_BAD_REQUEST);
	f[0].val = two;
	f[0].val_n = 2; /* two objects */
	assert_int_equal(cw_enc_add(e, "c", 1, "i", 1, f, 1), FS_E_BAD_REQUEST);
	/* stored forms that are not {name: [value, hlc, origin]} */
	static const uint8_t st_bad[][12] = {
		{0x81, 0xa1, 'a', 0x92, 0x01, 0x05},
		{0x81, 0xa1, 'a', 0x93, 0x01, 0xff, 0xa1, 'o'},
		{0x81, 0xa1, 'a', 0x93, 0x01, 0x05, 0x05},
		{0x81, 0x01, 0x93, 0x01, 0x05, 0xa1, 'o'},
		{0x82, 0xa1, 'a', 0x93, 0x01, 0x05, 0xa1, 'o'},
	};
	static const size_t st_n[] = {6, 8, 7, 7, 8};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(cw_enc_add_stored(e, "c", 1, "i", 1, st_bad[i],
		                                   st_n[i]), FS_E_BAD_MSGPACK);
	static const uint8_t st_ok[] = {0x81, 0xa1, 'a', 0x93, 0x01,
		0xcf, 1, 2, 3, 4, 5, 6, 7, 8, 0xa1, 'o'};
	assert_int_equal(cw_enc_add_stored(e, "c", 1, "i", 1, st_ok,
	                                   sizeof(st_ok)), FS_OK);
	assert_int_equal(cw_enc_count(e), 3);
	cw_enc_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_random_against_v1),
		cmocka_unit_test(test_every_prefix_refused),
		cmocka_unit_test(test_every_mutation),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_hostile_pages),
		cmocka_unit_test(test_encoder_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
