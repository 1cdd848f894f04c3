/*
 * principal.h — who acts: the five roles and the principal a request
 * acts for, and the staff record that makes one (model layer: typed reads
 * over a store transaction, no engine in it).
 */
#ifndef FS_PRINCIPAL_H
#define FS_PRINCIPAL_H

#include <stddef.h>

#include "protocol/arena.h"
#include "protocol/valid.h"
#include "server/store/store.h"

enum role {
	ROLE_GUARD,
	ROLE_CLEANER,
	ROLE_TECHNICIAN,
	ROLE_SUPERVISOR,
	ROLE_ADMIN,
	ROLE_NONE = -1
};
/* "guard" ... "admin"; ROLE_NONE for anything else. */
int role_parse(const char *p, size_t n);
const char *role_name(int role);

/* Who a request acts for. */
typedef struct {
	char device[FS_ID_MAX + 1]; /* the authenticated device: stamps' origin */
	char staff[FS_ID_MAX + 1];
	char site[FS_ID_MAX + 1];   /* "" for admin */
	int role;
} principal;

/* Fill p->staff/site/role from the staff record.  FS_E_NOT_FOUND when
 * there is none, FS_E_UNAUTHORIZED when it is inactive. */
int principal_of_staff(store_txn *t, arena *a, const char *staff,
                       principal *p);

#endif
