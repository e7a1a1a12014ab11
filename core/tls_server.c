/*
 * tls_server.c - a listener's certificates as wolfSSL server contexts and
 * the SNI choice among them (see tls_server.h).
 */
#include "tls_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wolfssl/openssl/objects.h>

#define NAMES_MAX 64 /* names kept per certificate */
#define TLS_DEFAULT_CIPHERS                                          \
	"TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"    \
	"TLS13-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"     \
	"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384"

struct tls_cert {
	WOLFSSL_CTX *ctx;
	char *names[NAMES_MAX]; /* lower-cased; may start with "*." */
	size_t nnames;
};

struct tls_server {
	size_t n;
	struct tls_cert *certs;
	unsigned handshake_timeout;
};

static void
werr(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = wolfSSL_ERR_get_error();
	char buf[120] = "";

	if (e != 0)
		wolfSSL_ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(
	    err, errlen, "tls: %s %s%s%s", what, file, buf[0] ? ": " : "", buf);
}

static void
add_name(struct tls_cert *c, const char *name, size_t len)
{
	char *s;

	if (c->nnames >= NAMES_MAX || len == 0 || len > 253)
		return;
	if ((s = strndup(name, len)) == NULL)
		return;
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (len > 1 && s[len - 1] == '.')
		s[len - 1] = '\0';
	c->names[c->nnames++] = s;
}

/* The names of the leaf certificate of a PEM chain file: DNS
 * subjectAltNames, else the subject CN. */
static void
load_names(struct tls_cert *c, const char *file)
{
	WOLFSSL_X509 *x =
	    wolfSSL_X509_load_certificate_file(file, WOLFSSL_FILETYPE_PEM);
	char *alt;

	if (x == NULL)
		return;
	while ((alt = wolfSSL_X509_get_next_altname(x)) != NULL)
		add_name(c, alt, strlen(alt));
	if (c->nnames == 0) {
		char cn[256];
		int n = wolfSSL_X509_NAME_get_text_by_NID(
		    wolfSSL_X509_get_subject_name(x), NID_commonName, cn,
		    (int)sizeof(cn));
		if (n > 0)
			add_name(c, cn, (size_t)n);
	}
	wolfSSL_X509_free(x);
}

static int self_test(WOLFSSL_CTX *sctx, char *why, size_t whylen);

static WOLFSSL_CTX *
make_ctx(const struct rmx_tls_cfg *cfg, size_t i, char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1,
	    WOLFSSL_ECC_SECP384R1, WOLFSSL_FFDHE_2048};

	if (ctx == NULL) {
		werr(err, errlen, "cannot create a context for", cfg->cert[i]);
		return NULL;
	}
	if (wolfSSL_CTX_SetMinVersion(ctx,
		cfg->min_version == 13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		werr(err, errlen, "cannot set the minimum version for",
		    cfg->cert[i]);
		goto fail;
	}
	if (wolfSSL_CTX_use_certificate_chain_file(ctx, cfg->cert[i]) !=
	    WOLFSSL_SUCCESS) {
		werr(err, errlen, "cannot load the certificate", cfg->cert[i]);
		goto fail;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(
		ctx, cfg->key[i], WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		werr(err, errlen, "cannot load the private key", cfg->key[i]);
		goto fail;
	}
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen,
		    "tls: the private key %s does not match the certificate "
		    "%s",
		    cfg->key[i], cfg->cert[i]);
		goto fail;
	}
	/* Debian's wolfSSL is a generic C build without AES-NI:
	 * ChaCha20-Poly1305 costs a fraction of table-driven AES-GCM per
	 * record, so by default it comes first, in the server's order. */
	if (wolfSSL_CTX_set_cipher_list(
		ctx, cfg->ciphers ? cfg->ciphers : TLS_DEFAULT_CIPHERS) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "tls: ciphers \"%s\": no usable cipher",
		    cfg->ciphers ? cfg->ciphers : TLS_DEFAULT_CIPHERS);
		goto fail;
	}
	wolfSSL_CTX_set_options(ctx, WOLFSSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Not fatal: an old build may lack a group. */
	(void)wolfSSL_CTX_set_groups(
	    ctx, groups, (int)(sizeof(groups) / sizeof(groups[0])));
	/* Clients of an MTA present no certificate we could check. */
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	/* No server-side session cache: wolfSSL's is process-wide behind a
	 * mutex (a lock shared by the workers on every handshake). Clients
	 * resume with session tickets instead (stateless). */
	wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
	{
		char why[120] = "";
		if (self_test(ctx, why, sizeof(why)) != 0) {
			snprintf(err, errlen,
			    "tls: certificate %s with key %s does not work "
			    "(does the key not match the certificate?): %s",
			    cfg->cert[i], cfg->key[i], why);
			goto fail;
		}
	}
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

/* Memory pipes of the load-time self test. */
struct pipe {
	unsigned char buf[65536];
	size_t len;
};
struct pair {
	struct pipe *rx, *tx;
};

static int
st_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct pair *p = ctx;
	size_t n = p->rx->len < (size_t)sz ? p->rx->len : (size_t)sz;

	(void)ssl;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	memcpy(buf, p->rx->buf, n);
	memmove(p->rx->buf, p->rx->buf + n, p->rx->len - n);
	p->rx->len -= n;
	return (int)n;
}

