/*
 * errors.c — names, HTTP statuses and messages of the error codes, made
 * from the one list in errors.h.
 */
#include "errors.h"

static const struct {
	const char *name;
	int status;
	const char *msg;
} err_table[FS_E__COUNT] = {
#define FS_X(n, s, m) { #n, s, m },
	FS_ERROR_LIST(FS_X)
#undef FS_X
};

const char *fs_err_name(int code)
{
	if (code < 0 || code >= FS_E__COUNT)
		return "INTERNAL";
	return err_table[code].name;
}

int fs_err_status(int code)
{
	if (code < 0 || code >= FS_E__COUNT)
		return 500;
	return err_table[code].status;
}

const char *fs_err_msg(int code)
{
	if (code < 0 || code >= FS_E__COUNT)
		return err_table[FS_E_INTERNAL].msg;
	return err_table[code].msg;
}
