/*
 * sync.c — fs_sync: push the outbox, pull the scope, apply the answer;
 * fs_call; photo uploads.
 *
 * A round: sync_prepare() seals the open batches and builds the request
 * in one write transaction (so a batch's contents are fixed on disk
 * before it is first sent), the request goes out with retries (a resend
 * is byte-for-byte the same batches: the server answers dup), and
 * sync_apply() applies the whole answer in one write transaction: clock
 * offset, acks (dead letters, restamps, undo by cur), pulled buckets
 * (reset, gone), cursors, and eviction of buckets that left the scope
 * once the outbox holds nothing for them.  No transaction is open while
 * the network is used, so other processes can keep writing.
 */
#include "clients/client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/be64.h"
#include "protocol/colwire.h"
#include "protocol/errors.h"
#include "protocol/hlc.h"

/* Rounds in one fs_sync (1000 records each): a later fs_sync goes on. */
#define SYNC_MAX_ROUNDS 1000
#define SYNC_BATCHES_MAX 64
#define SYNC_BYTES_MAX ((size_t)3 << 20)
#define SYNC_PULL_LIMIT 1000
/* Values an answer's msgpack may decode to; the records of its v2 pages
 * (protocol/PROTOCOL.md, "Pull encoding v2"), all together, as many. */
#define SYNC_MAX_VALUES ((size_t)8 << 20)
/* A clock this far ahead of the corrected clock is pulled back. */
#define HLC_SLACK_MS 60000
/* The server's max_skew_ms (the wire does not say: protocol/PROTOCOL.md,
 * difference 17). */
#define ASSUMED_MAX_SKEW_MS 300000

/* ---- building a request ------------------------------------------------------ */

typedef struct {
	ls_txn *t;
	arena *a;
	wbuf *ops;      /* the push array's elements */
	sync_req *rq;
	size_t bytes;
	uint32_t cap;
	int rc;
} prep_ctx;

static int prep_batch(void *ctx, const lc_batch *b)
{
	prep_ctx *p = ctx;
	lc_op *ops;
	uint32_t n;
	size_t before = p->ops->n;

	if (p->rq->nbatches >= SYNC_BATCHES_MAX ||
	    (p->rq->nbatches && p->bytes >= SYNC_BYTES_MAX))
		return 1;
	if ((p->rc = lc_out_ops(p->t, p->a, b->seq, &ops, &n)))
		return 1;
	wb_map(p->ops, b->by ? 3 : 2);
	wb_cstr(p->ops, "batch");
	wb_bin(p->ops, b->id, 16);
	if (b->by) {
		wb_cstr(p->ops, "by");
		wb_cstr(p->ops, b->by);
	}
	wb_cstr(p->ops, "ops");
	wb_arr(p->ops, n);
	for (uint32_t i = 0; i < n; i++) {
		wb_map(p->ops, 4);
		wb_cstr(p->ops, "c");
		wb_cstr(p->ops, ops[i].c);
		wb_cstr(p->ops, "id");
		wb_cstr(p->ops, ops[i].id);
		wb_cstr(p->ops, "s");
		wb_u64(p->ops, ops[i].s);
		wb_cstr(p->ops, "f");
		wb_val(p->ops, ops[i].f);
	}
	if (p->rq->nbatches == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 8;
		uint64_t *s = realloc(p->rq->seqs, cap * sizeof(*s));
		uint8_t(*ids)[16];

		if (!s) {
			p->rc = FSC_ENOMEM;
			return 1;
		}
		p->rq->seqs = s;
		ids = realloc(p->rq->ids, cap * sizeof(*ids));
		if (!ids) {
			p->rc = FSC_ENOMEM;
			return 1;
		}
		p->rq->ids = ids;
		p->cap = cap;
	}
	p->rq->seqs[p->rq->nbatches] = b->seq;
	memcpy(p->rq->ids[p->rq->nbatches], b->id, 16);
	p->rq->nbatches++;
	p->rq->ops += n;
	p->bytes += p->ops->n - before;
	return 0;
}

typedef struct {
	wbuf *w;
	uint32_t n;
} pull_ctx;

static int pull_cb(void *ctx, ls_val k, ls_val v)
{
	pull_ctx *p = ctx;

	if (v.n != 8)
		return 0;
	wb_str(p->w, k.p, k.n);
	wb_u64(p->w, be64_get(v.p));
	p->n++;
	return 0;
}

void sync_req_free(sync_req *rq)
{
	free(rq->seqs);
	free(rq->ids);
	free(rq->body);
	memset(rq, 0, sizeof(*rq));
}

