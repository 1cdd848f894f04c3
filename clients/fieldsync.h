/*
 * fieldsync.h — libfieldsync, the handheld side of fieldsync.
 *
 * A handle (fs_client) owns one device's local store: an LMDB environment
 * in its home directory (directory 0700, files 0600) holding
 *   - the records of the device's scope, each field with its stamp
 *     (hlc, origin), merged last-writer-wins exactly as the server does;
 *   - the cursor of every bucket it pulls, the server's store id;
 *   - the outbox: batches of ops, each with a 16-byte id fixed when the
 *     batch is created and the staff member who made it (`by`);
 *   - the dead letters (ops the server rejected: code, message, op);
 *   - the clock offset to the server and the HLC;
 *   - the device and session tokens;
 *   - urgent reports not yet acknowledged, and the photo upload queue.
 *
 * Durability: every write call (fs_put and the domain calls built on it)
 * changes the local record and appends to the outbox in ONE transaction
 * that is on disk before the call returns.  A scan taken offline survives
 * the process being killed or the battery dying.
 *
 * Time: ops are stamped with the device clock corrected by the offset
 * learnt at the last sync (offset = server now - device now).  Checkins
 * also carry the device's own uncorrected wall clock (`at`), its boot id
 * and its milliseconds since boot (`boot`, `mono`); every sync sends the
 * current {boot, mono, wall, pending}.
 *
 * Threads: a handle serialises its own calls with an internal mutex, so
 * it may be shared by threads, but one handle does one thing at a time (a
 * sync holds it for its whole round trip).  The usual pattern, and what
 * the simulator does, is one handle per thread.  Only one handle per home
 * directory may be open in a process (an LMDB rule); several processes
 * may open the same home at once (the CLI does).
 *
 * Strings passed in are copied as needed; strings handed out are owned by
 * the object they come from (an fs_record, a callback's argument) and
 * valid as documented at each call.  All calls return FSC_OK (0) or one of
 * the FSC_E* codes below; fs_errmsg() then says what went wrong in one
 * line.
 *
 * Programs using libfieldsync should ignore SIGPIPE.
 */
#ifndef FIELDSYNC_H
#define FIELDSYNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	FSC_OK = 0,
	FSC_EINVAL,    /* bad argument (unknown field, bad id, bad usage) */
	FSC_ENOTFOUND, /* no such record here */
	FSC_ESTATE,    /* not enrolled, not logged in, already enrolled ... */
	FSC_ENET,      /* could not reach the server (offline) */
	FSC_ETLS,      /* TLS handshake or certificate verification failed */
	FSC_EAUTH,     /* the server refused the token or the PIN (401) */
	FSC_ESERVER,   /* the server refused the request; see fs_errcode() */
	FSC_ESTORE,    /* the local store failed */
	FSC_ENOMEM
};

typedef struct fs_client fs_client;

typedef struct {
	const char *home;     /* local store directory (created if missing) */
	/* Transport settings used by fs_enroll (later runs read them from the
	 * store): a CA file (PEM) to trust instead of the system CAs, and
	 * whether a plain http:// server URL is allowed at all. */
	const char *ca_file;
	int insecure_http;
	/* The proxy of the network the handheld is on, for every request of
	 * this handle (not stored: the next network may have none): NULL
	 * for libcurl's environment variables (https_proxy, http_proxy,
	 * all_proxy, no_proxy), "" for no proxy at all, else a URL such as
	 * http://proxy:3128 or socks5h://proxy:1080. */
	const char *proxy;
	unsigned timeout_ms;  /* per connect / read / write; 0: 15000 */
	unsigned attempts;    /* tries per request on network errors, 429 and
	                       * 503, with exponential backoff and jitter;
	                       * 0: 5 */
	unsigned backoff_ms;  /* first backoff; 0: 200 (then x2, + jitter) */
	/* Test and simulation hooks.  The environment variables apply when
	 * the fields are left 0 / NULL. */
	int64_t wall_shift_ms; /* shift the device wall clock
	                        * (FIELDSYNC_CLOCK_OFFSET_MS) */
	const char *boot_id;   /* pretend this boot id (FIELDSYNC_BOOT_ID) */
	int64_t mono_shift_ms; /* add to the ms since boot
	                        * (FIELDSYNC_MONO_SHIFT_MS) */
	/* Per mille of /v1/sync replies thrown away after the server answered
	 * (a lost response), as a network error: the request is sent again. */
	unsigned drop_reply_permille;
	uint64_t seed;         /* jitter and fault dice; 0: from the clock */
	int no_fsync;          /* local store commits without fsync (load
	                        * simulation only: not crash-safe) */
	/* Pull encoding to ask the server for: 2 (also 0, the default) the
	 * columnar v2, 1 the v1 maps (protocol/PROTOCOL.md, "Pull encoding
	 * v2").  FIELDSYNC_WIRE=v1 or v2 applies when 0.  Either way the
	 * answer of a server that speaks only v1 is understood. */
	unsigned wire;
} fs_options;

