/* test_tasks.c — server/svc/tasks.h: the slot rules (day/week/month/year,
 * window, months) on Europe/Berlin's DST change days and in Shanghai,
 * shift assignment and uncovered slots; the catalogue's provenance (every
 * entry's quote is on its seed line, CATALOGUE.md lists it); and the
 * generator against a real engine with an injected clock: a cleaner shift
 * gets exactly the day's catalogue tasks, May gets the summer mosquito
 * frequency, generating again changes nothing, untouched tasks move and
 * come back with shift changes, touched ones never. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "protocol/opbuild.h"
#include "protocol/hlc.h"
#include "protocol/record.h"
#include "schema/catalogue.h"
#include "server/lib/crypto.h"
#include "server/core/engine.h"
#include "server/store/store.h"
#include "server/svc/hooks.h"
#include "server/svc/tasks.h"
#include "server/lib/tz.h"

#define MIN 60000LL
#define HR (60 * MIN)

static tz_db *db;

static const tz_zone *zone(const char *name)
{
	const tz_zone *z;
	assert_int_equal(tz_get(db, name, &z), FS_OK);
	return z;
}

static int64_t day_of(int y, unsigned m, unsigned d)
{
	return tz_days_from_civil(y, m, d);
}

/* UTC ms of a local time in zone z */
static int64_t at(const tz_zone *z, int y, unsigned mo, unsigned d, unsigned h,
                  unsigned mi)
{
	return tz_local_to_utc_ms(z, day_of(y, mo, d) * TZ_DAY_MS + h * HR + mi * MIN);
}

static task_standard std_of(const char *id, int per, uint32_t times,
                            uint32_t from_min, uint32_t to_min, uint16_t months)
{
	task_standard s;
	memset(&s, 0, sizeof(s));
	s.id = (char *)id;
	s.title = (char *)id;
	s.role = ROLE_CLEANER;
	s.per = per;
	s.times = times;
	s.win_from = from_min;
	s.win_to = to_min;
	s.months = months;
	return s;
}

static shift_info shift_of(const char *id, int role, int64_t starts, int64_t ends)
{
	shift_info s;
	memset(&s, 0, sizeof(s));
	s.id = (char *)id;
	s.role = role;
	s.starts = (uint64_t)starts;
	s.ends = (uint64_t)ends;
	return s;
}

/* ---- the plan ---------------------------------------------------------------- */

static void test_plan_berlin_change_days(void **st)
{
	arena *a = arena_new(0);
	const tz_zone *z = zone("Europe/Berlin");
	task_standard s[2] = {
		std_of("half", PER_DAY, 2, 0, 1440, 0),   /* the whole day in two */
		std_of("night", PER_DAY, 2, 60, 180, 0),  /* 01:00-03:00 in two */
	};
	task_slot *v;
	uint32_t n;
	/* spring: 2024-03-31 has 23 hours */
	int64_t d = day_of(2024, 3, 31);
	assert_int_equal(tasks_plan(z, s, 2, NULL, 0, d, d, a, &v, &n), FS_OK);
	assert_int_equal(n, 4);
	/* the whole day: local 00:00-12:00 and 12:00-24:00 (local arithmetic) */
	assert_int_equal(v[0].due_from, at(z, 2024, 3, 31, 0, 0));
	assert_int_equal(v[0].due_from, day_of(2024, 3, 30) * TZ_DAY_MS + 23 * HR);
	assert_int_equal(v[0].due_to, day_of(2024, 3, 31) * TZ_DAY_MS + 10 * HR);
	assert_int_equal(v[0].due_to - v[0].due_from, 11 * HR);
	assert_int_equal(v[1].due_to - v[1].due_from, 12 * HR);
	assert_int_equal(v[1].due_to, day_of(2024, 3, 31) * TZ_DAY_MS + 22 * HR);
	assert_null(v[0].shift);
	assert_string_equal(v[0].id, "tk:half:20240331:0");
	assert_string_equal(v[1].id, "tk:half:20240331:1");
	/* 01:00-02:00 exists; 02:00 does not: it moves to 03:00 CEST */
	int64_t jump = day_of(2024, 3, 31) * TZ_DAY_MS + 1 * HR; /* 01:00 UTC */
	assert_int_equal(v[2].due_from, jump - HR);
	assert_int_equal(v[2].due_to, jump);
	assert_int_equal(v[3].due_from, jump);
	assert_int_equal(v[3].due_to, jump);
	/* autumn: 2024-10-27 has 25 hours; 02:00 happens twice: the first */
	d = day_of(2024, 10, 27);
	assert_int_equal(tasks_plan(z, s, 2, NULL, 0, d, d, a, &v, &n), FS_OK);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].due_from, day_of(2024, 10, 26) * TZ_DAY_MS + 22 * HR);
	assert_int_equal(v[0].due_to - v[0].due_from, 13 * HR);
	assert_int_equal(v[1].due_to - v[1].due_from, 12 * HR);
	int64_t back = day_of(2024, 10, 27) * TZ_DAY_MS + 1 * HR; /* 01:00 UTC */
	assert_int_equal(v[2].due_from, back - 2 * HR); /* 01:00 CEST */
	assert_int_equal(v[2].due_to, back - HR);       /* 02:00 CEST */
	assert_int_equal(v[3].due_from, back - HR);
	assert_int_equal(v[3].due_to, back + HR);       /* 03:00 CET */
	/* an ordinary day next to them: 12 + 12 hours */
	d = day_of(2024, 10, 28);
	assert_int_equal(tasks_plan(z, s, 1, NULL, 0, d, d, a, &v, &n), FS_OK);
	assert_int_equal(v[0].due_to - v[0].due_from, 12 * HR);
	assert_int_equal(v[0].due_from, day_of(2024, 10, 27) * TZ_DAY_MS + 23 * HR);
	arena_free(a);
}

