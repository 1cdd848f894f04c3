/*
 * backup.c — see backup.h.  The tar format written and read here is the
 * POSIX ustar subset a backup needs: regular files, names under 100 bytes,
 * sizes in octal (or GNU base-256 from 8 GiB up), 512-byte blocks, two
 * zero blocks at the end.
 */
#include "server/svc/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "server/lib/crypto.h"
#include "server/store/store.h"

#define BLK 512
#define ROOT "fieldsync-backup/"
#define M_STORE "store/data.mdb"
#define M_BLOBS "blobs/"
#define M_MANIFEST "MANIFEST"
#define MANIFEST_MAX ((size_t)256 << 20)
#define IOBUF (1u << 20)
#define OCTAL_MAX 077777777777ull /* 11 octal digits: 8 GiB - 1 */

/* ---- small helpers ---------------------------------------------------------- */

static int fail(char *err, size_t errn, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errn, int code, const char *fmt, ...)
{
	va_list ap;
	if (err && errn) {
		va_start(ap, fmt);
		vsnprintf(err, errn, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* The directory part of a path (".", when it has none). */
static void parent_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == path)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Remove a scratch directory this module made (no symlinks followed). */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A growable byte buffer (the manifest). */
typedef struct {
	char *p;
	size_t n, cap;
	int err;
} sbuf;

static void sb_add(sbuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 4096;
		while (nc < b->n + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		b->err = 1;
	else
		sb_add(b, line, (size_t)n);
}

/* ---- tar ---------------------------------------------------------------------- */

static unsigned tar_sum(const uint8_t h[BLK])
{
	unsigned s = 0;
	for (int i = 0; i < BLK; i++)
		s += (i >= 148 && i < 156) ? ' ' : h[i];
	return s;
}

static void tar_header(uint8_t h[BLK], const char *name, uint64_t size,
                       uint64_t mtime)
{
	memset(h, 0, BLK);
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000600", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	if (size <= OCTAL_MAX) {
		snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	} else { /* GNU base-256: 0x80, then the size big-endian */
		h[124] = 0x80;
		for (int i = 135; i > 124; i--, size >>= 8)
			h[i] = (uint8_t)size;
	}
	snprintf((char *)h + 136, 12, "%011llo",
	         (unsigned long long)(mtime & OCTAL_MAX));
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	snprintf((char *)h + 148, 8, "%06o", tar_sum(h));
	h[155] = ' ';
}

/* Size field: octal (spaces/NULs around it) or GNU base-256. */
static int tar_size(const uint8_t h[BLK], uint64_t *out)
{
	uint64_t v = 0;
	if (h[124] & 0x80) {
		if (h[124] != 0x80 || h[125] || h[126] || h[127])
			return -1; /* negative or over 2^64 */
		for (int i = 128; i < 136; i++)
			v = v << 8 | h[i];
		*out = v;
		return 0;
	}
	int i = 124, digits = 0;
	while (i < 136 && h[i] == ' ')
		i++;
	for (; i < 136 && h[i] >= '0' && h[i] <= '7'; i++, digits++)
		v = v << 3 | (uint64_t)(h[i] - '0');
	for (; i < 136; i++)
		if (h[i] != ' ' && h[i] != 0)
			return -1;
	if (!digits)
		return -1;
	*out = v;
	return 0;
}

/* A header block: 1 a file (name, size), 2 a directory (an archive made
 * again with tar(1) from an extracted one has them), 0 a zero block, -1
 * malformed or another kind of member. */
static int tar_parse(const uint8_t h[BLK], char name[101], uint64_t *size)
{
	int zero = 1;
	for (int i = 0; i < BLK && zero; i++)
		zero = h[i] == 0;
	if (zero)
		return 0;
	unsigned sum = 0;
	int i = 148, digits = 0;
	while (i < 156 && h[i] == ' ')
		i++;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++, digits++)
		sum = sum << 3 | (unsigned)(h[i] - '0');
	if (!digits || sum != tar_sum(h))
		return -1;
	if (memcmp(h + 257, "ustar", 5))
		return -1;
	if (h[156] != '0' && h[156] != 0 && h[156] != '5')
		return -1; /* only files and directories */
	if (h[345] != 0)
		return -1; /* no ustar prefix: our names are short */
	if (!memchr(h, 0, 100))
		return -1;
	memcpy(name, h, 100);
	name[100] = 0;
	if (tar_size(h, size))
		return -1;
	return h[156] == '5' ? (*size ? -1 : 2) : 1;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct {
	FILE *f;
	uint64_t mtime;
	sbuf manifest;
	uint64_t members;
	uint8_t *buf;
} writer;

static int w_bytes(writer *w, const void *p, size_t n)
{
	return fwrite(p, 1, n, w->f) == n ? 0 : -1;
}

static int w_pad(writer *w, uint64_t size)
{
	static const uint8_t zero[BLK];
	size_t pad = (size_t)((BLK - size % BLK) % BLK);
	return pad ? w_bytes(w, zero, pad) : 0;
}

/* Copy exactly `size` bytes of fd into the archive as member `rel`,
 * hashing them; the SHA-256 goes to hex. */
static int w_file(writer *w, const char *rel, int fd, uint64_t size,
                  char hex[65], char *err, size_t errn)
{
	uint8_t h[BLK], digest[32];
	char name[128];
	snprintf(name, sizeof(name), ROOT "%s", rel);
	tar_header(h, name, size, w->mtime);
	if (w_bytes(w, h, BLK))
		return fail(err, errn, FS_E_UNAVAILABLE, "cannot write the archive: %s",
		            strerror(errno));
	crypto_sha *sh = crypto_sha_new();
	if (!sh)
		return fail(err, errn, FS_E_INTERNAL, "out of memory");
	uint64_t left = size;
	while (left) {
		size_t want = left < IOBUF ? (size_t)left : IOBUF;
		ssize_t n = read(fd, w->buf, want);
		if (n <= 0) {
			crypto_sha_free(sh);
			return fail(err, errn, FS_E_UNAVAILABLE, "%s: %s", rel,
			            n ? strerror(errno) : "shorter than it was");
		}
		crypto_sha_update(sh, w->buf, (size_t)n);
		if (w_bytes(w, w->buf, (size_t)n)) {
			crypto_sha_free(sh);
			return fail(err, errn, FS_E_UNAVAILABLE,
			            "cannot write the archive: %s", strerror(errno));
		}
		left -= (uint64_t)n;
	}
	crypto_sha_final(sh, digest);
	hex_encode(digest, 32, hex);
	if (w_pad(w, size))
		return fail(err, errn, FS_E_UNAVAILABLE, "cannot write the archive: %s",
		            strerror(errno));
	sb_printf(&w->manifest, "%s %llu %s\n", hex, (unsigned long long)size, rel);
	w->members++;
	return FS_OK;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The blob names in dir, sorted; *n of them (0 when no folder). */
static int list_blobs(const char *dir, char ***out, size_t *n, char *err,
                      size_t errn)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? FS_OK
		                       : fail(err, errn, FS_E_UNAVAILABLE, "%s: %s",
		                              dir, strerror(errno));
	size_t cap = 0;
	char **v = NULL;
	struct dirent *de;
	int rc = FS_OK;
	while ((de = readdir(d))) {
		if (!is_hex64(de->d_name, strlen(de->d_name)))
			continue; /* ., .., uploads in progress (tmp-*) */
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			char **nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				rc = fail(err, errn, FS_E_INTERNAL, "out of memory");
				break;
			}
			v = nv;
			cap = nc;
		}
		if (!(v[*n] = strdup(de->d_name))) {
			rc = fail(err, errn, FS_E_INTERNAL, "out of memory");
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (v && *n)
		qsort(v, *n, sizeof(*v), cmp_names);
	*out = v;
	return rc;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Open a store that must already be there: a directory that holds one,
 * or a PostgreSQL database whose schema is this binary's. */
static int open_existing(const char *dir, store **st, char *err, size_t errn)
{
	char p[PATH_MAX];
	struct stat sb;
	*st = NULL;
	if (store_is_url(dir)) {
		char why[400];
		store_opts po;
		memset(&po, 0, sizeof(po));
		po.err = why;
		po.errn = sizeof(why);
		if (store_open(st, dir, &po) || !*st)
			return fail(err, errn, FS_E_UNAVAILABLE, "the PostgreSQL "
			            "store does not open: %s",
			            why[0] ? why : "unavailable");
		return FS_OK;
	}
	if (join(p, sizeof(p), dir, "data.mdb"))
		return fail(err, errn, FS_E_BAD_REQUEST, "path too long");
	if (stat(p, &sb) || !S_ISREG(sb.st_mode))
		return fail(err, errn, FS_E_NOT_FOUND, "%s: no store here (no data.mdb)",
		            dir);
	store_opts so;
	memset(&so, 0, sizeof(so));
	so.map_mb = (size_t)((uint64_t)sb.st_size >> 20) + 1;
	if (store_open(st, dir, &so) || !*st)
		return fail(err, errn, FS_E_UNAVAILABLE, "%s: the store does not open",
		            dir);
	return FS_OK;
}

static int count_rec(void *ctx, const char *c, const char *id,
                     const char *bucket, uint64_t seq, sv val)
{
	(*(uint64_t *)ctx)++;
	return SCAN_NEXT;
}

/* Integrity walk of an open store; counts its records. */
static int check_open(store *st, backup_info *info, char *err, size_t errn)
{
	store_txn *t;
	char why[512];
	if (store_begin(st, 0, &t))
		return fail(err, errn, FS_E_UNAVAILABLE, "cannot read the store");
	int rc = store_check(t, why, sizeof(why));
	if (rc == FS_OK)
		rc = store_rec_scan(t, NULL, count_rec, &info->records);
	store_abort(t);
	if (rc)
		return fail(err, errn, FS_E_INTERNAL, "integrity walk failed: %s",
		            why[0] ? why : fs_err_name(rc));
	snprintf(info->store, sizeof(info->store), "%s", store_id(st));
	return FS_OK;
}

/* The photos' directory: blobs, or DATA/blobs.  -1 when too long. */
static int blob_dir(char *out, size_t cap, const char *data, const char *blobs)
{
	if (blobs)
		return snprintf(out, cap, "%s", blobs) >= (int)cap ? -1 : 0;
	if (!data || store_is_url(data))
		return -1;
	return join(out, cap, data, "blobs");
}

int backup_make(const char *data, const char *blobdir, const char *out,
                backup_info *info, char *err, size_t errn)
{
	char part[PATH_MAX], scratch[PATH_MAX], copy[PATH_MAX], path[PATH_MAX];
	char bdir[PATH_MAX];
	char hex[65];
	writer w;
	store *st = NULL;
	char **blobs = NULL;
	size_t nblobs = 0;
	struct stat sb;
	int rc = FS_OK, fd = -1, made_scratch = 0, made_part = 0;

	memset(info, 0, sizeof(*info));
	memset(&w, 0, sizeof(w));
	if (snprintf(part, sizeof(part), "%s.partial", out) >= (int)sizeof(part) ||
	    snprintf(scratch, sizeof(scratch), "%s.partial.d", out) >=
	            (int)sizeof(scratch) ||
	    join(copy, sizeof(copy), scratch, "data.mdb") ||
	    blob_dir(bdir, sizeof(bdir), data, blobdir))
		return fail(err, errn, FS_E_BAD_REQUEST, "path too long, or no "
		            "photos' directory");
	if (!lstat(out, &sb))
		return fail(err, errn, FS_E_BAD_REQUEST, "%s exists: not overwritten",
		            out);
	if (!lstat(part, &sb) || !lstat(scratch, &sb))
		return fail(err, errn, FS_E_BAD_REQUEST,
		            "%s or %s exists: another backup is running, or one "
		            "crashed (remove them if none runs)", part, scratch);
	if ((rc = open_existing(data, &st, err, errn)))
		goto out;
	snprintf(info->store, sizeof(info->store), "%s", store_id(st));

	/* 1. the store: one snapshot, compacted, then checked on its own */
	if (mkdir(scratch, 0700)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "%s: %s", scratch,
		          strerror(errno));
		goto out;
	}
	made_scratch = 1;
	if (store_backup(st, copy)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE,
		          "the store copy failed (disk full? see %s)", scratch);
		goto out;
	}
	{
		store *cs = NULL;
		backup_info ci;
		memset(&ci, 0, sizeof(ci));
		if ((rc = open_existing(scratch, &cs, err, errn)))
			goto out;
		rc = check_open(cs, &ci, err, errn);
		store_close(cs);
		if (rc)
			goto out;
		info->records = ci.records;
	}
	/* 2. the blobs there are now: a superset of those the snapshot names */
	if ((rc = list_blobs(bdir, &blobs, &nblobs, err, errn)))
		goto out;

	/* 3. the archive */
	int pfd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (pfd < 0 || !(w.f = fdopen(pfd, "wb"))) {
		if (pfd >= 0)
			close(pfd);
		rc = fail(err, errn, FS_E_UNAVAILABLE, "%s: %s", part, strerror(errno));
		goto out;
	}
	made_part = 1;
	w.buf = malloc(IOBUF);
	if (!w.buf) {
		rc = fail(err, errn, FS_E_INTERNAL, "out of memory");
		goto out;
	}
	w.mtime = (uint64_t)time(NULL);
	sb_printf(&w.manifest, "fieldsync-backup 1\nstore %s\ncreated_ms %llu\n",
	          info->store, (unsigned long long)w.mtime * 1000);
	if ((fd = open(copy, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "%s: %s", copy, strerror(errno));
		goto out;
	}
	if ((rc = w_file(&w, M_STORE, fd, (uint64_t)sb.st_size, hex, err, errn)))
		goto out;
	info->store_bytes = (uint64_t)sb.st_size;
	info->bytes += (uint64_t)sb.st_size;
	close(fd);
	fd = -1;
	for (size_t i = 0; i < nblobs; i++) {
		char rel[80];
		if (join(path, sizeof(path), bdir, blobs[i])) {
			rc = fail(err, errn, FS_E_BAD_REQUEST, "path too long");
			goto out;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
			if (fd >= 0)
				close(fd);
			fd = -1;
			continue; /* gone since the listing, or not a file */
		}
		snprintf(rel, sizeof(rel), M_BLOBS "%s", blobs[i]);
		long at = ftell(w.f);
		size_t mark = w.manifest.n;
		if ((rc = w_file(&w, rel, fd, (uint64_t)sb.st_size, hex, err, errn)))
			goto out;
		close(fd);
		fd = -1;
		if (strcmp(hex, blobs[i])) {
			/* corrupt on disk: take it back out of the archive */
			fprintf(stderr, "fieldsyncd: backup: blob %s does not hash to "
			        "its name; left out\n", blobs[i]);
			if (at < 0 || fflush(w.f) || ftruncate(fileno(w.f), at) ||
			    fseek(w.f, at, SEEK_SET)) {
				rc = fail(err, errn, FS_E_UNAVAILABLE,
				          "cannot rewind the archive");
				goto out;
			}
			w.manifest.n = mark;
			w.manifest.p[mark] = 0;
			w.members--;
			info->skipped++;
			continue;
		}
		info->blobs++;
		info->bytes += (uint64_t)sb.st_size;
	}
	sb_printf(&w.manifest, "end %llu\n", (unsigned long long)w.members);
	if (w.manifest.err) {
		rc = fail(err, errn, FS_E_INTERNAL, "out of memory");
		goto out;
	}
	{
		uint8_t h[BLK], zero[2 * BLK];
		tar_header(h, ROOT M_MANIFEST, w.manifest.n, w.mtime);
		memset(zero, 0, sizeof(zero));
		if (w_bytes(&w, h, BLK) || w_bytes(&w, w.manifest.p, w.manifest.n) ||
		    w_pad(&w, w.manifest.n) || w_bytes(&w, zero, sizeof(zero)) ||
		    fflush(w.f) || fdatasync(fileno(w.f))) {
			rc = fail(err, errn, FS_E_UNAVAILABLE,
			          "cannot write the archive: %s", strerror(errno));
			goto out;
		}
	}
	if (fclose(w.f)) {
		w.f = NULL;
		rc = fail(err, errn, FS_E_UNAVAILABLE, "cannot write the archive: %s",
		          strerror(errno));
		goto out;
	}
	w.f = NULL;
	if (rename(part, out)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "rename to %s: %s", out,
		          strerror(errno));
		goto out;
	}
	made_part = 0;
	parent_of(out, path, sizeof(path));
	fsync_dir(path);
out:
	if (fd >= 0)
		close(fd);
	if (w.f)
		fclose(w.f);
	if (made_part)
		unlink(part);
	if (made_scratch)
		rm_tree(scratch);
	free(w.buf);
	free(w.manifest.p);
	free_names(blobs, nblobs);
	store_close(st);
	return rc;
}

/* ---- reading -------------------------------------------------------------------- */

typedef struct {
	char name[101];    /* relative: store/data.mdb, blobs/<hex> */
	char hex[65];
	uint64_t size;
	int matched;
} member;

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const member *)a)->name, ((const member *)b)->name);
}

