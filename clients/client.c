/*
 * client.c — the fs_client handle: open/close, errors, enrolment and
 * login, local writes (fs_put) and reads, state queries.  See fieldsync.h.
 */
#include "clients/client_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/sha256.h"
#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/valid.h"
#include "schema/schema.h"

/* ---- errors ------------------------------------------------------------------ */

int cl_fail(fs_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return rc;
}

void cl_ok(fs_client *c)
{
	c->err[0] = 0;
	c->errcode[0] = 0;
}

const char *fs_errmsg(const fs_client *c)
{
	return c ? c->err : "no handle";
}

const char *fs_errcode(const fs_client *c)
{
	return c ? c->errcode : "";
}

const char *fs_strerror(int rc)
{
	static const char *const names[] = {
		"ok", "invalid argument", "not found", "wrong state",
		"network error", "TLS error", "not authorised", "server refused",
		"local store error", "out of memory",
	};

	if (rc < 0 || rc >= (int)(sizeof(names) / sizeof(names[0])))
		return "unknown error";
	return names[rc];
}

uint64_t cl_rand(fs_client *c)
{
	/* xorshift64*: jitter and fault dice only, never ids */
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ---- open / close ---------------------------------------------------------------- */

/* A store from before the outbox journal (or whose journal file was
 * removed) with queued work: copy the outbox into the journal once. */
static int seed_journal(fs_client *c)
{
	ls_txn *t;
	int rc;

	if (ls_journal_size(c->ls))
		return FSC_OK;
	if ((rc = ls_begin(c->ls, 0, &t)))
		return rc;
	rc = ls_count(t, LT_OUTB) ? 1 : 0;
	ls_abort(t);
	if (!rc)
		return FSC_OK;
	if ((rc = ls_begin(c->ls, 1, &t)))
		return rc;
	if (ls_journal_size(c->ls) || (rc = lc_out_journal_all(t))) {
		ls_abort(t);
		return rc;
	}
	return ls_commit(t);
}

int fs_open(const fs_options *o, fs_client **out, char *err, size_t errn)
{
	fs_client *c;
	pthread_mutexattr_t ma;
	int rc;

	*out = NULL;
	if (errn)
		err[0] = 0;
	if (!o || !o->home || !o->home[0]) {
		snprintf(err, errn, "no home directory given");
		return FSC_EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return FSC_ENOMEM;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&c->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (strlen(o->home) >= sizeof(c->home)) {
		snprintf(err, errn, "home directory path too long");
		rc = FSC_EINVAL;
		goto fail;
	}
	snprintf(c->home, sizeof(c->home), "%s", o->home);
	if (o->ca_file) {
		char *abs = realpath(o->ca_file, NULL);

		if (!abs) {
			snprintf(err, errn, "CA file %s: %s", o->ca_file,
			         strerror(errno));
			rc = FSC_EINVAL;
			goto fail;
		}
		snprintf(c->ca_opt, sizeof(c->ca_opt), "%s", abs);
		free(abs);
	}
	c->insecure_opt = o->insecure_http;
	if (o->proxy) {
		if (strlen(o->proxy) >= sizeof(c->proxy_opt)) {
			snprintf(err, errn, "proxy URL too long");
			rc = FSC_EINVAL;
			goto fail;
		}
		snprintf(c->proxy_opt, sizeof(c->proxy_opt), "%s", o->proxy);
		c->has_proxy = 1;
	}
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 15000;
	c->attempts = o->attempts ? o->attempts : 5;
	c->backoff_ms = o->backoff_ms ? o->backoff_ms : 200;
	c->drop_permille = o->drop_reply_permille;
	c->wire = o->wire;
	if (!c->wire) {
		const char *w = getenv("FIELDSYNC_WIRE");

		c->wire = !w || !*w || !strcmp(w, "v2") ? 2
		          : !strcmp(w, "v1") ? 1 : 3;
	}
	if (c->wire > 2) {
		snprintf(err, errn, "the pull encoding (wire) is v1 or v2");
		rc = FSC_EINVAL;
		goto fail;
	}
	c->rng = o->seed;
	if (!c->rng) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->rng = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^
		         (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)c;
	}
	if (!c->rng)
		c->rng = 0x9E3779B97F4A7C15ULL;
	devclock_init(&c->clk, o->wall_shift_ms, o->boot_id, o->mono_shift_ms);
	rc = ls_open(c->home, o->no_fsync, &c->ls, err, errn);
	if (rc)
		goto fail;
	if ((rc = seed_journal(c))) {
		snprintf(err, errn, "cannot write the outbox journal in %s",
		         c->home);
		goto fail;
	}
	*out = c;
	return FSC_OK;
fail:
	fs_close(c);
	return rc;
}

void fs_close(fs_client *c)
{
	if (!c)
		return;
	http_free(c->http);
	ls_close(c->ls);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- clocks ------------------------------------------------------------------ */

int64_t cl_offset(ls_txn *t)
{
	return (int64_t)lc_meta_u64(t, "offset");
}

uint64_t cl_now(fs_client *c, ls_txn *t)
{
	int64_t v = (int64_t)devclock_wall(&c->clk) + cl_offset(t);

	return v < 0 ? 0 : (uint64_t)v;
}

int cl_stamp(fs_client *c, ls_txn *t, uint64_t *out)
{
	hlc_clock k = {lc_meta_u64(t, "hlc")};

	*out = hlc_now(&k, cl_now(c, t));
	return lc_meta_put_u64(t, "hlc", *out);
}

uint64_t fs_now(fs_client *c)
{
	ls_txn *t;
	uint64_t v;

	pthread_mutex_lock(&c->mu);
	if (ls_begin(c->ls, 0, &t)) {
		v = devclock_wall(&c->clk);
	} else {
		v = cl_now(c, t);
		ls_abort(t);
	}
	pthread_mutex_unlock(&c->mu);
	return v;
}

uint64_t fs_device_wall(fs_client *c)
{
	return devclock_wall(&c->clk);
}

int fs_set_clock(fs_client *c, int64_t wall_shift_ms, const char *boot_id,
                 int64_t mono_shift_ms)
{
	pthread_mutex_lock(&c->mu);
	c->clk.wall_shift_ms = wall_shift_ms;
	c->clk.mono_shift_ms = mono_shift_ms;
	if (boot_id)
		snprintf(c->clk.boot, sizeof(c->clk.boot), "%s", boot_id);
	pthread_mutex_unlock(&c->mu);
	return FSC_OK;
}

/* ---- HTTP helpers ------------------------------------------------------------ */

static void err_append(fs_client *c, const char *s)
{
	size_t n = strlen(c->err);

	if (n < sizeof(c->err) - 1)
		snprintf(c->err + n, sizeof(c->err) - n, "%.900s", s);
}

int cl_http(fs_client *c, ls_txn *t, http_client **out)
{
	char url[512], ca[1100];
	int rc;

	*out = NULL;
	if (c->http) {
		*out = c->http;
		return FSC_OK;
	}
	if (lc_meta_str(t, "url", url, sizeof(url)))
		return cl_fail(c, FSC_ESTATE, "this device is not enrolled "
		               "(run enroll first)");
	if ((rc = cl_ca_file(c, t, ca, sizeof(ca))))
		return rc;
	cl_ca_note(c, t);
	rc = http_new(url, ca[0] ? ca : NULL, lc_meta_u64(t, "insecure") != 0,
	              c->has_proxy ? c->proxy_opt : NULL, c->timeout_ms,
	              &c->http, c->err, sizeof(c->err));
	if (rc == FSC_ETLS)
		err_append(c, c->ca_desc);
	if (rc)
		return rc;
	*out = c->http;
	return FSC_OK;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int cl_request(fs_client *c, http_client *h, const char *method,
               const char *path, const char *token, const char *ctype,
               const void *body, size_t n, int deflate, int is_sync,
               http_resp *out)
{
	uint64_t backoff = c->backoff_ms;
	int rc = FSC_ENET;

	for (unsigned att = 0; att < c->attempts; att++) {
		uint64_t wait;

		if (att) {
			c->retries++;
			wait = backoff + cl_rand(c) % (backoff + 1);
			if (out->retry_after && out->retry_after * 1000ULL > wait)
				wait = out->retry_after * 1000ULL;
			if (wait > 30000)
				wait = 30000;
			http_resp_free(out);
			sleep_ms(wait);
			backoff *= 2;
		}
		c->last_send = devclock_wall(&c->clk);
		rc = http_request(h, method, path, token, ctype, body, n, deflate,
		                  out, c->err, sizeof(c->err));
		if (rc == FSC_ETLS)
			err_append(c, c->ca_desc);
		if (rc == FSC_ETLS || rc == FSC_ENOMEM)
			return rc;
		/* a lock of minutes (a login lockout) is the caller's to
		 * report, not to wait out */
		if (rc == FSC_OK && out->status == 429 && out->retry_after > 30)
			return FSC_OK;
		if (rc == FSC_OK && is_sync && c->drop_permille &&
		    cl_rand(c) % 1000 < c->drop_permille) {
			/* fault: the server answered, the reply is lost */
			http_resp_free(out);
			http_disconnect(h);
			snprintf(c->err, sizeof(c->err), "reply lost (simulated)");
			rc = FSC_ENET;
			continue;
		}
		if (rc == FSC_OK && out->status != 429 && out->status != 503)
			return FSC_OK;
		if (rc == FSC_OK)
			snprintf(c->err, sizeof(c->err), "the server is busy (HTTP %d)",
			         out->status);
	}
	if (rc == FSC_OK) {
		/* still 429/503 after every attempt */
		rc = cl_http_error(c, "request", out);
		http_resp_free(out);
	}
	return rc == FSC_OK ? FSC_ESERVER : rc;
}

int cl_connect(fs_client *c, http_client *h)
{
	uint64_t backoff = c->backoff_ms;
	int rc = FSC_ENET;

	for (unsigned att = 0; att < c->attempts; att++) {
		if (att) {
			uint64_t wait = backoff + cl_rand(c) % (backoff + 1);

			c->retries++;
			sleep_ms(wait > 30000 ? 30000 : wait);
			backoff *= 2;
		}
		rc = http_connect(h, c->err, sizeof(c->err));
		if (rc == FSC_ETLS)
			err_append(c, c->ca_desc);
		if (rc != FSC_ENET)
			return rc;
	}
	return rc;
}

int cl_http_error(fs_client *c, const char *what, const http_resp *r)
{
	arena *a = arena_new(0);
	wval *v = NULL;
	char code[40] = "", msg[300] = "";
	int rc = r->status == 401 ? FSC_EAUTH : FSC_ESERVER;

	if (a && r->body && r->n &&
	    !wire_decode_max(a, r->body, r->n, 1000, &v) && v->t == WV_MAP) {
		const wval *e = wv_get(v, "error"), *m = wv_get(v, "msg");

		if (e && e->t == WV_STR)
			snprintf(code, sizeof(code), "%.*s", (int)e->s.n, e->s.p);
		if (m && m->t == WV_STR)
			snprintf(msg, sizeof(msg), "%.*s", (int)m->s.n, m->s.p);
	}
	arena_free(a);
	snprintf(c->errcode, sizeof(c->errcode), "%s", code);
	if (r->retry_after && strlen(msg) + 60 < sizeof(msg)) {
		size_t len = strlen(msg);
		unsigned s = r->retry_after;

		if (s >= 120)
			snprintf(msg + len, sizeof(msg) - len, "%s locked for %u more "
			         "minute(s)", len ? " —" : "", (s + 59) / 60);
		else
			snprintf(msg + len, sizeof(msg) - len, "%s try again in %u "
			         "s", len ? " —" : "", s);
	}
	if (r->status == 401)
		return cl_fail(c, rc, "%s refused: %s%s%s", what,
		               code[0] ? code : "UNAUTHORIZED", msg[0] ? ": " : "",
		               msg[0] ? msg : "");
	return cl_fail(c, rc, "%s refused (HTTP %d): %s%s%s", what, r->status,
	               code[0] ? code : "error", msg[0] ? ": " : "", msg);
}

/* msgpack map -> wval tree in arena; NULL unless a map */
static const wval *decode_map(arena *a, const http_resp *r)
{
	wval *v;

	if (!r->body || wire_decode_max(a, r->body, r->n, 100000, &v) ||
	    v->t != WV_MAP)
		return NULL;
	return v;
}

static int copy_str(const wval *v, char *out, size_t n)
{
	if (!v || v->t != WV_STR || v->s.n >= n)
		return 0;
	memcpy(out, v->s.p, v->s.n);
	out[v->s.n] = 0;
	return 1;
}

/* ---- device ------------------------------------------------------------------ */

/* The stored device of an enrolled store, for a second enroll: allowed
 * only when the server at h refuses its token (reset, replaced, revoked).
 * *again is set when this is a re-enrollment. */
static int may_enroll(fs_client *c, http_client *h, const char *url,
                      int *again)
{
	ls_txn *t;
	char dev[136], dtok[300];
	int rc, known;

	*again = 0;
	if ((rc = ls_begin(c->ls, 0, &t)))
		return rc;
	rc = lc_meta_str(t, "device", dev, sizeof(dev));
	if (!rc)
		rc = lc_meta_str(t, "dtoken", dtok, sizeof(dtok));
	ls_abort(t);
	if (rc)
		return FSC_OK; /* not enrolled yet */
	known = cl_device_probe(c, h, dtok);
	if (known < 0)
		return cl_fail(c, FSC_ENET, "this store is enrolled as device %s; "
		               "could not ask %s whether it still knows it: %s",
		               dev, url, c->err);
	if (known)
		return cl_fail(c, FSC_ESTATE, "this store is already enrolled as "
		               "device %s, and %s still knows it (use another "
		               "--home for another device)", dev, url);
	*again = 1;
	return FSC_OK;
}

/* Store the new enrollment; a re-enrollment keeps everything queued and
 * the store id (so the first sync sees a reset server) but forgets the
 * old session. */
static int save_enrollment(fs_client *c, const char *url, const char *dev,
                           const char *tok, const char *name, int again)
{
	static const char *const session[] = {"stoken", "staff", "role", "site",
	                                      "expires"};
	ls_txn *t;
	char old[136] = "";
	int rc;

	if ((rc = ls_begin(c->ls, 1, &t)))
		return rc;
	lc_meta_str(t, "device", old, sizeof(old));
	if (c->ca_opt[0])
		rc = cl_pin_ca(c, t, c->ca_opt);
	else if (!again)
		rc = lc_meta_put_str(t, "ca", "");
	for (size_t i = 0; again && !rc && i < 5; i++)
		rc = lc_meta_del(t, session[i]);
	if (rc || (again && (rc = lc_meta_put_str(t, "prev_device", old))) ||
	    (rc = lc_meta_put_str(t, "url", url)) ||
	    (rc = lc_meta_put_u64(t, "insecure", c->insecure_opt != 0)) ||
	    (rc = lc_meta_put_str(t, "device", dev)) ||
	    (rc = lc_meta_put_str(t, "dtoken", tok)) ||
	    (rc = lc_meta_put_str(t, "name", name && name[0] ? name : ""))) {
		ls_abort(t);
		return rc;
	}
	return ls_commit(t);
}

int fs_enroll(fs_client *c, const char *server_url, const char *code,
              const char *name)
{
	ls_txn *t = NULL;
	http_client *h = NULL;
	http_resp r = {0};
	arena *a = arena_new(0);
	wbuf b;
	char dev[136], tok[300], ca[1100] = "";
	const wval *v;
	int rc = FSC_OK, again = 0;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	wb_init(&b);
	if (!a) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if (!server_url || !code || !code[0]) {
		rc = cl_fail(c, FSC_EINVAL, "enroll needs a server URL and a code");
		goto out;
	}
	/* a re-enrollment without --ca keeps trusting the pinned CA */
	if (!c->ca_opt[0] && !(rc = ls_begin(c->ls, 0, &t))) {
		rc = cl_ca_file(c, t, ca, sizeof(ca));
		ls_abort(t);
		t = NULL;
	}
	if (rc)
		goto out;
	if (c->ca_opt[0])
		snprintf(ca, sizeof(ca), "%s", c->ca_opt);
	snprintf(c->ca_desc, sizeof(c->ca_desc), ca[0] ? " (CA: %s)" : "", ca);
	rc = http_new(server_url, ca[0] ? ca : NULL, c->insecure_opt,
	              c->has_proxy ? c->proxy_opt : NULL, c->timeout_ms, &h,
	              c->err, sizeof(c->err));
	if (rc || (rc = may_enroll(c, h, server_url, &again)))
		goto out;
	wb_map(&b, 2);
	wb_cstr(&b, "code");
	wb_cstr(&b, code);
	wb_cstr(&b, "name");
	wb_cstr(&b, name && name[0] ? name : "fieldsync handheld");
	if (b.err) {
		rc = FSC_ENOMEM;
		goto out;
	}
	rc = cl_request(c, h, "POST", "/v1/enroll", NULL, "application/msgpack",
	                b.p, b.n, 0, 0, &r);
	if (rc)
		goto out;
	if (r.status != 200) {
		rc = cl_http_error(c, "enroll", &r);
		goto out;
	}
	v = decode_map(a, &r);
	if (!v || !copy_str(wv_get(v, "device"), dev, sizeof(dev)) ||
	    !copy_str(wv_get(v, "token"), tok, sizeof(tok))) {
		rc = cl_fail(c, FSC_ESERVER, "enroll: the server's answer has no "
		             "device and token");
		goto out;
	}
	if ((rc = save_enrollment(c, server_url, dev, tok, name, again)))
		goto out;
	http_free(c->http);
	c->http = h;
	h = NULL;
out:
	if (rc == FSC_ESTORE && !c->err[0])
		cl_fail(c, rc, "the local store failed");
	ls_abort(t);
	http_free(h);
	http_resp_free(&r);
	wb_free(&b);
	arena_free(a);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* A refused or failed login leaves nobody logged in. */
static void forget_session(fs_client *c)
{
	static const char *const keys[] = {"stoken", "staff", "role", "site",
	                                   "expires"};
	ls_txn *t;

	if (ls_begin(c->ls, 1, &t))
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (lc_meta_del(t, keys[i])) {
			ls_abort(t);
			return;
		}
	ls_commit(t);
}

int fs_login(fs_client *c, const char *staff, const char *pin)
{
	ls_txn *t = NULL;
	http_client *h;
	http_resp r = {0};
	arena *a = arena_new(0);
	wbuf b;
	char dtok[300], tok[300], sstaff[136], role[32], site[136];
	const wval *v;
	uint64_t expires = 0;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	wb_init(&b);
	if (!a) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if (!staff || !staff[0] || !pin) {
		rc = cl_fail(c, FSC_EINVAL, "login needs --staff and --pin");
		goto out;
	}
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	if (lc_meta_str(t, "dtoken", dtok, sizeof(dtok))) {
		rc = cl_fail(c, FSC_ESTATE, "this device is not enrolled (run "
		             "enroll first)");
		goto out;
	}
	if ((rc = cl_http(c, t, &h)))
		goto out;
	ls_abort(t);
	t = NULL;
	wb_map(&b, 2);
	wb_cstr(&b, "staff");
	wb_cstr(&b, staff);
	wb_cstr(&b, "pin");
	wb_cstr(&b, pin);
	rc = cl_request(c, h, "POST", "/v1/login", dtok, "application/msgpack",
	                b.p, b.n, 0, 0, &r);
	if (rc) {
		http_disconnect(h);
		goto refused;
	}
	if (r.status != 200) {
		rc = cl_http_error(c, "login", &r);
		if (rc == FSC_EAUTH && !ls_begin(c->ls, 0, &t)) {
			cl_device_gone(c, h, t);
			ls_abort(t);
			t = NULL;
		}
		http_disconnect(h);
		goto refused;
	}
	http_disconnect(h);
	v = decode_map(a, &r);
	if (!v || !copy_str(wv_get(v, "token"), tok, sizeof(tok)) ||
	    !copy_str(wv_get(v, "staff"), sstaff, sizeof(sstaff))) {
		rc = cl_fail(c, FSC_ESERVER, "login: the server's answer has no "
		             "token");
		goto out;
	}
	if (!copy_str(wv_get(v, "role"), role, sizeof(role)))
		role[0] = 0;
	if (!copy_str(wv_get(v, "site"), site, sizeof(site)))
		site[0] = 0;
	wv_u64(wv_get(v, "expires"), &expires);
	if ((rc = ls_begin(c->ls, 1, &t)))
		goto out;
	if ((rc = lc_meta_put_str(t, "stoken", tok)) ||
	    (rc = lc_meta_put_str(t, "staff", sstaff)) ||
	    (rc = lc_meta_put_str(t, "role", role)) ||
	    (rc = lc_meta_put_str(t, "site", site)) ||
	    (rc = lc_meta_put_u64(t, "expires", expires)))
		goto out;
	rc = ls_commit(t);
	t = NULL;
	goto out;
refused:
	forget_session(c);
out:
	if (rc == FSC_ESTORE && !c->err[0])
		cl_fail(c, rc, "the local store failed");
	ls_abort(t);
	http_resp_free(&r);
	wb_free(&b);
	arena_free(a);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int fs_attach(fs_client *c, const char *server_url, const char *token)
{
	ls_txn *t = NULL;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (!server_url || !token || !token[0]) {
		rc = cl_fail(c, FSC_EINVAL, "attach needs a server URL and a token");
		goto out;
	}
	if ((rc = ls_begin(c->ls, 1, &t)))
		goto out;
	if ((rc = lc_meta_put_str(t, "url", server_url)) ||
	    (rc = lc_meta_put_str(t, "ca", c->ca_opt)) ||
	    (rc = lc_meta_put_u64(t, "insecure", c->insecure_opt != 0)) ||
	    (rc = lc_meta_put_str(t, "stoken", token)))
		goto out;
	rc = ls_commit(t);
	t = NULL;
	http_free(c->http);
	c->http = NULL;
out:
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int fs_logout(fs_client *c)
{
	ls_txn *t = NULL;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	forget_session(c);
	if (!(rc = ls_begin(c->ls, 0, &t))) {
		char tok[300];

		if (!lc_meta_str(t, "stoken", tok, sizeof(tok)))
			rc = cl_fail(c, FSC_ESTORE, "the session could not be "
			             "forgotten (local store)");
	}
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* ---- writes ------------------------------------------------------------------- */

static void put_field(wbuf *b, const fs_field *f)
{
	wb_cstr(b, f->name);
	switch (f->type) {
	case FS_V_NIL:
		wb_nil(b);
		break;
	case FS_V_BOOL:
		wb_bool(b, f->b);
		break;
	case FS_V_INT:
		if (f->i >= 0)
			wb_u64(b, (uint64_t)f->i);
		else
			wb_i64(b, f->i);
		break;
	case FS_V_FLOAT:
		wb_f64(b, f->f);
		break;
	case FS_V_STR:
		wb_cstr(b, f->s);
		break;
	case FS_V_STRS:
		wb_arr(b, (uint32_t)f->nstrs);
		for (size_t i = 0; i < f->nstrs; i++)
			wb_cstr(b, f->strs[i]);
		break;
	}
}

int cl_write(fs_client *c, ls_txn *t, const char *collection, const char *id,
             const fs_field *f, size_t n, fs_write *out)
{
	const scollection *sc;
	arena *a = arena_new(0);
	char dev[136], staff[136];
	fs_limits lim;
	wbuf b;
	wval *fv;
	record r;
	char *bucket;
	uint64_t s, seq;
	int rc;

	wb_init(&b);
	if (!a)
		return FSC_ENOMEM;
	fs_limits_default(&lim);
	sc = collection ? schema_collection(collection, strlen(collection)) : NULL;
	if (!sc) {
		rc = cl_fail(c, FSC_EINVAL, "unknown collection \"%s\"",
		             collection ? collection : "");
		goto out;
	}
	if (!id || valid_id(id, strlen(id))) {
		rc = cl_fail(c, FSC_EINVAL, "bad id \"%s\": 1-128 of "
		             "[A-Za-z0-9._:-]", id ? id : "");
		goto out;
	}
	if (n == 0 || n > lim.fields_max) {
		rc = cl_fail(c, FSC_EINVAL, "an op writes 1-%u fields",
		             lim.fields_max);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const sfield *sf;

		if (!f[i].name || valid_field_name(f[i].name, strlen(f[i].name))) {
			rc = cl_fail(c, FSC_EINVAL, "bad field name \"%s\"",
			             f[i].name ? f[i].name : "");
			goto out;
		}
		if (!strcmp(f[i].name, "_deleted"))
			continue;
		sf = schema_field(sc, f[i].name, strlen(f[i].name));
		if (!sf) {
			rc = cl_fail(c, FSC_EINVAL, "%s has no field \"%s\"",
			             collection, f[i].name);
			goto out;
		}
		if (sf->grants & G_SERVER) {
			rc = cl_fail(c, FSC_EINVAL, "%s.%s is written by the server "
			             "only", collection, f[i].name);
			goto out;
		}
		if ((f[i].type == FS_V_STR && !f[i].s) ||
		    (f[i].type == FS_V_STRS && f[i].nstrs && !f[i].strs)) {
			rc = cl_fail(c, FSC_EINVAL, "%s: no value", f[i].name);
			goto out;
		}
	}
	if (lc_meta_str(t, "device", dev, sizeof(dev))) {
		rc = cl_fail(c, FSC_ESTATE, "this device is not enrolled (run "
		             "enroll first)");
		goto out;
	}
	if (lc_meta_str(t, "staff", staff, sizeof(staff)) || !staff[0]) {
		rc = cl_fail(c, FSC_ESTATE, "nobody is logged in on this device "
		             "(run login first)");
		goto out;
	}
	wb_map(&b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_field(&b, &f[i]);
	if (b.err) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if (wire_decode(a, b.p, b.n, &fv) || fv->t != WV_MAP) {
		rc = cl_fail(c, FSC_EINVAL, "fields do not encode");
		goto out;
	}
	for (uint32_t i = 0; i < fv->m.n; i++)
		if (valid_value(&fv->m.v[i], &lim)) {
			rc = cl_fail(c, FSC_EINVAL, "%s: value too large, too deep "
			             "or not UTF-8", f[i].name);
			goto out;
		}
	rc = lc_rec_load(t, a, collection, id, &r, NULL);
	if (rc && rc != FSC_ENOTFOUND)
		goto out;
	if ((rc = cl_stamp(c, t, &s)))
		goto out;
	{
		stamp st = {s, dev, (uint32_t)strlen(dev)};

		for (uint32_t i = 0; i < fv->m.n; i++)
			if (rec_merge(a, &r, fv->m.k[i].s.p, fv->m.k[i].s.n,
			              &fv->m.v[i], &st) < 0) {
				rc = FSC_ENOMEM;
				goto out;
			}
	}
	bucket = lc_bucket_of(a, collection, id, &r);
	if (!bucket) {
		rc = cl_fail(c, FSC_EINVAL, "%s %s is not on this device and the "
		             "change does not say its %s", collection, id,
		             sc->bucket_field ? sc->bucket_field : "id");
		goto out;
	}
	if ((rc = lc_rec_store(t, collection, id, bucket, &r)) ||
	    (rc = lc_out_append(t, staff, collection, id, s, b.p, b.n, bucket,
	                        &seq)))
		goto out;
	if (out) {
		memset(out, 0, sizeof(*out));
		snprintf(out->id, sizeof(out->id), "%s", id);
		snprintf(out->bucket, sizeof(out->bucket), "%s", bucket);
		out->hlc = s;
	}
out:
	if (rc == FSC_ESTORE && !c->err[0])
		cl_fail(c, rc, "the local store failed");
	wb_free(&b);
	arena_free(a);
	return rc;
}

int fs_put(fs_client *c, const char *collection, const char *id,
           const fs_field *f, size_t n, fs_write *out)
{
	ls_txn *t = NULL;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (!(rc = ls_begin(c->ls, 1, &t)) &&
	    !(rc = cl_write(c, t, collection, id, f, n, out))) {
		rc = ls_commit(t);
		t = NULL;
		if (rc)
			cl_fail(c, rc, "the local store could not commit");
	}
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* ---- reads -------------------------------------------------------------------- */

struct fs_record {
	arena *a;
	record r;
	char *c, *id, *bucket;
};

static fs_record *record_new(void)
{
	fs_record *r = calloc(1, sizeof(*r));

	if (r && !(r->a = arena_new(4096))) {
		free(r);
		return NULL;
	}
	return r;
}

void fs_record_free(fs_record *r)
{
	if (!r)
		return;
	arena_free(r->a);
	free(r);
}

int fs_get(fs_client *c, const char *collection, const char *id,
           fs_record **out)
{
	ls_txn *t = NULL;
	fs_record *r = NULL;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (!(r = record_new())) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	rc = lc_rec_load(t, r->a, collection, id, &r->r, &r->bucket);
	if (rc == FSC_ENOTFOUND) {
		cl_fail(c, rc, "no %s %s on this device", collection, id);
		goto out;
	}
	if (rc)
		goto out;
	r->c = arena_strndup(r->a, collection, strlen(collection));
	r->id = arena_strndup(r->a, id, strlen(id));
	if (!r->c || !r->id) {
		rc = FSC_ENOMEM;
		goto out;
	}
	*out = r;
	r = NULL;
out:
	ls_abort(t);
	fs_record_free(r);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

typedef struct {
	ls_txn *t;
	fs_record *r;
	size_t cn;
	int (*cb)(void *ctx, const fs_record *r);
	void *ctx;
	int rc;
} each_rec;

static int each_rec_cb(void *ctx, ls_val k, ls_val v)
{
	each_rec *e = ctx;
	const char *id = (const char *)k.p + e->cn + 1;
	size_t idn = k.n - e->cn - 1;

	(void)v;
	arena_reset(e->r->a);
	e->r->c = arena_strndup(e->r->a, k.p, e->cn);
	e->r->id = arena_strndup(e->r->a, id, idn);
	if (!e->r->c || !e->r->id) {
		e->rc = FSC_ENOMEM;
		return 1;
	}
	e->rc = lc_rec_load(e->t, e->r->a, e->r->c, e->r->id, &e->r->r,
	                    &e->r->bucket);
	if (e->rc)
		return 1;
	return e->cb(e->ctx, e->r) ? 1 : 0;
}

int fs_each(fs_client *c, const char *collection,
            int (*cb)(void *ctx, const fs_record *r), void *ctx)
{
	ls_txn *t = NULL;
	each_rec e = {0};
	char pre[200];
	size_t cn = strlen(collection);
	int rc;

	if (cn + 1 > sizeof(pre))
		return FSC_EINVAL;
	memcpy(pre, collection, cn);
	pre[cn] = 0;
	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	e.r = record_new();
	if (!e.r) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	e.t = t;
	e.cn = cn;
	e.cb = cb;
	e.ctx = ctx;
	rc = ls_scan(t, LT_RECS, ls_v(pre, cn + 1), each_rec_cb, &e);
	rc = rc == FSC_ESTORE ? rc : e.rc;
out:
	ls_abort(t);
	fs_record_free(e.r);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

const char *fs_rec_collection(const fs_record *r)
{
	return r->c;
}

const char *fs_rec_id(const fs_record *r)
{
	return r->id;
}

const char *fs_rec_bucket(const fs_record *r)
{
	return r->bucket;
}

const char *fs_rec_str(const fs_record *r, const char *field)
{
	return rec_str(r->a, &r->r, field);
}

int fs_rec_u64(const fs_record *r, const char *field, uint64_t *out)
{
	return rec_u64(&r->r, field, out);
}

int fs_rec_num(const fs_record *r, const char *field, double *out)
{
	const rfield *f = rec_get(&r->r, field);

	return f ? wv_num(&f->val, out) : 0;
}

int fs_rec_true(const fs_record *r, const char *field)
{
	return rec_true(&r->r, field);
}

int fs_rec_has(const fs_record *r, const char *field, const char *s)
{
	const rfield *f = rec_get(&r->r, field);

	if (!f || f->val.t != WV_ARR)
		return 0;
	for (uint32_t i = 0; i < f->val.a.n; i++)
		if (wv_is_str(&f->val.a.v[i], s))
			return 1;
	return 0;
}

size_t fs_rec_len(const fs_record *r, const char *field)
{
	const rfield *f = rec_get(&r->r, field);

	return f && f->val.t == WV_ARR ? f->val.a.n : 0;
}

const char *fs_rec_at(const fs_record *r, const char *field, size_t i)
{
	const rfield *f = rec_get(&r->r, field);

	if (!f || f->val.t != WV_ARR || i >= f->val.a.n)
		return NULL;
	return wv_strdup(r->a, &f->val.a.v[i]);
}

char *fs_rec_json(const fs_record *r, int with_stamps)
{
	wbuf b;
	uint8_t *p;
	size_t n;
	char *s;

	wb_init(&b);
	lc_json_record(&b, r->c, r->id, r->bucket, &r->r, with_stamps);
	p = wb_take(&b, &n);
	if (!p)
		return NULL;
	s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	free(p);
	return s;
}

/* ---- state -------------------------------------------------------------------- */

int fs_get_status(fs_client *c, fs_status *out)
{
	ls_txn *t = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	lc_meta_str(t, "url", out->server, sizeof(out->server));
	lc_meta_str(t, "device", out->device, sizeof(out->device));
	lc_meta_str(t, "staff", out->staff, sizeof(out->staff));
	lc_meta_str(t, "role", out->role, sizeof(out->role));
	lc_meta_str(t, "site", out->site, sizeof(out->site));
	lc_meta_str(t, "store", out->store_id, sizeof(out->store_id));
	{
		char tok[300];

		out->enrolled = out->device[0] != 0;
		out->logged_in = !lc_meta_str(t, "stoken", tok, sizeof(tok));
	}
	out->session_expires = lc_meta_u64(t, "expires");
	out->pending_ops = ls_count(t, LT_OUTO);
	out->pending_batches = ls_count(t, LT_OUTB);
	out->dead_letters = ls_count(t, LT_DEAD);
	out->urgent_unacked = ls_count(t, LT_URG);
	out->photos_queued = ls_count(t, LT_PHOTO);
	out->last_sync = lc_meta_u64(t, "last_sync");
	if (!lc_meta_raw(t, "ca_pem", &(ls_val){0}))
		snprintf(out->ca_file, sizeof(out->ca_file), "%s/ca.pem", c->home);
	else
		lc_meta_str(t, "ca", out->ca_file, sizeof(out->ca_file));
	lc_meta_str(t, "ca_src", out->ca_source, sizeof(out->ca_source));
	out->clock_offset_ms = cl_offset(t);
	out->now = cl_now(c, t);
out:
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

typedef struct {
	arena *a;
	int (*dcb)(void *ctx, const fs_dead *d);
	int (*ucb)(void *ctx, const fs_urgent *u);
	void *ctx;
	int rc;
} each_misc;

static int dead_cb(void *ctx, ls_val k, ls_val v)
{
	each_misc *e = ctx;
	fs_dead d;
	wval *root;
	const wval *op;
	uint8_t *copy;
	wbuf j;
	int stop;

	arena_reset(e->a);
	memset(&d, 0, sizeof(d));
	copy = arena_dup(e->a, v.p, v.n);
	if (!copy || k.n != 8 || wire_decode(e->a, copy, v.n, &root) ||
	    root->t != WV_MAP)
		return 0;
	op = wv_get(root, "op");
	d.seq = be64_get(k.p);
	d.code = wv_strdup(e->a, wv_get(root, "code"));
	d.msg = wv_strdup(e->a, wv_get(root, "msg"));
	d.by = wv_strdup(e->a, wv_get(root, "by"));
	d.collection = wv_strdup(e->a, wv_get(op, "c"));
	d.id = wv_strdup(e->a, wv_get(op, "id"));
	wv_u64(wv_get(root, "t"), &d.at);
	wb_init(&j);
	if (op)
		lc_json_val(&j, op);
	wb_raw(&j, "", 1);
	d.op_json = j.err ? "" : (const char *)j.p;
	if (!d.code)
		d.code = "?";
	if (!d.msg)
		d.msg = "";
	if (!d.collection)
		d.collection = "?";
	if (!d.id)
		d.id = "?";
	stop = e->dcb(e->ctx, &d);
	wb_free(&j);
	return stop;
}

/* Visit one local table under the handle's lock in a read txn; `e` is
 * the visit's state (its arena is freed here). */
static int each_in(fs_client *c, int table,
                   int (*scan)(void *ctx, ls_val k, ls_val v), each_misc *e)
{
	ls_txn *t = NULL;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (!e->a) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	rc = ls_scan(t, table, ls_v(NULL, 0), scan, e);
	rc = rc == FSC_ESTORE ? rc : FSC_OK;
out:
	ls_abort(t);
	arena_free(e->a);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int fs_each_dead(fs_client *c, int (*cb)(void *ctx, const fs_dead *d),
                 void *ctx)
{
	each_misc e = {arena_new(0), cb, NULL, ctx, 0};
	return each_in(c, LT_DEAD, dead_cb, &e);
}

static int urg_cb(void *ctx, ls_val k, ls_val v)
{
	each_misc *e = ctx;
	fs_urgent u;
	wval *root;
	uint8_t *copy;

	arena_reset(e->a);
	memset(&u, 0, sizeof(u));
	copy = arena_dup(e->a, v.p, v.n);
	if (!copy || wire_decode(e->a, copy, v.n, &root) || root->t != WV_MAP)
		return 0;
	u.id = arena_strndup(e->a, k.p, k.n);
	u.category = wv_strdup(e->a, wv_get(root, "category"));
	u.title = wv_strdup(e->a, wv_get(root, "title"));
	u.state = wv_strdup(e->a, wv_get(root, "state"));
	wv_u64(wv_get(root, "t"), &u.at);
	if (!u.id || !u.category || !u.title || !u.state)
		return 0;
	return e->ucb(e->ctx, &u);
}

int fs_each_urgent(fs_client *c, int (*cb)(void *ctx, const fs_urgent *u),
                   void *ctx)
{
	each_misc e = {arena_new(0), NULL, cb, ctx, 0};
	return each_in(c, LT_URG, urg_cb, &e);
}

void strlist_add(strlist *l, const char *p, size_t n)
{
	if (l->n && strlen(l->v[l->n - 1]) == n && !memcmp(l->v[l->n - 1], p, n))
		return; /* sorted input: neighbours repeat */
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 32;
		char **nv = arena_calloc(l->a, cap, sizeof(char *));

		if (!nv) {
			l->oom = 1;
			return;
		}
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(char *));
		l->v = nv;
		l->cap = cap;
	}
	if (!(l->v[l->n] = arena_strndup(l->a, p, n)))
		l->oom = 1;
	else
		l->n++;
}

int strlist_bmem_cb(void *ctx, ls_val k, ls_val v)
{
	const char *z = memchr(k.p, 0, k.n);

	(void)v;
	if (z)
		strlist_add(ctx, k.p, (size_t)(z - (const char *)k.p));
	return 0;
}

int strlist_curs_cb(void *ctx, ls_val k, ls_val v)
{
	(void)v;
	strlist_add(ctx, k.p, k.n);
	return 0;
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

int fs_each_bucket(fs_client *c,
                   int (*cb)(void *ctx, const char *bucket, uint64_t cursor,
                             int in_scope),
                   void *ctx)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	strlist l = {a, NULL, 0, 0, 0};
	wval *scope = NULL;
	ls_val sv;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (!a) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	if (ls_scan(t, LT_BMEM, ls_v(NULL, 0), strlist_bmem_cb, &l) == FSC_ESTORE ||
	    ls_scan(t, LT_CURS, ls_v(NULL, 0), strlist_curs_cb, &l) == FSC_ESTORE) {
		rc = FSC_ESTORE;
		goto out;
	}
	if (l.oom) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if (!lc_meta_raw(t, "scope", &sv)) {
		uint8_t *copy = arena_dup(a, sv.p, sv.n);

		if (copy && (wire_decode(a, copy, sv.n, &scope) ||
		             scope->t != WV_ARR))
			scope = NULL;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(char *), str_cmp);
	for (uint32_t i = 0; i < l.n; i++) {
		ls_val cv;
		uint64_t cur = 0;
		int in = 0;

		if (i && !strcmp(l.v[i], l.v[i - 1]))
			continue;
		if (!ls_get(t, LT_CURS, ls_v(l.v[i], strlen(l.v[i])), &cv) &&
		    cv.n == 8)
			cur = be64_get(cv.p);
		for (uint32_t j = 0; scope && j < scope->a.n; j++)
			if (wv_is_str(&scope->a.v[j], l.v[i]))
				in = 1;
		if (cb(ctx, l.v[i], cur, in))
			break;
	}
out:
	ls_abort(t);
	arena_free(a);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

typedef struct {
	ls_txn *t;
	arena *a;
	sha256_ctx *sha;
	size_t skip;
	uint64_t n;
	int rc;
} digest_ctx;

static int digest_cb(void *ctx, ls_val k, ls_val v)
{
	digest_ctx *d = ctx;
	const char *p = (const char *)k.p + d->skip;
	size_t n = k.n - d->skip;
	const char *z = memchr(p, 0, n);
	char *cn, *id;
	record r;
	wbuf b;

	(void)v;
	if (!z)
		return 0;
	arena_reset(d->a);
	cn = arena_strndup(d->a, p, (size_t)(z - p));
	id = arena_strndup(d->a, z + 1, n - (size_t)(z - p) - 1);
	if (!cn || !id) {
		d->rc = FSC_ENOMEM;
		return 1;
	}
	if ((d->rc = lc_rec_load(d->t, d->a, cn, id, &r, NULL)))
		return 1;
	wb_init(&b);
	wb_cstr(&b, cn);
	wb_cstr(&b, id);
	rec_encode(&b, &r);
	if (b.err) {
		wb_free(&b);
		d->rc = FSC_ENOMEM;
		return 1;
	}
	sha256_update(d->sha, b.p, b.n);
	wb_free(&b);
	d->n++;
	return 0;
}

int fs_bucket_digest(fs_client *c, const char *bucket, char hex[65],
                     uint64_t *nrecs)
{
	ls_txn *t = NULL;
	digest_ctx d = {0};
	size_t bn = strlen(bucket);
	char *pre = malloc(bn + 1);
	int rc;

	hex[0] = 0;
	*nrecs = 0;
	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	d.a = arena_new(0);
	d.sha = sha256_new();
	if (!pre || !d.a || !d.sha) {
		rc = FSC_ENOMEM;
		goto out;
	}
	memcpy(pre, bucket, bn + 1);
	if ((rc = ls_begin(c->ls, 0, &t)))
		goto out;
	d.t = t;
	d.skip = bn + 1;
	rc = ls_scan(t, LT_BMEM, ls_v(pre, bn + 1), digest_cb, &d);
	rc = rc == FSC_ESTORE ? rc : d.rc;
	if (rc)
		goto out;
	sha256_hex(d.sha, hex);
	d.sha = NULL;
	*nrecs = d.n;
out:
	sha256_free(d.sha);
	ls_abort(t);
	arena_free(d.a);
	free(pre);
	pthread_mutex_unlock(&c->mu);
	return rc;
}
