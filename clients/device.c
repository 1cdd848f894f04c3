/*
 * device.c — what an enrolled handheld needs to stay usable when its
 * server changes: the CA pinned by content, a new server address or CA
 * (fs_set_server), asking whether the server still knows this device
 * (fs_device_known, behind re-enrollment after a reset server), dead
 * letters cleared, and requests without a local store (fs_call_url, for
 * `fieldsync admin` with an admin token).  See fieldsync.h.
 */
#include "clients/client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/journal.h"
#include "protocol/be64.h"

/* A CA file larger than this is not a CA file. */
#define CA_MAX ((size_t)1 << 20)

/* ---- the CA, pinned by content --------------------------------------------- */

static int read_ca(fs_client *c, const char *path, uint8_t **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	size_t got;

	*out = NULL;
	if (!f)
		return cl_fail(c, FSC_EINVAL, "CA file %s: %s", path,
		               strerror(errno));
	p = malloc(CA_MAX + 1);
	if (!p) {
		fclose(f);
		return FSC_ENOMEM;
	}
	got = fread(p, 1, CA_MAX + 1, f);
	fclose(f);
	if (!got || got > CA_MAX || !memmem(p, got, "-----BEGIN CERTIFICATE", 22)) {
		free(p);
		return cl_fail(c, FSC_EINVAL, "CA file %s: not a PEM certificate "
		               "file (or over 1 MiB)", path);
	}
	*out = p;
	*n = got;
	return FSC_OK;
}

static void pinned_path(fs_client *c, char *out, size_t n)
{
	snprintf(out, n, "%s/ca.pem", c->home);
}

/* Write HOME/ca.pem with exactly these bytes (unless it already has
 * them), through a temporary file and rename. */
static int write_pinned(fs_client *c, const void *p, size_t n)
{
	char path[1100], tmp[1200];
	uint8_t *cur = NULL;
	size_t cn = 0;
	FILE *f;
	int fd;

	pinned_path(c, path, sizeof(path));
	if ((f = fopen(path, "rb"))) {
		cur = malloc(n + 1);
		if (cur)
			cn = fread(cur, 1, n + 1, f);
		fclose(f);
		if (cur && cn == n && !memcmp(cur, p, n)) {
			free(cur);
			return FSC_OK;
		}
		free(cur);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || jr_write(fd, p, n, 1) || close(fd) || rename(tmp, path)) {
		int e = errno;

		if (fd >= 0)
			unlink(tmp);
		return cl_fail(c, FSC_ESTORE, "cannot write the pinned CA copy "
		               "%s: %s", path, strerror(e));
	}
	return FSC_OK;
}

int cl_pin_ca(fs_client *c, ls_txn *t, const char *src)
{
	uint8_t *p;
	size_t n = 0;
	char path[1100];
	int rc;

	if ((rc = read_ca(c, src, &p, &n)))
		return rc;
	pinned_path(c, path, sizeof(path));
	if (!(rc = write_pinned(c, p, n)) &&
	    !(rc = lc_meta_put_raw(t, "ca_pem", p, n)) &&
	    !(rc = lc_meta_put_str(t, "ca_src", src)))
		rc = lc_meta_put_str(t, "ca", path);
	free(p);
	return rc;
}

int cl_ca_file(fs_client *c, ls_txn *t, char *out, size_t n)
{
	ls_val v;
	int rc;

	out[0] = 0;
	if (!lc_meta_raw(t, "ca_pem", &v)) {
		/* the store's bytes are the truth: the copy is rewritten when
		 * it went missing or was changed */
		uint8_t *copy = malloc(v.n ? v.n : 1);

		if (!copy)
			return FSC_ENOMEM;
		memcpy(copy, v.p, v.n);
		rc = write_pinned(c, copy, v.n);
		free(copy);
		if (rc)
			return rc;
		pinned_path(c, out, n);
		return FSC_OK;
	}
	/* a store enrolled before pinning: the path it named */
	lc_meta_str(t, "ca", out, n);
	return FSC_OK;
}

void cl_ca_note(fs_client *c, ls_txn *t)
{
	char src[1024] = "", pinned[1100] = "";
	ls_val v;

	if (t) {
		lc_meta_str(t, "ca_src", src, sizeof(src));
		if (!lc_meta_raw(t, "ca_pem", &v))
			pinned_path(c, pinned, sizeof(pinned));
		else
			lc_meta_str(t, "ca", pinned, sizeof(pinned));
	} else if (c->ca_opt[0]) {
		snprintf(pinned, sizeof(pinned), "%s", c->ca_opt);
	}
	if (!pinned[0])
		snprintf(c->ca_desc, sizeof(c->ca_desc), " (trusting the system "
		         "CAs; a private CA needs --ca FILE)");
	else if (src[0] && strcmp(src, pinned))
		snprintf(c->ca_desc, sizeof(c->ca_desc), " (CA: %s, pinned from "
		         "%s; change it with `fieldsync server --ca FILE`)",
		         pinned, src);
	else
		snprintf(c->ca_desc, sizeof(c->ca_desc), " (CA: %s)", pinned);
}