static int r_exact(FILE *f, void *p, size_t n)
{
	return fread(p, 1, n, f) == n ? 0 : -1;
}

/* Copy a member's bytes to fd (or into *mem when fd < 0), hashing them. */
static int r_member(FILE *f, uint64_t size, int fd, sbuf *mem, uint8_t *buf,
                    char hex[65])
{
	uint8_t digest[32];
	crypto_sha *sh = crypto_sha_new();
	if (!sh)
		return -1;
	uint64_t left = size;
	while (left) {
		size_t want = left < IOBUF ? (size_t)left : IOBUF;
		if (r_exact(f, buf, want)) {
			crypto_sha_free(sh);
			return -1;
		}
		crypto_sha_update(sh, buf, want);
		if (fd >= 0 ? write(fd, buf, want) != (ssize_t)want
		            : (sb_add(mem, buf, want), mem->err)) {
			crypto_sha_free(sh);
			return -1;
		}
		left -= want;
	}
	crypto_sha_final(sh, digest);
	hex_encode(digest, 32, hex);
	size_t pad = (size_t)((BLK - size % BLK) % BLK);
	return pad && r_exact(f, buf, pad) ? -1 : 0;
}

/* Checks the manifest text against the members read. */
static int check_manifest(char *text, member *m, size_t n, backup_info *info,
                          char *err, size_t errn)
{
	char *save = NULL, *line;
	int state = 0; /* 0 header, 1 store, 2 created, 3 members, 4 end */
	uint64_t listed = 0;
	qsort(m, n, sizeof(*m), cmp_member);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (state == 0) {
			if (strcmp(line, "fieldsync-backup 1"))
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "not a fieldsync backup manifest (version 1)");
			state = 1;
		} else if (state == 1) {
			if (strncmp(line, "store ", 6) || strlen(line + 6) != 32)
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "manifest: bad store line");
			snprintf(info->store, sizeof(info->store), "%s", line + 6);
			state = 2;
		} else if (state == 2) {
			if (strncmp(line, "created_ms ", 11))
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "manifest: bad created_ms line");
			state = 3;
		} else if (state == 3 && !strncmp(line, "end ", 4)) {
			char *e;
			unsigned long long cnt = strtoull(line + 4, &e, 10);
			if (*e || cnt != listed || listed != n)
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "manifest lists %llu members (end says %s), "
				            "the archive holds %zu", (unsigned long long)listed,
				            line + 4, n);
			state = 4;
		} else if (state == 3) {
			char hex[65], name[101];
			unsigned long long size;
			member key, *hit;
			if (sscanf(line, "%64s %llu %100s", hex, &size, name) != 3 ||
			    !is_hex64(hex, strlen(hex)))
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "manifest: bad member line '%.100s'", line);
			snprintf(key.name, sizeof(key.name), "%s", name);
			hit = bsearch(&key, m, n, sizeof(*m), cmp_member);
			if (!hit)
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "manifest names %s, which the archive lacks", name);
			if (hit->matched)
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "manifest names %s twice", name);
			if (hit->size != size || strcmp(hit->hex, hex))
				return fail(err, errn, FS_E_BAD_REQUEST,
				            "%s: size or SHA-256 differs from the manifest "
				            "(damaged archive)", name);
			hit->matched = 1;
			listed++;
		} else {
			return fail(err, errn, FS_E_BAD_REQUEST,
			            "manifest: text after its end line");
		}
	}
	if (state != 4)
		return fail(err, errn, FS_E_BAD_REQUEST,
		            "manifest is cut short (no end line)");
	return FS_OK;
}

