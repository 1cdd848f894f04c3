/*
 * tag.h — secure NFC tags (NTAG 424 DNA) bound to checkpoints: the tag's
 * UID and its two SDM keys, kept in ST_AUX sealed with the server's tag
 * key (AES-256-GCM, lib/crypto.h; the checkpoint id is the associated
 * data, so a sealed entry cannot be moved to another checkpoint), never
 * synced; and per tag the highest tap counter the server has accepted.
 * Key layouts: server/store/keys.h.
 */
#ifndef FS_TAG_H
#define FS_TAG_H

#include <stdint.h>

#include "server/store/store.h"

#define TAG_KEY_BYTES 32

typedef struct {
	uint8_t uid[7];
	uint8_t meta_key[16]; /* SDMMetaReadKey: decrypts the PICC data */
	uint8_t file_key[16]; /* SDMFileReadKey: the MAC's session key */
} tag_keys;

/* The tag bound to `checkpoint`: FS_OK, FS_E_NOT_FOUND (none), or
 * FS_E_INTERNAL when the sealed entry does not open with `key`. */
int tag_get(store_txn *t, const uint8_t key[TAG_KEY_BYTES],
            const char *checkpoint, tag_keys *out);
/* Bind (or rebind) a tag: FS_OK, or FS_E_IMMUTABLE when the UID is bound
 * to another checkpoint. */
int tag_put(store_txn *t, const uint8_t key[TAG_KEY_BYTES],
            const char *checkpoint, const tag_keys *k);
/* Unbind: FS_OK or FS_E_NOT_FOUND.  The tag's counter is kept, so a
 * rebound tag still refuses its old taps. */
int tag_remove(store_txn *t, const uint8_t key[TAG_KEY_BYTES],
               const char *checkpoint);

/* The highest counter accepted for `uid` and the at_est of that tap:
 * FS_OK, or FS_E_NOT_FOUND when no tap was accepted yet. */
int tag_counter_get(store_txn *t, const uint8_t uid[7], uint32_t *ctr,
                    uint64_t *at_est);
int tag_counter_put(store_txn *t, const uint8_t uid[7], uint32_t ctr,
                    uint64_t at_est);

/* The server's tag key against the store's check value (ST_META): FS_OK
 * when it matches, FS_E_NOT_FOUND when the store has none yet (no tag was
 * ever registered), FS_E_FORBIDDEN when it is another key. */
int tag_key_check(store_txn *t, const uint8_t key[TAG_KEY_BYTES]);
/* Store the check value of `key` when there is none. */
int tag_key_remember(store_txn *t, const uint8_t key[TAG_KEY_BYTES]);

#endif
