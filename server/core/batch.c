/*
 * batch.c — one group's write transaction (writer thread): for each job,
 * its device's boot anchor, then each batch — answered from ST_ACKS when
 * the batch id was seen before (dup), else applied op by op (apply.c)
 * under the rights of the session or its `by` — its ack stored in the
 * same transaction (so a resend after a lost answer is a dup), then the
 * device's sync report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "server/core/engine_int.h"
#include "server/model/device.h"
#include "server/model/policy.h"
#include "server/model/sitecheck.h"
#include "server/store/keys.h"

typedef struct {
	uint32_t i;
	int code;
	const char *msg;
	const record *cur;
} rejection;

static void encode_cur(wbuf *b, const record *cur)
{
	wb_map(b, 2);
	rec_wire_fs(b, cur);
}

/* Re-encode a stored ack with dup: true. */
static int ack_as_dup(arena *a, sv stored, wbuf *out)
{
	wval *v;
	if (stored.n < 8 || wire_decode(a, (const uint8_t *)stored.p + 8,
	                                stored.n - 8, &v) || v->t != WV_MAP)
		return FS_E_INTERNAL;
	wb_map(out, v->m.n);
	for (uint32_t i = 0; i < v->m.n; i++) {
		wb_val(out, &v->m.k[i]);
		if (wv_is_str(&v->m.k[i], "dup"))
			wb_bool(out, 1);
		else
			wb_val(out, &v->m.v[i]);
	}
	return FS_OK;
}

/* The batch's `by` as its writer (protocol/PROTOCOL.md, "`by` on shared
 * handhelds"): a staff member of the device's site, active now, of the
 * device's enrollment role when it has one, who held a session on this
 * device.  x->w becomes them, or *msg says why the batch is refused.
 * Returns a store failure, else FS_OK. */
static int by_writer(actx *x, const wval *by, device_sessions *ss,
                     const char **msg)
{
	job *j = x->j;
	char *bys = wv_strdup(x->a, by);
	principal w = *j->p;
	device_info d;
	*msg = NULL;
	if (!bys)
		return FS_E_UNAVAILABLE;
	int rc = device_sessions_get(x->t, j->p->device, bys, ss);
	if (rc == FS_E_NOT_FOUND) {
		*msg = "this device never held a session of the batch's 'by' "
		       "staff member";
		return FS_OK;
	}
	if (rc)
		return rc;
	if (principal_of_staff(x->t, x->a, bys, &w) != FS_OK ||
	    strcmp(w.site, j->p->site) != 0) {
		*msg = "the batch's 'by' staff member is inactive or not of "
		       "this device's site";
		return FS_OK;
	}
	rc = device_get(x->t, j->p->device, &d);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	if (!rc && d.role_limit != ROLE_NONE && d.role_limit != w.role) {
		*msg = "this device is enrolled for another role than the "
		       "batch's 'by' staff member's";
		return FS_OK;
	}
	x->w = w;
	return FS_OK;
}

/* Why an op of a `by` batch is refused, NULL when it is not: its stamp
 * must fall in a session the `by` staff member held on this device (up
 * to a PIN change or deactivation), in which they had the role they have
 * now.  Slack: the clock guard (max_skew_ms). */
static const char *by_op_refused(actx *x, const device_sessions *ss,
                                 const wval *op)
{
	uint64_t s = 0;
	wv_u64(wv_get(op, "s"), &s);
	const device_session *d = device_session_at(ss, HLC_WALL(s),
	                                            x->e->cfg.lim.max_skew_ms);
	if (!d)
		return arena_printf(x->a, "the op's time is outside every session "
		                    "'%s' held on this device", x->w.staff);
	if (d->role != x->w.role)
		return arena_printf(x->a, "'%s' had another role in the session "
		                    "the op falls in", x->w.staff);
	return NULL;
}

/* Apply batch `bi` of the job into its ack buffer.  Returns FS_OK (the ack
 * is ready) or a store failure (the transaction must be aborted). */
