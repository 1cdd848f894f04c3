/*
 * test_client_sync.c — libfieldsync's local store, outbox and the
 * application of sync answers, without a server: answers are built here
 * and fed to sync_apply() after a real sync_prepare().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "clients/client_int.h"
#include "protocol/hlc.h"
#include "protocol/be64.h"

#define DEV "dev-A"
#define NOW_MS 1800000000000ULL

typedef struct {
	char dir[64];
	fs_client *c;
} fixture;

static void rm_rf(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void meta(fs_client *c, const char *k, const char *v)
{
	ls_txn *t;

	assert_int_equal(ls_begin(c->ls, 1, &t), FSC_OK);
	assert_int_equal(lc_meta_put_str(t, k, v), FSC_OK);
	assert_int_equal(ls_commit(t), FSC_OK);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	fs_options o;
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/fs-client-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memset(&o, 0, sizeof(o));
	o.home = f->dir;
	o.boot_id = "boot-1";
	assert_int_equal(fs_open(&o, &f->c, err, sizeof(err)), FSC_OK);
	meta(f->c, "device", DEV);
	meta(f->c, "staff", "g1");
	meta(f->c, "site", "s1");
	meta(f->c, "stoken", "tok");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	fs_close(f->c);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static fs_field fstr(const char *name, const char *v)
{
	fs_field x;

	memset(&x, 0, sizeof(x));
	x.name = name;
	x.type = FS_V_STR;
	x.s = v;
	return x;
}

/* A task of shift sh (bucket shift/<sh>) with a title and a note. */
static fs_write put_task(fs_client *c, const char *id, const char *sh,
                         const char *title)
{
	fs_field f[3] = {fstr("site", "s1"), fstr("shift", sh),
	                 fstr("title", title)};
	fs_write w;

	assert_int_equal(fs_put(c, "task", id, f, 3, &w), FSC_OK);
	return w;
}

static const char *field_of(fs_client *c, const char *coll, const char *id,
                            const char *field, char *buf, size_t n)
{
	fs_record *r;
	const char *v;

	if (fs_get(c, coll, id, &r))
		return NULL;
	v = fs_rec_str(r, field);
	if (!v) {
		fs_record_free(r);
		return NULL;
	}
	snprintf(buf, n, "%s", v);
	fs_record_free(r);
	return buf;
}

static uint64_t count(fs_client *c, ls_table tb)
{
	ls_txn *t;
	uint64_t n;

	assert_int_equal(ls_begin(c->ls, 0, &t), FSC_OK);
	n = ls_count(t, tb);
	ls_abort(t);
	return n;
}

static uint64_t cursor_of(fs_client *c, const char *bucket)
{
	ls_txn *t;
	ls_val v;
	uint64_t cur = UINT64_MAX;

	assert_int_equal(ls_begin(c->ls, 0, &t), FSC_OK);
	if (!ls_get(t, LT_CURS, ls_v(bucket, strlen(bucket)), &v) && v.n == 8)
		cur = be64_get(v.p);
	ls_abort(t);
	return cur;
}

/* ---- building answers ---------------------------------------------------------- */

typedef struct {
	wbuf acks;
	uint32_t nacks;
	wbuf buckets;
	uint32_t nbuckets;
	const char *store;
	uint64_t now;
	const char *scope[8];
	int nscope; /* -1: no scope key */
} answer;

static void ans_init(answer *a)
{
	memset(a, 0, sizeof(*a));
	wb_init(&a->acks);
	wb_init(&a->buckets);
	a->store = "store-1";
	a->now = NOW_MS;
}

/* ack of batch i of rq; rej: NULL, or up to 4 (index, code, cur-title)
 * triples; cur_title NULL means no cur. */
typedef struct {
	uint32_t i;
	const char *code;
	const char *cur_title;
	uint64_t cur_hlc;
} rej;

