/*
 * bodywatch.c — see bodywatch.h.
 */
#include "server/http/bodywatch.h"

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "protocol/errors.h"

#define TICK_MS 50

typedef struct {
	int used;
	int fired;
	uint64_t deadline;
	char peer[64];
	int peer_port, local_port;
} slot;

struct bodywatch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	slot *s;
	unsigned n;
	int stop;
	pthread_t thread;
	int started;
};

uint64_t bodywatch_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int port_of(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return -1;
}

int bodywatch_sock_ident(int fd, int *local_port, char peer[64],
                         int *peer_port)
{
	struct sockaddr_storage la, pa;
	socklen_t ln = sizeof(la), pn = sizeof(pa);
	if (getsockname(fd, (struct sockaddr *)&la, &ln) ||
	    (*local_port = port_of(&la)) < 0 ||
	    getpeername(fd, (struct sockaddr *)&pa, &pn) ||
	    (*peer_port = port_of(&pa)) < 0 ||
	    getnameinfo((struct sockaddr *)&pa, pn, peer, 64, NULL, 0,
	                NI_NUMERICHOST))
		return -1;
	return 0;
}

int bodywatch_find_socket(const char *peer, int peer_port, int local_port)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int found = -1;
	struct dirent *de;
	while (found < 0 && (de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end || end == de->d_name || fd == dirfd(d))
			continue;
		char host[64];
		int lp, pp;
		if (!bodywatch_sock_ident((int)fd, &lp, host, &pp) &&
		    lp == local_port && pp == peer_port && !strcmp(host, peer))
			found = (int)fd;
	}
	closedir(d);
	return found;
}

/* Shut down the read side of the TCP socket of this connection. */
static void shut(const slot *s)
{
	int fd = bodywatch_find_socket(s->peer, s->peer_port, s->local_port);
	if (fd >= 0)
		shutdown(fd, SHUT_RD);
}

static void *watch_main(void *arg)
{
	bodywatch *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		uint64_t now = bodywatch_now();
		for (unsigned i = 0; i < w->n; i++) {
			slot *s = &w->s[i];
			if (s->used && !s->fired && s->deadline <= now) {
				/* under the lock: the reader cannot disarm and close */
				shut(s);
				s->fired = 1;
			}
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int bodywatch_start(bodywatch **out, unsigned slots)
{
	*out = NULL;
	bodywatch *w = calloc(1, sizeof(*w));
	if (!w)
		return FS_E_INTERNAL;
	w->n = slots ? slots : 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (!(w->s = calloc(w->n, sizeof(slot))) ||
	    pthread_create(&w->thread, NULL, watch_main, w)) {
		bodywatch_stop(w);
		return FS_E_INTERNAL;
	}
	w->started = 1;
	*out = w;
	return FS_OK;
}

void bodywatch_stop(bodywatch *w)
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
	free(w->s);
	free(w);
}

int bodywatch_arm(bodywatch *w, const char *peer, int peer_port,
                  int local_port, uint64_t deadline_ms)
{
	if (!w || !peer || strlen(peer) >= sizeof(w->s[0].peer))
		return -1;
	int got = -1;
	pthread_mutex_lock(&w->mu);
	for (unsigned i = 0; i < w->n; i++)
		if (!w->s[i].used) {
			slot *s = &w->s[i];
			s->used = 1;
			s->fired = 0;
			s->deadline = deadline_ms;
			snprintf(s->peer, sizeof(s->peer), "%s", peer);
			s->peer_port = peer_port;
			s->local_port = local_port;
			got = (int)i;
			break;
		}
	pthread_mutex_unlock(&w->mu);
	return got;
}

int bodywatch_disarm(bodywatch *w, int slot_i)
{
	if (!w || slot_i < 0 || (unsigned)slot_i >= w->n)
		return 0;
	pthread_mutex_lock(&w->mu);
	int fired = w->s[slot_i].fired;
	w->s[slot_i].used = 0;
	pthread_mutex_unlock(&w->mu);
	return fired;
}
