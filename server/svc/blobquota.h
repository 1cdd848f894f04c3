/*
 * blobquota.h — how many photo bytes a device and a site may upload, and
 * collecting blobs no record references (deploy/OPERATIONS.md, "Photo
 * quotas").
 *
 * A device may upload `device_day_bytes` in any 24 h (then 429
 * RATE_LIMITED with Retry-After until its window ends); a site may keep
 * `site_bytes` of blobs its devices uploaded first (then 413 TOO_LARGE:
 * an admin raises the quota, or the orphans are collected).  Both are
 * checked before the body is read, with its Content-Length (0 when it
 * has none), and charged once the blob is kept, so uploads running at the
 * same time may pass the quota by their own sizes.  Admins have no quota.
 *
 * A blob kept by an upload gets an owner entry; once `orphan_grace_ms`
 * has passed since its upload and still no record names it (blobref.h:
 * no reference and no claim), a pass deletes its file and entries and
 * gives its bytes back to the site.  Blobs uploaded before owner entries
 * were kept are never collected.
 *
 * ST_AUX keys:
 *   "bqd/" device  -> be64(window start) be64(bytes in the window)
 *   "bqs/" site    -> be64(bytes kept)
 *   "bqo/" <hex>   -> be64(bytes) be64(uploaded at) <site>
 */
#ifndef FS_BLOBQUOTA_H
#define FS_BLOBQUOTA_H

#include <stdint.h>

#include "server/core/engine.h"

typedef struct {
	uint64_t device_day_bytes; /* 0: no limit */
	uint64_t site_bytes;       /* 0: no limit */
	uint64_t orphan_grace_ms;  /* 0: never collect */
} blob_quota;

#define BLOBQ_DEVICE_DAY_DEFAULT (1024ULL << 20)     /* 1 GiB */
#define BLOBQ_SITE_DEFAULT (256ULL << 30)            /* 256 GiB */
#define BLOBQ_GRACE_DEFAULT (7ULL * 24 * 3600 * 1000) /* 7 days */

/* May p upload `bytes` more now?  FS_OK; FS_E_RATE_LIMITED and *retry_s
 * (the device's day); FS_E_TOO_LARGE (the site's quota); each with *msg;
 * or a store error. */
int blobquota_admit(store_txn *t, const blob_quota *q, const principal *p,
                    uint64_t bytes, uint64_t now, unsigned *retry_s,
                    const char **msg);
/* p's upload of blob `hex` (bytes long) was kept; is_new when the server
 * had no copy before.  Write txn. */
int blobquota_charge(store_txn *t, const principal *p, const char *hex,
                     uint64_t bytes, uint64_t now, int is_new);
/* One collection pass over the blobs in directory `dir`: FS_OK or a store
 * error; *removed (may be NULL) gets the number of blobs deleted. */
int blobquota_collect(engine *e, const blob_quota *q, const char *dir,
                      unsigned *removed);

#endif
