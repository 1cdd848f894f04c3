/*
 * demo.c — see demo.h.  Records go in as admin pushes, exactly as an
 * admin console would send them, so the demo exercises the real path.
 */
#include "server/demo.h"

#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/hlc.h"

#define DEMO_SITE "harbour"
#define MIN_MS 60000ULL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

typedef struct {
	wbuf ops;
	uint32_t n;
	uint64_t hlc;
} demo_batch;

static void op_begin(demo_batch *b, const char *c, const char *id,
                     uint32_t nfields)
{
	wb_map(&b->ops, 4);
	wb_cstr(&b->ops, "c");
	wb_cstr(&b->ops, c);
	wb_cstr(&b->ops, "id");
	wb_cstr(&b->ops, id);
	wb_cstr(&b->ops, "s");
	wb_u64(&b->ops, b->hlc++);
	wb_cstr(&b->ops, "f");
	wb_map(&b->ops, nfields);
	b->n++;
}

static void kv_s(demo_batch *b, const char *k, const char *v)
{
	wb_cstr(&b->ops, k);
	wb_cstr(&b->ops, v);
}

static void kv_u(demo_batch *b, const char *k, uint64_t v)
{
	wb_cstr(&b->ops, k);
	wb_u64(&b->ops, v);
}

static void kv_f(demo_batch *b, const char *k, double v)
{
	wb_cstr(&b->ops, k);
	wb_f64(&b->ops, v);
}

/* Push the collected ops as one batch through engine_sync. */
static int push(engine *e, const principal *admin, demo_batch *b)
{
	wbuf req;
	wb_init(&req);
	wb_map(&req, 3);
	wb_cstr(&req, "v");
	wb_u64(&req, 1);
	wb_cstr(&req, "limit");
	wb_u64(&req, 0);
	wb_cstr(&req, "push");
	wb_arr(&req, 1);
	wb_map(&req, 2);
	wb_cstr(&req, "batch");
	uint8_t bid[16] = "demo-load-batch";
	uint64_t h = b->hlc;
	memcpy(bid, &h, sizeof(h)); /* unique per load */
	wb_bin(&req, bid, 16);
	wb_cstr(&req, "ops");
	wb_arr(&req, b->n);
	wb_raw(&req, b->ops.p, b->ops.n);
	arena *a = arena_new(0);
	wval *v;
	wbuf out;
	wb_init(&out);
	const char *msg = NULL;
	int rc = req.err ? FS_E_UNAVAILABLE : wire_decode(a, req.p, req.n, &v);
	if (!rc)
		rc = engine_sync(e, admin, v, engine_now(e), a, &out, &msg);
	if (!rc) {
		/* every op must have applied */
		wval *resp;
		rc = wire_decode(a, out.p, out.n, &resp);
		const wval *acks = rc ? NULL : wv_get(resp, "acks");
		uint64_t applied = 0;
		if (!acks || acks->t != WV_ARR || acks->a.n != 1 ||
		    !wv_u64(wv_get(&acks->a.v[0], "applied"), &applied) ||
		    applied != b->n) {
			fprintf(stderr, "fieldsyncd: demo: only %llu of %u ops applied\n",
			        (unsigned long long)applied, b->n);
			rc = FS_E_INTERNAL;
		}
	} else {
		fprintf(stderr, "fieldsyncd: demo: %s: %s\n", fs_err_name(rc),
		        msg ? msg : "");
	}
	wb_free(&out);
	wb_free(&req);
	arena_free(a);
	return rc;
}

/* Midnight UTC of today, shifted to the site's zone (UTC+8, no DST). */
static uint64_t local_midnight(uint64_t now)
{
	const uint64_t tz = 8 * HOUR_MS;
	return (now + tz) / DAY_MS * DAY_MS - tz;
}