static void test_plan_week_month_year(void **st)
{
	arena *a = arena_new(0);
	const tz_zone *z = zone("Asia/Shanghai");
	task_standard s[6] = {
		std_of("w2", PER_WEEK, 2, 7 * 60, 19 * 60, 0),
		std_of("summer", PER_MONTH, 4, 7 * 60, 19 * 60, CAT_MONTHS(5, 10)),
		std_of("winter", PER_MONTH, 1, 7 * 60, 19 * 60,
		       CAT_MONTHS(1, 4) | CAT_MONTHS(11, 12)),
		std_of("lawn", PER_YEAR, 6, 7 * 60, 19 * 60, 0),
		std_of("overnight", PER_WEEK, 1, 22 * 60, 6 * 60 + 1440, 0),
		std_of("feb", PER_MONTH, 3, 0, 1440, 0),
	};
	task_slot *v;
	uint32_t n;
	/* 2024: Jan 1 is a Monday */
	int64_t from = day_of(2024, 1, 1), to = day_of(2024, 12, 31);
	assert_int_equal(tasks_plan(z, s, 6, NULL, 0, from, to, a, &v, &n), FS_OK);
	unsigned wk[7] = {0}, summer = 0, winter = 0, lawn = 0, night = 0,
	         summer_may = 0, winter_apr = 0, winter_may = 0;
	int64_t y;
	unsigned m, d;
	char dates[64] = "";
	for (uint32_t i = 0; i < n; i++) {
		tz_civil_from_days(v[i].day, &y, &m, &d);
		const char *id = v[i].std->id;
		if (!strcmp(id, "w2"))
			wk[tz_weekday(v[i].day)]++;
		else if (!strcmp(id, "summer")) {
			summer++;
			if (m == 5) {
				summer_may++;
				/* days floor(i*31/4): the 1st, 8th, 16th, 24th */
				assert_true(d == 1 || d == 8 || d == 16 || d == 24);
				assert_int_equal(v[i].due_from, at(z, 2024, 5, d, 7, 0));
				assert_int_equal(v[i].due_to, at(z, 2024, 5, d, 19, 0));
			}
		} else if (!strcmp(id, "winter")) {
			winter++;
			winter_apr += m == 4;
			winter_may += m == 5;
			assert_int_equal(d, 1);
		} else if (!strcmp(id, "lawn")) {
			lawn++;
			assert_int_equal(d, 1);
			char b[8];
			snprintf(b, sizeof(b), "%u,", m);
			strcat(dates, b);
		} else if (!strcmp(id, "overnight")) {
			night++;
			assert_int_equal(tz_weekday(v[i].day), 0);
			assert_int_equal(v[i].due_to - v[i].due_from, 8 * HR);
		}
	}
	/* twice a week: Monday (day 0) and Thursday (day floor(7/2) = 3) */
	assert_int_equal(wk[0], 53);
	assert_int_equal(wk[3], 52);
	assert_int_equal(wk[1] + wk[2] + wk[4] + wk[5] + wk[6], 0);
	assert_int_equal(summer, 6 * 4);
	assert_int_equal(summer_may, 4);
	assert_int_equal(winter, 6);
	assert_int_equal(winter_apr, 1);
	assert_int_equal(winter_may, 0);
	assert_int_equal(lawn, 6);
	assert_string_equal(dates, "1,3,5,7,9,11,");
	assert_int_equal(night, 53);
	/* 3 a month in February of a leap year (29 days): days 0, 9, 19 */
	task_slot *fv;
	uint32_t fn;
	assert_int_equal(tasks_plan(z, &s[5], 1, NULL, 0, day_of(2024, 2, 1),
	                            day_of(2024, 2, 29), a, &fv, &fn), FS_OK);
	assert_int_equal(fn, 3);
	assert_int_equal(fv[0].day, day_of(2024, 2, 1));
	assert_int_equal(fv[1].day, day_of(2024, 2, 10));
	assert_int_equal(fv[2].day, day_of(2024, 2, 20));
	/* too long a range */
	assert_int_equal(tasks_plan(z, s, 1, NULL, 0, from, from + 500, a, &v, &n),
	                 FS_E_TOO_LARGE);
	arena_free(a);
}

