/*
 * device.c — see device.h.
 */
#include "server/model/device.h"

#include <string.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/wire.h"
#include "server/model/principal.h"
#include "server/store/keys.h"

/* The boot bookkeeping (absent from records written before it). */
static void boots_get(const wval *m, device_info *d)
{
	uint64_t u;
	int64_t i;
	if (wv_u64(wv_get(m, "boot_seen"), &u))
		d->boot_seen = u;
	if (wv_u64(wv_get(m, "other_seen"), &u))
		d->other_seen = u;
	if (wv_u64(wv_get(m, "overlaps"), &u))
		d->overlaps = u;
	wv_strcpy(d->overlap_boot, sizeof(d->overlap_boot),
	          wv_get(m, "overlap_boot"));
	if (wv_i64(wv_get(m, "overlap_start"), &i))
		d->overlap_start = i;
	if (wv_u64(wv_get(m, "overlap_seen"), &u))
		d->overlap_seen = u;
	if (wv_u64(wv_get(m, "overlap_at"), &u))
		d->overlap_at = u;
}

static void boots_put(wbuf *b, const device_info *d)
{
	wb_cstr(b, "boot_seen");
	wb_u64(b, d->boot_seen);
	wb_cstr(b, "other_seen");
	wb_u64(b, d->other_seen);
	wb_cstr(b, "overlaps");
	wb_u64(b, d->overlaps);
	wb_cstr(b, "overlap_boot");
	wb_cstr(b, d->overlap_boot);
	wb_cstr(b, "overlap_start");
	wb_i64(b, d->overlap_start);
	wb_cstr(b, "overlap_seen");
	wb_u64(b, d->overlap_seen);
	wb_cstr(b, "overlap_at");
	wb_u64(b, d->overlap_at);
}

int device_get(store_txn *t, const char *device, device_info *d)
{
	memset(d, 0, sizeof(*d));
	d->role_limit = ROLE_NONE;
	sv v;
	int rc = store_get(t, ST_DEVICES, sv_cstr(device), &v);
	if (rc)
		return rc;
	arena *a = arena_new(1024);
	wval *m;
	if (!a)
		return FS_E_UNAVAILABLE;
	rc = wire_decode(a, v.p, v.n, &m);
	if (rc || m->t != WV_MAP) {
		arena_free(a);
		return FS_E_INTERNAL;
	}
	uint64_t u;
	int64_t i;
	wv_strcpy(d->site, sizeof(d->site), wv_get(m, "site"));
	wv_strcpy(d->name, sizeof(d->name), wv_get(m, "name"));
	wv_strcpy(d->staff, sizeof(d->staff), wv_get(m, "staff"));
	wv_strcpy(d->boot, sizeof(d->boot), wv_get(m, "boot"));
	const wval *rl = wv_get(m, "role");
	if (rl && rl->t == WV_STR)
		d->role_limit = role_parse(rl->s.p, rl->s.n);
	d->revoked = wv_get(m, "revoked") && wv_get(m, "revoked")->t == WV_BOOL &&
	             wv_get(m, "revoked")->b;
	if (wv_u64(wv_get(m, "created"), &u))
		d->created = u;
	if (wv_u64(wv_get(m, "last_sync"), &u))
		d->last_sync = u;
	if (wv_u64(wv_get(m, "pending"), &u)) {
		d->has_pending = 1;
		d->pending = u;
	}
	if (wv_u64(wv_get(m, "rejected"), &u))
		d->rejected = u;
	if (wv_i64(wv_get(m, "skew"), &i)) {
		d->has_skew = 1;
		d->skew = i;
	}
	boots_get(m, d);
	arena_free(a);
	return FS_OK;
}

int device_put(store_txn *t, const char *device, const device_info *d)
{
	wbuf b;
	wb_init(&b);
	wb_map(&b, 18);
	wb_cstr(&b, "site");
	wb_cstr(&b, d->site);
	wb_cstr(&b, "name");
	wb_cstr(&b, d->name);
	wb_cstr(&b, "role");
	wb_cstr(&b, d->role_limit == ROLE_NONE ? NULL : role_name(d->role_limit));
	wb_cstr(&b, "revoked");
	wb_bool(&b, d->revoked);
	wb_cstr(&b, "created");
	wb_u64(&b, d->created);
	wb_cstr(&b, "staff");
	wb_cstr(&b, d->staff);
	wb_cstr(&b, "last_sync");
	wb_u64(&b, d->last_sync);
	wb_cstr(&b, "pending");
	if (d->has_pending)
		wb_u64(&b, d->pending);
	else
		wb_nil(&b);
	wb_cstr(&b, "rejected");
	wb_u64(&b, d->rejected);
	wb_cstr(&b, "skew");
	if (d->has_skew)
		wb_i64(&b, d->skew);
	else
		wb_nil(&b);
	wb_cstr(&b, "boot");
	wb_cstr(&b, d->boot);
	boots_put(&b, d);
	int rc = b.err ? FS_E_UNAVAILABLE
	               : store_put(t, ST_DEVICES, sv_cstr(device), sv_of(b.p, b.n));
	wb_free(&b);
	return rc;
}

