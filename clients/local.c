/*
 * local.c — see local.h.
 */
#include "clients/local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "clients/fieldsync.h"
#include "protocol/be64.h"
#include "protocol/errors.h"
#include "schema/schema.h"

/* ---- meta ----------------------------------------------------------------- */

static ls_val key_of(const char *s)
{
	return ls_v(s, strlen(s));
}

int lc_meta_raw(ls_txn *t, const char *key, ls_val *v)
{
	return ls_get(t, LT_META, key_of(key), v);
}

int lc_meta_put_raw(ls_txn *t, const char *key, const void *p, size_t n)
{
	return ls_put(t, LT_META, key_of(key), ls_v(p, n));
}

int lc_meta_str(ls_txn *t, const char *key, char *out, size_t n)
{
	ls_val v;
	int rc = lc_meta_raw(t, key, &v);

	out[0] = 0;
	if (rc)
		return rc;
	if (v.n >= n)
		return FSC_EINVAL;
	memcpy(out, v.p, v.n);
	out[v.n] = 0;
	return FSC_OK;
}

int lc_meta_put_str(ls_txn *t, const char *key, const char *v)
{
	return lc_meta_put_raw(t, key, v, strlen(v));
}

uint64_t lc_meta_u64(ls_txn *t, const char *key)
{
	ls_val v;

	if (lc_meta_raw(t, key, &v) || v.n != 8)
		return 0;
	return be64_get(v.p);
}

int lc_meta_put_u64(ls_txn *t, const char *key, uint64_t v)
{
	uint8_t b[8];

	be64_put(b, v);
	return lc_meta_put_raw(t, key, b, 8);
}

int lc_meta_del(ls_txn *t, const char *key)
{
	return ls_del(t, LT_META, key_of(key));
}

/* ---- records ---------------------------------------------------------------- */

char *lc_bucket_of(arena *a, const char *c, const char *id, const record *r)
{
	const scollection *sc = schema_collection(c, strlen(c));
	const char *fmt;
	char *v;

	if (!sc)
		return NULL;
	switch (sc->bucket) {
	case BK_SITE_SELF:
		return arena_printf(a, "site/%s", id);
	case BK_SITE:
		fmt = "site/%s";
		break;
	case BK_SHIFT:
	case BK_TO_SHIFT:
		fmt = "shift/%s";
		break;
	case BK_ORDERS:
		fmt = "orders/%s";
		break;
	case BK_ALERTS:
		fmt = "alerts/%s";
		break;
	default:
		return NULL;
	}
	v = rec_str(a, r, sc->bucket_field);
	if (!v || !v[0])
		return NULL;
	return arena_printf(a, fmt, v);
}

/* "c\0id" */
static size_t rec_key(char *k, size_t cap, const char *c, const char *id)
{
	size_t cn = strlen(c), in = strlen(id);

	if (cn + 1 + in > cap)
		return 0;
	memcpy(k, c, cn);
	k[cn] = 0;
	memcpy(k + cn + 1, id, in);
	return cn + 1 + in;
}

/* "bucket\0c\0id" */
static size_t bmem_key(char *k, size_t cap, const char *b, const char *c,
                       const char *id)
{
	size_t bn = strlen(b), n;

	if (bn + 1 > cap)
		return 0;
	memcpy(k, b, bn);
	k[bn] = 0;
	n = rec_key(k + bn + 1, cap - bn - 1, c, id);
	return n ? bn + 1 + n : 0;
}

/* A record's value: be16 bucket length, the bucket, the stored record. */
static int split_val(ls_val v, const uint8_t **bk, size_t *bn,
                     const uint8_t **rec, size_t *rn)
{
	const uint8_t *p = v.p;
	size_t n;

	if (v.n < 2)
		return FSC_ESTORE;
	n = (size_t)p[0] << 8 | p[1];
	if (2 + n > v.n)
		return FSC_ESTORE;
	*bk = p + 2;
	*bn = n;
	*rec = p + 2 + n;
	*rn = v.n - 2 - n;
	return FSC_OK;
}

int lc_rec_load(ls_txn *t, arena *a, const char *c, const char *id,
                record *r, char **bucket)
{
	char k[600];
	size_t kn = rec_key(k, sizeof(k), c, id), bn, rn;
	const uint8_t *bk, *rp;
	ls_val v;
	uint8_t *copy;
	int rc;

