/*
 * alerts.c — see alerts.h.
 *
 * Keys (ST_AUX), owned here:
 *   "al/q/" subject                   -> 16 bytes: a mark (nonce, counter)
 *   "al/t/" be64(due) subject         -> "" : look at subject at `due`
 *   "al/o/" subject \0 alert          -> "" : the subject's open alerts
 *   "al/w/" device \0 shift           -> "" : a sync of `device` may
 *                                        change `shift` (one-shot watch)
 *   "al/f/" device                    -> be64(runs) be64(since): syncs in
 *                                        a row with rejected changes
 * A mark's value is unique, so the evaluator deletes a mark only when it
 * is still the one it read (a write marking it again meanwhile keeps it).
 */
#include "server/svc/alerts.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/hlc.h"
#include "protocol/opbuild.h"
#include "protocol/valid.h"
#include "schema/schema.h"
#include "server/lib/crypto.h"
#include "server/model/device.h"
#include "server/model/evidence.h"
#include "server/model/records.h"
#include "server/model/shift.h"
#include "server/store/keys.h"
#include "server/svc/patrol.h"
#include "server/svc/reports.h"
#include "server/svc/genpush.h"
#include "server/svc/worker.h"

#define MIN_MS 60000ULL
#define PASS_MAX 256       /* subjects a pass takes */
#define PUSH_OPS 1000u
#define WATCH_MAX 32

#define P_MARK "al/q/"
#define P_TIMER "al/t/"
#define P_OPEN "al/o/"
#define P_WATCH "al/w/"
#define P_FAIL "al/f/"

static const char *const severities[AK__COUNT] = {
	"critical", "warning", "critical", "warning", "critical", "warning",
	"warning", "critical", "warning", "warning"};

const char *alerts_kind_name(int kind)
{
	return kind >= 0 && kind < AK__COUNT ? schema_alert_kinds[kind] : "";
}

const char *alerts_severity(int kind)
{
	return kind >= 0 && kind < AK__COUNT ? severities[kind] : "info";
}

/* ---- texts ------------------------------------------------------------------ */

static const char *const cat_names[][3] = {
	{"elevator_entrapment", "电梯困人", "elevator entrapment"},
	{"urgent_water", "紧急漏水", "urgent water"},
	{"urgent_power", "紧急停电", "urgent power"},
	{"incident", "突发事件", "incident"},
	{"complaint", "投诉", "complaint"},
	{"repair", "维修", "repair"},
};
static const char *const step_names[][3] = {
	{"accepted", "接单", "acceptance"},
	{"on_site", "到场", "arrival on site"},
	{"resolved", "完成", "resolution"},
};

static const char *label(const char *const (*t)[3], size_t n, const char *v,
                         int lang)
{
	for (size_t i = 0; v && i < n; i++)
		if (!strcmp(t[i][0], v))
			return t[i][lang];
	return v ? v : "";
}
#define CAT(v, l) label(cat_names, sizeof(cat_names) / sizeof(cat_names[0]), v, l)
#define STEP(v, l) label(step_names, sizeof(step_names) / sizeof(step_names[0]), v, l)
#define S(x) ((x) ? (x) : "")

int alerts_text(arena *a, const alert_facts *f, char **zh, char **en)
{
	const char *s = S(f->subject), *ti = S(f->title);
	switch (f->kind) {
	case AK_URGENT_ORDER:
		*zh = arena_printf(a, "紧急工单：%s — %s（工单 %s）", CAT(f->category, 1), ti, s);
		*en = arena_printf(a, "Urgent order: %s — %s (order %s)", CAT(f->category, 2), ti, s);
		break;
	case AK_SLA_WARNING:
		*zh = arena_printf(a, "时限预警：工单 %s（%s，%s）的%s时限已用去 %u%%，截止 %s",
		                   s, CAT(f->category, 1), ti, STEP(f->step, 1), f->n, S(f->to));
		*en = arena_printf(a, "Response time warning: order %s (%s, %s) has used %u%% of its time for %s, due %s",
		                   s, CAT(f->category, 2), ti, f->n, STEP(f->step, 2), S(f->to));
		break;
	case AK_SLA_BREACH:
		*zh = arena_printf(a, "超时：工单 %s（%s，%s）的%s已超过截止时间 %s",
		                   s, CAT(f->category, 1), ti, STEP(f->step, 1), S(f->to));
		*en = arena_printf(a, "Breached: order %s (%s, %s) missed its %s deadline %s",
		                   s, CAT(f->category, 2), ti, STEP(f->step, 2), S(f->to));
		break;
	case AK_PATROL_MISSED:
		*zh = arena_printf(a, "巡更漏检：班次 %s 第 %u 轮（%s–%s）未巡：%s",
		                   s, f->n, S(f->from), S(f->to), S(f->list));
		*en = arena_printf(a, "Patrol missed: shift %s round %u (%s–%s), not scanned: %s",
		                   s, f->n, S(f->from), S(f->to), S(f->list));
		break;
	case AK_LONE_WORKER:
		*zh = arena_printf(a, "独自值守无响应：%s 自 %s 起已 %u 分钟未同步或打卡（班次 %s）",
		                   S(f->who), S(f->from), f->n, s);
		*en = arena_printf(a, "Lone worker silent: %s has not synced or checked in for %u min, since %s (shift %s)",
		                   S(f->who), f->n, S(f->from), s);
		break;
	case AK_TASK_OVERDUE:
		*zh = arena_printf(a, "任务逾期：%s（任务 %s）截止 %s 仍未完成", ti, s, S(f->to));
		*en = arena_printf(a, "Task overdue: %s (task %s) was not done by %s", ti, s, S(f->to));
		break;
	case AK_SYNC_FAILING:
		*zh = arena_printf(a, "设备同步失败：设备 %s（%s）连续 %u 次同步有变更被拒",
		                   s, ti, f->n);
		*en = arena_printf(a, "Device failing to sync: %s (%s) had changes rejected in %u syncs in a row",
		                   s, ti, f->n);
		break;
	case AK_TAG_REPLAYED:
		*zh = arena_printf(a, "巡更标签重放：%s 在 %s 的打卡（%s，打卡 %s，班次 %s）用了一次已用过的标签读数，不计入巡更",
		                   S(f->who), ti, S(f->to), s, S(f->shift));
		*en = arena_printf(a, "Tag tap replayed: %s's checkin at %s (%s, checkin %s, shift %s) reused a tag reading already used; it does not count",
		                   S(f->who), ti, S(f->to), s, S(f->shift));
		break;
	case AK_TAG_INVALID:
		*zh = arena_printf(a, "巡更标签无效：%s 在 %s 的打卡（%s，打卡 %s，班次 %s）的标签读数不属于该巡更点或是伪造的，不计入巡更",
		                   S(f->who), ti, S(f->to), s, S(f->shift));
		*en = arena_printf(a, "Invalid tag tap: %s's checkin at %s (%s, checkin %s, shift %s) carried a tag reading that is not this checkpoint's or is forged; it does not count",
		                   S(f->who), ti, S(f->to), s, S(f->shift));
		break;
	case AK_BOOT_OVERLAP:
		*zh = arena_printf(a, "设备时钟可疑：%s 在 %s 的打卡（%s，打卡 %s，班次 %s）来自与该设备之前启动重叠的一次启动，时间不可信",
		                   S(f->who), ti, S(f->to), s, S(f->shift));
		*en = arena_printf(a, "Device clock suspect: %s's checkin at %s (%s, checkin %s, shift %s) came from a boot that overlaps an earlier boot of the device; its time is unverified",
		                   S(f->who), ti, S(f->to), s, S(f->shift));
		break;
	default:
		return FS_E_BAD_REQUEST;
	}
	return *zh && *en ? FS_OK : FS_E_UNAVAILABLE;
}

