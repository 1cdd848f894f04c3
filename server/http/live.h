/*
 * live.h — GET /v1/live: WebSocket change notices (protocol/PROTOCOL.md,
 * "Live notices").
 *
 * Why a module of its own: a notice goes out to sockets whose clients may
 * have stopped reading, and no such client may ever slow a commit.  So:
 *   - the engine's listener (live_notify) runs on the writer thread, copies
 *     the changed bucket names into the module's own queue under a lock
 *     that is never held across a socket write or a store read, and
 *     returns;
 *   - one sender thread takes the queue, works out each socket's frame
 *     in a read transaction that it ends before writing anything, and
 *     writes the frames one socket at a time;
 *   - a socket that has fallen behind — more than LIVE_OUTQ_MAX bytes
 *     still unsent in its kernel queue before a write, or a write that
 *     takes longer than LIVE_WRITE_MS (a watchdog shuts the socket down
 *     under it) — is dropped: its TCP connection is shut down, and the
 *     client reconnects and syncs;
 *   - the queue holds at most LIVE_PENDING_MAX bucket names; past that
 *     every socket is told every bucket of its scope (a full re-pull, no
 *     change lost).
 * Each socket keeps the session token it opened with; the token is
 * resolved again (auth.h) on every round and at least once a second, so
 * a socket closes when its session expires, its staff member is
 * deactivated or moved, or its device is revoked.
 */
#ifndef FS_LIVE_H
#define FS_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "server/svc/auth.h"

#define LIVE_PER_DEVICE 2        /* sockets a device may hold open */
#define LIVE_OUTQ_MAX 16384      /* unsent bytes before a socket is behind */
#define LIVE_WRITE_MS 1000       /* one frame's write deadline */
#define LIVE_PENDING_MAX 4096    /* bucket names queued between rounds */
#define LIVE_CHECK_MS 1000       /* tokens are resolved again this often */
#define LIVE_SUBPROTOCOL "fieldsync.v1" /* the WebSocket subprotocol (PROTOCOL.md) */

struct mg_connection;
typedef struct live live;

/* Start the sender and the watchdog; at most `max_sockets` open at once.
 * FS_OK and *out, or FS_E_INTERNAL. */
int live_start(live **out, engine *e, unsigned max_sockets);
/* Stop both threads and free; safe on NULL.  CivetWeb must be stopped
 * first (no socket is open any more). */
void live_stop(live *l);

/* The engine listener (engine_set_notify): copies and returns. */
void live_notify(void *ctx, char **buckets, unsigned n);

/* Register an authenticated socket before its handshake is answered.
 * `tok` is its session token (kept to check it again).  FS_OK, or
 * FS_E_RATE_LIMITED (the device has LIVE_PER_DEVICE open),
 * FS_E_UNAVAILABLE (no room), FS_E_INTERNAL (no memory, socket not
 * found). */
int live_add(live *l, struct mg_connection *c, const principal *p,
             const char *tok, size_t tok_n);
/* CivetWeb's close handler: forget the socket (waits while the sender is
 * writing to it, at most LIVE_WRITE_MS). */
void live_closed(live *l, const struct mg_connection *c);

/* For /metrics: sockets open, and dropped so far for being behind. */
void live_counts(live *l, uint64_t *open, uint64_t *dropped);

#endif
