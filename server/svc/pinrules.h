/*
 * pinrules.h — the PIN rules an admin sets (deploy/OPERATIONS.md, "PIN
 * rules"): a minimum length (--pin-min-length, 4 to 64), and optionally
 * refusing the 100 most common PINs (--pin-refuse-common).  Checked when a
 * PIN is set (POST /v1/admin/staff-pin), never at login: a PIN set before
 * a rule changed keeps working until it is changed.
 */
#ifndef FS_PINRULES_H
#define FS_PINRULES_H

#include <stddef.h>

#define PIN_MIN_DEFAULT 4
#define PIN_MAX 64

typedef struct {
	unsigned min_len;   /* 0: PIN_MIN_DEFAULT */
	int refuse_common;  /* refuse pinrules_common() */
} pin_rules;

/* NULL when `pin` (n bytes) passes the rules, else why not (static). */
const char *pinrules_check(const pin_rules *r, const char *pin, size_t n);
/* 1 when pin is one of the 100 most common PINs. */
int pinrules_common(const char *pin, size_t n);

#endif
