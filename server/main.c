/*
 * main.c — fieldsyncd: init, serve, demo.  All state lives in one
 * context owned here and passed down.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "server/svc/alerts.h"
#include "server/svc/audit.h"
#include "server/svc/auth.h"
#include "server/svc/backup.h"
#include "server/svc/demo.h"
#include "server/svc/import.h"
#include "server/store/keys.h"
#include "server/svc/hooks.h"
#include "server/core/engine.h"
#include "server/http/http.h"
#include "server/svc/tags.h"
#include "server/svc/tasks.h"
#include "server/lib/dirlock.h"
#include "server/svc/blobquota.h"
#include "server/svc/maint.h"
#include "server/svc/webhook.h"
#include "server/store/store.h"

/* Cost of one PIN check: about 20 ms on the reference machine. */
#define PBKDF2_DEFAULT 40000

typedef struct {
	const char *data, *listen, *cert, *key;
	const char *store, *blobs; /* --store URL (PostgreSQL), --blobs DIR */
	int insecure;
	unsigned threads, pbkdf2, timeout_ms;
	size_t map_mb, max_mb;
	uint64_t maint_ms;
	const char *out, *from;               /* backup, restore */
	const char *site;                     /* catalogue, import, export */
	const char *web;                      /* serve: the web app's directory */
	const char *tag_key_file;             /* secure tags (svc/tags.h) */
	uint8_t tag_key[32];
	const char *kind, *file;              /* import, export */
	uint64_t tasks_ms;                    /* task generator timer */
	uint64_t audit_ttl_ms, audit_purge_ms;
	uint64_t alert_poll_ms;               /* alerts.h */
	webhook_cfg hooks;                    /* webhook.h */
	engine_cfg ecfg;
	/* abuse limits (http.h, ratelimit.h, lockout.h) */
	unsigned queue, keep_alive_ms, body_min_rate;
	unsigned head_timeout_ms, conn_per_addr;
	rl_cfg rate_dev, rate_addr;
	char trusted[1024];     /* --trusted-proxy, comma-joined */
	lockout_cfg lock;
	pin_rules pins;
	uint64_t blob_dev_mb, blob_site_mb, blob_grace_ms; /* blobquota.h */
} options;

/* O_LIST: a char[1024] field; each use appends ",VALUE" */
typedef enum { O_STR, O_SIZE, O_U64, O_I64, O_UINT, O_FLAG, O_LIST } otype;

typedef struct {
	const char *name;
	otype type;
	size_t off;       /* into options */
	const char *help;
} option;

