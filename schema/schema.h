/*
 * schema.h — the collections, their fields and types, which bucket a
 * record belongs to, and who may write which field (protocol/PROTOCOL.md,
 * "Write rules").  Data tables only: server/model/policy.c evaluates the
 * grants.
 *
 * A field's `grants` say who may write it.  Role grants (G_ADMIN,
 * G_SUPERVISOR) hold for every record the writer's role covers; the
 * relation grants hold only when the relation between writer and record
 * is true, which the engine decides:
 *   G_SHIFT_STAFF  writer is on the record's shift (task completion)
 *   G_GUARD_OWN    writer is a guard on the checkin's shift, staff == self
 *   G_REPORTER     writer creates a new order of its own site
 *   G_TECH         writer is a technician and the order is assigned to it
 *                  (or unassigned and this op assigns it to itself)
 *   G_LEAD         writer is the lead of the handover's from_shift
 */
#ifndef FS_SCHEMA_H
#define FS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	FT_STR,   /* UTF-8 string */
	FT_ID,    /* string in the id alphabet (valid_id) */
	FT_UINT,  /* non-negative integer (times are ms UTC) */
	FT_INT,   /* any integer */
	FT_NUM,   /* integer or float */
	FT_BOOL,
	FT_ENUM,  /* one of `enums` */
	FT_IDS,   /* array of ids */
	FT_ARR,   /* array of any values */
	FT_ANY    /* any value */
} ftype;

enum {
	G_ADMIN = 1 << 0,
	G_SUPERVISOR = 1 << 1,
	G_SHIFT_STAFF = 1 << 2,
	G_GUARD_OWN = 1 << 3,
	G_REPORTER = 1 << 4,
	G_TECH = 1 << 5,
	G_LEAD = 1 << 6,
	G_SERVER = 1 << 7 /* server-owned: no device writes it */
};
#define G_STAFF (G_ADMIN | G_SUPERVISOR)

typedef struct {
	const char *name;
	ftype type;
	unsigned grants;
	const char *const *enums; /* FT_ENUM: NULL-terminated */
} sfield;

typedef enum {
	BK_SITE_SELF, /* site/<id>            (the site record itself) */
	BK_SITE,      /* site/<f.site> */
	BK_SHIFT,     /* shift/<f.shift> */
	BK_TO_SHIFT,  /* shift/<f.to_shift>   (handover) */
	BK_ORDERS,    /* orders/<f.site> */
	BK_ALERTS     /* alerts/<f.site>      (alerts and webhooks) */
} bucket_kind;

typedef struct {
	const char *name;
	const sfield *fields;
	unsigned nfields;
	bucket_kind bucket;
	const char *bucket_field; /* NULL for BK_SITE_SELF */
	int append_only;          /* evidence: first write wins whole */
	unsigned delete_grants;   /* who may write _deleted */
} scollection;

extern const char *const schema_roles[]; /* guard cleaner technician supervisor admin */
/* The alert rules' kinds (server/svc/alerts.h), NULL-terminated. */
extern const char *const schema_alert_kinds[];

/* The collection by name (p[0..n)), NULL if unknown. */
const scollection *schema_collection(const char *p, size_t n);
/* The field by name, NULL if unknown (does not know _deleted). */
const sfield *schema_field(const scollection *c, const char *p, size_t n);
/* All collections, for documentation and tests. */
const scollection *schema_collections(unsigned *n);

/* Server-filled service levels of orders (protocol/PROTOCOL.md).  One
 * table: category, the deadline field it fills, minutes. */
typedef struct {
	const char *category;
	const char *deadline_field; /* "respond_by" or "resolve_by" */
	const char *checked_field;  /* the time checked against it */
	uint64_t minutes;
} service_level;
/* The level for a category, NULL when it has none. */
const service_level *schema_service_level(const char *category, size_t n);
const service_level *schema_service_levels(unsigned *n);

/* The steps of an order's status, a lattice that only moves forward
 * (protocol/PROTOCOL.md, "Orders"): a move is allowed to a higher rank,
 * and to "cancelled" from an open state by a supervisor or admin. */
typedef struct {
	const char *status;
	unsigned rank;
	const char *at_field; /* the time the step sets once, or NULL */
	int open;             /* cancelling is possible from here */
} order_step;
const order_step *schema_order_step(const char *p, size_t n);
const order_step *schema_order_steps(unsigned *n);

/* Is p[0..n) one of the enum's values? */
int schema_enum_has(const char *const *enums, const char *p, size_t n);

#endif
