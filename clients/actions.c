/*
 * actions.c — what field staff do, as writes on the local store:
 * checkins, task completion, work orders and their steps, handovers,
 * photos.  Each action reads what it needs from the local records and
 * writes through cl_write() inside one write transaction.
 */
#include "clients/client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/sha256.h"
#include "schema/schema.h"

#define SHIFT_GRACE_MS (2 * 3600 * 1000ULL)
#define PHOTO_MAX ((size_t)16 << 20)

/* "<prefix>-" + 26 characters of base32 over 128 random bits. */
static void new_id(const char *prefix, char *out, size_t n)
{
	static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
	uint8_t r[16];
	char s[27];
	unsigned acc = 0, bits = 0, k = 0;

	lc_random(r, sizeof(r));
	for (int i = 0; i < 16; i++) {
		acc = (acc << 8) | r[i];
		bits += 8;
		while (bits >= 5 && k < 26) {
			s[k++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	while (k < 26)
		s[k++] = b32[(acc << (5 - bits)) & 31];
	s[26] = 0;
	snprintf(out, n, "%s-%s", prefix, s);
}

/* ---- finding local records ------------------------------------------------------ */

typedef struct {
	ls_txn *t;
	arena *a;
	const char *staff, *site;
	uint64_t now;
	/* best shift so far */
	char best[136];
	int best_kind; /* 2 on now, 1 ended lately, 0 none */
	uint64_t best_key;
} shift_pick;

static int shift_cb(void *ctx, ls_val k, ls_val v)
{
	shift_pick *p = ctx;
	const char *id = (const char *)k.p + 6; /* "shift\0" */
	size_t idn = k.n - 6;
	char *ids = arena_strndup(p->a, id, idn), *site;
	record r;
	uint64_t starts, ends;
	const rfield *sf;
	int mine = 0;

	(void)v;
	if (!ids || idn >= sizeof(p->best) ||
	    lc_rec_load(p->t, p->a, "shift", ids, &r, NULL))
		return 0;
	if (rec_true(&r, "_deleted"))
		return 0;
	site = rec_str(p->a, &r, "site");
	if (p->site[0] && (!site || strcmp(site, p->site)))
		return 0;
	sf = rec_get(&r, "staff");
	for (uint32_t i = 0; sf && sf->val.t == WV_ARR && i < sf->val.a.n; i++)
		if (wv_is_str(&sf->val.a.v[i], p->staff))
			mine = 1;
	if (!mine || !rec_u64(&r, "starts", &starts) ||
	    !rec_u64(&r, "ends", &ends))
		return 0;
	if (starts <= p->now && p->now < ends) {
		if (p->best_kind < 2 || starts > p->best_key) {
			p->best_kind = 2;
			p->best_key = starts;
			snprintf(p->best, sizeof(p->best), "%s", ids);
		}
	} else if (ends <= p->now && p->now - ends < SHIFT_GRACE_MS &&
	           p->best_kind < 2) {
		if (p->best_kind < 1 || ends > p->best_key) {
			p->best_kind = 1;
			p->best_key = ends;
			snprintf(p->best, sizeof(p->best), "%s", ids);
		}
	}
	return 0;
}

static int current_shift(fs_client *c, ls_txn *t, char *out, size_t n)
{
	arena *a = arena_new(0);
	char staff[136], site[136];
	shift_pick p;
	int rc;

	out[0] = 0;
	if (!a)
		return FSC_ENOMEM;
	if (lc_meta_str(t, "staff", staff, sizeof(staff)) || !staff[0]) {
		arena_free(a);
		return cl_fail(c, FSC_ESTATE, "nobody is logged in on this device "
		               "(run login first)");
	}
	lc_meta_str(t, "site", site, sizeof(site));
	memset(&p, 0, sizeof(p));
	p.t = t;
	p.a = a;
	p.staff = staff;
	p.site = site;
	p.now = cl_now(c, t);
	rc = ls_scan(t, LT_RECS, ls_v("shift", 6), shift_cb, &p);
	arena_free(a);
	if (rc == FSC_ESTORE)
		return rc;
	if (!p.best_kind)
		return cl_fail(c, FSC_ENOTFOUND, "no shift of %s is on now (sync "
		               "to fetch the shifts, or name one)", staff);
	if (strlen(p.best) >= n)
		return FSC_EINVAL;
	snprintf(out, n, "%s", p.best);
	return FSC_OK;
}

int fs_current_shift(fs_client *c, char *out, size_t n)
{
	ls_txn *t = NULL;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if (!(rc = ls_begin(c->ls, 0, &t)))
		rc = current_shift(c, t, out, n);
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

typedef struct {
	ls_txn *t;
	arena *a;
	const char *tag;
	char found[136];
} tag_find;

static int tag_cb(void *ctx, ls_val k, ls_val v)
{
	tag_find *f = ctx;
	const char *id = (const char *)k.p + 11; /* "checkpoint\0" */
	size_t idn = k.n - 11;
	char *ids = arena_strndup(f->a, id, idn), *tag;
	record r;

	(void)v;
	if (!ids || idn >= sizeof(f->found) ||
	    lc_rec_load(f->t, f->a, "checkpoint", ids, &r, NULL))
		return 0;
	tag = rec_str(f->a, &r, "tag");
	if (tag && !strcmp(tag, f->tag) && !rec_true(&r, "_deleted")) {
		snprintf(f->found, sizeof(f->found), "%s", ids);
		return 1;
	}
	return 0;
}

/* A checkpoint by id or by tag. */
static int find_checkpoint(fs_client *c, ls_txn *t, arena *a,
                           const char *point, char *id, size_t n,
                           record *r)
{
	tag_find f;
	int rc = lc_rec_load(t, a, "checkpoint", point, r, NULL);

	if (rc == FSC_OK) {
		snprintf(id, n, "%s", point);
		return FSC_OK;
	}
	if (rc != FSC_ENOTFOUND)
		return rc;
	memset(&f, 0, sizeof(f));
	f.t = t;
	f.a = a;
	f.tag = point;
	if (ls_scan(t, LT_RECS, ls_v("checkpoint", 11), tag_cb, &f) == FSC_ESTORE)
		return FSC_ESTORE;
	if (!f.found[0])
		return cl_fail(c, FSC_EINVAL, "no checkpoint or tag \"%s\" on this "
		               "device (sync to fetch the checkpoints)", point);
	snprintf(id, n, "%s", f.found);
	return lc_rec_load(t, a, "checkpoint", f.found, r, NULL);
}

/* ---- photos ------------------------------------------------------------------ */

/* Copy a photo into HOME/photos/<sha256 hex> (durably), hashing it. */
static int photo_copy(fs_client *c, const char *path, char hex[65],
                      uint64_t *size)
{
	char dir[1100], tmp[1200], fin[1200];
	uint8_t buf[65536], rnd[8];
	sha256_ctx *sha = NULL;
	int in = -1, out = -1, rc = FSC_ESTORE;
	uint64_t total = 0;

	snprintf(dir, sizeof(dir), "%s/photos", c->home);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return cl_fail(c, FSC_ESTORE, "cannot create %s: %s", dir,
		               strerror(errno));
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return cl_fail(c, FSC_EINVAL, "photo %s: %s", path, strerror(errno));
	lc_random(rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), "%s/tmp-%02x%02x%02x%02x%02x%02x%02x%02x",
	         dir, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
	         rnd[7]);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	sha = sha256_new();
	if (out < 0 || !sha) {
		cl_fail(c, FSC_ESTORE, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cl_fail(c, FSC_EINVAL, "photo %s: %s", path,
			             strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		total += (uint64_t)r;
		if (total > PHOTO_MAX) {
			rc = cl_fail(c, FSC_EINVAL, "photo %s is over 16 MiB", path);
			goto out;
		}
		sha256_update(sha, buf, (size_t)r);
		if (write(out, buf, (size_t)r) != r) {
			cl_fail(c, FSC_ESTORE, "cannot write %s", tmp);
			goto out;
		}
	}
	if (fsync(out)) {
		cl_fail(c, FSC_ESTORE, "cannot sync %s", tmp);
		goto out;
	}
	sha256_hex(sha, hex);
	sha = NULL;
	snprintf(fin, sizeof(fin), "%s/%s", dir, hex);
	if (rename(tmp, fin)) {
		cl_fail(c, FSC_ESTORE, "cannot keep the photo: %s", strerror(errno));
		goto out;
	}
	tmp[0] = 0;
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	*size = total;
	rc = FSC_OK;
out:
	sha256_free(sha);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (tmp[0] && rc)
		unlink(tmp);
	return rc;
}

static int photo_queue(ls_txn *t, const char *hex, uint64_t size,
                       uint64_t now)
{
	wbuf w;
	int rc;

	wb_init(&w);
	wb_map(&w, 2);
	wb_cstr(&w, "size");
	wb_u64(&w, size);
	wb_cstr(&w, "t");
	wb_u64(&w, now);
	rc = w.err ? FSC_ENOMEM : ls_put(t, LT_PHOTO, ls_v(hex, 64),
	                                 ls_v(w.p, w.n));
	wb_free(&w);
	return rc;
}

int fs_queue_photo(fs_client *c, const char *path, char hex[65])
{
	ls_txn *t = NULL;
	uint64_t size;
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if ((rc = photo_copy(c, path, hex, &size)))
		goto out;
	if ((rc = ls_begin(c->ls, 1, &t)) ||
	    (rc = photo_queue(t, hex, size, devclock_wall(&c->clk))))
		goto out;
	rc = ls_commit(t);
	t = NULL;
out:
	ls_abort(t);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* ---- one action = one write transaction ----------------------------------------- */

typedef struct {
	fs_field f[20];
	size_t n;
} fields;

static void f_str(fields *fs, const char *name, const char *v)
{
	fs_field *f = &fs->f[fs->n++];

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->type = v ? FS_V_STR : FS_V_NIL;
	f->s = v;
}

static void f_int(fields *fs, const char *name, int64_t v)
{
	fs_field *f = &fs->f[fs->n++];

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->type = FS_V_INT;
	f->i = v;
}

static void f_num(fields *fs, const char *name, double v)
{
	fs_field *f = &fs->f[fs->n++];

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->type = FS_V_FLOAT;
	f->f = v;
}

static void f_strs(fields *fs, const char *name, const char *const *v,
                   size_t n)
{
	fs_field *f = &fs->f[fs->n++];

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->type = FS_V_STRS;
	f->strs = v;
	f->nstrs = n;
}

/* Begin the write transaction, read who is logged in. */
static int begin_action(fs_client *c, ls_txn **t, char *staff, char *site)
{
	int rc;

	pthread_mutex_lock(&c->mu);
	cl_ok(c);
	if ((rc = ls_begin(c->ls, 1, t)))
		return cl_fail(c, rc, "the local store failed");
	if (lc_meta_str(*t, "staff", staff, 136) || !staff[0])
		return cl_fail(c, FSC_ESTATE, "nobody is logged in on this device "
		               "(run login first)");
	lc_meta_str(*t, "site", site, 136);
	return FSC_OK;
}

static int end_action(fs_client *c, ls_txn *t, int rc)
{
	if (!rc) {
		rc = ls_commit(t);
		if (rc)
			cl_fail(c, rc, "the local store could not commit");
	} else {
		ls_abort(t);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int fs_checkin(fs_client *c, const fs_checkin_req *q, fs_write *out)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	char staff[136], site[136], shift[136], cp[136], id[64];
	record shr, cpr;
	char *route = NULL;
	const char *method = q->method ? q->method : "nfc";
	fields fs = {.n = 0};
	int rc;

	if (!a)
		return FSC_ENOMEM;
	if ((rc = begin_action(c, &t, staff, site)))
		goto out;
	if (strcmp(method, "nfc") && strcmp(method, "qr") &&
	    strcmp(method, "manual")) {
		rc = cl_fail(c, FSC_EINVAL, "method must be nfc, qr or manual");
		goto out;
	}
	if (!q->point || !q->point[0]) {
		rc = cl_fail(c, FSC_EINVAL, "which checkpoint? (its id or tag)");
		goto out;
	}
	if (q->sun && (!q->sun[0] || strlen(q->sun) > FS_SUN_MAX)) {
		rc = cl_fail(c, FSC_EINVAL, "the tag's URL must be 1-1024 bytes");
		goto out;
	}
	if (q->shift && q->shift[0])
		snprintf(shift, sizeof(shift), "%s", q->shift);
	else if ((rc = current_shift(c, t, shift, sizeof(shift))))
		goto out;
	if ((rc = find_checkpoint(c, t, a, q->point, cp, sizeof(cp), &cpr)))
		goto out;
	if (!lc_rec_load(t, a, "shift", shift, &shr, NULL)) {
		char *s = rec_str(a, &shr, "site");

		route = rec_str(a, &shr, "route");
		if (s && !site[0])
			snprintf(site, sizeof(site), "%s", s);
	}
	if (!site[0]) {
		char *s = rec_str(a, &cpr, "site");

		if (s)
			snprintf(site, sizeof(site), "%s", s);
	}
	new_id("ck", id, sizeof(id));
	f_str(&fs, "site", site);
	f_str(&fs, "shift", shift);
	if (route)
		f_str(&fs, "route", route);
	f_str(&fs, "checkpoint", cp);
	f_str(&fs, "staff", staff);
	/* evidence: the device's own clock, uncorrected, and its boot clock */
	f_int(&fs, "at", (int64_t)devclock_wall(&c->clk));
	f_str(&fs, "boot", c->clk.boot);
	f_int(&fs, "mono", (int64_t)devclock_mono(&c->clk));
	f_str(&fs, "method", method);
	if (q->note)
		f_str(&fs, "note", q->note);
	if (q->has_pos) {
		f_num(&fs, "lat", q->lat);
		f_num(&fs, "lon", q->lon);
		if (q->acc >= 0)
			f_num(&fs, "acc", q->acc);
	}
	if (q->sun)
		f_str(&fs, "sun", q->sun);
	rc = cl_write(c, t, "checkin", id, fs.f, fs.n, out);
out:
	arena_free(a);
	return end_action(c, t, rc);
}

/* A step's time as evidence, like a checkin's: the device's own clock,
 * uncorrected, with its boot id and ms since boot (the server dates it). */
static void step_evidence(fs_client *c, fields *fs, const char *at_field)
{
	f_int(fs, at_field, (int64_t)devclock_wall(&c->clk));
	f_str(fs, "boot", c->clk.boot);
	f_int(fs, "mono", (int64_t)devclock_mono(&c->clk));
}

/* Ticking a done task again, with nothing new (a note or photo), would
 * change nothing true: say so instead. */
static int not_done_yet(fs_client *c, arena *a, const record *r,
                        const char *task)
{
	char *st = rec_str(a, r, "status");
	uint64_t at = 0;

	if (!st || strcmp(st, "done"))
		return FSC_OK;
	if (!rec_u64(r, "done_at_est", &at))
		rec_u64(r, "done_at", &at);
	return cl_fail(c, FSC_ESTATE, "task %s is already done (done_at %llu); "
	               "nothing changed", task, (unsigned long long)at);
}

int fs_task_early(fs_client *c, const char *task, uint64_t *opens)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	char staff[136], site[136];
	record r;
	uint64_t from = 0;
	int rc;

	if (!a)
		return FSC_ENOMEM;
	if ((rc = begin_action(c, &t, staff, site)))
		goto out;
	rc = lc_rec_load(t, a, "task", task, &r, NULL);
	if (rc == FSC_ENOTFOUND)
		rc = cl_fail(c, FSC_ENOTFOUND, "no task %s on this device (sync to "
		             "fetch your tasks)", task);
	*opens = 0;
	if (!rc && rec_u64(&r, "due_from", &from) && cl_now(c, t) < from)
		*opens = from;
out:
	arena_free(a);
	return end_action(c, t, rc);
}

static int task_update(fs_client *c, const char *task, const char *status,
                       const char *note, const char *photo, fs_write *out)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	char staff[136], site[136], hex[65];
	uint64_t psize = 0;
	record r;
	fields fs = {.n = 0};
	int rc, have_photo = 0;

	if (!a)
		return FSC_ENOMEM;
	if (photo) {
		/* the bytes are safe on disk before the record names them */
		pthread_mutex_lock(&c->mu);
		rc = photo_copy(c, photo, hex, &psize);
		pthread_mutex_unlock(&c->mu);
		if (rc) {
			arena_free(a);
			return rc;
		}
		have_photo = 1;
	}
	if ((rc = begin_action(c, &t, staff, site)))
		goto out;
	rc = lc_rec_load(t, a, "task", task, &r, NULL);
	if (rc == FSC_ENOTFOUND) {
		rc = cl_fail(c, FSC_ENOTFOUND, "no task %s on this device (sync to "
		             "fetch your tasks)", task);
		goto out;
	}
	if (rc)
		goto out;
	if (!strcmp(status, "done") && !note && !have_photo &&
	    (rc = not_done_yet(c, a, &r, task)))
		goto out;
	f_str(&fs, "status", status);
	step_evidence(c, &fs, "done_at");
	f_str(&fs, "done_by", staff);
	if (note)
		f_str(&fs, "note", note);
	if (have_photo) {
		f_str(&fs, "photo", hex);
		if ((rc = photo_queue(t, hex, psize, devclock_wall(&c->clk))))
			goto out;
	}
	rc = cl_write(c, t, "task", task, fs.f, fs.n, out);
out:
	arena_free(a);
	return end_action(c, t, rc);
}

int fs_task_done(fs_client *c, const char *task, const char *note,
                 const char *photo_path, fs_write *out)
{
	return task_update(c, task, "done", note, photo_path, out);
}

int fs_task_skip(fs_client *c, const char *task, const char *note,
                 fs_write *out)
{
	if (!note || !note[0]) {
		pthread_mutex_lock(&c->mu);
		cl_fail(c, FSC_EINVAL, "skipping a task needs a reason (--note)");
		pthread_mutex_unlock(&c->mu);
		return FSC_EINVAL;
	}
	return task_update(c, task, "skipped", note, NULL, out);
}

static int is_urgent(const char *category)
{
	static const char *const urgent[] = {
		"elevator_entrapment", "urgent_water", "urgent_power", "incident",
	};

	for (size_t i = 0; i < sizeof(urgent) / sizeof(urgent[0]); i++)
		if (!strcmp(category, urgent[i]))
			return 1;
	return 0;
}

int fs_report(fs_client *c, const char *category, const char *title,
              const char *detail, const char *photo_path, fs_write *out)
{
	ls_txn *t = NULL;
	char staff[136], site[136], id[64], hex[65];
	const char *photos[1];
	const scollection *sc = schema_collection("order", 5);
	const sfield *cf = sc ? schema_field(sc, "category", 8) : NULL;
	uint64_t psize = 0, now;
	fields fs = {.n = 0};
	int rc, have_photo = 0;

	if (!category || !cf || !cf->enums ||
	    !schema_enum_has(cf->enums, category, strlen(category))) {
		pthread_mutex_lock(&c->mu);
		rc = cl_fail(c, FSC_EINVAL, "category must be one of "
		             "elevator_entrapment, urgent_water, urgent_power, "
		             "repair, complaint, incident");
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	if (!title || !title[0]) {
		pthread_mutex_lock(&c->mu);
		rc = cl_fail(c, FSC_EINVAL, "a report needs a title (--title)");
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	if (photo_path) {
		pthread_mutex_lock(&c->mu);
		rc = photo_copy(c, photo_path, hex, &psize);
		pthread_mutex_unlock(&c->mu);
		if (rc)
			return rc;
		have_photo = 1;
	}
	if ((rc = begin_action(c, &t, staff, site)))
		goto out;
	if (!site[0]) {
		rc = cl_fail(c, FSC_ESTATE, "this session has no site");
		goto out;
	}
	now = cl_now(c, t);
	new_id("wo", id, sizeof(id));
	f_str(&fs, "site", site);
	f_str(&fs, "category", category);
	f_str(&fs, "title", title);
	if (detail)
		f_str(&fs, "detail", detail);
	f_int(&fs, "reported_at", (int64_t)now);
	f_str(&fs, "reporter", staff);
	f_str(&fs, "status", "reported");
	if (have_photo) {
		photos[0] = hex;
		f_strs(&fs, "photos", photos, 1);
		if ((rc = photo_queue(t, hex, psize, devclock_wall(&c->clk))))
			goto out;
	}
	if ((rc = cl_write(c, t, "order", id, fs.f, fs.n, out)))
		goto out;
	if (is_urgent(category)) {
		wbuf w;

		wb_init(&w);
		wb_map(&w, 4);
		wb_cstr(&w, "category");
		wb_cstr(&w, category);
		wb_cstr(&w, "title");
		wb_cstr(&w, title);
		wb_cstr(&w, "t");
		wb_u64(&w, now);
		wb_cstr(&w, "state");
		wb_cstr(&w, "queued");
		rc = w.err ? FSC_ENOMEM
		           : ls_put(t, LT_URG, ls_v(id, strlen(id)), ls_v(w.p, w.n));
		wb_free(&w);
		if (out)
			out->urgent = 1;
	}
out:
	return end_action(c, t, rc);
}

/* The server refuses a status that moves back (protocol/PROTOCOL.md,
 * "Orders"): say so here rather than queue a dead letter. */
static int order_moves_forward(fs_client *c, arena *a, const record *r,
                               const char *order, const char *step)
{
	const char *to = !strcmp(step, "accept")    ? "accepted"
	                 : !strcmp(step, "on-site") ? "on_site"
	                 : !strcmp(step, "resolve") ? "resolved" : NULL;
	char *st = rec_str(a, r, "status");
	const order_step *from = st ? schema_order_step(st, strlen(st)) : NULL;
	const order_step *want = to ? schema_order_step(to, strlen(to)) : NULL;

	if (!from || !want ||
	    (want->rank > from->rank && strcmp(from->status, "cancelled")))
		return FSC_OK;
	return cl_fail(c, FSC_ESTATE, "order %s is already %s: status cannot go "
	               "from %s to %s", order, from->status, from->status, to);
}

int fs_order_step(fs_client *c, const char *order, const char *step,
                  const char *note, fs_write *out)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	char staff[136], site[136];
	record r;
	char *assignee;
	fields fs = {.n = 0};
	int rc;

	if (!a)
		return FSC_ENOMEM;
	if ((rc = begin_action(c, &t, staff, site)))
		goto out;
	rc = lc_rec_load(t, a, "order", order, &r, NULL);
	if (rc == FSC_ENOTFOUND) {
		rc = cl_fail(c, FSC_ENOTFOUND, "no order %s on this device (sync to "
		             "fetch the orders)", order);
		goto out;
	}
	if (rc)
		goto out;
	if ((rc = order_moves_forward(c, a, &r, order, step)))
		goto out;
	assignee = rec_str(a, &r, "assignee");
	if (assignee && assignee[0] && strcmp(assignee, staff)) {
		rc = cl_fail(c, FSC_EINVAL, "order %s is assigned to %s", order,
		             assignee);
		goto out;
	}
	if (!strcmp(step, "accept")) {
		f_str(&fs, "status", "accepted");
		step_evidence(c, &fs, "accepted_at");
		if (!assignee || !assignee[0])
			f_str(&fs, "assignee", staff);
	} else if (!strcmp(step, "on-site")) {
		f_str(&fs, "status", "on_site");
		step_evidence(c, &fs, "on_site_at");
	} else if (!strcmp(step, "resolve")) {
		f_str(&fs, "status", "resolved");
		step_evidence(c, &fs, "resolved_at");
	} else {
		rc = cl_fail(c, FSC_EINVAL, "step must be accept, on-site or "
		             "resolve");
		goto out;
	}
	if (note)
		f_str(&fs, "note", note);
	rc = cl_write(c, t, "order", order, fs.f, fs.n, out);
out:
	arena_free(a);
	return end_action(c, t, rc);
}

typedef struct {
	ls_txn *t;
	arena *a;
	const char *shift;
	const char **ids;
	size_t n, cap;
} open_tasks;

static int open_task_cb(void *ctx, ls_val k, ls_val v)
{
	open_tasks *o = ctx;
	char *id = arena_strndup(o->a, (const char *)k.p + 5, k.n - 5);
	record r;
	char *sh, *st;

	(void)v;
	if (!id || lc_rec_load(o->t, o->a, "task", id, &r, NULL))
		return 0;
	sh = rec_str(o->a, &r, "shift");
	st = rec_str(o->a, &r, "status");
	if (!sh || strcmp(sh, o->shift) || rec_true(&r, "_deleted") ||
	    (st && strcmp(st, "open")))
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		const char **ni;

		if (cap > 1000)
			return 1; /* a handover lists at most 1000 */
		ni = arena_calloc(o->a, cap, sizeof(char *));
		if (!ni)
			return 1;
		if (o->n)
			memcpy(ni, o->ids, o->n * sizeof(char *));
		o->ids = ni;
		o->cap = cap;
	}
	o->ids[o->n++] = id;
	return 0;
}

int fs_handover(fs_client *c, const char *to_shift, const char *note,
                fs_write *out)
{
	ls_txn *t = NULL;
	arena *a = arena_new(0);
	char staff[136], site[136], from[136], id[64];
	open_tasks o;
	fields fs = {.n = 0};
	int rc;

	if (!a)
		return FSC_ENOMEM;
	if ((rc = begin_action(c, &t, staff, site)))
		goto out;
	if (!to_shift || !to_shift[0] || !note) {
		rc = cl_fail(c, FSC_EINVAL, "a handover needs --to-shift and --note");
		goto out;
	}
	if ((rc = current_shift(c, t, from, sizeof(from))))
		goto out;
	memset(&o, 0, sizeof(o));
	o.t = t;
	o.a = a;
	o.shift = from;
	if (ls_scan(t, LT_RECS, ls_v("task", 5), open_task_cb, &o) == FSC_ESTORE) {
		rc = FSC_ESTORE;
		goto out;
	}
	new_id("ho", id, sizeof(id));
	f_str(&fs, "site", site);
	f_str(&fs, "from_shift", from);
	f_str(&fs, "to_shift", to_shift);
	f_str(&fs, "by", staff);
	f_int(&fs, "at", (int64_t)cl_now(c, t));
	f_str(&fs, "note", note);
	f_strs(&fs, "open_items", o.ids, o.n);
	rc = cl_write(c, t, "handover", id, fs.f, fs.n, out);
out:
	arena_free(a);
	return end_action(c, t, rc);
}
