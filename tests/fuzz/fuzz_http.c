/*
 * fuzz_http.c — libFuzzer target for the HTTP handlers' request parsing:
 * what a POST handler does with the request's headers and body bytes,
 * through the same functions server/http/http.c's handlers call —
 * http_body_format (Content-Type, Content-Encoding), http_body_decode
 * (size limit, inflate with its cap, bounded decode) — and then the
 * handler's own body parsing and work: engine_sync, auth_enroll,
 * auth_login, auth_enroll_code, auth_staff_pin, auth_revoke.  No socket:
 * CivetWeb's own header parser is not ours to fuzz, and an in-process
 * server would make an exec cost milliseconds.
 *
 * Input: byte 0 picks the handler (byte 0 % 6) and the principal
 * (byte 0 / 6, fuzz_world.h); then header lines "Name: value" up to the
 * first empty line ("\n\n" or "\r\n\r\n"; without one there are no
 * headers at all); the rest is the body.  Content-Type and
 * Content-Encoding are taken as CivetWeb hands them over (first one wins,
 * leading blanks skipped, NUL-terminated).
 *
 * The store is opened once and, before every input, emptied and given the
 * same world (a site with staff, a shift, a PIN, an enrolled device for
 * login): inputs do not depend on each other, so a crasher replays alone.
 * Limits are the defaults except body_max (16 KiB) and inflated_max
 * (1 MiB), so that "too large" is reachable with small inputs and a bomb
 * costs little.
 *
 * Checked: every failure is a documented whole-request code with a
 * message and a 4xx status (not UNAVAILABLE or INTERNAL: the store is
 * healthy and inputs are small); every success answers one msgpack map;
 * sync responses pass fz_check_response.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/hlc.h"
#include "server/svc/auth.h"
#include "server/http/http.h"
#include "tests/fuzz/fuzz_world.h"

#define HOUR_MS (3600ULL * 1000)

typedef struct {
	fz_world w;
	int open;
	auth_cfg ac;
	principal device; /* an enrolled device of site s1 (login) */
} http_world;

static http_world g_hw;

/* A response that must be one msgpack map. */
static void expect_map(const wbuf *out, const char *what)
{
	arena *a = arena_new(0);
	wval *v;
	if (!a)
		fz_fail("arena_new");
	if (out->err || wire_decode(a, out->p, out->n, &v) || v->t != WV_MAP)
		fz_fail("%s answered something that is not one msgpack map", what);
	arena_free(a);
}

/* Encode with wbuf, decode, run: the world's own setup requests. */
static void setup_call(http_world *h, int route, const principal *p, wbuf *req,
                       wbuf *out)
{
	arena *a = arena_new(0);
	wval *v;
	const char *msg = NULL;
	if (!a || req->err || wire_decode(a, req->p, req->n, &v))
		fz_fail("setup: bad request");
	int rc;
	switch (route) {
	case 0:
		rc = engine_sync(h->w.e, p, v, engine_now(h->w.e), a, out, &msg);
		break;
	case 3:
		rc = auth_enroll_code(h->w.e, p, v, a, out, &msg);
		break;
	case 4:
		rc = auth_staff_pin(h->w.e, &h->ac, p, v, a, out, &msg);
		break;
	default:
		rc = auth_enroll(h->w.e, &h->ac, v, a, out, &msg);
		break;
	}
	if (rc)
		fz_fail("setup step %d: %s %s", route, fs_err_name(rc),
		        msg ? msg : "");
	arena_free(a);
}

static void put_op(wbuf *b, const char *c, const char *id, uint64_t s,
                   unsigned nf)
{
	wb_map(b, 4);
	wb_cstr(b, "c");
	wb_cstr(b, c);
	wb_cstr(b, "id");
	wb_cstr(b, id);
	wb_cstr(b, "s");
	wb_u64(b, s);
	wb_cstr(b, "f");
	wb_map(b, nf);
}

static void put_staff(wbuf *b, const char *id, const char *site,
                      const char *role, uint64_t s)
{
	put_op(b, "staff", id, s, 4);
	wb_cstr(b, "site");
	wb_cstr(b, site);
	wb_cstr(b, "name");
	wb_cstr(b, id);
	wb_cstr(b, "role");
	wb_cstr(b, role);
	wb_cstr(b, "active");
	wb_bool(b, 1);
}

