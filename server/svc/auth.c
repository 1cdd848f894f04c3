/*
 * auth.c — devices, tokens, PINs (protocol/PROTOCOL.md).
 *
 * Tokens are 32 random bytes shown once as 64 hex digits; the store keeps
 * only SHA-256 of the hex text (ST_TOKENS), so a copy of the store gives
 * no working token.  PINs are salted PBKDF2-SHA256 (ST_PINS), never synced.
 * Revoking a device marks its record: every token resolves through the
 * device record, so revocation holds from the next request on.
 */
#include "server/svc/auth.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/record.h"
#include "server/lib/crypto.h"
#include "server/lib/fail.h"
#include "server/model/policy.h"
#include "server/store/keys.h"
#include "server/svc/lockout.h"

static void put_str(wbuf *b, const char *k, const char *v)
{
	wb_cstr(b, k);
	wb_cstr(b, v);
}

static void put_u64(wbuf *b, const char *k, uint64_t v)
{
	wb_cstr(b, k);
	wb_u64(b, v);
}

/* ---- tokens ---------------------------------------------------------------- */

static int new_token(char hex[65], uint8_t hash[32])
{
	uint8_t raw[32];
	if (crypto_random(raw, sizeof(raw)))
		return FS_E_INTERNAL;
	hex_encode(raw, sizeof(raw), hex);
	crypto_sha256(hex, 64, hash);
	return FS_OK;
}

static int token_put(store_txn *t, const uint8_t hash[32], int kind,
                     const char *device, const char *staff, uint64_t expires)
{
	wbuf b;
	wb_init(&b);
	wb_map(&b, 4);
	put_u64(&b, "k", (uint64_t)kind);
	put_str(&b, "d", device);
	put_str(&b, "s", staff ? staff : "");
	put_u64(&b, "x", expires);
	int rc = b.err ? FS_E_UNAVAILABLE
	               : store_put(t, ST_TOKENS, sv_of(hash, 32), sv_of(b.p, b.n));
	wb_free(&b);
	return rc;
}

int auth_resolve(engine *e, const char *tok, size_t n, unsigned accept,
                 principal *p)
{
	memset(p, 0, sizeof(*p));
	p->role = ROLE_NONE;
	if (n != 64)
		return FS_E_UNAUTHORIZED;
	for (size_t i = 0; i < n; i++)
		if (!((tok[i] >= '0' && tok[i] <= '9') ||
		      (tok[i] >= 'a' && tok[i] <= 'f')))
			return FS_E_UNAUTHORIZED;
	uint8_t hash[32];
	crypto_sha256(tok, n, hash);
	store_txn *t;
	if (store_begin(engine_store(e), 0, &t))
		return FS_E_UNAVAILABLE;
	arena *a = arena_new(2048);
	int rc = FS_E_UNAUTHORIZED;
	sv v;
	wval *m;
	uint64_t kind = 0, exp = 0;
	if (!a || store_get(t, ST_TOKENS, sv_of(hash, 32), &v) ||
	    wire_decode(a, v.p, v.n, &m) || m->t != WV_MAP ||
	    !wv_u64(wv_get(m, "k"), &kind) || !wv_u64(wv_get(m, "x"), &exp))
		goto out;
	if (kind > 3 || !(accept & (1u << kind)))
		goto out;
	if (exp && exp <= engine_now(e))
		goto out;
	wv_strcpy(p->device, sizeof(p->device), wv_get(m, "d"));
	char staff[FS_ID_MAX + 1];
	wv_strcpy(staff, sizeof(staff), wv_get(m, "s"));
	device_info d;
	if (device_get(t, p->device, &d) || d.revoked)
		goto out;
	if (kind == TOK_ADMIN) {
		p->role = ROLE_ADMIN;
		snprintf(p->staff, sizeof(p->staff), "admin");
		rc = FS_OK;
	} else if (kind == TOK_DEVICE) {
		snprintf(p->site, sizeof(p->site), "%s", d.site);
		rc = FS_OK;
	} else {
		if (principal_of_staff(t, a, staff, p) == FS_OK &&
		    (p->role == ROLE_ADMIN || !strcmp(p->site, d.site)))
			rc = FS_OK;
	}
out:
	store_abort(t);
	arena_free(a);
	return rc;
}

