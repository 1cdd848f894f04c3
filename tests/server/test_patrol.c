/* test_patrol.c — server/svc/patrol.h with exact times: a night shift
 * 22:00-06:00, a 2-checkpoint route every 120 min with 15 min grace, and
 * chosen scans give exactly the expected on_time/late/missed/pending/
 * open/extra counts, both grace cases included; a late-syncing device
 * turns pending into on_time; the evidence window ends pending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/svc/patrol.h"

#define MIN 60000ULL
#define HR (60 * MIN)
/* 22:00 on some night, as ms UTC */
#define T0 1717279200000ULL
/* hh:mm of the night: 21:xx, 22:xx, 23:xx, then 00:xx.. of the next day */
#define AT(h, m)                                                               \
	((uint64_t)((int64_t)T0 + ((h) >= 12 ? (h) - 22 : (h) + 2) * (int64_t)HR + \
	            (m) * (int64_t)MIN))

static const char *const route[] = {"A", "B"};

/* The scans of the night (the first test's table) */
static patrol_checkin night[] = {
	{"a0", "A", AT(22, 10), 0},  /* A r0 on time */
	{"a1", "A", AT(2, 5), 0},    /* A r1 late: r2 keeps a3 */
	{"a3", "A", AT(3, 0), 0},    /* A r2 on time */
	{"aX", "A", AT(21, 50), 0},  /* before the shift: extra */
	{"b1", "B", AT(0, 5), 0},    /* in r0's grace, but r1 has nothing else: r1 on time, r0 missed */
	{"b2", "B", AT(4, 10), 0},   /* B r2 late: r3 keeps b3 */
	{"b3", "B", AT(5, 0), 0},    /* B r3 on time */
	{"b4", "B", AT(5, 30), 0},   /* a repeat: extra */
	{"c1", "C", AT(23, 0), 0},   /* not on the route: extra */
};

static patrol_in base_in(void)
{
	patrol_in in;
	memset(&in, 0, sizeof(in));
	in.starts = AT(22, 0);
	in.ends = AT(6, 0);
	in.every_ms = 120 * MIN;
	in.grace_ms = 15 * MIN;
	in.checkpoints = route;
	in.ncp = 2;
	in.checkins = night;
	in.nci = sizeof(night) / sizeof(night[0]);
	in.evidence_window_ms = 7 * 24 * HR;
	return in;
}

static int state_of(const patrol_out *o, uint32_t k, uint32_t cp)
{
	return o->pairs[k * 2 + cp].state;
}

static const char *checkin_of(const patrol_in *in, const patrol_out *o,
                              uint32_t k, uint32_t cp)
{
	int64_t i = o->pairs[k * 2 + cp].checkin;
	return i < 0 ? NULL : in->checkins[i].id;
}

static void test_night_all_synced(void **st)
{
	arena *a = arena_new(0);
	patrol_in in = base_in();
	patrol_device dev = {AT(6, 40), 1, 0}; /* synced after the end, empty */
	in.devices = &dev;
	in.ndev = 1;
	in.now = AT(6, 45);
	patrol_out o;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.nrounds, 4);
	assert_int_equal(o.expected, 8);
	assert_int_equal(o.on_time, 4);
	assert_int_equal(o.late, 2);
	assert_int_equal(o.missed, 2);
	assert_int_equal(o.pending, 0);
	assert_int_equal(o.open, 0);
	assert_int_equal(o.extra, 3);
	/* A: on time, late, on time, missed */
	assert_int_equal(state_of(&o, 0, 0), PS_ON_TIME);
	assert_string_equal(checkin_of(&in, &o, 0, 0), "a0");
	assert_int_equal(state_of(&o, 1, 0), PS_LATE);
	assert_string_equal(checkin_of(&in, &o, 1, 0), "a1");
	assert_int_equal(state_of(&o, 2, 0), PS_ON_TIME);
	assert_string_equal(checkin_of(&in, &o, 2, 0), "a3");
	assert_int_equal(state_of(&o, 3, 0), PS_MISSED);
	assert_null(checkin_of(&in, &o, 3, 0));
	/* B: skipped r0 and did r1 early -> missed, on time; r2 late, r3 on time */
	assert_int_equal(state_of(&o, 0, 1), PS_MISSED);
	assert_int_equal(state_of(&o, 1, 1), PS_ON_TIME);
	assert_string_equal(checkin_of(&in, &o, 1, 1), "b1");
	assert_int_equal(state_of(&o, 2, 1), PS_LATE);
	assert_string_equal(checkin_of(&in, &o, 2, 1), "b2");
	assert_int_equal(state_of(&o, 3, 1), PS_ON_TIME);
	assert_string_equal(checkin_of(&in, &o, 3, 1), "b3");
	assert_int_equal(patrol_round_from(&in, 3), AT(4, 0));
	assert_int_equal(patrol_round_to(&in, 3), AT(6, 0));
	arena_free(a);
}