/* Open (or create) the local store in o->home.  On failure *out is NULL
 * and the message is written to err (when errn > 0). */
int fs_open(const fs_options *o, fs_client **out, char *err, size_t errn);
/* Close; NULL is fine. */
void fs_close(fs_client *c);

/* The last error of this handle, one line ("" after success). */
const char *fs_errmsg(const fs_client *c);
/* The server's error code name ("FORBIDDEN", ...) of the last
 * FSC_ESERVER / FSC_EAUTH, "" otherwise. */
const char *fs_errcode(const fs_client *c);
/* A short name of an FSC_* code. */
const char *fs_strerror(int rc);

/* ---- device ------------------------------------------------------------ */

/* POST /v1/enroll: bind this store to the server with a one-time code.
 * Needs the network.  The CA file given at fs_open (if any) is pinned by
 * content: its bytes are kept in the store (and in HOME/ca.pem), so the
 * original file may move or change.
 *
 * A store that is already enrolled may enroll again only when the server
 * at server_url refuses this device's token (it was reset or replaced, or
 * the device was revoked): the new device id and token replace the old
 * ones, the session is forgotten, and everything queued (outbox, urgent
 * reports, photos, dead letters) stays, with the ops' ids and stamps, to
 * be sent after the next login.  FSC_ESTATE when that server still knows
 * the device. */
int fs_enroll(fs_client *c, const char *server_url, const char *code,
              const char *name);
/* 1 when the server at server_url (NULL: the enrolled one) accepts this
 * device's token, 0 when it refuses it (401), or -1 with fs_errmsg()
 * when it could not be asked (network, TLS, not enrolled).  Costs one
 * request that no login lockout counts. */
int fs_device_known(fs_client *c, const char *server_url);
/* Change the server address and/or CA of an enrolled store (NULL keeps
 * either; ca_file is read and pinned by content now).  Nothing queued is
 * touched. */
int fs_set_server(fs_client *c, const char *server_url, const char *ca_file);
/* POST /v1/login as a staff member of the device's site (needs the
 * network; follow it with fs_sync so the device holds its scope for
 * working offline — the CLI does).  A login refused (bad PIN) is
 * FSC_EAUTH; a locked login FSC_ESERVER with fs_errcode() "RATE_LIMITED"
 * and how long the lock lasts in the message.  Any failed login leaves
 * nobody logged in (a shared handheld never stays in the previous
 * person's name).  The previous staff member's queued work stays in the outbox
 * under their name (`by`) and is applied with their rights. */
int fs_login(fs_client *c, const char *staff, const char *pin);
/* Use a session token from elsewhere (the admin token of a server) for
 * syncs and fs_call; the store keeps it.  Enrollment not needed. */
int fs_attach(fs_client *c, const char *server_url, const char *token);
/* Forget the session (queued work stays, under its author's name). */
int fs_logout(fs_client *c);

/* ---- values and writes ------------------------------------------------- */

typedef enum {
	FS_V_NIL,
	FS_V_BOOL,
	FS_V_INT,   /* i */
	FS_V_FLOAT, /* f */
	FS_V_STR,   /* s */
	FS_V_STRS   /* strs[0..nstrs) as an array of strings */
} fs_vtype;

