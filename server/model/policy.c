/*
 * policy.c — see policy.h.  The rules are schema/SCHEMA.md's: who may
 * pull which bucket (scope), and who may write which field of which
 * record in which bucket (grants and buckets).
 */
#include "server/model/policy.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/valid.h"
#include "server/store/keys.h"

#define HOUR_MS (3600ULL * 1000)

char *policy_bucket_name(arena *a, const char *kind, const char *p, size_t n)
{
	/* "kind/p" (p up to n bytes or its NUL); once per op in the writer,
	 * so no printf */
	size_t kn = strlen(kind);
	n = strnlen(p, n);
	char *s = arena_alloc(a, kn + n + 2);
	if (!s)
		return NULL;
	memcpy(s, kind, kn);
	s[kn] = '/';
	memcpy(s + kn + 1, p, n);
	s[kn + 1 + n] = 0;
	return s;
}

/* The bucket of a record of `col` whose bucket field holds v (NULL:
 * unset), NULL when it is unset or not an id. */
static char *bucket_for(arena *a, const scollection *col, const char *id,
                        const wval *v)
{
	switch (col->bucket) {
	case BK_SITE_SELF:
		return policy_bucket_name(a, "site", id, strlen(id));
	case BK_SITE:
	case BK_SHIFT:
	case BK_TO_SHIFT:
	case BK_ORDERS:
	case BK_ALERTS: {
		if (!v || v->t != WV_STR || valid_id(v->s.p, v->s.n) != FS_OK)
			return NULL;
		const char *kind = col->bucket == BK_SITE    ? "site"
		                   : col->bucket == BK_ORDERS ? "orders"
		                   : col->bucket == BK_ALERTS ? "alerts"
		                                              : "shift";
		return policy_bucket_name(a, kind, v->s.p, v->s.n);
	}
	}
	return NULL;
}

char *policy_record_bucket(arena *a, const scollection *col, const char *id,
                           const record *r)
{
	const rfield *f = col->bucket == BK_SITE_SELF
	                  ? NULL : rec_get(r, col->bucket_field);
	return bucket_for(a, col, id, f ? &f->val : NULL);
}

char *policy_fields_bucket(arena *a, const scollection *col, const char *id,
                           const wval *fields)
{
	const wval *v = col->bucket == BK_SITE_SELF || !col->bucket_field
	                ? NULL : wv_get(fields, col->bucket_field);
	return bucket_for(a, col, id, v);
}


/* ---- scope --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
	arena *a;
	char **v;
	uint32_t n, cap;
} strvec;

static int sv_push(strvec *s, char *str)
{
	if (!str || arena_grow(s->a, (void **)&s->v, &s->cap, s->n, s->n + 1,
	                       sizeof(char *), 16))
		return FS_E_UNAVAILABLE;
	s->v[s->n++] = str;
	return FS_OK;
}

static int all_buckets_cb(void *ctx, sv key, sv val)
{
	strvec *s = ctx;
	sv name = key_bucket_name(key);
	if (!name.n)
		return SCAN_NEXT;
	return sv_push(s, arena_strndup(s->a, name.p, name.n)) ? SCAN_STOP
	                                                       : SCAN_NEXT;
}

int policy_scope(store_txn *t, const principal *p, uint64_t now, arena *a,
                 char ***buckets, unsigned *n)
{
	strvec s = {a, NULL, 0, 0};
	int rc = FS_OK;
	if (p->role == ROLE_ADMIN) {
		rc = store_scan(t, ST_AUX, sv_cstr(KEY_BUCKET_PREFIX),
		                sv_cstr(KEY_BUCKET_PREFIX), all_buckets_cb, &s);
		if (rc && rc != SCAN_STOP)
			return rc;
		rc = FS_OK;
		goto out;
	}
	if (!p->site[0])
		goto out;
	if ((rc = sv_push(&s, policy_bucket_name(a, "site", p->site, strlen(p->site)))))
		return rc;
	uint64_t from, to = now + 24 * HOUR_MS;
	if (p->role == ROLE_SUPERVISOR)
		from = now - 24 * HOUR_MS;
	else
		from = now - 12 * HOUR_MS;
	shift_info *sh;
	uint32_t ns;
	if ((rc = shift_site_scan(t, a, p->site, from, to, &sh, &ns)))
		return rc;
	for (unsigned i = 0; i < ns; i++) {
		if (p->role != ROLE_SUPERVISOR && !shift_has(&sh[i], p->staff))
			continue;
		if ((rc = sv_push(&s, policy_bucket_name(a, "shift", sh[i].id,
		                                  strlen(sh[i].id)))))
			return rc;
	}
	if (p->role == ROLE_SUPERVISOR || p->role == ROLE_TECHNICIAN)
		if ((rc = sv_push(&s, policy_bucket_name(a, "orders", p->site,
		                                  strlen(p->site)))))
			return rc;
	if (p->role == ROLE_SUPERVISOR)
		if ((rc = sv_push(&s, policy_bucket_name(a, "alerts", p->site,
		                                  strlen(p->site)))))
			return rc;
out:
	if (s.n)
		qsort(s.v, s.n, sizeof(char *), cmp_str);
	*buckets = s.v;
	*n = s.n;
	return FS_OK;
}

int policy_in_scope(char *const *v, unsigned n, const char *b)
{
	unsigned lo = 0, hi = n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = strcmp(v[mid], b);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int policy_manages_site(const principal *p, const char *site)
{
	return p->role == ROLE_ADMIN ||
	       (p->role == ROLE_SUPERVISOR && site && !strcmp(p->site, site));
}

int policy_is_manager(const principal *p)
{
	return p->role == ROLE_ADMIN || p->role == ROLE_SUPERVISOR;
}

/* ---- writes -------------------------------------------------------------- */