#define OFF(f) offsetof(options, f)
static const option opts[] = {
	{"--data", O_STR, OFF(data), "DIR   the store's directory (LMDB; with --store: admin.token, blobs)"},
	{"--store", O_STR, OFF(store), "URL   a PostgreSQL store (postgresql://...): init, serve; no --data needed"},
	{"--blobs", O_STR, OFF(blobs), "DIR   serve, backup, restore: the photos' directory, shared by every node (DATA/blobs)"},
	{"--listen", O_STR, OFF(listen), "HOST:PORT  address to serve on (127.0.0.1:8443)"},
	{"--cert", O_STR, OFF(cert), "PEM   TLS certificate (chain)"},
	{"--key", O_STR, OFF(key), "PEM   TLS private key"},
	{"--insecure-http", O_FLAG, OFF(insecure), "      plain HTTP (loopback or behind a TLS proxy)"},
	{"--threads", O_UINT, OFF(threads), "N     worker threads (64; the same as --max-connections)"},
	{"--pin-min-length", O_UINT, OFF(pins.min_len), "N  new PINs are at least N bytes (4; 4-64)"},
	{"--pin-refuse-common", O_FLAG, OFF(pins.refuse_common), "      refuse the 100 most common PINs as new PINs"},
	{"--pbkdf2-iter", O_UINT, OFF(pbkdf2), "N     PBKDF2 iterations for new PINs (40000, ~20 ms)"},
	{"--request-timeout-ms", O_UINT, OFF(timeout_ms), "N  deadline to read a request (30000)"},
	{"--map-mb", O_SIZE, OFF(map_mb), "N     initial store map size (256)"},
	{"--max-store-mb", O_SIZE, OFF(max_mb), "N     the map grows up to this (65536)"},
	{"--max-skew-ms", O_U64, OFF(ecfg.lim.max_skew_ms), "N  clock guard (300000)"},
	{"--tombstone-ttl-ms", O_U64, OFF(ecfg.lim.tombstone_ttl_ms), "N  (30 days)"},
	{"--session-ttl-ms", O_U64, OFF(ecfg.lim.session_ttl_ms), "N  (7 days)"},
	{"--evidence-window-ms", O_U64, OFF(ecfg.lim.evidence_window_ms), "N  late pushes for ended shifts (7 days)"},
	{"--shift-max-ms", O_U64, OFF(ecfg.lim.shift_max_ms), "N  the longest shift a write may make (7 days)"},
	{"--body-max", O_SIZE, OFF(ecfg.lim.body_max), "BYTES  request body, compressed (4 MiB)"},
	{"--inflated-max", O_SIZE, OFF(ecfg.lim.inflated_max), "BYTES  request body, inflated (32 MiB)"},
	{"--maint-interval-ms", O_U64, OFF(maint_ms), "N  purge pass every N ms (3600000)"},
	{"--clock-offset-ms", O_I64, OFF(ecfg.clock_offset_ms), "N  shift the server clock (tests, drills)"},
	{"--max-connections", O_UINT, OFF(threads), "N  connections served at once = worker threads (64; same as --threads)"},
	{"--connection-queue", O_UINT, OFF(queue), "N  accepted connections waiting for a worker (64)"},
	{"--keep-alive-ms", O_UINT, OFF(keep_alive_ms), "N  an idle keep-alive connection is closed after (10000)"},
	{"--head-timeout-ms", O_UINT, OFF(head_timeout_ms), "N  a request's whole head (request line and headers) must come within (10000)"},
	{"--max-connections-per-address", O_UINT, OFF(conn_per_addr), "N  connections one client address may hold open at once (32; 0: no cap; trusted proxies exempt)"},
	{"--body-min-rate", O_UINT, OFF(body_min_rate), "BYTES  a body must average this many bytes/s after --request-timeout-ms (1024; 0: off)"},
	{"--rate-device-per-s", O_UINT, OFF(rate_dev.per_s), "N  requests a second per device (20; 0: off; per node: behind a balancer over N nodes a client may get N times this)"},
	{"--rate-device-burst", O_UINT, OFF(rate_dev.burst), "N  requests a device may send at once (300)"},
	{"--rate-address-per-s", O_UINT, OFF(rate_addr.per_s), "N  requests a second per client address (1000; 0: off; per node, as above)"},
	{"--rate-address-burst", O_UINT, OFF(rate_addr.burst), "N  requests an address may send at once (20000)"},
	{"--trusted-proxy", O_LIST, OFF(trusted), "ADDR[/BITS][,...]  believe its X-Forwarded-For (repeatable)"},
	{"--lockout-after", O_UINT, OFF(lock.after), "N  wrong PINs in a row lock a staff member (5; 0: off)"},
	{"--lockout-ms", O_U64, OFF(lock.lock_ms), "N  first lock; doubles on each further lock (900000)"},
	{"--lockout-max-ms", O_U64, OFF(lock.max_ms), "N  the doubling stops here (86400000)"},
	{"--lockout-address-after", O_UINT, OFF(lock.addr_after), "N  failed logins from one address in --lockout-ms lock it (100; 0: off)"},
	{"--blob-device-day-mb", O_U64, OFF(blob_dev_mb), "N  photo bytes a device may upload in 24 h (1024; 0: no limit)"},
	{"--blob-site-mb", O_U64, OFF(blob_site_mb), "N  photo bytes a site may keep (262144; 0: no limit)"},
	{"--blob-orphan-grace-ms", O_U64, OFF(blob_grace_ms), "N  a photo no record names is deleted after (7 days; 0: never)"},
	{"--audit-ttl-ms", O_U64, OFF(audit_ttl_ms), "N  keep audit entries N ms (400 days; 0: forever)"},
	{"--audit-purge-interval-ms", O_U64, OFF(audit_purge_ms), "N  audit purge pass every N ms (3600000)"},
	{"--out", O_STR, OFF(out), "FILE  backup: the archive to write; export: the CSV (stdout)"},
	{"--site", O_STR, OFF(site), "ID    catalogue, import, export: the site"},
	{"--kind", O_STR, OFF(kind), "K     import, export: staff, zone, checkpoint, route, roster, standard"},
	{"--task-interval-ms", O_U64, OFF(tasks_ms), "N  task generation pass over every site every N ms (600000)"},
	{"--from", O_STR, OFF(from), "FILE  restore: the archive to read"},
	{"--tag-key-file", O_STR, OFF(tag_key_file), "FILE  the key secure tags are sealed with (64 hex; else $FIELDSYNC_TAG_KEY)"},
	{"--web", O_STR, OFF(web), "DIR   serve: the web app at / (build/web; \"\": none)"},
	{"--alert-poll-ms", O_U64, OFF(alert_poll_ms), "N  alert rules look at marked records and timers at least every N ms (1000)"},
	{"--webhook-allow-private", O_FLAG, OFF(hooks.allow_private), "      webhooks may call loopback/private addresses (tests; never for tenants)"},
	{"--webhook-backoff-ms", O_U64, OFF(hooks.backoff_ms), "N  first webhook retry after N ms, doubling up to an hour (10000)"},
	{"--webhook-give-up-ms", O_U64, OFF(hooks.give_up_ms), "N  stop retrying a webhook delivery after N ms (90000000 = 25 h)"},
	{"--webhook-timeout-ms", O_U64, OFF(hooks.timeout_ms), "N  one webhook POST (10000)"},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: fieldsyncd COMMAND [options]\n\n"
	        "commands:\n"
	        "  init  --data DIR   create the store, write DIR/admin.token (0600)\n"
	        "  init  --store URL [--data DIR]   create the PostgreSQL schema (or migrate\n"
	        "                     it), write DIR/admin.token (./admin.token without --data)\n"
	        "  serve --data DIR --listen HOST:PORT [--cert PEM --key PEM | --insecure-http]\n"
	        "                     serve until SIGTERM\n"
	        "  serve --store URL --data DIR | --blobs DIR --listen ...   serve a PostgreSQL\n"
	        "                     store (any number of nodes; no directory lock)\n"
	        "  demo  --data DIR   load the demo property (staff PIN 1234)\n"
	        "  catalogue --data DIR --site S   install the default service standards\n"
	        "                     (schema/CATALOGUE.md) into site S; again: no change\n"
	        "  import --data DIR --site S [--kind K] FILE.csv   load a site's staff, zones,\n"
	        "                     checkpoints, routes, rosters or standards (schema/IMPORT.md;\n"
	        "                     K from the file name when not given); a bad row refuses it all\n"
	        "  export --data DIR --site S --kind K [--out FILE]   the same CSV back\n"
	        "  backup --data DIR --out FILE   archive the store and photos (server may run)\n"
	        "  backup --store URL --blobs DIR | --data DIR --out FILE   the same archive\n"
	        "                     of a PostgreSQL store (restores into either backend)\n"
	        "  restore --from FILE --data NEWDIR   check an archive, restore it, new store id\n"
	        "  restore --from FILE --store URL --blobs NEWDIR | --data DIR   into an empty\n"
	        "                     PostgreSQL database (new, or only init'ed), photos in\n"
	        "                     NEWDIR (DIR/blobs), new store id\n"
	        "  check --data DIR | --store URL   integrity walk of the store; exit 0 ok, 1 damaged\n"
	        "  help               this text\n\noptions:\n");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		fprintf(f, "  %-22s %s\n", opts[i].name, opts[i].help);
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
	for (int i = 2; i < argc; i++) {
		const option *op = NULL;
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (!strcmp(argv[i], opts[k].name))
				op = &opts[k];
		if (!op && argv[i][0] != '-' && !o->file) {
			o->file = argv[i]; /* import's FILE.csv */
			continue;
		}
		if (!op) {
			fprintf(stderr, "fieldsyncd: unknown option %s (see fieldsyncd help)\n", argv[i]);
			return -1;
		}
		char *field = (char *)o + op->off;
		if (op->type == O_FLAG) {
			*(int *)field = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "fieldsyncd: %s needs a value\n", argv[i]);
			return -1;
		}
		const char *v = argv[++i];
		unsigned long long n;
		switch (op->type) {
		case O_STR:
			*(const char **)field = v;
			break;
		case O_I64: {
			char *end;
			errno = 0;
			long long x = strtoll(v, &end, 10);
			if (errno || *end || !*v)
				goto bad;
			*(int64_t *)field = x;
			break;
		}
		case O_SIZE:
			if (parse_num(v, SIZE_MAX, &n))
				goto bad;
			*(size_t *)field = (size_t)n;
			break;
		case O_U64:
			if (parse_num(v, UINT64_MAX, &n))
				goto bad;
			*(uint64_t *)field = n;
			break;
		case O_UINT:
			if (parse_num(v, UINT_MAX, &n))
				goto bad;
			*(unsigned *)field = (unsigned)n;
			break;
		case O_LIST: {
			char *l = field;
			size_t have = strlen(l), vn = strlen(v);
			if (!vn || have + vn + 2 > sizeof(((options *)0)->trusted))
				goto bad;
			if (have)
				l[have++] = ',';
			memcpy(l + have, v, vn + 1);
			break;
		}
		case O_FLAG:
			break;
		}
		continue;
	bad:
		fprintf(stderr, "fieldsyncd: %s: bad value '%s'\n", op->name, v);
		return -1;
	}
	if (o->store && !store_is_url(o->store)) {
		fprintf(stderr, "fieldsyncd: --store: '%s' is not a postgresql:// or "
		                "postgres:// URL\n", o->store);
		return -1;
	}
	if (!o->data && !o->store) {
		fprintf(stderr, "fieldsyncd: --data DIR is required\n");
		return -1;
	}
	return 0;
}

