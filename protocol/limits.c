/*
 * limits.c — the defaults of every configurable limit (protocol/PROTOCOL.md 4).
 */
#include "limits.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define DAY_MS ((uint64_t)24 * 60 * 60 * 1000)

void fs_limits_default(fs_limits *l)
{
	l->body_max = 4 * MIB;
	l->inflated_max = 32 * MIB;
	l->batches_max = 64;
	l->ops_max = 5000;
	l->fields_max = 64;
	l->value_bytes_max = 64 * 1024;
	l->value_depth_max = 4;
	l->blob_max = 16 * MIB;
	l->pull_limit_default = 1000;
	l->pull_limit_max = 10000;
	l->max_skew_ms = 300000;
	l->tombstone_ttl_ms = 30 * DAY_MS;
	l->session_ttl_ms = 7 * DAY_MS;
	l->evidence_window_ms = 7 * DAY_MS;
	l->shift_max_ms = 7 * DAY_MS;
}
