/*
 * http.c — see http.h.
 */
#include "clients/http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients/fieldsync.h"
#include "clients/transport.h"
#include "protocol/errors.h"
#include "protocol/zbody.h"

#define HEAD_MAX 16384

struct http_client {
	char host[256];
	unsigned port;
	char prefix[256];
	char hosthdr[300];
	int tls_on;
	tp_tls *tls;
	unsigned timeout_ms;
	tp_conn *conn;
	int reused; /* conn has carried a request before */
	/* read buffer */
	uint8_t buf[16384];
	size_t bpos, blen;
};

/* Split "scheme://host[:port][/prefix]". */
static int parse_url(http_client *h, const char *url, int insecure,
                     char *err, size_t errn)
{
	const char *p, *hs, *he, *ps;
	size_t n;

	if (!strncasecmp(url, "https://", 8)) {
		h->tls_on = 1;
		h->port = 443;
		p = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		if (!insecure) {
			snprintf(err, errn, "refusing plain http:// to %s "
			         "(use https, or allow it with --insecure-http)", url);
			return FSC_EINVAL;
		}
		h->port = 80;
		p = url + 7;
	} else {
		snprintf(err, errn, "server URL must start with https:// "
		         "(got \"%s\")", url);
		return FSC_EINVAL;
	}
	if (*p == '[') {
		hs = p + 1;
		he = strchr(hs, ']');
		if (!he)
			goto bad;
		ps = he + 1;
	} else {
		hs = p;
		he = hs + strcspn(hs, ":/");
		ps = he;
	}
	n = (size_t)(he - hs);
	if (n == 0 || n >= sizeof(h->host))
		goto bad;
	memcpy(h->host, hs, n);
	h->host[n] = 0;
	if (*ps == ':') {
		char *end;
		unsigned long port = strtoul(ps + 1, &end, 10);

		if (end == ps + 1 || port == 0 || port > 65535)
			goto bad;
		h->port = (unsigned)port;
		ps = end;
	}
	if (*ps && *ps != '/')
		goto bad;
	n = strlen(ps);
	while (n && ps[n - 1] == '/')
		n--;
	if (n >= sizeof(h->prefix))
		goto bad;
	memcpy(h->prefix, ps, n);
	h->prefix[n] = 0;
	if (strchr(h->host, ':'))
		snprintf(h->hosthdr, sizeof(h->hosthdr), "[%s]:%u", h->host, h->port);
	else
		snprintf(h->hosthdr, sizeof(h->hosthdr), "%s:%u", h->host, h->port);
	return FSC_OK;
bad:
	snprintf(err, errn, "bad server URL \"%s\"", url);
	return FSC_EINVAL;
}

int http_new(const char *base_url, const char *ca_file, int insecure_http,
             unsigned timeout_ms, http_client **out, char *err, size_t errn)
{
	http_client *h = calloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	if (!h)
		return FSC_ENOMEM;
	h->timeout_ms = timeout_ms ? timeout_ms : 15000;
	rc = parse_url(h, base_url, insecure_http, err, errn);
	if (!rc && h->tls_on)
		rc = tp_tls_new(ca_file, &h->tls, err, errn);
	if (rc) {
		http_free(h);
		return rc;
	}
	*out = h;
	return FSC_OK;
}

void http_disconnect(http_client *h)
{
	if (!h)
		return;
	tp_close(h->conn);
	h->conn = NULL;
	h->reused = 0;
	h->bpos = h->blen = 0;
}

int http_connect(http_client *h, char *err, size_t errn)
{
	int rc;

	if (h->conn)
		return FSC_OK;
	rc = tp_connect(h->host, h->port, h->tls, h->timeout_ms, &h->conn, err,
	                errn);
	h->reused = 0;
	h->bpos = h->blen = 0;
	return rc;
}

void http_free(http_client *h)
{
	if (!h)
		return;
	http_disconnect(h);
	tp_tls_free(h->tls);
	free(h);
}

