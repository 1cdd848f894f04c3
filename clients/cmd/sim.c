/*
 * sim.c — fieldsync-sim, the load and fault generator.
 *
 *   fieldsync-sim --server URL --admin-token FILE --devices N --duration S
 *                 [--offline-ratio R] [--skew-ms X] [--reboot-ratio R]
 *                 [--lost-ratio R] [--seed K] [--insecure-http] [--ca FILE]
 *                 [--dir DIR] [--keep] [--fsync] [--json]
 *                 [--wire v1|v2|mixed]
 *
 * It provisions a fresh site through the admin API (site, checkpoints,
 * route, staff, shifts, tasks as admin pushes on /v1/sync; PINs with
 * /v1/admin/staff-pin; one enrollment code per device with
 * /v1/admin/enroll-codes), then runs N devices as threads, each a real
 * libfieldsync handle with its own store under DIR: guards scan the
 * route's tags, cleaners complete the tasks of the shift they share with
 * other cleaners (so edits of one task race).  Faults: offline periods
 * (a share R of 2-second slots with no sync), wall clocks skewed by up to
 * ±X ms (beyond the server's max skew they come back CLOCK_AHEAD and are
 * restamped), reboots (new boot id, ms-since-boot from ~0; R is the
 * chance per device per 10 s), and lost responses (a share of sync
 * replies thrown away after the server applied them: the library sends
 * the same batches again and must get dup acks).
 *
 * At the end every device syncs until its outbox is empty, then once more
 * to see everyone's last edits; the simulator pulls everything as admin
 * and checks: no device holds unsent work; per device, ops made = acked +
 * rejected; every checkin made is on the server exactly once (and no
 * other checkin is in the site); every task note on the server was
 * written by a device of that shift with that device's stamp; the
 * server's applied-ops counter grew by exactly the acked ops (a batch
 * applied twice would show); and every device's buckets in scope are
 * byte-for-byte what the server holds (SHA-256 over records and stamps).
 * It prints ops made/acked/rejected, sync latency p50/p99 and the
 * verdict; the exit status is 0 for PASS, 1 for any loss or
 * disagreement, 2 for usage, 3 when it ran out of time.
 *
 * Device stores skip fsync unless --fsync: the point is load on the
 * server, not on the test machine's disk.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clients/fieldsync.h"
#include "protocol/arena.h"
#include "protocol/wire.h"

#define PIN "2468"
#define NCP 12
#define GROUP 3          /* staff per shift */
#define TASKS_PER_SHIFT 8
#define SLOT_MS 2000
#define MAX_CHECKINS 100000

typedef struct {
	const char *server, *token_file, *ca, *dir_opt;
	unsigned devices, duration_s;
	double offline_ratio, reboot_ratio, lost_ratio;
	int64_t skew_ms;
	uint64_t seed;
	int insecure, keep, fsync, json;
	unsigned wire; /* pull encoding: 1, 2, or 3: odd devices v2, even v1 */
} sim_cfg;

struct sim;

typedef struct {
	struct sim *s;
	int idx;
	int guard;
	char staff[96], shift[96], device[136], home[1100];
	int64_t skew; /* wall clock shift */
	fs_client *c;
	uint64_t rng;
	/* accounting */
	uint64_t made, made_checkins, made_tasks;
	uint64_t acked, rejected, restamped, unavailable;
	uint64_t syncs, sync_fail, retries;
	unsigned offline_slots, reboots;
	char **ck_ids;
	size_t nck, capck;
	double *lat;
	size_t nlat, caplat;
	char err[300];
	int failed;
	uint64_t pending_end;
} device;