/* ---- marks (the hooks) ------------------------------------------------------- */

static pthread_once_t nonce_once = PTHREAD_ONCE_INIT;
static uint8_t nonce[8];
static atomic_uint_fast64_t mark_counter;

static void nonce_init(void)
{
	if (crypto_random(nonce, sizeof(nonce)))
		be64_put(nonce, (uint64_t)time(NULL));
}

static size_t subject_key(char *k, size_t cap, const char *prefix,
                          const char *c, const char *id)
{
	int n = snprintf(k, cap, "%s%s/%s", prefix, c, id);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int mark(store_txn *t, const char *c, const char *id)
{
	char k[KEY_MAX];
	uint8_t v[16];
	size_t kn = subject_key(k, sizeof(k), P_MARK, c, id);
	if (!kn)
		return FS_OK; /* ids are at most 128 bytes: never */
	pthread_once(&nonce_once, nonce_init);
	memcpy(v, nonce, 8);
	be64_put(v + 8, atomic_fetch_add(&mark_counter, 1) + 1);
	return store_put(t, ST_AUX, sv_of(k, kn), sv_of(v, 16));
}

/* An alert record: keep its subject's open-alert index in step. */
static int note_alert(const write_event *ev)
{
	char *sc = rec_str(ev->a, ev->nw, "subject_c");
	char *s = rec_str(ev->a, ev->nw, "subject");
	if (!sc || !s)
		return FS_OK;
	char k[KEY_MAX];
	size_t kn = subject_key(k, sizeof(k) - 130, P_OPEN, sc, s);
	size_t idn = strlen(ev->id);
	if (!kn || idn > 128)
		return FS_OK;
	k[kn++] = 0;
	memcpy(k + kn, ev->id, idn);
	kn += idn;
	const rfield *r = rec_get(ev->nw, "resolved_at");
	int open = (!r || r->val.t == WV_NIL) && !rec_true(ev->nw, "_deleted");
	if (open)
		return store_put(ev->t, ST_AUX, sv_of(k, kn), sv_of("", 0));
	return store_del(ev->t, ST_AUX, sv_of(k, kn));
}

int alerts_on_record(void *ctx, const write_event *ev)
{
	(void)ctx;
	if (!strcmp(ev->c, "alert"))
		return note_alert(ev);
	if (!strcmp(ev->c, "order") || !strcmp(ev->c, "task") ||
	    !strcmp(ev->c, "shift"))
		return mark(ev->t, ev->c, ev->id);
	if (!strcmp(ev->c, "checkin") && !strncmp(ev->bucket, "shift/", 6)) {
		const char *kind;
		int rc = mark(ev->t, "shift", ev->bucket + 6);
		/* only a checkin whose evidence is alert-worthy (or was: a
		 * deleted one resolves its alert) costs a second mark */
		if (!rc && (evidence_alert_kind(ev->nw, &kind) ||
		            (ev->old && evidence_alert_kind(ev->old, &kind))))
			rc = mark(ev->t, "checkin", ev->id);
		return rc;
	}
	return FS_OK;
}

typedef struct {
	char keys[WATCH_MAX][KEY_MAX];
	size_t kn[WATCH_MAX];
	unsigned n;
} watchlist;

static int watch_cb(void *ctx, sv key, sv val)
{
	(void)val;
	watchlist *w = ctx;
	if (w->n == WATCH_MAX || key.n >= KEY_MAX)
		return SCAN_STOP;
	memcpy(w->keys[w->n], key.p, key.n);
	w->kn[w->n++] = key.n;
	return SCAN_NEXT;
}

/* The failing-sync streak of a device: a sync that pushed changes either
 * lengthens it (some rejected) or ends it (none rejected). */
static int fail_streak(store_txn *t, const char *device, uint64_t when,
                       uint32_t rejected)
{
	char k[KEY_MAX];
	int n = snprintf(k, sizeof(k), P_FAIL "%s", device);
	if (n <= 0 || (size_t)n >= sizeof(k))
		return FS_OK;
	sv v;
	uint64_t runs = 0, since = when;
	if (store_get(t, ST_AUX, sv_of(k, (size_t)n), &v) == FS_OK && v.n == 16) {
		runs = be64_get(v.p);
		since = be64_get((const uint8_t *)v.p + 8);
	}
	if (!rejected) {
		if (!runs)
			return FS_OK;
		int rc = store_del(t, ST_AUX, sv_of(k, (size_t)n));
		return rc ? rc : mark(t, "device", device);
	}
	if (!runs)
		since = when;
	uint8_t b[16];
	be64_put(b, runs + 1);
	be64_put(b + 8, since);
	int rc = store_put(t, ST_AUX, sv_of(k, (size_t)n), sv_of(b, 16));
	return rc ? rc : mark(t, "device", device);
}

int alerts_on_sync(void *ctx, store_txn *t, const char *device,
                   const device_info *before, const device_info *after,
                   uint32_t pushed, uint32_t rejected)
{
	(void)ctx;
	(void)before;
	int rc;
	if (pushed && (rc = fail_streak(t, device, after->last_sync, rejected)))
		return rc;
	char p[KEY_MAX];
	int n = snprintf(p, sizeof(p), P_WATCH "%s", device);
	if (n <= 0 || (size_t)n + 1 >= sizeof(p))
		return FS_OK;
	p[n++] = 0;
	watchlist w;
	w.n = 0;
	rc = store_scan(t, ST_AUX, sv_of(p, (size_t)n), sv_of(p, (size_t)n),
	                watch_cb, &w);
	if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
		return rc;
	for (unsigned i = 0; i < w.n; i++) {
		char shift[KEY_MAX];
		size_t sn = w.kn[i] - (size_t)n;
		memcpy(shift, w.keys[i] + n, sn);
		shift[sn] = 0;
		if ((rc = store_del(t, ST_AUX, sv_of(w.keys[i], w.kn[i]))) ||
		    (rc = mark(t, "shift", shift)))
			return rc;
	}
	return FS_OK;
}

int alerts_prefetch(void *ctx, store_txn *t, const char *const *devices,
                    unsigned n)
{
	(void)ctx;
	arena *a = arena_new(0);
	sv *fails = a ? arena_calloc(a, n ? n : 1, sizeof(sv)) : NULL;
	sv *watches = a ? arena_calloc(a, n ? n : 1, sizeof(sv)) : NULL;
	unsigned nf = 0, nw = 0;
	int rc = FS_OK;
	if (!fails || !watches) {
		arena_free(a);
		return FS_OK; /* a hint: the reads will be made one by one */
	}
	for (unsigned i = 0; i < n; i++) {
		char *f = arena_printf(a, P_FAIL "%s", devices[i]);
		char *w = arena_printf(a, P_WATCH "%s", devices[i]);
		if (f && strlen(f) < KEY_MAX)
			fails[nf++] = sv_cstr(f);
		if (w && strlen(w) + 1 < KEY_MAX)
			watches[nw++] = sv_of(w, strlen(w) + 1); /* with its NUL */
	}
	if (nf)
		rc = store_prefetch_keys(t, ST_AUX, fails, nf);
	if (!rc && nw)
		rc = store_prefetch_prefixes(t, ST_AUX, watches, nw);
	arena_free(a);
	return rc;
}

/* ---- evaluation ----------------------------------------------------------------- */

/* A site's switches and settings (schema.c's site fields). */
typedef struct {
	unsigned off;      /* bit per kind */
	uint64_t warn_pct, lone_min, fail_runs;
	const tz_zone *z;  /* NULL: times in UTC */
} site_cfg;

/* A key to write. */
typedef struct {
	char *p;
	size_t n;
} kbuf;

/* What the rules want of one alert. */
typedef struct {
	char *id;
	int kind;
	char *step;
	int resolved;
	uint64_t resolved_at;
	alert_facts f;
} want;

typedef struct {
	engine *e;
	tz_db *tz;
	arena *a;            /* the pass's */
	uint64_t now;
	/* this subject */
	const char *sc, *sid;
	char *site;
	site_cfg cfg;
	want *w;
	uint32_t nw, capw;
	uint64_t next;       /* the subject's next timer, 0: none */
	/* the pass's results */
	opbatch ops;
	kbuf *timers;        /* timer keys to add */
	uint32_t ntimers, captimers;
	kbuf *watches;       /* watch keys to add */
	uint32_t nwatches, capwatches;
} evalx;

static int add_key(evalx *x, kbuf **v, uint32_t *n, uint32_t *cap,
                   const char *k, size_t kn)
{
	char *copy = arena_dup(x->a, k, kn);
	if (!copy || arena_grow(x->a, (void **)v, cap, *n, *n + 1, sizeof(kbuf), 16))
		return FS_E_UNAVAILABLE;
	(*v)[(*n)++] = (kbuf){copy, kn};
	return FS_OK;
}

static int load_site(evalx *x, store_txn *t, const char *site)
{
	site_cfg *c = &x->cfg;
	memset(c, 0, sizeof(*c));
	c->warn_pct = 80;
	c->lone_min = 30;
	c->fail_runs = 3;
	x->site = arena_strndup(x->a, site, strlen(site));
	record r;
	if (records_load(t, x->a, "site", site, &r, NULL, NULL) != FS_OK)
		return x->site ? FS_OK : FS_E_UNAVAILABLE;
	const rfield *off = rec_get(&r, "alerts_off");
	if (off && off->val.t == WV_ARR)
		for (uint32_t i = 0; i < off->val.a.n; i++)
			for (int k = 0; k < AK__COUNT; k++)
				if (wv_is_str(&off->val.a.v[i], schema_alert_kinds[k]))
					c->off |= 1u << k;
	uint64_t v;
	if (rec_u64(&r, "alert_warn_pct", &v) && v >= 1 && v <= 99)
		c->warn_pct = v;
	if (rec_u64(&r, "lone_worker_min", &v) && v >= 1 && v <= 24 * 60)
		c->lone_min = v;
	if (rec_u64(&r, "sync_fail_runs", &v) && v >= 1 && v <= 1000)
		c->fail_runs = v;
	char *tzn = rec_str(x->a, &r, "tz");
	if (tzn && x->tz)
		tz_get(x->tz, tzn, &c->z);
	return x->site ? FS_OK : FS_E_UNAVAILABLE;
}

static int on(const evalx *x, int kind)
{
	return !(x->cfg.off & (1u << kind));
}

/* "MM-DD HH:MM" in the site's zone (UTC without one). */
static char *local_time(evalx *x, uint64_t ms)
{
	int64_t l = x->cfg.z ? tz_utc_to_local_ms(x->cfg.z, (int64_t)ms)
	                     : (int64_t)ms;
	int64_t day = tz_day_of(l), y;
	unsigned m, d;
	tz_civil_from_days(day, &y, &m, &d);
	int64_t mins = (l - day * TZ_DAY_MS) / (int64_t)MIN_MS;
	return arena_printf(x->a, "%02u-%02u %02u:%02u%s", m, d,
	                    (unsigned)(mins / 60), (unsigned)(mins % 60),
	                    x->cfg.z ? "" : " UTC");
}

static void timer_at(evalx *x, uint64_t t)
{
	if (t && (!x->next || t < x->next))
		x->next = t;
}

/* "al:<kind>:<subject>[:<step>]", hashed when longer than an id may be. */
static char *alert_id(arena *a, int kind, const char *subject,
                      const char *step)
{
	char *id = arena_printf(a, "al:%s:%s%s%s", alerts_kind_name(kind),
	                        subject, step ? ":" : "", step ? step : "");
	if (!id || valid_id(id, strlen(id)) == FS_OK)
		return id;
	uint8_t h[32];
	char hex[65];
	crypto_sha256(id, strlen(id), h);
	hex_encode(h, 16, hex);
	return arena_printf(a, "al:%s:h%s", alerts_kind_name(kind), hex);
}

static want *add_want(evalx *x, int kind, const char *step)
{
	if (!on(x, kind))
		return NULL;
	if (arena_grow(x->a, (void **)&x->w, &x->capw, x->nw, x->nw + 1,
	               sizeof(want), 8))
		return NULL;
	want *w = &x->w[x->nw];
	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->step = step ? arena_strndup(x->a, step, strlen(step)) : NULL;
	w->id = alert_id(x->a, kind, x->sid, step);
	w->f.kind = kind;
	w->f.subject = x->sid;
	if (!w->id || (step && !w->step))
		return NULL;
	x->nw++;
	return w;
}

/* ---- the rules, per subject ------------------------------------------------------ */

static int is_urgent(const char *cat)
{
	return cat && (!strcmp(cat, "elevator_entrapment") ||
	               !strcmp(cat, "urgent_water") || !strcmp(cat, "urgent_power"));
}

static int eval_order(evalx *x, store_txn *t)
{
	record r;
	int rc = records_load(t, x->a, "order", x->sid, &r, NULL, NULL);
	if (rc == FS_E_NOT_FOUND || (!rc && rec_true(&r, "_deleted")))
		return FS_OK; /* gone: its open alerts resolve */
	char *site = rc ? NULL : rec_str(x->a, &r, "site");
	if (rc || !site)
		return rc;
	if ((rc = load_site(x, t, site)))
		return rc;
	char *cat = rec_str(x->a, &r, "category");
	char *title = rec_str(x->a, &r, "title");
	char *status = rec_str(x->a, &r, "status");
	int done = status && (!strcmp(status, "resolved") || !strcmp(status, "closed"));
	want *w;
	if (is_urgent(cat) && (w = add_want(x, AK_URGENT_ORDER, NULL))) {
		w->f.category = cat;
		w->f.title = title;
		if (done) {
			w->resolved = 1;
			if (!rec_u64(&r, "resolved_at", &w->resolved_at))
				w->resolved_at = x->now;
		}
	}
	const service_level *lv = cat ? schema_service_level(cat, strlen(cat)) : NULL;
	uint64_t D, S, C;
	if (!lv || !rec_u64(&r, lv->deadline_field, &D))
		return FS_OK;
	if (!rec_u64(&r, "reported_at", &S)) {
		char k[KEY_MAX];
		sv v;
		size_t kn = key_orcv(k, sizeof(k), x->sid);
		if (!kn || store_get(t, ST_AUX, sv_of(k, kn), &v) || v.n != 8)
			return FS_OK;
		S = be64_get(v.p);
	}
	if (D < S)
		return FS_OK;
	int has_c = rec_u64(&r, lv->checked_field, &C);
	char step[32];
	snprintf(step, sizeof(step), "%.*s", (int)(strlen(lv->checked_field) - 3),
	         lv->checked_field);
	uint64_t P = S + (D - S) * x->cfg.warn_pct / 100;
	char *due = local_time(x, D);
	if (!has_c && x->now >= P && x->now <= D &&
	    (w = add_want(x, AK_SLA_WARNING, step))) {
		w->f.category = cat;
		w->f.title = title;
		w->f.step = w->step;
		w->f.n = (uint32_t)x->cfg.warn_pct;
		w->f.to = due;
	}
	if (((!has_c && x->now > D) || (has_c && C > D)) &&
	    (w = add_want(x, AK_SLA_BREACH, step))) {
		w->f.category = cat;
		w->f.title = title;
		w->f.step = w->step;
		w->f.to = due;
		w->resolved = has_c;
		w->resolved_at = C;
	}
	if (!has_c)
		timer_at(x, x->now < P ? P : x->now <= D ? D + 1 : 0);
	return FS_OK;
}

static int eval_task(evalx *x, store_txn *t)
{
	record r;
	int rc = records_load(t, x->a, "task", x->sid, &r, NULL, NULL);
	if (rc == FS_E_NOT_FOUND || (!rc && rec_true(&r, "_deleted")))
		return FS_OK;
	char *site = rc ? NULL : rec_str(x->a, &r, "site");
	if (rc || !site)
		return rc;
	char *status = rec_str(x->a, &r, "status");
	char *shift = rec_str(x->a, &r, "shift");
	shift_info sh;
	uint64_t to;
	if ((status && (!strcmp(status, "done") || !strcmp(status, "skipped"))) ||
	    !rec_u64(&r, "due_to", &to) || !shift)
		return FS_OK;
	/* the rule is about cleaning: tasks of cleaners' shifts */
	if ((rc = shift_load(t, x->a, shift, &sh)))
		return rc == FS_E_NOT_FOUND ? FS_OK : rc;
	if (sh.role != ROLE_CLEANER)
		return FS_OK;
	if ((rc = load_site(x, t, site)))
		return rc;
	if (x->now <= to) {
		timer_at(x, to + 1);
		return FS_OK;
	}
	want *w = add_want(x, AK_TASK_OVERDUE, NULL);
	if (w) {
		w->f.title = rec_str(x->a, &r, "title");
		w->f.to = local_time(x, to);
	}
	return FS_OK;
}

static int eval_device(evalx *x, store_txn *t)
{
	device_info d;
	if (device_get(t, x->sid, &d) != FS_OK || d.revoked)
		return FS_OK;
	int rc = load_site(x, t, d.site);
	char k[KEY_MAX];
	sv v;
	int n = snprintf(k, sizeof(k), P_FAIL "%s", x->sid);
	if (rc || n <= 0 || (size_t)n >= sizeof(k) ||
	    store_get(t, ST_AUX, sv_of(k, (size_t)n), &v) || v.n != 16)
		return rc;
	uint64_t runs = be64_get(v.p), since = be64_get((const uint8_t *)v.p + 8);
	if (runs < x->cfg.fail_runs)
		return FS_OK;
	char step[24];
	snprintf(step, sizeof(step), "%llu", (unsigned long long)since);
	want *w = add_want(x, AK_SYNC_FAILING, step);
	if (w) {
		w->f.title = arena_strndup(x->a, d.name, strlen(d.name));
		w->f.n = (uint32_t)runs;
	}
	return FS_OK;
}

/* A checkin's evidence (tag replayed or invalid, boot overlap): one
 * alert, open while the checkin stands. */
static int eval_checkin(evalx *x, store_txn *t)
{
	static const struct {
		const char *name;
		int kind;
	} kinds[] = {{"tag_replayed", AK_TAG_REPLAYED},
	             {"tag_invalid", AK_TAG_INVALID},
	             {"boot_overlap", AK_BOOT_OVERLAP}};
	record r;
	int rc = records_load(t, x->a, "checkin", x->sid, &r, NULL, NULL);
	if (rc == FS_E_NOT_FOUND || (!rc && rec_true(&r, "_deleted")))
		return FS_OK; /* gone: its open alert resolves */
	char *site = rc ? NULL : rec_str(x->a, &r, "site");
	const char *name;
	if (rc || !site || !evidence_alert_kind(&r, &name))
		return rc;
	if ((rc = load_site(x, t, site)))
		return rc;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].name, name))
			continue;
		want *w = add_want(x, kinds[i].kind, NULL);
		if (!w)
			return FS_OK; /* switched off at this site */
		uint64_t at;
		w->f.who = rec_str(x->a, &r, "staff");
		w->f.title = rec_str(x->a, &r, "checkpoint");
		w->f.shift = rec_str(x->a, &r, "shift");
		if (rec_u64(&r, "at_est", &at))
			w->f.to = local_time(x, at);
	}
	return FS_OK;
}

