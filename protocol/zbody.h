/*
 * zbody.h — request and response body compression (zlib).
 *
 * Inflate refuses to produce more than a cap: it stops as soon as the
 * output would pass it (no zip bombs), and can be fed in chunks as the
 * body arrives.
 */
#ifndef FS_ZBODY_H
#define FS_ZBODY_H

#include <stddef.h>
#include <stdint.h>

/* deflate = zlib format (RFC 1950); gzip is one member (RFC 1952): a
 * second concatenated member counts as data after the end. */
typedef enum { ZB_DEFLATE, ZB_GZIP } zb_format;

typedef struct zb_inflater zb_inflater;

/* A streaming inflater whose output may not exceed `cap` bytes (it never
 * allocates more than cap for output).  NULL when out of memory.  Errors
 * are sticky: after one, every call returns it. */
zb_inflater *zb_inflate_new(zb_format f, size_t cap);
/* Feed input.  FS_OK, FS_E_TOO_LARGE (output passed the cap),
 * FS_E_BAD_REQUEST (corrupt stream or data after its end) or
 * FS_E_UNAVAILABLE (out of memory). */
int zb_inflate_feed(zb_inflater *z, const void *p, size_t n);
/* After the last input: FS_OK if the stream ended properly, else
 * FS_E_BAD_REQUEST.  *out (malloc'd, caller frees) and *n get the bytes. */
int zb_inflate_finish(zb_inflater *z, uint8_t **out, size_t *n);
void zb_inflate_free(zb_inflater *z);

/* One-shot convenience around the above. */
int zb_inflate(zb_format f, const void *p, size_t n, size_t cap,
               uint8_t **out, size_t *out_n);
/* Compress p[0..n) (level 6).  FS_OK or FS_E_UNAVAILABLE; *out malloc'd. */
/* CRC-32 (the zlib/gzip polynomial) of n bytes: the handheld's outbox
 * journal checks its frames with it, and zlib stays in this one file. */
uint32_t zb_crc32(const void *p, size_t n);

int zb_deflate(zb_format f, const void *p, size_t n, uint8_t **out,
               size_t *out_n);

#endif
