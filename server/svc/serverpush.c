/*
 * serverpush.c — see serverpush.h.
 */
#include "server/svc/serverpush.h"

#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"

int serverpush(engine *e, const opbatch *b, const char *who)
{
	principal p;
	memset(&p, 0, sizeof(p));
	snprintf(p.device, sizeof(p.device), "%s", ENGINE_ORIGIN);
	snprintf(p.staff, sizeof(p.staff), "%s", ENGINE_ORIGIN);
	p.role = ROLE_ADMIN;
	uint8_t bid[16];
	wbuf push;
	wb_init(&push);
	int rc = crypto_random(bid, sizeof(bid));
	wb_arr(&push, 1);
	ob_batch(&push, b, bid, NULL);
	arena *a = arena_new(0);
	engine_ack *acks;
	uint32_t n;
	const char *msg;
	if (!rc)
		rc = push.err || b->ops.err || !a
		             ? FS_E_UNAVAILABLE
		             : engine_push(e, &(engine_push_req){&p, 0, push.p, push.n,
		                                                 NULL, 0},
		                           a, &acks, &n, &msg);
	if (!rc && (n != 1 || acks[0].applied != b->n)) {
		rc = n == 1 && acks[0].err ? FS_E_UNAVAILABLE : FS_E_INTERNAL;
		fprintf(stderr, "fieldsyncd: %s: %u of %u ops applied%s%s\n", who,
		        n == 1 ? acks[0].applied : 0, b->n,
		        n == 1 && acks[0].first_msg ? ": " : "",
		        n == 1 && acks[0].first_msg ? acks[0].first_msg : "");
	}
	wb_free(&push);
	arena_free(a);
	return rc;
}