static int add_watch(evalx *x, const char *device)
{
	char k[KEY_MAX];
	int n = snprintf(k, sizeof(k), P_WATCH "%s%c%s", device, 0, x->sid);
	if (n <= 0 || (size_t)n >= sizeof(k))
		return FS_OK;
	return add_key(x, &x->watches, &x->nwatches, &x->capwatches, k, (size_t)n);
}

/* A round with missed checkpoints raises one alert. */
static int patrol_rules(evalx *x, const shift_info *sh, const reports_patrol *rp)
{
	const patrol_in *in = &rp->in;
	const patrol_out *po = &rp->out;
	int pending = 0, rc;
	for (uint32_t k = 0; k < po->nrounds; k++) {
		char *list = NULL;
		uint64_t end = patrol_round_to(in, k) + in->grace_ms;
		for (uint32_t c = 0; c < in->ncp; c++) {
			const patrol_pair *p = &po->pairs[(size_t)k * in->ncp + c];
			if (p->state == PS_PENDING)
				pending = 1;
			if (p->state == PS_OPEN)
				timer_at(x, end);
			if (p->state != PS_MISSED)
				continue;
			list = list ? arena_printf(x->a, "%s, %s", list, in->checkpoints[c])
			            : arena_strndup(x->a, in->checkpoints[c],
			                            strlen(in->checkpoints[c]));
			if (!list)
				return FS_E_UNAVAILABLE;
		}
		if (!list)
			continue;
		char step[16];
		snprintf(step, sizeof(step), "r%u", k + 1);
		want *w = add_want(x, AK_PATROL_MISSED, step);
		if (w) {
			w->f.n = k + 1;
			w->f.list = list;
			w->f.from = local_time(x, patrol_round_from(in, k));
			w->f.to = local_time(x, patrol_round_to(in, k));
		}
	}
	if (!pending)
		return FS_OK;
	/* a sync of any of the staff's devices may turn pending into missed,
	 * and so may the evidence window closing */
	for (uint32_t i = 0; i < rp->ndev; i++)
		if ((rc = add_watch(x, rp->devices[i])))
			return rc;
	if (in->evidence_window_ms)
		timer_at(x, sh->ends + in->evidence_window_ms);
	return FS_OK;
}

