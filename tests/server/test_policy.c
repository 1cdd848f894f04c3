/* test_policy.c — server/model/policy.h against schema/SCHEMA.md's tables
 * and protocol/PROTOCOL.md's scope rule, case by case: every collection x
 * every role (and a supervisor of another site) x own site / other site,
 * and for the shift buckets on the shift / not on it, running / within
 * the evidence window / past it.  The expected answers are written here
 * from the documents, not from the code, so a rule changed in policy.c
 * fails this test first.
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
#include "protocol/record.h"
#include "protocol/wire.h"
#include "schema/schema.h"
#include "server/model/policy.h"
#include "server/store/keys.h"

#define HOUR (3600ULL * 1000)
#define DAY (24 * HOUR)
#define NOW (1000 * DAY) /* any fixed time */
#define EVIDENCE (7 * DAY)

/* ---- the people ----------------------------------------------------------- */

enum { P_GUARD, P_CLEANER, P_TECH, P_SUP, P_SUP_B, P_ADMIN, P_GUARD2, NP };

static principal people[NP];

static void person(int i, const char *staff, const char *site, int role)
{
	memset(&people[i], 0, sizeof(people[i]));
	snprintf(people[i].device, sizeof(people[i].device), "dev-%s", staff);
	snprintf(people[i].staff, sizeof(people[i].staff), "%s", staff);
	snprintf(people[i].site, sizeof(people[i].site), "%s", site);
	people[i].role = role;
}

static void make_people(void)
{
	person(P_GUARD, "g1", "sa", ROLE_GUARD);
	person(P_CLEANER, "c1", "sa", ROLE_CLEANER);
	person(P_TECH, "t1", "sa", ROLE_TECHNICIAN);
	person(P_SUP, "s1", "sa", ROLE_SUPERVISOR);
	person(P_SUP_B, "s2", "sb", ROLE_SUPERVISOR);
	person(P_ADMIN, "admin", "", ROLE_ADMIN);
	person(P_GUARD2, "g2", "sa", ROLE_GUARD);
}

/* ---- the shifts (the stub behind policy_writer.load_shift) --------------- */

static char *crew[] = {"g1", "c1", "t1"};
static char *crew2[] = {"g2"};
static char *crew_b[] = {"gb"};

static shift_info shifts[] = {
	/* running now, site A: g1 (its lead), c1, t1 */
	{"shA", "sa", ROLE_GUARD, NOW - HOUR, NOW + 7 * HOUR, crew, 3, NULL, "g1"},
	/* the next shift of the post */
	{"shA2", "sa", ROLE_GUARD, NOW + 7 * HOUR, NOW + 19 * HOUR, crew2, 1,
	 NULL, "g2"},
	/* ended 3 days ago: inside the 7-day evidence window */
	{"shOld", "sa", ROLE_GUARD, NOW - 3 * DAY - 8 * HOUR, NOW - 3 * DAY,
	 crew, 3, NULL, "g1"},
	/* ended 10 days ago: past it */
	{"shAncient", "sa", ROLE_GUARD, NOW - 10 * DAY - 8 * HOUR,
	 NOW - 10 * DAY, crew, 3, NULL, "g1"},
	/* running now, site B */
	{"shB", "sb", ROLE_GUARD, NOW - HOUR, NOW + 7 * HOUR, crew_b, 1, NULL,
	 "gb"},
};

/* Only in the stub (test_scope's store has the list above): after shA,
 * same site but not the post's next: a cleaner shift, and a guard shift
 * three days on. */
static shift_info handover_shifts[] = {
	{"shA2c", "sa", ROLE_CLEANER, NOW + 7 * HOUR, NOW + 19 * HOUR, crew2,
	 1, NULL, "g2"},
	{"shAfar", "sa", ROLE_GUARD, NOW + 3 * DAY, NOW + 3 * DAY + 8 * HOUR,
	 crew2, 1, NULL, "g2"},
};

