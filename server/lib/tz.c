/*
 * tz.c — see tz.h.  TZif (RFC 8536) versions 1-4 and the POSIX TZ string
 * of the footer; no libc time-zone call.
 */
#include "server/lib/tz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

#define TZ_FILE_MAX (256 * 1024)
#define TZ_NAME_MAX 100
#define TZ_CACHE_MAX 512
#define TZ_TRANS_MAX 65536
#define TZ_ROOT_DEFAULT "/usr/share/zoneinfo"

/* One end of a POSIX DST rule. */
typedef struct {
	char kind;       /* 'M' month.week.day, 'J' Julian 1-365, 'n' 0-365 */
	int m, w, d;     /* 'M' */
	int day;         /* 'J' and 'n' */
	int32_t secs;    /* local time of day of the change (may be <0 or >24h) */
} tz_when;

typedef struct {
	int present;     /* a footer string that parsed */
	int has_dst;
	int32_t std_off; /* seconds east of UTC */
	int32_t dst_off;
	tz_when start, end;
} tz_rule;

struct tz_zone {
	char *name;
	int64_t *trans;  /* transition instants, ascending */
	uint8_t *idx;    /* type index of each transition */
	uint32_t ntrans;
	int32_t *utoff;  /* per type */
	uint32_t ntypes;
	tz_rule rule;
};

typedef struct tz_entry tz_entry;
struct tz_entry {
	char *name;
	tz_zone *z;      /* NULL: the name failed to load (rc) */
	int rc;
	tz_entry *next;
};

struct tz_db {
	char *root;
	pthread_mutex_t mu;
	tz_entry *list;
	unsigned n;
};

/* ---- the civil calendar --------------------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t tz_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

unsigned tz_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0) */
	int64_t w = (days + 3) % 7;
	return (unsigned)(w < 0 ? w + 7 : w);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned tz_days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[12] = {31, 28, 31, 30, 31, 30,
	                                31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12)
		return 0;
	return dm[m - 1] + (m == 2 && is_leap(y));
}

int64_t tz_day_of(int64_t local_ms)
{
	int64_t d = local_ms / TZ_DAY_MS;
	return local_ms % TZ_DAY_MS < 0 ? d - 1 : d;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- POSIX TZ strings ------------------------------------------------------ */

static int parse_num(const char **s, int lo, int hi, int *out)
{
	const char *p = *s;
	int v = 0, n = 0;
	while (*p >= '0' && *p <= '9' && n < 4) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (!n || v < lo || v > hi)
		return -1;
	*s = p;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] in seconds; hours up to max_h. */
static int parse_hms(const char **s, int max_h, int32_t *out)
{
	const char *p = *s;
	int sign = 1, h, m = 0, sec = 0;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (parse_num(&p, 0, max_h, &h))
		return -1;
	if (*p == ':') {
		p++;
		if (parse_num(&p, 0, 59, &m))
			return -1;
		if (*p == ':') {
			p++;
			if (parse_num(&p, 0, 59, &sec))
				return -1;
		}
	}
	*s = p;
	*out = sign * (h * 3600 + m * 60 + sec);
	return 0;
}

static int parse_abbr(const char **s)
{
	const char *p = *s;
	if (*p == '<') {
		p++;
		while (*p && *p != '>')
			p++;
		if (*p != '>')
			return -1;
		*s = p + 1;
		return 0;
	}
	int n = 0;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
		p++;
		n++;
	}
	if (n < 3)
		return -1;
	*s = p;
	return 0;
}

static int parse_when(const char **s, tz_when *w)
{
	const char *p = *s;
	memset(w, 0, sizeof(*w));
	if (*p == 'M') {
		p++;
		w->kind = 'M';
		if (parse_num(&p, 1, 12, &w->m) || *p++ != '.' ||
		    parse_num(&p, 1, 5, &w->w) || *p++ != '.' ||
		    parse_num(&p, 0, 6, &w->d))
			return -1;
	} else if (*p == 'J') {
		p++;
		w->kind = 'J';
		if (parse_num(&p, 1, 365, &w->day))
			return -1;
	} else {
		w->kind = 'n';
		if (parse_num(&p, 0, 365, &w->day))
			return -1;
	}
	w->secs = 2 * 3600;
	if (*p == '/') {
		p++;
		if (parse_hms(&p, 167, &w->secs))
			return -1;
	}
	*s = p;
	return 0;
}