	rec_init(r);
	if (bucket)
		*bucket = NULL;
	if (!kn)
		return FSC_ENOTFOUND;
	rc = ls_get(t, LT_RECS, ls_v(k, kn), &v);
	if (rc)
		return rc;
	copy = arena_dup(a, v.p, v.n);
	if (!copy)
		return FSC_ENOMEM;
	if (split_val(ls_v(copy, v.n), &bk, &bn, &rp, &rn) ||
	    rec_decode(a, rp, rn, r))
		return FSC_ESTORE;
	if (bucket && !(*bucket = arena_strndup(a, (const char *)bk, bn)))
		return FSC_ENOMEM;
	return FSC_OK;
}

int lc_rec_delete(ls_txn *t, const char *c, const char *id)
{
	char k[600], bk2[1000];
	size_t kn = rec_key(k, sizeof(k), c, id), bkn;
	ls_val v;
	int rc;

	if (!kn)
		return FSC_OK;
	rc = ls_get(t, LT_RECS, ls_v(k, kn), &v);
	if (rc == FSC_ENOTFOUND)
		return FSC_OK;
	if (rc)
		return rc;
	{
		const uint8_t *bk, *rp;
		size_t bn, rn;
		char b[400];

		if (!split_val(v, &bk, &bn, &rp, &rn) && bn < sizeof(b)) {
			memcpy(b, bk, bn);
			b[bn] = 0;
			bkn = bmem_key(bk2, sizeof(bk2), b, c, id);
			if (bkn && (rc = ls_del(t, LT_BMEM, ls_v(bk2, bkn))))
				return rc;
		}
	}
	return ls_del(t, LT_RECS, ls_v(k, kn));
}

int lc_rec_store(ls_txn *t, const char *c, const char *id, const char *bucket,
                 const record *r)
{
	char k[600], bk[1000];
	size_t kn, bkn;
	wbuf b;
	int rc;

	if (r->n == 0)
		return lc_rec_delete(t, c, id);
	kn = rec_key(k, sizeof(k), c, id);
	bkn = bmem_key(bk, sizeof(bk), bucket, c, id);
	if (!kn || !bkn)
		return FSC_EINVAL;
	/* drop the old bucket membership first (the record may move) */
	if ((rc = lc_rec_delete(t, c, id)))
		return rc;
	if (strlen(bucket) > 0xffff)
		return FSC_EINVAL;
	wb_init(&b);
	{
		uint8_t hdr[2] = {(uint8_t)(strlen(bucket) >> 8),
		                  (uint8_t)strlen(bucket)};
		wb_raw(&b, hdr, 2);
		wb_raw(&b, bucket, strlen(bucket));
	}
	rec_encode(&b, r);
	if (b.err) {
		wb_free(&b);
		return FSC_ENOMEM;
	}
	rc = ls_put(t, LT_RECS, ls_v(k, kn), ls_v(b.p, b.n));
	if (!rc)
		rc = ls_put(t, LT_BMEM, ls_v(bk, bkn), ls_v("", 0));
	wb_free(&b);
	return rc;
}

int lc_merge_fs(arena *a, record *r, const wval *f, const wval *s)
{
	if (!f || f->t != WV_MAP || !s || s->t != WV_MAP)
		return 0;
	for (uint32_t i = 0; i < f->m.n; i++) {
		const wval *k = &f->m.k[i], *st = NULL;
		stamp sp;
		wval *val;

		if (k->t != WV_STR)
			continue;
		for (uint32_t j = 0; j < s->m.n; j++)
			if (s->m.k[j].t == WV_STR && s->m.k[j].s.n == k->s.n &&
			    !memcmp(s->m.k[j].s.p, k->s.p, k->s.n)) {
				st = &s->m.v[j];
				break;
			}
		if (!st || st->t != WV_ARR || st->a.n != 2 ||
		    st->a.v[0].t != WV_UINT || st->a.v[1].t != WV_STR)
			continue;
		sp.hlc = st->a.v[0].u;
		sp.origin = st->a.v[1].s.p;
		sp.origin_n = st->a.v[1].s.n;
		val = (wval *)&f->m.v[i];
		if (rec_merge(a, r, k->s.p, k->s.n, val, &sp) < 0)
			return -1;
	}
	return 0;
}

void lc_rec_drop_field(record *r, const char *name, size_t n)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->f[i].name_n == n && !memcmp(r->f[i].name, name, n)) {
			memmove(&r->f[i], &r->f[i + 1],
			        (size_t)(r->n - i - 1) * sizeof(*r->f));
			r->n--;
			return;
		}
}

