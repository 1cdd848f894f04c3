/*
 * ratelimit.c — see ratelimit.h.  Token buckets in a fixed table of
 * slots, split in shards with a lock each; client addresses behind
 * trusted proxies.  The buckets are this process's memory: with several
 * nodes on one store (PostgreSQL), a client that HAProxy spreads over N
 * nodes meets N nodes' limits, up to N times the rate of one.
 */
#include "server/http/ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"

#define NSHARD 16
#define PROBE 8
#define DEFAULT_KEYS 16384

typedef struct {
	uint64_t t_ms;   /* last refill */
	double tokens;
	uint8_t used;
	uint8_t n;
	char key[RL_KEY_MAX];
} slot;

typedef struct {
	pthread_mutex_t mu;
	slot *s;
	unsigned n;
} shard;

struct ratelimit {
	double per_s, burst;
	uint64_t seed;
	shard sh[NSHARD];
};

static uint64_t hash(uint64_t seed, const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

int rl_open(ratelimit **out, const rl_cfg *c)
{
	*out = NULL;
	ratelimit *r = calloc(1, sizeof(*r));
	if (!r)
		return FS_E_INTERNAL;
	r->per_s = c->per_s;
	r->burst = c->burst ? c->burst : c->per_s;
	if (r->burst < 1)
		r->burst = 1;
	if (crypto_random(&r->seed, sizeof(r->seed)))
		r->seed = (uint64_t)(uintptr_t)r;
	unsigned keys = c->max_keys ? c->max_keys : DEFAULT_KEYS;
	unsigned per = (keys + NSHARD - 1) / NSHARD;
	if (per < PROBE)
		per = PROBE;
	for (int i = 0; i < NSHARD; i++) {
		pthread_mutex_init(&r->sh[i].mu, NULL);
		r->sh[i].n = per;
		/* a limit of 0 takes no memory: rl_take never looks */
		if (c->per_s && !(r->sh[i].s = calloc(per, sizeof(slot)))) {
			rl_close(r);
			return FS_E_INTERNAL;
		}
	}
	*out = r;
	return FS_OK;
}

void rl_close(ratelimit *r)
{
	if (!r)
		return;
	for (int i = 0; i < NSHARD; i++) {
		free(r->sh[i].s);
		pthread_mutex_destroy(&r->sh[i].mu);
	}
	free(r);
}

/* Tokens in s at now (refilled, capped at burst). */
static double level(const ratelimit *r, const slot *s, uint64_t now)
{
	double t = s->tokens;
	if (now > s->t_ms)
		t += (double)(now - s->t_ms) * r->per_s / 1000.0;
	return t > r->burst ? r->burst : t;
}

unsigned rl_take(ratelimit *r, const char *key, size_t n, uint64_t now_ms)
{
	if (!r || r->per_s <= 0)
		return 0;
	if (n > RL_KEY_MAX)
		n = RL_KEY_MAX;
	uint64_t h = hash(r->seed, key, n);
	shard *sh = &r->sh[h % NSHARD];
	unsigned base = (unsigned)((h / NSHARD) % sh->n);
	pthread_mutex_lock(&sh->mu);
	slot *hit = NULL, *free_s = NULL, *lru = NULL;
	for (unsigned i = 0; i < PROBE && !hit; i++) {
		slot *s = &sh->s[(base + i) % sh->n];
		if (s->used && s->n == n && !memcmp(s->key, key, n))
			hit = s;
		else if (!s->used || level(r, s, now_ms) >= r->burst)
			free_s = free_s ? free_s : s; /* empty, or as good as */
		else if (!lru || s->t_ms < lru->t_ms)
			lru = s;
	}
	if (!hit) {
		hit = free_s ? free_s : lru;
		hit->used = 1;
		hit->n = (uint8_t)n;
		memcpy(hit->key, key, n);
		hit->tokens = r->burst;
		hit->t_ms = now_ms;
	}
	hit->tokens = level(r, hit, now_ms);
	if (now_ms > hit->t_ms)
		hit->t_ms = now_ms;
	unsigned wait = 0;
	if (hit->tokens >= 1.0) {
		hit->tokens -= 1.0;
	} else {
		double s = (1.0 - hit->tokens) / r->per_s;
		wait = (unsigned)s;
		if ((double)wait < s)
			wait++;
		if (!wait)
			wait = 1;
	}
	pthread_mutex_unlock(&sh->mu);
	return wait;
}

/* ---- addresses ------------------------------------------------------------ */

typedef struct {
	int v6;          /* 0: IPv4 in b[0..4) */
	uint8_t b[16];
} ipaddr;

/* Parse an address with optional brackets and port:
 * "1.2.3.4", "1.2.3.4:80", "::1", "[::1]", "[::1]:80".  0 or -1. */
static int ip_parse(const char *p, size_t n, ipaddr *out)
{
	char buf[64];
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n && *p == '[') {
		const char *e = memchr(p, ']', n);
		if (!e)
			return -1;
		n = (size_t)(e - p - 1);
		p++;
	} else {
		/* IPv4 with a port: one colon, and dots before it */
		const char *c = memchr(p, ':', n);
		if (c && !memchr(c + 1, ':', n - (size_t)(c - p) - 1) &&
		    memchr(p, '.', (size_t)(c - p)))
			n = (size_t)(c - p);
	}
	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->b) == 1)
		return 0;
	if (inet_pton(AF_INET6, buf, out->b) != 1)
		return -1;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!memcmp(out->b, mapped, 12)) {
		memmove(out->b, out->b + 12, 4);
		memset(out->b + 4, 0, 12);
		return 0;
	}
	out->v6 = 1;
	return 0;
}

