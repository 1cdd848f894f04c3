/*
 * crypto.c — the project's only use of OpenSSL's libcrypto: CSPRNG,
 * SHA-256 (one shot and streaming), PBKDF2-HMAC-SHA256, constant-time
 * comparison, and hex (which needs no OpenSSL but lives with its users).
 */
#include "server/lib/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "protocol/errors.h"

struct crypto_sha {
	EVP_MD_CTX *ctx;
	int failed; /* an OpenSSL call failed: final gives all zeroes */
};

int crypto_random(void *p, size_t n)
{
	unsigned char *b = p;

	/* RAND_bytes takes an int count: feed it in chunks. */
	while (n > 0) {
		int k = n > INT_MAX ? INT_MAX : (int)n;

		if (RAND_bytes(b, k) != 1)
			return FS_E_INTERNAL;
		b += k;
		n -= (size_t)k;
	}
	return FS_OK;
}

void crypto_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		memset(out, 0, 32);
}

int crypto_pbkdf2(const char *pin, size_t pin_n, const uint8_t *salt,
                  size_t salt_n, unsigned iterations, uint8_t out[32])
{
	if (pin_n > INT_MAX || salt_n > INT_MAX || iterations == 0 ||
	    iterations > INT_MAX)
		return FS_E_INTERNAL;
	/* OpenSSL wants non-NULL pointers even for empty inputs. */
	if (PKCS5_PBKDF2_HMAC(pin ? pin : "", (int)pin_n,
	                      salt ? salt : (const uint8_t *)"", (int)salt_n,
	                      (int)iterations, EVP_sha256(), 32, out) != 1)
		return FS_E_INTERNAL;
	return FS_OK;
}

int crypto_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 1;
	return CRYPTO_memcmp(a, b, n) == 0;
}

crypto_sha *crypto_sha_new(void)
{
	crypto_sha *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void crypto_sha_update(crypto_sha *h, const void *p, size_t n)
{
	if (!h || h->failed || n == 0)
		return;
	if (EVP_DigestUpdate(h->ctx, p, n) != 1)
		h->failed = 1;
}

void crypto_sha_final(crypto_sha *h, uint8_t out[32])
{
	unsigned int len = 32;

	if (!h) {
		memset(out, 0, 32);
		return;
	}
	if (h->failed || EVP_DigestFinal_ex(h->ctx, out, &len) != 1 ||
	    len != 32)
		memset(out, 0, 32);
	crypto_sha_free(h);
}

void crypto_sha_free(crypto_sha *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *hex, size_t hex_n, uint8_t *out, size_t n)
{
	size_t i;

	if (n > SIZE_MAX / 2 || hex_n != 2 * n)
		return 0;
	for (i = 0; i < n; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 1;
}
