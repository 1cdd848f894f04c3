/*
 * cli.c — `fieldsync`, the handheld command line for guards, cleaners,
 * technicians and supervisors, on libfieldsync.
 *
 *   fieldsync [--home DIR] [--json] [--offline] [--proxy URL] [--wire v1|v2]
 *             COMMAND [ARGS]
 *
 * Every command but enroll, login and sync works offline: a change is
 * queued in the local store first (durably), then sent at once when the
 * server answers; when it does not, the command says "queued (offline)".
 * Errors are one line on stderr and a non-zero exit (1; 2 for usage).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clients/cmd/cli.h"
#include "clients/cmd/cli_alerts.h"

/* ---- options ------------------------------------------------------------------ */

typedef struct {
	const char *name;
	int takes_value;
} opt_def;

static const opt_def opt_defs[] = {
	{"home", 1},   {"json", 0},     {"offline", 0},  {"server", 1},
	{"code", 1},   {"name", 1},     {"ca", 1},       {"insecure-http", 0},
	{"staff", 1},  {"pin", 1},      {"method", 1},   {"note", 1},
	{"shift", 1},  {"photo", 1},    {"title", 1},    {"detail", 1},
	{"to-shift", 1}, {"every", 1},  {"help", 0},     {"raw", 0},
	{"out", 1},    {"url", 1},      {"token-file", 1}, {"site", 1},
	{"role", 1},   {"uses", 1},     {"ttl", 1},      {"device", 1},
	{"all", 0},    {"proxy", 1},    {"wire", 1},     {"sun", 1},
};
#define NOPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))
_Static_assert(NOPTS <= MAX_OPTS, "raise MAX_OPTS");

static int opt_index(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opt_defs[i].name, name))
			return (int)i;
	return -1;
}

const char *opt(const cli *x, const char *name)
{
	int i = opt_index(name);

	return i >= 0 && x->set[i] ? (x->val[i] ? x->val[i] : "") : NULL;
}

/* ---- output ------------------------------------------------------------------- */

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

int fail(cli *x, int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fieldsync%s%s: %s\n", x->cmd ? " " : "",
	        x->cmd ? x->cmd : "", msg);
	if (x->json) {
		printf("{\"ok\":false,\"error\":");
		json_str(stdout, msg);
		if (x->c && fs_errcode(x->c)[0]) {
			printf(",\"code\":");
			json_str(stdout, fs_errcode(x->c));
		}
		printf("}\n");
	}
	return code;
}

int lib_fail(cli *x, int rc)
{
	const char *m = x->c ? fs_errmsg(x->c) : "";

	return fail(x, EXIT_FAIL, "%s", m[0] ? m : fs_strerror(rc));
}

void use_zone(const char *tz)
{
	if (tz && tz[0] && strlen(tz) < 64 && !strstr(tz, "..")) {
		setenv("TZ", tz, 1);
		tzset();
	}
}

void fmt_time(uint64_t ms, char *out, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(out, n, "never");
		return;
	}
	localtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M %Z", &tm);
}

/* ---- the handle --------------------------------------------------------------- */

static int has_store(const char *home)
{
	char p[1100];
	struct stat st;

	snprintf(p, sizeof(p), "%s/data.mdb", home);
	return !stat(p, &st);
}

static int damaged(cli *x, const fs_check_report *r)
{
	return fail(x, EXIT_FAIL, "the handheld store %s is damaged (%s); nothing "
	            "was done. Save the queued changes with `fieldsync --home %s "
	            "rescue --out FILE` (%llu queued change(s) readable), then move "
	            "%s aside, enroll again with a new code and run `fieldsync "
	            "requeue FILE`", r->path, r->what, x->home,
	            (unsigned long long)r->journal_ops, x->home);
}

/* Times print in the zone of the device's site, when it holds the site. */
static void site_zone(cli *x)
{
	fs_status s;
	fs_record *r;

	if (fs_get_status(x->c, &s) || !s.site[0] ||
	    fs_get(x->c, "site", s.site, &r))
		return;
	use_zone(fs_rec_str(r, "tz"));
	fs_record_free(r);
}

static int open_home(cli *x, unsigned attempts, unsigned timeout_ms,
                     int may_create)
{
	fs_check_report rep;
	fs_options o;
	char err[512];
	const char *w;
	int rc;

	if (!has_store(x->home) && !may_create)
		return fail(x, EXIT_FAIL, "no handheld at %s (enroll first, or "
		            "check --home)", x->home);
	if (fs_check(x->home, &rep) == FSC_ESTORE)
		return damaged(x, &rep);
	memset(&o, 0, sizeof(o));
	o.home = x->home;
	o.ca_file = opt(x, "ca");
	o.insecure_http = opt(x, "insecure-http") != NULL;
	o.proxy = opt(x, "proxy");
	o.attempts = attempts;
	o.timeout_ms = timeout_ms;
	if ((w = opt(x, "wire")) && strcmp(w, "v1") && strcmp(w, "v2"))
		return fail(x, EXIT_USAGE, "--wire is v1 or v2");
	o.wire = w && !strcmp(w, "v1") ? 1 : w ? 2 : 0;
	rc = fs_open(&o, &x->c, err, sizeof(err));
	if (rc)
		return fail(x, EXIT_FAIL, "%s", err[0] ? err : fs_strerror(rc));
	site_zone(x);
	return 0;
}

int open_client(cli *x, unsigned attempts, unsigned timeout_ms)
{
	return open_home(x, attempts, timeout_ms, 0);
}

/* ---- sending after a local change -------------------------------------------- */

typedef struct {
	const char *id;
	uint64_t after;
	char code[64], msg[300];
	int hit;
} dead_find;

static int dead_cb(void *ctx, const fs_dead *d)
{
	dead_find *f = ctx;

	if (d->seq > f->after && !strcmp(d->id, f->id)) {
		snprintf(f->code, sizeof(f->code), "%s", d->code);
		snprintf(f->msg, sizeof(f->msg), "%s", d->msg);
		f->hit = 1;
	}
	return 0;
}

static int last_dead_cb(void *ctx, const fs_dead *d)
{
	*(uint64_t *)ctx = d->seq;
	return 0;
}

/* Queued a change (w): unless --offline, try one quick sync and say what
 * became of it. */
static int after_write(cli *x, const char *what, const fs_write *w)
{
	fs_status before, after;
	fs_sync_stats st;
	uint64_t last_dead = 0;
	const char *state = "queued (offline)";
	char detail[600] = "";
	dead_find df;
	int rc, code = 0;

	fs_each_dead(x->c, last_dead_cb, &last_dead);
	fs_get_status(x->c, &before);
	if (!opt(x, "offline")) {
		rc = fs_sync(x->c, &st);
		if (rc == FSC_OK) {
			memset(&df, 0, sizeof(df));
			df.id = w->id;
			df.after = last_dead;
			fs_each_dead(x->c, dead_cb, &df);
			if (df.hit) {
				state = "rejected";
				snprintf(detail, sizeof(detail), "%s: %s", df.code, df.msg);
				code = EXIT_FAIL;
			} else if (st.pending_after == 0) {
				state = "sent";
			} else {
				state = "queued";
				snprintf(detail, sizeof(detail), "the server did not take "
				         "everything yet");
			}
		} else {
			snprintf(detail, sizeof(detail), "%s", fs_errmsg(x->c));
			if (rc != FSC_ENET)
				state = "queued";
		}
	}
	fs_get_status(x->c, &after);
	if (x->json) {
		printf("{\"ok\":%s,\"state\":", code ? "false" : "true");
		json_str(stdout, state);
		printf(",\"what\":");
		json_str(stdout, what);
		printf(",\"id\":");
		json_str(stdout, w->id);
		printf(",\"bucket\":");
		json_str(stdout, w->bucket);
		printf(",\"hlc\":%llu,\"pending\":%llu,\"urgent\":%s",
		       (unsigned long long)w->hlc,
		       (unsigned long long)after.pending_ops,
		       w->urgent ? "true" : "false");
		if (detail[0]) {
			printf(",\"detail\":");
			json_str(stdout, detail);
		}
		printf("}\n");
	} else {
		printf("%s: %s %s%s%s\n", state, what, w->id, detail[0] ? " — " : "",
		       detail);
		if (after.pending_ops)
			printf("%llu change(s) waiting to be sent; run `fieldsync "
			       "sync` when there is a connection\n",
			       (unsigned long long)after.pending_ops);
	}
	if (code)
		fprintf(stderr, "fieldsync %s: rejected by the server: %s\n",
		        x->cmd, detail);
	if (w->urgent && strcmp(state, "sent"))
		fprintf(x->json ? stderr : stdout,
		        "URGENT REPORT NOT YET RECEIVED BY THE SERVER: PHONE THE "
		        "CONTROL ROOM NOW (%s)\n", w->id);
	(void)before;
	return code;
}