typedef struct {
	options o;
	store *st;
	engine *e;
	http_server *http;
	tls_keys *tls;
	maint *maint;
	audit_keeper *audit;
	tz_db *tz;
	tasks_gen *tasks;
	int lock_fd; /* serve's hold on the data directory (dirlock.h) */
	blob_quota blobq;
	char blob_dir[4200];
	alerts *alerts;
	webhook *webhooks;
	/* other nodes' commits (store_watch) go to the engine while on */
	pthread_mutex_t watch_mu;
	int watch_on;
} app;

static int open_all(app *a, int create)
{
	struct stat s;
	if (a->o.data && stat(a->o.data, &s) != 0) {
		if (!create && !a->o.store) {
			fprintf(stderr, "fieldsyncd: %s: no store here (run init)\n", a->o.data);
			return -1;
		}
		if (mkdir(a->o.data, 0700)) {
			fprintf(stderr, "fieldsyncd: cannot create %s: %s\n", a->o.data,
			        strerror(errno));
			return -1;
		}
	}
	store_opts so;
	memset(&so, 0, sizeof(so));
	so.map_mb = a->o.map_mb;
	so.max_mb = a->o.max_mb;
	so.readers = 512;
	char err[400];
	so.create = create;
	so.err = err;
	so.errn = sizeof(err);
	if (store_open(&a->st, a->o.store ? a->o.store : a->o.data, &so) ||
	    !a->st) {
		if (a->o.store)
			fprintf(stderr, "fieldsyncd: cannot open the PostgreSQL store: "
			                "%s\n", err[0] ? err : "unavailable");
		else
			fprintf(stderr, "fieldsyncd: cannot open the store in %s\n",
			        a->o.data);
		return -1;
	}
	int k = tags_load_key(a->o.tag_key_file, a->o.tag_key, err, sizeof(err));
	a->o.ecfg.tag_key = k == 1 ? a->o.tag_key : NULL;
	if (k < 0 || tags_check_store(a->st, a->o.ecfg.tag_key, err, sizeof(err))) {
		fprintf(stderr, "fieldsyncd: %s\n", err);
		return -1;
	}
	if (engine_open(&a->e, a->st, &a->o.ecfg) || hooks_register(a->e)) {
		fprintf(stderr, "fieldsyncd: cannot start the engine\n");
		return -1;
	}
	return 0;
}

