/*
 * dirlock.c — see dirlock.h.
 */
#include "server/lib/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid the holder wrote, or 0. */
static long holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *end;
	long pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == '\n' || !*end) ? pid : 0;
}

int dirlock_take(const char *dir, int *fd, char *err, size_t errn)
{
	char path[PATH_MAX];
	*fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, DIRLOCK_FILE) >=
	    sizeof(path)) {
		snprintf(err, errn, "%s: path too long", dir);
		return -1;
	}
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f < 0) {
		snprintf(err, errn, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(f, LOCK_EX | LOCK_NB)) {
		int e = errno;
		long pid = e == EWOULDBLOCK ? holder_pid(f) : 0;
		if (e != EWOULDBLOCK)
			snprintf(err, errn, "cannot lock %s: %s", path, strerror(e));
		else if (pid)
			snprintf(err, errn, "another fieldsyncd (pid %ld) is serving "
			         "the store in %s; one server per store", pid, dir);
		else
			snprintf(err, errn, "another fieldsyncd is serving the store "
			         "in %s; one server per store", dir);
		close(f);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) || pwrite(f, pid, (size_t)n, 0) != n) {
		/* the lock holds; only the message would lack the pid */
	}
	*fd = f;
	return 0;
}

void dirlock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
