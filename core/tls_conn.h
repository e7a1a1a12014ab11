/*
 * tls_conn.h - one TLS connection driven through memory buffers: the
 * worker's ring does the socket I/O, wolfSSL only ever reads the
 * ciphertext it was fed (`in`) and writes ciphertext into `out`. No
 * socket call, so nothing here can block. The server side picks its
 * certificate from the ClientHello's SNI before wolfSSL sees it
 * (tls_server.h).
 *
 * What is not here: the SMTP meaning of STARTTLS (smtp_server.c), when to
 * send `out` (worker.c), loading certificates (tls_server.c).
 *
 * Ownership: embedded in (or allocated for) its connection and owned by
 * the worker thread of that connection; tls_conn_free releases the
 * WOLFSSL object and buffers.
 */
#ifndef RINGMX_TLS_CONN_H
#define RINGMX_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "buf.h"

struct tls_server;

struct tls_conn {
	WOLFSSL *ssl; /* server: NULL until the ClientHello has arrived */
	/* server side: the worker's current certificates for this
	 * listener, read when the ClientHello arrives (a reload may swap
	 * them meanwhile) */
	struct tls_server *const *server;
	struct buf in; /* ciphertext not yet read */
	size_t in_off;
	struct buf out; /* ciphertext to send */
	bool done;      /* handshake complete */
	bool failed;    /* fatal error: close the connection */
	char err[120];  /* why it failed */
	char sni[256];  /* the name the client asked for, or "" */
};

/* Server side: certificates from *srv when the ClientHello arrives (srv
 * points to the worker's slot for the listener; borrowed). */
void tls_conn_init_server(struct tls_conn *t, struct tls_server *const *srv);
void tls_conn_free(struct tls_conn *t);

/* Ciphertext from the socket. 0, or -1 out of memory (t->failed). */
int tls_conn_feed(struct tls_conn *t, const void *data, size_t len);
/*
 * tls_conn_handshake - advance the handshake over what was fed: 1 done
 * (now and on later calls), 0 needs more input (send `out` first), -1
 * failed (t->err says why).
 */
int tls_conn_handshake(struct tls_conn *t);
/*
 * tls_conn_read - plaintext after the handshake: bytes read (> 0), 0 when
 * more ciphertext is needed, -1 when the peer closed TLS or an error
 * occurred (t->failed for an error).
 */
long tls_conn_read(struct tls_conn *t, void *buf, size_t len);
/* tls_conn_write - encrypt len octets into `out`. 0, or -1 (failed). */
int tls_conn_write(struct tls_conn *t, const void *data, size_t len);
/* "TLSv1.3" ... and the cipher suite name, after the handshake. */
const char *tls_conn_version(const struct tls_conn *t);
const char *tls_conn_cipher(const struct tls_conn *t);

#endif