typedef struct {
	const char *name;
	fs_vtype type;
	int b;
	int64_t i;
	double f;
	const char *s;
	const char *const *strs;
	size_t nstrs;
} fs_field;

/* What a write queued. */
typedef struct {
	char id[136];     /* the record's id (made here for new records) */
	char bucket[300]; /* the record's bucket */
	uint64_t hlc;     /* the op's stamp */
	int urgent;       /* an urgent order (phone the control room until
	                   * the server acknowledges it) */
} fs_write;

/* Queue one op: merge the fields into the local record with a fresh stamp
 * and append the op to the outbox, in one durable transaction.  The
 * collection and field names are checked against the schema here; rights
 * and scope are checked by the server (a refusal becomes a dead letter
 * and the local change is undone).  `out` may be NULL. */
int fs_put(fs_client *c, const char *collection, const char *id,
           const fs_field *f, size_t n, fs_write *out);

/* ---- reading the local store ------------------------------------------- */

typedef struct fs_record fs_record;

/* The local record, or FSC_ENOTFOUND.  Free with fs_record_free. */
int fs_get(fs_client *c, const char *collection, const char *id,
           fs_record **out);
/* Call cb for every local record of a collection (in id order); cb
 * returns nonzero to stop.  The record is valid during the call only. */
int fs_each(fs_client *c, const char *collection,
            int (*cb)(void *ctx, const fs_record *r), void *ctx);
void fs_record_free(fs_record *r);

const char *fs_rec_collection(const fs_record *r);
const char *fs_rec_id(const fs_record *r);
const char *fs_rec_bucket(const fs_record *r);
/* A string field (NUL-terminated copy owned by r), NULL if absent or not
 * a string. */
const char *fs_rec_str(const fs_record *r, const char *field);
/* 1 and *out for a non-negative integer field. */
int fs_rec_u64(const fs_record *r, const char *field, uint64_t *out);
/* 1 and *out for a number field. */
int fs_rec_num(const fs_record *r, const char *field, double *out);
/* 1 when the field is boolean true. */
int fs_rec_true(const fs_record *r, const char *field);
/* 1 when the field is an array holding the string s. */
int fs_rec_has(const fs_record *r, const char *field, const char *s);
/* Number of elements of an array field (0 if not an array) and the i-th
 * string element (NULL if not a string). */
size_t fs_rec_len(const fs_record *r, const char *field);
const char *fs_rec_at(const fs_record *r, const char *field, size_t i);
/* The record as JSON: {"c","id","bucket","f":{...}} plus "s":{field:
 * [hlc, origin]} when with_stamps.  malloc'd; NULL on OOM. */
char *fs_rec_json(const fs_record *r, int with_stamps);

/* ---- domain actions (built on fs_put) ---------------------------------- */

/* The logged-in staff member's current shift: the shift of this site
 * whose staff includes them and whose [starts, ends) holds now (corrected
 * clock); else the one that started last before now and ended less than
 * 2 h ago.  FSC_ENOTFOUND when none. */
int fs_current_shift(fs_client *c, char *out, size_t n);

typedef struct {
	const char *point;  /* checkpoint id, or its tag (NFC uid / QR text) */
	const char *method; /* nfc, qr or manual; NULL: nfc */
	const char *note;   /* NULL: none */
	const char *shift;  /* NULL: fs_current_shift() */
	int has_pos;
	double lat, lon;
	double acc;         /* with has_pos: the fix's accuracy in metres; < 0: unknown */
	/* The URL a secure tag (NTAG 424 DNA) wrote when tapped, exactly as
	 * read (the server verifies it: schema/EVIDENCE.md); NULL: none. */
	const char *sun;
} fs_checkin_req;

/* Longest `sun` the server takes (server/lib/sun.h's SUN_MAX). */
#define FS_SUN_MAX 1024

/* Record a checkin (evidence: never changed, never deleted). */
int fs_checkin(fs_client *c, const fs_checkin_req *r, fs_write *out);
/* Task completion: status done, done_at (the device clock, with boot and
 * mono, dated by the server like a checkin), done_by, note, photo.
 * FSC_ESTATE, and nothing queued, when the task is already done and
 * neither a note nor a photo comes with it. */
