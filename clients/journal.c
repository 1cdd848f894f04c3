/*
 * journal.c — see journal.h.
 */
#include "clients/journal.h"
#include "protocol/be64.h"
#include "protocol/zbody.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>



static const uint8_t magic[4] = {'F', 'S', 'J', '1'};

int jr_open(const char *dir, int *fd)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", dir, JR_NAME);
	*fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return *fd < 0 ? errno : 0;
}

void jr_frame(uint8_t *out, const void *payload, size_t n)
{
	memcpy(out, magic, 4);
	be32_put(out + 4, (uint32_t)n);
	be32_put(out + 8, zb_crc32(payload, n));
	memcpy(out + JR_HDR, payload, n);
}

int jr_write(int fd, const void *p, size_t n, int sync)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return sync && fdatasync(fd) ? -1 : 0;
}

int jr_reset(int fd, int sync)
{
	if (ftruncate(fd, 0))
		return -1;
	return sync && fsync(fd) ? -1 : 0;
}

void jr_scan(const uint8_t *p, size_t n,
             void (*cb)(void *ctx, const uint8_t *payload, size_t len),
             void *ctx, uint64_t *skipped)
{
	size_t at = 0;
	uint64_t skip = 0;

	while (at + JR_HDR <= n) {
		uint32_t len = be32_get(p + at + 4);

		if (memcmp(p + at, magic, 4) || len > JR_MAX_FRAME ||
		    len > n - at - JR_HDR ||
		    zb_crc32(p + at + JR_HDR, len) != be32_get(p + at + 8)) {
			at++;
			skip++;
			continue;
		}
		cb(ctx, p + at + JR_HDR, len);
		at += JR_HDR + len;
	}
	if (skipped)
		*skipped = skip + (n - at);
}
