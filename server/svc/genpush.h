/*
 * genpush.h — what the server's own writers share (tasks.h's generator,
 * roster.h's generator, import.h): whether a record was touched by anyone
 * but the server, the op that brings a record to the fields wanted
 * (only the fields that differ, none when all are the same), and pushing
 * such ops through engine_push as the server or as a given principal.
 */
#ifndef FS_GENPUSH_H
#define FS_GENPUSH_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/opbuild.h"
#include "protocol/record.h"
#include "server/core/engine.h"
#include "server/model/principal.h"

/* A wanted field: written when the record is new or its value differs
 * (an absent field is the same as nil or false). */
typedef struct {
	const char *name;
	wval v;
} gp_field;

/* The ops to push, in batches of at most `per_batch` ops (0: 2000). */
typedef struct {
	engine *e;
	arena *a;
	uint32_t per_batch;
	/* generated records (tasks, shifts): ops on records someone else
	 * wrote to since the plan was read are skipped in the write
	 * transaction (engine_push_req's untouched_only) */
	int untouched_only;
	opbatch *parts;
	uint32_t nparts, capparts;
	uint32_t ops;
} gp_out;

/* The deterministic id of a generated record: "<prefix>:<src>:<YYYYMMDD>:
 * <slot>" for local day `day`, with a source id over 100 bytes replaced by
 * "h" and 32 hex digits of its SHA-256 (ids stay within 128 bytes). */
char *gp_slot_id(arena *a, const char *prefix, const char *src, int64_t day,
                 uint32_t slot);
/* 1 when a field of r carries a stamp of an origin other than "server". */
int gp_touched(const record *r);
/* Append an op on (c, id) with the fields of w that differ from cur (all
 * of them when cur is NULL).  *wrote: 1 when an op was added. */
int gp_add(gp_out *o, const char *c, const char *id, const record *cur,
           const gp_field *w, uint32_t nw, int *wrote);
/* Push one batch as p (NULL: the server, {device "server", staff
 * "server", admin}); every op must apply, else a line on stderr naming
 * `who` and FS_E_UNAVAILABLE / FS_E_INTERNAL. */
int gp_push(engine *e, const principal *p, const opbatch *b, const char *who);
/* Every batch of o in turn, stopping at the first failure. */
int gp_push_all(gp_out *o, const principal *p, const char *who);
void gp_free(gp_out *o);

#endif