/* ---- commands ------------------------------------------------------------------ */

static int cmd_enroll(cli *x)
{
	const char *server = opt(x, "server"), *code = opt(x, "code");
	fs_status before, s;
	int rc;

	if (!server || !code)
		return fail(x, EXIT_USAGE, "usage: fieldsync enroll --server URL "
		            "--code CODE [--name N] [--ca FILE] [--insecure-http]");
	if ((rc = open_home(x, 3, 15000, 1)))
		return rc;
	fs_get_status(x->c, &before);
	if ((rc = fs_enroll(x->c, server, code, opt(x, "name"))))
		return lib_fail(x, rc);
	fs_get_status(x->c, &s);
	if (x->json) {
		printf("{\"ok\":true,\"device\":");
		json_str(stdout, s.device);
		printf(",\"server\":");
		json_str(stdout, s.server);
		printf(",\"previous_device\":");
		if (before.enrolled)
			json_str(stdout, before.device);
		else
			printf("null");
		printf(",\"pending\":%llu}\n", (unsigned long long)s.pending_ops);
	} else if (before.enrolled) {
		printf("enrolled again as device %s on %s (was %s); %llu queued "
		       "change(s) kept: log in and sync to send them\n", s.device,
		       s.server, before.device, (unsigned long long)s.pending_ops);
	} else {
		printf("enrolled as device %s on %s\n", s.device, s.server);
	}
	return 0;
}

static int cmd_logout(cli *x)
{
	fs_status s;
	int rc;

	if ((rc = open_client(x, 1, 3000)))
		return rc;
	fs_get_status(x->c, &s);
	if ((rc = fs_logout(x->c)))
		return lib_fail(x, rc);
	if (x->json) {
		printf("{\"ok\":true,\"was\":");
		json_str(stdout, s.logged_in ? s.staff : "");
		printf(",\"pending\":%llu}\n", (unsigned long long)s.pending_ops);
	} else {
		printf("%s logged out", s.logged_in ? s.staff : "nobody was");
		if (s.pending_ops)
			printf("; %llu queued change(s) stay and are sent under their "
			       "author's name at the next sync", (unsigned long long)
			       s.pending_ops);
		printf("\n");
	}
	return 0;
}

static int cmd_server(cli *x)
{
	const char *url = opt(x, "url"), *ca = opt(x, "ca");
	fs_status s;
	int rc, known;

	if (!url && !ca)
		return fail(x, EXIT_USAGE, "usage: fieldsync server [--url URL] "
		            "[--ca FILE] [--insecure-http]");
	if ((rc = open_client(x, 2, 10000)))
		return rc;
	if ((rc = fs_set_server(x->c, url, ca)))
		return lib_fail(x, rc);
	fs_get_status(x->c, &s);
	known = opt(x, "offline") ? -2 : fs_device_known(x->c, NULL);
	if (x->json) {
		printf("{\"ok\":true,\"server\":");
		json_str(stdout, s.server);
		printf(",\"ca\":");
		json_str(stdout, s.ca_file);
		printf(",\"ca_source\":");
		json_str(stdout, s.ca_source);
		printf(",\"reachable\":%s,\"device_known\":%s",
		       known >= 0 ? "true" : "false", known == 1 ? "true" : "false");
		if (known == -1) {
			printf(",\"detail\":");
			json_str(stdout, fs_errmsg(x->c));
		}
		printf("}\n");
	} else {
		printf("server %s, CA %s%s%s\n", s.server,
		       s.ca_file[0] ? s.ca_file : "the system's",
		       s.ca_source[0] ? " (pinned from " : "",
		       s.ca_source[0] ? s.ca_source : "");
		if (s.ca_source[0])
			printf("the CA is kept by content: %s may now move or change\n",
			       s.ca_source);
		if (known == 1)
			printf("the server answers and knows this device\n");
		else if (known == 0)
			printf("the server answers but does not know this device: enroll "
			       "again with a new code (queued changes are kept)\n");
		else if (known == -1)
			printf("could not reach it now: %s (saved anyway)\n",
			       fs_errmsg(x->c));
	}
	return 0;
}

static int cmd_login(cli *x)
{
	const char *staff = opt(x, "staff"), *pin = opt(x, "pin");
	fs_sync_stats st;
	fs_status s;
	int rc, src;

	if (!staff || !pin)
		return fail(x, EXIT_USAGE, "usage: fieldsync login --staff ID --pin PIN");
	if ((rc = open_client(x, 3, 15000)))
		return rc;
	if ((rc = fs_login(x->c, staff, pin)))
		return lib_fail(x, rc);
	src = fs_sync(x->c, &st);
	fs_get_status(x->c, &s);
	if (x->json) {
		printf("{\"ok\":true,\"staff\":");
		json_str(stdout, s.staff);
		printf(",\"role\":");
		json_str(stdout, s.role);
		printf(",\"site\":");
		json_str(stdout, s.site);
		printf(",\"expires\":%llu,\"synced\":%s,\"records\":%llu}\n",
		       (unsigned long long)s.session_expires, src ? "false" : "true",
		       (unsigned long long)st.recs_pulled);
	} else {
		printf("logged in as %s (%s) at site %s\n", s.staff, s.role, s.site);
		if (!src)
			printf("synced: %llu records on this device\n",
			       (unsigned long long)st.recs_pulled);
	}
	if (src)
		fprintf(stderr, "fieldsync login: logged in, but the first sync "
		        "failed: %s\n", fs_errmsg(x->c));
	return 0;
}

/* -- shift -- */

typedef struct {
	const char *shift, *staff, *cp;
	unsigned n;
	uint64_t last;
} cp_count;

static int count_cb(void *ctx, const fs_record *r)
{
	cp_count *c = ctx;
	const char *sh = fs_rec_str(r, "shift"), *st = fs_rec_str(r, "staff"),
	           *cp = fs_rec_str(r, "checkpoint");
	uint64_t at = 0;

	if (sh && st && cp && !strcmp(sh, c->shift) && !strcmp(st, c->staff) &&
	    !strcmp(cp, c->cp)) {
		c->n++;
		if (fs_rec_u64(r, "at", &at) && at > c->last)
			c->last = at;
	}
	return 0;
}

typedef struct {
	cli *x;
	const char *shift;   /* NULL: all tasks listed by the filter below */
	const char *staff;
	int all;             /* supervisor: every task */
	unsigned n;
	fs_client *c;
} task_list;