typedef struct sim {
	sim_cfg cfg;
	char site[40];
	char token[512];
	fs_client *admin;
	device *devs;
	char dir[1024];
	uint64_t t_end;
	pthread_barrier_t bar;
	uint64_t t0;
	unsigned nguards, ncleaners;
	uint64_t rng; /* batch ids of the admin pushes */
	char (*tags)[128];
} sim;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static double rnd01(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / (double)(1ULL << 53);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void die_timeout(int sig)
{
	static const char m[] = "fieldsync-sim: ran out of time (bounded run)\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(3);
}

/* ---- admin calls ---------------------------------------------------------------- */

static int admin_call(sim *s, const char *path, wbuf *body, arena *a,
                      wval **out, char *err, size_t errn)
{
	int status = 0, rc;
	uint8_t *resp = NULL;
	size_t n = 0;

	*out = NULL;
	if (body->err) {
		snprintf(err, errn, "out of memory");
		return -1;
	}
	rc = fs_call(s->admin, "POST", path, body->p, body->n, &status, &resp, &n);
	if (rc) {
		snprintf(err, errn, "%s: %s", path, fs_errmsg(s->admin));
		return -1;
	}
	if (status != 200 || !resp || wire_decode(a, resp, n, out) ||
	    (*out)->t != WV_MAP) {
		const wval *m = *out ? wv_get(*out, "msg") : NULL;

		snprintf(err, errn, "%s answered HTTP %d%s%.*s", path, status,
		         m && m->t == WV_STR ? ": " : "",
		         m && m->t == WV_STR ? (int)m->s.n : 0,
		         m && m->t == WV_STR ? m->s.p : "");
		free(resp);
		*out = NULL;
		return -1;
	}
	/* the tree points into resp: keep it in the arena */
	{
		uint8_t *copy = arena_dup(a, resp, n);

		free(resp);
		if (!copy || wire_decode(a, copy, n, out)) {
			snprintf(err, errn, "out of memory");
			return -1;
		}
	}
	return 0;
}

typedef struct {
	wbuf ops;
	uint32_t n;
	uint64_t hlc;
} pushbuf;

static void op_begin(pushbuf *p, const char *c, const char *id, uint32_t nf)
{
	wb_map(&p->ops, 4);
	wb_cstr(&p->ops, "c");
	wb_cstr(&p->ops, c);
	wb_cstr(&p->ops, "id");
	wb_cstr(&p->ops, id);
	wb_cstr(&p->ops, "s");
	wb_u64(&p->ops, p->hlc++);
	wb_cstr(&p->ops, "f");
	wb_map(&p->ops, nf);
	p->n++;
}

static void kv_s(pushbuf *p, const char *k, const char *v)
{
	wb_cstr(&p->ops, k);
	wb_cstr(&p->ops, v);
}

static void kv_u(pushbuf *p, const char *k, uint64_t v)
{
	wb_cstr(&p->ops, k);
	wb_u64(&p->ops, v);
}

static int admin_push(sim *s, pushbuf *p, char *err, size_t errn)
{
	wbuf b;
	arena *a = arena_new(0);
	wval *r;
	uint8_t bid[16];
	uint64_t applied = 0;
	const wval *acks;
	int rc;

	for (int i = 0; i < 16; i++)
		bid[i] = (uint8_t)rnd(&s->rng);
	wb_init(&b);
	wb_map(&b, 4);
	wb_cstr(&b, "v");
	wb_u64(&b, 1);
	wb_cstr(&b, "limit");
	wb_u64(&b, 0);
	wb_cstr(&b, "pull");
	wb_map(&b, 0);
	wb_cstr(&b, "push");
	wb_arr(&b, 1);
	wb_map(&b, 2);
	wb_cstr(&b, "batch");
	wb_bin(&b, bid, 16);
	wb_cstr(&b, "ops");
	wb_arr(&b, p->n);
	wb_raw(&b, p->ops.p, p->ops.n);
	rc = admin_call(s, "/v1/sync", &b, a, &r, err, errn);
	if (!rc) {
		acks = wv_get(r, "acks");
		if (!acks || acks->t != WV_ARR || acks->a.n != 1 ||
		    !wv_u64(wv_get(&acks->a.v[0], "applied"), &applied) ||
		    applied != p->n) {
			snprintf(err, errn, "provisioning: only %llu of %u admin ops "
			         "applied", (unsigned long long)applied, p->n);
			rc = -1;
		}
	}
	wb_free(&b);
	arena_free(a);
	return rc;
}

static int fetch_metric(sim *s, const char *name, double *out)
{
	int status = 0;
	uint8_t *resp = NULL;
	size_t n = 0;
	char *text, *line;
	size_t nl = strlen(name);

	if (fs_call(s->admin, "GET", "/metrics", NULL, 0, &status, &resp, &n) ||
	    status != 200 || !resp) {
		free(resp);
		return -1;
	}
	text = malloc(n + 1);
	if (!text) {
		free(resp);
		return -1;
	}
	memcpy(text, resp, n);
	text[n] = 0;
	free(resp);
	for (line = text; line && *line;) {
		char *next = strchr(line, '\n');

		if (next)
			*next++ = 0;
		if (!strncmp(line, name, nl) && line[nl] == ' ') {
			*out = strtod(line + nl + 1, NULL);
			free(text);
			return 0;
		}
		line = next;
	}
	free(text);
	return -1;
}

/* Site, checkpoints, route, staff, shifts, tasks; PINs. */
static int provision(sim *s, char *err, size_t errn)
{
	pushbuf p;
	char id[256], tag[100], sh[128];
	uint64_t now = wall_ms();
	uint64_t ends = now + (uint64_t)s->cfg.duration_s * 1000 + 3 * 3600000ULL;
	unsigned ng = s->nguards, nc = s->ncleaners;
	int rc;

	memset(&p, 0, sizeof(p));
	wb_init(&p.ops);
	p.hlc = now << 16;
	op_begin(&p, "site", s->site, 3);
	kv_s(&p, "name", "Simulated property");
	kv_s(&p, "tz", "Asia/Shanghai");
	kv_u(&p, "households", 300);
	for (int i = 1; i <= NCP; i++) {
		snprintf(id, sizeof(id), "%s-cp-%02d", s->site, i);
		snprintf(tag, sizeof(tag), "TAG-%s-%02d", s->site, i);
		snprintf(s->tags[i - 1], sizeof(s->tags[0]), "%s", tag);
		op_begin(&p, "checkpoint", id, 4);
		kv_s(&p, "site", s->site);
		kv_s(&p, "name", id);
		kv_s(&p, "tag", tag);
		kv_s(&p, "zone", "z1");
	}
	snprintf(id, sizeof(id), "%s-route", s->site);
	op_begin(&p, "route", id, 5);
	kv_s(&p, "site", s->site);
	kv_s(&p, "name", "Simulated round");
	wb_cstr(&p.ops, "checkpoints");
	wb_arr(&p.ops, NCP);
	for (int i = 1; i <= NCP; i++) {
		snprintf(tag, sizeof(tag), "%s-cp-%02d", s->site, i);
		wb_cstr(&p.ops, tag);
	}
	kv_u(&p, "every_min", 60);
	kv_u(&p, "grace_min", 15);
	for (unsigned i = 0; i < s->cfg.devices; i++) {
		device *d = &s->devs[i];

		op_begin(&p, "staff", d->staff, 4);
		kv_s(&p, "site", s->site);
		kv_s(&p, "name", d->staff);
		kv_s(&p, "role", d->guard ? "guard" : "cleaner");
		wb_cstr(&p.ops, "active");
		wb_bool(&p.ops, 1);
	}
	/* shifts of up to GROUP staff each */
	for (int role = 0; role < 2; role++) {
		unsigned total = role ? nc : ng;

		for (unsigned g = 0; g * GROUP < total; g++) {
			unsigned members = 0;

			snprintf(sh, sizeof(sh), "%s-%s-%u", s->site,
			         role ? "cs" : "gs", g);
			for (unsigned i = 0; i < s->cfg.devices; i++)
				if (!strcmp(s->devs[i].shift, sh))
					members++;
			op_begin(&p, "shift", sh, role ? 6 : 7);
			kv_s(&p, "site", s->site);
			kv_s(&p, "role", role ? "cleaner" : "guard");
			kv_u(&p, "starts", now - 3600000ULL);
			kv_u(&p, "ends", ends);
			wb_cstr(&p.ops, "staff");
			wb_arr(&p.ops, members);
			for (unsigned i = 0; i < s->cfg.devices; i++)
				if (!strcmp(s->devs[i].shift, sh))
					wb_cstr(&p.ops, s->devs[i].staff);
			for (unsigned i = 0; i < s->cfg.devices; i++)
				if (!strcmp(s->devs[i].shift, sh)) {
					kv_s(&p, "lead", s->devs[i].staff);
					break;
				}
			if (!role) {
				snprintf(id, sizeof(id), "%s-route", s->site);
				kv_s(&p, "route", id);
			}
			for (int t = 0; role && t < TASKS_PER_SHIFT; t++) {
				snprintf(id, sizeof(id), "%s-t%d", sh, t);
				op_begin(&p, "task", id, 6);
				kv_s(&p, "site", s->site);
				kv_s(&p, "shift", sh);
				kv_s(&p, "title", "Simulated cleaning task");
				kv_s(&p, "status", "open");
				kv_u(&p, "due_from", now);
				kv_u(&p, "due_to", ends);
			}
		}
	}
	rc = admin_push(s, &p, err, errn);
	wb_free(&p.ops);
	if (rc)
		return rc;
	for (unsigned i = 0; i < s->cfg.devices; i++) {
		wbuf b;
		arena *a = arena_new(0);
		wval *r;

		wb_init(&b);
		wb_map(&b, 2);
		wb_cstr(&b, "staff");
		wb_cstr(&b, s->devs[i].staff);
		wb_cstr(&b, "pin");
		wb_cstr(&b, PIN);
		rc = admin_call(s, "/v1/admin/staff-pin", &b, a, &r, err, errn);
		wb_free(&b);
		arena_free(a);
		if (rc)
			return rc;
	}
	return 0;
}

static int enroll_code(sim *s, const char *role, char *code, size_t n,
                       char *err, size_t errn)
{
	wbuf b;
	arena *a = arena_new(0);
	wval *r;
	const wval *cv;
	int rc;

	wb_init(&b);
	wb_map(&b, 3);
	wb_cstr(&b, "site");
	wb_cstr(&b, s->site);
	wb_cstr(&b, "role");
	wb_cstr(&b, role);
	wb_cstr(&b, "uses");
	wb_u64(&b, 1);
	rc = admin_call(s, "/v1/admin/enroll-codes", &b, a, &r, err, errn);
	if (!rc) {
		cv = wv_get(r, "code");
		if (!cv || cv->t != WV_STR || cv->s.n >= n) {
			snprintf(err, errn, "enroll-codes: no code");
			rc = -1;
		} else {
			memcpy(code, cv->s.p, cv->s.n);
			code[cv->s.n] = 0;
		}
	}
	wb_free(&b);
	arena_free(a);
	return rc;
}

/* ---- a device ---------------------------------------------------------------------- */

static void dev_fail(device *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void dev_fail(device *d, const char *fmt, ...)
{
	va_list ap;

	if (d->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	d->failed = 1;
}

static void add_lat(device *d, double ms)
{
	if (d->nlat == d->caplat) {
		size_t cap = d->caplat ? d->caplat * 2 : 256;
		double *n = realloc(d->lat, cap * sizeof(*n));

		if (!n)
			return;
		d->lat = n;
		d->caplat = cap;
	}
	d->lat[d->nlat++] = ms;
}

static int do_sync(device *d)
{
	fs_sync_stats st;
	double t0 = mono_s();
	int rc = fs_sync(d->c, &st);

	d->syncs++;
	d->acked += st.ops_acked;
	d->rejected += st.ops_rejected;
	d->restamped += st.ops_restamped;
	d->unavailable += st.batches_unavailable;
	d->retries += st.retries;
	if (rc == FSC_OK)
		add_lat(d, (mono_s() - t0) * 1000.0);
	else
		d->sync_fail++;
	d->pending_end = st.pending_after;
	return rc;
}

/* A reboot: a new boot id, ms since boot from near zero, and (as after a
 * battery pull) the wall clock may come back anywhere within the skew:
 * stamps from the stale offset can then be CLOCK_AHEAD. */
static void reboot(device *d)
{
	char boot[64];
	uint64_t a = rnd(&d->rng), b = rnd(&d->rng);
	int64_t x = d->s->cfg.skew_ms;

	snprintf(boot, sizeof(boot), "sim-%016llx%016llx", (unsigned long long)a,
	         (unsigned long long)b);
	if (x)
		d->skew = (int64_t)(rnd(&d->rng) % (2 * (uint64_t)x + 1)) - x;
	fs_set_clock(d->c, d->skew, boot,
	             -(int64_t)boot_ms() + 1000 + (int64_t)(rnd(&d->rng) % 4000));
	d->reboots++;
}

static void act(device *d, unsigned *next_cp)
{
	sim *s = d->s;
	fs_write w;
	int rc;

	if (d->guard) {
		fs_checkin_req q;

		memset(&q, 0, sizeof(q));
		q.point = s->tags[*next_cp % NCP];
		q.shift = d->shift;
		q.method = "nfc";
		rc = fs_checkin(d->c, &q, &w);
		if (rc) {
			dev_fail(d, "checkin: %s", fs_errmsg(d->c));
			return;
		}
		(*next_cp)++;
		if (d->nck == d->capck) {
			size_t cap = d->capck ? d->capck * 2 : 64;
			char **n = realloc(d->ck_ids, cap * sizeof(*n));

			if (!n)
				return;
			d->ck_ids = n;
			d->capck = cap;
		}
		if (d->nck < MAX_CHECKINS && (d->ck_ids[d->nck] = strdup(w.id)))
			d->nck++;
		d->made_checkins++;
	} else {
		char task[160], note[64];

		snprintf(task, sizeof(task), "%s-t%u", d->shift,
		         (unsigned)(rnd(&d->rng) % TASKS_PER_SHIFT));
		snprintf(note, sizeof(note), "d%d-%llu", d->idx,
		         (unsigned long long)d->made_tasks);
		rc = fs_task_done(d->c, task, note, NULL, &w);
		if (rc) {
			dev_fail(d, "task %s: %s", task, fs_errmsg(d->c));
			return;
		}
		d->made_tasks++;
	}
	d->made++;
}

static void *device_main(void *arg)
{
	device *d = arg;
	sim *s = d->s;
	fs_options o;
	char err[300], code[64];
	unsigned next_cp = (unsigned)d->idx;
	uint64_t next_slot = 0, next_sync = 0;
	int offline = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	o.home = d->home;
	o.ca_file = s->cfg.ca;
	o.insecure_http = s->cfg.insecure;
	o.seed = d->rng;
	o.drop_reply_permille = (unsigned)(s->cfg.lost_ratio * 1000.0 + 0.5);
	o.wire = s->cfg.wire == 3 ? 1 + (unsigned)(d->idx & 1) : s->cfg.wire;
	o.no_fsync = !s->cfg.fsync;
	o.attempts = 6;
	o.backoff_ms = 100;
	if (s->cfg.skew_ms)
		d->skew = (int64_t)(rnd(&d->rng) % (2 * (uint64_t)s->cfg.skew_ms + 1)) -
		          s->cfg.skew_ms;
	/* 0 would mean "take FIELDSYNC_CLOCK_OFFSET_MS": 1 ms is as good */
	o.wall_shift_ms = d->skew ? d->skew : 1;
	{
		char boot[64];

		snprintf(boot, sizeof(boot), "sim-boot-%d-%llx", d->idx,
		         (unsigned long long)rnd(&d->rng));
		o.boot_id = boot;
		rc = fs_open(&o, &d->c, err, sizeof(err));
	}
	if (rc) {
		dev_fail(d, "open: %s", err);
		goto wait;
	}
	if (enroll_code(s, d->guard ? "guard" : "cleaner", code, sizeof(code),
	                err, sizeof(err))) {
		dev_fail(d, "%s", err);
		goto wait;
	}
	if ((rc = fs_enroll(d->c, s->cfg.server, code, d->staff)) ||
	    (rc = fs_login(d->c, d->staff, PIN))) {
		dev_fail(d, "enroll/login: %s", fs_errmsg(d->c));
		goto wait;
	}
	{
		fs_status st;

		if (!fs_get_status(d->c, &st))
			snprintf(d->device, sizeof(d->device), "%s", st.device);
	}
	if (do_sync(d)) {
		dev_fail(d, "first sync: %s", fs_errmsg(d->c));
		goto wait;
	}
wait:
	pthread_barrier_wait(&s->bar); /* everyone enrolled */
	pthread_barrier_wait(&s->bar); /* t_end is set: go */
	while (!d->failed && mono_ms() < s->t_end) {
		uint64_t now = mono_ms();

		if (now >= next_slot) {
			next_slot = now + SLOT_MS;
			offline = rnd01(&d->rng) < s->cfg.offline_ratio;
			d->offline_slots += offline;
			if (s->cfg.reboot_ratio > 0 &&
			    rnd01(&d->rng) < s->cfg.reboot_ratio * SLOT_MS / 10000.0)
				reboot(d);
		}
		act(d, &next_cp);
		if (!offline && now >= next_sync) {
			do_sync(d);
			next_sync = now + 500 + rnd(&d->rng) % 1500;
		}
		sleep_ms(100 + rnd(&d->rng) % 300);
	}
	pthread_barrier_wait(&s->bar); /* the run is over: drain */
	for (int i = 0; d->c && i < 20; i++) {
		int r = do_sync(d);

		if (r == FSC_OK && d->pending_end == 0)
			break;
		if (r != FSC_OK && r != FSC_ENET && r != FSC_ESERVER) {
			dev_fail(d, "final sync: %s", fs_errmsg(d->c));
			break;
		}
		sleep_ms(200);
	}
	pthread_barrier_wait(&s->bar); /* all drained: see everyone's work */
	if (d->c && do_sync(d) != FSC_OK)
		dev_fail(d, "last pull: %s", fs_errmsg(d->c));
	pthread_barrier_wait(&s->bar);
	return NULL;
}

/* ---- checks -------------------------------------------------------------------------- */

typedef struct {
	sim *s;
	uint64_t n;
	uint64_t verified, corrected, unverified;
	char **ids;
	size_t nids, cap;
	unsigned bad;
	char first_bad[300];
} ck_scan;

static int ck_cb(void *ctx, const fs_record *r)
{
	ck_scan *k = ctx;
	const char *site = fs_rec_str(r, "site"), *trust;

	if (!site || strcmp(site, k->s->site))
		return 0;
	k->n++;
	trust = fs_rec_str(r, "trust");
	if (trust && !strcmp(trust, "verified"))
		k->verified++;
	else if (trust && !strcmp(trust, "corrected"))
		k->corrected++;
	else
		k->unverified++;
	if (k->nids == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		char **n = realloc(k->ids, cap * sizeof(*n));

		if (!n)
			return 1;
		k->ids = n;
		k->cap = cap;
	}
	if ((k->ids[k->nids] = strdup(fs_rec_id(r))))
		k->nids++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
	sim *s;
	unsigned checked, bad;
	char first_bad[300];
} task_scan;

/* A task's note must be one a cleaner of its shift wrote ("d<idx>-<k>"),
 * stamped with that device's origin. */
static int task_cb(void *ctx, const fs_record *r)
{
	task_scan *t = ctx;
	const char *site = fs_rec_str(r, "site"), *note, *shift;
	char *j;
	int idx;
	unsigned long long k;

	if (!site || strcmp(site, t->s->site))
		return 0;
	note = fs_rec_str(r, "note");
	if (!note)
		return 0;
	t->checked++;
	shift = fs_rec_str(r, "shift");
	if (sscanf(note, "d%d-%llu", &idx, &k) != 2 || idx < 0 ||
	    (unsigned)idx >= t->s->cfg.devices ||
	    strcmp(t->s->devs[idx].shift, shift ? shift : "") ||
	    k >= t->s->devs[idx].made_tasks)
		goto bad;
	j = fs_rec_json(r, 1);
	if (!j)
		return 0;
	{
		/* "note":[hlc,"<device>"] */
		char want[200];
		char *p = strstr(j, "\"s\":{");

		snprintf(want, sizeof(want), "\"%s\"]", t->s->devs[idx].device);
		p = p ? strstr(p, "\"note\":[") : NULL;
		if (!p || !strstr(p, want) || strchr(p, ']') + 1 !=
		                                  strstr(p, want) + strlen(want)) {
			free(j);
			goto bad;
		}
	}
	free(j);
	return 0;
bad:
	if (!t->bad++)
		snprintf(t->first_bad, sizeof(t->first_bad),
		         "task %s has note \"%s\" no device of its shift wrote",
		         fs_rec_id(r), note);
	return 0;
}

typedef struct {
	sim *s;
	device *d;
	unsigned pairs, bad;
	char first_bad[400];
} agree_ctx;

static int agree_cb(void *ctx, const char *bucket, uint64_t cursor,
                    int in_scope)
{
	agree_ctx *g = ctx;
	char h1[65], h2[65];
	uint64_t n1, n2;

	(void)cursor;
	if (!in_scope)
		return 0;
	g->pairs++;
	if (fs_bucket_digest(g->d->c, bucket, h1, &n1) ||
	    fs_bucket_digest(g->s->admin, bucket, h2, &n2) || strcmp(h1, h2)) {
		if (!g->bad++)
			snprintf(g->first_bad, sizeof(g->first_bad),
			         "device %d (%s) disagrees with the server on %s "
			         "(%llu vs %llu records)", g->d->idx, g->d->staff,
			         bucket, (unsigned long long)n1,
			         (unsigned long long)n2);
	}
	return 0;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- main ------------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
	        "usage: fieldsync-sim --server URL --admin-token FILE --devices N "
	        "--duration S\n"
	        "         [--offline-ratio R] [--skew-ms X] [--reboot-ratio R] "
	        "[--lost-ratio R]\n"
	        "         [--seed K] [--insecure-http] [--ca FILE] [--dir DIR] "
	        "[--keep] [--fsync] [--json]\n"
	        "         [--wire v1|v2|mixed]  (pull encoding; mixed: odd "
	        "devices v2, even v1)\n");
	return 2;
}

static int read_token(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t k;

	if (!f)
		return -1;
	k = fread(out, 1, n - 1, f);
	fclose(f);
	out[k] = 0;
	out[strcspn(out, "\r\n")] = 0;
	return out[0] ? 0 : -1;
}

/* Remove a tree we made (the device stores). */
static void rm_tree(const char *dir)
{
	char cmd[1200];

	if (strchr(dir, '\''))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fieldsync-sim: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	sim s;
	char err[400];
	double applied0 = -1, applied1 = -1;
	pthread_t *th = NULL;
	int verdict_ok = 1, rc = 1;
	char reasons[2000] = "";
	double t_start;

	signal(SIGPIPE, SIG_IGN);
	memset(&s, 0, sizeof(s));
	s.cfg.seed = 1;
	s.cfg.lost_ratio = 0.05;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;

		if (!strcmp(a, "--server") && v)
			s.cfg.server = v;
		else if (!strcmp(a, "--admin-token") && v)
			s.cfg.token_file = v;
		else if (!strcmp(a, "--devices") && v)
			s.cfg.devices = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--duration") && v)
			s.cfg.duration_s = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--offline-ratio") && v)
			s.cfg.offline_ratio = strtod(v, NULL);
		else if (!strcmp(a, "--skew-ms") && v)
			s.cfg.skew_ms = strtoll(v, NULL, 10);
		else if (!strcmp(a, "--reboot-ratio") && v)
			s.cfg.reboot_ratio = strtod(v, NULL);
		else if (!strcmp(a, "--lost-ratio") && v)
			s.cfg.lost_ratio = strtod(v, NULL);
		else if (!strcmp(a, "--seed") && v)
			s.cfg.seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--ca") && v)
			s.cfg.ca = v;
		else if (!strcmp(a, "--dir") && v)
			s.cfg.dir_opt = v;
		else if (!strcmp(a, "--wire") && v)
			s.cfg.wire = !strcmp(v, "v1") ? 1 : !strcmp(v, "v2") ? 2
			           : !strcmp(v, "mixed") ? 3 : 4;
		else {
			takes = 0;
			if (!strcmp(a, "--insecure-http"))
				s.cfg.insecure = 1;
			else if (!strcmp(a, "--keep"))
				s.cfg.keep = 1;
			else if (!strcmp(a, "--fsync"))
				s.cfg.fsync = 1;
			else if (!strcmp(a, "--json"))
				s.cfg.json = 1;
			else if (!strcmp(a, "--help"))
				return usage() ? 0 : 0;
			else {
				fprintf(stderr, "fieldsync-sim: unknown or incomplete "
				        "option %s\n", a);
				return usage();
			}
		}
		i += takes;
	}
	if (!s.cfg.server || !s.cfg.token_file || !s.cfg.devices ||
	    !s.cfg.duration_s)
		return usage();
	if (s.cfg.devices > 1000 || s.cfg.duration_s > 3600 ||
	    s.cfg.offline_ratio < 0 || s.cfg.offline_ratio > 1 ||
	    s.cfg.reboot_ratio < 0 || s.cfg.reboot_ratio > 1 ||
	    s.cfg.lost_ratio < 0 || s.cfg.lost_ratio > 0.5 || s.cfg.skew_ms < 0 ||
	    s.cfg.skew_ms > 86400000LL || s.cfg.wire > 3) {
		fprintf(stderr, "fieldsync-sim: devices 1-1000, duration 1-3600 s, "
		        "ratios 0-1 (lost 0-0.5), skew 0-86400000 ms, wire v1, v2 "
		        "or mixed\n");
		return 2;
	}
	if (!s.cfg.seed)
		s.cfg.seed = 1;
	if (read_token(s.cfg.token_file, s.token, sizeof(s.token))) {
		fprintf(stderr, "fieldsync-sim: cannot read the admin token from "
		        "%s\n", s.cfg.token_file);
		return 2;
	}
	/* the whole run is bounded */
	signal(SIGALRM, die_timeout);
	alarm(s.cfg.duration_s + 240 + s.cfg.devices);

	if (s.cfg.dir_opt) {
		snprintf(s.dir, sizeof(s.dir), "%s", s.cfg.dir_opt);
		if (mkdir(s.dir, 0700) && errno != EEXIST) {
			fprintf(stderr, "fieldsync-sim: %s: %s\n", s.dir, strerror(errno));
			return 2;
		}
	} else {
		snprintf(s.dir, sizeof(s.dir), "/tmp/fieldsync-sim-XXXXXX");
		if (!mkdtemp(s.dir)) {
			fprintf(stderr, "fieldsync-sim: mkdtemp: %s\n", strerror(errno));
			return 2;
		}
	}
	{
		uint64_t x = s.cfg.seed ^ wall_ms();

		snprintf(s.site, sizeof(s.site), "sim-%llu-%04x",
		         (unsigned long long)s.cfg.seed, (unsigned)(rnd(&x) & 0xffff));
		s.rng = x | 1;
	}
	s.tags = calloc(NCP, sizeof(*s.tags));
	s.devs = calloc(s.cfg.devices, sizeof(device));
	th = calloc(s.cfg.devices, sizeof(pthread_t));
	if (!s.tags || !s.devs || !th) {
		fprintf(stderr, "fieldsync-sim: out of memory\n");
		return 1;
	}
	/* two guards for each cleaner */
	for (unsigned i = 0; i < s.cfg.devices; i++) {
		device *d = &s.devs[i];
		unsigned k;

		d->s = &s;
		d->idx = (int)i;
		d->guard = i % 3 != 2;
		k = d->guard ? s.nguards++ : s.ncleaners++;
		snprintf(d->staff, sizeof(d->staff), "%s-%c%u", s.site,
		         d->guard ? 'g' : 'c', k);
		snprintf(d->shift, sizeof(d->shift), "%s-%s-%u", s.site,
		         d->guard ? "gs" : "cs", k / GROUP);
		snprintf(d->home, sizeof(d->home), "%s/dev-%u", s.dir, i);
		d->rng = s.cfg.seed * 0x9E3779B97F4A7C15ULL + i * 0xBF58476D1CE4E5B9ULL + 1;
	}
	{
		fs_options o;
		char home[1100];

		memset(&o, 0, sizeof(o));
		snprintf(home, sizeof(home), "%s/admin", s.dir);
		o.home = home;
		o.ca_file = s.cfg.ca;
		o.insecure_http = s.cfg.insecure;
		o.no_fsync = 1;
		o.timeout_ms = 60000;
		if (fs_open(&o, &s.admin, err, sizeof(err)) ||
		    fs_attach(s.admin, s.cfg.server, s.token)) {
			fprintf(stderr, "fieldsync-sim: admin: %s\n",
			        s.admin ? fs_errmsg(s.admin) : err);
			goto out;
		}
	}
	t_start = mono_s();
	if (provision(&s, err, sizeof(err))) {
		fprintf(stderr, "fieldsync-sim: provisioning failed: %s\n", err);
		goto out;
	}
	fetch_metric(&s, "fieldsync_ops_applied_total", &applied0);
	if (pthread_barrier_init(&s.bar, NULL, s.cfg.devices + 1)) {
		fprintf(stderr, "fieldsync-sim: barrier\n");
		goto out;
	}
	for (unsigned i = 0; i < s.cfg.devices; i++)
		if (pthread_create(&th[i], NULL, device_main, &s.devs[i])) {
			fprintf(stderr, "fieldsync-sim: cannot start thread %u\n", i);
			_exit(1); /* the barrier cannot be released now */
		}
	pthread_barrier_wait(&s.bar); /* enrolled */
	s.t0 = mono_ms();
	s.t_end = s.t0 + (uint64_t)s.cfg.duration_s * 1000;
	pthread_barrier_wait(&s.bar); /* go: t_end is read after this */
	pthread_barrier_wait(&s.bar); /* run over */
	pthread_barrier_wait(&s.bar); /* drained */
	pthread_barrier_wait(&s.bar); /* pulled */
	for (unsigned i = 0; i < s.cfg.devices; i++)
		pthread_join(th[i], NULL);
	{
		fs_sync_stats st;

		if (fs_sync(s.admin, &st)) {
			fprintf(stderr, "fieldsync-sim: admin pull: %s\n",
			        fs_errmsg(s.admin));
			goto out;
		}
	}
	fetch_metric(&s, "fieldsync_ops_applied_total", &applied1);

	/* ---- the checks ---- */
	{
		uint64_t made = 0, made_ck = 0, made_tk = 0, acked = 0, rej = 0,
		         restamped = 0, syncs = 0, fails = 0, retries = 0, unav = 0;
		unsigned offl = 0, reboots = 0, failed_devs = 0;
		size_t nlat = 0;
		double *lat, p50 = 0, p99 = 0;
		ck_scan ck;
		task_scan ts;
		unsigned agree_pairs = 0, agree_bad = 0;
		char line[600];

#define REASON(...)                                                            \
	do {                                                                   \
		snprintf(line, sizeof(line), __VA_ARGS__);                     \
		if (strlen(reasons) + strlen(line) + 3 < sizeof(reasons)) {    \
			strcat(reasons, "  - ");                               \
			strcat(reasons, line);                                 \
			strcat(reasons, "\n");                                 \
		}                                                              \
		verdict_ok = 0;                                                \
	} while (0)

		for (unsigned i = 0; i < s.cfg.devices; i++) {
			device *d = &s.devs[i];
			fs_status stt;

			made += d->made;
			made_ck += d->made_checkins;
			made_tk += d->made_tasks;
			acked += d->acked;
			rej += d->rejected;
			restamped += d->restamped;
			syncs += d->syncs;
			fails += d->sync_fail;
			retries += d->retries;
			unav += d->unavailable;
			offl += d->offline_slots;
			reboots += d->reboots;
			nlat += d->nlat;
			if (d->failed) {
				failed_devs++;
				REASON("device %u (%s): %s", i, d->staff, d->err);
			}
			if (d->c && !fs_get_status(d->c, &stt)) {
				if (stt.pending_ops)
					REASON("device %u still holds %llu unsent ops", i,
					       (unsigned long long)stt.pending_ops);
				if (d->made != d->acked + d->rejected)
					REASON("device %u made %llu ops but %llu were acked "
					       "and %llu rejected", i,
					       (unsigned long long)d->made,
					       (unsigned long long)d->acked,
					       (unsigned long long)d->rejected);
			}
		}
		lat = calloc(nlat ? nlat : 1, sizeof(double));
		if (lat) {
			size_t k = 0;

			for (unsigned i = 0; i < s.cfg.devices; i++)
				for (size_t j = 0; j < s.devs[i].nlat; j++)
					lat[k++] = s.devs[i].lat[j];
			qsort(lat, nlat, sizeof(double), dbl_cmp);
			if (nlat) {
				p50 = lat[(nlat - 1) * 50 / 100];
				p99 = lat[(nlat - 1) * 99 / 100];
			}
			free(lat);
		}

		/* checkins: exactly the ones made, each once */
		memset(&ck, 0, sizeof(ck));
		ck.s = &s;
		fs_each(s.admin, "checkin", ck_cb, &ck);
		{
			size_t nmade = 0, k = 0, missing = 0, extra = 0;
			char **all;

			for (unsigned i = 0; i < s.cfg.devices; i++)
				nmade += s.devs[i].nck;
			all = calloc(nmade ? nmade : 1, sizeof(char *));
			if (all) {
				for (unsigned i = 0; i < s.cfg.devices; i++)
					for (size_t j = 0; j < s.devs[i].nck; j++)
						all[k++] = s.devs[i].ck_ids[j];
				qsort(all, nmade, sizeof(char *), str_cmp);
				qsort(ck.ids, ck.nids, sizeof(char *), str_cmp);
				/* merge the two sorted lists */
				size_t a = 0, b = 0;
				while (a < nmade || b < ck.nids) {
					int c = a == nmade ? 1 : b == ck.nids ? -1
					        : strcmp(all[a], ck.ids[b]);
					if (c == 0) {
						a++;
						b++;
					} else if (c < 0) {
						missing++;
						a++;
					} else {
						extra++;
						b++;
					}
				}
				for (size_t q = 1; q < nmade; q++)
					if (!strcmp(all[q - 1], all[q]))
						extra++;
				free(all);
			}
			if (missing)
				REASON("%zu checkins made on devices are not on the "
				       "server", missing);
			if (extra)
				REASON("%zu checkins on the server were not made once by "
				       "a device", extra);
		}
		/* tasks: every note is a real write of that shift's cleaners */
		memset(&ts, 0, sizeof(ts));
		ts.s = &s;
		fs_each(s.admin, "task", task_cb, &ts);
		if (ts.bad)
			REASON("%u task(s) disagree with what was written: %s", ts.bad,
			       ts.first_bad);
		/* the server applied each acked op once */
		if (applied0 >= 0 && applied1 >= 0 &&
		    (uint64_t)(applied1 - applied0 + 0.5) != acked)
			REASON("the server applied %.0f ops during the run, the "
			       "devices had %llu acked (a batch applied twice or "
			       "lost?)", applied1 - applied0,
			       (unsigned long long)acked);
		/* every device agrees with the server on its scope */
		for (unsigned i = 0; i < s.cfg.devices; i++) {
			agree_ctx g;

			if (!s.devs[i].c)
				continue;
			memset(&g, 0, sizeof(g));
			g.s = &s;
			g.d = &s.devs[i];
			fs_each_bucket(s.devs[i].c, agree_cb, &g);
			agree_pairs += g.pairs;
			agree_bad += g.bad;
			if (g.bad)
				REASON("%s", g.first_bad);
		}

		if (s.cfg.json) {
			printf("{\"devices\":%u,\"duration_s\":%u,\"seed\":%llu,"
			       "\"ops_made\":%llu,\"checkins\":%llu,\"task_edits\":%llu,"
			       "\"acked\":%llu,\"rejected\":%llu,\"restamped\":%llu,"
			       "\"syncs\":%llu,\"sync_failures\":%llu,\"retries\":%llu,"
			       "\"unavailable\":%llu,\"offline_slots\":%u,"
			       "\"reboots\":%u,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
			       "\"trust_verified\":%llu,\"trust_corrected\":%llu,"
			       "\"trust_unverified\":%llu,\"agree_pairs\":%u,"
			       "\"disagree\":%u,\"wall_s\":%.1f,"
			       "\"applied_once_checked\":%s,\"verdict\":\"%s\"}\n",
			       s.cfg.devices, s.cfg.duration_s,
			       (unsigned long long)s.cfg.seed,
			       (unsigned long long)made, (unsigned long long)made_ck,
			       (unsigned long long)made_tk, (unsigned long long)acked,
			       (unsigned long long)rej, (unsigned long long)restamped,
			       (unsigned long long)syncs, (unsigned long long)fails,
			       (unsigned long long)retries, (unsigned long long)unav,
			       offl, reboots, p50, p99,
			       (unsigned long long)ck.verified,
			       (unsigned long long)ck.corrected,
			       (unsigned long long)ck.unverified, agree_pairs,
			       agree_bad, mono_s() - t_start,
			       applied0 >= 0 && applied1 >= 0 ? "true" : "false",
			       verdict_ok ? "PASS" : "FAIL");
		} else {
			printf("fieldsync-sim: %u devices (%u guards, %u cleaners) for "
			       "%u s on %s, site %s, seed %llu\n", s.cfg.devices,
			       s.nguards, s.ncleaners, s.cfg.duration_s, s.cfg.server,
			       s.site, (unsigned long long)s.cfg.seed);
			printf("  faults: offline %.0f%% of 2 s slots (%u slots), skew "
			       "±%lld ms, %u reboots, %.0f%% of sync replies lost\n",
			       s.cfg.offline_ratio * 100, offl,
			       (long long)s.cfg.skew_ms, reboots,
			       s.cfg.lost_ratio * 100);
			printf("  ops made %llu (checkins %llu, task edits %llu); acked "
			       "%llu; rejected %llu; restamped (CLOCK_AHEAD) %llu\n",
			       (unsigned long long)made, (unsigned long long)made_ck,
			       (unsigned long long)made_tk, (unsigned long long)acked,
			       (unsigned long long)rej, (unsigned long long)restamped);
			printf("  syncs %llu (%llu failed, %llu retried requests, %llu "
			       "batches UNAVAILABLE); sync latency p50 %.1f ms, p99 "
			       "%.1f ms\n", (unsigned long long)syncs,
			       (unsigned long long)fails, (unsigned long long)retries,
			       (unsigned long long)unav, p50, p99);
			printf("  server: %llu checkins (trust verified %llu, corrected "
			       "%llu, unverified %llu); %u task notes checked; applied "
			       "%.0f ops during the run\n", (unsigned long long)ck.n,
			       (unsigned long long)ck.verified,
			       (unsigned long long)ck.corrected,
			       (unsigned long long)ck.unverified, ts.checked,
			       applied1 - applied0);
			printf("  agreement: %u (device, bucket) pairs compared, %u "
			       "differ; %u device(s) failed\n", agree_pairs, agree_bad,
			       failed_devs);
			printf("  wall time %.1f s\n", mono_s() - t_start);
		}
		if (rej)
			fprintf(stderr, "fieldsync-sim: warning: %llu ops were rejected "
			        "(dead letters; see the device stores with --keep)\n",
			        (unsigned long long)rej);
		for (size_t i = 0; i < ck.nids; i++)
			free(ck.ids[i]);
		free(ck.ids);
	}
	if (!verdict_ok)
		fprintf(stdout, "%sverdict: FAIL\n%s", s.cfg.json ? "" : "  ",
		        reasons);
	else if (!s.cfg.json && (applied0 < 0 || applied1 < 0))
		/* a remote server answers /metrics to loopback only: say what
		 * this PASS did not check */
		printf("  verdict: PASS (each acked op applied once: not checked, "
		       "%s/metrics could not be read)\n", s.cfg.server);
	else if (!s.cfg.json)
		printf("  verdict: PASS\n");
	rc = verdict_ok ? 0 : 1;
out:
	for (unsigned i = 0; s.devs && i < s.cfg.devices; i++) {
		fs_close(s.devs[i].c);
		for (size_t j = 0; j < s.devs[i].nck; j++)
			free(s.devs[i].ck_ids[j]);
		free(s.devs[i].ck_ids);
		free(s.devs[i].lat);
	}
	fs_close(s.admin);
	if (!s.cfg.keep && s.dir[0] && !s.cfg.dir_opt)
		rm_tree(s.dir);
	else if (s.dir[0])
		fprintf(stderr, "fieldsync-sim: stores kept in %s\n", s.dir);
	free(s.devs);
	free(s.tags);
	free(th);
	return rc;
}
