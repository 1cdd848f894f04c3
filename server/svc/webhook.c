/*
 * webhook.c — see webhook.h.  The server's only libcurl user.
 *
 * Keys (ST_AUX), owned here:
 *   "wh/i/" site \0 webhook          -> "" : the site's webhooks
 *   "wh/q/" be64(due) alert \0 hook  -> "" : a delivery due then
 *   "wh/s/" alert \0 hook            -> the delivery's state (st_* below)
 * The hook writes a new (alert, webhook) pair's state and queue entry in
 * the alert's own transaction; from then on only the delivery threads
 * change them, so a delivery is never queued twice, and a delivery thread
 * claims an entry before it posts (claim_txn), so with several nodes on
 * one store a delivery is posted by one of them.
 */
#include "server/svc/webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "protocol/be64.h"
#include "protocol/errors.h"
#include "protocol/opbuild.h"
#include "server/lib/crypto.h"
#include "server/lib/json.h"
#include "server/model/records.h"
#include "server/store/keys.h"
#include "server/svc/genpush.h"
#include "server/svc/worker.h"

#define P_INDEX "wh/i/"
#define P_QUEUE "wh/q/"
#define P_STATE "wh/s/"
#define HOUR_MS 3600000ULL
#define TAKE_MAX 16
#define ERR_MAX 160
#define REPLY_MAX 4096
#define LEASE_SLACK_MS 30000 /* a claimed delivery's lease past the POST's timeout */

enum { DS_PENDING, DS_DELIVERED, DS_FAILED, DS_REFUSED, DS_DROPPED };
static const char *const ds_names[] = {"pending", "delivered", "failed",
                                       "refused", "dropped"};

/* A delivery's state: be64 first, be64 due, be64 last, be32 attempts,
 * be32 HTTP status, 1 byte state, then the last error (text). */
typedef struct {
	uint64_t first, due, last;
	uint32_t attempts, code;
	int state;
	char err[ERR_MAX + 1];
} dstate;

static size_t st_encode(const dstate *s, uint8_t *b)
{
	be64_put(b, s->first);
	be64_put(b + 8, s->due);
	be64_put(b + 16, s->last);
	uint8_t *p = b + 24;
	for (int i = 3; i >= 0; i--) {
		p[3 - i] = (uint8_t)(s->attempts >> (8 * i));
		p[7 - i] = (uint8_t)(s->code >> (8 * i));
	}
	b[32] = (uint8_t)s->state;
	size_t en = strnlen(s->err, ERR_MAX);
	memcpy(b + 33, s->err, en);
	return 33 + en;
}

static int st_decode(sv v, dstate *s)
{
	memset(s, 0, sizeof(*s));
	if (v.n < 33 || v.n > 33 + ERR_MAX)
		return 0;
	const uint8_t *b = v.p;
	s->first = be64_get(b);
	s->due = be64_get(b + 8);
	s->last = be64_get(b + 16);
	for (int i = 0; i < 4; i++) {
		s->attempts = s->attempts << 8 | b[24 + i];
		s->code = s->code << 8 | b[28 + i];
	}
	s->state = b[32] <= DS_DROPPED ? b[32] : DS_FAILED;
	memcpy(s->err, b + 33, v.n - 33);
	return 1;
}

