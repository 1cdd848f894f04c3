/*
 * http.c — see http.h.  The only client file that includes libcurl.
 *
 * libcurl does the connections (IPv4/IPv6 fallback, TLS, proxies and
 * their CONNECT tunnels, keep-alive, chunked bodies); this file keeps the
 * rules of the handheld on top: https unless insecure_http, only that one
 * scheme, TLS 1.2 or newer, a --ca file as the only trust anchor, no
 * redirects, and response bodies inflated by protocol/zbody.h with the
 * HTTP_BODY_MAX cap (libcurl's own decoding is off: it has no cap).
 */
#include "clients/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "clients/fieldsync.h"
#include "protocol/errors.h"
#include "protocol/zbody.h"

struct http_client {
	CURL *easy;        /* holds the kept-alive connection; NULL: none */
	int warm;          /* easy has carried a request since it was made */
	char base[600];    /* scheme://host:port/prefix, no trailing slash */
	char host[256];    /* as in the URL, without brackets: for messages */
	char port[8];
	char hostport[300];
	int tls_on;
	char *ca_file;     /* NULL: the system CAs */
	char *proxy;       /* NULL: from the environment; "": none */
	unsigned timeout_ms;
	char curl_err[CURL_ERROR_SIZE];
};

/* Body of one response, filled by libcurl's callbacks, and the headers
 * used. */
typedef struct {
	http_resp *out;
	char enc[32];
	uint8_t *p;
	size_t n, cap;
	int too_big;
	/* stall watch: the byte counts last seen moving, and when */
	curl_off_t dl, ul;
	uint64_t moved_ms;
	unsigned timeout_ms;
} reply;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- URLs --------------------------------------------------------------- */

static int curlu_get(CURLU *u, CURLUPart part, char *out, size_t n,
                     unsigned flags)
{
	char *v = NULL;
	int ok = curl_url_get(u, part, &v, flags) == CURLUE_OK && strlen(v) < n;

	if (ok)
		memcpy(out, v, strlen(v) + 1);
	curl_free(v);
	return ok;
}

static int curlu_has(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	int has = curl_url_get(u, part, &v, 0) == CURLUE_OK;

	curl_free(v);
	return has;
}

/* Check "scheme://host[:port][/prefix]" and keep its parts. */
static int parse_url(http_client *h, const char *url, int insecure,
                     char *err, size_t errn)
{
	CURLU *u;
	char scheme[8], path[256];
	size_t n;
	int rc = FSC_EINVAL;

	if (!strncasecmp(url, "https://", 8)) {
		h->tls_on = 1;
	} else if (!strncasecmp(url, "http://", 7)) {
		if (!insecure) {
			snprintf(err, errn, "refusing plain http:// to %s "
			         "(use https, or allow it with --insecure-http)", url);
			return FSC_EINVAL;
		}
	} else {
		snprintf(err, errn, "server URL must start with https:// "
		         "(got \"%s\")", url);
		return FSC_EINVAL;
	}
	u = curl_url();
	if (!u)
		return FSC_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curlu_has(u, CURLUPART_USER) || curlu_has(u, CURLUPART_QUERY) ||
	    curlu_has(u, CURLUPART_FRAGMENT) ||
	    !curlu_get(u, CURLUPART_SCHEME, scheme, sizeof(scheme), 0) ||
	    !curlu_get(u, CURLUPART_HOST, h->host, sizeof(h->host), 0) ||
	    !curlu_get(u, CURLUPART_PORT, h->port, sizeof(h->port),
	               CURLU_DEFAULT_PORT) ||
	    !curlu_get(u, CURLUPART_PATH, path, sizeof(path), 0))
		goto bad;
	n = strlen(path);
	while (n && path[n - 1] == '/')
		path[--n] = 0;
	snprintf(h->hostport, sizeof(h->hostport), "%s:%s", h->host, h->port);
	if (h->host[0] == '[') { /* an IPv6 literal: messages name it bare */
		n = strlen(h->host);
		memmove(h->host, h->host + 1, n - 2);
		h->host[n - 2] = 0;
	}
	snprintf(h->base, sizeof(h->base), "%s://%s%s", scheme, h->hostport,
	         path);
	rc = FSC_OK;
