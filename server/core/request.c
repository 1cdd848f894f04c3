/*
 * request.c — a sync request in its own thread (protocol/PROTOCOL.md,
 * "POST /v1/sync"): the request's shape and every static op check
 * (opcheck.c), the job handed to the writer (writer.c), then the answer:
 * acks, the pull in a read transaction that never waits for the writer
 * (pull.c), scope and drop.  engine_push() is the same path for the
 * server's own writes (task generator, demo loader), without a pull.
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/valid.h"
#include "server/core/engine_int.h"
#include "server/lib/fail.h"
#include "server/model/policy.h"

int engine_scope(engine *e, store_txn *t, const principal *p, uint64_t now,
                 arena *a, char ***buckets, unsigned *n)
{
	return policy_scope(t, p, now, a, buckets, n);
}

static int parse_dev(const wval *dev, job *j, const char **msg)
{
	if (!dev || dev->t == WV_NIL)
		return FS_OK;
	if (dev->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "dev must be a map {boot, mono, wall, pending}");
	const wval *boot = wv_get(dev, "boot"), *mono = wv_get(dev, "mono"),
	           *wall = wv_get(dev, "wall"), *pend = wv_get(dev, "pending");
	j->has_dev = 1;
	if (boot && boot->t != WV_NIL) {
		if (boot->t != WV_STR || boot->s.n == 0 || boot->s.n > 128 ||
		    !utf8_valid(boot->s.p, boot->s.n) ||
		    memchr(boot->s.p, 0, boot->s.n))
			FAIL(FS_E_BAD_REQUEST, "dev.boot must be a string of 1-128 bytes");
		j->boot = wv_strdup(j->a, boot);
		if (!j->boot)
			FAIL(FS_E_UNAVAILABLE, "out of memory");
		j->has_boot = 1;
	}
	if (mono && mono->t != WV_NIL) {
		if (!wv_u64(mono, &j->mono))
			FAIL(FS_E_BAD_REQUEST, "dev.mono must be an unsigned integer");
		j->has_mono = 1;
	}
	if (wall && wall->t != WV_NIL) {
		if (!wv_u64(wall, &j->wall) || j->wall > (1ULL << 47))
			FAIL(FS_E_BAD_REQUEST, "dev.wall must be ms since 1970");
		j->has_wall = 1;
	}
	if (pend && pend->t != WV_NIL) {
		if (!wv_u64(pend, &j->pending))
			FAIL(FS_E_BAD_REQUEST, "dev.pending must be an unsigned integer");
		j->has_pending = 1;
	}
	if (j->has_mono && j->mono > j->t)
		FAIL(FS_E_BAD_REQUEST, "dev.mono is longer than the epoch");
	return FS_OK;
}

static int parse_push(engine *e, const wval *push, job *j, const char **msg)
{
	const fs_limits *l = &e->cfg.lim;
	if (!push || push->t == WV_NIL)
		return FS_OK;
	if (push->t != WV_ARR)
		FAIL(FS_E_BAD_REQUEST, "push must be an array of batches");
	if (push->a.n > l->batches_max)
		FAIL(FS_E_TOO_LARGE, arena_printf(j->a, "%u batches, at most %u",
		                                  push->a.n, l->batches_max));
	for (uint32_t bi = 0; bi < push->a.n; bi++) {
		const wval *b = &push->a.v[bi];
		if (b->t != WV_MAP)
			FAIL(FS_E_BAD_REQUEST, "a batch must be a map {batch, ops, by?}");
		const wval *ops = wv_get(b, "ops");
		if (ops && ops->t == WV_ARR && ops->a.n > l->ops_max)
			FAIL(FS_E_TOO_LARGE,
			     arena_printf(j->a, "batch %u has %u ops, at most %u",
			                  bi, ops->a.n, l->ops_max));
	}
	j->checks = arena_calloc(j->a, push->a.n ? push->a.n : 1, sizeof(opcheck *));
	j->acks = arena_calloc(j->a, push->a.n ? push->a.n : 1, sizeof(wbuf));
	if (!j->checks || !j->acks)
		FAIL(FS_E_UNAVAILABLE, "out of memory");
	for (uint32_t bi = 0; bi < push->a.n; bi++) {
		const wval *b = &push->a.v[bi];
		const wval *bid = wv_get(b, "batch"), *ops = wv_get(b, "ops"),
		           *by = wv_get(b, "by");
		if (!bid || bid->t != WV_BIN || bid->s.n != 16)
			FAIL(FS_E_BAD_REQUEST, "batch id must be a bin of 16 bytes");
		if (!ops || ops->t != WV_ARR)
			FAIL(FS_E_BAD_REQUEST, "a batch's ops must be an array");
		if (by && (by->t != WV_STR || valid_id(by->s.p, by->s.n)))
			FAIL(FS_E_BAD_REQUEST, "by must be a staff id");
		j->checks[bi] = arena_calloc(j->a, ops->a.n ? ops->a.n : 1,
		                             sizeof(opcheck));
		if (!j->checks[bi])
			FAIL(FS_E_UNAVAILABLE, "out of memory");
		for (uint32_t i = 0; i < ops->a.n; i++)
			j->checks[bi][i] = check_op(e, j->a, &ops->a.v[i]);
		wb_init(&j->acks[bi]);
	}
	j->batches = push;
	return FS_OK;
}

void free_acks(job *j)
{
	uint32_t nb = j->batches ? j->batches->a.n : 0;
	for (uint32_t i = 0; i < nb; i++)
		wb_free(&j->acks[i]);
}

/* The answer to a sync whose push has been applied (or, for a job with
 * no batches, is being applied: its acks are empty and its pull does not
 * depend on the device report the writer records): acks, the pull,
 * scope and drop. */