int sync_prepare(fs_client *c, uint64_t after, sync_req *rq)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	wbuf ops, pull, body;
	prep_ctx p;
	pull_ctx pc;
	uint64_t hlc, pending;
	size_t at;
	int rc;

	memset(rq, 0, sizeof(*rq));
	rq->after = after;
	wb_init(&ops);
	wb_init(&pull);
	wb_init(&body);
	if (!a) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if ((rc = ls_begin(c->ls, 1, &t)))
		goto out;
	if ((rc = lc_out_seal_all(t)))
		goto out;
	memset(&p, 0, sizeof(p));
	p.t = t;
	p.a = a;
	p.ops = &ops;
	p.rq = rq;
	if ((rc = lc_out_each(t, a, after, prep_batch, &p)) || (rc = p.rc))
		goto out;
	pc.w = &pull;
	pc.n = 0;
	if (ls_scan(t, LT_CURS, ls_v(NULL, 0), pull_cb, &pc) == FSC_ESTORE) {
		rc = FSC_ESTORE;
		goto out;
	}
	{
		uint64_t last = lc_meta_u64(t, "hlc");
		uint64_t w = HLC_MAKE(cl_now(c, t), 0);

		hlc = last > w ? last : w;
	}
	pending = ls_count(t, LT_OUTO);

	wb_map(&body, c->wire == 2 ? 7 : 6);
	wb_cstr(&body, "v");
	wb_u64(&body, 1);
	if (c->wire == 2) {
		wb_cstr(&body, "enc");
		wb_u64(&body, 2);
	}
	wb_cstr(&body, "hlc");
	wb_u64(&body, hlc);
	wb_cstr(&body, "push");
	wb_arr(&body, rq->nbatches);
	wb_raw(&body, ops.p, ops.n);
	wb_cstr(&body, "pull");
	at = wb_map_later(&body);
	wb_raw(&body, pull.p, pull.n);
	wb_patch(&body, at, pc.n);
	wb_cstr(&body, "limit");
	wb_u64(&body, SYNC_PULL_LIMIT);
	wb_cstr(&body, "dev");
	wb_map(&body, 4);
	wb_cstr(&body, "boot");
	wb_cstr(&body, c->clk.boot);
	wb_cstr(&body, "mono");
	wb_u64(&body, devclock_mono(&c->clk));
	wb_cstr(&body, "wall");
	wb_u64(&body, devclock_wall(&c->clk));
	wb_cstr(&body, "pending");
	wb_u64(&body, pending);
	if (ops.err || pull.err || body.err) {
		rc = FSC_ENOMEM;
		goto out;
	}
	/* the seals are durable before anything is sent */
	rc = ls_commit(t);
	t = NULL;
	if (rc)
		goto out;
	rq->body = wb_take(&body, &rq->n);
	rq->t_send = devclock_wall(&c->clk);
out:
	ls_abort(t);
	wb_free(&ops);
	wb_free(&pull);
	wb_free(&body);
	arena_free(a);
	if (rc) {
		sync_req_free(rq);
		if (!c->err[0])
			cl_fail(c, rc, "could not prepare the sync (local store)");
	}
	return rc;
}

/* ---- applying an answer ------------------------------------------------------- */

typedef struct {
	fs_client *c;
	ls_txn *t;
	arena *a;
	const char *dev;
	fs_sync_stats *st;
	int *again;
	size_t budget; /* values the v2 pages may still decode to */
} apply_ctx;

static int stamp_is(const rfield *f, uint64_t s, const char *dev)
{
	return f->st.hlc == s && f->st.origin_n == strlen(dev) &&
	       !memcmp(f->st.origin, dev, f->st.origin_n);
}

/* Undo a rejected op's local optimistic write: its fields that still
 * carry its stamp go back to the server's (cur) or away; then cur merges
 * in like a pulled record. */
static int undo_op(apply_ctx *x, const lc_op *op, const wval *cur)
{
	record r;
	char *bucket = NULL;
	const wval *cf = cur ? wv_get(cur, "f") : NULL;
	const wval *cs = cur ? wv_get(cur, "s") : NULL;
	int rc = lc_rec_load(x->t, x->a, op->c, op->id, &r, &bucket);

	if (rc == FSC_ENOTFOUND && !cf)
		return FSC_OK;
	if (rc && rc != FSC_ENOTFOUND)
		return rc;
	for (uint32_t i = 0; i < op->f->m.n; i++) {
		const wval *k = &op->f->m.k[i];
		rfield *lf;

		if (k->t != WV_STR)
			continue;
		lf = rec_getn(&r, k->s.p, k->s.n);
		if (lf && stamp_is(lf, op->s, x->dev))
			lc_rec_drop_field(&r, k->s.p, k->s.n);
	}
	if (cf && cf->t == WV_MAP && cs && cs->t == WV_MAP &&
	    lc_merge_fs(x->a, &r, cf, cs) < 0)
		return FSC_ENOMEM;
	if (!bucket || r.n == 0) {
		char *nb = lc_bucket_of(x->a, op->c, op->id, &r);

		if (!nb)
			return lc_rec_delete(x->t, op->c, op->id);
		bucket = nb;
	}
	return lc_rec_store(x->t, op->c, op->id, bucket, &r);
}

