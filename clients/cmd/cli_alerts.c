/*
 * cli_alerts.c — see cli_alerts.h.
 */
#include "clients/cmd/cli_alerts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	char *json;
	char line[900];
	uint64_t raised;
} item;

typedef struct {
	item *v;
	size_t n, cap;
	int all, json, oom;
} listing;

static void when(uint64_t ms, char *out, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&s, &tm);
	strftime(out, n, "%m-%d %H:%M", &tm);
}

static int each_cb(void *ctx, const fs_record *r)
{
	listing *l = ctx;
	uint64_t raised = 0, resolved = 0;
	int is_resolved = fs_rec_u64(r, "resolved_at", &resolved);
	char t[32];

	if (fs_rec_true(r, "_deleted") || (is_resolved && !l->all))
		return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		item *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv) {
			l->oom = 1;
			return 1;
		}
		l->v = nv;
		l->cap = nc;
	}
	item *it = &l->v[l->n];
	memset(it, 0, sizeof(*it));
	fs_rec_u64(r, "raised_at", &raised);
	it->raised = raised;
	if (l->json) {
		it->json = fs_rec_json(r, 0);
		if (!it->json) {
			l->oom = 1;
			return 1;
		}
	} else {
		const char *who = fs_rec_str(r, "acked_by");
		const char *sev = fs_rec_str(r, "severity"), *kind = fs_rec_str(r, "kind");
		const char *zh = fs_rec_str(r, "text_zh"), *en = fs_rec_str(r, "text_en");
		char state[200] = "";
		if (is_resolved)
			strcat(state, "  [resolved]");
		if (who)
			snprintf(state + strlen(state), sizeof(state) - strlen(state),
			         "  [acked by %.120s]", who);
		when(raised, t, sizeof(t));
		snprintf(it->line, sizeof(it->line), "%s  %-8s %-13s %s%s\n    %s\n    %s",
		         t, sev ? sev : "", kind ? kind : "", fs_rec_id(r), state,
		         zh ? zh : "", en ? en : "");
	}
	l->n++;
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	const item *x = a, *y = b;
	return x->raised < y->raised ? 1 : x->raised > y->raised ? -1 : 0;
}

int cli_alerts_list(fs_client *c, FILE *out, int json, int all)
{
	listing l = {NULL, 0, 0, all, json, 0};
	int rc = fs_each(c, "alert", each_cb, &l);

	if (!rc && l.oom)
		rc = FSC_ENOMEM;
	if (!rc) {
		if (l.n)
			qsort(l.v, l.n, sizeof(item), newest_first);
		if (json)
			fputs("{\"ok\":true,\"alerts\":[", out);
		for (size_t i = 0; i < l.n; i++) {
			if (json)
				fprintf(out, "%s%s", i ? "," : "", l.v[i].json);
			else
				fprintf(out, "%s\n", l.v[i].line);
		}
		if (json)
			fputs("]}\n", out);
		else if (!l.n)
			fprintf(out, "no %salerts on this device (sync to fetch them)\n",
			        all ? "" : "open ");
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].json);
	free(l.v);
	return rc;
}

int cli_alerts_ack(fs_client *c, const char *id, fs_write *w)
{
	fs_record *r;
	fs_status st;
	int rc = fs_get(c, "alert", id, &r);

	if (rc)
		return rc;
	fs_record_free(r);
	if ((rc = fs_get_status(c, &st)))
		return rc;
	if (!st.logged_in)
		return FSC_ESTATE;
	fs_field f[2] = {
		{.name = "acked_by", .type = FS_V_STR, .s = st.staff},
		{.name = "acked_at", .type = FS_V_INT, .i = (int64_t)st.now},
	};
	return fs_put(c, "alert", id, f, 2, w);
}
