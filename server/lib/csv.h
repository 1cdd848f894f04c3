/*
 * csv.h — comma-separated values as spreadsheets write them (RFC 4180,
 * with what real exports add): fields in double quotes may hold commas,
 * line breaks and doubled quotes (""); records end in CRLF, LF or a lone
 * CR; a UTF-8 byte order mark at the start is skipped; the last record
 * may lack its line break.  Strict where a guess would change data: a
 * quote inside an unquoted field, text after a closing quote, a quote
 * never closed, a NUL byte and bytes that are not UTF-8 are errors with
 * the row and column they are in.
 *
 * Rows count records from 1 (the header row is row 1, as a spreadsheet
 * numbers it); an empty line is a record of no cells that keeps its row
 * number.  Columns count from 1.  Limits are checked before the work they
 * bound: the input's size first, then each cell, the cells of a row and
 * the rows as they are read.
 */
#ifndef FS_CSV_H
#define FS_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"

typedef struct {
	size_t bytes_max;   /* the whole input */
	uint32_t rows_max;  /* records, empty lines included */
	uint32_t cols_max;  /* cells in one record */
	size_t cell_max;    /* bytes of one cell, after unquoting */
} csv_limits;

typedef struct {
	char **cell;        /* NUL-terminated, in the arena */
	uint32_t n;         /* 0 for an empty line */
	uint32_t row;       /* 1-based record number */
} csv_row;

typedef struct {
	csv_row *rows;
	uint32_t n;
} csv_table;

/* Where and why parsing stopped. */
typedef struct {
	uint32_t row, col;  /* 1-based; col 0 when it is about no one cell */
	char msg[160];
} csv_error;

/* Parse p[0..n) into `out` (cells in the arena).  FS_OK; FS_E_TOO_LARGE
 * past a limit, FS_E_BAD_REQUEST for malformed input (both with *err
 * filled); FS_E_UNAVAILABLE when out of memory. */
int csv_parse(const char *p, size_t n, const csv_limits *l, arena *a,
              csv_table *out, csv_error *err);

/* Append cell[0..n) to `b`, quoted only when
 * it must be (a comma, quote, CR or LF in it).  Returns 0, or -1 when
 * out of memory. */
typedef struct {
	char *p;
	size_t n, cap;
} csv_buf;
int csv_put_cell(csv_buf *b, const char *cell, size_t n);
/* Append raw bytes: the comma between cells, the "\n" after a row. */
int csv_put_raw(csv_buf *b, const char *s, size_t n);
void csv_buf_free(csv_buf *b);

#endif
