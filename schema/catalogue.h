/*
 * catalogue.h — the default service-standard catalogue a new site starts
 * from: the domain seed's standards (物业服务质量标准, not in the
 * repository) with its blanks filled with common values.  Data only;
 * `fieldsyncd catalogue --data DIR --site S` installs it as `standard`
 * records (server/svc/tasks.h: tasks_install_catalogue), after which every
 * value is the site's to edit.  schema/CATALOGUE.md lists each entry with
 * the seed line it comes from.
 */
#ifndef FS_CATALOGUE_H
#define FS_CATALOGUE_H

#include <stdint.h>

/* months bit m (1-12); 0: every month */
#define CAT_MONTHS(a, b) ((uint16_t)(((1u << ((b) + 1)) - 1) & ~((1u << (a)) - 1)))

typedef struct {
	const char *key;        /* stable part of the standard's id */
	const char *title;      /* English, then the seed's words */
	const char *role;       /* who does it: "cleaner", "technician", "guard" */
	const char *per;        /* "day", "week", "month", "year" */
	uint32_t times;         /* per `per` (the seed's blank, filled) */
	const char *win_from;   /* "HH:MM" local */
	const char *win_to;
	uint16_t months;        /* CAT_MONTHS(5, 10) = May-October; 0 every month */
	const char *evidence;   /* "none", "photo", "checklist" */
	const char *const *checklist; /* NULL-terminated, or NULL */
	const char *zone_kind;  /* the zone kind it applies to, NULL: site-wide */
	unsigned seed_line;     /* 1-based line of the seed file */
	const char *seed_quote; /* words of that line it comes from */
} catalogue_entry;

/* Every entry, in the order of CATALOGUE.md. */
const catalogue_entry *catalogue_entries(unsigned *n);

/* The seed's targets the reports show beside their figures. */
typedef struct {
	const char *name;       /* the report figure it applies to */
	double value;
	const char *rule;       /* "min" (at least) or "max" (below) */
	unsigned seed_line;
	const char *seed_quote;
} catalogue_target;

const catalogue_target *catalogue_targets(unsigned *n);
/* The target by name, NULL if none. */
const catalogue_target *catalogue_target_of(const char *name);

#endif
