/*
 * http.h — the HTTP(S) face of fieldsyncd, on CivetWeb: routing, bodies
 * (limits, inflate), auth, responses (compression, error bodies),
 * blobs, the /v1/live WebSocket, /healthz and /metrics.  Only http.c
 * includes civetweb.h.
 */
#ifndef FS_HTTP_H
#define FS_HTTP_H

#include "server/auth.h"
#include "server/engine.h"

typedef struct {
	const char *listen;      /* HOST:PORT */
	const char *data_dir;    /* blobs live in DATA/blobs */
	const char *tls_pem;     /* cert + key in one PEM; NULL: plain HTTP */
	unsigned threads;        /* worker threads */
	unsigned request_timeout_ms;
	auth_cfg auth;
} http_cfg;

typedef struct http_server http_server;

/* Start serving.  FS_OK, or FS_E_INTERNAL with a message on stderr. */
int http_start(http_server **out, engine *e, const http_cfg *cfg);
/* Stop: finish in-flight requests, close listeners; safe on NULL. */
void http_stop(http_server *h);

#endif
