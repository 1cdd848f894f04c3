/*
 * demo.c — see demo.h.  Records go in through the ordinary sync path:
 * the property as admin pushes (as an admin console would send them), the
 * night's patrol scans and the cleaner's ticks as pushes of enrolled
 * handhelds with their boot id and monotonic clock (as a device would
 * send them).  Only what no request can carry is then set directly: the
 * handhelds' last sync and the orders' receive times are moved back to
 * when they would have happened, since the demo loads a past night in one
 * go (see demo.h).
 */
#include "server/svc/demo.h"
#include "server/store/keys.h"

#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/opbuild.h"
#include "protocol/record.h"
#include "server/svc/demo_tags.h"
#include "server/svc/roster.h"
#include "server/svc/tasks.h"
#include "server/lib/tz.h"

#define DEMO_SITE "harbour"
#define DEMO_TZ "Asia/Shanghai"
#define DEMO_PHONE "+86 21 5555 0110" /* the control room (fictitious) */
#define MIN_MS 60000ULL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define NCP 12

typedef struct {
	opbatch ob;
	uint64_t hlc;  /* the next op's stamp */
} demo_batch;

/* A handheld's `dev` for a sync: booted at boot_ms, clock right. */
typedef struct {
	const char *boot;
	uint64_t boot_ms;
} demo_dev;

/* Push the collected ops as one batch as `p` (with the handheld's dev
 * when given); every op must apply. */
static int push(engine *e, const principal *p, demo_batch *b,
                const demo_dev *dev)
{
	uint64_t t = engine_now(e);
	wbuf pushb, devb;
	wb_init(&pushb);
	wb_init(&devb);
	if (dev) {
		wb_map(&devb, 4);
		wb_cstr(&devb, "boot");
		wb_cstr(&devb, dev->boot);
		wb_cstr(&devb, "mono");
		wb_u64(&devb, t - dev->boot_ms);
		wb_cstr(&devb, "wall");
		wb_u64(&devb, t);
		wb_cstr(&devb, "pending");
		wb_u64(&devb, 0);
	}
	uint8_t bid[16] = "demo-load-batch";
	uint64_t h = b->hlc;
	memcpy(bid, &h, sizeof(h)); /* unique per load */
	wb_arr(&pushb, 1);
	ob_batch(&pushb, &b->ob, bid, NULL);
	arena *a = arena_new(0);
	engine_ack *acks;
	uint32_t n = 0;
	const char *msg = NULL;
	int rc = pushb.err || devb.err || !a
	                 ? FS_E_UNAVAILABLE
	                 : engine_push(e, &(engine_push_req){p, t, pushb.p, pushb.n,
	                                                     dev ? devb.p : NULL,
	                                                     devb.n, 0},
	                               a, &acks, &n, &msg);
	if (!rc && (n != 1 || acks[0].applied != b->ob.n)) {
		fprintf(stderr, "fieldsyncd: demo: only %u of %u ops applied%s%s\n",
		        n == 1 ? acks[0].applied : 0, b->ob.n,
		        n == 1 && acks[0].first_msg ? ": " : "",
		        n == 1 && acks[0].first_msg ? acks[0].first_msg : "");
		rc = FS_E_INTERNAL;
	} else if (rc) {
		fprintf(stderr, "fieldsyncd: demo: %s: %s\n", fs_err_name(rc),
		        msg ? msg : "");
	}
	wb_free(&pushb);
	wb_free(&devb);
	arena_free(a);
	/* the next batch starts empty, with later stamps */
	ob_reset(&b->ob);
	b->hlc = engine_hlc_now(e);
	return rc;
}

/* Enroll a handheld for `role` and log `staff` in on it, the way the HTTP
 * endpoints do (POST /v1/admin/enroll-codes, /v1/enroll, /v1/login). */
