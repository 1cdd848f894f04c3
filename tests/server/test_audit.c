/* test_audit.c — the audit trail's op entries (server/svc/audit.h): the
 * compact v2 entry the writer stores is served exactly as the v1 map
 * always was (the same bytes in msgpack, the same JSON), an old store's
 * v1 entries are still served, a record whose history mixes both reads
 * in order, and bytes that are not an entry are skipped, not served.
 *
 * The reference is v1_put below: the v1 writer as it stood before the v2
 * form (it is what every store written before holds).  The same history
 * goes into one store through it and into another through audit_op();
 * GET /v1/audit's answers (audit_history) must be byte-identical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/record.h"
#include "server/core/engine.h"
#include "server/store/store.h"
#include "server/svc/audit.h"

/* ---- the v1 entry, as written before v2 ---------------------------------- */

static void v1_stamp(wbuf *b, const stamp *st)
{
	wb_arr(b, 2);
	wb_u64(b, st->hlc);
	wb_str(b, st->origin ? st->origin : "", st->origin ? st->origin_n : 0);
}

static int v1_changed(const rfield *o, const rfield *f)
{
	return !o || stamp_cmp(&o->st, &f->st) != 0 || !wv_equal(&o->val, &f->val);
}

static void v1_entry(wbuf *b, const principal *w, const char *device,
                     const uint8_t *batch, uint64_t now, const char *c,
                     const char *id, const char *bucket, const char *site,
                     uint64_t seq, const record *old, const record *nw)
{
	uint32_t nch = 0;
	for (uint32_t i = 0; i < nw->n; i++)
		nch += v1_changed(old ? rec_getn(old, nw->f[i].name,
		                                 nw->f[i].name_n) : NULL,
		                  &nw->f[i]);
	wb_map(b, 12);
	wb_cstr(b, "t");
	wb_u64(b, now);
	wb_cstr(b, "staff");
	wb_cstr(b, w->staff);
	wb_cstr(b, "role");
	wb_cstr(b, role_name(w->role));
	wb_cstr(b, "device");
	wb_cstr(b, device);
	wb_cstr(b, "batch");
	if (batch)
		wb_bin(b, batch, 16);
	else
		wb_nil(b);
	wb_cstr(b, "c");
	wb_cstr(b, c);
	wb_cstr(b, "id");
	wb_cstr(b, id);
	wb_cstr(b, "bucket");
	wb_cstr(b, bucket);
	wb_cstr(b, "site");
	wb_cstr(b, site);
	wb_cstr(b, "seq");
	wb_u64(b, seq);
	wb_cstr(b, "created");
	wb_bool(b, old == NULL);
	wb_cstr(b, "ch");
	wb_arr(b, nch);
	for (uint32_t i = 0; i < nw->n; i++) {
		const rfield *f = &nw->f[i];
		const rfield *o = old ? rec_getn(old, f->name, f->name_n) : NULL;
		if (!v1_changed(o, f))
			continue;
		wb_map(b, 5);
		wb_cstr(b, "f");
		wb_str(b, f->name, f->name_n);
		wb_cstr(b, "old");
		if (o)
			wb_val(b, &o->val);
		else
			wb_nil(b);
		wb_cstr(b, "old_s");
		if (o)
			v1_stamp(b, &o->st);
		else
			wb_nil(b);
		wb_cstr(b, "new");
		wb_val(b, &f->val);
		wb_cstr(b, "new_s");
		v1_stamp(b, &f->st);
	}
}

/* ---- one op of a history --------------------------------------------------- */

typedef struct {
	int v1;               /* write the v1 map (an old store) */
	const principal *w;
	const char *device, *c, *id, *bucket, *site;
	const uint8_t *batch;
	uint64_t now, seq;
	const record *old, *nw;
	arena *a;
} op;