/* Give a CLOCK_AHEAD op a fresh stamp from the corrected clock, in the
 * local record and in a new batch. */
static int restamp_op(apply_ctx *x, const lc_op *op, const char *by,
                      uint64_t *new_seq)
{
	record r;
	char *bucket = NULL;
	uint64_t s;
	lc_op nop = *op;
	int rc;

	if (!*new_seq && (rc = lc_out_new_sealed(x->t, by, new_seq)))
		return rc;
	if ((rc = cl_stamp(x->c, x->t, &s)))
		return rc;
	rc = lc_rec_load(x->t, x->a, op->c, op->id, &r, &bucket);
	if (rc == FSC_OK) {
		stamp st = {s, x->dev, (uint32_t)strlen(x->dev)};

		for (uint32_t i = 0; i < op->f->m.n; i++) {
			const wval *k = &op->f->m.k[i];
			rfield *lf;

			if (k->t != WV_STR)
				continue;
			lf = rec_getn(&r, k->s.p, k->s.n);
			if (lf && stamp_is(lf, op->s, x->dev))
				lf->st = st;
		}
		if ((rc = lc_rec_store(x->t, op->c, op->id, bucket, &r)))
			return rc;
	} else if (rc != FSC_ENOTFOUND) {
		return rc;
	}
	nop.s = s;
	return lc_out_add(x->t, *new_seq, &nop, op->f);
}

static int dead_letter(apply_ctx *x, const lc_op *op, const char *by,
                       const char *code, const char *msg)
{
	uint64_t seq = lc_meta_u64(x->t, "deadseq") + 1;
	uint8_t k[8];
	wbuf w;
	int rc;

	if ((rc = lc_meta_put_u64(x->t, "deadseq", seq)))
		return rc;
	be64_put(k, seq);
	wb_init(&w);
	wb_map(&w, 5);
	wb_cstr(&w, "code");
	wb_cstr(&w, code);
	wb_cstr(&w, "msg");
	wb_cstr(&w, msg);
	wb_cstr(&w, "op");
	wb_map(&w, 4);
	wb_cstr(&w, "c");
	wb_cstr(&w, op->c);
	wb_cstr(&w, "id");
	wb_cstr(&w, op->id);
	wb_cstr(&w, "s");
	wb_u64(&w, op->s);
	wb_cstr(&w, "f");
	wb_val(&w, op->f);
	wb_cstr(&w, "by");
	wb_cstr(&w, by);
	wb_cstr(&w, "t");
	wb_u64(&w, devclock_wall(&x->c->clk));
	rc = w.err ? FSC_ENOMEM : ls_put(x->t, LT_DEAD, ls_v(k, 8), ls_v(w.p, w.n));
	wb_free(&w);
	if (rc)
		return rc;
	/* an urgent report that was refused stays listed, marked */
	if (!strcmp(op->c, "order")) {
		ls_val uv;

		if (!ls_get(x->t, LT_URG, ls_v(op->id, strlen(op->id)), &uv)) {
			arena *a = arena_new(0);
			uint8_t *copy = a ? arena_dup(a, uv.p, uv.n) : NULL;
			wval *root;

			wb_init(&w);
			if (copy && !wire_decode(a, copy, uv.n, &root) &&
			    root->t == WV_MAP) {
				wb_map(&w, 4);
				wb_cstr(&w, "category");
				wb_val(&w, wv_get(root, "category"));
				wb_cstr(&w, "title");
				wb_val(&w, wv_get(root, "title"));
				wb_cstr(&w, "t");
				wb_val(&w, wv_get(root, "t"));
				wb_cstr(&w, "state");
				wb_cstr(&w, arena_printf(a, "rejected %s", code));
				if (!w.err)
					rc = ls_put(x->t, LT_URG,
					            ls_v(op->id, strlen(op->id)),
					            ls_v(w.p, w.n));
			}
			wb_free(&w);
			arena_free(a);
		}
	}
	return rc;
}

static const wval *find_rej(const wval *rej, uint32_t i)
{
	if (!rej || rej->t != WV_ARR)
		return NULL;
	for (uint32_t k = 0; k < rej->a.n; k++) {
		uint64_t v;

		if (wv_u64(wv_get(&rej->a.v[k], "i"), &v) && v == i)
			return &rej->a.v[k];
	}
	return NULL;
}