static int enroll(engine *e, const auth_cfg *ac, const principal *admin,
                  const char *role, const char *name, const char *staff,
                  principal *out)
{
	arena *a = arena_new(0);
	wbuf req, res;
	wb_init(&req);
	wb_init(&res);
	wval *rv, *resv;
	const char *msg = NULL;
	char tok[65];
	int rc = a ? FS_OK : FS_E_UNAVAILABLE;
	wb_map(&req, 2);
	wb_cstr(&req, "site");
	wb_cstr(&req, DEMO_SITE);
	wb_cstr(&req, "role");
	wb_cstr(&req, role);
	if (!rc)
		rc = wire_decode(a, req.p, req.n, &rv);
	if (!rc)
		rc = auth_enroll_code(e, admin, rv, a, &res, &msg);
	char *code = NULL;
	if (!rc && !(rc = wire_decode(a, res.p, res.n, &resv)))
		code = wv_strdup(a, wv_get(resv, "code"));
	if (!rc && !code)
		rc = FS_E_INTERNAL;
	if (!rc) {
		req.n = 0;
		res.n = 0;
		wb_map(&req, 2);
		wb_cstr(&req, "code");
		wb_cstr(&req, code);
		wb_cstr(&req, "name");
		wb_cstr(&req, name);
		rc = wire_decode(a, req.p, req.n, &rv);
	}
	if (!rc)
		rc = auth_enroll(e, ac, rv, a, &res, &msg);
	char *device = NULL;
	if (!rc && !(rc = wire_decode(a, res.p, res.n, &resv)))
		device = wv_strdup(a, wv_get(resv, "device"));
	if (!rc && !device)
		rc = FS_E_INTERNAL;
	if (!rc)
		rc = auth_mint_session(e, device, staff, tok);
	if (!rc) {
		memset(out, 0, sizeof(*out));
		snprintf(out->device, sizeof(out->device), "%s", device);
		snprintf(out->staff, sizeof(out->staff), "%s", staff);
		snprintf(out->site, sizeof(out->site), "%s", DEMO_SITE);
		out->role = role_parse(role, strlen(role));
	} else {
		fprintf(stderr, "fieldsyncd: demo: enrolling %s: %s %s\n", name,
		        fs_err_name(rc), msg ? msg : "");
	}
	wb_free(&req);
	wb_free(&res);
	arena_free(a);
	return rc;
}

/* What the demo sets directly afterwards (see the top of the file). */
typedef struct {
	const char *dev[2];
	uint64_t last_sync[2];
	const char *orders[4];
	uint64_t rcv[4];
} backdate;

static int backdate_txn(void *ctx, store_txn *t)
{
	backdate *x = ctx;
	int rc;
	for (int i = 0; i < 2; i++) {
		device_info d;
		if ((rc = device_get(t, x->dev[i], &d)))
			return rc;
		d.last_sync = x->last_sync[i];
		d.has_pending = 1;
		d.pending = 0;
		if ((rc = device_put(t, x->dev[i], &d)))
			return rc;
	}
	for (int i = 0; i < 4; i++) {
		char k[160];
		uint8_t b[8];
		uint64_t v = x->rcv[i];
		for (int j = 7; j >= 0; j--, v >>= 8)
			b[j] = (uint8_t)v;
		size_t kn = key_orcv(k, sizeof(k), x->orders[i]);
		if ((rc = store_put(t, ST_AUX, sv_of(k, kn), sv_of(b, 8))))
			return rc;
	}
	return FS_OK;
}

/* Yesterday's cleaning tasks, as the cleaner's handheld ticked them off:
 * all done in their window but one done late and one never done. */
typedef struct {
	arena *a;
	demo_batch *b;
	int rc;
} tick_ctx;

