/*
 * apply.c — one op in the writer's transaction: load the stored record,
 * merge the op's fields by last writer wins (protocol/record.h), ask
 * server/model/policy.h whether the batch's writer may make the write,
 * keep evidence immutable, fill derived fields (derive.c), store it, and
 * call the write hooks the program registered (engine.h).
 */
#include <string.h>

#include "protocol/errors.h"
#include "server/core/engine_int.h"
#include "server/model/policy.h"
#include "server/model/records.h"
#include "server/model/sitecheck.h"
#include "server/store/keys.h"

/* shift_load() through the job's cache (policy_writer's load_shift). */
static int x_load_shift(void *ctx, const char *id, shift_info *s)
{
	actx *x = ctx;
	for (unsigned i = 0; i < x->nsc; i++)
		if (!strcmp(x->sc[i].id, id)) {
			if (x->sc_rc[i])
				return x->sc_rc[i];
			*s = x->sc[i];
			return FS_OK;
		}
	int rc = shift_load(x->t, x->a, id, s);
	if (rc != FS_OK && rc != FS_E_NOT_FOUND)
		return rc;
	unsigned k = x->nsc < 8 ? x->nsc++ : x->sc_next++ % 8;
	if (rc == FS_OK) {
		x->sc[k] = *s;
	} else {
		memset(&x->sc[k], 0, sizeof(x->sc[k]));
		x->sc[k].id = arena_strndup(x->a, id, strlen(id));
		if (!x->sc[k].id) {
			x->nsc = 0; /* out of memory: no cache, same answer */
			return rc;
		}
	}
	x->sc_rc[k] = rc;
	return rc;
}

int note_changed(actx *x, const char *bucket)
{
	for (unsigned i = 0; i < x->changed->n; i++)
		if (strcmp(x->changed->v[i], bucket) == 0)
			return FS_OK;
	namelist *c = x->changed;
	char *copy = arena_strndup(c->a, bucket, strlen(bucket));
	if (!copy || arena_grow(c->a, (void **)&c->v, &c->cap, c->n, c->n + 1,
	                        sizeof(char *), 16))
		return FS_E_UNAVAILABLE;
	c->v[c->n++] = copy;
	return FS_OK;
}

/* Remember every bucket name ever used (admin scope). */
static int register_bucket(store_txn *t, const char *bucket)
{
	char k[KEY_MAX];
	size_t n = key_bucket(k, sizeof(k) - 1, bucket);
	if (!n)
		return FS_E_BAD_REQUEST;
	sv v;
	if (store_get(t, ST_AUX, sv_of(k, n), &v) == FS_OK)
		return FS_OK;
	uint8_t one = 1;
	return store_put(t, ST_AUX, sv_of(k, n), sv_of(&one, 1));
}

static int visible(actx *x, const char *bucket)
{
	if (!x->have_rscope) {
		x->have_rscope = 1;
		if (engine_scope(x->e, x->t, x->j->p, x->now, x->a, &x->rscope,
		                 &x->nrscope))
			x->nrscope = 0;
	}
	return policy_in_scope(x->rscope, x->nrscope, bucket);
}

/* visible() for blobref.h: may the writing session see a photo's bytes? */
static int sees_bucket(void *ctx, const char *bucket)
{
	return visible(ctx, bucket);
}

/* Same device-written values as the stored checkin? */
static int same_evidence(const scollection *col, const record *old,
                         const wval *f)
{
	uint32_t n_old = 0;
	for (uint32_t i = 0; i < old->n; i++) {
		const sfield *sf = schema_field(col, old->f[i].name,
		                                old->f[i].name_n);
		if (sf && !(sf->grants & G_SERVER))
			n_old++;
	}
	if (n_old != f->m.n)
		return 0;
	for (uint32_t i = 0; i < f->m.n; i++) {
		const rfield *of = rec_getn(old, f->m.k[i].s.p, f->m.k[i].s.n);
		if (!of || !wv_equal(&of->val, &f->m.v[i]))
			return 0;
	}
	return 1;
}