static int apply_ack(apply_ctx *x, uint64_t seq, const wval *ack)
{
	const wval *err = wv_get(ack, "err"), *rej = wv_get(ack, "rej");
	char *berr = err && err->t == WV_STR ? wv_strdup(x->a, err) : NULL;
	uint64_t restamp_seq = 0;
	lc_batch b;
	lc_op *ops;
	uint32_t n;
	int rc;

	if (berr && !strcmp(berr, "UNAVAILABLE")) {
		x->st->batches_unavailable++;
		return FSC_OK; /* not recorded by the server: send it again */
	}
	rc = lc_out_batch(x->t, x->a, seq, &b);
	if (rc == FSC_ENOTFOUND)
		return FSC_OK; /* another process applied this ack already */
	if (rc)
		return rc;
	if ((rc = lc_out_ops(x->t, x->a, seq, &ops, &n)))
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		const wval *r = find_rej(rej, i);
		char *code = r ? wv_strdup(x->a, wv_get(r, "code")) : berr;
		char *msg = r ? wv_strdup(x->a, wv_get(r, "msg")) : NULL;

		if (!r && !berr) {
			x->st->ops_acked++;
			if (!strcmp(ops[i].c, "order") &&
			    (rc = ls_del(x->t, LT_URG,
			                 ls_v(ops[i].id, strlen(ops[i].id)))))
				return rc;
			continue;
		}
		if (!code)
			code = "INTERNAL";
		if (!strcmp(code, "CLOCK_AHEAD")) {
			if ((rc = restamp_op(x, &ops[i], b.by, &restamp_seq)))
				return rc;
			x->st->ops_restamped++;
			*x->again = 1;
			continue;
		}
		if ((rc = dead_letter(x, &ops[i], b.by, code,
		                      msg ? msg : "rejected by the server")) ||
		    (rc = undo_op(x, &ops[i], r ? wv_get(r, "cur") : NULL)))
			return rc;
		x->st->ops_rejected++;
	}
	return lc_out_remove(x->t, seq);
}

static int apply_rec(apply_ctx *x, const char *bucket, const wval *rv)
{
	char *c = wv_strdup(x->a, wv_get(rv, "c"));
	char *id = wv_strdup(x->a, wv_get(rv, "id"));
	record r;
	int rc;

	if (!c || !id)
		return FSC_OK; /* malformed entry: skip it */
	rc = lc_rec_load(x->t, x->a, c, id, &r, NULL);
	if (rc && rc != FSC_ENOTFOUND)
		return rc;
	if (lc_merge_fs(x->a, &r, wv_get(rv, "f"), wv_get(rv, "s")) < 0)
		return FSC_ENOMEM;
	x->st->recs_pulled++;
	return lc_rec_store(x->t, c, id, bucket, &r);
}

static int apply_gone(apply_ctx *x, const char *bucket, const wval *g)
{
	char *c, *id, *have = NULL;
	record r;
	int rc;

	if (g->t != WV_ARR || g->a.n != 2)
		return FSC_OK;
	c = wv_strdup(x->a, &g->a.v[0]);
	id = wv_strdup(x->a, &g->a.v[1]);
	if (!c || !id)
		return FSC_OK;
	rc = lc_rec_load(x->t, x->a, c, id, &r, &have);
	if (rc == FSC_ENOTFOUND)
		return FSC_OK;
	if (rc)
		return rc;
	x->st->gone++;
	/* it left this bucket; if we already hold it in its new one, keep */
	return have && strcmp(have, bucket) ? FSC_OK
	                                    : lc_rec_delete(x->t, c, id);
}