/* A replayed secure-tag tap (voided) is kept but scored as nothing: a0
 * voided leaves A's round 0 missed, and it is not extra either. */
static void test_voided_scores_nothing(void **st)
{
	arena *a = arena_new(0);
	patrol_in in = base_in();
	patrol_checkin v[sizeof(night) / sizeof(night[0])];
	memcpy(v, night, sizeof(night));
	v[0].voided = 1;
	in.checkins = v;
	patrol_device dev = {AT(6, 40), 1, 0};
	in.devices = &dev;
	in.ndev = 1;
	in.now = AT(6, 45);
	patrol_out o;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(state_of(&o, 0, 0), PS_MISSED);
	assert_int_equal(o.on_time, 3);
	assert_int_equal(o.missed, 3);
	assert_int_equal(o.extra, 3);
	assert_int_equal(o.used[0], 0);
	arena_free(a);
}

static void test_pending_until_synced(void **st)
{
	arena *a = arena_new(0);
	patrol_in in = base_in();
	/* the guard's handheld last synced at 05:00 with nothing pending: the
	 * scans whose window+grace ended before are settled, A r3's is not */
	patrol_device dev = {AT(5, 0), 1, 0};
	in.devices = &dev;
	in.ndev = 1;
	in.now = AT(6, 30);
	patrol_out o;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.on_time, 4);
	assert_int_equal(o.late, 2);
	assert_int_equal(o.missed, 1);  /* B r0 */
	assert_int_equal(o.pending, 1); /* A r3 */
	assert_int_equal(state_of(&o, 3, 0), PS_PENDING);
	assert_int_equal(state_of(&o, 0, 1), PS_MISSED);

	/* a sync after the end that still has ops in its outbox: every pair
	 * without a scan may still get one */
	dev.last_sync = AT(6, 20);
	dev.pending = 3;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.pending, 2);
	assert_int_equal(o.missed, 0);
	/* a second device of the shift's staff that never synced since: every
	 * pair whose end passed is pending, B r0 too */
	patrol_device two[2] = {{AT(6, 20), 1, 0}, {AT(0, 10), 1, 0}};
	in.devices = two;
	in.ndev = 2;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.pending, 2);
	assert_int_equal(o.missed, 0);
	/* no device at all: nothing can still arrive */
	in.ndev = 0;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.pending, 0);
	assert_int_equal(o.missed, 2);
	/* past the evidence window a late push is refused: missed */
	in.devices = two;
	in.ndev = 2;
	in.now = AT(6, 0) + 7 * 24 * HR;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.pending, 0);
	assert_int_equal(o.missed, 2);
	arena_free(a);
}

static void test_late_sync_turns_pending_on_time(void **st)
{
	arena *a = arena_new(0);
	patrol_in in = base_in();
	patrol_device dev = {AT(5, 0), 1, 1}; /* one op still in the outbox */
	in.devices = &dev;
	in.ndev = 1;
	in.now = AT(6, 30);
	patrol_out o;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(state_of(&o, 3, 0), PS_PENDING);
	assert_int_equal(o.pending, 2); /* B r0 too: the outbox was not empty */

	/* at 07:10 the handheld syncs: it carried A's 05:10 scan */
	patrol_checkin more[sizeof(night) / sizeof(night[0]) + 1];
	memcpy(more, night, sizeof(night));
	more[sizeof(night) / sizeof(night[0])] = (patrol_checkin){"a4", "A", AT(5, 10), 0};
	in.checkins = more;
	in.nci++;
	dev = (patrol_device){AT(7, 10), 1, 0};
	in.now = AT(7, 15);
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(state_of(&o, 3, 0), PS_ON_TIME);
	assert_string_equal(checkin_of(&in, &o, 3, 0), "a4");
	assert_int_equal(o.on_time, 5);
	assert_int_equal(o.late, 2);
	assert_int_equal(o.missed, 1);
	assert_int_equal(o.pending, 0);
	assert_int_equal(o.extra, 3);
	arena_free(a);
}

