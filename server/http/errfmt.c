/*
 * errfmt.c — the form of error bodies; see errfmt.h.
 */
#include "server/http/errfmt.h"

#include <string.h>

static int names(const char *header, const char *what)
{
	return header && strcasestr(header, what) != NULL;
}

int errfmt_json(const char *accept, const char *content_type)
{
	if (names(accept, "msgpack"))
		return 0;
	if (names(accept, "json"))
		return 1;
	return !names(content_type, "msgpack");
}
