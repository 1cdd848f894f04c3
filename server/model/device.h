/*
 * device.h — a device's record (ST_DEVICES: its enrollment, revocation and
 * last sync report) and the sessions it has held (ST_DEVSTAFF), as typed
 * reads and writes over a store transaction.
 */
#ifndef FS_DEVICE_H
#define FS_DEVICE_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/valid.h"
#include "server/store/store.h"

typedef struct {
	char site[FS_ID_MAX + 1];
	char name[129];
	int role_limit;        /* ROLE_NONE: any role may log in */
	int revoked;
	uint64_t created;
	/* sync report (GET /v1/reports/devices) */
	char staff[FS_ID_MAX + 1];
	uint64_t last_sync;    /* 0: never */
	int has_pending;
	uint64_t pending;
	uint64_t rejected;     /* ops rejected, total */
	int has_skew;
	int64_t skew;
	char boot[129];
} device_info;

/* FS_E_NOT_FOUND when the device has no record (the admin device). */
int device_get(store_txn *t, const char *device, device_info *d);
int device_put(store_txn *t, const char *device, const device_info *d);
/* One device of a site, for the devices report. */
typedef struct {
	const char *id;
	device_info info;
} device_row;

/* The devices enrolled for `site`, in id order, in the arena.  FS_OK, or
 * FS_E_UNAVAILABLE (store, memory). */
int devices_of_site(store_txn *t, const char *site, arena *a,
                    device_row **rows, uint32_t *n);

/* 1 when `device` has held a session of `staff` (expired is fine). */
int device_held_session(store_txn *t, const char *device, const char *staff);

#endif
