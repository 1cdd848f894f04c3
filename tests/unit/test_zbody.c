/* Unit tests: protocol/zbody.c — capped streaming inflate, deflate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <zlib.h> /* only to build test input that zbody.c cannot make */

#include "protocol/errors.h"
#include "protocol/zbody.h"

#define MIB ((size_t)1 << 20)

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Some compressible, not trivial text. */
static uint8_t *sample(size_t n)
{
	static const char *words[] = { "patrol ", "checkin ", "楼道清扫 ",
	                               "lobby ", "elevator ", "7 ", "\n" };
	uint8_t *p = malloc(n);
	size_t i = 0;

	assert_non_null(p);
	while (i < n) {
		const char *w = words[rnd() % 7];
		size_t l = strlen(w);

		if (l > n - i)
			l = n - i;
		memcpy(p + i, w, l);
		i += l;
	}
	return p;
}

static void roundtrip(zb_format f, size_t n)
{
	uint8_t *in = sample(n), *z, *out;
	size_t zn, on;

	assert_int_equal(zb_deflate(f, in, n, &z, &zn), FS_OK);
	assert_non_null(z);
	assert_int_equal(zb_inflate(f, z, zn, n, &out, &on), FS_OK);
	assert_int_equal(on, n);
	assert_memory_equal(out, in, n);
	free(out);
	/* one byte under the size: too large */
	if (n > 0) {
		assert_int_equal(zb_inflate(f, z, zn, n - 1, &out, &on),
		                 FS_E_TOO_LARGE);
		assert_null(out);
	}
	free(z);
	free(in);
}

static void test_roundtrip_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 100, 1024, 65535, 65536, 65537,
	                                300000, 3 * MIB };
	size_t i;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		roundtrip(ZB_DEFLATE, sizes[i]);
		roundtrip(ZB_GZIP, sizes[i]);
	}
}

static void test_format_headers(void **state)
{
	uint8_t *z;
	size_t zn;

	assert_int_equal(zb_deflate(ZB_GZIP, "abc", 3, &z, &zn), FS_OK);
	assert_true(zn > 10 && z[0] == 0x1f && z[1] == 0x8b);
	free(z);
	assert_int_equal(zb_deflate(ZB_DEFLATE, "abc", 3, &z, &zn), FS_OK);
	assert_int_equal(z[0], 0x78);
	assert_int_equal((z[0] * 256 + z[1]) % 31, 0);
	free(z);
}

static void test_wrong_format_rejected(void **state)
{
	uint8_t *z, *out;
	size_t zn, on;

	assert_int_equal(zb_deflate(ZB_GZIP, "hello", 5, &z, &zn), FS_OK);
	assert_int_equal(zb_inflate(ZB_DEFLATE, z, zn, 100, &out, &on),
	                 FS_E_BAD_REQUEST);
	free(z);
	assert_int_equal(zb_deflate(ZB_DEFLATE, "hello", 5, &z, &zn), FS_OK);
	assert_int_equal(zb_inflate(ZB_GZIP, z, zn, 100, &out, &on),
	                 FS_E_BAD_REQUEST);
	free(z);
}

static void test_chunked_one_byte(void **state)
{
	zb_format fmts[2] = { ZB_DEFLATE, ZB_GZIP };
	int k;

	for (k = 0; k < 2; k++) {
		size_t n = 200000, zn, on, i;
		uint8_t *in = sample(n), *z, *out;
		zb_inflater *zi;

		assert_int_equal(zb_deflate(fmts[k], in, n, &z, &zn), FS_OK);
		zi = zb_inflate_new(fmts[k], n);
		assert_non_null(zi);
		for (i = 0; i < zn; i++)
			assert_int_equal(zb_inflate_feed(zi, z + i, 1), FS_OK);
		assert_int_equal(zb_inflate_feed(zi, z, 0), FS_OK);
		assert_int_equal(zb_inflate_finish(zi, &out, &on), FS_OK);
		assert_int_equal(on, n);
		assert_memory_equal(out, in, n);
		free(out);
		zb_inflate_free(zi);

		/* random chunk sizes */
		zi = zb_inflate_new(fmts[k], n);
		for (i = 0; i < zn;) {
			size_t c = 1 + rnd() % 700;

			if (c > zn - i)
				c = zn - i;
			assert_int_equal(zb_inflate_feed(zi, z + i, c), FS_OK);
			i += c;
		}
		assert_int_equal(zb_inflate_finish(zi, &out, &on), FS_OK);
		assert_int_equal(on, n);
		assert_memory_equal(out, in, n);
		free(out);
		zb_inflate_free(zi);
		free(z);
		free(in);
	}
}

/* The cap is exact: output equal to the cap passes, one more fails, and
 * that holds when fed one byte at a time too. */