typedef struct {
	arena *a;
	char **keys; /* "c\0id" pairs as c, id */
	uint32_t n, cap;
	size_t skip;
	int oom;
} keylist;

static int collect_key(void *ctx, ls_val k, ls_val v)
{
	keylist *kl = ctx;
	const char *p = (const char *)k.p + kl->skip;
	size_t n = k.n - kl->skip;
	const char *z = memchr(p, 0, n);

	(void)v;
	if (!z)
		return 0;
	if (kl->n + 2 > kl->cap) {
		uint32_t cap = kl->cap ? kl->cap * 2 : 64;
		char **nk = arena_calloc(kl->a, cap, sizeof(char *));

		if (!nk) {
			kl->oom = 1;
			return 1;
		}
		if (kl->n)
			memcpy(nk, kl->keys, kl->n * sizeof(char *));
		kl->keys = nk;
		kl->cap = cap;
	}
	kl->keys[kl->n++] = arena_strndup(kl->a, p, (size_t)(z - p));
	kl->keys[kl->n++] = arena_strndup(kl->a, z + 1, n - (size_t)(z - p) - 1);
	return 0;
}

int lc_bucket_clear(ls_txn *t, arena *a, const char *bucket)
{
	size_t bn = strlen(bucket);
	char *pre = arena_alloc(a, bn + 1);
	keylist kl = {a, NULL, 0, 0, bn + 1, 0};
	int rc;

	if (!pre)
		return FSC_ENOMEM;
	memcpy(pre, bucket, bn + 1);
	rc = ls_scan(t, LT_BMEM, ls_v(pre, bn + 1), collect_key, &kl);
	if (rc < 0 || rc == FSC_ESTORE)
		return FSC_ESTORE;
	if (kl.oom)
		return FSC_ENOMEM;
	for (uint32_t i = 0; i + 1 < kl.n; i += 2) {
		if (!kl.keys[i] || !kl.keys[i + 1])
			return FSC_ENOMEM;
		if ((rc = lc_rec_delete(t, kl.keys[i], kl.keys[i + 1])))
			return rc;
	}
	return ls_del_prefix(t, LT_BMEM, ls_v(pre, bn + 1));
}

/* ---- outbox ----------------------------------------------------------------- */

void lc_random(void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = getrandom(b, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* no entropy source at all: a clock-seeded fallback
			 * keeps ids distinct, if not unpredictable */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
			             (uint64_t)(uintptr_t)b;
			for (; n; n--) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				*b++ = (uint8_t)x;
			}
			return;
		}
		b += r;
		n -= (size_t)r;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int put_batch(ls_txn *t, const lc_batch *b)
{
	uint8_t k[8];
	wbuf w;
	int rc;

	be64_put(k, b->seq);
	wb_init(&w);
	wb_map(&w, 5);
	wb_cstr(&w, "id");
	wb_bin(&w, b->id, 16);
	wb_cstr(&w, "by");
	wb_cstr(&w, b->by); /* NULL: nil */
	wb_cstr(&w, "sealed");
	wb_bool(&w, b->sealed);
	wb_cstr(&w, "n");
	wb_u64(&w, b->n);
	wb_cstr(&w, "t");
	wb_u64(&w, now_ms());
	rc = w.err ? FSC_ENOMEM : ls_put(t, LT_OUTB, ls_v(k, 8), ls_v(w.p, w.n));
	wb_free(&w);
	return rc;
}

static int decode_batch(arena *a, uint64_t seq, ls_val v, lc_batch *b)
{
	uint8_t *copy = arena_dup(a, v.p, v.n);
	wval *root;
	const wval *id, *by, *sealed;
	uint64_t n;

	memset(b, 0, sizeof(*b));
	if (!copy)
		return FSC_ENOMEM;
	if (wire_decode(a, copy, v.n, &root) || root->t != WV_MAP)
		return FSC_ESTORE;
	id = wv_get(root, "id");
	by = wv_get(root, "by");
	sealed = wv_get(root, "sealed");
	if (!id || id->t != WV_BIN || id->s.n != 16 ||
	    !wv_u64(wv_get(root, "n"), &n))
		return FSC_ESTORE;
	b->seq = seq;
	memcpy(b->id, id->s.p, 16);
	b->by = by && by->t == WV_STR ? wv_strdup(a, by) : NULL;
	b->n = (uint32_t)n;
	b->sealed = sealed && sealed->t == WV_BOOL && sealed->b;
	return FSC_OK;
}

