/*
 * import.c — see import.h and schema/IMPORT.md.
 *
 * One read transaction checks the file (header, cells, ids, references)
 * and keeps each row's stored record; only then are the differences
 * pushed, as one batch, through genpush.h as the importer.
 */
#include "server/svc/import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/errors.h"
#include "protocol/valid.h"
#include "schema/schema.h"
#include "server/lib/json.h"
#include "server/model/policy.h"
#include "server/model/records.h"
#include "server/svc/genpush.h"
#include "server/svc/roster.h"
#include "server/svc/tasks.h"

/* What a cell holds (schema/IMPORT.md, "Cells"). */
typedef enum {
	C_ID,     /* an id */
	C_STR,    /* text as it is */
	C_ENUM,   /* one of the schema field's values */
	C_UINT,   /* 0, 1, 2 ... */
	C_NUM,    /* a decimal number */
	C_BOOL,   /* true / false (yes / no, 1 / 0) */
	C_IDS,    /* ids separated by ';' */
	C_LIST,   /* text items separated by ';' */
	C_SPANS,  /* HH:MM-HH:MM items separated by ';' */
	C_DAYS,   /* mon..sun separated by ';' */
	C_DATE,   /* YYYY-MM-DD */
	C_WINDOW, /* HH:MM-HH:MM, stored as ["HH:MM", "HH:MM"] */
	C_MONTHS  /* 1..12 separated by ';' */
} ctype;

typedef struct {
	const char *name; /* the header, and the field (but for id) */
	ctype t;
	int required;
	const char *ref;  /* ids must name live records of this collection */
} column;

typedef struct {
	const char *kind;
	const column *cols;
	uint32_t n;
} kindspec;