bad:
	if (rc)
		snprintf(err, errn, "bad server URL \"%s\"", url);
	curl_url_cleanup(u);
	return rc;
}

/* A proxy is a URL libcurl knows ("host:port" means http://host:port). */
static int check_proxy(const char *proxy, char *err, size_t errn)
{
	static const char *const schemes[] = {
		"http", "https", "socks4", "socks4a", "socks5", "socks5h",
	};
	CURLU *u;
	char scheme[16];
	int ok = 0;

	if (!proxy[0])
		return FSC_OK;
	u = curl_url();
	if (!u)
		return FSC_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, proxy, CURLU_DEFAULT_SCHEME |
	                 CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curlu_get(u, CURLUPART_SCHEME, scheme, sizeof(scheme), 0) &&
	    curlu_has(u, CURLUPART_HOST))
		for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			ok |= !strcmp(scheme, schemes[i]);
	curl_url_cleanup(u);
	if (!ok) {
		snprintf(err, errn, "bad proxy \"%s\" (want a URL such as "
		         "http://host:port or socks5h://host:port)", proxy);
		return FSC_EINVAL;
	}
	return FSC_OK;
}

/* A CA file must be readable and hold a PEM certificate: said at once,
 * not only when the first TLS handshake loads it (OpenSSL parses it then). */
static int check_ca(const char *path, char *err, size_t errn)
{
	static const char mark[] = "-----BEGIN CERTIFICATE-----";
	FILE *f = fopen(path, "re");
	char buf[4096 + sizeof(mark)];
	size_t keep = 0, n;
	int found = 0;

	if (!f) {
		snprintf(err, errn, "cannot load the CA file %s: %s", path,
		         strerror(errno));
		return FSC_ETLS;
	}
	/* the mark may straddle two reads: keep the tail of the last */
	while (!found && (n = fread(buf + keep, 1, sizeof(buf) - keep - 1, f))) {
		n += keep;
		buf[n] = 0;
		found = strstr(buf, mark) != NULL;
		keep = n < sizeof(mark) ? n : sizeof(mark) - 1;
		memmove(buf, buf + n - keep, keep);
	}
	fclose(f);
	if (!found) {
		snprintf(err, errn, "cannot load the CA file %s: no PEM "
		         "certificate in it", path);
		return FSC_ETLS;
	}
	return FSC_OK;
}

/* ---- the handle ------------------------------------------------------------ */

int http_new(const char *base_url, const char *ca_file, int insecure_http,
             const char *proxy, unsigned timeout_ms, http_client **out,
             char *err, size_t errn)
{
	http_client *h;
	int rc;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		snprintf(err, errn, "libcurl: %s", curl_easy_strerror(global_rc));
		return FSC_ENOMEM;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return FSC_ENOMEM;
	h->timeout_ms = timeout_ms ? timeout_ms : 15000;
	rc = parse_url(h, base_url, insecure_http, err, errn);
	if (!rc && proxy)
		rc = check_proxy(proxy, err, errn);
	if (!rc && ca_file && h->tls_on)
		rc = check_ca(ca_file, err, errn);
	if (!rc && ((ca_file && !(h->ca_file = strdup(ca_file))) ||
	            (proxy && !(h->proxy = strdup(proxy)))))
		rc = FSC_ENOMEM;
	if (rc) {
		http_free(h);
		return rc;
	}
	*out = h;
	return FSC_OK;
}

void http_free(http_client *h)
{
	if (!h)
		return;
	http_disconnect(h);
	free(h->ca_file);
	free(h->proxy);
	free(h);
}

void http_disconnect(http_client *h)
{
	if (!h)
		return;
	/* an easy handle's connections close with it */
	if (h->easy)
		curl_easy_cleanup(h->easy);
	h->easy = NULL;
	h->warm = 0;
}