typedef struct {
	arena *a;
	const char *staff;
	uint64_t last;
} lastck;

static int lastck_cb(void *ctx, const store_entry *en)
{
	lastck *l = ctx;
	if (en->gone || strcmp(en->c, "checkin"))
		return SCAN_NEXT;
	record r;
	rec_init(&r);
	uint8_t *copy = arena_dup(l->a, en->val.p, en->val.n ? en->val.n : 1);
	uint64_t at;
	if (!copy || rec_decode(l->a, copy, en->val.n, &r))
		return SCAN_NEXT;
	char *st = rec_str(l->a, &r, "staff");
	if (st && !strcmp(st, l->staff) && rec_u64(&r, "at_est", &at) &&
	    at > l->last)
		l->last = at;
	return SCAN_NEXT;
}

/* One guard of a running shift: heard of within lone_worker_min? */
static int lone_rule(evalx *x, store_txn *t, const shift_info *sh,
                     const reports_patrol *rp, const char *staff)
{
	int has_device = 0, rc;
	uint64_t last = sh->starts;
	char **mine = arena_calloc(x->a, rp->ndev ? rp->ndev : 1, sizeof(char *));
	uint32_t nmine = 0;
	if (!mine)
		return FS_E_UNAVAILABLE;
	for (uint32_t i = 0; i < rp->ndev; i++) {
		char k[KEY_MAX];
		sv v;
		size_t kn = key_devstaff(k, sizeof(k), rp->devices[i], staff);
		if (!kn || store_get(t, ST_DEVSTAFF, sv_of(k, kn), &v))
			continue;
		has_device = 1;
		mine[nmine++] = rp->devices[i];
		device_info d;
		if (device_get(t, rp->devices[i], &d) == FS_OK &&
		    !strcmp(d.staff, staff) && d.last_sync > last)
			last = d.last_sync;
	}
	if (!has_device) {
		/* nobody can hear from a guard without a handheld (a login is
		 * no write): look again in a while */
		timer_at(x, x->now + x->cfg.lone_min * MIN_MS);
		return FS_OK;
	}
	lastck l = {x->a, staff, last};
	char *bucket = arena_printf(x->a, "shift/%s", sh->id);
	if (!bucket)
		return FS_E_UNAVAILABLE;
	rc = store_bucket_scan(t, bucket, 0, lastck_cb, &l);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc;
	last = l.last;
	uint64_t quiet = x->cfg.lone_min * MIN_MS;
	if (x->now < last + quiet) {
		timer_at(x, last + quiet);
		return FS_OK;
	}
	char step[KEY_MAX];
	snprintf(step, sizeof(step), "%s:%llu", staff, (unsigned long long)last);
	want *w = add_want(x, AK_LONE_WORKER, step);
	if (w) {
		w->f.who = staff;
		w->f.n = (uint32_t)((x->now - last) / MIN_MS);
		w->f.from = local_time(x, last);
	}
	/* heard of again: a sync resolves it */
	for (uint32_t i = 0; i < nmine; i++)
		if ((rc = add_watch(x, mine[i])))
			return rc;
	return FS_OK;
}