/* prefix a \0 b, 0 when it does not fit */
static size_t pair_key(char *k, size_t cap, const char *prefix,
                       const char *a, const char *b)
{
	int n = snprintf(k, cap, "%s%s%c%s", prefix, a, 0, b);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t queue_key(char *k, size_t cap, uint64_t due, const char *alert,
                        const char *hook)
{
	memcpy(k, P_QUEUE, 5);
	be64_put((uint8_t *)k + 5, due);
	size_t n = pair_key(k + 13, cap - 13, "", alert, hook);
	return n ? n + 13 : 0;
}

/* ---- the hook ------------------------------------------------------------------ */

static int index_webhook(const write_event *ev)
{
	char k[KEY_MAX];
	size_t kn;
	char *old = ev->old ? rec_str(ev->a, ev->old, "site") : NULL;
	char *site = rec_str(ev->a, ev->nw, "site");
	int gone = rec_true(ev->nw, "_deleted");
	int rc;
	if (old && (gone || !site || strcmp(old, site)) &&
	    (kn = pair_key(k, sizeof(k), P_INDEX, old, ev->id)) &&
	    (rc = store_del(ev->t, ST_AUX, sv_of(k, kn))))
		return rc;
	if (!site || gone || !(kn = pair_key(k, sizeof(k), P_INDEX, site, ev->id)))
		return FS_OK;
	return store_put(ev->t, ST_AUX, sv_of(k, kn), sv_of("", 0));
}

typedef struct {
	char ids[32][FS_ID_MAX + 1];
	unsigned n;
	size_t plen;
} hooklist;

static int hook_cb(void *ctx, sv key, sv val)
{
	(void)val;
	hooklist *h = ctx;
	size_t n = key.n - h->plen;
	if (h->n == 32)
		return SCAN_STOP;
	if (n && n <= FS_ID_MAX) {
		memcpy(h->ids[h->n], (const char *)key.p + h->plen, n);
		h->ids[h->n++][n] = 0;
	}
	return SCAN_NEXT;
}

/* Is webhook record r live: not deleted, a URL, not disabled? */
static int usable(arena *a, const record *r)
{
	const rfield *en = rec_get(r, "enabled");
	return !rec_true(r, "_deleted") && rec_str(a, r, "url") &&
	       !(en && en->val.t == WV_BOOL && !en->val.b);
}

/* Does webhook record r want alerts of `kind`? */
static int wants(arena *a, const record *r, const char *kind)
{
	if (!usable(a, r))
		return 0;
	const rfield *k = rec_get(r, "kinds");
	if (!k || k->val.t != WV_ARR || !k->val.a.n)
		return 1;
	for (uint32_t i = 0; i < k->val.a.n; i++)
		if (wv_is_str(&k->val.a.v[i], kind))
			return 1;
	return 0;
}

static int queue_alert(const write_event *ev)
{
	char *site = rec_str(ev->a, ev->nw, "site");
	char *kind = rec_str(ev->a, ev->nw, "kind");
	char p[KEY_MAX];
	size_t pn = site ? pair_key(p, sizeof(p), P_INDEX, site, "") : 0;
	if (!pn || !kind)
		return FS_OK;
	hooklist h;
	h.n = 0;
	h.plen = pn;
	int rc = store_scan(ev->t, ST_AUX, sv_of(p, pn), sv_of(p, pn), hook_cb, &h);
	if (rc && rc != SCAN_STOP && rc != FS_E_NOT_FOUND)
		return rc;
	for (unsigned i = 0; i < h.n; i++) {
		record r;
		char k[KEY_MAX];
		size_t kn;
		sv v;
		if (records_load(ev->t, ev->a, "webhook", h.ids[i], &r, NULL, NULL) ||
		    !wants(ev->a, &r, kind) ||
		    !(kn = pair_key(k, sizeof(k), P_STATE, ev->id, h.ids[i])) ||
		    store_get(ev->t, ST_AUX, sv_of(k, kn), &v) == FS_OK)
			continue;
		dstate s;
		memset(&s, 0, sizeof(s));
		s.first = s.due = ev->now;
		uint8_t b[33 + ERR_MAX];
		if ((rc = store_put(ev->t, ST_AUX, sv_of(k, kn),
		                    sv_of(b, st_encode(&s, b)))))
			return rc;
		if ((kn = queue_key(k, sizeof(k), s.due, ev->id, h.ids[i])) &&
		    (rc = store_put(ev->t, ST_AUX, sv_of(k, kn), sv_of("", 0))))
			return rc;
	}
	return FS_OK;
}

int webhook_on_record(void *ctx, const write_event *ev)
{
	(void)ctx;
	if (!strcmp(ev->c, "webhook"))
		return index_webhook(ev);
	if (!strcmp(ev->c, "alert") && !ev->old && !rec_true(ev->nw, "_deleted"))
		return queue_alert(ev);
	return FS_OK;
}

/* ---- bodies --------------------------------------------------------------------- */

void webhook_key(const char *alert, const char *hook, char out[33])
{
	crypto_sha *h = crypto_sha_new();
	uint8_t d[32];
	if (!h) {
		memset(d, 0, sizeof(d));
	} else {
		crypto_sha_update(h, "fieldsync-webhook", 18);
		crypto_sha_update(h, alert, strlen(alert) + 1);
		crypto_sha_update(h, hook, strlen(hook));
		crypto_sha_final(h, d);
	}
	hex_encode(d, 16, out);
}

static const char *str_or(arena *a, const record *r, const char *f,
                          const char *dflt)
{
	char *s = rec_str(a, r, f);
	return s ? s : dflt;
}

int webhook_body(const char *format, const char *id, const record *al,
                 wbuf *out)
{
	static const char *const fields[] = {
		"site", "kind", "severity", "subject_c", "subject", "step",
		"raised_at", "resolved_at", "text_zh", "text_en", "acked_by",
		"acked_at"};
	arena *a = arena_new(0);
	if (!a)
		return FS_E_UNAVAILABLE;
	jwriter w;
	jw_init(&w, out);
	const char *kind = str_or(a, al, "kind", ""),
	           *sev = str_or(a, al, "severity", ""),
	           *zh = str_or(a, al, "text_zh", ""),
	           *en = str_or(a, al, "text_en", "");
	const rfield *res = rec_get(al, "resolved_at");
	const char *state = res && res->val.t != WV_NIL ? " (resolved)" : "";
	jw_obj(&w);
	if (!format || !strcmp(format, "json")) {
		jw_key(&w, "id");
		jw_str(&w, id);
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			const rfield *f = rec_get(al, fields[i]);
			jw_key(&w, fields[i]);
			if (f)
				jw_val(&w, &f->val);
			else
				jw_null(&w);
		}
	} else if (!strcmp(format, "wecom")) {
		jw_key(&w, "msgtype");
		jw_str(&w, "markdown");
		jw_key(&w, "markdown");
		jw_obj(&w);
		jw_key(&w, "content");
		jw_str(&w, arena_printf(a, "**fieldsync %s** [%s]%s\n> %s\n> %s\n`%s`",
		                        kind, sev, state, zh, en, id));
		jw_end_obj(&w);
	} else if (!strcmp(format, "dingtalk")) {
		jw_key(&w, "msgtype");
		jw_str(&w, "markdown");
		jw_key(&w, "markdown");
		jw_obj(&w);
		jw_key(&w, "title");
		jw_str(&w, arena_printf(a, "fieldsync %s", kind));
		jw_key(&w, "text");
		jw_str(&w, arena_printf(a, "### fieldsync %s [%s]%s\n\n%s\n\n%s\n\n`%s`",
		                        kind, sev, state, zh, en, id));
		jw_end_obj(&w);
	} else {
		jw_key(&w, "text");
		jw_str(&w, arena_printf(a, "*fieldsync %s* [%s]%s\n%s\n%s\n`%s`",
		                        kind, sev, state, en, zh, id));
	}
	jw_end_obj(&w);
	arena_free(a);
	return out->err ? FS_E_UNAVAILABLE : FS_OK;
}