static int load_shift(void *ctx, const char *id, shift_info *s)
{
	for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++)
		if (!strcmp(shifts[i].id, id)) {
			*s = shifts[i];
			return FS_OK;
		}
	for (size_t i = 0; i < 2; i++)
		if (!strcmp(handover_shifts[i].id, id)) {
			*s = handover_shifts[i];
			return FS_OK;
		}
	return FS_E_NOT_FOUND;
}

/* ---- records from "k=v" strings ------------------------------------------
 * v: "#123" a uint, "[a]" an array of one string, anything else a string. */

static wval *fields(arena *a, const char *const *kv)
{
	uint32_t n = 0;
	while (kv[n])
		n++;
	wbuf b;
	wb_init(&b);
	wb_map(&b, n);
	for (uint32_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		assert_non_null(eq);
		wb_str(&b, kv[i], (size_t)(eq - kv[i]));
		const char *v = eq + 1;
		if (v[0] == '#') {
			wb_u64(&b, strtoull(v + 1, NULL, 10));
		} else if (v[0] == '[') {
			wb_arr(&b, 1);
			wb_str(&b, v + 1, strlen(v) - 2);
		} else {
			wb_cstr(&b, v);
		}
	}
	assert_false(b.err);
	size_t n_bytes = b.n;
	uint8_t *copy = arena_dup(a, b.p, n_bytes);
	wb_free(&b);
	wval *m;
	assert_int_equal(wire_decode(a, copy, n_bytes, &m), FS_OK);
	return m;
}

static record *merged(arena *a, const record *base, const wval *f,
                       uint64_t hlc)
{
	record *r = arena_calloc(a, 1, sizeof(*r));
	rec_init(r);
	if (base && base->n) {
		r->f = arena_dup(a, base->f, base->n * sizeof(rfield));
		r->n = r->cap = base->n;
	}
	stamp st = {hlc, "dev", 3};
	for (uint32_t i = 0; i < f->m.n; i++)
		assert_true(rec_merge(a, r, f->m.k[i].s.p, f->m.k[i].s.n,
		                      &f->m.v[i], &st) >= 0);
	return r;
}

/* The answer of policy_write for person `who` writing fields `f` of
 * (c, id), on top of `old` fields (NULL: a new record). */
static int write_as(int who, const char *c, const char *id,
                    const char *const *old_kv, const char *const *f_kv)
{
	arena *a = arena_new(0);
	const scollection *col = schema_collection(c, strlen(c));
	assert_non_null(col);
	record *old = NULL;
	char *old_bucket = NULL;
	if (old_kv) {
		old = merged(a, NULL, fields(a, old_kv), 1);
		old_bucket = policy_record_bucket(a, col, id, old);
		assert_non_null(old_bucket);
	}
	wval *f = fields(a, f_kv);
	record *nw = merged(a, old, f, 2); /* later than old */
	char *bucket = policy_record_bucket(a, col, id, nw);
	assert_non_null(bucket);
	policy_writer pw = {&people[who], NOW, EVIDENCE, a, load_shift, NULL};
	const char *msg = "unset";
	int rc = policy_write(&pw, col, id, old, old_bucket, nw, bucket, f, &msg);
	if (rc)
		assert_non_null(msg);
	arena_free(a);
	return rc;
}

#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define OK FS_OK
#define NO FS_E_FORBIDDEN
#define OUT FS_E_OUT_OF_SCOPE

static const char *const who_name[NP] = {"guard", "cleaner", "technician",
                                         "supervisor A", "supervisor B",
                                         "admin", "guard 2"};

static void expect(int got, int want, int who, const char *what)
{
	if (got != want)
		fail_msg("%s as %s: got %s, want %s", what, who_name[who],
		         fs_err_name(got), fs_err_name(want));
}

/* ---- site: admin only ----------------------------------------------------- */

static void test_site_admin_only(void **st)
{
	const char *sites[] = {"sa", "sb"};
	for (int s = 0; s < 2; s++)
		for (int who = 0; who < NP; who++)
			expect(write_as(who, "site", sites[s], NULL, KV("name=x")),
			       who == P_ADMIN ? OK : NO, who, sites[s]);
}

/* ---- site bucket: supervisor of the site, admin -------------------------- */

