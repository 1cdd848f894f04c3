/* test_roster.c — server/svc/roster.h's slot math: spans, days and dates
 * parsed strictly; shifts across Europe/Berlin's spring and autumn
 * changes (a 20-08 night of 11 and 13 hours, a start in the gap moved to
 * 03:00); days of the week and valid_from/valid_to inclusive; the staff
 * rotation with crews; deterministic ids (hashed past 100 bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/svc/roster.h"

#define HOUR 3600000LL

static tz_db *db;
static const tz_zone *berlin;

static int setup(void **st)
{
	if (tz_db_open(&db, NULL) || tz_get(db, "Europe/Berlin", &berlin))
		return -1;
	return 0;
}

static int teardown(void **st)
{
	tz_db_close(db);
	return 0;
}

static int64_t day(int y, unsigned m, unsigned d)
{
	return tz_days_from_civil(y, m, d);
}

/* UTC ms of a Berlin wall time with the given offset in hours */
static int64_t at(int y, unsigned m, unsigned d, int h, int off)
{
	return day(y, m, d) * TZ_DAY_MS + (h - off) * HOUR;
}

static void test_cells(void **st)
{
	roster_span s;
	assert_int_equal(roster_span_parse("08:00-20:00", 11, &s), 0);
	assert_int_equal(s.from, 480);
	assert_int_equal(s.to, 1200);
	assert_int_equal(roster_span_parse("20:00-08:00", 11, &s), 0);
	assert_int_equal(s.to, 1440 + 480);
	assert_int_equal(roster_span_parse("22:00-24:00", 11, &s), 0);
	assert_int_equal(s.to, 1440);
	assert_int_equal(roster_span_parse("08:00-08:00", 11, &s), 0);
	assert_int_equal(s.to, 1440 + 480); /* a 24-hour shift */
	const char *bad[] = {"8:00-20:00", "08:00-20:0", "08:60-20:00",
	                     "25:00-01:00", "24:00-08:00", "08:00 20:00",
	                     "08:00-24:01", "0a:00-20:00"};
	for (int i = 0; i < 8; i++)
		assert_int_equal(roster_span_parse(bad[i], strlen(bad[i]), &s), -1);
	assert_int_equal(roster_weekday_parse("mon", 3), 0);
	assert_int_equal(roster_weekday_parse("SUN", 3), 6);
	assert_int_equal(roster_weekday_parse("monday", 6), -1);
	assert_int_equal(roster_weekday_parse("mo", 2), -1);
	int64_t d;
	assert_int_equal(roster_date_parse("2024-02-29", 10, &d), 0);
	assert_int_equal(d, day(2024, 2, 29));
	assert_int_equal(roster_date_parse("2023-02-29", 10, &d), -1);
	assert_int_equal(roster_date_parse("2024-13-01", 10, &d), -1);
	assert_int_equal(roster_date_parse("2024-1-01", 9, &d), -1);
	assert_int_equal(roster_date_parse("1969-12-31", 10, &d), -1);
}

static roster two_shift(char **staff, uint32_t n)
{
	roster r;
	memset(&r, 0, sizeof(r));
	r.id = "gate";
	r.role = 0;
	r.staff = staff;
	r.nstaff = n;
	r.crew = 1;
	r.span[0] = (roster_span){480, 1200};
	r.span[1] = (roster_span){1200, 1440 + 480};
	r.nspan = 2;
	r.days = 0x7f;
	r.day_from = INT64_MIN;
	r.day_to = INT64_MAX;
	return r;
}