int fs_task_done(fs_client *c, const char *task, const char *note,
                 const char *photo_path, fs_write *out);
/* Before fs_task_done: *opens is the task's due_from when its window has
 * not opened yet (corrected clock), else 0.  Done now, it would count as
 * `early` in the reports (schema/REPORTS.md). */
int fs_task_early(fs_client *c, const char *task, uint64_t *opens);
/* Skip a task with a reason. */
int fs_task_skip(fs_client *c, const char *task, const char *note,
                 fs_write *out);
/* A new work order / incident report.  out->urgent is set for the urgent
 * categories (elevator_entrapment, urgent_water, urgent_power, incident);
 * it stays listed by fs_each_urgent until the server acknowledges it. */
int fs_report(fs_client *c, const char *category, const char *title,
              const char *detail, const char *photo_path, fs_write *out);
/* Technician steps on an order: "accept", "on-site", "resolve". */
int fs_order_step(fs_client *c, const char *order, const char *step,
                  const char *note, fs_write *out);
/* Supervisor / shift lead: the handover from the current shift to
 * to_shift, listing the current shift's open tasks. */
int fs_handover(fs_client *c, const char *to_shift, const char *note,
                fs_write *out);

/* Queue a photo (copied into the store, uploaded by hash after the small
 * records, resumable across runs); hex gets the SHA-256 in hex. */
int fs_queue_photo(fs_client *c, const char *path, char hex[65]);

/* ---- sync -------------------------------------------------------------- */

typedef struct {
	unsigned rounds;         /* round trips */
	unsigned retries;        /* requests sent again (network, 429, 503) */
	uint64_t ops_sent;       /* ops pushed (resends count again) */
	uint64_t ops_acked;      /* ops the server applied (left the outbox) */
	uint64_t ops_rejected;   /* ops that became dead letters */
	uint64_t ops_restamped;  /* CLOCK_AHEAD ops queued again, restamped */
	uint64_t batches_unavailable; /* batches the server could not store */
	uint64_t recs_pulled;
	uint64_t gone;
	unsigned buckets_reset;
	unsigned buckets_dropped;
	unsigned photos_uploaded;
	unsigned photos_left;
	int store_changed;       /* the server's store id changed */
	uint64_t pending_after;  /* ops still in the outbox */
} fs_sync_stats;

/* One sync: push the outbox and pull every bucket of the scope in one
 * round trip, repeated while a bucket has more or unsent batches remain;
 * then upload queued photos.  `out` may be NULL.  FSC_ENET when the
 * server cannot be reached (nothing is lost: the outbox stays). */
int fs_sync(fs_client *c, fs_sync_stats *out);

/* A raw request with the session token (admin calls, reports): body is
 * msgpack (may be NULL); *resp (malloc'd, may be NULL) and *status get the
 * reply, inflated.  Retries like fs_sync. */
int fs_call(fs_client *c, const char *method, const char *path,
            const void *body, size_t n, int *status, uint8_t **resp,
            size_t *resp_n);

/* The same request without a local store: to server_url with `token`
 * (an admin token), settings (CA file, timeouts, attempts) from o (its
 * home is not used).  Errors go to err. */
int fs_call_url(const fs_options *o, const char *server_url,
                const char *token, const char *method, const char *path,
                const void *body, size_t n, int *status, uint8_t **resp,
                size_t *resp_n, char *err, size_t errn);

/* ---- a damaged store ------------------------------------------------------ */

typedef struct {
	int damaged;
	char path[1100];          /* the store file */
	char what[400];           /* what is wrong, one line */
	uint64_t records, queued_ops, queued_batches, dead_letters, urgent;
	uint64_t journal_ops;     /* queued ops the outbox journal holds */
	uint64_t journal_skipped; /* journal bytes not in an intact frame */
} fs_check_report;

/* An integrity walk of the store in home (every table, key order, every
 * value decoded, LMDB's free-page lists) in a child process, so that a
 * damaged page (SIGSEGV, SIGBUS, an LMDB assertion) ends the child, not
 * the caller; call it before fs_open.  FSC_OK (intact), FSC_ESTORE
 * (damaged: out->what says how), FSC_ENOTFOUND (no store in home). */
