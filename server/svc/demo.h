/*
 * demo.h — the demo property `make run` serves: one site, zones,
 * checkpoints, a patrol route, staff with PIN 1234, today's and
 * tomorrow's shifts, a few tasks and work orders.
 */
#ifndef FS_DEMO_H
#define FS_DEMO_H

#include "server/svc/auth.h"
#include "server/core/engine.h"

/* Load it through the ordinary sync path as the admin.  FS_OK, or an
 * error with a line on stderr.  Loading twice changes nothing new. */
int demo_load(engine *e, const auth_cfg *ac);

#endif