void http_resp_free(http_resp *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- reading -------------------------------------------------------------- */

static int fill(http_client *h)
{
	ssize_t r;

	if (h->bpos < h->blen)
		return 1;
	r = tp_read(h->conn, h->buf, sizeof(h->buf));
	if (r <= 0)
		return 0;
	h->bpos = 0;
	h->blen = (size_t)r;
	return 1;
}

/* One header line without CRLF into line[0..cap); 0 at EOF / error /
 * overlong. */
static int read_line(http_client *h, char *line, size_t cap, size_t *total)
{
	size_t n = 0;

	for (;;) {
		uint8_t ch;

		if (!fill(h))
			return 0;
		ch = h->buf[h->bpos++];
		if (++*total > HEAD_MAX)
			return 0;
		if (ch == '\n')
			break;
		if (n + 1 >= cap)
			return 0;
		line[n++] = (char)ch;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = 0;
	return 1;
}

static int read_exact(http_client *h, uint8_t *p, size_t n)
{
	while (n) {
		size_t k;

		if (!fill(h))
			return 0;
		k = h->blen - h->bpos;
		if (k > n)
			k = n;
		memcpy(p, h->buf + h->bpos, k);
		h->bpos += k;
		p += k;
		n -= k;
	}
	return 1;
}

typedef struct {
	uint8_t *p;
	size_t n, cap;
} bytes;

static int bytes_add(bytes *b, const uint8_t *p, size_t n)
{
	if (b->n + n > HTTP_BODY_MAX)
		return 0;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *q;

		while (cap < b->n + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return 0;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 1;
}

static int read_n_into(http_client *h, bytes *b, size_t n)
{
	uint8_t tmp[16384];

	if (n > HTTP_BODY_MAX)
		return 0;
	while (n) {
		size_t k = n < sizeof(tmp) ? n : sizeof(tmp);

		if (!read_exact(h, tmp, k) || !bytes_add(b, tmp, k))
			return 0;
		n -= k;
	}
	return 1;
}

static int read_chunked(http_client *h, bytes *b, size_t *total)
{
	char line[256];

	for (;;) {
		char *end;
		unsigned long long sz;

		*total = 0;
		if (!read_line(h, line, sizeof(line), total))
			return 0;
		sz = strtoull(line, &end, 16);
		if (end == line)
			return 0;
		if (sz == 0)
			break;
		if (sz > HTTP_BODY_MAX || !read_n_into(h, b, (size_t)sz))
			return 0;
		*total = 0;
		if (!read_line(h, line, sizeof(line), total) || line[0])
			return 0;
	}
	/* trailers up to the empty line */
	for (;;) {
		*total = 0;
		if (!read_line(h, line, sizeof(line), total))
			return 0;
		if (!line[0])
			return 1;
	}
}

static const char *hdr_val(char *line, const char *name)
{
	size_t n = strlen(name);
	char *v;

	if (strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	v = line + n + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	return v;
}

/* Read one response.  0 on success; -1 when nothing at all arrived (the
 * kept-alive connection was closed: safe to retry), -2 on a broken
 * response. */
static int read_response(http_client *h, int head_only, http_resp *out,
                         int *close_after, char *err, size_t errn)
{
	char line[4096];
	size_t total = 0;
	long long clen = -1;
	int chunked = 0, status;
	char enc[32] = "";
	bytes b = {0};

	if (!read_line(h, line, sizeof(line), &total))
		return total ? -2 : -1;
	if (strncmp(line, "HTTP/1.", 7) || strlen(line) < 12 ||
	    sscanf(line + 9, "%3d", &status) != 1) {
		snprintf(err, errn, "the server answered something that is not "
		         "HTTP");
		return -2;
	}
	if (line[7] == '0')
		*close_after = 1;
	for (;;) {
		const char *v;

		if (!read_line(h, line, sizeof(line), &total)) {
			snprintf(err, errn, "broken response headers");
			return -2;
		}
		if (!line[0])
			break;
		if ((v = hdr_val(line, "Content-Length")))
			clen = strtoll(v, NULL, 10);
		else if ((v = hdr_val(line, "Transfer-Encoding")))
			chunked = strcasestr(v, "chunked") != NULL;
		else if ((v = hdr_val(line, "Content-Encoding")))
			snprintf(enc, sizeof(enc), "%s", v);
		else if ((v = hdr_val(line, "Content-Type")))
			snprintf(out->ctype, sizeof(out->ctype), "%.*s",
			         (int)strcspn(v, "; "), v);
		else if ((v = hdr_val(line, "Retry-After")))
			out->retry_after = (unsigned)strtoul(v, NULL, 10);
		else if ((v = hdr_val(line, "Connection")) &&
		         strcasestr(v, "close"))
			*close_after = 1;
	}
	out->status = status;
	if (head_only || status == 204 || status == 304 || status / 100 == 1)
		return 0;
	if (chunked) {
		if (!read_chunked(h, &b, &total))
			goto broken;
	} else if (clen >= 0) {
		if ((unsigned long long)clen > HTTP_BODY_MAX ||
		    !read_n_into(h, &b, (size_t)clen))
			goto broken;
	} else {
		/* until the server closes */
		*close_after = 1;
		while (fill(h)) {
			if (!bytes_add(&b, h->buf + h->bpos, h->blen - h->bpos))
				goto broken;
			h->bpos = h->blen;
		}
	}
	if (enc[0] && strcasecmp(enc, "identity")) {
		uint8_t *z = NULL;
		size_t zn = 0;
		zb_format f;

		if (!strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip"))
			f = ZB_GZIP;
		else if (!strcasecmp(enc, "deflate"))
			f = ZB_DEFLATE;
		else {
			snprintf(err, errn, "the server used Content-Encoding %s",
			         enc);
			free(b.p);
			return -2;
		}
		if (zb_inflate(f, b.p, b.n, HTTP_BODY_MAX, &z, &zn) != FS_OK) {
			snprintf(err, errn, "the response body does not inflate");
			free(b.p);
			return -2;
		}
		free(b.p);
		b.p = z;
		b.n = zn;
	}
	out->body = b.p;
	out->n = b.n;
	return 0;
broken:
	free(b.p);
	snprintf(err, errn, "the response body was cut off or too large");
	return -2;
}

/* ---- one exchange --------------------------------------------------------- */

static int send_request(http_client *h, const char *method, const char *path,
                        const char *token, const char *ctype,
                        const uint8_t *body, size_t n, int deflated)
{
	char head[4096];
	int k;

	k = snprintf(head, sizeof(head),
	             "%s %s%s HTTP/1.1\r\nHost: %s\r\n"
	             "User-Agent: libfieldsync/1\r\n"
	             "Accept: application/msgpack\r\n"
	             "Accept-Encoding: deflate, gzip\r\n"
	             "%s%s%s"
	             "%s%s%s"
	             "%s"
	             "Content-Length: %zu\r\n\r\n",
	             method, h->prefix, path, h->hosthdr,
	             token ? "Authorization: Bearer " : "", token ? token : "",
	             token ? "\r\n" : "",
	             ctype ? "Content-Type: " : "", ctype ? ctype : "",
	             ctype ? "\r\n" : "",
	             deflated ? "Content-Encoding: deflate\r\n" : "", n);
	if (k < 0 || (size_t)k >= sizeof(head))
		return -1;
	if (tp_write(h->conn, head, (size_t)k))
		return -1;
	if (n && tp_write(h->conn, body, n))
		return -1;
	return 0;
}

int http_request(http_client *h, const char *method, const char *path,
                 const char *token, const char *ctype, const void *body,
                 size_t n, int deflate_body, http_resp *out, char *err,
                 size_t errn)
{
	uint8_t *z = NULL;
	const uint8_t *b = body;
	int rc = FSC_ENET, tries;

	memset(out, 0, sizeof(*out));
	if (deflate_body && n) {
		size_t zn;

		if (zb_deflate(ZB_DEFLATE, body, n, &z, &zn) != FS_OK)
			return FSC_ENOMEM;
		b = z;
		n = zn;
	} else {
		deflate_body = 0;
	}
	for (tries = 0; tries < 2; tries++) {
		int was_reused, close_after = 0, r;

		if (!h->conn) {
			rc = tp_connect(h->host, h->port, h->tls, h->timeout_ms,
			                &h->conn, err, errn);
			if (rc)
				goto out;
			h->reused = 0;
			h->bpos = h->blen = 0;
		}
		was_reused = h->reused;
		h->reused = 1;
		if (send_request(h, method, path, token, ctype, b, n,
		                 deflate_body)) {
			http_disconnect(h);
			if (was_reused)
				continue; /* the server closed an idle connection */
			snprintf(err, errn, "the connection to %s broke while "
			         "sending", h->hosthdr);
			rc = FSC_ENET;
			goto out;
		}
		r = read_response(h, !strcmp(method, "HEAD"), out, &close_after,
		                  err, errn);
		if (r == -1 && was_reused) {
			http_disconnect(h);
			continue;
		}
		if (r) {
			if (r == -1)
				snprintf(err, errn, "no answer from %s", h->hosthdr);
			http_disconnect(h);
			http_resp_free(out);
			rc = FSC_ENET;
			goto out;
		}
		if (close_after)
			http_disconnect(h);
		rc = FSC_OK;
		goto out;
	}
	snprintf(err, errn, "the connection to %s keeps closing", h->hosthdr);
	rc = FSC_ENET;
out:
	free(z);
	return rc;
}