static void test_plan_assignment(void **st)
{
	arena *a = arena_new(0);
	const tz_zone *z = zone("Asia/Shanghai");
	task_standard s = std_of("sweep", PER_DAY, 3, 6 * 60, 24 * 60, 0);
	/* slots at 06:00, 12:00, 18:00 local on 2024-05-01 */
	shift_info sh[] = {
		shift_of("g-day", ROLE_GUARD, at(z, 2024, 5, 1, 0, 0), at(z, 2024, 5, 2, 0, 0)),
		shift_of("c-a", ROLE_CLEANER, at(z, 2024, 5, 1, 6, 0), at(z, 2024, 5, 1, 12, 0)),
		shift_of("c-b", ROLE_CLEANER, at(z, 2024, 5, 1, 6, 0), at(z, 2024, 5, 1, 13, 0)),
		shift_of("c-c", ROLE_CLEANER, at(z, 2024, 5, 1, 11, 0), at(z, 2024, 5, 1, 17, 0)),
	};
	task_slot *v;
	uint32_t n;
	int64_t d = day_of(2024, 5, 1);
	assert_int_equal(tasks_plan(z, &s, 1, sh, 4, d, d, a, &v, &n), FS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].shift->id, "c-a"); /* same starts: by id */
	assert_string_equal(v[1].shift->id, "c-b"); /* c-a ends at 12:00 */
	assert_null(v[2].shift);                    /* 18:00: nobody */
	/* an id too long for "tk:<id>:..." is hashed, and still an id */
	char longid[129];
	memset(longid, 'x', 128);
	longid[128] = 0;
	char *tid = tasks_id(a, longid, d, 7);
	assert_non_null(tid);
	assert_true(strlen(tid) <= 128);
	assert_int_equal(strncmp(tid, "tk:h", 4), 0);
	assert_string_equal(tid + strlen(tid) - 11, ":20240501:7");
	arena_free(a);
}

