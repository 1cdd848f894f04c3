/*
 * crypto.c — the project's only use of OpenSSL's libcrypto: CSPRNG,
 * SHA-256 (one shot and streaming), PBKDF2-HMAC-SHA256, HMAC-SHA256,
 * AES-128 (block, CBC), AES-CMAC, AES-256-GCM, constant-time comparison,
 * and hex (which needs no OpenSSL but lives with its users).
 */
#include "server/lib/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
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

int crypto_hmac_sha256(const void *key, size_t key_n, const void *msg,
                       size_t msg_n, uint8_t out[32])
{
	unsigned int n = 32;
	static const uint8_t none = 0;
	if (key_n > INT_MAX)
		return FS_E_INTERNAL;
	return HMAC(EVP_sha256(), key_n ? key : &none, (int)key_n,
	            msg_n ? msg : &none, msg_n, out, &n) && n == 32
	               ? FS_OK
	               : FS_E_INTERNAL;
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

int crypto_aes128_ecb(const uint8_t key[16], const uint8_t in[16],
                      uint8_t out[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ok;

	ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) == 1 &&
	     EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	     EVP_EncryptUpdate(c, out, &n1, in, 16) == 1 &&
	     EVP_EncryptFinal_ex(c, out + n1, &n2) == 1 && n1 + n2 == 16;
	EVP_CIPHER_CTX_free(c);
	return ok ? FS_OK : FS_E_INTERNAL;
}

int crypto_aes128_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16],
                              const uint8_t *in, size_t n, uint8_t *out)
{
	if (n == 0 || n % 16 || n > INT_MAX)
		return FS_E_BAD_REQUEST;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ok;

	ok = c && EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv) == 1 &&
	     EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	     EVP_DecryptUpdate(c, out, &n1, in, (int)n) == 1 &&
	     EVP_DecryptFinal_ex(c, out + n1, &n2) == 1 &&
	     (size_t)(n1 + n2) == n;
	EVP_CIPHER_CTX_free(c);
	return ok ? FS_OK : FS_E_INTERNAL;
}

int crypto_aes128_cmac(const uint8_t key[16], const void *p, size_t n,
                       uint8_t out[16])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("cipher", "AES-128-CBC", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t len = 0;
	int ok = c && EVP_MAC_init(c, key, 16, params) == 1 &&
	         (n == 0 || EVP_MAC_update(c, p, n) == 1) &&
	         EVP_MAC_final(c, out, &len, 16) == 1 && len == 16;

	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	return ok ? FS_OK : FS_E_INTERNAL;
}

/* One GCM pass: enc 1 seals, 0 opens (checking `tag`). */
static int gcm(int enc, const uint8_t key[32], const uint8_t nonce[12],
               const void *ad, size_t ad_n, const uint8_t *in, size_t n,
               uint8_t *out, uint8_t tag[16])
{
	if (n > INT_MAX / 2 || ad_n > INT_MAX / 2)
		return FS_E_BAD_REQUEST;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0, ok;

	ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	     EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
	     (ad_n == 0 || EVP_CipherUpdate(c, NULL, &len, ad, (int)ad_n) == 1) &&
	     (n == 0 || EVP_CipherUpdate(c, out, &len, in, (int)n) == 1) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
	     EVP_CipherFinal_ex(c, out + (n ? len : 0), &len) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? FS_OK : enc ? FS_E_INTERNAL : FS_E_BAD_REQUEST;
}

int crypto_seal(const uint8_t key[32], const void *ad, size_t ad_n,
                const void *p, size_t n, uint8_t *out)
{
	int rc = crypto_random(out, 12);
	if (rc)
		return rc;
	return gcm(1, key, out, ad, ad_n, p, n, out + 12, out + 12 + n);
}

int crypto_open(const uint8_t key[32], const void *ad, size_t ad_n,
                const uint8_t *in, size_t in_n, uint8_t *out)
{
	if (in_n < CRYPTO_SEAL_OVERHEAD)
		return FS_E_BAD_REQUEST;
	size_t n = in_n - CRYPTO_SEAL_OVERHEAD;
	uint8_t tag[16];
	memcpy(tag, in + 12 + n, 16);
	return gcm(0, key, in, ad, ad_n, in + 12, n, out, tag);
}

void crypto_cleanse(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}
