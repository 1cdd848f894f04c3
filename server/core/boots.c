/*
 * boots.c — a device runs one boot at a time (schema/EVIDENCE.md, "Boots
 * cannot overlap").  The server keeps, per device, when it last saw the
 * current boot alive and, when the device moves to another boot, the last
 * moment it saw an earlier one.  A boot whose claimed start (T - mono of a
 * request) lies before that moment is inventing uptime: the moment is kept
 * as the boot's fence (ST_AUX "fence/"), and its checkins from before the
 * fence cannot be verified (derive.c asks boot_fenced).
 */
#include <stdio.h>
#include <string.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "server/core/engine_int.h"
#include "server/model/device.h"
#include "server/store/keys.h"

/* Network delay between a device's last request under the old boot and
 * the server reading it: a new boot may seem to start this much before
 * the old one was last seen without inventing anything. */
#define BOOT_SLACK_MS 5000

static int fence_get(store_txn *t, const char *device, const char *boot,
                     uint64_t *fence)
{
	char k[KEY_MAX];
	size_t kn = key_fence(k, sizeof(k), device, boot);
	sv v;
	int rc = kn ? store_get(t, ST_AUX, sv_of(k, kn), &v) : FS_E_NOT_FOUND;
	if (rc)
		return rc;
	if (v.n != 8)
		return FS_E_NOT_FOUND;
	*fence = be64_get(v.p);
	return FS_OK;
}

static int fence_put(store_txn *t, const char *device, const char *boot,
                     uint64_t fence)
{
	char k[KEY_MAX];
	size_t kn = key_fence(k, sizeof(k), device, boot);
	uint8_t b[8];
	be64_put(b, fence);
	return kn ? store_put(t, ST_AUX, sv_of(k, kn), sv_of(b, 8)) : FS_OK;
}

int boot_fenced(store_txn *t, const char *device, const char *boot,
                int64_t at_est)
{
	uint64_t fence;
	return fence_get(t, device, boot, &fence) == FS_OK &&
	       at_est < (int64_t)fence;
}

int boot_note(actx *x)
{
	job *j = x->j;
	if (!j->has_boot || !j->has_mono)
		return FS_OK;
	device_info d;
	if (device_get(x->t, j->p->device, &d) != FS_OK)
		return FS_OK; /* the admin device keeps no report */
	if (strcmp(d.boot, j->boot)) {
		/* another boot: the one before was alive until its last request */
		uint64_t seen = d.boot_seen ? d.boot_seen : d.last_sync;
		if (d.boot[0] && seen > d.other_seen)
			d.other_seen = seen;
		snprintf(d.boot, sizeof(d.boot), "%s", j->boot);
	}
	d.boot_seen = j->t;
	int64_t start = (int64_t)j->t - (int64_t)(j->mono > ((uint64_t)1 << 47)
	                                                  ? (uint64_t)1 << 47
	                                                  : j->mono);
	uint64_t fence = 0;
	if (d.other_seen && start + BOOT_SLACK_MS < (int64_t)d.other_seen &&
	    (fence_get(x->t, j->p->device, j->boot, &fence) != FS_OK ||
	     fence < d.other_seen)) {
		int rc = fence_put(x->t, j->p->device, j->boot, d.other_seen);
		if (rc)
			return rc;
		d.overlaps++;
		snprintf(d.overlap_boot, sizeof(d.overlap_boot), "%s", j->boot);
		d.overlap_start = start;
		d.overlap_seen = d.other_seen;
		d.overlap_at = j->t;
	}
	return device_put(x->t, j->p->device, &d);
}