int lc_out_batch(ls_txn *t, arena *a, uint64_t seq, lc_batch *out)
{
	uint8_t k[8];
	ls_val v;
	int rc;

	be64_put(k, seq);
	rc = ls_get(t, LT_OUTB, ls_v(k, 8), &v);
	if (rc)
		return rc;
	return decode_batch(a, seq, v, out);
}

static int next_seq(ls_txn *t, uint64_t *seq)
{
	uint64_t s = lc_meta_u64(t, "outseq") + 1;
	int rc = lc_meta_put_u64(t, "outseq", s);

	*seq = s;
	return rc;
}

static int new_batch(ls_txn *t, const char *by, int sealed, lc_batch *b)
{
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = next_seq(t, &b->seq)))
		return rc;
	lc_random(b->id, 16);
	b->by = (char *)by;
	b->sealed = sealed;
	return put_batch(t, b);
}

int lc_out_new_sealed(ls_txn *t, const char *by, uint64_t *seq)
{
	lc_batch b;
	int rc = new_batch(t, by, 1, &b);

	*seq = b.seq;
	return rc;
}

int lc_out_new_sealed_id(ls_txn *t, const char *by, const uint8_t id[16],
                         uint64_t *seq)
{
	lc_batch b;
	int rc;

	memset(&b, 0, sizeof(b));
	if ((rc = next_seq(t, &b.seq)))
		return rc;
	memcpy(b.id, id, 16);
	b.by = (char *)by;
	b.sealed = 1;
	*seq = b.seq;
	return put_batch(t, &b);
}

/* The journal frame of an op queued in batch b (journal.h). */
static int journal_op(ls_txn *t, const lc_batch *b, uint32_t i,
                      const uint8_t *op, size_t n)
{
	wbuf w;
	int rc;

	wb_init(&w);
	wb_map(&w, 5);
	wb_cstr(&w, "q");
	wb_u64(&w, b->seq);
	wb_cstr(&w, "i");
	wb_u64(&w, i);
	wb_cstr(&w, "b");
	wb_bin(&w, b->id, 16);
	wb_cstr(&w, "by");
	wb_cstr(&w, b->by); /* NULL: nil */
	wb_cstr(&w, "op");
	wb_raw(&w, op, n);
	rc = w.err ? FSC_ENOMEM : ls_journal_add(t, w.p, w.n);
	wb_free(&w);
	return rc;
}

static int put_op(ls_txn *t, const lc_batch *b, uint32_t i, const char *c,
                  const char *id, uint64_t s, const wval *fv,
                  const uint8_t *fraw, size_t fn, const char *bucket)
{
	uint8_t k[12];
	wbuf w;
	int rc;

	be64_put(k, b->seq);
	k[8] = (uint8_t)(i >> 24);
	k[9] = (uint8_t)(i >> 16);
	k[10] = (uint8_t)(i >> 8);
	k[11] = (uint8_t)i;
	wb_init(&w);
	wb_map(&w, 5);
	wb_cstr(&w, "c");
	wb_cstr(&w, c);
	wb_cstr(&w, "id");
	wb_cstr(&w, id);
	wb_cstr(&w, "s");
	wb_u64(&w, s);
	wb_cstr(&w, "f");
	if (fv)
		wb_val(&w, fv);
	else
		wb_raw(&w, fraw, fn);
	wb_cstr(&w, "b");
	wb_cstr(&w, bucket ? bucket : "");
	rc = w.err ? FSC_ENOMEM : ls_put(t, LT_OUTO, ls_v(k, 12), ls_v(w.p, w.n));
	if (!rc)
		rc = journal_op(t, b, i, w.p, w.n);
	wb_free(&w);
	return rc;
}

