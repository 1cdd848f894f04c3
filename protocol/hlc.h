/*
 * hlc.h — hybrid logical clock: wall_ms << 16 | counter.
 * The caller owns locking; these functions are pure.
 */
#ifndef FS_HLC_H
#define FS_HLC_H

#include <stdint.h>

#define HLC_WALL(h) ((uint64_t)(h) >> 16)
#define HLC_MAKE(wall, c) (((uint64_t)(wall) << 16) | (uint64_t)((c) & 0xffff))

typedef struct {
	uint64_t last; /* last value handed out or received */
} hlc_clock;

/* A new local stamp: greater than every earlier one and >= wall_ms<<16. */
uint64_t hlc_now(hlc_clock *c, uint64_t wall_ms);
/* Receive rule: the clock becomes greater than both its last value and
 * `remote`; returns the new value. */
uint64_t hlc_recv(hlc_clock *c, uint64_t wall_ms, uint64_t remote);

#endif
