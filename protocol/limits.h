/*
 * limits.h — every configurable limit of the wire contract, with its
 * default (protocol/PROTOCOL.md).  Checked before any work is done.
 */
#ifndef FS_LIMITS_H
#define FS_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	size_t body_max;          /* compressed body, 4 MiB */
	size_t inflated_max;      /* after inflate, 32 MiB */
	uint32_t batches_max;     /* per request, 64 */
	uint32_t ops_max;         /* per batch, 5000 */
	uint32_t fields_max;      /* per op, 64 */
	uint32_t value_bytes_max; /* a str or bin, 64 KiB */
	uint32_t value_depth_max; /* arrays/maps inside a field value, 4 */
	size_t blob_max;          /* PUT /v1/blobs, 16 MiB */
	uint32_t pull_limit_default; /* 1000 */
	uint32_t pull_limit_max;     /* 10000 */
	uint64_t max_skew_ms;        /* 300000 */
	uint64_t tombstone_ttl_ms;   /* 30 days */
	uint64_t session_ttl_ms;     /* 7 days */
	uint64_t evidence_window_ms; /* 7 days */
	uint64_t shift_max_ms;       /* a shift's ends - starts, 7 days */
} fs_limits;

/* Fill with the defaults above. */
void fs_limits_default(fs_limits *l);

#endif
