/* test_tz.c — server/lib/tz.h: TZif parsing, the POSIX footer, local <-> UTC
 * on Europe/Berlin's change days (gap moves forward, fold takes the
 * earlier instant), Asia/Shanghai, southern and negative-DST zones, the
 * civil calendar, bad names and files, and the cache under threads.
 * glibc's own reading of the same files (TZ + localtime_r, fine in this
 * single-threaded test) is the oracle for a sweep of instants. */
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
#include "server/lib/tz.h"

#define H 3600000LL
#define M 60000LL

static tz_db *db;

static int setup(void **st)
{
	assert_int_equal(tz_db_open(&db, NULL), FS_OK);
	return 0;
}

static int teardown(void **st)
{
	tz_db_close(db);
	db = NULL;
	return 0;
}

static const tz_zone *zone(const char *name)
{
	const tz_zone *z = NULL;
	assert_int_equal(tz_get(db, name, &z), FS_OK);
	assert_non_null(z);
	return z;
}

/* local civil time as local_ms */
static int64_t L(int y, unsigned mo, unsigned d, unsigned h, unsigned mi)
{
	return tz_days_from_civil(y, mo, d) * TZ_DAY_MS + h * H + mi * M;
}

static void test_calendar(void **st)
{
	assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
	int64_t y;
	unsigned m, d;
	for (int64_t days = -800000; days < 800000; days += 997) {
		tz_civil_from_days(days, &y, &m, &d);
		assert_int_equal(tz_days_from_civil(y, m, d), days);
	}
	assert_int_equal(tz_weekday(0), 3);                                /* Thursday */
	assert_int_equal(tz_weekday(tz_days_from_civil(2024, 3, 31)), 6); /* Sunday */
	assert_int_equal(tz_weekday(tz_days_from_civil(2024, 5, 6)), 0);  /* Monday */
	assert_int_equal(tz_days_in_month(2024, 2), 29);
	assert_int_equal(tz_days_in_month(2100, 2), 28);
	assert_int_equal(tz_days_in_month(2000, 2), 29);
	assert_int_equal(tz_days_in_month(2023, 4), 30);
	assert_int_equal(tz_day_of(-1), -1);
	assert_int_equal(tz_day_of(TZ_DAY_MS), 1);
}

static void test_berlin_spring(void **st)
{
	const tz_zone *z = zone("Europe/Berlin");
	/* 2024-03-31: 02:00 CET -> 03:00 CEST at 01:00 UTC */
	int64_t tr = tz_days_from_civil(2024, 3, 31) * TZ_DAY_MS + 1 * H;
	assert_int_equal(tz_offset(z, tr / 1000 - 1), 3600);
	assert_int_equal(tz_offset(z, tr / 1000), 7200);
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 3, 31, 1, 59)), tr - M);
	/* 02:00 and 02:30 do not exist: both move to 03:00 CEST */
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 3, 31, 2, 0)), tr);
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 3, 31, 2, 30)), tr);
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 3, 31, 3, 0)), tr);
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 3, 31, 3, 1)), tr + M);
	assert_int_equal(tz_utc_to_local_ms(z, tr), L(2024, 3, 31, 3, 0));
	assert_int_equal(tz_utc_to_local_ms(z, tr - 1000), L(2024, 3, 31, 2, 0) - 1000);
	/* the day is 23 hours long */
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 4, 1, 0, 0)) -
	                         tz_local_to_utc_ms(z, L(2024, 3, 31, 0, 0)),
	                 23 * H);
}

