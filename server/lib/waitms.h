/*
 * waitms.h — a condition wait with a timeout in milliseconds, for the
 * service threads (task generator, alert rules, webhook delivery) that
 * sleep until poked or until their next timer.
 */
#ifndef FS_WAITMS_H
#define FS_WAITMS_H

#include <pthread.h>
#include <stdint.h>

/* pthread_cond_timedwait on cv (mu held) for at most ms from now.
 * 1 when the time ran out, 0 when woken (or spuriously). */
int cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t ms);

#endif
