/*
 * live.c — see live.h.  Three locks, none held across a socket write:
 * q_mu (the queue: the writer's listener and the sender's swap), conn_mu
 * (the socket list: CivetWeb's connect and close handlers and the
 * sender's snapshot), wd_mu (the write watchdog).
 */
#include "server/http/live.h"

#include <linux/sockios.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "civetweb.h"
#include "protocol/errors.h"
#include "server/http/bodywatch.h"

#define SESSION_KINDS ((1u << TOK_SESSION) | (1u << TOK_ADMIN))

typedef struct sock sock;
struct sock {
	struct mg_connection *conn;
	int fd;
	principal p;
	char tok[65];
	int busy;   /* the sender holds it: close waits */
	int ending; /* told to close, or shut down: send nothing more */
	sock *next;
};

struct live {
	engine *e;
	unsigned max;

	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	char **q;       /* bucket names queued by the writer (strdup'd) */
	unsigned qn, qcap;
	int q_overflow; /* more than LIVE_PENDING_MAX: tell every scope */
	int stop;

	pthread_mutex_t conn_mu;
	pthread_cond_t conn_cv;
	sock *socks;
	unsigned nsocks;

	pthread_mutex_t wd_mu;
	pthread_cond_t wd_cv;
	int wd_fd;      /* the socket being written; -1: none */
	uint64_t wd_due;
	int wd_stop;

	pthread_t sender, watchdog;
	int started;
	_Atomic uint64_t dropped;
};

/* ---- the writer's side ------------------------------------------------------ */

void live_notify(void *ctx, char **buckets, unsigned n)
{
	live *l = ctx;
	pthread_mutex_lock(&l->q_mu);
	for (unsigned i = 0; i < n && !l->q_overflow; i++) {
		if (l->qn == LIVE_PENDING_MAX) {
			l->q_overflow = 1;
			break;
		}
		if (l->qn == l->qcap) {
			unsigned nc = l->qcap ? l->qcap * 2 : 64;
			char **nq = realloc(l->q, nc * sizeof(*nq));
			if (!nq) {
				l->q_overflow = 1;
				break;
			}
			l->q = nq;
			l->qcap = nc;
		}
		if (!(l->q[l->qn] = strdup(buckets[i]))) {
			l->q_overflow = 1;
			break;
		}
		l->qn++;
	}
	pthread_cond_signal(&l->q_cv);
	pthread_mutex_unlock(&l->q_mu);
}

