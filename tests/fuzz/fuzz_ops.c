/*
 * fuzz_ops.c — libFuzzer target for op validation against the schema and
 * the apply path: engine_sync (static checks in the request thread, merge,
 * permissions, scope, derived fields and acks in the writer) on an empty
 * store per input.
 *
 * Byte 0 picks the mode:
 *   even  raw: the rest is a msgpack sync body, sent by principal
 *         (byte 0 >> 1) (fuzz_world.h: admin, supervisor, guard, ...);
 *   odd   built: the rest drives a generator that writes 1-4 sync
 *         requests shaped like the schema's (collections, fields, values
 *         of the right type most of the time, ids from a small pool so
 *         records refer to each other, stamps around now, far ahead,
 *         zero and 2^64-1; dev with boots and mono/wall extremes), each
 *         from a principal the input picks.
 * Every request is encoded with wbuf and decoded by wire_decode, so it
 * takes the server's path.  Checked (fuzz_world.h): whole-request
 * failures carry a documented code and a message; a response is one map
 * with an ack per batch whose applied + rejected equals its ops; no batch
 * fails UNAVAILABLE; a request sent again (the raw one, the last built
 * one) gets every batch back dup: true with the ack stored the first time;
 * and after the input the store passes its integrity walk.  The store (opened once, in tmpfs) is emptied before every input
 * (store_debug_clear): inputs do not depend on each other, so every
 * crasher replays alone.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "protocol/hlc.h"
#include "schema/schema.h"
#include "tests/fuzz/fuzz_world.h"

#define MIN_MS 60000ULL
#define HOUR_MS (60 * MIN_MS)

static const char *const id_pool[] = {
	"s1", "s2", "sh1", "sh2", "g1", "g2", "sup1", "t1", "c1", "z1",
	"cp1", "r1", "o1", "k1", "st1", "h1", "admin", "x.y:z-1"};
#define NIDS (sizeof(id_pool) / sizeof(id_pool[0]))
static const char *const str_pool[] = {
	"", "Lobby", "楼道清扫", "Asia/Shanghai", "07:00", "a\0b", "guard",
	"supervisor", "admin", "done", "reported", "elevator_entrapment",
	"verified", "b1"};
#define NSTRS (sizeof(str_pool) / sizeof(str_pool[0]))

typedef struct {
	fz_in in;
	uint64_t now;
	wbuf b;
} gen;

static uint64_t some_uint(gen *g)
{
	switch (fz_u8(&g->in) % 16) {
	case 0: return 0;
	case 1: return 1;
	case 2: return g->now;
	case 3: return g->now - HOUR_MS;
	case 4: return g->now + 8 * HOUR_MS;
	case 5: return g->now + 30 * HOUR_MS;
	case 6: return g->now - 8 * 24 * HOUR_MS;
	case 7: return 1ULL << 47;
	case 8: return 1ULL << 63;
	case 9: return UINT64_MAX;
	case 10: return (uint64_t)INT64_MAX;
	case 11: return fz_u8(&g->in);
	case 12: return g->now + fz_u8(&g->in) * MIN_MS;
	case 13: return g->now - fz_u8(&g->in) * MIN_MS;
	default: return fz_u64(&g->in);
	}
}

static uint64_t some_stamp(gen *g)
{
	switch (fz_u8(&g->in) % 10) {
	case 0: return 0;
	case 1: return UINT64_MAX;
	case 2: return HLC_MAKE(g->now + 10 * MIN_MS, 0); /* CLOCK_AHEAD */
	case 3: return HLC_MAKE(g->now + 4 * MIN_MS, 0);  /* within skew */
	case 4: return HLC_MAKE(g->now - 24 * HOUR_MS, 0);
	case 5: return fz_u64(&g->in);
	default: return HLC_MAKE(g->now, fz_u8(&g->in));
	}
}

static void some_id(gen *g)
{
	unsigned k = fz_u8(&g->in);
	if (k < 240) {
		wb_cstr(&g->b, id_pool[k % NIDS]);
	} else {
		size_t n;
		const uint8_t *p = fz_bytes(&g->in, fz_u8(&g->in) % 140, &n);
		wb_str(&g->b, (const char *)p, n);
	}
}

