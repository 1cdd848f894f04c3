/*
 * backup.h — fieldsyncd backup, restore and check (deploy/OPERATIONS.md).
 *
 * The archive is one POSIX ustar file that `tar tvf` lists and any tar
 * extracts; fieldsyncd writes and reads it itself:
 *   fieldsync-backup/store/data.mdb    the store: an LMDB compacted copy
 *                                      of one consistent snapshot
 *                                      (store_backup), taken while the
 *                                      server keeps serving
 *   fieldsync-backup/blobs/<sha256>    every photo in DATA/blobs, copied
 *                                      after the snapshot (so every blob
 *                                      uploaded before it is there)
 *   fieldsync-backup/MANIFEST          last: text lines
 *       fieldsync-backup 1
 *       store <store id>
 *       created_ms <server wall clock ms>
 *       <sha256 hex> <size> <name>     one per member above, the name
 *                                      without "fieldsync-backup/"
 *       end <number of members>
 * The archive is written to OUT.partial and renamed to OUT only once it
 * is complete and on disk, so a file named OUT is always whole.  Restore
 * takes the members in any order and skips the layout's own folder
 * entries, so an archive extracted and made again with tar(1) restores.
 *
 * Restore reads the archive once, checks every member's size and SHA-256
 * against the manifest (and every blob's bytes against its name), refuses
 * any other member name, opens the store and runs the integrity walk
 * (store_check), then gives the store a new random id (store_set_id):
 * devices see the id change on their next sync, reset every bucket and
 * re-pull, keeping their outboxes, and resend the batches the backup did
 * not have (the restored store does not know those batch ids, so they
 * apply).  Everything happens in a scratch directory beside DATA that is
 * renamed to DATA at the end; DATA must not exist or be empty.
 *
 * Between backends (DATA may be a PostgreSQL URL, store_is_url): the
 * archive is the same, so a backup of either restores into either.  A
 * backup of PostgreSQL copies one read transaction (one snapshot) into a
 * scratch LMDB store (store_backup); its photos come from BLOBS.  A
 * restore into PostgreSQL checks the archive and the store as above in a
 * scratch directory beside BLOBS, then copies the store into the
 * database in one transaction (store_copy, which refuses a database that
 * holds records or has assigned a seq: only a new or only-initialised
 * one), with a new id; the photos go to BLOBS (absent or empty) just
 * before that transaction commits, and the integrity walk runs again on
 * the database.
 *
 * Functions return FS_OK or an error code with a sentence in err.
 */
#ifndef FS_BACKUP_H
#define FS_BACKUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	char store[33];     /* the store id the archive holds */
	char new_store[33]; /* restore: the id the restored store got */
	uint64_t records;   /* records in the store */
	uint64_t blobs;     /* blobs archived / restored */
	uint64_t bytes;     /* bytes of members (store + blobs) */
	uint64_t store_bytes;
	uint64_t skipped;   /* backup: blobs whose bytes did not hash to their
	                       name (corrupt on disk), left out and reported */
} backup_info;

/* fieldsyncd backup --data DATA | --store URL --out OUT.  The server may
 * be running on the store (or not).  blobs: the photos' directory (NULL:
 * DATA/blobs; needed with a URL).  OUT must not exist. */
int backup_make(const char *data, const char *blobs, const char *out,
                backup_info *info, char *err, size_t errn);

/* fieldsyncd restore --from FILE --data DATA | --store URL --blobs BLOBS.
 * blobs: NULL for a directory (DATA/blobs), the photos' directory for a
 * URL. */
int backup_restore(const char *from, const char *data, const char *blobs,
                   backup_info *info, char *err, size_t errn);

/* fieldsyncd check --data DATA | --store URL: open the store and run the
 * integrity walk
 * (every index entry points at a record that names it, every record is in
 * its bucket's index).  FS_OK, or FS_E_INTERNAL with what is wrong. */
int backup_check(const char *data, backup_info *info, char *err,
                 size_t errn);

#endif
