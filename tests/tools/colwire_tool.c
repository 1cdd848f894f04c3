/*
 * colwire_tool.c — the C side of the TypeScript client's differential
 * test of the v2 pull encoding (clients/js/test/colwire.test.ts):
 *
 *   colwire_tool encode < v1-records.msgpack > page
 *       a msgpack array of v1 pull records {c, id, f, s} through
 *       cw_enc_add_v1 + cw_enc_finish (protocol/colwire.c)
 *   colwire_tool decode < page > v1-records.msgpack
 *       cw_decode, written back as msgpack (wb_val)
 *
 * Exit 0 on success; 1 with the error code's name on stderr otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/arena.h"
#include "protocol/colwire.h"
#include "protocol/errors.h"
#include "protocol/wire.h"

#define INPUT_MAX ((size_t)64 << 20)

static uint8_t *read_all(size_t *n)
{
	size_t cap = 1 << 16;
	uint8_t *p = malloc(cap);

	*n = 0;
	while (p) {
		size_t got = fread(p + *n, 1, cap - *n, stdin);

		*n += got;
		if (got == 0)
			return ferror(stdin) ? (free(p), NULL) : p;
		if (*n == cap) {
			uint8_t *q = cap < INPUT_MAX ? realloc(p, cap * 2) : NULL;

			if (!q)
				free(p);
			p = q;
			cap *= 2;
		}
	}
	return NULL;
}

static int encode(arena *a, const uint8_t *in, size_t n, wbuf *out)
{
	wval *v;
	int rc = wire_decode(a, in, n, &v);
	cw_enc *e;

	if (rc)
		return rc;
	if (v->t != WV_ARR)
		return FS_E_BAD_REQUEST;
	if (!(e = cw_enc_new()))
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < v->a.n && !rc; i++)
		rc = cw_enc_add_v1(e, &v->a.v[i]);
	if (!rc)
		rc = cw_enc_finish(e, out);
	cw_enc_free(e);
	return rc;
}

static int decode(arena *a, const uint8_t *in, size_t n, wbuf *out)
{
	size_t budget = (size_t)8 << 20;
	wval *v;
	int rc = cw_decode(a, in, n, &budget, &v);

	if (!rc)
		wb_val(out, v);
	return rc;
}

int main(int argc, char **argv)
{
	size_t n;
	uint8_t *in;
	arena *a = arena_new(0);
	wbuf out;
	int rc;

	if (argc != 2 || (strcmp(argv[1], "encode") && strcmp(argv[1], "decode"))) {
		fprintf(stderr, "usage: colwire_tool encode|decode < in > out\n");
		return 2;
	}
	if (!a || !(in = read_all(&n))) {
		fprintf(stderr, "colwire_tool: cannot read the input\n");
		return 1;
	}
	wb_init(&out);
	rc = strcmp(argv[1], "encode") ? decode(a, in, n, &out)
	                               : encode(a, in, n, &out);
	if (!rc && out.err)
		rc = FS_E_UNAVAILABLE;
	if (rc)
		fprintf(stderr, "colwire_tool %s: %s\n", argv[1], fs_err_name(rc));
	else
		fwrite(out.p, 1, out.n, stdout);
	wb_free(&out);
	free(in);
	arena_free(a);
	return rc ? 1 : 0;
}
