/*
 * schema.c — the collection tables.  See schema.h and SCHEMA.md.
 */
#include "schema/schema.h"

#include <string.h>

const char *const schema_roles[] = {"guard", "cleaner", "technician",
                                    "supervisor", "admin", NULL};
static const char *const e_per[] = {"day", "week", "month", "year", NULL};
static const char *const e_evidence[] = {"none", "photo", "checklist", NULL};
static const char *const e_task_status[] = {"open", "done", "skipped", NULL};
static const char *const e_method[] = {"nfc", "qr", "manual", NULL};
static const char *const e_category[] = {
	"elevator_entrapment", "urgent_water", "urgent_power",
	"repair", "complaint", "incident", NULL};
static const char *const e_order_status[] = {
	"reported", "accepted", "on_site", "resolved", "closed", "cancelled",
	NULL};
static const char *const e_trust[] = {"verified", "corrected", "unverified",
                                      NULL};
const char *const schema_alert_kinds[] = {
	"urgent_order", "sla_warning", "sla_breach", "patrol_missed",
	"lone_worker", "task_overdue", "sync_failing", NULL};
static const char *const e_severity[] = {"info", "warning", "critical", NULL};
static const char *const e_hook_format[] = {"json", "wecom", "dingtalk",
                                            "slack", NULL};

#define F(n, t, g) {n, t, g, NULL}
#define E(n, e, g) {n, FT_ENUM, g, e}
#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

