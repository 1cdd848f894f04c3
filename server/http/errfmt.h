/*
 * errfmt.h — which form an error body takes (protocol/PROTOCOL.md,
 * "Transport"): msgpack for the clients that speak it, JSON a person can
 * read everywhere else.
 */
#ifndef FS_ERRFMT_H
#define FS_ERRFMT_H

/* 1 for a JSON error body, 0 for msgpack, from the request's Accept and
 * Content-Type headers (either may be NULL).  msgpack when Accept names
 * it; JSON when Accept names JSON; else msgpack when the request sent a
 * msgpack body; else JSON (a browser, curl without a body). */
int errfmt_json(const char *accept, const char *content_type);

#endif