/* ---- addresses ------------------------------------------------------------------------ */

int webhook_private_addr(const uint8_t *b, size_t n)
{
	if (n == 16) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(b, mapped, 12))
			return webhook_private_addr(b + 12, 4);
		int zero = 1;
		for (int i = 0; i < 15; i++)
			zero &= b[i] == 0;
		return zero ||                          /* :: and ::1 */
		       (b[0] & 0xfe) == 0xfc ||          /* fc00::/7 unique local */
		       (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
		       b[0] == 0xff ||                   /* multicast */
		       (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d &&
		        b[3] == 0xb8);                   /* 2001:db8::/32 docs */
	}
	if (n != 4)
		return 1;
	return b[0] == 0 || b[0] == 10 || b[0] == 127 ||
	       (b[0] == 100 && (b[1] & 0xc0) == 64) ||   /* 100.64/10 CGNAT */
	       (b[0] == 169 && b[1] == 254) ||
	       (b[0] == 172 && (b[1] & 0xf0) == 16) ||
	       (b[0] == 192 && b[1] == 168) ||
	       (b[0] == 192 && b[1] == 0 && b[2] == 0) ||
	       (b[0] == 198 && (b[1] & 0xfe) == 18) ||   /* benchmarking */
	       b[0] >= 224;                              /* multicast, reserved */
}

