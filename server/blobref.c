/*
 * blobref.c — see blobref.h.
 */
#include "server/blobref.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 300

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

static size_t key_of(char *k, const char *hex, char kind, const char *name,
                     size_t name_n)
{
	if (64 + 4 + name_n > KEY_MAX)
		return 0;
	memcpy(k, hex, 64);
	k[64] = 0;
	k[65] = kind;
	k[66] = 0;
	memcpy(k + 67, name, name_n);
	return 67 + name_n;
}

static int put_ref(store_txn *t, const char *hex, char kind, const char *name)
{
	char k[KEY_MAX];
	size_t kn = key_of(k, hex, kind, name, strlen(name));
	sv v;
	if (!kn)
		return FS_OK; /* cannot be a bucket or device name */
	if (store_get(t, ST_BLOBS, sv_of(k, kn), &v) == FS_OK)
		return FS_OK;
	return store_put(t, ST_BLOBS, sv_of(k, kn), sv_of("", 0));
}

static int note_val(store_txn *t, const wval *v, const char *bucket)
{
	if (v->t == WV_STR && blobref_is_name(v->s.p, v->s.n)) {
		char hex[65];
		memcpy(hex, v->s.p, 64);
		hex[64] = 0;
		return put_ref(t, hex, 'b', bucket);
	}
	if (v->t == WV_ARR)
		for (uint32_t i = 0; i < v->a.n; i++) {
			int rc = v->a.v[i].t == WV_STR ? note_val(t, &v->a.v[i], bucket)
			                               : FS_OK;
			if (rc)
				return rc;
		}
	return FS_OK;
}

int blobref_note(store_txn *t, const char *collection, const record *r,
                 const char *bucket)
{
	for (size_t i = 0; i < sizeof(photo_fields) / sizeof(photo_fields[0]); i++) {
		if (strcmp(collection, photo_fields[i].collection))
			continue;
		const rfield *f = rec_get(r, photo_fields[i].field);
		int rc = f ? note_val(t, &f->val, bucket) : FS_OK;
		if (rc)
			return rc;
	}
	return FS_OK;
}

int blobref_uploaded(store_txn *t, const char *hex, const char *device)
{
	return put_ref(t, hex, 'u', device);
}

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
		return 0;
	size_t n = key.n - 67;
	memcpy(name, (const char *)key.p + 67, n);
	name[n] = 0;
	const char *np = name;
	if (bsearch(&np, x->scope, x->n, sizeof(char *), cmp_str))
		x->hit = 1;
	return x->hit;
}

int blobref_visible(store_txn *t, const char *hex, const char *device,
                    char **scope, unsigned n)
{
	char k[KEY_MAX];
	sv v;
	size_t kn = key_of(k, hex, 'u', device, strlen(device));
	if (kn && store_get(t, ST_BLOBS, sv_of(k, kn), &v) == FS_OK)
		return 1;
	kn = key_of(k, hex, 'b', "", 0);
	vis_ctx x = {scope, n, 0};
	if (n)
		store_scan(t, ST_BLOBS, sv_of(k, kn), sv_of(k, kn), vis_cb, &x);
	return x.hit;
}