static void some_str(gen *g)
{
	unsigned k = fz_u8(&g->in);
	if (k < 200) {
		const char *s = str_pool[k % NSTRS];
		/* "a\0b": a NUL inside a string */
		wb_str(&g->b, s, s == str_pool[5] ? 3 : strlen(s));
	} else if (k < 250) {
		size_t n;
		const uint8_t *p = fz_bytes(&g->in, fz_u8(&g->in), &n);
		wb_str(&g->b, (const char *)p, n);
	} else {
		/* around the 64 KiB value limit */
		size_t n = 65536 - 1 + k % 3;
		char *s = malloc(n);
		if (!s)
			fz_fail("malloc");
		memset(s, 'a', n);
		wb_str(&g->b, s, n);
		free(s);
	}
}

static void any_value(gen *g, unsigned depth);

static void typed_value(gen *g, const sfield *f, unsigned depth)
{
	switch (f->type) {
	case FT_STR:
		some_str(g);
		break;
	case FT_ID:
		some_id(g);
		break;
	case FT_UINT:
		wb_u64(&g->b, some_uint(g));
		break;
	case FT_INT:
		wb_i64(&g->b, (int64_t)some_uint(g));
		break;
	case FT_NUM:
		wb_f64(&g->b, (double)(int8_t)fz_u8(&g->in) / 3.0);
		break;
	case FT_BOOL:
		wb_bool(&g->b, fz_u8(&g->in) & 1);
		break;
	case FT_ENUM: {
		unsigned n = 0, k = fz_u8(&g->in);
		while (f->enums[n])
			n++;
		if (k < 240 && n)
			wb_cstr(&g->b, f->enums[k % n]);
		else
			some_str(g);
		break;
	}
	case FT_IDS: {
		unsigned n = fz_u8(&g->in) % 5;
		wb_arr(&g->b, n);
		for (unsigned i = 0; i < n; i++)
			some_id(g);
		break;
	}
	case FT_ARR:
	case FT_ANY:
		any_value(g, depth);
		break;
	}
}

static void any_value(gen *g, unsigned depth)
{
	unsigned k = fz_u8(&g->in) % 14;
	if (depth > 7 && k >= 10)
		k = 0;
	switch (k) {
	case 0: wb_nil(&g->b); break;
	case 1: wb_bool(&g->b, fz_u8(&g->in) & 1); break;
	case 2: wb_u64(&g->b, some_uint(g)); break;
	case 3: {
		static const int64_t neg[] = {-1, -128, -129, -32769, INT64_MIN,
		                              INT64_MIN + 1, -(1LL << 47)};
		wb_i64(&g->b, neg[fz_u8(&g->in) % 7]);
		break;
	}
	case 4: {
		static const double fl[] = {0.5, -0.0, 1e308, -1e-308, 31.2304};
		unsigned j = fz_u8(&g->in) % 8;
		wb_f64(&g->b, j < 5 ? fl[j] : j == 5 ? NAN : j == 6 ? INFINITY
		                                              : -INFINITY);
		break;
	}
	case 5: some_str(g); break;
	case 6: some_id(g); break;
	case 7: {
		size_t n;
		const uint8_t *p = fz_bytes(&g->in, fz_u8(&g->in) % 32, &n);
		wb_bin(&g->b, p, n);
		break;
	}
	case 8: case 9: {
		unsigned n = fz_u8(&g->in) % 4;
		wb_arr(&g->b, n);
		for (unsigned i = 0; i < n; i++)
			any_value(g, depth + 1);
		break;
	}
	case 10: case 11: {
		/* keys k0, k1, ... (distinct: a duplicate key refuses the
		 * whole message, which fuzz_wire covers), sometimes an int */
		unsigned n = fz_u8(&g->in) % 4;
		wb_map(&g->b, n);
		for (unsigned i = 0; i < n; i++) {
			if (fz_u8(&g->in) < 16)
				wb_u64(&g->b, i);
			else {
				char key[8];
				snprintf(key, sizeof(key), "k%u", i);
				wb_cstr(&g->b, key);
			}
			any_value(g, depth + 1);
		}
		break;
	}
	default: {
		/* a deep chain of single-element arrays (value depth limit 4) */
		unsigned n = fz_u8(&g->in) % 8;
		for (unsigned i = 0; i < n; i++)
			wb_arr(&g->b, 1);
		wb_u64(&g->b, n);
		break;
	}
	}
}