static void ans_ack(answer *a, const uint8_t id[16], uint64_t applied,
                    const char *err, const rej *rj, uint32_t nrej)
{
	wb_map(&a->acks, err ? 5 : 4);
	wb_cstr(&a->acks, "batch");
	wb_bin(&a->acks, id, 16);
	wb_cstr(&a->acks, "applied");
	wb_u64(&a->acks, applied);
	wb_cstr(&a->acks, "dup");
	wb_bool(&a->acks, 0);
	wb_cstr(&a->acks, "rej");
	wb_arr(&a->acks, nrej);
	for (uint32_t k = 0; k < nrej; k++) {
		wb_map(&a->acks, rj[k].cur_title ? 4 : 3);
		wb_cstr(&a->acks, "i");
		wb_u64(&a->acks, rj[k].i);
		wb_cstr(&a->acks, "code");
		wb_cstr(&a->acks, rj[k].code);
		wb_cstr(&a->acks, "msg");
		wb_cstr(&a->acks, "test rejection");
		if (rj[k].cur_title) {
			wb_cstr(&a->acks, "cur");
			wb_map(&a->acks, 2);
			wb_cstr(&a->acks, "f");
			wb_map(&a->acks, 3);
			wb_cstr(&a->acks, "site");
			wb_cstr(&a->acks, "s1");
			wb_cstr(&a->acks, "shift");
			wb_cstr(&a->acks, "sh1");
			wb_cstr(&a->acks, "title");
			wb_cstr(&a->acks, rj[k].cur_title);
			wb_cstr(&a->acks, "s");
			wb_map(&a->acks, 3);
			const char *names[3] = {"site", "shift", "title"};
			for (int q = 0; q < 3; q++) {
				wb_cstr(&a->acks, names[q]);
				wb_arr(&a->acks, 2);
				wb_u64(&a->acks, rj[k].cur_hlc);
				wb_cstr(&a->acks, "server-dev");
			}
		}
	}
	if (err) {
		wb_cstr(&a->acks, "err");
		wb_cstr(&a->acks, err);
	}
	a->nacks++;
}

/* A bucket with recs of tasks (id, title, hlc, origin) and gone ids. */
typedef struct {
	const char *id, *title;
	uint64_t hlc;
	const char *origin;
} prec;

static void ans_bucket(answer *a, const char *bucket, uint64_t cursor,
                       int more, int reset, const prec *recs, uint32_t nrecs,
                       const char *const *gone, uint32_t ngone)
{
	const char *sh = strchr(bucket, '/') + 1;

	wb_cstr(&a->buckets, bucket);
	wb_map(&a->buckets, 5);
	wb_cstr(&a->buckets, "cursor");
	wb_u64(&a->buckets, cursor);
	wb_cstr(&a->buckets, "more");
	wb_bool(&a->buckets, more);
	wb_cstr(&a->buckets, "reset");
	wb_bool(&a->buckets, reset);
	wb_cstr(&a->buckets, "recs");
	wb_arr(&a->buckets, nrecs);
	for (uint32_t i = 0; i < nrecs; i++) {
		const char *names[3] = {"site", "shift", "title"};
		const char *vals[3] = {"s1", sh, recs[i].title};

		wb_map(&a->buckets, 4);
		wb_cstr(&a->buckets, "c");
		wb_cstr(&a->buckets, "task");
		wb_cstr(&a->buckets, "id");
		wb_cstr(&a->buckets, recs[i].id);
		wb_cstr(&a->buckets, "f");
		wb_map(&a->buckets, 3);
		for (int q = 0; q < 3; q++) {
			wb_cstr(&a->buckets, names[q]);
			wb_cstr(&a->buckets, vals[q]);
		}
		wb_cstr(&a->buckets, "s");
		wb_map(&a->buckets, 3);
		for (int q = 0; q < 3; q++) {
			wb_cstr(&a->buckets, names[q]);
			wb_arr(&a->buckets, 2);
			wb_u64(&a->buckets, recs[i].hlc);
			wb_cstr(&a->buckets, recs[i].origin);
		}
	}
	wb_cstr(&a->buckets, "gone");
	wb_arr(&a->buckets, ngone);
	for (uint32_t i = 0; i < ngone; i++) {
		wb_arr(&a->buckets, 2);
		wb_cstr(&a->buckets, "task");
		wb_cstr(&a->buckets, gone[i]);
	}
	a->nbuckets++;
}

