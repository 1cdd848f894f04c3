/*
 * loadgen.c — the benchmark's load generator (BENCHMARKS.md).
 *
 * One C client drives both systems with the same documents, over raw
 * sockets: HTTP/1.1 keep-alive on loopback, one thread per concurrent
 * client, bodies encoded before the clock starts.  It speaks fieldsync's
 * msgpack /v1/sync (encoded with libfsproto's wbuf) and CouchDB's JSON
 * API as PouchDB Server serves it (_bulk_docs, _changes, _index, _find).
 *
 *   loadgen COMMAND [--key value ...]
 *
 * fieldsync's pulls ask for the v1 encoding unless `--wire v2` is given
 * (protocol/PROTOCOL.md, "Pull encoding v2"); a v2 answer's pages are
 * decoded into v1 records before anything is counted.
 *
 * Every command prints one JSON object on stdout (its figures); errors
 * go to stderr and make the exit status non-zero.  bench/run.py runs the
 * commands, takes medians and writes bench/results/latest.json.
 *
 * The task record (same fields and values for both systems, ~250 bytes
 * as JSON): site, shift, zone, title, status, assignee, due_from, due_to,
 * note.  Record n of a data set is in shift n / 1000 ("sh-%05d").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "protocol/arena.h"
#include "protocol/colwire.h"
#include "protocol/wire.h"
#include "protocol/zbody.h"

#define PER_SHIFT 1000
#define SITE "s-bench"
#define HOUR_MS (3600ULL * 1000)
#define RESP_MAX ((size_t)512 << 20)

/* ---- small things ---------------------------------------------------------- */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now_s(void)
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

/* HLC stamps for ops: wall_ms << 16 | counter, strictly increasing. */
static _Atomic uint64_t hlc_last;
static uint64_t hlc_next(void)
{
	uint64_t want = wall_ms() << 16, cur = atomic_load(&hlc_last);
	for (;;) {
		uint64_t nx = want > cur ? want : cur + 1;
		if (atomic_compare_exchange_weak(&hlc_last, &cur, nx))
			return nx;
	}
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory");
	return p;
}

/* ---- arguments ---------------------------------------------------------------- */

static int g_argc;
static char **g_argv;

static const char *arg_s(const char *name, const char *def)
{
	for (int i = 2; i + 1 < g_argc; i++)
		if (!strcmp(g_argv[i], name))
			return g_argv[i + 1];
	return def;
}

static long arg_i(const char *name, long def)
{
	const char *s = arg_s(name, NULL);
	if (!s)
		return def;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 0)
		die("%s: bad number '%s'", name, s);
	return v;
}

static const char *arg_req(const char *name)
{
	const char *s = arg_s(name, NULL);
	if (!s)
		die("%s is required", name);
	return s;
}

static int arg_flag(const char *name)
{
	for (int i = 2; i < g_argc; i++)
		if (!strcmp(g_argv[i], name))
			return 1;
	return 0;
}

/* ---- latency lists ------------------------------------------------------------- */

typedef struct {
	double *v;
	size_t n, cap;
	pthread_mutex_t mu;
} lat;

static void lat_init(lat *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
}

static void lat_add(lat *l, double ms)
{
	pthread_mutex_lock(&l->mu);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(double));
		if (!l->v)
			die("out of memory");
	}
	l->v[l->n++] = ms;
	pthread_mutex_unlock(&l->mu);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile. */
static double lat_pct(lat *l, double p)
{
	if (!l->n)
		return 0;
	qsort(l->v, l->n, sizeof(double), dcmp);
	size_t k = (size_t)(p / 100.0 * (double)l->n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > l->n)
		k = l->n;
	return l->v[k - 1];
}

/* ---- HTTP/1.1 client ------------------------------------------------------------- */

/* The servers: --url, or for fs-ingest and fs-load a comma-separated
 * list of nodes serving one store, client i talking to node i % n. */
#define TARGETS_MAX 8
typedef struct {
	char host[64];
	int port;
} target;
static target g_to[TARGETS_MAX];
static int g_nto;

typedef struct {
	int fd;
	const target *to;
	uint8_t buf[65536];
	size_t have, off; /* buffered bytes: buf[off..have) */
} hconn;

typedef struct {
	int status;
	uint8_t *body;    /* as on the wire (content-coded), NUL-terminated */
	size_t n, cap;
	size_t head_bytes;
	char enc[16];     /* Content-Encoding, "" for identity */
	int close;
} hresp;

static void parse_one(const char *url, size_t len, target *t)
{
	const char *p = url, *end = url + len;
	for (const char *q = url; q + 3 <= end; q++)
		if (!memcmp(q, "://", 3)) {
			p = q + 3;
			break;
		}
	const char *colon = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == ':')
			colon = q;
	if (!colon)
		die("url needs a port: %.*s", (int)len, url);
	size_t hn = (size_t)(colon - p);
	if (hn == 0 || hn >= sizeof(t->host))
		die("bad url %.*s", (int)len, url);
	memcpy(t->host, p, hn);
	t->host[hn] = 0;
	char *pe;
	long port = strtol(colon + 1, &pe, 10);
	if (pe != end || port <= 0 || port > 65535)
		die("bad url %.*s", (int)len, url);
	t->port = (int)port;
}

/* One URL, or (list: 1) a comma-separated list of them. */
static void parse_urls(const char *urls, int list)
{
	g_nto = 0;
	for (const char *p = urls;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (g_nto == TARGETS_MAX)
			die("--url: at most %d servers", TARGETS_MAX);
		parse_one(p, len, &g_to[g_nto++]);
		if (!comma)
			break;
		if (!list)
			die("--url: one server only for this command");
		p = comma + 1;
	}
}

static void parse_url(const char *url)
{
	parse_urls(url, 0);
}

static void hc_init(hconn *c)
{
	c->fd = -1;
	c->to = &g_to[0];
	c->have = c->off = 0;
}

static void hc_close(hconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->have = c->off = 0;
}

static int hc_connect(hconn *c)
{
	hc_close(c);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)c->to->port);
	if (inet_pton(AF_INET, c->to->host, &sa.sin_addr) != 1) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {600, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->fd = fd;
	return 0;
}

static int fill(hconn *c)
{
	if (c->off == c->have)
		c->off = c->have = 0;
	if (c->have == sizeof(c->buf)) {
		memmove(c->buf, c->buf + c->off, c->have - c->off);
		c->have -= c->off;
		c->off = 0;
	}
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->have += (size_t)n;
		return 0;
	}
}

/* One line (CRLF) from the buffer into out. */
static int read_line(hconn *c, char *out, size_t cap)
{
	size_t k = 0;
	for (;;) {
		while (c->off < c->have) {
			char ch = (char)c->buf[c->off++];
			if (ch == '\n') {
				if (k && out[k - 1] == '\r')
					k--;
				out[k] = 0;
				return 0;
			}
			if (k + 1 < cap)
				out[k++] = ch;
		}
		if (fill(c))
			return -1;
	}
}

static void body_room(hresp *r, size_t more)
{
	if (r->n + more + 1 <= r->cap)
		return;
	size_t nc = r->cap ? r->cap : 65536;
	while (nc < r->n + more + 1)
		nc *= 2;
	if (nc > RESP_MAX)
		die("response over %zu bytes", RESP_MAX);
	r->body = realloc(r->body, nc);
	if (!r->body)
		die("out of memory");
	r->cap = nc;
}

static int read_n(hconn *c, hresp *r, size_t n)
{
	body_room(r, n);
	while (n) {
		if (c->off == c->have && fill(c))
			return -1;
		size_t k = c->have - c->off;
		if (k > n)
			k = n;
		memcpy(r->body + r->n, c->buf + c->off, k);
		r->n += k;
		c->off += k;
		n -= k;
	}
	return 0;
}

static int read_response(hconn *c, hresp *r, int head_only)
{
	char line[8192];
	r->n = 0;
	r->enc[0] = 0;
	r->close = 0;
	r->head_bytes = 0;
	if (read_line(c, line, sizeof(line)))
		return -1;
	r->head_bytes += strlen(line) + 2;
	if (strncmp(line, "HTTP/1.", 7) || strlen(line) < 12)
		return -1;
	r->status = atoi(line + 9);
	long long cl = -1;
	int chunked = 0;
	for (;;) {
		if (read_line(c, line, sizeof(line)))
			return -1;
		r->head_bytes += strlen(line) + 2;
		if (!line[0])
			break;
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		if (!strcasecmp(line, "Content-Length"))
			cl = atoll(v);
		else if (!strcasecmp(line, "Transfer-Encoding") && strcasestr(v, "chunked"))
			chunked = 1;
		else if (!strcasecmp(line, "Content-Encoding"))
			snprintf(r->enc, sizeof(r->enc), "%s", v);
		else if (!strcasecmp(line, "Connection") && strcasestr(v, "close"))
			r->close = 1;
	}
	if (head_only)
		cl = 0;
	if (chunked) {
		for (;;) {
			if (read_line(c, line, sizeof(line)))
				return -1;
			size_t k = strtoul(line, NULL, 16);
			if (k == 0) {
				/* trailers up to the empty line */
				do {
					if (read_line(c, line, sizeof(line)))
						return -1;
				} while (line[0]);
				break;
			}
			if (read_n(c, r, k) || read_line(c, line, sizeof(line)))
				return -1;
		}
	} else if (cl >= 0) {
		if (read_n(c, r, (size_t)cl))
			return -1;
	} else {
		/* until close */
		body_room(r, 0);
		for (;;) {
			if (c->off == c->have && fill(c))
				break;
			size_t k = c->have - c->off;
			body_room(r, k);
			memcpy(r->body + r->n, c->buf + c->off, k);
			r->n += k;
			c->off = c->have;
		}
		r->close = 1;
	}
	body_room(r, 0);
	r->body[r->n] = 0;
	return 0;
}

/* Send one request and read its answer.  A keep-alive connection the
 * server closed meanwhile is reopened once. */
static int hc_do(hconn *c, const char *method, const char *path,
                 const char *headers, const void *body, size_t n, hresp *r)
{
	char head[4096];
	int hn = snprintf(head, sizeof(head),
	                  "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: %zu\r\n\r\n",
	                  method, path, c->to->host, c->to->port,
	                  headers ? headers : "", n);
	if (hn < 0 || (size_t)hn >= sizeof(head))
		die("request head too long");
	for (int attempt = 0; attempt < 2; attempt++) {
		int fresh = c->fd < 0;
		if (fresh && hc_connect(c))
			return -1;
		struct iovec iov[2] = {{head, (size_t)hn}, {(void *)body, n}};
		size_t left = (size_t)hn + n;
		int vi = 0, bad = 0;
		while (left) {
			ssize_t w = writev(c->fd, iov + vi, 2 - vi);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				bad = 1;
				break;
			}
			left -= (size_t)w;
			while (vi < 2 && (size_t)w >= iov[vi].iov_len) {
				w -= (ssize_t)iov[vi].iov_len;
				iov[vi].iov_len = 0;
				vi++;
			}
			if (vi < 2) {
				iov[vi].iov_base = (char *)iov[vi].iov_base + w;
				iov[vi].iov_len -= (size_t)w;
			}
		}
		if (!bad && read_response(c, r, !strcmp(method, "HEAD")) == 0) {
			if (r->close)
				hc_close(c);
			return 0;
		}
		hc_close(c);
		if (fresh)
			return -1;
	}
	return -1;
}

/* The body decoded from its Content-Encoding (malloc'd), or a copy. */
static uint8_t *decoded(const hresp *r, size_t *n)
{
	if (!r->enc[0] || !strcasecmp(r->enc, "identity")) {
		uint8_t *p = xmalloc(r->n + 1);
		memcpy(p, r->body, r->n);
		p[r->n] = 0;
		*n = r->n;
		return p;
	}
	zb_format f = strcasecmp(r->enc, "gzip") ? ZB_DEFLATE : ZB_GZIP;
	uint8_t *out;
	size_t on;
	if (zb_inflate(f, r->body, r->n, RESP_MAX, &out, &on))
		die("response does not inflate (%s)", r->enc);
	uint8_t *p = xmalloc(on + 1);
	memcpy(p, out, on);
	p[on] = 0;
	free(out);
	*n = on;
	return p;
}