#define COLS(a) a, (uint32_t)(sizeof(a) / sizeof((a)[0]))
static const column k_staff[] = {
	{"id", C_ID, 1, NULL}, {"name", C_STR, 1, NULL},
	{"role", C_ENUM, 1, NULL}, {"active", C_BOOL, 0, NULL},
};
static const column k_zone[] = {
	{"id", C_ID, 1, NULL}, {"name", C_STR, 1, NULL}, {"kind", C_STR, 0, NULL},
};
static const column k_checkpoint[] = {
	{"id", C_ID, 1, NULL}, {"zone", C_ID, 0, "zone"},
	{"name", C_STR, 1, NULL}, {"tag", C_STR, 0, NULL},
	{"lat", C_NUM, 0, NULL}, {"lon", C_NUM, 0, NULL},
};
static const column k_route[] = {
	{"id", C_ID, 1, NULL}, {"name", C_STR, 1, NULL},
	{"checkpoints", C_IDS, 1, "checkpoint"},
	{"every_min", C_UINT, 0, NULL}, {"grace_min", C_UINT, 0, NULL},
};
static const column k_roster[] = {
	{"id", C_ID, 1, NULL}, {"name", C_STR, 0, NULL},
	{"role", C_ENUM, 1, NULL}, {"staff", C_IDS, 0, "staff"},
	{"crew", C_UINT, 0, NULL}, {"rotate_days", C_UINT, 0, NULL},
	{"shifts", C_SPANS, 1, NULL}, {"days", C_DAYS, 0, NULL},
	{"route", C_ID, 0, "route"}, {"post", C_STR, 0, NULL},
	{"valid_from", C_DATE, 0, NULL}, {"valid_to", C_DATE, 0, NULL},
};
static const column k_standard[] = {
	{"id", C_ID, 1, NULL}, {"zone", C_ID, 0, "zone"},
	{"title", C_STR, 1, NULL}, {"role", C_ENUM, 1, NULL},
	{"per", C_ENUM, 1, NULL}, {"times", C_UINT, 0, NULL},
	{"window", C_WINDOW, 0, NULL}, {"months", C_MONTHS, 0, NULL},
	{"evidence", C_ENUM, 0, NULL}, {"checklist", C_LIST, 0, NULL},
};
static const kindspec kinds[] = {
	{"staff", COLS(k_staff)},     {"zone", COLS(k_zone)},
	{"checkpoint", COLS(k_checkpoint)}, {"route", COLS(k_route)},
	{"roster", COLS(k_roster)},   {"standard", COLS(k_standard)},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const char *const import_kinds[] = {"staff", "zone", "checkpoint", "route",
                                    "roster", "standard", NULL};

static const kindspec *kind_get(const char *kind)
{
	for (size_t i = 0; kind && i < NKINDS; i++)
		if (!strcmp(kinds[i].kind, kind))
			return &kinds[i];
	return NULL;
}

const char *import_kind_of_file(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strcspn(base, ".");
	for (size_t i = 0; i < NKINDS; i++) {
		size_t k = strlen(kinds[i].kind);
		/* "staff", or "<anything>-staff" / "<anything>_staff" */
		if (n >= k && !strncmp(base + n - k, kinds[i].kind, k) &&
		    (n == k || base[n - k - 1] == '-' || base[n - k - 1] == '_'))
			return kinds[i].kind;
	}
	return NULL;
}

/* ---- the check ------------------------------------------------------------- */

typedef struct {
	const char *id;
	record cur;      /* as stored */
	int have, deleted;
	gp_field *f;     /* the row's fields, site first */
	uint32_t nf;
	uint32_t row;
} row_plan;

/* The live ids of one collection in the site, sorted. */
typedef struct {
	const char *c;
	char **ids;
	uint32_t n, cap;
	int loaded;
} idset;

typedef struct {
	store_txn *t;
	arena *a;
	const principal *p;
	const char *site, *bucket;
	const kindspec *ks;
	const scollection *sc;
	import_result *out;
	int map[IMPORT_COLS_MAX]; /* header column -> kindspec column */
	uint32_t ncols;
	idset refs[4];            /* zone, checkpoint, staff, route: lazily */
	row_plan *rows;
	uint32_t nrows;
} ictx;

static void issue(ictx *x, uint32_t row, uint32_t col, const char *name,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void issue(ictx *x, uint32_t row, uint32_t col, const char *name,
                  const char *fmt, ...)
{
	import_result *o = x->out;
	if (o->nissues >= IMPORT_ISSUES_MAX) {
		o->more++;
		return;
	}
	if (!o->issues)
		o->issues = arena_calloc(x->a, IMPORT_ISSUES_MAX, sizeof(import_issue));
	if (!o->issues)
		return;
	char buf[240];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	import_issue *is = &o->issues[o->nissues++];
	is->row = row;
	is->col = col;
	is->column = name;
	is->msg = arena_strndup(x->a, buf, strlen(buf));
}

static int id_cb(void *ctx, const char *id, const record *r)
{
	ictx *x = ((void **)ctx)[0];
	idset *s = ((void **)ctx)[1];
	if (arena_grow(x->a, (void **)&s->ids, &s->cap, s->n, s->n + 1,
	               sizeof(char *), 64) ||
	    !(s->ids[s->n] = arena_strndup(x->a, id, strlen(id))))
		return FS_E_UNAVAILABLE;
	s->n++;
	return SCAN_NEXT;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does `id` name a live record of collection c in the site? */
static int ref_ok(ictx *x, const char *c, const char *id, int *rc)
{
	idset *s = NULL;
	for (unsigned i = 0; i < 4 && !s; i++)
		if (x->refs[i].loaded && !strcmp(x->refs[i].c, c))
			s = &x->refs[i];
	for (unsigned i = 0; i < 4 && !s; i++)
		if (!x->refs[i].loaded) {
			s = &x->refs[i];
			s->c = c;
			s->loaded = 1;
			void *pair[2] = {x, s};
			int r = records_in_bucket(x->t, x->a, c, x->bucket, id_cb, pair);
			if (r) {
				*rc = r;
				return 1;
			}
			if (s->n)
				qsort(s->ids, s->n, sizeof(char *), str_cmp);
		}
	if (!s)
		return 1; /* more kinds of reference than slots: not here */
	return s->n && bsearch(&id, s->ids, s->n, sizeof(char *), str_cmp);
}

/* Items of a ';' list, trimmed of spaces; *n items, NULL for none. */
static char **split(arena *a, const char *cell, uint32_t *n)
{
	*n = 0;
	uint32_t cap = 1;
	for (const char *q = cell; *q; q++)
		cap += *q == ';';
	char **v = arena_calloc(a, cap, sizeof(char *));
	if (!v)
		return NULL;
	const char *p = cell;
	for (;;) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *s = p;
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (!(v[(*n)++] = arena_strndup(a, s, len)))
			return NULL;
		if (!e)
			break;
		p = e + 1;
	}
	return v;
}

static wval str_val(arena *a, const char *s)
{
	wval v = wv_of_str(arena_strndup(a, s, strlen(s)));
	return v;
}

static int parse_u64(const char *s, uint64_t *out)
{
	if (!*s || strlen(s) > 15)
		return -1;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* One cell into *v, or an issue (returns -1). */
static int cell_value(ictx *x, const column *c, const char *cell, uint32_t row,
                      uint32_t col, wval *v, int *rc)
{
	arena *a = x->a;
	memset(v, 0, sizeof(*v));
	v->t = WV_NIL;
	if (!*cell) {
		if (c->required) {
			issue(x, row, col, c->name, "%s is required", c->name);
			return -1;
		}
		return 0;
	}
	switch (c->t) {
	case C_ID:
		if (valid_id(cell, strlen(cell))) {
			issue(x, row, col, c->name, "'%.60s' is not an id (1-128 of "
			      "A-Z a-z 0-9 . _ : -)", cell);
			return -1;
		}
		if (c->ref && !ref_ok(x, c->ref, cell, rc)) {
			issue(x, row, col, c->name, "no %s '%.60s' in site %s",
			      c->ref, cell, x->site);
			return -1;
		}
		*v = str_val(a, cell);
		return 0;
	case C_STR:
	case C_DATE: {
		int64_t day;
		if (c->t == C_DATE && roster_date_parse(cell, strlen(cell), &day)) {
			issue(x, row, col, c->name, "'%.60s' is not a date "
			      "YYYY-MM-DD", cell);
			return -1;
		}
		*v = str_val(a, cell);
		return 0;
	}
	case C_ENUM: {
		const sfield *f = schema_field(x->sc, c->name, strlen(c->name));
		if (!schema_enum_has(f->enums, cell, strlen(cell))) {
			char list[160] = "";
			for (const char *const *e = f->enums; *e; e++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list),
				         "%s%s", e == f->enums ? "" : ", ", *e);
			issue(x, row, col, c->name, "'%.40s' is not one of %s", cell,
			      list);
			return -1;
		}
		if (x->p->role != ROLE_ADMIN && !strcmp(x->ks->kind, "staff") &&
		    !strcmp(cell, "admin")) {
			issue(x, row, col, c->name, "a supervisor cannot make an admin");
			return -1;
		}
		*v = str_val(a, cell);
		return 0;
	}
	case C_UINT:
		if (parse_u64(cell, &v->u)) {
			issue(x, row, col, c->name, "'%.40s' is not a whole number "
			      "0 or more", cell);
			return -1;
		}
		v->t = WV_UINT;
		return 0;
	case C_NUM: {
		char *end;
		double d = strtod(cell, &end);
		if (*end || !isfinite(d) || strchr(cell, 'x') || strchr(cell, 'X')) {
			issue(x, row, col, c->name, "'%.40s' is not a number", cell);
			return -1;
		}
		if (!strpbrk(cell, ".eE") && fabs(d) < 9e15) {
			*v = d < 0 ? wv_of_i64((int64_t)d) : wv_of_u64((uint64_t)d);
			return 0;
		}
		v->t = WV_FLOAT;
		v->f = d;
		return 0;
	}
	case C_BOOL: {
		static const char *const yes[] = {"true", "yes", "1"},
		                         *const no[] = {"false", "no", "0"};
		for (int i = 0; i < 3; i++)
			if (!strcasecmp(cell, yes[i]) || !strcasecmp(cell, no[i])) {
				*v = wv_of_bool(!strcasecmp(cell, yes[i]));
				return 0;
			}
		issue(x, row, col, c->name, "'%.40s' is not true or false", cell);
		return -1;
	}
	case C_WINDOW: {
		roster_span sp;
		if (roster_span_parse(cell, strlen(cell), &sp)) {
			issue(x, row, col, c->name, "'%.40s' is not HH:MM-HH:MM", cell);
			return -1;
		}
		v->t = WV_ARR;
		v->a.n = 2;
		v->a.v = arena_calloc(a, 2, sizeof(wval));
		if (!v->a.v)
			return *rc = FS_E_UNAVAILABLE, -1;
		char *s = arena_strndup(a, cell, strlen(cell));
		if (!s)
			return *rc = FS_E_UNAVAILABLE, -1;
		s[5] = 0;
		v->a.v[0] = wv_of_str(s);
		v->a.v[1] = wv_of_str(s + 6);
		return 0;
	}
	default:
		break;
	}
	/* the lists */
	uint32_t n;
	char **items = split(a, cell, &n);
	if (!items)
		return *rc = FS_E_UNAVAILABLE, -1;
	v->t = WV_ARR;
	v->a.n = n;
	v->a.v = arena_calloc(a, n, sizeof(wval));
	if (!v->a.v)
		return *rc = FS_E_UNAVAILABLE, -1;
	for (uint32_t i = 0; i < n; i++) {
		const char *it = items[i];
		roster_span sp;
		uint64_t m;
		int w;
		if (!*it) {
			issue(x, row, col, c->name, "item %u of the list is empty "
			      "(items are separated by ';')", i + 1);
			return -1;
		}
		switch (c->t) {
		case C_IDS:
			if (valid_id(it, strlen(it))) {
				issue(x, row, col, c->name, "'%.60s' is not an id", it);
				return -1;
			}
			if (c->ref && !ref_ok(x, c->ref, it, rc)) {
				issue(x, row, col, c->name, "no %s '%.60s' in site %s",
				      c->ref, it, x->site);
				return -1;
			}
			break;
		case C_SPANS:
			if (roster_span_parse(it, strlen(it), &sp)) {
				issue(x, row, col, c->name, "'%.40s' is not HH:MM-HH:MM",
				      it);
				return -1;
			}
			if (n > ROSTER_SPANS_MAX) {
				issue(x, row, col, c->name, "more than %d shifts",
				      ROSTER_SPANS_MAX);
				return -1;
			}
			break;
		case C_DAYS:
			if ((w = roster_weekday_parse(it, strlen(it))) < 0) {
				issue(x, row, col, c->name, "'%.40s' is not a day "
				      "(mon tue wed thu fri sat sun)", it);
				return -1;
			}
			static const char *const wd[] = {"mon", "tue", "wed", "thu",
			                                 "fri", "sat", "sun"};
			it = wd[w];
			break;
		case C_MONTHS:
			if (parse_u64(it, &m) || m < 1 || m > 12) {
				issue(x, row, col, c->name, "'%.40s' is not a month 1-12",
				      it);
				return -1;
			}
			v->a.v[i] = wv_of_u64(m);
			continue;
		default:
			break;
		}
		v->a.v[i] = wv_of_str(it);
	}
	return 0;
}

static int header(ictx *x, const csv_row *h)
{
	int seen[IMPORT_COLS_MAX] = {0};
	x->ncols = h->n;
	for (uint32_t j = 0; j < h->n; j++) {
		x->map[j] = -1;
		for (uint32_t k = 0; k < x->ks->n; k++)
			if (!strcmp(h->cell[j], x->ks->cols[k].name))
				x->map[j] = (int)k;
		if (x->map[j] < 0) {
			char list[300] = "";
			for (uint32_t k = 0; k < x->ks->n; k++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list),
				         "%s%s", k ? ", " : "", x->ks->cols[k].name);
			issue(x, h->row, j + 1, NULL, "unknown column '%.40s' (a %s "
			      "file has %s)", h->cell[j], x->ks->kind, list);
		} else if (seen[x->map[j]]++) {
			issue(x, h->row, j + 1, h->cell[j], "column %s given twice",
			      h->cell[j]);
		}
	}
	for (uint32_t k = 0; k < x->ks->n; k++)
		if (x->ks->cols[k].required && !seen[k])
			issue(x, h->row, 0, x->ks->cols[k].name,
			      "the header has no %s column", x->ks->cols[k].name);
	return x->out->nissues ? -1 : 0;
}

/* The stored record of row id, and whether it is another site's. */
static int load_cur(ictx *x, row_plan *rp, uint32_t idcol)
{
	char *bucket = NULL;
	int rc = records_load(x->t, x->a, x->ks->kind, rp->id, &rp->cur, &bucket,
	                      NULL);
	if (rc == FS_E_NOT_FOUND)
		return FS_OK;
	if (rc)
		return rc;
	rp->have = 1;
	rp->deleted = rec_true(&rp->cur, "_deleted");
	if (bucket && strcmp(bucket, x->bucket))
		issue(x, rp->row, idcol, "id", "%s '%.60s' belongs to %s, not "
		      "site %s", x->ks->kind, rp->id, bucket, x->site);
	return FS_OK;
}

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const row_plan *)a)->id, ((const row_plan *)b)->id);
}

