/*
 * replay.c — runs a fuzz target without libFuzzer: every file of its
 * corpus and crasher folders goes through LLVMFuzzerTestOneInput once.
 * `make test` builds one binary per target (with gcc, and with the
 * sanitizers under `make test-asan`) and runs it like a cmocka unit test.
 *
 *     replay_fuzz_X [FILE|DIR ...]
 *
 * Without arguments it replays the folders compiled in (FUZZ_DIRS: the
 * target's tests/fuzz/corpus/<target> and tests/fuzz/crashers/<target>).
 * A folder that does not exist is skipped; the corpus folder must hold at
 * least one file, else nothing was tested and that is a failure.
 *
 * A target signals a broken property by aborting, so a failing input ends
 * the process: its name is on the last "[ RUN      ]" line, and the unit
 * runner counts the crash as a failure.  Output follows cmocka's summary
 * lines ("[  PASSED  ] N test(s).") so tests/run_unit.py counts the
 * inputs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_DIRS
#define FUZZ_DIRS NULL
#endif

/* Inputs past this size are not replayed (libFuzzer's -max_len for these
 * targets is far below it); such a file is a mistake in the corpus. */
#define REPLAY_MAX ((size_t)8 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned passed, failed;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	printf("[ RUN      ] %s\n", path);
	fflush(stdout);
	if (!f) {
		printf("[  ERROR   ] %s: %s\n", path, strerror(errno));
		failed++;
		return;
	}
	struct stat st;
	if (fstat(fileno(f), &st) || (size_t)st.st_size > REPLAY_MAX) {
		printf("[  ERROR   ] %s: unreadable or over %zu bytes\n", path,
		       REPLAY_MAX);
		fclose(f);
		failed++;
		return;
	}
	size_t n = (size_t)st.st_size;
	/* exact size, so ASan catches a read one past the input */
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != n) {
		printf("[  ERROR   ] %s: read failed\n", path);
		free(buf);
		fclose(f);
		failed++;
		return;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	printf("[       OK ] %s\n", path);
	fflush(stdout);
	passed++;
}

/* Every regular file of dir, sorted, hidden files and README skipped.
 * Returns how many were run, or -1 when the folder does not exist. */
static long run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strncmp(de->d_name, "README", 6))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				fprintf(stderr, "replay: out of memory\n");
				exit(2);
			}
			names = nn;
		}
		size_t len = strlen(dir) + strlen(de->d_name) + 2;
		names[n] = malloc(len);
		if (!names[n]) {
			fprintf(stderr, "replay: out of memory\n");
			exit(2);
		}
		snprintf(names[n], len, "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	long ran = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			run_file(names[i]);
			ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

static void run_path(const char *path, int must_have_files)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		run_file(path);
		return;
	}
	long ran = run_dir(path);
	if (ran <= 0 && must_have_files) {
		printf("[  ERROR   ] %s: no input to replay\n", path);
		failed++;
	} else if (ran < 0) {
		printf("[  SKIP    ] %s: no such folder\n", path);
	}
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			run_path(argv[i], 1);
	} else {
		/* FUZZ_DIRS: "corpus:crashers"; the first must have files */
		const char *dirs = FUZZ_DIRS;
		if (!dirs) {
			fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
			return 2;
		}
		char *copy = strdup(dirs), *save = NULL;
		int first = 1;
		for (char *d = strtok_r(copy, ":", &save); d;
		     d = strtok_r(NULL, ":", &save)) {
			run_path(d, first);
			first = 0;
		}
		free(copy);
	}
	printf("[==========] %u input(s) replayed.\n", passed + failed);
	printf("[  PASSED  ] %u test(s).\n", passed);
	if (failed)
		printf("[  FAILED  ] %u test(s).\n", failed);
	return failed ? 1 : 0;
}