typedef struct {
	int allow_private;
	int refused;
} sockctx;

static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
	sockctx *c = clientp;
	(void)purpose;
	const uint8_t *b = NULL;
	size_t n = 0;
	if (a->family == AF_INET) {
		b = (const uint8_t *)&((struct sockaddr_in *)&a->addr)->sin_addr;
		n = 4;
	} else if (a->family == AF_INET6) {
		b = (const uint8_t *)&((struct sockaddr_in6 *)&a->addr)->sin6_addr;
		n = 16;
	}
	if (!b || (!c->allow_private && webhook_private_addr(b, n))) {
		c->refused = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	size_t *got = ctx;
	*got += size * n;
	return *got > REPLY_MAX ? 0 : size * n; /* a reply is not read past 4 KiB */
}

/* One POST.  Returns the state it leaves (delivered, refused, or pending
 * for a retry) with *code and err. */
static int post(const webhook_cfg *cfg, const char *url, const char *secret,
                const char *alert, const char *key, const wbuf *body,
                uint64_t now, uint32_t *code, char *err)
{
	char ts[24], sig_hdr[200], key_hdr[80], id_hdr[200];
	uint8_t mac[32];
	char hex[65];
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)now);
	size_t tn = strlen(ts);
	uint8_t *msg = malloc(tn + 1 + body->n);
	if (!msg) {
		snprintf(err, ERR_MAX, "out of memory");
		return DS_PENDING;
	}
	memcpy(msg, ts, tn);
	msg[tn] = '.';
	memcpy(msg + tn + 1, body->p, body->n);
	int hrc = crypto_hmac_sha256(secret, strlen(secret), msg, tn + 1 + body->n,
	                             mac);
	free(msg);
	if (hrc) {
		snprintf(err, ERR_MAX, "cannot sign");
		return DS_PENDING;
	}
	hex_encode(mac, 32, hex);
	snprintf(sig_hdr, sizeof(sig_hdr), "X-Fieldsync-Signature: t=%s,v1=%s", ts, hex);
	snprintf(key_hdr, sizeof(key_hdr), "Idempotency-Key: %s", key);
	snprintf(id_hdr, sizeof(id_hdr), "X-Fieldsync-Alert: %s", alert);
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct curl_slist *h1 = curl_slist_append(h, "Content-Type: application/json; charset=utf-8");
	h = h1 ? h1 : h;
	const char *hs[] = {sig_hdr, key_hdr, id_hdr, "User-Agent: fieldsyncd-webhook/1",
	                    "Expect:"};
	for (size_t i = 0; h && i < sizeof(hs) / sizeof(hs[0]); i++) {
		struct curl_slist *nh = curl_slist_append(h, hs[i]);
		h = nh ? nh : h;
	}
	if (!c || !h) {
		curl_slist_free_all(h);
		if (c)
			curl_easy_cleanup(c);
		snprintf(err, ERR_MAX, "out of memory");
		return DS_PENDING;
	}
	sockctx sc = {cfg->allow_private, 0};
	size_t got = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* the address checked is the target's */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body->p);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->n);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &sc);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	*code = status > 0 ? (uint32_t)status : 0;
	if (sc.refused) {
		snprintf(err, ERR_MAX, "refused: the URL's address is not public "
		                       "(serve --webhook-allow-private allows it)");
		return DS_REFUSED;
	}
	if (status >= 200 && status < 300 &&
	    (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)) {
		err[0] = 0;
		return DS_DELIVERED;
	}
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
		snprintf(err, ERR_MAX, "%s", curl_easy_strerror(rc));
	else
		snprintf(err, ERR_MAX, "HTTP %ld", status);
	return DS_PENDING;
}