/* ---- the task record ------------------------------------------------------------- */

static const char *const titles[] = {
	"Lobby floor wet-mop and entrance mat clean",
	"Stairwell sweep, handrails wiped, floors 1-18",
	"Lift car interior wipe-down and mirror polish",
	"Garage ramp litter pick and drain grate check",
	"Green belt weeding and hedge trim along path",
	"Refuse room wash-down and bin disinfection",
	"Plant room visual check and log sheet signed",
	"Roof terrace drain clearing and railing check",
};
static const char *const notes[] = {
	"Twice daily per standard 3.2; photo of finished area required.",
	"Report damaged fittings through an order, do not leave a note only.",
	"Wet-floor sign out until dry; check mats are flat at both doors.",
	"Log any water stains on the ceiling with the zone and floor number.",
};
static const char *const zones[] = {
	"z-lobby-a", "z-lobby-b", "z-stair-1", "z-stair-2", "z-lift-1",
	"z-garage", "z-green-n", "z-green-s", "z-refuse", "z-plant",
	"z-roof", "z-mail"};

typedef struct {
	char id[48];
	char shift[24];
	const char *zone, *title, *note;
	char assignee[16];
	uint64_t due_from, due_to;
} task;

static uint64_t g_base_ms; /* due times are relative to this */

static void task_make(task *t, const char *prefix, long n)
{
	snprintf(t->id, sizeof(t->id), "t-%s-%07ld", prefix, n);
	snprintf(t->shift, sizeof(t->shift), "sh-%05ld", n / PER_SHIFT);
	t->zone = zones[n % 12];
	t->title = titles[n % 8];
	t->note = notes[n % 4];
	snprintf(t->assignee, sizeof(t->assignee), "c-%04ld", n % 50);
	t->due_from = g_base_ms + (uint64_t)(n % PER_SHIFT) * 60000;
	t->due_to = t->due_from + HOUR_MS;
}

/* fieldsync op {c, id, s, f} */
static void op_task(wbuf *b, const task *t)
{
	wb_map(b, 4);
	wb_cstr(b, "c");
	wb_cstr(b, "task");
	wb_cstr(b, "id");
	wb_cstr(b, t->id);
	wb_cstr(b, "s");
	wb_u64(b, hlc_next());
	wb_cstr(b, "f");
	wb_map(b, 9);
	wb_cstr(b, "site");
	wb_cstr(b, SITE);
	wb_cstr(b, "shift");
	wb_cstr(b, t->shift);
	wb_cstr(b, "zone");
	wb_cstr(b, t->zone);
	wb_cstr(b, "title");
	wb_cstr(b, t->title);
	wb_cstr(b, "status");
	wb_cstr(b, "open");
	wb_cstr(b, "assignee");
	wb_cstr(b, t->assignee);
	wb_cstr(b, "due_from");
	wb_u64(b, t->due_from);
	wb_cstr(b, "due_to");
	wb_u64(b, t->due_to);
	wb_cstr(b, "note");
	wb_cstr(b, t->note);
}

/* The same update for both systems: status done, done_at, done_by, note. */
#define DONE_NOTE "Done; area checked by the shift lead, photo attached."

static void op_task_done(wbuf *b, const char *id, const char *by, uint64_t at)
{
	wb_map(b, 4);
	wb_cstr(b, "c");
	wb_cstr(b, "task");
	wb_cstr(b, "id");
	wb_cstr(b, id);
	wb_cstr(b, "s");
	wb_u64(b, hlc_next());
	wb_cstr(b, "f");
	wb_map(b, 4);
	wb_cstr(b, "status");
	wb_cstr(b, "done");
	wb_cstr(b, "done_at");
	wb_u64(b, at);
	wb_cstr(b, "done_by");
	wb_cstr(b, by);
	wb_cstr(b, "note");
	wb_cstr(b, DONE_NOTE);
}

/* JSON text buffer */
typedef struct {
	char *p;
	size_t n, cap;
} sbuf;

static void sb_add(sbuf *s, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(s->p ? s->p + s->n : NULL, s->p ? s->cap - s->n : 0,
		                  fmt, ap);
		va_end(ap);
		if (k < 0)
			die("vsnprintf");
		if (s->p && s->n + (size_t)k < s->cap) {
			s->n += (size_t)k;
			return;
		}
		size_t nc = s->cap ? s->cap * 2 : 65536;
		while (nc < s->n + (size_t)k + 1)
			nc *= 2;
		s->p = realloc(s->p, nc);
		if (!s->p)
			die("out of memory");
		s->cap = nc;
	}
}

/* The JSON document of a task; rev NULL for a new one; done: the update. */
static void json_task(sbuf *s, const task *t, const char *rev, int done,
                      const char *by, uint64_t at)
{
	sb_add(s, "{\"_id\":\"%s\",", t->id);
	if (rev)
		sb_add(s, "\"_rev\":\"%s\",", rev);
	sb_add(s, "\"site\":\"%s\",\"shift\":\"%s\",\"zone\":\"%s\",\"title\":\"%s\","
	          "\"status\":\"%s\",\"assignee\":\"%s\",\"due_from\":%llu,"
	          "\"due_to\":%llu,\"note\":\"%s\"",
	       SITE, t->shift, t->zone, t->title, done ? "done" : "open",
	       t->assignee, (unsigned long long)t->due_from,
	       (unsigned long long)t->due_to, done ? DONE_NOTE : t->note);
	if (done)
		sb_add(s, ",\"done_at\":%llu,\"done_by\":\"%s\"", (unsigned long long)at,
		       by);
	sb_add(s, "}");
}

/* ---- fieldsync requests ------------------------------------------------------------ */

static void rnd16(uint8_t *b)
{
	static _Atomic uint64_t ctr;
	uint64_t a = atomic_fetch_add(&ctr, 1) + 1, w = wall_ms() ^ ((uint64_t)getpid() << 40);
	memcpy(b, &a, 8);
	memcpy(b + 8, &w, 8);
	b[15] ^= (uint8_t)random();
}

/* Start a sync body: {v, hlc, limit, push: [nb batches ...], pull: {}}:
 * the caller writes nb batches next, then the pull map. */
/* The pull encoding asked for: 1 or 2 (--wire v1|v2, default v1). */
static int wire_enc(void)
{
	static int enc;
	if (!enc) {
		const char *w = arg_s("--wire", "v1");
		if (strcmp(w, "v1") && strcmp(w, "v2"))
			die("--wire is v1 or v2");
		enc = w[1] - '0';
	}
	return enc;
}

static void sync_head(wbuf *b, uint32_t nb, long limit)
{
	wb_map(b, wire_enc() == 2 ? 6 : 5);
	wb_cstr(b, "v");
	wb_u64(b, 1);
	if (wire_enc() == 2) {
		wb_cstr(b, "enc");
		wb_u64(b, 2);
	}
	wb_cstr(b, "hlc");
	wb_u64(b, hlc_next());
	wb_cstr(b, "limit");
	wb_u64(b, (uint64_t)limit);
	wb_cstr(b, "push");
	wb_arr(b, nb);
}

static void batch_head(wbuf *b, uint32_t nops)
{
	uint8_t id[16];
	rnd16(id);
	wb_map(b, 2);
	wb_cstr(b, "batch");
	wb_bin(b, id, 16);
	wb_cstr(b, "ops");
	wb_arr(b, nops);
}

static char *auth_hdr(const char *token, const char *extra)
{
	char *h = xmalloc(strlen(token) + (extra ? strlen(extra) : 0) + 96);
	sprintf(h, "Content-Type: application/msgpack\r\nAuthorization: Bearer %s\r\n%s",
	        token, extra ? extra : "");
	return h;
}

/* POST a msgpack body; decode the answer into an arena tree. */
static wval *fs_post(hconn *c, const char *path, const char *token,
                     const wbuf *b, arena *a, hresp *r, const char *extra)
{
	char *h = auth_hdr(token ? token : "-", extra);
	if (!token) {
		free(h);
		h = xmalloc(128);
		sprintf(h, "Content-Type: application/msgpack\r\n%s", extra ? extra : "");
	}
	int rc = hc_do(c, "POST", path, h, b->p, b->n, r);
	free(h);
	if (rc)
		return NULL;
	size_t n;
	uint8_t *raw = decoded(r, &n);
	uint8_t *keep = arena_dup(a, raw, n ? n : 1);
	free(raw);
	wval *v;
	if (!keep || wire_decode(a, keep, n, &v))
		return NULL;
	return v;
}

/* Check one ack: all `want` ops applied, nothing rejected. */
static int ack_ok(const wval *ack, uint64_t want)
{
	uint64_t applied = 0;
	const wval *rej = wv_get(ack, "rej");
	if (!wv_u64(wv_get(ack, "applied"), &applied) || applied != want)
		return 0;
	if (wv_get(ack, "err"))
		return 0;
	return !rej || rej->t != WV_ARR || rej->a.n == 0;
}

static void print_rej(const wval *resp)
{
	const wval *acks = wv_get(resp, "acks");
	if (!acks || acks->t != WV_ARR)
		return;
	for (uint32_t i = 0; i < acks->a.n; i++) {
		const wval *rej = wv_get(&acks->a.v[i], "rej");
		if (rej && rej->t == WV_ARR && rej->a.n) {
			const wval *m = wv_get(&rej->a.v[0], "msg");
			const wval *code = wv_get(&rej->a.v[0], "code");
			fprintf(stderr, "loadgen: rejected: %.*s %.*s\n",
			        code && code->t == WV_STR ? (int)code->s.n : 0,
			        code && code->t == WV_STR ? code->s.p : "",
			        m && m->t == WV_STR ? (int)m->s.n : 0,
			        m && m->t == WV_STR ? m->s.p : "");
			return;
		}
	}
}

static int acks_ok(const wval *resp, uint32_t nb, uint64_t per)
{
	const wval *acks = wv_get(resp, "acks");
	if (!acks || acks->t != WV_ARR || acks->a.n != nb)
		return 0;
	for (uint32_t i = 0; i < nb; i++)
		if (!ack_ok(&acks->a.v[i], per)) {
			print_rej(resp);
			return 0;
		}
	return 1;
}

static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot read %s", path);
	char buf[256];
	if (!fgets(buf, sizeof(buf), f))
		die("empty %s", path);
	fclose(f);
	buf[strcspn(buf, "\r\n ")] = 0;
	return xstrdup(buf);
}

/* A staff-pin / enroll-code / enroll / login call: map of string args. */
static wval *fs_call(hconn *c, const char *path, const char *token, arena *a,
                     hresp *r, int nkv, ...)
{
	wbuf b;
	wb_init(&b);
	va_list ap;
	va_start(ap, nkv);
	wb_map(&b, (uint32_t)nkv);
	for (int i = 0; i < nkv; i++) {
		const char *k = va_arg(ap, const char *);
		const char *v = va_arg(ap, const char *);
		wb_cstr(&b, k);
		if (!strcmp(k, "uses") || !strcmp(k, "ttl_s"))
			wb_u64(&b, strtoull(v, NULL, 10));
		else
			wb_cstr(&b, v);
	}
	va_end(ap);
	wval *v = fs_post(c, path, token, &b, a, r, NULL);
	wb_free(&b);
	if (!v || r->status != 200) {
		const wval *m = v ? wv_get(v, "msg") : NULL;
		die("%s answered %d %.*s", path, r->status,
		    m && m->t == WV_STR ? (int)m->s.n : 0, m && m->t == WV_STR ? m->s.p : "");
	}
	return v;
}

static char *wstr(arena *a, const wval *m, const char *k)
{
	char *s = wv_strdup(a, wv_get(m, k));
	if (!s)
		die("answer has no string '%s'", k);
	return s;
}

