/*
 * json.h — a small JSON writer for reports (JSON is their default format).
 * Writes into a wbuf's bytes (not msgpack): jw_* keep track of commas.
 */
#ifndef FS_JSON_H
#define FS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/wire.h"

typedef struct {
	wbuf *b;
	int depth;
	int first[64]; /* no element written yet at this level */
	int after_key;
} jwriter;

void jw_init(jwriter *w, wbuf *b);
void jw_obj(jwriter *w);
void jw_end_obj(jwriter *w);
void jw_arr(jwriter *w);
void jw_end_arr(jwriter *w);
void jw_key(jwriter *w, const char *k);
void jw_keyn(jwriter *w, const char *k, size_t n);
void jw_str(jwriter *w, const char *s); /* NULL writes null */
void jw_strn(jwriter *w, const char *s, size_t n);
void jw_u64(jwriter *w, uint64_t v);
void jw_i64(jwriter *w, int64_t v);
void jw_f64(jwriter *w, double v); /* NaN/inf write null */
void jw_bool(jwriter *w, int v);
void jw_null(jwriter *w);
/* Any msgpack value as JSON (bins as hex strings). */
void jw_val(jwriter *w, const wval *v);

#endif
