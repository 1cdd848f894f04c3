/*
 * valid.c — schema-free shape checks on values from the wire.
 */
#include "valid.h"

#include "errors.h"

#define FIELD_NAME_MAX 64

static int id_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
	       c == '-';
}

int valid_id(const char *p, size_t n)
{
	size_t i;

	if (!p || n == 0 || n > FS_ID_MAX)
		return FS_E_BAD_ID;
	for (i = 0; i < n; i++)
		if (!id_char((unsigned char)p[i]))
			return FS_E_BAD_ID;
	return FS_OK;
}

/* Walk v, which sits `depth` containers deep in the field value. */
static int check_value(const wval *v, const fs_limits *l, unsigned depth)
{
	uint32_t i;
	int rc;

	switch (v->t) {
	case WV_STR:
		if (v->s.n > l->value_bytes_max)
			return FS_E_TOO_LARGE;
		if (!utf8_valid(v->s.p, v->s.n))
			return FS_E_BAD_TYPE;
		return FS_OK;
	case WV_BIN:
		if (v->s.n > l->value_bytes_max)
			return FS_E_TOO_LARGE;
		return FS_OK;
	case WV_ARR:
		if (depth + 1 > l->value_depth_max)
			return FS_E_BAD_TYPE;
		for (i = 0; i < v->a.n; i++)
			if ((rc = check_value(&v->a.v[i], l, depth + 1)) != FS_OK)
				return rc;
		return FS_OK;
	case WV_MAP:
		if (depth + 1 > l->value_depth_max)
			return FS_E_BAD_TYPE;
		for (i = 0; i < v->m.n; i++) {
			if (v->m.k[i].t != WV_STR)
				return FS_E_BAD_TYPE;
			if ((rc = check_value(&v->m.k[i], l, depth + 1)) != FS_OK)
				return rc;
			if ((rc = check_value(&v->m.v[i], l, depth + 1)) != FS_OK)
				return rc;
		}
		return FS_OK;
	case WV_NIL:
	case WV_BOOL:
	case WV_INT:
	case WV_UINT:
	case WV_FLOAT:
		return FS_OK;
	}
	return FS_E_BAD_TYPE;
}

int valid_value(const wval *v, const fs_limits *l)
{
	if (!v || !l)
		return FS_E_BAD_TYPE;
	return check_value(v, l, 0);
}

int valid_field_name(const char *p, size_t n)
{
	size_t i;

	if (!p || n == 0 || n > FIELD_NAME_MAX)
		return FS_E_UNKNOWN_FIELD;
	if (p[0] >= '0' && p[0] <= '9')
		return FS_E_UNKNOWN_FIELD;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return FS_E_UNKNOWN_FIELD;
	}
	return FS_OK;
}