/* Admin push of prepared ops (limit 0: nothing pulled back). */
typedef struct {
	wbuf ops;
	uint32_t n;
} oplist;

static void admin_flush(hconn *c, const char *token, oplist *o)
{
	if (!o->n)
		return;
	wbuf b;
	wb_init(&b);
	sync_head(&b, 1, 0);
	batch_head(&b, o->n);
	wb_raw(&b, o->ops.p, o->ops.n);
	wb_cstr(&b, "pull");
	wb_map(&b, 0);
	arena *a = arena_new(1 << 20);
	hresp r = {0};
	wval *v = fs_post(c, "/v1/sync", token, &b, a, &r, NULL);
	if (!v || r.status != 200 || !acks_ok(v, 1, o->n))
		die("admin push of %u ops failed (HTTP %d)", o->n, r.status);
	free(r.body);
	arena_free(a);
	wb_free(&b);
	o->ops.n = 0;
	o->n = 0;
}

static void op_head(oplist *o, const char *c, const char *id, uint32_t nf)
{
	wb_map(&o->ops, 4);
	wb_cstr(&o->ops, "c");
	wb_cstr(&o->ops, c);
	wb_cstr(&o->ops, "id");
	wb_cstr(&o->ops, id);
	wb_cstr(&o->ops, "s");
	wb_u64(&o->ops, hlc_next());
	wb_cstr(&o->ops, "f");
	wb_map(&o->ops, nf);
	o->n++;
}

static void kv_s(oplist *o, const char *k, const char *v)
{
	wb_cstr(&o->ops, k);
	wb_cstr(&o->ops, v);
}

static void kv_u(oplist *o, const char *k, uint64_t v)
{
	wb_cstr(&o->ops, k);
	wb_u64(&o->ops, v);
}

static void op_site(oplist *o, const char *site)
{
	op_head(o, "site", site, 3);
	kv_s(o, "name", "Harbour Court (bench)");
	kv_s(o, "tz", "Asia/Shanghai");
	kv_u(o, "households", 800);
}

static void op_staff(oplist *o, const char *site, const char *id,
                     const char *role)
{
	op_head(o, "staff", id, 4);
	kv_s(o, "site", site);
	kv_s(o, "name", id);
	kv_s(o, "role", role);
	wb_cstr(&o->ops, "active");
	wb_bool(&o->ops, 1);
}

static void op_shift(oplist *o, const char *site, const char *id,
                     const char *role, uint64_t starts, uint64_t ends,
                     char **staff, int nstaff)
{
	op_head(o, "shift", id, 5);
	kv_s(o, "site", site);
	kv_s(o, "role", role);
	kv_u(o, "starts", starts);
	kv_u(o, "ends", ends);
	wb_cstr(&o->ops, "staff");
	wb_arr(&o->ops, (uint32_t)nstaff);
	for (int i = 0; i < nstaff; i++)
		wb_cstr(&o->ops, staff[i]);
}

/* set a PIN, enroll a device for `site`, log `staff` in: session token */
static char *fs_device_session(hconn *c, const char *admin, const char *site,
                               const char *staff, const char *code,
                               char **device_token_out)
{
	arena *a = arena_new(65536);
	hresp r = {0};
	fs_call(c, "/v1/admin/staff-pin", admin, a, &r, 2, "staff", staff, "pin",
	        "4821");
	wval *v = fs_call(c, "/v1/enroll", NULL, a, &r, 2, "code", code, "name", staff);
	char *dtok = xstrdup(wstr(a, v, "token"));
	char *tok = NULL;
	if (!device_token_out) { /* the burst logs in by itself */
		v = fs_call(c, "/v1/login", dtok, a, &r, 2, "staff", staff, "pin", "4821");
		tok = xstrdup(wstr(a, v, "token"));
	}
	if (device_token_out)
		*device_token_out = dtok;
	else
		free(dtok);
	free(r.body);
	arena_free(a);
	return tok;
}

static char *fs_code(hconn *c, const char *admin, const char *site,
                     const char *uses)
{
	arena *a = arena_new(65536);
	hresp r = {0};
	wval *v = fs_call(c, "/v1/admin/enroll-codes", admin, a, &r, 3, "site",
	                  site, "uses", uses, "ttl_s", "86400");
	char *code = xstrdup(wstr(a, v, "code"));
	free(r.body);
	arena_free(a);
	return code;
}

/*
 * fs-setup: the site, its shifts and staff, devices with sessions.
 *   --url --admin FILE --shifts N --sups K --out FILE
 * Shifts sh-00000.. sh-(N-1): the first 3 are current (cleaner c-000k on
 * shift k), the others lie in the past, 8 h each.  K supervisors with a
 * device and a session each (they push the tasks).  Writes "sup TOKEN"
 * and "cl K TOKEN" lines to --out.
 */
static int cmd_fs_setup(void)
{
	parse_url(arg_req("--url"));
	char *admin = read_token_file(arg_req("--admin"));
	long nshifts = arg_i("--shifts", 100), nsup = arg_i("--sups", 50);
	const char *outp = arg_req("--out");
	FILE *out = fopen(outp, "w");
	if (!out)
		die("cannot write %s", outp);
	hconn c;
	hc_init(&c);
	uint64_t now = wall_ms();
	oplist o;
	wb_init(&o.ops);
	o.n = 0;
	op_site(&o, SITE);
	char id[64];
	for (long i = 0; i < nsup; i++) {
		snprintf(id, sizeof(id), "sup-%03ld", i);
		op_staff(&o, SITE, id, "supervisor");
	}
	for (long i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "c-%04ld", i);
		op_staff(&o, SITE, id, "cleaner");
	}
	admin_flush(&c, admin, &o);
	for (long k = 0; k < nshifts; k++) {
		char sid[32], cl[32];
		char *staff[1] = {cl};
		snprintf(sid, sizeof(sid), "sh-%05ld", k);
		snprintf(cl, sizeof(cl), "c-%04ld", k < 3 ? k : 0);
		uint64_t starts, ends;
		if (k < 3) {
			starts = now - HOUR_MS;
			ends = now + 7 * HOUR_MS;
		} else {
			starts = now - 48 * HOUR_MS - (uint64_t)k * 8 * HOUR_MS;
			ends = starts + 8 * HOUR_MS;
		}
		op_shift(&o, SITE, sid, "cleaner", starts, ends, staff, 1);
		if (o.n >= 2000)
			admin_flush(&c, admin, &o);
	}
	admin_flush(&c, admin, &o);
	char uses[24];
	snprintf(uses, sizeof(uses), "%ld", nsup + 3);
	char *code = fs_code(&c, admin, SITE, uses);
	for (long i = 0; i < nsup; i++) {
		snprintf(id, sizeof(id), "sup-%03ld", i);
		char *tok = fs_device_session(&c, admin, SITE, id, code, NULL);
		fprintf(out, "sup %s\n", tok);
		free(tok);
	}
	for (long i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "c-%04ld", i);
		char *tok = fs_device_session(&c, admin, SITE, id, code, NULL);
		fprintf(out, "cl %ld %s\n", i, tok);
		free(tok);
	}
	fclose(out);
	free(code);
	wb_free(&o.ops);
	hc_close(&c);
	free(admin);
	printf("{\"shifts\":%ld,\"sups\":%ld}\n", nshifts, nsup);
	return 0;
}

/* tokens file: "sup TOKEN" / "cl K TOKEN" */
static char **read_tokens(const char *path, const char *kind, int *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot read %s", path);
	char line[512];
	char **v = NULL;
	int k = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		char *sp = strrchr(line, ' ');
		if (!sp || strncmp(line, kind, strlen(kind)) || line[strlen(kind)] != ' ')
			continue;
		v = realloc(v, (size_t)(k + 1) * sizeof(char *));
		if (!v)
			die("out of memory");
		v[k++] = xstrdup(sp + 1);
	}
	fclose(f);
	if (!k)
		die("no '%s' tokens in %s", kind, path);
	*n = k;
	return v;
}

/* ---- generic concurrent runner ----------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t n;
	uint32_t nb;      /* fieldsync: batches in the request */
	uint32_t per;     /* ops (docs) per batch */
	char *rev_out;    /* pouchdb: where to parse revs to (NULL: no) */
	long first;       /* pouchdb: first record index of the request */
} reqbody;

typedef struct {
	int pouch;              /* 0: fieldsync /v1/sync, 1: PouchDB _bulk_docs */
	const char *path;
	char **headers;         /* per client */
	reqbody **bodies;       /* [client][i] */
	int clients, per_client;
	lat lat;
	lat lat_rest;           /* every batch but each client's first */
	lat lat_err;            /* failed requests: kept out of lat, lat_rest */
	_Atomic long errors;
	pthread_barrier_t start;
	char (*revs)[40];       /* pouchdb: rev of record n */
	long nrevs;
	const char *warm_method, *warm_path; /* untimed first request */
	const void *warm_body;
	size_t warm_n;
	FILE *trace;            /* LOADGEN_TRACE: client, i, start ms, latency ms */
	double t_start;
} runner;

typedef struct {
	runner *R;
	int id;
} runner_arg;

/* Parse the `"id":"t-P-NNNNNNN","rev":"Y"` pairs of a _bulk_docs answer
 * (PouchDB Server does not always answer in the order of the docs: each
 * rev goes to the record its id names). */
static long parse_revs(runner *R, const hresp *r, long first, uint32_t n)
{
	const char *p = (const char *)r->body;
	long ok = 0;
	for (uint32_t i = 0; i < n; i++) {
		const char *id = strstr(p, "\"id\":\"");
		if (!id)
			break;
		id += 6;
		const char *ide = strchr(id, '"');
		const char *q = ide ? strstr(ide, "\"rev\":\"") : NULL;
		if (!q)
			break;
		q += 7;
		const char *e = strchr(q, '"');
		if (!e || e - q >= 40)
			break;
		const char *dash = ide;
		while (dash > id && dash[-1] != '-')
			dash--;
		long rec = strtol(dash, NULL, 10);
		if (R->revs) {
			if (rec < first || rec >= first + (long)n || rec >= R->nrevs)
				break;
			memcpy(R->revs[rec], q, (size_t)(e - q));
			R->revs[rec][e - q] = 0;
		}
		ok++;
		p = e;
	}
	return ok;
}


/* What a failed answer said: fieldsync's msgpack {error, msg}, or the
 * start of PouchDB's JSON body (printable bytes only). */
static void fail_text(arena *a, int pouch, const hresp *r, char *out,
                      size_t cap)
{
	out[0] = 0;
	if (!r || !r->body || !r->n)
		return;
	if (!pouch) {
		arena_reset(a);
		wval *v;
		uint8_t *keep = arena_dup(a, r->body, r->n);
		if (keep && !wire_decode(a, keep, r->n, &v)) {
			const wval *e = wv_get(v, "error"), *m = wv_get(v, "msg");
			if (e && e->t == WV_STR)
				snprintf(out, cap, "%.*s %.*s", (int)e->s.n,
				         (const char *)e->s.p,
				         m && m->t == WV_STR ? (int)m->s.n : 0,
				         m && m->t == WV_STR ? (const char *)m->s.p : "");
		}
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < r->n && k + 1 < cap && k < 300; i++) {
		unsigned char ch = ((const unsigned char *)r->body)[i];
		out[k++] = ch >= 32 && ch < 127 ? (char)ch : '.';
	}
	out[k] = 0;
}

