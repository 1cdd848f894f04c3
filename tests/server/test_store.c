/* test_store.c — store.h over LMDB: records and the bucket index (moves,
 * gone entries, heads and floors), tables, the store id, durability,
 * the integrity walk, a full map and its growth, the failed-commit hook,
 * and readers running while the writer commits.  When FS_TEST_PG_URL names
 * a (throwaway) PostgreSQL database, the same cases run on store_pg.c too
 * (the store is emptied before each), with what only several processes
 * on one database have: see the "PostgreSQL" part below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/store/store.h"

typedef struct {
	char dir[64];
	store *s;
} fixture;

/* FS_TEST_PG_URL while the PostgreSQL group runs, else NULL */
static const char *pg_url;

static void rm_store_dir(const char *dir)
{
	char p[128];

	if (pg_url)
		return;
	snprintf(p, sizeof p, "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

/* dir: LMDB's directory; in the PostgreSQL group, the database instead. */
static store *open_dir(const char *dir, const store_opts *o)
{
	store_opts po = {0};
	store *s = NULL;

	if (pg_url) {
		if (o)
			po = *o;
		po.create = 1;
		assert_int_equal(store_open(&s, pg_url, &po), FS_OK);
		assert_non_null(s);
		return s;
	}
	assert_int_equal(store_open(&s, dir, o), FS_OK);
	assert_non_null(s);
	return s;
}

static int setup(void **st)
{
	fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	strcpy(f->dir, "/tmp/fs_store_XXXXXX");
	if (pg_url) {
		store_txn *t = NULL;

		/* one database for every case: empty it, then open anew so
		 * store_commits() starts at 0 */
		f->s = open_dir(f->dir, NULL);
		assert_int_equal(store_begin(f->s, 1, &t), FS_OK);
		assert_int_equal(store_debug_clear(t), FS_OK);
		assert_int_equal(store_commit(t), FS_OK);
		store_close(f->s);
	} else {
		assert_non_null(mkdtemp(f->dir));
	}
	f->s = open_dir(f->dir, NULL);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	fixture *f = *st;

	store_close(f->s);
	rm_store_dir(f->dir);
	free(f);
	return 0;
}

static store_txn *wbegin(store *s)
{
	store_txn *t = NULL;

	assert_int_equal(store_begin(s, 1, &t), FS_OK);
	return t;
}

static store_txn *rbegin(store *s)
{
	store_txn *t = NULL;

	assert_int_equal(store_begin(s, 0, &t), FS_OK);
	return t;
}

/* val NULL: put back the record's current bytes, borrowed from t. */
static uint64_t putrec(store_txn *t, const char *c, const char *id,
                       const char *bucket, const char *val)
{
	uint64_t seq = 0;
	sv v = sv_cstr(val);

	if (!val)
		assert_int_equal(store_rec_get(t, c, id, &v, NULL, NULL), FS_OK);
	assert_int_equal(store_rec_put(t, c, id, bucket, v, &seq), FS_OK);
	assert_true(seq > 0);
	return seq;
}

/* ---- bucket scan collector ------------------------------------------------ */

typedef struct {
	int n, stop_at;
	uint64_t seq[64];
	int gone[64];
	char c[64][32], id[64][32], val[64][32];
} scan_out;

static int scan_cb(void *ctx, const store_entry *e)
{
	scan_out *o = ctx;

	assert_true(o->n < 64);
	o->seq[o->n] = e->seq;
	o->gone[o->n] = e->gone;
	snprintf(o->c[o->n], 32, "%s", e->c);
	snprintf(o->id[o->n], 32, "%s", e->id);
	if (e->gone)
		assert_int_equal(e->val.n, 0);
	snprintf(o->val[o->n], 32, "%.*s", (int)e->val.n,
	         (const char *)e->val.p);
	o->n++;
	return o->stop_at && o->n == o->stop_at ? 7 : 0;
}

static scan_out scan(store_txn *t, const char *bucket, uint64_t after)
{
	scan_out o;

	memset(&o, 0, sizeof o);
	assert_int_equal(store_bucket_scan(t, bucket, after, scan_cb, &o),
	                 FS_OK);
	return o;
}

static void check_ok(store_txn *t)
{
	char err[256];

	assert_int_equal(store_check(t, err, sizeof err), FS_OK);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_put_get(void **st)
{
	fixture *f = *st;
	store_txn *t = wbegin(f->s);
	const char *bucket;
	uint64_t seq, s1, s2;
	sv v;

	s1 = putrec(t, "task", "t1", "shift/s1", "hello");
	s2 = putrec(t, "task", "t2", "shift/s1", "world");
	assert_true(s2 > s1);
	assert_int_equal(store_rec_get(t, "task", "t1", &v, &bucket, &seq),
	                 FS_OK);
	assert_int_equal(v.n, 5);
	assert_memory_equal(v.p, "hello", 5);
	assert_string_equal(bucket, "shift/s1");
	assert_int_equal(seq, s1);
	assert_int_equal(store_rec_get(t, "task", "nope", &v, NULL, NULL),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_rec_get(t, "order", "t1", NULL, NULL, NULL),
	                 FS_E_NOT_FOUND);
	/* replace in place: new seq, same bucket, new bytes */
	seq = putrec(t, "task", "t1", "shift/s1", "hello again");
	assert_true(seq > s2);
	assert_int_equal(store_rec_get(t, "task", "t1", &v, NULL, NULL), FS_OK);
	assert_int_equal(v.n, 11);
	/* writing back bytes borrowed from the store, in the same txn */
	assert_int_equal(store_rec_get(t, "task", "t1", &v, NULL, NULL), FS_OK);
	putrec(t, "task", "t1", "shift/s9", NULL);
	assert_int_equal(store_rec_get(t, "task", "t1", &v, NULL, NULL), FS_OK);
	seq = putrec(t, "task", "t1", "shift/s1", NULL);
	assert_int_equal(store_rec_get(t, "task", "t1", &v, &bucket, NULL),
	                 FS_OK);
	assert_int_equal(v.n, 11);
	assert_memory_equal(v.p, "hello again", 11);
	assert_string_equal(bucket, "shift/s1");
	/* empty value is fine */
	assert_int_equal(store_rec_put(t, "task", "t3", "shift/s1",
	                               sv_of(NULL, 0), NULL),
	                 FS_OK);
	assert_int_equal(store_rec_get(t, "task", "t3", &v, NULL, NULL), FS_OK);
	assert_int_equal(v.n, 0);
	assert_int_equal(store_seq(t, &seq), FS_OK);
	assert_int_equal(seq, 6);
	check_ok(t);
	assert_int_equal(store_commit(t), FS_OK);

	t = rbegin(f->s);
	assert_int_equal(store_rec_get(t, "task", "t2", &v, NULL, NULL), FS_OK);
	assert_memory_equal(v.p, "world", 5);
	/* writes on a read txn are refused */
	assert_int_equal(store_rec_put(t, "task", "x", "b", sv_cstr("v"), NULL),
	                 FS_E_INTERNAL);
	assert_int_equal(store_put(t, ST_AUX, sv_cstr("k"), sv_cstr("v")),
	                 FS_E_INTERNAL);
	assert_int_equal(store_commit(t), FS_OK);
	assert_int_equal(store_commits(f->s), 1);
}

static void test_scan_order_paging(void **st)
{
	fixture *f = *st;
	store_txn *t = wbegin(f->s);
	uint64_t seqs[10], head, floor;
	char id[16];
	scan_out o;
	int i;

	for (i = 0; i < 10; i++) {
		/* interleave a bucket whose name extends this one's and one
		 * this one's name extends, so the range must stop exactly */
		snprintf(id, sizeof id, "x%d", i);
		putrec(t, "zone", id, "site/a2", "other");
		snprintf(id, sizeof id, "r%d", 9 - i);
		seqs[i] = putrec(t, "zone", id, "site/a", id);
		snprintf(id, sizeof id, "y%d", i);
		putrec(t, "zone", id, "site/", "prefix");
	}
	o = scan(t, "site/a", 0);
	assert_int_equal(o.n, 10);
	for (i = 0; i < 10; i++) {
		assert_int_equal(o.seq[i], seqs[i]);
		assert_int_equal(o.gone[i], 0);
		assert_string_equal(o.c[i], "zone");
		snprintf(id, sizeof id, "r%d", 9 - i);
		assert_string_equal(o.id[i], id);
		assert_string_equal(o.val[i], id);
	}
	/* page: after the 4th entry's seq */
	o = scan(t, "site/a", seqs[3]);
	assert_int_equal(o.n, 6);
	assert_int_equal(o.seq[0], seqs[4]);
	/* after a seq in a gap between entries */
	o = scan(t, "site/a", seqs[3] + 1);
	assert_int_equal(o.n, 6);
	o = scan(t, "site/a", seqs[9]);
	assert_int_equal(o.n, 0);
	o = scan(t, "site/a", UINT64_MAX);
	assert_int_equal(o.n, 0);
	o = scan(t, "nobody", 0);
	assert_int_equal(o.n, 0);
	/* callback stops the scan and its value comes back */
	memset(&o, 0, sizeof o);
	o.stop_at = 3;
	assert_int_equal(store_bucket_scan(t, "site/a", 0, scan_cb, &o), 7);
	assert_int_equal(o.n, 3);
	/* a hint of how many entries are wanted changes nothing seen: the
	 * scan goes on past it (a backend's small first page, then more) */
	for (i = 0; i < 4; i++) {
		static const uint32_t wants[4] = {1, 3, 10, 11};

		memset(&o, 0, sizeof o);
		assert_int_equal(store_bucket_scan_upto(t, "site/a", 0, wants[i],
		                                        scan_cb, &o), FS_OK);
		assert_int_equal(o.n, 10);
		assert_int_equal(o.seq[0], seqs[0]);
		assert_int_equal(o.seq[9], seqs[9]);
		memset(&o, 0, sizeof o);
		assert_int_equal(store_bucket_scan_upto(t, "site/a", seqs[7],
		                                        wants[i], scan_cb, &o),
		                 FS_OK);
		assert_int_equal(o.n, 2);
		assert_int_equal(o.seq[0], seqs[8]);
	}
	memset(&o, 0, sizeof o);
	o.stop_at = 2;
	assert_int_equal(store_bucket_scan_upto(t, "site/a", 0, 1, scan_cb, &o),
	                 7);
	assert_int_equal(o.n, 2);

	assert_int_equal(store_bucket_info(t, "site/a", &head, &floor), FS_OK);
	assert_int_equal(head, seqs[9]);
	assert_int_equal(floor, 0);
	assert_int_equal(store_bucket_info(t, "none", &head, &floor), FS_OK);
	assert_int_equal(head, 0);
	assert_int_equal(floor, 0);
	o = scan(t, "site/a2", 0);
	assert_int_equal(o.n, 10);
	assert_string_equal(o.val[0], "other");
	o = scan(t, "site/", seqs[4]);
	assert_int_equal(o.n, 6);
	assert_string_equal(o.val[0], "prefix");
	check_ok(t);
	assert_int_equal(store_commit(t), FS_OK);
}

static void test_move_and_back(void **st)
{
	fixture *f = *st;
	store_txn *t = wbegin(f->s);
	uint64_t s0, s1, s2, head_a, head_b, h;
	scan_out o;
	const char *b;

	s0 = putrec(t, "task", "k", "shift/A", "v0");
	putrec(t, "task", "other", "shift/A", "x");
	/* A -> B: B has the record, A a gone entry at the same seq */
	s1 = putrec(t, "task", "k", "shift/B", "v1");
	o = scan(t, "shift/A", 0);
	assert_int_equal(o.n, 2);
	assert_string_equal(o.id[0], "other");
	assert_int_equal(o.gone[0], 0);
	assert_string_equal(o.id[1], "k");
	assert_int_equal(o.gone[1], 1);
	assert_int_equal(o.seq[1], s1);
	assert_string_equal(o.c[1], "task");
	o = scan(t, "shift/B", 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.seq[0], s1);
	assert_string_equal(o.val[0], "v1");
	assert_int_equal(store_bucket_info(t, "shift/A", &head_a, NULL), FS_OK);
	assert_int_equal(head_a, s1);
	check_ok(t);
	assert_int_equal(store_commit(t), FS_OK);

	/* B -> A: A's gone entry is replaced by the record, B gets one */
	t = wbegin(f->s);
	s2 = putrec(t, "task", "k", "shift/A", "v2");
	o = scan(t, "shift/A", 0);
	assert_int_equal(o.n, 2);
	assert_string_equal(o.id[1], "k");
	assert_int_equal(o.gone[1], 0);
	assert_int_equal(o.seq[1], s2);
	assert_string_equal(o.val[1], "v2");
	o = scan(t, "shift/B", 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.gone[0], 1);
	assert_int_equal(o.seq[0], s2);
	assert_int_equal(store_rec_get(t, "task", "k", NULL, &b, &h), FS_OK);
	assert_string_equal(b, "shift/A");
	assert_int_equal(h, s2);

	/* A -> B again: B's old gone entry is replaced, A's gone re-made */
	putrec(t, "task", "k", "shift/B", "v3");
	o = scan(t, "shift/B", 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.gone[0], 0);
	o = scan(t, "shift/A", 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.gone[1], 1);
	/* to C: B gets gone; A keeps its one gone entry (older seq) */
	putrec(t, "task", "k", "shift/C", "v4");
	o = scan(t, "shift/A", 0);
	assert_int_equal(o.n, 2);
	o = scan(t, "shift/B", 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.gone[0], 1);
	/* heads never decrease */
	assert_int_equal(store_bucket_info(t, "shift/A", &h, NULL), FS_OK);
	assert_true(h >= head_a);
	assert_int_equal(store_bucket_info(t, "shift/B", &head_b, NULL), FS_OK);
	assert_true(head_b > s2);
	(void)s0;
	check_ok(t);
	assert_int_equal(store_commit(t), FS_OK);
}

typedef struct {
	int records, index_recs;
} count_ctx;

static int count_rec_cb(void *ctx, const char *c, const char *id,
                        const char *bucket, uint64_t seq, sv val)
{
	count_ctx *n = ctx;

	assert_non_null(c);
	assert_non_null(id);
	assert_non_null(bucket);
	assert_true(seq > 0);
	n->records++;
	return 0;
}

static int count_idx_cb(void *ctx, const store_entry *e)
{
	count_ctx *n = ctx;

	if (!e->gone)
		n->index_recs++;
	return 0;
}

/* Random moves among 4 buckets: one index entry per record; heads only
 * grow; the integrity walk passes throughout. */
static void test_one_entry_per_record(void **st)
{
	fixture *f = *st;
	static const char *buckets[] = {"b/0", "b/1", "b/2", "b/3"};
	uint64_t heads[4] = {0}, h;
	count_ctx n = {0, 0};
	char id[16];
	int i, j, k;
	store_txn *t;

	srand(42);
	for (i = 0; i < 20; i++) {
		t = wbegin(f->s);
		for (j = 0; j < 25; j++) {
			snprintf(id, sizeof id, "r%d", rand() % 30);
			putrec(t, rand() % 2 ? "task" : "order", id,
			       buckets[rand() % 4], "v");
		}
		assert_int_equal(store_commit(t), FS_OK);
		t = rbegin(f->s);
		for (k = 0; k < 4; k++) {
			assert_int_equal(store_bucket_info(t, buckets[k], &h,
			                                   NULL),
			                 FS_OK);
			assert_true(h >= heads[k]);
			heads[k] = h;
		}
		check_ok(t);
		store_abort(t);
	}
	t = rbegin(f->s);
	assert_int_equal(store_rec_scan(t, NULL, count_rec_cb, &n), FS_OK);
	for (k = 0; k < 4; k++)
		assert_int_equal(store_bucket_scan(t, buckets[k], 0,
		                                   count_idx_cb, &n),
		                 FS_OK);
	assert_int_equal(n.records, n.index_recs);
	assert_true(n.records > 30 && n.records <= 60);
	n.records = 0;
	assert_int_equal(store_rec_scan(t, "task", count_rec_cb, &n), FS_OK);
	assert_true(n.records > 0 && n.records <= 30);
	n.records = 0;
	assert_int_equal(store_rec_scan(t, "tas", count_rec_cb, &n), FS_OK);
	assert_int_equal(n.records, 0);
	store_abort(t);
	assert_int_equal(store_commits(f->s), 20);
}

static void test_purge_floor(void **st)
{
	fixture *f = *st;
	store_txn *t = wbegin(f->s);
	uint64_t s1, s2, s3, s4, head, floor, h2;
	scan_out o;

	s1 = putrec(t, "task", "a", "A", "1");
	s2 = putrec(t, "task", "b", "A", "2");
	s3 = putrec(t, "task", "a", "B", "3"); /* gone a @ s3 in A */
	s4 = putrec(t, "task", "b", "B", "4"); /* gone b @ s4 in A */
	putrec(t, "task", "c", "A", "5");
	(void)s1;
	(void)s2;
	assert_int_equal(store_bucket_info(t, "A", &head, &floor), FS_OK);
	assert_int_equal(floor, 0);

	/* purge gone entries older than s4: only a's goes */
	assert_int_equal(store_gone_purge(t, "A", s4), FS_OK);
	assert_int_equal(store_bucket_info(t, "A", &h2, &floor), FS_OK);
	assert_int_equal(floor, s3);
	assert_int_equal(h2, head);
	o = scan(t, "A", 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.seq[0], s4);
	assert_int_equal(o.gone[0], 1);
	assert_int_equal(o.gone[1], 0);
	check_ok(t);
	/* nothing older: floor stays */
	assert_int_equal(store_gone_purge(t, "A", s3), FS_OK);
	assert_int_equal(store_bucket_info(t, "A", NULL, &floor), FS_OK);
	assert_int_equal(floor, s3);
	/* record entries are not touched by a gone purge */
	assert_int_equal(store_gone_purge(t, "A", UINT64_MAX), FS_OK);
	o = scan(t, "A", 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.gone[0], 0);
	assert_int_equal(store_bucket_info(t, "A", &h2, &floor), FS_OK);
	assert_int_equal(floor, s4);
	assert_int_equal(h2, head);
	/* a returns to A after its gone entry was purged */
	putrec(t, "task", "a", "A", "6");
	check_ok(t);

	/* record purge: B's floor rises to b's seq, head stays */
	assert_int_equal(store_bucket_info(t, "B", &head, NULL), FS_OK);
	assert_int_equal(store_rec_purge(t, "task", "b"), FS_OK);
	assert_int_equal(store_rec_get(t, "task", "b", NULL, NULL, NULL),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_bucket_info(t, "B", &h2, &floor), FS_OK);
	assert_int_equal(floor, s4);
	assert_int_equal(h2, head);
	o = scan(t, "B", 0);
	assert_int_equal(o.n, 1); /* a's gone entry */
	assert_int_equal(o.gone[0], 1);
	assert_int_equal(store_rec_purge(t, "task", "b"), FS_E_NOT_FOUND);
	check_ok(t);
	assert_int_equal(store_commit(t), FS_OK);
}

typedef struct {
	int n;
	char keys[16][32];
} tscan;

static int tscan_cb(void *ctx, sv key, sv val)
{
	tscan *o = ctx;

	assert_true(o->n < 16);
	snprintf(o->keys[o->n], 32, "%.*s", (int)key.n, (const char *)key.p);
	o->n++;
	return 0;
}

static void test_tables(void **st)
{
	fixture *f = *st;
	static const char *keys[] = {"dev1\0a", "dev1\0b", "dev1\0c",
	                             "dev2\0a", "dev0\0z", "dev1"};
	store_txn *t = wbegin(f->s);
	tscan o;
	sv v;
	int i;

	for (i = 0; i < 6; i++)
		assert_int_equal(store_put(t, ST_ACKS,
		                           sv_of(keys[i], i == 5 ? 4 : 6),
		                           sv_cstr(i == 5 ? "" : keys[i] + 5)),
		                 FS_OK);
	assert_int_equal(store_put(t, ST_TOKENS, sv_cstr("tok"), sv_cstr("x")),
	                 FS_OK);
	assert_int_equal(store_get(t, ST_ACKS, sv_of("dev1\0b", 6), &v), FS_OK);
	assert_int_equal(v.n, 1);
	assert_memory_equal(v.p, "b", 1);
	/* tables are separate */
	assert_int_equal(store_get(t, ST_TOKENS, sv_of("dev1\0b", 6), &v),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_get(t, ST_ACKS, sv_cstr("tok"), &v),
	                 FS_E_NOT_FOUND);
	/* overwrite */
	assert_int_equal(store_put(t, ST_ACKS, sv_of("dev1\0b", 6),
	                           sv_cstr("BB")),
	                 FS_OK);
	assert_int_equal(store_get(t, ST_ACKS, sv_of("dev1\0b", 6), &v), FS_OK);
	assert_int_equal(v.n, 2);
	assert_int_equal(store_commit(t), FS_OK);

	t = rbegin(f->s);
	/* prefix "dev1\0": a, b, c */
	memset(&o, 0, sizeof o);
	assert_int_equal(store_scan(t, ST_ACKS, sv_of("dev1\0", 5),
	                            sv_of(NULL, 0), tscan_cb, &o),
	                 FS_OK);
	assert_int_equal(o.n, 3);
	assert_string_equal(o.keys[0], "dev1"); /* %.*s stops at the NUL */
	/* prefix + start: from "dev1\0b" */
	memset(&o, 0, sizeof o);
	assert_int_equal(store_scan(t, ST_ACKS, sv_of("dev1\0", 5),
	                            sv_of("dev1\0b", 6), tscan_cb, &o),
	                 FS_OK);
	assert_int_equal(o.n, 2);
	/* start before the prefix: the prefix wins */
	memset(&o, 0, sizeof o);
	assert_int_equal(store_scan(t, ST_ACKS, sv_of("dev1", 4),
	                            sv_cstr("a"), tscan_cb, &o),
	                 FS_OK);
	assert_int_equal(o.n, 4);
	/* start past every key of the prefix */
	memset(&o, 0, sizeof o);
	assert_int_equal(store_scan(t, ST_ACKS, sv_of("dev1", 4),
	                            sv_cstr("dev2"), tscan_cb, &o),
	                 FS_OK);
	assert_int_equal(o.n, 0);
	/* no prefix, no start: all */
	memset(&o, 0, sizeof o);
	assert_int_equal(store_scan(t, ST_ACKS, sv_of(NULL, 0), sv_of(NULL, 0),
	                            tscan_cb, &o),
	                 FS_OK);
	assert_int_equal(o.n, 6);
	assert_string_equal(o.keys[0], "dev0");
	store_abort(t);

	t = wbegin(f->s);
	assert_int_equal(store_del(t, ST_ACKS, sv_of("dev1\0a", 6)), FS_OK);
	assert_int_equal(store_del(t, ST_ACKS, sv_of("dev1\0a", 6)), FS_OK);
	assert_int_equal(store_get(t, ST_ACKS, sv_of("dev1\0a", 6), &v),
	                 FS_E_NOT_FOUND);
	/* empty value */
	assert_int_equal(store_put(t, ST_AUX, sv_cstr("e"), sv_of(NULL, 0)),
	                 FS_OK);
	assert_int_equal(store_get(t, ST_AUX, sv_cstr("e"), &v), FS_OK);
	assert_int_equal(v.n, 0);
	assert_int_equal(store_commit(t), FS_OK);
}

/* Keys and values of a scan, in order, as "key=value" lines. */
typedef struct {
	int n;
	char text[4096];
} vscan;

static int vscan_cb(void *ctx, sv key, sv val)
{
	vscan *o = ctx;
	size_t at = strlen(o->text);

	snprintf(o->text + at, sizeof o->text - at, "%.*s=%.*s\n",
	         (int)key.n, (const char *)key.p, (int)val.n,
	         (const char *)val.p);
	o->n++;
	return 0;
}

static const char *scan_text(store_txn *t, const char *prefix, size_t pn,
                             const char *start, size_t sn, vscan *o)
{
	memset(o, 0, sizeof *o);
	assert_int_equal(store_scan(t, ST_DEVSTAFF, sv_of(prefix, pn),
	                            sv_of(start, sn), vscan_cb, o),
	                 FS_OK);
	return o->text;
}

/* The prefetch hints (PostgreSQL answers from its cache after them; LMDB
 * ignores them) never change what a transaction reads: not its own
 * writes before or after the hint, not a prefix with more entries than
 * the cache takes, not one with none, not one with no key past it. */
static void test_prefetch_hints(void **st)
{
	fixture *f = *st;
	store_txn *t = wbegin(f->s);
	char k[16];
	vscan o;
	sv v;
	int i;

	for (i = 0; i < 4; i++) {
		static const char *const kv[4][2] = {
			{"d1\0a", "1"}, {"d1\0b", "2"}, {"d1\0c", "3"}, {"d2\0a", "x"}};
		assert_int_equal(store_put(t, ST_DEVSTAFF, sv_of(kv[i][0], 4),
		                           sv_cstr(kv[i][1])),
		                 FS_OK);
	}
	for (i = 0; i < 70; i++) { /* more than a prefix's cache takes */
		snprintf(k, sizeof k, "d3%ck%02d", 0, i);
		assert_int_equal(store_put(t, ST_DEVSTAFF, sv_of(k, 6),
		                           sv_cstr("n")),
		                 FS_OK);
	}
	assert_int_equal(store_put(t, ST_DEVSTAFF, sv_of("\xff\xff", 2),
	                           sv_cstr("f")),
	                 FS_OK);
	assert_int_equal(store_put(t, ST_AUX, sv_cstr("k1"), sv_cstr("v1")),
	                 FS_OK);
	assert_int_equal(store_rec_put(t, "task", "t1", "site/s", sv_cstr("r1"),
	                               NULL),
	                 FS_OK);
	assert_int_equal(store_commit(t), FS_OK);

	t = wbegin(f->s);
	/* written before the hint */
	assert_int_equal(store_put(t, ST_DEVSTAFF, sv_of("d1\0d", 4),
	                           sv_cstr("4")),
	                 FS_OK);
	assert_int_equal(store_del(t, ST_DEVSTAFF, sv_of("d1\0b", 4)), FS_OK);
	{
		sv pre[6] = {sv_of("d1\0", 3), sv_of("d2\0", 3), sv_of("d3\0", 3),
		             sv_of("d9\0", 3), sv_of("\xff\xff", 2),
		             sv_of("d1\0", 3)};
		sv keys[3] = {sv_cstr("k1"), sv_cstr("k2"), sv_cstr("k1")};
		const char *c[2] = {"task", "task"}, *id[2] = {"t1", "t2"};

		assert_int_equal(store_prefetch_prefixes(t, ST_DEVSTAFF, pre, 6),
		                 FS_OK);
		assert_int_equal(store_prefetch_keys(t, ST_AUX, keys, 3), FS_OK);
		assert_int_equal(store_prefetch(t, c, id, 2), FS_OK);
	}
	/* written after it */
	assert_int_equal(store_put(t, ST_DEVSTAFF, sv_of("d1\0e", 4),
	                           sv_cstr("5")),
	                 FS_OK);
	assert_int_equal(store_put(t, ST_DEVSTAFF, sv_of("d1\0a", 4),
	                           sv_cstr("A")),
	                 FS_OK);
	assert_string_equal(scan_text(t, "d1", 3, NULL, 0, &o),
	                    "d1=A\nd1=3\nd1=4\nd1=5\n");
	assert_int_equal(o.n, 4);
	/* the keys are d1\0a, c, d, e: %.*s stops at the NUL, so the
	 * order shows in the values; from a start, and a longer prefix */
	assert_string_equal(scan_text(t, "d1", 3, "d1\0c", 4, &o),
	                    "d1=3\nd1=4\nd1=5\n");
	assert_string_equal(scan_text(t, "d1\0d", 4, NULL, 0, &o), "d1=4\n");
	assert_int_equal(store_get(t, ST_DEVSTAFF, sv_of("d1\0b", 4), &v),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_get(t, ST_DEVSTAFF, sv_of("d1\0zz", 5), &v),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_get(t, ST_DEVSTAFF, sv_of("d1\0c", 4), &v), FS_OK);
	assert_int_equal(v.n, 1);
	assert_memory_equal(v.p, "3", 1);
	assert_int_equal(store_get(t, ST_DEVSTAFF, sv_of("d2\0a", 4), &v), FS_OK);
	assert_memory_equal(v.p, "x", 1);
	scan_text(t, "d3", 3, NULL, 0, &o);
	assert_int_equal(o.n, 70);
	assert_int_equal(store_get(t, ST_DEVSTAFF, sv_of("d3\0k69", 6), &v),
	                 FS_OK);
	assert_int_equal(store_get(t, ST_DEVSTAFF, sv_of("d3\0k70", 6), &v),
	                 FS_E_NOT_FOUND);
	scan_text(t, "d9", 3, NULL, 0, &o);
	assert_int_equal(o.n, 0);
	assert_int_equal(store_put(t, ST_DEVSTAFF, sv_of("d9\0q", 4),
	                           sv_cstr("q")),
	                 FS_OK);
	assert_string_equal(scan_text(t, "d9", 3, NULL, 0, &o), "d9=q\n");
	assert_string_equal(scan_text(t, "\xff\xff", 2, NULL, 0, &o),
	                    "\xff\xff=f\n");
	assert_int_equal(store_get(t, ST_AUX, sv_cstr("k1"), &v), FS_OK);
	assert_memory_equal(v.p, "v1", 2);
	assert_int_equal(store_get(t, ST_AUX, sv_cstr("k2"), &v),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_rec_get(t, "task", "t1", &v, NULL, NULL), FS_OK);
	assert_memory_equal(v.p, "r1", 2);
	assert_int_equal(store_rec_get(t, "task", "t2", &v, NULL, NULL),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_commit(t), FS_OK);

	t = rbegin(f->s);
	assert_string_equal(scan_text(t, "d1", 3, NULL, 0, &o),
	                    "d1=A\nd1=3\nd1=4\nd1=5\n");
	assert_string_equal(scan_text(t, "d9", 3, NULL, 0, &o), "d9=q\n");
	store_abort(t);
}

static void test_long_keys(void **st)
{
	fixture *f = *st;
	char big[700], id[129];
	store_txn *t = wbegin(f->s);
	sv v;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	memset(id, 'i', 128);
	id[128] = 0;
	assert_int_equal(store_rec_put(t, "task", big, "b", sv_cstr("v"), NULL),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(store_rec_put(t, "task", "x", big, sv_cstr("v"), NULL),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(store_rec_put(t, "task", "", "b", sv_cstr("v"), NULL),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(store_rec_put(t, "task", "x", "", sv_cstr("v"), NULL),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(store_put(t, ST_AUX, sv_of(big, 600), sv_cstr("v")),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(store_put(t, ST_AUX, sv_of("", 0), sv_cstr("v")),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(store_get(t, ST_AUX, sv_of(big, 600), &v),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_rec_get(t, "task", big, NULL, NULL, NULL),
	                 FS_E_NOT_FOUND);
	/* the largest real shapes fit: 128-byte id, 150-byte bucket */
	big[150] = 0;
	assert_int_equal(store_rec_put(t, "checkin", id, big, sv_cstr("v"),
	                               NULL),
	                 FS_OK);
	/* the txn is still alive after the refusals */
	check_ok(t);
	assert_int_equal(store_commit(t), FS_OK);
}

static void test_store_id_durable(void **st)
{
	fixture *f = *st;
	char id1[33], id2[33];
	const char *old;
	store_txn *t;
	sv v;

	assert_int_equal(strlen(store_id(f->s)), 32);
	strcpy(id1, store_id(f->s));
	t = wbegin(f->s);
	putrec(t, "site", "s1", "site/s1", "durable");
	assert_int_equal(store_put(t, ST_DEVICES, sv_cstr("d1"), sv_cstr("i")),
	                 FS_OK);
	assert_int_equal(store_commit(t), FS_OK);
	/* an aborted write leaves nothing */
	t = wbegin(f->s);
	putrec(t, "site", "s2", "site/s1", "aborted");
	store_abort(t);

	store_close(f->s);
	f->s = open_dir(f->dir, NULL);
	assert_string_equal(store_id(f->s), id1);
	t = rbegin(f->s);
	assert_int_equal(store_rec_get(t, "site", "s1", &v, NULL, NULL), FS_OK);
	assert_int_equal(v.n, 7);
	assert_int_equal(store_rec_get(t, "site", "s2", &v, NULL, NULL),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_get(t, ST_META, sv_cstr("store_id"), &v), FS_OK);
	assert_int_equal(v.n, 32);
	assert_memory_equal(v.p, id1, 32);
	store_abort(t);

	/* a new id: visible only after commit; the old pointer stays valid */
	old = store_id(f->s);
	t = wbegin(f->s);
	assert_int_equal(store_set_id(t), FS_OK);
	assert_string_equal(store_id(f->s), id1);
	store_abort(t);
	assert_string_equal(store_id(f->s), id1);
	t = wbegin(f->s);
	assert_int_equal(store_set_id(t), FS_OK);
	assert_int_equal(store_commit(t), FS_OK);
	strcpy(id2, store_id(f->s));
	assert_string_not_equal(id1, id2);
	assert_string_equal(old, id1);
	store_close(f->s);
	f->s = open_dir(f->dir, NULL);
	assert_string_equal(store_id(f->s), id2);
}

static void test_ids_differ(void **st)
{
	char dir[] = "/tmp/fs_store_XXXXXX";
	fixture *f = *st;
	store *s2;

	assert_non_null(mkdtemp(dir));
	s2 = open_dir(dir, NULL);
	assert_string_not_equal(store_id(s2), store_id(f->s));
	store_close(s2);
	rm_store_dir(dir);
}

static void test_check_corrupt(void **st)
{
	fixture *f = *st;
	char err[256];
	store_txn *t = wbegin(f->s);

	putrec(t, "task", "a", "A", "1");
	putrec(t, "task", "b", "A", "2");
	putrec(t, "task", "a", "B", "3");
	check_ok(t);
	assert_int_equal(store_debug_unindex(t, "task", "b"), FS_OK);
	err[0] = 0;
	assert_int_equal(store_check(t, err, sizeof err), FS_E_INTERNAL);
	assert_non_null(strstr(err, "task/b"));
	assert_int_equal(store_commit(t), FS_OK);
	t = rbegin(f->s);
	assert_int_equal(store_check(t, err, sizeof err), FS_E_INTERNAL);
	/* NULL err is fine */
	assert_int_equal(store_check(t, NULL, 0), FS_E_INTERNAL);
	store_abort(t);
}

static int fail_flag(void *ctx)
{
	return *(int *)ctx;
}

static void test_fail_commit(void **st)
{
	fixture *f = *st;
	int fail = 0;
	store_opts o = {.fail_commit = fail_flag, .fail_ctx = &fail};
	store_txn *t;
	uint64_t seq, before;
	sv v;

	store_close(f->s);
	f->s = open_dir(f->dir, &o);
	t = wbegin(f->s);
	putrec(t, "task", "a", "A", "1");
	assert_int_equal(store_commit(t), FS_OK);
	before = store_commits(f->s);

	fail = 1;
	t = wbegin(f->s);
	putrec(t, "task", "b", "A", "2");
	putrec(t, "task", "a", "B", "3");
	assert_int_equal(store_put(t, ST_AUX, sv_cstr("k"), sv_cstr("v")),
	                 FS_OK);
	assert_int_equal(store_commit(t), FS_E_UNAVAILABLE);
	assert_int_equal(store_commits(f->s), before);

	fail = 0;
	t = rbegin(f->s);
	assert_int_equal(store_rec_get(t, "task", "b", &v, NULL, NULL),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_rec_get(t, "task", "a", &v, NULL, &seq), FS_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(store_get(t, ST_AUX, sv_cstr("k"), &v),
	                 FS_E_NOT_FOUND);
	assert_int_equal(store_seq(t, &seq), FS_OK);
	assert_int_equal(seq, 1);
	check_ok(t);
	store_abort(t);
	/* and the next commit works */
	t = wbegin(f->s);
	assert_int_equal(putrec(t, "task", "b", "A", "2"), 2);
	assert_int_equal(store_commit(t), FS_OK);
	assert_int_equal(store_commits(f->s), before + 1);
}

/* Writes 8 KiB records until the map is full; returns how many fit. */
static int fill(store *s, int from, int *full_at_commit)
{
	static char big[8192];
	char id[32];
	int i, rc = FS_OK;
	store_txn *t;

	memset(big, 'z', sizeof big);
	for (i = from;; i++) {
		t = wbegin(s);
		snprintf(id, sizeof id, "r%06d", i);
		rc = store_rec_put(t, "task", id, "shift/x",
		                   sv_of(big, sizeof big), NULL);
		if (rc == STORE_FULL) {
			/* dead: later calls say so too, commit refuses */
			assert_int_equal(store_put(t, ST_AUX, sv_cstr("k"),
			                           sv_cstr("v")),
			                 STORE_FULL);
			store_abort(t);
			*full_at_commit = 0;
			return i - from;
		}
		assert_int_equal(rc, FS_OK);
		rc = store_commit(t);
		if (rc == STORE_FULL) {
			*full_at_commit = 1;
			return i - from;
		}
		assert_int_equal(rc, FS_OK);
		assert_true(i - from < 10000);
	}
}

static void test_map_full_grow(void **st)
{
	fixture *f = *st;
	store_opts o = {.map_mb = 1, .max_mb = 2};
	uint64_t used, mapsize;
	int n1, n2, at_commit;
	store_txn *t;
	uint64_t seq;

	store_close(f->s);
	rm_store_dir(f->dir);
	f->s = open_dir(f->dir, &o);
	store_size(f->s, &used, &mapsize);
	assert_int_equal(mapsize, 1 << 20);
	assert_true(used > 0 && used <= mapsize);

	n1 = fill(f->s, 0, &at_commit);
	assert_true(n1 > 10);
	assert_int_equal(store_grow(f->s), FS_OK);
	store_size(f->s, &used, &mapsize);
	assert_int_equal(mapsize, 2 << 20);
	n2 = fill(f->s, n1, &at_commit);
	assert_true(n2 > 10);
	assert_int_equal(store_grow(f->s), FS_E_UNAVAILABLE);

	/* everything committed is there and consistent */
	t = rbegin(f->s);
	assert_int_equal(store_seq(t, &seq), FS_OK);
	assert_int_equal(seq, (uint64_t)(n1 + n2));
	check_ok(t);
	store_abort(t);
	/* reopening keeps the grown size */
	store_close(f->s);
	f->s = open_dir(f->dir, &o);
	store_size(f->s, &used, &mapsize);
	assert_true(mapsize >= 2 << 20);
}

/* ---- readers while the writer commits ------------------------------------ */

typedef struct {
	store *s;
	atomic_int stop;
	atomic_int rounds;
	int bad;
} reader_ctx;

static int cnt_cb(void *ctx, const store_entry *e)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/* In any snapshot, the bucket holds exactly store_seq entries (the
 * writer only adds new records to one bucket) and check passes. */
static void *reader(void *arg)
{
	reader_ctx *r = arg;

	while (!atomic_load(&r->stop)) {
		store_txn *t = NULL;
		uint64_t seq = 0, n = 0, head = 0;

		if (store_begin(r->s, 0, &t) != FS_OK) {
			r->bad++;
			continue;
		}
		if (store_seq(t, &seq) ||
		    store_bucket_scan(t, "site/c", 0, cnt_cb, &n) ||
		    store_bucket_info(t, "site/c", &head, NULL) || n != seq ||
		    head != seq ||
		    (atomic_load(&r->rounds) % 16 == 0 && store_check(t, NULL, 0)))
			r->bad++;
		store_commit(t);
		atomic_fetch_add(&r->rounds, 1);
	}
	return NULL;
}

static void test_concurrent_readers(void **st)
{
	fixture *f = *st;
	pthread_t th[6];
	reader_ctx rc[6];
	char id[32];
	int i, j;

	for (i = 0; i < 6; i++) {
		rc[i] = (reader_ctx){.s = f->s};
		atomic_init(&rc[i].stop, 0);
		atomic_init(&rc[i].rounds, 0);
		assert_int_equal(pthread_create(&th[i], NULL, reader, &rc[i]), 0);
	}
	for (i = 0; i < 100; i++) {
		store_txn *t = wbegin(f->s);

		for (j = 0; j < 5; j++) {
			snprintf(id, sizeof id, "r%d.%d", i, j);
			putrec(t, "zone", id, "site/c", "v");
		}
		assert_int_equal(store_commit(t), FS_OK);
	}
	/* a grow with readers about: waits for them, then goes on
	 * (PostgreSQL has no map to grow) */
	assert_int_equal(store_grow(f->s), pg_url ? FS_E_UNAVAILABLE : FS_OK);
	/* on a loaded machine a reader may not have run yet: give each a
	 * bounded chance to read at least once, so the check below is about
	 * the store, not the scheduler */
	for (int spins = 0; spins < 5000; spins++) {
		int all = 1;
		for (i = 0; i < 6; i++)
			all &= atomic_load(&rc[i].rounds) > 0;
		if (all)
			break;
		usleep(1000);
	}
	for (i = 0; i < 6; i++) {
		atomic_store(&rc[i].stop, 1);
		pthread_join(th[i], NULL);
		assert_int_equal(rc[i].bad, 0);
		assert_true(atomic_load(&rc[i].rounds) > 0);
	}
	assert_int_equal(store_commits(f->s), 100);
}

/* ---- store_copy (both groups: LMDB <-> the group's backend) --------------- */

typedef struct {
	char buf[8192];
	size_t n;
} dump;

static int dump_entry(void *ctx, const store_entry *e)
{
	dump *d = ctx;

	d->n += (size_t)snprintf(d->buf + d->n, sizeof d->buf - d->n,
	                         "%llu%s %s/%s=%.*s;", (unsigned long long)e->seq,
	                         e->gone ? "g" : "", e->c, e->id, (int)e->val.n,
	                         (const char *)e->val.p);
	return SCAN_NEXT;
}

static int dump_kv(void *ctx, sv key, sv val)
{
	dump *d = ctx;

	d->n += (size_t)snprintf(d->buf + d->n, sizeof d->buf - d->n,
	                         "%.*s=%.*s;", (int)key.n, (const char *)key.p,
	                         (int)val.n, (const char *)val.p);
	return SCAN_NEXT;
}

/* Everything store.h shows of a store, as text. */
static void dump_store(store *s, dump *d)
{
	static const char *const buckets[] = {"A", "B", "C"};
	uint64_t head, floor, seq;
	store_txn *t = rbegin(s);
	size_t i;

	d->n = 0;
	assert_int_equal(store_seq(t, &seq), FS_OK);
	d->n += (size_t)snprintf(d->buf, sizeof d->buf, "seq %llu;",
	                         (unsigned long long)seq);
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_bucket_info(t, buckets[i], &head, &floor),
		                 FS_OK);
		d->n += (size_t)snprintf(d->buf + d->n, sizeof d->buf - d->n,
		                         "%s %llu %llu:", buckets[i],
		                         (unsigned long long)head,
		                         (unsigned long long)floor);
		assert_int_equal(store_bucket_scan(t, buckets[i], 0, dump_entry, d),
		                 FS_OK);
	}
	assert_int_equal(store_scan(t, ST_AUX, sv_of(NULL, 0), sv_of(NULL, 0),
	                            dump_kv, d), FS_OK);
	check_ok(t);
	store_abort(t);
}

static void test_copy_both_ways(void **st)
{
	fixture *f = *st;
	char dir[] = "/tmp/fs_store_XXXXXX", path[128];
	const char *saved = pg_url;
	dump a, b;
	store *l, *back;
	store_txn *r, *w;

	/* moves, a way back, a purge, gone purges, tables */
	w = wbegin(f->s);
	putrec(w, "task", "a", "A", "1");
	putrec(w, "task", "b", "A", "2");
	putrec(w, "task", "a", "B", "3");
	putrec(w, "task", "c", "C", "4");
	putrec(w, "task", "c", "A", "5");
	putrec(w, "task", "b", "B", "6");
	assert_int_equal(store_rec_purge(w, "task", "a"), FS_OK);
	assert_int_equal(store_gone_purge(w, "C", 6), FS_OK);
	assert_int_equal(store_put(w, ST_AUX, sv_cstr("k1"), sv_cstr("v1")),
	                 FS_OK);
	assert_int_equal(store_put(w, ST_AUX, sv_cstr("k2"), sv_cstr("")),
	                 FS_OK);
	assert_int_equal(store_commit(w), FS_OK);
	dump_store(f->s, &a);

	/* into a new LMDB store */
	assert_non_null(mkdtemp(dir));
	pg_url = NULL;
	l = open_dir(dir, NULL);
	pg_url = saved;
	r = rbegin(f->s);
	w = wbegin(l);
	assert_int_equal(store_copy(r, w), FS_OK);
	store_abort(r);
	assert_int_equal(store_commit(w), FS_OK);
	dump_store(l, &b);
	assert_string_equal(a.buf, b.buf);
	/* a store with records is no copy's target */
	r = rbegin(f->s);
	w = wbegin(l);
	assert_int_equal(store_copy(r, w), FS_E_BAD_REQUEST);
	store_abort(w);
	store_abort(r);

	/* and back into the emptied original */
	w = wbegin(f->s);
	assert_int_equal(store_debug_clear(w), FS_OK);
	r = rbegin(l);
	assert_int_equal(store_copy(r, w), FS_OK);
	store_abort(r);
	assert_int_equal(store_commit(w), FS_OK);
	dump_store(f->s, &b);
	assert_string_equal(a.buf, b.buf);

	/* a backup of either opens as an LMDB store with the same content */
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	store_close(l);
	unlink(path);
	assert_int_equal(store_backup(f->s, path), FS_OK);
	assert_int_equal(store_backup(f->s, path), FS_E_UNAVAILABLE);
	pg_url = NULL;
	back = open_dir(dir, NULL);
	pg_url = saved;
	assert_string_equal(store_id(back), store_id(f->s));
	dump_store(back, &b);
	assert_string_equal(a.buf, b.buf);
	store_close(back);
	pg_url = NULL;
	rm_store_dir(dir);
	pg_url = saved;
}

int main(void)
{
	int failed;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_order_paging, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_move_and_back, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_one_entry_per_record, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_purge_floor, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefetch_hints, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_id_durable, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_ids_differ, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_check_corrupt, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_fail_commit, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_map_full_grow, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_readers, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_copy_both_ways, setup,
		                                teardown),
	};
	/* the same cases on PostgreSQL, less the two about LMDB's
	 * directories and map */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_order_paging, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_move_and_back, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_one_entry_per_record, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_purge_floor, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefetch_hints, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_id_durable, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_check_corrupt, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_fail_commit, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_readers, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_copy_both_ways, setup,
		                                teardown),
	};
	failed = cmocka_run_group_tests_name("lmdb", tests, NULL, NULL);
	pg_url = getenv("FS_TEST_PG_URL");
	if (pg_url && *pg_url)
		failed += cmocka_run_group_tests_name("postgresql", pg_tests,
		                                      NULL, NULL);
	return failed;
}
