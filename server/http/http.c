/*
 * http.c — see http.h.  One table of routes; each handler gets the
 * request's arena, its decoded body and its principal, and answers with
 * msgpack (or JSON for reports) through reply().
 */
#include "server/http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "civetweb.h"
#include "protocol/errors.h"
#include "protocol/zbody.h"
#include "schema/schema.h"
#include "server/svc/audit.h"
#include "server/svc/blobquota.h"
#include "server/svc/blobref.h"
#include "server/svc/import.h"
#include "server/http/bodywatch.h"
#include "server/http/connwatch.h"
#include "server/http/live.h"
#include "server/http/errfmt.h"
#include "server/lib/crypto.h"
#include "server/lib/doc.h"
#include "server/model/policy.h"
#include "server/svc/devices.h"
#include "server/svc/reports.h"
#include "server/svc/tags.h"
#include "server/http/web.h"

#define COMPRESS_MIN 1024
#define HTTP_MAX_VALUES (2u << 20)

static const double lat_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,   0.25,   0.5,   1,    2.5,   5};
#define NLAT (sizeof(lat_bounds) / sizeof(lat_bounds[0]))

struct http_server {
	struct mg_context *ctx;
	engine *e;
	http_cfg cfg;
	char blob_dir[4096];

	_Atomic uint64_t requests[6]; /* by status class: 1xx..5xx, [0] all */
	_Atomic uint64_t sync_lat[NLAT + 1];
	_Atomic uint64_t sync_count;
	_Atomic uint64_t sync_sum_us;

	/* abuse limits (ratelimit.h, lockout.h; the lockout is cfg.auth.lock) */
	ratelimit *rl_dev, *rl_addr;
	rl_proxies *proxies;
	bodywatch *watch; /* body and head deadlines */
	connwatch *conns; /* connections per address, head deadlines */
	_Atomic uint64_t limited[4]; /* address, device, login, slow body */

	live *live; /* /v1/live (live.h) */
};

typedef struct {
	http_server *h;
	struct mg_connection *c;
	const struct mg_request_info *ri;
	arena *a;
	uint64_t t_ms;
	principal p;
	int want_json;
	char addr[RL_ADDR_MAX]; /* the client (ratelimit.h) */
	uint64_t mono0;         /* CLOCK_MONOTONIC ms when the headers were in */
	unsigned retry_after;   /* seconds, for a 429 */
	int close_after;        /* close the connection after the answer */
	size_t chunk;           /* body_read's next read size */
} req_ctx;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- responses ------------------------------------------------------------- */

static int accepts(const char *header, const char *what)
{
	return header && strcasestr(header, what) != NULL;
}

static int send_body(req_ctx *r, int status, const char *ctype,
                     const uint8_t *body, size_t n, const char *extra)
{
	uint8_t *z = NULL;
	size_t zn = 0;
	const char *enc = NULL;
	const char *ae = mg_get_header(r->c, "Accept-Encoding");
	if (n > COMPRESS_MIN && ae) {
		zb_format f = ZB_GZIP;
		if (accepts(ae, "gzip"))
			enc = "gzip";
		else if (accepts(ae, "deflate")) {
			enc = "deflate";
			f = ZB_DEFLATE;
		}
		if (enc && zb_deflate(f, body, n, &z, &zn) == FS_OK) {
			body = z;
			n = zn;
		} else {
			enc = NULL;
		}
	}
	mg_printf(r->c,
	          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	          "Cache-Control: no-store\r\n%s%s%s%s",
	          status, mg_get_response_code_text(r->c, status), ctype, n,
	          enc ? "Content-Encoding: " : "", enc ? enc : "",
	          enc ? "\r\n" : "", extra ? extra : "");
	mg_printf(r->c, "Vary: Accept-Encoding\r\n\r\n");
	if (n && strcmp(r->ri->request_method, "HEAD"))
		mg_write(r->c, body, n);
	free(z);
	int cls = status / 100;
	if (cls >= 1 && cls <= 5)
		atomic_fetch_add(&r->h->requests[cls], 1);
	atomic_fetch_add(&r->h->requests[0], 1);
	return status;
}

static int reply_error(req_ctx *r, int code, const char *msg)
{
	int status = fs_err_status(code);
	if (code == FS_E_INTERNAL)
		status = 503, code = FS_E_UNAVAILABLE; /* never 500 to clients */
	if (!msg)
		msg = fs_err_msg(code);
	const char *extra = NULL;
	char ra[40];
	if (code == FS_E_RATE_LIMITED || code == FS_E_UNAVAILABLE) {
		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n",
		         r->retry_after ? r->retry_after : 1);
		extra = ra;
	}
	else if (code == FS_E_UNAUTHORIZED)
		extra = "WWW-Authenticate: Bearer\r\n";
	wbuf b;
	wb_init(&b);
	doc d;
	doc_init(&d, &b, r->want_json);
	doc_map_n(&d, 2);
	doc_key(&d, "error");
	doc_str(&d, fs_err_name(code));
	doc_key(&d, "msg");
	doc_str(&d, msg);
	doc_end(&d);
	int rc = send_body(r, status,
	                   r->want_json ? "application/json" : "application/msgpack",
	                   b.p, b.n, extra);
	wb_free(&b);
	return rc;
}

static int reply_msgpack(req_ctx *r, wbuf *b)
{
	if (b->err)
		return reply_error(r, FS_E_UNAVAILABLE, "out of memory");
	return send_body(r, 200, "application/msgpack", b->p, b->n, NULL);
}

/* ---- request bodies ------------------------------------------------------------ */

/* mg_read with a deadline against slow clients.  CivetWeb's
 * request_timeout_ms bounds the headers and a wait with no byte at all,
 * but mg_read(n) returns only once n bytes came: a body trickled in would
 * hold the call, and its worker, as long as the client likes.  So each
 * call is armed (bodywatch.h) with the time its bytes are due: the body
 * must average body_min_rate from request_timeout_ms after the headers
 * on, and each call's k bytes must come within request_timeout_ms plus
 * k / body_min_rate.  k starts at one second's worth and doubles (up to
 * 64 KiB) while reads come quickly, so a fast upload is read in large
 * pieces and a slow one in small pieces with near deadlines.
 * `have`: bytes read so far.  -2 when late (the connection is then closed
 * after the answer, rather than CivetWeb draining the rest). */
