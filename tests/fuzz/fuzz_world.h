/*
 * fuzz_world.h — what the server-side fuzz targets (fuzz_ops, fuzz_http)
 * share: a throw-away store and engine in a temporary directory, the
 * principals a request can act as, a bounded reader over the fuzz bytes,
 * and the checks every sync response must pass.  Header-only (static
 * functions): each target is one translation unit plus replay.c or
 * libFuzzer's main.
 *
 * A target that finds a broken property calls fz_fail(), which prints
 * what broke and abort()s: libFuzzer records the input as a crasher,
 * replay.c dies with the input's name on its last [ RUN ] line.
 */
#ifndef FS_FUZZ_WORLD_H
#define FS_FUZZ_WORLD_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/wire.h"
#include "server/core/engine.h"
#include "server/svc/hooks.h"
#include "server/store/store.h"

__attribute__((noreturn, format(printf, 1, 2)))
static inline void fz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz: property broken: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* ---- a throw-away store + engine ------------------------------------------ */

typedef struct {
	char dir[256];
	store *st;
	engine *e;
} fz_world;

/* Remove the store's directory (LMDB keeps two flat files in it). */
static inline void fz_rmrf(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		char p[512];
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(dir);
}

/* A fresh store (small map, so growth is exercised too) under
 * $FUZZ_TMPDIR, else in tmpfs when there is one (commits fdatasync; tmpfs
 * makes that cheap), and an engine over it.  Aborts when it cannot: a harness that cannot start is broken. */
static inline void fz_world_open(fz_world *w)
{
	const char *base = getenv("FUZZ_TMPDIR");
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(w->dir, sizeof(w->dir), "%s/fsfuzz-XXXXXX", base);
	if (!mkdtemp(w->dir))
		fz_fail("mkdtemp %s", w->dir);
	store_opts so;
	memset(&so, 0, sizeof(so));
	so.map_mb = 1;
	so.max_mb = 64;
	so.readers = 16;
	if (store_open(&w->st, w->dir, &so) || !w->st)
		fz_fail("store_open %s", w->dir);
	engine_cfg ec;
	memset(&ec, 0, sizeof(ec));
	fs_limits_default(&ec.lim);
	if (engine_open(&w->e, w->st, &ec) || !w->e || hooks_register(w->e))
		fz_fail("engine_open");
}

/* The store's integrity walk must pass after whatever the input did. */
static inline void fz_world_check(fz_world *w)
{
	store_txn *t;
	char err[256] = "";
	if (store_begin(w->st, 0, &t))
		fz_fail("store_begin (read) failed");
	int rc = store_check(t, err, sizeof(err));
	store_abort(t);
	if (rc)
		fz_fail("store integrity walk: %s", err);
}

static inline void fz_world_close(fz_world *w)
{
	engine_close(w->e);
	store_close(w->st);
	fz_rmrf(w->dir);
	memset(w, 0, sizeof(*w));
}

static inline int fz_clear_txn(void *ctx, store_txn *t)
{
	(void)ctx;
	return store_debug_clear(t);
}

/* Empty the store (store_debug_clear), so an input starts from exactly
 * what a fresh store holds, without paying for a new LMDB environment
 * (its buffers cost milliseconds under ASan). */
static inline void fz_world_reset(fz_world *w)
{
	int rc = engine_write(w->e, fz_clear_txn, NULL);
	if (rc)
		fz_fail("clearing the store: %s", fs_err_name(rc));
}

/* ---- principals ------------------------------------------------------------ */

/* Site "s1" with staff sup1 (supervisor), g1 (guard), t1 (technician),
 * c1 (cleaner); the admin has no site.  Builders make these records (or
 * not) through the fuzz input itself. */
static inline principal fz_principal(unsigned which)
{
	static const struct {
		const char *device, *staff, *site;
		int role;
	} who[] = {
		{"admin-fuzz", "admin", "", ROLE_ADMIN},
		{"dev-sup1", "sup1", "s1", ROLE_SUPERVISOR},
		{"dev-g1", "g1", "s1", ROLE_GUARD},
		{"dev-t1", "t1", "s1", ROLE_TECHNICIAN},
		{"dev-c1", "c1", "s1", ROLE_CLEANER},
		{"dev-g2", "g2", "s2", ROLE_GUARD},
	};
	principal p;
	memset(&p, 0, sizeof(p));
	unsigned i = which % (sizeof(who) / sizeof(who[0]));
	snprintf(p.device, sizeof(p.device), "%s", who[i].device);
	snprintf(p.staff, sizeof(p.staff), "%s", who[i].staff);
	snprintf(p.site, sizeof(p.site), "%s", who[i].site);
	p.role = who[i].role;
	return p;
}

/* ---- reading the fuzz bytes ------------------------------------------------ */

/* Past the end every read gives zeros: inputs of any length are valid. */
typedef struct {
	const uint8_t *p;
	size_t n, at;
} fz_in;

static inline unsigned fz_u8(fz_in *in)
{
	return in->at < in->n ? in->p[in->at++] : 0;
}

static inline uint64_t fz_u64(fz_in *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | fz_u8(in);
	return v;
}

/* Up to max bytes taken as they come; *n gets how many. */
static inline const uint8_t *fz_bytes(fz_in *in, size_t max, size_t *n)
{
	size_t left = in->n - in->at;
	*n = max < left ? max : left;
	const uint8_t *p = in->p + in->at;
	in->at += *n;
	return p;
}

/* ---- checking a sync response ---------------------------------------------- */

/* The codes a whole sync request may fail with (protocol/PROTOCOL.md,
 * "Error codes"); not UNAVAILABLE: the fuzz store is healthy and small
 * inputs never fill it, so a store failure here is a bug. */
