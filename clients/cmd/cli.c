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
#include <time.h>
#include <unistd.h>

#include "clients/fieldsync.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

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
	{"to-shift", 1}, {"every", 1},  {"help", 0},    {"proxy", 1},
	{"wire", 1},
};
#define NOPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))
#define MAX_POS 8

typedef struct {
	const char *val[NOPTS];
	int set[NOPTS];
	const char *pos[MAX_POS];
	int npos;
	int json;
	const char *cmd;
	fs_client *c;
	char home[1024];
} cli;

static int opt_index(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opt_defs[i].name, name))
			return (int)i;
	return -1;
}

static const char *opt(const cli *x, const char *name)
{
	int i = opt_index(name);

	return i >= 0 && x->set[i] ? (x->val[i] ? x->val[i] : "") : NULL;
}

/* ---- output ------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
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

static int fail(cli *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One readable line on stderr (and {"ok": false} on stdout with --json). */
static int fail(cli *x, int code, const char *fmt, ...)
{
	char msg[1024];
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

static int lib_fail(cli *x, int rc)
{
	const char *m = x->c ? fs_errmsg(x->c) : "";

	return fail(x, EXIT_FAIL, "%s", m[0] ? m : fs_strerror(rc));
}

static void fmt_time(uint64_t ms, char *out, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(out, n, "never");
		return;
	}
	localtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- the handle --------------------------------------------------------------- */

static int open_client(cli *x, unsigned attempts, unsigned timeout_ms)
{
	fs_options o;
	char err[512];
	const char *w;
	int rc;

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
	return 0;
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
	fs_status s;
	int rc;

	if (!server || !code)
		return fail(x, EXIT_USAGE, "usage: fieldsync enroll --server URL "
		            "--code CODE [--name N] [--ca FILE] [--insecure-http]");
	if ((rc = open_client(x, 3, 15000)))
		return rc;
	if ((rc = fs_enroll(x->c, server, code, opt(x, "name"))))
		return lib_fail(x, rc);
	fs_get_status(x->c, &s);
	if (x->json) {
		printf("{\"ok\":true,\"device\":");
		json_str(stdout, s.device);
		printf(",\"server\":");
		json_str(stdout, s.server);
		printf("}\n");
	} else {
		printf("enrolled as device %s on %s\n", s.device, s.server);
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
	char a[32], b[32];

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

static int cmd_shift(cli *x)
{
	char shift[200];
	fs_status s;
	fs_record *sh = NULL, *route = NULL;
	const char *rid;
	uint64_t starts = 0, ends = 0;
	char a[32], b[32];
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
	if (x->json)
		printf("]}\n");
	else if (!tl.n)
		printf("  (none)\n");
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
		            "[--method nfc|qr|manual] [--note T] [--shift ID]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	memset(&q, 0, sizeof(q));
	q.point = x->pos[0];
	q.method = opt(x, "method");
	q.note = opt(x, "note");
	q.shift = opt(x, "shift");
	if ((rc = fs_checkin(x->c, &q, &w)))
		return lib_fail(x, rc);
	snprintf(what, sizeof(what), "checkin at %s", x->pos[0]);
	return after_write(x, what, &w);
}

static int cmd_done(cli *x)
{
	fs_write w;
	char what[300];
	int rc;

	if (x->npos != 1)
		return fail(x, EXIT_USAGE, "usage: fieldsync done TASK [--note T] "
		            "[--photo FILE]");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
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
	fs_write w;
	int rc;

	if (!opt(x, "to-shift") || !opt(x, "note"))
		return fail(x, EXIT_USAGE, "usage: fieldsync handover --to-shift ID "
		            "--note T");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_handover(x->c, opt(x, "to-shift"), opt(x, "note"), &w)))
		return lib_fail(x, rc);
	return after_write(x, "handover", &w);
}

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void print_sync(cli *x, int rc, const fs_sync_stats *st)
{
	char now[32];
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
		printf(", %u bucket(s) dropped", st->buckets_dropped);
	if (st->store_changed)
		printf(", server store changed: re-pulled everything");
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
	char t[32];

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
	char cat[64], title[300], t[32];

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
	char t[32], e[32];
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
	printf("dead letters  %llu\n", (unsigned long long)s.dead_letters);
	l.n = 0;
	fs_each_dead(x->c, status_dead_cb, &l);
	return 0;
}

static int cmd_get(cli *x)
{
	fs_record *r;
	char *j;
	int rc;

	if (x->npos != 2)
		return fail(x, EXIT_USAGE, "usage: fieldsync get COLLECTION ID");
	if ((rc = open_client(x, 1, 3000)))
		return rc;
	if ((rc = fs_get(x->c, x->pos[0], x->pos[1], &r)))
		return lib_fail(x, rc);
	j = fs_rec_json(r, 1);
	fs_record_free(r);
	if (!j)
		return fail(x, EXIT_FAIL, "out of memory");
	if (x->json)
		printf("{\"ok\":true,\"record\":%s}\n", j);
	else
		printf("%s\n", j);
	free(j);
	return 0;
}

/* ---- table --------------------------------------------------------------------- */

typedef struct {
	const char *name;
	int (*fn)(cli *x);
	const char *opts; /* allowed options, space separated */
	const char *usage;
} command;

static const command commands[] = {
	{"enroll", cmd_enroll, "server code name ca insecure-http",
	 "enroll --server URL --code CODE [--name N] [--ca FILE] [--insecure-http]"},
	{"login", cmd_login, "staff pin", "login --staff ID --pin PIN"},
	{"shift", cmd_shift, "", "shift                      my shift, route, checkpoints due, tasks"},
	{"tasks", cmd_tasks, "", "tasks                      my tasks"},
	{"checkin", cmd_checkin, "method note shift",
	 "checkin TAG-or-CHECKPOINT [--method nfc|qr|manual] [--note T] [--shift ID]"},
	{"done", cmd_done, "note photo", "done TASK [--note T] [--photo FILE]"},
	{"skip", cmd_skip, "note", "skip TASK --note T"},
	{"report", cmd_report, "title detail photo",
	 "report CATEGORY --title T [--detail D] [--photo FILE]"},
	{"order", cmd_order, "note", "order ID accept|on-site|resolve [--note T]"},
	{"handover", cmd_handover, "to-shift note", "handover --to-shift ID --note T"},
	{"sync", cmd_sync, "every", "sync [--every SECONDS]"},
	{"status", cmd_status, "", "status                     pending, last sync, clock, dead letters"},
	{"get", cmd_get, "", "get COLLECTION ID"},
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
	           "Every command but enroll, login and sync works offline.\n"
	           "Categories: elevator_entrapment urgent_water urgent_power "
	           "repair complaint incident\n");
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
	if (opt(&x, "help") || (x.cmd && !strcmp(x.cmd, "help"))) {
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