static int tick_cb(void *ctx, const store_entry *en)
{
	tick_ctx *x = ctx;
	if (en->gone || strcmp(en->c, "task"))
		return SCAN_NEXT;
	record r;
	rec_init(&r);
	uint64_t from = 0, to = 0;
	if (rec_decode(x->a, en->val.p, en->val.n, &r) || rec_true(&r, "_deleted") ||
	    !rec_u64(&r, "due_from", &from) || !rec_u64(&r, "due_to", &to))
		return SCAN_NEXT;
	size_t n = strlen(en->id);
	if (strstr(en->id, ":public-sweep:") && n > 2 && !strcmp(en->id + n - 2, ":1"))
		return SCAN_NEXT; /* the afternoon sweep of the grounds: never done */
	uint64_t done = from + (to - from) / 3;
	if (strstr(en->id, ":stair-mop:"))
		done = to + 40 * MIN_MS; /* done, but 40 minutes late */
	ob_op(&x->b->ob, "task", en->id, x->b->hlc++, 3);
	ob_str(&x->b->ob, "status", "done");
	ob_u64(&x->b->ob, "done_at", done);
	ob_str(&x->b->ob, "done_by", "c-wang");
	return SCAN_NEXT;
}

int demo_load(engine *e, const auth_cfg *ac)
{
	principal admin;
	if (auth_admin_principal(e, &admin)) {
		fprintf(stderr, "fieldsyncd: demo: run init first\n");
		return FS_E_BAD_REQUEST;
	}

	tz_db *tzdb = NULL;
	const tz_zone *z;
	if (tz_db_open(&tzdb, NULL) || tz_get(tzdb, DEMO_TZ, &z)) {
		fprintf(stderr, "fieldsyncd: demo: no zoneinfo for %s (package tzdata)\n",
		        DEMO_TZ);
		tz_db_close(tzdb);
		return FS_E_UNAVAILABLE;
	}
	uint64_t now = engine_now(e);
	int64_t today = tz_day_of(tz_utc_to_local_ms(z, (int64_t)now));
#define LOCAL(d, h, m) \
	((uint64_t)tz_local_to_utc_ms(z, ((today + (d)) * 24 + (h)) * (int64_t)HOUR_MS + \
	                                     (m) * (int64_t)MIN_MS))
	/* the last night whose final round and grace are over: 20:00-08:00
	 * ending this morning, or the morning before when it is not 08:20 yet */
	int nd = now >= LOCAL(0, 8, 20) ? -1 : -2;
	uint64_t night = LOCAL(nd, 20, 0), night_end = night + 12 * HOUR_MS;
	arena *ids = arena_new(0);
	const char *night_id = ids ? roster_shift_id(ids, "guards", today + nd, 1) : NULL;
	const char *next_day_id = ids ? roster_shift_id(ids, "guards", today + nd + 1, 0) : NULL;
	const char *clean_id = ids ? roster_shift_id(ids, "cleaning", today - 1, 0) : NULL;
	if (!night_id || !next_day_id || !clean_id) {
		arena_free(ids);
		tz_db_close(tzdb);
		return FS_E_UNAVAILABLE;
	}

	demo_batch b;
	memset(&b, 0, sizeof(b));
	ob_init(&b.ob);
	b.hlc = engine_hlc_now(e);

	ob_op(&b.ob, "site", DEMO_SITE, b.hlc++, 4);
	ob_str(&b.ob, "name", "Harbour View Residences");
	ob_str(&b.ob, "tz", DEMO_TZ);
	ob_u64(&b.ob, "households", 480);
	ob_str(&b.ob, "phone", DEMO_PHONE);

	static const char *const zones[][3] = {
		{"z-stair-a", "Stairwell A", "stairwell"},
		{"z-stair-b", "Stairwell B", "stairwell"},
		{"z-lobby", "Main lobby", "lobby"},
		{"z-garage", "Underground garage", "garage"},
		{"z-green", "Central garden", "green"},
		{"z-plant", "Pump and switch room", "plant-room"},
	};
	for (size_t i = 0; i < 6; i++) {
		ob_op(&b.ob, "zone", zones[i][0], b.hlc++, 3);
		ob_str(&b.ob, "site", DEMO_SITE);
		ob_str(&b.ob, "name", zones[i][1]);
		ob_str(&b.ob, "kind", zones[i][2]);
	}
	char id[64], name[64], tag[64];
	for (int i = 1; i <= NCP; i++) {
		snprintf(id, sizeof(id), "cp-%02d", i);
		snprintf(name, sizeof(name), "Checkpoint %d", i);
		snprintf(tag, sizeof(tag), "NFC-04A2%04X", 0x1000 + i * 17);
		ob_op(&b.ob, "checkpoint", id, b.hlc++, 6);
		ob_str(&b.ob, "site", DEMO_SITE);
		ob_str(&b.ob, "zone", zones[(i - 1) % 6][0]);
		ob_str(&b.ob, "name", name);
		ob_str(&b.ob, "tag", tag);
		ob_f64(&b.ob, "lat", 22.2855 + i * 0.0001);
		ob_f64(&b.ob, "lon", 114.1577 + i * 0.0001);
	}
	ob_op(&b.ob, "route", "night-patrol", b.hlc++, 5);
	ob_str(&b.ob, "site", DEMO_SITE);
	ob_str(&b.ob, "name", "Patrol, all buildings");
	ob_name(&b.ob, "checkpoints");
	wb_arr(&b.ob.ops, NCP);
	for (int i = 1; i <= NCP; i++) {
		snprintf(id, sizeof(id), "cp-%02d", i);
		wb_cstr(&b.ob.ops, id);
	}
	ob_u64(&b.ob, "every_min", 120);
	ob_u64(&b.ob, "grace_min", 15);

	static const char *const staff[][3] = {
		{"g-li", "Li Wei", "guard"},     {"g-chen", "Chen Jun", "guard"},
		{"c-wang", "Wang Fang", "cleaner"}, {"t-zhao", "Zhao Lei", "technician"},
		{"s-liu", "Liu Yang", "supervisor"},
	};
	for (size_t i = 0; i < 5; i++) {
		ob_op(&b.ob, "staff", staff[i][0], b.hlc++, 4);
		ob_str(&b.ob, "site", DEMO_SITE);
		ob_str(&b.ob, "name", staff[i][1]);
		ob_str(&b.ob, "role", staff[i][2]);
		ob_name(&b.ob, "active");
		wb_bool(&b.ob.ops, 1);
	}
	/* the rosters that make the shifts (roster.h): guards day 08-20 and
	 * night 20-08 on the patrol route, cleaner 07-19, technician and
	 * supervisor 08-20, every day */
	static const struct {
		const char *id, *name, *role, *staff[2], *spans[2], *route;
	} rosters[] = {
		{"guards", "Guards, day and night", "guard", {"g-chen", "g-li"},
		 {"08:00-20:00", "20:00-08:00"}, "night-patrol"},
		{"cleaning", "Cleaning", "cleaner", {"c-wang"}, {"07:00-19:00"}, NULL},
		{"technicians", "Maintenance", "technician", {"t-zhao"},
		 {"08:00-20:00"}, NULL},
		{"supervisors", "Site office", "supervisor", {"s-liu"},
		 {"08:00-20:00"}, NULL},
	};
	for (size_t i = 0; i < sizeof(rosters) / sizeof(rosters[0]); i++) {
		uint32_t n = rosters[i].staff[1] ? 2 : 1;
		ob_op(&b.ob, "roster", rosters[i].id, b.hlc++,
		      rosters[i].route ? 7 : 6);
		ob_str(&b.ob, "site", DEMO_SITE);
		ob_str(&b.ob, "name", rosters[i].name);
		ob_str(&b.ob, "role", rosters[i].role);
		ob_strs(&b.ob, "staff", rosters[i].staff, n);
		ob_strs(&b.ob, "shifts", rosters[i].spans, n);
		ob_str(&b.ob, "post", rosters[i].id);
		if (rosters[i].route)
			ob_str(&b.ob, "route", rosters[i].route);
	}
	/* work orders of the night and the day before it */
	ob_op(&b.ob, "order", "wo-lift-1", b.hlc++, 9);
	ob_str(&b.ob, "site", DEMO_SITE);
	ob_str(&b.ob, "category", "elevator_entrapment");
	ob_str(&b.ob, "title", "Two residents stuck in lift 2, block B");
	ob_str(&b.ob, "reporter", "g-li");
	ob_str(&b.ob, "assignee", "t-zhao");
	ob_str(&b.ob, "status", "resolved");
	uint64_t lift = night + 3 * HOUR_MS + 10 * MIN_MS; /* 23:10 */
	ob_u64(&b.ob, "reported_at", lift);
	ob_u64(&b.ob, "on_site_at", lift + 4 * MIN_MS); /* answered in 4 minutes */
	ob_u64(&b.ob, "resolved_at", lift + 25 * MIN_MS);
	ob_op(&b.ob, "order", "wo-gate-1", b.hlc++, 8);
	ob_str(&b.ob, "site", DEMO_SITE);
	ob_str(&b.ob, "category", "incident");
	ob_str(&b.ob, "title", "Delivery van blocking the fire lane at gate 2");
	ob_str(&b.ob, "reporter", "g-li");
	ob_str(&b.ob, "assignee", "g-li");
	ob_str(&b.ob, "status", "closed");
	uint64_t gate = night + 2 * HOUR_MS + 25 * MIN_MS; /* 22:25 */
	ob_u64(&b.ob, "reported_at", gate);
	ob_u64(&b.ob, "on_site_at", gate + 7 * MIN_MS);
	ob_op(&b.ob, "order", "wo-leak-1", b.hlc++, 8);
	ob_str(&b.ob, "site", DEMO_SITE);
	ob_str(&b.ob, "category", "repair");
	ob_str(&b.ob, "title", "Dripping tap in garage washroom");
	ob_str(&b.ob, "reporter", "c-wang");
	ob_str(&b.ob, "assignee", "t-zhao");
	ob_str(&b.ob, "status", "accepted");
	uint64_t leak = night - 14 * HOUR_MS; /* 06:00 the day before */
	ob_u64(&b.ob, "reported_at", leak);
	ob_u64(&b.ob, "accepted_at", leak + 50 * MIN_MS); /* never resolved: breached */
	ob_op(&b.ob, "order", "wo-noise-1", b.hlc++, 8);
	ob_str(&b.ob, "site", DEMO_SITE);
	ob_str(&b.ob, "category", "complaint");
	ob_str(&b.ob, "title", "Renovation noise after 20:00 at B-1203");
	ob_str(&b.ob, "reporter", "s-liu");
	ob_str(&b.ob, "assignee", "t-zhao");
	ob_str(&b.ob, "status", "closed");
	uint64_t noise = night + 30 * MIN_MS; /* 20:30 */
	ob_u64(&b.ob, "reported_at", noise);
	ob_u64(&b.ob, "accepted_at", noise + 2 * HOUR_MS);
	/* the night's handover to the day guard */
	ob_op(&b.ob, "handover", "ho-night", b.hlc++, 7);
	ob_str(&b.ob, "site", DEMO_SITE);
	ob_str(&b.ob, "from_shift", night_id);
	ob_str(&b.ob, "to_shift", next_day_id);
	ob_str(&b.ob, "by", "g-li");
	ob_u64(&b.ob, "at", night_end - 10 * MIN_MS);
	ob_str(&b.ob, "note", "Lift 2 stuck 23:10, residents out 23:35 (t-zhao). "
	                 "22:00 round: cp-07 not reached, delivery van in the fire "
	                 "lane at gate 2. Handheld lost signal in the garage after 07:40.");
	ob_name(&b.ob, "open_items");
	wb_arr(&b.ob.ops, 1);
	wb_cstr(&b.ob.ops, "Garage washroom tap still dripping (wo-leak-1)");

	int rc = push(e, &admin, &b, NULL);
	if (rc)
		goto out;
	/* PINs: 1234 for everyone, set like an admin would */
	for (size_t i = 0; i < 5; i++) {
		arena *a = arena_new(0);
		wbuf req, res;
		wb_init(&req);
		wb_init(&res);
		wb_map(&req, 2);
		wb_cstr(&req, "staff");
		wb_cstr(&req, staff[i][0]);
		wb_cstr(&req, "pin");
		wb_cstr(&req, "1234");
		wval *rv;
		const char *msg = NULL;
		rc = wire_decode(a, req.p, req.n, &rv);
		if (!rc)
			rc = auth_staff_pin(e, ac, &admin, rv, a, &res, &msg);
		wb_free(&req);
		wb_free(&res);
		arena_free(a);
		if (rc) {
			fprintf(stderr, "fieldsyncd: demo: PIN: %s\n", msg ? msg : "");
			goto out;
		}
	}
	/* the shifts: from the morning of that night's day (so that night
	 * and the days around it are made, as they were then), then up to a
	 * week ahead of now; later the serve command's generator keeps them
	 * a week ahead, so the demo is alive on any day it is run */
	if ((rc = roster_generate_site(e, tzdb, DEMO_SITE, LOCAL(nd, 7, 0), NULL)) ||
	    (rc = roster_generate_site(e, tzdb, DEMO_SITE, now, NULL)))
		goto out;
	/* the service standards, and the tasks they give the shifts */
	unsigned created;
	if ((rc = tasks_install_catalogue(e, DEMO_SITE, &created)))
		goto out;
	tasks_stats st;
	if ((rc = tasks_generate_site(e, tzdb, DEMO_SITE, now, &st)))
		goto out;

	/* the handhelds */
	principal guard, cleaner;
	if ((rc = enroll(e, ac, &admin, "guard", "Guard handheld 1", "g-li", &guard)) ||
	    (rc = enroll(e, ac, &admin, "cleaner", "Cleaning handheld", "c-wang",
	                 &cleaner)))
		goto out;

	/* the night's scans, as g-li's handheld recorded them (booted the
	 * evening before, its clock right): every checkpoint of every round
	 * in order, 4 minutes apart, except
	 *   round 0 cp-01 tapped twice (an extra scan),
	 *   round 1 cp-07 never reached (missed),
	 *   round 2 cp-03 scanned 8 minutes into the next round (late: round
	 *           3's own cp-03 scan comes after it),
	 *   round 4 cp-09 scanned with the phone clock set back 25 minutes
	 *           (the server corrects it from the monotonic clock),
	 *   round 5 cp-12 still on the handheld, which has not synced since
	 *           07:40 (pending);
	 * cp-02, cp-06 and cp-10 carry secure tags when the server has a tag
	 * key (demo_tags.h): their taps carry the tag's URL, and round 0's
	 * tap of cp-06 is sent again in round 1 (a replay, scored nothing) */
	int secure_on;
	char sun[160];
	if ((rc = demo_tags_bind(e, &secure_on)))
		goto out;
	demo_dev gdev = {"demo-boot-g1", night - 2 * HOUR_MS};
	for (int k = 0; k < 6; k++)
		for (int i = 1; i <= NCP; i++) {
			if ((k == 1 && i == 7) || (k == 5 && i == 12))
				continue;
			uint64_t at = night + (uint64_t)k * 2 * HOUR_MS + 5 * MIN_MS +
			              (uint64_t)(i - 1) * 4 * MIN_MS;
			if (k == 2 && i == 3)
				at = night + 6 * HOUR_MS + 8 * MIN_MS;
			uint64_t wall = k == 4 && i == 9 ? at - 25 * MIN_MS : at;
			for (int rep = 0; rep < (k == 0 && i == 1 ? 2 : 1); rep++) {
				snprintf(id, sizeof(id), "ck-%s-r%d-cp%02d%s", night_id, k,
				         i, rep ? "-again" : "");
				snprintf(tag, sizeof(tag), "cp-%02d", i);
				int tapped = secure_on && demo_tags_tap(i, k, sun, sizeof(sun));
				ob_op(&b.ob, "checkin", id, b.hlc++, 9 + tapped);
				if (tapped)
					ob_str(&b.ob, "sun", sun);
				ob_str(&b.ob, "site", DEMO_SITE);
				ob_str(&b.ob, "shift", night_id);
				ob_str(&b.ob, "route", "night-patrol");
				ob_str(&b.ob, "checkpoint", tag);
				ob_str(&b.ob, "staff", "g-li");
				ob_u64(&b.ob, "at", wall + rep * 30000);
				ob_str(&b.ob, "boot", gdev.boot);
				ob_u64(&b.ob, "mono", at + rep * 30000 - gdev.boot_ms);
				ob_str(&b.ob, "method", "nfc");
			}
		}
	if (secure_on && demo_tags_tap(DEMO_REPLAY_CP, DEMO_REPLAY_ROUND, sun,
	                               sizeof(sun))) {
		uint64_t at = night + (DEMO_REPLAY_ROUND + 1) * 2 * HOUR_MS +
		              5 * MIN_MS + (DEMO_REPLAY_CP - 1) * 4 * MIN_MS + MIN_MS;
		snprintf(id, sizeof(id), "ck-%s-r%d-cp%02d-replay", night_id,
		         DEMO_REPLAY_ROUND + 1, DEMO_REPLAY_CP);
		snprintf(tag, sizeof(tag), "cp-%02d", DEMO_REPLAY_CP);
		ob_op(&b.ob, "checkin", id, b.hlc++, 10);
		ob_str(&b.ob, "site", DEMO_SITE);
		ob_str(&b.ob, "shift", night_id);
		ob_str(&b.ob, "route", "night-patrol");
		ob_str(&b.ob, "checkpoint", tag);
		ob_str(&b.ob, "staff", "g-li");
		ob_u64(&b.ob, "at", at);
		ob_str(&b.ob, "boot", gdev.boot);
		ob_u64(&b.ob, "mono", at - gdev.boot_ms);
		ob_str(&b.ob, "method", "nfc");
		ob_str(&b.ob, "sun", sun);
	}
	if ((rc = push(e, &guard, &b, &gdev)))
		goto out;

	/* yesterday's cleaning, ticked off on the cleaner's handheld */
	char bucket[160];
	snprintf(bucket, sizeof(bucket), "shift/%s", clean_id);
	arena *ta = arena_new(0);
	tick_ctx tc = {ta, &b, FS_OK};
	store_txn *t;
	if (!ta || store_begin(engine_store(e), 0, &t)) {
		arena_free(ta);
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	store_bucket_scan(t, bucket, 0, tick_cb, &tc);
	store_abort(t);
	arena_free(ta);
	demo_dev cdev = {"demo-boot-c1", LOCAL(-1, 6, 30)};
	if (b.ob.n && (rc = push(e, &cleaner, &b, &cdev)))
		goto out;

	/* when those syncs and reports would have reached the server */
	backdate bd = {{guard.device, cleaner.device},
	               {night_end - 20 * MIN_MS, LOCAL(-1, 19, 5)},
	               {"wo-lift-1", "wo-gate-1", "wo-leak-1", "wo-noise-1"},
	               {lift + 20000, gate + 47 * MIN_MS, leak + 35000,
	                noise + 12000}};
	rc = engine_write(e, backdate_txn, &bd);
#undef LOCAL
out:
	ob_free(&b.ob);
	arena_free(ids);
	tz_db_close(tzdb);
	return rc;
}
