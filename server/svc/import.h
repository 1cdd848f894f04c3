/*
 * import.h — set up a site from a spreadsheet (issue 11): staff, zones,
 * checkpoints, routes, rosters and standards from CSV files with a header
 * row, and the same CSV back out.  The columns of each kind, their cells
 * and the rules are in schema/IMPORT.md; a sample file of each kind is
 * in deploy/samples/.
 *
 * An import checks every row before it writes anything: the header (known
 * columns, each once, `id` and the kind's required columns present), each
 * cell (its type, enum, list items), duplicate ids and tags in the file,
 * ids that belong to another site, references (a checkpoint's zone, a
 * route's checkpoints, a roster's staff and route, a standard's zone must
 * be live records of the site), and for a supervisor the staff rules
 * (no admin role, not its own role).  When any row is wrong the whole
 * file is refused with every problem's row and column (up to
 * IMPORT_ISSUES_MAX); otherwise the rows are written in one batch as the
 * importer, each as the fields that differ from the stored record, so
 * importing the same file again writes nothing.  A record the file does
 * not name is left alone.
 */
#ifndef FS_IMPORT_H
#define FS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/wire.h"
#include "server/core/engine.h"
#include "server/lib/csv.h"
#include "server/model/principal.h"

#define IMPORT_BODY_MAX (2u << 20)  /* bytes of one file */
#define IMPORT_ROWS_MAX 5000u       /* data rows (one batch of ops) */
#define IMPORT_COLS_MAX 32u
#define IMPORT_CELL_MAX 8192u
#define IMPORT_ISSUES_MAX 50u

typedef struct {
	uint32_t row, col;   /* 1-based; col 0: the whole row or file */
	const char *column;  /* its header name, or NULL */
	char *msg;
} import_issue;

typedef struct {
	const char *kind;
	uint32_t rows;                 /* data rows */
	uint32_t created, changed, unchanged;
	import_issue *issues;          /* when refused */
	uint32_t nissues, more;        /* more: issues past the cap */
} import_result;

/* The kinds, NULL-terminated: staff zone checkpoint route roster standard. */
extern const char *const import_kinds[];
/* The kind a file name names ("staff.csv", "harbour-staff.csv" -> staff),
 * or NULL. */
const char *import_kind_of_file(const char *path);

/* Import csv[0..n) of `kind` into `site` as p (admin, or supervisor of the
 * site).  FS_OK with the counts; FS_E_BAD_REQUEST with out->issues when
 * any row is wrong (nothing written); FS_E_NOT_FOUND (no such site or
 * kind, *msg), FS_E_FORBIDDEN, FS_E_TOO_LARGE (with an issue), or a store
 * error.  Not from the writer thread. */
int import_csv(engine *e, const principal *p, const char *site,
               const char *kind, const char *csv, size_t n, arena *a,
               import_result *out, const char **msg);

/* The site's live records of `kind` as CSV (the header, then one row per
 * record by id, "\n" line ends): what an import of it would leave as it
 * is.  FS_OK, FS_E_NOT_FOUND (kind or site), or a store error. */
int import_export(engine *e, const char *site, const char *kind,
                  csv_buf *out);

/* The answer of an import as JSON: the counts, or {error, msg, issues}. */
void import_result_json(const import_result *r, int rc, const char *msg,
                        wbuf *out);

#endif
