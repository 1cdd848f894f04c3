/*
 * pull.c — one bucket of a pull, in the request's read transaction (which
 * never waits for the writer): the entries after the device's cursor from
 * the bucket index, up to the request's budget, records copied from their
 * stored bytes (protocol/record.h's rec_wire_fs_stored) and removals as
 * `gone` (protocol/PROTOCOL.md, "pull"); with the v2 encoding the
 * records go into one column page instead (protocol/colwire.h; the same
 * stored bytes, referenced until the page is written, inside the read
 * transaction that holds them).
 */
#include <string.h>

#include "protocol/colwire.h"
#include "protocol/errors.h"
#include "server/core/engine_int.h"

typedef struct {
	arena *a;
	wbuf *recs, *gone;
	uint32_t nrecs, ngone;
	uint32_t want;  /* entries to emit */
	uint32_t seen;  /* entries visited (want + 1 means "more") */
	uint64_t last;  /* seq of the last emitted entry */
	int rc;
	cw_enc *cols;   /* v2: the page the records go to (else recs) */
} pull_scan;

static int pull_cb(void *ctx, const store_entry *en)
{
	pull_scan *p = ctx;
	if (p->seen++ >= p->want)
		return SCAN_STOP; /* one past the page: there is more */
	p->last = en->seq;
	if (en->gone) {
		wb_arr(p->gone, 2);
		wb_cstr(p->gone, en->c);
		wb_cstr(p->gone, en->id);
		p->ngone++;
		return SCAN_NEXT;
	}
	if (p->cols) {
		int rc = cw_enc_add_stored(p->cols, en->c, strlen(en->c), en->id,
		                           strlen(en->id), en->val.p, en->val.n);
		if (rc) {
			p->rc = rc == FS_E_UNAVAILABLE ? rc : FS_E_INTERNAL;
			return SCAN_STOP;
		}
		p->nrecs++;
		return SCAN_NEXT;
	}
	wb_map(p->recs, 4);
	wb_cstr(p->recs, "c");
	wb_cstr(p->recs, en->c);
	wb_cstr(p->recs, "id");
	wb_cstr(p->recs, en->id);
	size_t mark = p->recs->n;
	if (!rec_wire_fs_stored(p->recs, en->val.p, en->val.n)) {
		record r;
		rec_init(&r);
		p->recs->n = mark;
		if (rec_decode(p->a, en->val.p, en->val.n, &r)) {
			p->rc = FS_E_INTERNAL;
			return SCAN_STOP;
		}
		rec_wire_fs(p->recs, &r);
	}
	p->nrecs++;
	return SCAN_NEXT;
}

/* v2: the page of the records collected, as `cols`. */
static int put_cols(cw_enc *cols, wbuf *out)
{
	wbuf page;
	wb_init(&page);
	int rc = cw_enc_finish(cols, &page);
	if (!rc) {
		wb_cstr(out, "cols");
		wb_bin(out, page.p, page.n);
	}
	wb_free(&page);
	return rc;
}

int pull_bucket(store_txn *t, arena *a, const char *bucket, uint64_t cursor,
                uint32_t *budget, int enc, wbuf *out)
{
	uint64_t head = 0, floor = 0;
	int rc = store_bucket_info(t, bucket, &head, &floor);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	int reset = cursor > head || (cursor > 0 && cursor < floor);
	if (reset)
		cursor = 0;
	/* records go straight into the answer (no second buffer to grow and
	 * copy), so "recs" comes first and the counts are patched after */
	wbuf gone;
	wb_init(&gone);
	wb_cstr(out, bucket);
	wb_map(out, 5);
	size_t at = 0;
	pull_scan p = {a, out, &gone, 0, 0, *budget, 0, cursor, FS_OK, NULL};
	if (enc == 2 && !(p.cols = cw_enc_new())) {
		wb_free(&gone);
		return FS_E_UNAVAILABLE;
	}
	if (!p.cols) {
		wb_cstr(out, "recs");
		at = wb_arr_later(out);
	}
	/* pull_cb reads one entry past its budget, to know there are more */
	rc = store_bucket_scan_upto(t, bucket, cursor, *budget + 1, pull_cb,
	                            &p);
	if (rc == SCAN_STOP || rc == FS_E_NOT_FOUND)
		rc = FS_OK;
	if (!rc)
		rc = p.rc;
	if (!rc && p.cols)
		rc = put_cols(p.cols, out);
	cw_enc_free(p.cols);
	if (!rc && (out->err || gone.err))
		rc = FS_E_UNAVAILABLE;
	if (!rc) {
		*budget -= p.nrecs + p.ngone;
		if (!p.cols)
			wb_patch(out, at, p.nrecs);
		wb_cstr(out, "gone");
		wb_arr(out, p.ngone);
		wb_raw(out, gone.p, gone.n);
		wb_cstr(out, "cursor");
		wb_u64(out, p.last);
		wb_cstr(out, "more");
		wb_bool(out, p.seen > p.want);
		wb_cstr(out, "reset");
		wb_bool(out, reset);
	}
	wb_free(&gone);
	return rc;
}