/* Encode and apply; returns sync_apply's code. */
static int ans_apply(fixture *f, answer *a, const sync_req *rq,
                     fs_sync_stats *st, int *again)
{
	wbuf w;
	int rc;

	wb_init(&w);
	wb_map(&w, a->nscope >= 0 ? 8 : 7);
	wb_cstr(&w, "v");
	wb_u64(&w, 1);
	wb_cstr(&w, "now");
	wb_u64(&w, a->now);
	wb_cstr(&w, "hlc");
	wb_u64(&w, HLC_MAKE(a->now, 0));
	wb_cstr(&w, "store");
	wb_cstr(&w, a->store);
	wb_cstr(&w, "acks");
	wb_arr(&w, a->nacks);
	wb_raw(&w, a->acks.p, a->acks.n);
	wb_cstr(&w, "buckets");
	wb_map(&w, a->nbuckets);
	wb_raw(&w, a->buckets.p, a->buckets.n);
	wb_cstr(&w, "drop");
	wb_arr(&w, 0);
	if (a->nscope >= 0) {
		wb_cstr(&w, "scope");
		wb_arr(&w, (uint32_t)a->nscope);
		for (int i = 0; i < a->nscope; i++)
			wb_cstr(&w, a->scope[i]);
	}
	assert_false(w.err);
	memset(st, 0, sizeof(*st));
	rc = sync_apply(f->c, rq, w.p, w.n, rq->t_send, st, again);
	wb_free(&w);
	wb_free(&a->acks);
	wb_free(&a->buckets);
	return rc;
}

/* The request body, decoded (for checks on what went out). */
static const wval *req_tree(arena *ar, const sync_req *rq)
{
	wval *v;

	assert_int_equal(wire_decode(ar, rq->body, rq->n, &v), 0);
	assert_int_equal(v->t, WV_MAP);
	return v;
}

/* ---- tests ------------------------------------------------------------------------ */

/* A write lands in the local record and the outbox at once; ops of one
 * staff member share the open batch until a sync seals it; the batch id
 * does not change when the batch is resent. */
static void test_write_outbox_and_batches(void **state)
{
	fixture *f = *state;
	sync_req rq1, rq2, rq3;
	char buf[64];
	arena *ar = arena_new(0);
	const wval *push;

	put_task(f->c, "t1", "sh1", "sweep");
	put_task(f->c, "t2", "sh1", "mop");
	{
		/* the store holds tokens: owner-only */
		char p[128];
		struct stat sb;

		snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		assert_int_equal(stat(f->dir, &sb), 0);
		assert_int_equal(sb.st_mode & 0077, 0);
	}
	assert_string_equal(field_of(f->c, "task", "t1", "title", buf, 64), "sweep");
	assert_int_equal(count(f->c, LT_OUTO), 2);
	assert_int_equal(count(f->c, LT_OUTB), 1);

	assert_int_equal(sync_prepare(f->c, 0, &rq1), FSC_OK);
	assert_int_equal(rq1.nbatches, 1);
	assert_int_equal(rq1.ops, 2);
	push = wv_get(req_tree(ar, &rq1), "push");
	assert_non_null(push);
	assert_int_equal(push->a.n, 1);
	assert_true(wv_is_str(wv_get(&push->a.v[0], "by"), "g1"));
	assert_true(wv_get(req_tree(ar, &rq1), "dev") != NULL);

	/* sealed: a new write opens a new batch */
	put_task(f->c, "t3", "sh1", "glass");
	assert_int_equal(count(f->c, LT_OUTB), 2);
	/* the resend carries the same id for the first batch */
	assert_int_equal(sync_prepare(f->c, 0, &rq2), FSC_OK);
	assert_int_equal(rq2.nbatches, 2);
	assert_memory_equal(rq1.ids[0], rq2.ids[0], 16);
	assert_memory_not_equal(rq2.ids[0], rq2.ids[1], 16);
	/* `after` skips what this sync already sent */
	assert_int_equal(sync_prepare(f->c, rq2.seqs[0], &rq3), FSC_OK);
	assert_int_equal(rq3.nbatches, 1);
	assert_int_equal(rq3.seqs[0], rq2.seqs[1]);
	sync_req_free(&rq1);
	sync_req_free(&rq2);
	sync_req_free(&rq3);
	arena_free(ar);
}