int lc_out_append(ls_txn *t, const char *by, const char *c, const char *id,
                  uint64_t s, const uint8_t *f, size_t fn, const char *bucket,
                  uint64_t *seq)
{
	arena *a = arena_new(0);
	lc_batch b;
	ls_val k, v;
	int rc, have = 0;

	if (!a)
		return FSC_ENOMEM;
	rc = ls_last(t, LT_OUTB, &k, &v);
	if (rc == FSC_OK && k.n == 8) {
		rc = decode_batch(a, be64_get(k.p), v, &b);
		if (rc)
			goto out;
		have = !b.sealed && b.n < LC_BATCH_OPS &&
		       ((!b.by && !by) || (b.by && by && !strcmp(b.by, by)));
	} else if (rc != FSC_ENOTFOUND && rc != FSC_OK) {
		goto out;
	}
	if (!have && (rc = new_batch(t, by, 0, &b)))
		goto out;
	if (!b.by && by)
		b.by = (char *)by;
	if ((rc = put_op(t, &b, b.n, c, id, s, NULL, f, fn, bucket)))
		goto out;
	b.n++;
	rc = put_batch(t, &b);
	*seq = b.seq;
out:
	arena_free(a);
	return rc;
}

int lc_out_add(ls_txn *t, uint64_t seq, const lc_op *op, const wval *f)
{
	arena *a = arena_new(0);
	lc_batch b;
	int rc;

	if (!a)
		return FSC_ENOMEM;
	rc = lc_out_batch(t, a, seq, &b);
	if (!rc)
		rc = put_op(t, &b, b.n, op->c, op->id, op->s, f, NULL, 0, op->b);
	if (!rc) {
		b.n++;
		rc = put_batch(t, &b);
	}
	arena_free(a);
	return rc;
}

typedef struct {
	arena *a;
	int (*cb)(void *ctx, const lc_batch *b);
	void *ctx;
	int rc;
	lc_batch *list;
	uint32_t n, cap;
} each_ctx;

static int each_cb(void *ctx, ls_val k, ls_val v)
{
	each_ctx *e = ctx;

	if (k.n != 8)
		return 0;
	if (e->n == e->cap) {
		uint32_t cap = e->cap ? e->cap * 2 : 32;
		lc_batch *nl = arena_calloc(e->a, cap, sizeof(*nl));

		if (!nl) {
			e->rc = FSC_ENOMEM;
			return 1;
		}
		if (e->n)
			memcpy(nl, e->list, e->n * sizeof(*nl));
		e->list = nl;
		e->cap = cap;
	}
	if ((e->rc = decode_batch(e->a, be64_get(k.p), v, &e->list[e->n])))
		return 1;
	e->n++;
	return 0;
}

int lc_out_each(ls_txn *t, arena *a, uint64_t after,
                int (*cb)(void *ctx, const lc_batch *b), void *ctx)
{
	each_ctx e = {a, cb, ctx, 0, NULL, 0, 0};
	int rc = ls_scan(t, LT_OUTB, ls_v(NULL, 0), each_cb, &e);

	if (rc == FSC_ESTORE)
		return rc;
	if (e.rc)
		return e.rc;
	/* call back outside the scan: callers may write */
	for (uint32_t i = 0; i < e.n; i++)
		if (e.list[i].seq > after && cb(ctx, &e.list[i]))
			break;
	return FSC_OK;
}

/* Every batch header into e (arena a). */
static int batch_list(ls_txn *t, arena *a, each_ctx *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	e->a = a;
	if (!a)
		return FSC_ENOMEM;
	rc = ls_scan(t, LT_OUTB, ls_v(NULL, 0), each_cb, e);
	if (rc == FSC_ESTORE || e->rc)
		return e->rc ? e->rc : rc;
	return FSC_OK;
}

int lc_out_seal_all(ls_txn *t)
{
	arena *a = arena_new(0);
	each_ctx e;
	int rc;

	if ((rc = batch_list(t, a, &e)))
		goto out;
	for (uint32_t i = 0; i < e.n && !rc; i++)
		if (!e.list[i].sealed) {
			e.list[i].sealed = 1;
			rc = put_batch(t, &e.list[i]);
		}
out:
	arena_free(a);
	return rc;
}

static int decode_op(arena *a, ls_val v, lc_op *op)
{
	uint8_t *copy = arena_dup(a, v.p, v.n);
	wval *root;
	const wval *f;

	memset(op, 0, sizeof(*op));
	if (!copy)
		return FSC_ENOMEM;
	if (wire_decode(a, copy, v.n, &root) || root->t != WV_MAP)
		return FSC_ESTORE;
	op->c = wv_strdup(a, wv_get(root, "c"));
	op->id = wv_strdup(a, wv_get(root, "id"));
	op->b = wv_strdup(a, wv_get(root, "b"));
	f = wv_get(root, "f");
	if (!op->c || !op->id || !op->b || !f || f->t != WV_MAP ||
	    !wv_u64(wv_get(root, "s"), &op->s))
		return FSC_ESTORE;
	op->f = f;
	return FSC_OK;
}

