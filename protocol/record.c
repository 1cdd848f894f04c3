/*
 * record.c — a record's fields with their stamps, the last-writer-wins
 * merge, and the stored form { field: [value, hlc, origin] }.
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* Bytewise; a prefix sorts before the longer string. */
static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t m = an < bn ? an : bn;
	int c = m ? memcmp(a, b, m) : 0;

	if (c)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

int stamp_cmp(const stamp *a, const stamp *b)
{
	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	return bytes_cmp(a->origin, a->origin_n, b->origin, b->origin_n);
}

void rec_init(record *r)
{
	r->f = NULL;
	r->n = r->cap = 0;
}

/* Index of the field, or -(insertion point) - 1 when absent. */
static int64_t find(const record *r, const char *name, size_t n)
{
	uint32_t lo = 0, hi = r->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const rfield *f = &r->f[mid];
		int c = bytes_cmp(f->name, f->name_n, name, n);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(int64_t)lo - 1;
}

rfield *rec_getn(const record *r, const char *name, size_t n)
{
	int64_t i;

	if (!r || !name)
		return NULL;
	i = find(r, name, n);
	return i >= 0 ? &r->f[i] : NULL;
}

rfield *rec_get(const record *r, const char *name)
{
	return name ? rec_getn(r, name, strlen(name)) : NULL;
}

/* Insert a field at position `at`, growing the array in the arena.
 * 0, or -1 when out of memory. */
static int insert_at(arena *a, record *r, uint32_t at, const char *name,
                     uint32_t name_n, const wval *val, const stamp *st)
{
	if (r->n == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 8;
		rfield *nf;

		if (r->cap > UINT32_MAX / 2)
			return -1;
		nf = arena_calloc(a, cap, sizeof *nf);
		if (!nf)
			return -1;
		if (r->n)
			memcpy(nf, r->f, (size_t)r->n * sizeof *nf);
		r->f = nf; /* the old array dies with the arena */
		r->cap = cap;
	}
	memmove(&r->f[at + 1], &r->f[at], (size_t)(r->n - at) * sizeof *r->f);
	r->f[at].name = name;
	r->f[at].name_n = name_n;
	r->f[at].val = *val;
	r->f[at].st = *st;
	r->n++;
	return 0;
}

int rec_merge(arena *a, record *r, const char *name, uint32_t name_n,
              const wval *val, const stamp *st)
{
	int64_t i = find(r, name, name_n);

	if (i >= 0) {
		rfield *f = &r->f[i];

		if (stamp_cmp(st, &f->st) <= 0)
			return 0;
		f->val = *val;
		f->st = *st;
		return 1;
	}
	if (insert_at(a, r, (uint32_t)(-i - 1), name, name_n, val, st) < 0)
		return -1;
	return 1;
}

int rec_set(arena *a, record *r, const char *name, uint32_t name_n,
            const wval *val, const stamp *st)
{
	int64_t i = find(r, name, name_n);

	if (i >= 0) {
		r->f[i].val = *val;
		r->f[i].st = *st;
		return 0;
	}
	return insert_at(a, r, (uint32_t)(-i - 1), name, name_n, val, st);
}

static int rfield_cmp(const void *x, const void *y)
{
	const rfield *a = x, *b = y;

	return bytes_cmp(a->name, a->name_n, b->name, b->name_n);
}

int rec_decode(arena *a, const uint8_t *p, size_t n, record *out)
{
	wval *root;
	uint32_t i;
	rfield *f = NULL;
	int rc;

	rec_init(out);
	rc = wire_decode(a, p, n, &root);
	if (rc != FS_OK)
		goto out;
	rc = FS_E_BAD_MSGPACK;
	if (root->t != WV_MAP)
		goto out;
	if (root->m.n) {
		f = arena_calloc(a, root->m.n, sizeof *f);
		if (!f) {
			rc = FS_E_UNAVAILABLE;
			goto out;
		}
	}
	for (i = 0; i < root->m.n; i++) {
		const wval *k = &root->m.k[i], *v = &root->m.v[i];

		if (k->t != WV_STR || k->s.n == 0)
			goto out;
		if (v->t != WV_ARR || v->a.n != 3)
			goto out;
		if (v->a.v[1].t != WV_UINT || v->a.v[2].t != WV_STR)
			goto out;
		f[i].name = k->s.p;
		f[i].name_n = k->s.n;
		f[i].val = v->a.v[0];
		f[i].st.hlc = v->a.v[1].u;
		f[i].st.origin = v->a.v[2].s.p;
		f[i].st.origin_n = v->a.v[2].s.n;
	}
	if (root->m.n > 1)
		qsort(f, root->m.n, sizeof *f, rfield_cmp);
	/* wire_decode() refuses equal string keys; keep the check local. */
	for (i = 1; i < root->m.n; i++)
		if (rfield_cmp(&f[i - 1], &f[i]) == 0)
			goto out;
	out->f = f;
	out->n = out->cap = root->m.n;
	rc = FS_OK;
out:
	if (rc != FS_OK)
		rec_init(out);
	return rc;
}

