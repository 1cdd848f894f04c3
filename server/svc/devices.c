/*
 * devices.c — see devices.h.
 */
#include "server/svc/devices.h"

#include <string.h>

#include "protocol/errors.h"
#include "protocol/valid.h"
#include "server/lib/doc.h"
#include "server/model/policy.h"

static void kv_str(doc *d, const char *k, const char *v)
{
	doc_key(d, k);
	doc_str(d, v);
}

static void kv_u64(doc *d, const char *k, uint64_t v)
{
	doc_key(d, k);
	doc_u64(d, v);
}

/* Boots that claimed uptime another boot overlaps (schema/EVIDENCE.md):
 * how many, and the last one. */
static void write_overlap(doc *d, const device_info *x)
{
	kv_u64(d, "boot_overlaps", x->overlaps);
	doc_key(d, "last_overlap");
	if (!x->overlaps) {
		doc_nil(d);
		return;
	}
	doc_map_n(d, 5);
	kv_str(d, "boot", x->overlap_boot);
	kv_str(d, "reason", "boot_overlap");
	doc_key(d, "claimed_start");
	doc_i64(d, x->overlap_start);
	kv_u64(d, "other_boot_seen", x->overlap_seen);
	kv_u64(d, "found_at", x->overlap_at);
	doc_end(d);
}

static void write_row(doc *d, const device_row *r)
{
	const device_info *x = &r->info;
	doc_map_n(d, 11);
	kv_str(d, "device", r->id);
	kv_str(d, "name", x->name);
	kv_str(d, "staff", x->staff);
	kv_u64(d, "last_sync", x->last_sync);
	doc_key(d, "pending");
	if (x->has_pending)
		doc_u64(d, x->pending);
	else
		doc_nil(d);
	kv_u64(d, "rejected", x->rejected);
	doc_key(d, "skew");
	if (x->has_skew)
		doc_i64(d, x->skew);
	else
		doc_nil(d);
	kv_str(d, "boot", x->boot);
	doc_key(d, "revoked");
	doc_bool(d, x->revoked);
	write_overlap(d, x);
	doc_end(d);
}

int devices_report(engine *e, const principal *p, const char *site, int json,
                   arena *a, wbuf *out, const char **msg)
{
	if (valid_id(site, strlen(site))) {
		*msg = "no such site";
		return FS_E_NOT_FOUND;
	}
	if (!policy_manages_site(p, site)) {
		*msg = "reports are for the site's supervisors and admins";
		return FS_E_FORBIDDEN;
	}
	store_txn *t;
	device_row *rows;
	uint32_t n;
	if (store_begin(engine_store(e), 0, &t)) {
		*msg = NULL;
		return FS_E_UNAVAILABLE;
	}
	int rc = devices_of_site(t, site, a, &rows, &n);
	store_abort(t);
	if (rc) {
		*msg = NULL;
		return rc;
	}
	doc d;
	doc_init(&d, out, json);
	doc_map_n(&d, 3);
	kv_str(&d, "site", site);
	kv_u64(&d, "generated_at", engine_now(e));
	doc_key(&d, "devices");
	doc_arr_n(&d, n);
	for (uint32_t i = 0; i < n; i++)
		write_row(&d, &rows[i]);
	doc_end(&d);
	doc_end(&d);
	if (out->err) {
		*msg = "out of memory";
		return FS_E_UNAVAILABLE;
	}
	return FS_OK;
}
