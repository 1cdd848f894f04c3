/*
 * colwire.c — the v2 pull encoding (colwire.h; byte format in
 * protocol/PROTOCOL.md, "Pull encoding v2").
 */
#include "colwire.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

enum { K_RAW = 0, K_STR = 1, K_INT = 2, K_BOOL = 3, K_NIL = 4 };
#define F_PRESENCE 0x10 /* a presence bitmap follows: not every record has it */
#define F_NILS 0x20     /* a nil bitmap follows: some present values are nil */

/* ---- msgpack values given as bytes ------------------------------------- */

static uint64_t be_n(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

/* The string at p (a whole msgpack object): 1 and its bytes, or 0. */
static int mp_str(const uint8_t *p, uint32_t n, const char **s, uint32_t *sn)
{
	unsigned h;

	if (p[0] >= 0xa0 && p[0] <= 0xbf)
		h = 1;
	else if (p[0] >= 0xd9 && p[0] <= 0xdb)
		h = 1 + (1u << (p[0] - 0xd9));
	else
		return 0;
	*s = (const char *)p + h;
	*sn = n - h;
	return 1;
}

/* The integer at p when it fits an int64: 1 and the value, or 0. */
static int mp_int(const uint8_t *p, int64_t *v)
{
	uint8_t b = p[0];

	if (b <= 0x7f || b >= 0xe0) {
		*v = (int8_t)b;
		return 1;
	}
	if (b >= 0xcc && b <= 0xcf) {
		uint64_t u = be_n(p + 1, 1u << (b - 0xcc));

		if (u > INT64_MAX)
			return 0;
		*v = (int64_t)u;
		return 1;
	}
	if (b >= 0xd0 && b <= 0xd3) {
		unsigned w = 1u << (b - 0xd0);
		uint64_t u = be_n(p + 1, w);

		if (w < 8 && (u >> (8 * w - 1)) & 1)
			u |= ~(uint64_t)0 << (8 * w); /* sign-extend */
		*v = (int64_t)u;
		return 1;
	}
	return 0;
}

/* The kind a column would need for this value (K_NIL for nil). */
static int mp_kind(const uint8_t *p)
{
	if (p[0] == 0xc0)
		return K_NIL;
	if (p[0] == 0xc2 || p[0] == 0xc3)
		return K_BOOL;
	if ((p[0] >= 0xa0 && p[0] <= 0xbf) || (p[0] >= 0xd9 && p[0] <= 0xdb))
		return K_STR;
	int64_t v;
	return mp_int(p, &v) ? K_INT : K_RAW;
}

/* Bytewise; a prefix sorts first. */
static int bytes_cmp(const char *a, uint32_t an, const char *b, uint32_t bn)
{
	uint32_t m = an < bn ? an : bn;
	int c = m ? memcmp(a, b, m) : 0;

	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/* ---- the encoder ---------------------------------------------------------- */

typedef struct {
	const char *p;
	uint32_t n;
} span;

typedef struct {
	const char *id;
	uint32_t idn;
	cw_field *f; /* sorted by name, names unique */
	uint32_t n;
} crec;

typedef struct {
	const char *c;
	uint32_t cn;
	crec *r;
	uint32_t n, cap;
} cgroup;

struct cw_enc {
	arena *a;
	cgroup *g;
	uint32_t ng, capg;
	size_t nrec;
};

cw_enc *cw_enc_new(void)
{
	cw_enc *e = calloc(1, sizeof(*e));

	if (e && !(e->a = arena_new(0))) {
		free(e);
		return NULL;
	}
	return e;
}

void cw_enc_free(cw_enc *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; i < e->ng; i++)
		free(e->g[i].r);
	free(e->g);
	arena_free(e->a);
	free(e);
}

size_t cw_enc_count(const cw_enc *e)
{
	return e->nrec;
}

static int field_cmp(const void *x, const void *y)
{
	const cw_field *a = x, *b = y;

	return bytes_cmp(a->name, a->name_n, b->name, b->name_n);
}

static cgroup *group_of(cw_enc *e, const char *c, uint32_t cn)
{
	for (uint32_t i = e->ng; i-- > 0;)
		if (!bytes_cmp(e->g[i].c, e->g[i].cn, c, cn))
			return &e->g[i];
	if (e->ng == e->capg) {
		uint32_t cap = e->capg ? e->capg * 2 : 4;
		cgroup *g = realloc(e->g, cap * sizeof(*g));

		if (!g)
			return NULL;
		e->g = g;
		e->capg = cap;
	}
	cgroup *g = &e->g[e->ng++];
	memset(g, 0, sizeof(*g));
	g->c = c;
	g->cn = cn;
	return g;
}

int cw_enc_add(cw_enc *e, const char *c, size_t cn, const char *id,
               size_t idn, const cw_field *f, uint32_t n)
{
	if (!cn || cn > CW_NAME_MAX || !idn || idn > CW_NAME_MAX)
		return FS_E_BAD_REQUEST;
	for (uint32_t i = 0; i < n; i++)
		if (f[i].name_n > CW_NAME_MAX || !f[i].val_n ||
		    wire_walk(f[i].val, f[i].val_n, NULL) != f[i].val_n)
			return FS_E_BAD_REQUEST;
	cw_field *copy = n ? arena_dup(e->a, f, n * sizeof(*f)) : NULL;
	if (n && !copy)
		return FS_E_UNAVAILABLE;
	int sorted = 1;
	for (uint32_t i = 1; i < n && sorted; i++)
		sorted = field_cmp(&copy[i - 1], &copy[i]) < 0;
	if (!sorted) {
		qsort(copy, n, sizeof(*copy), field_cmp);
		for (uint32_t i = 1; i < n; i++)
			if (!field_cmp(&copy[i - 1], &copy[i]))
				return FS_E_BAD_REQUEST;
	}
	cgroup *g = group_of(e, c, (uint32_t)cn);
	if (!g)
		return FS_E_UNAVAILABLE;
	if (g->n == g->cap) {
		uint32_t cap = g->cap ? g->cap * 2 : 64;
		crec *r = realloc(g->r, (size_t)cap * sizeof(*r));

		if (!r)
			return FS_E_UNAVAILABLE;
		g->r = r;
		g->cap = cap;
	}
	g->r[g->n++] = (crec){id, (uint32_t)idn, copy, n};
	e->nrec++;
	return FS_OK;
}

/* A map or array header at p[*o..n) (any width): its count, or -1. */
static int64_t mp_count(const uint8_t *p, size_t n, size_t *o, int map)
{
	uint8_t b;

	if (*o >= n)
		return -1;
	b = p[(*o)++];
	if (map ? (b >= 0x80 && b <= 0x8f) : (b >= 0x90 && b <= 0x9f))
		return b & 0x0f;
	unsigned w = b == (map ? 0xde : 0xdc) ? 2 : b == (map ? 0xdf : 0xdd) ? 4 : 0;
	if (!w || w > n - *o)
		return -1;
	*o += w;
	return (int64_t)be_n(p + *o - w, w);
}

int cw_enc_add_stored(cw_enc *e, const char *c, size_t cn, const char *id,
                      size_t idn, const uint8_t *p, size_t n)
{
	size_t o = 0;
	int64_t cnt = mp_count(p, n, &o, 1);

	/* a field takes at least 5 bytes: name, [, value, hlc, origin */
	if (cnt < 0 || (uint64_t)cnt > (n - o) / 5 || n > UINT32_MAX)
		return FS_E_BAD_MSGPACK;
	cw_field *f = cnt ? arena_alloc(e->a, (size_t)cnt * sizeof(*f)) : NULL;
	if (cnt && !f)
		return FS_E_UNAVAILABLE;
	for (int64_t i = 0; i < cnt; i++) {
		size_t kn = wire_walk(p + o, n - o, NULL), vn, hn, on;

		if (!kn || !mp_str(p + o, (uint32_t)kn, &f[i].name, &f[i].name_n))
			return FS_E_BAD_MSGPACK;
		o += kn;
		if (mp_count(p, n, &o, 0) != 3 ||
		    !(vn = wire_walk(p + o, n - o, NULL)))
			return FS_E_BAD_MSGPACK;
		f[i].val = p + o;
		f[i].val_n = (uint32_t)vn;
		o += vn;
		if (!(hn = wire_walk(p + o, n - o, NULL)) || p[o] >= 0xd0 ||
		    (p[o] >= 0x80 && p[o] < 0xcc))
			return FS_E_BAD_MSGPACK; /* hlc: a non-negative integer */
		if (p[o] <= 0x7f)
			f[i].hlc = p[o];
		else
			f[i].hlc = be_n(p + o + 1, 1u << (p[o] - 0xcc));
		o += hn;
		if (!(on = wire_walk(p + o, n - o, NULL)) ||
		    !mp_str(p + o, (uint32_t)on, &f[i].origin, &f[i].origin_n))
			return FS_E_BAD_MSGPACK;
		o += on;
	}
	if (o != n)
		return FS_E_BAD_MSGPACK;
	return cw_enc_add(e, c, cn, id, idn, f, (uint32_t)cnt);
}

int cw_enc_add_v1(cw_enc *e, const wval *rec)
{
	const wval *c = wv_get(rec, "c"), *id = wv_get(rec, "id");
	const wval *f = wv_get(rec, "f"), *s = wv_get(rec, "s");

	if (rec->t != WV_MAP || rec->m.n != 4 || !c || !id || !f || !s ||
	    c->t != WV_STR || id->t != WV_STR ||
	    f->t != WV_MAP || s->t != WV_MAP || f->m.n != s->m.n)
		return FS_E_BAD_REQUEST;
	cw_field *out = f->m.n ? arena_alloc(e->a, f->m.n * sizeof(*out)) : NULL;
	if (f->m.n && !out)
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < f->m.n; i++) {
		const wval *k = &f->m.k[i], *st = NULL;
		wbuf b;

		if (k->t != WV_STR)
			return FS_E_BAD_REQUEST;
		for (uint32_t j = 0; j < s->m.n && !st; j++)
			if (s->m.k[j].t == WV_STR && s->m.k[j].s.n == k->s.n &&
			    !memcmp(s->m.k[j].s.p, k->s.p, k->s.n))
				st = &s->m.v[j];
		if (!st || st->t != WV_ARR || st->a.n != 2 ||
		    st->a.v[0].t != WV_UINT || st->a.v[1].t != WV_STR)
			return FS_E_BAD_REQUEST;
		wb_init(&b);
		wb_val(&b, &f->m.v[i]);
		out[i].val = b.err ? NULL : arena_dup(e->a, b.p, b.n);
		out[i].val_n = (uint32_t)b.n;
		wb_free(&b);
		if (!out[i].val)
			return FS_E_UNAVAILABLE;
		out[i].name = k->s.p;
		out[i].name_n = k->s.n;
		out[i].hlc = st->a.v[0].u;
		out[i].origin = st->a.v[1].s.p;
		out[i].origin_n = st->a.v[1].s.n;
	}
	return cw_enc_add(e, c->s.p, c->s.n, id->s.p, id->s.n, out, f->m.n);
}

