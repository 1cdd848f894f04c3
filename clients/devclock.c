/*
 * devclock.c — see devclock.h.
 */
#include "clients/devclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t env_i64(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? strtoll(v, NULL, 10) : 0;
}

static void read_boot_id(char *out, size_t n)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	out[0] = 0;
	if (f) {
		if (fgets(out, (int)n, f))
			out[strcspn(out, "\r\n")] = 0;
		fclose(f);
	}
	if (!out[0])
		snprintf(out, n, "unknown-boot");
}

void devclock_init(devclock *d, int64_t wall_shift_ms, const char *boot_id,
                   int64_t mono_shift_ms)
{
	const char *eb = getenv("FIELDSYNC_BOOT_ID");

	memset(d, 0, sizeof(*d));
	d->wall_shift_ms = wall_shift_ms ? wall_shift_ms
	                                 : env_i64("FIELDSYNC_CLOCK_OFFSET_MS");
	d->mono_shift_ms = mono_shift_ms ? mono_shift_ms
	                                 : env_i64("FIELDSYNC_MONO_SHIFT_MS");
	if (boot_id && *boot_id)
		snprintf(d->boot, sizeof(d->boot), "%s", boot_id);
	else if (eb && *eb)
		snprintf(d->boot, sizeof(d->boot), "%s", eb);
	else
		read_boot_id(d->boot, sizeof(d->boot));
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t devclock_wall(const devclock *d)
{
	int64_t w = clock_ms(CLOCK_REALTIME) + d->wall_shift_ms;

	return w < 0 ? 0 : (uint64_t)w;
}

uint64_t devclock_mono(const devclock *d)
{
	int64_t m = clock_ms(CLOCK_BOOTTIME) + d->mono_shift_ms;

	return m < 0 ? 0 : (uint64_t)m;
}
