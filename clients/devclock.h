/*
 * devclock.h — the device's clocks as evidence sees them: its own wall
 * clock (uncorrected, possibly wrong), the boot id
 * (/proc/sys/kernel/random/boot_id) and milliseconds since boot
 * (CLOCK_BOOTTIME, which keeps counting in suspend).  Tests and the
 * simulator shift the wall clock, pretend another boot id, or shift the
 * ms-since-boot.
 */
#ifndef FS_CLIENT_DEVCLOCK_H
#define FS_CLIENT_DEVCLOCK_H

#include <stdint.h>

typedef struct {
	int64_t wall_shift_ms;
	int64_t mono_shift_ms;
	char boot[80];
} devclock;

/* Settings given win; 0 / NULL fall back to the environment
 * (FIELDSYNC_CLOCK_OFFSET_MS, FIELDSYNC_BOOT_ID, FIELDSYNC_MONO_SHIFT_MS),
 * then to the real clocks. */
void devclock_init(devclock *d, int64_t wall_shift_ms, const char *boot_id,
                   int64_t mono_shift_ms);
/* The device's own wall clock in ms since 1970 (shifted). */
uint64_t devclock_wall(const devclock *d);
/* Milliseconds since boot (shifted, never below 0). */
uint64_t devclock_mono(const devclock *d);

#endif