static int apply_batch(actx *x, uint32_t bi, uint64_t *rejected,
                       uint64_t *pushed)
{
	job *j = x->j;
	const wval *b = &j->batches->a.v[bi];
	const wval *bid = wv_get(b, "batch"), *ops = wv_get(b, "ops"),
	           *by = wv_get(b, "by");
	wbuf *ack = &j->acks[bi];
	ack->n = 0;
	ack->err = 0;

	uint8_t key[FS_ID_MAX + 20];
	size_t kn = key_ack(key, sizeof(key), j->p->device,
	                    (const uint8_t *)bid->s.p);
	x->batch = (const uint8_t *)bid->s.p;
	sv stored;
	int rc = store_get(x->t, ST_ACKS, sv_of(key, kn), &stored);
	if (rc == FS_OK) {
		engine_count(x->e, &x->e->stats.batches_dup, 1);
		return ack_as_dup(x->a, stored, ack) ? FS_E_UNAVAILABLE : FS_OK;
	}
	if (rc != FS_E_NOT_FOUND)
		return rc;

	/* whose rights: the session's staff, or the batch's `by` */
	x->w = *j->p;
	device_sessions bys;
	const char *batch_err = NULL, *by_msg = NULL;
	int has_by = by && !wv_is_str(by, j->p->staff);
	if (has_by && (rc = by_writer(x, by, &bys, &by_msg)))
		return rc;
	if (by_msg)
		batch_err = "FORBIDDEN";

	uint32_t nops = ops->a.n, applied = 0, nrej = 0;
	rejection *rj = nops ? arena_calloc(x->a, nops, sizeof(*rj)) : NULL;
	if (nops && !rj)
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < nops; i++) {
		opresult r;
		if (batch_err)
			r = rej(FS_E_FORBIDDEN, by_msg, NULL);
		else if (has_by && (by_msg = by_op_refused(x, &bys, &ops->a.v[i])))
			r = rej(FS_E_FORBIDDEN, by_msg, cur_of(x, &ops->a.v[i]));
		else if (j->checks[bi][i].code)
			r = rej(j->checks[bi][i].code, j->checks[bi][i].msg,
			        cur_of(x, &ops->a.v[i]));
		else {
			r = apply_op(x, &ops->a.v[i]);
			if (r.code && !r.msg)
				return r.code; /* store failure */
		}
		if (r.code == FS_OK)
			applied++;
		else
			rj[nrej++] = (rejection){i, r.code, r.msg, r.cur};
	}

	wb_map(ack, 4 + (batch_err ? 1 : 0));
	wb_cstr(ack, "batch");
	wb_bin(ack, bid->s.p, 16);
	wb_cstr(ack, "applied");
	wb_u64(ack, applied);
	wb_cstr(ack, "dup");
	wb_bool(ack, 0);
	wb_cstr(ack, "rej");
	wb_arr(ack, nrej);
	for (uint32_t k = 0; k < nrej; k++) {
		wb_map(ack, rj[k].cur ? 4 : 3);
		wb_cstr(ack, "i");
		wb_u64(ack, rj[k].i);
		wb_cstr(ack, "code");
		wb_cstr(ack, fs_err_name(rj[k].code));
		wb_cstr(ack, "msg");
		wb_cstr(ack, rj[k].msg ? rj[k].msg : fs_err_msg(rj[k].code));
		if (rj[k].cur) {
			wb_cstr(ack, "cur");
			encode_cur(ack, rj[k].cur);
		}
	}
	if (batch_err) {
		wb_cstr(ack, "err");
		wb_cstr(ack, batch_err);
	}
	if (ack->err)
		return FS_E_UNAVAILABLE;

	/* keep the ack: 8 bytes of time, then the ack */
	uint8_t *val = arena_alloc(x->a, ack->n + 8);
	if (!val)
		return FS_E_UNAVAILABLE;
	be64_put(val, j->t);
	memcpy(val + 8, ack->p, ack->n);
	if ((rc = store_put(x->t, ST_ACKS, sv_of(key, kn),
	                    sv_of(val, ack->n + 8))))
		return rc;
	for (unsigned h = 0; h < x->e->nhooks; h++) {
		const write_hook *wh = &x->e->hooks[h];
		if (wh->on_ack &&
		    (rc = wh->on_ack(wh->ctx, x->t, sv_of(key, kn), j->t)))
			return rc;
	}
	for (uint32_t k = 0; k < nrej; k++)
		engine_count_op(x->e, rj[k].code);
	pthread_mutex_lock(&x->e->stats_mu);
	x->e->stats.ops_applied += applied;
	x->e->stats.batches++;
	pthread_mutex_unlock(&x->e->stats_mu);
	*rejected += nrej;
	*pushed += applied + nrej;
	return FS_OK;
}