typedef struct {
	arena *a;
	lc_op *ops;
	uint32_t n, cap;
	int rc;
} ops_ctx;

static int ops_cb(void *ctx, ls_val k, ls_val v)
{
	ops_ctx *o = ctx;

	(void)k;
	if (o->n == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 16;
		lc_op *no = arena_calloc(o->a, cap, sizeof(*no));

		if (!no) {
			o->rc = FSC_ENOMEM;
			return 1;
		}
		if (o->n)
			memcpy(no, o->ops, o->n * sizeof(*no));
		o->ops = no;
		o->cap = cap;
	}
	if ((o->rc = decode_op(o->a, v, &o->ops[o->n])))
		return 1;
	o->n++;
	return 0;
}

int lc_out_ops(ls_txn *t, arena *a, uint64_t seq, lc_op **ops, uint32_t *n)
{
	uint8_t k[8];
	ops_ctx o = {a, NULL, 0, 0, 0};
	int rc;

	be64_put(k, seq);
	rc = ls_scan(t, LT_OUTO, ls_v(k, 8), ops_cb, &o);
	if (rc == FSC_ESTORE)
		return rc;
	*ops = o.ops;
	*n = o.n;
	return o.rc;
}

int lc_out_remove(ls_txn *t, uint64_t seq)
{
	uint8_t k[8];
	int rc;

	be64_put(k, seq);
	rc = ls_del_prefix(t, LT_OUTO, ls_v(k, 8));
	if (!rc)
		rc = ls_del(t, LT_OUTB, ls_v(k, 8));
	if (!rc) {
		/* {q: seq, rm: true} */
		uint8_t j[16] = {0x82, 0xa1, 'q', 0xcf};

		be64_put(j + 4, seq);
		memcpy(j + 12, "\xa2rm\xc3", 4);
		rc = ls_journal_add(t, j, sizeof(j));
	}
	return rc;
}

typedef struct {
	ls_txn *t;
	lc_batch *b;
	int rc;
} jops_ctx;