/* A staff change opens a new batch with the new `by`. */
static void test_by_follows_staff(void **state)
{
	fixture *f = *state;
	sync_req rq;
	arena *ar = arena_new(0);
	const wval *push;

	put_task(f->c, "t1", "sh1", "a");
	meta(f->c, "staff", "g2");
	put_task(f->c, "t2", "sh1", "b");
	assert_int_equal(count(f->c, LT_OUTB), 2);
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	push = wv_get(req_tree(ar, &rq), "push");
	assert_true(wv_is_str(wv_get(&push->a.v[0], "by"), "g1"));
	assert_true(wv_is_str(wv_get(&push->a.v[1], "by"), "g2"));
	sync_req_free(&rq);
	arena_free(ar);
}

/* Acked ops leave the outbox; pulled records merge per field by stamp:
 * an older pulled title loses to the local write, a newer one wins. */
static void test_ack_and_lww_pull(void **state)
{
	fixture *f = *state;
	sync_req rq;
	answer a;
	fs_sync_stats st;
	int again;
	char buf[64];
	fs_write w1 = put_task(f->c, "t1", "sh1", "local-1");

	put_task(f->c, "t2", "sh1", "local-2");
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_ack(&a, rq.ids[0], 2, NULL, NULL, 0);
	{
		prec recs[3] = {
			{"t1", "older", w1.hlc - 1, "zz-other"},
			{"t2", "newer", HLC_MAKE(NOW_MS + 1000, 0), "other"},
			{"t9", "theirs", 5, "other"},
		};
		ans_bucket(&a, "shift/sh1", 42, 0, 0, recs, 3, NULL, 0);
	}
	a.scope[0] = "shift/sh1";
	a.nscope = 1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(again, 0);
	assert_int_equal(st.ops_acked, 2);
	assert_int_equal(count(f->c, LT_OUTO), 0);
	assert_int_equal(count(f->c, LT_OUTB), 0);
	assert_string_equal(field_of(f->c, "task", "t1", "title", buf, 64), "local-1");
	assert_string_equal(field_of(f->c, "task", "t2", "title", buf, 64), "newer");
	assert_string_equal(field_of(f->c, "task", "t9", "title", buf, 64), "theirs");
	assert_int_equal(cursor_of(f->c, "shift/sh1"), 42);
	sync_req_free(&rq);
}

/* CLOCK_AHEAD: the op is restamped from the corrected clock and queued in
 * a NEW batch (never the old id); nothing becomes a dead letter. */
static void test_clock_ahead_restamps_new_batch(void **state)
{
	fixture *f = *state;
	sync_req rq, rq2;
	answer a;
	fs_sync_stats st;
	int again;
	rej r = {0, "CLOCK_AHEAD", NULL, 0};
	arena *ar = arena_new(0);
	const wval *push, *op;
	uint64_t s2;
	fs_write w;

	/* the device clock is two hours ahead of the server */
	fs_set_clock(f->c, 2 * 3600 * 1000LL, NULL, 0);
	w = put_task(f->c, "t1", "sh1", "ahead");
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	a.now = fs_device_wall(f->c) - 2 * 3600 * 1000ULL; /* the true time */
	ans_ack(&a, rq.ids[0], 0, NULL, &r, 1);
	a.nscope = -1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(again, 1);
	assert_int_equal(st.ops_restamped, 1);
	assert_int_equal(st.ops_rejected, 0);
	assert_int_equal(count(f->c, LT_DEAD), 0);
	assert_int_equal(count(f->c, LT_OUTB), 1);
	assert_int_equal(count(f->c, LT_OUTO), 1);

	assert_int_equal(sync_prepare(f->c, rq.seqs[0], &rq2), FSC_OK);
	assert_int_equal(rq2.nbatches, 1);
	assert_memory_not_equal(rq.ids[0], rq2.ids[0], 16);
	push = wv_get(req_tree(ar, &rq2), "push");
	op = &wv_get(&push->a.v[0], "ops")->a.v[0];
	assert_true(wv_u64(wv_get(op, "s"), &s2));
	/* stamped within a minute of the server's clock, not 2 h ahead */
	assert_true(HLC_WALL(s2) < a.now + 60000);
	assert_true(HLC_WALL(w.hlc) > a.now + 3600 * 1000ULL);
	/* the local record carries the new stamp */
	{
		fs_record *rec;
		char *j;

		assert_int_equal(fs_get(f->c, "task", "t1", &rec), FSC_OK);
		j = fs_rec_json(rec, 1);
		char want[64];
		snprintf(want, sizeof(want), "%llu", (unsigned long long)s2);
		assert_non_null(strstr(j, want));
		free(j);
		fs_record_free(rec);
	}
	sync_req_free(&rq);
	sync_req_free(&rq2);
	arena_free(ar);
}

