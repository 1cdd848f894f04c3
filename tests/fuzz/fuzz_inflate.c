/*
 * fuzz_inflate.c — libFuzzer target for the capped inflater
 * (protocol/zbody.c), fed whole and in small chunks.
 *
 * Input: byte 0 flags (bit 0: gzip, else deflate; bit 1: round-trip mode;
 * bits 2-3: scale of the cap), bytes 1-2 the cap (scaled: at most about
 * 4 MiB, so a bomb costs little), bytes 3-10 eight chunk sizes (0-63,
 * used in turn), then the payload.
 *
 * Inflate mode: the payload is a compressed stream (or garbage).  Fed
 * whole (zb_inflate) and chunk by chunk (zb_inflate_new/feed/finish) it
 * must give the same code and, when it inflates, the same bytes, never
 * more than the cap; a failed feed stays failed (sticky); and zlib itself,
 * inflating the stream in one call into a buffer of cap + 1 bytes, is the
 * reference: OK exactly when zlib ends the stream with no byte left over
 * and at most cap bytes out (the same bytes), TOO_LARGE exactly when zlib
 * fills cap + 1 bytes first, else BAD_REQUEST.  (This test includes
 * <zlib.h> to check protocol/zbody.c against the library.)
 * Round-trip mode: the payload is deflated (zb_deflate) and must inflate
 * back to itself, whole and chunked, with a cap of its exact size; with a
 * cap one byte smaller it is FS_E_TOO_LARGE; with a byte appended after
 * the stream's end it is FS_E_BAD_REQUEST.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "protocol/errors.h"
#include "protocol/zbody.h"

#define HEAD 11

__attribute__((noreturn)) static void broken(const char *what, int a, int b)
{
	fprintf(stderr, "fuzz_inflate: property broken: %s (%s / %s)\n", what,
	        fs_err_name(a), fs_err_name(b));
	abort();
}

static int code_ok(int rc)
{
	return rc == FS_OK || rc == FS_E_TOO_LARGE || rc == FS_E_BAD_REQUEST;
}

/* Feed p[0..n) in chunks of the given sizes (a 0 feeds nothing, which is
 * allowed), then finish. */
static int chunked(zb_format f, const uint8_t *p, size_t n, size_t cap,
                   const uint8_t sizes[8], uint8_t **out, size_t *out_n)
{
	zb_inflater *z = zb_inflate_new(f, cap);
	int rc = FS_OK;
	size_t at = 0;
	unsigned k = 0, zeros = 0;
	*out = NULL;
	*out_n = 0;
	if (!z)
		broken("zb_inflate_new failed", 0, 0);
	while (at < n) {
		size_t c = sizes[k++ % 8] % 64;
		if (c == 0 && ++zeros > 8)
			c = 1; /* eight empty feeds in a row: move on */
		if (c)
			zeros = 0;
		if (c > n - at)
			c = n - at;
		rc = zb_inflate_feed(z, p + at, c);
		at += c;
		if (rc)
			break;
	}
	if (rc) {
		/* sticky: another feed and the finish give the same error */
		int again = zb_inflate_feed(z, p, n ? 1 : 0);
		if (again != rc)
			broken("a failed inflater did not stay failed", rc, again);
		uint8_t *o;
		size_t on;
		if (zb_inflate_finish(z, &o, &on) != rc || o || on)
			broken("finish after a failure", rc, rc);
	} else {
		rc = zb_inflate_finish(z, out, out_n);
	}
	zb_inflate_free(z);
	return rc;
}

static void compare(const char *mode, int rw, const uint8_t *ow, size_t nw,
                    int rc, const uint8_t *oc, size_t nc, size_t cap)
{
	if (!code_ok(rw) || !code_ok(rc))
		broken("unexpected inflate code", rw, rc);
	if (rw != rc) {
		fprintf(stderr, "fuzz_inflate: %s\n", mode);
		broken("whole and chunked inflate disagree", rw, rc);
	}
	if (rw == FS_OK) {
		if (!ow || !oc)
			broken("inflate OK without an output buffer", rw, rc);
		if (nw > cap || nc > cap)
			broken("inflated past the cap", rw, rc);
		if (nw != nc || memcmp(ow, oc, nw))
			broken("whole and chunked inflate give other bytes", rw, rc);
	} else if (ow || oc || nw || nc) {
		broken("a failed inflate handed out bytes", rw, rc);
	}
}