static int is_my_shift(fs_client *c, const char *shift, const char *staff)
{
	fs_record *r;
	int mine;

	if (fs_get(c, "shift", shift, &r))
		return 0;
	mine = fs_rec_has(r, "staff", staff);
	fs_record_free(r);
	return mine;
}

static int task_cb(void *ctx, const fs_record *r)
{
	task_list *t = ctx;
	const char *sh = fs_rec_str(r, "shift"), *title = fs_rec_str(r, "title"),
	           *status = fs_rec_str(r, "status"), *zone = fs_rec_str(r, "zone");
	uint64_t from = 0, to = 0;
	char a[48], b[48];

	if (!sh)
		return 0;
	if (t->shift && strcmp(sh, t->shift))
		return 0;
	if (!t->shift && !t->all && !is_my_shift(t->c, sh, t->staff))
		return 0;
	if (fs_rec_true(r, "_deleted"))
		return 0;
	fs_rec_u64(r, "due_from", &from);
	fs_rec_u64(r, "due_to", &to);
	if (t->x->json) {
		printf("%s{\"id\":", t->n ? "," : "");
		json_str(stdout, fs_rec_id(r));
		printf(",\"shift\":");
		json_str(stdout, sh);
		printf(",\"title\":");
		json_str(stdout, title ? title : "");
		printf(",\"zone\":");
		json_str(stdout, zone ? zone : "");
		printf(",\"status\":");
		json_str(stdout, status ? status : "");
		printf(",\"due_from\":%llu,\"due_to\":%llu}",
		       (unsigned long long)from, (unsigned long long)to);
	} else {
		fmt_time(from, a, sizeof(a));
		fmt_time(to, b, sizeof(b));
		printf("  %-8s %-24s %s (%s) due %s .. %s\n",
		       status ? status : "?", fs_rec_id(r), title ? title : "",
		       zone ? zone : "-", a, b);
	}
	t->n++;
	return 0;
}

/* -- the next shift of the same post, incoming handovers -- */

typedef struct {
	const char *site, *role, *route, *cur;
	uint64_t after;
	uint64_t best;
	char id[200];
} next_find;

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int next_cb(void *ctx, const fs_record *r)
{
	next_find *f = ctx;
	uint64_t st = 0;

	if (fs_rec_true(r, "_deleted") || !strcmp(fs_rec_id(r), f->cur) ||
	    !same(fs_rec_str(r, "site"), f->site) ||
	    !same(fs_rec_str(r, "role"), f->role) ||
	    !same(fs_rec_str(r, "route"), f->route) ||
	    !fs_rec_u64(r, "starts", &st) || st <= f->after)
		return 0;
	if (!f->id[0] || st < f->best) {
		f->best = st;
		snprintf(f->id, sizeof(f->id), "%s", fs_rec_id(r));
	}
	return 0;
}

/* The shift of the same site, role and route that starts first after
 * `shift` started: the one a handover goes to.  1 and id when found. */
static int next_shift(cli *x, const char *shift, char *id, size_t n,
                      uint64_t *starts)
{
	fs_record *r;
	next_find f;

	if (fs_get(x->c, "shift", shift, &r))
		return 0;
	memset(&f, 0, sizeof(f));
	f.site = fs_rec_str(r, "site");
	f.role = fs_rec_str(r, "role");
	f.route = fs_rec_str(r, "route");
	f.cur = shift;
	fs_rec_u64(r, "starts", &f.after);
	fs_each(x->c, "shift", next_cb, &f);
	fs_record_free(r);
	if (!f.id[0])
		return 0;
	snprintf(id, n, "%s", f.id);
	if (starts)
		*starts = f.best;
	return 1;
}

typedef struct {
	cli *x;
	const char *shift;
	unsigned n;
} handover_list;

static int handover_cb(void *ctx, const fs_record *r)
{
	handover_list *h = ctx;
	const char *to = fs_rec_str(r, "to_shift"), *note = fs_rec_str(r, "note"),
	           *by = fs_rec_str(r, "by"), *from = fs_rec_str(r, "from_shift");
	uint64_t at = 0;
	char t[48];

	if (!to || strcmp(to, h->shift))
		return 0;
	fs_rec_u64(r, "at", &at);
	if (h->x->json) {
		printf("%s{\"id\":", h->n ? "," : "");
		json_str(stdout, fs_rec_id(r));
		printf(",\"from_shift\":");
		json_str(stdout, from ? from : "");
		printf(",\"by\":");
		json_str(stdout, by ? by : "");
		printf(",\"at\":%llu,\"note\":", (unsigned long long)at);
		json_str(stdout, note ? note : "");
		printf(",\"open_items\":%zu}", fs_rec_len(r, "open_items"));
	} else {
		fmt_time(at, t, sizeof(t));
		printf("handover from %s by %s at %s:\n  %s\n", from ? from : "?",
		       by ? by : "?", t, note ? note : "");
		for (size_t i = 0; i < fs_rec_len(r, "open_items"); i++)
			printf("  open: %s\n", fs_rec_at(r, "open_items", i)
			                        ? fs_rec_at(r, "open_items", i) : "?");
	}
	h->n++;
	return 0;
}

static int cmd_shift(cli *x)
{
	char shift[200];
	fs_status s;
	fs_record *sh = NULL, *route = NULL;
	const char *rid;
	uint64_t starts = 0, ends = 0;
	char a[48], b[48];
	task_list tl;
	int rc;

	if ((rc = open_client(x, 1, 3000)))
		return rc;
	fs_get_status(x->c, &s);
	rc = fs_current_shift(x->c, shift, sizeof(shift));
	if (rc == FSC_ENOTFOUND) {
		if (x->json) {
			printf("{\"ok\":true,\"staff\":");
			json_str(stdout, s.staff);
			printf(",\"shift\":null}\n");
		} else {
			printf("%s\n", fs_errmsg(x->c));
		}
		return 0;
	}
	if (rc)
		return lib_fail(x, rc);
	fs_get(x->c, "shift", shift, &sh);
	if (sh) {
		fs_rec_u64(sh, "starts", &starts);
		fs_rec_u64(sh, "ends", &ends);
	}
	rid = sh ? fs_rec_str(sh, "route") : NULL;
	if (rid)
		fs_get(x->c, "route", rid, &route);
	fmt_time(starts, a, sizeof(a));
	fmt_time(ends, b, sizeof(b));
	if (x->json) {
		printf("{\"ok\":true,\"staff\":");
		json_str(stdout, s.staff);
		printf(",\"shift\":{\"id\":");
		json_str(stdout, shift);
		printf(",\"starts\":%llu,\"ends\":%llu,\"route\":",
		       (unsigned long long)starts, (unsigned long long)ends);
		if (rid)
			json_str(stdout, rid);
		else
			printf("null");
		printf("},\"checkpoints\":[");
	} else {
		printf("shift %s: %s .. %s\n", shift, a, b);
		if (rid)
			printf("route %s%s%s\n", rid, route ? ": " : "",
			       route && fs_rec_str(route, "name")
			               ? fs_rec_str(route, "name") : "");
	}
	for (size_t i = 0; route && i < fs_rec_len(route, "checkpoints"); i++) {
		const char *cp = fs_rec_at(route, "checkpoints", i);
		fs_record *cpr = NULL;
		cp_count cc = {shift, s.staff, cp, 0, 0};

		if (!cp)
			continue;
		fs_each(x->c, "checkin", count_cb, &cc);
		fs_get(x->c, "checkpoint", cp, &cpr);
		if (x->json) {
			printf("%s{\"id\":", i ? "," : "");
			json_str(stdout, cp);
			printf(",\"name\":");
			json_str(stdout, cpr && fs_rec_str(cpr, "name")
			                         ? fs_rec_str(cpr, "name") : "");
			printf(",\"tag\":");
			json_str(stdout, cpr && fs_rec_str(cpr, "tag")
			                         ? fs_rec_str(cpr, "tag") : "");
			printf(",\"checkins\":%u,\"last_at\":%llu}", cc.n,
			       (unsigned long long)cc.last);
		} else {
			fmt_time(cc.last, a, sizeof(a));
			printf("  %-3s %-10s %-24s %s\n", cc.n ? "ok" : "due", cp,
			       cpr && fs_rec_str(cpr, "name") ? fs_rec_str(cpr, "name")
			                                      : "",
			       cc.n ? a : "");
		}
		fs_record_free(cpr);
	}
	memset(&tl, 0, sizeof(tl));
	tl.x = x;
	tl.shift = shift;
	tl.staff = s.staff;
	tl.c = x->c;
	if (x->json)
		printf("],\"tasks\":[");
	else
		printf("tasks:\n");
	fs_each(x->c, "task", task_cb, &tl);
	if (!x->json && !tl.n)
		printf("  (none)\n");
	{
		handover_list hl = {x, shift, 0};
		char next[200];
		uint64_t nst = 0;
		int has_next = next_shift(x, shift, next, sizeof(next), &nst);

		if (x->json)
			printf("],\"handovers\":[");
		fs_each(x->c, "handover", handover_cb, &hl);
		if (x->json) {
			printf("],\"next_shift\":");
			if (has_next)
				json_str(stdout, next);
			else
				printf("null");
			printf("}\n");
		} else {
			if (!hl.n)
				printf("no handover note for this shift\n");
			fmt_time(nst, a, sizeof(a));
			if (has_next)
				printf("next shift %s from %s (handover goes there)\n",
				       next, a);
			else
				printf("no next shift of this post on this device\n");
		}
	}
	fs_record_free(route);
	fs_record_free(sh);
	return 0;
}

