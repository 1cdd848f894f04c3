/*
 * demo_tags.c — see demo_tags.h.  The keys are the demo's own, fixed and
 * public: never use them on a real tag.
 */
#include "server/svc/demo_tags.h"

#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "server/lib/sun.h"
#include "server/svc/tags.h"

static const int secure[] = {2, 6, 10};
#define NSECURE (sizeof(secure) / sizeof(secure[0]))
/* each tag had been tapped this often before the night */
#define FIRST_COUNTER 40

static int secure_index(int cp)
{
	for (size_t i = 0; i < NSECURE; i++)
		if (secure[i] == cp)
			return (int)i;
	return -1;
}

static void keys_of(int i, tag_keys *k)
{
	static const uint8_t uid[7] = {0x04, 0xD3, 0x3A, 0x52, 0x6B, 0x70, 0x00};
	memcpy(k->uid, uid, 7);
	k->uid[6] = (uint8_t)(0x80 + i);
	for (int j = 0; j < 16; j++) {
		k->meta_key[j] = (uint8_t)(0x10 * i + j);
		k->file_key[j] = (uint8_t)(0xF0 - 0x10 * i + j);
	}
}

int demo_tags_bind(engine *e, int *on)
{
	*on = engine_tag_key(e) != NULL;
	if (!*on)
		return FS_OK;
	for (size_t i = 0; i < NSECURE; i++) {
		tag_keys k;
		char cp[16];
		keys_of((int)i, &k);
		snprintf(cp, sizeof(cp), "cp-%02d", secure[i]);
		int rc = tags_bind(e, cp, &k);
		if (rc)
			return rc;
	}
	return FS_OK;
}

int demo_tags_tap(int cp, int round, char *out, size_t cap)
{
	int i = secure_index(cp);
	if (i < 0)
		return 0;
	tag_keys k;
	keys_of(i, &k);
	sun_picc p;
	memcpy(p.uid, k.uid, 7);
	p.counter = FIRST_COUNTER + (uint32_t)round;
	const uint8_t pad[5] = {(uint8_t)cp, (uint8_t)round, 0x5A, 0xA5, 0x3C};
	if (sun_make(k.meta_key, k.file_key, &p, pad, "https://tags.harbour.example/t?",
	             out, cap))
		return 0;
	return 1;
}