/* ---- handlers -------------------------------------------------------------- */

typedef struct {
	engine *e;
	const auth_cfg *c;
	arena *a;
	const char *code;
	size_t code_n;
	const char *name;
	char device[FS_ID_MAX + 1];
	char token[65];
	int err;
	const char *msg;
} enroll_ctx;

static int enroll_txn(void *ctx, store_txn *t)
{
	enroll_ctx *x = ctx;
	uint8_t h[32];
	crypto_sha256(x->code, x->code_n, h);
	sv v;
	wval *m;
	uint64_t uses = 0, exp = 0;
	if (store_get(t, ST_CODES, sv_of(h, 32), &v) ||
	    wire_decode(x->a, v.p, v.n, &m) || m->t != WV_MAP ||
	    !wv_u64(wv_get(m, "uses"), &uses) || !wv_u64(wv_get(m, "x"), &exp)) {
		x->err = FS_E_UNAUTHORIZED;
		x->msg = "unknown or used enrollment code";
		return x->err;
	}
	if (exp <= engine_now(x->e) || uses == 0) {
		x->err = FS_E_UNAUTHORIZED;
		x->msg = "enrollment code expired";
		return x->err;
	}
	device_info d;
	memset(&d, 0, sizeof(d));
	wv_strcpy(d.site, sizeof(d.site), wv_get(m, "site"));
	const wval *rl = wv_get(m, "role");
	d.role_limit = rl && rl->t == WV_STR ? role_parse(rl->s.p, rl->s.n)
	                                     : ROLE_NONE;
	snprintf(d.name, sizeof(d.name), "%s", x->name);
	d.created = engine_now(x->e);
	/* the code: one use less */
	wbuf b;
	wb_init(&b);
	wb_map(&b, 4);
	put_str(&b, "site", d.site);
	wb_cstr(&b, "role");
	wb_cstr(&b, d.role_limit == ROLE_NONE ? NULL : role_name(d.role_limit));
	put_u64(&b, "uses", uses - 1);
	put_u64(&b, "x", exp);
	int rc = b.err ? FS_E_UNAVAILABLE
	         : uses > 1 ? store_put(t, ST_CODES, sv_of(h, 32), sv_of(b.p, b.n))
	                    : store_del(t, ST_CODES, sv_of(h, 32));
	wb_free(&b);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	uint8_t rnd[12], th[32];
	char hex[25];
	if (crypto_random(rnd, sizeof(rnd)) || new_token(x->token, th))
		return FS_E_INTERNAL;
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(x->device, sizeof(x->device), "d-%s", hex);
	if ((rc = device_put(t, x->device, &d)))
		return rc;
	return token_put(t, th, TOK_DEVICE, x->device, NULL, 0);
}

static int str_arg(const wval *req, const char *k, size_t maxn, arena *a,
                   char **out)
{
	const wval *v = wv_get(req, k);
	if (!v || v->t != WV_STR || v->s.n == 0 || v->s.n > maxn ||
	    !utf8_valid(v->s.p, v->s.n) || memchr(v->s.p, 0, v->s.n))
		return FS_E_BAD_REQUEST;
	*out = wv_strdup(a, v);
	return *out ? FS_OK : FS_E_UNAVAILABLE;
}

static int id_arg(const wval *req, const char *k, arena *a, char **out)
{
	const wval *v = wv_get(req, k);
	if (!v || v->t != WV_STR || valid_id(v->s.p, v->s.n))
		return FS_E_BAD_REQUEST;
	*out = wv_strdup(a, v);
	return *out ? FS_OK : FS_E_UNAVAILABLE;
}

int auth_enroll(engine *e, const auth_cfg *c, const wval *req, arena *a,
                wbuf *out, const char **msg)
{
	enroll_ctx x;
	memset(&x, 0, sizeof(x));
	x.e = e;
	x.c = c;
	x.a = a;
	if (req->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "body must be a map {code, name}");
	const wval *code = wv_get(req, "code");
	if (!code || code->t != WV_STR || code->s.n == 0 || code->s.n > 64)
		FAIL(FS_E_BAD_REQUEST, "code must be a string");
	x.code = code->s.p;
	x.code_n = code->s.n;
	char *name = "device";
	if (wv_get(req, "name") && str_arg(req, "name", 128, a, &name))
		FAIL(FS_E_BAD_REQUEST, "name must be a string of 1-128 bytes");
	x.name = name;
	int rc = engine_write(e, enroll_txn, &x);
	if (rc)
		FAIL(x.err ? x.err : rc, x.msg ? x.msg : "store unavailable");
	wb_map(out, 2);
	put_str(out, "device", x.device);
	put_str(out, "token", x.token);
	return FS_OK;
}