static const sfield f_site[] = {
	F("name", FT_STR, G_ADMIN),
	F("tz", FT_STR, G_ADMIN),
	F("households", FT_UINT, G_ADMIN),
	/* alert rules (server/svc/alerts.h): switches and their settings */
	F("alerts_off", FT_ARR, G_ADMIN),
	F("alert_warn_pct", FT_UINT, G_ADMIN),
	F("lone_worker_min", FT_UINT, G_ADMIN),
	F("sync_fail_runs", FT_UINT, G_ADMIN),
};
static const sfield f_zone[] = {
	F("site", FT_ID, G_STAFF),
	F("name", FT_STR, G_STAFF),
	F("kind", FT_STR, G_STAFF),
};
static const sfield f_checkpoint[] = {
	F("site", FT_ID, G_STAFF), F("zone", FT_ID, G_STAFF),
	F("name", FT_STR, G_STAFF), F("tag", FT_STR, G_STAFF),
	F("lat", FT_NUM, G_STAFF), F("lon", FT_NUM, G_STAFF),
};
static const sfield f_route[] = {
	F("site", FT_ID, G_STAFF), F("name", FT_STR, G_STAFF),
	F("checkpoints", FT_IDS, G_STAFF), F("every_min", FT_UINT, G_STAFF),
	F("grace_min", FT_UINT, G_STAFF),
};
static const sfield f_staff[] = {
	F("site", FT_ID, G_STAFF), F("name", FT_STR, G_STAFF),
	E("role", schema_roles, G_STAFF), F("active", FT_BOOL, G_STAFF),
};
static const sfield f_shift[] = {
	F("site", FT_ID, G_STAFF), E("role", schema_roles, G_STAFF),
	F("starts", FT_UINT, G_STAFF), F("ends", FT_UINT, G_STAFF),
	F("staff", FT_IDS, G_STAFF), F("route", FT_ID, G_STAFF),
	F("lead", FT_ID, G_STAFF), F("post", FT_STR, G_STAFF),
	F("roster", FT_ID, G_STAFF),
};
/* the shifts a site works, generated ahead (server/svc/roster.h) */
static const sfield f_roster[] = {
	F("site", FT_ID, G_STAFF), F("name", FT_STR, G_STAFF),
	E("role", schema_roles, G_STAFF), F("staff", FT_IDS, G_STAFF),
	F("crew", FT_UINT, G_STAFF), F("rotate_days", FT_UINT, G_STAFF),
	F("shifts", FT_ARR, G_STAFF), F("days", FT_ARR, G_STAFF),
	F("route", FT_ID, G_STAFF), F("post", FT_STR, G_STAFF),
	F("valid_from", FT_STR, G_STAFF), F("valid_to", FT_STR, G_STAFF),
};
static const sfield f_standard[] = {
	F("site", FT_ID, G_STAFF), F("zone", FT_ID, G_STAFF),
	F("title", FT_STR, G_STAFF), E("role", schema_roles, G_STAFF),
	E("per", e_per, G_STAFF), F("times", FT_UINT, G_STAFF),
	F("window", FT_ARR, G_STAFF), F("months", FT_ARR, G_STAFF),
	E("evidence", e_evidence, G_STAFF), F("checklist", FT_ARR, G_STAFF),
};
#define TS (G_STAFF | G_SHIFT_STAFF)
static const sfield f_task[] = {
	F("site", FT_ID, G_STAFF), F("shift", FT_ID, G_STAFF),
	F("standard", FT_ID, G_STAFF), F("zone", FT_ID, G_STAFF),
	F("title", FT_STR, G_STAFF), F("due_from", FT_UINT, G_STAFF),
	F("due_to", FT_UINT, G_STAFF), F("assignee", FT_ID, G_STAFF),
	E("status", e_task_status, TS), F("done_at", FT_UINT, TS),
	F("done_by", FT_ID, TS), F("note", FT_STR, TS),
	F("photo", FT_STR, TS), F("checklist_done", FT_ARR, TS),
	F("boot", FT_STR, TS), F("mono", FT_UINT, TS),
	F("done_at_est", FT_UINT, G_SERVER), E("done_trust", e_trust, G_SERVER),
};
#define CK (G_STAFF | G_GUARD_OWN)
static const sfield f_checkin[] = {
	F("site", FT_ID, CK), F("shift", FT_ID, CK), F("route", FT_ID, CK),
	F("checkpoint", FT_ID, CK), F("staff", FT_ID, CK),
	F("at", FT_UINT, CK), F("boot", FT_STR, CK), F("mono", FT_UINT, CK),
	E("method", e_method, CK), F("lat", FT_NUM, CK), F("lon", FT_NUM, CK),
	F("note", FT_STR, CK),
	F("rcv", FT_UINT, G_SERVER), F("skew", FT_INT, G_SERVER),
	F("at_est", FT_UINT, G_SERVER), E("trust", e_trust, G_SERVER),
};
#define RP (G_STAFF | G_REPORTER)
#define RT (G_STAFF | G_REPORTER | G_TECH)
#define TE (G_STAFF | G_TECH)
static const sfield f_order[] = {
	F("site", FT_ID, RP), E("category", e_category, RP),
	F("title", FT_STR, RP), F("detail", FT_STR, RP),
	F("reported_at", FT_UINT, RP), F("reporter", FT_ID, RP),
	F("assignee", FT_ID, TE), E("status", e_order_status, RT),
	F("accepted_at", FT_UINT, TE), F("on_site_at", FT_UINT, TE),
	F("resolved_at", FT_UINT, TE),
	F("respond_by", FT_UINT, G_SERVER), F("resolve_by", FT_UINT, G_SERVER),
	F("photos", FT_ARR, RT), F("note", FT_STR, RT),
	F("boot", FT_STR, RT), F("mono", FT_UINT, RT),
	F("accepted_at_est", FT_UINT, G_SERVER),
	E("accepted_trust", e_trust, G_SERVER),
	F("on_site_at_est", FT_UINT, G_SERVER),
	E("on_site_trust", e_trust, G_SERVER),
	F("resolved_at_est", FT_UINT, G_SERVER),
	E("resolved_trust", e_trust, G_SERVER),
};
#define LD (G_STAFF | G_LEAD)
static const sfield f_handover[] = {
	F("site", FT_ID, LD), F("from_shift", FT_ID, LD),
	F("to_shift", FT_ID, LD), F("by", FT_ID, LD), F("at", FT_UINT, LD),
	F("note", FT_STR, LD), F("open_items", FT_ARR, LD),
};

/* Alerts are written by the server (through the admin's grants: no device
 * but an admin's may write them); a supervisor acknowledges one. */
static const sfield f_alert[] = {
	F("site", FT_ID, G_ADMIN), E("kind", schema_alert_kinds, G_ADMIN),
	F("subject_c", FT_STR, G_ADMIN), F("subject", FT_ID, G_ADMIN),
	F("step", FT_STR, G_ADMIN), F("raised_at", FT_UINT, G_ADMIN),
	E("severity", e_severity, G_ADMIN), F("text_zh", FT_STR, G_ADMIN),
	F("text_en", FT_STR, G_ADMIN), F("resolved_at", FT_UINT, G_ADMIN),
	F("deliveries", FT_ARR, G_ADMIN),
	F("acked_by", FT_ID, G_STAFF), F("acked_at", FT_UINT, G_STAFF),
};
static const sfield f_webhook[] = {
	F("site", FT_ID, G_STAFF), F("url", FT_STR, G_STAFF),
	F("kinds", FT_ARR, G_STAFF), E("format", e_hook_format, G_STAFF),
	F("secret", FT_STR, G_STAFF), F("enabled", FT_BOOL, G_STAFF),
};

