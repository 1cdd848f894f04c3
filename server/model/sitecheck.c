/*
 * sitecheck.c — see sitecheck.h.  The table of fields that name another
 * record is here; schema/SCHEMA.md lists it in words.
 */
#include "server/model/sitecheck.h"

#include <string.h>

#include "protocol/errors.h"
#include "server/model/records.h"
#include "server/model/shift.h"

typedef struct {
	const char *col, *field, *names; /* names: the collection named */
} ref;

static const ref refs[] = {
	{"checkpoint", "zone", "zone"},
	{"route", "checkpoints", "checkpoint"},
	{"shift", "staff", "staff"},
	{"shift", "lead", "staff"},
	{"shift", "route", "route"},
	{"standard", "zone", "zone"},
	{"task", "zone", "zone"},
	{"task", "standard", "standard"},
	{"task", "assignee", "staff"},
	{"task", "done_by", "staff"},
	{"checkin", "route", "route"},
	{"checkin", "checkpoint", "checkpoint"},
	{"checkin", "staff", "staff"},
	{"order", "reporter", "staff"},
	{"order", "assignee", "staff"},
	{"handover", "from_shift", "shift"},
	{"handover", "by", "staff"},
};

/* The site of record (c, id), NULL when it does not exist, is deleted,
 * names none, or is an admin's staff record (admins have no site). */
static int named_site(store_txn *t, const policy_writer *x, const char *c,
                      const char *id, char **site)
{
	*site = NULL;
	if (!strcmp(c, "shift")) {
		shift_info s;
		int rc = x->load_shift(x->ctx, id, &s);
		if (rc == FS_OK)
			*site = s.site;
		return rc == FS_E_NOT_FOUND ? FS_OK : rc;
	}
	record r;
	int rc = records_load(t, x->a, c, id, &r, NULL, NULL);
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	if (rec_true(&r, "_deleted"))
		return FS_OK;
	char *role = rec_str(x->a, &r, "role");
	if (!strcmp(c, "staff") && role && !strcmp(role, "admin"))
		return FS_OK;
	*site = rec_str(x->a, &r, "site");
	return FS_OK;
}

static int writes(const wval *f, const char *name)
{
	return wv_get(f, name) != NULL;
}

/* One named id against the home site. */
static int check_one(store_txn *t, const policy_writer *x, const ref *rf,
                     const char *home, const char *p, size_t n,
                     const char **msg)
{
	char *id = arena_strndup(x->a, p, n), *site;
	if (!id)
		return FS_E_UNAVAILABLE;
	int rc = named_site(t, x, rf->names, id, &site);
	if (rc)
		return rc;
	if (site && strcmp(site, home)) {
		*msg = arena_printf(x->a, "%s.%s names a %s of another site than "
		                    "the %s's", rf->col, rf->field, rf->names,
		                    rf->col);
		return FS_E_BAD_REQUEST;
	}
	return FS_OK;
}

void sitecheck_names(const scollection *col, const wval *f,
                     void (*fn)(void *ctx, const char *c, const char *id,
                                size_t idn),
                     void *ctx)
{
	const wval *v;
	if ((col->bucket == BK_SHIFT || col->bucket == BK_TO_SHIFT) &&
	    (v = wv_get(f, col->bucket_field)) && v->t == WV_STR)
		fn(ctx, "shift", v->s.p, v->s.n);
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		const ref *rf = &refs[i];
		if (strcmp(rf->col, col->name) || !(v = wv_get(f, rf->field)))
			continue;
		if (v->t == WV_STR)
			fn(ctx, rf->names, v->s.p, v->s.n);
		else if (v->t == WV_ARR)
			for (uint32_t k = 0; k < v->a.n; k++)
				if (v->a.v[k].t == WV_STR)
					fn(ctx, rf->names, v->a.v[k].s.p,
					   v->a.v[k].s.n);
	}
}

int sitecheck_record(store_txn *t, const policy_writer *x,
                     const scollection *col, const record *nw,
                     const wval *f, const char **msg)
{
	*msg = NULL;
	if (col->bucket == BK_SITE_SELF)
		return FS_OK;
	char *site = rec_str(x->a, nw, "site"), *home = site;
	int rc;
	if (col->bucket == BK_SHIFT || col->bucket == BK_TO_SHIFT) {
		char *sh = rec_str(x->a, nw, col->bucket_field), *ss = NULL;
		if (sh && (rc = named_site(t, x, "shift", sh, &ss)))
			return rc;
		if (ss)
			home = ss;
	}
	if (!home)
		return FS_OK;
	if (site && strcmp(site, home)) {
		*msg = arena_printf(x->a, "%s.site is not the site of its %s",
		                    col->name, col->bucket_field);
		return FS_E_BAD_REQUEST;
	}
	int all = writes(f, "site") ||
	          (col->bucket_field && writes(f, col->bucket_field));
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		const ref *rf = &refs[i];
		if (strcmp(rf->col, col->name) || (!all && !writes(f, rf->field)))
			continue;
		const rfield *v = rec_get(nw, rf->field);
		if (!v)
			continue;
		rc = FS_OK;
		if (v->val.t == WV_STR)
			rc = check_one(t, x, rf, home, v->val.s.p, v->val.s.n, msg);
		else if (v->val.t == WV_ARR)
			for (uint32_t k = 0; k < v->val.a.n && !rc; k++)
				if (v->val.a.v[k].t == WV_STR)
					rc = check_one(t, x, rf, home,
					               v->val.a.v[k].s.p,
					               v->val.a.v[k].s.n, msg);
		if (rc)
			return rc;
	}
	return FS_OK;
}

const char *sitecheck_bucket_site(const policy_writer *x, const char *bucket)
{
	const char *slash = strchr(bucket, '/');
	if (!slash)
		return NULL;
	if (strncmp(bucket, "shift/", 6))
		return slash + 1;
	shift_info s;
	return x->load_shift(x->ctx, bucket + 6, &s) == FS_OK ? s.site : NULL;
}