static int cmd_tasks(cli *x)
{
	fs_status s;
	task_list tl;
	int rc;

	if ((rc = open_client(x, 1, 3000)))
		return rc;
	fs_get_status(x->c, &s);
	if (!s.logged_in)
		return fail(x, EXIT_FAIL, "nobody is logged in on this device "
		            "(run login first)");
	memset(&tl, 0, sizeof(tl));
	tl.x = x;
	tl.staff = s.staff;
	tl.all = !strcmp(s.role, "supervisor") || !strcmp(s.role, "admin");
	tl.c = x->c;
	if (x->json)
		printf("{\"ok\":true,\"tasks\":[");
	fs_each(x->c, "task", task_cb, &tl);
	if (x->json)
		printf("]}\n");
	else if (!tl.n)
		printf("no tasks on this device\n");
	return 0;
}

static int cmd_checkin(cli *x)
{
	fs_checkin_req q;
	fs_write w;
	char what[300];
	int rc;

	if (x->npos != 1)
		return fail(x, EXIT_USAGE, "usage: fieldsync checkin TAG-or-CHECKPOINT "
		            "[--method nfc|qr|manual] [--note T] [--shift ID] "
		            "[--sun URL]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	memset(&q, 0, sizeof(q));
	q.point = x->pos[0];
	q.method = opt(x, "method");
	q.note = opt(x, "note");
	q.shift = opt(x, "shift");
	q.sun = opt(x, "sun");
	if ((rc = fs_checkin(x->c, &q, &w)))
		return lib_fail(x, rc);
	snprintf(what, sizeof(what), "checkin at %s", x->pos[0]);
	return after_write(x, what, &w);
}

static int cmd_done(cli *x)
{
	fs_write w;
	char what[300];
	uint64_t opens;
	int rc;

	if (x->npos != 1)
		return fail(x, EXIT_USAGE, "usage: fieldsync done TASK [--note T] "
		            "[--photo FILE]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if (fs_task_early(x->c, x->pos[0], &opens) == FSC_OK && opens) {
		fmt_time(opens, what, sizeof(what));
		fprintf(stderr, "warning: task %s's window opens at %s: done now, "
		        "it counts as early, not on time\n", x->pos[0], what);
	}
	if ((rc = fs_task_done(x->c, x->pos[0], opt(x, "note"), opt(x, "photo"),
	                       &w)))
		return lib_fail(x, rc);
	snprintf(what, sizeof(what), "task done");
	return after_write(x, what, &w);
}

static int cmd_skip(cli *x)
{
	fs_write w;
	int rc;

	if (x->npos != 1 || !opt(x, "note"))
		return fail(x, EXIT_USAGE, "usage: fieldsync skip TASK --note T");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_task_skip(x->c, x->pos[0], opt(x, "note"), &w)))
		return lib_fail(x, rc);
	return after_write(x, "task skipped", &w);
}

static int cmd_report(cli *x)
{
	fs_write w;
	char what[300];
	int rc;

	if (x->npos != 1 || !opt(x, "title"))
		return fail(x, EXIT_USAGE, "usage: fieldsync report CATEGORY --title T "
		            "[--detail D] [--photo FILE]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_report(x->c, x->pos[0], opt(x, "title"), opt(x, "detail"),
	                    opt(x, "photo"), &w)))
		return lib_fail(x, rc);
	snprintf(what, sizeof(what), "report (%s)", x->pos[0]);
	return after_write(x, what, &w);
}