static const scollection collections[] = {
	{"alert", f_alert, N(f_alert), BK_ALERTS, "site", 0, G_ADMIN},
	{"checkin", f_checkin, N(f_checkin), BK_SHIFT, "shift", 1, 0},
	{"checkpoint", f_checkpoint, N(f_checkpoint), BK_SITE, "site", 0, G_STAFF},
	{"handover", f_handover, N(f_handover), BK_TO_SHIFT, "to_shift", 0, G_STAFF},
	{"order", f_order, N(f_order), BK_ORDERS, "site", 0, G_STAFF},
	{"roster", f_roster, N(f_roster), BK_SITE, "site", 0, G_STAFF},
	{"route", f_route, N(f_route), BK_SITE, "site", 0, G_STAFF},
	{"shift", f_shift, N(f_shift), BK_SITE, "site", 0, G_STAFF},
	{"site", f_site, N(f_site), BK_SITE_SELF, NULL, 0, G_ADMIN},
	{"staff", f_staff, N(f_staff), BK_SITE, "site", 0, G_STAFF},
	{"standard", f_standard, N(f_standard), BK_SITE, "site", 0, G_STAFF},
	{"task", f_task, N(f_task), BK_SHIFT, "shift", 0, G_STAFF},
	{"webhook", f_webhook, N(f_webhook), BK_ALERTS, "site", 0, G_STAFF},
	{"zone", f_zone, N(f_zone), BK_SITE, "site", 0, G_STAFF},
};

static const service_level levels[] = {
	{"elevator_entrapment", "respond_by", "on_site_at", 5},
	{"urgent_water", "respond_by", "on_site_at", 15},
	{"urgent_power", "respond_by", "on_site_at", 15},
	{"incident", "respond_by", "on_site_at", 15},
	{"complaint", "respond_by", "accepted_at", 24 * 60},
	{"repair", "resolve_by", "resolved_at", 24 * 60},
};

/* The order lattice (protocol/PROTOCOL.md, "Orders"): rank, the time a
 * step sets, whether the order is still open.  closed and cancelled are
 * both ends; cancelled is reached only from an open state. */
static const order_step steps[] = {
	{"reported", 0, NULL, 1},
	{"accepted", 1, "accepted_at", 1},
	{"on_site", 2, "on_site_at", 1},
	{"resolved", 3, "resolved_at", 0},
	{"closed", 4, NULL, 0},
	{"cancelled", 4, NULL, 0},
};

static int name_eq(const char *s, const char *p, size_t n)
{
	return strlen(s) == n && memcmp(s, p, n) == 0;
}

const scollection *schema_collection(const char *p, size_t n)
{
	for (unsigned i = 0; i < N(collections); i++)
		if (name_eq(collections[i].name, p, n))
			return &collections[i];
	return NULL;
}

const sfield *schema_field(const scollection *c, const char *p, size_t n)
{
	for (unsigned i = 0; i < c->nfields; i++)
		if (name_eq(c->fields[i].name, p, n))
			return &c->fields[i];
	return NULL;
}

const scollection *schema_collections(unsigned *n)
{
	*n = N(collections);
	return collections;
}

const service_level *schema_service_level(const char *category, size_t n)
{
	for (unsigned i = 0; i < N(levels); i++)
		if (name_eq(levels[i].category, category, n))
			return &levels[i];
	return NULL;
}

const service_level *schema_service_levels(unsigned *n)
{
	*n = N(levels);
	return levels;
}

const order_step *schema_order_step(const char *p, size_t n)
{
	for (unsigned i = 0; i < N(steps); i++)
		if (name_eq(steps[i].status, p, n))
			return &steps[i];
	return NULL;
}

const order_step *schema_order_steps(unsigned *n)
{
	*n = N(steps);
	return steps;
}

int schema_enum_has(const char *const *enums, const char *p, size_t n)
{
	for (; enums && *enums; enums++)
		if (name_eq(*enums, p, n))
			return 1;
	return 0;
}
