/* test_backup.c — store_backup() beside a committing writer (a consistent
 * snapshot that passes the integrity walk), backup_make/backup_restore
 * round trips (photos, a corrupt photo left out, a new store id), refused
 * archives, and backup_check on a damaged store (fieldsyncd check's
 * exit 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "server/svc/backup.h"
#include "server/lib/crypto.h"
#include "server/store/store.h"

typedef struct {
	char dir[64];   /* scratch folder: data/, out.tar, restored/ ... */
	char data[96];
	store *s;
} fixture;

static void sh(const char *fmt, const char *arg)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, fmt, arg);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **st)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	strcpy(f->dir, "/tmp/fs_backup_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->data, sizeof f->data, "%s/data", f->dir);
	assert_int_equal(store_open(&f->s, f->data, NULL), FS_OK);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	fixture *f = *st;
	store_close(f->s);
	sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

/* n records (c "zone", id "<prefix><i>") in bucket site/s1, one txn. */
static void put_recs(store *s, const char *prefix, int from, int n)
{
	store_txn *t;
	char id[64];
	uint64_t seq;
	assert_int_equal(store_begin(s, 1, &t), FS_OK);
	for (int i = from; i < from + n; i++) {
		snprintf(id, sizeof id, "%s%06d", prefix, i);
		assert_int_equal(store_rec_put(t, "zone", id, "site/s1",
		                               sv_cstr("value"), &seq),
		                 FS_OK);
	}
	assert_int_equal(store_commit(t), FS_OK);
}

static int count_cb(void *ctx, const char *c, const char *id,
                    const char *bucket, uint64_t seq, sv val)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_recs(store *s)
{
	store_txn *t;
	int n = 0;
	assert_int_equal(store_begin(s, 0, &t), FS_OK);
	assert_int_equal(store_rec_scan(t, NULL, count_cb, &n), FS_OK);
	store_abort(t);
	return n;
}

typedef struct {
	store *s;
	atomic_int stop;
	atomic_int committed; /* batches of 50 committed */
} writer_ctx;

static void *writer(void *arg)
{
	writer_ctx *w = arg;
	char prefix[16];
	for (int i = 0; !atomic_load(&w->stop) && i < 2000; i++) {
		snprintf(prefix, sizeof prefix, "w%04d-", i);
		put_recs(w->s, prefix, 0, 50);
		atomic_fetch_add(&w->committed, 1);
	}
	return NULL;
}

static void test_backup_beside_writer(void **st)
{
	fixture *f = *st;
	char copy_dir[128], copy[160];
	writer_ctx w = {f->s, 0, 0};
	pthread_t th;

	put_recs(f->s, "base", 0, 2000);
	assert_int_equal(pthread_create(&th, NULL, writer, &w), 0);
	while (atomic_load(&w.committed) < 5)
		usleep(1000);
	int before = 2000 + 50 * atomic_load(&w.committed);
	snprintf(copy_dir, sizeof copy_dir, "%s/copy", f->dir);
	assert_int_equal(mkdir(copy_dir, 0700), 0);
	snprintf(copy, sizeof copy, "%s/data.mdb", copy_dir);
	assert_int_equal(store_backup(f->s, copy), FS_OK);
	int after = 2000 + 50 * atomic_load(&w.committed);
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	/* never overwrites */
	assert_int_not_equal(store_backup(f->s, copy), FS_OK);

	store *c = NULL;
	char err[256];
	store_txn *t;
	assert_int_equal(store_open(&c, copy_dir, NULL), FS_OK);
	assert_string_equal(store_id(c), store_id(f->s));
	assert_int_equal(store_begin(c, 0, &t), FS_OK);
	assert_int_equal(store_check(t, err, sizeof err), FS_OK);
	store_abort(t);
	int n = count_recs(c);
	/* a snapshot: everything committed before, whole batches only */
	assert_true(n >= before && n <= after + 50);
	assert_int_equal((n - 2000) % 50, 0);
	store_close(c);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* DATA/blobs/<sha256 of p> */
static void put_blob(const char *data, const void *p, size_t n, char hex[65])
{
	uint8_t d[32];
	char path[300];
	crypto_sha256(p, n, d);
	hex_encode(d, 32, hex);
	snprintf(path, sizeof path, "%s/blobs", data);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/blobs/%s", data, hex);
	write_file(path, p, n);
}

static void test_round_trip(void **st)
{
	fixture *f = *st;
	char out[128], dst[128], path[300], good[65], bad[65];
	char err[512];
	backup_info bi, ri;
	struct stat sb;

	put_recs(f->s, "r", 0, 300);
	put_blob(f->data, "a photo", 7, good);
	put_blob(f->data, "rotten", 6, bad);
	/* the bytes of `bad` change on disk after it was named */
	snprintf(path, sizeof path, "%s/blobs/%s", f->data, bad);
	write_file(path, "rotted", 6);

	snprintf(out, sizeof out, "%s/b.tar", f->dir);
	assert_int_equal(backup_make(f->data, NULL, out, &bi, err, sizeof err), FS_OK);
	assert_int_equal(bi.records, 300);
	assert_int_equal(bi.blobs, 1);
	assert_int_equal(bi.skipped, 1);
	assert_string_equal(bi.store, store_id(f->s));
	assert_int_not_equal(backup_make(f->data, NULL, out, &ri, err, sizeof err),
	                     FS_OK);

	snprintf(dst, sizeof dst, "%s/restored", f->dir);
	assert_int_equal(backup_restore(out, dst, NULL, &ri, err, sizeof err), FS_OK);
	assert_string_equal(ri.store, bi.store);
	assert_string_not_equal(ri.new_store, ri.store);
	assert_int_equal(ri.records, 300);
	assert_int_equal(ri.blobs, 1);
	snprintf(path, sizeof path, "%s/blobs/%s", dst, good);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(path, sizeof path, "%s/blobs/%s", dst, bad);
	assert_int_not_equal(stat(path, &sb), 0);

	store *r = NULL;
	assert_int_equal(store_open(&r, dst, NULL), FS_OK);
	assert_string_equal(store_id(r), ri.new_store);
	assert_int_equal(count_recs(r), 300);
	store_close(r);
	assert_int_equal(backup_check(dst, &ri, err, sizeof err), FS_OK);
	/* never into a store that exists */
	assert_int_not_equal(backup_restore(out, dst, NULL, &ri, err, sizeof err),
	                     FS_OK);
}

static void test_refuses_tampered_manifest(void **st)
{
	fixture *f = *st;
	char out[128], dst[128], cmd[600], err[512];
	backup_info bi;

	put_recs(f->s, "m", 0, 10);
	snprintf(out, sizeof out, "%s/b.tar", f->dir);
	assert_int_equal(backup_make(f->data, NULL, out, &bi, err, sizeof err), FS_OK);
	/* tar(1) may extract and archive it again (folders, another order) */
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && tar xf b.tar && tar -cf again.tar fieldsync-backup",
	         f->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "%s/again.tar", f->dir);
	snprintf(dst, sizeof dst, "%s/again", f->dir);
	assert_int_equal(backup_restore(cmd, dst, NULL, &bi, err, sizeof err), FS_OK);
	/* rebuild the tar with a manifest that lies about the store's sum */
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && tar xf b.tar && sed -i 's/^[0-9a-f]\\{64\\} "
	         "\\([0-9]* store\\)/%064d \\1/' fieldsync-backup/MANIFEST && "
	         "tar --format=ustar -cf t.tar fieldsync-backup/store "
	         "fieldsync-backup/MANIFEST", f->dir, 0);
	assert_int_equal(system(cmd), 0);
	snprintf(out, sizeof out, "%s/t.tar", f->dir);
	snprintf(dst, sizeof dst, "%s/r", f->dir);
	assert_int_equal(backup_restore(out, dst, NULL, &bi, err, sizeof err),
	                 FS_E_BAD_REQUEST);
	if (!strstr(err, "differs from the manifest"))
		fail_msg("restore said: %s", err);
	assert_int_equal(access(dst, F_OK), -1);
}

static void test_check_finds_damage(void **st)
{
	fixture *f = *st;
	char err[512];
	backup_info bi;
	store_txn *t;

	put_recs(f->s, "d", 0, 20);
	assert_int_equal(backup_check(f->data, &bi, err, sizeof err), FS_OK);
	assert_int_equal(bi.records, 20);
	assert_int_equal(store_begin(f->s, 1, &t), FS_OK);
	assert_int_equal(store_debug_unindex(t, "zone", "d000007"), FS_OK);
	assert_int_equal(store_commit(t), FS_OK);
	assert_int_equal(backup_check(f->data, &bi, err, sizeof err),
	                 FS_E_INTERNAL);
	assert_non_null(strstr(err, "d000007"));
	/* and a damaged store is not archived */
	char out[128];
	snprintf(out, sizeof out, "%s/b.tar", f->dir);
	assert_int_equal(backup_make(f->data, NULL, out, &bi, err, sizeof err),
	                 FS_E_INTERNAL);
	assert_int_equal(access(out, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backup_beside_writer, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_tampered_manifest,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_finds_damage, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