static inline int fz_sync_code_ok(int rc)
{
	return rc == FS_E_BAD_REQUEST || rc == FS_E_BAD_MSGPACK ||
	       rc == FS_E_UNSUPPORTED_VERSION || rc == FS_E_TOO_LARGE;
}

/* A successful response: one map {v, now, hlc, store, acks, buckets,
 * scope, drop}, one ack per pushed batch, and in every ack applied plus
 * rejections equal to the batch's ops (unless the whole batch failed). */
static inline void fz_check_response(const wval *req, const uint8_t *p, size_t n)
{
	arena *a = arena_new(0);
	wval *r;
	if (!a)
		fz_fail("arena_new");
	if (wire_decode(a, p, n, &r) || r->t != WV_MAP)
		fz_fail("the sync response is not one msgpack map");
	static const char *const keys[] = {"v", "now", "hlc", "store", "acks",
	                                   "buckets", "scope", "drop"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!wv_get(r, keys[i]))
			fz_fail("the sync response has no '%s'", keys[i]);
	const wval *acks = wv_get(r, "acks"), *push = wv_get(req, "push");
	uint32_t nb = push && push->t == WV_ARR ? push->a.n : 0;
	if (acks->t != WV_ARR || acks->a.n != nb)
		fz_fail("%u batches pushed, %u acks", nb,
		        acks->t == WV_ARR ? acks->a.n : 0);
	for (uint32_t i = 0; i < nb; i++) {
		const wval *ack = &acks->a.v[i], *rej = wv_get(ack, "rej");
		const wval *ops = wv_get(&push->a.v[i], "ops");
		uint64_t applied;
		if (!wv_u64(wv_get(ack, "applied"), &applied))
			fz_fail("ack %u has no 'applied'", i);
		const wval *dup = wv_get(ack, "dup");
		if (!dup || dup->t != WV_BOOL)
			fz_fail("ack %u has no 'dup'", i);
		const wval *err = wv_get(ack, "err");
		/* the store is healthy here: a batch fails whole only for a
		 * `by` this device never held (FORBIDDEN) */
		if (err && !wv_is_str(err, "FORBIDDEN"))
			fz_fail("ack %u: err %.*s", i,
			        err->t == WV_STR ? (int)err->s.n : 1,
			        err->t == WV_STR ? err->s.p : "?");
		if (err || dup->b)
			continue; /* a refused batch, or a stored ack */
		if (!rej || rej->t != WV_ARR ||
		    applied + rej->a.n != ops->a.n)
			fz_fail("ack %u: %llu applied + %u rejected != %u ops", i,
			        (unsigned long long)applied,
			        rej && rej->t == WV_ARR ? rej->a.n : 0, ops->a.n);
	}
	arena_free(a);
}

/* Acks of a resent request: every batch comes back dup: true with the
 * ack stored the first time (same applied, rej, err). */
static inline void fz_check_resend(const uint8_t *first, size_t fn,
                                   const uint8_t *again, size_t an)
{
	arena *a = arena_new(0);
	wval *r1, *r2;
	if (!a || wire_decode(a, first, fn, &r1) || wire_decode(a, again, an, &r2))
		fz_fail("resend: responses do not decode");
	const wval *k1 = wv_get(r1, "acks"), *k2 = wv_get(r2, "acks");
	if (!k1 || !k2 || k1->t != WV_ARR || k2->t != WV_ARR || k1->a.n != k2->a.n)
		fz_fail("resend: another number of acks");
	for (uint32_t i = 0; i < k1->a.n; i++) {
		const wval *x = &k1->a.v[i], *y = &k2->a.v[i];
		const wval *dup = wv_get(y, "dup");
		if (!dup || dup->t != WV_BOOL || !dup->b)
			fz_fail("resend: ack %u is not dup: true", i);
		static const char *const same[] = {"batch", "applied", "rej", "err"};
		for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
			const wval *vx = wv_get(x, same[k]), *vy = wv_get(y, same[k]);
			if ((vx || vy) && !wv_equal(vx, vy))
				fz_fail("resend: ack %u's %s changed", i, same[k]);
		}
	}
	arena_free(a);
}

/* Run one decoded sync request and check what comes back; with resend,
 * send it a second time and check that its batches are not applied
 * again (fz_check_resend). */
static inline void fz_sync2(engine *e, const principal *p, const wval *req,
                            int resend)
{
	arena *a = arena_new(0);
	wbuf out, out2;
	const char *msg = NULL;
	if (!a)
		fz_fail("arena_new");
	wb_init(&out);
	wb_init(&out2);
	int rc = engine_sync(e, p, req, engine_now(e), a, &out, &msg);
	if (rc == FS_OK) {
		if (out.err)
			fz_fail("engine_sync said OK with a failed buffer");
		fz_check_response(req, out.p, out.n);
		if (resend) {
			rc = engine_sync(e, p, req, engine_now(e), a, &out2, &msg);
			if (rc || out2.err)
				fz_fail("resend: %s", fs_err_name(rc));
			fz_check_resend(out.p, out.n, out2.p, out2.n);
		}
	} else if (!fz_sync_code_ok(rc)) {
		fz_fail("engine_sync failed with %s", fs_err_name(rc));
	} else if (!msg) {
		fz_fail("engine_sync failed with %s and no message",
		        fs_err_name(rc));
	}
	wb_free(&out);
	wb_free(&out2);
	arena_free(a);
}

static inline void fz_sync(engine *e, const principal *p, const wval *req)
{
	fz_sync2(e, p, req, 0);
}

#endif