static int body_read(req_ctx *r, void *buf, size_t n, size_t have)
{
	const http_cfg *c = &r->h->cfg;
	if (!c->body_min_rate)
		return mg_read(r->c, buf, n);
	size_t k0 = c->body_min_rate < 16      ? 16
	            : c->body_min_rate > 65536 ? 65536
	                                       : c->body_min_rate;
	if (r->chunk < k0)
		r->chunk = k0;
	size_t k = r->chunk < n ? r->chunk : n;
	double ms_per_byte = 1000.0 / c->body_min_rate;
	uint64_t now = mono_ms();
	uint64_t avg_due = r->mono0 + c->request_timeout_ms +
	                   (uint64_t)((double)(have + k) * ms_per_byte);
	uint64_t call_due = now + c->request_timeout_ms +
	                    (uint64_t)((double)k * ms_per_byte);
	uint64_t due = avg_due < call_due ? avg_due : call_due;
	int got = -2;
	if (due > now) {
		int slot = bodywatch_arm(r->h->watch, r->ri->remote_addr,
		                         r->ri->remote_port, r->ri->server_port, due);
		got = mg_read(r->c, buf, k);
		if (bodywatch_disarm(r->h->watch, slot))
			got = -2;
		uint64_t took = mono_ms() - now;
		if (got == (int)k && took < 50 && r->chunk < 65536)
			r->chunk *= 2;
		else if (took >= 500)
			r->chunk = k0;
	}
	if (got == -2) {
		r->close_after = 1;
		atomic_fetch_add(&r->h->limited[3], 1);
	}
	return got;
}