static void close_all(app *a)
{
	/* first: the store's watch thread runs until store_close() and must
	 * not reach the live listeners or the engine once they go */
	pthread_mutex_lock(&a->watch_mu);
	a->watch_on = 0;
	pthread_mutex_unlock(&a->watch_mu);
	http_stop(a->http);
	tls_close(a->tls);
	webhook_stop(a->webhooks);
	alerts_stop(a->alerts);
	tasks_gen_stop(a->tasks);
	audit_stop(a->audit);
	maint_stop(a->maint);
	engine_close(a->e);
	store_close(a->st);
	tz_db_close(a->tz);
	dirlock_release(a->lock_fd);
}

/* Buckets another node committed to (store_watch, PostgreSQL): the same
 * pokes as this node's own commits, so /v1/live works across nodes. */
static void remote_changes(void *ctx, char **buckets, unsigned n)
{
	app *a = ctx;
	pthread_mutex_lock(&a->watch_mu);
	if (a->watch_on)
		engine_remote_changes(a->e, buckets, n);
	pthread_mutex_unlock(&a->watch_mu);
}

/* After each maintenance pass: photos no record names, past their grace
 * (blobquota.h). */
static void collect_blobs(void *ctx)
{
	app *a = ctx;
	unsigned n = 0;
	if (blobquota_collect(a->e, &a->blobq, a->blob_dir, &n) == FS_OK && n)
		fprintf(stderr, "fieldsyncd: %u photos no record names deleted\n",
		        n);
}

