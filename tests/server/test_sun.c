/* test_sun.c — server/lib/sun.h and the AES primitives under it
 * (server/lib/crypto.h).
 *
 * Where the vectors come from:
 *  - AN12196 (NXP, "NTAG 424 DNA and NTAG 424 DNA TagTamper features and
 *    hints"), its SUN example with every key 00..00: PICC data
 *    EF963FF7828658A599F3041510671E88 decrypts to UID 04DE5F1EACC040 and
 *    SDMReadCtr 3D0000 (61), and the URL's SDMMAC is 94EED9EE65337086.
 *  - RFC 4493's AES-CMAC examples (empty message, one block).
 *  - Computed, not from AN12196: the session MAC key of that example
 *    (3FB5F6E3...), the full plaintext (its random padding) and a second
 *    tag with non-zero keys.  These were computed independently with
 *    Python's `cryptography` package (AES-CBC, CMAC) from the formulas of
 *    AN12196 (SV2 = 3CC3 0001 0080 || UID || counter LSB first; MAC = the
 *    odd bytes of CMAC(session key, empty)), not with this code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"
#include "server/lib/sun.h"

static const uint8_t zero[16];

static void unhex(const char *h, uint8_t *out, size_t n)
{
	assert_true(hex_decode(h, strlen(h), out, n));
}

static void test_rfc4493_cmac(void **st)
{
	uint8_t k[16], m[16], want[16], got[16];
	unhex("2b7e151628aed2a6abf7158809cf4f3c", k, 16);
	unhex("bb1d6929e95937287fa37d129b756746", want, 16);
	assert_int_equal(crypto_aes128_cmac(k, "", 0, got), FS_OK);
	assert_memory_equal(got, want, 16);
	unhex("6bc1bee22e409f96e93d7e117393172a", m, 16);
	unhex("070a16b46b4d4144f79bdd9dd04a287c", want, 16);
	assert_int_equal(crypto_aes128_cmac(k, m, 16, got), FS_OK);
	assert_memory_equal(got, want, 16);
}

/* AN12196: the PICC data of the all-zero-key example. */
static void test_an12196_picc(void **st)
{
	uint8_t enc[16], uid[7], plain[16], want[16];
	sun_picc p;
	unhex("EF963FF7828658A599F3041510671E88", enc, 16);
	unhex("04DE5F1EACC040", uid, 7);
	assert_int_equal(sun_decrypt_picc(zero, enc, &p), 0);
	assert_memory_equal(p.uid, uid, 7);
	assert_int_equal(p.counter, 61);
	/* the whole block (computed): tag C7, UID, counter, random padding */
	unhex("c704de5f1eacc0403d0000da5cf60941", want, 16);
	assert_int_equal(crypto_aes128_cbc_decrypt(zero, zero, enc, 16, plain),
	                 FS_OK);
	assert_memory_equal(plain, want, 16);
}

/* AN12196: the SDMMAC of the same tap; the session key is computed. */
static void test_an12196_mac(void **st)
{
	sun_picc p;
	uint8_t ks[16], want_ks[16], mac[8], want[8];
	unhex("04DE5F1EACC040", p.uid, 7);
	p.counter = 61;
	unhex("3fb5f6e3a807a03d5e3570ace393776f", want_ks, 16);
	assert_int_equal(sun_session_mac_key(zero, &p, ks), 0);
	assert_memory_equal(ks, want_ks, 16);
	unhex("94EED9EE65337086", want, 8);
	assert_int_equal(sun_mac(ks, "", 0, mac), 0);
	assert_memory_equal(mac, want, 8);
}

static void test_an12196_url(void **st)
{
	const char *u = "https://sdm.nfcdeveloper.com/tag?picc_data="
	                "EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086";
	sun_picc p;
	assert_int_equal(sun_verify(u, strlen(u), zero, zero, &p), SUN_OK);
	assert_int_equal(p.counter, 61);
	/* short names, lower case, a fragment after */
	const char *v = "e=ef963ff7828658a599f3041510671e88&c=94eed9ee65337086#x";
	assert_int_equal(sun_verify(v, strlen(v), zero, zero, &p), SUN_OK);
	/* one MAC bit off */
	const char *w = "https://x/?picc_data=EF963FF7828658A599F3041510671E88"
	                "&cmac=94EED9EE65337087";
	assert_int_equal(sun_verify(w, strlen(w), zero, zero, &p), SUN_BAD_MAC);
	/* the right bytes under another file key */
	uint8_t k[16];
	memset(k, 1, 16);
	assert_int_equal(sun_verify(u, strlen(u), zero, k, &p), SUN_BAD_MAC);
	/* another meta key: the plaintext is not a PICC block */
	assert_int_equal(sun_verify(u, strlen(u), k, zero, &p), SUN_BAD_PICC);
}