/* A field of r written by another origin than the server's own. */
static int touched(const record *r)
{
	size_t n = strlen(ENGINE_ORIGIN);
	for (uint32_t i = 0; i < r->n; i++)
		if (r->f[i].st.origin_n != n ||
		    memcmp(r->f[i].st.origin, ENGINE_ORIGIN, n))
			return 1;
	return 0;
}

/* The op's value is what r holds already (absent: nil or false). */
static int same_value(const record *r, const wval *k, const wval *v)
{
	const rfield *f = rec_getn(r, k->s.p, k->s.n);
	if (!f)
		return v->t == WV_NIL || (v->t == WV_BOOL && !v->b);
	return wv_equal(&f->val, v);
}

opresult rej(int code, const char *msg, const record *cur)
{
	opresult r = {code, msg, cur};
	return r;
}

/* The hooks after a stored record, in their registered order. */
static int run_hooks(actx *x, const write_event *ev)
{
	engine *e = x->e;
	for (unsigned i = 0; i < e->nhooks; i++) {
		int rc = e->hooks[i].on_record
		                 ? e->hooks[i].on_record(e->hooks[i].ctx, ev)
		                 : FS_OK;
		if (rc)
			return rc;
	}
	return FS_OK;
}

/* Apply one op.  A store (or hook) failure comes back as a code with msg
 * NULL: the caller aborts the transaction. */
