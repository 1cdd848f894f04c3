/*
 * tls.h — the server's TLS settings and its certificate, reloadable.
 * Only tls.c (and crypto.c) include OpenSSL.
 *
 * CivetWeb makes the SSL_CTX and hands it to tls_setup_ctx() (its
 * init_ssl callback), which sets TLS 1.2 as the minimum version, a cipher
 * list of ECDHE with AES-GCM or ChaCha20-Poly1305 only (TLS 1.3 keeps
 * OpenSSL's AEAD suites), and a certificate callback: every handshake
 * takes the certificate, chain and key current at that moment.
 * tls_reload() (on SIGHUP) reads the files again and swaps them in; a
 * connection already open keeps the certificate it was made with, new
 * handshakes get the new one, nothing is dropped.  When the new files do
 * not load (missing, unparsable, key does not match the certificate) the
 * old pair stays in use.
 */
#ifndef FS_TLS_H
#define FS_TLS_H

#include <stddef.h>

typedef struct tls_keys tls_keys;

/* Load the certificate chain (PEM, leaf first) and the private key (PEM).
 * FS_OK and *out, or FS_E_BAD_REQUEST with a message in err. */
int tls_open(tls_keys **out, const char *cert_path, const char *key_path,
             char *err, size_t errn);
/* Free; safe on NULL.  No connection may use it any more. */
void tls_close(tls_keys *k);
/* Read the same two files again and use them for new handshakes.  FS_OK,
 * or FS_E_BAD_REQUEST with a message in err (the old pair stays). */
int tls_reload(tls_keys *k, char *err, size_t errn);
/* The current certificate's serial number in hex (for logs); "" if none. */
void tls_serial(tls_keys *k, char *out, size_t n);

/* Set up an OpenSSL SSL_CTX* (given as void* by the HTTP glue) as above.
 * 0, or -1 (an OpenSSL call failed). */
int tls_setup_ctx(tls_keys *k, void *ssl_ctx);

/* The TLS 1.2 cipher list in use. */
#define TLS_CIPHERS_12                                                         \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#endif
