/* test_crypto.c — crypto.h: PBKDF2 and SHA-256 against known vectors,
 * streaming, hex, constant-time equality, the CSPRNG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
	assert_int_equal(hex_decode(h, strlen(h), out, n), 1);
}

static void test_sha256_abc(void **st)
{
	uint8_t got[32], want[32];
	char hex[65];

	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	      want, 32);
	crypto_sha256("abc", 3, got);
	assert_memory_equal(got, want, 32);
	hex_encode(got, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	                         "b00361a396177a9cb410ff61f20015ad");
	/* empty input */
	crypto_sha256("", 0, got);
	hex_encode(got, 32, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	                         "27ae41e4649b934ca495991b7852b855");
}

static void test_sha256_stream(void **st)
{
	static char buf[100000];
	uint8_t one[32], two[32];
	crypto_sha *h;
	size_t i;

	for (i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 7 + 3);
	crypto_sha256(buf, sizeof buf, one);
	h = crypto_sha_new();
	assert_non_null(h);
	for (i = 0; i < sizeof buf; i += 777)
		crypto_sha_update(h, buf + i,
		                  sizeof buf - i < 777 ? sizeof buf - i : 777);
	crypto_sha_final(h, two);
	assert_memory_equal(one, two, 32);

	/* abc in pieces */
	h = crypto_sha_new();
	crypto_sha_update(h, "a", 1);
	crypto_sha_update(h, "", 0);
	crypto_sha_update(h, "bc", 2);
	crypto_sha_final(h, two);
	crypto_sha256("abc", 3, one);
	assert_memory_equal(one, two, 32);

	crypto_sha_free(crypto_sha_new());
	crypto_sha_free(NULL);
}

static void test_pbkdf2_vectors(void **st)
{
	uint8_t got[32], want[32];

	/* RFC 7914 section 11: PBKDF2-HMAC-SHA256 P="passwd" S="salt" c=1 */
	unhex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
	      want, 32);
	assert_int_equal(crypto_pbkdf2("passwd", 6, (const uint8_t *)"salt", 4,
	                               1, got),
	                 FS_OK);
	assert_memory_equal(got, want, 32);

	/* P="password" S="salt" c=4096 (widely published vector) */
	unhex("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
	      want, 32);
	assert_int_equal(crypto_pbkdf2("password", 8, (const uint8_t *)"salt",
	                               4, 4096, got),
	                 FS_OK);
	assert_memory_equal(got, want, 32);

	/* a different salt gives a different key */
	assert_int_equal(crypto_pbkdf2("password", 8, (const uint8_t *)"salu",
	                               4, 4096, got),
	                 FS_OK);
	assert_memory_not_equal(got, want, 32);

	/* zero iterations is refused */
	assert_int_equal(crypto_pbkdf2("x", 1, (const uint8_t *)"s", 1, 0, got),
	                 FS_E_INTERNAL);
}

static void test_hex(void **st)
{
	uint8_t in[256], out[256];
	char hex[513];
	size_t i;

	for (i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)i;
	hex_encode(in, sizeof in, hex);
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 500, "fafbfcfdfeff");
	assert_int_equal(hex_decode(hex, 512, out, sizeof out), 1);
	assert_memory_equal(in, out, sizeof in);

	hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
	assert_int_equal(hex_decode("", 0, out, 0), 1);

	assert_int_equal(hex_decode("AbCd", 4, out, 2), 1);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0xcd);
	assert_int_equal(hex_decode("abc", 3, out, 2), 0);   /* odd */
	assert_int_equal(hex_decode("abcd", 4, out, 1), 0);  /* too long */
	assert_int_equal(hex_decode("ab", 2, out, 2), 0);    /* too short */
	assert_int_equal(hex_decode("0g", 2, out, 1), 0);
	assert_int_equal(hex_decode("g0", 2, out, 1), 0);
	assert_int_equal(hex_decode(" 0", 2, out, 1), 0);
}

static void test_equal(void **st)
{
	uint8_t a[33], b[33];

	memset(a, 0x5a, sizeof a);
	memset(b, 0x5a, sizeof b);
	assert_int_equal(crypto_equal(a, b, sizeof a), 1);
	b[32] ^= 1;
	assert_int_equal(crypto_equal(a, b, sizeof a), 0);
	assert_int_equal(crypto_equal(a, b, 32), 1);
	b[0] ^= 0x80;
	assert_int_equal(crypto_equal(a, b, 32), 0);
	assert_int_equal(crypto_equal(a, b, 0), 1);
}

static void test_random(void **st)
{
	uint8_t a[32], b[32], zero[32] = {0};

	assert_int_equal(crypto_random(a, sizeof a), FS_OK);
	assert_int_equal(crypto_random(b, sizeof b), FS_OK);
	assert_memory_not_equal(a, b, 32);
	assert_memory_not_equal(a, zero, 32);
	assert_int_equal(crypto_random(a, 0), FS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_abc),
		cmocka_unit_test(test_sha256_stream),
		cmocka_unit_test(test_pbkdf2_vectors),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