static void *runner_main(void *arg)
{
	runner_arg *ra = arg;
	runner *R = ra->R;
	hconn *c = xmalloc(sizeof(hconn));
	hc_init(c);
	c->to = &g_to[ra->id % g_nto];
	if (hc_connect(c))
		die("cannot connect to %s:%d", c->to->host, c->to->port);
	hresp r = {0};
	arena *a = arena_new(1 << 20);
	/* one untimed request on the connection first, so neither server's
	 * cold start (first use of a worker thread, its buffers, token
	 * checks) counts as write latency: fieldsync a sync that pushes
	 * nothing, PouchDB GET /db */
	if (R->warm_path &&
	    (hc_do(c, R->warm_method, R->warm_path, R->headers[ra->id],
	           R->warm_body, R->warm_n, &r) ||
	     r.status != 200))
		die("warm-up %s %s: HTTP %d", R->warm_method, R->warm_path, r.status);
	pthread_barrier_wait(&R->start);
	for (int i = 0; i < R->per_client; i++) {
		reqbody *b = &R->bodies[ra->id][i];
		double t0 = now_s();
		int rc = hc_do(c, "POST", R->path, R->headers[ra->id], b->p, b->n, &r);
		double t1 = now_s();
		if (R->trace) {
			pthread_mutex_lock(&R->lat.mu);
			fprintf(R->trace, "%d %d %.3f %.3f\n", ra->id, i,
			        (t0 - R->t_start) * 1000, (t1 - t0) * 1000);
			pthread_mutex_unlock(&R->lat.mu);
		}
		int ok = 0;
		if (!rc && (r.status == 200 || r.status == 201)) {
			if (R->pouch) {
				ok = !strstr((char *)r.body, "\"error\"") &&
				     parse_revs(R, &r, b->first, b->per) == (long)b->per;
			} else {
				arena_reset(a);
				wval *v;
				uint8_t *keep = arena_dup(a, r.body, r.n ? r.n : 1);
				ok = keep && !wire_decode(a, keep, r.n, &v) &&
				     acks_ok(v, b->nb, b->per);
			}
		}
		/* a fast error answer must not pull the percentiles down */
		if (ok) {
			lat_add(&R->lat, (t1 - t0) * 1000);
			if (i > 0)
				lat_add(&R->lat_rest, (t1 - t0) * 1000);
		} else {
			lat_add(&R->lat_err, (t1 - t0) * 1000);
			if (atomic_fetch_add(&R->errors, 1) < 3) {
				char why[320];
				fail_text(a, R->pouch, rc ? NULL : &r, why, sizeof(why));
				fprintf(stderr, "loadgen: request failed: HTTP %d %s\n",
				        rc ? -1 : r.status, why);
			}
		}
	}
	free(r.body);
	arena_free(a);
	hc_close(c);
	free(c);
	return NULL;
}

/* Run it: returns seconds from the start barrier to the last answer. */
static double runner_go(runner *R)
{
	lat_init(&R->lat);
	lat_init(&R->lat_rest);
	lat_init(&R->lat_err);
	atomic_store(&R->errors, 0);
	pthread_barrier_init(&R->start, NULL, (unsigned)R->clients + 1);
	pthread_t *th = xmalloc(sizeof(pthread_t) * (size_t)R->clients);
	runner_arg *args = xmalloc(sizeof(runner_arg) * (size_t)R->clients);
	for (int i = 0; i < R->clients; i++) {
		args[i] = (runner_arg){R, i};
		if (pthread_create(&th[i], NULL, runner_main, &args[i]))
			die("pthread_create");
	}
	const char *tp = getenv("LOADGEN_TRACE");
	R->trace = tp ? fopen(tp, "a") : NULL;
	R->t_start = now_s();
	pthread_barrier_wait(&R->start);
	double t0 = now_s();
	for (int i = 0; i < R->clients; i++)
		pthread_join(th[i], NULL);
	if (R->trace)
		fclose(R->trace);
	R->trace = NULL;
	double t1 = now_s();
	pthread_barrier_destroy(&R->start);
	free(th);
	free(args);
	return t1 - t0;
}

static void print_phase(const char *name, runner *R, double secs, long records,
                        int comma)
{
	double p50 = lat_pct(&R->lat, 50), p99 = lat_pct(&R->lat, 99),
	       mx = lat_pct(&R->lat, 100);
	/* latency figures are of the answered requests only; failed ones
	 * are counted in errors and timed apart (error_*_ms) */
	printf("\"%s\":{\"records\":%ld,\"seconds\":%.4f,\"records_per_s\":%.1f,"
	       "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	       "\"p99_after_first_ms\":%.3f,\"requests\":%zu,\"errors\":%ld,"
	       "\"error_p50_ms\":%.3f,\"error_max_ms\":%.3f}%s",
	       name, records, secs, (double)records / secs, p50, p99, mx,
	       lat_pct(&R->lat_rest, 99), R->lat.n + R->lat_err.n,
	       (long)atomic_load(&R->errors), lat_pct(&R->lat_err, 50),
	       lat_pct(&R->lat_err, 100), comma ? "," : "");
}

/*
 * fs-ingest: --url --tokens FILE --clients 50 --batches 20 --per 100
 *            --updates 10000 --upd-clients 10 --upd-per 100 --prefix P
 * Record n (0 <= n < clients*batches*per) goes to shift n/1000.  Client i
 * pushes records [i*batches*per, (i+1)*batches*per) as `batches`
 * requests of one batch of `per` ops, with a supervisor's session.  Then
 * the updates: record k*(N/updates) for k < updates, in batches of
 * upd-per, spread over upd-clients.  --url URL1,URL2,...: nodes serving
 * one store (PostgreSQL), client i on node i % n; the figures are of the
 * whole phase (records / seconds from the start barrier to the last
 * answer of any client), not a sum of per-node rates.
 */
static void fs_build_updates(runner *U, char **sups, int nsup, const char *prefix,
                             long total, long nupd, int uclients, int uper)
{
	long nreq = nupd / uper;
	int per_client = (int)(nreq / uclients);
	if ((long)per_client * uclients * uper != nupd)
		die("updates must be upd-clients * k * upd-per");
	U->clients = uclients;
	U->per_client = per_client;
	U->bodies = xmalloc(sizeof(reqbody *) * (size_t)uclients);
	U->headers = xmalloc(sizeof(char *) * (size_t)uclients);
	long stride = total / nupd, k = 0;
	uint64_t at = wall_ms();
	for (int i = 0; i < uclients; i++) {
		U->headers[i] = auth_hdr(sups[i % nsup], NULL);
		U->bodies[i] = xmalloc(sizeof(reqbody) * (size_t)per_client);
		for (int j = 0; j < per_client; j++) {
			wbuf b;
			wb_init(&b);
			sync_head(&b, 1, 0);
			batch_head(&b, (uint32_t)uper);
			for (int q = 0; q < uper; q++, k++) {
				task t;
				task_make(&t, prefix, k * stride);
				op_task_done(&b, t.id, "c-0001", at);
			}
			wb_cstr(&b, "pull");
			wb_map(&b, 0);
			size_t n;
			U->bodies[i][j] = (reqbody){wb_take(&b, &n), 0, 1, (uint32_t)uper, NULL, 0};
			U->bodies[i][j].n = n;
		}
	}
}

static int cmd_fs_ingest(void)
{
	parse_urls(arg_req("--url"), 1);
	int nsup;
	char **sups = read_tokens(arg_req("--tokens"), "sup", &nsup);
	int clients = (int)arg_i("--clients", 50), batches = (int)arg_i("--batches", 20);
	int per = (int)arg_i("--per", 100);
	long nupd = arg_i("--updates", 10000);
	int uclients = (int)arg_i("--upd-clients", 10), uper = (int)arg_i("--upd-per", 100);
	const char *prefix = arg_s("--prefix", "r");
	g_base_ms = wall_ms();
	long total = (long)clients * batches * per;

	runner R;
	memset(&R, 0, sizeof(R));
	R.path = "/v1/sync";
	R.clients = clients;
	R.per_client = batches;
	R.bodies = xmalloc(sizeof(reqbody *) * (size_t)clients);
	R.headers = xmalloc(sizeof(char *) * (size_t)clients);
	long n = 0;
	for (int i = 0; i < clients; i++) {
		R.headers[i] = auth_hdr(sups[i % nsup], NULL);
		R.bodies[i] = xmalloc(sizeof(reqbody) * (size_t)batches);
		for (int j = 0; j < batches; j++) {
			wbuf b;
			wb_init(&b);
			sync_head(&b, 1, 0);
			batch_head(&b, (uint32_t)per);
			for (int q = 0; q < per; q++, n++) {
				task t;
				task_make(&t, prefix, n);
				op_task(&b, &t);
			}
			wb_cstr(&b, "pull");
			wb_map(&b, 0);
			size_t bn;
			uint8_t *p = wb_take(&b, &bn);
			R.bodies[i][j] = (reqbody){p, bn, 1, (uint32_t)per, NULL, 0};
		}
	}
	wbuf warm;
	wb_init(&warm);
	sync_head(&warm, 0, 0);
	wb_cstr(&warm, "pull");
	wb_map(&warm, 0);
	R.warm_method = "POST";
	R.warm_path = "/v1/sync";
	R.warm_body = warm.p;
	R.warm_n = warm.n;
	double secs = runner_go(&R);

	runner U;
	memset(&U, 0, sizeof(U));
	U.path = "/v1/sync";
	double usecs = 0;
	if (nupd) {
		fs_build_updates(&U, sups, nsup, prefix, total, nupd, uclients, uper);
		U.warm_method = "POST";
		U.warm_path = "/v1/sync";
		U.warm_body = warm.p;
		U.warm_n = warm.n;
		usecs = runner_go(&U);
	}
	printf("{\"servers\":%d,", g_nto);
	print_phase("ingest", &R, secs, total, nupd > 0);
	if (nupd)
		print_phase("update", &U, usecs, nupd, 0);
	printf("}\n");
	return atomic_load(&R.errors) || atomic_load(&U.errors) ? 3 : 0;
}

/*
 * fs-load: seed a store fast.  --url --tokens FILE --count N --conns 4
 *          --per 5000 --nb 2 --prefix P
 * Same records as fs-ingest, pushed in requests of nb batches of per ops
 * (--url URL1,URL2,...: connection i on node i % n).
 */
typedef struct {
	int id, conns, per, nb;
	long count;
	const char *prefix;
	char *hdr;
	_Atomic long *errors;
} load_arg;

static void *load_main(void *arg)
{
	load_arg *la = arg;
	hconn *c = xmalloc(sizeof(hconn));
	hc_init(c);
	c->to = &g_to[la->id % g_nto];
	hresp r = {0};
	arena *a = arena_new(1 << 20);
	long chunk = (long)la->per * la->nb;
	for (long start = (long)la->id * chunk; start < la->count;
	     start += chunk * la->conns) {
		long end = start + chunk < la->count ? start + chunk : la->count;
		uint32_t nb = (uint32_t)((end - start + la->per - 1) / la->per);
		wbuf b;
		wb_init(&b);
		sync_head(&b, nb, 0);
		for (long s = start; s < end; s += la->per) {
			long e = s + la->per < end ? s + la->per : end;
			batch_head(&b, (uint32_t)(e - s));
			for (long k = s; k < e; k++) {
				task t;
				task_make(&t, la->prefix, k);
				op_task(&b, &t);
			}
		}
		wb_cstr(&b, "pull");
		wb_map(&b, 0);
		arena_reset(a);
		int ok = !hc_do(c, "POST", "/v1/sync", la->hdr, b.p, b.n, &r) &&
		         r.status == 200;
		if (ok) {
			wval *v;
			uint8_t *keep = arena_dup(a, r.body, r.n ? r.n : 1);
			ok = keep && !wire_decode(a, keep, r.n, &v);
			const wval *acks = ok ? wv_get(v, "acks") : NULL;
			ok = acks && acks->t == WV_ARR && acks->a.n == nb;
			for (uint32_t i = 0; ok && i < nb; i++) {
				uint64_t want = (uint64_t)((i + 1) * (long)la->per <= end - start
				                               ? la->per
				                               : (end - start) - (long)i * la->per);
				ok = ack_ok(&acks->a.v[i], want);
			}
			if (!ok)
				print_rej(v);
		}
		if (!ok)
			atomic_fetch_add(la->errors, 1);
		wb_free(&b);
	}
	free(r.body);
	arena_free(a);
	hc_close(c);
	free(c);
	return NULL;
}

