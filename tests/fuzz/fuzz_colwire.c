/*
 * fuzz_colwire.c — libFuzzer target for the v2 pull encoding
 * (protocol/colwire.c): cw_decode, cw_enc_add_v1, cw_enc_add_stored,
 * cw_enc_finish.
 *
 * The first byte chooses what the rest is:
 *   - even: a v2 page.  It decodes or is refused with FS_E_BAD_MSGPACK or
 *     FS_E_TOO_LARGE; what decodes takes exactly the budget its tree's
 *     value count says (and one less is FS_E_TOO_LARGE without touching
 *     the budget), every proper prefix is refused, and its records go
 *     through the encoder and decode again to the same records (grouped
 *     by collection, stable: the page's order rule);
 *   - odd, second byte even: a msgpack array of candidate v1 pull
 *     records {c, id, f, s}.  The ones cw_enc_add_v1 takes are encoded
 *     and decode to exactly themselves (grouped by collection);
 *   - odd, second byte odd: a record's stored form {name: [value, hlc,
 *     origin]}.  When cw_enc_add_stored takes it, rec_decode must too,
 *     and the page decodes to the v1 record rec_wire_fs writes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/arena.h"
#include "protocol/colwire.h"
#include "protocol/errors.h"
#include "protocol/record.h"
#include "protocol/wire.h"

__attribute__((noreturn)) static void broken(const char *what)
{
	fprintf(stderr, "fuzz_colwire: property broken: %s\n", what);
	abort();
}

static uint64_t count_values(const wval *v)
{
	uint64_t n = 1;

	if (v->t == WV_ARR)
		for (uint32_t i = 0; i < v->a.n; i++)
			n += count_values(&v->a.v[i]);
	else if (v->t == WV_MAP)
		for (uint32_t i = 0; i < v->m.n; i++)
			n += count_values(&v->m.k[i]) + count_values(&v->m.v[i]);
	return n;
}

/* recs[0..n) grouped by collection in order of first appearance, stable
 * within a group, as an array value in the arena. */
static wval grouped(arena *a, const wval *recs, uint32_t n)
{
	wval out = {.t = WV_ARR};
	uint32_t k = 0;

	out.a.v = arena_calloc(a, n + 1, sizeof(wval));
	if (!out.a.v)
		broken("out of memory");
	for (uint32_t i = 0; i < n; i++) {
		const wval *c = wv_get(&recs[i], "c");
		int first = 1;

		for (uint32_t j = 0; j < i && first; j++)
			first = !wv_equal(c, wv_get(&recs[j], "c"));
		for (uint32_t j = i; first && j < n; j++)
			if (wv_equal(c, wv_get(&recs[j], "c")))
				out.a.v[k++] = recs[j];
	}
	out.a.n = k;
	return out;
}

/* Encode records (all must be taken), decode, compare with `want`. */
static void round_trip(arena *a, const wval *recs, uint32_t n, const wval *want)
{
	cw_enc *e = cw_enc_new();
	wbuf page;
	wval *got;
	size_t budget = SIZE_MAX;

	if (!e)
		broken("out of memory");
	wb_init(&page);
	for (uint32_t i = 0; i < n; i++)
		if (cw_enc_add_v1(e, &recs[i]))
			broken("a decoded record is refused by the encoder");
	if (cw_enc_finish(e, &page))
		broken("encoder failed");
	if (cw_decode(a, page.p, page.n, &budget, &got))
		broken("an encoded page does not decode");
	if (!wv_equal(got, want))
		broken("round trip changed the records");
	cw_enc_free(e);
	wb_free(&page);
}

static void page_mode(const uint8_t *p, size_t n)
{
	arena *a = arena_new(0);
	size_t budget = (size_t)1 << 20, b2;
	wval *got, *again;
	int rc = cw_decode(a, p, n, &budget, &got);

	if (rc && rc != FS_E_BAD_MSGPACK && rc != FS_E_TOO_LARGE)
		broken("refused with an unexpected code");
	if (!rc) {
		size_t used = ((size_t)1 << 20) - budget;

		if (got->t != WV_ARR || count_values(got) != used)
			broken("budget taken is not the tree's value count");
		b2 = used - 1;
		if (cw_decode(a, p, n, &b2, &again) != FS_E_TOO_LARGE ||
		    b2 != used - 1)
			broken("one value under the budget decodes");
		for (size_t cut = n > 64 ? n - 64 : 0; cut < n; cut++) {
			b2 = SIZE_MAX;
			if (cw_decode(a, p, cut, &b2, &again) != FS_E_BAD_MSGPACK)
				broken("a proper prefix of a page decodes");
		}
		wval want = grouped(a, got->a.v, got->a.n);
		round_trip(a, got->a.v, got->a.n, &want);
	}
	arena_free(a);
}

static void v1_mode(const uint8_t *p, size_t n)
{
	arena *a = arena_new(0);
	wval *v;

	if (!wire_decode_max(a, p, n, 1 << 16, &v) && v->t == WV_ARR) {
		/* keep the candidates the encoder takes */
		cw_enc *probe = cw_enc_new();
		wval *ok = arena_calloc(a, v->a.n + 1, sizeof(wval));
		uint32_t k = 0;

		if (!probe || !ok)
			broken("out of memory");
		for (uint32_t i = 0; i < v->a.n; i++)
			if (!cw_enc_add_v1(probe, &v->a.v[i]))
				ok[k++] = v->a.v[i];
		cw_enc_free(probe);
		wval want = grouped(a, ok, k);
		round_trip(a, ok, k, &want);
	}
	arena_free(a);
}

static void stored_mode(const uint8_t *p, size_t n)
{
	arena *a = arena_new(0);
	cw_enc *e = cw_enc_new();
	record r;
	wbuf v1, page;
	wval *want, *got;
	size_t budget = SIZE_MAX;

	wb_init(&v1);
	wb_init(&page);
	if (!a || !e)
		broken("out of memory");
	rec_init(&r);
	if (!cw_enc_add_stored(e, "task", 4, "t-1", 3, p, n)) {
		if (rec_decode(a, p, n, &r))
			broken("cw_enc_add_stored takes what rec_decode refuses");
		wb_map(&v1, 4);
		wb_cstr(&v1, "c");
		wb_cstr(&v1, "task");
		wb_cstr(&v1, "id");
		wb_cstr(&v1, "t-1");
		rec_wire_fs(&v1, &r);
		if (wire_decode(a, v1.p, v1.n, &want) ||
		    cw_enc_finish(e, &page) ||
		    cw_decode(a, page.p, page.n, &budget, &got) ||
		    got->a.n != 1 || !wv_equal(&got->a.v[0], want))
			broken("stored form and v1 form disagree");
	}
	cw_enc_free(e);
	wb_free(&v1);
	wb_free(&page);
	arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (!(data[0] & 1))
		page_mode(data + 1, size - 1);
	else if (!(data[1] & 1))
		v1_mode(data + 2, size - 2);
	else
		stored_mode(data + 2, size - 2);
	return 0;
}
