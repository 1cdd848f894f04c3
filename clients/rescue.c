/*
 * rescue.c — a damaged device store: the integrity check (fs_check, run
 * in a child process so a damaged page cannot crash the caller), the
 * rescue of queued changes from the outbox journal (fs_rescue, which
 * never touches data.mdb) and putting them back in a new enrollment's
 * outbox (fs_requeue).  See fieldsync.h and journal.h.
 */
#include "clients/client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clients/journal.h"
#include "protocol/be64.h"

/* A rescue file or a journal larger than this is refused. */
#define RESCUE_MAX ((size_t)256 << 20)
/* The check's child is killed after this long (a loop in damaged pages). */
#define CHECK_SECONDS 60

static int read_file(const char *path, uint8_t **out, size_t *n, char *err,
                     size_t errn)
{
	if (!lc_read_file(path, RESCUE_MAX, out, n))
		return FSC_OK;
	snprintf(err, errn, "%s: %s", path, strerror(errno));
	return errno == ENOENT ? FSC_ENOTFOUND : FSC_ESTORE;
}

/* ---- the journal, replayed ------------------------------------------------------ */

typedef struct {
	uint64_t seq;
	uint32_t i;
	uint8_t bid[16];
	const char *by;
	const uint8_t *op;
	size_t n;
} jop;

typedef struct {
	arena *a;
	jop *ops;
	size_t n, cap;
	uint64_t *rm;
	size_t nrm, caprm;
	int oom;
} replay;

static int grow(arena *a, void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n < *cap)
		return 0;
	nv = arena_calloc(a, *cap ? *cap * 2 : 64, size);
	if (!nv)
		return -1;
	if (n)
		memcpy(nv, *v, n * size);
	*v = nv;
	*cap = *cap ? *cap * 2 : 64;
	return 0;
}

static void replay_cb(void *ctx, const uint8_t *p, size_t len)
{
	replay *r = ctx;
	uint8_t *copy = arena_dup(r->a, p, len);
	wval *v;
	const wval *b, *by, *op, *rm = NULL;
	uint64_t seq, i;
	wbuf w;

	if (!copy || wire_decode(r->a, copy, len, &v) || v->t != WV_MAP ||
	    !wv_u64(wv_get(v, "q"), &seq))
		return; /* an intact frame of a kind this version does not know */
	rm = wv_get(v, "rm");
	if (rm) {
		if (grow(r->a, (void **)&r->rm, &r->caprm, r->nrm, sizeof(*r->rm))) {
			r->oom = 1;
			return;
		}
		r->rm[r->nrm++] = seq;
		return;
	}
	b = wv_get(v, "b");
	by = wv_get(v, "by");
	op = wv_get(v, "op");
	if (!b || b->t != WV_BIN || b->s.n != 16 || !op || op->t != WV_MAP ||
	    !wv_u64(wv_get(v, "i"), &i))
		return;
	if (grow(r->a, (void **)&r->ops, &r->cap, r->n, sizeof(*r->ops))) {
		r->oom = 1;
		return;
	}
	wb_init(&w);
	wb_val(&w, op);
	if (w.err) {
		r->oom = 1;
		wb_free(&w);
		return;
	}
	r->ops[r->n] = (jop){seq, (uint32_t)i, {0}, by && by->t == WV_STR
	                     ? wv_strdup(r->a, by) : NULL,
	                     arena_dup(r->a, w.p, w.n), w.n};
	memcpy(r->ops[r->n].bid, b->s.p, 16);
	wb_free(&w);
	if (!r->ops[r->n].op)
		r->oom = 1;
	else
		r->n++;
}

static int jop_cmp(const void *x, const void *y)
{
	const jop *a = x, *b = y;

	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static int removed(const replay *r, uint64_t seq)
{
	for (size_t i = 0; i < r->nrm; i++)
		if (r->rm[i] == seq)
			return 1;
	return 0;
}

/* The ops still queued according to the journal of home, sorted by batch
 * and index, one per (batch, index). */
static int journal_replay(const char *home, replay *r, uint64_t *skipped,
                          char *err, size_t errn)
{
	char path[1200];
	uint8_t *p;
	size_t n, keep = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", home, JR_NAME);
	if ((rc = read_file(path, &p, &n, err, errn)))
		return rc;
	jr_scan(p, n, replay_cb, r, skipped);
	free(p);
	if (r->oom)
		return FSC_ENOMEM;
	if (r->n)
		qsort(r->ops, r->n, sizeof(*r->ops), jop_cmp);
	for (size_t i = 0; i < r->n; i++) {
		if (removed(r, r->ops[i].seq))
			continue;
		if (keep && r->ops[keep - 1].seq == r->ops[i].seq &&
		    r->ops[keep - 1].i == r->ops[i].i)
			keep--; /* the later frame of the same op wins */
		r->ops[keep++] = r->ops[i];
	}
	r->n = keep;
	return FSC_OK;
}

/* ---- check ----------------------------------------------------------------------- */

typedef struct {
	int rc;
	uint64_t counts[LT__COUNT];
	char what[400];
} check_msg;

static void child_check(const char *home, int fd)
{
	check_msg m;
	int null = open("/dev/null", O_WRONLY);

	/* LMDB's assertion text and any crash report are the parent's to
	 * turn into one message */
	if (null >= 0)
		dup2(null, 2);
	alarm(CHECK_SECONDS);
	memset(&m, 0, sizeof(m));
	m.rc = ls_check(home, lc_check_value, NULL, m.counts, m.what,
	                sizeof(m.what));
	if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(3);
	_exit(0);
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "a segmentation fault";
	case SIGBUS: return "a bus error";
	case SIGABRT: return "an LMDB assertion";
	case SIGALRM: return "no end after " "60 s";
	default: return "a signal";
	}
}