static int has_admin(app *a)
{
	store_txn *t;
	sv v;
	if (store_begin(a->st, 0, &t))
		return 0;
	int yes = store_get(t, ST_META, sv_cstr(KEY_ADMIN_DEVICE), &v) == FS_OK;
	store_abort(t);
	return yes;
}

/* Where the store is, for messages (a URL may hold a password: not shown). */
static const char *where(const app *a)
{
	return a->o.store ? "PostgreSQL" : a->o.data;
}

/* What store_open() takes: the URL, or the directory. */
static const char *where_store(const app *a)
{
	return a->o.store ? a->o.store : a->o.data;
}

static int cmd_init(app *a)
{
	if (open_all(a, 1))
		return 1;
	if (has_admin(a)) {
		printf("fieldsyncd: a store already exists in %s (store %s); nothing changed\n",
		       where(a), store_id(a->st));
		return 0;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/admin.token",
	         a->o.data ? a->o.data : ".");
	int rc = auth_init_admin(a->e, path);
	if (rc) {
		fprintf(stderr, "fieldsyncd: init failed: %s\n", fs_err_name(rc));
		return 1;
	}
	printf("fieldsyncd: new store %s in %s\nadmin token: %s (mode 0600)\n",
	       store_id(a->st), where(a), path);
	return 0;
}

static int cmd_demo(app *a)
{
	if (open_all(a, 0))
		return 1;
	if (!has_admin(a)) {
		fprintf(stderr, "fieldsyncd: run init first\n");
		return 1;
	}
	auth_cfg ac = {a->o.pbkdf2, NULL, {0, 0}};
	if (demo_load(a->e, &ac))
		return 1;
	printf("fieldsyncd: demo property 'harbour' loaded: guards g-li, g-chen; "
	       "cleaner c-wang; technician t-zhao; supervisor s-liu; PIN 1234\n");
	return 0;
}

static int cmd_serve(app *a)
{
	if (!a->o.listen) {
		fprintf(stderr, "fieldsyncd: --listen HOST:PORT is required\n");
		return 1;
	}
	if (!a->o.insecure && (!a->o.cert || !a->o.key)) {
		fprintf(stderr, "fieldsyncd: HTTPS needs --cert and --key "
		                "(or --insecure-http for loopback / a TLS proxy)\n");
		return 1;
	}
	/* Keep anonymous memory near what is in use (bench: RssAnon peak of a
	 * 2,000-device shift change 55-68 MB -> 15-24 MB): two malloc arenas,
	 * not eight per core each keeping what its threads freed, and blocks
	 * of 128 KiB and more (answers, deflate state) mapped and returned on
	 * their own instead of raising glibc's trim threshold as they go. */
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	/* signals are taken by sigwait below, never by a worker */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	char err[PATH_MAX + 200];
	struct stat ds;
	if (a->o.store && !a->o.data && !a->o.blobs) {
		fprintf(stderr, "fieldsyncd: serve --store needs --blobs DIR (or "
		                "--data DIR for DATA/blobs): the photos' directory, "
		                "shared by every node\n");
		return 1;
	}
	/* several nodes share a PostgreSQL store: no directory lock then */
	if (!a->o.store && stat(a->o.data, &ds) == 0 &&
	    dirlock_take(a->o.data, &a->lock_fd, err, sizeof(err))) {
		fprintf(stderr, "fieldsyncd: %s\n", err);
		return 1;
	}
	if (open_all(a, 0))
		return 1;
	a->watch_on = 1;
	if (store_watch(a->st, remote_changes, a)) {
		fprintf(stderr, "fieldsyncd: cannot watch the store for other "
		                "nodes' commits\n");
		return 1;
	}
	if (!a->o.insecure &&
	    tls_open(&a->tls, a->o.cert, a->o.key, err, sizeof(err))) {
		fprintf(stderr, "fieldsyncd: TLS: %s\n", err);
		return 1;
	}
	if (tz_db_open(&a->tz, NULL))
		return 1;
	http_cfg hc;
	memset(&hc, 0, sizeof(hc));
	hc.tz = a->tz;
	hc.listen = a->o.listen;
	if (a->o.blobs)
		snprintf(a->blob_dir, sizeof(a->blob_dir), "%s", a->o.blobs);
	else
		snprintf(a->blob_dir, sizeof(a->blob_dir), "%s/blobs", a->o.data);
	hc.blob_dir = a->blob_dir;
	hc.tls = a->tls;
	hc.threads = a->o.threads;
	hc.connection_queue = a->o.queue;
	hc.request_timeout_ms = a->o.timeout_ms;
	hc.keep_alive_ms = a->o.keep_alive_ms;
	hc.body_min_rate = a->o.body_min_rate;
	hc.head_timeout_ms = a->o.head_timeout_ms;
	hc.conn_per_address = a->o.conn_per_addr;
	hc.rate_device = a->o.rate_dev;
	hc.rate_address = a->o.rate_addr;
	hc.trusted_proxies = a->o.trusted;
	hc.lockout = a->o.lock;
	hc.auth.pbkdf2_iter = a->o.pbkdf2;
	hc.web_dir = !a->o.web ? "build/web" : *a->o.web ? a->o.web : NULL;
	hc.auth.pins = a->o.pins;
	a->blobq.device_day_bytes = a->o.blob_dev_mb << 20;
	a->blobq.site_bytes = a->o.blob_site_mb << 20;
	a->blobq.orphan_grace_ms = a->o.blob_grace_ms;
	hc.blobq = a->blobq;
	if (http_start(&a->http, a->e, &hc))
		return 1;
	if (tasks_gen_start(&a->tasks, a->e, a->tz, a->o.tasks_ms))
		return 1;
	if (maint_start_with(&a->maint, a->e, a->o.maint_ms, collect_blobs, a))
		return 1;
	if (audit_start(&a->audit, a->e, a->o.audit_ttl_ms, a->o.audit_purge_ms))
		return 1;
	if (alerts_start(&a->alerts, a->e, a->tz, a->o.alert_poll_ms) ||
	    webhook_start(&a->webhooks, a->e, &a->o.hooks))
		return 1;
	fprintf(stderr, "fieldsyncd: serving store %s on %s://%s\n",
	        store_id(a->st), a->o.insecure ? "http" : "https", a->o.listen);
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGHUP) {
			/* new certificate and key for new handshakes (tls.h) */
			char serial[80];
			if (!a->tls)
				fprintf(stderr, "fieldsyncd: SIGHUP: plain HTTP, no "
				                "certificate to reload\n");
			else if (tls_reload(a->tls, err, sizeof(err)))
				fprintf(stderr, "fieldsyncd: SIGHUP: certificate NOT "
				                "reloaded, the old one stays: %s\n", err);
			else {
				tls_serial(a->tls, serial, sizeof(serial));
				fprintf(stderr, "fieldsyncd: SIGHUP: certificate "
				                "reloaded (serial %s)\n", serial);
			}
			continue;
		}
		fprintf(stderr, "fieldsyncd: signal %d: finishing in-flight requests\n", sig);
		break;
	}
	return 0;
}