static void test_dst_changes(void **st)
{
	char *staff[] = {"g1", "g2"};
	roster r = two_shift(staff, 2);
	arena *a = arena_new(0);
	roster_slot *s;
	uint32_t n;
	/* spring: Sat 30 Mar 2024 to Mon 1 Apr */
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 3, 30),
	                             day(2024, 4, 1), a, &s, &n), FS_OK);
	assert_int_equal(n, 6);
	assert_int_equal(s[0].starts, at(2024, 3, 30, 8, 1));
	assert_int_equal(s[1].starts, at(2024, 3, 30, 20, 1));
	assert_int_equal(s[1].ends, at(2024, 3, 31, 8, 2));
	assert_int_equal(s[1].ends - s[1].starts, 11 * HOUR);
	assert_int_equal(s[2].ends - s[2].starts, 12 * HOUR);
	assert_int_equal(s[2].starts, at(2024, 3, 31, 8, 2));
	assert_string_equal(s[1].id, "sh:gate:20240330:1");
	assert_string_equal(s[1].staff[0], "g2");
	/* autumn: the night of Sat 26 Oct 2024 */
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 10, 26),
	                             day(2024, 10, 26), a, &s, &n), FS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(s[1].ends - s[1].starts, 13 * HOUR);
	/* a start in the spring gap moves to 03:00, the end (10:30) stays */
	r.span[0] = (roster_span){150, 630}; /* 02:30-10:30 */
	r.nspan = 1;
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 3, 31),
	                             day(2024, 3, 31), a, &s, &n), FS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].starts, at(2024, 3, 31, 3, 2));
	assert_int_equal(s[0].ends, at(2024, 3, 31, 10, 2) + HOUR / 2);
	arena_free(a);
}

static void test_days_dates_rotation(void **st)
{
	char *staff[] = {"a", "b", "c", "d"};
	roster r = two_shift(staff, 3);
	arena *a = arena_new(0);
	roster_slot *s;
	uint32_t n;
	/* weekends only, 3 Jun 2024 (Mon) .. 16 Jun */
	r.days = (1 << 5) | (1 << 6);
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 6, 3),
	                             day(2024, 6, 16), a, &s, &n), FS_OK);
	assert_int_equal(n, 8);
	assert_string_equal(s[0].id, "sh:gate:20240608:0");
	/* valid 5th .. 7th inclusive */
	r.days = 0x7f;
	r.day_from = day(2024, 6, 5);
	r.has_from = 1;
	r.day_to = day(2024, 6, 7);
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 6, 3),
	                             day(2024, 6, 16), a, &s, &n), FS_OK);
	assert_int_equal(n, 6);
	assert_string_equal(s[0].id, "sh:gate:20240605:0");
	assert_string_equal(s[5].id, "sh:gate:20240607:1");
	/* rotation every 2 days from the 5th, three staff:
	 * span i on day d takes staff[(i + (d - 5) / 2) % 3] */
	r.rotate_days = 2;
	r.day_to = INT64_MAX;
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 6, 5),
	                             day(2024, 6, 10), a, &s, &n), FS_OK);
	assert_int_equal(n, 12);
	const char *want[12] = {"a", "b", "a", "b", "b", "c",
	                        "b", "c", "c", "a", "c", "a"};
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(s[i].nstaff, 1);
		assert_string_equal(s[i].staff[0], want[i]);
	}
	/* crews of two from four staff, no rotation */
	r.nstaff = 4;
	r.crew = 2;
	r.rotate_days = 0;
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 6, 5),
	                             day(2024, 6, 5), a, &s, &n), FS_OK);
	assert_int_equal(s[0].nstaff, 2);
	assert_string_equal(s[0].staff[0], "a");
	assert_string_equal(s[0].staff[1], "b");
	assert_string_equal(s[1].staff[0], "c");
	assert_string_equal(s[1].staff[1], "d");
	/* a roster marked bad gives nothing; too many days is refused */
	r.bad = "no shifts in the pattern";
	assert_int_equal(roster_plan(berlin, &r, 1, day(2024, 6, 5),
	                             day(2024, 6, 5), a, &s, &n), FS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(roster_plan(berlin, &r, 1, 0, 400, a, &s, &n),
	                 FS_E_TOO_LARGE);
	arena_free(a);
}

static void test_ids(void **st)
{
	arena *a = arena_new(0);
	char long_id[121];
	memset(long_id, 'r', 120);
	long_id[120] = 0;
	char *id = roster_shift_id(a, long_id, day(2025, 1, 2), 3);
	assert_int_equal(strncmp(id, "sh:h", 4), 0);
	assert_int_equal(strlen(id), 4 + 32 + 1 + 8 + 2);
	assert_string_equal(id + 36, ":20250102:3");
	assert_string_equal(roster_shift_id(a, "x", day(2025, 1, 2), 0),
	                    "sh:x:20250102:0");
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_dst_changes),
		cmocka_unit_test(test_days_dates_rotation),
		cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
