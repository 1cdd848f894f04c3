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
	/* boots (schema/EVIDENCE.md, "Boots cannot overlap") */
	uint64_t boot_seen;    /* last request reporting `boot` (0: last_sync) */
	uint64_t other_seen;   /* last moment an earlier boot was seen alive */
	uint64_t overlaps;     /* boots found claiming a start before it */
	char overlap_boot[129];    /* the last such boot, "" when none */
	int64_t overlap_start;     /* the start it claimed (T - mono) */
	uint64_t overlap_seen;     /* the other boot's last moment alive */
	uint64_t overlap_at;       /* when the server found it */
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


/* The sessions a staff member held on a device, for a batch's `by`
 * (protocol/PROTOCOL.md): each from its login to its expiry, ended early
 * when someone else logs in or syncs on the device, and every one that
 * began before the staff member's cut (a PIN change, a deactivation)
 * ends there.  The newest DEVICE_SESSIONS_MAX are kept. */
#define DEVICE_SESSIONS_MAX 16
typedef struct {
	uint64_t start, end;
	int role; /* the staff member's role at login */
} device_session;
typedef struct {
	device_session s[DEVICE_SESSIONS_MAX];
	unsigned n;
	uint64_t cut; /* 0: none */
} device_sessions;

/* FS_E_NOT_FOUND when `device` never held a session of `staff`; a store
 * from before sessions were kept answers FS_OK with n = 0. */
int device_sessions_get(store_txn *t, const char *device, const char *staff,
                        device_sessions *out);
/* `staff` holds `device` at `now` (a login, or a sync with their
 * session): the open sessions of others on the device end now. */
int device_session_hold(store_txn *t, const char *device, const char *staff,
                        uint64_t now);
/* A login of `staff` (role) on `device` at `now`, valid until `end`: its
 * session is kept, and the sessions of others on the device end now. */
int device_session_open(store_txn *t, const char *device, const char *staff,
                        int role, uint64_t now, uint64_t end);
/* Every session of `staff`, on any device, that began before `at` ends
 * at `at` (a PIN change or a deactivation): ST_AUX "scut/" staff. */
int device_sessions_cut(store_txn *t, const char *staff, uint64_t at);
/* The session in which something done at `when` falls, allowing `slack`
 * ms of clock difference at either end; NULL when none. */
const device_session *device_session_at(const device_sessions *ss,
                                        uint64_t when, uint64_t slack);

#endif