static void free_names(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- sockets ------------------------------------------------------------------ */

int live_add(live *l, struct mg_connection *c, const principal *p,
             const char *tok, size_t tok_n)
{
	if (tok_n >= sizeof(((sock *)0)->tok))
		return FS_E_INTERNAL;
	const struct mg_request_info *ri = mg_get_request_info(c);
	sock *s = calloc(1, sizeof(*s));
	if (!s)
		return FS_E_INTERNAL;
	s->conn = c;
	s->p = *p;
	memcpy(s->tok, tok, tok_n);
	/* the descriptor, to see its queue and to drop it (live.h) */
	s->fd = bodywatch_find_socket(ri->remote_addr, ri->remote_port,
	                              ri->server_port);
	if (s->fd < 0) {
		free(s);
		return FS_E_INTERNAL;
	}
	unsigned mine = 0;
	int rc = FS_OK;
	pthread_mutex_lock(&l->conn_mu);
	for (sock *x = l->socks; x; x = x->next)
		mine += !strcmp(x->p.device, p->device);
	if (mine >= LIVE_PER_DEVICE)
		rc = FS_E_RATE_LIMITED;
	else if (l->nsocks >= l->max)
		rc = FS_E_UNAVAILABLE;
	else {
		mg_set_user_connection_data(c, s);
		s->next = l->socks;
		l->socks = s;
		l->nsocks++;
	}
	pthread_mutex_unlock(&l->conn_mu);
	if (rc) {
		memset(s->tok, 0, sizeof(s->tok));
		free(s);
	}
	return rc;
}

void live_closed(live *l, const struct mg_connection *c)
{
	sock *s = mg_get_user_connection_data(c);
	if (!s)
		return;
	pthread_mutex_lock(&l->conn_mu);
	s->ending = 1;
	while (s->busy)
		pthread_cond_wait(&l->conn_cv, &l->conn_mu);
	for (sock **pp = &l->socks; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			l->nsocks--;
			break;
		}
	pthread_mutex_unlock(&l->conn_mu);
	memset(s->tok, 0, sizeof(s->tok));
	free(s);
}

void live_counts(live *l, uint64_t *open, uint64_t *dropped)
{
	pthread_mutex_lock(&l->conn_mu);
	*open = l->nsocks;
	pthread_mutex_unlock(&l->conn_mu);
	*dropped = atomic_load(&l->dropped);
}

/* ---- writing with a deadline ------------------------------------------------------ */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Shut the socket down: CivetWeb's reader sees the end and closes it
 * (live_closed follows).  Queued bytes (a close frame) still go out. */
static void drop(sock *s)
{
	s->ending = 1;
	shutdown(s->fd, SHUT_RDWR);
}

/* One frame, or 0 when the socket is behind or the write failed or ran
 * past LIVE_WRITE_MS (the socket is then dropped). */
static int send_frame(live *l, sock *s, int opcode, const void *p, size_t n)
{
	int queued = 0;
	if (ioctl(s->fd, SIOCOUTQ, &queued) || queued > LIVE_OUTQ_MAX) {
		atomic_fetch_add(&l->dropped, 1);
		drop(s);
		return 0;
	}
	pthread_mutex_lock(&l->wd_mu);
	l->wd_fd = s->fd;
	l->wd_due = mono_ms() + LIVE_WRITE_MS;
	pthread_cond_signal(&l->wd_cv);
	pthread_mutex_unlock(&l->wd_mu);
	int w = mg_websocket_write(s->conn, opcode, p, n);
	pthread_mutex_lock(&l->wd_mu);
	int late = l->wd_fd < 0; /* the watchdog shut it down */
	l->wd_fd = -1;
	pthread_mutex_unlock(&l->wd_mu);
	if (late || w <= 0) {
		atomic_fetch_add(&l->dropped, 1);
		drop(s);
		return 0;
	}
	return 1;
}

static void *watchdog_main(void *arg)
{
	live *l = arg;
	pthread_mutex_lock(&l->wd_mu);
	while (!l->wd_stop) {
		if (l->wd_fd >= 0 && mono_ms() >= l->wd_due) {
			/* the sender is inside the write, so the socket is open */
			shutdown(l->wd_fd, SHUT_RDWR);
			l->wd_fd = -1;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->wd_cv, &l->wd_mu, &ts);
	}
	pthread_mutex_unlock(&l->wd_mu);
	return NULL;
}

/* ---- the sender ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted and without repeats. */
static unsigned unique(char **v, unsigned n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_str);
	unsigned k = 1;
	for (unsigned i = 1; i < n; i++) {
		if (strcmp(v[i], v[k - 1]))
			v[k++] = v[i];
		else
			free(v[i]);
	}
	return k;
}

/* {buckets: changed ∩ scope} (both sorted), or the whole scope when
 * `all`.  0 when there is nothing to say. */
static int frame_of(wbuf *b, char **scope, unsigned ns, char **ch,
                    unsigned nc, int all)
{
	wb_map(b, 1);
	wb_cstr(b, "buckets");
	size_t at = wb_arr_later(b);
	uint32_t hit = 0;
	for (unsigned i = 0, k = 0; i < ns; i++) {
		int c = 1;
		while (!all && k < nc && (c = strcmp(ch[k], scope[i])) < 0)
			k++;
		if (all || c == 0) {
			wb_cstr(b, scope[i]);
			hit++;
		}
	}
	wb_patch(b, at, hit);
	return hit && !b->err;
}

/* The same person, role and site as when it opened: else its scope is
 * not what it was granted, and it closes. */
static int still_valid(live *l, const sock *s)
{
	principal now;
	if (auth_resolve(l->e, s->tok, strlen(s->tok), SESSION_KINDS, &now))
		return 0;
	return now.role == s->p.role && !strcmp(now.staff, s->p.staff) &&
	       !strcmp(now.site, s->p.site) && !strcmp(now.device, s->p.device);
}

typedef struct {
	sock *s;
	int close;
	wbuf frame;
	int has_frame;
} job;

