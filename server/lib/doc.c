/*
 * doc.c — see doc.h.
 */
#include "server/lib/doc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void doc_init(doc *d, wbuf *b, int json)
{
	d->b = b;
	d->json = json;
	d->d = 0;
	d->tight = 0;
	if (json)
		jw_init(&d->jw, b);
}

void doc_init_tight(doc *d, wbuf *b, int json)
{
	doc_init(d, b, json);
	d->tight = 1;
}

/* The 5-byte header at `at` (map32/array32) to the smallest that holds n. */
static void shrink(wbuf *b, size_t at, uint32_t n, int map)
{
	uint8_t h[3];
	size_t hl;
	if (n < 16) {
		h[0] = (uint8_t)((map ? 0x80 : 0x90) | n);
		hl = 1;
	} else if (n < 65536) {
		h[0] = map ? 0xde : 0xdc;
		h[1] = (uint8_t)(n >> 8);
		h[2] = (uint8_t)n;
		hl = 3;
	} else {
		wb_patch(b, at, n);
		return;
	}
	memmove(b->p + at + hl, b->p + at + 5, b->n - at - 5);
	memcpy(b->p + at, h, hl);
	b->n -= 5 - hl;
}

/* msgpack: one more value in the open container */
static void count(doc *d)
{
	if (!d->json && d->d > 0)
		d->n[d->d - 1]++;
}

static void open_c(doc *d, int map, int fixed, uint32_t n)
{
	count(d);
	if (d->d == DOC_DEPTH) {
		d->b->err = 1; /* deeper than any document we write */
		return;
	}
	d->map[d->d] = map;
	d->fixed[d->d] = fixed;
	if (d->json) {
		if (map)
			jw_obj(&d->jw);
		else
			jw_arr(&d->jw);
	} else if (fixed) {
		d->at[d->d] = n; /* the count promised */
		d->n[d->d] = 0;
		if (map)
			wb_map(d->b, n);
		else
			wb_arr(d->b, n);
	} else {
		d->at[d->d] = map ? wb_map_later(d->b) : wb_arr_later(d->b);
		d->n[d->d] = 0;
	}
	d->d++;
}

void doc_map(doc *d) { open_c(d, 1, 0, 0); }
void doc_arr(doc *d) { open_c(d, 0, 0, 0); }
void doc_map_n(doc *d, uint32_t n) { open_c(d, 1, 1, n); }
void doc_arr_n(doc *d, uint32_t n) { open_c(d, 0, 1, n); }

void doc_end(doc *d)
{
	if (d->d == 0) {
		d->b->err = 1;
		return;
	}
	d->d--;
	if (d->json) {
		if (d->map[d->d])
			jw_end_obj(&d->jw);
		else
			jw_end_arr(&d->jw);
	} else if (d->fixed[d->d]) {
		if (d->at[d->d] != d->n[d->d])
			d->b->err = 1; /* a writer bug: not the count it promised */
	} else if (d->tight && !d->b->err) {
		shrink(d->b, d->at[d->d], d->n[d->d], d->map[d->d]);
	} else {
		wb_patch(d->b, d->at[d->d], d->n[d->d]);
	}
}

void doc_key(doc *d, const char *k)
{
	if (d->json)
		jw_key(&d->jw, k);
	else
		wb_cstr(d->b, k); /* a key is not counted: a map counts pairs */
}

void doc_keyn(doc *d, const char *k, size_t n)
{
	if (d->json)
		jw_keyn(&d->jw, k, n);
	else
		wb_str(d->b, k, n);
}

void doc_str(doc *d, const char *s)
{
	count(d);
	if (d->json)
		jw_str(&d->jw, s);
	else
		wb_cstr(d->b, s);
}

void doc_strn(doc *d, const char *s, size_t n)
{
	count(d);
	if (d->json)
		jw_strn(&d->jw, s, n);
	else
		wb_str(d->b, s, n);
}

void doc_u64(doc *d, uint64_t v)
{
	count(d);
	if (d->json)
		jw_u64(&d->jw, v);
	else
		wb_u64(d->b, v);
}

void doc_i64(doc *d, int64_t v)
{
	count(d);
	if (d->json)
		jw_i64(&d->jw, v);
	else
		wb_i64(d->b, v);
}

void doc_f64(doc *d, double v)
{
	count(d);
	if (d->json)
		jw_f64(&d->jw, v);
	else
		wb_f64(d->b, v);
}

void doc_bool(doc *d, int v)
{
	count(d);
	if (d->json)
		jw_bool(&d->jw, v);
	else
		wb_bool(d->b, v);
}

void doc_nil(doc *d)
{
	count(d);
	if (d->json)
		jw_null(&d->jw);
	else
		wb_nil(d->b);
}

void doc_val(doc *d, const wval *v)
{
	count(d);
	if (d->json)
		jw_val(&d->jw, v);
	else
		wb_val(d->b, v);
}

void doc_packed(doc *d, const void *p, size_t n, const wval *v)
{
	count(d);
	if (d->json)
		jw_val(&d->jw, v);
	else
		wb_raw(d->b, p, n);
}

int doc_fmt_f64(char out[32], double v)
{
	if (!isfinite(v)) {
		out[0] = 0;
		return 0;
	}
	/* the fewest significant digits (1..17) that read back exactly */
	int n = 0;
	for (int p = 1; p <= 17; p++) {
		n = snprintf(out, 32, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return n;
}
