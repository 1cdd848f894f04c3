/* test_nodes.c — two engines (two nodes) on one PostgreSQL store, as two
 * fieldsyncd processes behind a load balancer are: the shared clock (a
 * node whose wall clock is behind still stamps above what another node
 * committed, so a later write wins by last writer wins), other nodes'
 * commits reaching the engine's listeners (store_watch ->
 * engine_remote_changes, /v1/live's path), and generated pushes
 * (genpush.h) that two nodes make from the same stale plan writing once.
 * Runs when FS_TEST_PG_URL names a throwaway database (tests/pgcluster.py
 * start DIR prints one);
 * skipped otherwise, since LMDB has one process per store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/opbuild.h"
#include "protocol/record.h"
#include "server/core/engine.h"
#include "server/model/records.h"
#include "server/store/store.h"
#include "server/svc/genpush.h"

#define BEHIND_MS 60000 /* node B's clock is a minute behind A's */

typedef struct {
	store *sa, *sb;
	engine *ea, *eb;
	principal admin;
	/* what node B's listener saw of other nodes' commits */
	pthread_mutex_t mu;
	char seen[1024];
	unsigned calls;
} fixture;

static const char *pg_url;

/* B's engine gets what the store's watch thread hands over, as main.c's
 * serve does. */
static void to_engine(void *ctx, char **buckets, unsigned n)
{
	fixture *f = ctx;
	engine_remote_changes(f->eb, buckets, n);
}

static void listener(void *ctx, char **buckets, unsigned n)
{
	fixture *f = ctx;
	pthread_mutex_lock(&f->mu);
	f->calls++;
	for (unsigned i = 0; i < n; i++)
		if (strlen(f->seen) + strlen(buckets[i]) + 2 < sizeof(f->seen)) {
			strcat(f->seen, buckets[i]);
			strcat(f->seen, ";");
		}
	pthread_mutex_unlock(&f->mu);
}

static store *open_pg(void)
{
	store_opts o;
	store *s = NULL;
	memset(&o, 0, sizeof o);
	o.create = 1;
	assert_int_equal(store_open(&s, pg_url, &o), FS_OK);
	assert_non_null(s);
	return s;
}

static int setup(void **st)
{
	fixture *f = calloc(1, sizeof *f);
	store_txn *t;
	engine_cfg cfg;

	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	f->sa = open_pg();
	assert_int_equal(store_begin(f->sa, 1, &t), FS_OK);
	assert_int_equal(store_debug_clear(t), FS_OK);
	assert_int_equal(store_commit(t), FS_OK);
	f->sb = open_pg();
	memset(&cfg, 0, sizeof cfg);
	fs_limits_default(&cfg.lim);
	assert_int_equal(engine_open(&f->ea, f->sa, &cfg), FS_OK);
	cfg.clock_offset_ms = -BEHIND_MS;
	assert_int_equal(engine_open(&f->eb, f->sb, &cfg), FS_OK);
	snprintf(f->admin.device, sizeof f->admin.device, "adm-dev");
	snprintf(f->admin.staff, sizeof f->admin.staff, "admin");
	f->admin.role = ROLE_ADMIN;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	fixture *f = *st;
	engine_close(f->ea);
	engine_close(f->eb);
	store_close(f->sa); /* ends its watch thread, if any */
	store_close(f->sb);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return 0;
}

static void push(engine *e, const principal *p, opbatch *o, uint8_t bid,
                 uint32_t applied)
{
	uint8_t id[16] = {0};
	wbuf b;
	arena *a = arena_new(0);
	engine_ack *acks;
	uint32_t n;
	const char *msg = NULL;

	id[0] = bid;
	id[1] = 0x5a;
	wb_init(&b);
	wb_arr(&b, 1);
	ob_batch(&b, o, id, NULL);
	assert_int_equal(engine_push(e, &(engine_push_req){p, 0, b.p, b.n, NULL,
	                                                   0, 0},
	                             a, &acks, &n, &msg), FS_OK);
	assert_int_equal(n, 1);
	assert_null(acks[0].err);
	assert_int_equal(acks[0].applied, applied);
	wb_free(&b);
	arena_free(a);
}

/* Field `name` of (c, id) as read through store s ("" when absent), its
 * stamp, and the record's seq. */