/* Checkpoint tags: one checkpoint per tag in the site, file and store. */
typedef struct {
	ictx *x;
	char **tags, **ids;
	uint32_t n, cap, cap2;
} tagscan;

static int tag_cb(void *ctx, const char *id, const record *r)
{
	tagscan *ts = ctx;
	ictx *x = ts->x;
	row_plan key = {.id = id};
	if (x->nrows && bsearch(&key, x->rows, x->nrows, sizeof(row_plan), row_cmp))
		return SCAN_NEXT; /* the file says what its tag is */
	char *tag = rec_str(x->a, r, "tag");
	if (!tag || !*tag)
		return SCAN_NEXT;
	if (arena_grow(x->a, (void **)&ts->tags, &ts->cap, ts->n, ts->n + 1,
	               sizeof(char *), 64) ||
	    arena_grow(x->a, (void **)&ts->ids, &ts->cap2, ts->n, ts->n + 1,
	               sizeof(char *), 64) ||
	    !(ts->ids[ts->n] = arena_strndup(x->a, id, strlen(id))))
		return FS_E_UNAVAILABLE;
	ts->tags[ts->n++] = tag;
	return SCAN_NEXT;
}

static int check_tags(ictx *x, uint32_t tagcol)
{
	tagscan ts = {x, NULL, NULL, 0, 0, 0};
	int r = records_in_bucket(x->t, x->a, "checkpoint", x->bucket, tag_cb, &ts);
	if (r)
		return r;
	for (uint32_t i = 0; i < x->nrows; i++) {
		const wval *tv = NULL;
		for (uint32_t k = 0; k < x->rows[i].nf; k++)
			if (!strcmp(x->rows[i].f[k].name, "tag"))
				tv = &x->rows[i].f[k].v;
		if (!tv || tv->t != WV_STR)
			continue;
		for (uint32_t j = 0; j < ts.n; j++)
			if (strlen(ts.tags[j]) == tv->s.n &&
			    !memcmp(ts.tags[j], tv->s.p, tv->s.n))
				issue(x, x->rows[i].row, tagcol, "tag", "tag '%.*s' is "
				      "already checkpoint %s's", (int)tv->s.n, tv->s.p,
				      ts.ids[j]);
		for (uint32_t j = 0; j < i; j++)
			for (uint32_t k = 0; k < x->rows[j].nf; k++)
				if (!strcmp(x->rows[j].f[k].name, "tag") &&
				    wv_equal(&x->rows[j].f[k].v, tv))
					issue(x, x->rows[i].row, tagcol, "tag", "tag '%.*s' "
					      "is also on row %u", (int)tv->s.n, tv->s.p,
					      x->rows[j].row);
	}
	return FS_OK;
}

