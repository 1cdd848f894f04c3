/*
 * qr.c — a QR code in the terminal, for `fieldsync admin enroll-code`:
 * encoded by libqrencode (Debian's libqrencode-dev; byte mode, ECC level
 * M, the smallest version that holds the text), drawn with ANSI
 * background colours, two columns per module, with the 4-module quiet
 * zone a scanner needs.
 */
#include <qrencode.h>
#include <string.h>

#include "clients/cmd/cli.h"

#define QUIET 4

static void row(FILE *f, const QRcode *q, int y)
{
	int w = q->width;

	for (int x = -QUIET; x < w + QUIET; x++) {
		int dark = y >= 0 && y < w && x >= 0 && x < w &&
		           (q->data[y * w + x] & 1);

		fputs(dark ? "\033[40m  " : "\033[47m  ", f);
	}
	fputs("\033[0m\n", f);
}

int qr_print(FILE *f, const char *text)
{
	QRcode *q = QRcode_encodeData((int)strlen(text),
	                              (const unsigned char *)text, 0,
	                              QR_ECLEVEL_M);

	if (!q)
		return -1;
	for (int y = -QUIET; y < q->width + QUIET; y++)
		row(f, q, y);
	QRcode_free(q);
	return 0;
}
