/*
 * genpush.c — see genpush.h.
 */
#include "server/svc/genpush.h"

#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"
#include "server/lib/tz.h"

#define PER_BATCH_DEFAULT 2000u

char *gp_slot_id(arena *a, const char *prefix, const char *src, int64_t day,
                 uint32_t slot)
{
	int64_t y;
	unsigned m, d;
	tz_civil_from_days(day, &y, &m, &d);
	if (strlen(src) <= 100)
		return arena_printf(a, "%s:%s:%04lld%02u%02u:%u", prefix, src,
		                    (long long)y, m, d, slot);
	uint8_t h[32];
	char hex[65];
	crypto_sha256(src, strlen(src), h);
	hex_encode(h, 16, hex);
	return arena_printf(a, "%s:h%s:%04lld%02u%02u:%u", prefix, hex,
	                    (long long)y, m, d, slot);
}

int gp_touched(const record *r)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->f[i].st.origin_n != strlen(ENGINE_ORIGIN) ||
		    memcmp(r->f[i].st.origin, ENGINE_ORIGIN, r->f[i].st.origin_n))
			return 1;
	return 0;
}

static int field_same(const record *r, const gp_field *w)
{
	const rfield *f = rec_get(r, w->name);
	if (!f)
		return w->v.t == WV_NIL || (w->v.t == WV_BOOL && !w->v.b);
	return wv_equal(&f->val, &w->v);
}

int gp_add(gp_out *o, const char *c, const char *id, const record *cur,
           const gp_field *w, uint32_t nw, int *wrote)
{
	uint32_t diff = 0, per = o->per_batch ? o->per_batch : PER_BATCH_DEFAULT;
	for (uint32_t i = 0; i < nw; i++)
		if (!cur || !field_same(cur, &w[i]))
			diff++;
	*wrote = diff > 0;
	if (!diff)
		return FS_OK;
	opbatch *b = o->nparts ? &o->parts[o->nparts - 1] : NULL;
	if (!b || b->n >= per) {
		if (arena_grow(o->a, (void **)&o->parts, &o->capparts, o->nparts,
		               o->nparts + 1, sizeof(opbatch), 4))
			return FS_E_UNAVAILABLE;
		b = &o->parts[o->nparts++];
		ob_init(b);
	}
	ob_op(b, c, id, engine_hlc_now(o->e), diff);
	for (uint32_t i = 0; i < nw; i++)
		if (!cur || !field_same(cur, &w[i]))
			ob_val(b, w[i].name, &w[i].v);
	o->ops++;
	return b->ops.err ? FS_E_UNAVAILABLE : FS_OK;
}

static int push_batch(engine *e, const principal *who_p, const opbatch *b,
                      const char *who, int untouched_only)
{
	principal srv;
	if (!who_p) {
		memset(&srv, 0, sizeof(srv));
		snprintf(srv.device, sizeof(srv.device), "%s", ENGINE_ORIGIN);
		snprintf(srv.staff, sizeof(srv.staff), "%s", ENGINE_ORIGIN);
		srv.role = ROLE_ADMIN;
		who_p = &srv;
	}
	uint8_t bid[16];
	wbuf push;
	wb_init(&push);
	int rc = crypto_random(bid, sizeof(bid));
	wb_arr(&push, 1);
	ob_batch(&push, b, bid, NULL);
	arena *a = arena_new(0);
	engine_ack *acks;
	uint32_t n;
	const char *msg = NULL;
	if (!rc)
		rc = push.err || b->ops.err || !a ? FS_E_UNAVAILABLE
		                    : engine_push(e, &(engine_push_req){who_p, 0, push.p,
		                                                        push.n, NULL, 0,
		                                                        untouched_only},
		                                  a, &acks, &n, &msg);
	if (!rc && (n != 1 || acks[0].applied != b->n)) {
		rc = n == 1 && acks[0].err ? FS_E_UNAVAILABLE : FS_E_INTERNAL;
		fprintf(stderr, "fieldsyncd: %s: %u of %u ops applied%s%s\n", who,
		        n == 1 ? acks[0].applied : 0, b->n,
		        n == 1 && acks[0].first_msg ? ": " : "",
		        n == 1 && acks[0].first_msg ? acks[0].first_msg : "");
	} else if (rc) {
		fprintf(stderr, "fieldsyncd: %s: %s%s%s\n", who, fs_err_name(rc),
		        msg ? ": " : "", msg ? msg : "");
	}
	wb_free(&push);
	arena_free(a);
	return rc;
}

int gp_push(engine *e, const principal *p, const opbatch *b, const char *who)
{
	return push_batch(e, p, b, who, 0);
}

int gp_push_all(gp_out *o, const principal *p, const char *who)
{
	int rc = FS_OK;
	for (uint32_t i = 0; i < o->nparts && !rc; i++)
		rc = push_batch(o->e, p, &o->parts[i], who, o->untouched_only);
	return rc;
}

void gp_free(gp_out *o)
{
	for (uint32_t i = 0; i < o->nparts; i++)
		ob_free(&o->parts[i]);
	o->nparts = 0;
}