/* Every row of the table: its id and fields, or issues. */
static int check_rows(ictx *x, const csv_table *tb)
{
	int rc = FS_OK;
	uint32_t idcol = 0, tagcol = 0;
	for (uint32_t j = 0; j < x->ncols; j++) {
		if (!strcmp(x->ks->cols[x->map[j]].name, "id"))
			idcol = j + 1;
		if (!strcmp(x->ks->cols[x->map[j]].name, "tag"))
			tagcol = j + 1;
	}
	x->rows = arena_calloc(x->a, tb->n, sizeof(row_plan));
	if (!x->rows)
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 1; i < tb->n && !rc; i++) {
		const csv_row *cr = &tb->rows[i];
		if (!cr->n)
			continue; /* an empty line */
		if (cr->n != x->ncols) {
			issue(x, cr->row, 0, NULL, "the row has %u cells, the header "
			      "%u", cr->n, x->ncols);
			continue;
		}
		row_plan *rp = &x->rows[x->nrows];
		memset(rp, 0, sizeof(*rp)); /* a bad row before left its slot */
		rp->row = cr->row;
		rp->f = arena_calloc(x->a, x->ncols + 2, sizeof(gp_field));
		if (!rp->f)
			return FS_E_UNAVAILABLE;
		rp->f[rp->nf++] = (gp_field){"site", wv_of_str(x->site)};
		int bad = 0;
		for (uint32_t j = 0; j < x->ncols && !rc; j++) {
			const column *c = &x->ks->cols[x->map[j]];
			wval v;
			if (cell_value(x, c, cr->cell[j], cr->row, j + 1, &v, &rc)) {
				bad = 1;
				continue;
			}
			if (c == &x->ks->cols[0])
				rp->id = cr->cell[j];
			else
				rp->f[rp->nf++] = (gp_field){c->name, v};
		}
		if (!bad && rp->id) {
			x->nrows++;
			rc = load_cur(x, rp, idcol);
		}
	}
	if (rc)
		return rc;
	if (x->nrows)
		qsort(x->rows, x->nrows, sizeof(row_plan), row_cmp);
	for (uint32_t i = 1; i < x->nrows; i++) {
		uint32_t r0 = x->rows[i - 1].row, r1 = x->rows[i].row;
		if (!strcmp(x->rows[i].id, x->rows[i - 1].id))
			issue(x, r0 > r1 ? r0 : r1, idcol, "id", "id '%.60s' is also "
			      "on row %u", x->rows[i].id, r0 < r1 ? r0 : r1);
	}
	/* a supervisor keeps its own role */
	for (uint32_t i = 0; i < x->nrows && x->p->role != ROLE_ADMIN &&
	                     !strcmp(x->ks->kind, "staff"); i++) {
		row_plan *rp = &x->rows[i];
		if (strcmp(rp->id, x->p->staff))
			continue;
		char *was = rp->have ? rec_str(x->a, &rp->cur, "role") : NULL;
		for (uint32_t k = 0; k < rp->nf; k++)
			if (!strcmp(rp->f[k].name, "role") &&
			    !(was && wv_is_str(&rp->f[k].v, was)))
				issue(x, rp->row, 0, "role", "a supervisor cannot change "
				      "its own role");
	}
	if (tagcol)
		rc = check_tags(x, tagcol);
	return rc;
}

