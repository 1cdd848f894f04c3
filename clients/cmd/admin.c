/*
 * admin.c — `fieldsync admin`: a site's setup and care from the command
 * line, against a running server's existing admin and supervisor
 * endpoints (protocol/PROTOCOL.md, "Endpoints"):
 *
 *   enroll-code --site S [--role R] [--uses N] [--ttl SECONDS]
 *                          POST /v1/admin/enroll-codes; prints the code and
 *                          a QR code of the enrollment URL
 *   pin --staff ID --pin PIN   POST /v1/admin/staff-pin (sets or resets a
 *                          PIN; a new PIN lifts that staff member's lockout)
 *   devices [--site S]     GET /v1/reports/devices/S: last sync, pending
 *   revoke --device D      POST /v1/admin/revoke
 *   orders [--site S]      the site's open orders with their deadlines,
 *                          pulled with POST /v1/sync (bucket orders/S)
 *
 * Who is asking, first that applies:
 *   --token-file FILE      an admin token file (the server's
 *                          DATA/admin.token), with --server URL [--ca FILE];
 *   $FIELDSYNC_ADMIN_TOKEN the same token from the environment;
 *   otherwise the session of the supervisor logged in on this handheld
 *   (--home), with its server and pinned CA: the server then allows what
 *   a supervisor may (their own site's PINs, devices and orders).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clients/cmd/cli.h"
#include "clients/local.h"
#include "protocol/arena.h"
#include "protocol/wire.h"

typedef struct {
	cli *x;
	char token[300];     /* "" : the handheld's session */
	const char *server;  /* with a token */
	char site[136];      /* the default --site */
} admin_ctx;

static int read_token(admin_ctx *a, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return fail(a->x, EXIT_FAIL, "admin token file %s: %s", path,
		            strerror(errno));
	n = fread(a->token, 1, sizeof(a->token) - 1, f);
	fclose(f);
	a->token[n] = 0;
	while (n && (a->token[n - 1] == '\n' || a->token[n - 1] == '\r' ||
	             a->token[n - 1] == ' '))
		a->token[--n] = 0;
	if (!n)
		return fail(a->x, EXIT_FAIL, "admin token file %s is empty", path);
	return 0;
}

/* Settle who asks and where (see the header). */
static int admin_auth(admin_ctx *a)
{
	cli *x = a->x;
	const char *file = opt(x, "token-file"), *env = getenv("FIELDSYNC_ADMIN_TOKEN");
	fs_status s;
	int rc;

	if (file || (env && env[0])) {
		if (file && (rc = read_token(a, file)))
			return rc;
		if (!file)
			snprintf(a->token, sizeof(a->token), "%s", env);
		a->server = opt(x, "server");
		if (!a->server)
			return fail(x, EXIT_USAGE, "an admin token needs --server URL "
			            "(and --ca FILE for a private CA)");
		return 0;
	}
	if (opt(x, "server"))
		return fail(x, EXIT_USAGE, "--server goes with an admin token "
		            "(--token-file FILE or $FIELDSYNC_ADMIN_TOKEN); without "
		            "one the supervisor logged in on this handheld asks its "
		            "own server");
	if ((rc = open_client(x, 3, 15000)))
		return rc;
	fs_get_status(x->c, &s);
	if (!s.logged_in)
		return fail(x, EXIT_FAIL, "no admin token (--token-file FILE or "
		            "$FIELDSYNC_ADMIN_TOKEN) and nobody is logged in on this "
		            "handheld: log in as a supervisor, or give a token");
	snprintf(a->site, sizeof(a->site), "%s", s.site);
	return 0;
}

/* One request; *status, and the body (malloc'd, NUL-terminated). */
static int call(admin_ctx *a, const char *method, const char *path,
                const wbuf *body, int *status, uint8_t **resp, size_t *n)
{
	cli *x = a->x;
	char err[1200];
	int rc;

	if (a->token[0]) {
		fs_options o;

		memset(&o, 0, sizeof(o));
		o.ca_file = opt(x, "ca");
		o.insecure_http = opt(x, "insecure-http") != NULL;
		rc = fs_call_url(&o, a->server, a->token, method, path,
		                 body ? body->p : NULL, body ? body->n : 0, status,
		                 resp, n, err, sizeof(err));
		if (rc)
			return fail(x, EXIT_FAIL, "%s", err[0] ? err : fs_strerror(rc));
	} else {
		rc = fs_call(x->c, method, path, body ? body->p : NULL,
		             body ? body->n : 0, status, resp, n);
		if (rc)
			return lib_fail(x, rc);
	}
	if (*resp) {
		uint8_t *p = realloc(*resp, *n + 1);

		if (!p)
			return fail(x, EXIT_FAIL, "out of memory");
		p[*n] = 0;
		*resp = p;
	}
	return 0;
}

