/*
 * crypto.h — the only door to OpenSSL's libcrypto (TLS itself is set up
 * through CivetWeb's options): CSPRNG, SHA-256, PBKDF2-SHA256, constant
 * time comparison, hex.
 */
#ifndef FS_CRYPTO_H
#define FS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* n random bytes from OpenSSL's CSPRNG.  FS_OK or FS_E_INTERNAL. */
int crypto_random(void *p, size_t n);
void crypto_sha256(const void *p, size_t n, uint8_t out[32]);
/* PBKDF2-HMAC-SHA256, 32-byte output.  FS_OK or FS_E_INTERNAL. */
int crypto_pbkdf2(const char *pin, size_t pin_n, const uint8_t *salt,
                  size_t salt_n, unsigned iterations, uint8_t out[32]);
/* 1 when a[0..n) == b[0..n), in time that does not depend on the data. */
int crypto_equal(const void *a, const void *b, size_t n);

/* Streaming SHA-256 (blobs are hashed as they stream to disk). */
typedef struct crypto_sha crypto_sha;
crypto_sha *crypto_sha_new(void);
void crypto_sha_update(crypto_sha *h, const void *p, size_t n);
void crypto_sha_final(crypto_sha *h, uint8_t out[32]); /* frees h */
void crypto_sha_free(crypto_sha *h);                   /* safe on NULL */

/* Lower-case hex of p[0..n) into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const void *p, size_t n, char *out);
/* Decode exactly 2n hex digits into out[0..n): 1 on success. */
int hex_decode(const char *hex, size_t hex_n, uint8_t *out, size_t n);

#endif