/* Empty the store, then: sites s1 and s2, staff, shift sh1 of g1, g1's
 * PIN, and an enrolled device of s1 for login. */
static void world_setup(http_world *h)
{
	if (!h->open)
		fz_world_open(&h->w);
	h->open = 1;
	fz_world_reset(&h->w);
	h->ac.pbkdf2_iter = 1;
	principal admin = fz_principal(0);
	uint64_t now = engine_now(h->w.e), s = HLC_MAKE(now, 0);
	wbuf req, out;
	wb_init(&req);
	wb_init(&out);

	/* sites s1 and s2, staff of both, shift sh1 of g1 */
	wb_map(&req, 2);
	wb_cstr(&req, "v");
	wb_u64(&req, 1);
	wb_cstr(&req, "push");
	wb_arr(&req, 1);
	wb_map(&req, 2);
	wb_cstr(&req, "batch");
	wb_bin(&req, "fuzz-http-setup.", 16);
	wb_cstr(&req, "ops");
	wb_arr(&req, 8);
	for (int i = 1; i <= 2; i++) {
		put_op(&req, "site", i == 1 ? "s1" : "s2", s, 2);
		wb_cstr(&req, "name");
		wb_cstr(&req, "Site");
		wb_cstr(&req, "tz");
		wb_cstr(&req, "Asia/Shanghai");
	}
	put_staff(&req, "sup1", "s1", "supervisor", s);
	put_staff(&req, "g1", "s1", "guard", s);
	put_staff(&req, "t1", "s1", "technician", s);
	put_staff(&req, "c1", "s1", "cleaner", s);
	put_staff(&req, "g2", "s2", "guard", s);
	put_op(&req, "shift", "sh1", s, 6);
	wb_cstr(&req, "site");
	wb_cstr(&req, "s1");
	wb_cstr(&req, "role");
	wb_cstr(&req, "guard");
	wb_cstr(&req, "starts");
	wb_u64(&req, now - HOUR_MS);
	wb_cstr(&req, "ends");
	wb_u64(&req, now + 8 * HOUR_MS);
	wb_cstr(&req, "staff");
	wb_arr(&req, 1);
	wb_cstr(&req, "g1");
	wb_cstr(&req, "lead");
	wb_cstr(&req, "g1");
	setup_call(h, 0, &admin, &req, &out);

	/* g1's PIN is 1234 */
	wb_free(&req);
	wb_free(&out);
	wb_map(&req, 2);
	wb_cstr(&req, "staff");
	wb_cstr(&req, "g1");
	wb_cstr(&req, "pin");
	wb_cstr(&req, "1234");
	setup_call(h, 4, &admin, &req, &out);

	/* an enroll code for s1, used to enroll the login device */
	wb_free(&req);
	wb_free(&out);
	wb_map(&req, 1);
	wb_cstr(&req, "site");
	wb_cstr(&req, "s1");
	setup_call(h, 3, &admin, &req, &out);
	arena *a = arena_new(0);
	wval *v;
	char *code;
	if (!a || wire_decode(a, out.p, out.n, &v) ||
	    !(code = wv_strdup(a, wv_get(v, "code"))))
		fz_fail("setup: no enroll code");
	wb_free(&req);
	wb_free(&out);
	wb_map(&req, 2);
	wb_cstr(&req, "code");
	wb_cstr(&req, code);
	wb_cstr(&req, "name");
	wb_cstr(&req, "fuzz handheld");
	setup_call(h, 1, &admin, &req, &out);
	char *tok;
	if (wire_decode(a, out.p, out.n, &v) ||
	    !(tok = wv_strdup(a, wv_get(v, "token"))) ||
	    auth_resolve(h->w.e, tok, strlen(tok), 1u << TOK_DEVICE, &h->device))
		fz_fail("setup: the enrolled device does not resolve");
	arena_free(a);
	wb_free(&req);
	wb_free(&out);
}

static void world_teardown(http_world *h)
{
	if (h->open)
		fz_world_close(&h->w);
	h->open = 0;
}

