/*
 * device.c — see device.h.
 */
#include "server/model/device.h"

#include <string.h>

#include "protocol/errors.h"
#include "protocol/wire.h"
#include "server/model/principal.h"
#include "server/store/keys.h"

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
	arena_free(a);
	return FS_OK;
}

int device_put(store_txn *t, const char *device, const device_info *d)
{
	wbuf b;
	wb_init(&b);
	wb_map(&b, 11);
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
	int rc = b.err ? FS_E_UNAVAILABLE
	               : store_put(t, ST_DEVICES, sv_cstr(device), sv_of(b.p, b.n));
	wb_free(&b);
	return rc;
}

int device_held_session(store_txn *t, const char *device, const char *staff)
{
	char k[KEY_MAX];
	size_t kn = key_devstaff(k, sizeof(k), device, staff);
	sv v;
	return kn && store_get(t, ST_DEVSTAFF, sv_of(k, kn), &v) == FS_OK;
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
