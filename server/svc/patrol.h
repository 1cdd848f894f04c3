/*
 * patrol.h — scoring a guard shift's patrol rounds (issue 4; schema/REPORTS.md).  Pure functions over plain structs: no store, no clock, so
 * the rules can be tested with exact times.
 *
 * Rounds: for a shift [starts, ends) with a route (every, grace), round k
 * (from 0) is due in W_k = [starts + k*every, starts + (k+1)*every) for
 * every k whose W_k starts before `ends`; each (checkpoint, round) is one
 * expected scan ("pair").  Checkins count by their at_est; the caller
 * passes only the checkins whose `shift` is this shift.
 *
 * Matching, per route checkpoint, rounds in order k = 0, 1, ...:
 *   on_time  the earliest unused checkin of that checkpoint in W_k;
 *   late     failing that, the earliest unused checkin g in the grace
 *            after W_k, [end of W_k, end + grace) — taken only when k is
 *            the last round, or another unused checkin of the checkpoint
 *            in W_{k+1} is later than g (so round k+1 keeps an on-time
 *            scan without it);
 *   open     no checkin, and W_k + grace has not ended (now < end+grace);
 *   pending  no checkin, W_k + grace has ended, and some device the
 *            shift's staff have logged in on has not synced since that end
 *            with an empty outbox (so the scan may still arrive) — and the
 *            evidence window after the shift has not closed (a later push
 *            would be refused, so the scan can no longer arrive);
 *   missed   no checkin otherwise (every device has synced since, with
 *            nothing pending, or there is none).
 * A checkin is used at most once; unused checkins are `extra` (including
 * scans before the shift, of checkpoints not on the route, and repeats).
 * A voided checkin (its secure tag replayed or invalid: schema/EVIDENCE.md)
 * is never matched and is not extra either.
 */
#ifndef FS_PATROL_H
#define FS_PATROL_H

#include <stdint.h>

#include "protocol/arena.h"

typedef struct {
	const char *id;
	const char *checkpoint;
	uint64_t at_est;
	int voided; /* kept as evidence, scored as nothing (a replayed tap) */
} patrol_checkin;

/* A device the shift's staff have logged in on: its last sync report. */
typedef struct {
	uint64_t last_sync; /* 0: never synced */
	int has_pending;    /* 0: never reported its outbox (taken as empty) */
	uint64_t pending;
} patrol_device;

typedef struct {
	uint64_t starts, ends;           /* the shift, ms UTC */
	uint64_t every_ms, grace_ms;     /* the route */
	const char *const *checkpoints;  /* the route's checkpoints, in order */
	uint32_t ncp;
	const patrol_checkin *checkins;  /* this shift's checkins, any order */
	uint32_t nci;
	const patrol_device *devices;
	uint32_t ndev;
	uint64_t now;
	uint64_t evidence_window_ms;     /* 0: pending never expires */
} patrol_in;

enum patrol_state {
	PS_ON_TIME,
	PS_LATE,
	PS_MISSED,
	PS_PENDING,
	PS_OPEN
};

typedef struct {
	uint32_t round;
	uint32_t cp;      /* index into checkpoints */
	int state;        /* enum patrol_state */
	int64_t checkin;  /* index into checkins, -1 when none */
} patrol_pair;

typedef struct {
	uint32_t nrounds;
	patrol_pair *pairs;   /* nrounds * ncp, round-major (pairs[k*ncp + c]) */
	uint8_t *used;        /* per checkin: 1 when matched */
	uint32_t expected, on_time, late, missed, pending, open, extra;
} patrol_out;

/* At most this many rounds are scored (a route every minute for a week
 * is 10,080); more gives FS_E_TOO_LARGE. */
#define PATROL_ROUNDS_MAX 20000

/* Score a shift.  Everything in *out lives in the arena.  A route with
 * every_ms 0, no checkpoints or an empty shift has no rounds (every
 * checkin is extra).  FS_OK, FS_E_TOO_LARGE (too many rounds or pairs),
 * or FS_E_UNAVAILABLE (out of memory). */
int patrol_score(const patrol_in *in, arena *a, patrol_out *out);

/* "on_time", "late", "missed", "pending", "open". */
const char *patrol_state_name(int state);

/* W_k's bounds. */
uint64_t patrol_round_from(const patrol_in *in, uint32_t k);
uint64_t patrol_round_to(const patrol_in *in, uint32_t k);

#endif