/* Is `dir` absent, or an empty directory?  1 yes, 0 no. */
static int absent_or_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat sb;
	if (!d)
		return errno == ENOENT && lstat(dir, &sb) != 0;
	int empty = 1;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* Restore's end on PostgreSQL: the checked LMDB copy in `lm` goes into
 * the database `url` (an empty one: store_copy refuses any other) with a
 * new id, in one transaction, committed once the photos are in place in
 * `bdir`, then the integrity walk again on the database. */
static int restore_pg(store *lm, const char *url, const char *tmpblobs,
                      const char *bdir, backup_info *info, char *err,
                      size_t errn)
{
	char why[400];
	store_opts po;
	store *pg = NULL;
	store_txn *r = NULL, *w = NULL;
	int rc;

	memset(&po, 0, sizeof(po));
	po.create = 1; /* a database never initialised gets the schema */
	po.err = why;
	po.errn = sizeof(why);
	if (store_open(&pg, url, &po) || !pg)
		return fail(err, errn, FS_E_UNAVAILABLE, "the PostgreSQL store does "
		            "not open: %s", why[0] ? why : "unavailable");
	if (store_begin(lm, 0, &r) || store_begin(pg, 1, &w)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "cannot begin the copy");
		goto out;
	}
	rc = store_copy(r, w);
	if (rc == FS_E_BAD_REQUEST) {
		rc = fail(err, errn, FS_E_BAD_REQUEST, "the PostgreSQL database "
		          "already holds a store with data (records): restore "
		          "needs an empty database (a new one, or one only "
		          "`fieldsyncd init`ed); nothing was changed");
		goto out;
	}
	if (rc || (rc = store_set_id(w))) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "the copy into PostgreSQL "
		          "failed (%s); nothing was changed", fs_err_name(rc));
		goto out;
	}
	if (rename(tmpblobs, bdir)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "rename %s to %s: %s; "
		          "nothing was changed", tmpblobs, bdir, strerror(errno));
		goto out;
	}
	rc = store_commit(w);
	w = NULL;
	if (rc) {
		rm_tree(bdir);
		rc = fail(err, errn, FS_E_UNAVAILABLE, "the commit into PostgreSQL "
		          "failed; nothing was changed (%s removed again)", bdir);
		goto out;
	}
	snprintf(info->new_store, sizeof(info->new_store), "%s", store_id(pg));
	{
		backup_info ci;
		memset(&ci, 0, sizeof(ci));
		rc = check_open(pg, &ci, err, errn);
		info->records = ci.records;
	}