static int apply_bucket(apply_ctx *x, const char *bucket, const wval *bv)
{
	const wval *recs = wv_get(bv, "recs"), *gone = wv_get(bv, "gone");
	const wval *reset = wv_get(bv, "reset"), *more = wv_get(bv, "more");
	const wval *cols = wv_get(bv, "cols");
	uint64_t cursor;
	uint8_t cb[8];
	int rc;

	if (bv->t != WV_MAP || !wv_u64(wv_get(bv, "cursor"), &cursor))
		return FSC_OK;
	if (cols && cols->t == WV_BIN) {
		wval *v2;

		/* v2: the same records as v1's recs, one column page */
		rc = cw_decode(x->a, (const uint8_t *)cols->s.p, cols->s.n,
		               &x->budget, &v2);
		if (rc == FS_E_UNAVAILABLE)
			return FSC_ENOMEM;
		if (rc)
			return cl_fail(x->c, FSC_ESERVER, "sync: bucket %s: the v2 "
			               "records do not decode (%s)", bucket,
			               fs_err_name(rc));
		recs = v2;
	}
	if (reset && reset->t == WV_BOOL && reset->b) {
		/* served from 0 in this same answer: start the bucket over,
		 * keeping what the outbox still says */
		if ((rc = lc_bucket_clear(x->t, x->a, bucket)) ||
		    (rc = lc_out_replay(x->t, x->a, bucket, x->dev)))
			return rc;
		x->st->buckets_reset++;
	}
	if (recs && recs->t == WV_ARR)
		for (uint32_t i = 0; i < recs->a.n; i++)
			if ((rc = apply_rec(x, bucket, &recs->a.v[i])))
				return rc;
	if (gone && gone->t == WV_ARR)
		for (uint32_t i = 0; i < gone->a.n; i++)
			if ((rc = apply_gone(x, bucket, &gone->a.v[i])))
				return rc;
	be64_put(cb, cursor);
	if ((rc = ls_put(x->t, LT_CURS, ls_v(bucket, strlen(bucket)),
	                 ls_v(cb, 8))))
		return rc;
	if (more && more->t == WV_BOOL && more->b)
		*x->again = 1;
	return FSC_OK;
}

/* ---- scope and eviction ------------------------------------------------------- */


static int in_list(const wval *arr, const char *s)
{
	for (uint32_t i = 0; arr && arr->t == WV_ARR && i < arr->a.n; i++)
		if (wv_is_str(&arr->a.v[i], s))
			return 1;
	return 0;
}

typedef struct {
	ls_txn *t;
	arena *a;
	const char *staff;
	char **ids;
	uint32_t n, cap;
	int oom;
} mine_ctx;

static int mine_cb(void *ctx, ls_val k, ls_val v)
{
	mine_ctx *m = ctx;
	const char *p = memchr(k.p, 0, k.n);
	size_t off;

	(void)v;
	if (!p)
		return 0;
	off = (size_t)(p - (const char *)k.p) + 1; /* after "bucket\0" */
	if (k.n - off < 7 || memcmp((const char *)k.p + off, "order\0", 6))
		return 0;
	if (m->n == m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 16;
		char **nv = arena_calloc(m->a, cap, sizeof(*nv));

		if (!nv) {
			m->oom = 1;
			return 1;
		}
		if (m->n)
			memcpy(nv, m->ids, m->n * sizeof(*nv));
		m->ids = nv;
		m->cap = cap;
	}
	m->ids[m->n] = arena_strndup(m->a, (const char *)k.p + off + 6,
	                             k.n - off - 6);
	m->oom |= !m->ids[m->n++];
	return m->oom;
}

/* Before an orders bucket leaves the device (a guard's or cleaner's
 * scope has none), the orders the logged-in staff member reported move
 * to the local-only bucket LC_MINE, so their reports stay listed. */
static int keep_own_reports(apply_ctx *x, const char *bucket)
{
	char staff[136];
	size_t bn = strlen(bucket);
	char *pre = arena_alloc(x->a, bn + 1);
	mine_ctx m = {x->t, x->a, staff, NULL, 0, 0, 0};
	int rc;

	if (strncmp(bucket, "orders/", 7) ||
	    lc_meta_str(x->t, "staff", staff, sizeof(staff)))
		return FSC_OK;
	if (!pre)
		return FSC_ENOMEM;
	memcpy(pre, bucket, bn + 1);
	rc = ls_scan(x->t, LT_BMEM, ls_v(pre, bn + 1), mine_cb, &m);
	if (rc == FSC_ESTORE)
		return rc;
	if (m.oom)
		return FSC_ENOMEM;
	for (uint32_t i = 0; i < m.n; i++) {
		record r;
		char *rep;

		if (lc_rec_load(x->t, x->a, "order", m.ids[i], &r, NULL))
			continue;
		rep = rec_str(x->a, &r, "reporter");
		if (rep && !strcmp(rep, staff) &&
		    (rc = lc_rec_store(x->t, "order", m.ids[i], LC_MINE, &r)))
			return rc;
	}
	return FSC_OK;
}

/* Evict every local bucket that is not in the scope (dropped, or written
 * locally outside the scope) once no queued op is in it. */
