/*
 * hooks.c — see hooks.h.  Each hook adapts one service to the writer's
 * write_event; a hook's error aborts the writer's group.
 */
#include "server/svc/hooks.h"

#include <string.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "server/model/device.h"
#include "server/model/shift.h"
#include "server/store/keys.h"
#include "server/svc/alerts.h"
#include "server/svc/audit.h"
#include "server/svc/blobref.h"
#include "server/svc/maint.h"
#include "server/svc/webhook.h"

/* The shift index (ST_SHIFTS) that scope and the task generator scan. */
static int shift_index(void *ctx, const write_event *ev)
{
	if (strcmp(ev->c, "shift"))
		return FS_OK;
	return shift_index_update(ev->t, ev->a, ev->id, ev->old, ev->nw);
}

/* References from photo fields to blobs (who may fetch them). */
static int blob_refs(void *ctx, const write_event *ev)
{
	blobref_writer w = {ev->session->device,
	                    ev->session->role == ROLE_ADMIN, ev->sees,
	                    ev->sees_ctx};
	return blobref_note(ev->t, ev->c, ev->nw, ev->bucket, &w);
}

/* The server's first receive time of an order: reports show the delay. */
static int order_received(void *ctx, const write_event *ev)
{
	if (ev->old || strcmp(ev->c, "order"))
		return FS_OK;
	char k[KEY_MAX];
	uint8_t b[8];
	size_t kn = key_orcv(k, sizeof(k), ev->id);
	if (!kn)
		return FS_E_BAD_REQUEST;
	be64_put(b, ev->t_recv);
	return store_put(ev->t, ST_AUX, sv_of(k, kn), sv_of(b, 8));
}

/* The audit trail, in the op's own transaction. */
static int audit_entry(void *ctx, const write_event *ev)
{
	return audit_op(ev->t, ev->a, ev->w, ev->session->device, ev->batch,
	                ev->now, ev->c, ev->id, ev->bucket, ev->site, ev->seq,
	                ev->old, ev->nw);
}

/* A deletion: its tombstone is purged after tombstone_ttl. */
static int tombstone(void *ctx, const write_event *ev)
{
	const rfield *del = rec_get(ev->nw, "_deleted");
	if (!del || del->val.t != WV_BOOL || !del->val.b)
		return FS_OK;
	return maint_note_tomb(ev->t, ev->c, ev->id, HLC_WALL(del->st.hlc));
}

/* A staff member deactivated (or deleted): their sessions stop counting
 * for `by` from now on (server/model/device.h). */
static int staff_off(const record *r)
{
	return r && (rec_true(r, "_deleted") ||
	             (rec_get(r, "active") && rec_get(r, "active")->val.t == WV_BOOL &&
	              !rec_get(r, "active")->val.b));
}

static int session_cut(void *ctx, const write_event *ev)
{
	if (strcmp(ev->c, "staff") || !staff_off(ev->nw) || staff_off(ev->old))
		return FS_OK;
	return device_sessions_cut(ev->t, ev->id, ev->now);
}

/* A stored ack: dropped after its ttl. */
static int ack_kept(void *ctx, store_txn *t, sv key, uint64_t t_ms)
{
	return maint_note_ack(t, key, t_ms);
}

static const write_hook table[] = {
	{"shift index", shift_index, NULL, NULL, NULL, NULL},
	{"blob references", blob_refs, NULL, NULL, NULL, NULL},
	{"order receive time", order_received, NULL, NULL, NULL, NULL},
	{"audit", audit_entry, NULL, NULL, NULL, NULL},
	{"tombstones", tombstone, NULL, NULL, NULL, NULL},
	{"session cut", session_cut, NULL, NULL, NULL, NULL},
	{"acks", NULL, ack_kept, NULL, NULL, NULL},
	/* marks what the alert rules must look at again; an alert's own
	 * deliveries are queued with it (svc/alerts.h, svc/webhook.h) */
	{"alerts", alerts_on_record, NULL, NULL, alerts_on_sync,
	 alerts_prefetch},
	{"webhooks", webhook_on_record, NULL, NULL, NULL, NULL},
};

int hooks_register(engine *e)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int rc = engine_add_hook(e, &table[i]);
		if (rc)
			return rc;
	}
	return FS_OK;
}