static int eval_shift(evalx *x, store_txn *t)
{
	shift_info sh;
	int rc = shift_load(t, x->a, x->sid, &sh);
	if (rc == FS_E_NOT_FOUND || (!rc && !sh.site))
		return FS_OK;
	if (rc || (rc = load_site(x, t, sh.site)))
		return rc;
	if (sh.role != ROLE_GUARD)
		return FS_OK;
	reports_patrol rp;
	if ((rc = reports_shift_patrol(x->e, t, x->a, &sh, x->now, &rp)))
		return rc == FS_E_TOO_LARGE ? FS_OK : rc;
	if (on(x, AK_PATROL_MISSED) && (rc = patrol_rules(x, &sh, &rp)))
		return rc;
	if (!on(x, AK_LONE_WORKER) || x->now >= sh.ends)
		return FS_OK;
	if (x->now < sh.starts) {
		timer_at(x, sh.starts + x->cfg.lone_min * MIN_MS);
		return FS_OK;
	}
	for (uint32_t i = 0; i < sh.nstaff && !rc; i++)
		rc = lone_rule(x, t, &sh, &rp, sh.staff[i]);
	timer_at(x, sh.ends); /* its lone-worker alerts end with it */
	return rc;
}

/* ---- from wants to ops ------------------------------------------------------------ */