/* The request's own (device, boot) anchor candidate: before its batches,
 * so it anchors the checkins it carries. */
static int apply_anchor(actx *x)
{
	job *j = x->j;
	if (!j->has_boot || !j->has_mono)
		return FS_OK;
	int64_t cand = (int64_t)j->t - (int64_t)j->mono, cur;
	if (anchor_get(x->t, j->p->device, j->boot, &cur) == FS_OK && cur <= cand)
		return FS_OK;
	return anchor_put(x->t, j->p->device, j->boot, cand);
}

uint64_t batch_ops(const job *j, uint32_t bi)
{
	const wval *ops = wv_get(&j->batches->a.v[bi], "ops");
	return ops && ops->t == WV_ARR ? ops->a.n : 0;
}

/* What is left in the device's outbox once this request's batches are
 * applied: the pending count it sent (taken before the push) less the ops
 * acked now.  A batch acked UNAVAILABLE stays queued on the device. */
static uint64_t pending_after(const job *j)
{
	uint64_t sent = 0;
	uint32_t nb = j->batches ? j->batches->a.n : 0;
	for (uint32_t bi = 0; bi < nb; bi++)
		sent += batch_ops(j, bi);
	sent -= sent < j->unavail_ops ? sent : j->unavail_ops;
	return j->pending > sent ? j->pending - sent : 0;
}

/* The device's sync report, once per request, after its batches. */
static int apply_dev(actx *x, uint64_t rejected, uint64_t pushed)
{
	job *j = x->j;
	device_info d, before;
	if (device_get(x->t, j->p->device, &d) != FS_OK)
		return FS_OK; /* the admin device keeps no report */
	before = d;
	d.last_sync = j->t;
	snprintf(d.staff, sizeof(d.staff), "%s", j->p->staff);
	if (j->has_pending) {
		d.has_pending = 1;
		d.pending = pending_after(j);
	}
	if (j->has_wall) {
		d.has_skew = 1;
		d.skew = (int64_t)j->wall - (int64_t)j->t;
	}
	if (j->has_boot)
		snprintf(d.boot, sizeof(d.boot), "%s", j->boot);
	d.rejected += rejected;
	int rc = device_put(x->t, j->p->device, &d);
	for (unsigned h = 0; h < x->e->nhooks && !rc; h++) {
		const write_hook *wh = &x->e->hooks[h];
		if (wh->on_sync)
			rc = wh->on_sync(wh->ctx, x->t, j->p->device, &before, &d,
			                 (uint32_t)pushed, (uint32_t)rejected);
	}
	return rc;
}

void unavailable_ack(job *j, uint32_t bi)
{
	const wval *bid = wv_get(&j->batches->a.v[bi], "batch");
	wbuf *ack = &j->acks[bi];
	ack->n = 0;
	ack->err = 0;
	wb_map(ack, 5);
	wb_cstr(ack, "batch");
	wb_bin(ack, bid->s.p, 16);
	wb_cstr(ack, "applied");
	wb_u64(ack, 0);
	wb_cstr(ack, "dup");
	wb_bool(ack, 0);
	wb_cstr(ack, "rej");
	wb_arr(ack, 0);
	wb_cstr(ack, "err");
	wb_cstr(ack, "UNAVAILABLE");
}

/* ---- prefetch --------------------------------------------------------------- */

/* What a group will read, gathered for the store's hints. */
typedef struct {
	const char *c, *id;
} recname;

typedef struct {
	sv *v;
	uint32_t n, cap;
} svlist;

