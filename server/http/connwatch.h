/*
 * connwatch.h — slowloris guard: a cap on the connections one client
 * address holds open, and a deadline for each request's whole head.
 *
 * Why outside CivetWeb: CivetWeb 1.15 gives no hook between accepting a
 * connection and reading its head (its init_connection callback runs
 * before the peer address is available to it), and its own
 * request_timeout_ms bounds each wait for a byte, not the whole head: a
 * client sending one header line every 2 s holds a worker for as long
 * as it likes, and 140 such connections from one host hold them all.
 *
 * How: a watcher thread looks through the process's descriptors every
 * CONNWATCH_TICK_MS for the TCP sockets of the listening port, and knows
 * each one by its peer address and port.  The HTTP glue says when a
 * request's head has been read (begin_request: the socket is busy) and
 * when its answer is done (end_request: idle again).  A socket that is
 * not busy and has waited past its deadline — head_ms from when it was
 * first seen, or keep_alive_ms + head_ms after its last answer — is shut
 * down (CivetWeb's read sees the end and closes it; a TLS handshake that
 * never finishes is caught the same way).  An address with more than
 * per_addr sockets open has its newest idle ones answered 429 and shut
 * down.  Trusted proxies (ratelimit.h) are not capped.
 *
 * Limits: a socket is seen up to one tick late; the cap counts sockets
 * accepted by CivetWeb (its queue included), not those still in the
 * kernel's backlog; between a socket's last check and its shutdown its
 * descriptor is checked again, but a descriptor closed and reused in
 * that instant for a new connection could be shut down in its place.
 */
#ifndef FS_CONNWATCH_H
#define FS_CONNWATCH_H

#include <stdint.h>

#include "server/http/ratelimit.h"

#define CONNWATCH_TICK_MS 100

typedef struct {
	int local_port;            /* the listening port */
	unsigned per_addr;         /* sockets an address may hold; 0: no cap */
	unsigned head_ms;          /* a head must be in within this */
	unsigned keep_alive_ms;    /* idle wait allowed after an answer */
	const rl_proxies *trusted; /* not capped; NULL: none */
} connwatch_cfg;

typedef struct connwatch connwatch;

/* FS_OK and *out, or FS_E_INTERNAL. */
int connwatch_start(connwatch **out, const connwatch_cfg *c);
/* Stop and free; safe on NULL. */
void connwatch_stop(connwatch *w);

/* The head of a request on peer:port has been read (busy 1), or its
 * answer is done (busy 0). */
void connwatch_mark(connwatch *w, const char *peer, int peer_port, int busy);

/* Sockets shut down so far: over the cap, and past a head deadline. */
void connwatch_counts(connwatch *w, uint64_t *capped, uint64_t *slow);

#endif