/* May the batch's writer put a record of `col` into `bucket`? */
static int may_write_bucket(const policy_writer *x, const scollection *col,
                            const char *bucket, int creating, unsigned grants)
{
	const principal *w = x->w;
	if (w->role == ROLE_ADMIN)
		return 1;
	if (!strncmp(bucket, "site/", 5))
		return strcmp(bucket + 5, w->site) == 0;
	if (!strncmp(bucket, "orders/", 7)) {
		if (strcmp(bucket + 7, w->site) != 0)
			return 0;
		return w->role == ROLE_SUPERVISOR || w->role == ROLE_TECHNICIAN ||
		       (creating && !strcmp(col->name, "order"));
	}
	if (!strncmp(bucket, "alerts/", 7))
		return w->role == ROLE_SUPERVISOR && !strcmp(bucket + 7, w->site);
	if (strncmp(bucket, "shift/", 6))
		return 0;
	shift_info s;
	if (x->load_shift(x->ctx, bucket + 6, &s))
		return 0;
	if (!s.site || strcmp(s.site, w->site))
		return 0;
	if (w->role == ROLE_SUPERVISOR)
		return 1;
	if ((grants & G_LEAD) && !strcmp(col->name, "handover"))
		return 1;
	if (!shift_has(&s, w->staff))
		return 0;
	if (s.ends > x->now - 12 * HOUR_MS && s.starts < x->now + 24 * HOUR_MS)
		return 1;
	/* evidence window: late pushes of checkins and task completions */
	if ((!strcmp(col->name, "checkin") || !strcmp(col->name, "task")) &&
	    s.ends + x->evidence_window_ms > x->now &&
	    s.starts < x->now + 24 * HOUR_MS)
		return 1;
	return 0;
}

/* The lead of `id`'s shift is the writer? */
static int leads(const policy_writer *x, const char *id, shift_info *s)
{
	return id && x->load_shift(x->ctx, id, s) == FS_OK && s->lead &&
	       !strcmp(s->lead, x->w->staff);
}

static int same_post(const shift_info *a, const shift_info *b)
{
	return a->site && b->site && !strcmp(a->site, b->site) &&
	       a->role == b->role &&
	       (a->route ? b->route && !strcmp(a->route, b->route) : !b->route);
}

int policy_lead_handover(const policy_writer *x, const record *old,
                         const record *nw, const char **why)
{
	shift_info from, to, was;
	if (!leads(x, rec_str(x->a, nw, "from_shift"), &from))
		return 0;
	/* the stored handover too: a lead never takes over another's */
	if (old && !leads(x, rec_str(x->a, old, "from_shift"), &was)) {
		*why = "the handover is from a shift the writer does not lead";
		return 0;
	}
	char *ts = rec_str(x->a, nw, "to_shift");
	if (!ts || !strcmp(ts, from.id) ||
	    x->load_shift(x->ctx, ts, &to) != FS_OK || !same_post(&from, &to) ||
	    to.starts <= from.starts ||
	    to.starts > from.ends + POLICY_HANDOVER_WINDOW_MS) {
		*why = "a lead hands over only to a next shift of the same post "
		       "(same site, role and route, starting within 12 h of the "
		       "end of from_shift)";
		return 0;
	}
	return 1;
}

/* The writer's grants on this record (schema.h), and *why when a
 * relation-specific constraint fails. */