/* zlib in one call: the code zb_inflate must give, and (for OK) the
 * bytes in *ref / *ref_n (caller frees). */
static int reference(zb_format f, const uint8_t *p, size_t n, size_t cap,
                     uint8_t **ref, size_t *ref_n)
{
	z_stream zs;
	int rc;
	memset(&zs, 0, sizeof(zs));
	*ref = malloc(cap + 1);
	*ref_n = 0;
	if (!*ref || inflateInit2(&zs, f == ZB_GZIP ? 31 : 15) != Z_OK)
		broken("reference: out of memory", 0, 0);
	zs.next_in = (Bytef *)p;
	zs.avail_in = (uInt)n;
	zs.next_out = *ref;
	zs.avail_out = (uInt)(cap + 1);
	int ret = inflate(&zs, Z_FINISH);
	*ref_n = cap + 1 - zs.avail_out;
	if (*ref_n > cap)
		rc = FS_E_TOO_LARGE;
	else if (ret == Z_STREAM_END && zs.avail_in == 0)
		rc = FS_OK;
	else
		rc = FS_E_BAD_REQUEST;
	inflateEnd(&zs);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEAD)
		return 0;
	zb_format f = data[0] & 1 ? ZB_GZIP : ZB_DEFLATE;
	int roundtrip = data[0] & 2;
	size_t cap = ((size_t)data[1] << 8 | data[2]) << (((data[0] >> 2) & 3) * 2);
	const uint8_t *sizes = data + 3;
	const uint8_t *p = data + HEAD;
	size_t n = size - HEAD;
	uint8_t *ow, *oc;
	size_t nw, nc;

	if (!roundtrip) {
		/* an exact-size copy: ASan sees any read past the input */
		uint8_t *in = malloc(n ? n : 1);
		if (!in)
			broken("malloc", 0, 0);
		memcpy(in, p, n);
		int rw = zb_inflate(f, in, n, cap, &ow, &nw);
		int rc = chunked(f, in, n, cap, sizes, &oc, &nc);
		compare("inflate", rw, ow, nw, rc, oc, nc, cap);
		uint8_t *rf;
		size_t rn;
		int rr = reference(f, in, n, cap, &rf, &rn);
		if (rw != rr)
			broken("zb_inflate and zlib disagree", rw, rr);
		if (rw == FS_OK && (rn != nw || (nw && memcmp(rf, ow, nw))))
			broken("zb_inflate and zlib give other bytes", rw, rr);
		free(rf);
		free(ow);
		free(oc);
		free(in);
		return 0;
	}

	uint8_t *z;
	size_t zn;
	if (zb_deflate(f, p, n, &z, &zn) != FS_OK || !z)
		broken("zb_deflate failed", 0, 0);
	int rw = zb_inflate(f, z, zn, n, &ow, &nw);
	int rc = chunked(f, z, zn, n, sizes, &oc, &nc);
	compare("round trip", rw, ow, nw, rc, oc, nc, n);
	if (rw != FS_OK || nw != n || (n && memcmp(ow, p, n)))
		broken("deflate then inflate is not the identity", rw, rc);
	free(ow);
	free(oc);
	if (n > 0) {
		rw = zb_inflate(f, z, zn, n - 1, &ow, &nw);
		rc = chunked(f, z, zn, n - 1, sizes, &oc, &nc);
		compare("cap one short", rw, ow, nw, rc, oc, nc, n - 1);
		if (rw != FS_E_TOO_LARGE)
			broken("a cap one byte short was not TOO_LARGE", rw, rc);
	}
	uint8_t *z2 = malloc(zn + 1);
	if (!z2)
		broken("malloc", 0, 0);
	memcpy(z2, z, zn);
	z2[zn] = 'x';
	rw = zb_inflate(f, z2, zn + 1, n, &ow, &nw);
	rc = chunked(f, z2, zn + 1, n, sizes, &oc, &nc);
	compare("data after the end", rw, ow, nw, rc, oc, nc, n);
	if (rw != FS_E_BAD_REQUEST)
		broken("a byte after the stream's end was accepted", rw, rc);
	free(z2);
	free(z);
	return 0;
}