/* ---- the delivery thread --------------------------------------------------------------- */

typedef struct {
	char *qkey;
	size_t qn;
	char *alert, *hook;
	dstate st;
	int have_alert, have_hook;
	record al, wh;
} job;

typedef struct {
	arena *a;
	store_txn *t;
	uint64_t now;
	job v[TAKE_MAX];
	unsigned n;
	uint64_t next;
} take;

static int queue_cb(void *ctx, sv key, sv val)
{
	(void)val;
	take *tk = ctx;
	if (key.n <= 13)
		return SCAN_NEXT;
	uint64_t due = be64_get((const uint8_t *)key.p + 5);
	if (due > tk->now) {
		tk->next = due;
		return SCAN_STOP;
	}
	if (tk->n == TAKE_MAX) {
		tk->next = tk->now;
		return SCAN_STOP;
	}
	const char *p = (const char *)key.p + 13;
	size_t rest = key.n - 13;
	const char *nul = memchr(p, 0, rest);
	if (!nul)
		return SCAN_NEXT;
	job *j = &tk->v[tk->n];
	memset(j, 0, sizeof(*j));
	j->qkey = arena_dup(tk->a, key.p, key.n);
	j->qn = key.n;
	j->alert = arena_strndup(tk->a, p, (size_t)(nul - p));
	j->hook = arena_strndup(tk->a, nul + 1, rest - (size_t)(nul - p) - 1);
	if (!j->qkey || !j->alert || !j->hook)
		return FS_E_UNAVAILABLE;
	char k[KEY_MAX];
	size_t kn = pair_key(k, sizeof(k), P_STATE, j->alert, j->hook);
	sv v;
	if (!kn || store_get(tk->t, ST_AUX, sv_of(k, kn), &v) || !st_decode(v, &j->st))
		j->st.first = tk->now;
	j->have_alert = records_load(tk->t, tk->a, "alert", j->alert, &j->al,
	                             NULL, NULL) == FS_OK &&
	                !rec_true(&j->al, "_deleted");
	j->have_hook = records_load(tk->t, tk->a, "webhook", j->hook, &j->wh,
	                            NULL, NULL) == FS_OK;
	tk->n++;
	return SCAN_NEXT;
}

struct webhook {
	engine *e;
	webhook_cfg cfg;
	worker *w;
};

typedef struct {
	job *j;
	uint64_t now;
} done_ctx;

static int done_txn(void *ctx, store_txn *t)
{
	done_ctx *d = ctx;
	job *j = d->j;
	char k[KEY_MAX];
	uint8_t b[33 + ERR_MAX];
	int rc = store_del(t, ST_AUX, sv_of(j->qkey, j->qn));
	size_t kn = pair_key(k, sizeof(k), P_STATE, j->alert, j->hook);
	if (!rc && kn)
		rc = store_put(t, ST_AUX, sv_of(k, kn), sv_of(b, st_encode(&j->st, b)));
	if (!rc && j->st.state == DS_PENDING &&
	    (kn = queue_key(k, sizeof(k), j->st.due, j->alert, j->hook)))
		rc = store_put(t, ST_AUX, sv_of(k, kn), sv_of("", 0));
	return rc;
}

typedef struct {
	arena *a;
	wbuf *w;
	size_t plen;
	uint32_t n;
	const char *alert;
} logctx;

static int log_cb(void *ctx, sv key, sv val)
{
	logctx *l = ctx;
	dstate s;
	if (key.n <= l->plen || !st_decode(val, &s))
		return SCAN_NEXT;
	char *hook = arena_strndup(l->a, (const char *)key.p + l->plen,
	                           key.n - l->plen);
	if (!hook)
		return FS_E_UNAVAILABLE;
	char k[33];
	webhook_key(l->alert, hook, k);
	wb_map(l->w, 7);
	wb_cstr(l->w, "hook");
	wb_cstr(l->w, hook);
	wb_cstr(l->w, "state");
	wb_cstr(l->w, ds_names[s.state]);
	wb_cstr(l->w, "attempts");
	wb_u64(l->w, s.attempts);
	wb_cstr(l->w, "last_at");
	wb_u64(l->w, s.last);
	wb_cstr(l->w, "code");
	wb_u64(l->w, s.code);
	wb_cstr(l->w, "error");
	wb_cstr(l->w, s.err[0] ? s.err : NULL);
	wb_cstr(l->w, "key");
	wb_cstr(l->w, k);
	l->n++;
	return SCAN_NEXT;
}