typedef struct {
	arena *a;
	recname *rec;               /* records */
	uint32_t nrec, caprec;
	svlist acks, devices, aux;  /* ST_ACKS, ST_DEVICES, ST_AUX keys */
	svlist sessions;            /* ST_DEVSTAFF prefixes */
	const char **dev;           /* the devices, for the hooks */
	uint32_t ndev, capdev;
	int err;
} wants;

static void want_key(wants *w, svlist *l, const void *p, size_t n)
{
	void *copy = n ? arena_dup(w->a, p, n) : NULL;
	if (!n || !copy || arena_grow(w->a, (void **)&l->v, &l->cap, l->n,
	                              l->n + 1, sizeof(sv), 64)) {
		w->err |= n != 0;
		return;
	}
	l->v[l->n++] = sv_of(copy, n);
}

static void want_rec(void *ctx, const char *c, const char *id, size_t idn)
{
	wants *w = ctx;
	char *copy = arena_strndup(w->a, id, idn);
	if (!copy || arena_grow(w->a, (void **)&w->rec, &w->caprec, w->nrec,
	                        w->nrec + 1, sizeof(recname), 256)) {
		w->err = 1;
		return;
	}
	w->rec[w->nrec++] = (recname){c, copy};
}

/* A job's device: its report, its sessions (device_session_hold), and
 * what the hooks' on_sync reads. */
static void want_device(wants *w, const job *j)
{
	const char *d = j->p->device;
	char k[KEY_MAX];
	size_t kn;
	for (uint32_t i = 0; i < w->ndev; i++)
		if (!strcmp(w->dev[i], d))
			return;
	if (arena_grow(w->a, (void **)&w->dev, &w->capdev, w->ndev, w->ndev + 1,
	               sizeof(char *), 32)) {
		w->err = 1;
		return;
	}
	w->dev[w->ndev++] = d;
	want_key(w, &w->devices, d, strlen(d));
	if ((kn = key_devstaff_dev(k, sizeof(k), d)))
		want_key(w, &w->sessions, k, kn);
}

/* One op: its record, the records its fields name, its bucket's entry
 * in the registry (apply.c's register_bucket). */
static void want_op(wants *w, const wval *op)
{
	const wval *cv = wv_get(op, "c"), *iv = wv_get(op, "id"),
	           *f = wv_get(op, "f");
	const scollection *col;
	char k[KEY_MAX];
	if (!cv || !iv || cv->t != WV_STR || iv->t != WV_STR ||
	    !(col = schema_collection(cv->s.p, cv->s.n)))
		return;
	want_rec(w, col->name, iv->s.p, iv->s.n);
	if (!f || f->t != WV_MAP)
		return;
	sitecheck_names(col, f, want_rec, w);
	char *id = wv_strdup(w->a, iv);
	char *bucket = id ? policy_fields_bucket(w->a, col, id, f) : NULL;
	size_t kn = bucket ? key_bucket(k, sizeof(k) - 1, bucket) : 0;
	if (kn)
		want_key(w, &w->aux, k, kn);
}

/* Tell the store what the group will read: the records of its ops and
 * those they name, its batch acks (dedup), its devices' reports and
 * sessions, and what the hooks read (PostgreSQL loads each set in one
 * query instead of one a read; on LMDB, where the hints are no-ops,
 * nothing is gathered: store_hints()).  Only a hint: what it cannot name
 * is left for the reads themselves. */
