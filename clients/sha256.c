/*
 * sha256.c — see sha256.h.  The only client file that includes OpenSSL.
 */
#include "clients/sha256.h"

#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>

struct sha256_ctx {
	EVP_MD_CTX *md;
};

sha256_ctx *sha256_new(void)
{
	sha256_ctx *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->md = EVP_MD_CTX_new();
	if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		sha256_free(s);
		return NULL;
	}
	return s;
}

void sha256_update(sha256_ctx *s, const void *p, size_t n)
{
	EVP_DigestUpdate(s->md, p, n);
}

void sha256_hex(sha256_ctx *s, char hex[65])
{
	static const char hx[] = "0123456789abcdef";
	uint8_t md[32];
	unsigned int len = sizeof(md);

	EVP_DigestFinal_ex(s->md, md, &len);
	sha256_free(s);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = hx[md[i] >> 4];
		hex[2 * i + 1] = hx[md[i] & 15];
	}
	hex[64] = 0;
}

void sha256_free(sha256_ctx *s)
{
	if (!s)
		return;
	EVP_MD_CTX_free(s->md);
	free(s);
}
