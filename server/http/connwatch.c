/*
 * connwatch.c — see connwatch.h.  The table has one row per socket seen
 * (peer address and port); a scan runs without the lock and is merged
 * under it, so begin_request/end_request never wait on /proc.
 */
#include "server/http/connwatch.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "protocol/errors.h"
#include "protocol/wire.h"
#include "server/http/bodywatch.h"

typedef struct {
	char peer[64];
	int port;
	int fd;          /* as of the last scan */
	int busy;        /* a request is being served */
	uint64_t due;    /* not busy: shut down when this passes */
	uint64_t first;  /* first seen (the newest are capped first) */
	unsigned seen;   /* scan number it was last seen in */
	int dropped;
} row;

struct connwatch {
	connwatch_cfg c;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	row *rows;
	unsigned n, cap;
	unsigned scan;
	int stop;
	pthread_t thread;
	int started;
	_Atomic uint64_t capped, slow;
};

/* Caller holds mu. */
static row *find(connwatch *w, const char *peer, int port)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->rows[i].port == port && !strcmp(w->rows[i].peer, peer))
			return &w->rows[i];
	return NULL;
}

/* Caller holds mu.  NULL when out of memory. */
static row *add(connwatch *w, const char *peer, int port, uint64_t now)
{
	if (w->n == w->cap) {
		unsigned nc = w->cap ? w->cap * 2 : 64;
		row *nr = realloc(w->rows, nc * sizeof(*nr));
		if (!nr)
			return NULL;
		w->rows = nr;
		w->cap = nc;
	}
	row *r = &w->rows[w->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->port = port;
	r->fd = -1;
	r->first = now;
	r->due = now + w->c.head_ms;
	r->seen = w->scan;
	return r;
}

void connwatch_mark(connwatch *w, const char *peer, int peer_port, int busy)
{
	if (!w)
		return;
	uint64_t now = bodywatch_now();
	pthread_mutex_lock(&w->mu);
	row *r = find(w, peer, peer_port);
	if (!r)
		r = add(w, peer, peer_port, now);
	if (r) {
		r->busy = busy;
		if (!busy)
			r->due = now + w->c.keep_alive_ms + w->c.head_ms;
	}
	pthread_mutex_unlock(&w->mu);
}

void connwatch_counts(connwatch *w, uint64_t *capped, uint64_t *slow)
{
	*capped = w ? atomic_load(&w->capped) : 0;
	*slow = w ? atomic_load(&w->slow) : 0;
}

/* ---- the watcher ------------------------------------------------------------ */

typedef struct {
	char peer[64];
	int port, fd;
} seen_sock;

/* The connected sockets of the listening port now. */
static unsigned scan_fds(int local_port, seen_sock **out)
{
	*out = NULL;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	unsigned n = 0, cap = 0;
	seen_sock *v = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end || end == de->d_name || fd == dirfd(d))
			continue;
		seen_sock s;
		int lp;
		if (bodywatch_sock_ident((int)fd, &lp, s.peer, &s.port) ||
		    lp != local_port)
			continue;
		if (n == cap) {
			unsigned nc = cap ? cap * 2 : 64;
			seen_sock *nv = realloc(v, nc * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		s.fd = (int)fd;
		v[n++] = s;
	}
	closedir(d);
	*out = v;
	return n;
}

/* Shut the socket down if its descriptor is still that connection. */
static void drop(const row *r, int answer)
{
	char peer[64];
	int lp, pp;
	if (r->fd < 0 || bodywatch_sock_ident(r->fd, &lp, peer, &pp) ||
	    pp != r->port || strcmp(peer, r->peer))
		return;
	if (answer) {
		wbuf b;
		wb_init(&b);
		wb_map(&b, 2);
		wb_cstr(&b, "error");
		wb_cstr(&b, fs_err_name(FS_E_RATE_LIMITED));
		wb_cstr(&b, "msg");
		wb_cstr(&b, "too many open connections from this address");
		char head[256];
		int n = snprintf(head, sizeof(head),
		                 "HTTP/1.1 429 Too Many Requests\r\nContent-Type: "
		                 "application/msgpack\r\nContent-Length: %zu\r\n"
		                 "Retry-After: 5\r\nConnection: close\r\n\r\n", b.n);
		if (!b.err &&
		    send(r->fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
			send(r->fd, b.p, b.n, MSG_NOSIGNAL | MSG_DONTWAIT);
		wb_free(&b);
	}
	shutdown(r->fd, SHUT_RDWR);
}

/* Caller holds mu: the newest idle sockets of addresses over the cap. */
static void cap_addresses(connwatch *w)
{
	for (unsigned i = 0; i < w->n; i++) {
		row *a = &w->rows[i];
		if (a->dropped ||
		    (w->c.trusted && rl_proxy_trusted(w->c.trusted, a->peer)))
			continue;
		/* only the first row of each address does the work */
		unsigned count = 0;
		int first = 1;
		for (unsigned k = 0; k < w->n; k++) {
			row *b = &w->rows[k];
			if (b->dropped || strcmp(b->peer, a->peer))
				continue;
			if (k < i)
				first = 0;
			count++;
		}
		while (first && count > w->c.per_addr) {
			row *newest = NULL;
			for (unsigned k = 0; k < w->n; k++) {
				row *b = &w->rows[k];
				if (!b->dropped && !b->busy && !strcmp(b->peer, a->peer) &&
				    (!newest || b->first > newest->first))
					newest = b;
			}
			if (!newest)
				break; /* all busy: requests in flight are not cut */
			drop(newest, 1);
			newest->dropped = 1;
			atomic_fetch_add(&w->capped, 1);
			count--;
		}
	}
}

static void tick(connwatch *w)
{
	seen_sock *v;
	unsigned nv = scan_fds(w->c.local_port, &v);
	uint64_t now = bodywatch_now();
	pthread_mutex_lock(&w->mu);
	w->scan++;
	for (unsigned i = 0; i < nv; i++) {
		row *r = find(w, v[i].peer, v[i].port);
		if (!r)
			r = add(w, v[i].peer, v[i].port, now);
		if (r) {
			r->fd = v[i].fd;
			r->seen = w->scan;
		}
	}
	/* gone since the last scan: forget */
	for (unsigned i = 0; i < w->n;)
		if (w->rows[i].seen != w->scan)
			w->rows[i] = w->rows[--w->n];
		else
			i++;
	if (w->c.per_addr)
		cap_addresses(w);
	for (unsigned i = 0; i < w->n; i++) {
		row *r = &w->rows[i];
		if (!r->busy && !r->dropped && r->due <= now) {
			drop(r, 0);
			r->dropped = 1;
			atomic_fetch_add(&w->slow, 1);
		}
	}
	pthread_mutex_unlock(&w->mu);
	free(v);
}

static void *watch_main(void *arg)
{
	connwatch *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		pthread_mutex_unlock(&w->mu);
		tick(w);
		pthread_mutex_lock(&w->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += CONNWATCH_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!w->stop)
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int connwatch_start(connwatch **out, const connwatch_cfg *c)
{
	*out = NULL;
	connwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return FS_E_INTERNAL;
	w->c = *c;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, watch_main, w)) {
		connwatch_stop(w);
		return FS_E_INTERNAL;
	}
	w->started = 1;
	*out = w;
	return FS_OK;
}

void connwatch_stop(connwatch *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->rows);
	free(w);
}