static int put_op(void *ctx, store_txn *t)
{
	op *o = ctx;
	if (!o->v1)
		return audit_op(t, o->a, o->w, o->device, o->batch, o->now, o->c,
		                o->id, o->bucket, o->site, o->seq, o->old, o->nw);
	uint8_t k[256], tk[17];
	size_t cl = strlen(o->c), il = strlen(o->id);
	k[0] = 'r';
	memcpy(k + 1, o->c, cl + 1);
	memcpy(k + 2 + cl, o->id, il + 1);
	be64_put(k + 3 + cl + il, o->seq);
	tk[0] = 't';
	be64_put(tk + 1, o->now);
	be64_put(tk + 9, o->seq);
	wbuf b;
	wb_init(&b);
	v1_entry(&b, o->w, o->device, o->batch, o->now, o->c, o->id, o->bucket,
	         o->site, o->seq, o->old, o->nw);
	int rc = store_put(t, ST_AUDIT, sv_of(k, 11 + cl + il), sv_of(b.p, b.n));
	if (!rc)
		rc = store_put(t, ST_AUDIT, sv_of(tk, 17), sv_of(k, 11 + cl + il));
	wb_free(&b);
	return rc;
}

/* ---- fixture: two stores ------------------------------------------------------ */

typedef struct {
	char dir[64];
	store *s;
	engine *e;
} side;

typedef struct {
	side x[2];
	arena *a;
	principal admin, sup, sup_b, tech;
} fixture;

