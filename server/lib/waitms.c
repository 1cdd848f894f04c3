/*
 * waitms.c — see waitms.h.
 */
#include "server/lib/waitms.h"

#include <time.h>

int cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	uint64_t ns = (uint64_t)dl.tv_nsec + (ms % 1000) * 1000000;
	dl.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
	dl.tv_nsec = (long)(ns % 1000000000);
	return pthread_cond_timedwait(cv, mu, &dl) != 0;
}
