/*
 * lockout.c — see lockout.h.
 */
#include "server/svc/lockout.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "server/lib/doc.h"

#define INFLIGHT 64
#define DAY_MS (24ULL * 3600 * 1000)
#define PRUNE_BATCH 16
#define KEY_MAX 200

struct lockout {
	engine *e;
	lockout_cfg c;
	pthread_mutex_t mu; /* in-flight table */
	char inflight[INFLIGHT][FS_ID_MAX + 1];
	/* prune cursor; used only inside write transactions (serialised) */
	char prune_at[KEY_MAX];
	size_t prune_n;
	/* a login outcome could not be written: logins are refused before
	 * their PIN is checked until a probe write goes through */
	_Atomic int unrecorded;
};

/* One stored count. */
typedef struct {
	uint64_t fails, until, level, last, win;
	char device[FS_ID_MAX + 1];
	char site[FS_ID_MAX + 1];
} entry;

void lockout_cfg_default(lockout_cfg *c)
{
	c->after = 5;
	c->lock_ms = 15ULL * 60 * 1000;
	c->max_ms = DAY_MS;
	c->addr_after = 100;
}

int lockout_open(lockout **out, engine *e, const lockout_cfg *c)
{
	*out = NULL;
	lockout *l = calloc(1, sizeof(*l));
	if (!l)
		return FS_E_INTERNAL;
	l->e = e;
	l->c = *c;
	if (!l->c.lock_ms)
		l->c.lock_ms = 1;
	if (l->c.max_ms < l->c.lock_ms)
		l->c.max_ms = l->c.lock_ms;
	pthread_mutex_init(&l->mu, NULL);
	*out = l;
	return FS_OK;
}

