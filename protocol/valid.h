/*
 * valid.h — shape checks on values from the wire that need no schema.
 */
#ifndef FS_VALID_H
#define FS_VALID_H

#include <stddef.h>

#include "limits.h"
#include "wire.h"

#define FS_ID_MAX 128

/* FS_OK, or FS_E_BAD_ID unless p[0..n) is 1-128 bytes of [A-Za-z0-9._:-]. */
int valid_id(const char *p, size_t n);
/* A field value: FS_OK; FS_E_BAD_TYPE when nested deeper than
 * l->value_depth_max, a string is not UTF-8, or a map key is not a string;
 * FS_E_TOO_LARGE when a str/bin anywhere inside is over l->value_bytes_max. */
int valid_value(const wval *v, const fs_limits *l);
/* A field name: 1-64 bytes of [a-z0-9_], not starting with a digit
 * (a leading '_' is fine: reserved names like _deleted pass).  FS_OK, or
 * FS_E_UNKNOWN_FIELD. */
int valid_field_name(const char *p, size_t n);

#endif