/* ---- sessions held (ST_DEVSTAFF) ------------------------------------------ */

static int sessions_decode(sv v, device_sessions *out)
{
	arena *a = arena_new(1024);
	wval *m;
	if (!a)
		return FS_E_UNAVAILABLE;
	int rc = FS_OK;
	if (wire_decode(a, v.p, v.n, &m)) {
		rc = FS_E_INTERNAL;
		goto out;
	}
	if (m->t != WV_ARR)
		goto out; /* a store from before: a session, but not when */
	for (uint32_t i = 0; i < m->a.n && out->n < DEVICE_SESSIONS_MAX; i++) {
		const wval *e = &m->a.v[i];
		device_session *d = &out->s[out->n];
		if (e->t != WV_ARR || e->a.n != 3 || !wv_u64(&e->a.v[0], &d->start) ||
		    !wv_u64(&e->a.v[1], &d->end) || e->a.v[2].t != WV_STR)
			continue;
		d->role = role_parse(e->a.v[2].s.p, e->a.v[2].s.n);
		out->n++;
	}
out:
	arena_free(a);
	return rc;
}

static int sessions_put(store_txn *t, sv key, const device_sessions *ss)
{
	wbuf b;
	wb_init(&b);
	wb_arr(&b, ss->n);
	for (unsigned i = 0; i < ss->n; i++) {
		wb_arr(&b, 3);
		wb_u64(&b, ss->s[i].start);
		wb_u64(&b, ss->s[i].end);
		wb_cstr(&b, role_name(ss->s[i].role));
	}
	int rc = b.err ? FS_E_UNAVAILABLE
	               : store_put(t, ST_DEVSTAFF, key, sv_of(b.p, b.n));
	wb_free(&b);
	return rc;
}

static int cut_get(store_txn *t, const char *staff, uint64_t *cut)
{
	char k[KEY_MAX];
	size_t kn = key_scut(k, sizeof(k), staff);
	sv v;
	*cut = 0;
	if (!kn)
		return FS_E_BAD_REQUEST;
	int rc = store_get(t, ST_AUX, sv_of(k, kn), &v);
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	if (v.n == 8)
		*cut = be64_get((const uint8_t *)v.p);
	return FS_OK;
}

int device_sessions_get(store_txn *t, const char *device, const char *staff,
                        device_sessions *out)
{
	memset(out, 0, sizeof(*out));
	char k[KEY_MAX];
	size_t kn = key_devstaff(k, sizeof(k), device, staff);
	sv v;
	if (!kn)
		return FS_E_NOT_FOUND;
	int rc = store_get(t, ST_DEVSTAFF, sv_of(k, kn), &v);
	if (rc)
		return rc;
	if ((rc = sessions_decode(v, out)))
		return rc;
	return cut_get(t, staff, &out->cut);
}

/* The other staff of a device with a session still open at `now`. */
typedef struct {
	const char *self;
	uint64_t now;
	arena *a;
	sv *keys;
	uint32_t n, cap;
	int rc;
} open_scan;

static int open_cb(void *ctx, sv key, sv val)
{
	open_scan *s = ctx;
	const char *nul = memchr(key.p, 0, key.n);
	if (!nul)
		return SCAN_NEXT;
	size_t sn = key.n - (size_t)(nul + 1 - (const char *)key.p);
	if (sn == strlen(s->self) && !memcmp(nul + 1, s->self, sn))
		return SCAN_NEXT;
	device_sessions ss;
	memset(&ss, 0, sizeof(ss));
	if (sessions_decode(val, &ss) || !ss.n ||
	    ss.s[ss.n - 1].end <= s->now)
		return SCAN_NEXT;
	void *k = arena_dup(s->a, key.p, key.n);
	if (!k || arena_grow(s->a, (void **)&s->keys, &s->cap, s->n, s->n + 1,
	                     sizeof(sv), 8)) {
		s->rc = FS_E_UNAVAILABLE;
		return SCAN_STOP;
	}
	s->keys[s->n++] = sv_of(k, key.n);
	return SCAN_NEXT;
}