/* Read the body (within limits), inflate it, decode it. */
static int read_body(req_ctx *r, size_t cap, uint8_t **out, size_t *out_n,
                     const char **msg)
{
	long long cl = r->ri->content_length;
	if (cl >= 0 && (unsigned long long)cl > cap) {
		/* refused unread: close rather than let CivetWeb drain it (a
		 * body trickled in would hold the worker as long as it lasts) */
		r->close_after = 1;
		*msg = "body over the size limit";
		return FS_E_TOO_LARGE;
	}
	size_t have = 0, room = cl >= 0 ? (size_t)cl : 65536;
	uint8_t *buf = malloc(room ? room : 1);
	if (!buf) {
		*msg = "out of memory";
		return FS_E_UNAVAILABLE;
	}
	for (;;) {
		if (have == room) {
			if (cl >= 0)
				break;
			if (room > cap) {
				free(buf);
				r->close_after = 1;
				*msg = "body over the size limit";
				return FS_E_TOO_LARGE;
			}
			size_t nr = room * 2 > cap + 1 ? cap + 1 : room * 2;
			uint8_t *nb = realloc(buf, nr);
			if (!nb) {
				free(buf);
				*msg = "out of memory";
				return FS_E_UNAVAILABLE;
			}
			buf = nb;
			room = nr;
		}
		int n = body_read(r, buf + have, room - have, have);
		if (n < 0) {
			free(buf);
			*msg = n == -2 ? "the body came too slowly"
			               : "could not read the body";
			return FS_E_BAD_REQUEST;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (cl >= 0 && have != (size_t)cl) {
		free(buf);
		*msg = "body shorter than its Content-Length";
		return FS_E_BAD_REQUEST;
	}
	if (have > cap) {
		free(buf);
		*msg = "body over the size limit";
		return FS_E_TOO_LARGE;
	}
	*out = buf;
	*out_n = have;
	return FS_OK;
}

int http_body_format(const char *ct, const char *ce, int *zf, const char **msg)
{
	*zf = -1;
	if (!ct || strncasecmp(ct, "application/msgpack", 19) ||
	    (ct[19] && ct[19] != ';' && ct[19] != ' ')) {
		*msg = "Content-Type must be application/msgpack";
		return FS_E_UNSUPPORTED_MEDIA_TYPE;
	}
	if (ce && *ce && strcasecmp(ce, "identity")) {
		if (!strcasecmp(ce, "deflate"))
			*zf = ZB_DEFLATE;
		else if (!strcasecmp(ce, "gzip"))
			*zf = ZB_GZIP;
		else {
			*msg = "Content-Encoding must be deflate, gzip or identity";
			return FS_E_UNSUPPORTED_MEDIA_TYPE;
		}
	}
	return FS_OK;
}

int http_body_decode(const fs_limits *l, int zf, uint8_t *raw, size_t n,
                     arena *a, wval **out, const char **msg)
{
	int rc;
	*out = NULL;
	if (n > l->body_max) {
		free(raw);
		*msg = "body over the size limit";
		return FS_E_TOO_LARGE;
	}
	if (zf >= 0) {
		uint8_t *inf;
		size_t in_n;
		rc = zb_inflate((zb_format)zf, raw, n, l->inflated_max, &inf, &in_n);
		free(raw);
		if (rc) {
			*msg = rc == FS_E_TOO_LARGE ? "inflated body over the size limit"
			                            : "body does not inflate";
			return rc;
		}
		raw = inf;
		n = in_n;
	}
	/* the tree points into the bytes: keep them in the arena */
	uint8_t *keep = arena_dup(a, raw, n ? n : 1);
	free(raw);
	if (!keep) {
		*msg = "out of memory";
		return FS_E_UNAVAILABLE;
	}
	/* every decoded value costs arena memory: cap how many a body may
	 * hold (a 32 MiB body of 1-byte nils would otherwise ask for 1 GiB) */
	rc = wire_decode_max(a, keep, n, HTTP_MAX_VALUES, out);
	if (rc == FS_E_BAD_MSGPACK)
		*msg = "body is not one valid MessagePack value (or nests over 32 levels)";
	else if (rc == FS_E_TOO_LARGE)
		*msg = "body holds more values than a request may";
	else if (rc)
		*msg = "out of memory";
	return rc;
}

/* Bodies of the endpoints that take a few fields (enroll, login, the
 * admin and PIN endpoints): this many bytes as sent and inflated, checked
 * before anything is inflated.  Only /v1/sync, for a session, gets the
 * large caps (--body-max, --inflated-max). */
#define SMALL_BODY_MAX 4096

static int decode_body(req_ctx *r, int small, wval **out, const char **msg)
{
	fs_limits lim = *engine_limits(r->h->e);
	const fs_limits *l = &lim;
	if (small)
		lim.body_max = lim.inflated_max = SMALL_BODY_MAX;
	int zf;
	int rc = http_body_format(mg_get_header(r->c, "Content-Type"),
	                          mg_get_header(r->c, "Content-Encoding"), &zf, msg);
	if (rc)
		return rc;
	uint8_t *raw;
	size_t n;
	rc = read_body(r, l->body_max, &raw, &n, msg);
	if (rc)
		return rc;
	return http_body_decode(l, zf, raw, n, r->a, out, msg);
}

/* ---- auth --------------------------------------------------------------------- */

/* The bearer token of the request: 1 and tok[0..n), or 0 when none. */
static int bearer_token(req_ctx *r, const char **tok, size_t *n)
{
	const char *h = mg_get_header(r->c, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	const char *t = h + 7;
	while (*t == ' ')
		t++;
	size_t k = strlen(t);
	while (k && t[k - 1] == ' ')
		k--;
	*tok = t;
	*n = k;
	return 1;
}

/* A browser's WebSocket cannot send Authorization, so /v1/live also takes
 * the token as an offered subprotocol "bearer.<token>" next to
 * LIVE_SUBPROTOCOL (protocol/PROTOCOL.md, /v1/live); the answer names only
 * LIVE_SUBPROTOCOL, so the token is never echoed.  1 and tok[0..n) when
 * one is offered; -1 when a bearer one comes without LIVE_SUBPROTOCOL;
 * 0 when none. */
static int subprotocol_token(req_ctx *r, const char **tok, size_t *n)
{
	int found = 0, ours = 0;
	const struct mg_request_info *ri = r->ri;
	for (int i = 0; i < ri->num_headers; i++) {
		if (strcasecmp(ri->http_headers[i].name, "Sec-WebSocket-Protocol"))
			continue;
		const char *p = ri->http_headers[i].value;
		while (p && *p) {
			while (*p == ' ' || *p == '\t' || *p == ',')
				p++;
			size_t k = strcspn(p, ", \t");
			if (k == strlen(LIVE_SUBPROTOCOL) &&
			    !strncmp(p, LIVE_SUBPROTOCOL, k))
				ours = 1;
			else if (k > 7 && !strncmp(p, "bearer.", 7) && !found) {
				*tok = p + 7;
				*n = k - 7;
				found = 1;
			}
			p += k;
		}
	}
	return found && !ours ? -1 : found;
}

static int authenticate(req_ctx *r, unsigned accept)
{
	const char *tok;
	size_t n;
	if (!bearer_token(r, &tok, &n))
		return FS_E_UNAUTHORIZED;
	return auth_resolve(r->h->e, tok, n, accept, &r->p);
}

#define SESSION ((1u << TOK_SESSION) | (1u << TOK_ADMIN))

/* ---- handlers ------------------------------------------------------------------ */

static int h_sync(req_ctx *r)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wval *body;
	const char *msg = NULL;
	int rc = decode_body(r, 0, &body, &msg);
	if (rc)
		return reply_error(r, rc, msg);
	wbuf out;
	wb_init(&out);
	rc = engine_sync(r->h->e, &r->p, body, r->t_ms, r->a, &out, &msg);
	/* counted before the answer leaves, so a client that reads /metrics
	 * right after its sync sees it */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) +
	           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	size_t i = 0;
	while (i < NLAT && s > lat_bounds[i])
		i++;
	atomic_fetch_add(&r->h->sync_lat[i], 1);
	atomic_fetch_add(&r->h->sync_count, 1);
	atomic_fetch_add(&r->h->sync_sum_us, (uint64_t)(s * 1e6));
	int st = rc ? reply_error(r, rc, msg) : reply_msgpack(r, &out);
	wb_free(&out);
	return st;
}

typedef int (*body_handler)(engine *e, const principal *p, const wval *req,
                            arena *a, wbuf *out, const char **msg);

static int run_body_handler(req_ctx *r, int (*fn)(req_ctx *, const wval *,
                                                  wbuf *, const char **))
{
	wval *body;
	const char *msg = NULL;
	int rc = decode_body(r, 1, &body, &msg);
	if (rc)
		return reply_error(r, rc, msg);
	wbuf out;
	wb_init(&out);
	rc = fn(r, body, &out, &msg);
	int st = rc ? reply_error(r, rc, msg) : reply_msgpack(r, &out);
	wb_free(&out);
	return st;
}

static int do_enroll(req_ctx *r, const wval *b, wbuf *o, const char **m)
{
	return auth_enroll(r->h->e, &r->h->cfg.auth, b, r->a, o, m);
}
static int do_login(req_ctx *r, const wval *b, wbuf *o, const char **m)
{
	int rc = auth_login(r->h->e, &r->h->cfg.auth, &r->p, r->addr, b, r->a, o,
	                    &r->retry_after, m);
	if (rc == FS_E_RATE_LIMITED)
		atomic_fetch_add(&r->h->limited[2], 1);
	return rc;
}
static int do_codes(req_ctx *r, const wval *b, wbuf *o, const char **m)
{
	return auth_enroll_code(r->h->e, &r->p, b, r->a, o, m);
}
static int do_pin(req_ctx *r, const wval *b, wbuf *o, const char **m)
{
	return auth_staff_pin(r->h->e, &r->h->cfg.auth, &r->p, b, r->a, o, m);
}
static int do_revoke(req_ctx *r, const wval *b, wbuf *o, const char **m)
{
	return auth_revoke(r->h->e, &r->p, b, r->a, o, m);
}

static int h_enroll(req_ctx *r) { return run_body_handler(r, do_enroll); }
static int h_login(req_ctx *r) { return run_body_handler(r, do_login); }
static int h_codes(req_ctx *r) { return run_body_handler(r, do_codes); }
static int h_pin(req_ctx *r) { return run_body_handler(r, do_pin); }
static int do_tags(req_ctx *r, const wval *b, wbuf *o, const char **m)
{
	return tags_admin(r->h->e, &r->p, b, r->a, o, m);
}
static int h_tags(req_ctx *r) { return run_body_handler(r, do_tags); }
static int h_revoke(req_ctx *r) { return run_body_handler(r, do_revoke); }

/* POST /v1/admin/import/<site>?kind=K, text/csv (svc/import.h; its
 * body cap IMPORT_BODY_MAX): the answer is JSON, problems by row/column. */
static int h_import(req_ctx *r, const char *site)
{
	char kind[32];
	const char *q = r->ri->query_string, *msg = NULL;
	const char *ct = mg_get_header(r->c, "Content-Type");
	r->want_json = 1;
	if (!ct || strncasecmp(ct, "text/csv", 8) || (ct[8] && ct[8] != ';'))
		return reply_error(r, FS_E_UNSUPPORTED_MEDIA_TYPE,
		                   "Content-Type must be text/csv");
	if (!q || mg_get_var(q, strlen(q), "kind", kind, sizeof(kind)) <= 0)
		return reply_error(r, FS_E_BAD_REQUEST, "?kind=staff, zone, "
		                   "checkpoint, route, roster or standard");
	uint8_t *body = NULL;
	size_t n = 0;
	int rc = read_body(r, IMPORT_BODY_MAX, &body, &n, &msg);
	if (rc)
		return reply_error(r, rc, msg);
	import_result res;
	rc = import_csv(r->h->e, &r->p, site, kind, (const char *)body, n, r->a,
	                &res, &msg);
	free(body);
	if (rc && !res.nissues)
		return reply_error(r, rc, msg);
	wbuf b;
	wb_init(&b);
	import_result_json(&res, rc, msg, &b);
	int st = b.err ? reply_error(r, FS_E_UNAVAILABLE, "out of memory")
	                : send_body(r, rc ? fs_err_status(rc) : 200,
	                            "application/json", b.p, b.n, NULL);
	wb_free(&b);
	return st;
}

/* "ok" and the store id (not secret: every sync answer has it), so a
 * device refused with 401 can tell a reset or replaced server (another
 * store id) from its own revocation (protocol/PROTOCOL.md). */
static int h_healthz(req_ctx *r)
{
	char b[64];
	int n = snprintf(b, sizeof(b), "ok\nstore %s\n",
	                 store_id(engine_store(r->h->e)));
	return send_body(r, 200, "text/plain", (const uint8_t *)b, (size_t)n,
	                 NULL);
}

static int is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1") ||
	       !strncmp(addr, "::ffff:127.", 11);
}