typedef struct {
	engine *e;
	const char *device, *staff;
	uint64_t expires;
	char token[65];
} session_ctx;

static int session_txn(void *ctx, store_txn *t)
{
	session_ctx *x = ctx;
	uint8_t th[32];
	if (new_token(x->token, th))
		return FS_E_INTERNAL;
	int rc = token_put(t, th, TOK_SESSION, x->device, x->staff, x->expires);
	if (rc)
		return rc;
	/* the session, with the role it was opened with, for `by` */
	principal who;
	arena *a = arena_new(1024);
	if (!a)
		return FS_E_UNAVAILABLE;
	memset(&who, 0, sizeof(who));
	who.role = ROLE_NONE;
	principal_of_staff(t, a, x->staff, &who);
	arena_free(a);
	return device_session_open(t, x->device, x->staff, who.role,
	                           engine_now(x->e), x->expires);
}

int auth_mint_session(engine *e, const char *device, const char *staff,
                      char out_hex[65])
{
	session_ctx x = {e, device, staff,
	                 engine_now(e) + engine_limits(e)->session_ttl_ms, {0}};
	int rc = engine_write(e, session_txn, &x);
	if (!rc)
		memcpy(out_hex, x.token, 65);
	return rc;
}

/* The stored PIN hash of a staff member. */
typedef struct {
	uint8_t salt[16];
	uint8_t hash[32];
	unsigned iter;
} pin_hash;

static int pin_get(store_txn *t, arena *a, const char *staff, pin_hash *ph)
{
	sv v;
	wval *m;
	uint64_t it;
	if (store_get(t, ST_PINS, sv_cstr(staff), &v) ||
	    wire_decode(a, v.p, v.n, &m) || m->t != WV_MAP)
		return FS_E_NOT_FOUND;
	const wval *s = wv_get(m, "salt"), *h = wv_get(m, "h");
	if (!s || s->t != WV_BIN || s->s.n != 16 || !h || h->t != WV_BIN ||
	    h->s.n != 32 || !wv_u64(wv_get(m, "it"), &it) || !it ||
	    it > 100000000)
		return FS_E_NOT_FOUND;
	memcpy(ph->salt, s->s.p, 16);
	memcpy(ph->hash, h->s.p, 32);
	ph->iter = (unsigned)it;
	return FS_OK;
}

/* The PIN is checked last: a refusal for any other reason (unknown,
 * inactive or other-site staff; another role on a role-limited device)
 * comes before it, so no answer tells a right PIN from a wrong one except
 * success.  Lockout (server/svc/lockout.h) wraps the check. */
