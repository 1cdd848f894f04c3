/*
 * transport.c — see transport.h.  The only client file that includes
 * OpenSSL.
 *
 * Why our own small client rather than CivetWeb's mg_connect_client:
 * CivetWeb 1.15's client turns verification off (SSL_VERIFY_NONE) unless
 * it is given one CA file, never loads the system store, and checks no
 * host name (civetweb.c, mg_connect_client_impl: "TODO: Check
 * ssl_verify_peer").  A handheld must verify against the system CAs by
 * default and check the name, so TLS lives here and http.c speaks the
 * few parts of HTTP/1.1 we need.
 */
#include "clients/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clients/fieldsync.h"

struct tp_tls {
	SSL_CTX *ctx;
};

struct tp_conn {
	int fd;
	SSL *ssl;
};

static void ssl_errstr(char *err, size_t errn, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	if (errn)
		snprintf(err, errn, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

int tp_tls_new(const char *ca_file, tp_tls **out, char *err, size_t errn)
{
	tp_tls *t = calloc(1, sizeof(*t));
	int rc = FSC_ETLS;

	*out = NULL;
	if (!t)
		return FSC_ENOMEM;
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx) {
		ssl_errstr(err, errn, "TLS setup failed");
		goto out;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file) {
		if (SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1) {
			ssl_errstr(err, errn, "cannot load the CA file");
			goto out;
		}
		/* A private CA may be a self-signed server certificate (the
		 * demo's): trust it as an anchor even though it is no CA. */
		X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(t->ctx),
		                            X509_V_FLAG_PARTIAL_CHAIN);
	} else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		ssl_errstr(err, errn, "cannot load the system CAs");
		goto out;
	}
	*out = t;
	t = NULL;
	rc = FSC_OK;
out:
	tp_tls_free(t);
	return rc;
}

void tp_tls_free(tp_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Non-blocking connect bounded by timeout_ms; the fd or -1. */
static int connect_one(const struct addrinfo *ai, unsigned timeout_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	                ai->ai_protocol);
	int fl, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		struct pollfd p = {fd, POLLOUT, 0};

		int pr;

		if (errno != EINPROGRESS) {
			close(fd);
			return -1;
		}
		pr = poll(&p, 1, (int)timeout_ms);
		if (pr != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ||
		    soerr) {
			close(fd);
			errno = pr == 0 ? ETIMEDOUT : soerr ? soerr : errno;
			return -1;
		}
	}
	fcntl(fd, F_SETFL, fl);
	return fd;
}

static int is_ip_literal(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

int tp_connect(const char *host, unsigned port, tp_tls *tls,
               unsigned timeout_ms, tp_conn **out, char *err, size_t errn)
{
	struct addrinfo hints, *res = NULL, *ai;
	char ports[16];
	tp_conn *c = NULL;
	int fd = -1, one = 1, rc = FSC_ENET, gai;

	*out = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ports, sizeof(ports), "%u", port);
	gai = getaddrinfo(host, ports, &hints, &res);
	if (gai) {
		snprintf(err, errn, "cannot resolve %s: %s", host, gai_strerror(gai));
		goto out;
	}
	errno = 0;
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, timeout_ms);
	if (fd < 0) {
		snprintf(err, errn, "cannot connect to %s port %u: %s", host, port,
		         errno ? strerror(errno) : "timed out");
		goto out;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_timeouts(fd, timeout_ms);
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = FSC_ENOMEM;
		goto out;
	}
	c->fd = fd;
	fd = -1;
	if (tls) {
		X509_VERIFY_PARAM *vp;
		long vr;

		c->ssl = SSL_new(tls->ctx);
		if (!c->ssl) {
			ssl_errstr(err, errn, "TLS setup failed");
			rc = FSC_ETLS;
			goto out;
		}
		vp = SSL_get0_param(c->ssl);
		if (is_ip_literal(host)) {
			if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
				ssl_errstr(err, errn, "TLS setup failed");
				rc = FSC_ETLS;
				goto out;
			}
		} else {
			X509_VERIFY_PARAM_set_hostflags(
				vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (SSL_set1_host(c->ssl, host) != 1 ||
			    SSL_set_tlsext_host_name(c->ssl, host) != 1) {
				ssl_errstr(err, errn, "TLS setup failed");
				rc = FSC_ETLS;
				goto out;
			}
		}
		SSL_set_fd(c->ssl, c->fd);
		if (SSL_connect(c->ssl) != 1) {
			vr = SSL_get_verify_result(c->ssl);
			if (vr != X509_V_OK) {
				snprintf(err, errn,
				         "the server's certificate is not trusted "
				         "for %s: %s", host,
				         X509_verify_cert_error_string(vr));
				ERR_clear_error();
				rc = FSC_ETLS;
			} else {
				ssl_errstr(err, errn, "TLS handshake failed");
				rc = FSC_ENET;
			}
			goto out;
		}
	}
	*out = c;
	c = NULL;
	rc = FSC_OK;
out:
	if (res)
		freeaddrinfo(res);
	if (fd >= 0)
		close(fd);
	tp_close(c);
	return rc;
}

int tp_write(tp_conn *c, const void *p, size_t n)
{
	const char *b = p;

	while (n) {
		ssize_t w;

		if (c->ssl) {
			int k = SSL_write(c->ssl, b, n > 1 << 30 ? 1 << 30 : (int)n);

			if (k <= 0) {
				ERR_clear_error();
				return -1;
			}
			w = k;
		} else {
			w = send(c->fd, b, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t tp_read(tp_conn *c, void *p, size_t n)
{
	if (c->ssl) {
		int k = SSL_read(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);

		if (k > 0)
			return k;
		if (SSL_get_error(c->ssl, k) == SSL_ERROR_ZERO_RETURN)
			return 0;
		ERR_clear_error();
		return -1;
	}
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r;
	}
}

void tp_close(tp_conn *c)
{
	if (!c)
		return;
	if (c->ssl) {
		SSL_free(c->ssl); /* no close_notify: the peer may be gone */
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

void tp_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

struct tp_sha {
	EVP_MD_CTX *md;
};

tp_sha *tp_sha_new(void)
{
	tp_sha *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->md = EVP_MD_CTX_new();
	if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s->md);
		free(s);
		return NULL;
	}
	return s;
}

void tp_sha_update(tp_sha *s, const void *p, size_t n)
{
	EVP_DigestUpdate(s->md, p, n);
}

void tp_sha_final(tp_sha *s, uint8_t out[32])
{
	unsigned int len = 32;

	EVP_DigestFinal_ex(s->md, out, &len);
	EVP_MD_CTX_free(s->md);
	free(s);
}