/* The sessions under `key` that are open at `at` end there. */
static int sessions_end_at(store_txn *t, sv key, uint64_t at)
{
	sv v;
	device_sessions ss;
	memset(&ss, 0, sizeof(ss));
	int rc = store_get(t, ST_DEVSTAFF, key, &v);
	if (rc)
		return rc == FS_E_NOT_FOUND ? FS_OK : rc;
	if ((rc = sessions_decode(v, &ss)))
		return rc;
	int changed = 0;
	for (unsigned i = 0; i < ss.n; i++)
		if (ss.s[i].end > at && ss.s[i].start <= at) {
			ss.s[i].end = at > ss.s[i].start ? at : ss.s[i].start;
			changed = 1;
		}
	return changed ? sessions_put(t, key, &ss) : FS_OK;
}

int device_session_hold(store_txn *t, const char *device, const char *staff,
                        uint64_t now)
{
	char k[KEY_MAX];
	size_t pn = key_devstaff_dev(k, sizeof(k), device);
	if (!pn)
		return FS_E_BAD_REQUEST;
	arena *a = arena_new(1024);
	if (!a)
		return FS_E_UNAVAILABLE;
	open_scan os = {staff, now, a, NULL, 0, 0, FS_OK};
	int rc = store_scan(t, ST_DEVSTAFF, sv_of(k, pn), sv_of(k, pn), open_cb,
	                    &os);
	if (rc == SCAN_STOP || rc == FS_E_NOT_FOUND)
		rc = FS_OK;
	if (!rc)
		rc = os.rc;
	for (uint32_t i = 0; i < os.n && !rc; i++)
		rc = sessions_end_at(t, os.keys[i], now);
	arena_free(a);
	return rc;
}

int device_session_open(store_txn *t, const char *device, const char *staff,
                        int role, uint64_t now, uint64_t end)
{
	char k[KEY_MAX];
	int rc = device_session_hold(t, device, staff, now);
	if (rc)
		return rc;
	size_t kn = key_devstaff(k, sizeof(k), device, staff);
	device_sessions ss;
	sv v;
	memset(&ss, 0, sizeof(ss));
	if (!kn)
		return FS_E_BAD_REQUEST;
	rc = store_get(t, ST_DEVSTAFF, sv_of(k, kn), &v);
	if (rc == FS_OK)
		rc = sessions_decode(v, &ss);
	else if (rc == FS_E_NOT_FOUND)
		rc = FS_OK;
	if (rc)
		return rc;
	if (ss.n == DEVICE_SESSIONS_MAX) {
		memmove(ss.s, ss.s + 1, (ss.n - 1) * sizeof(ss.s[0]));
		ss.n--;
	}
	ss.s[ss.n++] = (device_session){now, end, role};
	return sessions_put(t, sv_of(k, kn), &ss);
}

int device_sessions_cut(store_txn *t, const char *staff, uint64_t at)
{
	char k[KEY_MAX];
	size_t kn = key_scut(k, sizeof(k), staff);
	uint8_t b[8];
	if (!kn)
		return FS_E_BAD_REQUEST;
	be64_put(b, at);
	return store_put(t, ST_AUX, sv_of(k, kn), sv_of(b, 8));
}

const device_session *device_session_at(const device_sessions *ss,
                                        uint64_t when, uint64_t slack)
{
	for (unsigned i = 0; i < ss->n; i++) {
		const device_session *d = &ss->s[i];
		/* a cut (PIN change, deactivation) ends it with no slack; one
		 * in the millisecond the session began cuts it too (which came
		 * first is not known, so the session is not trusted) */
		uint64_t end = d->end + slack;
		if (ss->cut && ss->cut >= d->start && ss->cut < end)
			end = ss->cut;
		if (when + slack >= d->start && when < end)
			return d;
	}
	return NULL;
}

typedef struct {
	store_txn *t;
	const char *site;
	arena *a;
	device_row *v;
	uint32_t n, cap;
	int err;
} gather;

static int gather_cb(void *ctx, sv key, sv val)
{
	gather *g = ctx;
	char *id = arena_strndup(g->a, key.p, key.n);
	device_info d;
	if (!id) {
		g->err = 1;
		return SCAN_STOP;
	}
	if (device_get(g->t, id, &d) || strcmp(d.site, g->site))
		return SCAN_NEXT; /* another site's, or not a record we wrote */
	if (arena_grow(g->a, (void **)&g->v, &g->cap, g->n, g->n + 1,
	               sizeof(*g->v), 16)) {
		g->err = 1;
		return SCAN_STOP;
	}
	g->v[g->n].id = id;
	g->v[g->n].info = d;
	g->n++;
	return SCAN_NEXT;
}

int devices_of_site(store_txn *t, const char *site, arena *a,
                    device_row **rows, uint32_t *n)
{
	gather g = {t, site, a, NULL, 0, 0, 0};
	int rc = store_scan(t, ST_DEVICES, sv_of("", 0), sv_of("", 0),
	                    gather_cb, &g);
	*rows = g.v;
	*n = g.n;
	return g.err || (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
	               ? FS_E_UNAVAILABLE
	               : FS_OK;
}
