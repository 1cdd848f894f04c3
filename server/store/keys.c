/*
 * keys.c — see keys.h.
 */
#include "server/store/keys.h"

#include <string.h>

#include "protocol/be64.h"

/* a \0 b (b given with its length), or 0 when it does not fit. */
static size_t join0(uint8_t *k, size_t cap, const char *a, const void *b,
                    size_t bn)
{
	size_t an = strlen(a);
	if (an + 1 + bn > cap)
		return 0;
	memcpy(k, a, an);
	k[an] = 0;
	memcpy(k + an + 1, b, bn);
	return an + 1 + bn;
}

/* prefix followed by s, or 0 when it does not fit. */
static size_t prefixed(char *k, size_t cap, const char *prefix, const char *s)
{
	size_t pn = strlen(prefix), sn = strlen(s);
	if (pn + sn > cap)
		return 0;
	memcpy(k, prefix, pn);
	memcpy(k + pn, s, sn);
	return pn + sn;
}

size_t key_shift(uint8_t *k, size_t cap, const char *site, uint64_t starts,
                 const char *id)
{
	size_t sn = strlen(site), in = strlen(id);
	if (sn + in + 10 > cap)
		return 0;
	key_shift_from(k, cap, site, starts);
	k[sn + 9] = 0;
	memcpy(k + sn + 10, id, in);
	return sn + 10 + in;
}

size_t key_shift_site(uint8_t *k, size_t cap, const char *site)
{
	return join0(k, cap, site, "", 0);
}

size_t key_shift_from(uint8_t *k, size_t cap, const char *site,
                      uint64_t starts)
{
	size_t sn = strlen(site);
	if (sn + 9 > cap)
		return 0;
	key_shift_site(k, cap, site);
	be64_put(k + sn + 1, starts);
	return sn + 9;
}

int key_shift_parse(sv key, size_t site_n, uint64_t *starts, sv *id)
{
	const uint8_t *p = key.p;
	if (key.n < site_n + 10)
		return 0;
	*starts = be64_get(p + site_n + 1);
	*id = sv_of(p + site_n + 10, key.n - site_n - 10);
	return 1;
}

size_t key_shiftmax(char *k, size_t cap, const char *site)
{
	return prefixed(k, cap, "shiftmax/", site);
}

size_t key_orcv(char *k, size_t cap, const char *order)
{
	return prefixed(k, cap, "orcv/", order);
}

size_t key_bucket(char *k, size_t cap, const char *bucket)
{
	return prefixed(k, cap, KEY_BUCKET_PREFIX, bucket);
}

sv key_bucket_name(sv key)
{
	if (key.n < 2)
		return sv_of(key.p, 0);
	return sv_of((const uint8_t *)key.p + 2, key.n - 2);
}

size_t key_ack(uint8_t *k, size_t cap, const char *device,
               const uint8_t batch[16])
{
	return join0(k, cap, device, batch, 16);
}

size_t key_anchor(char *k, size_t cap, const char *device, const char *boot)
{
	return join0((uint8_t *)k, cap, device, boot, strlen(boot));
}

size_t key_devstaff(char *k, size_t cap, const char *device,
                    const char *staff)
{
	return join0((uint8_t *)k, cap, device, staff, strlen(staff));
}

size_t key_tag(char *k, size_t cap, const char *checkpoint)
{
	return prefixed(k, cap, "tag/", checkpoint);
}

size_t key_tag_uid(char *k, size_t cap, const char *uid_hex)
{
	return prefixed(k, cap, "tagu/", uid_hex);
}

size_t key_tag_counter(char *k, size_t cap, const char *uid_hex)
{
	return prefixed(k, cap, "tagc/", uid_hex);
}

size_t key_fence(char *k, size_t cap, const char *device, const char *boot)
{
	if (cap < 6)
		return 0;
	memcpy(k, "fence/", 6);
	size_t n = join0((uint8_t *)k + 6, cap - 6, device, boot, strlen(boot));
	return n ? n + 6 : 0;
}

size_t key_devstaff_dev(char *k, size_t cap, const char *device)
{
	return join0((uint8_t *)k, cap, device, "", 0);
}

size_t key_scut(char *k, size_t cap, const char *staff)
{
	return prefixed(k, cap, "scut/", staff);
}

size_t key_aux(char *k, size_t cap, const char *prefix, const char *s)
{
	return prefixed(k, cap, prefix, s);
}