/* Install the default catalogue into a site, as the server. */
static int cmd_catalogue(app *a)
{
	if (!a->o.site) {
		fprintf(stderr, "fieldsyncd: catalogue needs --site ID\n");
		return 2;
	}
	if (open_all(a, 0))
		return 1;
	unsigned created = 0;
	int rc = tasks_install_catalogue(a->e, a->o.site, &created);
	if (rc == FS_E_NOT_FOUND) {
		fprintf(stderr, "fieldsyncd: no site '%s' in %s\n", a->o.site, a->o.data);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "fieldsyncd: catalogue: %s\n", fs_err_name(rc));
		return 1;
	}
	printf("fieldsyncd: catalogue: %u standards installed into site '%s' "
	       "(%s)\n", created, a->o.site,
	       created ? "the others were there already" : "all were there already");
	return 0;
}

/* The whole file, its size checked against the import cap before it is
 * read.  FS_OK, FS_E_TOO_LARGE, or FS_E_UNAVAILABLE with errno. */
static int read_csv_file(const char *path, char **out, size_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return FS_E_UNAVAILABLE;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (!errno || S_ISDIR(st.st_mode))
			errno = EISDIR;
		close(fd);
		return FS_E_UNAVAILABLE;
	}
	if ((uint64_t)st.st_size > IMPORT_BODY_MAX) {
		close(fd);
		return FS_E_TOO_LARGE;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t have = 0;
	while (buf && have < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + have, (size_t)st.st_size - have);
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	close(fd);
	if (!buf || have != (size_t)st.st_size) {
		free(buf);
		errno = buf ? EIO : ENOMEM;
		return FS_E_UNAVAILABLE;
	}
	*out = buf;
	*n = have;
	return FS_OK;
}

