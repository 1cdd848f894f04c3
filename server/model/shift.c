/*
 * shift.c — see shift.h.
 */
#include "server/model/shift.h"

#include <string.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "server/model/principal.h"
#include "server/model/records.h"
#include "server/store/keys.h"

int shift_from_record(arena *a, const char *id, const record *r,
                      shift_info *s)
{
	memset(s, 0, sizeof(*s));
	s->id = arena_strndup(a, id, strlen(id));
	s->site = rec_str(a, r, "site");
	char *role = rec_str(a, r, "role");
	s->role = role ? role_parse(role, strlen(role)) : ROLE_NONE;
	rec_u64(r, "starts", &s->starts);
	rec_u64(r, "ends", &s->ends);
	s->route = rec_str(a, r, "route");
	s->lead = rec_str(a, r, "lead");
	const rfield *f = rec_get(r, "staff");
	if (f && f->val.t == WV_ARR) {
		s->staff = arena_calloc(a, f->val.a.n + 1, sizeof(char *));
		if (!s->staff)
			return FS_E_UNAVAILABLE;
		for (uint32_t i = 0; i < f->val.a.n; i++) {
			char *v = wv_strdup(a, &f->val.a.v[i]);
			if (v)
				s->staff[s->nstaff++] = v;
		}
	}
	return s->id ? FS_OK : FS_E_UNAVAILABLE;
}

int shift_load(store_txn *t, arena *a, const char *id, shift_info *out)
{
	record r;
	int rc = records_load(t, a, "shift", id, &r, NULL, NULL);
	if (rc)
		return rc;
	if (rec_true(&r, "_deleted"))
		return FS_E_NOT_FOUND;
	return shift_from_record(a, id, &r, out);
}

int shift_has(const shift_info *s, const char *staff)
{
	for (uint32_t i = 0; i < s->nstaff; i++)
		if (strcmp(s->staff[i], staff) == 0)
			return 1;
	return 0;
}

typedef struct {
	store_txn *t;
	arena *a;
	size_t sn;
	uint64_t from, to;
	shift_info *v;
	uint32_t n, cap;
	int rc;
} shiftscan;

static int shift_cb(void *ctx, sv key, sv val)
{
	shiftscan *s = ctx;
	uint64_t starts;
	sv idv;
	if (!key_shift_parse(key, s->sn, &starts, &idv))
		return SCAN_NEXT;
	if (starts >= s->to)
		return SCAN_STOP;
	char *id = arena_strndup(s->a, idv.p, idv.n);
	shift_info sh;
	if (!id) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	if (shift_load(s->t, s->a, id, &sh) || sh.ends <= s->from ||
	    sh.starts >= s->to)
		return SCAN_NEXT;
	if (arena_grow(s->a, (void **)&s->v, &s->cap, s->n, s->n + 1,
	               sizeof(*s->v), 32)) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	s->v[s->n++] = sh;
	return SCAN_NEXT;
}

/* The index's keys run in starts order (ties by id); a shift that
 * overlaps `from` starts at most the site's longest shift before it. */
int shift_site_scan(store_txn *t, arena *a, const char *site, uint64_t from,
                    uint64_t to, shift_info **out, uint32_t *n)
{
	*out = NULL;
	*n = 0;
	char mk[KEY_MAX];
	size_t mn = key_shiftmax(mk, sizeof(mk), site);
	uint64_t maxlen = 0;
	sv v;
	if (mn && store_get(t, ST_META, sv_of(mk, mn), &v) == FS_OK && v.n == 8)
		maxlen = be64_get(v.p);
	uint8_t pk[KEY_MAX], sk[KEY_MAX];
	size_t pn = key_shift_site(pk, sizeof(pk), site);
	size_t skn = key_shift_from(sk, sizeof(sk), site,
	                            from > maxlen ? from - maxlen : 0);
	if (!pn || !skn)
		return FS_E_BAD_REQUEST;
	shiftscan s = {t, a, strlen(site), from, to, NULL, 0, 0, FS_OK};
	int rc = store_scan(t, ST_SHIFTS, sv_of(pk, pn), sv_of(sk, skn),
	                    shift_cb, &s);
	if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
		return rc;
	*out = s.v;
	*n = s.n;
	return s.rc;
}

int shift_index_update(store_txn *t, arena *a, const char *id,
                       const record *old, const record *nw)
{
	uint8_t k[512];
	size_t kn;
	int rc;
	if (old) {
		char *site = rec_str(a, old, "site");
		uint64_t starts = 0;
		rec_u64(old, "starts", &starts);
		if (site && (kn = key_shift(k, sizeof(k), site, starts, id))) {
			rc = store_del(t, ST_SHIFTS, sv_of(k, kn));
			if (rc && rc != FS_E_NOT_FOUND)
				return rc;
		}
	}
	char *site = rec_str(a, nw, "site");
	uint64_t starts = 0, ends = 0;
	rec_u64(nw, "starts", &starts);
	rec_u64(nw, "ends", &ends);
	if (!site || rec_true(nw, "_deleted"))
		return FS_OK;
	if (!(kn = key_shift(k, sizeof(k), site, starts, id)))
		return FS_E_BAD_REQUEST;
	uint8_t one = 1;
	if ((rc = store_put(t, ST_SHIFTS, sv_of(k, kn), sv_of(&one, 1))))
		return rc;
	/* longest shift of the site, to bound scope scans */
	char mk[KEY_MAX];
	size_t mn = key_shiftmax(mk, sizeof(mk), site);
	uint64_t len = ends > starts ? ends - starts : 0, cur = 0;
	sv v;
	if (!mn)
		return FS_E_BAD_REQUEST;
	if (store_get(t, ST_META, sv_of(mk, mn), &v) == FS_OK && v.n == 8)
		cur = be64_get(v.p);
	if (len > cur) {
		uint8_t b[8];
		be64_put(b, len);
		rc = store_put(t, ST_META, sv_of(mk, mn), sv_of(b, 8));
	}
	return rc;
}

int shift_span_ok(const record *r, uint64_t max_ms)
{
	const rfield *s = rec_get(r, "starts"), *e = rec_get(r, "ends");
	if (!s || !e || s->val.t != WV_UINT || e->val.t != WV_UINT ||
	    e->val.u <= s->val.u)
		return 1;
	return e->val.u - s->val.u <= max_ms;
}