static void side_open(side *s)
{
	strcpy(s->dir, "/tmp/fs_audit_XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	store_opts so;
	memset(&so, 0, sizeof(so));
	so.map_mb = 16;
	assert_int_equal(store_open(&s->s, s->dir, &so), FS_OK);
	engine_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	fs_limits_default(&cfg.lim);
	assert_int_equal(engine_open(&s->e, s->s, &cfg), FS_OK);
}

static void side_close(side *s)
{
	engine_close(s->e);
	store_close(s->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	assert_int_equal(system(cmd), 0);
}

static void who(principal *p, const char *dev, const char *staff,
                const char *site, int role)
{
	snprintf(p->device, sizeof(p->device), "%s", dev);
	snprintf(p->staff, sizeof(p->staff), "%s", staff);
	snprintf(p->site, sizeof(p->site), "%s", site);
	p->role = role;
}

static int setup(void **st)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	side_open(&f->x[0]);
	side_open(&f->x[1]);
	f->a = arena_new(0);
	who(&f->admin, "dev-admin-0000000000000001", "admin", "", ROLE_ADMIN);
	who(&f->sup, "dev-sup-a", "sup-a", "site-a", ROLE_SUPERVISOR);
	who(&f->sup_b, "dev-sup-b", "sup-b", "site-b", ROLE_SUPERVISOR);
	who(&f->tech, "dev-tech-1", "t1", "site-a", ROLE_TECHNICIAN);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	fixture *f = *st;
	side_close(&f->x[0]);
	side_close(&f->x[1]);
	arena_free(f->a);
	free(f);
	return 0;
}

/* ---- records ------------------------------------------------------------------- */

static wval str_of(const char *s)
{
	return wv_of_str(s);
}

/* r with field name set to v, stamped (hlc, origin). */
static void set(fixture *f, record *r, const char *name, wval v, uint64_t hlc,
                const char *origin)
{
	stamp st = {hlc, origin, origin ? (uint32_t)strlen(origin) : 0};
	assert_int_equal(rec_set(f->a, r, name, (uint32_t)strlen(name), &v, &st),
	                 FS_OK);
}

static record copy(fixture *f, const record *r)
{
	record c;
	rec_init(&c);
	for (uint32_t i = 0; i < r->n; i++)
		assert_int_equal(rec_set(f->a, &c, r->f[i].name, r->f[i].name_n,
		                         &r->f[i].val, &r->f[i].st), FS_OK);
	return c;
}

/* Write op o into both stores: as v1 into x[0] and as v2 into x[1] (or as
 * `form` into both when form >= 0). */
static void write_both(fixture *f, op *o, int form)
{
	for (int i = 0; i < 2; i++) {
		o->v1 = form >= 0 ? form : i == 0;
		o->a = f->a;
		assert_int_equal(engine_write(f->x[i].e, put_op, o), FS_OK);
	}
}

/* The answer of audit_history in both stores, compared byte for byte;
 * the code of both (equal). */
static int same_answer(fixture *f, const principal *p, const char *c,
                       const char *id, uint64_t after, uint32_t limit,
                       int json, size_t *len)
{
	wbuf out[2];
	int rc[2];
	for (int i = 0; i < 2; i++) {
		const char *msg = NULL;
		wb_init(&out[i]);
		rc[i] = audit_history(f->x[i].e, p, c, id, after, limit, json, f->a,
		                      &out[i], &msg);
	}
	assert_int_equal(rc[0], rc[1]);
	if (rc[0] == FS_OK) {
		assert_int_equal(out[0].n, out[1].n);
		assert_memory_equal(out[0].p, out[1].p, out[0].n);
		if (len)
			*len = out[0].n;
	}
	wb_free(&out[0]);
	wb_free(&out[1]);
	return rc[0];
}

/* A task's history: created by the supervisor (every value type), then a
 * technician's update (changed, unchanged and new fields; old stamps of
 * another device and of none), then an update stamped by a third origin
 * (a server-derived field), with no batch id and no site. */
static void task_history(fixture *f, const char *id, int form)
{
	uint8_t bid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	record r0, r1, r2;
	rec_init(&r0);
	const char *sd = f->sup.device, *td = f->tech.device;
	set(f, &r0, "site", str_of("site-a"), 100, sd);
	set(f, &r0, "shift", str_of("sh-1"), 100, sd);
	set(f, &r0, "title", str_of("a title longer than thirty-one bytes, so str8"),
	    100, sd);
	set(f, &r0, "count", wv_of_u64(70000), 100, sd);
	set(f, &r0, "delta", wv_of_i64(-5), 100, sd);
	wval fl = {.t = WV_FLOAT, .f = 0.1};
	set(f, &r0, "ratio", fl, 100, sd);
	set(f, &r0, "flag", wv_of_bool(1), 100, sd);
	wval nil = {.t = WV_NIL};
	set(f, &r0, "note", nil, 100, NULL);
	wval arr_v[2] = {str_of("x"), wv_of_u64(3)};
	wval arr = {.t = WV_ARR, .a = {arr_v, 2}};
	set(f, &r0, "tags", arr, 100, sd);
	wval mk[1] = {str_of("k")}, mv[1] = {wv_of_i64(-300)};
	wval map = {.t = WV_MAP, .m = {mk, mv, 1}};
	set(f, &r0, "meta", map, 100, sd);
	wval bin = {.t = WV_BIN, .s = {"\x00\x01\x02", 3}};
	set(f, &r0, "photo", bin, 100, "other-device");
	op o = {0, &f->sup, sd, "task", id, "shift/sh-1", "site-a", bid, 1000, 1,
	        NULL, &r0, NULL};
	write_both(f, &o, form);

	r1 = copy(f, &r0);
	set(f, &r1, "status", str_of("done"), 200, td);   /* new field */
	set(f, &r1, "note", str_of("fixed"), 200, td);    /* old origin none */
	set(f, &r1, "photo", bin, 200, td);               /* same value, new stamp */
	set(f, &r1, "count", wv_of_u64(1), 200, td);
	o = (op){0, &f->tech, td, "task", id, "shift/sh-1", "site-a", bid, 2000,
	         7, &r0, &r1, NULL};
	write_both(f, &o, form);

	r2 = copy(f, &r1);
	set(f, &r2, "done_at", wv_of_u64(123456789), 300, "server");
	set(f, &r2, "flag", wv_of_bool(0), 300, td);
	o = (op){0, &f->tech, td, "task", id, "orders", NULL, NULL, 3000, 9,
	         &r1, &r2, NULL};
	write_both(f, &o, form);
}

/* Every way of asking: admin and supervisors, msgpack and JSON, whole and
 * a page at a time. */
static void compare_all(fixture *f, const char *id)
{
	size_t len = 0;
	for (int json = 0; json < 2; json++) {
		assert_int_equal(same_answer(f, &f->admin, "task", id, 0, 100, json,
		                             &len), FS_OK);
		assert_true(len > 200);
		assert_int_equal(same_answer(f, &f->sup, "task", id, 0, 100, json,
		                             NULL), FS_OK);
		assert_int_equal(same_answer(f, &f->sup_b, "task", id, 0, 100, json,
		                             NULL), FS_E_NOT_FOUND);
		uint64_t seqs[] = {0, 1, 7, 9};
		for (size_t i = 0; i < 4; i++)
			assert_int_equal(same_answer(f, &f->admin, "task", id, seqs[i],
			                             1, json, NULL), FS_OK);
	}
}

static void test_v2_served_as_v1(void **st)
{
	fixture *f = *st;
	task_history(f, "t-1", -1);
	compare_all(f, "t-1");
}

/* An old store (v1 entries) upgraded: its history, then new writes in
 * v2, read as one history — the same as an all-v1 store's. */
static void test_old_store_then_new_entries(void **st)
{
	fixture *f = *st;
	task_history(f, "t-2", 1); /* both stores: v1 */
	record r;
	rec_init(&r);
	set(f, &r, "status", str_of("open"), 400, f->sup.device);
	record old;
	rec_init(&old);
	set(f, &old, "status", str_of("done"), 200, f->tech.device);
	op o = {0, &f->sup, f->sup.device, "task", "t-2", "shift/sh-1",
	        "site-a", NULL, 4000, 12, &old, &r, NULL};
	write_both(f, &o, -1);      /* x[0] v1, x[1] v2 */
	compare_all(f, "t-2");
	size_t len;
	assert_int_equal(same_answer(f, &f->admin, "task", "t-2", 9, 5, 0, &len),
	                 FS_OK);
}

/* The v2 entry is the smaller one (what the writer's commit carries). */
static void test_v2_smaller(void **st)
{
	fixture *f = *st;
	task_history(f, "t-3", -1);
	size_t n[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		store_txn *t;
		assert_int_equal(store_begin(engine_store(f->x[i].e), 0, &t), FS_OK);
		uint8_t k[32];
		memcpy(k, "rtask\0t-3\0", 10);
		be64_put(k + 10, 7);
		sv v;
		assert_int_equal(store_get(t, ST_AUDIT, sv_of(k, 18), &v), FS_OK);
		n[i] = v.n;
		store_abort(t);
	}
	assert_true(n[1] * 10 < n[0] * 7); /* under 70 % of v1 */
}

static int put_raw(void *ctx, store_txn *t)
{
	const sv *kv = ctx;
	return store_put(t, ST_AUDIT, kv[0], kv[1]);
}

/* Bytes that are not an entry (cut short, a count past the end, a wrong
 * type) are skipped: the other entries are still served. */
static void test_bad_v2_skipped(void **st)
{
	fixture *f = *st;
	task_history(f, "t-4", -1);
	static const char *const bad[] = {
		"\x02",                         /* nothing after the version */
		"\x02\x93\x01\x02\x03",         /* too few items */
		"\x02\x99\x01\xa1s\xa1r\xa1" "d\xc0\xa1" "b\xc0\xc2\xcd\xff\xff",
		                                /* 65535 changes, none there */
		"\x02\x9e\x01\xa1s\xa1r\xa1" "d\xc0\xa1" "b\xc0\xc2\x01\xa1" "f"
		"\xa1x\xa1v\x01",               /* flags not an integer */
	};
	size_t lens[] = {1, 5, 18, 22};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		uint8_t k[32];
		memcpy(k, "rtask\0t-4\0", 10);
		be64_put(k + 10, 100 + i);
		sv kv[2] = {sv_of(k, 18), sv_of(bad[i], lens[i])};
		assert_int_equal(engine_write(f->x[1].e, put_raw, kv), FS_OK);
	}
	wbuf out;
	wb_init(&out);
	const char *msg = NULL;
	assert_int_equal(audit_history(f->x[1].e, &f->admin, "task", "t-4", 0,
	                               100, 0, f->a, &out, &msg), FS_OK);
	wval *m;
	assert_int_equal(wire_decode(f->a, out.p, out.n, &m), FS_OK);
	const wval *e = wv_get(m, "entries");
	assert_non_null(e);
	assert_int_equal(e->a.n, 3);
	uint64_t next = 0;
	assert_true(wv_u64(wv_get(m, "next"), &next));
	assert_int_equal(next, 9);
	wb_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2_served_as_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_store_then_new_entries, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_v2_smaller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_v2_skipped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