static int cmd_fs_load(void)
{
	parse_urls(arg_req("--url"), 1);
	int nsup;
	char **sups = read_tokens(arg_req("--tokens"), "sup", &nsup);
	int conns = (int)arg_i("--conns", 4);
	long count = arg_i("--count", 1000000);
	_Atomic long errors = 0;
	g_base_ms = wall_ms();
	pthread_t th[64];
	load_arg la[64];
	if (conns < 1 || conns > 64)
		die("--conns 1..64");
	double t0 = now_s();
	for (int i = 0; i < conns; i++) {
		la[i] = (load_arg){i, conns, (int)arg_i("--per", 5000), (int)arg_i("--nb", 2),
		                   count, arg_s("--prefix", "r"),
		                   auth_hdr(sups[i % nsup], NULL), &errors};
		pthread_create(&th[i], NULL, load_main, &la[i]);
	}
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	double secs = now_s() - t0;
	printf("{\"records\":%ld,\"seconds\":%.3f,\"records_per_s\":%.1f,\"errors\":%ld,"
	       "\"servers\":%d}\n",
	       count, secs, (double)count / secs, (long)errors, g_nto);
	return errors ? 3 : 0;
}

/*
 * fs-pull: one cold pull.  --url --token T --limit 1000 --expect N
 *          [--deflate] [--wire v1|v2]
 * A new connection, one sync with an empty pull map (a device's first
 * sync), timed from connect to the last byte of the answer.  Checks that
 * exactly `expect` records came back (0: any).  Also reports the
 * client's decode of the answer (decode_ms) and the shift's bytes floor
 * (floor_bytes: its field values alone as msgpack, deflated).
 */
/* Decode a sync answer; each bucket's v2 page (`cols`) becomes the
 * `recs` v1 would have sent.  0, or -1 when it does not decode. */
static int decode_answer(arena *a, const uint8_t *p, size_t n, wval **out)
{
	size_t budget = (size_t)8 << 20;
	if (wire_decode(a, p, n, out))
		return -1;
	const wval *bk = wv_get(*out, "buckets");
	for (uint32_t i = 0; bk && bk->t == WV_MAP && i < bk->m.n; i++) {
		wval *e = &bk->m.v[i], *recs;
		for (uint32_t k = 0; e->t == WV_MAP && k < e->m.n; k++) {
			if (!wv_is_str(&e->m.k[k], "cols"))
				continue;
			if (e->m.v[k].t != WV_BIN ||
			    cw_decode(a, (const uint8_t *)e->m.v[k].s.p,
			              e->m.v[k].s.n, &budget, &recs))
				return -1;
			e->m.k[k].s.p = "recs";
			e->m.k[k].s.n = 4;
			e->m.v[k] = *recs;
		}
	}
	return 0;
}

static long count_recs(const wval *v, const char *only_prefix)
{
	const wval *bk = wv_get(v, "buckets");
	if (!bk || bk->t != WV_MAP)
		return -1;
	long n = 0;
	for (uint32_t i = 0; i < bk->m.n; i++) {
		if (only_prefix && (bk->m.k[i].s.n < strlen(only_prefix) ||
		                    memcmp(bk->m.k[i].s.p, only_prefix, strlen(only_prefix))))
			continue;
		const wval *recs = wv_get(&bk->m.v[i], "recs");
		if (recs && recs->t == WV_ARR)
			n += recs->a.n;
	}
	return n;
}

/* Mean size of the pulled records in the server's stored form
 * {field: [value, hlc, origin]} (record.h), for the LMDB ceiling. */
static double stored_size(const wval *v)
{
	const wval *bk = wv_get(v, "buckets");
	size_t bytes = 0, n = 0;
	for (uint32_t i = 0; bk && bk->t == WV_MAP && i < bk->m.n; i++) {
		const wval *recs = wv_get(&bk->m.v[i], "recs");
		for (uint32_t k = 0; recs && recs->t == WV_ARR && k < recs->a.n; k++) {
			const wval *f = wv_get(&recs->a.v[k], "f"), *s = wv_get(&recs->a.v[k], "s");
			if (!f || !s || f->t != WV_MAP || s->t != WV_MAP)
				continue;
			wbuf b;
			wb_init(&b);
			wb_map(&b, f->m.n);
			for (uint32_t j = 0; j < f->m.n; j++) {
				const wval *st = wv_get(s, "");
				for (uint32_t q = 0; q < s->m.n; q++)
					if (wv_equal(&s->m.k[q], &f->m.k[j]))
						st = &s->m.v[q];
				wb_val(&b, &f->m.k[j]);
				wb_arr(&b, 3);
				wb_val(&b, &f->m.v[j]);
				if (st && st->t == WV_ARR && st->a.n == 2) {
					wb_val(&b, &st->a.v[0]);
					wb_val(&b, &st->a.v[1]);
				}
			}
			bytes += b.n;
			n++;
			wb_free(&b);
		}
	}
	return n ? (double)bytes / (double)n : 0;
}

/* The floor for a shift's bytes (issue 16's `bytes.floor`): the shift
 * records' field values alone — no ids, names or stamps — as msgpack,
 * deflated (level 6, as the server's answers). */
static size_t floor_bytes(const wval *v)
{
	const wval *bk = wv_get(v, "buckets");
	wbuf b;
	wb_init(&b);
	for (uint32_t i = 0; bk && bk->t == WV_MAP && i < bk->m.n; i++) {
		if (bk->m.k[i].s.n < 6 || memcmp(bk->m.k[i].s.p, "shift/", 6))
			continue;
		const wval *recs = wv_get(&bk->m.v[i], "recs");
		for (uint32_t k = 0; recs && recs->t == WV_ARR && k < recs->a.n; k++) {
			const wval *f = wv_get(&recs->a.v[k], "f");
			for (uint32_t j = 0; f && f->t == WV_MAP && j < f->m.n; j++)
				wb_val(&b, &f->m.v[j]);
		}
	}
	uint8_t *z;
	size_t zn = 0;
	if (b.err || zb_deflate(ZB_DEFLATE, b.p, b.n, &z, &zn))
		die("floor: out of memory");
	free(z);
	wb_free(&b);
	return zn;
}

static int cmd_fs_pull(void)
{
	parse_url(arg_req("--url"));
	const char *token = arg_req("--token");
	long limit = arg_i("--limit", 1000), expect = arg_i("--expect", 0);
	int deflate = arg_flag("--deflate");
	wbuf b;
	wb_init(&b);
	sync_head(&b, 0, limit);
	wb_cstr(&b, "pull");
	wb_map(&b, 0);
	char *hdr = auth_hdr(token, deflate ? "Accept-Encoding: deflate\r\n" : NULL);
	hconn *c = xmalloc(sizeof(hconn));
	hc_init(c);
	hresp r = {0};
	double t0 = now_s();
	if (hc_connect(c))
		die("cannot connect");
	if (hc_do(c, "POST", "/v1/sync", hdr, b.p, b.n, &r) || r.status != 200)
		die("pull failed: HTTP %d", r.status);
	double t1 = now_s();
	hc_close(c);
	size_t rawn;
	uint8_t *raw = decoded(&r, &rawn);
	arena *a = arena_new(1 << 20);
	wval *v;
	/* the client's decode (inflate, msgpack, v2 pages): median of 21;
	 * the tree of the last one (pointing into t) is used below */
	double dec[21];
	uint8_t *t = NULL;
	for (int i = 0; i < 21; i++) {
		double d0 = now_s();
		size_t tn;
		free(t);
		t = decoded(&r, &tn);
		arena_reset(a);
		if (decode_answer(a, t, tn, &v))
			die("pull answer does not decode");
		dec[i] = (now_s() - d0) * 1000;
	}
	qsort(dec, 21, sizeof(double), dcmp);
	long n = count_recs(v, "shift/");
	long all = count_recs(v, NULL);
	if (expect && n != expect)
		die("pull returned %ld shift records, expected %ld", n, expect);
	printf("{\"ms\":%.3f,\"records\":%ld,\"all_records\":%ld,\"wire_bytes\":%zu,"
	       "\"raw_bytes\":%zu,\"head_bytes\":%zu,\"encoding\":\"%s\","
	       "\"stored_bytes_per_record\":%.0f,\"decode_ms\":%.3f,"
	       "\"wire\":%d,\"floor_bytes\":%zu}\n",
	       (t1 - t0) * 1000, n, all, r.n, rawn, r.head_bytes, r.enc,
	       stored_size(v), dec[10], wire_enc(), floor_bytes(v));
	free(t);
	free(raw);
	arena_free(a);
	return 0;
}

/*
 * fs-fullpull: every record a new admin device would pull, page by page
 * (limit 10000), following cursors until no bucket has more.
 *   --url --admin FILE [--deflate]
 */
static int cmd_fs_fullpull(void)
{
	parse_url(arg_req("--url"));
	char *token = read_token_file(arg_req("--admin"));
	int deflate = arg_flag("--deflate");
	long limit = arg_i("--limit", 10000);
	char *hdr = auth_hdr(token, deflate ? "Accept-Encoding: deflate\r\n" : NULL);
	hconn c;
	hc_init(&c);
	hresp r = {0};
	/* cursors: bucket -> seq */
	char **names = NULL;
	uint64_t *curs = NULL;
	size_t nb = 0;
	long recs = 0, tasks = 0;
	size_t wire = 0, rawt = 0, heads = 0;
	int pages = 0;
	double t0 = now_s();
	for (;;) {
		wbuf b;
		wb_init(&b);
		sync_head(&b, 0, limit);
		wb_cstr(&b, "pull");
		wb_map(&b, (uint32_t)nb);
		for (size_t i = 0; i < nb; i++) {
			wb_cstr(&b, names[i]);
			wb_u64(&b, curs[i]);
		}
		if (hc_do(&c, "POST", "/v1/sync", hdr, b.p, b.n, &r) || r.status != 200)
			die("full pull failed: HTTP %d", r.status);
		wb_free(&b);
		pages++;
		size_t rawn;
		uint8_t *raw = decoded(&r, &rawn);
		wire += r.n;
		rawt += rawn;
		heads += r.head_bytes;
		arena *a = arena_new(1 << 20);
		wval *v;
		if (decode_answer(a, raw, rawn, &v))
			die("answer does not decode");
		const wval *bk = wv_get(v, "buckets");
		int more = 0;
		for (uint32_t i = 0; bk && bk->t == WV_MAP && i < bk->m.n; i++) {
			const wval *e = &bk->m.v[i];
			const wval *rv = wv_get(e, "recs"), *mv = wv_get(e, "more");
			uint64_t cur = 0;
			wv_u64(wv_get(e, "cursor"), &cur);
			if (rv && rv->t == WV_ARR) {
				recs += rv->a.n;
				for (uint32_t k = 0; k < rv->a.n; k++)
					if (wv_is_str(wv_get(&rv->a.v[k], "c"), "task"))
						tasks++;
			}
			if (mv && mv->t == WV_BOOL && mv->b)
				more = 1;
			char *name = wv_strdup(a, &bk->m.k[i]);
			size_t j;
			for (j = 0; j < nb; j++)
				if (!strcmp(names[j], name))
					break;
			if (j == nb) {
				names = realloc(names, (nb + 1) * sizeof(char *));
				curs = realloc(curs, (nb + 1) * sizeof(uint64_t));
				if (!names || !curs)
					die("out of memory");
				names[nb++] = xstrdup(name);
			}
			curs[j] = cur;
		}
		arena_free(a);
		free(raw);
		if (!more)
			break;
		if (pages > 100000)
			die("full pull does not end");
	}
	double t1 = now_s();
	printf("{\"records\":%ld,\"tasks\":%ld,\"pages\":%d,\"wire_bytes\":%zu,"
	       "\"raw_bytes\":%zu,\"head_bytes\":%zu,\"ms\":%.1f}\n",
	       recs, tasks, pages, wire, rawt, heads, (t1 - t0) * 1000);
	return 0;
}

/* ---- PouchDB ----------------------------------------------------------------------- */

#define JSON_HDR "Content-Type: application/json\r\nAccept: application/json\r\n"