opresult apply_op(actx *x, const wval *op)
{
	const wval *c = wv_get(op, "c"), *idv = wv_get(op, "id"),
	           *f = wv_get(op, "f");
	uint64_t s = 0;
	wv_u64(wv_get(op, "s"), &s);
	const scollection *col = schema_collection(c->s.p, c->s.n);
	char *id = wv_strdup(x->a, idv);
	if (!id)
		return rej(FS_E_UNAVAILABLE, NULL, NULL);

	record *old = arena_alloc(x->a, sizeof(record)), nw;
	if (!old)
		return rej(FS_E_UNAVAILABLE, NULL, NULL);
	char *old_bucket = NULL;
	int rc = records_load(x->t, x->a, col->name, id, old, &old_bucket, NULL);
	int exists = rc == FS_OK;
	if (rc && rc != FS_E_NOT_FOUND)
		return rej(rc == FS_E_INTERNAL ? FS_E_UNAVAILABLE : rc, NULL, NULL);
	const record *cur = exists && visible(x, old_bucket) ? old : NULL;

	/* the record as it would be after the write */
	rec_init(&nw);
	if (exists && old->n) {
		nw.f = arena_dup(x->a, old->f, old->n * sizeof(rfield));
		if (!nw.f)
			return rej(FS_E_UNAVAILABLE, NULL, NULL);
		nw.n = nw.cap = old->n;
	}
	stamp st = {s, x->j->p->device, (uint32_t)strlen(x->j->p->device)};
	/* the server's own op (genpush.h), planned from a read that another
	 * node's or a person's commit may have overtaken: decided now, in the
	 * write transaction, stamped after the store's clock */
	int own = !strcmp(x->j->p->device, ENGINE_ORIGIN);
	if (own && exists && x->j->untouched_only && touched(old))
		return rej(FS_OK, NULL, NULL); /* theirs: kept */
	if (own)
		st.hlc = engine_hlc_now(x->e);
	int changed = 0;
	for (uint32_t i = 0; i < f->m.n; i++) {
		if (own && exists && same_value(old, &f->m.k[i], &f->m.v[i]))
			continue;
		int m = rec_merge(x->a, &nw, f->m.k[i].s.p, f->m.k[i].s.n,
		                  &f->m.v[i], &st);
		if (m < 0)
			return rej(FS_E_UNAVAILABLE, NULL, NULL);
		changed |= m;
	}
	char *bucket = policy_record_bucket(x->a, col, id, &nw);
	if (!bucket)
		return rej(FS_E_BAD_REQUEST,
		           arena_printf(x->a, "a %s needs field '%s' (an id)",
		                        col->name, col->bucket_field),
		           cur);

	/* permissions: every written field, then both buckets */
	policy_writer pw = {&x->w, x->now, x->e->cfg.lim.evidence_window_ms,
	                    x->a, x_load_shift, x};
	const char *msg;
	if ((rc = policy_write(&pw, col, id, exists ? old : NULL, old_bucket,
	                       &nw, bucket, f, &msg)))
		return rej(rc, msg, cur);
	if ((rc = sitecheck_record(x->t, &pw, col, &nw, f, &msg)))
		return rej(rc, msg, msg ? cur : NULL);
	if (!strcmp(col->name, "shift") &&
	    !shift_span_ok(&nw, x->e->cfg.lim.shift_max_ms))
		return rej(FS_E_BAD_REQUEST, "a shift lasts longer than "
		           "shift_max_ms (7 days)", cur);
	if (!strcmp(col->name, "order") &&
	    (rc = order_lattice(x, exists ? old : NULL, &nw, f, &st, &changed,
	                        &msg)))
		return rej(rc, msg, cur);

	if (col->append_only && exists) {
		if (same_evidence(col, old, f))
			return rej(FS_OK, NULL, NULL);
		return rej(FS_E_IMMUTABLE,
		           "a checkin cannot change: its values differ from the "
		           "stored one", cur);
	}
	if (!changed && exists)
		return rej(FS_OK, NULL, NULL); /* lost on last-writer-wins */

	/* derived fields, the write, then the hooks */
	if (!strcmp(col->name, "checkin") && !exists)
		rc = fill_checkin(x, &nw);
	else if (!strcmp(col->name, "order"))
		rc = fill_order(x, &nw);
	if (!rc)
		rc = fill_steps(x, col, exists ? old : NULL, &nw, f);
	if (rc && rc != FS_E_NOT_FOUND)
		return rej(rc, NULL, NULL);
	if (!strcmp(col->name, "shift"))
		x->nsc = 0; /* the job's cached shifts may be stale now */
	x->rec.n = 0;
	rec_encode(&x->rec, &nw);
	if (x->rec.err)
		return rej(FS_E_UNAVAILABLE, NULL, NULL);
	uint64_t seq;
	if ((rc = store_rec_put(x->t, col->name, id, bucket,
	                        sv_of(x->rec.p, x->rec.n), &seq)))
		return rej(rc, NULL, NULL);
	if ((rc = register_bucket(x->t, bucket)) || (rc = note_changed(x, bucket)))
		return rej(rc, NULL, NULL);
	write_event ev = {x->t, x->a, &x->w, x->j->p, x->batch, x->now,
	                  x->j->t, col->name, id, bucket,
	                  sitecheck_bucket_site(&pw, bucket),
	                  exists ? old_bucket : NULL, seq, exists ? old : NULL,
	                  &nw, sees_bucket, x};
	if ((rc = run_hooks(x, &ev)))
		return rej(rc, NULL, NULL);
	if (exists && strcmp(old_bucket, bucket) &&
	    (rc = note_changed(x, old_bucket)))
		return rej(rc, NULL, NULL);
	return rej(FS_OK, NULL, NULL);
}

/* `cur` for an op refused before it reached the store: the record's
 * current fields when it exists and the session may see it. */
const record *cur_of(actx *x, const wval *op)
{
	const wval *c = wv_get(op, "c"), *idv = wv_get(op, "id");
	if (!c || c->t != WV_STR || !idv || idv->t != WV_STR ||
	    valid_id(idv->s.p, idv->s.n))
		return NULL;
	const scollection *col = schema_collection(c->s.p, c->s.n);
	char *id = wv_strdup(x->a, idv);
	record *r = arena_alloc(x->a, sizeof(record));
	char *bucket = NULL;
	if (!col || !id || !r)
		return NULL;
	if (records_load(x->t, x->a, col->name, id, r, &bucket, NULL) ||
	    !visible(x, bucket))
		return NULL;
	return r;
}