/* A clock a little ahead (within the server's skew): its ops are
 * accepted, and a later edit of the same field still stamps above them,
 * so the device never loses to its own earlier write. */
static void test_small_lead_keeps_own_order(void **state)
{
	fixture *f = *state;
	sync_req rq;
	answer a;
	fs_sync_stats st;
	int again;
	fs_write w1, w2;
	char buf[64];

	fs_set_clock(f->c, 2 * 60 * 1000LL, NULL, 0);
	w1 = put_task(f->c, "t1", "sh1", "first");
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	a.now = fs_device_wall(f->c) - 2 * 60 * 1000ULL;
	ans_ack(&a, rq.ids[0], 1, NULL, NULL, 0);
	a.nscope = -1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(st.ops_acked, 1);
	w2 = put_task(f->c, "t1", "sh1", "second");
	assert_true(w2.hlc > w1.hlc);
	assert_string_equal(field_of(f->c, "task", "t1", "title", buf, 64),
	                    "second");
	sync_req_free(&rq);
}

/* A rejection goes to the dead letters and never blocks the ops behind
 * it; `cur` undoes the local write; a rejected new record disappears. */
static void test_reject_dead_letter_and_undo(void **state)
{
	fixture *f = *state;
	sync_req rq;
	answer a;
	fs_sync_stats st;
	int again;
	char buf[64];
	rej r[2] = {{0, "FORBIDDEN", "server-title", 7}, {1, "OUT_OF_SCOPE", NULL, 0}};

	put_task(f->c, "t1", "sh1", "mine");   /* exists on the server */
	put_task(f->c, "t2", "sh9", "nowhere"); /* new, refused */
	for (int i = 0; i < 5; i++) {
		char id[16];
		snprintf(id, sizeof(id), "ok%d", i);
		put_task(f->c, id, "sh1", "fine");
	}
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_ack(&a, rq.ids[0], 5, NULL, r, 2);
	a.nscope = -1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(st.ops_rejected, 2);
	assert_int_equal(st.ops_acked, 5);
	assert_int_equal(count(f->c, LT_DEAD), 2);
	assert_int_equal(count(f->c, LT_OUTO), 0);
	assert_string_equal(field_of(f->c, "task", "t1", "title", buf, 64),
	                    "server-title");
	assert_null(field_of(f->c, "task", "t2", "title", buf, 64));
	assert_string_equal(field_of(f->c, "task", "ok4", "title", buf, 64), "fine");
	sync_req_free(&rq);
}

/* UNAVAILABLE: the batch stays and goes again with the same id. */
static void test_unavailable_keeps_batch(void **state)
{
	fixture *f = *state;
	sync_req rq, rq2;
	answer a;
	fs_sync_stats st;
	int again;

	put_task(f->c, "t1", "sh1", "x");
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_ack(&a, rq.ids[0], 0, "UNAVAILABLE", NULL, 0);
	a.nscope = -1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(st.batches_unavailable, 1);
	assert_int_equal(count(f->c, LT_OUTO), 1);
	assert_int_equal(sync_prepare(f->c, 0, &rq2), FSC_OK);
	assert_memory_equal(rq.ids[0], rq2.ids[0], 16);
	sync_req_free(&rq);
	sync_req_free(&rq2);
}