static int evict_out_of_scope(apply_ctx *x, const wval *scope)
{
	strlist l = {x->a, NULL, 0, 0, 0};
	int rc;

	if (!scope || scope->t != WV_ARR)
		return FSC_OK;
	if (ls_scan(x->t, LT_BMEM, ls_v(NULL, 0), strlist_bmem_cb, &l) == FSC_ESTORE ||
	    ls_scan(x->t, LT_CURS, ls_v(NULL, 0), strlist_curs_cb, &l) == FSC_ESTORE)
		return FSC_ESTORE;
	if (l.oom)
		return FSC_ENOMEM;
	for (uint32_t i = 0; i < l.n; i++) {
		int seen = 0;

		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(l.v[j], l.v[i]))
				seen = 1;
		if (seen || in_list(scope, l.v[i]) || !strcmp(l.v[i], LC_MINE) ||
		    lc_out_has_bucket(x->t, x->a, l.v[i]))
			continue;
		if ((rc = keep_own_reports(x, l.v[i])) ||
		    (rc = lc_bucket_clear(x->t, x->a, l.v[i])) ||
		    (rc = ls_del(x->t, LT_CURS, ls_v(l.v[i], strlen(l.v[i])))))
			return rc;
		x->st->buckets_dropped++;
	}
	return FSC_OK;
}

static int forget_all(apply_ctx *x)
{
	int rc;

	if ((rc = ls_del_prefix(x->t, LT_RECS, ls_v(NULL, 0))) ||
	    (rc = ls_del_prefix(x->t, LT_BMEM, ls_v(NULL, 0))) ||
	    (rc = ls_del_prefix(x->t, LT_CURS, ls_v(NULL, 0))))
		return rc;
	return lc_out_replay(x->t, x->a, NULL, x->dev);
}

int sync_apply(fs_client *c, const sync_req *rq, const uint8_t *resp,
               size_t n, uint64_t t_recv, fs_sync_stats *st, int *again)
{
	ls_txn *t = NULL;
	arena *a = arena_new(1 << 20);
	wval *v;
	const wval *acks, *buckets, *scope, *sv;
	uint64_t now, shlc;
	char dev[136], old_store[80], new_store[80];
	int rc, store_changed = 0;
	apply_ctx x;

	*again = 0;
	if (!a)
		return FSC_ENOMEM;
	if (!resp || wire_decode_max(a, resp, n, SYNC_MAX_VALUES, &v) ||
	    v->t != WV_MAP || !wv_u64(wv_get(v, "now"), &now) ||
	    !wv_u64(wv_get(v, "hlc"), &shlc)) {
		rc = cl_fail(c, FSC_ESERVER, "sync: the server's answer is not a "
		             "sync response");
		goto out;
	}
	sv = wv_get(v, "store");
	if (!sv || sv->t != WV_STR || sv->s.n == 0 ||
	    sv->s.n >= sizeof(new_store)) {
		rc = cl_fail(c, FSC_ESERVER, "sync: the answer has no store id");
		goto out;
	}
	memcpy(new_store, sv->s.p, sv->s.n);
	new_store[sv->s.n] = 0;
	acks = wv_get(v, "acks");
	buckets = wv_get(v, "buckets");
	scope = wv_get(v, "scope");
	if ((rc = ls_begin(c->ls, 1, &t)))
		goto out;
	if (lc_meta_str(t, "device", dev, sizeof(dev)))
		snprintf(dev, sizeof(dev), "%s", "unenrolled");
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.t = t;
	x.a = a;
	x.dev = dev;
	x.st = st;
	x.again = again;
	x.budget = SYNC_MAX_VALUES;

	/* clock: offset = server now - device now (midpoint of the trip) */
	{
		uint64_t mid = rq->t_send / 2 + t_recv / 2 +
		               (rq->t_send % 2 + t_recv % 2) / 2;
		int64_t off = (int64_t)now - (int64_t)mid;
		uint64_t corr, last, cand, bound, m;
		hlc_clock k;

		if ((rc = lc_meta_put_u64(t, "offset", (uint64_t)off)))
			goto out;
		corr = cl_now(c, t);
		last = lc_meta_u64(t, "hlc");
		/* Stamps the server can still accept reach corr + its max skew;
		 * the HLC never goes below those (nor below the server's own
		 * HLC), or a later edit of this device would lose to its own
		 * earlier one.  Anything beyond comes back CLOCK_AHEAD and is
		 * restamped below. */
		bound = HLC_MAKE(corr + ASSUMED_MAX_SKEW_MS, 0xffff);
		cand = HLC_MAKE(corr, 0);
		if (shlc <= bound && shlc > cand)
			cand = shlc;
		m = lc_out_max_stamp(t, a, bound);
		if (m > cand)
			cand = m;
		if (HLC_WALL(last) > corr + HLC_SLACK_MS && last > cand)
			last = cand; /* stamped with a clock that was ahead */
		k.last = last;
		hlc_recv(&k, corr, cand);
		if ((rc = lc_meta_put_u64(t, "hlc", k.last)))
			goto out;
	}

	/* the server's store id */
	lc_meta_str(t, "store", old_store, sizeof(old_store));
	if (old_store[0] && strcmp(old_store, new_store)) {
		if ((rc = forget_all(&x)))
			goto out;
		store_changed = 1;
		st->store_changed = 1;
		*again = 1;
	}
	if ((rc = lc_meta_put_str(t, "store", new_store)))
		goto out;

	/* acks, in the order of the batches sent */
	if (acks && acks->t == WV_ARR)
		for (uint32_t i = 0; i < acks->a.n; i++) {
			const wval *ack = &acks->a.v[i], *bid = wv_get(ack, "batch");
			uint32_t j;

			if (!bid || bid->t != WV_BIN || bid->s.n != 16)
				continue;
			for (j = 0; j < rq->nbatches; j++)
				if (!memcmp(rq->ids[j], bid->s.p, 16))
					break;
			if (j == rq->nbatches)
				continue;
			if ((rc = apply_ack(&x, rq->seqs[j], ack)))
				goto out;
		}

	if (!store_changed) {
		if (buckets && buckets->t == WV_MAP)
			for (uint32_t i = 0; i < buckets->m.n; i++) {
				char *b = wv_strdup(a, &buckets->m.k[i]);

				if (b && (rc = apply_bucket(&x, b, &buckets->m.v[i])))
					goto out;
			}
		if (scope && scope->t == WV_ARR) {
			wbuf w;

			wb_init(&w);
			wb_val(&w, scope);
			rc = w.err ? FSC_ENOMEM
			           : lc_meta_put_raw(t, "scope", w.p, w.n);
			wb_free(&w);
			if (rc || (rc = evict_out_of_scope(&x, scope)))
				goto out;
		}
	}
	if ((rc = lc_meta_put_u64(t, "last_sync", devclock_wall(&c->clk))))
		goto out;
	rc = ls_commit(t);
	t = NULL;
out:
	if (rc && !c->err[0])
		cl_fail(c, rc, "sync: could not apply the answer (%s)",
		        fs_strerror(rc));
	ls_abort(t);
	arena_free(a);
	return rc;
}

