/*
 * blobquota.c — see blobquota.h.
 */
#include "server/svc/blobquota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "server/store/keys.h"

#define DAY_MS (24ULL * 3600 * 1000)
#define KEYN KEY_MAX
#define COLLECT_MAX 256 /* blobs looked at in one write transaction */

static size_t key(char *k, const char *prefix, const char *s)
{
	return key_aux(k, KEYN, prefix, s);
}

/* A be64 counter (0 when absent), or two of them. */
static int get2(store_txn *t, const char *k, size_t kn, uint64_t *a,
                uint64_t *b)
{
	sv v;
	*a = 0;
	if (b)
		*b = 0;
	int rc = store_get(t, ST_AUX, sv_of(k, kn), &v);
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	if (v.n >= 8)
		*a = be64_get((const uint8_t *)v.p);
	if (b && v.n >= 16)
		*b = be64_get((const uint8_t *)v.p + 8);
	return FS_OK;
}

static int put2(store_txn *t, const char *k, size_t kn, uint64_t a,
                const uint64_t *b)
{
	uint8_t v[16];
	be64_put(v, a);
	if (b)
		be64_put(v + 8, *b);
	return store_put(t, ST_AUX, sv_of(k, kn), sv_of(v, b ? 16 : 8));
}

int blobquota_admit(store_txn *t, const blob_quota *q, const principal *p,
                    uint64_t bytes, uint64_t now, unsigned *retry_s,
                    const char **msg)
{
	char k[KEYN];
	size_t kn;
	uint64_t start, used;
	int rc;
	if (p->role == ROLE_ADMIN)
		return FS_OK;
	if (q->device_day_bytes && (kn = key(k, "bqd/", p->device))) {
		if ((rc = get2(t, k, kn, &start, &used)))
			return rc;
		if (start + DAY_MS > now && used + bytes > q->device_day_bytes) {
			*retry_s = (unsigned)((start + DAY_MS - now + 999) / 1000);
			*msg = "this device uploaded its photo quota for the day "
			       "(--blob-device-day-mb)";
			return FS_E_RATE_LIMITED;
		}
	}
	if (q->site_bytes && (kn = key(k, "bqs/", p->site))) {
		if ((rc = get2(t, k, kn, &used, NULL)))
			return rc;
		if (used + bytes > q->site_bytes) {
			*msg = "the site's photo storage quota is full "
			       "(--blob-site-mb)";
			return FS_E_TOO_LARGE;
		}
	}
	return FS_OK;
}

int blobquota_charge(store_txn *t, const principal *p, const char *hex,
                     uint64_t bytes, uint64_t now, int is_new)
{
	char k[KEYN];
	size_t kn;
	uint64_t start, used;
	int rc;
	if (p->role == ROLE_ADMIN || !(kn = key(k, "bqd/", p->device)))
		return FS_OK;
	if ((rc = get2(t, k, kn, &start, &used)))
		return rc;
	if (start + DAY_MS <= now) {
		start = now;
		used = 0;
	}
	used += bytes;
	if ((rc = put2(t, k, kn, start, &used)) || !is_new)
		return rc;
	if (!(kn = key(k, "bqs/", p->site)))
		return FS_OK;
	if ((rc = get2(t, k, kn, &used, NULL)) ||
	    (rc = put2(t, k, kn, used + bytes, NULL)))
		return rc;
	/* the owner entry: bytes, time, site */
	size_t sn = strlen(p->site);
	uint8_t *v = malloc(16 + sn);
	if (!v || !(kn = key(k, "bqo/", hex))) {
		free(v);
		return v ? FS_OK : FS_E_UNAVAILABLE;
	}
	be64_put(v, bytes);
	be64_put(v + 8, now);
	memcpy(v + 16, p->site, sn);
	rc = store_put(t, ST_AUX, sv_of(k, kn), sv_of(v, 16 + sn));
	free(v);
	return rc;
}

/* ---- collection ------------------------------------------------------------ */

typedef struct {
	char hex[65];
	uint64_t bytes;
	char site[FS_ID_MAX + 1];
} orphan;

typedef struct {
	uint64_t before; /* uploaded before this: past the grace */
	orphan *v;
	unsigned n;
} old_scan;