static void ip_norm(const ipaddr *a, char out[RL_ADDR_MAX])
{
	char buf[INET6_ADDRSTRLEN];
	if (!a->v6) {
		inet_ntop(AF_INET, a->b, out, RL_ADDR_MAX);
		return;
	}
	uint8_t pre[16];
	memcpy(pre, a->b, 8);
	memset(pre + 8, 0, 8);
	inet_ntop(AF_INET6, pre, buf, sizeof(buf));
	snprintf(out, RL_ADDR_MAX, "%s/64", buf);
}

int rl_addr_norm(const char *addr, size_t n, char out[RL_ADDR_MAX])
{
	ipaddr a;
	if (ip_parse(addr, n, &a)) {
		size_t k = n < RL_ADDR_MAX - 1 ? n : RL_ADDR_MAX - 1;
		memcpy(out, addr, k);
		out[k] = 0;
		return -1;
	}
	ip_norm(&a, out);
	return 0;
}

typedef struct {
	ipaddr a;
	unsigned bits;
} prefix;

struct rl_proxies {
	prefix *p;
	unsigned n;
};

int rl_proxies_parse(rl_proxies **out, const char *list, char *err,
                     size_t errn)
{
	*out = NULL;
	rl_proxies *r = calloc(1, sizeof(*r));
	if (!r)
		return FS_E_INTERNAL;
	size_t cap = 1;
	for (const char *c = list; c && *c; c++)
		cap += *c == ',';
	if (list && *list && !(r->p = calloc(cap, sizeof(prefix)))) {
		free(r);
		return FS_E_INTERNAL;
	}
	const char *p = list ? list : "";
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *slash = memchr(p, '/', n);
		size_t an = slash ? (size_t)(slash - p) : n;
		prefix px;
		memset(&px, 0, sizeof(px));
		int bad = ip_parse(p, an, &px.a) != 0;
		unsigned maxb = px.a.v6 ? 128 : 32;
		px.bits = maxb;
		if (!bad && slash) {
			char num[8];
			size_t bn = n - an - 1;
			char *end;
			if (!bn || bn >= sizeof(num))
				bad = 1;
			else {
				memcpy(num, slash + 1, bn);
				num[bn] = 0;
				unsigned long b = strtoul(num, &end, 10);
				if (*end || b > maxb)
					bad = 1;
				px.bits = (unsigned)b;
			}
		}
		if (bad) {
			snprintf(err, errn, "--trusted-proxy: '%.*s' is not an address "
			         "or ADDR/BITS", (int)(n > 60 ? 60 : n), p);
			rl_proxies_free(r);
			return FS_E_BAD_REQUEST;
		}
		if (n)
			r->p[r->n++] = px;
		p = e ? e + 1 : p + n;
	}
	*out = r;
	return FS_OK;
}

void rl_proxies_free(rl_proxies *p)
{
	if (!p)
		return;
	free(p->p);
	free(p);
}

static int in_prefix(const prefix *px, const ipaddr *a)
{
	if (px->a.v6 != a->v6)
		return 0;
	unsigned full = px->bits / 8, rest = px->bits % 8;
	if (memcmp(px->a.b, a->b, full))
		return 0;
	if (!rest)
		return 1;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (px->a.b[full] & m) == (a->b[full] & m);
}

static int trusted(const rl_proxies *p, const ipaddr *a)
{
	for (unsigned i = 0; p && i < p->n; i++)
		if (in_prefix(&p->p[i], a))
			return 1;
	return 0;
}

int rl_proxy_trusted(const rl_proxies *p, const char *addr)
{
	ipaddr a;
	return addr && !ip_parse(addr, strlen(addr), &a) && trusted(p, &a);
}

void rl_client_addr(const rl_proxies *p, const char *peer,
                    const char *const *xff, unsigned nxff,
                    char out[RL_ADDR_MAX])
{
	ipaddr a;
	size_t pn = peer ? strlen(peer) : 0;
	if (ip_parse(peer ? peer : "", pn, &a)) {
		rl_addr_norm(peer ? peer : "", pn, out);
		return;
	}
	ip_norm(&a, out);
	if (!trusted(p, &a))
		return;
	/* right to left over every entry of every header line */
	for (unsigned li = nxff; li-- > 0;) {
		const char *s = xff[li];
		if (!s)
			continue;
		size_t end = strlen(s);
		for (;;) {
			size_t start = end;
			while (start > 0 && s[start - 1] != ',')
				start--;
			const char *e = s + start;
			size_t n = end - start;
			size_t k = 0;
			while (k < n && (e[k] == ' ' || e[k] == '\t'))
				k++;
			if (k < n) {
				ipaddr x;
				if (ip_parse(e, n, &x))
					return; /* garbage from a trusted hop: use that hop */
				ip_norm(&x, out);
				if (!trusted(p, &x))
					return;
			}
			if (start == 0)
				break;
			end = start - 1;
		}
	}
	/* every hop trusted: the left-most one stands */
}