out:
	store_abort(w);
	store_abort(r);
	store_close(pg);
	return rc;
}

int backup_restore(const char *from, const char *data, const char *blobs,
                   backup_info *info, char *err, size_t errn)
{
	char parent[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX], blobdir[PATH_MAX];
	char dst[PATH_MAX];
	const char *base;
	FILE *f = NULL;
	uint8_t *buf = NULL;
	member *m = NULL;
	size_t n = 0, cap = 0;
	sbuf manifest = {0};
	int have_manifest = 0, have_store = 0, made_tmp = 0, rc = FS_OK;
	int pg = store_is_url(data);
	store *st = NULL;

	memset(info, 0, sizeof(*info));
	if (!pg && blobs)
		return fail(err, errn, FS_E_BAD_REQUEST, "restore --data DIR puts "
		            "the photos in DIR/blobs: --blobs is for --store");
	if (pg && !blobs)
		return fail(err, errn, FS_E_BAD_REQUEST, "restore --store needs the "
		            "photos' directory: --blobs DIR (or --data DIR for "
		            "DIR/blobs)");
	/* LMDB: DATA is the target; PostgreSQL: the photos' directory, the
	 * database's emptiness is checked in its transaction */
	if (snprintf(dst, sizeof(dst), "%s", pg ? blobs : data) >=
	    (int)sizeof(dst))
		return fail(err, errn, FS_E_BAD_REQUEST, "path too long");
	for (size_t l = strlen(dst); l > 1 && dst[l - 1] == '/'; l--)
		dst[l - 1] = 0; /* DATA/ names DATA */
	if (!absent_or_empty(dst))
		return fail(err, errn, FS_E_BAD_REQUEST,
		            "%s exists and is not empty: restore into a new directory",
		            dst);
	if (!pg)
		data = dst;
	parent_of(dst, parent, sizeof(parent));
	base = strrchr(dst, '/') ? strrchr(dst, '/') + 1 : dst;
	if (!*base ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.restore-XXXXXX", parent, base) >=
	            (int)sizeof(tmp))
		return fail(err, errn, FS_E_BAD_REQUEST, "bad path %s", dst);
	if (!(f = fopen(from, "rb")))
		return fail(err, errn, FS_E_NOT_FOUND, "%s: %s", from, strerror(errno));
	if (!mkdtemp(tmp)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "cannot make a scratch "
		          "directory in %s: %s", parent, strerror(errno));
		goto out;
	}
	made_tmp = 1;
	if (join(blobdir, sizeof(blobdir), tmp, "blobs") || mkdir(blobdir, 0700) ||
	    !(buf = malloc(IOBUF))) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "cannot prepare %s", tmp);
		goto out;
	}

	/* one pass over the archive: every member to disk, hashed */
	for (;;) {
		uint8_t h[BLK];
		char name[101], hex[65];
		uint64_t size;
		if (r_exact(f, h, BLK)) {
			rc = fail(err, errn, FS_E_BAD_REQUEST,
			          "the archive is cut short (no end blocks)");
			goto out;
		}
		int k = tar_parse(h, name, &size);
		if (k < 0) {
			rc = fail(err, errn, FS_E_BAD_REQUEST,
			          "the archive has a malformed header (after %zu "
			          "members)", n);
			goto out;
		}
		if (k == 0)
			break;
		const char *rel = strncmp(name, ROOT, strlen(ROOT))
		                          ? NULL
		                          : name + strlen(ROOT);
		if (k == 2) { /* only the layout's own folders */
			if (strcmp(name, ROOT) && (!rel || (strcmp(rel, "store/") &&
			                                    strcmp(rel, M_BLOBS)))) {
				rc = fail(err, errn, FS_E_BAD_REQUEST,
				          "unexpected member '%.100s' in the archive",
				          name);
				goto out;
			}
			continue;
		}
		if (rel && !strcmp(rel, M_MANIFEST)) {
			/* written last; read wherever it is (tar(1) may reorder) */
			if (have_manifest || size > MANIFEST_MAX ||
			    r_member(f, size, -1, &manifest, buf, hex)) {
				rc = fail(err, errn, FS_E_BAD_REQUEST,
				          "the manifest is unreadable or too large");
				goto out;
			}
			have_manifest = 1;
			continue;
		}
		int is_store = rel && !strcmp(rel, M_STORE);
		int is_blob = rel && !strncmp(rel, M_BLOBS, strlen(M_BLOBS)) &&
		              is_hex64(rel + strlen(M_BLOBS),
		                       strlen(rel + strlen(M_BLOBS)));
		if (!is_store && !is_blob) {
			rc = fail(err, errn, FS_E_BAD_REQUEST,
			          "unexpected member '%.100s' in the archive", name);
			goto out;
		}
		if (is_store ? join(path, sizeof(path), tmp, "data.mdb")
		             : join(path, sizeof(path), blobdir,
		                    rel + strlen(M_BLOBS))) {
			rc = fail(err, errn, FS_E_BAD_REQUEST, "path too long");
			goto out;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = fail(err, errn, errno == EEXIST ? FS_E_BAD_REQUEST
			                                     : FS_E_UNAVAILABLE,
			          "%s: %s", rel,
			          errno == EEXIST ? "twice in the archive"
			                          : strerror(errno));
			goto out;
		}
		int bad = r_member(f, size, fd, NULL, buf, hex);
		bad = bad || fdatasync(fd);
		bad = close(fd) || bad;
		if (bad) {
			rc = fail(err, errn, FS_E_BAD_REQUEST,
			          "%s: cut short or cannot be written", rel);
			goto out;
		}
		if (is_blob && strcmp(hex, rel + strlen(M_BLOBS))) {
			rc = fail(err, errn, FS_E_BAD_REQUEST,
			          "%s: its bytes do not hash to its name", rel);
			goto out;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			member *nm = realloc(m, nc * sizeof(*m));
			if (!nm) {
				rc = fail(err, errn, FS_E_INTERNAL, "out of memory");
				goto out;
			}
			m = nm;
			cap = nc;
		}
		memset(&m[n], 0, sizeof(m[n]));
		snprintf(m[n].name, sizeof(m[n].name), "%s", rel);
		memcpy(m[n].hex, hex, 65);
		m[n].size = size;
		n++;
		have_store |= is_store;
		if (is_blob)
			info->blobs++;
		else
			info->store_bytes = size;
		info->bytes += size;
	}
	if (!have_manifest || !have_store) {
		rc = fail(err, errn, FS_E_BAD_REQUEST, "the archive has no %s",
		          have_manifest ? "store" : "manifest (cut short?)");
		goto out;
	}
	if ((rc = check_manifest(manifest.p ? manifest.p : (char *)"", m, n, info,
	                         err, errn)))
		goto out;
	fsync_dir(blobdir);

	/* the store: opens, passes the integrity walk, gets a new id */
	if ((rc = open_existing(tmp, &st, err, errn)))
		goto out;
	{
		char had[33];
		snprintf(had, sizeof(had), "%s", store_id(st));
		if (strcmp(had, info->store)) {
			rc = fail(err, errn, FS_E_BAD_REQUEST,
			          "the store's id %s is not the manifest's %s", had,
			          info->store);
			goto out;
		}
	}
	if ((rc = check_open(st, info, err, errn)))
		goto out;
	if (pg) {
		rc = restore_pg(st, data, blobdir, dst, info, err, errn);
		goto out;
	}
	{
		store_txn *t;
		if (store_begin(st, 1, &t) || store_set_id(t) || store_commit(t)) {
			rc = fail(err, errn, FS_E_UNAVAILABLE,
			          "cannot give the restored store a new id");
			goto out;
		}
	}
	snprintf(info->new_store, sizeof(info->new_store), "%s", store_id(st));
	store_close(st);
	st = NULL;

	/* put it in place */
	if (rename(tmp, data)) {
		rc = fail(err, errn, FS_E_UNAVAILABLE, "rename %s to %s: %s", tmp,
		          data, strerror(errno));
		goto out;
	}
	made_tmp = 0;
	fsync_dir(parent);
out:
	store_close(st);
	if (f)
		fclose(f);
	if (made_tmp)
		rm_tree(tmp);
	free(buf);
	free(m);
	free(manifest.p);
	return rc;
}

int backup_check(const char *data, backup_info *info, char *err, size_t errn)
{
	store *st = NULL;
	memset(info, 0, sizeof(*info));
	int rc = open_existing(data, &st, err, errn);
	if (!rc)
		rc = check_open(st, info, err, errn);
	store_close(st);
	return rc;
}
