/*
 * json.c — see json.h.
 */
#include "server/lib/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void put(jwriter *w, const char *s, size_t n)
{
	wb_raw(w->b, s, n);
}

static void sep(jwriter *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			put(w, ",", 1);
		w->first[w->depth] = 0;
	}
}

void jw_init(jwriter *w, wbuf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

static void open_(jwriter *w, const char *c)
{
	sep(w);
	put(w, c, 1);
	if (w->depth < 63)
		w->depth++;
	w->first[w->depth] = 1;
}

static void close_(jwriter *w, const char *c)
{
	put(w, c, 1);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj(jwriter *w) { open_(w, "{"); }
void jw_end_obj(jwriter *w) { close_(w, "}"); }
void jw_arr(jwriter *w) { open_(w, "["); }
void jw_end_arr(jwriter *w) { close_(w, "]"); }

static void quoted(jwriter *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(w, s + run, i - run);
		run = i + 1;
		char esc[8];
		switch (c) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		}
	}
	put(w, s + run, n - run);
	put(w, "\"", 1);
}

void jw_keyn(jwriter *w, const char *k, size_t n)
{
	sep(w);
	quoted(w, k, n);
	put(w, ":", 1);
	w->after_key = 1;
}

void jw_key(jwriter *w, const char *k)
{
	jw_keyn(w, k, strlen(k));
}

void jw_strn(jwriter *w, const char *s, size_t n)
{
	sep(w);
	quoted(w, s, n);
}

void jw_str(jwriter *w, const char *s)
{
	if (!s)
		jw_null(w);
	else
		jw_strn(w, s, strlen(s));
}

void jw_u64(jwriter *w, uint64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	sep(w);
	put(w, b, (size_t)n);
}

void jw_i64(jwriter *w, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", (long long)v);
	sep(w);
	put(w, b, (size_t)n);
}

void jw_f64(jwriter *w, double v)
{
	if (!isfinite(v)) {
		jw_null(w);
		return;
	}
	char b[40];
	int n = snprintf(b, sizeof(b), "%.17g", v);
	sep(w);
	put(w, b, (size_t)n);
}

void jw_bool(jwriter *w, int v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(jwriter *w)
{
	sep(w);
	put(w, "null", 4);
}

void jw_val(jwriter *w, const wval *v)
{
	switch (v->t) {
	case WV_NIL: jw_null(w); break;
	case WV_BOOL: jw_bool(w, v->b); break;
	case WV_INT: jw_i64(w, v->i); break;
	case WV_UINT: jw_u64(w, v->u); break;
	case WV_FLOAT: jw_f64(w, v->f); break;
	case WV_STR: jw_strn(w, v->s.p, v->s.n); break;
	case WV_BIN: {
		static const char hx[] = "0123456789abcdef";
		sep(w);
		put(w, "\"", 1);
		for (uint32_t i = 0; i < v->s.n; i++) {
			char two[2] = {hx[(uint8_t)v->s.p[i] >> 4],
			               hx[(uint8_t)v->s.p[i] & 15]};
			put(w, two, 2);
		}
		put(w, "\"", 1);
		break;
	}
	case WV_ARR:
		jw_arr(w);
		for (uint32_t i = 0; i < v->a.n; i++)
			jw_val(w, &v->a.v[i]);
		jw_end_arr(w);
		break;
	case WV_MAP:
		jw_obj(w);
		for (uint32_t i = 0; i < v->m.n; i++) {
			if (v->m.k[i].t == WV_STR) {
				sep(w);
				quoted(w, v->m.k[i].s.p, v->m.k[i].s.n);
				put(w, ":", 1);
				w->after_key = 1;
			} else {
				jw_key(w, "?");
			}
			jw_val(w, &v->m.v[i]);
		}
		jw_end_obj(w);
		break;
	}
}