/* The alert's `deliveries`: one entry per webhook, as the states say. */
static int write_log(engine *e, const char *alert)
{
	arena *a = arena_new(0);
	char p[KEY_MAX];
	size_t pn = pair_key(p, sizeof(p), P_STATE, alert, "");
	store_txn *t;
	if (!a || !pn || store_begin(engine_store(e), 0, &t)) {
		arena_free(a);
		return FS_E_UNAVAILABLE;
	}
	wbuf items;
	wb_init(&items);
	logctx l = {a, &items, pn, 0, alert};
	int rc = store_scan(t, ST_AUX, sv_of(p, pn), sv_of(p, pn), log_cb, &l);
	store_abort(t);
	if (rc == FS_E_NOT_FOUND || rc == SCAN_STOP)
		rc = FS_OK;
	opbatch b;
	ob_init(&b);
	if (!rc) {
		ob_op(&b, "alert", alert, engine_hlc_now(e), 1);
		ob_name(&b, "deliveries");
		wb_arr(&b.ops, l.n);
		wb_raw(&b.ops, items.p, items.n);
	}
	if (!rc)
		rc = items.err ? FS_E_UNAVAILABLE : gp_push(e, NULL, &b, "webhook log");
	wb_free(&items);
	ob_free(&b);
	arena_free(a);
	return rc;
}

static uint64_t backoff(const webhook_cfg *cfg, uint32_t attempts)
{
	uint64_t d = cfg->backoff_ms;
	for (uint32_t i = 1; i < attempts && d < HOUR_MS; i++)
		d *= 2;
	return d < HOUR_MS ? d : HOUR_MS > cfg->backoff_ms ? HOUR_MS : cfg->backoff_ms;
}

/* Claiming a delivery: its queue entry, still there, moves to now + the
 * lease in one write transaction.  On PostgreSQL every write transaction
 * locks the counter row first, so of several nodes that read the same due
 * entry one moves it and the others find it gone and skip it: a delivery
 * is posted by one node.  A node that dies mid-post leaves the entry due
 * when the lease ends, and another node posts it again (at least once;
 * the receiver dedups by X-Fieldsync-Delivery). */
typedef struct {
	job *j;
	arena *a;
	uint64_t until;
} claim_ctx;

static int claim_txn(void *ctx, store_txn *t)
{
	claim_ctx *c = ctx;
	job *j = c->j;
	char k[KEY_MAX];
	sv v;
	int rc = store_get(t, ST_AUX, sv_of(j->qkey, j->qn), &v);
	if (rc)
		return rc; /* FS_E_NOT_FOUND: another node took it */
	size_t kn = queue_key(k, sizeof(k), c->until, j->alert, j->hook);
	char *nk = kn ? arena_dup(c->a, k, kn) : NULL;
	if (!nk)
		return FS_E_UNAVAILABLE;
	if ((rc = store_del(t, ST_AUX, sv_of(j->qkey, j->qn))) ||
	    (rc = store_put(t, ST_AUX, sv_of(nk, kn), sv_of("", 0))))
		return rc;
	j->qkey = nk;
	j->qn = kn;
	return FS_OK;
}