static void test_cap_exact_chunked(void **state)
{
	size_t n = 100000, zn, on, i;
	uint8_t *in = sample(n), *z, *out;
	zb_inflater *zi;
	int rc = FS_OK;

	assert_int_equal(zb_deflate(ZB_DEFLATE, in, n, &z, &zn), FS_OK);
	zi = zb_inflate_new(ZB_DEFLATE, n - 1);
	for (i = 0; i < zn && rc == FS_OK; i++)
		rc = zb_inflate_feed(zi, z + i, 1);
	assert_int_equal(rc, FS_E_TOO_LARGE);
	/* sticky */
	assert_int_equal(zb_inflate_feed(zi, z, 1), FS_E_TOO_LARGE);
	assert_int_equal(zb_inflate_finish(zi, &out, &on), FS_E_TOO_LARGE);
	assert_null(out);
	zb_inflate_free(zi);

	zi = zb_inflate_new(ZB_DEFLATE, n);
	for (i = 0; i < zn; i++)
		assert_int_equal(zb_inflate_feed(zi, z + i, 1), FS_OK);
	assert_int_equal(zb_inflate_finish(zi, &out, &on), FS_OK);
	assert_int_equal(on, n);
	free(out);
	zb_inflate_free(zi);

	/* cap 0: only the empty body */
	assert_int_equal(zb_inflate(ZB_DEFLATE, z, zn, 0, &out, &on),
	                 FS_E_TOO_LARGE);
	free(z);
	assert_int_equal(zb_deflate(ZB_GZIP, "", 0, &z, &zn), FS_OK);
	assert_int_equal(zb_inflate(ZB_GZIP, z, zn, 0, &out, &on), FS_OK);
	assert_int_equal(on, 0);
	assert_non_null(out);
	free(out);
	free(z);
	free(in);
}

/* 1 GiB of zeros as a raw deflate stream (about 1 MiB), made once and
 * wrapped in the zlib or gzip format with correct checksums. */
static uint8_t *bomb_raw;
static size_t bomb_raw_n;
static uLong bomb_adler, bomb_crc;

static void make_bomb_raw(void)
{
	z_stream zs;
	static uint8_t zeros[1 << 20];
	size_t cap = 4 * MIB, i;
	int ret = Z_OK;

	bomb_raw = malloc(cap);
	assert_non_null(bomb_raw);
	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 9,
	                              Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_out = bomb_raw;
	zs.avail_out = (uInt)cap;
	bomb_adler = adler32(0, NULL, 0);
	bomb_crc = crc32(0, NULL, 0);
	for (i = 0; i < 1024; i++) {
		zs.next_in = zeros;
		zs.avail_in = sizeof zeros;
		ret = deflate(&zs, i == 1023 ? Z_FINISH : Z_NO_FLUSH);
		assert_true(ret == Z_OK || ret == Z_STREAM_END);
		assert_int_equal(zs.avail_in, 0);
		bomb_adler = adler32(bomb_adler, zeros, sizeof zeros);
		bomb_crc = crc32(bomb_crc, zeros, sizeof zeros);
	}
	assert_int_equal(ret, Z_STREAM_END);
	bomb_raw_n = cap - zs.avail_out;
	deflateEnd(&zs);
}

static uint8_t *bomb(int gzip, size_t *zn)
{
	static const uint8_t zhdr[2] = { 0x78, 0x9c };
	static const uint8_t ghdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	uint8_t *out, *p;
	size_t hn = gzip ? sizeof ghdr : sizeof zhdr;
	uint32_t isize = (uint32_t)((uint64_t)1 << 30);
	int i;

	if (!bomb_raw)
		make_bomb_raw();
	out = malloc(hn + bomb_raw_n + 8);
	memcpy(out, gzip ? ghdr : zhdr, hn);
	memcpy(out + hn, bomb_raw, bomb_raw_n);
	p = out + hn + bomb_raw_n;
	if (gzip) {
		for (i = 0; i < 4; i++)
			*p++ = (uint8_t)(bomb_crc >> (8 * i));
		for (i = 0; i < 4; i++)
			*p++ = (uint8_t)(isize >> (8 * i));
	} else {
		for (i = 3; i >= 0; i--)
			*p++ = (uint8_t)(bomb_adler >> (8 * i));
	}
	*zn = (size_t)(p - out);
	return out;
}

static void test_zip_bomb(void **state)
{
	int k;

	for (k = 0; k < 2; k++) {
		size_t zn, on, i;
		uint8_t *z = bomb(k, &zn), *out;
		zb_format f = k ? ZB_GZIP : ZB_DEFLATE;
		clock_t t0 = clock();
		zb_inflater *zi;
		int rc = FS_OK;

		assert_true(zn < 2 * MIB);
		assert_int_equal(zb_inflate(f, z, zn, 32 * MIB, &out, &on),
		                 FS_E_TOO_LARGE);
		assert_null(out);
		/* quickly: it stops at the cap, never inflates the GiB */
		assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);

		/* the same bomb in 4 KiB chunks stops early */
		zi = zb_inflate_new(f, 32 * MIB);
		for (i = 0; i < zn && rc == FS_OK; i += 4096)
			rc = zb_inflate_feed(zi, z + i,
			                     zn - i < 4096 ? zn - i : 4096);
		assert_int_equal(rc, FS_E_TOO_LARGE);
		assert_true(i < zn);
		zb_inflate_free(zi);
		free(z);
	}
	free(bomb_raw);
	bomb_raw = NULL;
}