static int sync_answer(engine *e, const principal *p, job *j, const wval *pull,
                       uint64_t limit, int enc, arena *a, wbuf *out,
                       const char **msg)
{
	int rc;
	/* the pull */
	store_txn *t;
	if ((rc = store_begin(e->st, 0, &t))) {
		free_acks(j);
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	}
	uint64_t now = engine_now(e);
	char **scope;
	unsigned nscope;
	/* the hlc handed out is above every stamp committed so far on any
	 * node, so the device's next ops win over them */
	rc = engine_clock_observe(e, t);
	if (!rc)
		rc = engine_scope(e, t, p, now, a, &scope, &nscope);
	if (rc) {
		store_abort(t);
		free_acks(j);
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	}

	wb_map(out, enc == 2 ? 9 : 8);
	wb_cstr(out, "v");
	wb_u64(out, 1);
	if (enc == 2) {
		wb_cstr(out, "enc");
		wb_u64(out, 2);
	}
	wb_cstr(out, "now");
	wb_u64(out, now);
	wb_cstr(out, "hlc");
	wb_u64(out, engine_hlc_now(e));
	wb_cstr(out, "store");
	wb_cstr(out, store_id(e->st));
	wb_cstr(out, "acks");
	uint32_t nb = j->batches ? j->batches->a.n : 0;
	wb_arr(out, nb);
	for (uint32_t i = 0; i < nb; i++)
		wb_raw(out, j->acks[i].p, j->acks[i].n);
	free_acks(j);

	wb_cstr(out, "buckets");
	wb_map(out, nscope);
	uint32_t budget = (uint32_t)limit;
	for (unsigned i = 0; i < nscope && !rc; i++) {
		uint64_t cursor = 0;
		if (pull && pull->t == WV_MAP)
			for (uint32_t k = 0; k < pull->m.n; k++)
				if (wv_is_str(&pull->m.k[k], scope[i]))
					wv_u64(&pull->m.v[k], &cursor);
		rc = pull_bucket(t, a, scope[i], cursor, &budget, enc, out);
	}
	if (rc) {
		store_abort(t);
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	}
	wb_cstr(out, "scope");
	wb_arr(out, nscope);
	for (unsigned i = 0; i < nscope; i++)
		wb_cstr(out, scope[i]);
	wb_cstr(out, "drop");
	size_t at = wb_arr_later(out);
	uint32_t ndrop = 0;
	if (pull && pull->t == WV_MAP)
		for (uint32_t k = 0; k < pull->m.n; k++) {
			char *b = wv_strdup(a, &pull->m.k[k]);
			if (b && !policy_in_scope(scope, nscope, b)) {
				wb_cstr(out, b);
				ndrop++;
			}
		}
	wb_patch(out, at, ndrop);
	store_abort(t);
	if (out->err)
		FAIL(FS_E_UNAVAILABLE, "out of memory");
	return FS_OK;
}

