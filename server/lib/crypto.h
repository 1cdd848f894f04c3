/*
 * crypto.h — the only door to OpenSSL's libcrypto (TLS itself is set up
 * through CivetWeb's options): CSPRNG, SHA-256, PBKDF2-SHA256, HMAC, constant
 * time comparison, hex; AES-128 (ECB block, CBC without padding) and
 * AES-CMAC (RFC 4493) for secure NFC tags (lib/sun.c); AES-256-GCM to keep
 * secrets encrypted at rest.
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
/* HMAC-SHA256 of msg under key (webhook signatures).  FS_OK or
 * FS_E_INTERNAL. */
int crypto_hmac_sha256(const void *key, size_t key_n, const void *msg,
                       size_t msg_n, uint8_t out[32]);
/* 1 when a[0..n) == b[0..n), in time that does not depend on the data. */
int crypto_equal(const void *a, const void *b, size_t n);

/* Streaming SHA-256 (blobs are hashed as they stream to disk). */
typedef struct crypto_sha crypto_sha;
crypto_sha *crypto_sha_new(void);
void crypto_sha_update(crypto_sha *h, const void *p, size_t n);
void crypto_sha_final(crypto_sha *h, uint8_t out[32]); /* frees h */
void crypto_sha_free(crypto_sha *h);                   /* safe on NULL */

/* AES-128 of one block (ECB).  FS_OK or FS_E_INTERNAL. */
int crypto_aes128_ecb(const uint8_t key[16], const uint8_t in[16],
                      uint8_t out[16]);
/* AES-128-CBC decryption of n bytes (a multiple of 16, no padding) with
 * `iv`.  FS_OK, FS_E_BAD_REQUEST (n), or FS_E_INTERNAL. */
int crypto_aes128_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16],
                              const uint8_t *in, size_t n, uint8_t *out);
/* AES-128-CMAC (RFC 4493, NIST SP 800-38B) of p[0..n).  FS_OK or
 * FS_E_INTERNAL. */
int crypto_aes128_cmac(const uint8_t key[16], const void *p, size_t n,
                       uint8_t out[16]);

/* AES-256-GCM: seal p[0..n) into out[0..n + CRYPTO_SEAL_OVERHEAD) as
 * nonce(12) || ciphertext || tag(16), with `ad` authenticated beside it.
 * Open checks the tag: FS_OK, or FS_E_BAD_REQUEST when the key, the
 * associated data or the bytes are wrong. */
#define CRYPTO_SEAL_OVERHEAD 28
int crypto_seal(const uint8_t key[32], const void *ad, size_t ad_n,
                const void *p, size_t n, uint8_t *out);
int crypto_open(const uint8_t key[32], const void *ad, size_t ad_n,
                const uint8_t *in, size_t in_n, uint8_t *out);

/* Overwrite a secret so the compiler cannot skip it. */
void crypto_cleanse(void *p, size_t n);

/* Lower-case hex of p[0..n) into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const void *p, size_t n, char *out);
/* Decode exactly 2n hex digits into out[0..n): 1 on success. */
int hex_decode(const char *hex, size_t hex_n, uint8_t *out, size_t n);

#endif