static void test_berlin_autumn(void **st)
{
	const tz_zone *z = zone("Europe/Berlin");
	/* 2024-10-27: 03:00 CEST -> 02:00 CET at 01:00 UTC */
	int64_t tr = tz_days_from_civil(2024, 10, 27) * TZ_DAY_MS + 1 * H;
	assert_int_equal(tz_offset(z, tr / 1000 - 1), 7200);
	assert_int_equal(tz_offset(z, tr / 1000), 3600);
	/* 02:30 happens twice: the earlier one (CEST) */
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 10, 27, 2, 30)), tr - 30 * M);
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 10, 27, 3, 0)), tr + H);
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 10, 27, 1, 59)), tr - 61 * M);
	assert_int_equal(tz_utc_to_local_ms(z, tr), L(2024, 10, 27, 2, 0));
	assert_int_equal(tz_local_to_utc_ms(z, L(2024, 10, 28, 0, 0)) -
	                         tz_local_to_utc_ms(z, L(2024, 10, 27, 0, 0)),
	                 25 * H);
	/* the same days in 2041, past the file's table: the footer rule */
	int64_t sp = tz_days_from_civil(2041, 3, 31) * TZ_DAY_MS + 1 * H;
	assert_int_equal(tz_weekday(tz_days_from_civil(2041, 3, 31)), 6);
	assert_int_equal(tz_offset(z, sp / 1000 - 1), 3600);
	assert_int_equal(tz_offset(z, sp / 1000), 7200);
	assert_int_equal(tz_local_to_utc_ms(z, L(2041, 3, 31, 2, 15)), sp);
	int64_t au = tz_days_from_civil(2041, 10, 27) * TZ_DAY_MS + 1 * H;
	assert_int_equal(tz_weekday(tz_days_from_civil(2041, 10, 27)), 6);
	assert_int_equal(tz_offset(z, au / 1000 - 1), 7200);
	assert_int_equal(tz_offset(z, au / 1000), 3600);
}

static void test_shanghai(void **st)
{
	const tz_zone *z = zone("Asia/Shanghai");
	assert_string_equal(tz_name(z), "Asia/Shanghai");
	int64_t t = tz_local_to_utc_ms(z, L(2024, 6, 1, 0, 0));
	assert_int_equal(t, L(2024, 5, 31, 16, 0));
	assert_int_equal(tz_utc_to_local_ms(z, t), L(2024, 6, 1, 0, 0));
	assert_int_equal(tz_offset(z, L(2050, 1, 1, 0, 0) / 1000), 8 * 3600);
	/* China kept DST 1986-1991: 1988-04-17 02:00 -> 03:00 */
	assert_int_equal(tz_offset(z, L(1988, 7, 1, 0, 0) / 1000), 9 * 3600);
	assert_int_equal(tz_offset(z, L(1988, 1, 1, 0, 0) / 1000), 8 * 3600);
}

/* glibc as the oracle, every ~5 days and around each change, 1950-2060 */
static void sweep(const char *name)
{
	const tz_zone *z = zone(name);
	setenv("TZ", name, 1);
	tzset();
	int64_t from = L(1950, 1, 1, 0, 0) / 1000, to = L(2060, 1, 1, 0, 0) / 1000;
	int32_t prev = 0;
	int checked = 0;
	for (int64_t t = from; t < to; t += 5 * 86400 + 3607) {
		time_t tt = (time_t)t;
		struct tm tm;
		localtime_r(&tt, &tm);
		int32_t mine = tz_offset(z, t);
		if (mine != tm.tm_gmtoff)
			fail_msg("%s at %lld: %d, glibc %ld", name, (long long)t,
			         mine, tm.tm_gmtoff);
		if (t != from && mine != prev) {
			/* find the change exactly and check both sides */
			int64_t lo = t - 5 * 86400 - 3607, hi = t;
			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;
				if (tz_offset(z, mid) == mine)
					hi = mid;
				else
					lo = mid;
			}
			for (int64_t u = hi - 1; u <= hi; u++) {
				tt = (time_t)u;
				localtime_r(&tt, &tm);
				assert_int_equal(tz_offset(z, u), tm.tm_gmtoff);
			}
			/* local -> UTC round trip just after the change */
			int64_t loc = tz_utc_to_local_ms(z, hi * 1000 + 3600000);
			assert_int_equal(tz_local_to_utc_ms(z, loc), hi * 1000 + 3600000);
		}
		prev = mine;
		checked++;
	}
	assert_true(checked > 7000);
	unsetenv("TZ");
	tzset();
}