/* The footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or "CST-8".  POSIX
 * offsets are west of UTC; ours are east. */
static int parse_rule(const char *s, tz_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (!*s)
		return 0; /* an empty footer: no rule */
	int32_t off;
	if (parse_abbr(&s) || parse_hms(&s, 24, &off))
		return -1;
	r->std_off = -off;
	r->present = 1;
	if (!*s)
		return 0;
	if (parse_abbr(&s))
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*s && *s != ',') {
		if (parse_hms(&s, 24, &off))
			return -1;
		r->dst_off = -off;
	}
	if (!*s) {
		/* POSIX's default rule (US, 2007) */
		r->start = (tz_when){'M', 3, 2, 0, 0, 7200};
		r->end = (tz_when){'M', 11, 1, 0, 0, 7200};
		return 0;
	}
	if (*s++ != ',' || parse_when(&s, &r->start) || *s++ != ',' ||
	    parse_when(&s, &r->end) || *s)
		return -1;
	return 0;
}

/* Local (as-if-UTC) seconds of midnight of a rule's day in year y. */
static int64_t when_day(const tz_when *w, int64_t y)
{
	int64_t jan1 = tz_days_from_civil(y, 1, 1);
	int64_t days;
	if (w->kind == 'J')
		days = jan1 + w->day - 1 + (is_leap(y) && w->day >= 60);
	else if (w->kind == 'n')
		days = jan1 + w->day;
	else {
		int64_t first = tz_days_from_civil(y, (unsigned)w->m, 1);
		/* weekday with Sunday 0 */
		int wd0 = (int)((tz_weekday(first) + 1) % 7);
		int dom = 1 + (w->d - wd0 + 7) % 7 + (w->w - 1) * 7;
		int dim = (int)tz_days_in_month(y, (unsigned)w->m);
		while (dom > dim)
			dom -= 7;
		days = first + dom - 1;
	}
	return days * 86400;
}

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	int64_t y;
	unsigned m, d;
	tz_civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
	/* the change to DST happens at start.secs of standard time, the
	 * change back at end.secs of DST */
	int64_t start = when_day(&r->start, y) + r->start.secs - r->std_off;
	int64_t end = when_day(&r->end, y) + r->end.secs - r->dst_off;
	int dst = start <= end ? (t >= start && t < end)   /* northern */
	                       : (t < end || t >= start); /* southern */
	return dst ? r->dst_off : r->std_off;
}

