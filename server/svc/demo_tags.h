/*
 * demo_tags.h — the demo property's secure tags (NTAG 424 DNA): three
 * checkpoints of the night patrol get a tag with fixed demo keys, and the
 * guard's taps carry the URLs those tags would have written (one of them
 * sent a second time, a replay).  Only when the server has a tag key
 * (svc/tags.h): without one the demo has no secure tags.
 */
#ifndef FS_DEMO_TAGS_H
#define FS_DEMO_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "server/core/engine.h"

/* Bind the demo tags: FS_OK, or the error of tags_bind.  Sets *on to 1
 * when the demo has secure tags (the engine has a tag key). */
int demo_tags_bind(engine *e, int *on);

/* The `sun` of the guard's tap of checkpoint number cp (1-based) in round
 * k, into out: 1 when cp is a secure checkpoint, 0 when not (out unset). */
int demo_tags_tap(int cp, int round, char *out, size_t cap);

/* The secure checkpoint number and round whose tap is replayed, and when
 * (minutes after that round's own tap of it, in the next round). */
#define DEMO_REPLAY_CP 6
#define DEMO_REPLAY_ROUND 0

#endif