static int jops_cb(void *ctx, ls_val k, ls_val v)
{
	jops_ctx *x = ctx;

	if (k.n != 12)
		return 0;
	const uint8_t *p = k.p;

	x->rc = journal_op(x->t, x->b, (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
	                   (uint32_t)p[10] << 8 | p[11], v.p, v.n);
	return x->rc != 0;
}

int lc_out_journal_all(ls_txn *t)
{
	arena *a = arena_new(0);
	each_ctx e;
	int rc;

	if ((rc = batch_list(t, a, &e)))
		goto out;
	for (uint32_t i = 0; i < e.n && !rc; i++) {
		jops_ctx x = {t, &e.list[i], 0};
		uint8_t k[8];

		be64_put(k, e.list[i].seq);
		rc = ls_scan(t, LT_OUTO, ls_v(k, 8), jops_cb, &x);
		if (rc == 1 || x.rc)
			rc = x.rc ? x.rc : FSC_ESTORE;
	}
out:
	arena_free(a);
	return rc;
}

int lc_out_has_bucket(ls_txn *t, arena *a, const char *bucket)
{
	ops_ctx o = {a, NULL, 0, 0, 0};

	if (ls_scan(t, LT_OUTO, ls_v(NULL, 0), ops_cb, &o) == FSC_ESTORE ||
	    o.rc)
		return 1; /* when in doubt, keep the bucket */
	for (uint32_t i = 0; i < o.n; i++)
		if (!strcmp(o.ops[i].b, bucket))
			return 1;
	return 0;
}

uint64_t lc_out_max_stamp(ls_txn *t, arena *a, uint64_t bound)
{
	ops_ctx o = {a, NULL, 0, 0, 0};
	uint64_t m = 0;

	if (ls_scan(t, LT_OUTO, ls_v(NULL, 0), ops_cb, &o) == FSC_ESTORE || o.rc)
		return 0;
	for (uint32_t i = 0; i < o.n; i++)
		if (o.ops[i].s <= bound && o.ops[i].s > m)
			m = o.ops[i].s;
	return m;
}

int lc_out_replay(ls_txn *t, arena *a, const char *bucket,
                  const char *origin)
{
	ops_ctx o = {a, NULL, 0, 0, 0};
	int rc;

	rc = ls_scan(t, LT_OUTO, ls_v(NULL, 0), ops_cb, &o);
	if (rc == FSC_ESTORE)
		return rc;
	if (o.rc)
		return o.rc;
	for (uint32_t i = 0; i < o.n; i++) {
		const lc_op *op = &o.ops[i];
		record r;
		char *have_b = NULL;
		stamp st = {op->s, origin, (uint32_t)strlen(origin)};

		if (bucket && strcmp(op->b, bucket))
			continue;
		rc = lc_rec_load(t, a, op->c, op->id, &r, &have_b);
		if (rc && rc != FSC_ENOTFOUND)
			return rc;
		for (uint32_t j = 0; j < op->f->m.n; j++) {
			const wval *k = &op->f->m.k[j];

			if (k->t == WV_STR &&
			    rec_merge(a, &r, k->s.p, k->s.n, &op->f->m.v[j], &st) < 0)
				return FSC_ENOMEM;
		}
		if (!op->b[0])
			continue;
		if ((rc = lc_rec_store(t, op->c, op->id, op->b, &r)))
			return rc;
	}
	return FSC_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

void lc_json_str(wbuf *b, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	wb_raw(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		char esc[8];

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			wb_raw(b, esc, 2);
		} else if (ch == '\n') {
			wb_raw(b, "\\n", 2);
		} else if (ch == '\r') {
			wb_raw(b, "\\r", 2);
		} else if (ch == '\t') {
			wb_raw(b, "\\t", 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			wb_raw(b, esc, 6);
		} else {
			wb_raw(b, &p[i], 1);
		}
	}
	wb_raw(b, "\"", 1);
}

/* Bytes as {"bin": "<hex>"}. */
static void json_bin(wbuf *b, const wval *v)
{
	static const char hex[] = "0123456789abcdef";

	wb_raw(b, "{\"bin\":\"", 8);
	for (uint32_t i = 0; i < v->s.n; i++) {
		char h[2] = {hex[(uint8_t)v->s.p[i] >> 4],
		             hex[(uint8_t)v->s.p[i] & 15]};
		wb_raw(b, h, 2);
	}
	wb_raw(b, "\"}", 2);
}

void lc_json_val(wbuf *b, const wval *v)
{
	char num[64];
	int k;

	switch (v->t) {
	case WV_NIL:
		wb_raw(b, "null", 4);
		break;
	case WV_BOOL:
		if (v->b)
			wb_raw(b, "true", 4);
		else
			wb_raw(b, "false", 5);
		break;
	case WV_INT:
		k = snprintf(num, sizeof(num), "%lld", (long long)v->i);
		wb_raw(b, num, (size_t)k);
		break;
	case WV_UINT:
		k = snprintf(num, sizeof(num), "%llu", (unsigned long long)v->u);
		wb_raw(b, num, (size_t)k);
		break;
	case WV_FLOAT:
		if (v->f != v->f || v->f > 1e308 || v->f < -1e308)
			k = snprintf(num, sizeof(num), "null");
		else
			k = snprintf(num, sizeof(num), "%.17g", v->f);
		wb_raw(b, num, (size_t)k);
		break;
	case WV_STR:
		if (utf8_valid(v->s.p, v->s.n))
			lc_json_str(b, v->s.p, v->s.n);
		else
			json_bin(b, v); /* not text */
		break;
	case WV_BIN:
		json_bin(b, v);
		break;
	case WV_ARR:
		wb_raw(b, "[", 1);
		for (uint32_t i = 0; i < v->a.n; i++) {
			if (i)
				wb_raw(b, ",", 1);
			lc_json_val(b, &v->a.v[i]);
		}
		wb_raw(b, "]", 1);
		break;
	case WV_MAP:
		wb_raw(b, "{", 1);
		for (uint32_t i = 0; i < v->m.n; i++) {
			if (i)
				wb_raw(b, ",", 1);
			if (v->m.k[i].t == WV_STR)
				lc_json_str(b, v->m.k[i].s.p, v->m.k[i].s.n);
			else
				lc_json_str(b, "?", 1);
			wb_raw(b, ":", 1);
			lc_json_val(b, &v->m.v[i]);
		}
		wb_raw(b, "}", 1);
		break;
	}
}

void lc_json_record(wbuf *b, const char *c, const char *id,
                    const char *bucket, const record *r, int stamps)
{
	wb_raw(b, "{\"c\":", 5);
	lc_json_str(b, c, strlen(c));
	wb_raw(b, ",\"id\":", 6);
	lc_json_str(b, id, strlen(id));
	wb_raw(b, ",\"bucket\":", 10);
	lc_json_str(b, bucket ? bucket : "", bucket ? strlen(bucket) : 0);
	wb_raw(b, ",\"f\":{", 6);
	for (uint32_t i = 0; i < r->n; i++) {
		if (i)
			wb_raw(b, ",", 1);
		lc_json_str(b, r->f[i].name, r->f[i].name_n);
		wb_raw(b, ":", 1);
		lc_json_val(b, &r->f[i].val);
	}
	wb_raw(b, "}", 1);
	if (stamps) {
		wb_raw(b, ",\"s\":{", 6);
		for (uint32_t i = 0; i < r->n; i++) {
			char num[32];
			int k = snprintf(num, sizeof(num), "%llu",
			                 (unsigned long long)r->f[i].st.hlc);

			if (i)
				wb_raw(b, ",", 1);
			lc_json_str(b, r->f[i].name, r->f[i].name_n);
			wb_raw(b, ":[", 2);
			wb_raw(b, num, (size_t)k);
			wb_raw(b, ",", 1);
			lc_json_str(b, r->f[i].st.origin, r->f[i].st.origin_n);
			wb_raw(b, "]", 1);
		}
		wb_raw(b, "}", 1);
	}
	wb_raw(b, "}", 1);
}

/* ---- files ------------------------------------------------------------------- */

int lc_read_file(const char *path, size_t max, uint8_t **out, size_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	uint8_t *p;
	size_t got = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) || sb.st_size < 0 || (size_t)sb.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	p = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!p) {
		close(fd);
		return -1;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, p + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)sb.st_size) {
		free(p);
		errno = EIO;
		return -1;
	}
	*out = p;
	*n = got;
	return 0;
}

