/*
 * devices.h — the devices of a site, read typed (auth.h's device_info),
 * and GET /v1/reports/devices/<site>: each device's sync state for the
 * site's supervisors and admins (protocol/PROTOCOL.md, "Reports").
 */
#ifndef FS_DEVICES_H
#define FS_DEVICES_H

#include <stdint.h>

#include "server/svc/auth.h"

typedef struct {
	const char *id;
	device_info info;
} device_row;

/* The devices enrolled for `site`, in id order, in the arena.  FS_OK, or
 * FS_E_UNAVAILABLE (store, memory). */
int devices_of_site(store_txn *t, const char *site, arena *a,
                    device_row **rows, uint32_t *n);

/* The report, JSON when json is set, else msgpack:
 *   {site, generated_at, devices: [{device, name, staff, last_sync,
 *    pending, rejected, skew, boot, revoked}]}
 * pending and skew are null when the device never said.  FS_OK, or
 * FS_E_NOT_FOUND (bad site id), FS_E_FORBIDDEN (not an admin or the
 * site's supervisor), FS_E_UNAVAILABLE, with *msg. */
int devices_report(engine *e, const principal *p, const char *site, int json,
                   arena *a, wbuf *out, const char **msg);

#endif