/* /metrics: to the admin token from anywhere, else to a client on
 * loopback — the client address after the trusted proxies (ratelimit.h),
 * so a local TLS proxy does not make it public. */
static int h_metrics(req_ctx *r)
{
	int admin = authenticate(r, 1u << TOK_ADMIN) == FS_OK;
	if (!admin && !is_loopback(r->addr))
		return reply_error(r, FS_E_FORBIDDEN,
		                   "/metrics is served to loopback clients and to "
		                   "the admin token only");
	http_server *h = r->h;
	engine_stats es;
	engine_get_stats(h->e, &es);
	uint64_t used = 0, mapsize = 0;
	store_size(engine_store(h->e), &used, &mapsize);
	wbuf b;
	wb_init(&b);
	char line[256];
#define OUT(...)                                                               \
	do {                                                                   \
		int n_ = snprintf(line, sizeof(line), __VA_ARGS__);            \
		wb_raw(&b, line, (size_t)n_);                                  \
	} while (0)
	OUT("# HELP fieldsync_requests_total HTTP requests answered, by status class.\n");
	OUT("# TYPE fieldsync_requests_total counter\n");
	for (int c = 1; c <= 5; c++)
		OUT("fieldsync_requests_total{class=\"%dxx\"} %llu\n", c,
		    (unsigned long long)atomic_load(&h->requests[c]));
	OUT("# HELP fieldsync_ops_applied_total Ops accepted.\n");
	OUT("# TYPE fieldsync_ops_applied_total counter\n");
	OUT("fieldsync_ops_applied_total %llu\n", (unsigned long long)es.ops_applied);
	OUT("# HELP fieldsync_ops_rejected_total Ops rejected, by code.\n");
	OUT("# TYPE fieldsync_ops_rejected_total counter\n");
	for (int c = 1; c < FS_E__COUNT && c < 32; c++)
		if (es.ops_rejected[c])
			OUT("fieldsync_ops_rejected_total{code=\"%s\"} %llu\n",
			    fs_err_name(c), (unsigned long long)es.ops_rejected[c]);
	OUT("# TYPE fieldsync_batches_total counter\n");
	OUT("fieldsync_batches_total %llu\n", (unsigned long long)es.batches);
	OUT("fieldsync_batches_dup_total %llu\n", (unsigned long long)es.batches_dup);
	OUT("fieldsync_batches_unavailable_total %llu\n",
	    (unsigned long long)es.batches_unavailable);
	OUT("# TYPE fieldsync_group_commits_total counter\n");
	OUT("fieldsync_group_commits_total %llu\n", (unsigned long long)es.groups);
	OUT("# TYPE fieldsync_store_commits_total counter\n");
	OUT("fieldsync_store_commits_total %llu\n",
	    (unsigned long long)store_commits(engine_store(h->e)));
	OUT("# HELP fieldsync_sync_seconds POST /v1/sync latency.\n");
	OUT("# TYPE fieldsync_sync_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t i = 0; i < NLAT; i++) {
		cum += atomic_load(&h->sync_lat[i]);
		OUT("fieldsync_sync_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds[i],
		    (unsigned long long)cum);
	}
	cum += atomic_load(&h->sync_lat[NLAT]);
	OUT("fieldsync_sync_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	OUT("fieldsync_sync_seconds_sum %.6f\n",
	    (double)atomic_load(&h->sync_sum_us) / 1e6);
	OUT("fieldsync_sync_seconds_count %llu\n",
	    (unsigned long long)atomic_load(&h->sync_count));
	OUT("# HELP fieldsync_store_bytes Bytes used in the store's map.\n");
	OUT("# TYPE fieldsync_store_bytes gauge\n");
	OUT("fieldsync_store_bytes %llu\n", (unsigned long long)used);
	OUT("fieldsync_store_map_bytes %llu\n", (unsigned long long)mapsize);
	OUT("# HELP fieldsync_limited_total Requests refused by abuse limits.\n");
	OUT("# TYPE fieldsync_limited_total counter\n");
	static const char *const lim[4] = {"address", "device", "login", "slow_body"};
	for (int i = 0; i < 4; i++)
		OUT("fieldsync_limited_total{limit=\"%s\"} %llu\n", lim[i],
		    (unsigned long long)atomic_load(&h->limited[i]));
	uint64_t capped, slow_head;
	connwatch_counts(h->conns, &capped, &slow_head);
	OUT("fieldsync_limited_total{limit=\"connections\"} %llu\n",
	    (unsigned long long)capped);
	OUT("fieldsync_limited_total{limit=\"slow_head\"} %llu\n",
	    (unsigned long long)slow_head);
	uint64_t live_open, live_dropped;
	live_counts(h->live, &live_open, &live_dropped);
	OUT("# HELP fieldsync_live_sockets Open /v1/live sockets.\n");
	OUT("# TYPE fieldsync_live_sockets gauge\n");
	OUT("fieldsync_live_sockets %llu\n", (unsigned long long)live_open);
	OUT("# HELP fieldsync_live_dropped_total /v1/live sockets dropped for falling behind.\n");
	OUT("# TYPE fieldsync_live_dropped_total counter\n");
	OUT("fieldsync_live_dropped_total %llu\n", (unsigned long long)live_dropped);
#undef OUT
	int st = send_body(r, 200, "text/plain; version=0.0.4", b.p, b.n, NULL);
	wb_free(&b);
	return st;
}

/* GET /v1/reports/devices/<site> (devices.h) */
static int h_report_devices(req_ctx *r, const char *site)
{
	int json = !accepts(mg_get_header(r->c, "Accept"), "application/msgpack");
	wbuf b;
	wb_init(&b);
	const char *msg = NULL;
	int rc = devices_report(r->h->e, &r->p, site, json, r->a, &b, &msg);
	int st = rc     ? reply_error(r, rc, msg)
	         : json ? send_body(r, 200, "application/json", b.p, b.n, NULL)
	                : reply_msgpack(r, &b);
	wb_free(&b);
	return st;
}

/* GET /v1/reports/shift/<shift> and /v1/reports/site/<site>?from=&to=
 * (reports.h): JSON unless msgpack is asked for; CSV for the site. */
static int h_report(req_ctx *r, const char *id, int site)
{
	const char *q = r->ri->query_string;
	int f = reports_format(mg_get_header(r->c, "Accept"), q, site);
	r->want_json = f != REPORT_MSGPACK;
	if (f < 0)
		return reply_error(r, FS_E_BAD_REQUEST,
		                   site ? "format is json, msgpack or csv"
		                        : "format is json or msgpack");
	if (!r->h->cfg.tz)
		return reply_error(r, FS_E_UNAVAILABLE, "reports are not served here");
	wbuf out;
	wb_init(&out);
	const char *msg = NULL;
	int rc = site ? reports_site(r->h->e, r->h->cfg.tz, &r->p, id, q, f,
	                             r->a, &out, &msg)
	              : reports_shift(r->h->e, r->h->cfg.tz, &r->p, id, f, r->a,
	                              &out, &msg);
	int st = rc ? reply_error(r, rc, msg)
	            : send_body(r, 200, reports_ctype(f), out.p, out.n, NULL);
	wb_free(&out);
	return st;
}