unsigned policy_grants(const policy_writer *x, const scollection *col,
                       const record *old, const record *nw, const wval *f,
                       const char **why)
{
	const principal *w = x->w;
	*why = NULL;
	if (w->role == ROLE_ADMIN)
		return G_ADMIN | G_SUPERVISOR | G_SHIFT_STAFF | G_GUARD_OWN |
		       G_REPORTER | G_TECH | G_LEAD;
	unsigned g = 0;
	if (w->role == ROLE_SUPERVISOR) {
		g |= G_SUPERVISOR;
		if (!strcmp(col->name, "staff")) {
			const wval *role = wv_get(f, "role");
			if (wv_is_str(role, "admin"))
				*why = "a supervisor cannot grant the admin role";
		}
		return g;
	}
	if (!strcmp(col->name, "task")) {
		char *sh = rec_str(x->a, nw, "shift");
		shift_info s;
		if (sh && x->load_shift(x->ctx, sh, &s) == FS_OK &&
		    shift_has(&s, w->staff))
			g |= G_SHIFT_STAFF;
	} else if (!strcmp(col->name, "checkin")) {
		char *st = rec_str(x->a, nw, "staff");
		if (w->role == ROLE_GUARD && st && !strcmp(st, w->staff))
			g |= G_GUARD_OWN;
		else if (w->role != ROLE_GUARD)
			*why = "only guards check in";
		else
			*why = "a checkin's staff must be the guard who makes it";
	} else if (!strcmp(col->name, "order")) {
		if (!old) {
			char *site = rec_str(x->a, nw, "site");
			if (site && !strcmp(site, w->site)) {
				const wval *rep = wv_get(f, "reporter");
				const wval *st = wv_get(f, "status");
				if (!rep || !wv_is_str(rep, w->staff))
					*why = "a new order's reporter must be its writer";
				else if (st && !wv_is_str(st, "reported"))
					*why = "a new order's status must be 'reported'";
				else
					g |= G_REPORTER;
			}
		}
		if (w->role == ROLE_TECHNICIAN && old) {
			char *as = rec_str(x->a, old, "assignee");
			const wval *na = wv_get(f, "assignee");
			if (na && !wv_is_str(na, w->staff))
				*why = "a technician may only assign an order to itself";
			else if ((as && !strcmp(as, w->staff)) ||
			         (!as && na && wv_is_str(na, w->staff)))
				g |= G_TECH;
			else
				*why = "the order is assigned to someone else";
		}
	} else if (!strcmp(col->name, "handover")) {
		if (policy_lead_handover(x, old, nw, why))
			g |= G_LEAD;
	}
	return g;
}

int policy_write(const policy_writer *x, const scollection *col,
                 const char *id, const record *old, const char *old_bucket,
                 const record *nw, const char *bucket, const wval *f,
                 const char **msg)
{
	/* every written field, then both buckets */
	const char *why;
	unsigned g = policy_grants(x, col, old, nw, f, &why);
	*msg = NULL;
	for (uint32_t i = 0; i < f->m.n; i++) {
		const char *fname = f->m.k[i].s.p;
		uint32_t fn = f->m.k[i].s.n;
		unsigned need = (fn == 8 && !memcmp(fname, "_deleted", 8))
		                        ? col->delete_grants
		                        : schema_field(col, fname, fn)->grants;
		if (!(need & g)) {
			*msg = why ? why
			           : arena_printf(x->a, "%s may not write %s.%.*s",
			                          role_name(x->w->role), col->name,
			                          (int)fn, fname);
			return FS_E_FORBIDDEN;
		}
	}
	if (why && x->w->role != ROLE_ADMIN &&
	    (x->w->role == ROLE_SUPERVISOR || !strcmp(col->name, "order"))) {
		*msg = why;
		return FS_E_FORBIDDEN;
	}
	if (x->w->role == ROLE_SUPERVISOR && !strcmp(col->name, "staff") &&
	    !strcmp(id, x->w->staff) && wv_get(f, "role")) {
		*msg = "a supervisor cannot change its own role";
		return FS_E_FORBIDDEN;
	}
	if (!may_write_bucket(x, col, bucket, !old, g) ||
	    (old && strcmp(old_bucket, bucket) &&
	     !may_write_bucket(x, col, old_bucket, 0, g))) {
		/* the bucket is not named: it may be that of a stored record
		 * of another site, and saying so would tell the writer it
		 * exists and where */
		*msg = arena_printf(x->a, "%s/%s: the record, before or after "
		                    "this write, is outside the writer's scope",
		                    col->name, id);
		return FS_E_OUT_OF_SCOPE;
	}
	return FS_OK;
}
