/*
 * tasks.h — service standards become shift tasks (issue 4), and the
 * read-side helpers reports share: a site's shifts and standards.
 *
 * Slots, in the site's local time (site.tz, server/lib/tz.h):
 *   per day    times n: slot i is the window's i-th n-th part,
 *              due_from = start + i*len/n, due_to = start + (i+1)*len/n;
 *   per week   slot i on day floor(i*7/n) of the ISO week (Monday 0);
 *   per month  slot i on day floor(i*D/n) of a month of D days (0: the 1st);
 *   per year   slot i on the 1st of month floor(i*12/n) + 1;
 * a week/month/year slot is due across that day's window.  A standard
 * gives slots only on dates whose month is in its `months` (empty: every
 * month).  The window is ["HH:MM", "HH:MM"] (missing: the whole day; an
 * end not after the start runs past midnight).  Local times become UTC by
 * the zone's rules; a time in a DST gap moves forward to the first that
 * exists.
 *
 * A slot goes to the first shift (by starts, then id) of the standard's
 * role whose [starts, ends) holds its due_from; a slot no shift holds is
 * uncovered (the site report lists it).  Task ids are deterministic:
 * "tk:<standard>:<YYYYMMDD>:<slot>" (a standard id over 100 bytes is
 * replaced by "h" and 32 hex digits of its SHA-256), so generating again
 * creates nothing new.  A task is *touched* when any of its fields carries
 * a stamp of an origin other than "server"; the generator rewrites (moves,
 * retitles, deletes) untouched tasks only, and never a touched one.
 */
#ifndef FS_TASKS_H
#define FS_TASKS_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/record.h"
#include "server/core/engine.h"
#include "server/model/principal.h"
#include "server/store/store.h"
#include "server/lib/tz.h"
#include "server/model/shift.h"

enum task_per { PER_DAY, PER_WEEK, PER_MONTH, PER_YEAR, PER_NONE = -1 };

typedef struct {
	char *id;
	char *zone;        /* NULL: none */
	char *title;
	int role;          /* enum role */
	int per;           /* enum task_per; PER_NONE gives no slots */
	uint32_t times;
	uint32_t win_from; /* minutes after local midnight */
	uint32_t win_to;   /* > win_from; may pass 1440 (overnight) */
	uint16_t months;   /* bit m set for month m (1-12); 0: every month */
} task_standard;


typedef struct {
	const task_standard *std;
	int64_t day;             /* local day number (tz_days_from_civil) */
	uint32_t slot;
	uint64_t due_from, due_to;
	const shift_info *shift; /* NULL: uncovered */
	char *id;                /* the task id */
} task_slot;

/* Parse a standard record (fields of schema.c's `standard`). */
int tasks_standard_from_record(arena *a, const char *id, const record *rec,
                               task_standard *out);
/* The slots of `stds` on local days [day_from, day_to] (at most 400
 * days), each with its shift from `shifts` (which must be sorted by
 * starts, then id).  FS_OK, FS_E_TOO_LARGE, FS_E_UNAVAILABLE. */
int tasks_plan(const tz_zone *z, const task_standard *stds, uint32_t nstd,
               const shift_info *shifts, uint32_t nsh, int64_t day_from,
               int64_t day_to, arena *a, task_slot **out, uint32_t *n);

/* The deterministic task id of (standard, local day, slot), in the arena. */
char *tasks_id(arena *a, const char *standard, int64_t day, uint32_t slot);

/* ---- reading a site (read or write transaction) ----------------------- */

typedef struct {
	char *id;
	char *name;
	char *tz;          /* NULL when unset */
	int has_households;
	uint64_t households;
} task_site;

/* FS_E_NOT_FOUND when there is no such site (or it is deleted). */
int tasks_load_site(store_txn *t, arena *a, const char *site, task_site *out);
/* The site's standards that are not deleted, by id. */
int tasks_site_standards(store_txn *t, arena *a, const char *site,
                         task_standard **out, uint32_t *n);

/* ---- generating ---------------------------------------------------------- */

typedef struct {
	uint32_t slots;      /* slots planned */
	uint32_t uncovered;  /* of which no shift holds */
	uint32_t created;    /* tasks written new */
	uint32_t moved;      /* untouched tasks rewritten */
	uint32_t deleted;    /* untouched tasks removed (slot gone/uncovered) */
	uint32_t kept;       /* touched tasks left alone */
} tasks_stats;

/* Bring the tasks of `site` for local days yesterday .. (now + 72 h) in
 * line with its standards and shifts, writing as the server (principal
 * {device "server", staff "server", admin}) through engine_sync.  Never
 * call it from the engine's writer thread (engine_sync waits for it).
 * FS_OK (also for a site without tz or standards: nothing to do),
 * FS_E_NOT_FOUND for an unknown site, or a store error. */
int tasks_generate_site(engine *e, tz_db *tz, const char *site,
                        uint64_t now, tasks_stats *st);

/* Install the default catalogue (schema/catalogue.h) into a site as
 * `standard` records written by the server, ids "std:<site>:<key>" (a site
 * id over 100 bytes is replaced by "h" and 32 hex digits of its SHA-256).
 * Only records that do not exist yet are written (a standard the site
 * edited or deleted stays as it is), so installing twice changes nothing.
 * Each standard's zone is the site's first zone (by id) of the entry's
 * zone kind, none when the site has no such zone.  *created: records
 * written.  FS_OK, FS_E_NOT_FOUND (no such site), or a store error.
 * Not from the writer thread. */
int tasks_install_catalogue(engine *e, const char *site, unsigned *created);
/* The id the catalogue gives entry `key` in `site`, in the arena. */
char *tasks_catalogue_id(arena *a, const char *site, const char *key);

/* The generator thread: runs every site at start, then a site whenever a
 * record of its site bucket (shifts, standards, the site) changes, and
 * every site each `interval_ms` (0: 10 minutes), so tasks stay at least
 * 48 hours ahead.  It listens to the engine's post-commit notifications. */
typedef struct tasks_gen tasks_gen;
int tasks_gen_start(tasks_gen **out, engine *e, tz_db *tz,
                    uint64_t interval_ms);
/* Stop the thread (finishing the pass it is in) and free; safe on NULL.
 * Call before engine_close(). */
void tasks_gen_stop(tasks_gen *g);
/* Passes completed so far (tests). */
uint64_t tasks_gen_passes(tasks_gen *g);

#endif