static int h_report_shift(req_ctx *r, const char *rest) { return h_report(r, rest, 0); }
static int h_report_site(req_ctx *r, const char *rest) { return h_report(r, rest, 1); }

/* GET /v1/reports/lockouts/<site>: login lockouts (lockout.h) */
static int h_report_lockouts(req_ctx *r, const char *site)
{
	if (valid_id(site, strlen(site)))
		return reply_error(r, FS_E_NOT_FOUND, "no such site");
	if (!policy_manages_site(&r->p, site))
		return reply_error(r, FS_E_FORBIDDEN,
		                   "reports are for the site's supervisors and admins");
	int json = !accepts(mg_get_header(r->c, "Accept"), "application/msgpack");
	wbuf b;
	wb_init(&b);
	int rc = lockout_report(r->h->cfg.auth.lock, site, json,
	                        engine_now(r->h->e), &b);
	int st = rc     ? reply_error(r, rc, NULL)
	         : json ? send_body(r, 200, "application/json", b.p, b.n, NULL)
	                : reply_msgpack(r, &b);
	wb_free(&b);
	return st;
}

/* ---- blobs -------------------------------------------------------------------- */

static int blob_name_ok(const char *hex)
{
	if (strlen(hex) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	return 1;
}

/* 1 when the session may fetch the blob (blobref.h), 0 when not, -1 when
 * the store cannot say. */
static int blob_in_scope(req_ctx *r, const char *hex)
{
	if (r->p.role == ROLE_ADMIN)
		return 1;
	store_txn *t;
	if (store_begin(engine_store(r->h->e), 0, &t))
		return -1;
	char **scope;
	unsigned n;
	int ok = engine_scope(r->h->e, t, &r->p, r->t_ms, r->a, &scope, &n)
	                 ? -1
	                 : blobref_visible(t, hex, r->p.device, scope, n);
	store_abort(t);
	return ok;
}

/* The upload quotas (blobquota.h), before the body is read: 0, or the
 * status of the refusal sent. */
static int blob_quota_refused(req_ctx *r, uint64_t bytes)
{
	store_txn *t;
	const char *msg = NULL;
	if (store_begin(engine_store(r->h->e), 0, &t))
		return reply_error(r, FS_E_UNAVAILABLE, "store unavailable");
	int rc = blobquota_admit(t, &r->h->cfg.blobq, &r->p, bytes, r->t_ms,
	                         &r->retry_after, &msg);
	store_abort(t);
	return rc ? reply_error(r, rc, msg) : 0;
}

typedef struct {
	const principal *p;
	const char *hex;
	uint64_t bytes, now;
	int is_new;
} blob_kept;

static int blob_kept_txn(void *ctx, store_txn *t)
{
	blob_kept *k = ctx;
	int rc = blobref_uploaded(t, k->hex, k->p->device);
	return rc ? rc : blobquota_charge(t, k->p, k->hex, k->bytes, k->now,
	                                  k->is_new);
}

static int h_blob_put(req_ctx *r, const char *hex)
{
	const fs_limits *l = engine_limits(r->h->e);
	long long cl = r->ri->content_length;
	if (cl >= 0 && (unsigned long long)cl > l->blob_max)
		return reply_error(r, FS_E_TOO_LARGE, "blobs are at most 16 MiB");
	int refused = blob_quota_refused(r, cl > 0 ? (uint64_t)cl : 0);
	if (refused)
		return refused;
	const char *ce = mg_get_header(r->c, "Content-Encoding");
	if (ce && *ce && strcasecmp(ce, "identity"))
		return reply_error(r, FS_E_UNSUPPORTED_MEDIA_TYPE,
		                   "blobs are sent as raw bytes");
	char tmp[4200], final[4200];
	uint8_t rnd[8];
	char rh[17];
	crypto_random(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), rh);
	snprintf(tmp, sizeof(tmp), "%s/tmp-%s", r->h->blob_dir, rh);
	snprintf(final, sizeof(final), "%s/%s", r->h->blob_dir, hex);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return reply_error(r, FS_E_UNAVAILABLE, "cannot store blobs now");
	crypto_sha *sh = crypto_sha_new();
	uint8_t buf[65536];
	size_t total = 0;
	int rc = FS_OK;
	const char *msg = NULL;
	for (;;) {
		int n = body_read(r, buf, sizeof(buf), total);
		if (n < 0) {
			rc = FS_E_BAD_REQUEST;
			msg = n == -2 ? "the body came too slowly"
			              : "could not read the body";
			break;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > l->blob_max) {
			rc = FS_E_TOO_LARGE;
			msg = "blobs are at most 16 MiB";
			break;
		}
		crypto_sha_update(sh, buf, (size_t)n);
		if (write(fd, buf, (size_t)n) != n) {
			rc = FS_E_UNAVAILABLE;
			msg = "disk write failed";
			break;
		}
	}
	uint8_t digest[32];
	char dh[65];
	crypto_sha_final(sh, digest);
	hex_encode(digest, 32, dh);
	if (!rc && strcmp(dh, hex)) {
		rc = FS_E_BAD_REQUEST;
		msg = "the bytes do not hash to the name";
	}
	if (!rc && fdatasync(fd)) {
		rc = FS_E_UNAVAILABLE;
		msg = "disk sync failed";
	}
	close(fd);
	int is_new = access(final, F_OK) != 0;
	if (!rc && rename(tmp, final)) {
		rc = FS_E_UNAVAILABLE;
		msg = "could not keep the blob";
	}
	if (rc) {
		unlink(tmp);
		return reply_error(r, rc, msg);
	}
	int dfd = open(r->h->blob_dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	/* the uploader may fetch it back (blobref.h); the quotas' count */
	blob_kept up = {&r->p, hex, total, r->t_ms, is_new};
	if (engine_write(r->h->e, blob_kept_txn, &up))
		return reply_error(r, FS_E_UNAVAILABLE, "store unavailable");
	wbuf b;
	wb_init(&b);
	wb_map(&b, 1);
	wb_cstr(&b, "ok");
	wb_bool(&b, 1);
	int st = reply_msgpack(r, &b);
	wb_free(&b);
	return st;
}

static int h_blob_get(req_ctx *r, const char *hex)
{
	/* out of scope looks the same as absent: no oracle for other sites */
	int vis = blob_in_scope(r, hex);
	if (vis < 0)
		return reply_error(r, FS_E_UNAVAILABLE, NULL);
	if (!vis)
		return reply_error(r, FS_E_NOT_FOUND, "no such blob");
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", r->h->blob_dir, hex);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return reply_error(r, FS_E_NOT_FOUND, "no such blob");
	struct stat stt;
	if (fstat(fd, &stt)) {
		close(fd);
		return reply_error(r, FS_E_UNAVAILABLE, NULL);
	}
	mg_printf(r->c,
	          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
	          "Content-Length: %lld\r\nCache-Control: private, max-age=31536000, "
	          "immutable\r\n\r\n",
	          (long long)stt.st_size);
	uint8_t buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (mg_write(r->c, buf, (size_t)n) <= 0)
			break;
	close(fd);
	atomic_fetch_add(&r->h->requests[2], 1);
	atomic_fetch_add(&r->h->requests[0], 1);
	return 200;
}

/* ---- audit trail ----------------------------------------------------------------- */

/* A uint64 query parameter: FS_OK (dflt when absent) or FS_E_BAD_REQUEST. */
static int audit_q_u64(req_ctx *r, const char *name, uint64_t dflt,
                       uint64_t *out)
{
	const char *q = r->ri->query_string;
	char buf[32], *end;
	int n = q ? mg_get_var(q, strlen(q), name, buf, sizeof(buf)) : -1;
	*out = dflt;
	if (n == -1)
		return FS_OK;
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return FS_E_BAD_REQUEST;
	errno = 0;
	*out = strtoull(buf, &end, 10);
	return errno || *end ? FS_E_BAD_REQUEST : FS_OK;
}

/* GET /v1/audit/<collection>/<id>?after=&limit= and
 * GET /v1/audit/_reads?from=&to=&after=&limit= (audit.h) */
static int h_audit(req_ctx *r, const char *rest)
{
	uint64_t after, limit, from, to;
	if (audit_q_u64(r, "after", 0, &after) ||
	    audit_q_u64(r, "limit", 500, &limit) ||
	    audit_q_u64(r, "from", 0, &from) ||
	    audit_q_u64(r, "to", UINT64_MAX, &to))
		return reply_error(r, FS_E_BAD_REQUEST,
		                   "after, limit, from and to are unsigned integers");
	if (limit == 0 || limit > 5000)
		limit = limit ? 5000 : 500;
	int json = !accepts(mg_get_header(r->c, "Accept"), "application/msgpack");
	const char *msg = NULL;
	wbuf b;
	wb_init(&b);
	int rc;
	if (!strcmp(rest, "_reads")) {
		rc = audit_reads(r->h->e, &r->p, from, to, after, (uint32_t)limit,
		                 json, r->a, &b, &msg);
	} else {
		const char *slash = strchr(rest, '/');
		char *c = slash ? arena_strndup(r->a, rest, (size_t)(slash - rest))
		                : NULL;
		if (!c || !schema_collection(c, strlen(c)) ||
		    valid_id(slash + 1, strlen(slash + 1)))
			rc = FS_E_NOT_FOUND, msg = "GET /v1/audit/<collection>/<id> "
			                           "or /v1/audit/_reads";
		else
			rc = audit_history(r->h->e, &r->p, c, slash + 1, after,
			                   (uint32_t)limit, json, r->a, &b, &msg);
	}
	int st;
	if (rc)
		st = reply_error(r, rc, msg);
	else if (json)
		st = b.err ? reply_error(r, FS_E_UNAVAILABLE, "out of memory")
		           : send_body(r, 200, "application/json", b.p, b.n, NULL);
	else
		st = reply_msgpack(r, &b);
	wb_free(&b);
	return st;
}

/* ---- routing -------------------------------------------------------------------- */

typedef struct {
	const char *method;
	const char *path;   /* exact, or a prefix when it ends in '/' */
	unsigned auth;      /* token kinds accepted; 0: none */
	int (*fn)(req_ctx *r);
	int (*fn_arg)(req_ctx *r, const char *rest);
} route;

static int h_blob_dispatch(req_ctx *r, const char *rest);

static const route routes[] = {
	{"POST", "/v1/sync", SESSION, h_sync, NULL},
	{"POST", "/v1/enroll", 0, h_enroll, NULL},
	{"POST", "/v1/login", 1u << TOK_DEVICE, h_login, NULL},
	{"POST", "/v1/admin/enroll-codes", SESSION, h_codes, NULL},
	{"POST", "/v1/admin/staff-pin", SESSION, h_pin, NULL},
	{"POST", "/v1/admin/tags", SESSION, h_tags, NULL},
	{"POST", "/v1/admin/revoke", SESSION, h_revoke, NULL},
	{"POST", "/v1/admin/import/", SESSION, NULL, h_import},
	{"GET", "/v1/reports/devices/", SESSION, NULL, h_report_devices},
	{"GET", "/v1/reports/lockouts/", SESSION, NULL, h_report_lockouts},
	{"GET", "/v1/reports/shift/", SESSION, NULL, h_report_shift},
	{"GET", "/v1/reports/site/", SESSION, NULL, h_report_site},
	{"GET", "/v1/audit/", SESSION, NULL, h_audit},
	{"PUT", "/v1/blobs/", SESSION, NULL, h_blob_dispatch},
	{"GET", "/v1/blobs/", SESSION, NULL, h_blob_dispatch},
	{"GET", "/healthz", 0, h_healthz, NULL},
	{"GET", "/metrics", 0, h_metrics, NULL},
};

static int h_blob_dispatch(req_ctx *r, const char *rest)
{
	if (!blob_name_ok(rest))
		return reply_error(r, FS_E_BAD_REQUEST,
		                   "a blob is named by 64 lower-case hex digits of its SHA-256");
	return strcmp(r->ri->request_method, "PUT") ? h_blob_get(r, rest)
	                                            : h_blob_put(r, rest);
}

/* The client address (ratelimit.h): the peer, or behind a trusted
 * proxy the X-Forwarded-For entry the proxies vouch for (the last 16
 * header lines at most: the right-most entries are the ones that count). */
static void client_addr(req_ctx *r)
{
	const char *xff[16];
	unsigned n = 0;
	if (rl_proxy_trusted(r->h->proxies, r->ri->remote_addr)) {
		for (int i = r->ri->num_headers; i-- > 0 && n < 16;)
			if (!strcasecmp(r->ri->http_headers[i].name, "X-Forwarded-For"))
				xff[n++] = r->ri->http_headers[i].value;
		for (unsigned i = 0; i < n / 2; i++) {
			const char *x = xff[i];
			xff[i] = xff[n - 1 - i];
			xff[n - 1 - i] = x;
		}
	}
	rl_client_addr(r->h->proxies, r->ri->remote_addr, xff, n, r->addr);
}

/* The head as CivetWeb kept it.  It keeps MG_MAX_HEADERS header lines
 * and drops the rest without a word, so a full table may have lost a
 * Content-Length (the body would be read as the next request) or the
 * X-Forwarded-For line a trusted proxy appended (the client could choose
 * its own address): such a request is refused, never guessed at; so is
 * a repeated Content-Length.  NULL when the head is fine. */
static const char *head_refusal(const struct mg_request_info *ri)
{
	if (ri->num_headers >= MG_MAX_HEADERS)
		return "too many header lines (at most 63)";
	int cl = 0;
	for (int i = 0; i < ri->num_headers; i++)
		cl += !strcasecmp(ri->http_headers[i].name, "Content-Length");
	return cl > 1 ? "more than one Content-Length" : NULL;
}

static int path_match(const route *rt, const char *uri, const char **rest)
{
	size_t n = strlen(rt->path);
	if (rt->path[n - 1] == '/') {
		if (strncmp(uri, rt->path, n) || !uri[n])
			return 0;
		*rest = uri + n;
		return 1;
	}
	*rest = NULL;
	return strcmp(uri, rt->path) == 0;
}

static int dispatch(struct mg_connection *c, void *cbdata)
{
	http_server *h = cbdata;
	req_ctx r;
	memset(&r, 0, sizeof(r));
	r.h = h;
	r.c = c;
	r.ri = mg_get_request_info(c);
	r.t_ms = engine_now(h->e);
	r.mono0 = mono_ms();
	r.want_json = errfmt_json(mg_get_header(c, "Accept"),
	                          mg_get_header(c, "Content-Type"));
	const char *bad = head_refusal(r.ri);
	if (bad) {
		int st = reply_error(&r, FS_E_BAD_REQUEST, bad);
		mg_close_connection(c); /* its body cannot be told from the next request */
		return st;
	}
	client_addr(&r);
	r.a = arena_new(64 * 1024);
	if (!r.a)
		return reply_error(&r, FS_E_UNAVAILABLE, "out of memory");
	const char *uri = r.ri->local_uri ? r.ri->local_uri : "";
	const route *hit = NULL, *path_hit = NULL;
	const char *rest = NULL;
	int st;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *rs;
		if (!path_match(&routes[i], uri, &rs))
			continue;
		path_hit = &routes[i];
		if (!strcmp(routes[i].method, r.ri->request_method)) {
			hit = &routes[i];
			rest = rs;
			break;
		}
	}
	/* abuse limits: the address before any work (also for unknown
	 * paths), the device once known; /healthz and /metrics are free */
	int limited = !hit || (hit->fn != h_healthz && hit->fn != h_metrics);
	if (limited && (r.retry_after = rl_take(h->rl_addr, r.addr,
	                                        strlen(r.addr), r.mono0))) {
		atomic_fetch_add(&h->limited[0], 1);
		st = reply_error(&r, FS_E_RATE_LIMITED,
		                 "too many requests from this address");
		goto out;
	}
	if (!hit && !path_hit && h->cfg.web_dir &&
	    web_owns(r.ri->request_method, uri) &&
	    (st = web_serve(c, h->cfg.web_dir, uri, h->cfg.tls != NULL)))
		goto out; /* the web app (web.h) */
	if (!hit) {
		st = path_hit ? reply_error(&r, FS_E_METHOD_NOT_ALLOWED, NULL)
		              : reply_error(&r, FS_E_NOT_FOUND, "no such endpoint");
		goto out;
	}
	if (hit->auth) {
		int rc = authenticate(&r, hit->auth);
		if (rc) {
			st = reply_error(&r, rc, rc == FS_E_UNAUTHORIZED
			                                 ? "missing, unknown, expired or revoked token"
			                                 : NULL);
			goto out;
		}
		/* the admin token is exempt (bulk imports); its address is not */
		if (r.p.role != ROLE_ADMIN &&
		    (r.retry_after = rl_take(h->rl_dev, r.p.device,
		                             strlen(r.p.device), r.mono0))) {
			atomic_fetch_add(&h->limited[1], 1);
			st = reply_error(&r, FS_E_RATE_LIMITED,
			                 "too many requests from this device");
			goto out;
		}
	}
	/* every lookup of the archive is logged, durably, before it is served */
	if (hit->auth && audit_is_archive_read(uri) &&
	    audit_read(h->e, &r.p, uri, r.ri->query_string)) {
		st = reply_error(&r, FS_E_UNAVAILABLE,
		                 "the lookup could not be logged; retry later");
		goto out;
	}
	st = hit->fn ? hit->fn(&r) : hit->fn_arg(&r, rest);
out:
	arena_free(r.a);
	/* a body cut off for slowness: close now rather than let CivetWeb
	 * read the rest of it (it drains unread bodies to keep the connection
	 * alive).  mg_close_connection on a server connection inside its
	 * handler closes the socket and marks it to close; the worker then
	 * finds it closed (civetweb.c close_connection is idempotent). */
	if (r.close_after)
		mg_close_connection(c);
	return st;
}