static int cmd_order(cli *x)
{
	fs_write w;
	char what[300];
	int rc;

	if (x->npos != 2)
		return fail(x, EXIT_USAGE, "usage: fieldsync order ID "
		            "accept|on-site|resolve [--note T]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_order_step(x->c, x->pos[0], x->pos[1], opt(x, "note"), &w)))
		return lib_fail(x, rc);
	snprintf(what, sizeof(what), "order %s", x->pos[1]);
	return after_write(x, what, &w);
}

static int cmd_handover(cli *x)
{
	const char *to = opt(x, "to-shift");
	char cur[200], next[200], what[300];
	fs_write w;
	int rc;

	if (!opt(x, "note"))
		return fail(x, EXIT_USAGE, "usage: fieldsync handover [--to-shift ID] "
		            "--note T");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if (!to) {
		if ((rc = fs_current_shift(x->c, cur, sizeof(cur))))
			return lib_fail(x, rc);
		if (!next_shift(x, cur, next, sizeof(next), NULL))
			return fail(x, EXIT_FAIL, "this device holds no next shift of "
			            "the same post as %s: name one with --to-shift ID",
			            cur);
		to = next;
	}
	if ((rc = fs_handover(x->c, to, opt(x, "note"), &w)))
		return lib_fail(x, rc);
	snprintf(what, sizeof(what), "handover to %s", to);
	return after_write(x, what, &w);
}

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void print_sync(cli *x, int rc, const fs_sync_stats *st)
{
	char now[48];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fmt_time((uint64_t)ts.tv_sec * 1000, now, sizeof(now));
	if (x->json) {
		printf("{\"ok\":%s", rc ? "false" : "true");
		if (rc) {
			printf(",\"error\":");
			json_str(stdout, fs_errmsg(x->c));
		}
		printf(",\"rounds\":%u,\"retries\":%u,\"sent\":%llu,\"acked\":%llu,"
		       "\"rejected\":%llu,\"restamped\":%llu,\"unavailable\":%llu,"
		       "\"pulled\":%llu,\"gone\":%llu,\"reset\":%u,\"dropped\":%u,"
		       "\"photos\":%u,\"photos_left\":%u,\"store_changed\":%s,"
		       "\"pending\":%llu}\n",
		       st->rounds, st->retries, (unsigned long long)st->ops_sent,
		       (unsigned long long)st->ops_acked,
		       (unsigned long long)st->ops_rejected,
		       (unsigned long long)st->ops_restamped,
		       (unsigned long long)st->batches_unavailable,
		       (unsigned long long)st->recs_pulled,
		       (unsigned long long)st->gone, st->buckets_reset,
		       st->buckets_dropped, st->photos_uploaded, st->photos_left,
		       st->store_changed ? "true" : "false",
		       (unsigned long long)st->pending_after);
		fflush(stdout);
		return;
	}
	if (rc) {
		fprintf(stderr, "fieldsync sync: %s%s\n", fs_errmsg(x->c),
		        rc == FSC_ENET ? " (offline: nothing lost, the changes stay "
		                         "queued)" : "");
		return;
	}
	printf("%s synced: %llu sent, %llu accepted, %llu rejected, %llu "
	       "restamped, %llu records in", now,
	       (unsigned long long)st->ops_sent, (unsigned long long)st->ops_acked,
	       (unsigned long long)st->ops_rejected,
	       (unsigned long long)st->ops_restamped,
	       (unsigned long long)st->recs_pulled);
	if (st->photos_uploaded)
		printf(", %u photo(s) uploaded", st->photos_uploaded);
	if (st->buckets_dropped)
		printf(", %u bucket(s) no longer in this device's scope (removed "
		       "here only; nothing queued is lost, your own reports stay "
		       "in `fieldsync orders`)", st->buckets_dropped);
	if (st->store_changed)
		printf(", the server was reset or replaced (its store id changed): "
		       "re-pulled everything");
	printf("; %llu change(s) still queued\n",
	       (unsigned long long)st->pending_after);
	if (st->ops_rejected)
		printf("rejected changes are listed by `fieldsync status`\n");
	fflush(stdout);
}

static int cmd_sync(cli *x)
{
	const char *every = opt(x, "every");
	long secs = 0;
	fs_sync_stats st;
	int rc;

	if (every) {
		char *end;

		secs = strtol(every, &end, 10);
		if (*end || secs < 1 || secs > 86400)
			return fail(x, EXIT_USAGE, "--every takes 1-86400 seconds");
	}
	if ((rc = open_client(x, 5, 15000)))
		return rc;
	if (!secs) {
		rc = fs_sync(x->c, &st);
		print_sync(x, rc, &st);
		if (rc && x->json)
			return EXIT_FAIL;
		return rc ? EXIT_FAIL : 0;
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	while (!stop_flag) {
		rc = fs_sync(x->c, &st);
		print_sync(x, rc, &st);
		if (rc == FSC_EAUTH || rc == FSC_ESTATE)
			return EXIT_FAIL;
		for (long i = 0; i < secs * 10 && !stop_flag; i++)
			usleep(100000);
	}
	return 0;
}

typedef struct {
	cli *x;
	unsigned n;
} list_ctx;

static int status_dead_cb(void *ctx, const fs_dead *d)
{
	list_ctx *l = ctx;
	char t[48];

	if (l->x->json) {
		printf("%s{\"seq\":%llu,\"code\":", l->n ? "," : "",
		       (unsigned long long)d->seq);
		json_str(stdout, d->code);
		printf(",\"msg\":");
		json_str(stdout, d->msg);
		printf(",\"c\":");
		json_str(stdout, d->collection);
		printf(",\"id\":");
		json_str(stdout, d->id);
		printf(",\"by\":");
		json_str(stdout, d->by ? d->by : "");
		printf(",\"at\":%llu,\"op\":%s}", (unsigned long long)d->at,
		       d->op_json[0] ? d->op_json : "null");
	} else {
		fmt_time(d->at, t, sizeof(t));
		printf("  #%llu %s %s %s%s%s: %s (%s)\n", (unsigned long long)d->seq,
		       d->code, d->collection, d->id, d->by ? " by " : "",
		       d->by ? d->by : "", d->msg, t);
	}
	l->n++;
	return 0;
}

static void upper(const char *s, char *out, size_t n)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < n; i++)
		out[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32)
		         : s[i] == '_' ? ' ' : s[i];
	out[i] = 0;
}

static int status_urgent_cb(void *ctx, const fs_urgent *u)
{
	list_ctx *l = ctx;
	char cat[64], title[300], t[48];

	if (l->x->json) {
		printf("%s{\"id\":", l->n ? "," : "");
		json_str(stdout, u->id);
		printf(",\"category\":");
		json_str(stdout, u->category);
		printf(",\"title\":");
		json_str(stdout, u->title);
		printf(",\"state\":");
		json_str(stdout, u->state);
		printf(",\"at\":%llu}", (unsigned long long)u->at);
	} else {
		upper(u->category, cat, sizeof(cat));
		upper(u->title, title, sizeof(title));
		fmt_time(u->at, t, sizeof(t));
		printf("URGENT %s NOT YET ACKNOWLEDGED BY THE SERVER (%s, %s%s%s): "
		       "%s — PHONE THE CONTROL ROOM\n", cat, u->id, t,
		       strcmp(u->state, "queued") ? ", " : "",
		       strcmp(u->state, "queued") ? u->state : "", title);
	}
	l->n++;
	return 0;
}

static int cmd_status(cli *x)
{
	fs_status s;
	list_ctx l = {x, 0};
	char t[48], e[48];
	int rc;

	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_get_status(x->c, &s)))
		return lib_fail(x, rc);
	fmt_time(s.last_sync, t, sizeof(t));
	fmt_time(s.session_expires, e, sizeof(e));
	if (x->json) {
		printf("{\"ok\":true,\"server\":");
		json_str(stdout, s.server);
		printf(",\"device\":");
		json_str(stdout, s.device);
		printf(",\"staff\":");
		json_str(stdout, s.staff);
		printf(",\"role\":");
		json_str(stdout, s.role);
		printf(",\"site\":");
		json_str(stdout, s.site);
		printf(",\"store\":");
		json_str(stdout, s.store_id);
		printf(",\"ca\":");
		json_str(stdout, s.ca_file);
		printf(",\"ca_source\":");
		json_str(stdout, s.ca_source);
		printf(",\"enrolled\":%s,\"logged_in\":%s,\"session_expires\":%llu,"
		       "\"pending_ops\":%llu,\"pending_batches\":%llu,"
		       "\"dead_letters\":%llu,\"urgent_unacked\":%llu,"
		       "\"photos_queued\":%llu,\"last_sync\":%llu,"
		       "\"clock_offset_ms\":%lld,\"now\":%llu,\"dead\":[",
		       s.enrolled ? "true" : "false", s.logged_in ? "true" : "false",
		       (unsigned long long)s.session_expires,
		       (unsigned long long)s.pending_ops,
		       (unsigned long long)s.pending_batches,
		       (unsigned long long)s.dead_letters,
		       (unsigned long long)s.urgent_unacked,
		       (unsigned long long)s.photos_queued,
		       (unsigned long long)s.last_sync,
		       (long long)s.clock_offset_ms, (unsigned long long)s.now);
		fs_each_dead(x->c, status_dead_cb, &l);
		printf("],\"urgent\":[");
		l.n = 0;
		fs_each_urgent(x->c, status_urgent_cb, &l);
		printf("]}\n");
		return 0;
	}
	l.n = 0;
	fs_each_urgent(x->c, status_urgent_cb, &l);
	if (!s.enrolled) {
		printf("not enrolled (run `fieldsync enroll --server URL --code CODE`)\n");
		return 0;
	}
	printf("device        %s on %s\n", s.device, s.server);
	if (s.logged_in)
		printf("logged in     %s (%s) at %s, session until %s\n", s.staff,
		       s.role, s.site, e);
	else
		printf("logged in     nobody\n");
	printf("pending       %llu change(s) in %llu batch(es)\n",
	       (unsigned long long)s.pending_ops,
	       (unsigned long long)s.pending_batches);
	printf("last sync     %s\n", t);
	printf("clock offset  %+lld ms (server - device)\n",
	       (long long)s.clock_offset_ms);
	printf("photos queued %llu\n", (unsigned long long)s.photos_queued);
	printf("CA            %s%s%s%s\n", s.ca_file[0] ? s.ca_file : "system CAs",
	       s.ca_source[0] ? " (pinned from " : "", s.ca_source,
	       s.ca_source[0] ? ")" : "");
	printf("dead letters  %llu\n", (unsigned long long)s.dead_letters);
	l.n = 0;
	fs_each_dead(x->c, status_dead_cb, &l);
	return 0;
}

