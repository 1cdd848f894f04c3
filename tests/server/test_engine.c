/* test_engine.c — the core (server/core/) on a real store with stub write
 * hooks: merge by last writer wins, acks and dup, derived fields, hooks
 * called in order inside the writer's transaction, and a hook failure
 * aborting the write exactly as a store error does (protocol/PROTOCOL.md:
 * the batch is answered UNAVAILABLE, nothing of it is stored, a resend
 * applies it).
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

#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/opbuild.h"
#include "protocol/record.h"
#include "server/core/engine.h"
#include "server/model/device.h"
#include "server/model/records.h"
#include "server/store/store.h"

/* ---- stub hooks: a log of calls, and a switch to fail ------------------- */

typedef struct {
	char log[4096];
	int fail_records; /* on_record of hook "b" fails while set */
	unsigned acks;
} hooklog;

static hooklog hl;

static int hook_a(void *ctx, const write_event *ev)
{
	char line[256];
	snprintf(line, sizeof(line), "a:%s/%s@%s%s;", ev->c, ev->id, ev->bucket,
	         ev->old ? "(upd)" : "");
	strcat(hl.log, line);
	/* the record is already stored, in the hook's own transaction */
	sv v;
	assert_int_equal(store_rec_get(ev->t, ev->c, ev->id, &v, NULL, NULL),
	                 FS_OK);
	return FS_OK;
}

static int hook_b(void *ctx, const write_event *ev)
{
	strcat(hl.log, "b;");
	return hl.fail_records ? FS_E_UNAVAILABLE : FS_OK;
}

