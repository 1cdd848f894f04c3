/*
 * bodywatch.h — a deadline for a blocking read of a request body.
 *
 * Why: CivetWeb's mg_read(buf, n) returns only when n bytes came, or when
 * no byte came for a whole request_timeout_ms; a client that trickles one
 * byte a second keeps one call (and its worker thread) busy for as long as
 * it likes.  The HTTP glue arms a deadline around each mg_read of a body;
 * a watchdog thread shuts down the read side of the connection's socket
 * when the deadline passes, so the read returns at once (end of stream)
 * and the request can be refused and the connection closed.
 *
 * The socket is found from the connection's addresses, as CivetWeb
 * reports them (peer address text and port, local port): the watchdog
 * looks through the process's descriptors for the TCP socket with that
 * peer and local port.  That happens only when a deadline passes.  While
 * a slot is armed the reading thread is inside its read, so the socket
 * cannot be closed (and its descriptor reused) under the watchdog: disarm
 * takes the same lock.
 */
#ifndef FS_BODYWATCH_H
#define FS_BODYWATCH_H

#include <stdint.h>

typedef struct bodywatch bodywatch;

/* A watchdog with `slots` deadlines at once (one per worker thread).
 * FS_OK and *out, or FS_E_INTERNAL. */
int bodywatch_start(bodywatch **out, unsigned slots);
/* Stop the thread and free; safe on NULL.  Nothing may be armed. */
void bodywatch_stop(bodywatch *w);

/* CLOCK_MONOTONIC in ms (the clock deadlines are in). */
uint64_t bodywatch_now(void);

/* Arm a deadline (bodywatch_now() ms) for the read the calling thread is
 * about to make on the TCP connection from peer:peer_port to local_port.
 * The slot, or -1 when none is free (the read then runs unwatched). */
int bodywatch_arm(bodywatch *w, const char *peer, int peer_port,
                  int local_port, uint64_t deadline_ms);
/* After the read: free the slot.  1 when the deadline passed and the
 * socket's read side was shut down (treat the body as too slow), 0 if
 * not.  slot -1: 0. */
int bodywatch_disarm(bodywatch *w, int slot);

/* The descriptor of this process's TCP socket from peer:peer_port (the
 * address as text, as CivetWeb shows it) to local_port, or -1.  It walks
 * /proc/self/fd: for rare events (a deadline passed, a socket registered),
 * not for every request.  The caller must know the connection stays open
 * while it uses the descriptor. */
int bodywatch_find_socket(const char *peer, int peer_port, int local_port);
/* A TCP socket's local port, peer address (numeric text, as CivetWeb
 * writes it) and peer port: 0, or -1 when fd is no connected socket. */
int bodywatch_sock_ident(int fd, int *local_port, char peer[64],
                         int *peer_port);

#endif