void http_resp_free(http_resp *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The options every transfer of this client has. */
static CURL *easy_new(http_client *h)
{
	CURL *e = curl_easy_init();
	CURLcode r = CURLE_OK;

	if (!e)
		return NULL;
#define SET(opt, val) \
	do { if (r == CURLE_OK) r = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_ERRORBUFFER, h->curl_err);
	SET(CURLOPT_NOSIGNAL, 1L); /* threads; no alarm() for DNS */
	SET(CURLOPT_PROTOCOLS_STR, h->tls_on ? "https" : "http");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_CONTENT_DECODING, 0L); /* inflated here, capped */
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_BODY_MAX);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
	SET(CURLOPT_USERAGENT, "libfieldsync/1");
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file) {
		/* pinned: this file only, not the system's CA directory too */
		SET(CURLOPT_CAINFO, h->ca_file);
		SET(CURLOPT_CAPATH, NULL);
	}
	if (h->proxy)
		SET(CURLOPT_PROXY, h->proxy);
#undef SET
	if (r != CURLE_OK) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* FSC_ code and message for a failed transfer. */
static int fail(http_client *h, CURL *e, CURLcode r, char *err, size_t errn)
{
	const char *detail = h->curl_err[0] ? h->curl_err : curl_easy_strerror(r);
	const char *via = h->proxy && h->proxy[0] ? " through the proxy " : "";
	const char *proxy = via[0] ? h->proxy : "";
	long os_err = 0;
	curl_off_t ready_us = 0; /* 0: the connection never got ready */

	curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_err);
	curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &ready_us);
	switch (r) {
	case CURLE_OUT_OF_MEMORY:
		snprintf(err, errn, "out of memory");
		return FSC_ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(err, errn, "the server's certificate is not trusted "
		         "for %s: %s", h->host, detail);
		return FSC_ETLS;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		snprintf(err, errn, "TLS setup failed with %s%s: %s",
		         h->ca_file ? "the CA file " : "the system CAs",
		         h->ca_file ? h->ca_file : "", detail);
		return FSC_ETLS;
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(err, errn, "cannot resolve the proxy %s: %s",
		         proxy[0] ? proxy : "(from the environment)", detail);
		return FSC_ENET;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(err, errn, "cannot resolve %s: %s", h->host, detail);
		return FSC_ENET;
	case CURLE_COULDNT_CONNECT:
		if (!os_err) {
			snprintf(err, errn, "cannot connect to %s port %s%s%s: %s",
			         h->host, h->port, via, proxy, detail);
			return FSC_ENET;
		}
		/* the reason, then libcurl's words without its own reason:
		 * they name the address tried (the proxy's, when one is used) */
		snprintf(err, errn, "cannot connect to %s port %s%s%s: %s (%.*s)",
		         h->host, h->port, via, proxy, strerror((int)os_err),
		         strrchr(detail, ':') ? (int)(strrchr(detail, ':') - detail)
		                              : (int)strlen(detail), detail);
		return FSC_ENET;
	case CURLE_ABORTED_BY_CALLBACK: /* on_progress: a stall */
	case CURLE_OPERATION_TIMEDOUT:
		if (!ready_us)
			snprintf(err, errn, "cannot connect to %s port %s%s%s: "
			         "timed out after %u ms", h->host, h->port, via, proxy,
			         h->timeout_ms);
		else
			snprintf(err, errn, "no answer from %s within %u ms",
			         h->hostport, h->timeout_ms);
		return FSC_ENET;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		snprintf(err, errn, "the response from %s was over %zu MiB",
		         h->hostport, HTTP_BODY_MAX >> 20);
		return FSC_ENET;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(err, errn, "TLS handshake with %s failed: %s", h->hostport,
		         detail);
		return FSC_ENET;
	default:
		snprintf(err, errn, "the exchange with %s%s%s failed: %s",
		         h->hostport, via, proxy, detail);
		return FSC_ENET;
	}
}