/* A field that holds a time in ms. */
static int is_time_field(const char *k)
{
	static const char *const names[] = {
		"at", "starts", "ends", "due_from", "due_to", "respond_by",
		"resolve_by", "at_est", "rcv", "expires", "valid_from", "valid_to",
	};
	size_t n = strlen(k);

	if (n > 3 && !strcmp(k + n - 3, "_at"))
		return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i], k))
			return 1;
	return 0;
}

static void print_value(const char *k, json_t *v)
{
	char t[48];

	if (json_is_string(v)) {
		printf("%s", json_string_value(v));
	} else if (json_is_integer(v) && is_time_field(k) &&
	           json_integer_value(v) > 0) {
		fmt_time((uint64_t)json_integer_value(v), t, sizeof(t));
		printf("%s", t);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) {
			printf("%s", i ? ", " : "");
			print_value("", e);
		}
		if (!json_array_size(v))
			printf("(none)");
	} else {
		char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		printf("%s", d ? d : "?");
		free(d);
	}
}

/* A record for a person: one field a line, times in the site's zone. */
static int print_record(const char *j)
{
	json_error_t err;
	json_t *root = json_loads(j, 0, &err), *f, *v;
	const char *k;

	if (!root)
		return -1;
	printf("%s %s (bucket %s)\n",
	       json_string_value(json_object_get(root, "c")),
	       json_string_value(json_object_get(root, "id")),
	       json_string_value(json_object_get(root, "bucket")));
	f = json_object_get(root, "f");
	json_object_foreach(f, k, v) {
		printf("  %-14s ", k);
		print_value(k, v);
		printf("\n");
	}
	json_decref(root);
	return 0;
}

