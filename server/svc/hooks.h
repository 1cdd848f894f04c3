/*
 * hooks.h — the server's write hooks (server/core/engine.h): what the
 * writer does, inside its transaction, after storing a record and after
 * storing a batch's ack.  The table is in hooks.c, in the order the
 * writer has always done these things; the program (server/main.c)
 * registers it on every engine it opens, and so do the tests and fuzz
 * targets that build one.
 */
#ifndef FS_HOOKS_H
#define FS_HOOKS_H

#include "server/core/engine.h"

/* Register every hook of the table.  FS_OK or FS_E_TOO_LARGE. */
int hooks_register(engine *e);

#endif
