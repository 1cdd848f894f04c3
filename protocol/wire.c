/*
 * wire.c — MessagePack: a bounded reader of our own for decoding, and
 * msgpack-c's packer into a growable buffer for encoding.  The only file
 * that includes <msgpack.h>.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "errors.h"

/* ---- reading one header ----------------------------------------------- */

typedef enum { H_NIL, H_BOOL, H_UINT, H_INT, H_FLOAT, H_STR, H_BIN, H_ARR,
	H_MAP } head_kind;

typedef struct {
	head_kind k;
	int b;
	uint64_t u;        /* H_UINT */
	int64_t i;         /* H_INT: always negative */
	double f;
	const uint8_t *p;  /* H_STR, H_BIN: payload */
	uint32_t n;        /* H_STR/H_BIN length, H_ARR/H_MAP count */
} head;

static uint64_t be(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < w; i++)
		v = (v << 8) | p[i];
	return v;
}

static void set_signed(head *h, int64_t v)
{
	if (v < 0) {
		h->k = H_INT;
		h->i = v;
	} else {
		h->k = H_UINT;
		h->u = (uint64_t)v;
	}
}

/*
 * Read one header at p[*pos..n).  For strings and bins the payload is
 * checked to fit and skipped; for arrays and maps only the header is
 * read, and the declared count is checked against the bytes that remain
 * (an element takes at least one byte, a pair two).  0 on success,
 * -1 when the bytes are not acceptable.
 */
static int read_head(const uint8_t *p, size_t n, size_t *pos, head *h)
{
	size_t at = *pos, rem;
	uint8_t c;
	unsigned w = 0; /* width of the length / value that follows */
	uint64_t len;

	if (at >= n)
		return -1;
	c = p[at++];
	rem = n - at;
	if (c <= 0x7f) {
		h->k = H_UINT;
		h->u = c;
		goto done;
	}
	if (c >= 0xe0) {
		h->k = H_INT;
		h->i = (int8_t)c;
		goto done;
	}
	if (c >= 0x80 && c <= 0x8f) {
		h->k = H_MAP;
		len = c & 0x0f;
		goto container;
	}
	if (c >= 0x90 && c <= 0x9f) {
		h->k = H_ARR;
		len = c & 0x0f;
		goto container;
	}
	if (c >= 0xa0 && c <= 0xbf) {
		h->k = H_STR;
		len = c & 0x1f;
		goto payload;
	}
	switch (c) {
	case 0xc0:
		h->k = H_NIL;
		goto done;
	case 0xc2:
	case 0xc3:
		h->k = H_BOOL;
		h->b = c == 0xc3;
		goto done;
	case 0xc4: case 0xc5: case 0xc6:
		h->k = H_BIN;
		w = 1u << (c - 0xc4);
		break;
	case 0xd9: case 0xda: case 0xdb:
		h->k = H_STR;
		w = 1u << (c - 0xd9);
		break;
	case 0xca: {
		uint32_t bits;
		float fl;

		if (rem < 4)
			return -1;
		bits = (uint32_t)be(p + at, 4);
		memcpy(&fl, &bits, 4);
		h->k = H_FLOAT;
		h->f = fl;
		at += 4;
		goto done;
	}
	case 0xcb: {
		uint64_t bits;

		if (rem < 8)
			return -1;
		bits = be(p + at, 8);
		h->k = H_FLOAT;
		memcpy(&h->f, &bits, 8);
		at += 8;
		goto done;
	}
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		w = 1u << (c - 0xcc);
		if (rem < w)
			return -1;
		h->k = H_UINT;
		h->u = be(p + at, w);
		at += w;
		goto done;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
		uint64_t raw;
		int64_t v;

		w = 1u << (c - 0xd0);
		if (rem < w)
			return -1;
		raw = be(p + at, w);
		/* sign-extend from w bytes */
		if (w < 8 && (raw >> (8 * w - 1)) & 1)
			raw |= ~(uint64_t)0 << (8 * w);
		memcpy(&v, &raw, 8);
		set_signed(h, v);
		at += w;
		goto done;
	}
	case 0xdc: case 0xdd:
		h->k = H_ARR;
		w = c == 0xdc ? 2 : 4;
		if (rem < w)
			return -1;
		len = be(p + at, w);
		at += w;
		rem -= w;
		goto container;
	case 0xde: case 0xdf:
		h->k = H_MAP;
		w = c == 0xde ? 2 : 4;
		if (rem < w)
			return -1;
		len = be(p + at, w);
		at += w;
		rem -= w;
		goto container;
	default:
		/* 0xc1 (never used), ext 0xc7-0xc9, fixext 0xd4-0xd8 */
		return -1;
	}
	/* str/bin with a w-byte length */
	if (rem < w)
		return -1;
	len = be(p + at, w);
	at += w;
	rem -= w;