static void test_site_bucket_collections(void **st)
{
	const char *cols[] = {"zone", "checkpoint", "route", "staff", "shift",
	                      "standard", "roster"};
	for (int c = 0; c < 7; c++)
		for (int who = 0; who < NP; who++) {
			int own = who == P_SUP ? OK : who == P_SUP_B ? OUT : NO;
			int other = who == P_SUP_B ? OK : who == P_SUP ? OUT : NO;
			if (who == P_ADMIN)
				own = other = OK;
			char what[64];
			snprintf(what, sizeof(what), "%s of site A", cols[c]);
			expect(write_as(who, cols[c], "x1", NULL, KV("site=sa")), own,
			       who, what);
			snprintf(what, sizeof(what), "%s of site B", cols[c]);
			expect(write_as(who, cols[c], "x1", NULL, KV("site=sb")), other,
			       who, what);
			/* a deletion: the same people */
			snprintf(what, sizeof(what), "deleting a %s of site A", cols[c]);
			expect(write_as(who, cols[c], "x1", KV("site=sa"),
			                KV("_deleted=x")), own, who, what);
		}
}

static void test_staff_roles(void **st)
{
	/* a supervisor cannot grant the admin role, nor change its own */
	expect(write_as(P_SUP, "staff", "g9", NULL, KV("site=sa", "role=admin")),
	       NO, P_SUP, "granting admin");
	expect(write_as(P_SUP, "staff", "g9", NULL, KV("site=sa", "role=guard")),
	       OK, P_SUP, "making a guard");
	expect(write_as(P_SUP, "staff", "s1", KV("site=sa", "role=supervisor"),
	                KV("role=guard")), NO, P_SUP, "changing its own role");
	expect(write_as(P_SUP, "staff", "s1", KV("site=sa", "role=supervisor"),
	                KV("name=Liu")), OK, P_SUP, "its own name");
	expect(write_as(P_ADMIN, "staff", "s1", KV("site=sa"),
	                KV("role=admin")), OK, P_ADMIN, "admin granting admin");
}

/* ---- task: shift staff complete, supervisors plan ------------------------ */