int fs_check(const char *home, fs_check_report *out)
{
	char path[1200], jerr[300];
	check_msg m;
	struct stat st;
	replay r;
	size_t got = 0;
	int fds[2], status = 0;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s/data.mdb", home);
	snprintf(path, sizeof(path), "%s/data.mdb", home);
	if (stat(path, &st)) {
		snprintf(out->what, sizeof(out->what), "no store at %.380s", path);
		return FSC_ENOTFOUND;
	}
	memset(&r, 0, sizeof(r));
	if ((r.a = arena_new(0))) {
		if (!journal_replay(home, &r, &out->journal_skipped, jerr,
		                    sizeof(jerr)))
			out->journal_ops = r.n;
		arena_free(r.a);
	}
	if (pipe2(fds, O_CLOEXEC))
		return FSC_ESTORE;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		snprintf(out->what, sizeof(out->what), "cannot start the check: %s",
		         strerror(errno));
		return FSC_ESTORE;
	}
	if (!pid) {
		close(fds[0]);
		child_check(home, fds[1]);
	}
	close(fds[1]);
	memset(&m, 0, sizeof(m));
	while (got < sizeof(m)) {
		ssize_t n = read(fds[0], (char *)&m + got, sizeof(m) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(m)) {
		out->damaged = 1;
		if (WIFSIGNALED(status))
			snprintf(out->what, sizeof(out->what), "reading it ended in %s",
			         sig_name(WTERMSIG(status)));
		else
			snprintf(out->what, sizeof(out->what), "reading it failed "
			         "(the check exited with %d)", WEXITSTATUS(status));
		return FSC_ESTORE;
	}
	out->records = m.counts[LT_RECS];
	out->queued_batches = m.counts[LT_OUTB];
	out->queued_ops = m.counts[LT_OUTO];
	out->dead_letters = m.counts[LT_DEAD];
	out->urgent = m.counts[LT_URG];
	if (m.rc) {
		out->damaged = 1;
		m.what[sizeof(m.what) - 1] = 0;
		snprintf(out->what, sizeof(out->what), "%.390s", m.what);
		return FSC_ESTORE;
	}
	return FSC_OK;
}

/* ---- rescue ---------------------------------------------------------------------- */

static int write_all(const char *path, const uint8_t *p, size_t n, char *err,
                     size_t errn)
{
	char tmp[1200];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errn, "%s: %s", tmp, strerror(errno));
		return FSC_EINVAL;
	}
	if (jr_write(fd, p, n, 1) || close(fd) || rename(tmp, path)) {
		snprintf(err, errn, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return FSC_ESTORE;
	}
	return FSC_OK;
}