/* reset: the bucket starts over from what this answer serves, and the
 * queued ops are applied on top again; more asks for another round. */
static void test_reset_bucket_keeps_outbox(void **state)
{
	fixture *f = *state;
	sync_req rq, rq2;
	answer a;
	fs_sync_stats st;
	int again;
	char buf[64];
	prec r1[2] = {{"old1", "o", 3, "x"}, {"old2", "o", 3, "x"}};
	prec r2[1] = {{"new1", "n", 4, "x"}};

	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_bucket(&a, "shift/sh1", 10, 0, 0, r1, 2, NULL, 0);
	a.scope[0] = "shift/sh1";
	a.nscope = 1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	sync_req_free(&rq);
	put_task(f->c, "pending", "sh1", "queued");

	assert_int_equal(sync_prepare(f->c, 0, &rq2), FSC_OK);
	ans_init(&a);
	ans_ack(&a, rq2.ids[0], 0, "UNAVAILABLE", NULL, 0);
	ans_bucket(&a, "shift/sh1", 1, 1, 1, r2, 1, NULL, 0);
	a.scope[0] = "shift/sh1";
	a.nscope = 1;
	assert_int_equal(ans_apply(f, &a, &rq2, &st, &again), FSC_OK);
	assert_int_equal(st.buckets_reset, 1);
	assert_int_equal(again, 1);
	assert_null(field_of(f->c, "task", "old1", "title", buf, 64));
	assert_string_equal(field_of(f->c, "task", "new1", "title", buf, 64), "n");
	assert_string_equal(field_of(f->c, "task", "pending", "title", buf, 64),
	                    "queued");
	assert_int_equal(cursor_of(f->c, "shift/sh1"), 1);
	sync_req_free(&rq2);
}

/* A bucket that left the scope is evicted only once the outbox holds
 * nothing for it; gone entries remove records. */
static void test_drop_waits_for_outbox(void **state)
{
	fixture *f = *state;
	sync_req rq;
	answer a;
	fs_sync_stats st;
	int again;
	char buf[64];
	prec r1[2] = {{"a", "A", 3, "x"}, {"b", "B", 3, "x"}};
	const char *gone[1] = {"b"};

	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_bucket(&a, "shift/old", 5, 0, 0, r1, 2, NULL, 0);
	ans_bucket(&a, "shift/new", 0, 0, 0, NULL, 0, NULL, 0);
	a.scope[0] = "shift/new";
	a.scope[1] = "shift/old";
	a.nscope = 2;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	sync_req_free(&rq);
	ans_init(&a);
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_bucket(&a, "shift/old", 6, 0, 0, NULL, 0, gone, 1);
	a.scope[0] = "shift/new";
	a.scope[1] = "shift/old";
	a.nscope = 2;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_null(field_of(f->c, "task", "b", "title", buf, 64));
	sync_req_free(&rq);

	/* queued work in shift/old, then the scope moves on */
	put_task(f->c, "late", "old", "evidence");
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_ack(&a, rq.ids[0], 0, "UNAVAILABLE", NULL, 0);
	a.scope[0] = "shift/new";
	a.nscope = 1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(st.buckets_dropped, 0);
	assert_string_equal(field_of(f->c, "task", "a", "title", buf, 64), "A");
	assert_int_equal(cursor_of(f->c, "shift/old"), 6);
	sync_req_free(&rq);

	/* the outbox drains: now it goes */
	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_ack(&a, rq.ids[0], 1, NULL, NULL, 0);
	a.scope[0] = "shift/new";
	a.nscope = 1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(st.buckets_dropped, 1);
	assert_null(field_of(f->c, "task", "a", "title", buf, 64));
	assert_null(field_of(f->c, "task", "late", "title", buf, 64));
	assert_int_equal(cursor_of(f->c, "shift/old"), UINT64_MAX);
	sync_req_free(&rq);
}

/* A new store id: every bucket is forgotten (cursors and records), the
 * outbox is kept and replayed, and another round is asked for. */
