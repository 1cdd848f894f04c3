/*
 * cli.h — what the parts of `fieldsync` share: the parsed command line,
 * output helpers (one-line errors, JSON strings, times in the site's
 * zone) and the handle.  cli.c has the handheld commands and main,
 * admin.c `fieldsync admin`, qr.c the terminal QR code.
 */
#ifndef FS_CLI_H
#define FS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "clients/fieldsync.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define MAX_POS 8
#define MAX_OPTS 48

typedef struct cli {
	const char *val[MAX_OPTS];
	int set[MAX_OPTS];
	const char *pos[MAX_POS];
	int npos;
	int json;
	const char *cmd;
	fs_client *c;
	char home[1024];
} cli;

/* The value of --name ("" for a flag), NULL when not given. */
const char *opt(const cli *x, const char *name);
/* One readable line on stderr (and {"ok": false, ...} with --json);
 * returns code. */
int fail(cli *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* fail() with the handle's last message. */
int lib_fail(cli *x, int rc);
void json_str(FILE *f, const char *s);
/* A time (ms) in the zone set by use_site_zone: "2025-01-31 08:00 CST";
 * "never" for 0. */
void fmt_time(uint64_t ms, char *out, size_t n);
/* Times from now on print in this IANA zone (the site's). */
void use_zone(const char *tz);
/* Open the handheld store in x->home: refuses a home with no store
 * ("no handheld at ...") and a damaged store (with what to do). */
int open_client(cli *x, unsigned attempts, unsigned timeout_ms);

/* `fieldsync admin SUBCOMMAND ...` (admin.c). */
int cmd_admin(cli *x);
/* Print text as a QR code (ECC M) with ANSI colours on f: 0, or -1 when
 * it does not fit a QR code (qr.c). */
int qr_print(FILE *f, const char *text);

#endif