static int cmd_get(cli *x)
{
	fs_record *r;
	char *j;
	int rc;

	if (x->npos != 2)
		return fail(x, EXIT_USAGE, "usage: fieldsync get COLLECTION ID [--raw]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_get(x->c, x->pos[0], x->pos[1], &r)))
		return lib_fail(x, rc);
	j = fs_rec_json(r, x->json || opt(x, "raw"));
	fs_record_free(r);
	if (!j)
		return fail(x, EXIT_FAIL, "out of memory");
	if (x->json)
		printf("{\"ok\":true,\"record\":%s}\n", j);
	else if (opt(x, "raw") || print_record(j))
		printf("%s\n", j);
	free(j);
	return 0;
}

/* -- orders -- */

typedef struct {
	cli *x;
	unsigned n;
} order_list;

static int order_cb(void *ctx, const fs_record *r)
{
	order_list *l = ctx;
	const char *st = fs_rec_str(r, "status"), *cat = fs_rec_str(r, "category"),
	           *title = fs_rec_str(r, "title"), *as = fs_rec_str(r, "assignee"),
	           *rep = fs_rec_str(r, "reporter");
	const char *dl_name = "respond_by";
	uint64_t rep_at = 0, dl = 0;
	int mine = !strcmp(fs_rec_bucket(r), "mine/orders");
	char a[48], b[48];

	if (fs_rec_true(r, "_deleted"))
		return 0;
	fs_rec_u64(r, "reported_at", &rep_at);
	if (!fs_rec_u64(r, "respond_by", &dl) && fs_rec_u64(r, "resolve_by", &dl))
		dl_name = "resolve_by";
	if (l->x->json) {
		printf("%s{\"id\":", l->n ? "," : "");
		json_str(stdout, fs_rec_id(r));
		printf(",\"category\":");
		json_str(stdout, cat ? cat : "");
		printf(",\"status\":");
		json_str(stdout, st ? st : "reported");
		printf(",\"title\":");
		json_str(stdout, title ? title : "");
		printf(",\"reporter\":");
		json_str(stdout, rep ? rep : "");
		printf(",\"assignee\":");
		json_str(stdout, as ? as : "");
		printf(",\"reported_at\":%llu,\"deadline\":%llu,\"deadline_field\":",
		       (unsigned long long)rep_at, (unsigned long long)dl);
		json_str(stdout, dl ? dl_name : "");
		printf(",\"last_seen_only\":%s}", mine ? "true" : "false");
	} else {
		fmt_time(rep_at, a, sizeof(a));
		fmt_time(dl, b, sizeof(b));
		printf("  %-9s %-22s %-20s %s\n            reported %s%s%s%s%s%s\n",
		       st ? st : "reported", fs_rec_id(r), cat ? cat : "?",
		       title ? title : "", a, rep ? " by " : "", rep ? rep : "",
		       as ? ", assigned to " : "", as ? as : "", "");
		if (dl)
			printf("            %s %s\n", dl_name, b);
		if (mine)
			printf("            (your report as sent; its later progress is "
			       "with the site's technicians)\n");
	}
	l->n++;
	return 0;
}

static int cmd_orders(cli *x)
{
	order_list l = {x, 0};
	int rc;

	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if (x->json)
		printf("{\"ok\":true,\"orders\":[");
	fs_each(x->c, "order", order_cb, &l);
	if (x->json)
		printf("]}\n");
	else if (!l.n)
		printf("no orders on this device\n");
	return 0;
}

/* -- dead letters -- */

typedef struct {
	cli *x;
	uint64_t seq;
	int found;
} dead_show;

static int dead_show_cb(void *ctx, const fs_dead *d)
{
	dead_show *s = ctx;
	char t[48];

	if (d->seq != s->seq)
		return 0;
	s->found = 1;
	if (s->x->json) {
		list_ctx l = {s->x, 0};

		printf("{\"ok\":true,\"dead\":");
		status_dead_cb(&l, d);
		printf("}\n");
		return 1;
	}
	fmt_time(d->at, t, sizeof(t));
	printf("dead letter #%llu, rejected %s\n  reason  %s: %s\n  change  "
	       "%s %s%s%s\n  op      %s\n", (unsigned long long)d->seq, t,
	       d->code, d->msg, d->collection, d->id, d->by ? " by " : "",
	       d->by ? d->by : "", d->op_json);
	return 1;
}

static int cmd_dead(cli *x)
{
	const char *sub = x->npos ? x->pos[0] : "list";
	list_ctx l = {x, 0};
	uint64_t seq = 0, n = 0;
	int rc;

	if (x->npos > 2 || (strcmp(sub, "list") && strcmp(sub, "show") &&
	                    strcmp(sub, "clear")))
		return fail(x, EXIT_USAGE, "usage: fieldsync dead [list | show SEQ | "
		            "clear SEQ | clear --all]");
	if (x->npos == 2) {
		char *end;

		seq = strtoull(x->pos[1], &end, 10);
		if (*end || !seq)
			return fail(x, EXIT_USAGE, "a dead letter is named by its "
			            "number (#N in `fieldsync dead`)");
	}
	if ((!strcmp(sub, "show") && !seq) ||
	    (!strcmp(sub, "clear") && !seq == !opt(x, "all")))
		return fail(x, EXIT_USAGE, "usage: fieldsync dead [list | show SEQ | "
		            "clear SEQ | clear --all]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if (!strcmp(sub, "list")) {
		if (x->json)
			printf("{\"ok\":true,\"dead\":[");
		fs_each_dead(x->c, status_dead_cb, &l);
		if (x->json)
			printf("]}\n");
		else if (!l.n)
			printf("no dead letters on this device\n");
		return 0;
	}
	if (!strcmp(sub, "show")) {
		dead_show ds = {x, seq, 0};

		fs_each_dead(x->c, dead_show_cb, &ds);
		return ds.found ? 0 : fail(x, EXIT_FAIL, "no dead letter #%llu on "
		                           "this device", (unsigned long long)seq);
	}
	if ((rc = fs_dead_clear(x->c, seq, &n)))
		return lib_fail(x, rc);
	if (x->json)
		printf("{\"ok\":true,\"cleared\":%llu}\n", (unsigned long long)n);
	else
		printf("cleared %llu dead letter(s)\n", (unsigned long long)n);
	return 0;
}

/* -- a damaged store -- */

static int cmd_check(cli *x)
{
	fs_check_report r;
	int rc = fs_check(x->home, &r);

	if (rc == FSC_ENOTFOUND)
		return fail(x, EXIT_FAIL, "no handheld at %s (enroll first, or check "
		            "--home)", x->home);
	if (x->json) {
		printf("{\"ok\":%s,\"damaged\":%s,\"path\":", rc ? "false" : "true",
		       r.damaged ? "true" : "false");
		json_str(stdout, r.path);
		printf(",\"what\":");
		json_str(stdout, r.what);
		printf(",\"records\":%llu,\"queued_ops\":%llu,\"queued_batches\":"
		       "%llu,\"dead_letters\":%llu,\"urgent\":%llu,\"journal_ops\":"
		       "%llu,\"journal_skipped\":%llu}\n",
		       (unsigned long long)r.records, (unsigned long long)r.queued_ops,
		       (unsigned long long)r.queued_batches,
		       (unsigned long long)r.dead_letters,
		       (unsigned long long)r.urgent,
		       (unsigned long long)r.journal_ops,
		       (unsigned long long)r.journal_skipped);
		if (rc)
			fprintf(stderr, "fieldsync check: %s is damaged: %s\n", r.path,
			        r.what);
		return rc ? EXIT_FAIL : 0;
	}
	if (rc)
		return damaged(x, &r);
	printf("%s: intact (%llu records, %llu queued change(s) in %llu "
	       "batch(es), %llu dead letter(s), %llu urgent report(s) unsent; "
	       "the outbox journal holds %llu queued change(s))\n", r.path,
	       (unsigned long long)r.records, (unsigned long long)r.queued_ops,
	       (unsigned long long)r.queued_batches,
	       (unsigned long long)r.dead_letters, (unsigned long long)r.urgent,
	       (unsigned long long)r.journal_ops);
	return 0;
}

static int cmd_rescue(cli *x)
{
	const char *out = opt(x, "out");
	fs_rescue_report r;
	char err[1200];
	int rc;

	if (!out || !out[0])
		return fail(x, EXIT_USAGE, "usage: fieldsync rescue --out FILE");
	rc = fs_rescue(x->home, out, &r, err, sizeof(err));
	if (rc == FSC_ENOTFOUND)
		return fail(x, EXIT_FAIL, "no outbox journal at %s (%s)", x->home,
		            err);
	if (rc)
		return fail(x, EXIT_FAIL, "%s", err[0] ? err : fs_strerror(rc));
	if (x->json)
	{
		printf("{\"ok\":true,\"out\":");
		json_str(stdout, out);
		printf(",\"batches\":%llu,\"ops\":%llu,\"skipped_bytes\":%llu}\n",
		       (unsigned long long)r.batches, (unsigned long long)r.ops,
		       (unsigned long long)r.skipped_bytes);
	}
	else
		printf("rescued %llu queued change(s) in %llu batch(es) into %s%s; "
		       "enroll a handheld again and run `fieldsync requeue %s`\n",
		       (unsigned long long)r.ops, (unsigned long long)r.batches, out,
		       r.skipped_bytes ? " (some journal bytes were unreadable)" : "",
		       out);
	return 0;
}

static int cmd_requeue(cli *x)
{
	uint64_t nb, no;
	int rc;

	if (x->npos != 1)
		return fail(x, EXIT_USAGE, "usage: fieldsync requeue FILE");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_requeue(x->c, x->pos[0], &nb, &no)))
		return lib_fail(x, rc);
	if (x->json)
		printf("{\"ok\":true,\"batches\":%llu,\"ops\":%llu}\n",
		       (unsigned long long)nb, (unsigned long long)no);
	else
		printf("queued %llu change(s) in %llu batch(es) again, with their "
		       "ids and stamps; log in as their author and sync\n",
		       (unsigned long long)no, (unsigned long long)nb);
	return 0;
}

/* A supervisor's alerts: the work is in cli_alerts.c. */
static int cmd_alerts(cli *x)
{
	fs_write w;
	int ack = x->npos == 2 && !strcmp(x->pos[0], "ack");
	int rc;

	if (x->npos && !ack)
		return fail(x, EXIT_USAGE, "usage: fieldsync alerts [--all] | "
		            "alerts ack ID");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if (!ack)
		return (rc = cli_alerts_list(x->c, stdout, x->json, opt(x, "all") != NULL))
		               ? lib_fail(x, rc) : 0;
	if ((rc = cli_alerts_ack(x->c, x->pos[1], &w)))
		return lib_fail(x, rc);
	return after_write(x, "alert acknowledged", &w);
}

/* ---- table --------------------------------------------------------------------- */

typedef struct {
	const char *name;
	int (*fn)(cli *x);
	const char *opts; /* allowed options, space separated */
	const char *usage;
	const char *help; /* what it does, for `fieldsync COMMAND --help` */
} command;