static int hook_ack(void *ctx, store_txn *t, sv key, uint64_t t_ms)
{
	hl.acks++;
	return FS_OK;
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct {
	char dir[64];
	store *s;
	engine *e;
	principal admin, guard;
	uint8_t next_bid;
} fixture;

static int setup(void **st)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/fs_engine_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	store_opts so;
	memset(&so, 0, sizeof(so));
	so.map_mb = 32;
	assert_int_equal(store_open(&f->s, f->dir, &so), FS_OK);
	engine_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	fs_limits_default(&cfg.lim);
	assert_int_equal(engine_open(&f->e, f->s, &cfg), FS_OK);
	write_hook a = {"a", hook_a, NULL, NULL, NULL, NULL};
	write_hook b = {"b", hook_b, hook_ack, NULL, NULL, NULL};
	assert_int_equal(engine_add_hook(f->e, &a), FS_OK);
	assert_int_equal(engine_add_hook(f->e, &b), FS_OK);
	memset(&hl, 0, sizeof(hl));
	snprintf(f->admin.device, sizeof(f->admin.device), "adm-dev");
	snprintf(f->admin.staff, sizeof(f->admin.staff), "admin");
	f->admin.role = ROLE_ADMIN;
	snprintf(f->guard.device, sizeof(f->guard.device), "g-dev");
	snprintf(f->guard.staff, sizeof(f->guard.staff), "g1");
	snprintf(f->guard.site, sizeof(f->guard.site), "sa");
	f->guard.role = ROLE_GUARD;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	fixture *f = *st;
	engine_close(f->e);
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Push one batch (id bid, by `by` unless NULL) of o as p; the ack. */
static engine_ack push_by(fixture *f, const principal *p, opbatch *o,
                          uint8_t bid, const uint8_t *dev, size_t dev_n,
                          const char *by)
{
	uint8_t id[16] = {0};
	id[0] = bid;
	wbuf b;
	wb_init(&b);
	wb_arr(&b, 1);
	ob_batch(&b, o, id, by);
	arena *a = arena_new(0);
	engine_ack *acks;
	uint32_t n;
	const char *msg = NULL;
	assert_int_equal(engine_push(f->e, &(engine_push_req){p, 0, b.p, b.n, dev,
	                                                      dev_n, 0},
	                             a, &acks, &n, &msg), FS_OK);
	assert_int_equal(n, 1);
	engine_ack r = acks[0];
	r.err = r.err ? "err" : NULL; /* the arena goes */
	r.first_msg = NULL;
	wb_free(&b);
	arena_free(a);
	return r;
}

static engine_ack push(fixture *f, const principal *p, opbatch *o,
                       uint8_t bid, const uint8_t *dev, size_t dev_n)
{
	return push_by(f, p, o, bid, dev, dev_n, NULL);
}

/* Field `name` of (c, id) as a string ("" when absent), and its stamp. */
static const char *field(fixture *f, const char *c, const char *id,
                         const char *name, uint64_t *hlc)
{
	static char out[256];
	store_txn *t;
	arena *a = arena_new(0);
	record r;
	out[0] = 0;
	assert_int_equal(store_begin(f->s, 0, &t), FS_OK);
	if (records_load(t, a, c, id, &r, NULL, NULL) == FS_OK) {
		const rfield *fl = rec_get(&r, name);
		if (fl && fl->val.t == WV_STR)
			snprintf(out, sizeof(out), "%.*s", (int)fl->val.s.n,
			         fl->val.s.p);
		else if (fl && fl->val.t == WV_UINT)
			snprintf(out, sizeof(out), "%llu",
			         (unsigned long long)fl->val.u);
		if (fl && hlc)
			*hlc = fl->st.hlc;
	}
	store_abort(t);
	arena_free(a);
	return out;
}

static void setup_site(fixture *f)
{
	opbatch o;
	ob_init(&o);
	uint64_t now = engine_now(f->e);
	ob_op(&o, "site", "sa", engine_hlc_now(f->e), 1);
	ob_str(&o, "name", "Site A");
	ob_op(&o, "staff", "g1", engine_hlc_now(f->e), 2);
	ob_str(&o, "site", "sa");
	ob_str(&o, "role", "guard");
	ob_op(&o, "shift", "sh1", engine_hlc_now(f->e), 4);
	ob_str(&o, "site", "sa");
	ob_u64(&o, "starts", now - 3600000);
	ob_u64(&o, "ends", now + 3600000);
	const char *crew[] = {"g1"};
	ob_strs(&o, "staff", crew, 1);
	engine_ack k = push(f, &f->admin, &o, 200, NULL, 0);
	assert_int_equal(k.applied, 3);
	ob_free(&o);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_lww_merge(void **st)
{
	fixture *f = *st;
	uint64_t h = engine_hlc_now(f->e);
	opbatch o;
	ob_init(&o);
	ob_op(&o, "zone", "z1", h + 10, 2);
	ob_str(&o, "site", "sa");
	ob_str(&o, "name", "ten");
	assert_int_equal(push(f, &f->admin, &o, 1, NULL, 0).applied, 1);
	ob_reset(&o);
	/* an older stamp loses, field by field; the op still counts, but
	 * nothing is written: no hook runs (no audit entry for a lost op) */
	ob_op(&o, "zone", "z1", h + 5, 1);
	ob_str(&o, "name", "five");
	hl.log[0] = 0;
	assert_int_equal(push(f, &f->admin, &o, 2, NULL, 0).applied, 1);
	assert_string_equal(hl.log, "");
	uint64_t got;
	assert_string_equal(field(f, "zone", "z1", "name", &got), "ten");
	assert_int_equal(got, h + 10);
	/* a newer one wins */
	ob_reset(&o);
	ob_op(&o, "zone", "z1", h + 20, 1);
	ob_str(&o, "name", "twenty");
	assert_int_equal(push(f, &f->admin, &o, 3, NULL, 0).applied, 1);
	assert_string_equal(field(f, "zone", "z1", "name", &got), "twenty");
	assert_string_equal(field(f, "zone", "z1", "site", NULL), "sa");
	/* the same stamp from a bigger origin wins the tie (record.h) */
	principal other = f->admin;
	snprintf(other.device, sizeof(other.device), "zzz-dev");
	ob_reset(&o);
	ob_op(&o, "zone", "z1", h + 20, 1);
	ob_str(&o, "name", "tie");
	assert_int_equal(push(f, &other, &o, 4, NULL, 0).applied, 1);
	assert_string_equal(field(f, "zone", "z1", "name", NULL), "tie");
	ob_free(&o);
}

static void test_acks_dup(void **st)
{
	fixture *f = *st;
	opbatch o;
	ob_init(&o);
	ob_op(&o, "zone", "z2", engine_hlc_now(f->e), 2);
	ob_str(&o, "site", "sa");
	ob_str(&o, "name", "n");
	ob_op(&o, "nosuch", "x", engine_hlc_now(f->e), 0);
	engine_ack k = push(f, &f->admin, &o, 9, NULL, 0);
	assert_int_equal(k.applied, 1);
	assert_int_equal(k.rejected, 1);
	assert_false(k.dup);
	unsigned acks = hl.acks;
	/* the same batch id again: the stored ack, marked dup, nothing
	 * applied twice and no second ack stored */
	k = push(f, &f->admin, &o, 9, NULL, 0);
	assert_true(k.dup);
	assert_int_equal(k.applied, 1);
	assert_int_equal(k.rejected, 1);
	assert_int_equal(hl.acks, acks);
	engine_stats s;
	engine_get_stats(f->e, &s);
	assert_int_equal(s.batches_dup, 1);
	assert_true(s.ops_rejected[FS_E_UNKNOWN_COLLECTION] >= 1);
	ob_free(&o);
}

static void test_hooks_in_order(void **st)
{
	fixture *f = *st;
	opbatch o;
	ob_init(&o);
	ob_op(&o, "zone", "z3", engine_hlc_now(f->e), 1);
	ob_str(&o, "site", "sa");
	ob_op(&o, "zone", "z3", engine_hlc_now(f->e), 1);
	ob_str(&o, "name", "x");
	hl.log[0] = 0;
	unsigned acks = hl.acks;
	assert_int_equal(push(f, &f->admin, &o, 10, NULL, 0).applied, 2);
	assert_string_equal(hl.log, "a:zone/z3@site/sa;b;a:zone/z3@site/sa(upd);b;");
	assert_int_equal(hl.acks, acks + 1);
	ob_free(&o);
}

static void test_hook_failure_aborts(void **st)
{
	fixture *f = *st;
	opbatch o;
	ob_init(&o);
	ob_op(&o, "zone", "z4", engine_hlc_now(f->e), 2);
	ob_str(&o, "site", "sa");
	ob_str(&o, "name", "n");
	hl.fail_records = 1;
	engine_ack k = push(f, &f->admin, &o, 11, NULL, 0);
	assert_non_null(k.err);
	assert_int_equal(k.applied, 0);
	assert_string_equal(field(f, "zone", "z4", "name", NULL), "");
	engine_stats s;
	engine_get_stats(f->e, &s);
	assert_true(s.batches_unavailable >= 1);
	/* nothing was kept of it: the resend is applied, not a dup */
	hl.fail_records = 0;
	k = push(f, &f->admin, &o, 11, NULL, 0);
	assert_null(k.err);
	assert_false(k.dup);
	assert_int_equal(k.applied, 1);
	assert_string_equal(field(f, "zone", "z4", "name", NULL), "n");
	ob_free(&o);
}

static void test_derived_checkin(void **st)
{
	fixture *f = *st;
	setup_site(f);
	uint64_t now = engine_now(f->e);
	/* without an anchor: unverified, estimated from the device's clock
	 * corrected by its skew */
	opbatch o;
	ob_init(&o);
	ob_op(&o, "checkin", "ck1", engine_hlc_now(f->e), 4);
	ob_str(&o, "shift", "sh1");
	ob_str(&o, "staff", "g1");
	ob_str(&o, "checkpoint", "cp1");
	ob_u64(&o, "at", now - 1000);
	engine_ack k = push(f, &f->guard, &o, 20, NULL, 0);
	assert_int_equal(k.applied, 1);
	assert_string_equal(field(f, "checkin", "ck1", "trust", NULL),
	                    "unverified");
	assert_string_equal(field(f, "checkin", "ck1", "at_est", NULL),
	                    field(f, "checkin", "ck1", "at", NULL));
	uint64_t rcv = strtoull(field(f, "checkin", "ck1", "rcv", NULL), NULL, 10);
	assert_true(rcv >= now);
	/* with the device's boot anchor (dev.boot/mono in the same push): a
	 * capture time that agrees with it is verified */
	wbuf dev;
	wb_init(&dev);
	wb_map(&dev, 3);
	wb_cstr(&dev, "boot");
	wb_cstr(&dev, "b1");
	wb_cstr(&dev, "mono");
	wb_u64(&dev, 500000);
	wb_cstr(&dev, "wall");
	wb_u64(&dev, now);
	ob_reset(&o);
	ob_op(&o, "checkin", "ck2", engine_hlc_now(f->e), 6);
	ob_str(&o, "shift", "sh1");
	ob_str(&o, "staff", "g1");
	ob_str(&o, "checkpoint", "cp2");
	ob_u64(&o, "at", now - 2000);
	ob_str(&o, "boot", "b1");
	ob_u64(&o, "mono", 498000);
	assert_int_equal(push(f, &f->guard, &o, 21, dev.p, dev.n).applied, 1);
	assert_string_equal(field(f, "checkin", "ck2", "trust", NULL), "verified");
	/* a checkin is evidence: the same values again are fine, others not */
	assert_int_equal(push(f, &f->guard, &o, 22, dev.p, dev.n).applied, 1);
	ob_reset(&o);
	ob_op(&o, "checkin", "ck2", engine_hlc_now(f->e), 4);
	ob_str(&o, "shift", "sh1");
	ob_str(&o, "staff", "g1");
	ob_str(&o, "checkpoint", "elsewhere");
	ob_u64(&o, "at", now - 2000);
	k = push(f, &f->guard, &o, 23, NULL, 0);
	assert_int_equal(k.applied, 0);
	assert_int_equal(k.rejected, 1);
	wb_free(&dev);
	ob_free(&o);
}

static void test_derived_order(void **st)
{
	fixture *f = *st;
	opbatch o;
	ob_init(&o);
	uint64_t t0 = 1700000000000ULL;
	ob_op(&o, "order", "o1", engine_hlc_now(f->e), 4);
	ob_str(&o, "site", "sa");
	ob_str(&o, "category", "elevator_entrapment");
	ob_str(&o, "reporter", "admin");
	ob_u64(&o, "reported_at", t0);
	assert_int_equal(push(f, &f->admin, &o, 30, NULL, 0).applied, 1);
	char want[32];
	snprintf(want, sizeof(want), "%llu", (unsigned long long)(t0 + 5 * 60000));
	uint64_t h;
	assert_string_equal(field(f, "order", "o1", "respond_by", &h), want);
	assert_string_equal(field(f, "order", "o1", "resolve_by", NULL), "");
	/* a repair is due by resolve_by, 24 h */
	ob_reset(&o);
	ob_op(&o, "order", "o1", engine_hlc_now(f->e), 1);
	ob_str(&o, "category", "repair");
	assert_int_equal(push(f, &f->admin, &o, 31, NULL, 0).applied, 1);
	snprintf(want, sizeof(want), "%llu",
	         (unsigned long long)(t0 + 24 * 60 * 60000));
	assert_string_equal(field(f, "order", "o1", "resolve_by", NULL), want);
	assert_string_equal(field(f, "order", "o1", "respond_by", NULL), "");
	/* devices may not write what the server fills */
	ob_reset(&o);
	ob_op(&o, "order", "o1", engine_hlc_now(f->e), 1);
	ob_u64(&o, "resolve_by", 1);
	engine_ack k = push(f, &f->admin, &o, 32, NULL, 0);
	assert_int_equal(k.rejected, 1);
	ob_free(&o);
}

static void test_bad_push_refused_whole(void **st)
{
	fixture *f = *st;
	uint8_t junk[] = {0x91, 0x01}; /* [1]: a batch that is not a map */
	arena *a = arena_new(0);
	engine_ack *acks;
	uint32_t n;
	const char *msg = NULL;
	assert_int_equal(engine_push(f->e, &(engine_push_req){&f->admin, 0, junk,
	                                                      sizeof(junk), NULL, 0, 0},
	                             a, &acks, &n, &msg), FS_E_BAD_REQUEST);
	assert_non_null(msg);
	arena_free(a);
}

/* Issue 10: a record may not lie about its site; a named record of
 * another site is refused, a missing one is not held against the op. */
static void test_sites_agree(void **st)
{
	fixture *f = *st;
	setup_site(f);
	uint64_t now = engine_now(f->e);
	opbatch o;
	ob_init(&o);
	ob_op(&o, "site", "sb", engine_hlc_now(f->e), 1);
	ob_str(&o, "name", "Site B");
	ob_op(&o, "staff", "gb", engine_hlc_now(f->e), 2);
	ob_str(&o, "site", "sb");
	ob_str(&o, "role", "guard");
	assert_int_equal(push(f, &f->admin, &o, 30, NULL, 0).applied, 2);
	ob_reset(&o);
	ob_op(&o, "checkin", "ck-lie", engine_hlc_now(f->e), 4);
	ob_str(&o, "site", "sb");
	ob_str(&o, "shift", "sh1");
	ob_str(&o, "staff", "g1");
	ob_u64(&o, "at", now - 1000);
	engine_ack k = push(f, &f->guard, &o, 31, NULL, 0);
	assert_int_equal(k.rejected, 1);
	ob_reset(&o);
	ob_op(&o, "task", "tk-lie", engine_hlc_now(f->e), 3);
	ob_str(&o, "shift", "sh1");
	ob_str(&o, "title", "x");
	ob_str(&o, "assignee", "gb");
	assert_int_equal(push(f, &f->admin, &o, 32, NULL, 0).rejected, 1);
	ob_reset(&o);
	ob_op(&o, "task", "tk-ok", engine_hlc_now(f->e), 3);
	ob_str(&o, "shift", "sh1");
	ob_str(&o, "title", "x");
	ob_str(&o, "assignee", "not-yet-synced");
	assert_int_equal(push(f, &f->admin, &o, 33, NULL, 0).applied, 1);
	ob_free(&o);
}

/* Issue 10: `by` credits only ops inside a session held on the device,
 * up to a PIN change. */
/* A new order reported by g2 (its rights: G_REPORTER). */
static void order_by_g2(opbatch *o, const char *id, uint64_t s)
{
	ob_op(o, "order", id, s, 4);
	ob_str(o, "site", "sa");
	ob_str(o, "title", "tap");
	ob_str(o, "reporter", "g2");
	ob_str(o, "status", "reported");
}

static void test_by_sessions(void **st)
{
	const uint64_t H = 3600000;
	fixture *f = *st;
	setup_site(f);
	opbatch o;
	ob_init(&o);
	ob_op(&o, "staff", "g2", engine_hlc_now(f->e), 2);
	ob_str(&o, "site", "sa");
	ob_str(&o, "role", "guard");
	assert_int_equal(push(f, &f->admin, &o, 40, NULL, 0).applied, 1);
	uint64_t now = engine_now(f->e);
	store_txn *t;
	assert_int_equal(store_begin(f->s, 1, &t), FS_OK);
	/* g2 held g1's handheld from 3 h to 1 h ago */
	assert_int_equal(device_session_open(t, "g-dev", "g2", ROLE_GUARD,
	                                     now - 3 * H, now - H), FS_OK);
	assert_int_equal(store_commit(t), FS_OK);
	uint64_t s_in = HLC_MAKE(now - 2 * H, 0);
	ob_reset(&o);
	order_by_g2(&o, "o-in", s_in);
	order_by_g2(&o, "o-before", HLC_MAKE(now - 4 * H, 0));
	order_by_g2(&o, "o-after", HLC_MAKE(now - 60000, 0));
	engine_ack k = push_by(f, &f->guard, &o, 41, NULL, 0, "g2");
	assert_int_equal(k.applied, 1);
	assert_int_equal(k.rejected, 2);
	/* a PIN change 2.5 h ago cuts even what was left */
	assert_int_equal(store_begin(f->s, 1, &t), FS_OK);
	assert_int_equal(device_sessions_cut(t, "g2", now - 5 * H / 2), FS_OK);
	assert_int_equal(store_commit(t), FS_OK);
	ob_reset(&o);
	order_by_g2(&o, "o-in2", s_in);
	assert_int_equal(push_by(f, &f->guard, &o, 43, NULL, 0, "g2").rejected, 1);
	/* a staff member who never held the device: the batch is refused */
	assert_non_null(push_by(f, &f->guard, &o, 44, NULL, 0, "g9").err);
	ob_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lww_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acks_dup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_failure_aborts, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_derived_checkin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_push_refused_whole, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_sites_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_sessions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
