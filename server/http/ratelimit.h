/*
 * ratelimit.h — request-rate limits kept in memory, and the client
 * address they (and the login lockout) are keyed by.
 *
 * Token buckets.  A limiter holds one bucket per key (a device id, a
 * client address): `burst` tokens when full, refilled at `per_s` tokens a
 * second; a request takes one token or is refused with the whole seconds
 * until the next token (the Retry-After).  A bucket that would be full
 * again is the same as no bucket, so the table keeps only keys seen
 * recently; it has a fixed number of slots (`max_keys`), allocated once at
 * open: when every slot near a new key's hash is busy the least recently
 * used one of them is taken over (that key starts again from a full
 * bucket).  Memory is bounded whatever the keys are.  Thread-safe.
 *
 * Client addresses.  A request's address is its TCP peer, unless the peer
 * is a trusted proxy (--trusted-proxy): then the X-Forwarded-For entries
 * are read right to left, skipping trusted proxies, and the first entry
 * that is not one is the client (a client can prepend anything it likes
 * to X-Forwarded-For; only what trusted hops appended is believed).
 * Addresses are normalised: IPv4 (also IPv4-mapped IPv6) as dotted quads,
 * IPv6 as its /64 prefix "2001:db8:1:2::/64" (one host holds a whole /64,
 * so keying by full address would give it 2^64 buckets).
 */
#ifndef FS_RATELIMIT_H
#define FS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	unsigned per_s;    /* tokens a second; 0: no limit */
	unsigned burst;    /* tokens in a full bucket; 0: per_s */
	unsigned max_keys; /* slots; 0: 16384 */
} rl_cfg;

typedef struct ratelimit ratelimit;

/* FS_OK and *out, or FS_E_INTERNAL (out of memory). */
int rl_open(ratelimit **out, const rl_cfg *c);
/* Free; safe on NULL. */
void rl_close(ratelimit *r);
/* Take one token from key[0..n) (keys longer than RL_KEY_MAX are cut)
 * at time now_ms.  0: allowed; otherwise refused, and the return is the
 * seconds until a token is there (>= 1). */
unsigned rl_take(ratelimit *r, const char *key, size_t n, uint64_t now_ms);
#define RL_KEY_MAX 128

/* ---- client addresses --------------------------------------------------- */

/* Room for a normalised address, NUL included. */
#define RL_ADDR_MAX 64

typedef struct rl_proxies rl_proxies;

/* Parse a comma-separated list of trusted proxies: addresses or CIDR
 * prefixes (10.0.0.0/8, ::1, fd00::/8).  NULL or "" gives an empty list.
 * FS_OK and *out, or FS_E_BAD_REQUEST with a message in err. */
int rl_proxies_parse(rl_proxies **out, const char *list, char *err,
                     size_t errn);
/* Free; safe on NULL. */
void rl_proxies_free(rl_proxies *p);
/* 1 when the (textual) address is in the list. */
int rl_proxy_trusted(const rl_proxies *p, const char *addr);

/* The client address of a request: `peer` is the TCP peer as text;
 * xff[0..nxff) the values of its X-Forwarded-For header lines in the
 * order they came (each a comma list).  Writes the normalised address to
 * out.  An entry a trusted hop wrote that is not an address stops the
 * walk at that hop (its address is used). */
void rl_client_addr(const rl_proxies *p, const char *peer,
                    const char *const *xff, unsigned nxff,
                    char out[RL_ADDR_MAX]);

/* Normalise one textual address (as above) into out; 0, or -1 when it
 * is not an IPv4/IPv6 address (out then holds the text cut to fit). */
int rl_addr_norm(const char *addr, size_t n, char out[RL_ADDR_MAX]);

#endif