/* ---- TZif ------------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	       p[3];
}

static int64_t be64s(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
	uint32_t isut, isstd, leap, time, type, chr;
} tz_counts;

static int read_header(const uint8_t *p, uint64_t n, tz_counts *c, int *ver)
{
	if (n < 44 || memcmp(p, "TZif", 4))
		return -1;
	*ver = p[4] ? p[4] - '0' : 1;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chr = be32(p + 40);
	if (c->time > TZ_TRANS_MAX || c->type == 0 || c->type > 256 ||
	    c->leap > 4096 || c->chr > 4096 || (c->isut && c->isut != c->type) ||
	    (c->isstd && c->isstd != c->type))
		return -1;
	return 0;
}

static uint64_t block_size(const tz_counts *c, unsigned tsz)
{
	return (uint64_t)c->time * tsz + c->time + (uint64_t)c->type * 6 +
	       c->chr + (uint64_t)c->leap * (tsz + 4) + c->isstd + c->isut;
}

void tz_zone_free(tz_zone *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z->idx);
	free(z->utoff);
	free(z);
}

int tz_parse(const uint8_t *p, uint64_t n, const char *name, tz_zone **out)
{
	*out = NULL;
	tz_counts c;
	int ver;
	if (read_header(p, n, &c, &ver))
		return FS_E_BAD_REQUEST;
	unsigned tsz = 4;
	const uint8_t *d = p + 44;
	uint64_t left = n - 44;
	if (ver >= 2) {
		/* skip the 32-bit block, read the 64-bit one */
		uint64_t skip = block_size(&c, 4);
		if (skip > left || read_header(d + skip, left - skip, &c, &ver))
			return FS_E_BAD_REQUEST;
		d += skip + 44;
		left -= skip + 44;
		tsz = 8;
	}
	uint64_t need = block_size(&c, tsz);
	if (need > left)
		return FS_E_BAD_REQUEST;
	tz_zone *z = calloc(1, sizeof(*z));
	if (!z)
		return FS_E_UNAVAILABLE;
	z->name = strdup(name ? name : "");
	z->ntrans = c.time;
	z->ntypes = c.type;
	z->trans = calloc(c.time ? c.time : 1, sizeof(int64_t));
	z->idx = calloc(c.time ? c.time : 1, 1);
	z->utoff = calloc(c.type, sizeof(int32_t));
	int rc = FS_E_BAD_REQUEST;
	if (!z->name || !z->trans || !z->idx || !z->utoff) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	const uint8_t *tp = d, *ip = d + (uint64_t)c.time * tsz,
	              *ty = ip + c.time;
	for (uint32_t i = 0; i < c.time; i++) {
		z->trans[i] = tsz == 8 ? be64s(tp + 8 * i)
		                       : (int64_t)(int32_t)be32(tp + 4 * i);
		if (i && z->trans[i] <= z->trans[i - 1])
			goto out;
		z->idx[i] = ip[i];
		if (ip[i] >= c.type)
			goto out;
	}
	for (uint32_t i = 0; i < c.type; i++) {
		int32_t off = (int32_t)be32(ty + 6 * i);
		if (off < -25 * 3600 || off > 26 * 3600)
			goto out;
		z->utoff[i] = off;
	}
	/* the footer: "\n<TZ string>\n" */
	if (ver >= 2) {
		const uint8_t *f = d + need;
		uint64_t fl = left - need;
		if (fl >= 2 && f[0] == '\n') {
			const uint8_t *nl = memchr(f + 1, '\n', fl - 1);
			char s[128];
			size_t sl = nl ? (size_t)(nl - f - 1) : 0;
			if (nl && sl < sizeof(s)) {
				memcpy(s, f + 1, sl);
				s[sl] = 0;
				if (parse_rule(s, &z->rule))
					memset(&z->rule, 0, sizeof(z->rule));
			}
		}
	}
	rc = FS_OK;
out:
	if (rc) {
		tz_zone_free(z);
		return rc;
	}
	*out = z;
	return FS_OK;
}

const char *tz_name(const tz_zone *z)
{
	return z->name;
}

int32_t tz_offset(const tz_zone *z, int64_t t)
{
	if (z->ntrans == 0)
		return z->rule.present ? rule_offset(&z->rule, t) : z->utoff[0];
	if (t < z->trans[0])
		return z->utoff[0];
	if (t >= z->trans[z->ntrans - 1] && z->rule.present)
		return rule_offset(&z->rule, t);
	/* the last transition at or before t */
	uint32_t lo = 0, hi = z->ntrans;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->utoff[z->idx[lo]];
}

int64_t tz_utc_to_local_ms(const tz_zone *z, int64_t utc_ms)
{
	return utc_ms + (int64_t)tz_offset(z, floor_div(utc_ms, 1000)) * 1000;
}

