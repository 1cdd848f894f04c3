/*
 * keys.h — every key layout the server writes into the store's tables,
 * built and parsed here and nowhere else.  The bytes are the on-disk
 * format: changing one breaks every existing store.
 *
 *   ST_SHIFTS   site \0 be64(starts) \0 shift      -> 1 (the shift index)
 *   ST_META     "shiftmax/" site                   -> be64(longest shift, ms)
 *   ST_META     "admin_device"                     -> the admin device id
 *   ST_AUX      "orcv/" order                      -> be64(first receive, ms)
 *   ST_AUX      "b/" bucket                        -> 1 (every bucket used)
 *   ST_AUX      "tag/" checkpoint                  -> sealed secure-tag keys (model/tag.h)
 *   ST_AUX      "tagu/" uid (14 hex)               -> the checkpoint its tag is bound to
 *   ST_AUX      "tagc/" uid (14 hex)               -> be64(highest counter) be64(its at_est)
 *   ST_AUX      "fence/" device \0 boot            -> be64(another boot last seen alive, ms)
 *   ST_META     "tag_key_check"                    -> sealed check value of the tag key
 *   ST_ACKS     device \0 batch(16 bytes)          -> be64(t) + the ack
 *   ST_ANCHORS  device \0 boot                     -> be64(anchor ms)
 *   ST_DEVSTAFF device \0 staff                    -> the sessions held
 *               (server/model/device.h; a store from before kept 1)
 *   ST_AUX      "scut/" staff                      -> be64(sessions cut at)
 *
 * Builders write into k[0..cap) and return the key's length, or 0 when it
 * does not fit (ids are at most 128 bytes, so KEY_MAX always does).
 * Maintenance, lockout, blob and task-index keys are described in
 * server/svc/maint.c, lockout.h, blobref.h and tasks.c, which own them.
 */
#ifndef FS_KEYS_H
#define FS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "server/store/store.h"

#define KEY_MAX 300
#define KEY_ADMIN_DEVICE "admin_device"
#define KEY_BUCKET_PREFIX "b/"

/* ST_SHIFTS: the key of shift `id` of `site` starting at `starts`. */
size_t key_shift(uint8_t *k, size_t cap, const char *site, uint64_t starts,
                 const char *id);
/* ST_SHIFTS: the prefix of every key of `site` (site \0), and the first
 * key at or after `starts` (site \0 be64(starts)). */
size_t key_shift_site(uint8_t *k, size_t cap, const char *site);
size_t key_shift_from(uint8_t *k, size_t cap, const char *site,
                      uint64_t starts);
/* Parse a ST_SHIFTS key of a site whose name is site_n bytes long: 1 and
 * *starts, *id (borrowed from key) when it has that shape, else 0. */
int key_shift_parse(sv key, size_t site_n, uint64_t *starts, sv *id);

size_t key_shiftmax(char *k, size_t cap, const char *site);
size_t key_orcv(char *k, size_t cap, const char *order);
size_t key_bucket(char *k, size_t cap, const char *bucket);
/* The bucket name of a "b/" key (borrowed), n = 0 when not one. */
sv key_bucket_name(sv key);
size_t key_ack(uint8_t *k, size_t cap, const char *device,
               const uint8_t batch[16]);
size_t key_anchor(char *k, size_t cap, const char *device, const char *boot);
size_t key_devstaff(char *k, size_t cap, const char *device,
                    const char *staff);
size_t key_tag(char *k, size_t cap, const char *checkpoint);
size_t key_tag_uid(char *k, size_t cap, const char *uid_hex);
size_t key_tag_counter(char *k, size_t cap, const char *uid_hex);
size_t key_fence(char *k, size_t cap, const char *device, const char *boot);
#define KEY_TAG_KEY_CHECK "tag_key_check"
/* ST_DEVSTAFF: the prefix of every key of `device` (device \0). */
size_t key_devstaff_dev(char *k, size_t cap, const char *device);
size_t key_scut(char *k, size_t cap, const char *staff);
/* prefix then s: the ST_AUX keys of a service that owns its prefix
 * (server/svc/blobquota.h's "bq?/"). */
size_t key_aux(char *k, size_t cap, const char *prefix, const char *s);

#endif