static int prefetch_ops(engine *e, store_txn *t, job *list, job *only,
                        uint32_t only_bi)
{
	wants w;
	if (!store_hints(e->st))
		return FS_OK; /* LMDB: nothing to gather for */
	memset(&w, 0, sizeof(w));
	if (!(w.a = arena_new(0)))
		return FS_OK;
	for (job *j = only ? only : list; j && !w.err; j = only ? NULL : j->next) {
		uint32_t nb = j->batches ? j->batches->a.n : 0;
		want_device(&w, j);
		for (uint32_t bi = 0; bi < nb && !w.err; bi++) {
			const wval *b = &j->batches->a.v[bi];
			const wval *ops = wv_get(b, "ops"), *bid = wv_get(b, "batch"),
			           *by = wv_get(b, "by");
			if (only && bi != only_bi)
				continue;
			if (bid && bid->t == WV_BIN && bid->s.n == 16) {
				uint8_t k[FS_ID_MAX + 20];
				size_t kn = key_ack(k, sizeof(k), j->p->device,
				                    (const uint8_t *)bid->s.p);
				if (kn)
					want_key(&w, &w.acks, k, kn);
			}
			if (by && by->t == WV_STR)
				want_rec(&w, "staff", by->s.p, by->s.n);
			if (!ops || ops->t != WV_ARR)
				continue;
			for (uint32_t i = 0; i < ops->a.n; i++)
				want_op(&w, &ops->a.v[i]);
		}
	}
	const char **c = w.nrec ? arena_calloc(w.a, w.nrec, sizeof(char *)) : NULL;
	const char **id = w.nrec ? arena_calloc(w.a, w.nrec, sizeof(char *)) : NULL;
	int rc = FS_OK;
	for (uint32_t i = 0; c && id && i < w.nrec; i++) {
		c[i] = w.rec[i].c;
		id[i] = w.rec[i].id;
	}
	if (w.acks.n)
		rc = store_prefetch_keys(t, ST_ACKS, w.acks.v, w.acks.n);
	if (!rc && w.devices.n)
		rc = store_prefetch_keys(t, ST_DEVICES, w.devices.v, w.devices.n);
	if (!rc && w.aux.n)
		rc = store_prefetch_keys(t, ST_AUX, w.aux.v, w.aux.n);
	if (!rc && w.sessions.n)
		rc = store_prefetch_prefixes(t, ST_DEVSTAFF, w.sessions.v,
		                             w.sessions.n);
	if (!rc && c && id)
		rc = store_prefetch(t, c, id, w.nrec);
	for (unsigned h = 0; h < e->nhooks && !rc && w.ndev; h++)
		if (e->hooks[h].prefetch)
			rc = e->hooks[h].prefetch(e->hooks[h].ctx, t, w.dev, w.ndev);
	arena_free(w.a);
	return rc;
}

int run_txn(engine *e, job *list, job *only, uint32_t only_bi,
                   namelist *changed)
{
	store_txn *t;
	int rc = store_begin(e->st, 1, &t);
	if (rc)
		return rc;
	if ((rc = prefetch_ops(e, t, list, only, only_bi))) {
		store_abort(t);
		return rc;
	}
	unsigned mark = changed->n;
	/* after the store's write lock: no node commits between this and
	 * the commit, so no stamp made here falls below a committed one */
	rc = engine_clock_observe(e, t);
	for (job *j = only ? only : list; j && !rc; j = only ? NULL : j->next) {
		actx x;
		memset(&x, 0, sizeof(x));
		x.e = e;
		x.t = t;
		x.a = j->a;
		x.j = j;
		x.now = engine_now(e);
		x.changed = changed;
		wb_init(&x.rec);
		uint64_t rejected = 0, pushed = 0;
		uint32_t nb = j->batches ? j->batches->a.n : 0;
		rc = apply_anchor(&x);
		if (!rc)
			rc = boot_note(&x);
		if (!rc && j->p->role != ROLE_ADMIN && j->p->staff[0])
			rc = device_session_hold(t, j->p->device, j->p->staff,
			                         j->t);
		for (uint32_t bi = 0; bi < nb && !rc; bi++)
			if (!only || bi == only_bi)
				rc = apply_batch(&x, bi, &rejected, &pushed);
		/* one batch a transaction: the report goes with the last one,
		 * when the earlier ones' fate is known */
		if (!rc && (!only || only_bi + 1 >= (nb ? nb : 1)))
			rc = apply_dev(&x, rejected, pushed);
		wb_free(&x.rec);
		if (rc)
			break;
	}
	if (!rc)
		rc = engine_clock_note(e, t);
	if (rc) {
		store_abort(t);
		changed->n = mark;
		return rc;
	}
	rc = store_commit(t);
	if (rc)
		changed->n = mark;
	return rc;
}
