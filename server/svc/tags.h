/*
 * tags.h — POST /v1/admin/tags: the admin binds a secure NFC tag (NTAG 424
 * DNA) to a checkpoint with its UID and SDM keys, or unbinds it.  The keys
 * are sealed with the server's tag key (model/tag.h) and never synced or
 * answered back.  schema/EVIDENCE.md says what a verified tap proves.
 */
#ifndef FS_TAGS_H
#define FS_TAGS_H

#include "server/core/engine.h"
#include "server/model/tag.h"

/* Body {checkpoint, uid: 14 hex, meta_key: 32 hex, file_key: 32 hex} binds;
 * {checkpoint, remove: true} unbinds.  Answers {checkpoint, uid} or
 * {checkpoint, removed: true}. */
int tags_admin(engine *e, const principal *p, const wval *req, arena *a,
               wbuf *out, const char **msg);

/* Bind `k` to an existing checkpoint in a write of its own (what the
 * endpoint does after its checks): FS_OK, FS_E_NOT_FOUND (no checkpoint),
 * FS_E_IMMUTABLE (the UID is another checkpoint's), FS_E_FORBIDDEN (the
 * engine has no tag key, or not the store's). */
int tags_bind(engine *e, const char *checkpoint, const tag_keys *k);

/* The server's tag key: 64 hex digits from `file` (readable by its owner
 * only), else from the environment variable FIELDSYNC_TAG_KEY.  1 with
 * out[32] filled, 0 when neither is given, -1 with err on a bad file or
 * value. */
#define TAGS_KEY_ENV "FIELDSYNC_TAG_KEY"
int tags_load_key(const char *file, uint8_t out[32], char *err, size_t errn);

/* Whether the store's tags open with `key` (NULL: no key): 0 when they do
 * or the store has none, -1 with err when the server cannot verify them. */
int tags_check_store(store *st, const uint8_t *key, char *err, size_t errn);

#endif