/* Import one CSV file into a site as the admin (import.h). */
static int cmd_import(app *a)
{
	const char *kind = a->o.kind ? a->o.kind
	                   : a->o.file ? import_kind_of_file(a->o.file) : NULL;
	if (!a->o.site || !a->o.file || !kind) {
		fprintf(stderr, "fieldsyncd: import needs --site ID and FILE.csv, and "
		                "--kind K when the file name does not say it "
		                "(staff.csv, harbour-zone.csv, ...)\n");
		return 2;
	}
	size_t n = 0;
	char *buf = NULL;
	int rc = read_csv_file(a->o.file, &buf, &n);
	if (rc) {
		fprintf(stderr, "fieldsyncd: %s: %s\n", a->o.file,
		        rc == FS_E_TOO_LARGE ? "over the import size limit (2 MiB)"
		                             : strerror(errno));
		return 1;
	}
	principal admin;
	if (open_all(a, 0) || auth_admin_principal(a->e, &admin)) {
		free(buf);
		return 1;
	}
	arena *ar = arena_new(0);
	import_result r;
	const char *msg = NULL;
	rc = ar ? import_csv(a->e, &admin, a->o.site, kind, buf, n, ar, &r, &msg)
	        : FS_E_UNAVAILABLE;
	free(buf);
	if (rc) {
		fprintf(stderr, "fieldsyncd: import of %s refused: %s\n", a->o.file,
		        msg ? msg : fs_err_name(rc));
		for (uint32_t i = 0; ar && i < r.nissues; i++) {
			const import_issue *is = &r.issues[i];
			fprintf(stderr, "  %s: row %u", a->o.file, is->row);
			if (is->col)
				fprintf(stderr, ", column %u", is->col);
			if (is->column)
				fprintf(stderr, " (%s)", is->column);
			fprintf(stderr, ": %s\n", is->msg);
		}
		if (ar && r.more)
			fprintf(stderr, "  ... and %u more\n", r.more);
	} else {
		printf("fieldsyncd: import of %s into site '%s': %u %s rows, %u "
		       "created, %u changed, %u unchanged\n", a->o.file, a->o.site,
		       r.rows, kind, r.created, r.changed, r.unchanged);
	}
	arena_free(ar);
	return rc ? 1 : 0;
}

static int cmd_export(app *a)
{
	if (!a->o.site || !a->o.kind) {
		fprintf(stderr, "fieldsyncd: export needs --site ID and --kind K\n");
		return 2;
	}
	if (open_all(a, 0))
		return 1;
	csv_buf b = {0};
	int rc = import_export(a->e, a->o.site, a->o.kind, &b);
	if (rc) {
		fprintf(stderr, "fieldsyncd: export: %s\n",
		        rc == FS_E_NOT_FOUND ? "no such site or kind" : fs_err_name(rc));
		csv_buf_free(&b);
		return 1;
	}
	int to_file = a->o.out != NULL;
	FILE *f = to_file ? fopen(a->o.out, "w") : stdout;
	int bad = !f || (b.n && fwrite(b.p, 1, b.n, f) != b.n);
	if (f && (to_file ? fclose(f) : fflush(f)))
		bad = 1;
	if (bad)
		fprintf(stderr, "fieldsyncd: export: %s: %s\n",
		        a->o.out ? a->o.out : "stdout", strerror(errno));
	csv_buf_free(&b);
	return bad;
}

/* backup, restore, check: backup.h; they open the store themselves.  The
 * photos' directory: --blobs DIR, else DATA/blobs (with --store one of
 * them is needed, as for serve). */
static const char *photos(app *a)
{
	if (a->o.blobs || !a->o.store)
		return a->o.blobs;
	if (!a->o.data)
		return NULL;
	snprintf(a->blob_dir, sizeof(a->blob_dir), "%s/blobs", a->o.data);
	return a->blob_dir;
}

static int cmd_backup(app *a)
{
	backup_info bi;
	char err[512];
	if (!a->o.out) {
		fprintf(stderr, "fieldsyncd: backup needs --out FILE\n");
		return 2;
	}
	if (a->o.store && !photos(a)) {
		fprintf(stderr, "fieldsyncd: backup --store needs --blobs DIR (or "
		                "--data DIR for DATA/blobs): the photos' directory\n");
		return 2;
	}
	if (backup_make(where_store(a), photos(a), a->o.out, &bi, err,
	                sizeof(err))) {
		fprintf(stderr, "fieldsyncd: backup failed: %s\n", err);
		return 1;
	}
	printf("fieldsyncd: backup of store %s in %s: %llu records, %llu blobs, "
	       "%llu bytes (store %llu)%s\n", bi.store, a->o.out,
	       (unsigned long long)bi.records, (unsigned long long)bi.blobs,
	       (unsigned long long)bi.bytes, (unsigned long long)bi.store_bytes,
	       bi.skipped ? "; some corrupt blobs left out (see above)" : "");
	return 0;
}