/* ---- does the server know this device ----------------------------------------- */

int cl_device_probe(fs_client *c, http_client *h, const char *dtoken)
{
	static const uint8_t empty_map = 0x80;
	http_resp r = {0};
	int rc, known;

	/* an empty login body: the token is checked before the body, and a
	 * body without staff never reaches the PIN check or its lockout */
	rc = cl_request(c, h, "POST", "/v1/login", dtoken, "application/msgpack",
	                &empty_map, 1, 0, 0, &r);
	if (rc)
		return -1;
	if (r.status == 401)
		known = 0;
	else if (r.status == 400)
		known = 1;
	else
		known = (cl_http_error(c, "device check", &r), -1);
	http_resp_free(&r);
	return known;
}

/* The store id the server's /healthz names ("ok\nstore <id>\n",
 * protocol/PROTOCOL.md): 1 and out, 0 when it could not be asked or does
 * not say (an older server). */
static int server_store(fs_client *c, http_client *h, char *out, size_t n)
{
	static const char key[] = "\nstore ";
	http_resp r = {0};
	int ok = 0;

	if (!cl_request(c, h, "GET", "/healthz", NULL, NULL, NULL, 0, 0, 0, &r) &&
	    r.status == 200 && r.body) {
		const char *b = (const char *)r.body, *end = b + r.n;
		for (const char *p = b; !ok && p + sizeof(key) - 1 <= end; p++) {
			if (memcmp(p, key, sizeof(key) - 1))
				continue;
			const char *id = p + sizeof(key) - 1, *e = id;
			while (e < end && *e != '\n' && *e != '\r')
				e++;
			if (e > id && (size_t)(e - id) < n) {
				memcpy(out, id, (size_t)(e - id));
				out[e - id] = 0;
				ok = 1;
			}
		}
	}
	http_resp_free(&r);
	return ok;
}

int cl_device_gone(fs_client *c, http_client *h, ls_txn *t)
{
	char dtok[300], url[512], mine[64] = "", theirs[64];
	uint64_t queued = ls_count(t, LT_OUTO);
	char save[sizeof(c->err)], code[sizeof(c->errcode)];

	if (lc_meta_str(t, "dtoken", dtok, sizeof(dtok)))
		return 0;
	lc_meta_str(t, "url", url, sizeof(url));
	memcpy(save, c->err, sizeof(save));
	memcpy(code, c->errcode, sizeof(code));
	if (cl_device_probe(c, h, dtok) != 0) {
		memcpy(c->err, save, sizeof(save));
		memcpy(c->errcode, code, sizeof(code));
		return 0;
	}
	/* the store this device last synced with, against the server's now:
	 * the same store means the server still has the device's data and
	 * refused it on purpose */
	lc_meta_str(t, "store", mine, sizeof(mine));
	int known = mine[0] && server_store(c, h, theirs, sizeof(theirs));
	if (known && !strcmp(mine, theirs)) {
		snprintf(c->errcode, sizeof(c->errcode), "REVOKED");
		cl_fail(c, FSC_EAUTH, "this device was revoked by the server at "
		        "%s (the same store it synced with). Ask a supervisor "
		        "for a new enrollment code: `fieldsync enroll --server "
		        "%s --code NEW` on this home keeps your %llu queued "
		        "change(s)", url, url, (unsigned long long)queued);
		return 1;
	}
	snprintf(c->errcode, sizeof(c->errcode), "UNKNOWN_DEVICE");
	cl_fail(c, FSC_EAUTH, "the server at %s does not know this device any "
	        "more: it was reset or replaced%s. Enroll again with a new "
	        "code: `fieldsync enroll --server %s --code NEW` on this home "
	        "keeps your %llu queued change(s)", url,
	        known ? " (its store is not the one this device synced with)"
	              : " (or the device was revoked: this server does not say "
	                "which store it holds)",
	        url, (unsigned long long)queued);
	return 1;
}

int fs_device_known(fs_client *c, const char *server_url)
{
	ls_txn *t = NULL;
	http_client *h = NULL, *own = NULL;
	char dtok[300], ca[1100];
	int known = -1;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (ls_begin(c->ls, 0, &t)) {
		cl_fail(c, FSC_ESTORE, "the local store failed");
		goto out;
	}
	if (lc_meta_str(t, "dtoken", dtok, sizeof(dtok))) {
		cl_fail(c, FSC_ESTATE, "this device is not enrolled");
		goto out;
	}
	if (server_url) {
		if (cl_ca_file(c, t, ca, sizeof(ca)) ||
		    http_new(server_url, c->ca_opt[0] ? c->ca_opt
		                         : ca[0] ? ca : NULL,
		             c->insecure_opt || lc_meta_u64(t, "insecure"),
		             c->has_proxy ? c->proxy_opt : NULL,
		             c->timeout_ms, &own, c->err, sizeof(c->err)))
			goto out;
		h = own;
	} else if (cl_http(c, t, &h)) {
		goto out;
	}
	if (own)
		cl_ca_note(c, t);
	known = cl_device_probe(c, h, dtok);
	http_disconnect(h);
out:
	http_free(own);
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return known;
}