static void test_task(void **st)
{
	struct {
		const char *shift;
		int want[NP]; /* completing it (status done) */
	} cases[] = {
		/*            guard cleaner tech sup  supB admin guard2 */
		{"shA",       {OK,  OK,     OK,  OK,  OUT, OK,   NO}},
		{"shOld",     {OK,  OK,     OK,  OK,  OUT, OK,   NO}},
		{"shAncient", {OUT, OUT,    OUT, OK,  OUT, OK,   NO}},
		{"shB",       {NO,  NO,     NO,  OUT, OK,  OK,   NO}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int who = 0; who < NP; who++) {
			char sh[64], what[96];
			snprintf(sh, sizeof(sh), "shift=%s", cases[i].shift);
			const char *site = !strcmp(cases[i].shift, "shB") ? "site=sb"
			                                                  : "site=sa";
			snprintf(what, sizeof(what), "completing a task of %s",
			         cases[i].shift);
			expect(write_as(who, "task", "tk1", KV(site, sh, "title=t"),
			                KV("status=done", "done_by=x")),
			       cases[i].want[who], who, what);
			/* the plan (title) is the supervisor's and the admin's */
			int plan = cases[i].want[who];
			if (who != P_SUP && who != P_SUP_B && who != P_ADMIN)
				plan = NO;
			snprintf(what, sizeof(what), "retitling a task of %s",
			         cases[i].shift);
			expect(write_as(who, "task", "tk1", KV(site, sh, "title=t"),
			                KV("title=u")), plan, who, what);
		}
	/* moving a task to another site's shift is outside a supervisor's
	 * scope even though the old bucket is its own */
	expect(write_as(P_SUP, "task", "tk1", KV("site=sa", "shift=shA"),
	                KV("shift=shB")), OUT, P_SUP, "moving a task to site B");
}

/* ---- checkin: a guard's own, supervisors, admin -------------------------- */

static void test_checkin(void **st)
{
	struct {
		const char *shift, *staff;
		int want[NP];
	} cases[] = {
		/*                    guard cleaner tech sup  supB admin guard2 */
		{"shA", "g1",         {OK,  NO,     NO,  OK,  OUT, OK,   NO}},
		{"shOld", "g1",       {OK,  NO,     NO,  OK,  OUT, OK,   NO}},
		{"shAncient", "g1",   {OUT, NO,     NO,  OK,  OUT, OK,   NO}},
		{"shB", "g1",         {OUT, NO,     NO,  OUT, OK,  OK,   NO}},
		/* g2 is not on shA: its own checkin is out of its scope */
		{"shA", "g2",         {NO,  NO,     NO,  OK,  OUT, OK,   OUT}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int who = 0; who < NP; who++) {
			char sh[64], sf[64], what[96];
			snprintf(sh, sizeof(sh), "shift=%s", cases[i].shift);
			snprintf(sf, sizeof(sf), "staff=%s", cases[i].staff);
			snprintf(what, sizeof(what), "a checkin of %s on %s",
			         cases[i].staff, cases[i].shift);
			expect(write_as(who, "checkin", "ck1", NULL,
			                KV(sh, sf, "checkpoint=cp1", "at=#5")),
			       cases[i].want[who], who, what);
		}
}

/* ---- order: anyone of the site reports, technicians work ------------------ */

static void test_order(void **st)
{
	/* a new order of site A reported by its writer */
	for (int who = 0; who < NP; who++) {
		char rep[64];
		snprintf(rep, sizeof(rep), "reporter=%s", people[who].staff);
		int want = who == P_SUP_B ? OUT : OK;
		expect(write_as(who, "order", "o1", NULL,
		                KV("site=sa", rep, "status=reported", "title=t")),
		       want, who, "reporting an order of site A");
		/* of another site: only its supervisor and the admin */
		want = who == P_SUP_B || who == P_ADMIN ? OK
		       : who == P_SUP ? OUT : NO;
		expect(write_as(who, "order", "o1", NULL,
		                KV("site=sb", rep, "status=reported", "title=t")),
		       want, who, "reporting an order of site B");
	}
	/* reporting in someone else's name, or already accepted */
	expect(write_as(P_GUARD, "order", "o1", NULL,
	                KV("site=sa", "reporter=g2", "title=t")), NO, P_GUARD,
	       "reporting as another");
	expect(write_as(P_GUARD, "order", "o1", NULL,
	                KV("site=sa", "reporter=g1", "status=accepted")), NO,
	       P_GUARD, "reporting it accepted");
	/* an order assigned to t1: its technician works it, the reporter no
	 * longer writes it, the supervisor does */
	const char *const *old = KV("site=sa", "reporter=g1", "status=reported",
	                            "assignee=t1");
	int want[NP] = {NO, NO, OK, OK, OUT, OK, NO};
	for (int who = 0; who < NP; who++)
		expect(write_as(who, "order", "o1", old, KV("status=accepted")),
		       want[who], who, "accepting an assigned order");
	/* a technician takes an unassigned order, never gives it to another */
	expect(write_as(P_TECH, "order", "o1",
	                KV("site=sa", "reporter=g1", "status=reported"),
	                KV("assignee=t1")), OK, P_TECH, "taking an order");
	expect(write_as(P_TECH, "order", "o1",
	                KV("site=sa", "reporter=g1", "status=reported"),
	                KV("assignee=t2")), NO, P_TECH, "assigning another");
}

/* ---- handover: the lead of its from_shift, supervisors, admin ------------ */

static void test_handover(void **st)
{
	/*               guard(lead) cleaner tech sup supB admin guard2 */
	int want[NP] = {OK,          NO,     NO,  OK, OUT, OK,   NO};
	for (int who = 0; who < NP; who++)
		expect(write_as(who, "handover", "h1", NULL,
		                KV("site=sa", "from_shift=shA", "to_shift=shA2",
		                   "note=n")),
		       want[who], who, "a handover from shA to shA2");
}

/* The lead's grant is checked on the stored handover as well as the
 * written one, and reaches only the next shifts of the same post. */
static void test_handover_lead_bounds(void **st)
{
	/* the repro: g1 (lead of shA) takes over g2's handover from shA2 by
	 * writing from_shift=shA into it */
	expect(write_as(P_GUARD, "handover", "hx",
	                KV("site=sa", "from_shift=shA2", "to_shift=shAfar"),
	                KV("from_shift=shA", "to_shift=shA2", "note=mine")),
	       NO, P_GUARD, "taking over another lead's handover");
	expect(write_as(P_GUARD2, "handover", "hx",
	                KV("site=sa", "from_shift=shA", "to_shift=shA2"),
	                KV("from_shift=shA2", "to_shift=shAfar")),
	       NO, P_GUARD2, "moving g1's handover to g2's own shift");
	/* the lead edits its own handover */
	expect(write_as(P_GUARD, "handover", "h1",
	                KV("site=sa", "from_shift=shA", "to_shift=shA2"),
	                KV("note=gate 2")),
	       OK, P_GUARD, "the lead's own handover edited");
	const char *bad_to[] = {"shA2c", "shAfar", "shA", "shB", "nosuch"};
	for (size_t i = 0; i < sizeof(bad_to) / sizeof(bad_to[0]); i++) {
		char to[64];
		snprintf(to, sizeof(to), "to_shift=%s", bad_to[i]);
		int got = write_as(P_GUARD, "handover", "h2", NULL,
		                   KV("site=sa", "from_shift=shA", to));
		if (got == OK)
			fail_msg("a lead's handover to %s accepted", bad_to[i]);
	}
	/* a supervisor is bound by none of this */
	expect(write_as(P_SUP, "handover", "hx",
	                KV("site=sa", "from_shift=shA2", "to_shift=shAfar"),
	                KV("from_shift=shA", "note=sup")),
	       OK, P_SUP, "a supervisor rewrites a handover");
}

/* ---- manages_site --------------------------------------------------------- */

static void test_manages_site(void **st)
{
	int want_a[NP] = {0, 0, 0, 1, 0, 1, 0};
	for (int who = 0; who < NP; who++) {
		assert_int_equal(policy_manages_site(&people[who], "sa"),
		                 want_a[who]);
		assert_int_equal(policy_is_manager(&people[who]),
		                 who == P_SUP || who == P_SUP_B || who == P_ADMIN);
	}
	assert_int_equal(policy_manages_site(&people[P_SUP], NULL), 0);
}

/* ---- scope (a real store: it scans the shift index) ---------------------- */

typedef struct {
	char dir[64];
	store *s;
} fixture;

static void put_shift(store_txn *t, arena *a, const shift_info *s)
{
	wbuf b;
	wb_init(&b);
	wb_map(&b, 4);
	wb_cstr(&b, "site");
	wb_cstr(&b, s->site);
	wb_cstr(&b, "starts");
	wb_u64(&b, s->starts);
	wb_cstr(&b, "ends");
	wb_u64(&b, s->ends);
	wb_cstr(&b, "staff");
	wb_arr(&b, s->nstaff);
	for (uint32_t i = 0; i < s->nstaff; i++)
		wb_cstr(&b, s->staff[i]);
	wval *f;
	assert_int_equal(wire_decode(a, b.p, b.n, &f), FS_OK);
	record *r = merged(a, NULL, f, 1);
	wbuf enc;
	wb_init(&enc);
	rec_encode(&enc, r);
	char *bucket = policy_bucket_name(a, "site", s->site, strlen(s->site));
	uint64_t seq;
	assert_int_equal(store_rec_put(t, "shift", s->id, bucket,
	                               sv_of(enc.p, enc.n), &seq), FS_OK);
	assert_int_equal(shift_index_update(t, a, s->id, NULL, r), FS_OK);
	char k[KEY_MAX];
	size_t kn = key_bucket(k, sizeof(k), bucket);
	uint8_t one = 1;
	assert_int_equal(store_put(t, ST_AUX, sv_of(k, kn), sv_of(&one, 1)),
	                 FS_OK);
	kn = key_bucket(k, sizeof(k),
	                policy_bucket_name(a, "shift", s->id, strlen(s->id)));
	assert_int_equal(store_put(t, ST_AUX, sv_of(k, kn), sv_of(&one, 1)),
	                 FS_OK);
	wb_free(&b);
	wb_free(&enc);
}

static int setup_store(void **st)
{
	fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/fs_policy_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(&f->s, f->dir, NULL), FS_OK);
	store_txn *t;
	arena *a = arena_new(0);
	assert_int_equal(store_begin(f->s, 1, &t), FS_OK);
	for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++)
		put_shift(t, a, &shifts[i]);
	/* a supervisor sees from 24 h back, others from 12 h back */
	static char *late_crew[] = {"g1"};
	shift_info ended18 = {"shEnded18", "sa", ROLE_GUARD, NOW - 26 * HOUR,
	                      NOW - 18 * HOUR, late_crew, 1, NULL, NULL};
	shift_info ended6 = {"shEnded6", "sa", ROLE_GUARD, NOW - 14 * HOUR,
	                     NOW - 6 * HOUR, late_crew, 1, NULL, NULL};
	shift_info in30 = {"shIn30", "sa", ROLE_GUARD, NOW + 30 * HOUR,
	                   NOW + 38 * HOUR, late_crew, 1, NULL, NULL};
	put_shift(t, a, &ended18);
	put_shift(t, a, &ended6);
	put_shift(t, a, &in30);
	assert_int_equal(store_commit(t), FS_OK);
	arena_free(a);
	*st = f;
	return 0;
}