void rec_encode(wbuf *b, const record *r)
{
	uint32_t i;

	wb_map(b, r->n);
	for (i = 0; i < r->n; i++) {
		const rfield *f = &r->f[i];

		wb_str(b, f->name, f->name_n);
		wb_arr(b, 3);
		wb_val(b, &f->val);
		wb_u64(b, f->st.hlc);
		wb_str(b, f->st.origin, f->st.origin_n);
	}
}

void rec_wire_fs(wbuf *b, const record *r)
{
	uint32_t i;

	wb_str(b, "f", 1);
	wb_map(b, r->n);
	for (i = 0; i < r->n; i++) {
		wb_str(b, r->f[i].name, r->f[i].name_n);
		wb_val(b, &r->f[i].val);
	}
	wb_str(b, "s", 1);
	wb_map(b, r->n);
	for (i = 0; i < r->n; i++) {
		wb_str(b, r->f[i].name, r->f[i].name_n);
		wb_arr(b, 2);
		wb_u64(b, r->f[i].st.hlc);
		wb_str(b, r->f[i].st.origin, r->f[i].st.origin_n);
	}
}

char *rec_str(arena *a, const record *r, const char *name)
{
	const rfield *f = rec_get(r, name);

	if (!f || f->val.t != WV_STR)
		return NULL;
	return wv_strdup(a, &f->val);
}

int rec_u64(const record *r, const char *name, uint64_t *out)
{
	const rfield *f = rec_get(r, name);

	return f ? wv_u64(&f->val, out) : 0;
}

int rec_true(const record *r, const char *name)
{
	const rfield *f = rec_get(r, name);

	return f && f->val.t == WV_BOOL && f->val.b;
}

/* ---- the pull's fast path ------------------------------------------------ */

static int mp_is_str(uint8_t b)
{
	return (b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb;
}

static int mp_is_uint(uint8_t b)
{
	return b <= 0x7f || (b >= 0xcc && b <= 0xcf);
}

/* The string's bytes (after its header). */
static void mp_str(const uint8_t *p, size_t n, const uint8_t **s, size_t *sn)
{
	size_t h = p[0] <= 0xbf ? 1 : p[0] == 0xd9 ? 2 : p[0] == 0xda ? 3 : 5;
	*s = p + h;
	*sn = n - h;
}

#define FS_FIELDS_FAST 128

/* The byte-copy fast path of rec_wire_fs_stored() (record.h): the
 * stored bytes were written by our own encoder, so copying each name,
 * value, hlc and origin gives the same bytes rec_decode() +
 * rec_wire_fs() would. */
int rec_wire_fs_stored(wbuf *b, const uint8_t *p, size_t n)
{
	struct {
		uint32_t k, v, vn, kn, st, stn; /* offsets and lengths */
	} f[FS_FIELDS_FAST];
	if (!n)
		return 0;
	size_t o, cnt;
	uint8_t h = p[0];
	if (h >= 0x80 && h <= 0x8f) {
		cnt = h & 0x0f;
		o = 1;
	} else if (h == 0xde && n >= 3) {
		cnt = (size_t)p[1] << 8 | p[2];
		o = 3;
	} else {
		return 0;
	}
	if (cnt > FS_FIELDS_FAST || n > UINT32_MAX)
		return 0;
	for (size_t i = 0; i < cnt; i++) {
		size_t kn = wire_walk(p + o, n - o, NULL);
		if (!kn || !mp_is_str(p[o]) || kn < 2)
			return 0; /* names are non-empty strings */
		f[i].k = (uint32_t)o;
		f[i].kn = (uint32_t)kn;
		if (i) {
			const uint8_t *a, *c;
			size_t an, cn;
			mp_str(p + f[i - 1].k, f[i - 1].kn, &a, &an);
			mp_str(p + o, kn, &c, &cn);
			int d = memcmp(a, c, an < cn ? an : cn);
			if (d > 0 || (d == 0 && an >= cn))
				return 0;
		}
		o += kn;
		if (o >= n || p[o] != 0x93)
			return 0;
		o++;
		size_t vn = wire_walk(p + o, n - o, NULL);
		if (!vn)
			return 0;
		f[i].v = (uint32_t)o;
		f[i].vn = (uint32_t)vn;
		o += vn;
		if (o >= n || !mp_is_uint(p[o]))
			return 0;
		size_t hn = wire_walk(p + o, n - o, NULL);
		if (!hn || o + hn >= n || !mp_is_str(p[o + hn]))
			return 0;
		size_t on = wire_walk(p + o + hn, n - o - hn, NULL);
		if (!on)
			return 0;
		f[i].st = (uint32_t)o;
		f[i].stn = (uint32_t)(hn + on);
		o += hn + on;
	}
	if (o != n)
		return 0;
	static const uint8_t arr2 = 0x92;
	wb_str(b, "f", 1);
	wb_map(b, (uint32_t)cnt);
	for (size_t i = 0; i < cnt; i++) {
		wb_raw(b, p + f[i].k, f[i].kn);
		wb_raw(b, p + f[i].v, f[i].vn);
	}
	wb_str(b, "s", 1);
	wb_map(b, (uint32_t)cnt);
	for (size_t i = 0; i < cnt; i++) {
		wb_raw(b, p + f[i].k, f[i].kn);
		wb_raw(b, &arr2, 1);
		wb_raw(b, p + f[i].st, f[i].stn);
	}
	return 1;
}
