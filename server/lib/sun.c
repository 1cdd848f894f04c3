/*
 * sun.c — see sun.h.  The cryptography is lib/crypto.c's; this file is
 * the message format of AN12196.
 */
#include "server/lib/sun.h"

#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"

/* The value of `name=` in the query (after '?', or the whole string when
 * there is none): 1 when found exactly once, 0 when absent, -1 repeated. */
static int param(const char *s, size_t n, const char *name, const char **v,
                 size_t *vn)
{
	const char *q = memchr(s, '?', n);
	size_t i = q ? (size_t)(q - s) + 1 : 0, nl = strlen(name);
	int found = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '&' && s[j] != '#')
			j++;
		if (j - i > nl && !memcmp(s + i, name, nl) && s[i + nl] == '=') {
			if (found)
				return -1;
			found = 1;
			*v = s + i + nl + 1;
			*vn = j - i - nl - 1;
		}
		if (j < n && s[j] == '#')
			break;
		i = j + 1;
	}
	return found;
}

/* One of two parameter names, hex of exactly `len` bytes. */
static int hex_param(const char *s, size_t n, const char *a, const char *b,
                     uint8_t *out, size_t len)
{
	const char *v = NULL;
	size_t vn = 0;
	int fa = param(s, n, a, &v, &vn);
	if (fa < 0)
		return -1;
	if (!fa && param(s, n, b, &v, &vn) != 1)
		return -1;
	return hex_decode(v, vn, out, len) ? 0 : -1;
}

int sun_parse(const char *s, size_t n, sun_msg *out)
{
	if (!s || n == 0 || n > SUN_MAX || memchr(s, 0, n))
		return -1;
	if (hex_param(s, n, "picc_data", "e", out->picc, 16) ||
	    hex_param(s, n, "cmac", "c", out->mac, 8))
		return -1;
	return 0;
}

int sun_decrypt_picc(const uint8_t meta_key[16], const uint8_t enc[16],
                     sun_picc *out)
{
	static const uint8_t iv[16];
	uint8_t p[16];
	if (crypto_aes128_cbc_decrypt(meta_key, iv, enc, 16, p))
		return -1;
	/* PICCDataTag: bit 7 UID mirrored, bit 6 counter mirrored, bits 3-0
	 * the UID's length (7) */
	if ((p[0] & 0xC0) != 0xC0 || (p[0] & 0x0F) != 7)
		return -1;
	memcpy(out->uid, p + 1, 7);
	out->counter = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16;
	return 0;
}

int sun_session_mac_key(const uint8_t file_key[16], const sun_picc *p,
                        uint8_t out[16])
{
	uint8_t sv2[16] = {0x3C, 0xC3, 0x00, 0x01, 0x00, 0x80};
	memcpy(sv2 + 6, p->uid, 7);
	sv2[13] = (uint8_t)(p->counter & 0xFF);
	sv2[14] = (uint8_t)(p->counter >> 8 & 0xFF);
	sv2[15] = (uint8_t)(p->counter >> 16 & 0xFF);
	return crypto_aes128_cmac(file_key, sv2, 16, out) ? -1 : 0;
}

int sun_mac(const uint8_t session_key[16], const void *msg, size_t n,
            uint8_t out[8])
{
	uint8_t full[16];
	if (crypto_aes128_cmac(session_key, msg, n, full))
		return -1;
	for (int i = 0; i < 8; i++)
		out[i] = full[2 * i + 1];
	return 0;
}

int sun_verify(const char *s, size_t n, const uint8_t meta_key[16],
               const uint8_t file_key[16], sun_picc *out)
{
	sun_msg m;
	uint8_t ks[16], mac[8];
	if (sun_parse(s, n, &m))
		return SUN_BAD_FORMAT;
	if (sun_decrypt_picc(meta_key, m.picc, out))
		return SUN_BAD_PICC;
	if (sun_session_mac_key(file_key, out, ks) || sun_mac(ks, "", 0, mac))
		return SUN_ERROR;
	return crypto_equal(mac, m.mac, 8) ? SUN_OK : SUN_BAD_MAC;
}

int sun_make(const uint8_t meta_key[16], const uint8_t file_key[16],
             const sun_picc *p, const uint8_t pad[5], const char *base,
             char *out, size_t cap)
{
	/* CBC with a zero IV over one block is the block cipher itself */
	uint8_t plain[16] = {0xC7}, enc[16], ks[16], mac[8];
	char picc_hex[33], mac_hex[17];
	memcpy(plain + 1, p->uid, 7);
	plain[8] = (uint8_t)(p->counter & 0xFF);
	plain[9] = (uint8_t)(p->counter >> 8 & 0xFF);
	plain[10] = (uint8_t)(p->counter >> 16 & 0xFF);
	memcpy(plain + 11, pad, 5);
	if (crypto_aes128_ecb(meta_key, plain, enc) ||
	    sun_session_mac_key(file_key, p, ks) || sun_mac(ks, "", 0, mac))
		return -1;
	hex_encode(enc, 16, picc_hex);
	hex_encode(mac, 8, mac_hex);
	int n = snprintf(out, cap, "%spicc_data=%s&cmac=%s", base, picc_hex, mac_hex);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}
