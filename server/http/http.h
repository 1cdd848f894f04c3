/*
 * http.h — the HTTP(S) face of fieldsyncd, on CivetWeb: routing, bodies
 * (limits, inflate), auth, responses (compression, error bodies),
 * blobs, the /v1/live WebSocket, /healthz and /metrics.  Only http.c
 * includes civetweb.h.
 */
#ifndef FS_HTTP_H
#define FS_HTTP_H

#include "server/svc/auth.h"
#include "server/svc/blobquota.h"
#include "server/core/engine.h"
#include "server/svc/lockout.h"
#include "server/http/ratelimit.h"
#include "server/http/tls.h"
#include "server/lib/tz.h"

typedef struct {
	const char *listen;      /* HOST:PORT */
	const char *blob_dir;    /* the photos (DATA/blobs, or --blobs) */
	tls_keys *tls;           /* certificate and settings; NULL: plain HTTP */
	/* CivetWeb serves each connection (keep-alive and /v1/live ones
	 * too) on its own worker: `threads` is the cap on connections served
	 * at once; up to `connection_queue` more wait accepted, the rest in
	 * the kernel's listen backlog. */
	unsigned threads;
	unsigned connection_queue;
	unsigned request_timeout_ms; /* the grace before body_min_rate (and CivetWeb's own read timeout) */
	unsigned head_timeout_ms;    /* a request's whole head must come within (0: 10000) */
	unsigned conn_per_address;   /* connections one address may hold open (conncap.h; 0: no cap) */
	unsigned keep_alive_ms;      /* idle keep-alive connection closes after */
	unsigned body_min_rate;      /* bytes/s a body must average after the grace */
	rl_cfg rate_device;          /* requests per device (authenticated ones) */
	rl_cfg rate_address;         /* requests per client address */
	const char *trusted_proxies; /* comma list (ratelimit.h); NULL: none */
	lockout_cfg lockout;
	auth_cfg auth;
	blob_quota blobq;            /* photo upload quotas (blobquota.h) */
	tz_db *tz;                   /* zones for the reports (reports.h) */
	const char *web_dir;         /* the web app served at / (web.h); NULL: none */
} http_cfg;

typedef struct http_server http_server;

/* Start serving.  FS_OK, or FS_E_INTERNAL with a message on stderr. */
int http_start(http_server **out, engine *e, const http_cfg *cfg);
/* Stop: finish in-flight requests, close listeners; safe on NULL. */
void http_stop(http_server *h);

/* The body half of every POST handler, without the connection (the
 * handlers call it; tests/fuzz/fuzz_http.c drives it directly).
 * http_body_format: from the Content-Type and Content-Encoding header
 * values (NULL when absent), FS_OK and *zf (-1: identity, else a
 * zb_format), or FS_E_UNSUPPORTED_MEDIA_TYPE and *msg.  Checked before
 * the body is read. */
int http_body_format(const char *ctype, const char *cenc, int *zf,
                     const char **msg);
/* raw[0..n) (malloc'd, always freed here) is the body as read: over
 * l->body_max it is FS_E_TOO_LARGE; it is inflated when zf >= 0 (at most
 * l->inflated_max bytes), copied into the arena and decoded with a value
 * budget.  FS_OK and *out (valid while the arena lives), or a code
 * (BAD_MSGPACK, BAD_REQUEST, TOO_LARGE, UNAVAILABLE) and *msg. */
int http_body_decode(const fs_limits *l, int zf, uint8_t *raw, size_t n,
                     arena *a, wval **out, const char **msg);

#endif