static int check_site(ictx *x, const char **msg)
{
	task_site s;
	int rc = tasks_load_site(x->t, x->a, x->site, &s);
	if (rc == FS_E_NOT_FOUND)
		*msg = "no such site";
	return rc;
}

int import_csv(engine *e, const principal *p, const char *site,
               const char *kind, const char *csv, size_t n, arena *a,
               import_result *out, const char **msg)
{
	memset(out, 0, sizeof(*out));
	*msg = NULL;
	ictx x;
	memset(&x, 0, sizeof(x));
	x.a = a;
	x.p = p;
	x.site = site;
	x.out = out;
	x.ks = kind_get(kind);
	if (!x.ks) {
		*msg = "kind is staff, zone, checkpoint, route, roster or standard";
		return FS_E_NOT_FOUND;
	}
	out->kind = x.ks->kind;
	x.sc = schema_collection(kind, strlen(kind));
	if (valid_id(site, strlen(site))) {
		*msg = "no such site";
		return FS_E_NOT_FOUND;
	}
	if (!policy_manages_site(p, site)) {
		*msg = "imports are for the admin and the site's supervisors";
		return FS_E_FORBIDDEN;
	}
	x.bucket = arena_printf(a, "site/%s", site);
	if (!x.bucket)
		return FS_E_UNAVAILABLE;
	/* the size before any work, then the parse with its limits */
	csv_limits lim = {IMPORT_BODY_MAX, IMPORT_ROWS_MAX + 1, IMPORT_COLS_MAX,
	                  IMPORT_CELL_MAX};
	csv_table tb;
	csv_error ce;
	int rc = csv_parse(csv, n, &lim, a, &tb, &ce);
	if (rc == FS_E_BAD_REQUEST || rc == FS_E_TOO_LARGE) {
		issue(&x, ce.row, ce.col, NULL, "%s", ce.msg);
		*msg = rc == FS_E_TOO_LARGE ? "the file is over a limit"
		                            : "the file is not well-formed CSV";
		return rc;
	}
	if (rc)
		return rc;
	if (!tb.n || !tb.rows[0].n) {
		issue(&x, 1, 0, NULL, "no header row");
		*msg = "the file has no header row";
		return FS_E_BAD_REQUEST;
	}
	if ((rc = store_begin(engine_store(e), 0, &x.t)))
		return rc;
	if ((rc = check_site(&x, msg)))
		goto out;
	if (header(&x, &tb.rows[0]) == 0)
		rc = check_rows(&x, &tb);
	if (!rc && out->nissues) {
		rc = FS_E_BAD_REQUEST;
		*msg = "rows are wrong: nothing was imported";
	}
out:
	store_abort(x.t);
	if (rc)
		return rc;
	/* write: one batch of the fields that differ */
	gp_out o;
	memset(&o, 0, sizeof(o));
	o.e = e;
	o.a = a;
	o.per_batch = IMPORT_ROWS_MAX;
	out->rows = x.nrows;
	for (uint32_t i = 0; i < x.nrows && !rc; i++) {
		row_plan *rp = &x.rows[i];
		int live = rp->have && !rp->deleted, wrote;
		if (rp->deleted)
			rp->f[rp->nf++] = (gp_field){"_deleted", wv_of_bool(0)};
		rc = gp_add(&o, x.ks->kind, rp->id, rp->have ? &rp->cur : NULL,
		            rp->f, rp->nf, &wrote);
		if (!wrote)
			out->unchanged++;
		else if (live)
			out->changed++;
		else
			out->created++;
	}
	if (!rc)
		rc = gp_push_all(&o, p, "import");
	if (rc)
		*msg = "the import could not be written";
	gp_free(&o);
	return rc;
}

