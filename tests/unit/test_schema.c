/*
 * test_schema.c — the schema tables are consistent with each other and
 * with schema/SCHEMA.md: every bucket field is a field of its
 * collection, server-owned fields are exactly the documented ones, service
 * levels name real order fields, enums are complete.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "schema/schema.h"

static const sfield *field(const char *c, const char *f)
{
	const scollection *col = schema_collection(c, strlen(c));
	assert_non_null(col);
	return schema_field(col, f, strlen(f));
}

static void test_lookup(void **state)
{
	(void)state;
	const char *names[] = {"site", "zone", "checkpoint", "route", "staff",
	                       "shift", "standard", "task", "checkin", "order",
	                       "handover", "alert", "webhook",
	                       "roster"};
	unsigned n;
	schema_collections(&n);
	assert_int_equal(n, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(schema_collection(names[i], strlen(names[i])));
	assert_null(schema_collection("sites", 5));
	assert_null(schema_collection("sit", 3));
	assert_null(schema_collection("", 0));
	/* lookups use (ptr, len): a longer buffer must not match */
	assert_non_null(schema_collection("task-extra", 4));
	assert_null(field("task", "_deleted"));
	assert_null(field("task", "nope"));
}

static void test_buckets(void **state)
{
	(void)state;
	unsigned n;
	const scollection *cs = schema_collections(&n);
	for (unsigned i = 0; i < n; i++) {
		const scollection *c = &cs[i];
		if (c->bucket == BK_SITE_SELF) {
			assert_string_equal(c->name, "site");
			assert_null(c->bucket_field);
			continue;
		}
		const sfield *f = schema_field(c, c->bucket_field,
		                               strlen(c->bucket_field));
		assert_non_null(f);
		assert_int_equal(f->type, FT_ID);
		assert_false(f->grants & G_SERVER);
	}
	assert_int_equal(schema_collection("handover", 8)->bucket, BK_TO_SHIFT);
	assert_int_equal(schema_collection("order", 5)->bucket, BK_ORDERS);
	assert_int_equal(schema_collection("checkin", 7)->bucket, BK_SHIFT);
	assert_int_equal(schema_collection("standard", 8)->bucket, BK_SITE);
	assert_int_equal(schema_collection("alert", 5)->bucket, BK_ALERTS);
	assert_int_equal(schema_collection("webhook", 7)->bucket, BK_ALERTS);
	assert_int_equal(schema_collection("roster", 6)->bucket, BK_SITE);
}

static void test_server_owned(void **state)
{
	(void)state;
	const char *owned[][2] = {{"checkin", "rcv"}, {"checkin", "skew"},
	                          {"checkin", "at_est"}, {"checkin", "trust"},
	                          {"order", "respond_by"}, {"order", "resolve_by"},
	                          {"task", "done_at_est"}, {"task", "done_trust"},
	                          {"order", "accepted_at_est"},
	                          {"order", "accepted_trust"},
	                          {"order", "on_site_at_est"},
	                          {"order", "on_site_trust"},
	                          {"order", "resolved_at_est"},
	                          {"order", "resolved_trust"}};
	unsigned count = 0, n;
	const scollection *cs = schema_collections(&n);
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < cs[i].nfields; k++)
			if (cs[i].fields[k].grants & G_SERVER) {
				count++;
				/* server-owned means nobody else */
				assert_int_equal(cs[i].fields[k].grants, G_SERVER);
			}
	assert_int_equal(count, 14);
	for (size_t i = 0; i < 14; i++)
		assert_true(field(owned[i][0], owned[i][1])->grants & G_SERVER);
}

static void test_grants(void **state)
{
	(void)state;
	/* the site record: admin only */
	assert_int_equal(field("site", "name")->grants, G_ADMIN);
	/* task completion fields: the shift's staff; the rest: supervisors */
	const char *done[] = {"status", "done_at", "done_by", "note", "photo",
	                      "checklist_done"};
	for (size_t i = 0; i < 6; i++)
		assert_true(field("task", done[i])->grants & G_SHIFT_STAFF);
	assert_false(field("task", "title")->grants & G_SHIFT_STAFF);
	assert_false(field("task", "shift")->grants & G_SHIFT_STAFF);
	/* a reporter writes what a new order needs, not the technician's times */
	assert_true(field("order", "category")->grants & G_REPORTER);
	assert_false(field("order", "assignee")->grants & G_REPORTER);
	assert_false(field("order", "on_site_at")->grants & G_REPORTER);
	assert_true(field("order", "on_site_at")->grants & G_TECH);
	assert_false(field("order", "category")->grants & G_TECH);
	/* checkins: guards on their own; never deletable */
	assert_true(field("checkin", "at")->grants & G_GUARD_OWN);
	const scollection *ck = schema_collection("checkin", 7);
	assert_true(ck->append_only);
	assert_int_equal(ck->delete_grants, 0);
	assert_true(field("handover", "note")->grants & G_LEAD);
	/* every collection but checkin can be deleted by supervisors or admin */
	unsigned n;
	const scollection *cs = schema_collections(&n);
	for (unsigned i = 0; i < n; i++)
		if (!cs[i].append_only)
			assert_true(cs[i].delete_grants & G_ADMIN);
}

static void test_enums(void **state)
{
	(void)state;
	const sfield *role = field("staff", "role");
	const char *roles[] = {"guard", "cleaner", "technician", "supervisor",
	                       "admin"};
	for (size_t i = 0; i < 5; i++)
		assert_true(schema_enum_has(role->enums, roles[i], strlen(roles[i])));
	assert_false(schema_enum_has(role->enums, "Guard", 5));
	assert_false(schema_enum_has(role->enums, "guar", 4));
	assert_true(schema_enum_has(field("order", "category")->enums,
	                            "elevator_entrapment", 19));
	assert_true(schema_enum_has(field("checkin", "method")->enums, "qr", 2));
	assert_false(schema_enum_has(field("checkin", "method")->enums, "bluetooth", 9));
}

static void test_service_levels(void **state)
{
	(void)state;
	unsigned n;
	const service_level *lv = schema_service_levels(&n);
	assert_int_equal(n, 6);
	for (unsigned i = 0; i < n; i++) {
		assert_true(schema_enum_has(field("order", "category")->enums,
		                            lv[i].category, strlen(lv[i].category)));
		assert_true(field("order", lv[i].deadline_field)->grants & G_SERVER);
		assert_non_null(field("order", lv[i].checked_field));
	}
	assert_int_equal(schema_service_level("elevator_entrapment", 19)->minutes, 5);
	assert_int_equal(schema_service_level("urgent_water", 12)->minutes, 15);
	assert_int_equal(schema_service_level("urgent_power", 12)->minutes, 15);
	assert_int_equal(schema_service_level("repair", 6)->minutes, 24 * 60);
	assert_string_equal(schema_service_level("repair", 6)->deadline_field,
	                    "resolve_by");
	assert_null(schema_service_level("noise", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_server_owned),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_service_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