/* ---- photos ----------------------------------------------------------------------- */

typedef struct {
	arena *a;
	char **hex;
	uint32_t n, cap;
} photo_list;

static int photo_cb(void *ctx, ls_val k, ls_val v)
{
	photo_list *l = ctx;

	(void)v;
	if (k.n != 64)
		return 0;
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 8;
		char **nh = arena_calloc(l->a, cap, sizeof(char *));

		if (!nh)
			return 1;
		if (l->n)
			memcpy(nh, l->hex, l->n * sizeof(char *));
		l->hex = nh;
		l->cap = cap;
	}
	l->hex[l->n] = arena_strndup(l->a, k.p, 64);
	if (l->hex[l->n])
		l->n++;
	return 0;
}

static int read_photo(const char *path, uint8_t **out, size_t *n)
{
	return lc_read_file(path, (size_t)16 << 20, out, n);
}

/* Upload queued photos; each leaves the queue once the server has it. */
static int upload_photos(fs_client *c, http_client *h, const char *token,
                         fs_sync_stats *st)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	photo_list l = {a, NULL, 0, 0};
	int rc = FSC_OK;

	if (!a)
		return FSC_ENOMEM;
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	ls_scan(t, LT_PHOTO, ls_v(NULL, 0), photo_cb, &l);
	ls_abort(t);
	t = NULL;
	for (uint32_t i = 0; i < l.n; i++) {
		char path[1200], url[100];
		uint8_t *data;
		size_t n;
		http_resp r = {0};
		int gone = 0;

		snprintf(path, sizeof(path), "%s/photos/%s", c->home, l.hex[i]);
		snprintf(url, sizeof(url), "/v1/blobs/%s", l.hex[i]);
		if (read_photo(path, &data, &n)) {
			gone = 1; /* the copy is lost: nothing to send */
		} else {
			rc = cl_request(c, h, "PUT", url, token,
			                "application/octet-stream", data, n, 0, 0, &r);
			free(data);
			if (rc) {
				st->photos_left = l.n - i;
				goto out;
			}
			if (r.status != 200) {
				rc = cl_http_error(c, "photo upload", &r);
				http_resp_free(&r);
				st->photos_left = l.n - i;
				goto out;
			}
			http_resp_free(&r);
		}
		if ((rc = ls_begin(c->ls, 1, &t)))
			goto out;
		if ((rc = ls_del(t, LT_PHOTO, ls_v(l.hex[i], 64))))
			goto out;
		rc = ls_commit(t);
		t = NULL;
		if (rc)
			goto out;
		unlink(path);
		if (!gone)
			st->photos_uploaded++;
	}