int http_connect(http_client *h, char *err, size_t errn)
{
	CURL *e;
	CURLcode r;
	int rc = FSC_OK;

	if (h->warm)
		return FSC_OK;
	/* a connect-only connection is never reused for requests: open it
	 * on a handle of its own and close it again */
	e = easy_new(h);
	if (!e)
		return FSC_ENOMEM;
	h->curl_err[0] = 0;
	r = curl_easy_setopt(e, CURLOPT_URL, h->base);
	if (r == CURLE_OK)
		r = curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	if (r == CURLE_OK)
		r = curl_easy_perform(e);
	if (r != CURLE_OK)
		rc = fail(h, e, r, err, errn);
	curl_easy_cleanup(e);
	return rc;
}

/* ---- one exchange ------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	reply *rp = ctx;
	size_t n = size * nmemb;

	if (n > HTTP_BODY_MAX - rp->n) {
		rp->too_big = 1;
		return 0;
	}
	if (rp->n + n > rp->cap) {
		size_t cap = rp->cap ? rp->cap : 4096;
		uint8_t *q;

		while (cap < rp->n + n)
			cap *= 2;
		q = realloc(rp->p, cap);
		if (!q)
			return 0;
		rp->p = q;
		rp->cap = cap;
	}
	memcpy(rp->p + rp->n, p, n);
	rp->n += n;
	return n;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Called by libcurl at least once a second: no byte in either direction
 * for timeout_ms ends the transfer (the old per-read timeout; libcurl's
 * low-speed check averages over 5 s and overshoots). */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
	reply *rp = ctx;
	uint64_t now = mono_ms();

	(void)dltotal;
	(void)ultotal;
	if (dlnow != rp->dl || ulnow != rp->ul || !rp->moved_ms) {
		rp->dl = dlnow;
		rp->ul = ulnow;
		rp->moved_ms = now;
		return 0;
	}
	return now - rp->moved_ms >= rp->timeout_ms;
}

/* The headers used, of the last response (not a 1xx, not a proxy's);
 * libcurl trims the values. */
static void take_headers(CURL *e, reply *rp)
{
	struct curl_header *v;

	if (!curl_easy_header(e, "Content-Encoding", 0, CURLH_HEADER, -1, &v))
		snprintf(rp->enc, sizeof(rp->enc), "%s", v->value);
	if (!curl_easy_header(e, "Content-Type", 0, CURLH_HEADER, -1, &v))
		snprintf(rp->out->ctype, sizeof(rp->out->ctype), "%.*s",
		         (int)strcspn(v->value, "; "), v->value);
	if (!curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &v))
		rp->out->retry_after = (unsigned)strtoul(v->value, NULL, 10);
}

/* Inflate a deflate or gzip body in place, capped. */
static int inflate_body(http_client *h, reply *rp, char *err, size_t errn)
{
	uint8_t *z = NULL;
	size_t zn = 0;
	zb_format f;

	if (!rp->enc[0] || !strcasecmp(rp->enc, "identity"))
		return FSC_OK;
	if (!strcasecmp(rp->enc, "gzip") || !strcasecmp(rp->enc, "x-gzip"))
		f = ZB_GZIP;
	else if (!strcasecmp(rp->enc, "deflate"))
		f = ZB_DEFLATE;
	else {
		snprintf(err, errn, "%s used Content-Encoding %s", h->hostport,
		         rp->enc);
		return FSC_ENET;
	}
	if (zb_inflate(f, rp->p, rp->n, HTTP_BODY_MAX, &z, &zn) != FS_OK) {
		snprintf(err, errn, "the response body from %s does not inflate "
		         "(or is over %zu MiB inflated)", h->hostport,
		         HTTP_BODY_MAX >> 20);
		return FSC_ENET;
	}
	free(rp->p);
	rp->p = z;
	rp->n = zn;
	return FSC_OK;
}