int fs_set_server(fs_client *c, const char *server_url, const char *ca_file)
{
	ls_txn *t = NULL;
	http_client *h = NULL;
	char url[512], dev[136], ca[1100];
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if ((rc = ls_begin(c->ls, 1, &t)))
		goto out;
	if (lc_meta_str(t, "device", dev, sizeof(dev))) {
		rc = cl_fail(c, FSC_ESTATE, "this device is not enrolled (run "
		             "enroll first)");
		goto out;
	}
	lc_meta_str(t, "url", url, sizeof(url));
	if (server_url)
		snprintf(url, sizeof(url), "%s", server_url);
	if (ca_file && (rc = cl_pin_ca(c, t, ca_file)))
		goto out;
	if ((rc = cl_ca_file(c, t, ca, sizeof(ca))))
		goto out;
	/* the address and CA must at least make a client */
	if ((rc = http_new(url, ca[0] ? ca : NULL, lc_meta_u64(t, "insecure") ||
	                   c->insecure_opt, c->has_proxy ? c->proxy_opt : NULL,
	                   c->timeout_ms, &h, c->err, sizeof(c->err))))
		goto out;
	if ((rc = lc_meta_put_str(t, "url", url)))
		goto out;
	if (c->insecure_opt && (rc = lc_meta_put_u64(t, "insecure", 1)))
		goto out;
	cl_ca_note(c, t);
	rc = ls_commit(t);
	t = NULL;
	if (!rc) {
		http_free(c->http);
		c->http = h;
		h = NULL;
	}
out:
	if (rc == FSC_ESTORE && !c->err[0])
		cl_fail(c, rc, "the local store failed");
	http_free(h);
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* ---- dead letters ----------------------------------------------------------------- */

int fs_dead_clear(fs_client *c, uint64_t seq, uint64_t *n)
{
	ls_txn *t = NULL;
	uint8_t k[8];
	ls_val v;
	uint64_t gone = 0;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if ((rc = ls_begin(c->ls, 1, &t)))
		goto out;
	if (!seq) {
		gone = ls_count(t, LT_DEAD);
		rc = ls_del_prefix(t, LT_DEAD, ls_v(NULL, 0));
	} else {
		be64_put(k, seq);
		rc = ls_get(t, LT_DEAD, ls_v(k, 8), &v);
		if (rc == FSC_ENOTFOUND)
			rc = cl_fail(c, rc, "no dead letter #%llu on this device",
			             (unsigned long long)seq);
		else if (!rc && !(rc = ls_del(t, LT_DEAD, ls_v(k, 8))))
			gone = 1;
	}
	if (rc)
		goto out;
	rc = ls_commit(t);
	t = NULL;
out:
	if (n)
		*n = rc ? 0 : gone;
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* ---- a request without a store ------------------------------------------------------ */

int fs_call_url(const fs_options *o, const char *server_url,
                const char *token, const char *method, const char *path,
                const void *body, size_t n, int *status, uint8_t **resp,
                size_t *resp_n, char *err, size_t errn)
{
	fs_client c;
	http_client *h = NULL;
	http_resp r = {0};
	int rc;

	*status = 0;
	*resp = NULL;
	*resp_n = 0;
	memset(&c, 0, sizeof(c));
	c.timeout_ms = o->timeout_ms ? o->timeout_ms : 15000;
	c.attempts = o->attempts ? o->attempts : 3;
	c.backoff_ms = o->backoff_ms ? o->backoff_ms : 200;
	c.rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&c;
	devclock_init(&c.clk, 0, NULL, 0);
	rc = http_new(server_url, o->ca_file, o->insecure_http, o->proxy,
	              c.timeout_ms, &h, c.err, sizeof(c.err));
	if (!rc)
		rc = cl_request(&c, h, method, path, token,
		                body ? "application/msgpack" : NULL, body, n, 0, 0,
		                &r);
	if (o->ca_file)
		snprintf(c.ca_desc, sizeof(c.ca_desc), " (CA: %s)", o->ca_file);
	if (rc == FSC_ETLS && !strstr(c.err, "(CA: ")) {
		size_t len = strlen(c.err);

		snprintf(c.err + len, sizeof(c.err) - len, "%s", c.ca_desc);
	}
	if (!rc) {
		*status = r.status;
		*resp = r.body;
		*resp_n = r.n;
		r.body = NULL;
	}
	snprintf(err, errn, "%s", c.err);
	http_resp_free(&r);
	http_free(h);
	return rc;
}