static const command commands[] = {
	{"enroll", cmd_enroll, "server code name ca insecure-http",
	 "enroll --server URL --code CODE [--name N] [--ca FILE] [--insecure-http]",
	 "Bind this handheld to a server with a one-time code from `fieldsync\n"
	 "admin enroll-code`.  --ca FILE: a private CA, kept by content (the file\n"
	 "may move afterwards).  On a handheld whose server was reset or replaced\n"
	 "(the server no longer knows it), enrolling again with a new code keeps\n"
	 "every queued change; log in as before and sync to send them."},
	{"login", cmd_login, "staff pin", "login --staff ID --pin PIN",
	 "Log a staff member in (needs the network) and pull their work.  A\n"
	 "failed login leaves nobody logged in; a locked login says for how long."},
	{"logout", cmd_logout, "", "logout",
	 "Forget the session on this shared handheld.  Queued changes stay and\n"
	 "are sent under their author's name at the next sync."},
	{"server", cmd_server, "url ca insecure-http", "server [--url URL] [--ca FILE]",
	 "Change the server address and/or the trusted CA of an enrolled\n"
	 "handheld; nothing queued is touched.  The CA file is read now and kept\n"
	 "by content.  Then says whether the server answers and knows the device."},
	{"shift", cmd_shift, "", "shift",
	 "My shift now: times (site zone), route with checkpoints done and due,\n"
	 "tasks, the handover note left for it, and the next shift of the post."},
	{"tasks", cmd_tasks, "", "tasks", "My tasks (a supervisor: all of them)."},
	{"checkin", cmd_checkin, "method note shift sun",
	 "checkin TAG-or-CHECKPOINT [--method nfc|qr|manual] [--note T] [--shift ID]\n"
	 "        [--sun URL]",
	 "Record a checkpoint scan (evidence: never changed); works offline.\n"
	 "--sun: the URL a secure tag (NTAG 424 DNA) wrote, as read; the server\n"
	 "verifies it (schema/EVIDENCE.md)."},
	{"done", cmd_done, "note photo", "done TASK [--note T] [--photo FILE]",
	 "Mark a task done; works offline."},
	{"skip", cmd_skip, "note", "skip TASK --note T",
	 "Skip a task with a reason; works offline."},
	{"report", cmd_report, "title detail photo",
	 "report CATEGORY --title T [--detail D] [--photo FILE]",
	 "Report a work order or incident.  Categories: elevator_entrapment\n"
	 "urgent_water urgent_power repair complaint incident.  An urgent report\n"
	 "not yet on the server is shown in capitals until it is."},
	{"order", cmd_order, "note", "order ID accept|on-site|resolve [--note T]",
	 "A technician's step on an order; works offline."},
	{"orders", cmd_orders, "", "orders",
	 "The orders this handheld holds: a technician's or supervisor's site\n"
	 "orders, a guard's or cleaner's own reports (kept after they are sent),\n"
	 "with status and deadline in the site's zone."},
	{"handover", cmd_handover, "to-shift note", "handover [--to-shift ID] --note T",
	 "Leave a handover note (with my shift's open tasks) for the next shift\n"
	 "of the same post, or for --to-shift ID."},
	{"sync", cmd_sync, "every", "sync [--every SECONDS]",
	 "Send queued changes and pull updates (again every N seconds)."},
	{"status", cmd_status, "", "status",
	 "Who is logged in, queued changes, last sync, clock offset, CA, dead\n"
	 "letters and unsent urgent reports."},
	{"get", cmd_get, "raw", "get COLLECTION ID [--raw]",
	 "One local record, a field a line with times in the site's zone;\n"
	 "--raw (and --json) print it as JSON with every field's stamp."},
	{"alerts", cmd_alerts, "all", "alerts [--all] | alerts ack ID",
	 "A supervisor's alerts for the site (newest first; --all includes\n"
	 "resolved and acknowledged ones); `alerts ack ID` acknowledges one."},
	{"dead", cmd_dead, "all", "dead [list | show SEQ | clear SEQ | clear --all]",
	 "Changes the server rejected (dead letters): list them, show one with\n"
	 "its reason and the change itself, clear one or all once dealt with."},
	{"check", cmd_check, "", "check",
	 "An integrity walk of the handheld's store (run in a child process, so\n"
	 "a damaged page cannot crash it); says what is damaged and what to do."},
	{"rescue", cmd_rescue, "out", "rescue --out FILE",
	 "Save every queued change still readable in the outbox journal (kept\n"
	 "beside the store, so this works when the store itself is damaged)\n"
	 "into FILE, for `fieldsync requeue FILE` on a newly enrolled handheld."},
	{"requeue", cmd_requeue, "", "requeue FILE",
	 "Queue the changes of a rescue file on this (newly enrolled) handheld,\n"
	 "with their ids, stamps and authors; log in as the author and sync."},
	{"admin", cmd_admin, "server ca insecure-http token-file site role uses ttl "
	 "staff pin device", "admin SUBCOMMAND ...  (fieldsync admin --help)",
	 NULL},
};
#define NCMDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: fieldsync [--home DIR] [--json] [--offline] "
	           "[--proxy URL] [--wire v1|v2] COMMAND ...\n\n"
	           "commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n--home DIR   the device's local store (default ~/.fieldsync)\n"
	           "--json       one JSON object on stdout\n"
	           "--offline    only queue changes, do not try to send them\n"
	           "--proxy URL  reach the server through this proxy (http://host:port,\n"
	           "             socks5h://host:port; '' for none); without it the\n"
	           "             https_proxy, http_proxy, all_proxy and no_proxy\n"
	           "             variables apply\n"
	           "--wire v1|v2 the pull encoding to ask for (default v2, the\n"
	           "             columnar one; v1 for a server or proxy that needs it)\n"
	           "`fieldsync COMMAND --help` says more about one command.\n"
	           "Every command but enroll, login, sync and admin works offline.\n");
}

static void command_help(const command *c)
{
	printf("usage: fieldsync [--home DIR] [--json] %s\n\n%s\n", c->usage,
	       c->help ? c->help : "");
}

static int allowed(const command *c, const char *name)
{
	static const char *const global[] = {"home", "json", "offline", "help",
	                                     "proxy", "wire"};
	size_t n = strlen(name);
	const char *p = c->opts;

	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
		if (!strcmp(global[i], name))
			return 1;
	while ((p = strstr(p, name))) {
		if ((p == c->opts || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	cli x;
	const command *cmd = NULL;
	const char *home;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	memset(&x, 0, sizeof(x));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--", 2) && a[2]) {
			char name[64];
			const char *eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			int k;

			if (n >= sizeof(name))
				return fail(&x, EXIT_USAGE, "unknown option %s", a);
			memcpy(name, a + 2, n);
			name[n] = 0;
			k = opt_index(name);
			if (k < 0)
				return fail(&x, EXIT_USAGE, "unknown option --%s (see "
				            "fieldsync --help)", name);
			x.set[k] = 1;
			if (opt_defs[k].takes_value) {
				if (eq)
					x.val[k] = eq + 1;
				else if (i + 1 < argc)
					x.val[k] = argv[++i];
				else
					return fail(&x, EXIT_USAGE, "--%s needs a value", name);
			} else if (eq) {
				return fail(&x, EXIT_USAGE, "--%s takes no value", name);
			}
		} else if (!x.cmd) {
			x.cmd = a;
		} else if (x.npos < MAX_POS) {
			x.pos[x.npos++] = a;
		} else {
			return fail(&x, EXIT_USAGE, "too many arguments");
		}
	}
	x.json = opt(&x, "json") != NULL;
	if (x.cmd && !strcmp(x.cmd, "help") && x.npos == 1) {
		x.cmd = x.pos[0];
		x.npos = 0;
		x.set[opt_index("help")] = 1;
	}
	if ((opt(&x, "help") && !x.cmd) || (x.cmd && !strcmp(x.cmd, "help"))) {
		usage(stdout);
		return 0;
	}
	if (!x.cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(commands[i].name, x.cmd))
			cmd = &commands[i];
	if (!cmd)
		return fail(&x, EXIT_USAGE, "unknown command (see fieldsync --help)");
	if (opt(&x, "help") && cmd->help) {
		command_help(cmd);
		return 0;
	}
	for (size_t i = 0; i < NOPTS; i++)
		if (x.set[i] && !allowed(cmd, opt_defs[i].name))
			return fail(&x, EXIT_USAGE, "--%s does not go with %s (usage: "
			            "fieldsync %s)", opt_defs[i].name, cmd->name,
			            cmd->usage);
	home = opt(&x, "home");
	if (home && home[0]) {
		snprintf(x.home, sizeof(x.home), "%s", home);
	} else {
		const char *h = getenv("HOME");

		if (!h || !h[0])
			return fail(&x, EXIT_USAGE, "no --home and no $HOME");
		snprintf(x.home, sizeof(x.home), "%s/.fieldsync", h);
	}
	rc = cmd->fn(&x);
	fs_close(x.c);
	return rc;
}