/* ---- writing ------------------------------------------------------------- */

static void put_uv(wbuf *b, uint64_t v)
{
	uint8_t t[10], *o = t;
	unsigned n = 0;

	/* straight into the buffer when it has room (most calls): wb_raw
	 * costs a call through msgpack-c's writer */
	if (!b->err && b->cap - b->n >= sizeof(t))
		o = b->p + b->n;
	while (v >= 0x80) {
		o[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (uint8_t)v;
	if (o == t)
		wb_raw(b, t, n);
	else
		b->n += n;
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (uint64_t)((int64_t)d >> 63);
}

/* wb_raw, straight into the buffer when it has room. */
static void put_raw(wbuf *b, const void *p, size_t n)
{
	if (!b->err && b->cap - b->n >= n) {
		memcpy(b->p + b->n, p, n);
		b->n += n;
	} else {
		wb_raw(b, p, n);
	}
}

static void put_bytes(wbuf *b, const char *p, uint32_t n)
{
	put_uv(b, n);
	put_raw(b, p, n);
}

/* Strings numbered in order of first use (open addressing on FNV-1a). */
typedef struct {
	span *v;
	uint32_t n, cap;
	uint32_t *slot; /* index + 1; 0 is empty */
	uint32_t mask;
	int err;
} strtab;

/* Eight bytes a step (the strings are values of a page, not chosen to
 * collide with each other; a collision costs a memcmp). */
static uint32_t hash(const char *p, uint32_t n)
{
	uint64_t h = n * 0x9E3779B97F4A7C15ull, w;
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
	}
	w = 0;
	memcpy(&w, p + i, n - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return (uint32_t)(h >> 32);
}

static int st_grow(strtab *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 64;
	span *v = realloc(t->v, (size_t)cap * sizeof(*v));
	uint32_t *slot = calloc((size_t)cap * 2, sizeof(*slot));

	if (v)
		t->v = v;
	if (!v || !slot) {
		free(slot);
		return -1;
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	t->mask = cap * 2 - 1;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t h = hash(t->v[i].p, t->v[i].n) & t->mask;

		while (t->slot[h])
			h = (h + 1) & t->mask;
		t->slot[h] = i + 1;
	}
	return 0;
}

static uint32_t st_index(strtab *t, const char *p, uint32_t n)
{
	if (t->n == t->cap && st_grow(t)) {
		t->err = 1;
		return 0;
	}
	uint32_t h = hash(p, n) & t->mask;
	for (; t->slot[h]; h = (h + 1) & t->mask) {
		const span *s = &t->v[t->slot[h] - 1];

		if (s->n == n && !memcmp(s->p, p, n))
			return t->slot[h] - 1;
	}
	t->v[t->n] = (span){p, n};
	t->slot[h] = ++t->n;
	return t->n - 1;
}

static void st_free(strtab *t)
{
	free(t->v);
	free(t->slot);
}

static void put_table(wbuf *b, const strtab *t)
{
	put_uv(b, t->n);
	for (uint32_t i = 0; i < t->n; i++)
		put_bytes(b, t->v[i].p, t->v[i].n);
}

/* Bits of flags[0..n) packed LSB first. */
static void put_bits(wbuf *b, const uint8_t *flags, size_t n)
{
	uint8_t byte = 0;

	for (size_t i = 0; i < n; i++) {
		byte |= (uint8_t)(!!flags[i] << (i & 7));
		if ((i & 7) == 7 || i == n - 1) {
			put_raw(b, &byte, 1);
			byte = 0;
		}
	}
}

typedef struct {
	wbuf *b;
	strtab *S, *O;
	const cgroup *g;
	const uint64_t *base;
	const cw_field **col; /* the column's field per record, NULL: absent */
	uint8_t *bits;        /* scratch, one byte per record */
} colctx;

/* The column's kind: the one all its non-nil values share, else raw. */
static int col_kind(const colctx *x, uint32_t *npres, uint32_t *nnil)
{
	int kind = K_NIL;

	*npres = *nnil = 0;
	for (uint32_t i = 0; i < x->g->n; i++) {
		if (!x->col[i])
			continue;
		int k = mp_kind(x->col[i]->val);

		++*npres;
		if (k == K_NIL)
			++*nnil;
		else if (kind == K_NIL)
			kind = k;
		else if (kind != k)
			kind = K_RAW;
	}
	return kind == K_NIL ? K_RAW : kind;
}

static void put_column(colctx *x)
{
	wbuf *b = x->b;
	uint32_t n = x->g->n, npres, nnil, k;
	int kind = col_kind(x, &npres, &nnil);
	uint8_t head = (uint8_t)(kind | (npres < n ? F_PRESENCE : 0) |
	                         (nnil ? F_NILS : 0));
	int64_t prev = 0;

	put_raw(b, &head, 1);
	if (npres < n) {
		for (uint32_t i = 0; i < n; i++)
			x->bits[i] = x->col[i] != NULL;
		put_bits(b, x->bits, n);
	}
	if (nnil) {
		k = 0;
		for (uint32_t i = 0; i < n; i++)
			if (x->col[i])
				x->bits[k++] = x->col[i]->val[0] == 0xc0;
		put_bits(b, x->bits, npres);
	}
	for (uint32_t i = 0; i < n; i++)
		if (x->col[i])
			put_uv(b, x->base[i] - x->col[i]->hlc);
	for (uint32_t i = 0; i < n; i++)
		if (x->col[i])
			put_uv(b, st_index(x->O, x->col[i]->origin,
			                   x->col[i]->origin_n));
	k = 0;
	const span *last = NULL;
	uint32_t last_i = 0;
	for (uint32_t i = 0; i < n; i++) {
		const cw_field *f = x->col[i];
		const char *s;
		uint32_t sn;
		int64_t v;

		if (!f || f->val[0] == 0xc0)
			continue;
		if (kind == K_STR && mp_str(f->val, f->val_n, &s, &sn)) {
			/* a column often repeats its last string: no hash then */
			if (!last || sn != last->n || memcmp(s, last->p, sn))
				last_i = st_index(x->S, s, sn);
			last = &x->S->v[last_i];
			put_uv(b, last_i);
		} else if (kind == K_INT && mp_int(f->val, &v)) {
			put_uv(b, zigzag((uint64_t)v - (uint64_t)prev));
			prev = v;
		} else if (kind == K_BOOL) {
			x->bits[k++] = f->val[0] == 0xc3;
		} else {
			put_uv(b, f->val_n);
			put_raw(b, f->val, f->val_n);
		}
	}
	if (kind == K_BOOL && k)
		put_bits(b, x->bits, k);
}

static int span_cmp(const void *x, const void *y)
{
	const span *a = x, *b = y;

	return bytes_cmp(a->p, a->n, b->p, b->n);
}

/* The group's field names, sorted and unique, malloc'd; NULL on OOM.
 * A record with the same names as the one before (the usual case) costs
 * one comparison per name, not a hash. */
static span *group_names(const cgroup *g, uint32_t *nf)
{
	strtab t = {0};
	span *v = NULL;

	for (uint32_t i = 0; i < g->n && !t.err; i++) {
		const crec *r = &g->r[i], *p = i ? &g->r[i - 1] : NULL;
		uint32_t j = 0;

		if (p && p->n == r->n)
			while (j < r->n && !bytes_cmp(p->f[j].name, p->f[j].name_n,
			                              r->f[j].name, r->f[j].name_n))
				j++;
		if (p && j == r->n)
			continue;
		for (j = 0; j < r->n; j++)
			st_index(&t, r->f[j].name, r->f[j].name_n);
	}
	if (!t.err && (v = malloc((t.n ? t.n : 1) * sizeof(*v)))) {
		memcpy(v, t.v, t.n * sizeof(*v));
		qsort(v, t.n, sizeof(*v), span_cmp);
		*nf = t.n;
	}
	st_free(&t);
	return v;
}

static int put_group(wbuf *b, const cgroup *g, strtab *S, strtab *O)
{
	uint32_t nf = 0, n = g->n;
	span *names = group_names(g, &nf);
	uint64_t *base = malloc(n * sizeof(*base));
	uint32_t *pos = calloc(n, sizeof(*pos));
	const cw_field **col = malloc(n * sizeof(*col));
	uint8_t *bits = malloc(n);
	int rc = FS_E_UNAVAILABLE;

	if (!names || !base || !pos || !col || !bits)
		goto out;
	rc = FS_E_TOO_LARGE;
	if (nf > CW_FIELDS_MAX)
		goto out;
	put_bytes(b, g->c, g->cn);
	put_uv(b, n);
	put_uv(b, nf);
	for (uint32_t j = 0; j < nf; j++)
		put_bytes(b, names[j].p, names[j].n);
	for (uint32_t i = 0; i < n; i++) {
		const crec *r = &g->r[i], *p = i ? &g->r[i - 1] : NULL;
		uint32_t keep = 0;

		while (p && keep < p->idn && keep < r->idn &&
		       p->id[keep] == r->id[keep])
			keep++;
		put_uv(b, keep);
		put_bytes(b, r->id + keep, r->idn - keep);
	}
	for (uint32_t i = 0; i < n; i++) {
		base[i] = 0;
		for (uint32_t j = 0; j < g->r[i].n; j++)
			if (g->r[i].f[j].hlc > base[i])
				base[i] = g->r[i].f[j].hlc;
		put_uv(b, zigzag(base[i] - (i ? base[i - 1] : 0)));
	}
	colctx x = {b, S, O, g, base, col, bits};
	for (uint32_t j = 0; j < nf; j++) {
		for (uint32_t i = 0; i < n; i++) {
			const crec *r = &g->r[i];
			const cw_field *f = pos[i] < r->n ? &r->f[pos[i]] : NULL;

			col[i] = f && !bytes_cmp(f->name, f->name_n, names[j].p,
			                         names[j].n) ? f : NULL;
			pos[i] += col[i] != NULL;
		}
		put_column(&x);
	}
	rc = S->err || O->err ? FS_E_UNAVAILABLE : FS_OK;
out:
	free(names);
	free(base);
	free(pos);
	free(col);
	free(bits);
	return rc;
}

int cw_enc_finish(cw_enc *e, wbuf *out)
{
	strtab S = {0}, O = {0};
	wbuf body;
	int rc = FS_OK;
	uint8_t v = CW_VERSION;

	wb_init(&body);
	put_uv(&body, e->ng);
	for (uint32_t i = 0; i < e->ng && !rc; i++)
		rc = put_group(&body, &e->g[i], &S, &O);
	if (!rc && body.err)
		rc = FS_E_UNAVAILABLE;
	if (!rc) {
		wb_raw(out, &v, 1);
		put_table(out, &S);
		put_table(out, &O);
		wb_raw(out, body.p, body.n);
		if (out->err)
			rc = FS_E_UNAVAILABLE;
	}
	wb_free(&body);
	st_free(&S);
	st_free(&O);
	return rc;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t n, o;
} rd;

/* An unsigned LEB128 varint of at most 64 bits: 0, or -1. */
static int rd_uv(rd *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned s = 0; s < 64; s += 7) {
		if (r->o >= r->n)
			return -1;
		uint8_t b = r->p[r->o++];
		if (s == 63 && b > 1)
			return -1; /* past 64 bits */
		x |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* A varint that must be below `lim`. */
static int rd_below(rd *r, uint64_t lim, uint64_t *v)
{
	return rd_uv(r, v) || *v >= lim ? -1 : 0;
}

/* A length-prefixed byte string of at most `max` bytes. */
static int rd_bytes(rd *r, uint64_t max, const char **p, uint32_t *len)
{
	uint64_t l;

	if (rd_uv(r, &l) || l > max || l > r->n - r->o)
		return -1;
	*p = (const char *)r->p + r->o;
	*len = (uint32_t)l;
	r->o += (size_t)l;
	return 0;
}

static uint64_t left(const rd *r)
{
	return r->n - r->o;
}

/* A bitmap of `bits` bits, padding zero: its bytes and how many are set. */
static int rd_bitmap(rd *r, uint64_t bits, const uint8_t **map, uint64_t *set)
{
	uint64_t bytes = (bits + 7) / 8;

	if (bytes > left(r))
		return -1;
	*map = r->p + r->o;
	*set = 0;
	for (uint64_t i = 0; i < bytes; i++)
		*set += (uint64_t)__builtin_popcount(r->p[r->o + i]);
	if (bits & 7 && r->p[r->o + bytes - 1] >> (bits & 7))
		return -1;
	r->o += (size_t)bytes;
	return 0;
}

static int bit(const uint8_t *map, uint64_t i)
{
	return map[i >> 3] >> (i & 7) & 1;
}

/* One column, read and checked: where its parts start. */
typedef struct {
	int kind;
	const uint8_t *pres, *nil; /* NULL: all present, none nil */
	uint64_t npres, nval;
	size_t hlc, org, val;      /* offsets of its sections */
	uint64_t raw_values;       /* values its raw msgpack holds */
} col;

static int rd_column(rd *r, uint64_t nrec, uint64_t nS, uint64_t nO, col *c)
{
	uint64_t set, v;

	if (r->o >= r->n)
		return -1;
	uint8_t head = r->p[r->o++];
	memset(c, 0, sizeof(*c));
	c->kind = head & 0x0f;
	if (c->kind > K_BOOL || head & ~(0x0f | F_PRESENCE | F_NILS))
		return -1;
	c->npres = nrec;
	if (head & F_PRESENCE) {
		if (rd_bitmap(r, nrec, &c->pres, &set))
			return -1;
		c->npres = set;
	}
	c->nval = c->npres;
	if (head & F_NILS) {
		if (rd_bitmap(r, c->npres, &c->nil, &set))
			return -1;
		c->nval -= set;
	}
	c->hlc = r->o;
	for (uint64_t i = 0; i < c->npres; i++)
		if (rd_uv(r, &v))
			return -1;
	c->org = r->o;
	for (uint64_t i = 0; i < c->npres; i++)
		if (rd_below(r, nO, &v))
			return -1;
	c->val = r->o;
	if (c->kind == K_BOOL) {
		const uint8_t *map;

		return rd_bitmap(r, c->nval, &map, &set);
	}
	for (uint64_t i = 0; i < c->nval; i++) {
		const char *p;
		uint32_t len;
		uint64_t vals;

		if (c->kind == K_STR ? rd_below(r, nS, &v)
		    : c->kind == K_INT ? rd_uv(r, &v)
		    : rd_bytes(r, UINT32_MAX, &p, &len) ||
		      !len || wire_walk((const uint8_t *)p, len, &vals) != len ||
		      wire_check_depth((const uint8_t *)p, len, WIRE_MAX_DEPTH))
			return -1;
		if (c->kind == K_RAW)
			c->raw_values += vals - 1;
	}
	return 0;
}

/* The header of a group, read and checked. */
typedef struct {
	const char *c;
	uint32_t cn;
	uint64_t nrec, nf;
	size_t names, ids, bases; /* offsets of its sections */
} ghead;

static int rd_ghead(rd *r, ghead *g)
{
	const char *p, *prev = NULL;
	uint32_t len, prevn = 0;
	uint64_t v;

	if (rd_bytes(r, CW_NAME_MAX, &g->c, &g->cn) || !g->cn ||
	    rd_uv(r, &g->nrec) || !g->nrec || g->nrec > left(r) / 2 ||
	    rd_uv(r, &g->nf) || g->nf > CW_FIELDS_MAX || g->nf > left(r))
		return -1; /* a record's id takes 2 bytes or more, a name 1 */
	g->names = r->o;
	for (uint64_t j = 0; j < g->nf; j++) {
		if (rd_bytes(r, CW_NAME_MAX, &p, &len) ||
		    (prev && bytes_cmp(prev, prevn, p, len) >= 0))
			return -1; /* names strictly ascending */
		prev = p;
		prevn = len;
	}
	g->ids = r->o;
	prevn = 0;
	for (uint64_t i = 0; i < g->nrec; i++) {
		if (rd_uv(r, &v) || v > prevn ||
		    rd_bytes(r, CW_NAME_MAX - v, &p, &len) || v + len == 0)
			return -1;
		prevn = (uint32_t)v + len;
	}
	g->bases = r->o;
	for (uint64_t i = 0; i < g->nrec; i++)
		if (rd_uv(r, &v))
			return -1;
	return 0;
}

/* Values of the v1 tree: the array, per record its map with c, id, f, s,
 * per field f's key and value, s's key, [hlc, origin]. */
#define VALUES_PER_REC 9
#define VALUES_PER_FIELD 6

/* Walk the page without allocating: FS_OK and the records and values it
 * will take, or FS_E_BAD_MSGPACK. */
static int check_page(rd *r, uint64_t nS, uint64_t nO, uint64_t ng,
                      uint64_t *nrec, uint64_t *values)
{
	*nrec = 0;
	*values = 1;
	for (uint64_t k = 0; k < ng; k++) {
		ghead g;
		col c;

		if (rd_ghead(r, &g))
			return FS_E_BAD_MSGPACK;
		*nrec += g.nrec;
		*values += VALUES_PER_REC * g.nrec;
		for (uint64_t j = 0; j < g.nf; j++) {
			if (rd_column(r, g.nrec, nS, nO, &c))
				return FS_E_BAD_MSGPACK;
			*values += VALUES_PER_FIELD * c.npres + c.raw_values;
		}
	}
	return r->o == r->n ? FS_OK : FS_E_BAD_MSGPACK;
}

/* A table of `count` length-prefixed strings, already checked. */
static span *read_table(arena *a, rd *r, uint64_t count)
{
	span *t = arena_alloc(a, (count ? count : 1) * sizeof(*t));

	for (uint64_t i = 0; t && i < count; i++)
		if (rd_bytes(r, UINT32_MAX, &t[i].p, &t[i].n))
			return NULL;
	return t;
}

static wval str_val(const char *p, uint32_t n)
{
	wval v = {.t = WV_STR};

	v.s.p = p;
	v.s.n = n;
	return v;
}

typedef struct {
	arena *a;
	const uint8_t *p;
	size_t n;
	const span *S, *O;
	wval *out; /* the next record map to fill */
} builder;

/* The record maps of a group: {c, id, f: {}, s: {}} with room for each
 * record's fields; *fill[i] counts the fields placed so far. */
static int build_records(builder *x, rd *r, const ghead *g, const col *cols,
                         uint32_t *fill)
{
	static const char *const keys[4] = {"c", "id", "f", "s"};
	const char *prev = NULL;
	uint32_t prevn = 0;
	uint64_t keep;
	size_t total = 0;
	wval *blk;

	memset(fill, 0, g->nrec * sizeof(*fill));
	for (uint64_t j = 0; j < g->nf; j++)
		for (uint64_t i = 0; i < g->nrec; i++)
			fill[i] += !cols[j].pres || bit(cols[j].pres, i);
	/* every record's nodes in one block: one allocation, not one per
	 * record (check_page bounded the fields, so this cannot overflow) */
	for (uint64_t i = 0; i < g->nrec; i++)
		total += 8 + (size_t)VALUES_PER_FIELD * fill[i];
	if (!(blk = arena_calloc(x->a, total ? total : 1, sizeof(wval))))
		return FS_E_UNAVAILABLE;
	r->o = g->ids;
	for (uint64_t i = 0; i < g->nrec; i++) {
		wval *m = &x->out[i];
		const char *suf;
		uint32_t sn, c = fill[i];
		char *id;

		if (rd_uv(r, &keep) || keep > prevn ||
		    rd_bytes(r, CW_NAME_MAX, &suf, &sn) ||
		    !(id = arena_alloc(x->a, keep + sn + 1)))
			return FS_E_UNAVAILABLE;
		if (keep)
			memcpy(id, prev, keep);
		if (sn)
			memcpy(id + keep, suf, sn);
		prev = id;
		prevn = (uint32_t)keep + sn;
		m->t = WV_MAP;
		m->m.n = 4;
		m->m.k = blk;
		m->m.v = blk + 4;
		for (int k = 0; k < 4; k++)
			blk[k] = str_val(keys[k], (uint32_t)strlen(keys[k]));
		blk[4] = str_val(g->c, g->cn);
		blk[5] = str_val(id, prevn);
		blk[6].t = blk[7].t = WV_MAP;
		blk[6].m.k = blk + 8;          /* f: keys, then values */
		blk[6].m.v = blk + 8 + c;
		blk[7].m.k = blk + 8 + 2 * c;  /* s: keys, [hlc, origin] arrays */
		blk[7].m.v = blk + 8 + 3 * c;  /* and their 2 * c elements */
		blk += 8 + (size_t)VALUES_PER_FIELD * c;
		fill[i] = 0;
	}
	return FS_OK;
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (~(z & 1) + 1);
}

/* One value of column c; *vi counts the values read so far. */
static int build_value(builder *x, const col *c, rd *v, uint64_t *vi,
                       uint64_t *acc, wval *out)
{
	uint64_t u, count;
	const char *p;
	uint32_t len;
	wval *tree;

	switch (c->kind) {
	case K_STR:
		if (rd_uv(v, &u))
			return FS_E_BAD_MSGPACK;
		*out = str_val(x->S[u].p, x->S[u].n);
		break;
	case K_INT:
		if (rd_uv(v, &u))
			return FS_E_BAD_MSGPACK;
		*acc += unzigzag(u);
		if ((int64_t)*acc < 0) {
			out->t = WV_INT;
			out->i = (int64_t)*acc;
		} else {
			out->t = WV_UINT;
			out->u = *acc;
		}
		break;
	case K_BOOL:
		out->t = WV_BOOL;
		out->b = bit(x->p + c->val, *vi);
		break;
	default:
		if (rd_bytes(v, UINT32_MAX, &p, &len) ||
		    !wire_walk((const uint8_t *)p, len, &count))
			return FS_E_BAD_MSGPACK;
		int rc = wire_decode_max(x->a, (const uint8_t *)p, len, count,
		                         &tree);
		if (rc)
			return rc;
		*out = *tree;
	}
	++*vi;
	return FS_OK;
}

/* Place column c's fields, named `name`, into the group's records. */
static int build_column(builder *x, const ghead *g, const col *c,
                        const wval *name, const uint64_t *base,
                        uint32_t *fill)
{
	rd h = {x->p, x->n, c->hlc}, o = {x->p, x->n, c->org};
	rd v = {x->p, x->n, c->val};
	uint64_t pi = 0, vi = 0, acc = 0, d, oi;
	int rc;

	for (uint64_t i = 0; i < g->nrec; i++) {
		if (c->pres && !bit(c->pres, i))
			continue;
		wval *m = &x->out[i], *f = &m->m.v[2], *s = &m->m.v[3];
		uint32_t k = fill[i]++;
		/* the elements follow s's values (build_records) */
		wval *st = s->m.v + (f->m.v - f->m.k) + 2 * k;

		if (rd_uv(&h, &d) || rd_uv(&o, &oi))
			return FS_E_BAD_MSGPACK;
		f->m.k[k] = s->m.k[k] = *name;
		if (c->nil && bit(c->nil, pi))
			f->m.v[k].t = WV_NIL;
		else if ((rc = build_value(x, c, &v, &vi, &acc, &f->m.v[k])))
			return rc;
		pi++;
		st[0].t = WV_UINT;
		st[0].u = base[i] - d;
		st[1] = str_val(x->O[oi].p, x->O[oi].n);
		s->m.v[k].t = WV_ARR;
		s->m.v[k].a.v = st;
		s->m.v[k].a.n = 2;
		f->m.n = s->m.n = fill[i];
	}
	return FS_OK;
}

static int build_group(builder *x, rd *r)
{
	ghead g;
	uint64_t acc = 0, z;
	int rc;

	if (rd_ghead(r, &g))
		return FS_E_BAD_MSGPACK;
	size_t end = r->o;
	wval *names = arena_alloc(x->a, (g.nf ? g.nf : 1) * sizeof(wval));
	uint64_t *base = arena_alloc(x->a, g.nrec * sizeof(*base));
	uint32_t *fill = arena_alloc(x->a, g.nrec * sizeof(*fill));
	col *cols = arena_alloc(x->a, (g.nf ? g.nf : 1) * sizeof(*cols));

	if (!names || !base || !fill || !cols)
		return FS_E_UNAVAILABLE;
	r->o = g.names;
	for (uint64_t j = 0; j < g.nf; j++) {
		const char *p;
		uint32_t n;

		if (rd_bytes(r, CW_NAME_MAX, &p, &n))
			return FS_E_BAD_MSGPACK;
		names[j] = str_val(p, n);
	}
	r->o = g.bases;
	for (uint64_t i = 0; i < g.nrec; i++) {
		if (rd_uv(r, &z))
			return FS_E_BAD_MSGPACK;
		base[i] = acc += unzigzag(z);
	}
	r->o = end;
	for (uint64_t j = 0; j < g.nf; j++)
		if (rd_column(r, g.nrec, UINT64_MAX, UINT64_MAX, &cols[j]))
			return FS_E_BAD_MSGPACK;
	end = r->o;
	if ((rc = build_records(x, r, &g, cols, fill)))
		return rc;
	for (uint64_t j = 0; j < g.nf; j++)
		if ((rc = build_column(x, &g, &cols[j], &names[j], base, fill)))
			return rc;
	x->out += g.nrec;
	r->o = end;
	return FS_OK;
}

/* A table's count, checked against the bytes left (an entry takes one
 * byte or more), and the table skipped. */
static int skip_table(rd *r, uint64_t *count)
{
	const char *p;
	uint32_t len;

	if (rd_uv(r, count) || *count > left(r))
		return -1;
	for (uint64_t i = 0; i < *count; i++)
		if (rd_bytes(r, UINT32_MAX, &p, &len))
			return -1;
	return 0;
}

int cw_decode(arena *a, const uint8_t *p, size_t n, size_t *budget,
              wval **out)
{
	rd r = {p, n, 1};
	uint64_t nS, nO, ng, nrec, values;
	size_t at_S, at_O, at_G;
	int rc;

	if (!n || p[0] != CW_VERSION)
		return FS_E_BAD_MSGPACK;
	at_S = r.o;
	if (skip_table(&r, &nS))
		return FS_E_BAD_MSGPACK;
	at_O = r.o;
	if (skip_table(&r, &nO) || rd_uv(&r, &ng) || ng > left(&r))
		return FS_E_BAD_MSGPACK;
	at_G = r.o;
	if ((rc = check_page(&r, nS, nO, ng, &nrec, &values)))
		return rc;
	if (values > *budget)
		return FS_E_TOO_LARGE;

	builder x = {a, p, n, NULL, NULL, NULL};
	wval *arr = arena_alloc(a, sizeof(*arr));
	uint64_t dummy;
	if (!arr)
		return FS_E_UNAVAILABLE;
	r.o = at_S;
	if (rd_uv(&r, &dummy) || !(x.S = read_table(a, &r, nS)))
		return FS_E_UNAVAILABLE;
	r.o = at_O;
	if (rd_uv(&r, &dummy) || !(x.O = read_table(a, &r, nO)))
		return FS_E_UNAVAILABLE;
	if (nrec > UINT32_MAX)
		return FS_E_TOO_LARGE;
	arr->t = WV_ARR;
	arr->a.n = (uint32_t)nrec;
	arr->a.v = x.out = arena_calloc(a, nrec ? nrec : 1, sizeof(wval));
	if (!x.out)
		return FS_E_UNAVAILABLE;
	r.o = at_G;
	for (uint64_t k = 0; k < ng; k++)
		if ((rc = build_group(&x, &r)))
			return rc;
	*budget -= (size_t)values;
	*out = arr;
	return FS_OK;
}
