/*
 * lattice.c — an order's status only moves forward (protocol/PROTOCOL.md,
 * "Orders"): after the op's fields are merged by last writer wins, the
 * status and the step times are put right.  A move back is refused per
 * op; a move forward wins whatever its stamp, and a step time, once set,
 * is kept.  Whenever the kept value is not the one the op's stamp would
 * have made win, it is stored again with a fresh server stamp above the
 * op's, so the device that wrote the losing value takes the kept one on
 * its next pull (both clients merge pulled records by last writer wins).
 */
#include <string.h>

#include "protocol/errors.h"
#include "server/core/engine_int.h"

/* A server stamp above both stamps: the device that wrote either takes
 * whatever carries it. */
static stamp above(actx *x, const stamp *a, const stamp *b)
{
	uint64_t m = a->hlc > b->hlc ? a->hlc : b->hlc;
	uint64_t h = engine_hlc_recv(x->e, m);
	stamp s = {h > m ? h : m + 1, ENGINE_ORIGIN, 6};
	return s;
}

/* nw's field `name` becomes `val` stamped `st` (rec_set copies neither). */
static int put(actx *x, record *nw, const char *name, const wval *val,
               const stamp *st)
{
	return rec_set(x->a, nw, name, (uint32_t)strlen(name), val, st) < 0
	               ? FS_E_UNAVAILABLE
	               : FS_OK;
}

static int non_nil(const rfield *f)
{
	return f && f->val.t != WV_NIL;
}

static const order_step *step_of(const rfield *f)
{
	if (!non_nil(f) || f->val.t != WV_STR)
		return schema_order_step("reported", 8);
	return schema_order_step(f->val.s.p, f->val.s.n);
}

/* The op's status against the stored one: FS_OK with from and to (equal
 * when the status does not move), or the refusal. */
static int check_move(actx *x, const record *old, const wval *f,
                      const order_step **from, const order_step **to,
                      const char **msg)
{
	const wval *ns = wv_get(f, "status");
	*from = old ? step_of(rec_get(old, "status")) : NULL;
	*to = *from;
	if (!ns)
		return FS_OK;
	if (ns->t != WV_STR) {
		if (!old || !non_nil(rec_get(old, "status")))
			return FS_OK;
		*msg = "an order's status cannot be cleared";
		return FS_E_BAD_REQUEST;
	}
	*to = schema_order_step(ns->s.p, ns->s.n);
	if (!*to)
		return FS_OK; /* the enum check refused it before */
	int cancel = !strcmp((*to)->status, "cancelled");
	if (cancel && x->w.role != ROLE_SUPERVISOR && x->w.role != ROLE_ADMIN) {
		*msg = "only a supervisor cancels an order";
		return FS_E_FORBIDDEN;
	}
	if (!*from || *to == *from)
		return FS_OK;
	if (cancel ? !(*from)->open : (*to)->rank <= (*from)->rank) {
		*msg = arena_printf(x->a, "status cannot go from %s to %s",
		                    (*from)->status, (*to)->status);
		return *msg ? FS_E_BAD_REQUEST : FS_E_UNAVAILABLE;
	}
	return FS_OK;
}

/* The status after a move forward (or none): the op's value, with its
 * own stamp when that already won, else with a server stamp above the
 * stored one. */
static int settle_status(actx *x, const record *old, record *nw,
                         const order_step *from, const order_step *to,
                         const stamp *st, int *changed)
{
	const rfield *of = old ? rec_get(old, "status") : NULL;
	if (!of)
		return FS_OK;
	if (to == from) /* no move: the stored status and its stamp stay */
		return put(x, nw, "status", &of->val, &of->st);
	if (stamp_cmp(st, &of->st) > 0)
		return FS_OK; /* last writer wins already took it */
	wval v = wv_of_str(to->status);
	wval *copy = arena_dup(x->a, &v, sizeof(v));
	if (!copy)
		return FS_E_UNAVAILABLE;
	stamp s = above(x, st, &of->st);
	*changed = 1;
	return put(x, nw, "status", copy, &s);
}

/* One step time: set once, by the write whose status move reaches (or
 * passes) its step. */
static int settle_time(actx *x, const record *old, record *nw,
                       const wval *f, const order_step *step,
                       const order_step *from, const order_step *to,
                       const stamp *st, int *changed, const char **msg)
{
	const char *name = step->at_field;
	const wval *ov = wv_get(f, name);
	const rfield *of = old ? rec_get(old, name) : NULL;
	if (!ov)
		return FS_OK;
	if (non_nil(of)) {
		/* kept as first set: an op that would have won gets it back
		 * under a newer stamp */
		if (wv_equal(ov, &of->val) || stamp_cmp(st, &of->st) <= 0)
			return put(x, nw, name, &of->val, &of->st);
		stamp s = above(x, st, &of->st);
		*changed = 1;
		return put(x, nw, name, &of->val, &s);
	}
	if (ov->t == WV_NIL)
		return FS_OK;
	int reaches = to && step->rank <= to->rank &&
	              strcmp(to->status, "cancelled") &&
	              (!from || step->rank > from->rank);
	if (!reaches) {
		*msg = arena_printf(x->a, "%s is set once, by the write that moves "
		                    "status to %s", name, step->status);
		return *msg ? FS_E_BAD_REQUEST : FS_E_UNAVAILABLE;
	}
	return FS_OK;
}

int order_lattice(actx *x, const record *old, record *nw, const wval *f,
                  const stamp *st, int *changed, const char **msg)
{
	const order_step *from, *to;
	int rc = check_move(x, old, f, &from, &to, msg);
	if (rc || (rc = settle_status(x, old, nw, from, to, st, changed)))
		return rc;
	unsigned n;
	const order_step *steps = schema_order_steps(&n);
	for (unsigned i = 0; i < n; i++)
		if (steps[i].at_field &&
		    (rc = settle_time(x, old, nw, f, &steps[i], from, to, st,
		                      changed, msg)))
			return rc;
	return FS_OK;
}
