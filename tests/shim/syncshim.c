/*
 * syncshim.so: an LD_PRELOAD object for durability tests.
 *
 * It wraps fdatasync(2), fsync(2) and msync(2):
 *   FS_SHIM_COUNT=PATH  every call appends one line to PATH:
 *                         "<fn> <fd> <ok|fail> <t_start_ns> <t_end_ns>\n"
 *                       fn is fdatasync, fsync or msync; fd is -1 for msync;
 *                       the times are CLOCK_MONOTONIC nanoseconds (the clock
 *                       Python's time.monotonic_ns() reads), taken before
 *                       and after the real call.  t_end is when the data was
 *                       durable, so an ack must come after it.
 *   FS_SHIM_FAIL=PATH   while PATH exists, every call fails with EIO and
 *                       nothing is synced.
 * Neither set: the calls pass straight through.
 *
 * Only async-signal-safe calls are used on the call path (clock_gettime,
 * access, open, write, close); each line is written with one O_APPEND
 * write(2), shorter than PIPE_BUF, so lines from many threads never mix.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int (*fd_fn)(int);
typedef int (*msync_fn)(void *, size_t, int);

static fd_fn real_fdatasync;
static fd_fn real_fsync;
static msync_fn real_msync;
static const char *count_path;
static const char *fail_path;

static void shim_init(void)
{
	if (!real_fdatasync)
		real_fdatasync = (fd_fn)dlsym(RTLD_NEXT, "fdatasync");
	if (!real_fsync)
		real_fsync = (fd_fn)dlsym(RTLD_NEXT, "fsync");
	if (!real_msync)
		real_msync = (msync_fn)dlsym(RTLD_NEXT, "msync");
	count_path = getenv("FS_SHIM_COUNT");
	fail_path = getenv("FS_SHIM_FAIL");
	if (count_path && !*count_path)
		count_path = NULL;
	if (fail_path && !*fail_path)
		fail_path = NULL;
}

__attribute__((constructor)) static void shim_ctor(void)
{
	shim_init();
}

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	       (unsigned long long)ts.tv_nsec;
}

static size_t put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return n;
}

static size_t put_u64(char *p, unsigned long long v)
{
	char tmp[24];
	size_t n = 0, i;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static size_t put_i(char *p, int v)
{
	if (v < 0) {
		p[0] = '-';
		return 1 + put_u64(p + 1, (unsigned long long)(-(long long)v));
	}
	return put_u64(p, (unsigned long long)v);
}

static void record(const char *fn, int fd, int ok, unsigned long long t0,
		   unsigned long long t1)
{
	char line[160];
	size_t n = 0;
	int cfd, saved = errno;

	if (!count_path)
		return;
	n += put_str(line + n, fn);
	line[n++] = ' ';
	n += put_i(line + n, fd);
	line[n++] = ' ';
	n += put_str(line + n, ok ? "ok" : "fail");
	line[n++] = ' ';
	n += put_u64(line + n, t0);
	line[n++] = ' ';
	n += put_u64(line + n, t1);
	line[n++] = '\n';
	cfd = open(count_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (cfd >= 0) {
		ssize_t w = write(cfd, line, n);
		(void)w;
		close(cfd);
	}
	errno = saved;
}

static int failing(void)
{
	int saved = errno, r;
	if (!fail_path)
		return 0;
	r = access(fail_path, F_OK) == 0;
	errno = saved;
	return r;
}

int fdatasync(int fd)
{
	unsigned long long t0 = now_ns();
	int r;
	if (!real_fdatasync)
		shim_init();
	if (failing()) {
		record("fdatasync", fd, 0, t0, now_ns());
		errno = EIO;
		return -1;
	}
	r = real_fdatasync ? real_fdatasync(fd) : (errno = ENOSYS, -1);
	record("fdatasync", fd, r == 0, t0, now_ns());
	return r;
}

int fsync(int fd)
{
	unsigned long long t0 = now_ns();
	int r;
	if (!real_fsync)
		shim_init();
	if (failing()) {
		record("fsync", fd, 0, t0, now_ns());
		errno = EIO;
		return -1;
	}
	r = real_fsync ? real_fsync(fd) : (errno = ENOSYS, -1);
	record("fsync", fd, r == 0, t0, now_ns());
	return r;
}

int msync(void *addr, size_t len, int flags)
{
	unsigned long long t0 = now_ns();
	int r;
	if (!real_msync)
		shim_init();
	if (failing()) {
		record("msync", -1, 0, t0, now_ns());
		errno = EIO;
		return -1;
	}
	r = real_msync ? real_msync(addr, len, flags) : (errno = ENOSYS, -1);
	record("msync", -1, r == 0, t0, now_ns());
	return r;
}
