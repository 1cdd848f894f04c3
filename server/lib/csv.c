/*
 * csv.c — see csv.h.  One pass over the input; a quoted cell is measured
 * (and its cap checked) before it is copied out with its doubled quotes
 * undone.
 */
#include "server/lib/csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

static int fail(csv_error *e, int code, uint32_t row, uint32_t col,
                const char *msg)
{
	e->row = row;
	e->col = col;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	return code;
}

/* 1 when p[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF) without NUL bytes. */
static int utf8_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : 0;
		if (!k || c > 0xF4 || n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++)
			if ((p[i + j] & 0xC0) != 0x80)
				return 0;
		unsigned c1 = p[i + 1];
		if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||
		    (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
			return 0;
		i += k + 1;
	}
	return 1;
}

typedef struct {
	const char *p;
	size_t n, pos;
	const csv_limits *l;
	arena *a;
	csv_error *err;
	uint32_t row;
} parser;

/* One cell at ps->pos into *out; ps->pos ends on the byte after it (a
 * comma, a line break, or the end). */
static int cell(parser *ps, uint32_t col, char **out)
{
	const char *p = ps->p;
	size_t i = ps->pos, len = 0;
	char *c;
	if (i < ps->n && p[i] == '"') {
		size_t j = i + 1;
		for (;;) {
			const char *q = memchr(p + j, '"', ps->n - j);
			if (!q)
				return fail(ps->err, FS_E_BAD_REQUEST, ps->row, col,
				            "a quote opened here is never closed");
			len += (size_t)(q - (p + j));
			j = (size_t)(q - p) + 1;
			if (j < ps->n && p[j] == '"') {
				len++;
				j++;
				continue;
			}
			break;
		}
		if (j < ps->n && p[j] != ',' && p[j] != '\r' && p[j] != '\n')
			return fail(ps->err, FS_E_BAD_REQUEST, ps->row, col,
			            "text after a closing quote (a quote inside a "
			            "field is written as two quotes)");
		if (len > ps->l->cell_max)
			return fail(ps->err, FS_E_TOO_LARGE, ps->row, col,
			            "cell over the size limit");
		if (!(c = arena_alloc(ps->a, len + 1)))
			return FS_E_UNAVAILABLE;
		size_t o = 0;
		for (size_t k = i + 1; k < j - 1; k++) {
			c[o++] = p[k];
			if (p[k] == '"')
				k++; /* the second of a doubled quote */
		}
		c[o] = 0;
		ps->pos = j;
	} else {
		size_t j = i;
		while (j < ps->n && p[j] != ',' && p[j] != '\r' && p[j] != '\n') {
			if (p[j] == '"')
				return fail(ps->err, FS_E_BAD_REQUEST, ps->row, col,
				            "a quote inside an unquoted field (quote "
				            "the whole field and double the quote)");
			j++;
		}
		len = j - i;
		if (len > ps->l->cell_max)
			return fail(ps->err, FS_E_TOO_LARGE, ps->row, col,
			            "cell over the size limit");
		if (!(c = arena_strndup(ps->a, p + i, len)))
			return FS_E_UNAVAILABLE;
		ps->pos = j;
	}
	if (!utf8_ok((const unsigned char *)c, len))
		return fail(ps->err, FS_E_BAD_REQUEST, ps->row, col,
		            memchr(c, 0, len) ? "a NUL byte"
		                              : "not UTF-8 text (save the sheet as "
		                                "\"CSV UTF-8\")");
	*out = c;
	return FS_OK;
}

/* Past a line break at ps->pos, if there is one. */
static void eol(parser *ps)
{
	const char *p = ps->p;
	if (ps->pos < ps->n && p[ps->pos] == '\r') {
		if (++ps->pos < ps->n && p[ps->pos] == '\n')
			ps->pos++;
	} else if (ps->pos < ps->n && p[ps->pos] == '\n') {
		ps->pos++;
	}
}

static int record(parser *ps, csv_row *r)
{
	uint32_t cap = 0;
	memset(r, 0, sizeof(*r));
	r->row = ps->row;
	char c = ps->p[ps->pos];
	if (c == '\r' || c == '\n') {
		eol(ps);
		return FS_OK; /* an empty line */
	}
	for (;;) {
		if (r->n >= ps->l->cols_max)
			return fail(ps->err, FS_E_TOO_LARGE, ps->row, r->n + 1,
			            "more cells in the row than allowed");
		if (arena_grow(ps->a, (void **)&r->cell, &cap, r->n, r->n + 1,
		               sizeof(char *), 8))
			return FS_E_UNAVAILABLE;
		int rc = cell(ps, r->n + 1, &r->cell[r->n]);
		if (rc)
			return rc;
		r->n++;
		if (ps->pos < ps->n && ps->p[ps->pos] == ',') {
			ps->pos++;
			continue;
		}
		eol(ps);
		return FS_OK;
	}
}

int csv_parse(const char *p, size_t n, const csv_limits *l, arena *a,
              csv_table *out, csv_error *err)
{
	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if (n > l->bytes_max)
		return fail(err, FS_E_TOO_LARGE, 0, 0, "file over the size limit");
	parser ps = {p, n, 0, l, a, err, 0};
	if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		ps.pos = 3;
	uint32_t cap = 0;
	while (ps.pos < n) {
		if (ps.row >= l->rows_max)
			return fail(err, FS_E_TOO_LARGE, ps.row + 1, 0,
			            "more rows than allowed");
		ps.row++;
		if (arena_grow(a, (void **)&out->rows, &cap, out->n, out->n + 1,
		               sizeof(csv_row), 16))
			return FS_E_UNAVAILABLE;
		int rc = record(&ps, &out->rows[out->n]);
		if (rc)
			return rc;
		out->n++;
	}
	return FS_OK;
}

/* ---- writing ------------------------------------------------------------- */

int csv_put_raw(csv_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->n + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np)
			return -1;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

int csv_put_cell(csv_buf *b, const char *cell, size_t n)
{
	int quote = 0;
	for (size_t i = 0; i < n && !quote; i++)
		quote = cell[i] == ',' || cell[i] == '"' || cell[i] == '\r' ||
		        cell[i] == '\n';
	if (!quote)
		return csv_put_raw(b, cell, n);
	if (csv_put_raw(b, "\"", 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *q = memchr(cell + i, '"', n - i);
		size_t k = q ? (size_t)(q - (cell + i)) + 1 : n - i;
		if (csv_put_raw(b, cell + i, k) || (q && csv_put_raw(b, "\"", 1)))
			return -1;
		i += k - 1;
	}
	return csv_put_raw(b, "\"", 1);
}

void csv_buf_free(csv_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