static int
st_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct pair *p = ctx;

	(void)ssl;
	if ((size_t)sz > sizeof(p->tx->buf) - p->tx->len)
		return WOLFSSL_CBIO_ERR_GENERAL;
	memcpy(p->tx->buf + p->tx->len, buf, (size_t)sz);
	p->tx->len += (size_t)sz;
	return sz;
}

/*
 * A full handshake between this context and a client in memory, once at
 * load time: it proves that the certificate, the key (they match) and
 * the cipher list work together, so that a bad file is an error at
 * start-up or reload and not a failure of every client later.
 */
static int
self_test(WOLFSSL_CTX *sctx, char *why, size_t whylen)
{
	struct pipe *c2s = calloc(1, sizeof(*c2s));
	struct pipe *s2c = calloc(1, sizeof(*s2c));
	struct pair cp = {s2c, c2s}, sp = {c2s, s2c};
	WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	WOLFSSL *cl = NULL, *sv = NULL;
	int rc = -1, cdone = 0, sdone = 0;

	if (c2s == NULL || s2c == NULL || cctx == NULL ||
	    (cl = wolfSSL_new(cctx)) == NULL ||
	    (sv = wolfSSL_new(sctx)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_set_verify(cl, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_SSLSetIORecv(cl, st_recv);
	wolfSSL_SSLSetIOSend(cl, st_send);
	wolfSSL_SetIOReadCtx(cl, &cp);
	wolfSSL_SetIOWriteCtx(cl, &cp);
	wolfSSL_SSLSetIORecv(sv, st_recv);
	wolfSSL_SSLSetIOSend(sv, st_send);
	wolfSSL_SetIOReadCtx(sv, &sp);
	wolfSSL_SetIOWriteCtx(sv, &sp);
	for (int round = 0; round < 20 && !(cdone && sdone); round++) {
		if (!cdone) {
			int r = wolfSSL_connect(cl);
			int e = wolfSSL_get_error(cl, r);
			if (r == WOLFSSL_SUCCESS)
				cdone = 1;
			else if (e != WOLFSSL_ERROR_WANT_READ &&
				 e != WOLFSSL_ERROR_WANT_WRITE) {
				wolfSSL_ERR_error_string_n(
				    (unsigned long)e, why, whylen);
				goto out;
			}
		}
		if (!sdone) {
			int r = wolfSSL_accept(sv);
			int e = wolfSSL_get_error(sv, r);
			if (r == WOLFSSL_SUCCESS)
				sdone = 1;
			else if (e != WOLFSSL_ERROR_WANT_READ &&
				 e != WOLFSSL_ERROR_WANT_WRITE) {
				wolfSSL_ERR_error_string_n(
				    (unsigned long)e, why, whylen);
				goto out;
			}
		}
	}
	if (cdone && sdone)
		rc = 0;
	else
		snprintf(why, whylen, "handshake did not complete");
out:
	if (cl != NULL)
		wolfSSL_free(cl);
	if (sv != NULL)
		wolfSSL_free(sv);
	if (cctx != NULL)
		wolfSSL_CTX_free(cctx);
	free(c2s);
	free(s2c);
	return rc;
}

/* tls_server_new - load every certificate of a listener */
struct tls_server *
tls_server_new(const struct rmx_tls_cfg *cfg, char *err, size_t errlen)
{
	struct tls_server *s = calloc(1, sizeof(*s));

	if (s == NULL || cfg->ncerts == 0 ||
	    (s->certs = calloc(cfg->ncerts, sizeof(*s->certs))) == NULL) {
		snprintf(err, errlen, "tls: out of memory or no certificate");
		free(s);
		return NULL;
	}
	s->handshake_timeout = cfg->handshake_timeout;
	for (size_t i = 0; i < cfg->ncerts; i++) {
		s->n = i + 1;
		if ((s->certs[i].ctx = make_ctx(cfg, i, err, errlen)) == NULL) {
			tls_server_free(s);
			return NULL;
		}
		load_names(&s->certs[i], cfg->cert[i]);
	}
	return s;
}

/* tls_server_free - free every context */
void
tls_server_free(struct tls_server *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		wolfSSL_CTX_free(s->certs[i].ctx);
		for (size_t j = 0; j < s->certs[i].nnames; j++)
			free(s->certs[i].names[j]);
	}
	free(s->certs);
	free(s);
}

static bool
name_matches(const char *pattern, const char *sni)
{
	const char *dot;

	if (strcasecmp(pattern, sni) == 0)
		return true;
	if (pattern[0] != '*' || pattern[1] != '.')
		return false;
	/* "*.example.org" covers exactly one label */
	dot = strchr(sni, '.');
	return dot != NULL && dot != sni &&
	       strcasecmp(dot + 1, pattern + 2) == 0;
}

/* tls_server_pick - the context for an SNI name */
WOLFSSL_CTX *
tls_server_pick(const struct tls_server *s, const char *sni)
{
	if (sni != NULL && sni[0] != '\0')
		for (size_t i = 0; i < s->n; i++)
			for (size_t j = 0; j < s->certs[i].nnames; j++)
				if (name_matches(s->certs[i].names[j], sni))
					return s->certs[i].ctx;
	return s->certs[0].ctx;
}

/* tls_server_name - name j of certificate i */
const char *
tls_server_name(const struct tls_server *s, size_t i, size_t j)
{
	if (i >= s->n || j >= s->certs[i].nnames)
		return NULL;
	return s->certs[i].names[j];
}

/* tls_server_handshake_timeout - seconds */
unsigned
tls_server_handshake_timeout(const struct tls_server *s)
{
	return s->handshake_timeout;
}
