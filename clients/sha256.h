/*
 * sha256.h — SHA-256 for libfieldsync (photo names, bucket digests).
 *
 * sha256.c is the only client file that includes OpenSSL (libcrypto);
 * the transport is libcurl's, in http.c.
 */
#ifndef FS_CLIENT_SHA256_H
#define FS_CLIENT_SHA256_H

#include <stddef.h>

typedef struct sha256_ctx sha256_ctx;

sha256_ctx *sha256_new(void); /* NULL when out of memory */
void sha256_update(sha256_ctx *s, const void *p, size_t n);
/* The digest as 64 lowercase hex digits and a NUL; frees s. */
void sha256_hex(sha256_ctx *s, char hex[65]);
void sha256_free(sha256_ctx *s); /* no digest; NULL is fine */

#endif
