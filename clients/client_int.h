/*
 * client_int.h — the inside of an fs_client, shared by client.c (handle,
 * device, local reads and writes), sync.c (the round trips) and
 * actions.c (checkins, tasks, orders).  Not part of the public API.
 *
 * Every public call takes c->mu for its whole run; the cl_* helpers
 * expect it held.
 */
#ifndef FS_CLIENT_INT_H
#define FS_CLIENT_INT_H

#include <pthread.h>
#include <stdint.h>

#include "clients/devclock.h"
#include "clients/fieldsync.h"
#include "clients/http.h"
#include "clients/local.h"
#include "clients/lstore.h"

struct fs_client {
	pthread_mutex_t mu;
	ls_env *ls;
	char home[1024];
	devclock clk;
	unsigned timeout_ms, attempts, backoff_ms, drop_permille;
	uint64_t rng;
	http_client *http; /* from the stored url / ca / insecure, proxy_opt */
	char ca_opt[1024];  /* fs_options.ca_file, made absolute */
	int insecure_opt;
	char proxy_opt[1024]; /* fs_options.proxy when has_proxy */
	int has_proxy;
	char err[1024];
	char errcode[40];
	/* which CA the TLS errors of this handle's requests are about */
	char ca_desc[1400];
	/* statistics of the request helper, for fs_sync_stats */
	unsigned retries;
	uint64_t last_send; /* device wall ms when the last attempt went out */
	unsigned wire; /* pull encoding asked for: 1 or 2 (fs_options.wire) */
};

/* Set the handle's error (printf-style message) and return rc. */
int cl_fail(fs_client *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cl_ok(fs_client *c);
uint64_t cl_rand(fs_client *c);

/* The clock offset stored by the last sync, and the corrected clock. */
int64_t cl_offset(ls_txn *t);
uint64_t cl_now(fs_client *c, ls_txn *t);
/* A fresh HLC stamp from the corrected clock (persisted in t). */
int cl_stamp(fs_client *c, ls_txn *t, uint64_t *out);

/* One write in the caller's write transaction: check names against the
 * schema, merge into the local record with a fresh stamp, append to the
 * outbox under the logged-in staff member.  See fs_put. */
int cl_write(fs_client *c, ls_txn *t, const char *collection, const char *id,
             const fs_field *f, size_t n, fs_write *out);

/* The HTTP client for the enrolled server (made on first use). */
int cl_http(fs_client *c, ls_txn *t, http_client **out);
/* A request with retries (network errors, 429, 503: exponential backoff
 * with jitter, Retry-After honoured).  With is_sync, the fault hook may
 * throw the reply away.  FSC_OK and *out for any other status. */
int cl_request(fs_client *c, http_client *h, const char *method,
               const char *path, const char *token, const char *ctype,
               const void *body, size_t n, int deflate, int is_sync,
               http_resp *out);
/* Open the connection, with the same retries and backoff. */
int cl_connect(fs_client *c, http_client *h);
/* The error of a non-2xx reply ({error, msg} msgpack): FSC_EAUTH for 401,
 * else FSC_ESERVER, message set. */
int cl_http_error(fs_client *c, const char *what, const http_resp *r);

/* ---- the server behind the device (device.c) -------------------------------- */

/* Read the CA file src, keep its bytes in the store (t, a write txn) and
 * in HOME/ca.pem, and remember src for messages. */
int cl_pin_ca(fs_client *c, ls_txn *t, const char *src);
/* The CA file to trust: HOME/ca.pem (rewritten from the store's bytes when
 * missing or changed), an old store's path, or "" (system CAs). */
int cl_ca_file(fs_client *c, ls_txn *t, char *out, size_t n);
/* Set c->ca_desc from the store t (NULL: from fs_options.ca_file): what a
 * TLS error message appends so that it names the CA file. */
void cl_ca_note(fs_client *c, ls_txn *t);
/* POST /v1/login with an empty body and the device token: 1 the server
 * knows the token, 0 it refuses it (401), -1 could not tell (c->err). */
int cl_device_probe(fs_client *c, http_client *h, const char *dtoken);
/* After a 401: when the server refuses this device's token too, set the
 * error and return 1 — "reset or replaced: enroll again" (errcode
 * UNKNOWN_DEVICE) when the store id its /healthz names differs from the
 * one this device synced with, "this device was revoked" (errcode REVOKED)
 * when it is the same; else leave the error as it was and return 0. */
int cl_device_gone(fs_client *c, http_client *h, ls_txn *t);

/* ---- bucket names held locally (client.c) ----------------------------------- */

/* A list of strings in an arena, fed sorted: a name equal to the last one
 * is not added again.  oom is set (and stays) when the arena ran out. */
typedef struct {
	arena *a;
	char **v;
	uint32_t n, cap;
	int oom;
} strlist;

void strlist_add(strlist *l, const char *p, size_t n);
/* ls_scan callbacks: the bucket of each LT_BMEM key (bucket \0 ...), and
 * each LT_CURS key (a bucket name), into a strlist. */
int strlist_bmem_cb(void *ctx, ls_val k, ls_val v);
int strlist_curs_cb(void *ctx, ls_val k, ls_val v);

/* ---- sync internals (sync.c), open for the unit tests ---------------------- */

typedef struct {
	uint64_t after;     /* batches with seq > after go out */
	uint64_t *seqs;     /* batches in this request, in order */
	uint8_t (*ids)[16];
	uint32_t nbatches;
	uint64_t ops;
	uint8_t *body;      /* msgpack request */
	size_t n;
	uint64_t t_send;    /* device wall ms */
} sync_req;

/* Seal the open batches and build one request (in a write txn). */
int sync_prepare(fs_client *c, uint64_t after, sync_req *rq);
void sync_req_free(sync_req *rq);
/* Apply one response to the local store in one write txn.  *again is set
 * when another round is needed (a bucket has more, batches were
 * restamped, the store id changed). */
int sync_apply(fs_client *c, const sync_req *rq, const uint8_t *resp,
               size_t n, uint64_t t_recv, fs_sync_stats *st, int *again);

#endif
