/*
 * sun.h — NTAG 424 DNA "Secure Unique NFC" (SUN) messages, as NXP's
 * application note AN12196 specifies them: each tap of the tag makes a
 * URL whose PICC data (UID and tap counter) is encrypted with the tag's
 * SDM meta read key, and whose truncated AES-CMAC is computed with a
 * session key derived from the SDM file read key, the UID and the counter.
 *
 * Supported configuration (schema/EVIDENCE.md): encrypted PICC data with
 * the 7-byte UID and the counter mirrored, the MAC over no bytes
 * (SDMMACInputOffset = SDMMACOffset), the URL parameters `picc_data` (or
 * `e`) and `cmac` (or `c`) in hex.  Pure functions over bytes: the keys
 * come from the caller (server/model/tag.c).
 */
#ifndef FS_SUN_H
#define FS_SUN_H

#include <stddef.h>
#include <stdint.h>

/* Longest `sun` string accepted (a tag's URL record fits in far less). */
#define SUN_MAX 1024

typedef struct {
	uint8_t picc[16]; /* encrypted PICC data */
	uint8_t mac[8];   /* the truncated CMAC the tag wrote */
} sun_msg;

typedef struct {
	uint8_t uid[7];
	uint32_t counter; /* SDMReadCtr, 24 bits */
} sun_picc;

/* Parse a URL (or just its query) read from the tag: 0 on success, -1
 * when the parameters are missing, repeated or not hex of the right
 * length. */
int sun_parse(const char *s, size_t n, sun_msg *out);

/* Decrypt PICC data with the SDM meta read key (AES-128-CBC, IV zero):
 * 0, or -1 when the plaintext is not a 7-byte UID with a counter (a wrong
 * key or garbage). */
int sun_decrypt_picc(const uint8_t meta_key[16], const uint8_t enc[16],
                     sun_picc *out);

/* KSesSDMFileReadMAC = CMAC(file_key, 3CC3 0001 0080 || UID || counter LE). */
int sun_session_mac_key(const uint8_t file_key[16], const sun_picc *p,
                        uint8_t out[16]);

/* The truncated MAC (the odd bytes of CMAC(session key, msg)). */
int sun_mac(const uint8_t session_key[16], const void *msg, size_t n,
            uint8_t out[8]);

enum { SUN_OK, SUN_BAD_FORMAT, SUN_BAD_PICC, SUN_BAD_MAC, SUN_ERROR };

/* Parse, decrypt and check the MAC in constant time: SUN_OK with *out
 * filled, or why not. */
int sun_verify(const char *s, size_t n, const uint8_t meta_key[16],
               const uint8_t file_key[16], sun_picc *out);

/* The tag's side, for the demo property and tests: the URL query
 * "picc_data=<32 hex>&cmac=<16 hex>" a tag with these keys writes for tap
 * `counter` (PICC padding `pad`), after `base` ("https://host/t?").  0, or
 * -1 when it does not fit in out[0..cap). */
int sun_make(const uint8_t meta_key[16], const uint8_t file_key[16],
             const sun_picc *p, const uint8_t pad[5], const char *base,
             char *out, size_t cap);

#endif