/* ---- export ------------------------------------------------------------------ */

typedef struct {
	const kindspec *ks;
	csv_buf *out;
} exscan;

/* A number in the fewest digits that read back as the same double. */
static int put_num(csv_buf *b, const wval *v)
{
	char s[40];
	if (v->t == WV_UINT)
		snprintf(s, sizeof(s), "%llu", (unsigned long long)v->u);
	else if (v->t == WV_INT)
		snprintf(s, sizeof(s), "%lld", (long long)v->i);
	else if (v->t == WV_FLOAT) {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(s, sizeof(s), "%.*g", prec, v->f);
			if (strtod(s, NULL) == v->f)
				break;
		}
	} else
		s[0] = 0;
	return csv_put_cell(b, s, strlen(s));
}

/* The cell a stored value makes in a column of type t. */
static int put_value(csv_buf *b, ctype t, const wval *v)
{
	if (!v || v->t == WV_NIL)
		return 0;
	if (v->t == WV_STR)
		return csv_put_cell(b, v->s.p, v->s.n);
	if (v->t == WV_BOOL)
		return csv_put_raw(b, v->b ? "true" : "false", v->b ? 4 : 5);
	if (v->t != WV_ARR)
		return put_num(b, v);
	/* a list: items joined by ';' (a window by '-'), quoted as one cell */
	csv_buf cell = {0};
	const char *sep = t == C_WINDOW ? "-" : ";";
	int rc = 0;
	for (uint32_t i = 0; i < v->a.n && !rc; i++) {
		const wval *it = &v->a.v[i];
		if (i)
			rc = csv_put_raw(&cell, sep, 1);
		if (!rc && it->t == WV_STR)
			rc = csv_put_raw(&cell, it->s.p, it->s.n);
		else if (!rc) {
			csv_buf num = {0};
			rc = put_num(&num, it) || (num.n && csv_put_raw(&cell, num.p, num.n));
			csv_buf_free(&num);
		}
	}
	if (!rc)
		rc = csv_put_cell(b, cell.p ? cell.p : "", cell.n);
	csv_buf_free(&cell);
	return rc;
}

