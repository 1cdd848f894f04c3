/*
 * opcheck.c — everything about one pushed op that needs no store, run in
 * the request's thread before the writer sees it: the op's shape, its
 * collection, id, fields, their types and sizes against schema/schema.h,
 * fields only the server fills, and a stamp too far ahead of the clock
 * (protocol/PROTOCOL.md lists the codes).
 */
#include <string.h>

#include "protocol/errors.h"
#include "server/core/engine_int.h"

static int check_type(const sfield *f, const wval *v)
{
	if (v->t == WV_NIL)
		return FS_OK;
	switch (f->type) {
	case FT_STR:
		return v->t == WV_STR ? FS_OK : FS_E_BAD_TYPE;
	case FT_ID:
		return v->t == WV_STR && valid_id(v->s.p, v->s.n) == FS_OK
		               ? FS_OK
		               : FS_E_BAD_TYPE;
	case FT_UINT:
		return v->t == WV_UINT ? FS_OK : FS_E_BAD_TYPE;
	case FT_INT:
		return v->t == WV_UINT || v->t == WV_INT ? FS_OK : FS_E_BAD_TYPE;
	case FT_NUM:
		return v->t == WV_UINT || v->t == WV_INT || v->t == WV_FLOAT
		               ? FS_OK
		               : FS_E_BAD_TYPE;
	case FT_BOOL:
		return v->t == WV_BOOL ? FS_OK : FS_E_BAD_TYPE;
	case FT_ENUM:
		return v->t == WV_STR && schema_enum_has(f->enums, v->s.p, v->s.n)
		               ? FS_OK
		               : FS_E_BAD_TYPE;
	case FT_IDS:
		if (v->t != WV_ARR)
			return FS_E_BAD_TYPE;
		for (uint32_t i = 0; i < v->a.n; i++)
			if (v->a.v[i].t != WV_STR ||
			    valid_id(v->a.v[i].s.p, v->a.v[i].s.n) != FS_OK)
				return FS_E_BAD_TYPE;
		return FS_OK;
	case FT_ARR:
		return v->t == WV_ARR ? FS_OK : FS_E_BAD_TYPE;
	case FT_ANY:
		return FS_OK;
	}
	return FS_E_BAD_TYPE;
}

/* At most 64 bytes of a name from the wire, fit to be quoted in a
 * message: the response is msgpack, whose strings must be UTF-8, so bytes
 * that are not UTF-8 (or are control characters) become '?', and a
 * character cut by the 64-byte limit is left out. */
static const char *wire_name(arena *a, const char *p, size_t n)
{
	size_t len = n > 64 ? 64 : n, i = 0, k = 0;
	char *o = arena_alloc(a, len + 1);
	if (!o)
		return "?";
	while (i < len) {
		unsigned char c = (unsigned char)p[i];
		size_t cl = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		if (cl > 1 && i + cl > len && i + cl <= n &&
		    utf8_valid(p + i, cl))
			break; /* a whole character cut by the limit */
		if (cl > 1 && i + cl <= len && utf8_valid(p + i, cl)) {
			memcpy(o + k, p + i, cl);
			k += cl;
			i += cl;
			continue;
		}
		o[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		i++;
	}
	o[k] = 0;
	return o;
}

/* Everything about one op that needs no store. */
opcheck check_op(engine *e, arena *a, const wval *op)
{
	opcheck r = {FS_OK, NULL};
	const fs_limits *l = &e->cfg.lim;
	if (op->t != WV_MAP)
		return (opcheck){FS_E_BAD_REQUEST, "op must be a map {c, id, s, f}"};
	const wval *c = wv_get(op, "c"), *id = wv_get(op, "id"),
	           *s = wv_get(op, "s"), *f = wv_get(op, "f");
	if (!c || c->t != WV_STR)
		return (opcheck){FS_E_BAD_REQUEST, "op needs c, a collection name"};
	const scollection *col = schema_collection(c->s.p, c->s.n);
	if (!col)
		return (opcheck){FS_E_UNKNOWN_COLLECTION,
		                 arena_printf(a, "unknown collection '%s'",
		                              wire_name(a, c->s.p, c->s.n))};
	if (!id || id->t != WV_STR || valid_id(id->s.p, id->s.n) != FS_OK)
		return (opcheck){FS_E_BAD_ID, "id must be 1-128 bytes of [A-Za-z0-9._:-]"};
	uint64_t su;
	if (!s || !wv_u64(s, &su))
		return (opcheck){FS_E_BAD_REQUEST, "op needs s, a uint64 stamp"};
	if (!f || f->t != WV_MAP)
		return (opcheck){FS_E_BAD_REQUEST, "op needs f, a map of fields"};
	if (f->m.n > l->fields_max)
		return (opcheck){FS_E_TOO_LARGE,
		                 arena_printf(a, "%u fields, at most %u",
		                              f->m.n, l->fields_max)};
	/* each value is validated once: TOO_LARGE wins over every other
	 * finding, so the first pass looks for it and keeps the results */
	int vres_stack[64];
	int *vres = f->m.n <= 64 ? vres_stack
	                         : arena_alloc(a, f->m.n * sizeof(int));
	for (uint32_t i = 0; i < f->m.n; i++) {
		const wval *k = &f->m.k[i], *v = &f->m.v[i];
		if (k->t != WV_STR)
			return (opcheck){FS_E_UNKNOWN_FIELD, "field names are strings"};
		int vr = valid_value(v, l);
		if (vres)
			vres[i] = vr;
		if (vr == FS_E_TOO_LARGE)
			return (opcheck){vr, arena_printf(a,
			        "field '%s': a string or bin over %u bytes",
			        wire_name(a, k->s.p, k->s.n), l->value_bytes_max)};
	}
	for (uint32_t i = 0; i < f->m.n; i++) {
		const wval *k = &f->m.k[i], *v = &f->m.v[i];
		int kn = (int)(k->s.n > 64 ? 64 : k->s.n);
		if (k->s.n == 8 && memcmp(k->s.p, "_deleted", 8) == 0) {
			if (col->append_only)
				return (opcheck){FS_E_IMMUTABLE,
				                 "evidence is never deleted"};
			if (v->t != WV_BOOL)
				return (opcheck){FS_E_BAD_TYPE, "_deleted is a boolean"};
			continue;
		}
		const sfield *sf = schema_field(col, k->s.p, k->s.n);
		if (!sf)
			return (opcheck){FS_E_UNKNOWN_FIELD,
			        arena_printf(a, "%s has no field '%s'", col->name,
			                     wire_name(a, k->s.p, k->s.n))};
		int vr = vres ? vres[i] : valid_value(v, l);
		if (vr)
			return (opcheck){vr, arena_printf(a,
			        "field '%.*s': %s", kn, k->s.p,
			        vr == FS_E_BAD_TYPE ? "nested too deep, bad UTF-8 or a non-string key"
			                            : fs_err_msg(vr))};
		if (sf->grants & G_SERVER)
			return (opcheck){FS_E_FORBIDDEN,
			        arena_printf(a, "field '%s' is filled by the server",
			                     sf->name)};
		if (check_type(sf, v))
			return (opcheck){FS_E_BAD_TYPE,
			        arena_printf(a, "field '%s' has the wrong type", sf->name)};
	}
	if (HLC_WALL(su) > engine_now(e) + l->max_skew_ms)
		return (opcheck){FS_E_CLOCK_AHEAD,
		        arena_printf(a, "stamp is %llu ms ahead of the server clock",
		                     (unsigned long long)(HLC_WALL(su) - engine_now(e)))};
	return r;
}