out:
	ls_abort(t);
	arena_free(a);
	return rc;
}

/* ---- fs_sync / fs_call --------------------------------------------------------- */

typedef struct {
	uint64_t after;
	int found;
} after_ctx;

static int after_cb(void *ctx, const lc_batch *b)
{
	after_ctx *ac = ctx;

	(void)b;
	ac->found = 1;
	return 1;
}

int fs_sync(fs_client *c, fs_sync_stats *out)
{
	fs_sync_stats st;
	ls_txn *t = NULL;
	http_client *h = NULL;
	char token[300];
	uint64_t after = 0;
	int rc;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	c->retries = 0;
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	if (lc_meta_str(t, "stoken", token, sizeof(token))) {
		rc = cl_fail(c, FSC_ESTATE, "nobody is logged in on this device "
		             "(run login first)");
		goto out;
	}
	if ((rc = cl_http(c, t, &h)))
		goto out;
	ls_abort(t);
	t = NULL;
	/* reach the server before sealing anything: an offline attempt leaves
	 * the open batch open for the next change */
	if ((rc = cl_connect(c, h)))
		goto out;
	for (unsigned round = 0; round < SYNC_MAX_ROUNDS; round++) {
		sync_req rq;
		http_resp r = {0};
		int again = 0;

		if ((rc = sync_prepare(c, after, &rq)))
			goto out;
		rc = cl_request(c, h, "POST", "/v1/sync", token,
		                "application/msgpack", rq.body, rq.n, 1, 1, &r);
		if (rc) {
			sync_req_free(&rq);
			goto out;
		}
		if (r.status != 200) {
			rc = cl_http_error(c, "sync", &r);
			if (rc == FSC_EAUTH) {
				cl_fail(c, rc, "the server no longer accepts this "
				        "session (%s): log in again", c->errcode);
				if (!ls_begin(c->ls, 0, &t)) {
					cl_device_gone(c, h, t);
					ls_abort(t);
					t = NULL;
				}
			}
			http_resp_free(&r);
			sync_req_free(&rq);
			goto out;
		}
		st.rounds++;
		st.ops_sent += rq.ops;
		rq.t_send = c->last_send; /* the attempt that was answered */
		rc = sync_apply(c, &rq, r.body, r.n, devclock_wall(&c->clk), &st,
		                &again);
		if (rq.nbatches)
			after = rq.seqs[rq.nbatches - 1];
		http_resp_free(&r);
		sync_req_free(&rq);
		if (rc)
			goto out;
		if (!again) {
			after_ctx ac = {after, 0};
			arena *a = arena_new(0);

			if (!a) {
				rc = FSC_ENOMEM;
				goto out;
			}
			if (!(rc = ls_begin(c->ls, 0, &t))) {
				rc = lc_out_each(t, a, after, after_cb, &ac);
				ls_abort(t);
				t = NULL;
			}
			arena_free(a);
			if (rc)
				goto out;
			again = ac.found;
		}
		if (!again)
			break;
	}
	rc = upload_photos(c, h, token, &st);
out:
	st.retries = c->retries;
	if (h)
		http_disconnect(h);
	ls_abort(t);
	t = NULL;
	if (!ls_begin(c->ls, 0, &t))
		st.pending_after = ls_count(t, LT_OUTO);
	ls_abort(t);
	if (out)
		*out = st;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int fs_call(fs_client *c, const char *method, const char *path,
            const void *body, size_t n, int *status, uint8_t **resp,
            size_t *resp_n)
{
	ls_txn *t = NULL;
	http_client *h = NULL;
	http_resp r = {0};
	char token[300];
	int rc;

	*status = 0;
	if (resp)
		*resp = NULL;
	if (resp_n)
		*resp_n = 0;
	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	if (lc_meta_str(t, "stoken", token, sizeof(token))) {
		rc = cl_fail(c, FSC_ESTATE, "nobody is logged in on this device");
		goto out;
	}
	if ((rc = cl_http(c, t, &h)))
		goto out;
	ls_abort(t);
	t = NULL;
	rc = cl_request(c, h, method, path, token,
	                body ? "application/msgpack" : NULL, body, n, 0, 0, &r);
	http_disconnect(h);
	if (rc)
		goto out;
	*status = r.status;
	if (resp) {
		*resp = r.body;
		r.body = NULL;
	}
	if (resp_n)
		*resp_n = r.n;
out:
	ls_abort(t);
	http_resp_free(&r);
	pthread_mutex_unlock(&c->mu);
	return rc;
}