payload:
	if (len > rem)
		return -1;
	h->p = p + at;
	h->n = (uint32_t)len;
	at += (size_t)len;
	goto done;
container:
	if (h->k == H_ARR ? len > rem : len > rem / 2)
		return -1;
	h->n = (uint32_t)len;
done:
	*pos = at;
	return 0;
}

/* ---- depth check without allocating ------------------------------------ */

/* Deepest nesting wire_check_depth() can follow (its counter stack). */
#define CHECK_STACK 256

/* Walk one object without allocating; *count gets how many values it
 * holds (every container, key and element counts one). */
static int check_walk(const uint8_t *p, size_t n, unsigned max_depth,
                      uint64_t *count)
{
	uint64_t left[CHECK_STACK]; /* items still to read per open container */
	unsigned sp = 0;
	uint64_t root = 1, seen = 0;
	size_t pos = 0;
	head h;

	*count = 0;
	if (!p && n)
		return FS_E_BAD_MSGPACK;
	if (max_depth > CHECK_STACK)
		max_depth = CHECK_STACK;
	for (;;) {
		while (sp > 0 && left[sp - 1] == 0)
			sp--;
		if (sp == 0) {
			if (root == 0)
				break;
			root--;
		} else {
			left[sp - 1]--;
		}
		if (read_head(p, n, &pos, &h) < 0)
			return FS_E_BAD_MSGPACK;
		seen++;
		if (h.k == H_ARR || h.k == H_MAP) {
			if (sp + 1 > max_depth)
				return FS_E_BAD_MSGPACK;
			left[sp++] = h.k == H_ARR ? (uint64_t)h.n
			                          : 2 * (uint64_t)h.n;
		}
	}
	if (pos != n)
		return FS_E_BAD_MSGPACK;
	*count = seen;
	return FS_OK;
}

int wire_check_depth(const uint8_t *p, size_t n, unsigned max_depth)
{
	uint64_t count;

	return check_walk(p, n, max_depth, &count);
}

/* ---- walking one object ------------------------------------------------ */

size_t wire_walk(const uint8_t *p, size_t n, uint64_t *values)
{
	size_t o = 0;
	uint64_t todo = 1, seen = 0;

	while (todo) {
		if (o >= n || todo > n - o)
			return 0; /* every object takes at least one byte */
		uint8_t b = p[o++];
		uint64_t len = 0, sub = 0;
		size_t w = 0; /* width of a length or count field */

		todo--;
		seen++;
		if (b <= 0x7f || b >= 0xe0)
			continue;
		if (b <= 0x8f)
			sub = 2 * (uint64_t)(b & 0x0f);
		else if (b <= 0x9f)
			sub = b & 0x0f;
		else if (b <= 0xbf)
			len = b & 0x1f;
		else
			switch (b) {
			case 0xc0: case 0xc2: case 0xc3: break;
			case 0xcc: case 0xd0: len = 1; break;
			case 0xcd: case 0xd1: len = 2; break;
			case 0xca: case 0xce: case 0xd2: len = 4; break;
			case 0xcb: case 0xcf: case 0xd3: len = 8; break;
			case 0xc4: case 0xd9: w = 1; break;
			case 0xc5: case 0xda: case 0xdc: case 0xde: w = 2; break;
			case 0xc6: case 0xdb: case 0xdd: case 0xdf: w = 4; break;
			default: return 0;
			}
		if (w) {
			uint64_t v = 0;

			if (w > n - o)
				return 0;
			for (size_t i = 0; i < w; i++)
				v = v << 8 | p[o + i];
			o += w;
			if (b == 0xdc || b == 0xdd)
				sub = v;
			else if (b == 0xde || b == 0xdf)
				sub = 2 * v;
			else
				len = v;
		}
		if (len > n - o)
			return 0;
		o += (size_t)len;
		todo += sub;
	}
	if (values)
		*values = seen;
	return o;
}