int auth_login(engine *e, const auth_cfg *c, const principal *dev,
               const char *addr, const wval *req, arena *a, wbuf *out,
               unsigned *retry_s, const char **msg)
{
	if (req->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "body must be a map {staff, pin}");
	char *staff, *pin;
	if (id_arg(req, "staff", a, &staff))
		FAIL(FS_E_BAD_REQUEST, "staff must be a staff id");
	if (str_arg(req, "pin", 64, a, &pin))
		FAIL(FS_E_BAD_REQUEST, "pin must be a string of 1-64 bytes");
	lockout_ticket tk;
	int rc = lockout_begin(c->lock, &tk, staff, addr, engine_now(e), retry_s,
	                       msg);
	if (rc == FS_E_RATE_LIMITED)
		return rc;
	if (rc)
		return rc; /* *msg says why */
	enum lockout_outcome o = LOCKOUT_NEUTRAL;
	store_txn *t;
	principal who;
	memset(&who, 0, sizeof(who));
	device_info d;
	memset(&d, 0, sizeof(d));
	pin_hash ph;
	if (store_begin(engine_store(e), 0, &t)) {
		rc = FS_E_UNAVAILABLE;
		*msg = "store unavailable";
		goto out;
	}
	int rs = principal_of_staff(t, a, staff, &who);
	int rd = device_get(t, dev->device, &d);
	int rp = pin_get(t, a, staff, &ph);
	store_abort(t);
	rc = FS_E_UNAUTHORIZED;
	*msg = "unknown staff, inactive, or wrong PIN";
	if (rd) {
		*msg = "unknown device";
		goto out;
	}
	int other_site = !rs && (who.role == ROLE_ADMIN || strcmp(who.site, d.site));
	if (!rs && !other_site && d.role_limit != ROLE_NONE &&
	    d.role_limit != who.role) {
		rc = FS_E_FORBIDDEN;
		*msg = "this device is enrolled for another role";
		goto out;
	}
	uint8_t h[32];
	if (rs || rp || other_site) {
		/* spend the same time as a real check: no staff oracle */
		uint8_t salt[16] = {0};
		crypto_pbkdf2(pin, strlen(pin), salt, 16, c->pbkdf2_iter, h);
		o = LOCKOUT_FAILED;
		goto out;
	}
	if (crypto_pbkdf2(pin, strlen(pin), ph.salt, 16, ph.iter, h)) {
		rc = FS_E_INTERNAL;
		*msg = "PBKDF2 failed";
		goto out;
	}
	if (!crypto_equal(h, ph.hash, 32)) {
		o = LOCKOUT_WRONG_PIN;
		goto out;
	}
	o = LOCKOUT_RIGHT;
	session_ctx x = {e, dev->device, staff,
	                 engine_now(e) + engine_limits(e)->session_ttl_ms, {0}};
	if (engine_write(e, session_txn, &x)) {
		rc = FS_E_UNAVAILABLE;
		*msg = "store unavailable";
		goto out;
	}
	wb_map(out, 5);
	put_str(out, "token", x.token);
	put_str(out, "staff", staff);
	put_str(out, "role", role_name(who.role));
	put_str(out, "site", who.site);
	put_u64(out, "expires", x.expires);
	rc = FS_OK;
out:
	if (lockout_end(c->lock, &tk, o, dev->device, d.site, engine_now(e)) &&
	    o != LOCKOUT_RIGHT) {
		/* an attempt that cannot be counted is not answered as wrong */
		rc = FS_E_UNAVAILABLE;
		*msg = "login attempts cannot be recorded now; retry later";
	}
	return rc;
}

typedef struct {
	const char *key;
	size_t key_n;
	const uint8_t *val;
	size_t val_n;
	enum store_table tb;
} put_ctx;

static int put_txn(void *ctx, store_txn *t)
{
	put_ctx *x = ctx;
	return store_put(t, x->tb, sv_of(x->key, x->key_n), sv_of(x->val, x->val_n));
}

/* A new PIN ends the staff member's sessions for `by` (device.h). */
typedef struct {
	put_ctx put;
	const char *staff;
	uint64_t now;
} pin_ctx;

static int pin_txn(void *ctx, store_txn *t)
{
	pin_ctx *x = ctx;
	int rc = put_txn(&x->put, t);
	return rc ? rc : device_sessions_cut(t, x->staff, x->now);
}

static int site_exists(engine *e, const char *site)
{
	store_txn *t;
	if (store_begin(engine_store(e), 0, &t))
		return 0;
	sv v;
	int ok = store_rec_get(t, "site", site, &v, NULL, NULL) == FS_OK;
	store_abort(t);
	return ok;
}