/* ---- /v1/live --------------------------------------------------------------------- */

static int live_connect(const struct mg_connection *cc, void *cbdata)
{
	http_server *h = cbdata;
	struct mg_connection *c = (struct mg_connection *)cc;
	req_ctx r;
	memset(&r, 0, sizeof(r));
	r.h = h;
	r.c = c;
	r.ri = mg_get_request_info(c);
	r.want_json = errfmt_json(mg_get_header(c, "Accept"), NULL);
	const char *bad = head_refusal(r.ri);
	if (bad) {
		reply_error(&r, FS_E_BAD_REQUEST, bad);
		return 1;
	}
	client_addr(&r);
	const char *tok = NULL;
	size_t tn = 0;
	int sub = bearer_token(&r, &tok, &tn) ? 0 : subprotocol_token(&r, &tok, &tn);
	if (sub < 0) {
		reply_error(&r, FS_E_BAD_REQUEST, "a bearer.<token> subprotocol "
		            "comes with the " LIVE_SUBPROTOCOL " subprotocol");
		return 1;
	}
	int rc = (r.retry_after = rl_take(h->rl_addr, r.addr, strlen(r.addr),
	                                  mono_ms()))
	                 ? FS_E_RATE_LIMITED
	         : tok   ? auth_resolve(h->e, tok, tn, SESSION, &r.p)
	                 : FS_E_UNAUTHORIZED;
	if (rc) {
		/* refuse before the handshake, with the usual error body */
		reply_error(&r, rc, rc == FS_E_RATE_LIMITED
		                        ? "too many requests from this address"
		                        : "missing, unknown, expired or revoked token");
		return 1;
	}
	rc = live_add(h->live, c, &r.p, tok, tn);
	if (rc) {
		r.retry_after = 30;
		reply_error(&r, rc == FS_E_INTERNAL ? FS_E_UNAVAILABLE : rc,
		            rc == FS_E_RATE_LIMITED
		                    ? "this device has /v1/live open already"
		                    : "no room for another /v1/live socket now; sync "
		                      "periodically and retry later");
		return 1;
	}
	return 0;
}