static void test_open_rounds_mid_shift(void **st)
{
	arena *a = arena_new(0);
	patrol_in in = base_in();
	patrol_device dev = {AT(3, 0), 1, 0};
	in.devices = &dev;
	in.ndev = 1;
	in.now = AT(3, 5);
	/* only the scans made by 03:05 */
	patrol_checkin sofar[] = {night[0], night[1], night[2], night[4]};
	in.checkins = sofar;
	in.nci = 4;
	patrol_out o;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	/* A: r0 on time; r1 late (a3 keeps r2); r2 on time; r3 open */
	assert_int_equal(state_of(&o, 1, 0), PS_LATE);
	assert_int_equal(state_of(&o, 2, 0), PS_ON_TIME);
	assert_int_equal(state_of(&o, 3, 0), PS_OPEN);
	/* B: r0 missed (its end 00:15 is before the 03:00 sync), r1 on time,
	 * r2 and r3 open */
	assert_int_equal(state_of(&o, 0, 1), PS_MISSED);
	assert_int_equal(state_of(&o, 2, 1), PS_OPEN);
	assert_int_equal(o.open, 3);
	assert_int_equal(o.on_time, 3);
	assert_int_equal(o.late, 1);
	assert_int_equal(o.missed, 1);
	assert_int_equal(o.extra, 0);
	arena_free(a);
}

static void test_grace_edges(void **st)
{
	arena *a = arena_new(0);
	patrol_in in = base_in();
	in.now = AT(7, 0);
	patrol_out o;
	/* exactly at the end of W_0 is in the grace, not in W_0; exactly at
	 * the end of the grace is outside it.  One checkpoint only. */
	static const char *const one[] = {"A"};
	in.checkpoints = one;
	in.ncp = 1;
	patrol_checkin edge[] = {
		{"e0", "A", AT(0, 0), 0},   /* r0 grace start: late (e1 keeps r1) */
		{"e1", "A", AT(1, 0), 0},   /* r1 on time */
		{"e2", "A", AT(2, 15), 0},  /* r1's grace has ended: r2 on time */
		{"e3", "A", AT(6, 14), 0},  /* last round, within grace: late */
	};
	in.checkins = edge;
	in.nci = 4;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.pairs[0].state, PS_LATE);
	assert_int_equal(o.pairs[1].state, PS_ON_TIME);
	assert_int_equal(o.pairs[2].state, PS_ON_TIME);
	assert_int_equal(o.pairs[3].state, PS_LATE);
	assert_int_equal(o.extra, 0);
	/* the last round's grace ends at 06:15 exactly: a scan then is extra */
	edge[3].at_est = AT(6, 15);
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.pairs[3].state, PS_MISSED);
	assert_int_equal(o.extra, 1);
	/* two scans in r0's grace and nothing else in W_1: the first is late
	 * for r0 (the second keeps r1), the second is r1's */
	patrol_checkin two[] = {{"g1", "A", AT(0, 3), 0}, {"g2", "A", AT(0, 9), 0}};
	in.checkins = two;
	in.nci = 2;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.pairs[0].state, PS_LATE);
	assert_int_equal(o.pairs[0].checkin, 0);
	assert_int_equal(o.pairs[1].state, PS_ON_TIME);
	assert_int_equal(o.pairs[1].checkin, 1);
	/* no grace: nothing is ever late */
	in.grace_ms = 0;
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.late, 0);
	assert_int_equal(o.pairs[0].state, PS_MISSED);
	arena_free(a);
}

static void test_degenerate(void **st)
{
	arena *a = arena_new(0);
	patrol_in in = base_in();
	patrol_out o;
	in.every_ms = 0; /* no usable route */
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.expected, 0);
	assert_int_equal(o.extra, in.nci);
	in = base_in();
	in.ends = in.starts; /* empty shift */
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.nrounds, 0);
	in = base_in();
	in.every_ms = 1;
	in.ends = in.starts + 30ULL * 24 * HR; /* 2.6 million rounds */
	assert_int_equal(patrol_score(&in, a, &o), FS_E_TOO_LARGE);
	/* a last window that runs past the end of the shift still counts */
	in = base_in();
	in.every_ms = 180 * MIN; /* 22-01, 01-04, 04-07 */
	in.nci = 0;
	in.now = AT(8, 0);
	assert_int_equal(patrol_score(&in, a, &o), FS_OK);
	assert_int_equal(o.nrounds, 3);
	assert_int_equal(patrol_round_to(&in, 2), AT(7, 0));
	assert_string_equal(patrol_state_name(PS_PENDING), "pending");
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_night_all_synced),
		cmocka_unit_test(test_voided_scores_nothing),
		cmocka_unit_test(test_pending_until_synced),
		cmocka_unit_test(test_late_sync_turns_pending_on_time),
		cmocka_unit_test(test_open_rounds_mid_shift),
		cmocka_unit_test(test_grace_edges),
		cmocka_unit_test(test_degenerate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
