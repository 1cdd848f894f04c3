/*
 * principal.c — see principal.h.
 */
#include "server/model/principal.h"

#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/record.h"
#include "server/model/records.h"

static const char *const role_names[] = {"guard", "cleaner", "technician",
                                         "supervisor", "admin"};

int role_parse(const char *p, size_t n)
{
	for (int i = 0; i < 5; i++)
		if (strlen(role_names[i]) == n && memcmp(role_names[i], p, n) == 0)
			return i;
	return ROLE_NONE;
}

const char *role_name(int role)
{
	return role >= 0 && role < 5 ? role_names[role] : "none";
}

int principal_of_staff(store_txn *t, arena *a, const char *staff,
                       principal *p)
{
	record r;
	int rc = records_load(t, a, "staff", staff, &r, NULL, NULL);
	if (rc)
		return rc;
	if (rec_true(&r, "_deleted"))
		return FS_E_NOT_FOUND;
	const rfield *act = rec_get(&r, "active");
	if (act && act->val.t == WV_BOOL && !act->val.b)
		return FS_E_UNAUTHORIZED;
	char *role = rec_str(a, &r, "role");
	char *site = rec_str(a, &r, "site");
	if (!role || !site || strlen(site) > FS_ID_MAX)
		return FS_E_UNAUTHORIZED;
	p->role = role_parse(role, strlen(role));
	if (p->role == ROLE_NONE)
		return FS_E_UNAUTHORIZED;
	snprintf(p->staff, sizeof(p->staff), "%s", staff);
	snprintf(p->site, sizeof(p->site), "%s", p->role == ROLE_ADMIN ? "" : site);
	return FS_OK;
}