static int old_cb(void *ctx, sv k, sv v)
{
	old_scan *s = ctx;
	if (k.n != 4 + 64 || v.n < 16 || v.n - 16 > FS_ID_MAX)
		return SCAN_NEXT;
	if (be64_get((const uint8_t *)v.p + 8) >= s->before)
		return SCAN_NEXT;
	orphan *o = &s->v[s->n];
	memcpy(o->hex, (const char *)k.p + 4, 64);
	o->hex[64] = 0;
	o->bytes = be64_get((const uint8_t *)v.p);
	memcpy(o->site, (const char *)v.p + 16, v.n - 16);
	o->site[v.n - 16] = 0;
	return ++s->n == COLLECT_MAX ? SCAN_STOP : SCAN_NEXT;
}

/* The ST_BLOBS keys of a blob (blobref.h): any 'b' or 'c' one means a
 * record names it; the others are listed to be deleted with it. */
typedef struct {
	int named;
	char (*keys)[KEYN];
	size_t *kn;
	unsigned n, cap;
} refs_scan;

static int refs_cb(void *ctx, sv k, sv v)
{
	refs_scan *s = ctx;
	(void)v;
	if (k.n < 66)
		return SCAN_NEXT;
	char kind = ((const char *)k.p)[65];
	if (kind == 'b' || kind == 'c') {
		s->named = 1;
		return SCAN_STOP;
	}
	if (s->n == s->cap || k.n > KEYN)
		return SCAN_NEXT; /* left for the next pass */
	memcpy(s->keys[s->n], k.p, k.n);
	s->kn[s->n++] = k.n;
	return SCAN_NEXT;
}

typedef struct {
	const blob_quota *q;
	uint64_t now;
	orphan *v;
	unsigned n;
	int *gone; /* out: 1 for each of v deleted from the store */
} collect_ctx;

/* Delete an orphan's entries unless a record names it (*dropped 0). */
static int drop_one(store_txn *t, const orphan *o, int *dropped)
{
	char k[KEYN], ks[16][KEYN];
	size_t kns[16];
	refs_scan rs = {0, ks, kns, 0, 16};
	*dropped = 0;
	memcpy(k, o->hex, 64);
	k[64] = 0;
	int rc = store_scan(t, ST_BLOBS, sv_of(k, 65), sv_of(k, 65), refs_cb,
	                    &rs);
	if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
		return rc;
	if (rs.named)
		return FS_OK;
	/* uploaders past the 16th keep a key to a file that is gone: a GET
	 * of theirs answers 404, as for any missing blob */
	for (unsigned i = 0; i < rs.n; i++)
		if ((rc = store_del(t, ST_BLOBS, sv_of(ks[i], kns[i]))) &&
		    rc != FS_E_NOT_FOUND)
			return rc;
	size_t kn = key(k, "bqo/", o->hex);
	if ((rc = store_del(t, ST_AUX, sv_of(k, kn))) && rc != FS_E_NOT_FOUND)
		return rc;
	uint64_t used;
	if (!(kn = key(k, "bqs/", o->site)) || (rc = get2(t, k, kn, &used, NULL)))
		return rc;
	*dropped = 1;
	return put2(t, k, kn, used > o->bytes ? used - o->bytes : 0, NULL);
}

static int collect_txn(void *ctx, store_txn *t)
{
	collect_ctx *c = ctx;
	old_scan s = {c->now - c->q->orphan_grace_ms, c->v, 0};
	int rc = store_scan(t, ST_AUX, sv_of("bqo/", 4), sv_of("bqo/", 4),
	                    old_cb, &s);
	if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
		return rc;
	c->n = s.n;
	for (unsigned i = 0; i < s.n; i++)
		if ((rc = drop_one(t, &c->v[i], &c->gone[i])))
			return rc;
	return FS_OK;
}

int blobquota_collect(engine *e, const blob_quota *q, const char *dir,
                      unsigned *removed)
{
	if (removed)
		*removed = 0;
	if (!q->orphan_grace_ms || engine_now(e) < q->orphan_grace_ms)
		return FS_OK;
	orphan *v = calloc(COLLECT_MAX, sizeof(*v));
	int *gone = calloc(COLLECT_MAX, sizeof(*gone));
	if (!v || !gone) {
		free(v);
		free(gone);
		return FS_E_UNAVAILABLE;
	}
	collect_ctx c = {q, engine_now(e), v, 0, gone};
	int rc = engine_write(e, collect_txn, &c);
	/* the files after the commit: a crash between leaves a file no
	 * entry names, never an entry naming a missing file */
	for (unsigned i = 0; !rc && i < c.n; i++) {
		if (!gone[i])
			continue;
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].hex);
		unlink(path);
		if (removed)
			(*removed)++;
	}
	free(v);
	free(gone);
	return rc;
}