/* Method, URL, body and headers of one request on the kept handle. */
static CURLcode set_request(http_client *h, const char *method,
                            const char *url, const void *body, size_t n,
                            struct curl_slist *hdrs, reply *rp)
{
	CURL *e = h->easy;
	int head = !strcmp(method, "HEAD");
	int has_body = n || !strcmp(method, "POST") || !strcmp(method, "PUT");
	const char *custom = strcmp(method, "GET") && strcmp(method, "POST") &&
	                     !head ? method : NULL;
	CURLcode r = CURLE_OK;

#define SET(opt, val) \
	do { if (r == CURLE_OK) r = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_NOBODY, (long)head);
	if (has_body) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		SET(CURLOPT_POSTFIELDS, body ? body : "");
	} else if (!head) {
		SET(CURLOPT_HTTPGET, 1L);
	}
	SET(CURLOPT_CUSTOMREQUEST, custom);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, rp);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, rp);
#undef SET
	return r;
}

/* The request's own headers; NULL when out of memory. */
static struct curl_slist *make_headers(const char *token, const char *ctype,
                                       int deflated)
{
	char line[512];
	const char *fixed[] = {
		"Accept: application/msgpack",
		"Accept-Encoding: deflate, gzip", /* inflated here, capped */
		"Expect:", /* no 100-continue wait before big bodies */
		deflated ? "Content-Encoding: deflate" : NULL,
	};
	struct curl_slist *l = NULL, *t;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!fixed[i])
			continue;
		if (!(t = curl_slist_append(l, fixed[i])))
			goto oom;
		l = t;
	}
	/* "Content-Type:" alone: libcurl adds none of its own to a POST */
	snprintf(line, sizeof(line), "Content-Type:%s%s", ctype ? " " : "",
	         ctype ? ctype : "");
	if (!(t = curl_slist_append(l, line)))
		goto oom;
	l = t;
	if (token) {
		if (snprintf(line, sizeof(line), "Authorization: Bearer %s",
		             token) >= (int)sizeof(line) ||
		    !(t = curl_slist_append(l, line)))
			goto oom;
		l = t;
	}
	return l;
oom:
	curl_slist_free_all(l);
	return NULL;
}

int http_request(http_client *h, const char *method, const char *path,
                 const char *token, const char *ctype, const void *body,
                 size_t n, int deflate_body, http_resp *out, char *err,
                 size_t errn)
{
	uint8_t *z = NULL;
	const void *b = body;
	struct curl_slist *hdrs = NULL;
	char *url = NULL;
	reply rp;
	long status = 0;
	CURLcode r;
	int rc = FSC_ENOMEM;

	memset(out, 0, sizeof(*out));
	memset(&rp, 0, sizeof(rp));
	rp.out = out;
	rp.timeout_ms = h->timeout_ms;
	if (deflate_body && n) {
		size_t zn;

		if (zb_deflate(ZB_DEFLATE, body, n, &z, &zn) != FS_OK)
			return FSC_ENOMEM;
		b = z;
		n = zn;
	} else {
		deflate_body = 0;
	}
	if (!h->easy && !(h->easy = easy_new(h)))
		goto out;
	if (asprintf(&url, "%s%s", h->base, path) < 0) {
		url = NULL;
		goto out;
	}
	if (!(hdrs = make_headers(token, ctype, deflate_body)))
		goto out;
	h->curl_err[0] = 0;
	r = set_request(h, method, url, b, n, hdrs, &rp);
	if (r == CURLE_OK)
		r = curl_easy_perform(h->easy);
	if (r == CURLE_WRITE_ERROR && !rp.too_big)
		r = CURLE_OUT_OF_MEMORY;
	if (r != CURLE_OK) {
		rc = fail(h, h->easy, r, err, errn);
		http_disconnect(h);
		goto out;
	}
	h->warm = 1;
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	out->status = (int)status;
	take_headers(h->easy, &rp);
	if ((rc = inflate_body(h, &rp, err, errn))) {
		http_disconnect(h);
		goto out;
	}
	out->body = rp.p;
	out->n = rp.n;
	rp.p = NULL;
out:
	if (rc)
		http_resp_free(out);
	if (h->easy) {
		/* hdrs and the body go below: the handle must not keep them */
		curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
	}
	free(rp.p);
	free(url);
	curl_slist_free_all(hdrs);
	free(z);
	return rc;
}
