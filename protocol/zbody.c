/*
 * zbody.c — body compression with zlib.  The only file that includes
 * <zlib.h>.  The inflater writes into a buffer that never grows past the
 * cap; once the cap is reached, a one-byte scratch buffer tells whether
 * the stream has more to give (then it is too large).
 */
#include "zbody.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "errors.h"

#define ZB_FIRST_ALLOC ((size_t)64 * 1024)

struct zb_inflater {
	z_stream zs;
	int inited;  /* inflateInit2 succeeded */
	int ended;   /* Z_STREAM_END seen */
	int err;     /* sticky FS_E_* once something failed */
	size_t cap;  /* most output allowed */
	uint8_t *out;
	size_t n, alloc;
};

static int window_bits(zb_format f)
{
	return f == ZB_GZIP ? 15 + 16 : 15;
}

zb_inflater *zb_inflate_new(zb_format f, size_t cap)
{
	zb_inflater *z = calloc(1, sizeof *z);

	if (!z)
		return NULL;
	z->cap = cap;
	if (inflateInit2(&z->zs, window_bits(f)) != Z_OK) {
		free(z);
		return NULL;
	}
	z->inited = 1;
	return z;
}

/* Make room for more output, up to the cap.  0, or -1 when out of
 * memory. */
static int grow(zb_inflater *z)
{
	size_t want;
	uint8_t *np;

	if (z->alloc >= z->cap)
		return 0;
	want = z->alloc ? z->alloc : ZB_FIRST_ALLOC;
	if (z->alloc && want <= SIZE_MAX / 2)
		want *= 2;
	if (want > z->cap)
		want = z->cap;
	np = realloc(z->out, want);
	if (!np)
		return -1;
	z->out = np;
	z->alloc = want;
	return 0;
}

int zb_inflate_feed(zb_inflater *z, const void *p, size_t n)
{
	const Bytef *in = p;
	uint8_t scratch;

	if (!z)
		return FS_E_UNAVAILABLE;
	if (z->err)
		return z->err;
	if (n == 0)
		return FS_OK;
	if (z->ended) {
		z->err = FS_E_BAD_REQUEST; /* data after the stream's end */
		return z->err;
	}
	for (;;) {
		int ret, at_cap;
		size_t room, made;

		if (z->zs.avail_in == 0) {
			uInt take = n > UINT_MAX ? UINT_MAX : (uInt)n;

			z->zs.next_in = (Bytef *)in;
			z->zs.avail_in = take;
			in += take;
			n -= take;
		}
		if (z->n == z->alloc && grow(z) < 0) {
			z->err = FS_E_UNAVAILABLE;
			return z->err;
		}
		at_cap = z->n == z->alloc; /* only when alloc == cap */
		if (at_cap) {
			z->zs.next_out = &scratch;
			z->zs.avail_out = 1;
			room = 1;
		} else {
			room = z->alloc - z->n;
			if (room > UINT_MAX)
				room = UINT_MAX;
			z->zs.next_out = z->out + z->n;
			z->zs.avail_out = (uInt)room;
		}
		ret = inflate(&z->zs, Z_NO_FLUSH);
		made = room - z->zs.avail_out;
		if (at_cap && made > 0) {
			z->err = FS_E_TOO_LARGE;
			return z->err;
		}
		z->n += at_cap ? 0 : made;
		switch (ret) {
		case Z_OK:
			break;
		case Z_STREAM_END:
			z->ended = 1;
			if (z->zs.avail_in > 0 || n > 0) {
				z->err = FS_E_BAD_REQUEST;
				return z->err;
			}
			return FS_OK;
		case Z_BUF_ERROR:
			/* No progress possible: all input taken, nothing
			 * more to flush until more arrives. */
			if (z->zs.avail_in == 0 && n == 0)
				return FS_OK;
			if (made == 0) {
				z->err = FS_E_BAD_REQUEST;
				return z->err;
			}
			break;
		case Z_MEM_ERROR:
			z->err = FS_E_UNAVAILABLE;
			return z->err;
		default: /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
			z->err = FS_E_BAD_REQUEST;
			return z->err;
		}
		if (z->zs.avail_in == 0 && n == 0 && z->zs.avail_out > 0)
			return FS_OK; /* all consumed, nothing pending */
	}
}

int zb_inflate_finish(zb_inflater *z, uint8_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!z)
		return FS_E_UNAVAILABLE;
	if (z->err)
		return z->err;
	if (!z->ended)
		return FS_E_BAD_REQUEST;
	if (!z->out) {
		z->out = malloc(1);
		if (!z->out)
			return FS_E_UNAVAILABLE;
	}
	*out = z->out;
	*n = z->n;
	z->out = NULL;
	z->n = z->alloc = 0;
	return FS_OK;
}

void zb_inflate_free(zb_inflater *z)
{
	if (!z)
		return;
	if (z->inited)
		inflateEnd(&z->zs);
	free(z->out);
	free(z);
}

int zb_inflate(zb_format f, const void *p, size_t n, size_t cap,
               uint8_t **out, size_t *out_n)
{
	zb_inflater *z = zb_inflate_new(f, cap);
	int rc;

	*out = NULL;
	*out_n = 0;
	if (!z)
		return FS_E_UNAVAILABLE;
	rc = zb_inflate_feed(z, p, n);
	if (rc != FS_OK)
		goto out;
	rc = zb_inflate_finish(z, out, out_n);
out:
	zb_inflate_free(z);
	return rc;
}

int zb_deflate(zb_format f, const void *p, size_t n, uint8_t **out,
               size_t *out_n)
{
	z_stream zs;
	const Bytef *in = p;
	uint8_t *buf = NULL, *nb;
	size_t len = 0, alloc, left = n;
	int rc = FS_E_UNAVAILABLE, ret;

	*out = NULL;
	*out_n = 0;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, 6, Z_DEFLATED, window_bits(f), 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return FS_E_UNAVAILABLE;
	alloc = deflateBound(&zs, n > ULONG_MAX ? ULONG_MAX : (uLong)n);
	if (alloc < 64)
		alloc = 64;
	buf = malloc(alloc);
	if (!buf)
		goto out;
	for (;;) {
		int flush;
		size_t room;

		if (zs.avail_in == 0 && left > 0) {
			uInt take = left > UINT_MAX ? UINT_MAX : (uInt)left;

			zs.next_in = (Bytef *)in;
			zs.avail_in = take;
			in += take;
			left -= take;
		}
		if (len == alloc) {
			if (alloc > SIZE_MAX / 2)
				goto out;
			nb = realloc(buf, alloc * 2);
			if (!nb)
				goto out;
			buf = nb;
			alloc *= 2;
		}
		room = alloc - len;
		if (room > UINT_MAX)
			room = UINT_MAX;
		zs.next_out = buf + len;
		zs.avail_out = (uInt)room;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		ret = deflate(&zs, flush);
		len += room - zs.avail_out;
		if (ret == Z_STREAM_END)
			break;
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			goto out;
	}
	*out = buf;
	*out_n = len;
	buf = NULL;
	rc = FS_OK;
out:
	deflateEnd(&zs);
	free(buf);
	return rc;
}

uint32_t zb_crc32(const void *p, size_t n)
{
	uLong c = crc32(0, Z_NULL, 0);
	const Bytef *b = p;

	while (n > 0) { /* crc32 takes a uInt length */
		uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
		c = crc32(c, b, k);
		b += k;
		n -= k;
	}
	return (uint32_t)c;
}