static int export_cb(void *ctx, const char *id, const record *r)
{
	exscan *x = ctx;
	int bad = csv_put_cell(x->out, id, strlen(id));
	for (uint32_t k = 1; k < x->ks->n && !bad; k++) {
		const rfield *f = rec_get(r, x->ks->cols[k].name);
		bad = csv_put_raw(x->out, ",", 1) ||
		      put_value(x->out, x->ks->cols[k].t, f ? &f->val : NULL);
	}
	return bad || csv_put_raw(x->out, "\n", 1) ? FS_E_UNAVAILABLE : SCAN_NEXT;
}

int import_export(engine *e, const char *site, const char *kind, csv_buf *out)
{
	const kindspec *ks = kind_get(kind);
	if (!ks)
		return FS_E_NOT_FOUND;
	arena *a = arena_new(0);
	store_txn *t = NULL;
	int rc = a ? store_begin(engine_store(e), 0, &t) : FS_E_UNAVAILABLE;
	task_site s;
	if (!rc)
		rc = tasks_load_site(t, a, site, &s);
	for (uint32_t k = 0; k < ks->n && !rc; k++)
		if ((k && csv_put_raw(out, ",", 1)) ||
		    csv_put_cell(out, ks->cols[k].name, strlen(ks->cols[k].name)))
			rc = FS_E_UNAVAILABLE;
	if (!rc && csv_put_raw(out, "\n", 1))
		rc = FS_E_UNAVAILABLE;
	exscan x = {ks, out};
	char *bucket = a ? arena_printf(a, "site/%s", site) : NULL;
	if (!rc)
		rc = bucket ? records_in_bucket(t, a, kind, bucket, export_cb, &x)
		            : FS_E_UNAVAILABLE;
	if (t)
		store_abort(t);
	arena_free(a);
	return rc;
}

