/*
 * doc.h — one writer for the documents the server answers with (reports,
 * audit trail, lockouts, devices): the same calls write JSON or msgpack,
 * chosen by a flag.  msgpack goes through protocol/wire.h's encoder
 * (maps and arrays are counted as they are written and their headers
 * patched at the end), JSON through json.h; both write the same values
 * in the same order, so the two formats of a document say the same thing.
 * Floats: JSON writes 17 significant digits (%.17g), as before; CSV cells
 * use doc_fmt_f64's shortest form.
 */
#ifndef FS_DOC_H
#define FS_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/wire.h"
#include "server/lib/json.h"

#define DOC_DEPTH 24

typedef struct {
	wbuf *b;
	int json;
	jwriter jw;
	int d;
	size_t at[DOC_DEPTH];   /* msgpack: where each open header is */
	uint32_t n[DOC_DEPTH];  /* msgpack: values written in it so far */
	int map[DOC_DEPTH];     /* JSON: 1 object, 0 array */
	int fixed[DOC_DEPTH];   /* msgpack: the count was written up front */
	int tight;
} doc;

/* Write into b (appended); json 1: JSON, 0: msgpack. */
void doc_init(doc *d, wbuf *b, int json);
/* The same, but msgpack maps and arrays of doc_map()/doc_arr() get the
 * smallest header at doc_end (their content is moved down), as if their
 * size had been known up front. */
void doc_init_tight(doc *d, wbuf *b, int json);
/* A map or array whose size is counted as it is written (msgpack: a
 * 32-bit header patched at doc_end) ... */
void doc_map(doc *d);
void doc_arr(doc *d);
/* ... or known before (msgpack: the smallest header; doc_end checks that
 * exactly n entries were written, else the buffer is marked failed). */
void doc_map_n(doc *d, uint32_t n);
void doc_arr_n(doc *d, uint32_t n);
void doc_end(doc *d); /* closes the innermost map or array */
void doc_key(doc *d, const char *k);
void doc_keyn(doc *d, const char *k, size_t n);
void doc_str(doc *d, const char *s); /* NULL writes nil */
void doc_strn(doc *d, const char *s, size_t n);
void doc_u64(doc *d, uint64_t v);
void doc_i64(doc *d, int64_t v);
void doc_f64(doc *d, double v);
void doc_bool(doc *d, int v);
void doc_nil(doc *d);
void doc_val(doc *d, const wval *v); /* any decoded msgpack value */
/* A value already encoded as msgpack (p[0..n)) and its decoded form v:
 * msgpack copies the bytes as they are, JSON writes v. */
void doc_packed(doc *d, const void *p, size_t n, const wval *v);

/* The shortest decimal text of v that reads back as exactly v (0.8, not
 * 0.80000000000000004), as %g would write it with enough digits; "" for
 * NaN and infinities.  Returns the length (at most 31). */
int doc_fmt_f64(char out[32], double v);

#endif
