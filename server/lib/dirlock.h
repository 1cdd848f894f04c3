/*
 * dirlock.h — one serving process per store directory.
 *
 * `fieldsyncd serve` holds an exclusive flock(2) on DIR/serve.lock for as
 * long as it runs; a second `serve` on the same directory finds it taken
 * and refuses to start (two servers would each run a single writer and
 * a clock of their own over one store).  The file holds the holder's pid,
 * for the message.  The lock goes with the process (also on kill -9), so
 * a stale file never blocks a restart.  `backup`, `check` and
 * `catalogue` do not take it: they run beside a server as before.
 */
#ifndef FS_DIRLOCK_H
#define FS_DIRLOCK_H

#include <stddef.h>

#define DIRLOCK_FILE "serve.lock"

/* Take the lock of `dir`.  0 and *fd (keep it open while serving), or -1
 * with a message in err naming the directory and, when known, the other
 * server's pid. */
int dirlock_take(const char *dir, int *fd, char *err, size_t errn);
/* Release (close); safe with fd < 0. */
void dirlock_release(int fd);

#endif