/* The one subprotocol CivetWeb may answer with (never a bearer one). */
static const char *live_protocol_names[] = {LIVE_SUBPROTOCOL};
static struct mg_websocket_subprotocols live_protocols = {
	1, live_protocol_names};

static void live_ready(struct mg_connection *c, void *cbdata) {}

static int live_data(struct mg_connection *c, int bits, char *data, size_t n,
                     void *cbdata)
{
	return 1; /* clients do not talk; keep the connection */
}

static void live_close(const struct mg_connection *cc, void *cbdata)
{
	http_server *h = cbdata;
	live_closed(h->live, cc);
}

/* ---- start and stop ----------------------------------------------------------------- */

/* Why CivetWeb could not bind, kept for http_start's message: its own
 * line names the port with an "s" for HTTPS ("127.0.0.1:8443s"). */
static __thread char bind_why[160];

static int log_message(const struct mg_connection *c, const char *msg)
{
	const char *why;
	if (!strncmp(msg, "cannot bind to ", 15) && (why = strstr(msg, ": "))) {
		snprintf(bind_why, sizeof(bind_why), "%s", why + 2);
		return 1;
	}
	if (bind_why[0] && !strcmp(msg, "Failed to setup server ports"))
		return 1;
	fprintf(stderr, "fieldsyncd: http: %s\n", msg);
	return 1;
}

