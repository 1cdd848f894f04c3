/*
 * web.h — the web app (clients/web/, built into build/web/) served by
 * fieldsyncd at `/`: the app shell, its bundle, manifest and service
 * worker, read from a directory (`serve --web DIR`).  Every answer
 * carries the app's Content-Security-Policy (no inline script or style),
 * X-Content-Type-Options, Referrer-Policy, and on HTTPS
 * Strict-Transport-Security; an ETag (size and mtime) answers a matching
 * If-None-Match with 304.  Only names of [A-Za-z0-9._-] segments, none
 * starting with a dot, are looked up, so nothing outside DIR is reachable.
 */
#ifndef FS_WEB_H
#define FS_WEB_H

struct mg_connection;

/* Whether a GET/HEAD of `uri` is the web app's (not /v1/..., /healthz,
 * /metrics): then http.c hands it to web_serve instead of answering 404. */
int web_owns(const char *method, const char *uri);

/* Serve `uri` from `dir` on `c`: the HTTP status sent, or 0 when there is
 * no such file (the caller answers its usual 404).  "/" is index.html
 * (the app's screens are hash routes); other names are files.
 * A FILE.gz beside FILE is sent instead when the client accepts gzip. */
int web_serve(struct mg_connection *c, const char *dir, const char *uri,
              int https);

#endif