/* One op {c, id, s, f}; sometimes a key is missing or of the wrong type. */
static void gen_op(gen *g)
{
	unsigned ncol;
	const scollection *cols = schema_collections(&ncol);
	unsigned shape = fz_u8(&g->in);
	if (shape >= 250) {
		any_value(g, 1); /* not even a map */
		return;
	}
	size_t at = wb_map_later(&g->b);
	uint32_t nk = 0;
	unsigned k = fz_u8(&g->in);
	const scollection *col = &cols[k % ncol];
	if (shape != 1) {
		wb_cstr(&g->b, "c");
		if (k < 240)
			wb_cstr(&g->b, col->name);
		else
			any_value(g, 1);
		nk++;
	}
	if (shape != 2) {
		wb_cstr(&g->b, "id");
		if (col->bucket == BK_SITE_SELF && fz_u8(&g->in) < 200)
			wb_cstr(&g->b, fz_u8(&g->in) & 1 ? "s2" : "s1");
		else
			some_id(g);
		nk++;
	}
	if (shape != 3) {
		wb_cstr(&g->b, "s");
		if (shape == 4)
			any_value(g, 1);
		else
			wb_u64(&g->b, some_stamp(g));
		nk++;
	}
	if (shape != 5) {
		wb_cstr(&g->b, "f");
		if (shape == 6) {
			any_value(g, 1);
		} else {
			/* distinct field names of the collection, _deleted, or
			 * made-up names */
			unsigned want = fz_u8(&g->in) % 10, used = 0;
			uint64_t taken = 0;
			size_t fat = wb_map_later(&g->b);
			for (unsigned i = 0; i < want; i++) {
				unsigned pick = fz_u8(&g->in);
				if (pick < 224) {
					unsigned fi = pick % col->nfields;
					if (fi < 64 && (taken >> fi & 1))
						continue;
					taken |= 1ULL << (fi & 63);
					wb_cstr(&g->b, col->fields[fi].name);
					if (fz_u8(&g->in) < 200)
						typed_value(g, &col->fields[fi], 1);
					else
						any_value(g, 1);
				} else if (pick < 240) {
					if (taken >> 63 & 1)
						continue;
					taken |= 1ULL << 63;
					wb_cstr(&g->b, "_deleted");
					if (fz_u8(&g->in) < 200)
						wb_bool(&g->b, fz_u8(&g->in) & 1);
					else
						any_value(g, 1);
				} else {
					char name[16];
					snprintf(name, sizeof(name), "zz%u_%u", pick, i);
					wb_cstr(&g->b, name);
					any_value(g, 1);
				}
				used++;
			}
			wb_patch(&g->b, fat, used);
		}
		nk++;
	}
	wb_patch(&g->b, at, nk);
}

static const uint8_t batch_ids[4][16] = {
	"batch-0000000000", "batch-1111111111", "batch-2222222222",
	"batch-3333333333"};

static void gen_batch(gen *g)
{
	unsigned shape = fz_u8(&g->in);
	if (shape >= 252) {
		any_value(g, 1);
		return;
	}
	size_t at = wb_map_later(&g->b);
	uint32_t nk = 0;
	if (shape != 1) {
		wb_cstr(&g->b, "batch");
		unsigned k = fz_u8(&g->in);
		if (k < 200)
			wb_bin(&g->b, batch_ids[k % 4], 16);
		else if (k < 240) {
			uint8_t id[16];
			for (int i = 0; i < 16; i++)
				id[i] = (uint8_t)fz_u8(&g->in);
			wb_bin(&g->b, id, 16);
		} else
			any_value(g, 1);
		nk++;
	}
	if (shape != 2) {
		wb_cstr(&g->b, "ops");
		if (shape == 3)
			any_value(g, 1);
		else {
			unsigned n = fz_u8(&g->in) % 6;
			wb_arr(&g->b, n);
			for (unsigned i = 0; i < n; i++)
				gen_op(g);
		}
		nk++;
	}
	if (shape >= 200) {
		wb_cstr(&g->b, "by");
		if (shape < 230)
			some_id(g);
		else
			any_value(g, 1);
		nk++;
	}
	wb_patch(&g->b, at, nk);
}

static void gen_dev(gen *g)
{
	unsigned which = fz_u8(&g->in);
	size_t at = wb_map_later(&g->b);
	uint32_t nk = 0;
	if (which & 1) {
		wb_cstr(&g->b, "boot");
		if (which & 0x80)
			any_value(g, 1);
		else
			wb_cstr(&g->b, fz_u8(&g->in) & 1 ? "b1" : "b2");
		nk++;
	}
	if (which & 2) {
		wb_cstr(&g->b, "mono");
		wb_u64(&g->b, some_uint(g));
		nk++;
	}
	if (which & 4) {
		wb_cstr(&g->b, "wall");
		wb_u64(&g->b, some_uint(g));
		nk++;
	}
	if (which & 8) {
		wb_cstr(&g->b, "pending");
		if (which & 0x40)
			any_value(g, 1);
		else
			wb_u64(&g->b, some_uint(g));
		nk++;
	}
	wb_patch(&g->b, at, nk);
}