/* ---- connections: a cap per address, a deadline for each head ------------------ */

/* connwatch.h watches the sockets; it is told when a head is in and when
 * an answer is done. */
static void on_mark(const struct mg_connection *c, int busy)
{
	http_server *h = mg_get_user_data(mg_get_context(c));
	const struct mg_request_info *ri = mg_get_request_info(c);
	if (h && ri)
		connwatch_mark(h->conns, ri->remote_addr, ri->remote_port, busy);
}

static int on_begin_request(struct mg_connection *c)
{
	on_mark(c, 1);
	return 0; /* go on to the handlers */
}

static void on_end_request(const struct mg_connection *c, int status)
{
	on_mark(c, 0);
}

/* Each /v1/live socket holds a worker for as long as it is open: a
 * quarter of the workers stay free for requests (a stolen token must not
 * take them all). */
static unsigned live_max(unsigned threads)
{
	if (!threads)
		threads = 16;
	return threads - threads / 4;
}

/* CivetWeb's SSL_CTX is set up by tls.c; 1: "done, load nothing". */
static int init_ssl(void *ssl_ctx, void *user_data)
{
	http_server *h = user_data;
	return tls_setup_ctx(h->cfg.tls, ssl_ctx) ? -1 : 1;
}

int http_start(http_server **out, engine *e, const http_cfg *cfg)
{
	*out = NULL;
	http_server *h = calloc(1, sizeof(*h));
	if (!h)
		return FS_E_INTERNAL;
	h->e = e;
	h->cfg = *cfg;
	snprintf(h->blob_dir, sizeof(h->blob_dir), "%s", cfg->blob_dir);
	mkdir(h->blob_dir, 0700);

	char err[200];
	if (!h->cfg.request_timeout_ms)
		h->cfg.request_timeout_ms = 30000;
	if (!h->cfg.head_timeout_ms)
		h->cfg.head_timeout_ms = 10000;
	if (rl_open(&h->rl_dev, &cfg->rate_device) ||
	    rl_open(&h->rl_addr, &cfg->rate_address) ||
	    lockout_open(&h->cfg.auth.lock, e, &cfg->lockout) ||
	    bodywatch_start(&h->watch, cfg->threads ? cfg->threads : 16) ||
	    live_start(&h->live, e, live_max(cfg->threads))) {
		fprintf(stderr, "fieldsyncd: out of memory\n");
		http_stop(h);
		return FS_E_INTERNAL;
	}
	if (rl_proxies_parse(&h->proxies, cfg->trusted_proxies, err, sizeof(err))) {
		fprintf(stderr, "fieldsyncd: %s\n", err);
		http_stop(h);
		return FS_E_INTERNAL;
	}

	char ports[300], threads[16], timeout[16], queue[16], keep[16];
	snprintf(ports, sizeof(ports), "%s%s", cfg->listen, cfg->tls ? "s" : "");
	snprintf(threads, sizeof(threads), "%u", cfg->threads ? cfg->threads : 16);
	snprintf(timeout, sizeof(timeout), "%u", h->cfg.request_timeout_ms);
	snprintf(queue, sizeof(queue), "%u",
	         cfg->connection_queue ? cfg->connection_queue : 20);
	snprintf(keep, sizeof(keep), "%u",
	         cfg->keep_alive_ms ? cfg->keep_alive_ms : 30000);
	const char *opts[32];
	int n = 0;
	opts[n++] = "listening_ports";
	opts[n++] = ports;
	opts[n++] = "num_threads";
	opts[n++] = threads;
	opts[n++] = "request_timeout_ms";
	opts[n++] = timeout;
	opts[n++] = "enable_keep_alive";
	opts[n++] = "yes";
	/* headers and body go out in separate writes: without NODELAY, Nagle
	 * holds the second until the client's delayed ACK (40 ms) */
	opts[n++] = "tcp_nodelay";
	opts[n++] = "1";
	opts[n++] = "keep_alive_timeout_ms";
	opts[n++] = keep;
	opts[n++] = "connection_queue";
	opts[n++] = queue;
	opts[n++] = "max_request_size";
	opts[n++] = "32768";
	if (cfg->tls) {
		/* the certificate, minimum version and ciphers come from
		 * tls_setup_ctx (init_ssl below); this is belt and braces */
		opts[n++] = "ssl_protocol_version";
		opts[n++] = "4"; /* TLS 1.2 and newer */
	}
	opts[n] = NULL;

	struct mg_callbacks cb;
	memset(&cb, 0, sizeof(cb));
	cb.log_message = log_message;
	cb.begin_request = on_begin_request;
	cb.end_request = on_end_request;
	if (cfg->tls)
		cb.init_ssl = init_ssl;
	mg_init_library(cfg->tls ? MG_FEATURES_TLS : 0);
	h->ctx = mg_start(&cb, h, opts);
	if (!h->ctx) {
		fprintf(stderr, "fieldsyncd: cannot listen on %s (%s)%s%s\n",
		        cfg->listen, cfg->tls ? "HTTPS" : "HTTP",
		        bind_why[0] ? ": " : "", bind_why);
		http_stop(h);
		return FS_E_INTERNAL;
	}
	struct mg_server_port sp[4];
	int nports = mg_get_server_ports(h->ctx, 4, sp);
	connwatch_cfg cw = {nports > 0 ? sp[0].port : 0, cfg->conn_per_address,
	                    h->cfg.head_timeout_ms,
	                    cfg->keep_alive_ms ? cfg->keep_alive_ms : 30000,
	                    h->proxies};
	if (connwatch_start(&h->conns, &cw)) {
		fprintf(stderr, "fieldsyncd: out of memory\n");
		http_stop(h);
		return FS_E_INTERNAL;
	}
	engine_set_notify(e, live_notify, h->live);
	mg_set_request_handler(h->ctx, "/", dispatch, h);
	mg_set_websocket_handler_with_subprotocols(h->ctx, "/v1/live",
	                                           &live_protocols, live_connect,
	                                           live_ready, live_data,
	                                           live_close, h);
	*out = h;
	return FS_OK;
}

void http_stop(http_server *h)
{
	if (!h)
		return;
	engine_set_notify(h->e, NULL, NULL);
	if (h->ctx)
		mg_stop(h->ctx);
	live_stop(h->live);
	bodywatch_stop(h->watch);
	connwatch_stop(h->conns);
	rl_close(h->rl_dev);
	rl_close(h->rl_addr);
	rl_proxies_free(h->proxies);
	lockout_close(h->cfg.auth.lock);
	free(h);
}
