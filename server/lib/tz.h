/*
 * tz.h — IANA time zones read from the system's TZif files
 * (/usr/share/zoneinfo, Debian package tzdata), converting a site's local
 * date and time to UTC and back without setenv("TZ")/tzset(), which are
 * process-wide and race in a threaded server.
 *
 * A tz_db caches every zone it has loaded (and every name it failed to
 * load) for its whole life; zones are immutable once loaded, so a
 * `const tz_zone *` from tz_get() may be used from any thread, without
 * locks, until tz_db_close().  tz_get() itself is thread-safe.
 *
 * Times: `utc_ms` is ms since the epoch; `local_ms` is the site's civil
 * time counted as if it were UTC (so local_ms / 86400000 is the local day
 * number, see tz_days_from_civil()).
 *
 * Rules used for an instant: the file's transitions; before the first
 * one the first time type (RFC 8536); after the last one the file's
 * footer (a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3"), or the
 * last transition's type when there is no footer.
 */
#ifndef FS_TZ_H
#define FS_TZ_H

#include <stdint.h>

typedef struct tz_db tz_db;
typedef struct tz_zone tz_zone;

/* A cache over the zoneinfo directory `root` (NULL: /usr/share/zoneinfo).
 * FS_OK or FS_E_UNAVAILABLE (out of memory). */
int tz_db_open(tz_db **out, const char *root);
/* Free every zone; safe on NULL.  No zone from it may be used after. */
void tz_db_close(tz_db *db);

/* The zone named `name` (e.g. "Europe/Berlin"), loaded once.
 * FS_OK; FS_E_BAD_REQUEST for a name that is not a zone name (empty, too
 * long, "..", odd bytes); FS_E_NOT_FOUND when no valid TZif file has that
 * name; FS_E_UNAVAILABLE when the cache is full (512 names). */
int tz_get(tz_db *db, const char *name, const tz_zone **out);

/* Parse TZif bytes p[0..n) (tests, tools).  The zone is the caller's:
 * free it with tz_zone_free().  FS_OK or FS_E_BAD_REQUEST. */
int tz_parse(const uint8_t *p, uint64_t n, const char *name, tz_zone **out);
void tz_zone_free(tz_zone *z);

const char *tz_name(const tz_zone *z);
/* Seconds east of UTC in effect at utc_s (seconds since the epoch). */
int32_t tz_offset(const tz_zone *z, int64_t utc_s);
int64_t tz_utc_to_local_ms(const tz_zone *z, int64_t utc_ms);
/* The instant of a local civil time.  A local time that does not exist
 * (a DST gap) moves forward to the first one that does: the instant the
 * clocks jumped.  A local time that happens twice (the hour the clocks go
 * back) gives the earlier instant. */
int64_t tz_local_to_utc_ms(const tz_zone *z, int64_t local_ms);

/* ---- the civil calendar (proleptic Gregorian) ---------------------------- */

#define TZ_DAY_MS 86400000LL

/* Days since 1970-01-01 of y-m-d (m 1-12, d 1-31). */
int64_t tz_days_from_civil(int64_t y, unsigned m, unsigned d);
void tz_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* Day of the week, Monday 0 ... Sunday 6. */
unsigned tz_weekday(int64_t days);
unsigned tz_days_in_month(int64_t y, unsigned m);
/* Floor division of a local_ms by a day (works for times before 1970). */
int64_t tz_day_of(int64_t local_ms);

#endif