static int cmd_restore(app *a)
{
	backup_info bi;
	char err[512];
	if (!a->o.from) {
		fprintf(stderr, "fieldsyncd: restore needs --from FILE\n");
		return 2;
	}
	/* --store URL --data DIR: DIR holds the photos (DIR/blobs); made
	 * here, and removed again when the restore fails */
	int made = 0;
	if (a->o.store && a->o.data && !a->o.blobs) {
		if (!mkdir(a->o.data, 0700))
			made = 1;
		else if (errno != EEXIST) {
			fprintf(stderr, "fieldsyncd: cannot create %s: %s\n",
			        a->o.data, strerror(errno));
			return 1;
		}
	}
	if (backup_restore(a->o.from, where_store(a), photos(a), &bi, err,
	                   sizeof(err))) {
		fprintf(stderr, "fieldsyncd: restore failed: %s\n", err);
		if (made)
			rmdir(a->o.data); /* empty unless the restore left something */
		return 1;
	}
	printf("fieldsyncd: restored store %s from %s into %s as store %s: %llu "
	       "records, %llu blobs%s%s; integrity walk passed.  Devices will "
	       "re-pull and resend what the backup lacks.  Tokens made before "
	       "the backup (admin.token too) still work.\n", bi.store,
	       a->o.from, where(a), bi.new_store, (unsigned long long)bi.records,
	       (unsigned long long)bi.blobs, a->o.store ? " in " : "",
	       a->o.store ? photos(a) : "");
	return 0;
}

static int cmd_check(app *a)
{
	backup_info bi;
	char err[512];
	if (backup_check(where_store(a), &bi, err, sizeof(err))) {
		fprintf(stderr, "fieldsyncd: check of %s FAILED: %s\n", where(a),
		        err);
		return 1;
	}
	printf("fieldsyncd: store %s in %s: ok (%llu records, integrity walk "
	       "passed)\n", bi.store, where(a), (unsigned long long)bi.records);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	app a;
	memset(&a, 0, sizeof(a));
	a.lock_fd = -1;
	pthread_mutex_init(&a.watch_mu, NULL);
	fs_limits_default(&a.o.ecfg.lim);
	a.o.pbkdf2 = PBKDF2_DEFAULT;
	a.o.threads = 64;
	a.o.queue = 64;
	a.o.keep_alive_ms = 10000;
	a.o.body_min_rate = 1024;
	a.o.head_timeout_ms = 10000;
	a.o.conn_per_addr = 32;
	a.o.rate_dev.per_s = 20;
	a.o.rate_dev.burst = 300;
	a.o.rate_addr.per_s = 1000;
	a.o.rate_addr.burst = 20000;
	lockout_cfg_default(&a.o.lock);
	a.o.audit_ttl_ms = AUDIT_TTL_DEFAULT_MS;
	a.o.blob_dev_mb = BLOBQ_DEVICE_DAY_DEFAULT >> 20;
	a.o.blob_site_mb = BLOBQ_SITE_DEFAULT >> 20;
	a.o.blob_grace_ms = BLOBQ_GRACE_DEFAULT;
	const char *cmd = argv[1];
	int (*fn)(app *) = !strcmp(cmd, "init")    ? cmd_init
	                   : !strcmp(cmd, "serve") ? cmd_serve
	                   : !strcmp(cmd, "demo")  ? cmd_demo
	                   : !strcmp(cmd, "catalogue") ? cmd_catalogue
	                   : !strcmp(cmd, "import") ? cmd_import
	                   : !strcmp(cmd, "export") ? cmd_export
	                   : !strcmp(cmd, "backup") ? cmd_backup
	                   : !strcmp(cmd, "restore") ? cmd_restore
	                   : !strcmp(cmd, "check") ? cmd_check
	                                           : NULL;
	if (!fn) {
		fprintf(stderr, "fieldsyncd: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (parse_args(argc, argv, &a.o))
		return 2;
	if (a.o.pins.min_len && (a.o.pins.min_len < PIN_MIN_DEFAULT ||
	                         a.o.pins.min_len > PIN_MAX)) {
		fprintf(stderr, "fieldsyncd: --pin-min-length must be 4-64\n");
		return 2;
	}
	if (!a.o.pbkdf2)
		a.o.pbkdf2 = 1;
	int rc = fn(&a);
	close_all(&a);
	return rc;
}
