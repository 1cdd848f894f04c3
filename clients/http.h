/*
 * http.h — HTTP requests for libfieldsync, on libcurl: one base URL, one
 * easy handle whose connection is kept alive between requests until
 * http_disconnect, TLS 1.2 or newer verified against the system CAs or one
 * pinned CA file (host name or IP address checked), proxies from the
 * environment (http_proxy, https_proxy, all_proxy, no_proxy) or given.
 * Response bodies are inflated here (deflate, gzip) with a cap, never by
 * libcurl.  No redirects are followed: a 3xx is an answer like any other.
 *
 * http.c is the only client file that includes libcurl.  Nothing here
 * logs or exits.
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
 * http:// URL needs insecure_http.  ca_file (PEM) is the only CA trusted
 * when given.  proxy: NULL for the environment's, "" for none, else a
 * proxy URL ("http://host:port", "socks5h://host:port", ...).  Connecting,
 * and then every wait for the next byte, gives up after timeout_ms
 * (0: 15000; stalls are seen to the second).  FSC_OK, FSC_EINVAL (bad URL
 * or proxy), FSC_ENOMEM, with a message in err. */
int http_new(const char *base_url, const char *ca_file, int insecure_http,
             const char *proxy, unsigned timeout_ms, http_client **out,
             char *err, size_t errn);
void http_free(http_client *h); /* NULL is fine */

/* One request on the kept-alive connection (opened as needed; a reused
 * connection the server had closed is reopened once, by libcurl).  path
 * is appended to the base URL's prefix; token (may be NULL) goes in
 * Authorization; ctype describes body.  With deflate_body the body is
 * sent Content-Encoding: deflate.  Any HTTP status is FSC_OK (see
 * out->status); FSC_ENET (could not connect, refused, timed out, broken
 * or oversized answer) / FSC_ETLS (certificate not trusted, CA file
 * unusable) when the exchange failed.  Free out with http_resp_free. */
int http_request(http_client *h, const char *method, const char *path,
                 const char *token, const char *ctype, const void *body,
                 size_t n, int deflate_body, http_resp *out, char *err,
                 size_t errn);
void http_resp_free(http_resp *r);
/* Is the server reachable now?  With a connection kept alive, yes;
 * otherwise a connection is opened (through the proxy, TLS verified) and
 * closed again, without a request.  FSC_OK, FSC_ENET, FSC_ETLS. */
int http_connect(http_client *h, char *err, size_t errn);
/* Close the kept-alive connection (the server keeps a worker per open
 * connection: clients close when a sync is over). */
void http_disconnect(http_client *h);

#endif
