/*
 * opbuild.c — see opbuild.h.
 */
#include "opbuild.h"

void ob_init(opbatch *b)
{
	wb_init(&b->ops);
	b->n = 0;
}

void ob_free(opbatch *b)
{
	wb_free(&b->ops);
	b->n = 0;
}

void ob_reset(opbatch *b)
{
	b->ops.n = 0;
	b->n = 0;
}

void ob_op(opbatch *b, const char *c, const char *id, uint64_t stamp,
           uint32_t nfields)
{
	wb_map(&b->ops, 4);
	wb_cstr(&b->ops, "c");
	wb_cstr(&b->ops, c);
	wb_cstr(&b->ops, "id");
	wb_cstr(&b->ops, id);
	wb_cstr(&b->ops, "s");
	wb_u64(&b->ops, stamp);
	wb_cstr(&b->ops, "f");
	wb_map(&b->ops, nfields);
	b->n++;
}

void ob_name(opbatch *b, const char *name)
{
	wb_cstr(&b->ops, name);
}

void ob_str(opbatch *b, const char *name, const char *v)
{
	ob_name(b, name);
	wb_cstr(&b->ops, v);
}

void ob_u64(opbatch *b, const char *name, uint64_t v)
{
	ob_name(b, name);
	wb_u64(&b->ops, v);
}

void ob_i64(opbatch *b, const char *name, int64_t v)
{
	ob_name(b, name);
	wb_i64(&b->ops, v);
}

void ob_f64(opbatch *b, const char *name, double v)
{
	ob_name(b, name);
	wb_f64(&b->ops, v);
}

void ob_bool(opbatch *b, const char *name, int v)
{
	ob_name(b, name);
	wb_bool(&b->ops, v);
}

void ob_nil(opbatch *b, const char *name)
{
	ob_name(b, name);
	wb_nil(&b->ops);
}

void ob_val(opbatch *b, const char *name, const wval *v)
{
	ob_name(b, name);
	wb_val(&b->ops, v);
}

void ob_strs(opbatch *b, const char *name, const char *const *v, uint32_t n)
{
	ob_name(b, name);
	wb_arr(&b->ops, n);
	for (uint32_t i = 0; i < n; i++)
		wb_cstr(&b->ops, v[i]);
}

void ob_batch(wbuf *out, const opbatch *b, const uint8_t id[16],
              const char *by)
{
	wb_map(out, by ? 3 : 2);
	wb_cstr(out, "batch");
	wb_bin(out, id, 16);
	wb_cstr(out, "ops");
	wb_arr(out, b->n);
	wb_raw(out, b->ops.p, b->ops.n);
	if (by) {
		wb_cstr(out, "by");
		wb_cstr(out, by);
	}
	if (b->ops.err)
		out->err = b->ops.err;
}