static void test_sweep_against_glibc(void **st)
{
	static const char *const zones[] = {
		"Europe/Berlin", "Asia/Shanghai", "America/New_York",
		"Australia/Sydney", "Europe/Dublin", "Pacific/Chatham",
		"Asia/Kolkata", "America/Sao_Paulo", "UTC"};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		sweep(zones[i]);
}

static void test_local_roundtrip(void **st)
{
	const tz_zone *z = zone("America/New_York");
	/* every 37 minutes through 2024: a local time maps to an instant
	 * whose local time is itself, except inside the spring gap */
	int64_t gap_from = L(2024, 3, 10, 2, 0), gap_to = L(2024, 3, 10, 3, 0);
	for (int64_t l = L(2024, 1, 1, 0, 0); l < L(2025, 1, 1, 0, 0); l += 37 * M) {
		int64_t u = tz_local_to_utc_ms(z, l);
		if (l >= gap_from && l < gap_to)
			assert_int_equal(tz_utc_to_local_ms(z, u), gap_to);
		else
			assert_int_equal(tz_utc_to_local_ms(z, u), l);
	}
}

static void test_bad_names_and_files(void **st)
{
	const tz_zone *z;
	assert_int_equal(tz_get(db, "../etc/passwd", &z), FS_E_BAD_REQUEST);
	assert_int_equal(tz_get(db, "Europe/../../etc", &z), FS_E_BAD_REQUEST);
	assert_int_equal(tz_get(db, "/etc/localtime", &z), FS_E_BAD_REQUEST);
	assert_int_equal(tz_get(db, "", &z), FS_E_BAD_REQUEST);
	assert_int_equal(tz_get(db, "Europe/Ber lin", &z), FS_E_BAD_REQUEST);
	assert_int_equal(tz_get(db, "Mars/Olympus_Mons", &z), FS_E_NOT_FOUND);
	assert_int_equal(tz_get(db, "Mars/Olympus_Mons", &z), FS_E_NOT_FOUND);
	/* a file that is not TZif */
	assert_int_equal(tz_get(db, "zone.tab", &z), FS_E_NOT_FOUND);
	assert_int_equal(tz_get(db, "Europe", &z), FS_E_NOT_FOUND);
	tz_zone *pz;
	assert_int_equal(tz_parse((const uint8_t *)"TZif2", 5, "x", &pz),
	                 FS_E_BAD_REQUEST);
	/* a real file cut short anywhere never parses into garbage */
	FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
	assert_non_null(f);
	static uint8_t buf[8192];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 1000);
	assert_int_equal(tz_parse(buf, n, "Europe/Berlin", &pz), FS_OK);
	tz_zone_free(pz);
	for (size_t cut = 0; cut < n - 60; cut += 7) {
		int rc = tz_parse(buf, cut, "cut", &pz);
		assert_int_equal(rc, FS_E_BAD_REQUEST);
	}
}

static void *get_many(void *arg)
{
	const tz_zone **out = arg;
	static const char *const names[] = {"Europe/Berlin", "Asia/Shanghai",
	                                    "Europe/Paris", "Asia/Tokyo"};
	for (int i = 0; i < 2000; i++) {
		const tz_zone *z;
		if (tz_get(db, names[i % 4], &z) != FS_OK)
			return (void *)1;
		if (i < 4)
			out[i] = z;
		else if (out[i % 4] != z)
			return (void *)1;
		(void)tz_local_to_utc_ms(z, L(2024, 3, 31, 2, 30));
	}
	return NULL;
}

static void test_threads(void **st)
{
	pthread_t th[4];
	const tz_zone *got[4][4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, get_many, got[i]), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		assert_null(r);
	}
	for (int i = 1; i < 4; i++)
		for (int k = 0; k < 4; k++)
			assert_ptr_equal(got[i][k], got[0][k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_berlin_spring),
		cmocka_unit_test(test_berlin_autumn),
		cmocka_unit_test(test_shanghai),
		cmocka_unit_test(test_sweep_against_glibc),
		cmocka_unit_test(test_local_roundtrip),
		cmocka_unit_test(test_bad_names_and_files),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
