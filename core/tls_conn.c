/*
 * tls_conn.c - a TLS connection over memory buffers (see tls_conn.h).
 */
#include "tls_conn.h"

#include <stdio.h>
#include <string.h>

#include "tls_server.h"

/* TLS record header: type, version (2), length (2). */
#define REC_HDR       5
#define REC_HANDSHAKE 0x16
#define REC_MAX       (16384 + 2048)

static void
set_failed(struct tls_conn *t, const char *why)
{
	t->failed = true;
	snprintf(t->err, sizeof(t->err), "%s", why);
}

/* wolfSSL asks for ciphertext: hand over what was fed, never block. */
static int
recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls_conn *t = ctx;
	size_t avail = t->in.len - t->in_off, n;

	(void)ssl;
	if (avail == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	n = (size_t)sz < avail ? (size_t)sz : avail;
	memcpy(buf, t->in.data + t->in_off, n);
	t->in_off += n;
	if (t->in_off == t->in.len) {
		buf_reset(&t->in);
		t->in_off = 0;
	}
	return (int)n;
}

/* wolfSSL produced ciphertext: keep it for the ring to send. */
static int
send_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls_conn *t = ctx;

	(void)ssl;
	if (buf_append(&t->out, buf, (size_t)sz) != 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	return sz;
}

/* tls_conn_init_server - a server connection, no ssl object yet */
void
tls_conn_init_server(struct tls_conn *t, struct tls_server *const *srv)
{
	memset(t, 0, sizeof(*t));
	t->server = srv;
}

/* tls_conn_free - release the ssl object and the buffers */
void
tls_conn_free(struct tls_conn *t)
{
	if (t->ssl != NULL)
		wolfSSL_free(t->ssl);
	t->ssl = NULL;
	buf_free(&t->in);
	buf_free(&t->out);
}

/* tls_conn_feed - ciphertext from the socket */
int
tls_conn_feed(struct tls_conn *t, const void *data, size_t len)
{
	if (t->in_off > 0 && t->in_off == t->in.len) {
		buf_reset(&t->in);
		t->in_off = 0;
	}
	if (buf_append(&t->in, data, len) != 0) {
		set_failed(t, "out of memory");
		return -1;
	}
	return 0;
}

/* Server: once the first record (the ClientHello) is complete, choose
 * the certificate from its SNI and create the ssl object. 1 ready, 0
 * need more, -1 failed. */
static int
server_start(struct tls_conn *t)
{
	const uint8_t *p = t->in.data + t->in_off;
	size_t avail = t->in.len - t->in_off, rec;
	unsigned char name[256];
	unsigned int nlen = sizeof(name) - 1;
	WOLFSSL_CTX *ctx;

	if (avail < REC_HDR)
		return 0;
	if (p[0] != REC_HANDSHAKE || p[1] != 3) {
		set_failed(t, "not a TLS handshake");
		return -1;
	}
	rec = ((size_t)p[3] << 8) | p[4];
	if (rec > REC_MAX) {
		set_failed(t, "oversized TLS record");
		return -1;
	}
	if (avail < REC_HDR + rec)
		return 0;
	t->sni[0] = '\0';
	if (wolfSSL_SNI_GetFromBuffer(p, (unsigned)(REC_HDR + rec),
		WOLFSSL_SNI_HOST_NAME, name, &nlen) == WOLFSSL_SUCCESS &&
	    nlen < sizeof(name)) {
		name[nlen] = '\0';
		/* a host name: printable, no blanks (it goes into logs) */
		bool ok = nlen > 0;
		for (unsigned i = 0; i < nlen; i++)
			if (name[i] <= 0x20 || name[i] >= 0x7f ||
			    name[i] == '"')
				ok = false;
		if (ok)
			memcpy(t->sni, name, (size_t)nlen + 1);
	}
	if (*t->server == NULL) {
		set_failed(t, "no certificate");
		return -1;
	}
	ctx = tls_server_pick(*t->server, t->sni);
	if ((t->ssl = wolfSSL_new(ctx)) == NULL) {
		set_failed(t, "cannot create a TLS session");
		return -1;
	}
	wolfSSL_SSLSetIORecv(t->ssl, recv_cb);
	wolfSSL_SSLSetIOSend(t->ssl, send_cb);
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	return 1;
}

static void
fail_from(struct tls_conn *t, int rc)
{
	int e = wolfSSL_get_error(t->ssl, rc);
	char buf[100];

	wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof(buf));
	set_failed(t, buf);
}

/* tls_conn_handshake - advance the server handshake */
int
tls_conn_handshake(struct tls_conn *t)
{
	int rc, e;

	if (t->failed)
		return -1;
	if (t->done)
		return 1;
	if (t->ssl == NULL) {
		rc = server_start(t);
		if (rc <= 0)
			return rc;
	}
	rc = wolfSSL_accept(t->ssl);
	if (rc == WOLFSSL_SUCCESS) {
		t->done = true;
		return 1;
	}
	e = wolfSSL_get_error(t->ssl, rc);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	fail_from(t, rc);
	return -1;
}

/* tls_conn_read - decrypted bytes */
long
tls_conn_read(struct tls_conn *t, void *buf, size_t len)
{
	int rc, e;

	if (t->failed || !t->done)
		return t->failed ? -1 : 0;
	if (len > 0x7fffffff)
		len = 0x7fffffff;
	rc = wolfSSL_read(t->ssl, buf, (int)len);
	if (rc > 0)
		return rc;
	e = wolfSSL_get_error(t->ssl, rc);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	if (e == WOLFSSL_ERROR_ZERO_RETURN)
		return -1; /* close_notify: the peer is done */
	fail_from(t, rc);
	return -1;
}

/* tls_conn_write - encrypt into out */
int
tls_conn_write(struct tls_conn *t, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (t->failed || !t->done)
		return -1;
	while (len > 0) {
		int chunk = len > 16384 ? 16384 : (int)len;
		int rc = wolfSSL_write(t->ssl, p, chunk);
		if (rc != chunk) {
			fail_from(t, rc);
			return -1;
		}
		p += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

const char *
tls_conn_version(const struct tls_conn *t)
{
	return t->ssl ? wolfSSL_get_version(t->ssl) : "";
}

/* The IANA name (TLS_AES_128_GCM_SHA256), as other MTAs log it. */
const char *
tls_conn_cipher(const struct tls_conn *t)
{
	int suite;
	const char *n;

	if (t->ssl == NULL)
		return "";
	suite = wolfSSL_get_current_cipher_suite(t->ssl);
	n = wolfSSL_get_cipher_name_iana_from_suite(
	    (unsigned char)(suite >> 8), (unsigned char)suite);
	return n != NULL ? n : wolfSSL_get_cipher_name(t->ssl);
}
