/* test_evidence.c — server/model/evidence.h: the verdict rules and their
 * reasons (schema/EVIDENCE.md), a position against a checkpoint's circle,
 * and which stored checkins are voided or raise an alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/model/evidence.h"

static int verdict(evidence_in in, const char *want0)
{
	const char *r[EVIDENCE_REASONS_MAX];
	unsigned n;
	int v = evidence_verdict(&in, r, &n);
	assert_true(n >= 1 && n <= EVIDENCE_REASONS_MAX);
	if (want0)
		assert_string_equal(r[0], want0);
	return v;
}

static void test_verdicts(void **st)
{
	evidence_in in;
	memset(&in, 0, sizeof(in));
	in.trust = "verified";
	assert_int_equal(verdict(in, "time_verified"), EV_NORMAL);
	in.tag = "verified";
	in.secure_cp = 1;
	assert_int_equal(verdict(in, "tag_verified"), EV_STRONG);
	in.trust = "corrected";
	assert_int_equal(verdict(in, NULL), EV_NORMAL);
	in.trust = "unverified";
	assert_int_equal(verdict(in, NULL), EV_WEAK);
	in.trust = "verified";
	in.tag = "absent";
	assert_int_equal(verdict(in, "tag_absent"), EV_WEAK);
	in.tag = "replayed";
	assert_int_equal(verdict(in, "tag_replayed"), EV_SUSPECT);
	in.tag = "invalid";
	assert_int_equal(verdict(in, "tag_invalid"), EV_SUSPECT);
	in.tag = "verified";
	in.tag_order = 1;
	assert_int_equal(verdict(in, NULL), EV_SUSPECT);
	in.tag_order = 0;
	in.boot_overlap = 1;
	assert_int_equal(verdict(in, NULL), EV_SUSPECT);
	in.boot_overlap = 0;
	in.place = "outside";
	assert_int_equal(verdict(in, NULL), EV_SUSPECT);
	in.place = "unknown";
	assert_int_equal(verdict(in, NULL), EV_STRONG); /* not required */
	in.place_required = 1;
	assert_int_equal(verdict(in, NULL), EV_WEAK);
	/* suspect beats weak */
	in.tag = "replayed";
	in.trust = "unverified";
	assert_int_equal(verdict(in, NULL), EV_SUSPECT);
	/* every reason at once still fits */
	in.tag_order = 1;
	in.boot_overlap = 1;
	in.place = "outside";
	assert_int_equal(verdict(in, NULL), EV_SUSPECT);
	assert_int_equal(evidence_verdict_parse("weak"), EV_WEAK);
	assert_int_equal(evidence_verdict_parse("nope"), EV__COUNT);
	assert_null(evidence_verdict_name(EV__COUNT));
}

static void test_place(void **st)
{
	double d;
	/* 0.001 degrees of latitude is about 111 m */
	assert_int_equal(evidence_place(31.0, 121.0, 30, 31.0, 121.0, 5, &d),
	                 PLACE_INSIDE);
	assert_true(d < 0.001);
	assert_int_equal(evidence_place(31.0, 121.0, 30, 31.001, 121.0, 5, &d),
	                 PLACE_OUTSIDE);
	assert_true(d > 110 && d < 112);
	/* the accuracy circle reaches the checkpoint's: not outside */
	assert_int_equal(evidence_place(31.0, 121.0, 30, 31.001, 121.0, 90, &d),
	                 PLACE_INSIDE);
	/* too vague to say */
	assert_int_equal(evidence_place(31.0, 121.0, 30, 31.001, 121.0, 600, &d),
	                 PLACE_UNKNOWN);
	/* no accuracy reported: held to the radius itself */
	assert_int_equal(evidence_place(31.0, 121.0, 30, 31.0002, 121.0, -1, &d),
	                 PLACE_INSIDE);
	assert_int_equal(evidence_place(31.0, 121.0, 30, 31.0005, 121.0, -1, &d),
	                 PLACE_OUTSIDE);
}

static record *with(arena *a, const char *tag, const char *reason)
{
	record *r = arena_alloc(a, sizeof(*r));
	stamp s = {1, "server", 6};
	rec_init(r);
	if (tag) {
		wval *v = arena_alloc(a, sizeof(wval));
		*v = wv_of_str(tag);
		assert_true(rec_set(a, r, "tag", 3, v, &s) >= 0);
	}
	if (reason) {
		wval *v = arena_calloc(a, 1, sizeof(wval));
		v->t = WV_ARR;
		v->a.n = 1;
		v->a.v = arena_alloc(a, sizeof(wval));
		v->a.v[0] = wv_of_str(reason);
		assert_true(rec_set(a, r, "reasons", 7, v, &s) >= 0);
	}
	return r;
}

static void test_voided_and_alerts(void **st)
{
	arena *a = arena_new(0);
	const char *kind = NULL;
	record *r = with(a, "replayed", NULL);
	assert_true(evidence_voided(r));
	assert_true(evidence_alert_kind(r, &kind));
	assert_string_equal(kind, "tag_replayed");
	r = with(a, "invalid", NULL);
	assert_true(evidence_voided(r));
	assert_true(evidence_alert_kind(r, &kind));
	assert_string_equal(kind, "tag_invalid");
	r = with(a, "verified", "boot_overlap");
	assert_false(evidence_voided(r));
	assert_true(evidence_alert_kind(r, &kind));
	assert_string_equal(kind, "boot_overlap");
	r = with(a, "verified", "time_verified");
	assert_false(evidence_voided(r));
	assert_false(evidence_alert_kind(r, &kind));
	/* a checkin from before verdicts: judged by its trust alone */
	r = with(a, NULL, NULL);
	const char *rs[EVIDENCE_REASONS_MAX];
	unsigned n;
	assert_int_equal(evidence_of_checkin(a, r, rs, &n), EV_WEAK);
	assert_string_equal(rs[0], "time_unverified");
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_place),
		cmocka_unit_test(test_voided_and_alerts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