static const char *field(store *s, const char *c, const char *id,
                         const char *name, uint64_t *hlc, uint64_t *seq)
{
	static char out[256];
	store_txn *t;
	arena *a = arena_new(0);
	record r;

	out[0] = 0;
	assert_int_equal(store_begin(s, 0, &t), FS_OK);
	if (records_load(t, a, c, id, &r, NULL, seq) == FS_OK) {
		const rfield *fl = rec_get(&r, name);
		if (fl && fl->val.t == WV_STR)
			snprintf(out, sizeof out, "%.*s", (int)fl->val.s.n,
			         fl->val.s.p);
		if (fl && hlc)
			*hlc = fl->st.hlc;
	}
	store_abort(t);
	arena_free(a);
	return out;
}

/* The "hlc" of a pull-only sync answer from engine e, as a device gets it. */
static uint64_t sync_hlc(engine *e, const principal *p)
{
	arena *a = arena_new(0);
	wbuf req, out;
	wval *v, *ans;
	const char *msg = NULL;
	uint64_t h = 0;

	wb_init(&req);
	wb_init(&out);
	wb_map(&req, 1);
	wb_cstr(&req, "v");
	wb_u64(&req, 1);
	assert_int_equal(wire_decode(a, req.p, req.n, &v), FS_OK);
	assert_int_equal(engine_sync(e, p, v, engine_now(e), a, &out, &msg),
	                 FS_OK);
	assert_int_equal(wire_decode(a, out.p, out.n, &ans), FS_OK);
	assert_true(wv_u64(wv_get(ans, "hlc"), &h));
	wb_free(&req);
	wb_free(&out);
	arena_free(a);
	return h;
}

/* Node A writes site sa (named after the batch id, so each is a change). */
static void site_on_a(fixture *f, uint8_t bid)
{
	opbatch o;
	char name[32];
	snprintf(name, sizeof name, "Site A %u", bid);
	ob_init(&o);
	ob_op(&o, "site", "sa", engine_hlc_now(f->ea), 1);
	ob_str(&o, "name", name);
	push(f->ea, &f->admin, &o, bid, 1);
	ob_free(&o);
}

/* ---- the shared clock -------------------------------------------------------- */

static void test_clock_behind_node_wins_later(void **st)
{
	fixture *f = *st;
	opbatch o;
	uint64_t ha = 0, hb = 0, h;

	site_on_a(f, 1);
	/* A writes a zone's name */
	ob_init(&o);
	ob_op(&o, "zone", "z1", engine_hlc_now(f->ea), 2);
	ob_str(&o, "site", "sa");
	ob_str(&o, "name", "from A");
	push(f->ea, &f->admin, &o, 2, 1);
	assert_string_equal(field(f->sa, "zone", "z1", "name", &ha, NULL),
	                    "from A");
	/* B's wall clock is a minute behind A's: its own stamps would lose */
	assert_true(HLC_WALL(ha) > engine_now(f->eb) + BEHIND_MS / 2);
	/* a device syncing with B gets an hlc above A's committed stamp */
	h = sync_hlc(f->eb, &f->admin);
	assert_true(h > ha);
	/* and B's own stamps are above it from then on: its later write of
	 * the same field wins, as last writer wins says */
	ob_reset(&o);
	ob_op(&o, "zone", "z1", engine_hlc_now(f->eb), 1);
	ob_str(&o, "name", "from B");
	push(f->eb, &f->admin, &o, 3, 1);
	assert_string_equal(field(f->sa, "zone", "z1", "name", &hb, NULL),
	                    "from B");
	assert_true(hb > ha);
	/* B's writer noted its clock in the store: A observes it on its next
	 * write transaction (a pull-only sync), and A's write after B's wins */
	h = sync_hlc(f->ea, &f->admin);
	assert_true(h > hb);
	ob_reset(&o);
	ob_op(&o, "zone", "z1", engine_hlc_now(f->ea), 1);
	ob_str(&o, "name", "A again");
	push(f->ea, &f->admin, &o, 4, 1);
	assert_string_equal(field(f->sb, "zone", "z1", "name", NULL, NULL),
	                    "A again");
	ob_free(&o);
}

/* ---- other nodes' commits ------------------------------------------------------ */