int demo_load(engine *e, const auth_cfg *ac)
{
	principal admin;
	memset(&admin, 0, sizeof(admin));
	store_txn *t;
	sv v;
	if (store_begin(engine_store(e), 0, &t))
		return FS_E_UNAVAILABLE;
	int have = store_get(t, ST_META, sv_cstr("admin_device"), &v);
	if (!have && v.n <= FS_ID_MAX) {
		memcpy(admin.device, v.p, v.n);
		admin.device[v.n] = 0;
	}
	store_abort(t);
	if (have) {
		fprintf(stderr, "fieldsyncd: demo: run init first\n");
		return FS_E_BAD_REQUEST;
	}
	snprintf(admin.staff, sizeof(admin.staff), "admin");
	admin.role = ROLE_ADMIN;

	uint64_t now = engine_now(e);
	uint64_t day0 = local_midnight(now);
	demo_batch b;
	memset(&b, 0, sizeof(b));
	wb_init(&b.ops);
	b.hlc = HLC_MAKE(now, 0);

	op_begin(&b, "site", DEMO_SITE, 3);
	kv_s(&b, "name", "Harbour View Residences");
	kv_s(&b, "tz", "Asia/Shanghai");
	kv_u(&b, "households", 480);

	static const char *const zones[][3] = {
		{"z-stair-a", "Stairwell A", "stairwell"},
		{"z-stair-b", "Stairwell B", "stairwell"},
		{"z-lobby", "Main lobby", "lobby"},
		{"z-garage", "Underground garage", "garage"},
		{"z-green", "Central garden", "green"},
		{"z-plant", "Pump and switch room", "plant-room"},
	};
	for (size_t i = 0; i < 6; i++) {
		op_begin(&b, "zone", zones[i][0], 3);
		kv_s(&b, "site", DEMO_SITE);
		kv_s(&b, "name", zones[i][1]);
		kv_s(&b, "kind", zones[i][2]);
	}
	char id[64], name[64], tag[64];
	for (int i = 1; i <= 12; i++) {
		snprintf(id, sizeof(id), "cp-%02d", i);
		snprintf(name, sizeof(name), "Checkpoint %d", i);
		snprintf(tag, sizeof(tag), "NFC-04A2%04X", 0x1000 + i * 17);
		op_begin(&b, "checkpoint", id, 6);
		kv_s(&b, "site", DEMO_SITE);
		kv_s(&b, "zone", zones[(i - 1) % 6][0]);
		kv_s(&b, "name", name);
		kv_s(&b, "tag", tag);
		kv_f(&b, "lat", 22.2855 + i * 0.0001);
		kv_f(&b, "lon", 114.1577 + i * 0.0001);
	}
	op_begin(&b, "route", "night-patrol", 5);
	kv_s(&b, "site", DEMO_SITE);
	kv_s(&b, "name", "Night patrol, all buildings");
	wb_cstr(&b.ops, "checkpoints");
	wb_arr(&b.ops, 12);
	for (int i = 1; i <= 12; i++) {
		snprintf(id, sizeof(id), "cp-%02d", i);
		wb_cstr(&b.ops, id);
	}
	kv_u(&b, "every_min", 120);
	kv_u(&b, "grace_min", 15);

	static const char *const staff[][3] = {
		{"g-li", "Li Wei", "guard"},     {"g-chen", "Chen Jun", "guard"},
		{"c-wang", "Wang Fang", "cleaner"}, {"t-zhao", "Zhao Lei", "technician"},
		{"s-liu", "Liu Yang", "supervisor"},
	};
	for (size_t i = 0; i < 5; i++) {
		op_begin(&b, "staff", staff[i][0], 4);
		kv_s(&b, "site", DEMO_SITE);
		kv_s(&b, "name", staff[i][1]);
		kv_s(&b, "role", staff[i][2]);
		wb_cstr(&b.ops, "active");
		wb_bool(&b.ops, 1);
	}
	/* shifts: today and tomorrow; guards day 08-20 and night 20-08 */
	for (int d = 0; d < 2; d++) {
		uint64_t base = day0 + (uint64_t)d * DAY_MS;
		struct {
			const char *name, *role, *who, *route;
			uint64_t from, to;
		} sh[] = {
			{"guard-day", "guard", "g-chen", NULL, 8, 20},
			{"guard-night", "guard", "g-li", "night-patrol", 20, 32},
			{"clean-day", "cleaner", "c-wang", NULL, 7, 19},
			{"tech-day", "technician", "t-zhao", NULL, 8, 20},
			{"sup-day", "supervisor", "s-liu", NULL, 8, 20},
		};
		for (size_t i = 0; i < sizeof(sh) / sizeof(sh[0]); i++) {
			snprintf(id, sizeof(id), "%s-d%d", sh[i].name, d);
			op_begin(&b, "shift", id, sh[i].route ? 7 : 6);
			kv_s(&b, "site", DEMO_SITE);
			kv_s(&b, "role", sh[i].role);
			kv_u(&b, "starts", base + sh[i].from * HOUR_MS);
			kv_u(&b, "ends", base + sh[i].to * HOUR_MS);
			wb_cstr(&b.ops, "staff");
			wb_arr(&b.ops, 1);
			wb_cstr(&b.ops, sh[i].who);
			kv_s(&b, "lead", sh[i].who);
			if (sh[i].route)
				kv_s(&b, "route", sh[i].route);
		}
		/* the cleaner's day: stairwells twice, lobby once, garbage */
		static const char *const tasks[][3] = {
			{"sweep-a-am", "Sweep stairwell A", "z-stair-a"},
			{"sweep-a-pm", "Sweep stairwell A", "z-stair-a"},
			{"mop-b", "Mop stairwell B", "z-stair-b"},
			{"lobby", "Clean lobby glass and mailboxes", "z-lobby"},
			{"garbage", "Remove garbage (daily, no carry-over)", "z-garage"},
		};
		for (size_t i = 0; i < 5; i++) {
			snprintf(id, sizeof(id), "task-%s-d%d", tasks[i][0], d);
			char shift[64];
			snprintf(shift, sizeof(shift), "clean-day-d%d", d);
			uint64_t from = base + (7 + i * 2) * HOUR_MS;
			op_begin(&b, "task", id, 8);
			kv_s(&b, "site", DEMO_SITE);
			kv_s(&b, "shift", shift);
			kv_s(&b, "zone", tasks[i][2]);
			kv_s(&b, "title", tasks[i][1]);
			kv_u(&b, "due_from", from);
			kv_u(&b, "due_to", from + 2 * HOUR_MS);
			kv_s(&b, "assignee", "c-wang");
			kv_s(&b, "status", "open");
		}
	}
	/* work orders: an entrapment answered in 4 minutes, an open repair */
	op_begin(&b, "order", "wo-lift-1", 9);
	kv_s(&b, "site", DEMO_SITE);
	kv_s(&b, "category", "elevator_entrapment");
	kv_s(&b, "title", "Two residents stuck in lift 2, block B");
	kv_s(&b, "reporter", "g-li");
	kv_s(&b, "assignee", "t-zhao");
	kv_s(&b, "status", "resolved");
	kv_u(&b, "reported_at", now - 3 * HOUR_MS);
	kv_u(&b, "on_site_at", now - 3 * HOUR_MS + 4 * MIN_MS);
	kv_u(&b, "resolved_at", now - 3 * HOUR_MS + 25 * MIN_MS);
	op_begin(&b, "order", "wo-leak-1", 6);
	kv_s(&b, "site", DEMO_SITE);
	kv_s(&b, "category", "repair");
	kv_s(&b, "title", "Dripping tap in garage washroom");
	kv_s(&b, "reporter", "c-wang");
	kv_s(&b, "status", "reported");
	kv_u(&b, "reported_at", now - 30 * HOUR_MS);

	int rc = push(e, &admin, &b);
	wb_free(&b.ops);
	if (rc)
		return rc;
	/* PINs: 1234 for everyone, set like an admin would */
	for (size_t i = 0; i < 5; i++) {
		arena *a = arena_new(0);
		wbuf req, out;
		wb_init(&req);
		wb_init(&out);
		wb_map(&req, 2);
		wb_cstr(&req, "staff");
		wb_cstr(&req, staff[i][0]);
		wb_cstr(&req, "pin");
		wb_cstr(&req, "1234");
		wval *rv;
		const char *msg = NULL;
		rc = wire_decode(a, req.p, req.n, &rv);
		if (!rc)
			rc = auth_staff_pin(e, ac, &admin, rv, a, &out, &msg);
		wb_free(&req);
		wb_free(&out);
		arena_free(a);
		if (rc) {
			fprintf(stderr, "fieldsyncd: demo: PIN: %s\n", msg ? msg : "");
			return rc;
		}
	}
	return FS_OK;
}
