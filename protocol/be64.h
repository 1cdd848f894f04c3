/*
 * be64.h — 64-bit integers in big-endian byte order, as keys are stored
 * (a range scan over big-endian keys walks them in numeric order); and
 * 32-bit ones, as the client journal's frames and PostgreSQL's binary
 * array parameters carry them.
 */
#ifndef FS_BE64_H
#define FS_BE64_H

#include <stdint.h>

static inline void be64_put(void *out, uint64_t v)
{
	uint8_t *p = out;
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t be64_get(const void *in)
{
	const uint8_t *p = in;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void be32_put(void *out, uint32_t v)
{
	uint8_t *p = out;
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t be32_get(const void *in)
{
	const uint8_t *p = in;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

#endif