/* A refusal: the server's {error, msg} (msgpack or JSON) in one line. */
static int refused(admin_ctx *a, int status, const uint8_t *p, size_t n)
{
	arena *ar = arena_new(0);
	wval *v;
	json_t *j;
	char code[64] = "", msg[400] = "";

	if (ar && p && !wire_decode(ar, p, n, &v) && v->t == WV_MAP) {
		const wval *e = wv_get(v, "error"), *m = wv_get(v, "msg");

		if (e && e->t == WV_STR)
			snprintf(code, sizeof(code), "%.*s", (int)e->s.n, e->s.p);
		if (m && m->t == WV_STR)
			snprintf(msg, sizeof(msg), "%.*s", (int)m->s.n, m->s.p);
	} else if (p && (j = json_loadb((const char *)p, n, 0, NULL))) {
		const char *e = json_string_value(json_object_get(j, "error")),
		           *m = json_string_value(json_object_get(j, "msg"));

		snprintf(code, sizeof(code), "%s", e ? e : "");
		snprintf(msg, sizeof(msg), "%s", m ? m : "");
		json_decref(j);
	}
	arena_free(ar);
	return fail(a->x, EXIT_FAIL, "the server refused it (HTTP %d %s)%s%s",
	            status, code[0] ? code : "", msg[0] ? ": " : "", msg);
}

static const char *site_of(admin_ctx *a)
{
	const char *s = opt(a->x, "site");

	return s ? s : a->site[0] ? a->site : NULL;
}

/* A body {k: v, ...} of strings, then optional unsigned numbers. */
static int parse_u(cli *x, const char *name, uint64_t max, uint64_t *out)
{
	const char *v = opt(x, name);
	char *end;

	if (!v)
		return 1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (errno || *end || !*v || !*out || *out > max)
		return -1;
	return 0;
}

/* ---- enroll-code ------------------------------------------------------------- */