int64_t tz_local_to_utc_ms(const tz_zone *z, int64_t local_ms)
{
	int64_t ls = floor_div(local_ms, 1000), frac = local_ms - ls * 1000;
	/* the offsets a day before and a day after bracket any change near
	 * this local time (zones change at most once a day) */
	int32_t o1 = tz_offset(z, ls - 86400);
	int32_t o2 = tz_offset(z, ls + 86400);
	int64_t t1 = ls - o1, t2 = ls - o2;
	int ok1 = tz_offset(z, t1) == o1, ok2 = tz_offset(z, t2) == o2;
	if (ok1 && ok2)
		return (t1 < t2 ? t1 : t2) * 1000 + frac;
	if (ok1)
		return t1 * 1000 + frac;
	if (ok2)
		return t2 * 1000 + frac;
	/* a gap: the first instant whose offset is the later one, between
	 * the two readings */
	int64_t lo = t1 < t2 ? t1 : t2, hi = t1 < t2 ? t2 : t1;
	if (tz_offset(z, hi) != o2)
		return hi * 1000; /* not a simple change: never in real zones */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (tz_offset(z, mid) == o2)
			hi = mid;
		else
			lo = mid;
	}
	return hi * 1000;
}

/* ---- the cache --------------------------------------------------------------- */

int tz_db_open(tz_db **out, const char *root)
{
	*out = NULL;
	tz_db *db = calloc(1, sizeof(*db));
	if (!db)
		return FS_E_UNAVAILABLE;
	db->root = strdup(root ? root : TZ_ROOT_DEFAULT);
	if (!db->root) {
		free(db);
		return FS_E_UNAVAILABLE;
	}
	pthread_mutex_init(&db->mu, NULL);
	*out = db;
	return FS_OK;
}

void tz_db_close(tz_db *db)
{
	if (!db)
		return;
	tz_entry *e = db->list;
	while (e) {
		tz_entry *nx = e->next;
		tz_zone_free(e->z);
		free(e->name);
		free(e);
		e = nx;
	}
	pthread_mutex_destroy(&db->mu);
	free(db->root);
	free(db);
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TZ_NAME_MAX || s[0] == '/' || s[n - 1] == '/')
		return 0;
	const char *seg = s;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '/' || c == 0) {
			size_t sl = (size_t)(s + i - seg);
			if (sl == 0 || seg[0] == '.')
				return 0; /* "", ".", "..", hidden files */
			seg = s + i + 1;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

static int load_file(const char *root, const char *name, tz_zone **out)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return FS_E_NOT_FOUND;
	uint8_t *buf = malloc(TZ_FILE_MAX);
	if (!buf) {
		fclose(f);
		return FS_E_UNAVAILABLE;
	}
	size_t n = fread(buf, 1, TZ_FILE_MAX, f);
	fclose(f);
	int rc = n == TZ_FILE_MAX ? FS_E_NOT_FOUND
	                          : tz_parse(buf, n, name, out);
	free(buf);
	return rc == FS_E_BAD_REQUEST ? FS_E_NOT_FOUND : rc;
}

int tz_get(tz_db *db, const char *name, const tz_zone **out)
{
	*out = NULL;
	if (!name || !name_ok(name))
		return FS_E_BAD_REQUEST;
	pthread_mutex_lock(&db->mu);
	int rc;
	for (tz_entry *e = db->list; e; e = e->next)
		if (!strcmp(e->name, name)) {
			*out = e->z;
			rc = e->rc;
			goto out;
		}
	if (db->n >= TZ_CACHE_MAX) {
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	/* loading under the lock: a zone loads once, in well under 1 ms */
	tz_zone *z = NULL;
	rc = load_file(db->root, name, &z);
	if (rc == FS_E_UNAVAILABLE)
		goto out; /* out of memory: do not remember it */
	tz_entry *e = calloc(1, sizeof(*e));
	char *nm = strdup(name);
	if (!e || !nm) {
		free(e);
		free(nm);
		tz_zone_free(z);
		rc = FS_E_UNAVAILABLE;
		goto out;
	}
	e->name = nm;
	e->z = z;
	e->rc = rc;
	e->next = db->list;
	db->list = e;
	db->n++;
	*out = z;
out:
	pthread_mutex_unlock(&db->mu);
	return rc;
}
