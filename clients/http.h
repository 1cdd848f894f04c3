/*
 * http.h — a small HTTP/1.1 client for libfieldsync: one base URL, one
 * kept-alive connection, Content-Length or chunked responses, response
 * bodies inflated (deflate, gzip) with a cap.  No redirects, no proxies.
 */
#ifndef FS_CLIENT_HTTP_H
#define FS_CLIENT_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct http_client http_client;

typedef struct {
	int status;
	uint8_t *body; /* malloc'd, inflated; NULL when empty */
	size_t n;
	char ctype[80];
	unsigned retry_after; /* seconds, 0 when absent */
} http_resp;

/* Largest response body accepted, on the wire and after inflating. */
#define HTTP_BODY_MAX ((size_t)64 << 20)

/* A client for base_url ("https://host[:port][/prefix]").  A plain
 * http:// URL needs insecure_http.  FSC_OK, FSC_EINVAL (bad URL), FSC_ETLS
 * (CA file), with a message in err. */
int http_new(const char *base_url, const char *ca_file, int insecure_http,
             unsigned timeout_ms, http_client **out, char *err, size_t errn);
void http_free(http_client *h); /* NULL is fine */

/* One request on the kept-alive connection (opened as needed; a reused
 * connection the server had closed is reopened once).  path is appended
 * to the base URL's prefix; token (may be NULL) goes in Authorization;
 * ctype describes body.  With deflate_body the body is sent
 * Content-Encoding: deflate.  Any HTTP status is FSC_OK (see out->status);
 * FSC_ENET / FSC_ETLS when the exchange failed.  Free out with
 * http_resp_free. */
int http_request(http_client *h, const char *method, const char *path,
                 const char *token, const char *ctype, const void *body,
                 size_t n, int deflate_body, http_resp *out, char *err,
                 size_t errn);
void http_resp_free(http_resp *r);
/* Open the connection now (no request): FSC_OK, FSC_ENET, FSC_ETLS. */
int http_connect(http_client *h, char *err, size_t errn);
/* Close the kept-alive connection (the server keeps a worker per open
 * connection: clients close when a sync is over). */
void http_disconnect(http_client *h);

#endif
