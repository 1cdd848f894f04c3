/*
 * tags.c — see tags.h.
 */
#include "server/svc/tags.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"
#include "server/lib/fail.h"
#include "server/model/records.h"
#include "server/model/tag.h"

typedef struct {
	const uint8_t *key;
	const char *checkpoint;
	int remove;
	tag_keys k;
	int err;
} tag_op;

static int tag_txn(void *ctx, store_txn *t)
{
	tag_op *x = ctx;
	arena *a = arena_new(1024);
	record cp;
	if (!a)
		return FS_E_UNAVAILABLE;
	int rc = records_load(t, a, "checkpoint", x->checkpoint, &cp, NULL, NULL);
	if (rc == FS_OK && rec_true(&cp, "_deleted"))
		rc = FS_E_NOT_FOUND;
	arena_free(a);
	if (rc)
		return x->err = rc;
	if (x->remove)
		return x->err = tag_remove(t, x->key, x->checkpoint);
	if ((rc = tag_key_remember(t, x->key)))
		return x->err = rc;
	return x->err = tag_put(t, x->key, x->checkpoint, &x->k);
}

int tags_bind(engine *e, const char *checkpoint, const tag_keys *k)
{
	if (!engine_tag_key(e))
		return FS_E_FORBIDDEN;
	tag_op x;
	memset(&x, 0, sizeof(x));
	x.key = engine_tag_key(e);
	x.checkpoint = checkpoint;
	x.k = *k;
	int rc = engine_write(e, tag_txn, &x);
	crypto_cleanse(&x.k, sizeof(x.k));
	return x.err ? x.err : rc;
}

static int hex_field(const wval *req, const char *name, uint8_t *out, size_t n)
{
	const wval *v = wv_get(req, name);
	return v && v->t == WV_STR && hex_decode(v->s.p, v->s.n, out, n);
}

int tags_admin(engine *e, const principal *p, const wval *req, arena *a,
               wbuf *out, const char **msg)
{
	if (p->role != ROLE_ADMIN)
		FAIL(FS_E_FORBIDDEN, "only the admin registers secure tags");
	if (!engine_tag_key(e))
		FAIL(FS_E_BAD_REQUEST, "the server has no tag key "
		                       "(fieldsyncd serve --tag-key-file FILE or "
		                       "FIELDSYNC_TAG_KEY)");
	if (req->t != WV_MAP)
		FAIL(FS_E_BAD_REQUEST,
		     "body must be a map {checkpoint, uid, meta_key, file_key}");
	tag_op x;
	memset(&x, 0, sizeof(x));
	x.key = engine_tag_key(e);
	const wval *cp = wv_get(req, "checkpoint"), *rm = wv_get(req, "remove");
	if (!cp || cp->t != WV_STR || valid_id(cp->s.p, cp->s.n) ||
	    !(x.checkpoint = wv_strdup(a, cp)))
		FAIL(FS_E_BAD_REQUEST, "checkpoint must be a checkpoint id");
	x.remove = rm && rm->t == WV_BOOL && rm->b;
	if (!x.remove &&
	    (!hex_field(req, "uid", x.k.uid, 7) ||
	     !hex_field(req, "meta_key", x.k.meta_key, 16) ||
	     !hex_field(req, "file_key", x.k.file_key, 16)))
		FAIL(FS_E_BAD_REQUEST, "uid must be 14 hex digits (7 bytes), "
		                       "meta_key and file_key 32 (AES-128)");
	int rc = engine_write(e, tag_txn, &x);
	char uid[15];
	hex_encode(x.k.uid, 7, uid);
	crypto_cleanse(&x.k, sizeof(x.k));
	if (x.err == FS_E_NOT_FOUND)
		FAIL(FS_E_NOT_FOUND, x.remove ? "no tag is bound to that checkpoint"
		                              : "no such checkpoint");
	if (x.err == FS_E_IMMUTABLE)
		FAIL(FS_E_IMMUTABLE, "that tag is bound to another checkpoint: "
		                     "unbind it there first");
	if (x.err == FS_E_FORBIDDEN)
		FAIL(FS_E_FORBIDDEN, "the tag key is not the one this store's "
		                     "tags were sealed with");
	if (rc)
		FAIL(FS_E_UNAVAILABLE, "store unavailable");
	wb_map(out, 2);
	wb_cstr(out, "checkpoint");
	wb_cstr(out, x.checkpoint);
	wb_cstr(out, x.remove ? "removed" : "uid");
	if (x.remove)
		wb_bool(out, 1);
	else
		wb_cstr(out, uid);
	return FS_OK;
}

/* 64 hex digits, surrounding white space allowed, into out. */
static int parse_key(const char *s, size_t n, uint8_t out[32])
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
	             s[n - 1] == '\r'))
		n--;
	return hex_decode(s, n, out, 32);
}

int tags_load_key(const char *file, uint8_t out[32], char *err, size_t errn)
{
	if (!file || !*file) {
		const char *env = getenv(TAGS_KEY_ENV);
		if (!env || !*env)
			return 0;
		if (!parse_key(env, strlen(env), out)) {
			snprintf(err, errn, "%s must be 64 hex digits", TAGS_KEY_ENV);
			return -1;
		}
		return 1;
	}
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char buf[160];
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errn, "%s: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ssize_t n = (st.st_mode & 077) ? -2 : read(fd, buf, sizeof(buf));
	close(fd);
	if (n == -2) {
		snprintf(err, errn, "%s: readable by others (chmod 600 it)", file);
		return -1;
	}
	if (n < 0 || n == (ssize_t)sizeof(buf) || !parse_key(buf, (size_t)n, out)) {
		snprintf(err, errn, "%s: must hold 64 hex digits (32 bytes)", file);
		crypto_cleanse(buf, sizeof(buf));
		return -1;
	}
	crypto_cleanse(buf, sizeof(buf));
	return 1;
}

int tags_check_store(store *st, const uint8_t *key, char *err, size_t errn)
{
	store_txn *t;
	if (store_begin(st, 0, &t)) {
		snprintf(err, errn, "cannot read the store");
		return -1;
	}
	int rc = tag_key_check(t, key);
	store_abort(t);
	if (rc == FS_OK || rc == FS_E_NOT_FOUND)
		return 0;
	snprintf(err, errn, key ? "the tag key is not the one this store's "
	                          "secure tags were sealed with"
	                        : "this store has secure tags: give the tag key "
	                          "(--tag-key-file FILE or " TAGS_KEY_ENV ")");
	return -1;
}
