/*
 * tls.c — see tls.h.
 */
#include "server/http/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "protocol/errors.h"

struct tls_keys {
	char *cert_path, *key_path;
	pthread_mutex_t mu; /* guards the three below */
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
};

/* An encrypted key would make OpenSSL prompt on the terminal: refuse. */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf, (void)size, (void)rw, (void)u;
	return 0;
}

static void ossl_err(char *err, size_t errn, const char *what,
                     const char *path)
{
	unsigned long e = ERR_get_error();
	char es[200] = "";
	if (e)
		ERR_error_string_n(e, es, sizeof(es));
	ERR_clear_error();
	snprintf(err, errn, "%s %s%s%s", what, path, es[0] ? ": " : "", es);
}

/* Read a certificate chain and key; all or nothing. */
static int load(const char *cp, const char *kp, X509 **cert, EVP_PKEY **key,
                STACK_OF(X509) **chain, char *err, size_t errn)
{
	X509 *c = NULL, *x;
	EVP_PKEY *k = NULL;
	STACK_OF(X509) *ch = NULL;
	BIO *b = NULL;
	int rc = FS_E_BAD_REQUEST;
	if (!(b = BIO_new_file(cp, "r"))) {
		ossl_err(err, errn, "cannot read the certificate", cp);
		goto out;
	}
	if (!(c = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL))) {
		ossl_err(err, errn, "no PEM certificate in", cp);
		goto out;
	}
	if (!(ch = sk_X509_new_null()))
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)))
		if (!sk_X509_push(ch, x)) {
			X509_free(x);
			goto out;
		}
	ERR_clear_error(); /* the end of the file */
	BIO_free(b);
	if (!(b = BIO_new_file(kp, "r"))) {
		ossl_err(err, errn, "cannot read the key", kp);
		goto out;
	}
	if (!(k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL))) {
		ossl_err(err, errn, "no unencrypted PEM private key in", kp);
		goto out;
	}
	if (X509_check_private_key(c, k) != 1) {
		ossl_err(err, errn, "the key does not match the certificate in", cp);
		goto out;
	}
	*cert = c, *key = k, *chain = ch;
	c = NULL, k = NULL, ch = NULL;
	rc = FS_OK;
out:
	BIO_free(b);
	X509_free(c);
	EVP_PKEY_free(k);
	sk_X509_pop_free(ch, X509_free);
	return rc;
}

int tls_open(tls_keys **out, const char *cert_path, const char *key_path,
             char *err, size_t errn)
{
	*out = NULL;
	tls_keys *k = calloc(1, sizeof(*k));
	if (!k || !(k->cert_path = strdup(cert_path)) ||
	    !(k->key_path = strdup(key_path))) {
		snprintf(err, errn, "out of memory");
		tls_close(k);
		return FS_E_INTERNAL;
	}
	pthread_mutex_init(&k->mu, NULL);
	int rc = load(cert_path, key_path, &k->cert, &k->key, &k->chain, err, errn);
	if (rc) {
		tls_close(k);
		return rc;
	}
	*out = k;
	return FS_OK;
}

void tls_close(tls_keys *k)
{
	if (!k)
		return;
	if (k->cert_path && k->key_path)
		pthread_mutex_destroy(&k->mu);
	X509_free(k->cert);
	EVP_PKEY_free(k->key);
	sk_X509_pop_free(k->chain, X509_free);
	free(k->cert_path);
	free(k->key_path);
	free(k);
}

int tls_reload(tls_keys *k, char *err, size_t errn)
{
	X509 *c;
	EVP_PKEY *key;
	STACK_OF(X509) *ch;
	int rc = load(k->cert_path, k->key_path, &c, &key, &ch, err, errn);
	if (rc)
		return rc;
	pthread_mutex_lock(&k->mu);
	X509 *oc = k->cert;
	EVP_PKEY *ok = k->key;
	STACK_OF(X509) *och = k->chain;
	k->cert = c, k->key = key, k->chain = ch;
	pthread_mutex_unlock(&k->mu);
	/* connections made with the old pair hold their own references */
	X509_free(oc);
	EVP_PKEY_free(ok);
	sk_X509_pop_free(och, X509_free);
	return FS_OK;
}

void tls_serial(tls_keys *k, char *out, size_t n)
{
	out[0] = 0;
	pthread_mutex_lock(&k->mu);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(k->cert), NULL);
	pthread_mutex_unlock(&k->mu);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex)
		snprintf(out, n, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
}

/* Every handshake: the pair current now. */
static int cert_cb(SSL *s, void *arg)
{
	tls_keys *k = arg;
	pthread_mutex_lock(&k->mu);
	int ok = SSL_use_cert_and_key(s, k->cert, k->key, k->chain, 1) == 1;
	pthread_mutex_unlock(&k->mu);
	return ok;
}

int tls_setup_ctx(tls_keys *k, void *ssl_ctx)
{
	SSL_CTX *ctx = ssl_ctx;
	if (!k || !ctx)
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_NO_RENEGOTIATION);
	pthread_mutex_lock(&k->mu);
	int ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
	         SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) == 1 &&
	         SSL_CTX_use_cert_and_key(ctx, k->cert, k->key, k->chain, 1) == 1;
	pthread_mutex_unlock(&k->mu);
	if (!ok) {
		unsigned long e = ERR_get_error();
		char es[200] = "";
		if (e)
			ERR_error_string_n(e, es, sizeof(es));
		ERR_clear_error();
		fprintf(stderr, "fieldsyncd: tls: cannot set up: %s\n", es);
		return -1;
	}
	SSL_CTX_set_cert_cb(ctx, cert_cb, k);
	return 0;
}