static void round_once(live *l, char **ch, unsigned nc, int all)
{
	pthread_mutex_lock(&l->conn_mu);
	unsigned n = 0;
	job *jobs = l->nsocks ? calloc(l->nsocks, sizeof(*jobs)) : NULL;
	for (sock *s = l->socks; s && jobs; s = s->next)
		if (!s->ending) {
			s->busy = 1;
			jobs[n++].s = s;
		}
	pthread_mutex_unlock(&l->conn_mu);
	if (!n) {
		free(jobs);
		return;
	}
	/* tokens first (each resolve reads on its own), then the frames in
	 * one read transaction, ended before any write */
	for (unsigned i = 0; i < n; i++)
		jobs[i].close = !still_valid(l, jobs[i].s);
	store_txn *t = NULL;
	arena *a = arena_new(16384);
	uint64_t now = engine_now(l->e);
	if ((nc || all) && a && store_begin(engine_store(l->e), 0, &t) == FS_OK) {
		for (unsigned i = 0; i < n; i++) {
			if (jobs[i].close)
				continue;
			char **scope;
			unsigned ns;
			arena_reset(a);
			if (engine_scope(l->e, t, &jobs[i].s->p, now, a, &scope, &ns))
				continue;
			wb_init(&jobs[i].frame);
			jobs[i].has_frame = frame_of(&jobs[i].frame, scope, ns, ch,
			                             nc, all);
		}
		store_abort(t);
	}
	arena_free(a);
	for (unsigned i = 0; i < n; i++) {
		job *j = &jobs[i];
		if (j->close) {
			if (send_frame(l, j->s, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE,
			               "\x03\xf0session ended", 15))
				drop(j->s);
		} else if (j->has_frame) {
			send_frame(l, j->s, MG_WEBSOCKET_OPCODE_BINARY, j->frame.p,
			           j->frame.n);
		}
		wb_free(&j->frame);
		pthread_mutex_lock(&l->conn_mu);
		j->s->busy = 0;
		pthread_cond_broadcast(&l->conn_cv);
		pthread_mutex_unlock(&l->conn_mu);
	}
	free(jobs);
}

static void *sender_main(void *arg)
{
	live *l = arg;
	uint64_t last_check = mono_ms();
	for (;;) {
		pthread_mutex_lock(&l->q_mu);
		if (!l->qn && !l->q_overflow && !l->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += LIVE_CHECK_MS * 1000000L;
			while (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&l->q_cv, &l->q_mu, &ts);
		}
		char **ch = l->q;
		unsigned nc = l->qn;
		int all = l->q_overflow, stop = l->stop;
		l->q = NULL;
		l->qn = l->qcap = 0;
		l->q_overflow = 0;
		pthread_mutex_unlock(&l->q_mu);
		if (stop) {
			free_names(ch, nc);
			break;
		}
		uint64_t t = mono_ms();
		if (nc || all || t - last_check >= LIVE_CHECK_MS) {
			last_check = t;
			nc = unique(ch, nc);
			round_once(l, ch, nc, all);
		}
		free_names(ch, nc);
	}
	return NULL;
}

/* ---- start and stop --------------------------------------------------------------- */

int live_start(live **out, engine *e, unsigned max_sockets)
{
	*out = NULL;
	live *l = calloc(1, sizeof(*l));
	if (!l)
		return FS_E_INTERNAL;
	l->e = e;
	l->max = max_sockets;
	l->wd_fd = -1;
	pthread_mutex_init(&l->q_mu, NULL);
	pthread_cond_init(&l->q_cv, NULL);
	pthread_mutex_init(&l->conn_mu, NULL);
	pthread_cond_init(&l->conn_cv, NULL);
	pthread_mutex_init(&l->wd_mu, NULL);
	pthread_cond_init(&l->wd_cv, NULL);
	if (pthread_create(&l->sender, NULL, sender_main, l)) {
		live_stop(l);
		return FS_E_INTERNAL;
	}
	if (pthread_create(&l->watchdog, NULL, watchdog_main, l)) {
		pthread_mutex_lock(&l->q_mu);
		l->stop = 1;
		pthread_cond_signal(&l->q_cv);
		pthread_mutex_unlock(&l->q_mu);
		pthread_join(l->sender, NULL);
		live_stop(l);
		return FS_E_INTERNAL;
	}
	l->started = 1;
	*out = l;
	return FS_OK;
}

void live_stop(live *l)
{
	if (!l)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->q_mu);
		l->stop = 1;
		pthread_cond_signal(&l->q_cv);
		pthread_mutex_unlock(&l->q_mu);
		pthread_join(l->sender, NULL);
		pthread_mutex_lock(&l->wd_mu);
		l->wd_stop = 1;
		pthread_cond_signal(&l->wd_cv);
		pthread_mutex_unlock(&l->wd_mu);
		pthread_join(l->watchdog, NULL);
	}
	free_names(l->q, l->qn);
	pthread_mutex_destroy(&l->q_mu);
	pthread_cond_destroy(&l->q_cv);
	pthread_mutex_destroy(&l->conn_mu);
	pthread_cond_destroy(&l->conn_cv);
	pthread_mutex_destroy(&l->wd_mu);
	pthread_cond_destroy(&l->wd_cv);
	free(l);
}