static void pd_put_db(hconn *c, const char *db)
{
	char path[256];
	hresp r = {0};
	snprintf(path, sizeof(path), "/%s", db);
	if (hc_do(c, "PUT", path, JSON_HDR, "", 0, &r) ||
	    (r.status != 201 && r.status != 200 && r.status != 412))
		die("PUT %s: HTTP %d %s", path, r.status, r.body ? (char *)r.body : "");
	free(r.body);
}

/*
 * pd-ingest: --url --db NAME --clients 50 --batches 20 --per 100
 *            --updates 10000 --upd-clients 10 --upd-per 100 --prefix P
 * The same records and updates as fs-ingest, as _bulk_docs JSON.  The
 * database is created first.  Updates carry each record's _rev from the
 * ingest answers, and the whole document (CouchDB replaces documents).
 */
static int cmd_pd_ingest(void)
{
	parse_url(arg_req("--url"));
	const char *db = arg_req("--db");
	int clients = (int)arg_i("--clients", 50), batches = (int)arg_i("--batches", 20);
	int per = (int)arg_i("--per", 100);
	long nupd = arg_i("--updates", 10000);
	int uclients = (int)arg_i("--upd-clients", 10), uper = (int)arg_i("--upd-per", 100);
	const char *prefix = arg_s("--prefix", "r");
	g_base_ms = wall_ms();
	long total = (long)clients * batches * per;
	hconn c;
	hc_init(&c);
	pd_put_db(&c, db);
	hc_close(&c);
	char path[256];
	snprintf(path, sizeof(path), "/%s/_bulk_docs", db);

	runner R;
	memset(&R, 0, sizeof(R));
	R.pouch = 1;
	R.path = path;
	R.clients = clients;
	R.per_client = batches;
	R.revs = calloc((size_t)total, 40);
	R.nrevs = total;
	if (!R.revs)
		die("out of memory");
	R.bodies = xmalloc(sizeof(reqbody *) * (size_t)clients);
	R.headers = xmalloc(sizeof(char *) * (size_t)clients);
	long n = 0;
	for (int i = 0; i < clients; i++) {
		R.headers[i] = JSON_HDR;
		R.bodies[i] = xmalloc(sizeof(reqbody) * (size_t)batches);
		for (int j = 0; j < batches; j++) {
			sbuf s = {0};
			long first = n;
			sb_add(&s, "{\"docs\":[");
			for (int q = 0; q < per; q++, n++) {
				task t;
				task_make(&t, prefix, n);
				if (q)
					sb_add(&s, ",");
				json_task(&s, &t, NULL, 0, NULL, 0);
			}
			sb_add(&s, "]}");
			R.bodies[i][j] = (reqbody){(uint8_t *)s.p, s.n, 1, (uint32_t)per, NULL, first};
		}
	}
	char dbpath[256];
	snprintf(dbpath, sizeof(dbpath), "/%s", db);
	R.warm_method = "GET";
	R.warm_path = dbpath;
	R.warm_body = "";
	R.warm_n = 0;
	double secs = runner_go(&R);

	runner U;
	memset(&U, 0, sizeof(U));
	U.pouch = 1;
	U.path = path;
	double usecs = 0;
	if (nupd) {
		long nreq = nupd / uper;
		int per_client = (int)(nreq / uclients);
		if ((long)per_client * uclients * uper != nupd)
			die("updates must be upd-clients * k * upd-per");
		U.clients = uclients;
		U.per_client = per_client;
		U.bodies = xmalloc(sizeof(reqbody *) * (size_t)uclients);
		U.headers = xmalloc(sizeof(char *) * (size_t)uclients);
		long stride = total / nupd, k = 0;
		uint64_t at = wall_ms();
		for (int i = 0; i < uclients; i++) {
			U.headers[i] = JSON_HDR;
			U.bodies[i] = xmalloc(sizeof(reqbody) * (size_t)per_client);
			for (int j = 0; j < per_client; j++) {
				sbuf s = {0};
				sb_add(&s, "{\"docs\":[");
				for (int q = 0; q < uper; q++, k++) {
					task t;
					task_make(&t, prefix, k * stride);
					if (!R.revs[k * stride][0])
						die("no rev for %s", t.id);
					if (q)
						sb_add(&s, ",");
					json_task(&s, &t, R.revs[k * stride], 1, "c-0001", at);
				}
				sb_add(&s, "]}");
				U.bodies[i][j] = (reqbody){(uint8_t *)s.p, s.n, 1, (uint32_t)uper, NULL, 0};
			}
		}
		U.warm_method = "GET";
		U.warm_path = dbpath;
		U.warm_body = "";
		U.warm_n = 0;
		usecs = runner_go(&U);
	}
	printf("{\"servers\":%d,", g_nto);
	print_phase("ingest", &R, secs, total, nupd > 0);
	if (nupd)
		print_phase("update", &U, usecs, nupd, 0);
	printf("}\n");
	return atomic_load(&R.errors) || atomic_load(&U.errors) ? 3 : 0;
}

/* URL-encode s into out. */
static void urlenc(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	for (; *s && k + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.') {
			out[k++] = (char)ch;
		} else {
			out[k++] = '%';
			out[k++] = hex[ch >> 4];
			out[k++] = hex[ch & 15];
		}
	}
	out[k] = 0;
}

static long count_sub(const char *p, const char *needle)
{
	long n = 0;
	size_t nl = strlen(needle);
	while ((p = strstr(p, needle))) {
		n++;
		p += nl;
	}
	return n;
}

static void pd_report(const char *what, double ms, const hresp *r, long docs)
{
	size_t rawn;
	uint8_t *raw = decoded(r, &rawn);
	free(raw);
	printf("{\"what\":\"%s\",\"ms\":%.3f,\"records\":%ld,\"wire_bytes\":%zu,"
	       "\"raw_bytes\":%zu,\"head_bytes\":%zu,\"encoding\":\"%s\"}\n",
	       what, ms, docs, r->n, rawn, r->head_bytes, r->enc);
}

/* Docs in a JSON answer: count "_rev" keys of the documents. */
static long pd_docs(const hresp *r)
{
	size_t rawn;
	uint8_t *raw = decoded(r, &rawn);
	long n = count_sub((char *)raw, "\"_rev\":");
	free(raw);
	return n;
}

/*
 * pd-changes: --url --db --shift SH [--gzip] --expect N
 * GET /db/_changes?filter=_selector&selector={"shift":SH}&include_docs=true
 * on a new connection (the GET form: the POST form crashes 4.2.0).
 * Without --shift: the whole feed (full pull).
 */
static int cmd_pd_changes(void)
{
	parse_url(arg_req("--url"));
	const char *db = arg_req("--db"), *shift = arg_s("--shift", NULL);
	long expect = arg_i("--expect", 0);
	char path[1024], sel[256], enc[512];
	if (shift) {
		snprintf(sel, sizeof(sel), "{\"shift\":\"%s\"}", shift);
		urlenc(sel, enc, sizeof(enc));
		snprintf(path, sizeof(path),
		         "/%s/_changes?filter=_selector&selector=%s&include_docs=true", db,
		         enc);
	} else {
		snprintf(path, sizeof(path), "/%s/_changes?include_docs=true", db);
	}
	char hdr[256];
	snprintf(hdr, sizeof(hdr), "Accept: application/json\r\n%s",
	         arg_flag("--gzip") ? "Accept-Encoding: gzip\r\n" : "");
	hconn *c = xmalloc(sizeof(hconn));
	hc_init(c);
	hresp r = {0};
	double t0 = now_s();
	if (hc_connect(c))
		die("cannot connect");
	if (hc_do(c, "GET", path, hdr, "", 0, &r) || r.status != 200)
		die("GET %s: HTTP %d", path, r.status);
	double t1 = now_s();
	hc_close(c);
	long n = pd_docs(&r);
	if (expect && n != expect)
		die("_changes returned %ld docs, expected %ld", n, expect);
	pd_report(shift ? "changes_selector" : "changes_all", (t1 - t0) * 1000, &r, n);
	return 0;
}

/*
 * pd-index: --url --db [--warm SH] POST /db/_index on "shift", then one
 * _find (on shift --warm) so the index is built (pouchdb-find builds it on
 * the first query).  Reports the time of both.
 */
static int cmd_pd_index(void)
{
	parse_url(arg_req("--url"));
	const char *db = arg_req("--db"), *warm = arg_s("--warm", "sh-00099");
	char path[512], body[256];
	hconn c;
	hc_init(&c);
	hresp r = {0};
	double t0 = now_s();
	snprintf(path, sizeof(path), "/%s/_index", db);
	const char *ib = "{\"index\":{\"fields\":[\"shift\"]},\"name\":\"by-shift\","
	                 "\"ddoc\":\"by-shift\"}";
	if (hc_do(&c, "POST", path, JSON_HDR, ib, strlen(ib), &r) || r.status != 200)
		die("POST %s: HTTP %d %s", path, r.status, r.body ? (char *)r.body : "");
	snprintf(path, sizeof(path), "/%s/_find", db);
	snprintf(body, sizeof(body), "{\"selector\":{\"shift\":\"%s\"},\"limit\":1}", warm);
	if (hc_do(&c, "POST", path, JSON_HDR, body, strlen(body), &r) || r.status != 200)
		die("POST %s: HTTP %d", path, r.status);
	double t1 = now_s();
	hc_close(&c);
	printf("{\"ms\":%.1f}\n", (t1 - t0) * 1000);
	return 0;
}

/*
 * pd-find: --url --db --shift SH [--gzip] --expect N
 * POST /db/_find {"selector":{"shift":SH},"limit":100000} on a new
 * connection, with the index on shift built beforehand.
 */
static int cmd_pd_find(void)
{
	parse_url(arg_req("--url"));
	const char *db = arg_req("--db"), *shift = arg_req("--shift");
	long expect = arg_i("--expect", 0);
	char path[512], body[256], hdr[256];
	snprintf(path, sizeof(path), "/%s/_find", db);
	snprintf(body, sizeof(body),
	         "{\"selector\":{\"shift\":\"%s\"},\"limit\":100000,"
	         "\"use_index\":\"by-shift\"}", shift);
	snprintf(hdr, sizeof(hdr), "%s%s", JSON_HDR,
	         arg_flag("--gzip") ? "Accept-Encoding: gzip\r\n" : "");
	hconn *c = xmalloc(sizeof(hconn));
	hc_init(c);
	hresp r = {0};
	double t0 = now_s();
	if (hc_connect(c))
		die("cannot connect");
	if (hc_do(c, "POST", path, hdr, body, strlen(body), &r) || r.status != 200)
		die("POST %s: HTTP %d %s", path, r.status, r.body ? (char *)r.body : "");
	double t1 = now_s();
	hc_close(c);
	long n = pd_docs(&r);
	if (expect && n != expect)
		die("_find returned %ld docs, expected %ld", n, expect);
	pd_report("find", (t1 - t0) * 1000, &r, n);
	return 0;
}

/* ---- burst -------------------------------------------------------------------------- */

/*
 * The shift-change data set: `sites` sites, each with `shifts` shifts of
 * `staff` cleaners, each shift with staff*20 tasks, all starting now.
 * Device d (0 <= d < sites*shifts*staff) belongs to staff member
 * "bc-<site>-<shift>-<k>", works on shift "bsh-<site>-<shift>" and
 * updates tasks k*20 .. k*20+19 of it.
 */
typedef struct {
	int sites, shifts, staff;
} burst_shape;

static burst_shape burst_args(void)
{
	burst_shape s = {(int)arg_i("--sites", 20), (int)arg_i("--shifts", 10),
	                 (int)arg_i("--staff", 10)};
	if (!s.sites || !s.shifts || !s.staff)
		die("--sites, --shifts, --staff must be > 0");
	return s;
}

#define OPS_PER_DEVICE 20

static void burst_names(const burst_shape *s, int d, char *site, char *shift,
                        char *staff, int *k)
{
	int per_site = s->shifts * s->staff;
	int si = d / per_site, sh = (d % per_site) / s->staff;
	*k = d % s->staff;
	sprintf(site, "bs-%03d", si);
	sprintf(shift, "bsh-%03d-%03d", si, sh);
	sprintf(staff, "bc-%03d-%03d-%03d", si, sh, *k);
}