/* ---- the catalogue's provenance --------------------------------------------------- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *c = malloc(n + 1);
	assert_non_null(c);
	memcpy(c, buf, n + 1);
	return c;
}

static void seed_line(const char *seed, unsigned line, char *out, size_t cap)
{
	const char *p = seed;
	for (unsigned i = 1; i < line && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	assert_non_null(p);
	const char *e = strchr(p, '\n');
	size_t n = e ? (size_t)(e - p) : strlen(p);
	assert_true(n < cap);
	memcpy(out, p, n);
	out[n] = 0;
}

static void test_catalogue_provenance(void **st)
{
	/* The seed standard is not part of the repository: FS_SEED_FILE names
	 * it when it is at hand, and the quotes are then checked against it;
	 * CATALOGUE.md's rows are checked either way. */
	const char *seed_path = getenv("FS_SEED_FILE");
	char *seed = seed_path && *seed_path ? read_file(seed_path) : NULL;
	char *md = read_file("schema/CATALOGUE.md");
	assert_non_null(md);
	unsigned n;
	const catalogue_entry *ce = catalogue_entries(&n);
	assert_true(n >= 16);
	char line[4096], want[256];
	for (unsigned i = 0; i < n; i++) {
		if (seed) {
			seed_line(seed, ce[i].seed_line, line, sizeof(line));
			if (!strstr(line, ce[i].seed_quote))
				fail_msg("%s: '%s' is not on seed line %u", ce[i].key,
				         ce[i].seed_quote, ce[i].seed_line);
		}
		/* CATALOGUE.md has a row "| `key` | ... | <line> | ..." */
		snprintf(want, sizeof(want), "| `%s` |", ce[i].key);
		const char *row = strstr(md, want);
		if (!row)
			fail_msg("CATALOGUE.md does not list %s", ce[i].key);
		const char *eol = strchr(row, '\n');
		snprintf(want, sizeof(want), "| %u |", ce[i].seed_line);
		const char *ln = strstr(row, want);
		if (!ln || (eol && ln > eol))
			fail_msg("CATALOGUE.md's row of %s does not name seed line %u",
			         ce[i].key, ce[i].seed_line);
		for (unsigned k = 0; k < i; k++)
			assert_string_not_equal(ce[k].key, ce[i].key);
	}
	unsigned nt;
	const catalogue_target *tg = catalogue_targets(&nt);
	for (unsigned i = 0; seed && i < nt; i++) {
		seed_line(seed, tg[i].seed_line, line, sizeof(line));
		if (!strstr(line, tg[i].seed_quote))
			fail_msg("target %s: quote not on seed line %u", tg[i].name,
			         tg[i].seed_line);
	}
	assert_non_null(catalogue_target_of("satisfaction"));
	assert_null(catalogue_target_of("nope"));
	if (!seed)
		print_message("seed file not found: quotes not checked\n");
	free(seed);
	free(md);
}

/* ---- the generator on a real engine ------------------------------------------------- */

typedef struct {
	char dir[64];
	store *s;
	engine *e;
} fixture;

/* 2024-05-01 05:00 in Shanghai (UTC+8) */
#define NOW_MS 1714510800000LL

static int setup_engine(void **st)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/fs_tasks_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	store_opts so;
	memset(&so, 0, sizeof(so));
	so.map_mb = 64;
	assert_int_equal(store_open(&f->s, f->dir, &so), FS_OK);
	engine_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	fs_limits_default(&cfg.lim);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cfg.clock_offset_ms = NOW_MS - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	assert_int_equal(engine_open(&f->e, f->s, &cfg), FS_OK);
	assert_int_equal(hooks_register(f->e), FS_OK);
	*st = f;
	return 0;
}

static int teardown_engine(void **st)
{
	fixture *f = *st;
	engine_close(f->e);
	store_close(f->s);
	char p[128];
	snprintf(p, sizeof(p), "rm -rf %s", f->dir);
	assert_int_equal(system(p), 0);
	free(f);
	return 0;
}

/* The ops of o through engine_push as (device, admin); every op must
 * apply. */
