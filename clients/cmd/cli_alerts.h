/*
 * cli_alerts.h — `fieldsync alerts`: a supervisor's alerts (the `alert`
 * records of alerts/<site>, schema/SCHEMA.md) from the local store, and
 * acknowledging one (acked_by, acked_at written like any other change).
 */
#ifndef FS_CLI_ALERTS_H
#define FS_CLI_ALERTS_H

#include <stdio.h>

#include "clients/fieldsync.h"

/* Print the open alerts (all of them with `all`), newest first, one line
 * each, or one JSON object {"ok":true,"alerts":[record...]} with json.
 * FSC_OK or an FSC_E* code. */
int cli_alerts_list(fs_client *c, FILE *out, int json, int all);
/* Queue the acknowledgement of alert `id` by the logged-in staff member.
 * FSC_ENOTFOUND when this device has no such alert. */
int cli_alerts_ack(fs_client *c, const char *id, fs_write *w);

#endif
