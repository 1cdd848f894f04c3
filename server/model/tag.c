/*
 * tag.c — see tag.h.
 */
#include "server/model/tag.h"

#include <string.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "server/lib/crypto.h"
#include "server/store/keys.h"

#define PLAIN_N (7 + 16 + 16)
#define CHECK_TEXT "fieldsync tag key"

int tag_get(store_txn *t, const uint8_t key[TAG_KEY_BYTES],
            const char *checkpoint, tag_keys *out)
{
	char k[KEY_MAX];
	size_t kn = key_tag(k, sizeof(k), checkpoint);
	sv v;
	if (!kn)
		return FS_E_NOT_FOUND;
	int rc = store_get(t, ST_AUX, sv_of(k, kn), &v);
	if (rc)
		return rc;
	uint8_t p[PLAIN_N];
	if (!key || v.n != PLAIN_N + CRYPTO_SEAL_OVERHEAD ||
	    crypto_open(key, checkpoint, strlen(checkpoint), v.p, v.n, p))
		return FS_E_INTERNAL;
	memcpy(out->uid, p, 7);
	memcpy(out->meta_key, p + 7, 16);
	memcpy(out->file_key, p + 23, 16);
	crypto_cleanse(p, sizeof(p));
	return FS_OK;
}

static size_t uid_key(char *k, size_t cap, const uint8_t uid[7],
                      size_t (*fn)(char *, size_t, const char *))
{
	char hex[15];
	hex_encode(uid, 7, hex);
	return fn(k, cap, hex);
}

int tag_put(store_txn *t, const uint8_t key[TAG_KEY_BYTES],
            const char *checkpoint, const tag_keys *tk)
{
	char k[KEY_MAX], ku[KEY_MAX];
	size_t kn = key_tag(k, sizeof(k), checkpoint),
	       un = uid_key(ku, sizeof(ku), tk->uid, key_tag_uid);
	sv v;
	if (!kn || !un)
		return FS_E_BAD_REQUEST;
	int rc = store_get(t, ST_AUX, sv_of(ku, un), &v);
	if (rc == FS_OK &&
	    (v.n != strlen(checkpoint) || memcmp(v.p, checkpoint, v.n)))
		return FS_E_IMMUTABLE;
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	/* a rebind with another UID frees the old one */
	tag_keys old;
	if (tag_get(t, key, checkpoint, &old) == FS_OK &&
	    memcmp(old.uid, tk->uid, 7)) {
		char ko[KEY_MAX];
		size_t on = uid_key(ko, sizeof(ko), old.uid, key_tag_uid);
		if (on && (rc = store_del(t, ST_AUX, sv_of(ko, on))))
			return rc;
	}
	uint8_t p[PLAIN_N], sealed[PLAIN_N + CRYPTO_SEAL_OVERHEAD];
	memcpy(p, tk->uid, 7);
	memcpy(p + 7, tk->meta_key, 16);
	memcpy(p + 23, tk->file_key, 16);
	rc = crypto_seal(key, checkpoint, strlen(checkpoint), p, PLAIN_N, sealed);
	crypto_cleanse(p, sizeof(p));
	if (rc)
		return rc;
	if ((rc = store_put(t, ST_AUX, sv_of(k, kn), sv_of(sealed, sizeof(sealed)))))
		return rc;
	return store_put(t, ST_AUX, sv_of(ku, un), sv_cstr(checkpoint));
}

int tag_remove(store_txn *t, const uint8_t key[TAG_KEY_BYTES],
               const char *checkpoint)
{
	char k[KEY_MAX], ku[KEY_MAX];
	size_t kn = key_tag(k, sizeof(k), checkpoint);
	tag_keys old;
	int rc = tag_get(t, key, checkpoint, &old);
	if (rc == FS_OK) {
		size_t un = uid_key(ku, sizeof(ku), old.uid, key_tag_uid);
		if (un && (rc = store_del(t, ST_AUX, sv_of(ku, un))))
			return rc;
	} else if (rc != FS_E_INTERNAL) {
		return rc;
	}
	return kn ? store_del(t, ST_AUX, sv_of(k, kn)) : FS_E_NOT_FOUND;
}

int tag_counter_get(store_txn *t, const uint8_t uid[7], uint32_t *ctr,
                    uint64_t *at_est)
{
	char k[KEY_MAX];
	size_t kn = uid_key(k, sizeof(k), uid, key_tag_counter);
	sv v;
	int rc = kn ? store_get(t, ST_AUX, sv_of(k, kn), &v) : FS_E_NOT_FOUND;
	if (rc)
		return rc;
	if (v.n != 16)
		return FS_E_NOT_FOUND;
	*ctr = (uint32_t)be64_get(v.p);
	*at_est = be64_get((const uint8_t *)v.p + 8);
	return FS_OK;
}

int tag_counter_put(store_txn *t, const uint8_t uid[7], uint32_t ctr,
                    uint64_t at_est)
{
	char k[KEY_MAX];
	size_t kn = uid_key(k, sizeof(k), uid, key_tag_counter);
	uint8_t b[16];
	be64_put(b, ctr);
	be64_put(b + 8, at_est);
	return kn ? store_put(t, ST_AUX, sv_of(k, kn), sv_of(b, 16))
	          : FS_E_BAD_REQUEST;
}

int tag_key_check(store_txn *t, const uint8_t key[TAG_KEY_BYTES])
{
	sv v;
	int rc = store_get(t, ST_META, sv_cstr(KEY_TAG_KEY_CHECK), &v);
	if (rc)
		return rc;
	uint8_t p[sizeof(CHECK_TEXT)];
	if (!key || v.n != sizeof(p) + CRYPTO_SEAL_OVERHEAD ||
	    crypto_open(key, "", 0, v.p, v.n, p) ||
	    memcmp(p, CHECK_TEXT, sizeof(p)))
		return FS_E_FORBIDDEN;
	return FS_OK;
}

int tag_key_remember(store_txn *t, const uint8_t key[TAG_KEY_BYTES])
{
	int rc = tag_key_check(t, key);
	if (rc != FS_E_NOT_FOUND)
		return rc;
	uint8_t s[sizeof(CHECK_TEXT) + CRYPTO_SEAL_OVERHEAD];
	if ((rc = crypto_seal(key, "", 0, CHECK_TEXT, sizeof(CHECK_TEXT), s)))
		return rc;
	return store_put(t, ST_META, sv_cstr(KEY_TAG_KEY_CHECK), sv_of(s, sizeof(s)));
}
