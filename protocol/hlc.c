/*
 * hlc.c — hybrid logical clock.  A stamp is wall_ms << 16 | counter; the
 * counter is simply the low bits, so "last + 1" carries into the wall part
 * when the counter runs out.  Values saturate at UINT64_MAX rather than
 * wrap.
 */
#include "hlc.h"

static uint64_t succ(uint64_t v)
{
	return v == UINT64_MAX ? v : v + 1;
}

static uint64_t wall_stamp(uint64_t wall_ms)
{
	if (wall_ms > (UINT64_MAX >> 16))
		return UINT64_MAX & ~(uint64_t)0xffff;
	return wall_ms << 16;
}

uint64_t hlc_now(hlc_clock *c, uint64_t wall_ms)
{
	uint64_t t = succ(c->last);
	uint64_t w = wall_stamp(wall_ms);

	if (w > t)
		t = w;
	c->last = t;
	return t;
}

uint64_t hlc_recv(hlc_clock *c, uint64_t wall_ms, uint64_t remote)
{
	uint64_t t = succ(c->last);
	uint64_t r = succ(remote);
	uint64_t w = wall_stamp(wall_ms);

	if (r > t)
		t = r;
	if (w > t)
		t = w;
	c->last = t;
	return t;
}