static void at_exit_teardown(void)
{
	world_teardown(&g_hw);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_world_open(&g_hw.w);
	g_hw.open = 1;
	atexit(at_exit_teardown);
	return 0;
}

/* The first header `name` among lines[0..n), as CivetWeb gives it: the
 * value after the colon with leading blanks skipped, NUL-terminated (a
 * NUL byte inside ends it).  NULL when absent. */
static char *header(arena *a, const uint8_t *h, size_t n, const char *name)
{
	size_t nl = strlen(name), at = 0;
	while (at < n) {
		const uint8_t *eol = memchr(h + at, '\n', n - at);
		size_t next = eol ? (size_t)(eol - h) + 1 : n;
		const char *line = (const char *)h + at;
		size_t len = (eol ? (size_t)(eol - h) : n) - at;
		if (len && line[len - 1] == '\r')
			len--;
		if (len > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
			size_t v = nl + 1;
			while (v < len && (line[v] == ' ' || line[v] == '\t'))
				v++;
			return arena_strndup(a, line + v, len - v);
		}
		at = next;
	}
	return NULL;
}

/* A whole-request failure: a documented 4xx with a message.  (Neither
 * INTERNAL, which reply_error would hide as 503, nor UNAVAILABLE: the
 * store is healthy and the inputs small.) */
static void check_failure(int route, int rc, const char *msg)
{
	int st = fs_err_status(rc);
	if (rc <= 0 || rc >= FS_E__COUNT || !(st >= 400 && st < 500))
		fz_fail("handler %d failed with %s (status %d)", route,
		        fs_err_name(rc), st);
	if (!msg)
		fz_fail("handler %d: %s without a message", route,
		        fs_err_name(rc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	http_world *h = &g_hw;
	world_setup(h);
	int route = data[0] % 6;
	principal p = fz_principal(data[0] / 6);
	const uint8_t *rest = data + 1;
	size_t n = size - 1, hn = 0, skip = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (rest[i] == '\n' && rest[i + 1] == '\n') {
			hn = i, skip = 2;
			break;
		}
		if (i + 3 < n && !memcmp(rest + i, "\r\n\r\n", 4)) {
			hn = i, skip = 4;
			break;
		}
	}
	const uint8_t *body = skip ? rest + hn + skip : rest;
	size_t bn = skip ? n - hn - skip : n;

	arena *a = arena_new(0);
	if (!a)
		fz_fail("arena_new");
	char *ct = skip ? header(a, rest, hn, "Content-Type") : NULL;
	char *ce = skip ? header(a, rest, hn, "Content-Encoding") : NULL;
	fs_limits lim = *engine_limits(h->w.e);
	lim.body_max = 16 * 1024;
	lim.inflated_max = 1 << 20;

	const char *msg = NULL;
	int zf;
	wval *req = NULL;
	wbuf out;
	wb_init(&out);
	int rc = http_body_format(ct, ce, &zf, &msg);
	if (rc == FS_OK) {
		uint8_t *raw = malloc(bn ? bn : 1);
		if (!raw)
			fz_fail("malloc");
		memcpy(raw, body, bn);
		rc = http_body_decode(&lim, zf, raw, bn, a, &req, &msg);
	}
	if (rc == FS_OK) {
		engine *e = h->w.e;
		unsigned retry = 0;
		switch (route) {
		case 0:
			rc = engine_sync(e, &p, req, engine_now(e), a, &out, &msg);
			if (rc == FS_OK)
				fz_check_response(req, out.p, out.n);
			break;
		case 1:
			rc = auth_enroll(e, &h->ac, req, a, &out, &msg);
			break;
		case 2:
			rc = auth_login(e, &h->ac, &h->device, "127.0.0.1", req, a,
			                &out, &retry, &msg);
			break;
		case 3:
			rc = auth_enroll_code(e, &p, req, a, &out, &msg);
			break;
		case 4:
			rc = auth_staff_pin(e, &h->ac, &p, req, a, &out, &msg);
			break;
		default:
			rc = auth_revoke(e, &p, req, a, &out, &msg);
			break;
		}
		if (rc == FS_OK)
			expect_map(&out, "a handler");
	}
	if (rc != FS_OK)
		check_failure(route, rc, msg);
	wb_free(&out);
	arena_free(a);
	return 0;
}
