/*
 * webhook.h — delivering alerts (server/svc/alerts.h) to outside tools:
 * each site's `webhook` records (schema/SCHEMA.md) name a URL, the alert
 * kinds they want (empty: all), a format and a secret.
 *
 * When an alert record is first written, the write hook queues one
 * delivery per matching webhook in the same transaction (a durable queue
 * in the store).  The delivery thread — the only place the server makes
 * outbound HTTP, through libcurl, never on the writer or a request thread
 * — POSTs each as JSON with
 *   Idempotency-Key: 32 hex digits, the same for every attempt of one
 *                    (alert, webhook), also after a restart;
 *   X-Fieldsync-Signature: t=<ms>,v1=<hex HMAC-SHA256(secret, "<ms>.<body>")>
 *   X-Fieldsync-Alert: the alert id
 * and retries anything but a 2xx with exponential backoff (backoff_ms,
 * doubling, at most an hour apart) until give_up_ms after the first
 * attempt (25 h).  Each attempt is logged in the alert's `deliveries`.
 * A URL whose address (as connected, after DNS) is loopback, private,
 * link-local or otherwise not public is refused unless allow_private.
 *
 * Formats: json (the alert's fields), wecom and dingtalk (robot markdown
 * messages), slack ({"text": ...}, also Mattermost/Rocket.Chat).
 * The HTTP layer is deploy/OPERATIONS.md's "Webhooks".
 */
#ifndef FS_WEBHOOK_H
#define FS_WEBHOOK_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/record.h"
#include "protocol/wire.h"
#include "server/core/engine.h"

typedef struct {
	int allow_private;   /* loopback/private addresses allowed (tests) */
	uint64_t backoff_ms; /* first retry after this (10000) */
	uint64_t give_up_ms; /* stop retrying this long after the first (25 h) */
	uint64_t timeout_ms; /* one POST (10000) */
	uint64_t poll_ms;    /* look for due retries this often (1000) */
} webhook_cfg;

/* The write hook (server/svc/hooks.c): keeps the site's webhook index,
 * and queues a new alert's deliveries. */
int webhook_on_record(void *ctx, const write_event *ev);

typedef struct webhook webhook;
int webhook_start(webhook **out, engine *e, const webhook_cfg *cfg);
/* Stop (finishing the delivery in flight) and free; safe on NULL. */
void webhook_stop(webhook *w);

/* The body of alert `id` in `format` ("json", "wecom", "dingtalk",
 * "slack"; NULL: json) into out (JSON bytes).  FS_OK or
 * FS_E_UNAVAILABLE. */
int webhook_body(const char *format, const char *id, const record *alert,
                 wbuf *out);
/* The Idempotency-Key of (alert, webhook): 32 hex digits and a NUL. */
void webhook_key(const char *alert, const char *hook, char out[33]);
/* 1 when an IPv4 (4 bytes) or IPv6 (16 bytes) address is not a public
 * unicast one. */
int webhook_private_addr(const uint8_t *addr, size_t n);

#endif