int engine_sync(engine *e, const principal *p, const wval *req, uint64_t t_ms,
                arena *a, wbuf *out, const char **msg)
{
	*msg = NULL;
	if (req->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "the body must be a map");
	const wval *v = wv_get(req, "v");
	uint64_t ver;
	if (!v)
		FAIL(FS_E_BAD_REQUEST, "v (the protocol version) is missing");
	if (!wv_u64(v, &ver) || ver != 1)
		FAIL(FS_E_UNSUPPORTED_VERSION, "this server speaks v 1");
	const wval *hv = wv_get(req, "hlc"), *pull = wv_get(req, "pull"),
	           *lim = wv_get(req, "limit");
	uint64_t client_hlc = 0, limit = e->cfg.lim.pull_limit_default;
	if (hv && hv->t != WV_NIL && !wv_u64(hv, &client_hlc))
		FAIL(FS_E_BAD_REQUEST, "hlc must be a uint64");
	if (pull && pull->t != WV_NIL && pull->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "pull must be a map {bucket: cursor}");
	if (pull && pull->t == WV_MAP)
		for (uint32_t i = 0; i < pull->m.n; i++) {
			uint64_t c;
			/* names come back in `drop`: UTF-8, no NUL */
			const wval *k = &pull->m.k[i];
			if (k->t != WV_STR || k->s.n > 300 ||
			    !utf8_valid(k->s.p, k->s.n) || memchr(k->s.p, 0, k->s.n) ||
			    !wv_u64(&pull->m.v[i], &c))
				FAIL(FS_E_BAD_REQUEST, "pull maps bucket names to uint cursors");
		}
	if (lim && lim->t != WV_NIL && !wv_u64(lim, &limit))
		FAIL(FS_E_BAD_REQUEST, "limit must be an unsigned integer");
	if (limit > e->cfg.lim.pull_limit_max)
		limit = e->cfg.lim.pull_limit_max;
	/* the pull encoding: v1 unless the device asks for the columnar v2
	 * (protocol/PROTOCOL.md, "Pull encoding v2") */
	const wval *ev = wv_get(req, "enc");
	uint64_t enc = 1;
	if (ev && ev->t != WV_NIL && (!wv_u64(ev, &enc) || enc < 1 || enc > 2))
		FAIL(FS_E_BAD_REQUEST, "enc (the pull encoding) must be 1 or 2");

	job j;
	memset(&j, 0, sizeof(j));
	j.p = p;
	j.t = t_ms;
	j.a = a;
	int rc;
	if ((rc = parse_dev(wv_get(req, "dev"), &j, msg)))
		return rc;
	if ((rc = parse_push(e, wv_get(req, "push"), &j, msg)))
		return rc;
	if (hv && client_hlc)
		engine_hlc_recv(e, client_hlc);

	/* A sync that pushes nothing waits for no ack: its pull runs while
	 * the writer records the device's report (anchor, last sync), and
	 * the answer still goes out only once that is durable.  The writer
	 * then allocates from an arena of the job's own, not the request's,
	 * which this thread uses meanwhile. */
	int pull_only = !j.batches || j.batches->a.n == 0;
	arena *ja = NULL;
	if (pull_only && !(ja = arena_new(4096)))
		FAIL(FS_E_UNAVAILABLE, "out of memory");
	if (pull_only)
		j.a = ja;
	if ((rc = pull_only ? engine_enqueue(e, &j) : engine_submit(e, &j))) {
		arena_free(ja);
		free_acks(&j);
		FAIL(rc, "the server is shutting down");
	}
	rc = sync_answer(e, p, &j, pull, limit, (int)enc, a, out, msg);
	if (pull_only) {
		engine_wait_done(e, &j);
		arena_free(ja);
	}
	return rc;
}

/* The counts of one stored ack (batch.c's encoding). */
static int read_ack(arena *a, const wbuf *b, engine_ack *out)
{
	wval *v;
	memset(out, 0, sizeof(*out));
	if (wire_decode(a, b->p, b->n, &v) || v->t != WV_MAP)
		return FS_E_INTERNAL;
	uint64_t u = 0;
	const wval *rj = wv_get(v, "rej"), *dup = wv_get(v, "dup");
	wv_u64(wv_get(v, "applied"), &u);
	out->applied = (uint32_t)u;
	out->dup = dup && dup->t == WV_BOOL && dup->b;
	out->err = wv_strdup(a, wv_get(v, "err"));
	if (rj && rj->t == WV_ARR) {
		out->rejected = rj->a.n;
		if (rj->a.n)
			out->first_msg = wv_strdup(a, wv_get(&rj->a.v[0], "msg"));
	}
	return FS_OK;
}

int engine_push(engine *e, const engine_push_req *r, arena *a,
                engine_ack **acks, uint32_t *n, const char **msg)
{
	*msg = NULL;
	*acks = NULL;
	*n = 0;
	wval *push, *dev = NULL;
	if (wire_decode(a, r->push, r->push_n, &push))
		FAIL(FS_E_BAD_REQUEST, "push is not one msgpack value");
	if (r->dev && wire_decode(a, r->dev, r->dev_n, &dev))
		FAIL(FS_E_BAD_REQUEST, "dev is not one msgpack value");
	job j;
	memset(&j, 0, sizeof(j));
	j.p = r->p;
	j.t = r->t_ms ? r->t_ms : engine_now(e);
	j.a = a;
	j.untouched_only = r->untouched_only;
	int rc;
	if ((rc = parse_dev(dev, &j, msg)) || (rc = parse_push(e, push, &j, msg)))
		return rc;
	if ((rc = engine_submit(e, &j))) {
		free_acks(&j);
		FAIL(rc, "the server is shutting down");
	}
	uint32_t nb = j.batches ? j.batches->a.n : 0;
	engine_ack *out = nb ? arena_calloc(a, nb, sizeof(*out)) : NULL;
	if (nb && !out)
		rc = FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < nb && !rc; i++)
		rc = read_ack(a, &j.acks[i], &out[i]);
	free_acks(&j);
	if (rc)
		FAIL(rc, "the acks could not be read");
	*acks = out;
	*n = nb;
	return FS_OK;
}