/* ---- integrity -------------------------------------------------------------- */

static int is_map(arena *a, ls_val v)
{
	uint8_t *copy = arena_dup(a, v.p, v.n);
	wval *root;

	return copy && !wire_decode(a, copy, v.n, &root) && root->t == WV_MAP;
}

static int meta_key_ok(ls_val k)
{
	const char *p = k.p;

	if (!k.n || k.n > 32)
		return 0;
	for (size_t i = 0; i < k.n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '_'))
			return 0;
	return 1;
}

static size_t count_nul(ls_val k)
{
	size_t n = 0;

	for (size_t i = 0; i < k.n; i++)
		n += ((const char *)k.p)[i] == 0;
	return n;
}

static const char *check_one(arena *a, ls_table tb, ls_val k, ls_val v)
{
	const uint8_t *bk, *rp;
	size_t bn, rn;
	record r;
	lc_batch b;
	lc_op op;

	switch (tb) {
	case LT_META:
		return meta_key_ok(k) ? NULL : "a setting with a broken name";
	case LT_RECS:
		if (count_nul(k) != 1 || split_val(v, &bk, &bn, &rp, &rn) ||
		    rec_decode(a, rp, rn, &r))
			return "a record that does not decode";
		return NULL;
	case LT_BMEM:
		return count_nul(k) == 2 && !v.n ? NULL : "a broken bucket index entry";
	case LT_CURS:
		return v.n == 8 ? NULL : "a broken bucket cursor";
	case LT_OUTB:
		return k.n == 8 && !decode_batch(a, 0, v, &b) ? NULL
		       : "a queued batch that does not decode";
	case LT_OUTO:
		return k.n == 12 && !decode_op(a, v, &op) ? NULL
		       : "a queued change that does not decode";
	case LT_DEAD:
		return k.n == 8 && is_map(a, v) ? NULL : "a broken dead letter";
	case LT_URG:
		return is_map(a, v) ? NULL : "a broken urgent-report entry";
	case LT_PHOTO:
		return k.n == 64 && is_map(a, v) ? NULL : "a broken photo entry";
	default:
		return "an unknown table";
	}
}

int lc_check_value(void *ctx, ls_table tb, ls_val k, ls_val v, char *err,
                   size_t errn)
{
	arena *a = arena_new(0);
	const char *why;

	(void)ctx;
	if (!a) {
		snprintf(err, errn, "out of memory");
		return 1;
	}
	why = check_one(a, tb, k, v);
	arena_free(a);
	if (why)
		snprintf(err, errn, "table %s holds %s", ls_table_name(tb), why);
	return why != NULL;
}