static void push_as(engine *e, const char *device, opbatch *o)
{
	principal p;
	memset(&p, 0, sizeof(p));
	snprintf(p.device, sizeof(p.device), "%s", device);
	snprintf(p.staff, sizeof(p.staff), "admin");
	p.role = ROLE_ADMIN;
	uint8_t bid[16];
	crypto_random(bid, 16);
	wbuf push;
	wb_init(&push);
	wb_arr(&push, 1);
	ob_batch(&push, o, bid, NULL);
	arena *a = arena_new(0);
	engine_ack *acks;
	uint32_t n;
	const char *msg = NULL;
	assert_int_equal(engine_push(e, &(engine_push_req){&p, 0, push.p, push.n,
	                                                   NULL, 0, 0},
	                             a, &acks, &n, &msg), FS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(acks[0].applied, o->n);
	wb_free(&push);
	arena_free(a);
	ob_free(o);
}

static void put_shift(engine *e, const char *id, const char *role,
                      int64_t starts, int64_t ends)
{
	opbatch o;
	ob_init(&o);
	ob_op(&o, "shift", id, engine_hlc_now(e), 7);
	ob_str(&o, "site", "s1");
	ob_str(&o, "role", role);
	ob_u64(&o, "starts", (uint64_t)starts);
	ob_u64(&o, "ends", (uint64_t)ends);
	ob_name(&o, "staff");
	wb_arr(&o.ops, 1);
	wb_cstr(&o.ops, "c-wang");
	ob_str(&o, "lead", "c-wang");
	ob_name(&o, "_deleted");
	wb_bool(&o.ops, 0);
	push_as(e, "admin-dev", &o);
}

static void setup_site(engine *e)
{
	opbatch o;
	ob_init(&o);
	ob_op(&o, "site", "s1", engine_hlc_now(e), 3);
	ob_str(&o, "name", "Test site");
	ob_str(&o, "tz", "Asia/Shanghai");
	ob_u64(&o, "households", 200);
	static const char *const zones[][2] = {
		{"z-b-stair", "stairwell"}, {"z-a-stair", "stairwell"},
		{"z-garden", "green"}, {"z-plant", "plant-room"}};
	for (int i = 0; i < 4; i++) {
		ob_op(&o, "zone", zones[i][0], engine_hlc_now(e), 3);
		ob_str(&o, "site", "s1");
		ob_str(&o, "name", zones[i][0]);
		ob_str(&o, "kind", zones[i][1]);
	}
	push_as(e, "admin-dev", &o);
}

/* Tasks in a shift's bucket: count of live ones, and their titles */
typedef struct {
	arena *a;
	unsigned live, deleted;
	char titles[4096];   /* standards of the live tasks, sorted, comma after each */
	char keys[64][96];
} bucket_tasks;

static int key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int count_cb(void *ctx, const store_entry *en)
{
	bucket_tasks *b = ctx;
	if (en->gone || strcmp(en->c, "task"))
		return 0;
	record r;
	rec_init(&r);
	assert_int_equal(rec_decode(b->a, en->val.p, en->val.n, &r), FS_OK);
	if (rec_true(&r, "_deleted")) {
		b->deleted++;
		return 0;
	}
	assert_true(b->live < 64);
	/* "tk:<standard>:<date>:<slot>" -> <standard> */
	char *k = b->keys[b->live++];
	snprintf(k, 96, "%s", en->id + 3);
	*strrchr(k, ':') = 0;
	*strrchr(k, ':') = 0;
	return 0;
}

static bucket_tasks tasks_in(engine *e, const char *shift)
{
	bucket_tasks b;
	memset(&b, 0, sizeof(b));
	b.a = arena_new(0);
	store_txn *t;
	assert_int_equal(store_begin(engine_store(e), 0, &t), FS_OK);
	char bucket[128];
	snprintf(bucket, sizeof(bucket), "shift/%s", shift);
	int rc = store_bucket_scan(t, bucket, 0, count_cb, &b);
	assert_true(rc == FS_OK || rc == FS_E_NOT_FOUND);
	store_abort(t);
	arena_free(b.a);
	qsort(b.keys, b.live, sizeof(b.keys[0]), key_cmp);
	size_t off = 0;
	for (unsigned i = 0; i < b.live && off < sizeof(b.titles); i++)
		off += (size_t)snprintf(b.titles + off, sizeof(b.titles) - off,
		                        "%s,", b.keys[i]);
	return b;
}

static void test_generate_cleaner_day(void **st)
{
	fixture *f = *st;
	const tz_zone *z = zone("Asia/Shanghai");
	setup_site(f->e);
	unsigned created;
	assert_int_equal(tasks_install_catalogue(f->e, "s1", &created), FS_OK);
	unsigned n;
	catalogue_entries(&n);
	assert_int_equal(created, n);
	assert_int_equal(tasks_install_catalogue(f->e, "s1", &created), FS_OK);
	assert_int_equal(created, 0); /* idempotent */
	assert_int_equal(tasks_install_catalogue(f->e, "nope", &created),
	                 FS_E_NOT_FOUND);
	/* the stairwell standards point at the first stairwell by id */
	store_txn *t;
	arena *a = arena_new(0);
	assert_int_equal(store_begin(engine_store(f->e), 0, &t), FS_OK);
	task_standard *stds;
	uint32_t ns;
	assert_int_equal(tasks_site_standards(t, a, "s1", &stds, &ns), FS_OK);
	store_abort(t);
	assert_int_equal(ns, n);
	for (uint32_t i = 0; i < ns; i++)
		if (!strcmp(stds[i].id, "std:s1:stair-sweep")) {
			assert_string_equal(stds[i].zone, "z-a-stair");
			assert_int_equal(stds[i].times, 2);
			assert_int_equal(stds[i].win_from, 7 * 60);
			assert_int_equal(stds[i].win_to, 19 * 60);
		}
	arena_free(a);

	/* the cleaner's shift on 2024-05-01 (a Wednesday), 07:00-19:00 */
	put_shift(f->e, "clean-0501", "cleaner", at(z, 2024, 5, 1, 7, 0),
	          at(z, 2024, 5, 1, 19, 0));
	tasks_stats s;
	assert_int_equal(tasks_generate_site(f->e, db, "s1", engine_now(f->e), &s),
	                 FS_OK);
	/* the day's cleaner standards: stair sweep x2, stair mop, public areas
	 * x2, garbage; May 1st: summer mosquito (not winter), lawns (May is
	 * one of 1,3,5,7,9,11).  Nothing weekly on a Wednesday. */
	bucket_tasks b = tasks_in(f->e, "clean-0501");
	assert_int_equal(b.live, 8);
	assert_string_equal(b.titles,
	                    "std:s1:garbage,std:s1:lawns-mow,std:s1:mosquito-summer,"
	                    "std:s1:public-sweep,std:s1:public-sweep,"
	                    "std:s1:stair-mop,std:s1:stair-sweep,std:s1:stair-sweep,");
	assert_int_equal(s.created, 8);
	assert_true(s.uncovered > 0); /* other days, technicians, guards */
	/* again: nothing new, nothing moved */
	assert_int_equal(tasks_generate_site(f->e, db, "s1", engine_now(f->e), &s),
	                 FS_OK);
	assert_int_equal(s.created, 0);
	assert_int_equal(s.moved, 0);
	assert_int_equal(s.deleted, 0);
	b = tasks_in(f->e, "clean-0501");
	assert_int_equal(b.live, 8);
	assert_int_equal(tasks_generate_site(f->e, db, "nope", engine_now(f->e), &s),
	                 FS_E_NOT_FOUND);
}

static void test_generate_moves_untouched_only(void **st)
{
	fixture *f = *st;
	const tz_zone *z = zone("Asia/Shanghai");
	setup_site(f->e);
	unsigned created;
	assert_int_equal(tasks_install_catalogue(f->e, "s1", &created), FS_OK);
	put_shift(f->e, "late", "cleaner", at(z, 2024, 5, 1, 7, 0),
	          at(z, 2024, 5, 1, 19, 0));
	tasks_stats s;
	assert_int_equal(tasks_generate_site(f->e, db, "s1", engine_now(f->e), &s), FS_OK);
	assert_int_equal(tasks_in(f->e, "late").live, 8);

	/* a cleaner's handheld ticks off the mop: the task is touched */
	opbatch o;
	ob_init(&o);
	ob_op(&o, "task", "tk:std:s1:stair-mop:20240501:0", engine_hlc_now(f->e), 2);
	ob_str(&o, "status", "done");
	ob_u64(&o, "done_at", (uint64_t)at(z, 2024, 5, 1, 7, 40));
	push_as(f->e, "handheld-7", &o);

	/* the shift now starts at 08:00: the 07:00 slots are nobody's; the
	 * untouched ones go, the touched mop stays */
	put_shift(f->e, "late", "cleaner", at(z, 2024, 5, 1, 8, 0),
	          at(z, 2024, 5, 1, 19, 0));
	assert_int_equal(tasks_generate_site(f->e, db, "s1", engine_now(f->e), &s), FS_OK);
	bucket_tasks b = tasks_in(f->e, "late");
	assert_int_equal(b.live, 3);
	assert_string_equal(b.titles, "std:s1:public-sweep,std:s1:stair-mop,"
	                              "std:s1:stair-sweep,");
	assert_int_equal(b.deleted, 5);
	assert_int_equal(s.deleted, 5);

	/* an early shift 06:00-12:00 takes the 07:00 slots: the removed tasks
	 * come back and move to its bucket; the touched mop does not move */
	put_shift(f->e, "early", "cleaner", at(z, 2024, 5, 1, 6, 0),
	          at(z, 2024, 5, 1, 12, 0));
	assert_int_equal(tasks_generate_site(f->e, db, "s1", engine_now(f->e), &s), FS_OK);
	assert_int_equal(s.moved, 5);
	assert_int_equal(s.created, 0);
	b = tasks_in(f->e, "early");
	assert_int_equal(b.live, 5);
	assert_string_equal(b.titles, "std:s1:garbage,std:s1:lawns-mow,"
	                              "std:s1:mosquito-summer,std:s1:public-sweep,"
	                              "std:s1:stair-sweep,");
	b = tasks_in(f->e, "late");
	assert_int_equal(b.live, 3); /* the two 13:00 slots and the touched mop */

	/* the early shift is cancelled: its untouched tasks go again */
	opbatch d;
	ob_init(&d);
	ob_op(&d, "shift", "early", engine_hlc_now(f->e), 1);
	ob_name(&d, "_deleted");
	wb_bool(&d.ops, 1);
	push_as(f->e, "admin-dev", &d);
	assert_int_equal(tasks_generate_site(f->e, db, "s1", engine_now(f->e), &s), FS_OK);
	assert_int_equal(tasks_in(f->e, "early").live, 0);
	assert_int_equal(s.deleted, 5);
	assert_int_equal(tasks_in(f->e, "late").live, 3);
}

/* The thread: a shift change is picked up without being asked. */
static void test_generator_thread(void **st)
{
	fixture *f = *st;
	const tz_zone *z = zone("Asia/Shanghai");
	setup_site(f->e);
	unsigned created;
	assert_int_equal(tasks_install_catalogue(f->e, "s1", &created), FS_OK);
	tasks_gen *g;
	assert_int_equal(tasks_gen_start(&g, f->e, db, 3600000), FS_OK);
	put_shift(f->e, "c1", "cleaner", at(z, 2024, 5, 2, 7, 0),
	          at(z, 2024, 5, 2, 19, 0));
	unsigned live = 0;
	for (int i = 0; i < 500 && live != 6; i++) {
		usleep(10000);
		live = tasks_in(f->e, "c1").live;
	}
	/* May 2nd: the six daily ones only */
	assert_int_equal(live, 6);
	assert_true(tasks_gen_passes(g) >= 1);
	tasks_gen_stop(g);
	tasks_gen_stop(NULL);
}

static int setup_db(void **st)
{
	return tz_db_open(&db, NULL);
}

static int teardown_db(void **st)
{
	tz_db_close(db);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_berlin_change_days),
		cmocka_unit_test(test_plan_week_month_year),
		cmocka_unit_test(test_plan_assignment),
		cmocka_unit_test(test_catalogue_provenance),
		cmocka_unit_test_setup_teardown(test_generate_cleaner_day,
		                                setup_engine, teardown_engine),
		cmocka_unit_test_setup_teardown(test_generate_moves_untouched_only,
		                                setup_engine, teardown_engine),
		cmocka_unit_test_setup_teardown(test_generator_thread,
		                                setup_engine, teardown_engine),
	};
	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
