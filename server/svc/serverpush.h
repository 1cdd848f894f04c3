/*
 * serverpush.h — writes the server makes itself (generated tasks, alerts,
 * the webhook delivery log): one batch of ops pushed through engine_push
 * as the server (principal device and staff "server", the admin's
 * rights), so they take the same checks, hooks and group commit as any
 * device's.  Never call it from the engine's writer thread.
 */
#ifndef FS_SERVERPUSH_H
#define FS_SERVERPUSH_H

#include "protocol/opbuild.h"
#include "server/core/engine.h"

/* Push b as one batch with a fresh random id.  FS_OK when every op
 * applied; FS_E_UNAVAILABLE when the batch could not be stored (or out of
 * memory); FS_E_INTERNAL when some op was rejected (a line on stderr,
 * naming `who` and the first rejection). */
int serverpush(engine *e, const opbatch *b, const char *who);

#endif