static void test_watch_reaches_listeners(void **st)
{
	fixture *f = *st;
	opbatch o;
	unsigned calls;

	assert_int_equal(store_watch(f->sb, to_engine, f), FS_OK);
	assert_int_equal(engine_add_notify(f->eb, listener, f), FS_OK);
	/* the watch thread LISTENs on a connection of its own: give it time
	 * to be there before A commits */
	for (int i = 0; i < 50; i++) {
		site_on_a(f, (uint8_t)(100 + i));
		pthread_mutex_lock(&f->mu);
		calls = f->calls;
		pthread_mutex_unlock(&f->mu);
		if (calls)
			break;
		nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
	}
	assert_true(calls > 0);
	/* a site committed by A reaches B's listener with its bucket */
	pthread_mutex_lock(&f->mu);
	f->seen[0] = 0;
	pthread_mutex_unlock(&f->mu);
	ob_init(&o);
	ob_op(&o, "site", "sw", engine_hlc_now(f->ea), 1);
	ob_str(&o, "name", "watched");
	push(f->ea, &f->admin, &o, 9, 1);
	int got = 0;
	for (int i = 0; i < 100 && !got; i++) {
		pthread_mutex_lock(&f->mu);
		got = strstr(f->seen, "site/sw;") != NULL;
		pthread_mutex_unlock(&f->mu);
		if (!got)
			nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
	}
	if (!got)
		print_error("seen: %s\n", f->seen);
	assert_true(got);
	/* B's own commit reaches its listener once, from its writer: the
	 * watch thread drops the store's own NOTIFY */
	pthread_mutex_lock(&f->mu);
	calls = f->calls;
	pthread_mutex_unlock(&f->mu);
	ob_reset(&o);
	ob_op(&o, "site", "sb", engine_hlc_now(f->eb), 1);
	ob_str(&o, "name", "by B");
	push(f->eb, &f->admin, &o, 10, 1);
	nanosleep(&(struct timespec){0, 500 * 1000000L}, NULL);
	pthread_mutex_lock(&f->mu);
	assert_int_equal(f->calls, calls + 1);
	pthread_mutex_unlock(&f->mu);
	engine_remove_notify(f->eb, listener, f);
	ob_free(&o);
}

/* ---- generated records: once, never twice --------------------------------- */

/* What a generator on engine e pushes from a plan that read nothing yet
 * (a stale read: the other node's commit came after it). */
static void generate(engine *e, const char *id, const char *name)
{
	gp_out o;
	gp_field w[] = {{"site", wv_of_str("sa")}, {"name", wv_of_str(name)}};
	int wrote;

	memset(&o, 0, sizeof o);
	o.e = e;
	o.a = arena_new(0);
	o.untouched_only = 1;
	assert_int_equal(gp_add(&o, "zone", id, NULL, w, 2, &wrote), FS_OK);
	assert_int_equal(gp_push_all(&o, NULL, "test"), FS_OK);
	gp_free(&o);
	arena_free(o.a);
}

static void test_generated_once(void **st)
{
	fixture *f = *st;
	uint64_t seq1 = 0, seq2 = 0, h1 = 0, h2 = 0;
	opbatch o;

	site_on_a(f, 1);
	/* both nodes plan the same record from the same snapshot */
	generate(f->ea, "gz", "planned");
	assert_string_equal(field(f->sb, "zone", "gz", "name", &h1, &seq1),
	                    "planned");
	generate(f->eb, "gz", "planned");
	assert_string_equal(field(f->sb, "zone", "gz", "name", &h2, &seq2),
	                    "planned");
	assert_int_equal(seq2, seq1); /* B wrote nothing */
	assert_int_equal(h2, h1);
	/* a person renames it; a generator whose plan predates that (it saw
	 * the record untouched) does not undo the person's write, though B's
	 * clock is behind and its stamp is made after the person's */
	ob_init(&o);
	ob_op(&o, "zone", "gz", sync_hlc(f->ea, &f->admin) + 1, 1);
	ob_str(&o, "name", "renamed by hand");
	push(f->ea, &f->admin, &o, 7, 1);
	ob_free(&o);
	generate(f->eb, "gz", "planned again");
	assert_string_equal(field(f->sa, "zone", "gz", "name", NULL, NULL),
	                    "renamed by hand");
	/* an untouched one the plan changes is changed, stamped above every
	 * committed stamp although B's wall clock is a minute behind */
	generate(f->ea, "gy", "first");
	assert_string_equal(field(f->sa, "zone", "gy", "name", &h1, NULL),
	                    "first");
	generate(f->eb, "gy", "second");
	assert_string_equal(field(f->sa, "zone", "gy", "name", &h2, NULL),
	                    "second");
	assert_true(h2 > h1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clock_behind_node_wins_later,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_reaches_listeners,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_generated_once, setup,
		                                teardown),
	};
	pg_url = getenv("FS_TEST_PG_URL");
	if (!pg_url || !*pg_url) {
		printf("[  SKIPPED ] %zu test(s): FS_TEST_PG_URL is not set "
		       "(two nodes need a PostgreSQL store)\n",
		       sizeof tests / sizeof tests[0]);
		return 0;
	}
	return cmocka_run_group_tests_name("two nodes", tests, NULL, NULL);
}