int fs_check(const char *home, fs_check_report *out);

typedef struct {
	uint64_t batches, ops;
	uint64_t skipped_bytes; /* journal bytes not in an intact frame */
} fs_rescue_report;

/* Every queued op that the outbox journal (HOME/outbox.journal, kept
 * beside the store: see clients/journal.h) still holds, written to
 * out_path as a rescue file (msgpack {fieldsync_rescue: 1, home, at,
 * batches: [{batch, by, ops: [{c, id, s, f, b}]}]}).  Reads nothing of
 * data.mdb, so it works whatever state the store is in. */
int fs_rescue(const char *home, const char *out_path, fs_rescue_report *rep,
              char *err, size_t errn);
/* Queue a rescue file's batches in this (newly enrolled) store with
 * their batch ids, authors, op ids and stamps unchanged (a batch the
 * outbox already holds is skipped): the next sync sends them, and a
 * server that had them applies nothing twice.  They are applied with
 * their authors' rights, so log in as the same staff before syncing. */
int fs_requeue(fs_client *c, const char *path, uint64_t *nbatches,
               uint64_t *nops);

/* ---- state ------------------------------------------------------------- */

typedef struct {
	char server[512];
	char device[136];
	char staff[136];
	char role[32];
	char site[136];
	char store_id[80];
	int enrolled, logged_in;
	uint64_t session_expires; /* ms */
	uint64_t pending_ops, pending_batches;
	uint64_t dead_letters;
	uint64_t urgent_unacked;
	uint64_t photos_queued;
	uint64_t last_sync;       /* device ms of the last sync, 0: never */
	int64_t clock_offset_ms;  /* server - device */
	uint64_t now;             /* corrected clock now, ms */
	char ca_file[1100];       /* the pinned CA copy in the home, "" none */
	char ca_source[1024];     /* the file it was read from */
} fs_status;

int fs_get_status(fs_client *c, fs_status *out);

typedef struct {
	uint64_t seq;
	const char *code, *msg;
	const char *collection, *id;
	const char *by;
	const char *op_json; /* the op as JSON */
	uint64_t at;         /* device ms when it was rejected */
} fs_dead;

/* Every dead letter, oldest first; strings valid during the call. */
int fs_each_dead(fs_client *c, int (*cb)(void *ctx, const fs_dead *d),
                 void *ctx);
/* Remove dead letter seq (0: all of them); *n (may be NULL) gets how many
 * went.  FSC_ENOTFOUND for an unknown seq. */
int fs_dead_clear(fs_client *c, uint64_t seq, uint64_t *n);

typedef struct {
	const char *id, *category, *title;
	uint64_t at;
	const char *state; /* "queued", or "rejected CODE" */
} fs_urgent;

/* Urgent reports not yet acknowledged by the server. */
int fs_each_urgent(fs_client *c, int (*cb)(void *ctx, const fs_urgent *u),
                   void *ctx);

/* The buckets this device holds locally (pulled or written), with their
 * cursors, bytewise order; `in_scope` says whether the last sync named it
 * in the scope. */
int fs_each_bucket(fs_client *c,
                   int (*cb)(void *ctx, const char *bucket, uint64_t cursor,
                             int in_scope),
                   void *ctx);
/* SHA-256 over the bucket's records in (collection, id) order, each as
 * collection, id and its fields with stamps (canonical msgpack): two
 * stores with the same bucket contents give the same digest.  hex gets
 * 64 hex digits, *nrecs the record count. */
int fs_bucket_digest(fs_client *c, const char *bucket, char hex[65],
                     uint64_t *nrecs);

/* Simulation: change the device clock (wall shift, boot id, ms-since-boot
 * shift) as after a reboot or a clock change.  boot_id NULL keeps it. */
int fs_set_clock(fs_client *c, int64_t wall_shift_ms, const char *boot_id,
                 int64_t mono_shift_ms);
/* The corrected clock now (ms), and the device's own wall clock. */
uint64_t fs_now(fs_client *c);
uint64_t fs_device_wall(fs_client *c);

#ifdef __cplusplus
}
#endif

#endif
