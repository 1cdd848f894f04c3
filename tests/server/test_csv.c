/* test_csv.c — server/lib/csv.h: quoted fields with commas, line breaks
 * and doubled quotes; CRLF, LF and CR line ends; a UTF-8 byte order mark;
 * empty lines and a last record without a line break; every malformed
 * input refused with its row and column; each limit refused before the
 * work it bounds; the writer quotes only what must be and reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/lib/csv.h"

static const csv_limits LIM = {1 << 20, 1000, 64, 4096};

static int parse(arena *a, const char *s, csv_table *t, csv_error *e)
{
	return csv_parse(s, strlen(s), &LIM, a, t, e);
}

static void test_quoting_and_line_ends(void **st)
{
	arena *a = arena_new(0);
	csv_table t;
	csv_error e;
	const char *in = "\xEF\xBB\xBFid,name,note\r\n"
	                 "a,\"Lobby, north\",\"say \"\"hi\"\"\"\r\n"
	                 "b,\"two\r\nlines\",\n"
	                 "\n"
	                 "c,,\"\"\r"
	                 "d,\xE5\x8C\x97,x";
	assert_int_equal(parse(a, in, &t, &e), FS_OK);
	assert_int_equal(t.n, 6);
	assert_int_equal(t.rows[0].n, 3);
	assert_string_equal(t.rows[0].cell[0], "id"); /* the BOM is gone */
	assert_string_equal(t.rows[1].cell[1], "Lobby, north");
	assert_string_equal(t.rows[1].cell[2], "say \"hi\"");
	assert_string_equal(t.rows[2].cell[1], "two\r\nlines");
	assert_string_equal(t.rows[2].cell[2], "");
	assert_int_equal(t.rows[2].n, 3);
	assert_int_equal(t.rows[3].n, 0); /* an empty line keeps its number */
	assert_int_equal(t.rows[3].row, 4);
	assert_int_equal(t.rows[4].row, 5);
	assert_string_equal(t.rows[4].cell[1], "");
	assert_string_equal(t.rows[4].cell[2], "");
	assert_int_equal(t.rows[5].n, 3); /* no line break at the end */
	assert_string_equal(t.rows[5].cell[1], "\xE5\x8C\x97");
	assert_string_equal(t.rows[5].cell[2], "x");
	/* a trailing line break adds no record; an empty input has none */
	assert_int_equal(parse(a, "a,b\n", &t, &e), FS_OK);
	assert_int_equal(t.n, 1);
	assert_int_equal(parse(a, "", &t, &e), FS_OK);
	assert_int_equal(t.n, 0);
	arena_free(a);
}

static void expect_err(const char *in, size_t n, int code, uint32_t row,
                       uint32_t col, const char *part)
{
	arena *a = arena_new(0);
	csv_table t;
	csv_error e;
	assert_int_equal(csv_parse(in, n, &LIM, a, &t, &e), code);
	assert_int_equal(e.row, row);
	assert_int_equal(e.col, col);
	if (!strstr(e.msg, part))
		fail_msg("'%s' does not say '%s'", e.msg, part);
	arena_free(a);
}

static void test_malformed(void **st)
{
	const char *s;
	s = "id,name\nx,\"open\ny,z\n";
	expect_err(s, strlen(s), FS_E_BAD_REQUEST, 2, 2, "never closed");
	s = "id,name\nx,\"a\"b\n";
	expect_err(s, strlen(s), FS_E_BAD_REQUEST, 2, 2, "after a closing quote");
	s = "id,name\nx,y\nx,a\"b\n";
	expect_err(s, strlen(s), FS_E_BAD_REQUEST, 3, 2, "quote inside");
	s = "id,name\nx,caf\xE9\n"; /* Latin-1 */
	expect_err(s, strlen(s), FS_E_BAD_REQUEST, 2, 2, "not UTF-8");
	s = "id,name\nx,\xED\xA0\x80\n"; /* a surrogate */
	expect_err(s, strlen(s), FS_E_BAD_REQUEST, 2, 2, "not UTF-8");
	s = "id,name\nx,\xC0\xAF\n"; /* overlong */
	expect_err(s, strlen(s), FS_E_BAD_REQUEST, 2, 2, "not UTF-8");
	s = "id,name\nx,\xE5\x8C"; /* cut short at the end */
	expect_err(s, strlen(s), FS_E_BAD_REQUEST, 2, 2, "not UTF-8");
	expect_err("a,b\x00z\n", 6, FS_E_BAD_REQUEST, 1, 2, "NUL");
}

static void test_limits(void **st)
{
	arena *a = arena_new(0);
	csv_table t;
	csv_error e;
	csv_limits l = {16, 3, 2, 4};
	/* the size is checked first: not one byte read */
	assert_int_equal(csv_parse("\"", 17, &l, a, &t, &e), FS_E_TOO_LARGE);
	assert_int_equal(e.row, 0);
	assert_int_equal(csv_parse("a,b,c\n", 6, &l, a, &t, &e), FS_E_TOO_LARGE);
	assert_int_equal(e.col, 3);
	assert_int_equal(csv_parse("abcde\n", 6, &l, a, &t, &e), FS_E_TOO_LARGE);
	assert_int_equal(csv_parse("\"abcde\"\n", 8, &l, a, &t, &e), FS_E_TOO_LARGE);
	assert_int_equal(csv_parse("\"ab\"\"c\"\n", 8, &l, a, &t, &e), FS_OK);
	assert_string_equal(t.rows[0].cell[0], "ab\"c");
	assert_int_equal(csv_parse("a\nb\nc\nd\n", 8, &l, a, &t, &e), FS_E_TOO_LARGE);
	assert_int_equal(e.row, 4);
	assert_int_equal(csv_parse("a\nb\nc\n", 6, &l, a, &t, &e), FS_OK);
	arena_free(a);
}

static void test_writer_round_trip(void **st)
{
	const char *cells[] = {"plain", "a,b", "say \"hi\"", "two\nlines",
	                       "", "\xE5\x8C\x97", " spaced "};
	csv_buf b = {0};
	for (int i = 0; i < 7; i++) {
		if (i)
			assert_int_equal(csv_put_raw(&b, ",", 1), 0);
		assert_int_equal(csv_put_cell(&b, cells[i], strlen(cells[i])), 0);
	}
	assert_int_equal(csv_put_raw(&b, "\n", 1), 0);
	assert_string_equal(b.p, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\","
	                         ",\xE5\x8C\x97, spaced \n");
	arena *a = arena_new(0);
	csv_table t;
	csv_error e;
	assert_int_equal(csv_parse(b.p, b.n, &LIM, a, &t, &e), FS_OK);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.rows[0].n, 7);
	for (int i = 0; i < 7; i++)
		assert_string_equal(t.rows[0].cell[i], cells[i]);
	arena_free(a);
	csv_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting_and_line_ends),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_writer_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