int fs_rescue(const char *home, const char *out_path, fs_rescue_report *rep,
              char *err, size_t errn)
{
	replay r;
	wbuf w;
	size_t i, nb = 0;
	struct timespec ts;
	int rc;

	memset(rep, 0, sizeof(*rep));
	err[0] = 0;
	memset(&r, 0, sizeof(r));
	if (!(r.a = arena_new(0)))
		return FSC_ENOMEM;
	wb_init(&w);
	if ((rc = journal_replay(home, &r, &rep->skipped_bytes, err, errn)))
		goto out;
	for (i = 0; i < r.n; i++)
		nb += !i || r.ops[i].seq != r.ops[i - 1].seq;
	clock_gettime(CLOCK_REALTIME, &ts);
	wb_map(&w, 4);
	wb_cstr(&w, "fieldsync_rescue");
	wb_u64(&w, 1);
	wb_cstr(&w, "home");
	wb_cstr(&w, home);
	wb_cstr(&w, "at");
	wb_u64(&w, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	wb_cstr(&w, "batches");
	wb_arr(&w, (uint32_t)nb);
	for (i = 0; i < r.n;) {
		size_t j = i;

		while (j < r.n && r.ops[j].seq == r.ops[i].seq)
			j++;
		wb_map(&w, 3);
		wb_cstr(&w, "batch");
		wb_bin(&w, r.ops[i].bid, 16);
		wb_cstr(&w, "by");
		wb_cstr(&w, r.ops[i].by);
		wb_cstr(&w, "ops");
		wb_arr(&w, (uint32_t)(j - i));
		for (size_t k = i; k < j; k++)
			wb_raw(&w, r.ops[k].op, r.ops[k].n);
		i = j;
	}
	if (w.err) {
		rc = FSC_ENOMEM;
		goto out;
	}
	rep->batches = nb;
	rep->ops = r.n;
	rc = write_all(out_path, w.p, w.n, err, errn);
out:
	wb_free(&w);
	arena_free(r.a);
	return rc;
}

/* ---- requeue ------------------------------------------------------------------- */

typedef struct {
	const uint8_t *id;
	int found;
} find_batch;

static int find_batch_cb(void *ctx, const lc_batch *b)
{
	find_batch *f = ctx;

	if (!memcmp(b->id, f->id, 16))
		f->found = 1;
	return f->found;
}

static int op_of(arena *a, const wval *v, lc_op *op)
{
	memset(op, 0, sizeof(*op));
	if (v->t != WV_MAP)
		return -1;
	op->c = wv_strdup(a, wv_get(v, "c"));
	op->id = wv_strdup(a, wv_get(v, "id"));
	op->b = wv_strdup(a, wv_get(v, "b"));
	op->f = wv_get(v, "f");
	if (!op->c || !op->id || !op->f || op->f->t != WV_MAP ||
	    !wv_u64(wv_get(v, "s"), &op->s))
		return -1;
	if (!op->b)
		op->b = "";
	return 0;
}

/* One batch of a rescue file into the outbox (same id, by, ops and
 * stamps), unless the outbox already holds a batch with its id. */
static int requeue_batch(fs_client *c, ls_txn *t, arena *a, const wval *b,
                         uint64_t *nops, int *added)
{
	const wval *id = wv_get(b, "batch"), *by = wv_get(b, "by"),
	           *ops = wv_get(b, "ops");
	find_batch f;
	uint64_t seq;
	int rc;

	*added = 0;
	if (!id || id->t != WV_BIN || id->s.n != 16 || !ops || ops->t != WV_ARR)
		return cl_fail(c, FSC_EINVAL, "not a fieldsync rescue file "
		               "(a batch without id or ops)");
	f.id = (const uint8_t *)id->s.p;
	f.found = 0;
	if ((rc = lc_out_each(t, a, 0, find_batch_cb, &f)))
		return rc;
	if (f.found || !ops->a.n)
		return FSC_OK;
	if ((rc = lc_out_new_sealed_id(t, by && by->t == WV_STR
	                               ? wv_strdup(a, by) : NULL, f.id, &seq)))
		return rc;
	for (uint32_t i = 0; i < ops->a.n; i++) {
		lc_op op;

		if (op_of(a, &ops->a.v[i], &op))
			return cl_fail(c, FSC_EINVAL, "not a fieldsync rescue file "
			               "(a broken op)");
		if ((rc = lc_out_add(t, seq, &op, op.f)))
			return rc;
		(*nops)++;
	}
	*added = 1;
	return FSC_OK;
}

int fs_requeue(fs_client *c, const char *path, uint64_t *nbatches,
               uint64_t *nops)
{
	uint8_t *p = NULL;
	size_t n;
	arena *a = arena_new(0);
	ls_txn *t = NULL;
	wval *v;
	const wval *bs;
	char dev[136];
	int rc, added;

	*nbatches = *nops = 0;
	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (!a) {
		rc = FSC_ENOMEM;
		goto out;
	}
	if ((rc = read_file(path, &p, &n, c->err, sizeof(c->err))))
		goto out;
	if (wire_decode_max(a, p, n, (size_t)8 << 20, &v) || v->t != WV_MAP ||
	    !wv_get(v, "fieldsync_rescue") ||
	    !(bs = wv_get(v, "batches")) || bs->t != WV_ARR) {
		rc = cl_fail(c, FSC_EINVAL, "%s is not a fieldsync rescue file",
		             path);
		goto out;
	}
	if ((rc = ls_begin(c->ls, 1, &t)))
		goto out;
	if (lc_meta_str(t, "device", dev, sizeof(dev))) {
		rc = cl_fail(c, FSC_ESTATE, "this device is not enrolled (enroll "
		             "it with a new code first)");
		goto out;
	}
	for (uint32_t i = 0; i < bs->a.n; i++) {
		if ((rc = requeue_batch(c, t, a, &bs->a.v[i], nops, &added)))
			goto out;
		*nbatches += (uint64_t)added;
	}
	rc = ls_commit(t);
	t = NULL;
out:
	if (rc == FSC_ESTORE && !c->err[0])
		cl_fail(c, rc, "the local store failed");
	ls_abort(t);
	free(p);
	arena_free(a);
	pthread_mutex_unlock(&c->mu);
	return rc;
}
