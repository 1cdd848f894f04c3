/*
 * reports.h — what supervisors get (schema/REPORTS.md, issue 4):
 *   GET /v1/reports/shift/<shift>
 *   GET /v1/reports/site/<site>?from=YYYY-MM-DD&to=YYYY-MM-DD
 * JSON by default, msgpack with `Accept: application/msgpack`, CSV with
 * `?format=csv` (site report only).  Every field and formula is written
 * down in schema/REPORTS.md.  Only the site's supervisors and admins may
 * read them (FS_E_FORBIDDEN otherwise; FS_E_NOT_FOUND for an unknown
 * shift or site).
 *
 * The handlers read one snapshot (a read transaction): patrol rounds
 * (server/svc/patrol.h), tasks, work orders against their service levels
 * (schema.h's table), checkins with untrusted times, the devices of the
 * shift's staff and their sync reports, the handover; for a site, the same
 * per local day and in total, orders by category, complaints per household
 * a month, satisfaction (null: no survey data), and the standards' slots
 * no shift covers (server/svc/tasks.h's planner), with the seed's targets
 * (schema/catalogue.h) beside the figures.
 */
#ifndef FS_REPORTS_H
#define FS_REPORTS_H

#include "protocol/arena.h"
#include "protocol/wire.h"
#include "server/core/engine.h"
#include "server/model/shift.h"
#include "server/svc/patrol.h"
#include "server/model/principal.h"
#include "server/lib/tz.h"

enum report_format { REPORT_JSON, REPORT_MSGPACK, REPORT_CSV };

/* The format asked for: ?format=csv|json|msgpack in the query (NULL: none)
 * wins, then an Accept header (NULL: none) naming application/msgpack,
 * else JSON.  -1 for a format= value that is none of these, or csv when
 * !csv_ok. */
int reports_format(const char *accept, const char *query, int csv_ok);
/* "application/json", "application/msgpack", "text/csv; charset=utf-8". */
const char *reports_ctype(int format);

/* The shift report into `out` (bytes of the format), FS_OK; or an error
 * code and *msg.  format: REPORT_JSON or REPORT_MSGPACK. */
int reports_shift(engine *e, tz_db *tz, const principal *p, const char *shift,
                  int format, arena *a, wbuf *out, const char **msg);

/* The site report; `query` is the raw query string (NULL: none) with
 * from= and to= (local dates, inclusive, at most 366 days; both default to
 * today in the site's zone). */
int reports_site(engine *e, tz_db *tz, const principal *p, const char *site,
                 const char *query, int format, arena *a, wbuf *out,
                 const char **msg);

/* A shift's patrol rounds scored at `now` exactly as its report scores
 * them (server/svc/patrol.h), for the alert rules: everything in the
 * arena, from the caller's read transaction.  `devices` are the devices
 * the shift's staff have held sessions on (revoked ones included). */
typedef struct {
	patrol_in in;
	patrol_out out;
	char **devices;
	uint32_t ndev;
} reports_patrol;
int reports_shift_patrol(engine *e, store_txn *t, arena *a,
                         const shift_info *sh, uint64_t now,
                         reports_patrol *out);

#endif
