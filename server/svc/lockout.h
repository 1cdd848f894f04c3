/*
 * lockout.h — login lockout after wrong PINs: lockout, not PBKDF2
 * iterations, is what protects a short PIN (the defaults are in
 * protocol/PROTOCOL.md, "Limits").
 *
 * Per staff member: `after` wrong PINs in a row lock that staff member
 * for `lock_ms`; every further lock doubles the time, up to `max_ms`; a
 * right PIN (or a new PIN set by a supervisor or admin) clears the count
 * and the doubling; a day without a wrong PIN forgets the doubling.
 * Per client address: `addr_after` failed logins (wrong PIN, unknown or
 * inactive staff, staff of another site) within `lock_ms` lock every
 * login from that address for `lock_ms` — that is what stops one host
 * trying a few PINs on each of many staff members.  While locked, a login
 * is answered 429 RATE_LIMITED with Retry-After, without looking at the
 * PIN, so the right PIN does not get in either.  Only one PIN check per
 * staff member runs at a time: a concurrent login for the same staff
 * member gets 429 with Retry-After 1, so parallel guesses cannot race
 * past the count.
 *
 * The counts live in the store (ST_AUX, keys "lockout\0s\0<staff>" and
 * "lockout\0a\0<address>", written through engine_write), so a lock
 * survives a restart.  Entries idle for a day are pruned a few at a time
 * as new failures are written.  With several nodes on one store
 * (PostgreSQL) the counts hold across nodes: a failure is counted by a
 * read and a write in one write transaction, after the store's write lock,
 * so failures on two nodes add up and a lock made on one is seen by all.
 * Only the one-check-at-a-time table is per node: a client that HAProxy
 * sends to N nodes at once may have up to N PIN checks of one staff
 * member in flight, each counted.
 */
#ifndef FS_LOCKOUT_H
#define FS_LOCKOUT_H

#include <stdint.h>

#include "protocol/wire.h"
#include "server/core/engine.h"

typedef struct {
	unsigned after;      /* wrong PINs in a row that lock a staff member; 0: never */
	uint64_t lock_ms;    /* first lock of a staff member; an address's lock and window */
	uint64_t max_ms;     /* the doubling stops here */
	unsigned addr_after; /* failed logins from one address within lock_ms; 0: never */
} lockout_cfg;

/* Defaults: 5 wrong PINs, 15 min doubling up to 24 h, 100 per address. */
void lockout_cfg_default(lockout_cfg *c);

typedef struct lockout lockout;

/* FS_OK and *out, or FS_E_INTERNAL. */
int lockout_open(lockout **out, engine *e, const lockout_cfg *c);
/* Free; safe on NULL. */
void lockout_close(lockout *l);

/* One login attempt, from lockout_begin to lockout_end (caller's). */
typedef struct {
	char staff[FS_ID_MAX + 1];
	char addr[64]; /* RL_ADDR_MAX */
	int slot;      /* in-flight slot; -1: none */
	int had_staff; /* the staff member had a count (a success clears it) */
} lockout_ticket;

enum lockout_outcome {
	LOCKOUT_RIGHT,     /* the PIN was right: clear the staff member's count */
	LOCKOUT_WRONG_PIN, /* a real staff member of the device's site, wrong PIN */
	LOCKOUT_FAILED,    /* refused without a PIN check: counts for the address */
	LOCKOUT_NEUTRAL    /* nothing to count (bad device, role limit, store) */
};

/* Before a PIN is checked.  FS_OK: go on, and call lockout_end() exactly
 * once.  FS_E_RATE_LIMITED: refuse the login; *wait_s is the Retry-After
 * in seconds and *msg says why; do not call lockout_end().
 * FS_E_UNAVAILABLE (and *msg): the store cannot be read, or login
 * outcomes cannot be written now (see lockout_end).  l NULL: always
 * FS_OK. */
int lockout_begin(lockout *l, lockout_ticket *tk, const char *staff,
                  const char *addr, uint64_t now_ms, unsigned *wait_s,
                  const char **msg);
/* After the check.  `device` is the device that tried, `site` the site
 * the counted entries are shown to (the staff member's, which is the
 * device's).  FS_OK, or FS_E_UNAVAILABLE when the outcome could not be
 * written: the login must then be refused (503) whatever the PIN was,
 * and every later lockout_begin() refuses with FS_E_UNAVAILABLE, before
 * any PIN check, until a probe write to the store goes through (fail
 * closed: an uncounted wrong PIN is a free guess).  Safe with l NULL. */
int lockout_end(lockout *l, lockout_ticket *tk, enum lockout_outcome o,
                const char *device, const char *site, uint64_t now_ms);

/* Clear a staff member's count and lock (a new PIN was set). */
int lockout_clear(lockout *l, const char *staff);

/* GET /v1/reports/lockouts/<site>: the staff members of `site` with
 * wrong PINs counted or locked, and the addresses whose failed logins
 * came from devices of `site`.  JSON when json is set, else msgpack:
 *   {site, generated_at,
 *    staff: [{staff, fails, locked, locked_until, level, last_fail, device}],
 *    addresses: [{address, fails, locked, locked_until, last_fail, device}]}
 * locked_until is null when not locked.  FS_OK or FS_E_UNAVAILABLE. */
int lockout_report(lockout *l, const char *site, int json, uint64_t now_ms,
                   wbuf *out);

#endif
