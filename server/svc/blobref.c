/*
 * blobref.c — see blobref.h.
 */
#include "server/svc/blobref.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 400
#define CLAIMS_MAX 64 /* converted per upload; more wait for the next PUT */

/* The fields that name blobs: a string, or an array of strings. */
static const struct {
	const char *collection, *field;
} photo_fields[] = {
	{"task", "photo"},
	{"order", "photos"},
};

int blobref_is_name(const char *p, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

/* hex \0 kind \0 a [\0 b]; 0 when it does not fit. */
static size_t key_of(char *k, const char *hex, char kind, const char *a,
                     const char *b)
{
	size_t an = strlen(a), bn = b ? strlen(b) + 1 : 0;
	if (67 + an + bn > KEY_MAX)
		return 0;
	memcpy(k, hex, 64);
	k[64] = 0;
	k[65] = kind;
	k[66] = 0;
	memcpy(k + 67, a, an);
	if (b) {
		k[67 + an] = 0;
		memcpy(k + 68 + an, b, bn - 1);
	}
	return 67 + an + bn;
}

static int has(store_txn *t, const char *k, size_t kn)
{
	sv v;
	return kn && store_get(t, ST_BLOBS, sv_of(k, kn), &v) == FS_OK;
}

static int put_key(store_txn *t, const char *k, size_t kn)
{
	if (!kn || has(t, k, kn))
		return FS_OK;
	return store_put(t, ST_BLOBS, sv_of(k, kn), sv_of("", 0));
}

/* ---- may the writer see the blob already? ------------------------------------ */

typedef struct {
	const blobref_writer *w;
	int hit;
} seen_ctx;

static int seen_cb(void *ctx, sv key, sv val)
{
	seen_ctx *x = ctx;
	char bucket[KEY_MAX];
	(void)val;
	if (key.n < 67 || key.n - 67 >= KEY_MAX)
		return SCAN_NEXT;
	memcpy(bucket, (const char *)key.p + 67, key.n - 67);
	bucket[key.n - 67] = 0;
	x->hit = x->w->sees(x->w->ctx, bucket);
	return x->hit ? SCAN_STOP : SCAN_NEXT;
}

static int writer_sees(store_txn *t, const char *hex, const blobref_writer *w)
{
	char k[KEY_MAX];
	if (w->admin || has(t, k, key_of(k, hex, 'u', w->device, NULL)))
		return 1;
	size_t kn = key_of(k, hex, 'b', "", NULL);
	seen_ctx x = {w, 0};
	if (w->sees)
		store_scan(t, ST_BLOBS, sv_of(k, kn), sv_of(k, kn), seen_cb, &x);
	return x.hit;
}

static int note_hash(store_txn *t, const char *p, const char *bucket,
                     const blobref_writer *w)
{
	char hex[65], k[KEY_MAX];
	memcpy(hex, p, 64);
	hex[64] = 0;
	size_t kn = key_of(k, hex, 'b', bucket, NULL);
	if (!kn || has(t, k, kn))
		return FS_OK;
	if (writer_sees(t, hex, w))
		return put_key(t, k, kn);
	return put_key(t, k, key_of(k, hex, 'c', w->device, bucket));
}

static int note_val(store_txn *t, const wval *v, const char *bucket,
                    const blobref_writer *w)
{
	if (v->t == WV_STR && blobref_is_name(v->s.p, v->s.n))
		return note_hash(t, v->s.p, bucket, w);
	if (v->t == WV_ARR)
		for (uint32_t i = 0; i < v->a.n; i++) {
			const wval *e = &v->a.v[i];
			int rc = e->t == WV_STR && blobref_is_name(e->s.p, e->s.n)
			                 ? note_hash(t, e->s.p, bucket, w)
			                 : FS_OK;
			if (rc)
				return rc;
		}
	return FS_OK;
}

int blobref_note(store_txn *t, const char *collection, const record *r,
                 const char *bucket, const blobref_writer *w)
{
	for (size_t i = 0; i < sizeof(photo_fields) / sizeof(photo_fields[0]); i++) {
		if (strcmp(collection, photo_fields[i].collection))
			continue;
		const rfield *f = rec_get(r, photo_fields[i].field);
		int rc = f ? note_val(t, &f->val, bucket, w) : FS_OK;
		if (rc)
			return rc;
	}
	return FS_OK;
}

/* ---- uploads --------------------------------------------------------------- */

typedef struct {
	char keys[CLAIMS_MAX][KEY_MAX];
	size_t kn[CLAIMS_MAX];
	unsigned n;
} claims;

static int claim_cb(void *ctx, sv key, sv val)
{
	claims *c = ctx;
	(void)val;
	if (key.n >= KEY_MAX)
		return SCAN_NEXT;
	memcpy(c->keys[c->n], key.p, key.n);
	c->kn[c->n] = key.n;
	return ++c->n == CLAIMS_MAX ? SCAN_STOP : SCAN_NEXT;
}

int blobref_uploaded(store_txn *t, const char *hex, const char *device)
{
	char k[KEY_MAX];
	int rc = put_key(t, k, key_of(k, hex, 'u', device, NULL));
	if (rc)
		return rc;
	/* this device's claims: hex \0 c \0 device \0 <bucket> */
	size_t kn = key_of(k, hex, 'c', device, "");
	if (!kn)
		return FS_OK;
	claims *c = malloc(sizeof(*c));
	if (!c)
		return FS_E_UNAVAILABLE;
	c->n = 0;
	rc = store_scan(t, ST_BLOBS, sv_of(k, kn), sv_of(k, kn), claim_cb, c);
	rc = rc == SCAN_STOP ? FS_OK : rc;
	for (unsigned i = 0; i < c->n && !rc; i++) {
		const char *bucket = c->keys[i] + kn;
		char b[KEY_MAX], rk[KEY_MAX];
		size_t bn = c->kn[i] - kn;
		memcpy(b, bucket, bn);
		b[bn] = 0;
		if (!(rc = put_key(t, rk, key_of(rk, hex, 'b', b, NULL))))
			rc = store_del(t, ST_BLOBS, sv_of(c->keys[i], c->kn[i]));
	}
	free(c);
	return rc;
}

/* ---- fetching ------------------------------------------------------------------ */

typedef struct {
	char **scope;
	unsigned n;
	int hit;
} vis_ctx;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int vis_cb(void *ctx, sv key, sv val)
{
	vis_ctx *x = ctx;
	(void)val;
	char name[KEY_MAX];
	if (key.n < 67 || key.n - 67 >= KEY_MAX)
		return SCAN_NEXT;
	size_t n = key.n - 67;
	memcpy(name, (const char *)key.p + 67, n);
	name[n] = 0;
	const char *np = name;
	if (bsearch(&np, x->scope, x->n, sizeof(char *), cmp_str))
		x->hit = 1;
	return x->hit ? SCAN_STOP : SCAN_NEXT;
}

int blobref_visible(store_txn *t, const char *hex, const char *device,
                    char **scope, unsigned n)
{
	char k[KEY_MAX];
	if (has(t, k, key_of(k, hex, 'u', device, NULL)))
		return 1;
	size_t kn = key_of(k, hex, 'b', "", NULL);
	vis_ctx x = {scope, n, 0};
	if (n)
		store_scan(t, ST_BLOBS, sv_of(k, kn), sv_of(k, kn), vis_cb, &x);
	return x.hit;
}
