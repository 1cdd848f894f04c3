/*
 * transport.h — byte streams to a server (plain TCP, or TLS with
 * certificate verification) and SHA-256, for libfieldsync.
 *
 * transport.c is the only client file that includes OpenSSL.  TLS is
 * 1.2 or newer; the peer certificate is verified against the system CAs
 * (or one CA file) and must name the host (DNS name, or IP address when
 * the host is a literal).  Nothing here logs or exits.
 *
 * Writes on a socket whose peer has gone may raise SIGPIPE: programs
 * using libfieldsync ignore SIGPIPE (the CLI and the simulator do).
 */
#ifndef FS_CLIENT_TRANSPORT_H
#define FS_CLIENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Verification settings shared by the connections of one client. */
typedef struct tp_tls tp_tls;
typedef struct tp_conn tp_conn;

/* A TLS context that trusts ca_file (PEM, may hold several certificates),
 * or the system's CAs when ca_file is NULL.  FSC_OK, or FSC_ETLS with a
 * message in err. */
int tp_tls_new(const char *ca_file, tp_tls **out, char *err, size_t errn);
void tp_tls_free(tp_tls *t); /* NULL is fine */

/* Connect to host:port within timeout_ms; with tls != NULL, do the TLS
 * handshake and verify the certificate for `host`.  The connection's reads
 * and writes time out after timeout_ms each.  FSC_OK, FSC_ENET (could not
 * connect) or FSC_ETLS (handshake or verification failed), message in err. */
int tp_connect(const char *host, unsigned port, tp_tls *tls,
               unsigned timeout_ms, tp_conn **out, char *err, size_t errn);
/* All of p[0..n): 0, or -1 on error or timeout. */
int tp_write(tp_conn *c, const void *p, size_t n);
/* Up to n bytes: the count, 0 at end of stream, -1 on error or timeout. */
ssize_t tp_read(tp_conn *c, void *p, size_t n);
void tp_close(tp_conn *c); /* NULL is fine */

/* SHA-256 of a buffer. */
void tp_sha256(const void *p, size_t n, uint8_t out[32]);

/* Streaming SHA-256 (for files). */
typedef struct tp_sha tp_sha;
tp_sha *tp_sha_new(void); /* NULL when out of memory */
void tp_sha_update(tp_sha *s, const void *p, size_t n);
void tp_sha_final(tp_sha *s, uint8_t out[32]); /* frees s */

#endif
