/*
 * devices.h — GET /v1/reports/devices/<site>: each device's sync state for the
 * site's supervisors and admins (protocol/PROTOCOL.md, "Reports").
 */
#ifndef FS_DEVICES_H
#define FS_DEVICES_H

#include <stdint.h>

#include "server/core/engine.h"
#include "server/model/device.h"

/* The report, JSON when json is set, else msgpack:
 *   {site, generated_at, devices: [{device, name, staff, last_sync,
 *    pending, rejected, skew, boot, revoked}]}
 * pending and skew are null when the device never said.  FS_OK, or
 * FS_E_NOT_FOUND (bad site id), FS_E_FORBIDDEN (not an admin or the
 * site's supervisor), FS_E_UNAVAILABLE, with *msg. */
int devices_report(engine *e, const principal *p, const char *site, int json,
                   arena *a, wbuf *out, const char **msg);

#endif
