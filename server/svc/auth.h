/*
 * auth.h — enrollment, login, tokens, PINs, revocation, and the device
 * records they keep (ST_DEVICES).  Tokens are 256-bit random values shown
 * once and stored only as SHA-256 hashes; PINs as salted PBKDF2-SHA256.
 */
#ifndef FS_AUTH_H
#define FS_AUTH_H

#include <stdint.h>

#include "server/core/engine.h"
#include "server/model/device.h"
#include "server/model/principal.h"
#include "server/svc/pinrules.h"

enum token_kind { TOK_DEVICE = 1, TOK_SESSION = 2, TOK_ADMIN = 3 };

/* Resolve a bearer token of one of the kinds in `accept` (bit 1<<kind).
 * FS_OK and *p, or FS_E_UNAUTHORIZED. */
int auth_resolve(engine *e, const char *tok, size_t n, unsigned accept,
                 principal *p);

typedef struct lockout lockout; /* server/svc/lockout.h */

typedef struct {
	unsigned pbkdf2_iter;
	lockout *lock; /* login lockout; NULL: none (tools, demo) */
	pin_rules pins; /* for new PINs (pinrules.h) */
} auth_cfg;

/* Handlers: `req` decoded body; FS_OK with `out` the msgpack response,
 * else an error code and *msg. */
int auth_enroll(engine *e, const auth_cfg *c, const wval *req, arena *a,
                wbuf *out, const char **msg);
/* Login.  `addr` is the client address (lockout per address; NULL:
 * none).  FS_E_RATE_LIMITED when the staff member or the address is
 * locked out: *retry_s is then the Retry-After in seconds. */
int auth_login(engine *e, const auth_cfg *c, const principal *dev,
               const char *addr, const wval *req, arena *a, wbuf *out,
               unsigned *retry_s, const char **msg);
int auth_enroll_code(engine *e, const principal *p, const wval *req,
                     arena *a, wbuf *out, const char **msg);
int auth_staff_pin(engine *e, const auth_cfg *c, const principal *p,
                   const wval *req, arena *a, wbuf *out, const char **msg);
int auth_revoke(engine *e, const principal *p, const wval *req, arena *a,
                wbuf *out, const char **msg);

/* `init`: make the admin device and write a fresh admin token to path
 * (mode 0600).  FS_OK, or FS_E_CONFLICT-like FS_E_BAD_REQUEST when the
 * store already has an admin (nothing changed). */
int auth_init_admin(engine *e, const char *path);
/* The principal of the store's admin (device from `init`, staff "admin"),
 * for the commands that write as the admin (demo, import).  FS_OK, or
 * FS_E_NOT_FOUND when the store has no admin yet. */
int auth_admin_principal(engine *e, principal *out);
/* Mint a session token directly (demo, tools). */
int auth_mint_session(engine *e, const char *device, const char *staff,
                      char out_hex[65]);

#endif