static int teardown_store(void **st)
{
	fixture *f = *st;
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void scope_is(fixture *f, int who, const char *want)
{
	store_txn *t;
	arena *a = arena_new(0);
	char **v;
	unsigned n;
	assert_int_equal(store_begin(f->s, 0, &t), FS_OK);
	assert_int_equal(policy_scope(t, &people[who], NOW, a, &v, &n), FS_OK);
	char got[1024] = "";
	for (unsigned i = 0; i < n; i++) {
		strcat(got, v[i]);
		strcat(got, " ");
		if (i)
			assert_true(strcmp(v[i - 1], v[i]) < 0);
		assert_true(policy_in_scope(v, n, v[i]));
	}
	assert_false(policy_in_scope(v, n, "shift/nowhere"));
	store_abort(t);
	arena_free(a);
	if (strcmp(got, want))
		fail_msg("scope of %s: got '%s', want '%s'", who_name[who], got,
		         want);
}

static void test_scope(void **st)
{
	fixture *f = *st;
	/* guard and cleaner: the site and their shifts overlapping
	 * [now-12h, now+24h] */
	scope_is(f, P_GUARD, "shift/shA shift/shEnded6 site/sa ");
	scope_is(f, P_CLEANER, "shift/shA site/sa ");
	/* technician: the same and the site's orders */
	scope_is(f, P_TECH, "orders/sa shift/shA site/sa ");
	scope_is(f, P_GUARD2, "shift/shA2 site/sa ");
	/* supervisor: every shift of the site overlapping [now-24h, now+24h] */
	scope_is(f, P_SUP, "alerts/sa orders/sa shift/shA shift/shA2 shift/shEnded18 "
	                   "shift/shEnded6 site/sa ");
	scope_is(f, P_SUP_B, "alerts/sb orders/sb shift/shB site/sb ");
	/* admin: every bucket ever used */
	scope_is(f, P_ADMIN, "shift/shA shift/shA2 shift/shAncient shift/shB "
	                     "shift/shEnded18 shift/shEnded6 shift/shIn30 "
	                     "shift/shOld site/sa site/sb ");
}

int main(void)
{
	make_people();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_admin_only),
		cmocka_unit_test(test_site_bucket_collections),
		cmocka_unit_test(test_staff_roles),
		cmocka_unit_test(test_task),
		cmocka_unit_test(test_checkin),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_handover),
		cmocka_unit_test(test_handover_lead_bounds),
		cmocka_unit_test(test_manages_site),
		cmocka_unit_test_setup_teardown(test_scope, setup_store,
		                                teardown_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