static void url_encode(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t j = 0;

	for (; *s && j + 4 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	out[j] = 0;
}

static int enroll_code(admin_ctx *a)
{
	cli *x = a->x;
	const char *site = site_of(a), *role = opt(x, "role");
	uint64_t uses = 1, ttl = 86400;
	int pu = parse_u(x, "uses", 100000, &uses), pt = parse_u(x, "ttl",
	                                                         31536000, &ttl);
	fs_status s;
	wbuf b;
	int status = 0, rc;
	uint8_t *resp = NULL;
	size_t n = 0;
	arena *ar;
	wval *v;
	char code[64] = "", enc[1600], url[2000];
	const char *server = a->server;

	if (!site)
		return fail(x, EXIT_USAGE, "usage: fieldsync admin enroll-code --site S "
		            "[--role guard|cleaner|technician|supervisor] [--uses N] "
		            "[--ttl SECONDS]");
	if (pu < 0 || pt < 0)
		return fail(x, EXIT_USAGE, "--uses takes 1-100000, --ttl 1-31536000 "
		            "seconds");
	wb_init(&b);
	wb_map(&b, 2 + (role != NULL) + (pt == 0));
	wb_cstr(&b, "site");
	wb_cstr(&b, site);
	if (role) {
		wb_cstr(&b, "role");
		wb_cstr(&b, role);
	}
	wb_cstr(&b, "uses");
	wb_u64(&b, uses);
	if (pt == 0) {
		wb_cstr(&b, "ttl_s");
		wb_u64(&b, ttl);
	}
	rc = call(a, "POST", "/v1/admin/enroll-codes", &b, &status, &resp, &n);
	wb_free(&b);
	if (rc)
		return rc;
	if (status != 200) {
		rc = refused(a, status, resp, n);
		free(resp);
		return rc;
	}
	ar = arena_new(0);
	if (ar && resp && !wire_decode(ar, resp, n, &v) && v->t == WV_MAP &&
	    wv_get(v, "code") && wv_get(v, "code")->t == WV_STR)
		snprintf(code, sizeof(code), "%.*s", (int)wv_get(v, "code")->s.n,
		         wv_get(v, "code")->s.p);
	arena_free(ar);
	free(resp);
	if (!code[0])
		return fail(x, EXIT_FAIL, "the server's answer has no code");
	if (!server) {
		fs_get_status(x->c, &s);
		server = s.server;
	}
	url_encode(server, enc, sizeof(enc));
	snprintf(url, sizeof(url), "fieldsync://enroll?server=%s&code=%s", enc,
	         code);
	if (x->json) {
		printf("{\"ok\":true,\"code\":");
		json_str(stdout, code);
		printf(",\"site\":");
		json_str(stdout, site);
		printf(",\"role\":");
		json_str(stdout, role ? role : "");
		printf(",\"uses\":%llu,\"ttl_s\":%llu,\"url\":",
		       (unsigned long long)uses, (unsigned long long)ttl);
		json_str(stdout, url);
		printf("}\n");
		return 0;
	}
	printf("enrollment code %s for site %s (%s, %llu use(s), valid %llu s)\n"
	       "enrollment URL  %s\n", code, site, role ? role : "any role",
	       (unsigned long long)uses, (unsigned long long)ttl, url);
	if (qr_print(stdout, url))
		printf("(the URL is too long for a QR code)\n");
	printf("on the handheld: fieldsync enroll --server %s --code %s%s%s\n",
	       server, code, opt(x, "ca") ? " --ca " : "",
	       opt(x, "ca") ? opt(x, "ca") : "");
	return 0;
}

/* ---- pin, revoke ------------------------------------------------------------- */

static int post_simple(admin_ctx *a, const char *path, const char *k1,
                       const char *v1, const char *k2, const char *v2,
                       const char *done)
{
	wbuf b;
	int status = 0, rc;
	uint8_t *resp = NULL;
	size_t n = 0;

	wb_init(&b);
	wb_map(&b, k2 ? 2 : 1);
	wb_cstr(&b, k1);
	wb_cstr(&b, v1);
	if (k2) {
		wb_cstr(&b, k2);
		wb_cstr(&b, v2);
	}
	rc = call(a, "POST", path, &b, &status, &resp, &n);
	wb_free(&b);
	if (!rc && status != 200)
		rc = refused(a, status, resp, n);
	free(resp);
	if (rc)
		return rc;
	if (a->x->json) {
		printf("{\"ok\":true,\"%s\":", k1);
		json_str(stdout, v1);
		printf("}\n");
	} else {
		printf("%s\n", done);
	}
	return 0;
}

static int set_pin(admin_ctx *a)
{
	const char *staff = opt(a->x, "staff"), *pin = opt(a->x, "pin");
	char done[300];

	if (!staff || !pin)
		return fail(a->x, EXIT_USAGE, "usage: fieldsync admin pin --staff ID "
		            "--pin PIN");
	snprintf(done, sizeof(done), "PIN of %s set (any login lockout of %s "
	         "is lifted)", staff, staff);
	return post_simple(a, "/v1/admin/staff-pin", "staff", staff, "pin", pin,
	                   done);
}

static int revoke(admin_ctx *a)
{
	const char *dev = opt(a->x, "device");
	char done[300];

	if (!dev)
		return fail(a->x, EXIT_USAGE, "usage: fieldsync admin revoke --device D");
	snprintf(done, sizeof(done), "device %s revoked: its tokens stop working "
	         "on their next request", dev);
	return post_simple(a, "/v1/admin/revoke", "device", dev, NULL, NULL, done);
}

/* ---- devices ----------------------------------------------------------------- */

static int site_zone(admin_ctx *a, const char *site);

static const char *m_str(arena *ar, const wval *m, const char *k)
{
	return wv_strdup(ar, wv_get(m, k));
}

static int devices(admin_ctx *a)
{
	const char *site = site_of(a);
	char path[300], t[48];
	int status = 0, rc;
	uint8_t *resp = NULL;
	size_t n = 0;
	arena *ar;
	wval *root;
	const wval *list;

	if (!site)
		return fail(a->x, EXIT_USAGE, "usage: fieldsync admin devices --site S");
	if (!a->x->json && (rc = site_zone(a, site)))
		return rc;
	snprintf(path, sizeof(path), "/v1/reports/devices/%s", site);
	if ((rc = call(a, "GET", path, NULL, &status, &resp, &n)))
		return rc;
	if (status != 200) {
		rc = refused(a, status, resp, n);
		free(resp);
		return rc;
	}
	ar = arena_new(0);
	if (!ar || !resp || wire_decode(ar, resp, n, &root) ||
	    !(list = wv_get(root, "devices")) || list->t != WV_ARR) {
		free(resp);
		arena_free(ar);
		return fail(a->x, EXIT_FAIL, "the devices report does not decode");
	}
	if (a->x->json) {
		wbuf w;

		wb_init(&w);
		lc_json_val(&w, root);
		printf("{\"ok\":true,\"report\":%.*s}\n", (int)w.n, (const char *)w.p);
		wb_free(&w);
	} else {
		printf("%-28s %-20s %-12s %-22s %7s\n", "device", "name", "staff",
		       "last sync", "pending");
		for (uint32_t i = 0; i < list->a.n; i++) {
			const wval *d = &list->a.v[i], *rv = wv_get(d, "revoked");
			const char *id = m_str(ar, d, "device"), *name = m_str(ar, d, "name"),
			           *st = m_str(ar, d, "staff");
			uint64_t ls = 0, pend = 0;
			char pb[24] = "-";

			wv_u64(wv_get(d, "last_sync"), &ls);
			if (wv_u64(wv_get(d, "pending"), &pend))
				snprintf(pb, sizeof(pb), "%llu", (unsigned long long)pend);
			fmt_time(ls, t, sizeof(t));
			printf("%-28s %-20s %-12s %-22s %7s%s\n", id ? id : "?",
			       name ? name : "", st ? st : "-", t, pb,
			       rv && rv->t == WV_BOOL && rv->b ? " revoked" : "");
		}
		if (!list->a.n)
			printf("(no devices enrolled at %s)\n", site);
	}
	free(resp);
	arena_free(ar);
	return 0;
}

/* ---- orders ------------------------------------------------------------------ */

typedef struct {
	arena *a;
	wval **recs;   /* orders, latest copy */
	uint32_t n, cap;
	char tz[64];
} order_set;

static void keep_order(order_set *o, const wval *rec)
{
	const wval *c = wv_get(rec, "c"), *id = wv_get(rec, "id"),
	           *f = wv_get(rec, "f");

	if (!f || f->t != WV_MAP)
		return;
	if (wv_is_str(c, "site")) {
		const wval *tz = wv_get(f, "tz");

		if (tz && tz->t == WV_STR && tz->s.n < sizeof(o->tz))
			snprintf(o->tz, sizeof(o->tz), "%.*s", (int)tz->s.n, tz->s.p);
		return;
	}
	if (!wv_is_str(c, "order") || !id || id->t != WV_STR)
		return;
	for (uint32_t i = 0; i < o->n; i++)
		if (wv_equal(wv_get(o->recs[i], "id"), id)) {
			o->recs[i] = (wval *)rec;
			return;
		}
	if (o->n == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 64;
		wval **nv = arena_calloc(o->a, cap, sizeof(*nv));

		if (!nv)
			return;
		if (o->n)
			memcpy(nv, o->recs, o->n * sizeof(*nv));
		o->recs = nv;
		o->cap = cap;
	}
	o->recs[o->n++] = (wval *)rec;
}

/* One pull of orders/S and site/S from the cursors given; *more when a
 * bucket has more. */
static int pull_once(admin_ctx *a, order_set *o, const char *ob,
                     const char *sb, uint64_t *oc, uint64_t *sc, int *more)
{
	wbuf b;
	int status = 0, rc;
	uint8_t *resp = NULL, *copy;
	size_t n = 0;
	wval *v;
	const wval *bk;

	wb_init(&b);
	wb_map(&b, 3);
	wb_cstr(&b, "v");
	wb_u64(&b, 1);
	wb_cstr(&b, "limit");
	wb_u64(&b, 5000);
	wb_cstr(&b, "pull");
	wb_map(&b, 2);
	wb_cstr(&b, ob);
	wb_u64(&b, *oc);
	wb_cstr(&b, sb);
	wb_u64(&b, *sc);
	rc = call(a, "POST", "/v1/sync", &b, &status, &resp, &n);
	wb_free(&b);
	if (rc)
		return rc;
	if (status != 200) {
		rc = refused(a, status, resp, n);
		free(resp);
		return rc;
	}
	copy = resp ? arena_dup(o->a, resp, n) : NULL;
	free(resp);
	if (!copy || wire_decode(o->a, copy, n, &v) ||
	    !(bk = wv_get(v, "buckets")) || bk->t != WV_MAP)
		return fail(a->x, EXIT_FAIL, "the server's sync answer does not "
		            "decode");
	*more = 0;
	for (uint32_t i = 0; i < bk->m.n; i++) {
		const wval *one = &bk->m.v[i], *recs = wv_get(one, "recs"),
		           *mv = wv_get(one, "more");
		uint64_t cur = 0;

		for (uint32_t j = 0; recs && recs->t == WV_ARR && j < recs->a.n; j++)
			keep_order(o, &recs->a.v[j]);
		wv_u64(wv_get(one, "cursor"), &cur);
		if (wv_is_str(&bk->m.k[i], ob))
			*oc = cur;
		else
			*sc = cur;
		*more |= mv && mv->t == WV_BOOL && mv->b;
	}
	return 0;
}

/* Pull orders/S and site/S from cursor 0 to the end (bounded). */
static int pull_orders(admin_ctx *a, const char *site, order_set *o)
{
	char ob[200], sb[200];
	uint64_t oc = 0, sc = 0;
	int rc, more;

	snprintf(ob, sizeof(ob), "orders/%s", site);
	snprintf(sb, sizeof(sb), "site/%s", site);
	for (int round = 0; round < 200; round++) {
		if ((rc = pull_once(a, o, ob, sb, &oc, &sc, &more)))
			return rc;
		if (!more)
			return 0;
	}
	return fail(a->x, EXIT_FAIL, "the orders did not finish in 200 pulls");
}

/* Times print in the site's zone (its record, pulled with its bucket). */
static int site_zone(admin_ctx *a, const char *site)
{
	order_set o;
	int rc;

	memset(&o, 0, sizeof(o));
	if (!(o.a = arena_new(0)))
		return fail(a->x, EXIT_FAIL, "out of memory");
	if (!(rc = pull_orders(a, site, &o)))
		use_zone(o.tz);
	arena_free(o.a);
	return rc;
}

static const char *f_str(arena *ar, const wval *rec, const char *k)
{
	return wv_strdup(ar, wv_get(wv_get(rec, "f"), k));
}

static uint64_t f_u64(const wval *rec, const char *k)
{
	uint64_t v = 0;

	wv_u64(wv_get(wv_get(rec, "f"), k), &v);
	return v;
}

static int order_open(arena *ar, const wval *rec)
{
	const char *st = f_str(ar, rec, "status");
	const wval *del = wv_get(wv_get(rec, "f"), "_deleted");

	if (del && del->t == WV_BOOL && del->b)
		return 0;
	return !st || (strcmp(st, "resolved") && strcmp(st, "closed") &&
	               strcmp(st, "cancelled"));
}

static uint64_t deadline(const wval *rec, const char **which)
{
	uint64_t d = f_u64(rec, "respond_by");

	*which = "respond_by";
	if (!d) {
		d = f_u64(rec, "resolve_by");
		*which = "resolve_by";
	}
	return d;
}

static int by_deadline(const void *x, const void *y)
{
	const char *w;
	uint64_t a = deadline(*(wval *const *)x, &w),
	         b = deadline(*(wval *const *)y, &w);

	if (!a != !b)
		return a ? -1 : 1;
	return a < b ? -1 : a > b;
}

static void print_order(admin_ctx *a, arena *ar, const wval *r, int first)
{
	const char *which, *st = f_str(ar, r, "status"),
	           *cat = f_str(ar, r, "category"), *title = f_str(ar, r, "title"),
	           *as = f_str(ar, r, "assignee");
	uint64_t dl = deadline(r, &which), rep = f_u64(r, "reported_at");
	char *id = wv_strdup(ar, wv_get(r, "id"));
	char t1[48], t2[48];

	if (a->x->json) {
		printf("%s{\"id\":", first ? "" : ",");
		json_str(stdout, id);
		printf(",\"category\":");
		json_str(stdout, cat ? cat : "");
		printf(",\"status\":");
		json_str(stdout, st ? st : "reported");
		printf(",\"title\":");
		json_str(stdout, title ? title : "");
		printf(",\"assignee\":");
		json_str(stdout, as ? as : "");
		printf(",\"reported_at\":%llu,\"deadline\":%llu,\"deadline_field\":",
		       (unsigned long long)rep, (unsigned long long)dl);
		json_str(stdout, dl ? which : "");
		printf("}");
		return;
	}
	fmt_time(dl, t1, sizeof(t1));
	fmt_time(rep, t2, sizeof(t2));
	printf("%-24s %-9s %-19s %s\n    reported %s, %s %s%s%s\n", id,
	       st ? st : "reported", cat ? cat : "?", title ? title : "", t2,
	       dl ? which : "no deadline", dl ? t1 : "",
	       as ? ", assigned to " : ", unassigned", as ? as : "");
}

static int orders(admin_ctx *a)
{
	const char *site = site_of(a);
	order_set o;
	uint32_t shown = 0;
	int rc;

	if (!site)
		return fail(a->x, EXIT_USAGE, "usage: fieldsync admin orders --site S");
	memset(&o, 0, sizeof(o));
	if (!(o.a = arena_new(0)))
		return fail(a->x, EXIT_FAIL, "out of memory");
	if ((rc = pull_orders(a, site, &o))) {
		arena_free(o.a);
		return rc;
	}
	use_zone(o.tz);
	if (o.n)
		qsort(o.recs, o.n, sizeof(*o.recs), by_deadline);
	if (a->x->json) {
		printf("{\"ok\":true,\"site\":");
		json_str(stdout, site);
		printf(",\"orders\":[");
	}
	for (uint32_t i = 0; i < o.n; i++)
		if (order_open(o.a, o.recs[i]))
			print_order(a, o.a, o.recs[i], !shown++);
	if (a->x->json)
		printf("]}\n");
	else if (!shown)
		printf("no open orders at %s\n", site);
	arena_free(o.a);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

static const char admin_help[] =
"usage: fieldsync admin [--token-file FILE --server URL [--ca FILE]] SUBCOMMAND\n"
"\n"
"  enroll-code --site S [--role R] [--uses N] [--ttl SECONDS]\n"
"                 a one-time enrollment code, with a QR code of its URL\n"
"  pin --staff ID --pin PIN\n"
"                 set or reset a staff member's PIN (lifts their lockout)\n"
"  devices [--site S]   the site's devices: last sync, changes pending\n"
"  revoke --device D    end a device's tokens (a lost handheld)\n"
"  orders [--site S]    the site's open orders by deadline\n"
"\n"
"Who asks: --token-file FILE (the server's DATA/admin.token) or\n"
"$FIELDSYNC_ADMIN_TOKEN, with --server URL; otherwise the supervisor logged\n"
"in on this handheld (--home), for their own site, with its server and CA.\n";

int cmd_admin(cli *x)
{
	static const struct {
		const char *name;
		int (*fn)(admin_ctx *a);
	} subs[] = {
		{"enroll-code", enroll_code}, {"pin", set_pin}, {"devices", devices},
		{"revoke", revoke},           {"orders", orders},
	};
	admin_ctx a;
	int rc;

	if (opt(x, "help") || !x->npos) {
		fputs(admin_help, opt(x, "help") ? stdout : stderr);
		return opt(x, "help") ? 0 : EXIT_USAGE;
	}
	if (x->npos != 1)
		return fail(x, EXIT_USAGE, "too many arguments (fieldsync admin --help)");
	memset(&a, 0, sizeof(a));
	a.x = x;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(subs[i].name, x->pos[0])) {
			if ((rc = admin_auth(&a)))
				return rc;
			return subs[i].fn(&a);
		}
	return fail(x, EXIT_USAGE, "unknown admin command %s (fieldsync admin "
	            "--help)", x->pos[0]);
}
