/*
 * roster.h — rosters make shifts (issue 11): each site's `roster`
 * records (schema/SCHEMA.md) become `shift` records at least 7 days
 * ahead, the way tasks.h turns standards into tasks.
 *
 * Slots, in the site's local time (site.tz, server/lib/tz.h): on every
 * local day d in [valid_from, valid_to] whose weekday is in `days`, each
 * span i of `shifts` ("HH:MM-HH:MM"; an end not after the start is on day
 * d + 1) is a shift from d + start to d (+ 1) + end, both turned into UTC
 * by the zone's rules: a night shift across the spring change is an hour
 * shorter, across the autumn change an hour longer; a start in a DST gap
 * moves forward to the first time that exists (tz.h).
 *
 * Staff: with n staff, crew c (at most n) and rotation step
 * r = floor((d - anchor) / rotate_days) (0 when rotate_days is 0; anchor
 * is valid_from, or 1970-01-01 when open), span i takes
 * staff[((i + r) * c + j) mod n] for j = 0 .. c-1; the first is the lead.
 * Two guards on 08-20 / 20-08 with rotate_days 7 swap weekly.
 *
 * Ids are deterministic: "sh:<roster>:<YYYYMMDD>:<i>" (a roster id over
 * 100 bytes is replaced by "h" and 32 hex digits of its SHA-256), so
 * generating again creates nothing new.  The generator manages local days
 * yesterday .. (now + 7 days): it creates a missing slot that has not
 * ended; it rewrites an untouched shift (no field stamped by an origin
 * other than "server") that has not started when its roster's slot
 * changed, and deletes one whose slot is gone (roster edited or deleted,
 * valid_to passed).  A touched shift, or one that has started, is never
 * rewritten or deleted.
 */
#ifndef FS_ROSTER_H
#define FS_ROSTER_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/record.h"
#include "server/core/engine.h"
#include "server/lib/tz.h"

#define ROSTER_SPANS_MAX 24
#define ROSTER_STAFF_MAX 200
#define ROSTER_AHEAD_DAYS 7

typedef struct {
	uint32_t from, to;  /* minutes after local midnight; to > from, to may
	                     * pass 1440 (the next day) */
} roster_span;

typedef struct {
	char *id;
	int role;           /* enum role */
	char **staff;
	uint32_t nstaff;
	uint32_t crew;      /* >= 1 */
	uint32_t rotate_days;
	roster_span span[ROSTER_SPANS_MAX];
	uint32_t nspan;
	uint8_t days;       /* bit w set: weekday w (Monday 0) */
	char *route, *post; /* NULL: none */
	int64_t day_from, day_to; /* local days, inclusive */
	int has_from;
	const char *bad;    /* why the record gives no shifts, or NULL */
} roster;

typedef struct {
	const roster *r;
	int64_t day;
	uint32_t span;
	uint64_t starts, ends;
	const char **staff;
	uint32_t nstaff;
	char *id;
} roster_slot;

/* ---- the cells, shared with import.h's checks ------------------------------ */

/* "HH:MM-HH:MM" (00:00-24:00, a start before 24:00): 0 and the span, or
 * -1 when malformed. */
int roster_span_parse(const char *s, size_t n, roster_span *out);
/* "mon" .. "sun" (any case): 0-6, or -1. */
int roster_weekday_parse(const char *s, size_t n);
/* "YYYY-MM-DD", a real date: 0 and its day number, or -1. */
int roster_date_parse(const char *s, size_t n, int64_t *day);

/* Parse a roster record (fields of schema.c's `roster`).  A record that
 * cannot give shifts (no pattern, a malformed span, day or date) gets
 * r->bad set and no slots.  FS_OK or FS_E_UNAVAILABLE. */
int roster_from_record(arena *a, const char *id, const record *rec,
                       roster *out);

/* The deterministic shift id of (roster, local day, span), in the arena. */
char *roster_shift_id(arena *a, const char *rid, int64_t day,
                      uint32_t span);

/* The slots of `rs` on local days [day_from, day_to] (at most 400 days).
 * FS_OK, FS_E_TOO_LARGE, FS_E_UNAVAILABLE. */
int roster_plan(const tz_zone *z, const roster *rs, uint32_t n,
                int64_t day_from, int64_t day_to, arena *a,
                roster_slot **out, uint32_t *nout);

typedef struct {
	uint32_t slots;    /* slots planned on the managed days */
	uint32_t created;  /* shifts written new */
	uint32_t moved;    /* untouched shifts rewritten */
	uint32_t deleted;  /* untouched shifts removed (slot gone) */
	uint32_t kept;     /* touched or started shifts left alone */
} roster_stats;

/* Bring the generated shifts of `site` in line with its rosters (see the
 * top), writing as the server through engine_push.  Not from the writer
 * thread.  FS_OK (also for a site without rosters), FS_E_NOT_FOUND for an
 * unknown site, or a store error. */
int roster_generate_site(engine *e, tz_db *tz, const char *site,
                         uint64_t now, roster_stats *st);

#endif