static void op_create(evalx *x, const want *w, const char *zh, const char *en)
{
	opbatch *b = &x->ops;
	ob_op(b, "alert", w->id, engine_hlc_now(x->e), 9 + (w->resolved ? 1 : 0));
	ob_str(b, "site", x->site);
	ob_str(b, "kind", alerts_kind_name(w->kind));
	ob_str(b, "subject_c", x->sc);
	ob_str(b, "subject", x->sid);
	ob_str(b, "step", w->step);
	ob_u64(b, "raised_at", x->now);
	ob_str(b, "severity", alerts_severity(w->kind));
	ob_str(b, "text_zh", zh);
	ob_str(b, "text_en", en);
	if (w->resolved)
		ob_u64(b, "resolved_at", w->resolved_at);
}

static void op_resolve(evalx *x, const char *id, uint64_t at)
{
	ob_op(&x->ops, "alert", id, engine_hlc_now(x->e), 1);
	ob_u64(&x->ops, "resolved_at", at);
}

typedef struct {
	arena *a;
	size_t plen;
	char **ids;
	uint32_t n, cap;
} openlist;

static int open_cb(void *ctx, sv key, sv val)
{
	(void)val;
	openlist *o = ctx;
	if (key.n <= o->plen ||
	    arena_grow(o->a, (void **)&o->ids, &o->cap, o->n, o->n + 1,
	               sizeof(char *), 8))
		return SCAN_STOP;
	o->ids[o->n] = arena_strndup(o->a, (const char *)key.p + o->plen,
	                             key.n - o->plen);
	return o->ids[o->n++] ? SCAN_NEXT : SCAN_STOP;
}