/* ---- the answer --------------------------------------------------------------- */

void import_result_json(const import_result *r, int rc, const char *msg,
                        wbuf *out)
{
	jwriter w;
	jw_init(&w, out);
	jw_obj(&w);
	if (rc) {
		jw_key(&w, "error");
		jw_str(&w, fs_err_name(rc));
		jw_key(&w, "msg");
		jw_str(&w, msg ? msg : fs_err_msg(rc));
		if (r->nissues) {
			jw_key(&w, "issues");
			jw_arr(&w);
			for (uint32_t i = 0; i < r->nissues; i++) {
				const import_issue *is = &r->issues[i];
				jw_obj(&w);
				jw_key(&w, "row");
				jw_u64(&w, is->row);
				jw_key(&w, "column");
				jw_u64(&w, is->col);
				jw_key(&w, "name");
				jw_str(&w, is->column);
				jw_key(&w, "msg");
				jw_str(&w, is->msg);
				jw_end_obj(&w);
			}
			jw_end_arr(&w);
			jw_key(&w, "more");
			jw_u64(&w, r->more);
		}
	} else {
		jw_key(&w, "kind");
		jw_str(&w, r->kind);
		jw_key(&w, "rows");
		jw_u64(&w, r->rows);
		jw_key(&w, "created");
		jw_u64(&w, r->created);
		jw_key(&w, "changed");
		jw_u64(&w, r->changed);
		jw_key(&w, "unchanged");
		jw_u64(&w, r->unchanged);
	}
	jw_end_obj(&w);
}