void lockout_close(lockout *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* ---- stored entries --------------------------------------------------------- */

static size_t key_of(char *k, char kind, const char *name)
{
	size_t n = strlen(name);
	if (n > KEY_MAX - 10)
		n = KEY_MAX - 10;
	memcpy(k, "lockout\0", 8);
	k[8] = kind;
	k[9] = 0;
	memcpy(k + 10, name, n);
	return 10 + n;
}

static void copy_s(char *dst, size_t cap, const wval *v)
{
	dst[0] = 0;
	if (v && v->t == WV_STR && v->s.n < cap) {
		memcpy(dst, v->s.p, v->s.n);
		dst[v->s.n] = 0;
	}
}

static int entry_decode(sv val, entry *x)
{
	memset(x, 0, sizeof(*x));
	arena *a = arena_new(1024);
	wval *m;
	if (!a)
		return FS_E_UNAVAILABLE;
	int rc = FS_E_NOT_FOUND;
	if (!wire_decode(a, val.p, val.n, &m) && m->t == WV_MAP) {
		wv_u64(wv_get(m, "f"), &x->fails);
		wv_u64(wv_get(m, "u"), &x->until);
		wv_u64(wv_get(m, "lv"), &x->level);
		wv_u64(wv_get(m, "t"), &x->last);
		wv_u64(wv_get(m, "w"), &x->win);
		copy_s(x->device, sizeof(x->device), wv_get(m, "d"));
		copy_s(x->site, sizeof(x->site), wv_get(m, "s"));
		rc = FS_OK;
	}
	arena_free(a);
	return rc;
}

static int entry_get(store_txn *t, char kind, const char *name, entry *x)
{
	char k[KEY_MAX];
	size_t kn = key_of(k, kind, name);
	sv v;
	int rc = store_get(t, ST_AUX, sv_of(k, kn), &v);
	if (rc) {
		memset(x, 0, sizeof(*x));
		return rc;
	}
	return entry_decode(v, x);
}

static int entry_put(store_txn *t, char kind, const char *name,
                     const entry *x)
{
	char k[KEY_MAX];
	size_t kn = key_of(k, kind, name);
	wbuf b;
	wb_init(&b);
	wb_map(&b, 7);
	wb_cstr(&b, "f");
	wb_u64(&b, x->fails);
	wb_cstr(&b, "u");
	wb_u64(&b, x->until);
	wb_cstr(&b, "lv");
	wb_u64(&b, x->level);
	wb_cstr(&b, "t");
	wb_u64(&b, x->last);
	wb_cstr(&b, "w");
	wb_u64(&b, x->win);
	wb_cstr(&b, "d");
	wb_cstr(&b, x->device);
	wb_cstr(&b, "s");
	wb_cstr(&b, x->site);
	int rc = b.err ? FS_E_UNAVAILABLE
	               : store_put(t, ST_AUX, sv_of(k, kn), sv_of(b.p, b.n));
	wb_free(&b);
	return rc;
}

/* An entry that neither locks nor counts anything any more. */
static int stale(const entry *x, uint64_t now)
{
	return x->until <= now && x->last + DAY_MS <= now;
}

/* ---- the login path ------------------------------------------------------------ */

static unsigned secs_until(uint64_t until, uint64_t now)
{
	uint64_t ms = until - now;
	uint64_t s = (ms + 999) / 1000;
	return s ? (unsigned)(s > 86400 * 30 ? 86400 * 30 : s) : 1;
}

/* ---- failing closed ------------------------------------------------------------ */

/* A wrong PIN that cannot be counted must not be answered as one: it
 * would give an unlimited number of guesses, and the right PIN (whose
 * session cannot be written either) would be the one answer that
 * differs.  After a failed record, every attempt first writes this key
 * durably; while that fails the attempt is refused before its PIN is
 * looked at.  (Outside the "lockout\0" prefix the entries use.) */
#define PROBE_KEY "lockout-probe"

static int probe_txn(void *ctx, store_txn *t)
{
	uint8_t v[8];
	uint64_t now = *(const uint64_t *)ctx;
	for (int i = 0; i < 8; i++)
		v[i] = (uint8_t)(now >> (56 - 8 * i));
	return store_put(t, ST_AUX, sv_cstr(PROBE_KEY), sv_of(v, 8));
}

static int probe(lockout *l, uint64_t now)
{
	if (engine_write(l->e, probe_txn, &now))
		return FS_E_UNAVAILABLE;
	atomic_store(&l->unrecorded, 0);
	return FS_OK;
}

int lockout_begin(lockout *l, lockout_ticket *tk, const char *staff,
                  const char *addr, uint64_t now_ms, unsigned *wait_s,
                  const char **msg)
{
	memset(tk, 0, sizeof(*tk));
	tk->slot = -1;
	if (!l)
		return FS_OK;
	snprintf(tk->staff, sizeof(tk->staff), "%s", staff);
	snprintf(tk->addr, sizeof(tk->addr), "%s", addr ? addr : "");
	store_txn *t;
	if (store_begin(engine_store(l->e), 0, &t)) {
		*msg = "store unavailable";
		return FS_E_UNAVAILABLE;
	}
	entry s, a;
	int hs = entry_get(t, 's', tk->staff, &s) == FS_OK;
	int ha = tk->addr[0] && entry_get(t, 'a', tk->addr, &a) == FS_OK;
	store_abort(t);
	if (ha && a.until > now_ms) {
		*wait_s = secs_until(a.until, now_ms);
		*msg = "too many failed logins from this address: logins from it "
		       "are locked for a while";
		return FS_E_RATE_LIMITED;
	}
	if (hs && s.until > now_ms) {
		*wait_s = secs_until(s.until, now_ms);
		*msg = "too many wrong PINs for this staff member: locked for a "
		       "while (a supervisor can set a new PIN)";
		return FS_E_RATE_LIMITED;
	}
	tk->had_staff = hs;
	if (atomic_load(&l->unrecorded) && probe(l, now_ms)) {
		*msg = "login attempts cannot be recorded now; retry later";
		return FS_E_UNAVAILABLE;
	}
	/* one PIN check per staff member at a time */
	int busy = 0, fr = -1;
	pthread_mutex_lock(&l->mu);
	for (int i = 0; i < INFLIGHT; i++) {
		if (!l->inflight[i][0]) {
			if (fr < 0)
				fr = i;
		} else if (!strcmp(l->inflight[i], tk->staff)) {
			busy = 1;
		}
	}
	if (!busy && fr >= 0) {
		snprintf(l->inflight[fr], sizeof(l->inflight[fr]), "%s", tk->staff);
		tk->slot = fr;
	}
	pthread_mutex_unlock(&l->mu);
	if (tk->slot < 0) {
		*wait_s = 1;
		*msg = busy ? "another login of this staff member is being checked"
		            : "too many logins being checked at once";
		return FS_E_RATE_LIMITED;
	}
	return FS_OK;
}

typedef struct {
	lockout *l;
	const lockout_ticket *tk;
	enum lockout_outcome o;
	const char *device, *site;
	uint64_t now;
} fail_ctx;

typedef struct {
	char keys[PRUNE_BATCH][KEY_MAX];
	size_t kn[PRUNE_BATCH];
	int stale[PRUNE_BATCH];
	unsigned n;
	uint64_t now;
} prune_ctx;

static int prune_cb(void *ctx, sv key, sv val)
{
	prune_ctx *p = ctx;
	if (key.n > KEY_MAX)
		return SCAN_NEXT;
	entry x;
	memcpy(p->keys[p->n], key.p, key.n);
	p->kn[p->n] = key.n;
	p->stale[p->n] = entry_decode(val, &x) != FS_OK || stale(&x, p->now);
	return ++p->n == PRUNE_BATCH ? SCAN_STOP : SCAN_NEXT;
}

/* Delete the stale entries among the next few after the cursor. */
static int prune(lockout *l, store_txn *t, uint64_t now)
{
	prune_ctx p;
	p.n = 0;
	p.now = now;
	int rc = store_scan(t, ST_AUX, sv_of("lockout\0", 8),
	                    sv_of(l->prune_n ? l->prune_at : "lockout\0",
	                          l->prune_n ? l->prune_n : 8),
	                    prune_cb, &p);
	if (rc != FS_OK && rc != SCAN_STOP)
		return FS_OK; /* a scan error: prune next time */
	for (unsigned i = 0; i < p.n; i++)
		if (p.stale[i] && (rc = store_del(t, ST_AUX, sv_of(p.keys[i], p.kn[i]))))
			return rc;
	if (p.n == PRUNE_BATCH && p.kn[p.n - 1] < KEY_MAX) {
		/* go on after the last key seen: that key plus a NUL byte */
		memcpy(l->prune_at, p.keys[p.n - 1], p.kn[p.n - 1]);
		l->prune_at[p.kn[p.n - 1]] = 0;
		l->prune_n = p.kn[p.n - 1] + 1;
		if (l->prune_n > KEY_MAX)
			l->prune_n = 0;
	} else {
		l->prune_n = 0; /* reached the end: start over next time */
	}
	return FS_OK;
}

static int fail_txn(void *ctx, store_txn *t)
{
	fail_ctx *x = ctx;
	lockout *l = x->l;
	const lockout_cfg *c = &l->c;
	entry e;
	int rc;
	if (x->o == LOCKOUT_WRONG_PIN && c->after) {
		entry_get(t, 's', x->tk->staff, &e);
		if (e.last + DAY_MS <= x->now)
			e.level = 0; /* a quiet day forgets the doubling */
		e.fails++;
		e.last = x->now;
		snprintf(e.device, sizeof(e.device), "%s", x->device ? x->device : "");
		snprintf(e.site, sizeof(e.site), "%s", x->site ? x->site : "");
		if (e.fails >= c->after) {
			uint64_t d = c->lock_ms;
			for (uint64_t i = 0; i < e.level && d < c->max_ms; i++)
				d *= 2;
			if (d > c->max_ms)
				d = c->max_ms;
			e.until = x->now + d;
			e.level++;
			e.fails = 0;
		}
		if ((rc = entry_put(t, 's', x->tk->staff, &e)))
			return rc;
	}
	if (c->addr_after && x->tk->addr[0]) {
		entry_get(t, 'a', x->tk->addr, &e);
		if (e.win + c->lock_ms <= x->now) {
			e.win = x->now;
			e.fails = 0;
		}
		e.fails++;
		e.last = x->now;
		snprintf(e.device, sizeof(e.device), "%s", x->device ? x->device : "");
		snprintf(e.site, sizeof(e.site), "%s", x->site ? x->site : "");
		if (e.fails >= c->addr_after) {
			e.until = x->now + c->lock_ms;
			e.fails = 0;
			e.win = x->now;
		}
		if ((rc = entry_put(t, 'a', x->tk->addr, &e)))
			return rc;
	}
	return prune(l, t, x->now);
}

typedef struct {
	char key[KEY_MAX];
	size_t kn;
} del_ctx;

static int del_txn(void *ctx, store_txn *t)
{
	del_ctx *x = ctx;
	return store_del(t, ST_AUX, sv_of(x->key, x->kn));
}

int lockout_end(lockout *l, lockout_ticket *tk, enum lockout_outcome o,
                const char *device, const char *site, uint64_t now_ms)
{
	if (!l)
		return FS_OK;
	int rc = FS_OK;
	if (o == LOCKOUT_WRONG_PIN || o == LOCKOUT_FAILED) {
		fail_ctx x = {l, tk, o, device, site, now_ms};
		rc = engine_write(l->e, fail_txn, &x);
	} else if (o == LOCKOUT_RIGHT && tk->had_staff) {
		del_ctx d;
		d.kn = key_of(d.key, 's', tk->staff);
		rc = engine_write(l->e, del_txn, &d);
	}
	if (rc) {
		atomic_store(&l->unrecorded, 1);
		fprintf(stderr, "fieldsyncd: lockout: could not record a login "
		                "outcome for %s: %s; logins are refused until the "
		                "store writes again\n", tk->staff, fs_err_name(rc));
	}
	if (tk->slot >= 0) {
		pthread_mutex_lock(&l->mu);
		l->inflight[tk->slot][0] = 0;
		pthread_mutex_unlock(&l->mu);
		tk->slot = -1;
	}
	return rc ? FS_E_UNAVAILABLE : FS_OK;
}

int lockout_clear(lockout *l, const char *staff)
{
	if (!l)
		return FS_OK;
	del_ctx d;
	d.kn = key_of(d.key, 's', staff);
	store_txn *t;
	sv v;
	if (store_begin(engine_store(l->e), 0, &t))
		return FS_E_UNAVAILABLE;
	int there = store_get(t, ST_AUX, sv_of(d.key, d.kn), &v) == FS_OK;
	store_abort(t);
	return there ? engine_write(l->e, del_txn, &d) : FS_OK;
}

/* ---- report -------------------------------------------------------------------- */

typedef struct {
	const char *site;
	uint64_t now;
	char kind;
	doc *d;
} rep_ctx;

static void kv_u64_or_nil(doc *d, const char *k, int has, uint64_t v)
{
	doc_key(d, k);
	if (has)
		doc_u64(d, v);
	else
		doc_nil(d);
}

static int rep_cb(void *ctx, sv key, sv val)
{
	rep_ctx *r = ctx;
	const char *k = key.p;
	if (key.n < 11 || k[8] != r->kind || k[9] != 0)
		return SCAN_NEXT;
	entry e;
	if (entry_decode(val, &e) || strcmp(e.site, r->site) ||
	    stale(&e, r->now) || (!e.fails && e.until <= r->now))
		return SCAN_NEXT;
	char name[KEY_MAX];
	size_t nn = key.n - 10 < KEY_MAX - 1 ? key.n - 10 : KEY_MAX - 1;
	memcpy(name, k + 10, nn);
	name[nn] = 0;
	int locked = e.until > r->now;
	doc *d = r->d;
	doc_map_n(d, r->kind == 's' ? 7 : 6);
	doc_key(d, r->kind == 's' ? "staff" : "address");
	doc_str(d, name);
	kv_u64_or_nil(d, "fails", 1, e.fails);
	doc_key(d, "locked");
	doc_bool(d, locked);
	kv_u64_or_nil(d, "locked_until", locked, e.until);
	if (r->kind == 's')
		kv_u64_or_nil(d, "level", 1, e.level);
	kv_u64_or_nil(d, "last_fail", 1, e.last);
	doc_key(d, "device");
	doc_str(d, e.device);
	doc_end(d);
	return SCAN_NEXT;
}

int lockout_report(lockout *l, const char *site, int json, uint64_t now_ms,
                   wbuf *out)
{
	if (!l)
		return FS_E_UNAVAILABLE;
	store_txn *t;
	if (store_begin(engine_store(l->e), 0, &t))
		return FS_E_UNAVAILABLE;
	doc d;
	doc_init_tight(&d, out, json);
	rep_ctx r = {site, now_ms, 's', &d};
	static const char *const names[2] = {"staff", "addresses"};
	static const char kinds[2] = {'s', 'a'};
	doc_map_n(&d, 4);
	doc_key(&d, "site");
	doc_str(&d, site);
	doc_key(&d, "generated_at");
	doc_u64(&d, now_ms);
	int rc = FS_OK;
	for (int i = 0; i < 2 && !rc; i++) {
		r.kind = kinds[i];
		doc_key(&d, names[i]);
		doc_arr(&d);
		rc = store_scan(t, ST_AUX, sv_of("lockout\0", 8), sv_of("lockout\0", 8),
		                rep_cb, &r);
		if (rc == FS_E_NOT_FOUND)
			rc = FS_OK; /* nothing stored */
		doc_end(&d);
	}
	doc_end(&d);
	store_abort(t);
	if (rc)
		return FS_E_UNAVAILABLE;
	return out->err ? FS_E_UNAVAILABLE : FS_OK;
}