/* ---- decoding into an arena -------------------------------------------- */

typedef struct {
	arena *a;
	const uint8_t *p;
	size_t n, pos;
} reader;

/* Maps up to this many keys are checked for duplicates pairwise. */
#define DUP_LINEAR_MAX 16

static int str_cmp(const char *a, uint32_t an, const char *b, uint32_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int key_ptr_cmp(const void *x, const void *y)
{
	const wval *a = *(const wval *const *)x;
	const wval *b = *(const wval *const *)y;

	return str_cmp(a->s.p, a->s.n, b->s.p, b->s.n);
}

/* FS_OK when no two string keys of the map are equal. */
static int check_dup_keys(arena *a, const wval *m)
{
	uint32_t i, j, ns = 0;
	const wval **ks;

	if (m->m.n < 2)
		return FS_OK;
	if (m->m.n <= DUP_LINEAR_MAX) {
		for (i = 0; i < m->m.n; i++) {
			const wval *ki = &m->m.k[i];

			if (ki->t != WV_STR)
				continue;
			for (j = i + 1; j < m->m.n; j++) {
				const wval *kj = &m->m.k[j];

				if (kj->t == WV_STR && kj->s.n == ki->s.n &&
				    memcmp(kj->s.p, ki->s.p, ki->s.n) == 0)
					return FS_E_BAD_MSGPACK;
			}
		}
		return FS_OK;
	}
	ks = arena_calloc(a, m->m.n, sizeof *ks);
	if (!ks)
		return FS_E_UNAVAILABLE;
	for (i = 0; i < m->m.n; i++)
		if (m->m.k[i].t == WV_STR)
			ks[ns++] = &m->m.k[i];
	if (ns < 2)
		return FS_OK;
	qsort(ks, ns, sizeof *ks, key_ptr_cmp);
	for (i = 1; i < ns; i++)
		if (key_ptr_cmp(&ks[i - 1], &ks[i]) == 0)
			return FS_E_BAD_MSGPACK;
	return FS_OK;
}

/* Depth is already bounded by wire_check_depth(), so recursion is too. */
static int decode_val(reader *r, wval *out)
{
	head h;
	uint32_t i;
	int rc;

	if (read_head(r->p, r->n, &r->pos, &h) < 0)
		return FS_E_BAD_MSGPACK;
	switch (h.k) {
	case H_NIL:
		out->t = WV_NIL;
		return FS_OK;
	case H_BOOL:
		out->t = WV_BOOL;
		out->b = h.b;
		return FS_OK;
	case H_UINT:
		out->t = WV_UINT;
		out->u = h.u;
		return FS_OK;
	case H_INT:
		out->t = WV_INT;
		out->i = h.i;
		return FS_OK;
	case H_FLOAT:
		out->t = WV_FLOAT;
		out->f = h.f;
		return FS_OK;
	case H_STR:
	case H_BIN:
		out->t = h.k == H_STR ? WV_STR : WV_BIN;
		out->s.p = (const char *)h.p;
		out->s.n = h.n;
		return FS_OK;
	case H_ARR:
		out->t = WV_ARR;
		out->a.n = h.n;
		out->a.v = NULL;
		if (h.n == 0)
			return FS_OK;
		/* read_head() checked h.n against the bytes left. */
		out->a.v = arena_calloc(r->a, h.n, sizeof(wval));
		if (!out->a.v)
			return FS_E_UNAVAILABLE;
		for (i = 0; i < h.n; i++)
			if ((rc = decode_val(r, &out->a.v[i])) != FS_OK)
				return rc;
		return FS_OK;
	case H_MAP:
		out->t = WV_MAP;
		out->m.n = h.n;
		out->m.k = out->m.v = NULL;
		if (h.n == 0)
			return FS_OK;
		out->m.k = arena_calloc(r->a, h.n, sizeof(wval));
		out->m.v = arena_calloc(r->a, h.n, sizeof(wval));
		if (!out->m.k || !out->m.v)
			return FS_E_UNAVAILABLE;
		for (i = 0; i < h.n; i++) {
			if ((rc = decode_val(r, &out->m.k[i])) != FS_OK)
				return rc;
			if ((rc = decode_val(r, &out->m.v[i])) != FS_OK)
				return rc;
		}
		return check_dup_keys(r->a, out);
	}
	return FS_E_BAD_MSGPACK;
}

int wire_decode_max(arena *a, const uint8_t *p, size_t n, size_t max_values,
                    wval **out)
{
	reader r = { a, p, n, 0 };
	uint64_t count;
	wval *v;
	int rc;

	*out = NULL;
	rc = check_walk(p, n, WIRE_MAX_DEPTH, &count);
	if (rc != FS_OK)
		return rc;
	if (count > max_values)
		return FS_E_TOO_LARGE;
	v = arena_calloc(a, 1, sizeof *v);
	if (!v)
		return FS_E_UNAVAILABLE;
	rc = decode_val(&r, v);
	if (rc != FS_OK)
		return rc;
	if (r.pos != n)
		return FS_E_BAD_MSGPACK;
	*out = v;
	return FS_OK;
}

int wire_decode(arena *a, const uint8_t *p, size_t n, wval **out)
{
	return wire_decode_max(a, p, n, SIZE_MAX, out);
}

/* ---- looking at values ------------------------------------------------- */

const wval *wv_get(const wval *m, const char *key)
{
	size_t kn;
	uint32_t i;

	if (!m || m->t != WV_MAP || !key)
		return NULL;
	kn = strlen(key);
	for (i = 0; i < m->m.n; i++) {
		const wval *k = &m->m.k[i];

		if (k->t == WV_STR && k->s.n == kn &&
		    memcmp(k->s.p, key, kn) == 0)
			return &m->m.v[i];
	}
	return NULL;
}

int wv_is_str(const wval *v, const char *s)
{
	size_t n;

	if (!v || v->t != WV_STR || !s)
		return 0;
	n = strlen(s);
	return v->s.n == n && memcmp(v->s.p, s, n) == 0;
}

int wv_u64(const wval *v, uint64_t *out)
{
	if (!v || v->t != WV_UINT)
		return 0;
	*out = v->u;
	return 1;
}

int wv_i64(const wval *v, int64_t *out)
{
	if (!v)
		return 0;
	if (v->t == WV_INT) {
		*out = v->i;
		return 1;
	}
	if (v->t == WV_UINT && v->u <= INT64_MAX) {
		*out = (int64_t)v->u;
		return 1;
	}
	return 0;
}

int wv_num(const wval *v, double *out)
{
	if (!v)
		return 0;
	switch (v->t) {
	case WV_INT:
		*out = (double)v->i;
		return 1;
	case WV_UINT:
		*out = (double)v->u;
		return 1;
	case WV_FLOAT:
		*out = v->f;
		return 1;
	default:
		return 0;
	}
}

/* Maps with more keys than this are compared by sorting when every key
 * is a string. */
#define EQ_LINEAR_MAX 16

static int all_str_keys(const wval *m)
{
	uint32_t i;

	for (i = 0; i < m->m.n; i++)
		if (m->m.k[i].t != WV_STR)
			return 0;
	return 1;
}

/* Index of a pair sorted by key; the map is reached through the base. */
typedef struct {
	const wval *k, *v;
} kv_ref;

static int kv_ref_cmp(const void *x, const void *y)
{
	const kv_ref *a = x, *b = y;

	return str_cmp(a->k->s.p, a->k->s.n, b->k->s.p, b->k->s.n);
}

static kv_ref *sorted_pairs(const wval *m)
{
	kv_ref *r = malloc((size_t)m->m.n * sizeof *r);
	uint32_t i;

	if (!r)
		return NULL;
	for (i = 0; i < m->m.n; i++) {
		r[i].k = &m->m.k[i];
		r[i].v = &m->m.v[i];
	}
	qsort(r, m->m.n, sizeof *r, kv_ref_cmp);
	return r;
}

/* Maps of the same size: equal when every key of a has an equal key in b
 * with an equal value. */
static int map_equal(const wval *a, const wval *b)
{
	uint32_t i, j, n = a->m.n;

	if (n > EQ_LINEAR_MAX && all_str_keys(a) && all_str_keys(b)) {
		kv_ref *sa = sorted_pairs(a), *sb = sorted_pairs(b);
		int eq = 1;

		if (sa && sb) {
			for (i = 0; i < n && eq; i++)
				eq = wv_equal(sa[i].k, sb[i].k) &&
				     wv_equal(sa[i].v, sb[i].v);
			free(sa);
			free(sb);
			return eq;
		}
		free(sa);
		free(sb);
		/* out of memory: fall through to the pairwise search */
	}
	for (i = 0; i < n; i++) {
		int found = 0;

		/* Start at the same position: maps in the same order match
		 * in linear time. */
		for (j = 0; j < n; j++) {
			uint32_t k = (i + j) % n;

			if (wv_equal(&a->m.k[i], &b->m.k[k])) {
				if (!wv_equal(&a->m.v[i], &b->m.v[k]))
					return 0;
				found = 1;
				break;
			}
		}
		if (!found)
			return 0;
	}
	return 1;
}

int wv_equal(const wval *a, const wval *b)
{
	uint32_t i;

	if (a == b)
		return 1;
	if (!a || !b || a->t != b->t)
		return 0;
	switch (a->t) {
	case WV_NIL:
		return 1;
	case WV_BOOL:
		return !a->b == !b->b;
	case WV_INT:
		return a->i == b->i;
	case WV_UINT:
		return a->u == b->u;
	case WV_FLOAT:
		return memcmp(&a->f, &b->f, sizeof a->f) == 0;
	case WV_STR:
	case WV_BIN:
		return a->s.n == b->s.n &&
		       (a->s.n == 0 || memcmp(a->s.p, b->s.p, a->s.n) == 0);
	case WV_ARR:
		if (a->a.n != b->a.n)
			return 0;
		for (i = 0; i < a->a.n; i++)
			if (!wv_equal(&a->a.v[i], &b->a.v[i]))
				return 0;
		return 1;
	case WV_MAP:
		if (a->m.n != b->m.n)
			return 0;
		return map_equal(a, b);
	}
	return 0;
}

unsigned wv_depth(const wval *v)
{
	unsigned d = 0, x;
	uint32_t i;

	if (!v)
		return 0;
	if (v->t == WV_ARR) {
		for (i = 0; i < v->a.n; i++)
			if ((x = wv_depth(&v->a.v[i])) > d)
				d = x;
		return d + 1;
	}
	if (v->t == WV_MAP) {
		for (i = 0; i < v->m.n; i++) {
			if ((x = wv_depth(&v->m.k[i])) > d)
				d = x;
			if ((x = wv_depth(&v->m.v[i])) > d)
				d = x;
		}
		return d + 1;
	}
	return 0;
}

static int clone_into(arena *a, wval *dst, const wval *src)
{
	uint32_t i;

	*dst = *src;
	switch (src->t) {
	case WV_STR:
	case WV_BIN:
		if (src->s.n == 0)
			return 0;
		dst->s.p = arena_dup(a, src->s.p, src->s.n);
		return dst->s.p ? 0 : -1;
	case WV_ARR:
		if (src->a.n == 0)
			return 0;
		dst->a.v = arena_calloc(a, src->a.n, sizeof(wval));
		if (!dst->a.v)
			return -1;
		for (i = 0; i < src->a.n; i++)
			if (clone_into(a, &dst->a.v[i], &src->a.v[i]) < 0)
				return -1;
		return 0;
	case WV_MAP:
		if (src->m.n == 0)
			return 0;
		dst->m.k = arena_calloc(a, src->m.n, sizeof(wval));
		dst->m.v = arena_calloc(a, src->m.n, sizeof(wval));
		if (!dst->m.k || !dst->m.v)
			return -1;
		for (i = 0; i < src->m.n; i++) {
			if (clone_into(a, &dst->m.k[i], &src->m.k[i]) < 0 ||
			    clone_into(a, &dst->m.v[i], &src->m.v[i]) < 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

wval *wv_clone(arena *a, const wval *v)
{
	wval *c;

	if (!v)
		return NULL;
	c = arena_alloc(a, sizeof *c);
	if (!c || clone_into(a, c, v) < 0)
		return NULL;
	return c;
}

wval wv_of_str(const char *s)
{
	wval v;
	memset(&v, 0, sizeof(v));
	v.t = WV_NIL;
	if (s) {
		v.t = WV_STR;
		v.s.p = s;
		v.s.n = (uint32_t)strlen(s);
	}
	return v;
}

wval wv_of_u64(uint64_t u)
{
	wval v;
	memset(&v, 0, sizeof(v));
	v.t = WV_UINT;
	v.u = u;
	return v;
}

wval wv_of_i64(int64_t i)
{
	if (i >= 0)
		return wv_of_u64((uint64_t)i);
	wval v;
	memset(&v, 0, sizeof(v));
	v.t = WV_INT;
	v.i = i;
	return v;
}

wval wv_of_bool(int b)
{
	wval v;
	memset(&v, 0, sizeof(v));
	v.t = WV_BOOL;
	v.b = b;
	return v;
}

void wv_strcpy(char *dst, size_t cap, const wval *v)
{
	dst[0] = 0;
	if (v && v->t == WV_STR && v->s.n < cap) {
		memcpy(dst, v->s.p, v->s.n);
		dst[v->s.n] = 0;
	}
}

char *wv_strdup(arena *a, const wval *v)
{
	if (!v || v->t != WV_STR)
		return NULL;
	return arena_strndup(a, v->s.p, v->s.n);
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		unsigned need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0; /* continuation, overlong lead, or > U+10FFFF */
		}
		if (n - i - 1 < need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			unsigned cc = p[i + k];

			if ((cc & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* ---- encoding ---------------------------------------------------------- */

/* msgpack-c's write callback: append to the wbuf, growing it. */
static int wb_write(void *data, const char *buf, size_t len)
{
	wbuf *b = data;
	size_t want, cap;
	uint8_t *np;

	if (b->err)
		return -1;
	if (len > SIZE_MAX - b->n) {
		b->err = 1;
		return -1;
	}
	want = b->n + len;
	if (want > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < want) {
			if (cap > SIZE_MAX / 2) {
				cap = want;
				break;
			}
			cap *= 2;
		}
		np = realloc(b->p, cap);
		if (!np) {
			b->err = 1;
			return -1;
		}
		b->p = np;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->n, buf, len);
	b->n += len;
	return 0;
}

#define PK(b, pk) \
	msgpack_packer pk; \
	msgpack_packer_init(&pk, (b), wb_write)

void wb_init(wbuf *b)
{
	b->p = NULL;
	b->n = b->cap = 0;
	b->err = 0;
	b->pk = NULL; /* a packer is made on the stack for every call */
}

void wb_free(wbuf *b)
{
	free(b->p);
	wb_init(b);
}

uint8_t *wb_take(wbuf *b, size_t *n)
{
	uint8_t *p = b->p;

	if (b->err) {
		wb_free(b);
		*n = 0;
		return NULL;
	}
	if (!p)
		p = malloc(1);
	*n = b->n;
	wb_init(b);
	return p;
}

/* Fast paths: when the bytes fit in the room the buffer already has, the
 * one-byte forms (and a uint64's) are written here, the same bytes as
 * msgpack-c's packer gives, without its callback. */
static int wb_room(const wbuf *b, size_t k)
{
	return !b->err && b->cap - b->n >= k;
}

static void wb_byte(wbuf *b, uint8_t c)
{
	b->p[b->n++] = c;
}

void wb_nil(wbuf *b)
{
	if (wb_room(b, 1)) {
		wb_byte(b, 0xc0);
		return;
	}
	PK(b, pk);
	msgpack_pack_nil(&pk);
}

void wb_bool(wbuf *b, int v)
{
	if (wb_room(b, 1)) {
		wb_byte(b, v ? 0xc3 : 0xc2);
		return;
	}
	PK(b, pk);
	if (v)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
}

void wb_u64(wbuf *b, uint64_t v)
{
	if (v < 128 && wb_room(b, 1)) {
		wb_byte(b, (uint8_t)v); /* positive fixint */
		return;
	}
	if (v >= (1ULL << 32) && wb_room(b, 9)) {
		wb_byte(b, 0xcf); /* uint 64, big-endian */
		for (int i = 7; i >= 0; i--)
			wb_byte(b, (uint8_t)(v >> (i * 8)));
		return;
	}
	PK(b, pk);
	msgpack_pack_uint64(&pk, v);
}

void wb_i64(wbuf *b, int64_t v)
{
	PK(b, pk);
	msgpack_pack_int64(&pk, v);
}

void wb_f64(wbuf *b, double v)
{
	PK(b, pk);
	msgpack_pack_double(&pk, v);
}

void wb_str(wbuf *b, const char *p, size_t n)
{
	/* Short string with room for it: the same bytes as msgpack-c's
	 * fixstr (0xa0 | n, then the bytes) without two trips through the
	 * packer's callback.  Field names, ids and keys are nearly all like
	 * this, and they are most of what the server encodes. */
	if (n < 32 && wb_room(b, n + 1)) {
		b->p[b->n] = (uint8_t)(0xa0 | n);
		if (n)
			memcpy(b->p + b->n + 1, p, n);
		b->n += n + 1;
		return;
	}
	PK(b, pk);
	if (n > UINT32_MAX) {
		b->err = 1;
		return;
	}
	msgpack_pack_str(&pk, n);
	if (n)
		msgpack_pack_str_body(&pk, p, n);
}

void wb_cstr(wbuf *b, const char *s)
{
	if (!s)
		wb_nil(b);
	else
		wb_str(b, s, strlen(s));
}

void wb_bin(wbuf *b, const void *p, size_t n)
{
	PK(b, pk);
	if (n > UINT32_MAX) {
		b->err = 1;
		return;
	}
	msgpack_pack_bin(&pk, n);
	if (n)
		msgpack_pack_bin_body(&pk, p, n);
}

void wb_arr(wbuf *b, uint32_t n)
{
	if (n < 16 && wb_room(b, 1)) {
		wb_byte(b, (uint8_t)(0x90 | n)); /* fixarray */
		return;
	}
	PK(b, pk);
	msgpack_pack_array(&pk, n);
}

void wb_map(wbuf *b, uint32_t n)
{
	if (n < 16 && wb_room(b, 1)) {
		wb_byte(b, (uint8_t)(0x80 | n)); /* fixmap */
		return;
	}
	PK(b, pk);
	msgpack_pack_map(&pk, n);
}

void wb_val(wbuf *b, const wval *v)
{
	uint32_t i;

	if (!v) {
		wb_nil(b);
		return;
	}
	switch (v->t) {
	case WV_NIL:
		wb_nil(b);
		break;
	case WV_BOOL:
		wb_bool(b, v->b);
		break;
	case WV_INT:
		wb_i64(b, v->i);
		break;
	case WV_UINT:
		wb_u64(b, v->u);
		break;
	case WV_FLOAT:
		wb_f64(b, v->f);
		break;
	case WV_STR:
		wb_str(b, v->s.p, v->s.n);
		break;
	case WV_BIN:
		wb_bin(b, v->s.p, v->s.n);
		break;
	case WV_ARR:
		wb_arr(b, v->a.n);
		for (i = 0; i < v->a.n && !b->err; i++)
			wb_val(b, &v->a.v[i]);
		break;
	case WV_MAP:
		wb_map(b, v->m.n);
		for (i = 0; i < v->m.n && !b->err; i++) {
			wb_val(b, &v->m.k[i]);
			wb_val(b, &v->m.v[i]);
		}
		break;
	}
}

void wb_raw(wbuf *b, const void *p, size_t n)
{
	wb_write(b, p, n);
}

static size_t wb_later(wbuf *b, uint8_t tag)
{
	static const uint8_t zero[4];
	size_t at = b->n;

	wb_write(b, (const char *)&tag, 1);
	wb_write(b, (const char *)zero, 4);
	return b->err ? 0 : at;
}

size_t wb_arr_later(wbuf *b)
{
	return wb_later(b, 0xdd);
}

size_t wb_map_later(wbuf *b)
{
	return wb_later(b, 0xdf);
}

void wb_patch(wbuf *b, size_t at, uint32_t n)
{
	if (b->err || b->n < 5 || at > b->n - 5 ||
	    (b->p[at] != 0xdd && b->p[at] != 0xdf))
		return;
	b->p[at + 1] = (uint8_t)(n >> 24);
	b->p[at + 2] = (uint8_t)(n >> 16);
	b->p[at + 3] = (uint8_t)(n >> 8);
	b->p[at + 4] = (uint8_t)n;
}