static void test_store_change_resets_keeps_outbox(void **state)
{
	fixture *f = *state;
	sync_req rq;
	answer a;
	fs_sync_stats st;
	int again;
	char buf[64];
	prec r1[1] = {{"srv", "S", 3, "x"}};

	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_bucket(&a, "shift/sh1", 9, 0, 0, r1, 1, NULL, 0);
	a.scope[0] = "shift/sh1";
	a.nscope = 1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	sync_req_free(&rq);
	put_task(f->c, "mine", "sh1", "queued");

	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	a.store = "store-2";
	ans_ack(&a, rq.ids[0], 0, "UNAVAILABLE", NULL, 0);
	ans_bucket(&a, "shift/sh1", 9, 0, 0, NULL, 0, NULL, 0);
	a.scope[0] = "shift/sh1";
	a.nscope = 1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(st.store_changed, 1);
	assert_int_equal(again, 1);
	assert_int_equal(cursor_of(f->c, "shift/sh1"), UINT64_MAX);
	assert_null(field_of(f->c, "task", "srv", "title", buf, 64));
	assert_string_equal(field_of(f->c, "task", "mine", "title", buf, 64),
	                    "queued");
	assert_int_equal(count(f->c, LT_OUTO), 1);
	sync_req_free(&rq);
}

/* Names are checked against the schema before anything is queued. */
static void test_schema_checks(void **state)
{
	fixture *f = *state;
	fs_field bad = fstr("colour", "red");
	fs_field srv = fstr("trust", "verified");
	fs_field ok = fstr("title", "x");

	assert_int_equal(fs_put(f->c, "nosuch", "x", &ok, 1, NULL), FSC_EINVAL);
	assert_int_equal(fs_put(f->c, "task", "x", &bad, 1, NULL), FSC_EINVAL);
	assert_int_equal(fs_put(f->c, "checkin", "x", &srv, 1, NULL), FSC_EINVAL);
	assert_int_equal(fs_put(f->c, "task", "bad id!", &ok, 1, NULL), FSC_EINVAL);
	/* no bucket: the task is not local and the op names no shift */
	assert_int_equal(fs_put(f->c, "task", "x", &ok, 1, NULL), FSC_EINVAL);
	assert_int_equal(count(f->c, LT_OUTO), 0);
}

/* Two stores with the same records give the same bucket digest. */
static void test_digest_is_content(void **state)
{
	fixture *f = *state;
	sync_req rq;
	answer a;
	fs_sync_stats st;
	int again;
	char h1[65], h2[65];
	uint64_t n1, n2;
	prec r1[2] = {{"a", "A", 3, "x"}, {"b", "B", 4, "y"}};

	assert_int_equal(sync_prepare(f->c, 0, &rq), FSC_OK);
	ans_init(&a);
	ans_bucket(&a, "shift/sh1", 2, 0, 0, r1, 2, NULL, 0);
	a.nscope = -1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(fs_bucket_digest(f->c, "shift/sh1", h1, &n1), FSC_OK);
	assert_int_equal(n1, 2);
	/* applying the same answer again changes nothing (idempotent) */
	ans_init(&a);
	ans_bucket(&a, "shift/sh1", 2, 0, 0, r1, 2, NULL, 0);
	a.nscope = -1;
	assert_int_equal(ans_apply(f, &a, &rq, &st, &again), FSC_OK);
	assert_int_equal(fs_bucket_digest(f->c, "shift/sh1", h2, &n2), FSC_OK);
	assert_string_equal(h1, h2);
	put_task(f->c, "c", "sh1", "C");
	assert_int_equal(fs_bucket_digest(f->c, "shift/sh1", h2, &n2), FSC_OK);
	assert_int_equal(n2, 3);
	assert_string_not_equal(h1, h2);
	sync_req_free(&rq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_outbox_and_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_follows_staff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_and_lww_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_ahead_restamps_new_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_lead_keeps_own_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_dead_letter_and_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unavailable_keeps_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_bucket_keeps_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_waits_for_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_change_resets_keeps_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_is_content, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