static int apply_wants(evalx *x, store_txn *t)
{
	char p[KEY_MAX];
	size_t pn = subject_key(p, sizeof(p) - 1, P_OPEN, x->sc, x->sid);
	if (!pn)
		return FS_OK;
	p[pn++] = 0;
	openlist o = {x->a, pn, NULL, 0, 0};
	int rc = store_scan(t, ST_AUX, sv_of(p, pn), sv_of(p, pn), open_cb, &o);
	if (rc && rc != FS_E_NOT_FOUND)
		return rc == SCAN_STOP ? FS_E_UNAVAILABLE : rc;
	/* an open alert no rule wants any more: its cause is gone */
	for (uint32_t i = 0; i < o.n; i++) {
		int wanted = 0;
		for (uint32_t k = 0; k < x->nw && !wanted; k++)
			wanted = !strcmp(x->w[k].id, o.ids[i]); /* resolved ones below */
		if (!wanted)
			op_resolve(x, o.ids[i], x->now);
	}
	for (uint32_t k = 0; k < x->nw; k++) {
		const want *w = &x->w[k];
		record r;
		rc = records_load(t, x->a, "alert", w->id, &r, NULL, NULL);
		if (rc == FS_OK) {
			const rfield *res = rec_get(&r, "resolved_at");
			int open = !res || res->val.t == WV_NIL;
			if (w->resolved && open)
				op_resolve(x, w->id, w->resolved_at);
			continue; /* never raised twice */
		}
		if (rc != FS_E_NOT_FOUND)
			return rc;
		char *zh, *en;
		if ((rc = alerts_text(x->a, &w->f, &zh, &en)))
			return rc;
		op_create(x, w, zh, en);
	}
	return FS_OK;
}

static int add_timer(evalx *x)
{
	if (!x->next)
		return FS_OK;
	char k[KEY_MAX];
	memcpy(k, P_TIMER, 5);
	be64_put((uint8_t *)k + 5, x->next);
	int n = snprintf(k + 13, sizeof(k) - 13, "%s/%s", x->sc, x->sid);
	if (n <= 0 || (size_t)n >= sizeof(k) - 13)
		return FS_OK;
	return add_key(x, &x->timers, &x->ntimers, &x->captimers, k,
	               13 + (size_t)n);
}

/* Evaluate one subject ("order/<id>", ...) in its own read transaction. */
static int eval_subject(evalx *x, const char *subject)
{
	const char *slash = strchr(subject, '/');
	if (!slash)
		return FS_OK;
	x->sc = arena_strndup(x->a, subject, (size_t)(slash - subject));
	x->sid = slash + 1;
	x->site = NULL;
	x->nw = 0;
	x->capw = 0;
	x->w = NULL;
	x->next = 0;
	if (!x->sc)
		return FS_E_UNAVAILABLE;
	store_txn *t;
	int rc = store_begin(engine_store(x->e), 0, &t);
	if (rc)
		return rc;
	if (!strcmp(x->sc, "order"))
		rc = eval_order(x, t);
	else if (!strcmp(x->sc, "shift"))
		rc = eval_shift(x, t);
	else if (!strcmp(x->sc, "task"))
		rc = eval_task(x, t);
	else if (!strcmp(x->sc, "device"))
		rc = eval_device(x, t);
	else if (!strcmp(x->sc, "checkin"))
		rc = eval_checkin(x, t);
	if (!rc)
		rc = apply_wants(x, t); /* no site: the subject is gone, resolve */
	store_abort(t);
	if (!rc)
		rc = add_timer(x);
	return rc;
}

/* ---- a pass ---------------------------------------------------------------------- */

typedef struct {
	arena *a;
	uint64_t now;
	kbuf marks[PASS_MAX];     /* key */
	uint8_t markv[PASS_MAX][16];
	uint32_t nmarks;
	kbuf timers[PASS_MAX];    /* due keys */
	uint32_t ntimers;
	uint64_t next;            /* the first timer not due, 0: none */
	int more;                 /* a limit was reached */
} collect;

static int mark_cb(void *ctx, sv key, sv val)
{
	collect *c = ctx;
	if (c->nmarks == PASS_MAX) {
		c->more = 1;
		return SCAN_STOP;
	}
	char *k = arena_dup(c->a, key.p, key.n);
	if (!k)
		return FS_E_UNAVAILABLE;
	memset(c->markv[c->nmarks], 0, 16);
	memcpy(c->markv[c->nmarks], val.p, val.n < 16 ? val.n : 16);
	c->marks[c->nmarks++] = (kbuf){k, key.n};
	return SCAN_NEXT;
}

static int timer_cb(void *ctx, sv key, sv val)
{
	(void)val;
	collect *c = ctx;
	if (key.n <= 13)
		return SCAN_NEXT;
	uint64_t due = be64_get((const uint8_t *)key.p + 5);
	if (due > c->now) {
		c->next = due;
		return SCAN_STOP;
	}
	if (c->ntimers == PASS_MAX) {
		c->more = 1;
		return SCAN_STOP;
	}
	char *k = arena_dup(c->a, key.p, key.n);
	if (!k)
		return FS_E_UNAVAILABLE;
	c->timers[c->ntimers++] = (kbuf){k, key.n};
	return SCAN_NEXT;
}

/* An op the engine rejects (a subject's site deleted meanwhile, ...) is
 * logged and not retried: the next evaluation decides again. */
static int push_ops(engine *e, const opbatch *b)
{
	int rc = gp_push(e, NULL, b, "alerts");
	return rc == FS_E_INTERNAL ? FS_OK : rc;
}

typedef struct {
	collect *c;
	evalx *x;
} finish_ctx;

