/*
 * alerts.h — the server's alert rules (issue 14): what went wrong at a
 * site becomes an `alert` record (schema/SCHEMA.md) in the bucket
 * alerts/<site>, which the site's supervisors and the admins pull.
 *
 * Rules (kinds), each switched off per site by naming it in the site's
 * `alerts_off`, with the site's settings or their defaults:
 *   urgent_order   an elevator_entrapment, urgent_water or urgent_power
 *                  order exists; resolved when it is resolved or closed
 *   sla_warning    an order's checked time (schema.c's levels[]: the step
 *                  accepted, on_site or resolved) is still empty when
 *                  alert_warn_pct (80) % of the time from reported_at (or
 *                  the first receive) to the deadline has passed;
 *                  resolved when the step is done or the breach is raised
 *   sla_breach     the deadline passed with the step not done, or the step
 *                  was done after it (raised resolved at that time)
 *   patrol_missed  a round with a checkpoint `missed` by the patrol report's
 *                  own rule (server/svc/patrol.h): `pending` raises
 *                  nothing; resolved if a scan for it arrives after all
 *   lone_worker    a guard on a running guard shift, who has held a session
 *                  on some device, has neither synced (a device whose last
 *                  session is theirs) nor checked in for lone_worker_min
 *                  (30) minutes; resolved when they are heard of again or
 *                  the shift ends
 *   task_overdue   a task of a cleaner's shift neither done nor skipped
 *                  at its due_to (the end of its window)
 *   sync_failing   a device's last sync_fail_runs (3) syncs that pushed
 *                  changes each had changes rejected (dead letters);
 *                  resolved by a push with none rejected
 *   tag_replayed   a checkin whose secure tag tap was already used (the
 *                  same tap sent twice, or an old tap copied:
 *                  schema/EVIDENCE.md); one alert a checkin, resolved
 *                  only if the checkin is deleted
 *   tag_invalid    a checkin whose tag tap is not its checkpoint's tag or
 *                  is forged; as tag_replayed
 *   boot_overlap   a checkin from a device boot that overlaps an earlier
 *                  boot of the device (its time proves nothing); as
 *                  tag_replayed.  The three come from the checkin's stored
 *                  evidence (model/evidence.h's evidence_alert_kind).
 *
 * Ids are deterministic: "al:<kind>:<subject>[:<step>]" (hashed past 128
 * bytes), so evaluating twice, after a restart or on two nodes, raises one
 * alert.  An alert is never raised again once it exists; a new occurrence
 * of a cause has a new step (a lone worker's silence is keyed by when it
 * began).
 *
 * Cost: the write hooks (alerts_on_record, alerts_on_sync) only mark the
 * subject a write may change ("order/<id>", "shift/<id>", "task/<id>",
 * "device/<id>", "checkin/<id>") in the store, in the writer's
 * transaction; the evaluator thread reads the marks after the commit,
 * evaluates those subjects, and
 * leaves a durable timer for the next moment a subject's state can change
 * by time alone (a deadline, a round's end, a silence).  Nothing rescans
 * sites.  The alerts are written through engine_push as the server.
 */
#ifndef FS_ALERTS_H
#define FS_ALERTS_H

#include <stdint.h>

#include "protocol/arena.h"
#include "server/core/engine.h"
#include "server/lib/tz.h"

enum alert_kind {
	AK_URGENT_ORDER,
	AK_SLA_WARNING,
	AK_SLA_BREACH,
	AK_PATROL_MISSED,
	AK_LONE_WORKER,
	AK_TASK_OVERDUE,
	AK_SYNC_FAILING,
	AK_TAG_REPLAYED,
	AK_TAG_INVALID,
	AK_BOOT_OVERLAP,
	AK__COUNT
};

/* "urgent_order", ... (schema.c's schema_alert_kinds). */
const char *alerts_kind_name(int kind);
/* "info", "warning" or "critical". */
const char *alerts_severity(int kind);

/* What an alert's text says. */
typedef struct {
	int kind;
	const char *subject;   /* the order, shift, task, device or checkin id */
	const char *title;     /* order/task title; NULL: none */
	const char *category;  /* order category */
	const char *step;      /* "accepted", "on_site", "resolved" */
	const char *who;       /* lone worker: the guard */
	const char *list;      /* patrol: the missed checkpoints, "cp-01, ..." */
	uint32_t n;            /* warn %, round (from 1), minutes, runs */
	const char *from, *to; /* local times ("23:10"), or NULL */
	const char *shift;     /* a checkin's shift */
} alert_facts;

/* The Chinese and English texts of an alert, in the arena (FS_OK or
 * FS_E_UNAVAILABLE). */
int alerts_text(arena *a, const alert_facts *f, char **zh, char **en);

/* The write hooks (server/svc/hooks.c's table).  Cheap: a few keys. */
int alerts_on_record(void *ctx, const write_event *ev);
int alerts_on_sync(void *ctx, store_txn *t, const char *device,
                   const device_info *before, const device_info *after,
                   uint32_t pushed, uint32_t rejected);
/* What alerts_on_sync will read for these devices, named to the store. */
int alerts_prefetch(void *ctx, store_txn *t, const char *const *devices,
                    unsigned n);

/* The evaluator thread: a pass at start (what was marked or came due
 * while the server was down), then after every commit that marked
 * something and whenever a timer comes due; it also looks at the marks
 * every `poll_ms` (0: 1000), since a pull-only sync commits no bucket. */
typedef struct alerts alerts;
int alerts_start(alerts **out, engine *e, tz_db *tz, uint64_t poll_ms);
/* Stop (finishing the pass it is in) and free; safe on NULL.  Before
 * engine_close(). */
void alerts_stop(alerts *al);

#endif