static void burst_task(task *t, const char *site_unused, const char *shift,
                       int i)
{
	(void)site_unused;
	snprintf(t->id, sizeof(t->id), "bt-%s-%04d", shift + 4, i);
	snprintf(t->shift, sizeof(t->shift), "%s", shift);
	t->zone = zones[i % 12];
	t->title = titles[i % 8];
	t->note = notes[i % 4];
	snprintf(t->assignee, sizeof(t->assignee), "c-%04d", i % 50);
	t->due_from = g_base_ms + (uint64_t)i * 60000;
	t->due_to = t->due_from + HOUR_MS;
}

/* like op_task, for another site */
static void op_task_site(wbuf *b, const task *t, const char *site)
{
	wb_map(b, 4);
	wb_cstr(b, "c");
	wb_cstr(b, "task");
	wb_cstr(b, "id");
	wb_cstr(b, t->id);
	wb_cstr(b, "s");
	wb_u64(b, hlc_next());
	wb_cstr(b, "f");
	wb_map(b, 9);
	wb_cstr(b, "site");
	wb_cstr(b, site);
	wb_cstr(b, "shift");
	wb_cstr(b, t->shift);
	wb_cstr(b, "zone");
	wb_cstr(b, t->zone);
	wb_cstr(b, "title");
	wb_cstr(b, t->title);
	wb_cstr(b, "status");
	wb_cstr(b, "open");
	wb_cstr(b, "assignee");
	wb_cstr(b, t->assignee);
	wb_cstr(b, "due_from");
	wb_u64(b, t->due_from);
	wb_cstr(b, "due_to");
	wb_u64(b, t->due_to);
	wb_cstr(b, "note");
	wb_cstr(b, t->note);
}

typedef struct {
	burst_shape s;
	const char *admin;
	char **codes;
	_Atomic int next;
	int total;
	FILE *out;
	pthread_mutex_t mu;
} bsetup;

static void *bsetup_main(void *arg)
{
	bsetup *B = arg;
	hconn c;
	hc_init(&c);
	for (;;) {
		int d = atomic_fetch_add(&B->next, 1);
		if (d >= B->total)
			break;
		char site[32], shift[32], staff[48];
		int k;
		burst_names(&B->s, d, site, shift, staff, &k);
		char *dtok = NULL;
		char *tok = fs_device_session(&c, B->admin, site, staff,
		                              B->codes[d / (B->s.shifts * B->s.staff)], &dtok);
		pthread_mutex_lock(&B->mu);
		fprintf(B->out, "%d %s %s %s %s %d\n", d, dtok, staff, site, shift, k);
		pthread_mutex_unlock(&B->mu);
		free(tok);
		free(dtok);
	}
	hc_close(&c);
	return NULL;
}

/*
 * fs-burst-setup: --url --admin FILE --sites --shifts --staff --out FILE
 *                 --threads 4
 * Pushes the sites, staff, shifts (starting now) and tasks as the admin,
 * sets every PIN (PBKDF2 at the server's cost), enrolls one device per
 * staff member.  Writes "d DEVICE_TOKEN STAFF SITE SHIFT K" lines.
 */
static int cmd_fs_burst_setup(void)
{
	parse_url(arg_req("--url"));
	bsetup B;
	memset(&B, 0, sizeof(B));
	B.s = burst_args();
	char *admin = read_token_file(arg_req("--admin"));
	B.admin = admin;
	B.out = fopen(arg_req("--out"), "w");
	if (!B.out)
		die("cannot write --out");
	pthread_mutex_init(&B.mu, NULL);
	g_base_ms = wall_ms();
	uint64_t now = wall_ms();
	hconn c;
	hc_init(&c);
	oplist o;
	wb_init(&o.ops);
	o.n = 0;
	double t0 = now_s();
	for (int si = 0; si < B.s.sites; si++) {
		char site[32];
		sprintf(site, "bs-%03d", si);
		op_site(&o, site);
		for (int sh = 0; sh < B.s.shifts; sh++) {
			char shift[32], *staff[256];
			sprintf(shift, "bsh-%03d-%03d", si, sh);
			if (B.s.staff > 256)
				die("--staff at most 256");
			for (int k = 0; k < B.s.staff; k++) {
				staff[k] = xmalloc(48);
				sprintf(staff[k], "bc-%03d-%03d-%03d", si, sh, k);
				op_staff(&o, site, staff[k], "cleaner");
			}
			op_shift(&o, site, shift, "cleaner", now - 60000, now + 8 * HOUR_MS,
			         staff, B.s.staff);
			for (int k = 0; k < B.s.staff; k++)
				free(staff[k]);
			for (int i = 0; i < B.s.staff * OPS_PER_DEVICE; i++) {
				task t;
				burst_task(&t, site, shift, i);
				/* same encoding as op_task, for this site */
				op_task_site(&o.ops, &t, site);
				o.n++;
			}
			if (o.n >= 4000)
				admin_flush(&c, admin, &o);
		}
	}
	admin_flush(&c, admin, &o);
	B.codes = xmalloc(sizeof(char *) * (size_t)B.s.sites);
	char uses[24];
	snprintf(uses, sizeof(uses), "%d", B.s.shifts * B.s.staff);
	for (int si = 0; si < B.s.sites; si++) {
		char site[32];
		sprintf(site, "bs-%03d", si);
		B.codes[si] = fs_code(&c, admin, site, uses);
	}
	hc_close(&c);
	B.total = B.s.sites * B.s.shifts * B.s.staff;
	int nth = (int)arg_i("--threads", 4);
	pthread_t th[64];
	if (nth < 1 || nth > 64)
		die("--threads 1..64");
	for (int i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, bsetup_main, &B);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	fclose(B.out);
	printf("{\"devices\":%d,\"seconds\":%.1f}\n", B.total, now_s() - t0);
	wb_free(&o.ops);
	free(admin);
	return 0;
}

typedef struct {
	int d;
	char *dtok, *staff, *site, *shift;
	int k;
} bdev;

static bdev *read_devices(const char *path, int *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot read %s", path);
	bdev *v = NULL;
	int k = 0;
	char a[128], b[128], c[128], d[128];
	int idx, kk;
	while (fscanf(f, "%d %127s %127s %127s %127s %d", &idx, a, b, c, d, &kk) == 6) {
		v = realloc(v, (size_t)(k + 1) * sizeof(bdev));
		if (!v)
			die("out of memory");
		v[k++] = (bdev){idx, xstrdup(a), xstrdup(b), xstrdup(c), xstrdup(d), kk};
	}
	fclose(f);
	if (!k)
		die("no devices in %s", path);
	*n = k;
	return v;
}

/* RssAnon of a process, sampled while the burst runs. */
typedef struct {
	int pid;
	_Atomic int stop;
	long peak_kb, last_kb;
	pthread_t th;
} rss_sampler;

static long rss_anon(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "RssAnon:", 8)) {
			kb = atol(line + 8);
			break;
		}
	fclose(f);
	return kb;
}

static void *rss_main(void *arg)
{
	rss_sampler *s = arg;
	while (!atomic_load(&s->stop)) {
		long kb = rss_anon(s->pid);
		if (kb > s->peak_kb)
			s->peak_kb = kb;
		if (kb >= 0)
			s->last_kb = kb;
		usleep(20000);
	}
	return NULL;
}

typedef struct {
	int pouch;
	bdev *devs;
	int n;
	double secs, t0;
	const char *db;
	_Atomic int next;
	lat sync, login;        /* answered requests only */
	lat err;                /* requests that failed, timed apart */
	_Atomic long errors, ops;
	double last_done;
	pthread_mutex_t mu;
	int deflate;
} burst;

/* A failed device: counted, and the request's time (ms < 0: none was
 * made) goes to B->err, not to the latency figures. */
static void burst_err(burst *B, const char *what, int status, double ms)
{
	if (ms >= 0)
		lat_add(&B->err, ms);
	if (atomic_fetch_add(&B->errors, 1) < 5)
		fprintf(stderr, "loadgen: burst: %s: HTTP %d\n", what, status);
}

/* One fieldsync device: login, first sync (pull), second sync (push 20
 * task completions and pull from the cursors it got). */
static void burst_fs_device(burst *B, const bdev *d, hconn *c, hresp *r,
                            arena *a)
{
	wbuf b;
	wb_init(&b);
	wb_map(&b, 2);
	wb_cstr(&b, "staff");
	wb_cstr(&b, d->staff);
	wb_cstr(&b, "pin");
	wb_cstr(&b, "4821");
	char *h = auth_hdr(d->dtok, NULL);
	double t0 = now_s();
	int rc = hc_do(c, "POST", "/v1/login", h, b.p, b.n, r);
	double ms = (now_s() - t0) * 1000;
	free(h);
	wb_free(&b);
	arena_reset(a);
	wval *v;
	uint8_t *keep;
	if (rc || r->status != 200 || !(keep = arena_dup(a, r->body, r->n + 1)) ||
	    wire_decode(a, keep, r->n, &v)) {
		burst_err(B, "login", rc ? -1 : r->status, ms);
		return;
	}
	char *tok = wv_strdup(a, wv_get(v, "token"));
	if (!tok) {
		burst_err(B, "login token", r->status, ms);
		return;
	}
	lat_add(&B->login, ms);
	h = auth_hdr(tok, B->deflate ? "Accept-Encoding: deflate\r\n" : NULL);
	/* sync 1: pull everything of the scope */
	wb_init(&b);
	sync_head(&b, 0, 1000);
	wb_cstr(&b, "pull");
	wb_map(&b, 0);
	t0 = now_s();
	rc = hc_do(c, "POST", "/v1/sync", h, b.p, b.n, r);
	ms = (now_s() - t0) * 1000;
	wb_free(&b);
	if (rc || r->status != 200) {
		burst_err(B, "sync 1", rc ? -1 : r->status, ms);
		free(h);
		return;
	}
	size_t rn;
	uint8_t *raw = decoded(r, &rn);
	keep = arena_dup(a, raw, rn + 1);
	free(raw);
	const wval *bk;
	if (!keep || decode_answer(a, keep, rn, &v) ||
	    !(bk = wv_get(v, "buckets")) || bk->t != WV_MAP) {
		burst_err(B, "sync 1 answer", r->status, ms);
		free(h);
		return;
	}
	/* my shift must have come down */
	char want[64];
	snprintf(want, sizeof(want), "shift/%s", d->shift);
	long got = -1;
	for (uint32_t i = 0; i < bk->m.n; i++)
		if (wv_is_str(&bk->m.k[i], want)) {
			const wval *recs = wv_get(&bk->m.v[i], "recs");
			got = recs && recs->t == WV_ARR ? (long)recs->a.n : -1;
		}
	if (got <= 0) {
		burst_err(B, "sync 1 has no shift records", r->status, ms);
		free(h);
		return;
	}
	lat_add(&B->sync, ms);
	/* sync 2: push 20 task completions, pull from the cursors */
	wb_init(&b);
	sync_head(&b, 1, 1000);
	batch_head(&b, OPS_PER_DEVICE);
	uint64_t at = wall_ms();
	for (int i = 0; i < OPS_PER_DEVICE; i++) {
		task t;
		burst_task(&t, d->site, d->shift, d->k * OPS_PER_DEVICE + i);
		op_task_done(&b, t.id, d->staff, at);
	}
	wb_cstr(&b, "pull");
	wb_map(&b, bk->m.n);
	for (uint32_t i = 0; i < bk->m.n; i++) {
		uint64_t cur = 0;
		wv_u64(wv_get(&bk->m.v[i], "cursor"), &cur);
		wb_val(&b, &bk->m.k[i]);
		wb_u64(&b, cur);
	}
	t0 = now_s();
	rc = hc_do(c, "POST", "/v1/sync", h, b.p, b.n, r);
	ms = (now_s() - t0) * 1000;
	wb_free(&b);
	free(h);
	if (rc || r->status != 200) {
		burst_err(B, "sync 2", rc ? -1 : r->status, ms);
		return;
	}
	raw = decoded(r, &rn);
	keep = arena_dup(a, raw, rn + 1);
	free(raw);
	if (!keep || wire_decode(a, keep, rn, &v) || !acks_ok(v, 1, OPS_PER_DEVICE)) {
		burst_err(B, "sync 2 acks", r->status, ms);
		return;
	}
	lat_add(&B->sync, ms);
	atomic_fetch_add(&B->ops, OPS_PER_DEVICE);
}