/* Consume what was evaluated; keep a mark written again meanwhile. */
static int finish_txn(void *ctx, store_txn *t)
{
	finish_ctx *f = ctx;
	sv keys[PASS_MAX];
	for (uint32_t i = 0; i < f->c->nmarks; i++)
		keys[i] = sv_of(f->c->marks[i].p, f->c->marks[i].n);
	/* the marks in one read, not one each (PostgreSQL) */
	int rc = store_prefetch_keys(t, ST_AUX, keys, f->c->nmarks);
	for (uint32_t i = 0; i < f->c->nmarks && !rc; i++) {
		sv v;
		kbuf *k = &f->c->marks[i];
		if (store_get(t, ST_AUX, sv_of(k->p, k->n), &v) == FS_OK &&
		    v.n == 16 && !memcmp(v.p, f->c->markv[i], 16))
			rc = store_del(t, ST_AUX, sv_of(k->p, k->n));
	}
	for (uint32_t i = 0; i < f->c->ntimers && !rc; i++)
		rc = store_del(t, ST_AUX, sv_of(f->c->timers[i].p, f->c->timers[i].n));
	for (uint32_t i = 0; i < f->x->ntimers && !rc; i++)
		rc = store_put(t, ST_AUX, sv_of(f->x->timers[i].p, f->x->timers[i].n),
		               sv_of("", 0));
	for (uint32_t i = 0; i < f->x->nwatches && !rc; i++)
		rc = store_put(t, ST_AUX,
		               sv_of(f->x->watches[i].p, f->x->watches[i].n),
		               sv_of("", 0));
	return rc;
}

static int seen(char **v, uint32_t n, const char *s)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* One pass: what is marked, and the timers due.  *next: the first timer
 * still ahead (0: none); *more: run again at once. */
static int run_pass(engine *e, tz_db *tz, uint64_t *next, int *more)
{
	arena *a = arena_new(0);
	collect *c = a ? arena_calloc(a, 1, sizeof(*c)) : NULL;
	if (!c) {
		arena_free(a);
		return FS_E_UNAVAILABLE;
	}
	c->a = a;
	c->now = engine_now(e);
	store_txn *t;
	int rc = store_begin(engine_store(e), 0, &t);
	if (!rc) {
		int r1 = store_scan(t, ST_AUX, sv_cstr(P_MARK), sv_cstr(P_MARK),
		                    mark_cb, c);
		int r2 = store_scan(t, ST_AUX, sv_cstr(P_TIMER), sv_cstr(P_TIMER),
		                    timer_cb, c);
		store_abort(t);
		rc = r1 > 0 && r1 != FS_E_NOT_FOUND ? r1
		     : r2 > 0 && r2 != FS_E_NOT_FOUND ? r2 : FS_OK;
	}
	*next = c->next;
	*more = c->more;
	evalx x;
	memset(&x, 0, sizeof(x));
	x.e = e;
	x.tz = tz;
	x.a = a;
	x.now = c->now;
	ob_init(&x.ops);
	char **subjects = arena_calloc(a, c->nmarks + c->ntimers + 1, sizeof(char *));
	uint32_t ns = 0;
	if (!rc && !subjects)
		rc = FS_E_UNAVAILABLE;
	for (uint32_t i = 0; !rc && i < c->nmarks; i++)
		subjects[ns++] = arena_strndup(a, c->marks[i].p + 5, c->marks[i].n - 5);
	for (uint32_t i = 0; !rc && i < c->ntimers; i++)
		subjects[ns++] = arena_strndup(a, c->timers[i].p + 13,
		                               c->timers[i].n - 13);
	for (uint32_t i = 0; !rc && i < ns; i++) {
		if (!subjects[i]) {
			rc = FS_E_UNAVAILABLE;
			break;
		}
		if (seen(subjects, i, subjects[i]))
			continue;
		rc = eval_subject(&x, subjects[i]);
		if (!rc && x.ops.n >= PUSH_OPS) {
			rc = x.ops.ops.err ? FS_E_UNAVAILABLE : push_ops(e, &x.ops);
			ob_reset(&x.ops);
		}
	}
	if (!rc && x.ops.n)
		rc = x.ops.ops.err ? FS_E_UNAVAILABLE : push_ops(e, &x.ops);
	finish_ctx f = {c, &x};
	if (!rc && (c->nmarks || c->ntimers || x.ntimers || x.nwatches))
		rc = engine_write(e, finish_txn, &f);
	for (uint32_t i = 0; i < x.ntimers; i++) {
		uint64_t due = be64_get((const uint8_t *)x.timers[i].p + 5);
		if (!*next || due < *next)
			*next = due;
	}
	ob_free(&x.ops);
	arena_free(a);
	return rc;
}

/* ---- the thread -------------------------------------------------------------------- */

struct alerts {
	engine *e;
	tz_db *tz;
	worker *w;
};

static int al_pass(void *ctx, worker *self, uint64_t *next, int *again)
{
	(void)self;
	alerts *al = ctx;
	return run_pass(al->e, al->tz, next, again);
}

/* A write outside the alerts' own buckets may have marked something. */
static int al_wakes(const char *bucket)
{
	return strncmp(bucket, "alerts/", 7) != 0;
}

int alerts_start(alerts **out, engine *e, tz_db *tz, uint64_t poll_ms)
{
	*out = NULL;
	alerts *al = calloc(1, sizeof(*al));
	if (!al)
		return FS_E_UNAVAILABLE;
	al->e = e;
	al->tz = tz;
	/* a quarter second between passes: an urgent order is still raised
	 * well within a second, and a busy writer meets at most four */
	worker_cfg wc = {"alerts", poll_ms, 250, al_pass, al_wakes, al};
	int rc = worker_start(&al->w, e, &wc);
	if (rc) {
		free(al);
		return rc;
	}
	*out = al;
	return FS_OK;
}

void alerts_stop(alerts *al)
{
	if (!al)
		return;
	worker_stop(al->w);
	free(al);
}