int auth_enroll_code(engine *e, const principal *p, const wval *req,
                     arena *a, wbuf *out, const char **msg)
{
	if (p->role != ROLE_ADMIN)
		FAIL(FS_E_FORBIDDEN, "only an admin makes enrollment codes");
	if (req->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "body must be a map {site, role?, uses?, ttl_s?}");
	char *site;
	if (id_arg(req, "site", a, &site))
		FAIL(FS_E_BAD_REQUEST, "site must be a site id");
	if (!site_exists(e, site))
		FAIL(FS_E_NOT_FOUND, "no such site");
	int role = ROLE_NONE;
	const wval *rv = wv_get(req, "role");
	if (rv && rv->t != WV_NIL) {
		if (rv->t != WV_STR ||
		    (role = role_parse(rv->s.p, rv->s.n)) == ROLE_NONE ||
		    role == ROLE_ADMIN)
			FAIL(FS_E_BAD_REQUEST, "role must be guard, cleaner, technician or supervisor");
	}
	uint64_t uses = 1, ttl = 24 * 3600;
	const wval *uv = wv_get(req, "uses"), *tv = wv_get(req, "ttl_s");
	if (uv && uv->t != WV_NIL && (!wv_u64(uv, &uses) || !uses || uses > 100000))
		FAIL(FS_E_BAD_REQUEST, "uses must be 1-100000");
	if (tv && tv->t != WV_NIL && (!wv_u64(tv, &ttl) || !ttl || ttl > 365 * 86400ULL))
		FAIL(FS_E_BAD_REQUEST, "ttl_s must be 1 s to a year");
	/* 10 random bytes as 16 base32 letters: easy to type on a handheld */
	static const char b32[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	uint8_t rnd[16];
	if (crypto_random(rnd, sizeof(rnd)))
		FAIL(FS_E_INTERNAL, "no randomness");
	char code[17];
	for (int i = 0; i < 16; i++)
		code[i] = b32[rnd[i] & 31];
	code[16] = 0;
	uint8_t h[32];
	crypto_sha256(code, 16, h);
	wbuf b;
	wb_init(&b);
	wb_map(&b, 4);
	put_str(&b, "site", site);
	wb_cstr(&b, "role");
	wb_cstr(&b, role == ROLE_NONE ? NULL : role_name(role));
	put_u64(&b, "uses", uses);
	put_u64(&b, "x", engine_now(e) + ttl * 1000);
	put_ctx x = {(const char *)h, 32, b.p, b.n, ST_CODES};
	int rc = b.err ? FS_E_UNAVAILABLE : engine_write(e, put_txn, &x);
	wb_free(&b);
	if (rc)
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	wb_map(out, 1);
	put_str(out, "code", code);
	return FS_OK;
}

int auth_staff_pin(engine *e, const auth_cfg *c, const principal *p,
                   const wval *req, arena *a, wbuf *out, const char **msg)
{
	if (!policy_is_manager(p))
		FAIL(FS_E_FORBIDDEN, "only an admin or a supervisor sets PINs");
	if (req->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST, "body must be a map {staff, pin}");
	char *staff, *pin;
	if (id_arg(req, "staff", a, &staff))
		FAIL(FS_E_BAD_REQUEST, "staff must be a staff id");
	if (str_arg(req, "pin", PIN_MAX, a, &pin))
		FAIL(FS_E_BAD_REQUEST, "pin must be a string of 4-64 bytes");
	const char *why = pinrules_check(&c->pins, pin, strlen(pin));
	if (why)
		FAIL(FS_E_BAD_REQUEST, why);
	store_txn *t;
	if (store_begin(engine_store(e), 0, &t))
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	sv v;
	int found = store_rec_get(t, "staff", staff, &v, NULL, NULL) == FS_OK;
	principal who;
	memset(&who, 0, sizeof(who));
	int rs = found ? principal_of_staff(t, a, staff, &who) : FS_E_NOT_FOUND;
	store_abort(t);
	if (!found || rs == FS_E_NOT_FOUND)
		FAIL(FS_E_NOT_FOUND, "no such staff member");
	if (p->role != ROLE_ADMIN &&
	    (rs != FS_OK || !policy_manages_site(p, who.site) ||
	     who.role == ROLE_ADMIN))
		FAIL(FS_E_FORBIDDEN, "not a staff member of your site");
	uint8_t salt[16], h[32];
	if (crypto_random(salt, 16) ||
	    crypto_pbkdf2(pin, strlen(pin), salt, 16, c->pbkdf2_iter, h))
		FAIL(FS_E_INTERNAL, "PBKDF2 failed");
	wbuf b;
	wb_init(&b);
	wb_map(&b, 3);
	wb_cstr(&b, "salt");
	wb_bin(&b, salt, 16);
	wb_cstr(&b, "h");
	wb_bin(&b, h, 32);
	put_u64(&b, "it", c->pbkdf2_iter);
	pin_ctx x = {{staff, strlen(staff), b.p, b.n, ST_PINS}, staff,
	             engine_now(e)};
	int rc = b.err ? FS_E_UNAVAILABLE : engine_write(e, pin_txn, &x);
	wb_free(&b);
	/* a new PIN lifts a lockout of the old one */
	if (rc || (rc = lockout_clear(c->lock, staff)))
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	wb_map(out, 1);
	wb_cstr(out, "ok");
	wb_bool(out, 1);
	return FS_OK;
}

typedef struct {
	const principal *p;
	const char *device;
	int err;
} revoke_ctx;

static int revoke_txn(void *ctx, store_txn *t)
{
	revoke_ctx *x = ctx;
	device_info d;
	if (device_get(t, x->device, &d))
		return x->err = FS_E_NOT_FOUND;
	if (!policy_manages_site(x->p, d.site))
		return x->err = FS_E_FORBIDDEN;
	d.revoked = 1;
	return device_put(t, x->device, &d);
}

int auth_revoke(engine *e, const principal *p, const wval *req, arena *a,
                wbuf *out, const char **msg)
{
	if (!policy_is_manager(p))
		FAIL(FS_E_FORBIDDEN, "only an admin or a supervisor revokes devices");
	char *device;
	if (req->t != WV_MAP || id_arg(req, "device", a, &device))
		FAIL(FS_E_BAD_REQUEST, "body must be a map {device}");
	revoke_ctx x = {p, device, 0};
	int rc = engine_write(e, revoke_txn, &x);
	if (x.err == FS_E_NOT_FOUND)
		FAIL(FS_E_NOT_FOUND, "no such device");
	if (x.err == FS_E_FORBIDDEN)
		FAIL(FS_E_FORBIDDEN, "not a device of your site");
	if (rc)
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	wb_map(out, 1);
	wb_cstr(out, "ok");
	wb_bool(out, 1);
	return FS_OK;
}

typedef struct {
	char device[FS_ID_MAX + 1];
	char token[65];
	int exists;
} admin_ctx;

static int admin_txn(void *ctx, store_txn *t)
{
	admin_ctx *x = ctx;
	sv v;
	if (store_get(t, ST_META, sv_cstr(KEY_ADMIN_DEVICE), &v) == FS_OK) {
		x->exists = 1;
		return FS_E_BAD_REQUEST;
	}
	uint8_t rnd[12], th[32];
	char hex[25];
	if (crypto_random(rnd, sizeof(rnd)) || new_token(x->token, th))
		return FS_E_INTERNAL;
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(x->device, sizeof(x->device), "admin-%s", hex);
	device_info d;
	memset(&d, 0, sizeof(d));
	d.role_limit = ROLE_NONE;
	snprintf(d.name, sizeof(d.name), "admin");
	int rc;
	if ((rc = device_put(t, x->device, &d)) ||
	    (rc = store_put(t, ST_META, sv_cstr(KEY_ADMIN_DEVICE),
	                    sv_cstr(x->device))))
		return rc;
	return token_put(t, th, TOK_ADMIN, x->device, "admin", 0);
}

int auth_init_admin(engine *e, const char *path)
{
	admin_ctx x;
	memset(&x, 0, sizeof(x));
	int rc = engine_write(e, admin_txn, &x);
	if (x.exists)
		return FS_E_BAD_REQUEST;
	if (rc)
		return rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return FS_E_INTERNAL;
	char line[80];
	int n = snprintf(line, sizeof(line), "%s\n", x.token);
	int ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
	close(fd);
	return ok ? FS_OK : FS_E_INTERNAL;
}

int auth_admin_principal(engine *e, principal *out)
{
	memset(out, 0, sizeof(*out));
	store_txn *t;
	sv v;
	if (store_begin(engine_store(e), 0, &t))
		return FS_E_UNAVAILABLE;
	int rc = store_get(t, ST_META, sv_cstr(KEY_ADMIN_DEVICE), &v);
	if (!rc && v.n >= sizeof(out->device))
		rc = FS_E_INTERNAL;
	if (!rc)
		memcpy(out->device, v.p, v.n);
	store_abort(t);
	snprintf(out->staff, sizeof(out->staff), "admin");
	out->role = ROLE_ADMIN;
	return rc;
}
