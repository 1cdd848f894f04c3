/*
 * evidence.h — how much a checkin proves (schema/EVIDENCE.md): where its
 * position lies against its checkpoint, and the one verdict with its
 * reasons that reports and the console show.  Pure functions; the server
 * fills the fields on a checkin's first write (server/core/evidence.c) and
 * the reports read them back here.
 */
#ifndef FS_EVIDENCE_H
#define FS_EVIDENCE_H

#include <stdint.h>

#include "protocol/record.h"

enum { EV_STRONG, EV_NORMAL, EV_WEAK, EV_SUSPECT, EV__COUNT };

/* What the server found, as the checkin's server fields say it. */
typedef struct {
	const char *trust;  /* verified, corrected, unverified (NULL: unverified) */
	int boot_overlap;   /* the boot claims a start another boot overlaps */
	const char *tag;    /* verified, replayed, invalid, absent (NULL: absent) */
	int secure_cp;      /* the checkpoint has a secure tag */
	int tag_order;      /* a higher counter than a tap it claims to precede */
	const char *place;  /* inside, outside, unknown (NULL: not checked) */
	int place_required; /* the site requires a position */
} evidence_in;

#define EVIDENCE_REASONS_MAX 6

/* The verdict (EV_*) and its reasons (static strings, at most
 * EVIDENCE_REASONS_MAX, in a fixed order): suspect when a tag is replayed,
 * invalid or out of order, the boot overlaps another, or the position is
 * outside; strong when the tag and the time are verified; weak when the
 * time is unverified, a secure checkpoint's tag is absent, or a required
 * position is unknown; normal otherwise. */
int evidence_verdict(const evidence_in *in, const char **reasons,
                     unsigned *n);
/* "strong", "normal", "weak", "suspect"; EV__COUNT for an unknown name. */
const char *evidence_verdict_name(int v);
int evidence_verdict_parse(const char *s);

enum { PLACE_INSIDE, PLACE_OUTSIDE, PLACE_UNKNOWN };
/* Default radius of a checkpoint with a position and no radius, and the
 * worst accuracy a position may report and still count, in metres. */
#define EVIDENCE_RADIUS_M 50.0
#define EVIDENCE_ACCURACY_MAX_M 500.0
/* A position (accuracy acc, < 0 when not reported) against a checkpoint's
 * circle: outside when even the accuracy's circle misses it, unknown when
 * the accuracy is worse than EVIDENCE_ACCURACY_MAX_M; *dist the great
 * circle distance in metres. */
int evidence_place(double cp_lat, double cp_lon, double radius, double lat,
                   double lon, double acc, double *dist);
const char *evidence_place_name(int p);

/* A stored checkin's verdict and reasons: its `verdict` and `reasons`
 * fields, or (a checkin stored before they existed) the verdict of its
 * `trust` alone.  Reasons are borrowed from the record or static. */
int evidence_of_checkin(arena *a, const record *r, const char **reasons,
                        unsigned *n);
/* 1 when the checkin is kept as evidence but scored as nothing (its tag
 * was replayed or invalid). */
int evidence_voided(const record *r);

/* For the alerts service: 1 with *kind when this stored checkin should
 * raise an alert ("tag_replayed": the same tap sent twice or an old tap
 * copied; "tag_invalid": a tag that is not this checkpoint's, or forged;
 * "boot_overlap"), 0 otherwise. */
int evidence_alert_kind(const record *r, const char **kind);

#endif