static void gen_request(gen *g)
{
	unsigned shape = fz_u8(&g->in);
	size_t at = wb_map_later(&g->b);
	uint32_t nk = 0;
	if (shape != 1) {
		wb_cstr(&g->b, "v");
		if (shape == 2)
			any_value(g, 1);
		else
			wb_u64(&g->b, 1);
		nk++;
	}
	if (shape & 0x10) {
		wb_cstr(&g->b, "hlc");
		if (shape == 3)
			any_value(g, 1);
		else
			wb_u64(&g->b, some_stamp(g));
		nk++;
	}
	if (!(shape & 0x20)) {
		wb_cstr(&g->b, "push");
		if (shape == 4)
			any_value(g, 1);
		else {
			unsigned n = 1 + fz_u8(&g->in) % 3;
			wb_arr(&g->b, n);
			for (unsigned i = 0; i < n; i++)
				gen_batch(g);
		}
		nk++;
	}
	if (shape & 0x40) {
		wb_cstr(&g->b, "pull");
		if (shape == 5 + 0x40)
			any_value(g, 1);
		else {
			static const char *const bk[] = {
				"site/s1", "site/s2", "shift/sh1", "orders/s1",
				"shift/sh2", "nope/x"};
			unsigned n = fz_u8(&g->in) % 4, used = 0, taken = 0;
			size_t pat = wb_map_later(&g->b);
			for (unsigned i = 0; i < n; i++) {
				unsigned j = fz_u8(&g->in) % 6;
				if (taken >> j & 1)
					continue;
				taken |= 1u << j;
				wb_cstr(&g->b, bk[j]);
				wb_u64(&g->b, some_uint(g));
				used++;
			}
			wb_patch(&g->b, pat, used);
		}
		nk++;
	}
	if (shape & 0x80) {
		wb_cstr(&g->b, "limit");
		if (shape == 6 + 0x80)
			any_value(g, 1);
		else
			wb_u64(&g->b, some_uint(g));
		nk++;
	}
	if (shape & 0x08) {
		wb_cstr(&g->b, "dev");
		if (shape == 7 + 0x08)
			any_value(g, 1);
		else
			gen_dev(g);
		nk++;
	}
	wb_patch(&g->b, at, nk);
}

/* Decode msgpack bytes as the server does and run them as a sync;
 * with resend, a second time too (every batch must come back dup). */
static void run_body(fz_world *w, const principal *p, const uint8_t *b,
                     size_t n, int resend)
{
	arena *a = arena_new(0);
	wval *req;
	if (!a)
		fz_fail("arena_new");
	int rc = wire_decode_max(a, b, n, 1u << 20, &req);
	if (rc == FS_OK)
		fz_sync2(w->e, p, req, resend);
	else if (rc != FS_E_BAD_MSGPACK && rc != FS_E_TOO_LARGE)
		fz_fail("wire_decode_max: %s", fs_err_name(rc));
	arena_free(a);
}

static fz_world g_world;

static void at_exit_close(void)
{
	fz_world_close(&g_world);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_world_open(&g_world);
	atexit(at_exit_close);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_world *w = &g_world;
	fz_world_reset(w);
	if (!(data[0] & 1)) {
		principal p = fz_principal(data[0] >> 1);
		run_body(w, &p, data + 1, size - 1, 1);
	} else {
		gen g;
		g.in.p = data + 1;
		g.in.n = size - 1;
		g.in.at = 0;
		g.now = engine_now(w->e);
		unsigned nreq = 1 + fz_u8(&g.in) % 4;
		for (unsigned i = 0; i < nreq; i++) {
			principal p = fz_principal(fz_u8(&g.in));
			wb_init(&g.b);
			gen_request(&g);
			if (g.b.err)
				fz_fail("building the request failed");
			/* the last request is also sent again */
			run_body(w, &p, g.b.p, g.b.n, i + 1 == nreq);
			wb_free(&g.b);
		}
	}
	fz_world_check(w);
	return 0;
}