/* One PouchDB device: _find its shift's docs, then _bulk_docs 20 updates
 * with the revs it got. */
static void burst_pd_device(burst *B, const bdev *d, hconn *c, hresp *r)
{
	char path[256], body[512];
	snprintf(path, sizeof(path), "/%s/_find", B->db);
	snprintf(body, sizeof(body),
	         "{\"selector\":{\"shift\":\"%s\"},\"limit\":100000,"
	         "\"use_index\":\"by-shift\"}", d->shift);
	char hdr[256];
	snprintf(hdr, sizeof(hdr), "%s%s", JSON_HDR,
	         B->deflate ? "Accept-Encoding: gzip\r\n" : "");
	double t0 = now_s();
	int rc = hc_do(c, "POST", path, hdr, body, strlen(body), r);
	double ms = (now_s() - t0) * 1000;
	if (rc || r->status != 200) {
		burst_err(B, "_find", rc ? -1 : r->status, ms);
		return;
	}
	size_t rn;
	char *raw = (char *)decoded(r, &rn);
	sbuf s = {0};
	sb_add(&s, "{\"docs\":[");
	uint64_t at = wall_ms();
	for (int i = 0; i < OPS_PER_DEVICE; i++) {
		task t;
		burst_task(&t, d->site, d->shift, d->k * OPS_PER_DEVICE + i);
		char key[96];
		snprintf(key, sizeof(key), "\"_id\":\"%s\",\"_rev\":\"", t.id);
		char *q = strstr(raw, key);
		if (!q) {
			burst_err(B, "_find answer lacks a task", r->status, ms);
			free(raw);
			free(s.p);
			return;
		}
		q += strlen(key);
		char rev[64];
		size_t rl = strcspn(q, "\"");
		if (rl >= sizeof(rev))
			rl = sizeof(rev) - 1;
		memcpy(rev, q, rl);
		rev[rl] = 0;
		if (i)
			sb_add(&s, ",");
		/* the whole document (CouchDB replaces it): same fields as the
		 * fieldsync task after its update */
		sb_add(&s, "{\"_id\":\"%s\",\"_rev\":\"%s\",\"site\":\"%s\",\"shift\":\"%s\","
		           "\"zone\":\"%s\",\"title\":\"%s\",\"status\":\"done\","
		           "\"assignee\":\"%s\",\"due_from\":%llu,\"due_to\":%llu,"
		           "\"note\":\"%s\",\"done_at\":%llu,\"done_by\":\"%s\"}",
		       t.id, rev, d->site, d->shift, t.zone, t.title, t.assignee,
		       (unsigned long long)t.due_from, (unsigned long long)t.due_to,
		       DONE_NOTE, (unsigned long long)at, d->staff);
	}
	sb_add(&s, "]}");
	free(raw);
	lat_add(&B->sync, ms);
	snprintf(path, sizeof(path), "/%s/_bulk_docs", B->db);
	t0 = now_s();
	rc = hc_do(c, "POST", path, JSON_HDR, s.p, s.n, r);
	ms = (now_s() - t0) * 1000;
	free(s.p);
	if (rc || r->status != 201 || strstr((char *)r->body, "\"error\"")) {
		burst_err(B, "_bulk_docs", rc ? -1 : r->status, ms);
		return;
	}
	lat_add(&B->sync, ms);
	atomic_fetch_add(&B->ops, OPS_PER_DEVICE);
}

static void *burst_main(void *arg)
{
	burst *B = arg;
	hresp r = {0};
	arena *a = arena_new(1 << 20);
	for (;;) {
		int i = atomic_fetch_add(&B->next, 1);
		if (i >= B->n)
			break;
		/* device i arrives at t0 + i * secs / n (evenly over the window) */
		double at = B->t0 + B->secs * (double)i / (double)B->n, now = now_s();
		if (at > now)
			usleep((useconds_t)((at - now) * 1e6));
		hconn *c = xmalloc(sizeof(hconn));
		hc_init(c);
		if (hc_connect(c)) {
			burst_err(B, "connect", -1, -1);
			free(c);
			continue;
		}
		if (B->pouch)
			burst_pd_device(B, &B->devs[i], c, &r);
		else
			burst_fs_device(B, &B->devs[i], c, &r, a);
		hc_close(c);
		free(c);
		double done = now_s();
		pthread_mutex_lock(&B->mu);
		if (done > B->last_done)
			B->last_done = done;
		pthread_mutex_unlock(&B->mu);
	}
	free(r.body);
	arena_free(a);
	return NULL;
}

/*
 * fs-burst / pd-burst: --url --devices FILE --secs 60 --threads 32
 *                      --pid SERVER_PID [--db NAME] [--deflate]
 * Device i starts at i*secs/n.  Prints sync latency p50/p99/max, login
 * latency, errors, the time the last device finished, and the server's
 * RssAnon peak.
 */
static int cmd_burst(int pouch)
{
	parse_url(arg_req("--url"));
	burst B;
	memset(&B, 0, sizeof(B));
	B.pouch = pouch;
	B.devs = read_devices(arg_req("--devices"), &B.n);
	B.secs = (double)arg_i("--secs", 60);
	B.db = arg_s("--db", "burst");
	B.deflate = arg_flag("--deflate");
	lat_init(&B.sync);
	lat_init(&B.login);
	lat_init(&B.err);
	pthread_mutex_init(&B.mu, NULL);
	int nth = (int)arg_i("--threads", 32);
	if (nth < 1 || nth > 512)
		die("--threads 1..512");
	rss_sampler rs;
	memset(&rs, 0, sizeof(rs));
	rs.pid = (int)arg_i("--pid", 0);
	long rss_before = rs.pid ? rss_anon(rs.pid) : -1;
	if (rs.pid)
		pthread_create(&rs.th, NULL, rss_main, &rs);
	pthread_t *th = xmalloc(sizeof(pthread_t) * (size_t)nth);
	B.t0 = now_s() + 0.05;
	for (int i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, burst_main, &B);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (rs.pid) {
		atomic_store(&rs.stop, 1);
		pthread_join(rs.th, NULL);
	}
	/* syncs and the latency figures are of answered requests only;
	 * errors counts failed devices (a device stops at its first failure),
	 * error_requests the failed requests timed apart */
	printf("{\"devices\":%d,\"ops\":%ld,\"errors\":%ld,\"syncs\":%zu,"
	       "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	       "\"login_p50_ms\":%.3f,\"login_p99_ms\":%.3f,\"done_s\":%.2f,"
	       "\"error_requests\":%zu,\"error_p50_ms\":%.3f,"
	       "\"error_max_ms\":%.3f,"
	       "\"rss_anon_before_kb\":%ld,\"rss_anon_peak_kb\":%ld,"
	       "\"rss_anon_after_kb\":%ld}\n",
	       B.n, (long)B.ops, (long)B.errors, B.sync.n, lat_pct(&B.sync, 50),
	       lat_pct(&B.sync, 99), lat_pct(&B.sync, 100), lat_pct(&B.login, 50),
	       lat_pct(&B.login, 99), B.last_done - B.t0, B.err.n,
	       lat_pct(&B.err, 50), lat_pct(&B.err, 100), rss_before, rs.peak_kb,
	       rs.last_kb);
	if (B.errors)
		fprintf(stderr, "loadgen: burst: %ld of %d devices failed\n",
		        (long)B.errors, B.n);
	return B.errors ? 3 : 0;
}

/*
 * pd-burst-load: the burst data set into PouchDB database --db (same
 * sites, shifts and tasks as fs-burst-setup), the index on shift, and the
 * devices file (no logins: PouchDB Server here has no per-device users).
 */
static int cmd_pd_burst_load(void)
{
	parse_url(arg_req("--url"));
	burst_shape s = burst_args();
	const char *db = arg_req("--db");
	FILE *out = fopen(arg_req("--out"), "w");
	if (!out)
		die("cannot write --out");
	g_base_ms = wall_ms();
	hconn c;
	hc_init(&c);
	pd_put_db(&c, db);
	char path[256];
	snprintf(path, sizeof(path), "/%s/_bulk_docs", db);
	hresp r = {0};
	double t0 = now_s();
	for (int si = 0; si < s.sites; si++) {
		char site[32];
		sprintf(site, "bs-%03d", si);
		for (int sh = 0; sh < s.shifts; sh++) {
			char shift[32];
			sprintf(shift, "bsh-%03d-%03d", si, sh);
			sbuf b = {0};
			sb_add(&b, "{\"docs\":[");
			for (int i = 0; i < s.staff * OPS_PER_DEVICE; i++) {
				task t;
				burst_task(&t, site, shift, i);
				if (i)
					sb_add(&b, ",");
				sb_add(&b, "{\"_id\":\"%s\",\"site\":\"%s\",\"shift\":\"%s\","
				           "\"zone\":\"%s\",\"title\":\"%s\",\"status\":\"open\","
				           "\"assignee\":\"%s\",\"due_from\":%llu,\"due_to\":%llu,"
				           "\"note\":\"%s\"}",
				       t.id, site, shift, t.zone, t.title, t.assignee,
				       (unsigned long long)t.due_from,
				       (unsigned long long)t.due_to, t.note);
			}
			sb_add(&b, "]}");
			if (hc_do(&c, "POST", path, JSON_HDR, b.p, b.n, &r) || r.status != 201)
				die("burst load: HTTP %d", r.status);
			free(b.p);
			for (int k = 0; k < s.staff; k++)
				fprintf(out, "%d - bc-%03d-%03d-%03d %s %s %d\n",
				        (si * s.shifts + sh) * s.staff + k, si, sh, k, site,
				        shift, k);
		}
	}
	fclose(out);
	hc_close(&c);
	printf("{\"docs\":%d,\"seconds\":%.1f}\n",
	       s.sites * s.shifts * s.staff * OPS_PER_DEVICE, now_s() - t0);
	return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	g_argc = argc;
	g_argv = argv;
	srandom((unsigned)(getpid() ^ wall_ms()));
	if (argc < 2) {
		fprintf(stderr,
		        "usage: loadgen fs-setup|fs-ingest|fs-load|fs-pull|fs-fullpull|"
		        "fs-burst-setup|fs-burst|pd-ingest|pd-changes|pd-index|pd-find|"
		        "pd-burst-load|pd-burst [--key value ...]\n");
		return 2;
	}
	const char *c = argv[1];
	if (!strcmp(c, "fs-setup"))
		return cmd_fs_setup();
	if (!strcmp(c, "fs-ingest"))
		return cmd_fs_ingest();
	if (!strcmp(c, "fs-load"))
		return cmd_fs_load();
	if (!strcmp(c, "fs-pull"))
		return cmd_fs_pull();
	if (!strcmp(c, "fs-fullpull"))
		return cmd_fs_fullpull();
	if (!strcmp(c, "fs-burst-setup"))
		return cmd_fs_burst_setup();
	if (!strcmp(c, "fs-burst"))
		return cmd_burst(0);
	if (!strcmp(c, "pd-ingest"))
		return cmd_pd_ingest();
	if (!strcmp(c, "pd-changes"))
		return cmd_pd_changes();
	if (!strcmp(c, "pd-index"))
		return cmd_pd_index();
	if (!strcmp(c, "pd-find"))
		return cmd_pd_find();
	if (!strcmp(c, "pd-burst-load"))
		return cmd_pd_burst_load();
	if (!strcmp(c, "pd-burst"))
		return cmd_burst(1);
	die("unknown command %s", c);
	return 2;
}
