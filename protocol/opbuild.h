/*
 * opbuild.h — building a push: ops {c, id, s, f} collected into a batch,
 * and the batch map {batch, ops, by?} of protocol/PROTOCOL.md ("push").
 * Plain C over wire.h's encoder, for every program that writes our data
 * itself: the server's task generator and demo loader, the simulator,
 * the load generator, tests.
 *
 *     opbatch b;
 *     ob_init(&b);
 *     ob_op(&b, "checkin", id, stamp, 3);
 *     ob_str(&b, "staff", "g1");
 *     ob_str(&b, "checkpoint", "cp1");
 *     ob_u64(&b, "at", now);
 *     wbuf push;                       (an array of one batch)
 *     wb_init(&push);
 *     wb_arr(&push, 1);
 *     ob_batch(&push, &b, batch_id, NULL);
 *
 * Each ob_op() must be followed by exactly `nfields` field calls.
 * Encoding errors (out of memory) stick in b->ops.err.
 */
#ifndef FS_OPBUILD_H
#define FS_OPBUILD_H

#include <stdint.h>

#include "wire.h"

typedef struct {
	wbuf ops;     /* the ops so far, one msgpack map after another */
	uint32_t n;   /* how many */
} opbatch;

void ob_init(opbatch *b);
void ob_free(opbatch *b);
/* Forget the ops, keep the buffer. */
void ob_reset(opbatch *b);

/* Start an op on record (c, id) stamped `stamp` (an HLC) with nfields
 * fields to follow. */
void ob_op(opbatch *b, const char *c, const char *id, uint64_t stamp,
           uint32_t nfields);
void ob_str(opbatch *b, const char *name, const char *v); /* NULL: nil */
void ob_u64(opbatch *b, const char *name, uint64_t v);
void ob_i64(opbatch *b, const char *name, int64_t v);
void ob_f64(opbatch *b, const char *name, double v);
void ob_bool(opbatch *b, const char *name, int v);
void ob_nil(opbatch *b, const char *name);
void ob_val(opbatch *b, const char *name, const wval *v);
void ob_strs(opbatch *b, const char *name, const char *const *v, uint32_t n);
/* A field's name alone: the caller then writes its value with wb_* on
 * &b->ops (an array or a map). */
void ob_name(opbatch *b, const char *name);

/* Append the batch map {batch: id (16 bytes), ops: [...], by?} to out;
 * by NULL: the session's own staff. */
void ob_batch(wbuf *out, const opbatch *b, const uint8_t id[16],
              const char *by);

#endif