static void test_corrupt(void **state)
{
	size_t n = 50000, zn, on, i;
	uint8_t *in = sample(n), *z, *out;
	int k;

	for (k = 0; k < 2; k++) {
		zb_format f = k ? ZB_GZIP : ZB_DEFLATE;

		assert_int_equal(zb_deflate(f, in, n, &z, &zn), FS_OK);
		/* truncated streams never finish */
		for (i = 0; i < zn; i += 1 + i / 8)
			assert_int_equal(zb_inflate(f, z, i, n, &out, &on),
			                 FS_E_BAD_REQUEST);
		/* flipped bytes: an error (checksums catch the rest) */
		for (i = 0; i < 300; i++) {
			uint8_t *m = malloc(zn);
			int rc;

			memcpy(m, z, zn);
			m[rnd() % zn] ^= (uint8_t)(1 + rnd() % 255);
			rc = zb_inflate(f, m, zn, n, &out, &on);
			if (rc == FS_OK) {
				/* gzip's header has bytes that do not matter */
				assert_int_equal(on, n);
				assert_memory_equal(out, in, n);
				free(out);
			} else {
				assert_true(rc == FS_E_BAD_REQUEST ||
				            rc == FS_E_TOO_LARGE);
				assert_null(out);
			}
			free(m);
		}
		free(z);
	}
	/* garbage */
	assert_int_equal(zb_inflate(ZB_DEFLATE, "not zlib at all", 15, 100,
	                            &out, &on), FS_E_BAD_REQUEST);
	assert_int_equal(zb_inflate(ZB_GZIP, "not gzip at all", 15, 100,
	                            &out, &on), FS_E_BAD_REQUEST);
	assert_int_equal(zb_inflate(ZB_GZIP, "", 0, 100, &out, &on),
	                 FS_E_BAD_REQUEST);
	free(in);
}

static void test_trailing_garbage(void **state)
{
	int k;

	for (k = 0; k < 2; k++) {
		zb_format f = k ? ZB_GZIP : ZB_DEFLATE;
		uint8_t *z, *zz, *out;
		size_t zn, on, i;
		zb_inflater *zi;
		int rc = FS_OK;

		assert_int_equal(zb_deflate(f, "payload", 7, &z, &zn), FS_OK);
		zz = malloc(zn + 3);
		memcpy(zz, z, zn);
		memcpy(zz + zn, "xyz", 3);
		/* in the same feed */
		assert_int_equal(zb_inflate(f, zz, zn + 3, 100, &out, &on),
		                 FS_E_BAD_REQUEST);
		/* in a later feed */
		zi = zb_inflate_new(f, 100);
		assert_int_equal(zb_inflate_feed(zi, z, zn), FS_OK);
		assert_int_equal(zb_inflate_feed(zi, "x", 1), FS_E_BAD_REQUEST);
		assert_int_equal(zb_inflate_finish(zi, &out, &on),
		                 FS_E_BAD_REQUEST);
		zb_inflate_free(zi);
		/* byte by byte */
		zi = zb_inflate_new(f, 100);
		for (i = 0; i < zn + 3 && rc == FS_OK; i++)
			rc = zb_inflate_feed(zi, zz + i, 1);
		assert_int_equal(rc, FS_E_BAD_REQUEST);
		assert_int_equal(i, zn + 1);
		zb_inflate_free(zi);
		/* two concatenated streams are trailing garbage too */
		memcpy(zz, z, zn);
		{
			uint8_t *two = malloc(2 * zn);

			memcpy(two, z, zn);
			memcpy(two + zn, z, zn);
			assert_int_equal(zb_inflate(f, two, 2 * zn, 100, &out,
			                            &on), FS_E_BAD_REQUEST);
			free(two);
		}
		free(zz);
		free(z);
	}
	zb_inflate_free(NULL);
}

/* The journal's frame check: the standard CRC-32 check value, and the
 * empty input. */
static void test_crc32(void **state)
{
	(void)state;
	assert_int_equal(zb_crc32("123456789", 9), 0xCBF43926u);
	assert_int_equal(zb_crc32("", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_format_headers),
		cmocka_unit_test(test_wrong_format_rejected),
		cmocka_unit_test(test_chunked_one_byte),
		cmocka_unit_test(test_cap_exact_chunked),
		cmocka_unit_test(test_zip_bomb),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_trailing_garbage),
		cmocka_unit_test(test_crc32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