/* Computed: a tag with non-zero keys, counters 258 and 259. */
static void test_computed_tag(void **st)
{
	uint8_t meta[16], file[16], uid[7];
	for (int i = 0; i < 16; i++) {
		meta[i] = (uint8_t)i;
		file[i] = (uint8_t)(15 - i);
	}
	unhex("04A1B2C3D4E5F6", uid, 7);
	const char *a = "https://t/?picc_data=dafdca30e2e50a3c7fbe6549198451e9"
	                "&cmac=bb172e22a54a199a";
	const char *b = "https://t/?picc_data=18941e3a3ac5c32bf3ca36faaaf326ef"
	                "&cmac=041c84e5dcd929c5";
	sun_picc p;
	assert_int_equal(sun_verify(a, strlen(a), meta, file, &p), SUN_OK);
	assert_memory_equal(p.uid, uid, 7);
	assert_int_equal(p.counter, 258);
	assert_int_equal(sun_verify(b, strlen(b), meta, file, &p), SUN_OK);
	assert_int_equal(p.counter, 259);
	/* b's PICC data with a's MAC: a MAC is bound to its counter */
	const char *c = "https://t/?picc_data=18941e3a3ac5c32bf3ca36faaaf326ef"
	                "&cmac=bb172e22a54a199a";
	assert_int_equal(sun_verify(c, strlen(c), meta, file, &p), SUN_BAD_MAC);
}

/* sun_make (the tag's side) against the AN12196 MAC and the verifier. */
static void test_make(void **st)
{
	sun_picc p, back;
	static const uint8_t pad[5] = {0xda, 0x5c, 0xf6, 0x09, 0x41};
	char url[200];
	unhex("04DE5F1EACC040", p.uid, 7);
	p.counter = 61;
	assert_int_equal(sun_make(zero, zero, &p, pad, "https://t/?", url,
	                          sizeof(url)), 0);
	/* with AN12196's padding the PICC data is the note's own bytes */
	assert_string_equal(url, "https://t/?picc_data=ef963ff7828658a599f3041510671e88"
	                         "&cmac=94eed9ee65337086");
	assert_int_equal(sun_verify(url, strlen(url), zero, zero, &back), SUN_OK);
	assert_int_equal(sun_make(zero, zero, &p, pad, "https://t/?", url, 20), -1);
}

static void test_parse_refuses(void **st)
{
	sun_msg m;
	const char *bad[] = {
		"",
		"https://t/",
		"https://t/?picc_data=EF963FF7828658A599F3041510671E88",
		"https://t/?cmac=94EED9EE65337086",
		"https://t/?picc_data=EF963FF7828658A599F3041510671E&cmac=94EED9EE65337086",
		"https://t/?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE6533708",
		"https://t/?picc_data=ZZ963FF7828658A599F3041510671E88&cmac=94EED9EE65337086",
		"https://t/?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086"
		"&cmac=94EED9EE65337086",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sun_parse(bad[i], strlen(bad[i]), &m), -1);
	char big[SUN_MAX + 2];
	memset(big, 'a', sizeof(big));
	assert_int_equal(sun_parse(big, sizeof(big), &m), -1);
}

static void test_seal_open(void **st)
{
	uint8_t key[32], other[32], out[64 + CRYPTO_SEAL_OVERHEAD], back[64];
	memset(key, 7, 32);
	memset(other, 8, 32);
	const char *msg = "the tag's two keys";
	size_t n = strlen(msg);
	assert_int_equal(crypto_seal(key, "cp-01", 5, msg, n, out), FS_OK);
	assert_int_equal(crypto_open(key, "cp-01", 5, out, n + 28, back), FS_OK);
	assert_memory_equal(back, msg, n);
	assert_int_equal(crypto_open(other, "cp-01", 5, out, n + 28, back),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(crypto_open(key, "cp-02", 5, out, n + 28, back),
	                 FS_E_BAD_REQUEST);
	out[20] ^= 1;
	assert_int_equal(crypto_open(key, "cp-01", 5, out, n + 28, back),
	                 FS_E_BAD_REQUEST);
	assert_int_equal(crypto_open(key, "", 0, out, 27, back), FS_E_BAD_REQUEST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4493_cmac),
		cmocka_unit_test(test_an12196_picc),
		cmocka_unit_test(test_an12196_mac),
		cmocka_unit_test(test_an12196_url),
		cmocka_unit_test(test_computed_tag),
		cmocka_unit_test(test_make),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_seal_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