static void deliver(webhook *w, job *j, arena *a)
{
	uint64_t now = engine_now(w->e);
	claim_ctx c = {j, a, now + w->cfg.timeout_ms + LEASE_SLACK_MS};
	if (engine_write(w->e, claim_txn, &c) != FS_OK)
		return; /* taken by another node, or the store is down: next pass */
	/* the kinds were matched when it was queued */
	char *url = j->have_alert && j->have_hook && usable(a, &j->wh)
	                    ? rec_str(a, &j->wh, "url")
	                    : NULL;
	j->st.attempts++;
	j->st.last = now;
	if (!url) {
		j->st.state = DS_DROPPED;
		snprintf(j->st.err, sizeof(j->st.err),
		         "the alert or the webhook is gone or disabled");
	} else {
		wbuf body;
		wb_init(&body);
		char key[33];
		webhook_key(j->alert, j->hook, key);
		const char *secret = str_or(a, &j->wh, "secret", "");
		if (webhook_body(rec_str(a, &j->wh, "format"), j->alert, &j->al, &body)) {
			j->st.state = DS_PENDING;
			snprintf(j->st.err, sizeof(j->st.err), "out of memory");
		} else {
			j->st.state = post(&w->cfg, url, secret, j->alert, key, &body,
			                   now, &j->st.code, j->st.err);
		}
		wb_free(&body);
	}
	if (j->st.state == DS_PENDING) {
		if (now - j->st.first >= w->cfg.give_up_ms)
			j->st.state = DS_FAILED;
		else
			j->st.due = now + backoff(&w->cfg, j->st.attempts);
	}
	if (j->st.state != DS_DELIVERED)
		fprintf(stderr, "fieldsyncd: webhook %s, alert %s: %s (%s)\n", j->hook,
		        j->alert, ds_names[j->st.state], j->st.err);
	done_ctx d = {j, now};
	if (engine_write(w->e, done_txn, &d) == FS_OK && j->have_alert)
		write_log(w->e, j->alert);
}

/* One pass over the due deliveries; *next: the first one ahead. */
static int run_pass(webhook *w, worker *self, uint64_t *next)
{
	arena *a = arena_new(0);
	take *tk = a ? arena_calloc(a, 1, sizeof(*tk)) : NULL;
	if (!tk) {
		arena_free(a);
		return FS_E_UNAVAILABLE;
	}
	tk->a = a;
	tk->now = engine_now(w->e);
	int rc = store_begin(engine_store(w->e), 0, &tk->t);
	if (!rc) {
		rc = store_scan(tk->t, ST_AUX, sv_cstr(P_QUEUE), sv_cstr(P_QUEUE),
		                queue_cb, tk);
		store_abort(tk->t);
		if (rc == SCAN_STOP || rc == FS_E_NOT_FOUND)
			rc = FS_OK;
	}
	*next = tk->next;
	for (unsigned i = 0; !rc && i < tk->n; i++) {
		if (worker_stopping(self))
			break;
		deliver(w, &tk->v[i], a);
	}
	arena_free(a);
	return rc;
}

static int wh_pass(void *ctx, worker *self, uint64_t *next, int *again)
{
	*again = 0;
	return run_pass(ctx, self, next);
}

/* A new alert (its deliveries queued with it) is a write to alerts/. */
static int wh_wakes(const char *bucket)
{
	return strncmp(bucket, "alerts/", 7) == 0;
}

int webhook_start(webhook **out, engine *e, const webhook_cfg *cfg)
{
	*out = NULL;
	webhook *w = calloc(1, sizeof(*w));
	if (!w)
		return FS_E_UNAVAILABLE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		free(w);
		return FS_E_INTERNAL;
	}
	w->e = e;
	w->cfg = *cfg;
	if (!w->cfg.backoff_ms)
		w->cfg.backoff_ms = 10000;
	if (!w->cfg.give_up_ms)
		w->cfg.give_up_ms = 25 * HOUR_MS;
	if (!w->cfg.timeout_ms)
		w->cfg.timeout_ms = 10000;
	if (!w->cfg.poll_ms)
		w->cfg.poll_ms = 1000;
	worker_cfg wc = {"webhooks", w->cfg.poll_ms, 0, wh_pass, wh_wakes, w};
	int rc = worker_start(&w->w, e, &wc);
	if (rc) {
		webhook_stop(w);
		return rc;
	}
	*out = w;
	return FS_OK;
}

void webhook_stop(webhook *w)
{
	if (!w)
		return;
	worker_stop(w->w);
	free(w);
	curl_global_cleanup();
}
